/* parse_odf.c — OpenDocument text, presentation and spreadsheet (.odt, .odp,
 * .ods and their flat XML forms .fodt, .fodp, .fods) to structured text.
 *
 * All three share content.xml's vocabulary: text:h (with outline-level) and
 * text:p, text:list, table:table, draw:frame text boxes, text:note. Tables
 * and sheets use table:number-columns-repeated / number-rows-repeated, which
 * a hostile file sets to 10^9: empty repeats only move a counter and write
 * nothing; non-empty ones are expanded up to ODF_MAX_CELL_REPEAT copies of
 * a cell and ODF_MAX_ROW_REPEAT copies of a row (more copies of the same
 * text answer no further question), under a per-document cell budget, and
 * the document's "Truncated" note says so. The work stays proportional to
 * the output.
 * A package whose manifest lists encryption data is refused (its parts are
 * ciphertext). */
#include <stdlib.h>
#include <string.h>

#include "office_util.h"
#include "parse_office.h"
#include "xml_safe.h"

#define ODF_MAX_DEPTH 512
/* Copies written of one non-empty row carrying number-rows-repeated, and of
 * one non-empty cell carrying number-columns-repeated. */
#define ODF_MAX_ROW_REPEAT 100
#define ODF_MAX_CELL_REPEAT 64

typedef struct lstyle {
    char *name;
    size_t root;
    xmlNodePtr node;
} lstyle;

typedef struct odf {
    ingest_zip *z;
    const ingest_limits *lim;
    ingest_doc *doc;
    keep_err *err;
    xmlDocPtr content, styles, meta;
    xmlNodePtr style_roots[4]; /* where text:list-style definitions live */
    lstyle *lists;             /* list styles by name, earlier roots first */
    size_t n_lists;
    ingest__notes notes;
    int in_list;
    int in_note;
    int slides; /* presentation text: text:h is not a document heading */
    long last_count; /* last number of the previous top-level list */
    size_t cells;
    int truncated;
    int repeat_cut; /* a repeat count was capped */
} odf;

/* ---- opening ----------------------------------------------------------------- */

static int index_list_styles(odf *o);

static int is_flat(const char *data, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    return i < len && data[i] == '<';
}

static void add_style_root(odf *o, xmlNodePtr n)
{
    for (size_t i = 0; n && i < 4; i++)
        if (!o->style_roots[i]) {
            o->style_roots[i] = n;
            return;
        }
}

static int meta_props(odf *o, xmlNodePtr meta)
{
    keep_buf b = {0};
    int rc = KEEP_OK, have_author = 0;
    for (xmlNodePtr c = meta ? meta->children : NULL; c && !rc; c = c->next) {
        int title = ingest__ox_is(c, OX_DC, "title");
        int author = ingest__ox_is(c, OX_DC, "creator") ||
                     ingest__ox_is(c, ":meta:", "initial-creator");
        if (!title && !(author && !have_author))
            continue;
        keep_buf_reset(&b);
        if ((rc = ingest__ox_text(c, &b)) || !b.len)
            continue;
        if (title) {
            rc = ingest_doc_title(o->doc, b.data, b.len, 1);
        } else {
            have_author = 1;
            rc = ingest_doc_meta(o->doc, "Author", b.data);
        }
    }
    keep_buf_free(&b);
    return rc ? keep_err_set(o->err, rc, "out of memory") : KEEP_OK;
}

/* Loads the document and returns its office:<kind> body element. */
/* Starts a parse: o set up for doc, the package (or flat XML) opened and
 * its body of that kind found. odf_close frees o even on failure. */
static int odf_open(odf *o, const char *data, size_t len, const ingest_limits *lim,
                    ingest_doc *doc, keep_err *err, const char *kind, xmlNodePtr *body)
{
    memset(o, 0, sizeof *o);
    o->lim = lim;
    o->doc = doc;
    o->err = err;
    keep_err_clear(err);
    *body = NULL;
    xmlNodePtr root, meta = NULL;
    if (is_flat(data, len)) {
        if (!(o->content = ingest__xml_parse(data, len, o->lim, o->err)))
            return o->err ? o->err->code : KEEP_ERR_PARSE;
        root = xmlDocGetRootElement(o->content);
        if (!ingest__ox_is(root, OD_OFFICE, "document"))
            return keep_err_set(o->err, KEEP_ERR_PARSE, "not an OpenDocument flat XML file");
        meta = ingest__ox_child(root, OD_OFFICE, "meta");
        add_style_root(o, ingest__ox_child(root, OD_OFFICE, "automatic-styles"));
        add_style_root(o, ingest__ox_child(root, OD_OFFICE, "styles"));
    } else {
        int rc = ingest__zip_open(data, len, o->lim, &o->z, o->err);
        if (rc)
            return rc;
        char *man = NULL;
        size_t ml = 0;
        rc = ingest__zip_read(o->z, "META-INF/manifest.xml", &man, &ml, o->err);
        if (rc == KEEP_OK) {
            /* a plain byte search: the manifest is only consulted for this */
            int enc = ml && memmem(man, ml, "encryption-data", 15) != NULL;
            keep_free(man);
            if (enc)
                return keep_err_set(o->err, KEEP_ERR_UNSUPPORTED,
                                    "password-protected OpenDocument file");
        } else if (rc != KEEP_ERR_NOTFOUND) {
            return rc;
        }
        keep_err_clear(o->err);
        rc = ingest__ox_load(o->z, "content.xml", o->lim, &o->content, o->err);
        if (rc == KEEP_ERR_NOTFOUND)
            return keep_err_set(o->err, KEEP_ERR_PARSE, "not an OpenDocument file: no content.xml");
        if (rc)
            return rc;
        root = xmlDocGetRootElement(o->content);
        if (!ingest__ox_is(root, OD_OFFICE, "document-content"))
            return keep_err_set(o->err, KEEP_ERR_PARSE, "content.xml is not OpenDocument content");
        add_style_root(o, ingest__ox_child(root, OD_OFFICE, "automatic-styles"));
        if ((rc = ingest__ox_load_opt(o->z, "styles.xml", o->lim, &o->styles, o->err)))
            return rc;
        if (o->styles) {
            xmlNodePtr sr = xmlDocGetRootElement(o->styles);
            add_style_root(o, ingest__ox_child(sr, OD_OFFICE, "styles"));
            add_style_root(o, ingest__ox_child(sr, OD_OFFICE, "automatic-styles"));
        }
        if ((rc = ingest__ox_load_opt(o->z, "meta.xml", o->lim, &o->meta, o->err)))
            return rc;
        if (o->meta)
            meta = ingest__ox_child(xmlDocGetRootElement(o->meta), OD_OFFICE, "meta");
    }
    int rc = meta_props(o, meta);
    if (!rc)
        rc = index_list_styles(o);
    if (rc)
        return rc;
    *body = ingest__ox_child(ingest__ox_child(root, OD_OFFICE, "body"), OD_OFFICE, kind);
    if (!*body)
        return keep_err_set(o->err, KEEP_ERR_PARSE, "not an OpenDocument %s document", kind);
    return KEEP_OK;
}

static int lstyle_cmp(const void *a, const void *b)
{
    const lstyle *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->root < y->root ? -1 : x->root > y->root;
}

/* Indexes the list styles once: a document may hold thousands of lists and
 * thousands of styles. */
static int index_list_styles(odf *o)
{
    size_t n = 0;
    for (size_t r = 0; r < 4 && o->style_roots[r]; r++)
        for (xmlNodePtr s = o->style_roots[r]->children; s; s = s->next)
            n += ingest__ox_is(s, OD_TEXT, "list-style");
    if (!n)
        return KEEP_OK;
    if (!(o->lists = keep_calloc(n, sizeof *o->lists)))
        return keep_err_set(o->err, KEEP_ERR_NOMEM, "out of memory");
    char name[256];
    for (size_t r = 0; r < 4 && o->style_roots[r]; r++)
        for (xmlNodePtr s = o->style_roots[r]->children; s; s = s->next) {
            if (!ingest__ox_is(s, OD_TEXT, "list-style") ||
                !ingest__ox_attr(s, OD_STYLE, "name", name, sizeof name))
                continue;
            lstyle *l = &o->lists[o->n_lists];
            if (!(l->name = keep_strdup(name)))
                return keep_err_set(o->err, KEEP_ERR_NOMEM, "out of memory");
            l->root = r;
            l->node = s;
            o->n_lists++;
        }
    if (o->n_lists > 1)
        qsort(o->lists, o->n_lists, sizeof *o->lists, lstyle_cmp);
    return KEEP_OK;
}

static xmlNodePtr find_list_style(const odf *o, const char *name)
{
    size_t lo = 0, hi = o->n_lists;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(o->lists[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < o->n_lists && strcmp(o->lists[lo].name, name) == 0 ? o->lists[lo].node : NULL;
}

static void odf_close(odf *o)
{
    for (size_t i = 0; i < o->n_lists; i++)
        keep_free(o->lists[i].name);
    keep_free(o->lists);
    xmlFreeDoc(o->content);
    xmlFreeDoc(o->styles);
    xmlFreeDoc(o->meta);
    keep_buf_free(&o->notes.text);
    ingest__zip_close(o->z);
}

/* ---- inline text --------------------------------------------------------------- */

static int flat_blocks(odf *o, xmlNodePtr n, keep_buf *out, unsigned depth);

static int note(odf *o, xmlNodePtr n, keep_buf *out, unsigned depth)
{
    if (o->in_note)
        return KEEP_OK;
    unsigned num = ++o->notes.count;
    if (keep_buf_printf(out, "[^%u]", num))
        return KEEP_ERR_NOMEM;
    keep_buf body = {0};
    o->in_note = 1;
    int rc = flat_blocks(o, ingest__ox_child(n, OD_TEXT, "note-body"), &body, depth + 1);
    o->in_note = 0;
    if (!rc && keep_buf_printf(&o->notes.text, "[^%u] ", num))
        rc = KEEP_ERR_NOMEM;
    if (!rc)
        rc = ingest__append_norm(&o->notes.text, body.data ? body.data : "", body.len);
    if (!rc && keep_buf_putc(&o->notes.text, '\n'))
        rc = KEEP_ERR_NOMEM;
    keep_buf_free(&body);
    if (!rc && o->lim && o->lim->max_text_bytes && o->notes.text.len > o->lim->max_text_bytes)
        rc = KEEP_ERR_TOOBIG;
    return rc;
}

/* Text of a paragraph's inline content. Annotations, ruby annotations,
 * change marks and frames (written after the paragraph) are left out. */
static int inline_text(odf *o, xmlNodePtr n, keep_buf *out, unsigned depth)
{
    if (depth > ODF_MAX_DEPTH)
        return KEEP_OK;
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next) {
        int rc = KEEP_OK;
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if (c->content)
                rc = keep_buf_puts(out, (const char *)c->content);
        } else if (c->type != XML_ELEMENT_NODE) {
            continue; /* entity references included */
        } else if (ingest__ox_is(c, OD_TEXT, "s") || ingest__ox_is(c, OD_TEXT, "tab")) {
            rc = keep_buf_putc(out, ' ');
        } else if (ingest__ox_is(c, OD_TEXT, "line-break")) {
            rc = keep_buf_putc(out, '\n');
        } else if (ingest__ox_is(c, OD_TEXT, "note")) {
            rc = note(o, c, out, depth);
        } else if (ingest__ox_is(c, OD_OFFICE, "annotation") ||
                   ingest__ox_is(c, OD_TEXT, "ruby-text") ||
                   ingest__ox_is(c, OD_TEXT, "change") ||
                   ingest__ox_is(c, OD_TEXT, "tracked-changes") || ingest__ox_is(c, OD_DRAW, "frame") ||
                   ingest__ox_is(c, OD_DRAW, "a") || ingest__ox_is(c, OD_DRAW, "custom-shape") ||
                   ingest__ox_is(c, OD_DRAW, "g")) {
            continue;
        } else {
            rc = inline_text(o, c, out, depth + 1);
        }
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

/* All text under a block container flattened into out (cells, notes):
 * paragraphs separated by spaces, annotations skipped. */
static int flat_blocks(odf *o, xmlNodePtr n, keep_buf *out, unsigned depth)
{
    if (!n || depth > ODF_MAX_DEPTH)
        return KEEP_OK;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        int rc = KEEP_OK;
        if (c->type != XML_ELEMENT_NODE || ingest__ox_is(c, OD_OFFICE, "annotation"))
            continue;
        if (ingest__ox_is(c, OD_TEXT, "p") || ingest__ox_is(c, OD_TEXT, "h")) {
            rc = inline_text(o, c, out, depth + 1);
            if (!rc && keep_buf_putc(out, ' '))
                rc = KEEP_ERR_NOMEM;
        } else {
            rc = flat_blocks(o, c, out, depth + 1);
        }
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

/* ---- blocks -------------------------------------------------------------------- */

static int blocks(odf *o, xmlNodePtr container, int list_level, unsigned depth);

static int end_list(odf *o)
{
    if (!o->in_list)
        return KEEP_OK;
    o->in_list = 0;
    return ingest_doc_para(o->doc);
}

/* Writes text, keeping line breaks as lines; then a paragraph break unless
 * the paragraph is a list line. */
static int emit_lines(odf *o, const char *s, size_t l, int as_line)
{
    int rc = KEEP_OK;
    const char *q = s, *end = s + l;
    while (!rc && q < end) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        size_t seg = nl ? (size_t)(nl - q) : (size_t)(end - q);
        rc = ingest_doc_text(o->doc, q, seg);
        if (!rc && nl)
            rc = ingest_doc_line(o->doc);
        q += seg + 1;
    }
    if (!rc)
        rc = as_line ? ingest_doc_line(o->doc) : ingest_doc_para(o->doc);
    return rc;
}

static int blank(const keep_buf *b)
{
    for (size_t i = 0; i < b->len; i++)
        if ((unsigned char)b->data[i] > ' ')
            return 0;
    return 1;
}

/* Text boxes of frames anchored in a paragraph, as blocks after it. */
static int frames(odf *o, xmlNodePtr n, unsigned depth)
{
    if (depth > ODF_MAX_DEPTH)
        return KEEP_OK;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        int rc = KEEP_OK;
        if (c->type != XML_ELEMENT_NODE || ingest__ox_is(c, OD_OFFICE, "annotation") ||
            ingest__ox_is(c, OD_TEXT, "note"))
            continue;
        if (ingest__ox_is(c, OD_DRAW, "text-box"))
            rc = blocks(o, c, 0, depth + 1);
        else
            rc = frames(o, c, depth + 1);
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

/* A paragraph or heading. marker: list marker for the first paragraph of a
 * list item ("- ", "2. "), NULL outside lists; indent: nesting level. */
static int paragraph(odf *o, xmlNodePtr p, const char *marker, int indent, unsigned depth)
{
    keep_buf text = {0};
    int rc = inline_text(o, p, &text, depth + 1);
    if (rc || blank(&text))
        goto boxes;
    const char *s = text.data;
    size_t l = text.len;
    if (ingest__ox_is(p, OD_TEXT, "h") && !o->slides && indent < 0) {
        long lvl = ingest__ox_attr_long(p, OD_TEXT, "outline-level", 1, 100);
        if ((rc = end_list(o)))
            goto out;
        rc = ingest_doc_heading(o->doc, lvl < 1 ? 1 : (int)lvl, s, l);
        goto boxes;
    }
    if (indent >= 0) {
        if (!o->in_list && (rc = ingest_doc_para(o->doc)))
            goto out;
        o->in_list = 1;
        for (int i = 0; i < indent && !rc; i++)
            rc = ingest_doc_raw(o->doc, "  ", 2);
        if (!rc)
            rc = ingest_doc_puts(o->doc, marker ? marker : "  ");
        if (!rc)
            rc = emit_lines(o, s, l, 1);
    } else {
        if (!(rc = end_list(o)))
            rc = emit_lines(o, s, l, 0);
    }
boxes:
    if (!rc)
        rc = frames(o, p, depth + 1);
out:
    keep_buf_free(&text);
    return rc;
}

/* The list-level style of a named list style: 'n' numbered, 'b' bullet. */
static int level_kind(odf *o, const char *style, int level, char *fmt, size_t cap)
{
    fmt[0] = '\0';
    xmlNodePtr s = style ? find_list_style(o, style) : NULL;
    for (xmlNodePtr l = s ? s->children : NULL; l; l = l->next) {
        if (ingest__ox_attr_long(l, OD_TEXT, "level", -1, 100) != level)
            continue;
        if (ingest__ox_is(l, OD_TEXT, "list-level-style-number")) {
            if (!ingest__ox_attr(l, OD_STYLE, "num-format", fmt, cap) || !fmt[0])
                return 'b';
            return 'n';
        }
        return 'b';
    }
    return 'b';
}

static void number_marker(const char *fmt, long v, char *out, size_t cap)
{
    if ((fmt[0] == 'a' || fmt[0] == 'A') && v >= 1)
        snprintf(out, cap, "%c. ", (char)(fmt[0] + (v - 1) % 26));
    else if ((fmt[0] == 'i' || fmt[0] == 'I') && v >= 1 && v < 40) {
        static const char *r[] = {"", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix"};
        static const char *t[] = {"", "x", "xx", "xxx"};
        char b[16];
        snprintf(b, sizeof b, "%s%s", t[v / 10], r[v % 10]);
        if (fmt[0] == 'I')
            for (char *p = b; *p; p++)
                *p = (char)(*p - 32);
        snprintf(out, cap, "%s. ", b);
    } else
        snprintf(out, cap, "%ld. ", v);
}

static int list(odf *o, xmlNodePtr ls, const char *inherited, int level, unsigned depth)
{
    if (depth > ODF_MAX_DEPTH)
        return KEEP_OK;
    char style[256];
    const char *st = ingest__ox_attr(ls, OD_TEXT, "style-name", style, sizeof style);
    if (!st)
        st = inherited;
    char fmt[16];
    int kind = level_kind(o, st, level + 1, fmt, sizeof fmt);
    long counter = 0;
    /* a list interrupted by a paragraph goes on counting ("3." after "2.") */
    char cont[16];
    int top = level == 0 && !inherited;
    if (top && ((ingest__ox_attr(ls, OD_TEXT, "continue-numbering", cont, sizeof cont) &&
                 strcmp(cont, "true") == 0) ||
                ingest__ox_attr(ls, OD_TEXT, "continue-list", cont, sizeof cont)))
        counter = o->last_count;
    int rc = KEEP_OK;
    for (xmlNodePtr it = ls->children; it && !rc; it = it->next) {
        int header = ingest__ox_is(it, OD_TEXT, "list-header");
        if (!ingest__ox_is(it, OD_TEXT, "list-item") && !header)
            continue;
        long sv = ingest__ox_attr_long(it, OD_TEXT, "start-value", -1, 1L << 30);
        char marker[48];
        int first = 1;
        for (xmlNodePtr c = it->children; c && !rc; c = c->next) {
            if (ingest__ox_is(c, OD_TEXT, "p") || ingest__ox_is(c, OD_TEXT, "h")) {
                const char *m = NULL;
                if (first && !header) {
                    if (kind == 'n') {
                        counter = sv > 0 ? sv : counter + 1;
                        number_marker(fmt, counter, marker, sizeof marker);
                    } else {
                        snprintf(marker, sizeof marker, "- ");
                    }
                    m = marker;
                }
                size_t before = o->doc->text.len;
                rc = paragraph(o, c, m, level, depth + 1);
                if (o->doc->text.len != before)
                    first = 0;
            } else if (ingest__ox_is(c, OD_TEXT, "list")) {
                rc = list(o, c, st, level + 1, depth + 1);
            } else {
                rc = blocks(o, c, level, depth + 1);
            }
        }
    }
    if (top)
        o->last_count = counter;
    return rc;
}

/* ---- tables -------------------------------------------------------------------- */

typedef struct orow {
    keep_buf text;
    ingest__cell *cells;
    size_t n, cap;
} orow;

static int row_add(orow *r, size_t col, size_t span, const char *s, size_t len)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        ingest__cell *c = keep_reallocarray(r->cells, nc, sizeof *c);
        if (!c)
            return KEEP_ERR_NOMEM;
        r->cells = c;
        r->cap = nc;
    }
    ingest__cell *c = &r->cells[r->n++];
    c->col = col;
    c->span = span;
    c->off = r->text.len;
    c->len = len;
    return keep_buf_append(&r->text, s, len);
}

/* Displayed text of a cell, else its typed value (hand-written files). */
static int cell_text(odf *o, xmlNodePtr c, keep_buf *out)
{
    int rc = flat_blocks(o, c, out, 0);
    if (rc || !blank(out))
        return rc;
    keep_buf_reset(out);
    static const char *const attrs[] = {"string-value", "date-value", "time-value",
                                        "boolean-value", "value"};
    char v[256];
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        if (ingest__ox_attr(c, OD_OFFICE, attrs[i], v, sizeof v) && v[0])
            return keep_buf_puts(out, v);
    return KEEP_OK;
}

static int table_row(odf *o, xmlNodePtr tr, ingest__table *t, orow *row, keep_buf *cell)
{
    row->n = 0;
    keep_buf_reset(&row->text);
    size_t col = 0;
    int rc = KEEP_OK;
    for (xmlNodePtr c = tr->children; c && !rc && col < INGEST_TAB_MAX_COLS; c = c->next) {
        int covered = ingest__ox_is(c, OD_TABLE, "covered-table-cell");
        if (!covered && !ingest__ox_is(c, OD_TABLE, "table-cell"))
            continue;
        long rep = ingest__ox_attr_long(c, OD_TABLE, "number-columns-repeated", 1, 1L << 30);
        long span = ingest__ox_attr_long(c, OD_TABLE, "number-columns-spanned", 1, 1L << 30);
        if (rep < 1)
            rep = 1;
        if (span < 1)
            span = 1;
        keep_buf_reset(cell);
        if (!covered && (rc = cell_text(o, c, cell)))
            break;
        if (covered || blank(cell)) {
            /* empty repeats only move the column: 10^9 of them cost nothing */
            col = (size_t)rep >= INGEST_TAB_MAX_COLS - col ? INGEST_TAB_MAX_COLS : col + (size_t)rep;
            continue;
        }
        size_t max = o->doc->max_text;
        if (rep > ODF_MAX_CELL_REPEAT) {
            o->repeat_cut = 1;
            rep = ODF_MAX_CELL_REPEAT;
        }
        for (long k = 0; k < rep && col < INGEST_TAB_MAX_COLS && !rc; k++, col++) {
            if (max && (cell->len > max || row->text.len > max - cell->len))
                return KEEP_ERR_TOOBIG; /* repeated cells past what a document may hold */
            rc = row_add(row, col, (size_t)span, cell->data, cell->len);
        }
    }
    if (rc || !row->n)
        return rc;
    long rep = ingest__ox_attr_long(tr, OD_TABLE, "number-rows-repeated", 1, 1L << 30);
    if (rep < 1)
        rep = 1;
    if (rep > ODF_MAX_ROW_REPEAT) {
        o->repeat_cut = 1;
        rep = ODF_MAX_ROW_REPEAT;
    }
    for (long k = 0; k < rep && !rc; k++) {
        if (o->cells + row->n > INGEST_SHEET_MAX_CELLS) {
            o->truncated = 1;
            break;
        }
        o->cells += row->n;
        for (size_t i = 0; i < row->n && !rc; i++)
            rc = ingest__tab_cell(t, row->cells[i].col, row->cells[i].span,
                                  row->text.data + row->cells[i].off, row->cells[i].len);
        if (!rc)
            rc = ingest__tab_row(t, o->doc, NULL);
    }
    return rc;
}

static int table_rows(odf *o, xmlNodePtr n, ingest__table *t, orow *row, keep_buf *cell,
                       unsigned depth)
{
    if (depth > ODF_MAX_DEPTH)
        return KEEP_OK;
    for (xmlNodePtr c = n->children; c && !o->truncated; c = c->next) {
        int rc = KEEP_OK;
        if (ingest__ox_is(c, OD_TABLE, "table-row"))
            rc = table_row(o, c, t, row, cell);
        else if (ingest__ox_is(c, OD_TABLE, "table-header-rows") ||
                 ingest__ox_is(c, OD_TABLE, "table-rows") ||
                 ingest__ox_is(c, OD_TABLE, "table-row-group"))
            rc = table_rows(o, c, t, row, cell, depth + 1);
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

static int table(odf *o, xmlNodePtr tbl)
{
    ingest__table t;
    ingest__tab_init(&t, o->doc->max_text);
    orow row = {{0}, NULL, 0, 0};
    keep_buf cell = {0};
    int rc = end_list(o);
    if (!rc)
        rc = ingest_doc_para(o->doc);
    if (!rc)
        rc = table_rows(o, tbl, &t, &row, &cell, 0);
    if (!rc)
        rc = ingest__tab_end(&t, o->doc);
    ingest__tab_free(&t);
    keep_buf_free(&row.text);
    keep_free(row.cells);
    keep_buf_free(&cell);
    return rc;
}

/* ---- block containers -------------------------------------------------------- */

/* list_level: -1 outside lists, else the level of the enclosing item
 * (continuation blocks of an item are indented like it). */
static int blocks(odf *o, xmlNodePtr container, int list_level, unsigned depth)
{
    if (!container || depth > ODF_MAX_DEPTH)
        return KEEP_OK;
    for (xmlNodePtr c = container->children; c; c = c->next) {
        int rc = KEEP_OK;
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (ingest__ox_is(c, OD_TEXT, "p") || ingest__ox_is(c, OD_TEXT, "h"))
            rc = paragraph(o, c, NULL, list_level, depth + 1);
        else if (ingest__ox_is(c, OD_TEXT, "list"))
            rc = list(o, c, NULL, list_level + 1, depth + 1);
        else if (ingest__ox_is(c, OD_TABLE, "table"))
            rc = table(o, c);
        else if (ingest__ox_is(c, OD_TEXT, "table-of-content") ||
                 ingest__ox_is(c, OD_TEXT, "alphabetical-index") ||
                 ingest__ox_is(c, OD_TEXT, "illustration-index") ||
                 ingest__ox_is(c, OD_TEXT, "table-index") ||
                 ingest__ox_is(c, OD_TEXT, "object-index") ||
                 ingest__ox_is(c, OD_TEXT, "user-index") ||
                 ingest__ox_is(c, OD_TEXT, "bibliography") ||
                 ingest__ox_is(c, OD_TEXT, "tracked-changes") ||
                 ingest__ox_is(c, OD_TEXT, "sequence-decls") ||
                 ingest__ox_is(c, OD_TEXT, "variable-decls") ||
                 ingest__ox_is(c, OD_TEXT, "user-field-decls") ||
                 ingest__ox_is(c, OD_OFFICE, "forms") ||
                 ingest__ox_is(c, OD_OFFICE, "annotation"))
            continue; /* generated copies of the text, or no text */
        else if (ingest__ox_is(c, OD_DRAW, "text-box"))
            rc = blocks(o, c, -1, depth + 1);
        else
            rc = blocks(o, c, list_level, depth + 1); /* sections, frames, shapes */
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

/* ---- text documents ---------------------------------------------------------- */

int ingest_parse_odt(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err)
{
    odf o;
    xmlNodePtr body;
    int rc = odf_open(&o, data, len, lim, doc, err, "text", &body);
    if (!rc)
        rc = blocks(&o, body, -1, 0);
    if (!rc)
        rc = end_list(&o);
    if (!rc)
        rc = ingest__notes_flush(&o.notes, doc);
    rc = ingest__office_done(rc, doc, err);
    odf_close(&o);
    return rc;
}

/* ---- presentations ----------------------------------------------------------- */

static int pres_class(xmlNodePtr n, const char *cls)
{
    char b[64];
    return ingest__ox_attr(n, OD_PRES, "class", b, sizeof b) && strcmp(b, cls) == 0;
}

/* Shapes of a page or notes page. Title frames are the slide heading; page
 * numbers, headers, footers and dates are master furniture. */
static int page_shapes(odf *o, xmlNodePtr page, unsigned depth)
{
    if (depth > ODF_MAX_DEPTH)
        return KEEP_OK;
    for (xmlNodePtr c = page->children; c; c = c->next) {
        int rc = KEEP_OK;
        if (c->type != XML_ELEMENT_NODE || ingest__ox_is(c, OD_PRES, "notes") ||
            ingest__ox_is(c, OD_OFFICE, "forms") || ingest__ox_is(c, OD_OFFICE, "annotation") ||
            ingest__ox_is(c, OD_DRAW, "page-thumbnail") || pres_class(c, "title") ||
            pres_class(c, "page-number") || pres_class(c, "footer") ||
            pres_class(c, "header") || pres_class(c, "date-time"))
            continue;
        if (ingest__ox_is(c, OD_DRAW, "g")) {
            rc = page_shapes(o, c, depth + 1);
        } else {
            rc = blocks(o, c, -1, depth + 1);
            if (!rc)
                rc = end_list(o);
            if (!rc)
                rc = ingest_doc_para(o->doc);
        }
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

static xmlNodePtr find_class(xmlNodePtr n, const char *cls, unsigned depth)
{
    if (depth > ODF_MAX_DEPTH)
        return NULL;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || ingest__ox_is(c, OD_PRES, "notes"))
            continue;
        if (pres_class(c, cls))
            return c;
        if (ingest__ox_is(c, OD_DRAW, "g")) {
            xmlNodePtr f = find_class(c, cls, depth + 1);
            if (f)
                return f;
        }
    }
    return NULL;
}

static int odp_page(odf *o, xmlNodePtr page, int n)
{
    keep_buf h = {0}, tt = {0};
    int rc = ingest_doc_slide(o->doc, n);
    if (!rc && keep_buf_printf(&h, "Slide %d", n))
        rc = KEEP_ERR_NOMEM;
    xmlNodePtr title = find_class(page, "title", 0);
    if (!rc && title) {
        rc = flat_blocks(o, title, &tt, 0);
        if (!rc && !blank(&tt) &&
            (keep_buf_puts(&h, ": ") || ingest__append_norm(&h, tt.data, tt.len)))
            rc = KEEP_ERR_NOMEM;
        /* no title in meta.xml: the first slide title */
        if (!rc && !blank(&tt))
            rc = ingest_doc_title(o->doc, tt.data, tt.len, 0);
    }
    if (!rc)
        rc = ingest_doc_heading(o->doc, 1, h.data, h.len);
    if (!rc)
        rc = page_shapes(o, page, 0);
    xmlNodePtr notes = ingest__ox_child(page, OD_PRES, "notes");
    if (!rc && notes) {
        keep_buf_reset(&tt);
        for (xmlNodePtr c = notes->children; c && !rc; c = c->next)
            if (!ingest__ox_is(c, OD_DRAW, "page-thumbnail"))
                rc = flat_blocks(o, c, &tt, 0);
        if (!rc && !blank(&tt) && !(rc = ingest_doc_heading(o->doc, 2, "Notes", 5)))
            rc = page_shapes(o, notes, 0);
    }
    keep_buf_free(&h);
    keep_buf_free(&tt);
    return rc;
}

int ingest_parse_odp(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err)
{
    odf o;
    xmlNodePtr body;
    int rc = odf_open(&o, data, len, lim, doc, err, "presentation", &body);
    o.slides = 1;
    int n = 0;
    for (xmlNodePtr p = body && !rc ? body->children : NULL; p && !rc; p = p->next) {
        if (!ingest__ox_is(p, OD_DRAW, "page"))
            continue;
        if (lim && lim->max_pages && (unsigned)n >= lim->max_pages) {
            rc = keep_err_set(err, KEEP_ERR_TOOBIG, "presentation has more than %u slides",
                              lim->max_pages);
            break;
        }
        rc = odp_page(&o, p, ++n);
    }
    rc = ingest__office_done(rc, doc, err);
    odf_close(&o);
    return rc;
}

/* ---- spreadsheets -------------------------------------------------------------- */

#define STR2(x) #x
#define STR(x) STR2(x)
#define REPEAT_NOTE                                                                            \
    "repeated rows shown " STR(ODF_MAX_ROW_REPEAT) " times at most, repeated cells "           \
    STR(ODF_MAX_CELL_REPEAT) " times"
#define CELLS_NOTE "sheets cut after " STR(INGEST_SHEET_MAX_CELLS) " cells"

int ingest_parse_ods(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err)
{
    odf o;
    xmlNodePtr body;
    int rc = odf_open(&o, data, len, lim, doc, err, "spreadsheet", &body);
    unsigned n = 0;
    int cut = 0;
    char name[512];
    for (xmlNodePtr s = body && !rc ? body->children : NULL; s && !rc; s = s->next) {
        if (!ingest__ox_is(s, OD_TABLE, "table"))
            continue;
        if (lim && lim->max_pages && n >= lim->max_pages) {
            rc = keep_err_set(err, KEEP_ERR_TOOBIG, "spreadsheet has more than %u sheets",
                              lim->max_pages);
            break;
        }
        n++;
        if (!ingest__ox_attr(s, OD_TABLE, "name", name, sizeof name) || !name[0])
            snprintf(name, sizeof name, "Sheet%u", n);
        rc = ingest_doc_sheet(doc, name);
        if (!rc)
            rc = ingest_doc_heading(doc, 1, name, strlen(name));
        if (!rc)
            rc = table(&o, s);
        if (o.truncated) {
            cut = 1;
            o.truncated = 0; /* later sheets still get their heading */
        }
    }
    if (!rc && (cut || o.repeat_cut)) {
        char m[192];
        snprintf(m, sizeof m, "%s%s%s", o.repeat_cut ? REPEAT_NOTE : "",
                 o.repeat_cut && cut ? "; " : "", cut ? CELLS_NOTE : "");
        rc = ingest_doc_meta(doc, "Truncated", m);
    }
    rc = ingest__office_done(rc, doc, err);
    odf_close(&o);
    return rc;
}
