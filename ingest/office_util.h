/* office_util.h — what the OOXML and ODF parsers share: element and
 * attribute matching that never expands entities, loading a zip member as a
 * hardened XML tree, OPC relationships, core properties, and the table
 * renderer that writes each row with its header names
 * ("Header: value; Header2: value"). Internal to ingest/. */
#ifndef KEEP_INGEST_OFFICE_UTIL_H
#define KEEP_INGEST_OFFICE_UTIL_H

#include <libxml/tree.h>

#include "doc.h"
#include "zip_safe.h"

/* Namespace keys: a substring of the namespace URI, so the transitional and
 * strict OOXML URIs (and any ODF version) match alike. */
#define OX_W "wordprocessingml"
#define OX_A "drawingml"
#define OX_P "presentationml"
#define OX_S "spreadsheetml"
#define OX_R "relationships"
#define OX_MC "markup-compatibility"
#define OD_TEXT ":text:"
#define OD_TABLE ":table:"
#define OD_DRAW ":drawing:"
#define OD_PRES ":presentation:"
#define OD_OFFICE ":office:"
#define OD_STYLE ":style:"
#define OX_DC "purl.org/dc/elements"

/* Widest table or sheet row rendered (Excel's and Calc's column limit). */
#define INGEST_TAB_MAX_COLS 16384u
/* Cells rendered per document from sheets, after repeat expansion. */
#define INGEST_SHEET_MAX_CELLS 2000000u

/* 1 when n is an element with that local name whose namespace URI contains
 * nskey (any namespace when nskey is NULL). */
int ingest__ox_is(xmlNodePtr n, const char *nskey, const char *local);
/* First child element matching, or NULL. */
xmlNodePtr ingest__ox_child(xmlNodePtr n, const char *nskey, const char *local);
/* Value of an attribute into buf (truncated to cap-1 bytes), or NULL when
 * absent. nskey: NULL any namespace, "" no namespace, else a URI substring.
 * Only text children are read: an entity reference in a value is dropped. */
const char *ingest__ox_attr(xmlNodePtr n, const char *nskey, const char *local, char *buf,
                            size_t cap);
/* Attribute as a non-negative integer; def when absent or malformed, capped
 * at max. */
long ingest__ox_attr_long(xmlNodePtr n, const char *nskey, const char *local, long def,
                          long max);
/* Appends the text of every text/CDATA node under n in document order,
 * skipping entity references. */
int ingest__ox_text(xmlNodePtr n, keep_buf *out);

/* Reads a zip member and parses it with ingest__xml_parse. KEEP_ERR_NOTFOUND
 * when absent. Caller frees *out with xmlFreeDoc. */
int ingest__ox_load(ingest_zip *z, const char *name, const ingest_limits *lim, xmlDocPtr *out,
                    keep_err *err);

/* An optional part (styles, numbering, notes, meta): absent or broken is
 * KEEP_OK with *out NULL, as the document still reads without it; only
 * out-of-memory and size caps are errors. Caller frees *out with xmlFreeDoc. */
int ingest__ox_load_opt(ingest_zip *z, const char *name, const ingest_limits *lim,
                        xmlDocPtr *out, keep_err *err);

/* ---- OPC relationships ------------------------------------------------------ */
typedef struct ingest__rel {
    char *id;
    char *type;   /* last path segment of the type URI: "slide", "notesSlide" */
    char *target; /* resolved member name; NULL for external or unsafe targets */
    size_t order; /* position in the rels part */
} ingest__rel;

typedef struct ingest__rels {
    ingest__rel *v; /* sorted by id */
    size_t n;
} ingest__rels;

/* Loads the relationships of a part ("word/document.xml" reads
 * "word/_rels/document.xml.rels"; "" reads "_rels/.rels"). A missing rels
 * member is an empty set. Caller frees with ingest__rels_free. */
int ingest__rels_load(ingest_zip *z, const char *part, const ingest_limits *lim,
                      ingest__rels *out, keep_err *err);
void ingest__rels_free(ingest__rels *r);
const ingest__rel *ingest__rels_id(const ingest__rels *r, const char *id);
/* The first relationship of that type (in document order) with a target. */
const ingest__rel *ingest__rels_type(const ingest__rels *r, const char *type);

/* The main part of an OOXML package (officeDocument relationship of
 * _rels/.rels, else fallback) and docProps/core.xml title and author.
 * Caller frees *main_part with keep_free. */
int ingest__ooxml_main(ingest_zip *z, const ingest_limits *lim, const char *fallback,
                       char **main_part, ingest_doc *doc, keep_err *err);

/* ---- tables ---------------------------------------------------------------- */
typedef struct ingest__cell {
    size_t col, span, off, len;
} ingest__cell;

typedef struct ingest__table {
    char **headers; /* by column; NULL where the header row had no cell */
    size_t n_headers;
    int have_header;
    keep_buf text; /* cell texts of the current row */
    ingest__cell *cells;
    size_t n_cells, cap_cells;
    size_t max_text; /* cap on one row's text; 0 = none */
} ingest__table;

/* max_text: the document text cap (doc->max_text), so that a row of
 * repeated cells cannot grow past what the document may hold. */
void ingest__tab_init(ingest__table *t, size_t max_text);
void ingest__tab_free(ingest__table *t);
/* Adds a cell of the current row at column col covering span columns; text
 * is whitespace-normalised; empty cells and columns past the cap are
 * ignored. Cells must come in increasing column order. */
int ingest__tab_cell(ingest__table *t, size_t col, size_t span, const char *s, size_t len);
/* Ends the row: the first row with two or more cells becomes the header and
 * is written as "A | B | C"; later rows as "A: 1; B: 2". Single-cell rows
 * before it (captions) are written as they are. Returns 1 in *emitted when
 * a line was written. */
int ingest__tab_row(ingest__table *t, ingest_doc *doc, int *emitted);
/* Ends the table (paragraph break) and frees it; t can be reused after
 * ingest__tab_init. */
int ingest__tab_end(ingest__table *t, ingest_doc *doc);
/* Forgets the header so that the next non-empty row becomes it. */
void ingest__tab_reset_header(ingest__table *t);

/* Notes (footnotes, endnotes) collected while walking the body and written
 * at the end under a "Footnotes" heading as "[^n] text". */
typedef struct ingest__notes {
    keep_buf text; /* "[^1] ...\n[^2] ...\n" */
    unsigned count;
} ingest__notes;

int ingest__notes_flush(ingest__notes *notes, ingest_doc *doc);

/* Ends a parse: on success finishes the doc; on failure makes sure err
 * holds a message (builder errors carry none). Returns rc. */
int ingest__office_done(int rc, ingest_doc *doc, keep_err *err);

/* Whitespace-collapses s[0..len) into out (one space between words, trimmed). */
int ingest__append_norm(keep_buf *out, const char *s, size_t len);

#endif
