/* xml_safe.h — the only way ingest/ parses XML and HTML: libxml2 with no
 * network, no external DTD or entity loading, no entity substitution and a
 * depth cap, so XXE and billion-laughs inputs cannot reach a parser.
 *
 * Rules for code walking the returned tree:
 *  - read text only from XML_TEXT_NODE / XML_CDATA_SECTION_NODE ->content;
 *  - skip XML_ENTITY_REF_NODE (it would expand a user-declared entity);
 *  - never call xmlNodeGetContent()/xmlNodeListGetString() on an element
 *    (they expand entity references);
 *  - free the tree with xmlFreeDoc(). Internal to ingest/. */
#ifndef KEEP_INGEST_XML_SAFE_H
#define KEEP_INGEST_XML_SAFE_H

#include <libxml/tree.h>

#include "doc.h"

/* Parses well-formed XML (OOXML and ODF parts, .xml files). NULL on error,
 * with err filled; caller frees with xmlFreeDoc(). */
xmlDocPtr ingest__xml_parse(const char *data, size_t len, const ingest_limits *lim,
                            keep_err *err);
/* Parses HTML leniently (tag soup is normal); same ownership. */
xmlDocPtr ingest__html_parse(const char *data, size_t len, const ingest_limits *lim,
                             keep_err *err);
/* Depth of the deepest element under node, stopping early past cap. */
unsigned ingest__xml_depth(xmlNodePtr node, unsigned cap);

#endif
