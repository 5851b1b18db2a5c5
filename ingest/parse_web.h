/* parse_web.h — HTML, XHTML and generic XML parsers (libxml2 through
 * xml_safe.h: no network, no entity expansion, depth-capped trees).
 *
 * HTML keeps the readable content of a page: boilerplate (scripts, styles,
 * navigation, page header and footer, asides, forms, hidden elements) is
 * dropped, h1..h6 become the heading path, lists, preformatted blocks and
 * tables keep their shape ("Owner: Chen Wei; Capacity: 12 TB"). Generic XML
 * comes out as records: containers near the root become headings, leaf
 * elements "name: value" lines. Every parser calls ingest_doc_finish. */
#ifndef KEEP_INGEST_PARSE_WEB_H
#define KEEP_INGEST_PARSE_WEB_H

#include "doc.h"

/* Title from <title> (else the first h1); meta description and keywords as
 * doc metadata, the description also as the first paragraph. Charset from
 * the BOM or <meta charset>; Latin-1 pages get Windows-1252 punctuation.
 * KEEP_ERR_PARSE when libxml2 cannot build any tree. */
int ingest_parse_html(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                      keep_err *err);
/* XHTML: parsed as XML (falling back to the HTML parser when it is not
 * well-formed) and walked like HTML. */
int ingest_parse_xhtml(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                       keep_err *err);
/* Generic XML. A document whose root is <html> is walked as XHTML. */
int ingest_parse_xml(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err);

#endif
