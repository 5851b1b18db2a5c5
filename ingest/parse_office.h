/* parse_office.h — parsers for Office Open XML (.docx, .pptx, .xlsx) and
 * OpenDocument (.odt, .odp, .ods) files. Each has the ingest_parse_fn shape
 * (doc.h): the bytes of the whole file in, structured text out, a one-line
 * error for anything hostile or broken (see zip_safe.h for the container
 * caps). On failure the doc may hold partial content; the caller discards it. */
#ifndef KEEP_INGEST_PARSE_OFFICE_H
#define KEEP_INGEST_PARSE_OFFICE_H

#include "doc.h"

/* Word: body in order, headings from paragraph styles (by style name and
 * outline level, so localized style ids work), "- " / "1. " list lines,
 * tables as "Header: value; ..." rows, footnotes and endnotes as [^n]
 * markers plus a "Footnotes" section, text boxes, title from core.xml. */
int ingest_parse_docx(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                      keep_err *err);
/* PowerPoint: one slide span per slide in presentation order, heading
 * "Slide n: Title", shape text, tables, speaker notes under "Notes". */
int ingest_parse_pptx(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                      keep_err *err);
/* Excel: one sheet span per sheet in workbook order, rows as
 * "Header: value; ..." (first non-empty row is the header), shared and
 * inline strings, cached formula results, booleans, dates from date styles. */
int ingest_parse_xlsx(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                      keep_err *err);
/* OpenDocument text, presentation and spreadsheet. Also accept the flat XML
 * variants (.fodt, .fodp, .fods). */
int ingest_parse_odt(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err);
int ingest_parse_odp(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err);
int ingest_parse_ods(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err);

#endif
