/* parse_web.c — HTML/XHTML and generic XML to structured text.
 *
 * Both walkers visit the libxml2 tree iteratively (child, next, parent
 * pointers; enter/leave callbacks), so a deep tree costs no C stack, and
 * they follow xml_safe.h: text only from text nodes, entity references
 * skipped, attribute values read from their text children only (libxml2's
 * xmlGetProp would expand an entity reference found there). */
#include "parse_web.h"

#include <errno.h>
#include <iconv.h>
#include <libxml/HTMLparser.h>
#include <string.h>
#include <strings.h>
#include <uchardet/uchardet.h>

#include "xml_safe.h"

#define MAX_LISTS 32
#define MAX_COLS 64
#define MAX_HEADING_TEXT 1024

/* ---- shared helpers ------------------------------------------------------ */

static const char *ename(xmlNodePtr n)
{
    return n && n->name ? (const char *)n->name : "";
}

static int is(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcasecmp(ename(n), name) == 0;
}

static int name_in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0)
            return 1;
    return 0;
}

/* Value of attribute name, from its text children only; NULL when absent.
 * Caller frees with keep_free. */
static char *attr(xmlNodePtr n, const char *name)
{
    if (!n || n->type != XML_ELEMENT_NODE)
        return NULL;
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        if (!a->name || strcasecmp((const char *)a->name, name) != 0)
            continue;
        keep_buf b = {0};
        for (xmlNodePtr c = a->children; c; c = c->next)
            if (c->type == XML_TEXT_NODE && c->content &&
                keep_buf_puts(&b, (const char *)c->content))
                goto fail;
        return keep_buf_take(&b);
    fail:
        keep_buf_free(&b);
        return NULL;
    }
    return NULL;
}

static int has_attr(xmlNodePtr n, const char *name)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next)
        if (a->name && strcasecmp((const char *)a->name, name) == 0)
            return 1;
    return 0;
}

/* Windows-1252 for the C1 range: pages labelled ISO-8859-1 are Windows-1252
 * in practice (browsers decode them so), and libxml2 turns their curly
 * quotes into invisible C1 controls. 0 = undefined there: dropped. */
static const unsigned short cp1252[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

/* Appends text to b with C1 controls remapped and no-break spaces made
 * plain spaces. */
static int put_clean(keep_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0;
    for (size_t i = 0; p[i]; i++) {
        if (p[i] != 0xC2 || p[i + 1] < 0x80 || (p[i + 1] > 0x9F && p[i + 1] != 0xA0))
            continue;
        if (keep_buf_append(b, s + run, i - run))
            return KEEP_ERR_NOMEM;
        unsigned c = p[i + 1];
        int rc = KEEP_OK;
        if (c == 0xA0) {
            rc = keep_buf_putc(b, ' ');
        } else if (cp1252[c - 0x80]) {
            unsigned u = cp1252[c - 0x80];
            char e[3];
            if (u < 0x800) {
                e[0] = (char)(0xC0 | (u >> 6));
                e[1] = (char)(0x80 | (u & 0x3F));
                rc = keep_buf_append(b, e, 2);
            } else {
                e[0] = (char)(0xE0 | (u >> 12));
                e[1] = (char)(0x80 | ((u >> 6) & 0x3F));
                e[2] = (char)(0x80 | (u & 0x3F));
                rc = keep_buf_append(b, e, 3);
            }
        }
        if (rc)
            return rc;
        i++;
        run = i + 1;
    }
    return keep_buf_puts(b, s + run);
}

/* An entity reference left in the tree (XHTML or XML whose DTD is not
 * loaded: &nbsp; &copy; &mdash;) is read from libxml2's fixed table of HTML
 * entities, never from the document's own declarations, so nothing a file
 * declares is ever expanded. Appends the UTF-8 to b; unknown names add
 * nothing. */
static int put_entity(keep_buf *b, xmlNodePtr n)
{
    const htmlEntityDesc *e = n->name ? htmlEntityLookup(n->name) : NULL;
    if (!e)
        return KEEP_OK;
    unsigned v = e->value;
    if (v == 0xA0)
        return keep_buf_putc(b, ' ');
    char u[4];
    size_t k;
    if (v < 0x80) {
        u[0] = (char)v;
        k = 1;
    } else if (v < 0x800) {
        u[0] = (char)(0xC0 | (v >> 6));
        u[1] = (char)(0x80 | (v & 0x3F));
        k = 2;
    } else if (v < 0x10000) {
        u[0] = (char)(0xE0 | (v >> 12));
        u[1] = (char)(0x80 | ((v >> 6) & 0x3F));
        u[2] = (char)(0x80 | (v & 0x3F));
        k = 3;
    } else {
        return KEEP_OK; /* the HTML 4 table has no such entries */
    }
    return keep_buf_append(b, u, k);
}

/* ---- HTML ---------------------------------------------------------------- */

static const char *const html_dropped[] = {
    "script", "style",  "noscript", "template", "nav",    "footer", "aside",    "form",
    "iframe", "svg",    "object",   "embed",    "canvas", "button", "select",   "textarea",
    "input",  "dialog", "map",      "audio",    "video",  "head",   "frameset", NULL};

static const char *const html_blocks[] = {
    "p",       "div",     "section", "article",  "main",     "blockquote", "figure",  "figcaption",
    "address", "details", "summary", "center",   "fieldset", "legend",     "caption", "dl",
    "body",    "html",    "hgroup",  "header",   "tr",       "td",         "th",      "thead",
    "tbody",   "tfoot",   "table",   "noframes", NULL};

/* Block-level content a cell of a data table does not hold. */
static const char *const layout_signs[] = {"table",   "h1",   "h2",  "h3",         "h4",
                                           "h5",      "h6",   "pre", "blockquote", "section",
                                           "article", "main", NULL};

static const char *const hidden_roles[] = {"navigation", "banner", "contentinfo", "search", NULL};

/* Whether a page-level header: inside <article> or <main> a <header> holds
 * the article's own title and byline and stays. */
static int page_header(xmlNodePtr n)
{
    for (xmlNodePtr p = n->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent)
        if (is(p, "article") || is(p, "main"))
            return 0;
    return 1;
}

/* The node after c in a depth-first walk of the subtree under n: c's first
 * child when down, else the next sibling of c or of its nearest ancestor
 * below n; NULL at the end. */
static xmlNodePtr walk_next(xmlNodePtr n, xmlNodePtr c, int down)
{
    if (down && c->children)
        return c->children;
    while (c && c != n && !c->next)
        c = c->parent;
    return !c || c == n ? NULL : c->next;
}

/* Whether the subtree under n holds an element named in list (not n). */
static int subtree_has(xmlNodePtr n, const char *const *list)
{
    xmlNodePtr c = n->children;
    while (c) {
        if (c->type == XML_ELEMENT_NODE && name_in(ename(c), list))
            return 1;
        c = walk_next(n, c, c->type == XML_ELEMENT_NODE);
    }
    return 0;
}

static const char *const form_content[] = {"p", "article", "main", "h1", "h2", "h3", "table", NULL};

/* Boilerplate and hidden elements whose subtree is skipped. */
static int html_dropped_el(xmlNodePtr n)
{
    const char *name = ename(n);
    if (strcasecmp(name, "form") == 0)
        return !subtree_has(n, form_content); /* a form wrapping a whole page stays */
    if (name_in(name, html_dropped))
        return 1;
    if (strcasecmp(name, "header") == 0 && page_header(n))
        return 1;
    if (!n->properties)
        return 0;
    if (has_attr(n, "hidden"))
        return 1;
    int drop = 0;
    char *v = attr(n, "aria-hidden");
    if (v && strcasecmp(v, "true") == 0)
        drop = 1;
    keep_free(v);
    if (!drop && (v = attr(n, "role")) != NULL) {
        drop = name_in(v, hidden_roles);
        keep_free(v);
    }
    if (!drop && (v = attr(n, "style")) != NULL) {
        size_t k = 0;
        for (size_t i = 0; v[i]; i++) /* squeeze spaces: "display : none" */
            if (v[i] != ' ' && v[i] != '\t' && v[i] != '\n')
                v[k++] = v[i];
        v[k] = '\0';
        drop = strcasestr(v, "display:none") || strcasestr(v, "visibility:hidden");
        keep_free(v);
    }
    return drop;
}

static int heading_level(xmlNodePtr n)
{
    const char *s = ename(n);
    if ((s[0] == 'h' || s[0] == 'H') && s[1] >= '1' && s[1] <= '6' && s[2] == '\0')
        return s[1] - '0';
    return 0;
}

/* Text under n into b. raw keeps whitespace (pre); otherwise blocks and
 * <br> become spaces. Dropped elements and entity references are skipped. */
static int collect(xmlNodePtr n, keep_buf *b, int raw, size_t cap)
{
    xmlNodePtr c = n->children;
    while (c) {
        int down = 0;
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if (c->content && put_clean(b, (const char *)c->content))
                return KEEP_ERR_NOMEM;
        } else if (c->type == XML_ENTITY_REF_NODE) {
            if (put_entity(b, c))
                return KEEP_ERR_NOMEM;
        } else if (c->type == XML_ELEMENT_NODE && !html_dropped_el(c)) {
            if (is(c, "br") && keep_buf_putc(b, raw ? '\n' : ' '))
                return KEEP_ERR_NOMEM;
            if (!raw && !is(c, "br") && name_in(ename(c), html_blocks) && keep_buf_putc(b, ' '))
                return KEEP_ERR_NOMEM;
            down = 1;
        }
        if (cap && b->len > cap)
            break;
        c = walk_next(n, c, down);
    }
    return KEEP_OK;
}

/* Whether the subtree under n shows any text; an element of only icons or
 * buttons (a theme switcher's <li>) gets no list marker. Gives up (yes)
 * after cap nodes, so nested lists cannot make this quadratic. */
static int shows_text(xmlNodePtr n, unsigned cap)
{
    xmlNodePtr c = n->children;
    while (c && cap--) {
        int down = 0;
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            for (const unsigned char *t = c->content; *t; t++)
                if (!strchr(" \t\r\n\f", *t))
                    return 1;
        } else if (c->type == XML_ELEMENT_NODE) {
            down = !html_dropped_el(c);
        }
        c = walk_next(n, c, down);
    }
    return c != NULL; /* cap reached while nodes remained */
}

typedef struct hlist {
    int ordered;
    long next;
} hlist;

typedef struct hwalk {
    ingest_doc *doc;
    hlist lists[MAX_LISTS];
    int n_lists;    /* may exceed MAX_LISTS: deeper lists share the last slot */
    xmlNodePtr pre; /* the <pre> (or block <code>) being read verbatim */
    char *first_h1; /* title fallback */
    keep_buf tmp;
} hwalk;

static int emit_text(hwalk *w, const char *s)
{
    keep_buf_reset(&w->tmp);
    if (put_clean(&w->tmp, s))
        return KEEP_ERR_NOMEM;
    if (!w->tmp.len)
        return KEEP_OK;
    if (w->pre)
        return ingest_doc_raw(w->doc, w->tmp.data, w->tmp.len);
    return ingest_doc_text(w->doc, w->tmp.data, w->tmp.len);
}

static int do_meta(hwalk *w, xmlNodePtr n)
{
    char *name = attr(n, "name");
    if (!name)
        name = attr(n, "property");
    char *content = attr(n, "content");
    int rc = KEEP_OK;
    if (name && content) {
        keep_buf_reset(&w->tmp);
        if (put_clean(&w->tmp, content)) {
            rc = KEEP_ERR_NOMEM;
        } else if (strcasecmp(name, "description") == 0 ||
                   strcasecmp(name, "og:description") == 0) {
            int seen = 0;
            for (size_t i = 0; i < w->doc->n_meta; i++)
                seen |= strcmp(w->doc->meta[i].key, "description") == 0;
            if (!seen && w->tmp.len) {
                rc = ingest_doc_meta(w->doc, "description", w->tmp.data);
                if (!rc)
                    rc = ingest_doc_para(w->doc);
                if (!rc)
                    rc = ingest_doc_text(w->doc, w->tmp.data, w->tmp.len);
                if (!rc)
                    rc = ingest_doc_para(w->doc);
            }
        } else if (strcasecmp(name, "keywords") == 0 && w->tmp.len) {
            rc = ingest_doc_meta(w->doc, "keywords", w->tmp.data);
        } else if (strcasecmp(name, "author") == 0 && w->tmp.len) {
            rc = ingest_doc_meta(w->doc, "author", w->tmp.data);
        }
    }
    keep_free(name);
    keep_free(content);
    return rc;
}

/* <head>: only the title and meta elements matter. */
static int do_head(hwalk *w, xmlNodePtr head)
{
    int rc = KEEP_OK;
    for (xmlNodePtr c = head->children; c && !rc; c = c->next) {
        if (is(c, "title")) {
            keep_buf_reset(&w->tmp);
            if (collect(c, &w->tmp, 0, MAX_HEADING_TEXT))
                return KEEP_ERR_NOMEM;
            rc = ingest_doc_title(w->doc, w->tmp.data ? w->tmp.data : "", w->tmp.len, 0);
        } else if (is(c, "meta")) {
            rc = do_meta(w, c);
        }
    }
    return rc;
}

/* ---- tables ---- */

typedef struct hrow {
    xmlNodePtr tr;
    int head; /* in <thead> */
} hrow;

static void add_row(hrow *rows, size_t *n, size_t max, xmlNodePtr tr, int head)
{
    if (html_dropped_el(tr))
        return; /* a hidden row */
    if (*n < max) {
        rows[*n].tr = tr;
        rows[*n].head = head;
    }
    (*n)++;
}

/* Rows of table t (not of nested tables) in order: stores up to max of them
 * and returns how many there are. */
static size_t table_rows(xmlNodePtr t, hrow *rows, size_t max)
{
    size_t n = 0;
    for (xmlNodePtr c = t->children; c; c = c->next) {
        if (is(c, "tr")) {
            add_row(rows, &n, max, c, 0);
        } else if (is(c, "thead") || is(c, "tbody") || is(c, "tfoot")) {
            for (xmlNodePtr r = c->children; r; r = r->next)
                if (is(r, "tr"))
                    add_row(rows, &n, max, r, is(c, "thead"));
        }
    }
    return n;
}

static int is_cell(xmlNodePtr c)
{
    return (is(c, "td") || is(c, "th")) && !html_dropped_el(c);
}

static int colspan(xmlNodePtr c)
{
    char *v = attr(c, "colspan");
    long n = v ? strtol(v, NULL, 10) : 1;
    keep_free(v);
    return n < 1 ? 1 : n > MAX_COLS ? MAX_COLS : (int)n;
}

/* A data table has several columns and no block structure in its cells;
 * anything else is page layout and is walked like ordinary blocks. */
static int data_table(xmlNodePtr t)
{
    char *role = attr(t, "role");
    int presentation = role && strcasecmp(role, "presentation") == 0;
    keep_free(role);
    if (presentation || subtree_has(t, layout_signs))
        return 0;
    hrow rows[16];
    size_t n = table_rows(t, rows, 16);
    if (n > 16)
        n = 16;
    for (size_t i = 0; i < n; i++) {
        int cols = 0;
        for (xmlNodePtr c = rows[i].tr->children; c; c = c->next)
            cols += is_cell(c);
        if (cols >= 2)
            return 1;
    }
    return 0;
}

/* Renders a data table row by row; with a header row (in <thead>, or a
 * first row of <th> only) each cell is named by its column header. */
static int do_table(hwalk *w, xmlNodePtr t)
{
    ingest_doc *doc = w->doc;
    int rc = ingest_doc_para(doc);
    for (xmlNodePtr c = t->children; c && !rc; c = c->next)
        if (is(c, "caption")) {
            keep_buf_reset(&w->tmp);
            if (collect(c, &w->tmp, 0, 0))
                return KEEP_ERR_NOMEM;
            if (w->tmp.len && !(rc = ingest_doc_text(doc, w->tmp.data, w->tmp.len)))
                rc = ingest_doc_line(doc);
        }
    size_t n = table_rows(t, NULL, 0);
    hrow *rows = keep_calloc(n ? n : 1, sizeof *rows);
    char *head[MAX_COLS] = {0};
    keep_buf cell = {0};
    if (!rows)
        return KEEP_ERR_NOMEM;
    table_rows(t, rows, n);
    size_t first = 0;
    int have_head = 0;
    if (n >= 2) {
        int all_th = 1, any = 0;
        for (xmlNodePtr c = rows[0].tr->children; c; c = c->next)
            if (is_cell(c)) {
                any = 1;
                all_th &= is(c, "th");
            }
        have_head = any && (rows[0].head || all_th);
    }
    if (have_head) {
        int col = 0;
        for (xmlNodePtr c = rows[0].tr->children; c && col < MAX_COLS && !rc; c = c->next) {
            if (!is_cell(c))
                continue;
            keep_buf_reset(&cell);
            if (collect(c, &cell, 0, MAX_HEADING_TEXT)) {
                rc = KEEP_ERR_NOMEM;
                break;
            }
            int span = colspan(c);
            for (int k = 0; k < span && col < MAX_COLS; k++, col++) {
                keep_buf_reset(&w->tmp);
                /* normalise through a scratch doc so "  Owner\n" is "Owner" */
                ingest_doc h;
                ingest_doc_init(&h, NULL);
                if (ingest_doc_text(&h, cell.data ? cell.data : "", cell.len) == KEEP_OK) {
                    ingest_doc_finish(&h);
                    head[col] = keep_buf_take(&h.text);
                }
                ingest_doc_free(&h);
                if (!head[col])
                    rc = KEEP_ERR_NOMEM;
            }
        }
        first = 1;
    }
    for (size_t r = first; r < n && !rc; r++) {
        int col = 0, written = 0;
        for (xmlNodePtr c = rows[r].tr->children; c && !rc; c = c->next) {
            if (!is_cell(c))
                continue;
            keep_buf_reset(&cell);
            if (collect(c, &cell, 0, 0)) {
                rc = KEEP_ERR_NOMEM;
                break;
            }
            int span = colspan(c);
            const char *h = have_head && col < MAX_COLS ? head[col] : NULL;
            col += span;
            size_t k = 0;
            while (k < cell.len && strchr(" \t\r\n\f", cell.data[k]))
                k++;
            if (k == cell.len)
                continue; /* empty cell: nothing to say */
            if (written)
                rc = ingest_doc_puts(doc, have_head ? "; " : " | ");
            if (!rc && h && *h) {
                rc = ingest_doc_puts(doc, h);
                if (!rc)
                    rc = ingest_doc_puts(doc, ": ");
            }
            if (!rc)
                rc = ingest_doc_text(doc, cell.data + k, cell.len - k);
            written = 1;
        }
        if (!rc)
            rc = ingest_doc_line(doc);
    }
    if (!rc)
        rc = ingest_doc_para(doc);
    for (int i = 0; i < MAX_COLS; i++)
        keep_free(head[i]);
    keep_free(rows);
    keep_buf_free(&cell);
    return rc;
}

/* ---- walk ---- */

/* Called on entering node n; sets *down when its children are to be walked. */
static int h_enter(hwalk *w, xmlNodePtr n, int *down)
{
    *down = 0;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        const char *s = (const char *)n->content;
        if (!s)
            return KEEP_OK;
        if (w->pre && is(n->parent, "pre") && n == n->parent->children && *s == '\n')
            s++; /* a newline right after <pre> is not content */
        return emit_text(w, s);
    }
    if (n->type == XML_ENTITY_REF_NODE) {
        keep_buf_reset(&w->tmp);
        if (put_entity(&w->tmp, n))
            return KEEP_ERR_NOMEM;
        if (!w->tmp.len)
            return KEEP_OK;
        return w->pre ? ingest_doc_raw(w->doc, w->tmp.data, w->tmp.len)
                      : ingest_doc_text(w->doc, w->tmp.data, w->tmp.len);
    }
    if (n->type != XML_ELEMENT_NODE)
        return KEEP_OK; /* comments, PIs */
    ingest_doc *doc = w->doc;
    /* <head> was read first; a stray title or meta elsewhere says nothing */
    if (is(n, "head") || is(n, "title") || is(n, "meta"))
        return KEEP_OK;
    if (html_dropped_el(n))
        return KEEP_OK;
    int level = heading_level(n);
    if (level) {
        keep_buf_reset(&w->tmp);
        if (collect(n, &w->tmp, 0, MAX_HEADING_TEXT))
            return KEEP_ERR_NOMEM;
        if (level == 1 && !w->first_h1 && w->tmp.len) {
            w->first_h1 = keep_strdup(w->tmp.data);
            if (!w->first_h1)
                return KEEP_ERR_NOMEM;
        }
        return ingest_doc_heading(doc, level, w->tmp.data ? w->tmp.data : "", w->tmp.len);
    }
    if (is(n, "br"))
        return w->pre ? ingest_doc_raw(doc, "\n", 1) : ingest_doc_line(doc);
    if (is(n, "hr"))
        return ingest_doc_para(doc);
    if (!w->pre && (is(n, "pre") || is(n, "code"))) {
        if (is(n, "code")) {
            keep_buf_reset(&w->tmp);
            if (collect(n, &w->tmp, 1, 0))
                return KEEP_ERR_NOMEM;
            if (!w->tmp.len || !memchr(w->tmp.data, '\n', w->tmp.len)) {
                *down = 1; /* inline code: ordinary text */
                return KEEP_OK;
            }
        }
        int rc = ingest_doc_para(doc);
        w->pre = n;
        *down = 1;
        return rc;
    }
    if (is(n, "table") && data_table(n))
        return do_table(w, n);
    if (is(n, "ul") || is(n, "ol") || is(n, "menu")) {
        if (w->n_lists < MAX_LISTS) {
            hlist *l = &w->lists[w->n_lists];
            l->ordered = is(n, "ol");
            l->next = 1;
            char *start = l->ordered ? attr(n, "start") : NULL;
            if (start) {
                long v = strtol(start, NULL, 10);
                if (v > -1000000 && v < 1000000)
                    l->next = v;
                keep_free(start);
            }
        }
        w->n_lists++;
        *down = 1;
        return w->n_lists == 1 ? ingest_doc_para(doc) : ingest_doc_line(doc);
    }
    if (is(n, "li")) {
        int rc = ingest_doc_line(doc);
        if (!shows_text(n, 4096))
            return rc; /* nothing to list */
        int depth = w->n_lists < 1 ? 1 : w->n_lists;
        for (int i = 1; i < depth && i < 8 && !rc; i++)
            rc = ingest_doc_raw(doc, "  ", 2);
        hlist *l = w->n_lists >= 1
                       ? &w->lists[(w->n_lists > MAX_LISTS ? MAX_LISTS : w->n_lists) - 1]
                       : NULL;
        if (!rc && l && l->ordered) {
            char num[32];
            snprintf(num, sizeof num, "%ld. ", l->next++);
            rc = ingest_doc_puts(doc, num);
        } else if (!rc) {
            rc = ingest_doc_puts(doc, "- ");
        }
        *down = 1;
        return rc;
    }
    if (is(n, "dt") || is(n, "dd")) {
        *down = 1;
        return ingest_doc_line(doc);
    }
    *down = 1;
    if (name_in(ename(n), html_blocks))
        return ingest_doc_para(doc);
    return KEEP_OK;
}

static int h_leave(hwalk *w, xmlNodePtr n)
{
    if (n->type != XML_ELEMENT_NODE)
        return KEEP_OK;
    ingest_doc *doc = w->doc;
    if (n == w->pre) {
        w->pre = NULL;
        return ingest_doc_para(doc);
    }
    if (is(n, "ul") || is(n, "ol") || is(n, "menu")) {
        w->n_lists--;
        return w->n_lists == 0 ? ingest_doc_para(doc) : ingest_doc_line(doc);
    }
    if (is(n, "li") || is(n, "dt") || is(n, "dd"))
        return ingest_doc_line(doc);
    if (name_in(ename(n), html_blocks))
        return ingest_doc_para(doc);
    return KEEP_OK;
}

/* Walks the subtree at start (included) with h_enter/h_leave. */
static int h_walk(hwalk *w, xmlNodePtr start)
{
    xmlNodePtr n = start;
    int rc = KEEP_OK;
    while (n && !rc) {
        int down = 0;
        rc = h_enter(w, n, &down);
        if (rc)
            break;
        if (down && n->children) {
            n = n->children;
            continue;
        }
        if (down)
            rc = h_leave(w, n);
        while (!rc && n != start && !n->next) {
            n = n->parent;
            rc = h_leave(w, n);
        }
        if (n == start)
            break;
        n = n->next;
    }
    return rc;
}

static int html_walk_doc(xmlDocPtr x, ingest_doc *doc, keep_err *err, const char *what)
{
    hwalk w;
    memset(&w, 0, sizeof w);
    w.doc = doc;
    int rc = KEEP_OK;
    /* <head> first wherever the parser put it, so the description leads */
    xmlNodePtr root = xmlDocGetRootElement(x);
    for (xmlNodePtr c = root ? root->children : NULL; c && !rc; c = c->next)
        if (is(c, "head"))
            rc = do_head(&w, c);
    for (xmlNodePtr c = x->children; c && !rc; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            rc = h_walk(&w, c);
    if (!rc && !doc->title && w.first_h1)
        rc = ingest_doc_title(doc, w.first_h1, strlen(w.first_h1), 0);
    keep_free(w.first_h1);
    keep_buf_free(&w.tmp);
    if (rc == KEEP_ERR_TOOBIG)
        return keep_err_set(err, rc, "%s text exceeds the %zu-byte limit", what, doc->max_text);
    if (rc)
        return keep_err_set(err, rc, "out of memory reading %s", what);
    ingest_doc_finish(doc);
    return KEEP_OK;
}

static int check_size(size_t len, const ingest_limits *lim, keep_err *err, const char *what)
{
    if (lim && lim->max_file_bytes && len > lim->max_file_bytes)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "%s of %zu bytes exceeds the %zu-byte limit",
                            what, len, lim->max_file_bytes);
    return KEEP_OK;
}

/* Whether the page says its encoding: a BOM, or "charset"/"encoding=" near
 * the top (meta charset, http-equiv, XML declaration). */
static int declares_charset(const char *data, size_t len)
{
    const unsigned char *u = (const unsigned char *)data;
    if ((len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) ||
        (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))))
        return 1;
    size_t n = len < 4096 ? len : 4096;
    char head[4097];
    memcpy(head, data, n);
    for (size_t i = 0; i < n; i++)
        if (head[i] == '\0')
            head[i] = ' ';
    head[n] = '\0';
    return strcasestr(head, "charset") || strcasestr(head, "encoding=");
}

/* An undeclared page that is not UTF-8: libxml2 would read it as Latin-1,
 * which garbles Cyrillic, Greek, CJK... pages. uchardet guesses the
 * charset and iconv converts; the Latin-1 family is left to libxml2.
 * Returns a UTF-8 copy (caller frees with keep_free) or NULL to parse the
 * bytes as they are. */
static char *guess_to_utf8(const char *data, size_t len, size_t *out_len)
{
    if (declares_charset(data, len) || keep_utf8_valid(data, len))
        return NULL;
    uchardet_t ud = uchardet_new();
    if (!ud)
        return NULL;
    char cs[64] = "";
    if (uchardet_handle_data(ud, data, len) == 0) {
        uchardet_data_end(ud);
        const char *g = uchardet_get_charset(ud);
        if (g)
            snprintf(cs, sizeof cs, "%s", g);
    }
    uchardet_delete(ud);
    if (!cs[0] || strcasecmp(cs, "ASCII") == 0 || strcasecmp(cs, "UTF-8") == 0 ||
        strcasecmp(cs, "ISO-8859-1") == 0 || strcasecmp(cs, "WINDOWS-1252") == 0)
        return NULL;
    iconv_t cd = iconv_open("UTF-8", cs);
    if (cd == (iconv_t)-1)
        return NULL;
    size_t cap;
    char *out = NULL;
    if (keep_mul_overflow(len, 4, &cap) || keep_add_overflow(cap, 16, &cap) ||
        !(out = keep_malloc(cap))) {
        iconv_close(cd);
        return NULL;
    }
    char *in = (char *)data, *o = out;
    size_t inl = len, ol = cap - 1;
    while (inl) {
        if (iconv(cd, &in, &inl, &o, &ol) != (size_t)-1)
            break;
        if ((errno != EILSEQ && errno != EINVAL) || ol < 3)
            break;
        /* an undecodable byte: U+FFFD and go on */
        memcpy(o, "\xEF\xBF\xBD", 3);
        o += 3;
        ol -= 3;
        in++;
        inl--;
    }
    iconv_close(cd);
    *o = '\0';
    *out_len = (size_t)(o - out);
    return out;
}

/* HTML parse of data in its guessed encoding. Caller frees with xmlFreeDoc;
 * NULL with err set on failure. */
static xmlDocPtr html_parse_guessed(const char *data, size_t len, const ingest_limits *lim,
                                    keep_err *err)
{
    size_t clen = 0;
    char *conv = guess_to_utf8(data, len, &clen);
    xmlDocPtr x =
        conv ? ingest__html_parse(conv, clen, lim, err) : ingest__html_parse(data, len, lim, err);
    keep_free(conv);
    return x;
}

/* Walks a parsed page into doc and frees it; x NULL is the parse error in
 * err. */
static int walk_and_free(xmlDocPtr x, ingest_doc *doc, keep_err *err, const char *what)
{
    if (!x)
        return err ? err->code : KEEP_ERR_PARSE;
    int rc = html_walk_doc(x, doc, err, what);
    xmlFreeDoc(x);
    return rc;
}

int ingest_parse_html(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                      keep_err *err)
{
    int rc = check_size(len, lim, err, "HTML");
    if (rc)
        return rc;
    if (len == 0) /* an empty page is an empty document, not a broken one */
        return ingest_doc_finish(doc);
    return walk_and_free(html_parse_guessed(data, len, lim, err), doc, err, "HTML");
}

int ingest_parse_xhtml(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                       keep_err *err)
{
    int rc = check_size(len, lim, err, "XHTML");
    if (rc)
        return rc;
    xmlDocPtr x = ingest__xml_parse(data, len, lim, err);
    if (!x && err && err->code == KEEP_ERR_TOOBIG)
        return err->code;
    if (!x) /* not well-formed: real-world XHTML often is not */
        x = html_parse_guessed(data, len, lim, err);
    else
        keep_err_clear(err);
    return walk_and_free(x, doc, err, "XHTML");
}

/* ---- generic XML --------------------------------------------------------- */

#define XML_HEADING_DEPTH 3

static const char *const name_children[] = {"title",   "name",    "heading", "label",
                                            "caption", "subject", NULL};
static const char *const name_attrs[] = {"title", "name", "label", "id", "key", NULL};

static int blank(const char *s)
{
    for (; *s; s++)
        if (!strchr(" \t\r\n", *s))
            return 0;
    return 1;
}

/* Whether n has a non-blank text child (mixed content or a leaf). */
static int has_text(xmlNodePtr n)
{
    for (xmlNodePtr c = n->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content &&
            !blank((const char *)c->content))
            return 1;
    return 0;
}

static int has_elements(xmlNodePtr n)
{
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return 1;
    return 0;
}

/* Text children of n only (a leaf's value). */
static int leaf_text(xmlNodePtr n, keep_buf *b)
{
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content &&
            keep_buf_puts(b, (const char *)c->content))
            return KEEP_ERR_NOMEM;
        if (c->type == XML_ENTITY_REF_NODE && put_entity(b, c))
            return KEEP_ERR_NOMEM;
    }
    return KEEP_OK;
}

/* An attribute value worth reading: several words, mostly letters, not a
 * URL or a path. Ids, numbers, flags and references stay out. */
static int texty(const char *v)
{
    size_t n = strlen(v), letters = 0, spaces = 0;
    if (n < 8 || strstr(v, "://") || v[0] == '/' || v[0] == '#')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == ' ')
            spaces++;
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
            letters++;
        else if (c >= 0x80)
            letters++;
    }
    return spaces >= 1 && letters * 2 >= n;
}

typedef struct xwalk {
    ingest_doc *doc;
    unsigned depth;        /* of the node being entered; the root is 0 */
    xmlNodePtr mixed;      /* element whose mixed content (text and inline
                              elements) is being read as running text */
    xmlNodePtr name_child; /* child used as its parent's heading */
    keep_buf tmp, val;
} xwalk;

/* "label: value" on its own line. */
static int x_pair(xwalk *w, const char *label, const char *value, size_t len)
{
    int rc = ingest_doc_line(w->doc);
    if (!rc)
        rc = ingest_doc_puts(w->doc, label);
    if (!rc)
        rc = ingest_doc_puts(w->doc, ": ");
    if (!rc)
        rc = ingest_doc_text(w->doc, value, len);
    if (!rc)
        rc = ingest_doc_line(w->doc);
    return rc;
}

static int x_attrs(xwalk *w, xmlNodePtr n, const char *skip)
{
    int rc = KEEP_OK;
    for (xmlAttrPtr a = n->properties; a && !rc; a = a->next) {
        if (!a->name || (skip && strcasecmp((const char *)a->name, skip) == 0))
            continue;
        char *v = attr(n, (const char *)a->name);
        if (!v)
            return KEEP_ERR_NOMEM;
        if (texty(v))
            rc = x_pair(w, (const char *)a->name, v, strlen(v));
        keep_free(v);
    }
    return rc;
}

/* Heading text of a container: a title-like leaf child, else its element
 * name with a name-like attribute ("book b7"), else the element name. */
static int x_heading(xwalk *w, xmlNodePtr n)
{
    keep_buf_reset(&w->tmp);
    w->name_child = NULL;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !name_in(ename(c), name_children) || has_elements(c) ||
            !has_text(c))
            continue;
        if (leaf_text(c, &w->tmp))
            return KEEP_ERR_NOMEM;
        if (w->tmp.len > MAX_HEADING_TEXT)
            w->tmp.len = keep_utf8_floor(w->tmp.data, MAX_HEADING_TEXT);
        w->name_child = c;
        break;
    }
    if (!w->name_child) {
        if (keep_buf_puts(&w->tmp, ename(n)))
            return KEEP_ERR_NOMEM;
        for (int i = 0; name_attrs[i]; i++) {
            char *v = attr(n, name_attrs[i]);
            if (v && !blank(v) && strlen(v) <= 200) {
                int rc = keep_buf_putc(&w->tmp, ' ') || keep_buf_puts(&w->tmp, v);
                keep_free(v);
                if (rc)
                    return KEEP_ERR_NOMEM;
                break;
            }
            keep_free(v);
        }
    }
    return ingest_doc_heading(w->doc, (int)w->depth, w->tmp.data, w->tmp.len);
}

static int x_enter(xwalk *w, xmlNodePtr n, int *down)
{
    *down = 0;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (!n->content || (!w->mixed && blank((const char *)n->content)))
            return KEEP_OK; /* indentation between elements; in running text a space */
        return ingest_doc_text(w->doc, (const char *)n->content, strlen((const char *)n->content));
    }
    if (n->type == XML_ENTITY_REF_NODE) {
        keep_buf_reset(&w->val);
        if (put_entity(&w->val, n))
            return KEEP_ERR_NOMEM;
        return w->val.len ? ingest_doc_text(w->doc, w->val.data, w->val.len) : KEEP_OK;
    }
    if (n->type != XML_ELEMENT_NODE)
        return KEEP_OK; /* comments, PIs */
    if (n == w->name_child)
        return KEEP_OK; /* already the heading */
    int text = has_text(n), elems = has_elements(n);
    if (w->mixed) {
        *down = 1;
        return KEEP_OK;
    }
    if (text && elems) { /* mixed content: a paragraph of running text */
        w->mixed = n;
        *down = 1;
        int rc = ingest_doc_para(w->doc);
        return rc ? rc : x_attrs(w, n, NULL);
    }
    if (text && w->depth > 0) { /* leaf: "name: value" */
        static const char *const label_attrs[] = {"name", "key", "label", NULL};
        char *label = NULL;
        for (int i = 0; label_attrs[i] && !label; i++) /* <field name="price">12</field> */
            label = attr(n, label_attrs[i]);
        keep_buf_reset(&w->val);
        int rc = leaf_text(n, &w->val);
        if (!rc)
            rc = x_pair(w, label && !blank(label) ? label : ename(n), w->val.data, w->val.len);
        keep_free(label);
        return rc ? rc : x_attrs(w, n, NULL);
    }
    if (text) { /* a root holding only text */
        *down = 1;
        return KEEP_OK;
    }
    if (!elems) /* empty element: its attributes may still say something */
        return x_attrs(w, n, NULL);
    *down = 1;
    int rc = KEEP_OK;
    if (w->depth >= 1 && w->depth <= XML_HEADING_DEPTH)
        rc = x_heading(w, n);
    else
        rc = ingest_doc_para(w->doc);
    return rc ? rc : x_attrs(w, n, NULL);
}

static int x_leave(xwalk *w, xmlNodePtr n)
{
    if (n->type != XML_ELEMENT_NODE)
        return KEEP_OK;
    if (w->mixed == n) {
        w->mixed = NULL;
        return ingest_doc_para(w->doc);
    }
    if (!w->mixed && has_elements(n))
        return ingest_doc_para(w->doc);
    return KEEP_OK;
}

static int x_walk(xwalk *w, xmlNodePtr start)
{
    xmlNodePtr n = start;
    int rc = KEEP_OK;
    w->depth = 0;
    while (n && !rc) {
        int down = 0;
        rc = x_enter(w, n, &down);
        if (rc)
            break;
        if (down && n->children) {
            n = n->children;
            w->depth++;
            continue;
        }
        if (down)
            rc = x_leave(w, n);
        while (!rc && n != start && !n->next) {
            n = n->parent;
            w->depth--;
            rc = x_leave(w, n);
        }
        if (n == start)
            break;
        n = n->next;
    }
    return rc;
}

/* Title of a generic XML document: a title-like leaf child of the root or
 * of its first container (RSS: rss > channel > title). */
static int x_title(ingest_doc *doc, xmlNodePtr root)
{
    keep_buf b = {0};
    int rc = KEEP_OK;
    for (int pass = 0; pass < 2 && root && !b.len; pass++) {
        xmlNodePtr next = NULL;
        for (xmlNodePtr c = root->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            if (!next && has_elements(c))
                next = c;
            if (strcasecmp(ename(c), "title") == 0 && !has_elements(c)) {
                if (leaf_text(c, &b))
                    rc = KEEP_ERR_NOMEM;
                break;
            }
        }
        root = next;
    }
    if (!rc && b.len)
        rc = ingest_doc_title(doc, b.data, b.len > MAX_HEADING_TEXT ? MAX_HEADING_TEXT : b.len, 0);
    keep_buf_free(&b);
    return rc;
}

int ingest_parse_xml(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err)
{
    int rc = check_size(len, lim, err, "XML");
    if (rc)
        return rc;
    xmlDocPtr x = ingest__xml_parse(data, len, lim, err);
    if (!x)
        return err ? err->code : KEEP_ERR_PARSE;
    xmlNodePtr root = xmlDocGetRootElement(x);
    if (root && strcasecmp(ename(root), "html") == 0)
        return walk_and_free(x, doc, err, "XHTML");
    xwalk w;
    memset(&w, 0, sizeof w);
    w.doc = doc;
    rc = x_title(doc, root);
    if (!rc && root)
        rc = x_walk(&w, root);
    keep_buf_free(&w.tmp);
    keep_buf_free(&w.val);
    xmlFreeDoc(x);
    if (rc == KEEP_ERR_TOOBIG)
        return keep_err_set(err, rc, "XML text exceeds the %zu-byte limit", doc->max_text);
    if (rc)
        return keep_err_set(err, rc, "out of memory reading XML");
    ingest_doc_finish(doc);
    return KEEP_OK;
}
