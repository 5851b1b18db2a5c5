/* parse_text.h — plain text and Markdown parsers (ingest_parse_fn shape). */
#ifndef KEEP_INGEST_PARSE_TEXT_H
#define KEEP_INGEST_PARSE_TEXT_H

#include "doc.h"

int ingest_parse_text(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                      keep_err *err);
int ingest_parse_markdown(const char *data, size_t len, const ingest_limits *lim,
                          ingest_doc *doc, keep_err *err);

#endif
