/* parse_pdf.h — PDF text extraction (poppler-glib): page-tagged text in
 * reading order, paragraphs rebuilt from line spacing, hyphenated line ends
 * joined, headings guessed from font size, simple tables rendered row by row.
 * Scanned pages (no text layer) come out empty; OCR is a separate stage. */
#ifndef KEEP_INGEST_PARSE_PDF_H
#define KEEP_INGEST_PARSE_PDF_H

#include "doc.h"

/* Fills doc with the text of the PDF in data[0..len) and calls
 * ingest_doc_finish. Errors: KEEP_ERR_DENIED "PDF is password-protected"
 * (a user password is needed; an empty user password opens), KEEP_ERR_CORRUPT
 * for damaged files, KEEP_ERR_TOOBIG past lim->max_file_bytes, max_pages,
 * max_text_bytes or the extraction time budget. Safe to call from several
 * threads at once, one document per call. The caller frees doc. */
int ingest_parse_pdf(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err);

#endif
