/* chunker.h — cuts an ingest_doc into chunks. Internal to ingest/.
 *
 * Chunks follow structure: a section is a run of spans with one heading path,
 * slide and sheet (a page change is not a section boundary: chunks record a
 * page range instead). A chunk never crosses a section; inside a section it
 * packs paragraphs up to the target size and, when it must split, cuts at a
 * paragraph break, else a sentence end, else a line break, else a space,
 * and the next chunk repeats up to `overlap` characters from a sentence
 * start. Each chunk's text is exactly doc->text[start, end) so its offsets
 * highlight the cited passage. */
#ifndef KEEP_INGEST_CHUNKER_H
#define KEEP_INGEST_CHUNKER_H

#include "doc.h"
#include "ingest.h"

/* Fills *out with *n chunks (caller frees with ingest__chunks_free). */
int ingest__chunk(const ingest_doc *doc, size_t target_chars, size_t overlap_chars,
                  ingest_chunk **out, size_t *n, keep_err *err);
void ingest__chunks_free(ingest_chunk *chunks, size_t n);

#endif
