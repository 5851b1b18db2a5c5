/* parse_csv.h — comma/semicolon/tab/pipe separated tables as text.
 *
 * The input goes through ingest_to_utf8 (any encoding). The dialect is
 * sniffed: the delimiter among , ; TAB | whose field counts are the most
 * consistent over the first records; fields may be quoted with " (a doubled
 * "" is a literal quote, quoted fields may span lines; a quote that never
 * closes is taken literally). A first row that is mostly non-numeric with
 * distinct values is the header.
 *
 * Each record becomes one line "Header: value; Header2: value" (empty values
 * skipped; without a header row the names are "Column 1", "Column 2", ...),
 * and lines are grouped into paragraphs of about 1200 bytes, never splitting
 * a record, so a chunk holds whole rows. No title: the caller names the
 * document after its file.
 *
 * Caps: INGEST_CSV_MAX_ROWS records (more is KEEP_ERR_TOOBIG), fields past
 * INGEST_CSV_MAX_FIELDS in a record are dropped, a field is cut at
 * INGEST_CSV_MAX_FIELD bytes. */
#ifndef KEEP_INGEST_PARSE_CSV_H
#define KEEP_INGEST_PARSE_CSV_H

#include "doc.h"

#define INGEST_CSV_MAX_ROWS 1000000u
#define INGEST_CSV_MAX_FIELDS 1024u
#define INGEST_CSV_MAX_FIELD ((size_t)65536)
/* Paragraph size the renderer aims at (the chunker's target). */
#define INGEST_CSV_PARA_BYTES ((size_t)1200)

/* Delimiter sniffed. */
int ingest_parse_csv(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err);
/* Delimiter is TAB; quoting as for CSV. */
int ingest_parse_tsv(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err);

#endif
