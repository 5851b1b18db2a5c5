/* parse_pdf.c — PDF parser on poppler-glib.
 *
 * poppler_page_get_text gives a page's characters in reading order, one line
 * per '\n', and poppler_page_get_text_layout one box per character of that
 * same string. We rebuild each line from the characters and their boxes,
 * because poppler glues words that are separated by a gap rather than a space
 * character (table cells come out as "ServerCapacityOwner"). All lines of the
 * document are collected first, then analysed as a whole:
 *  - running headers/footers and page numbers in the page margins are dropped;
 *  - the body font size is the size carrying most characters; clearly larger
 *    short lines are headings, levels by size rank; when the document has an
 *    outline (bookmarks) whose entries are found on their pages, the outline
 *    decides the headings and their levels instead;
 *  - rows whose columns line up are a table, rendered with header names when
 *    the first row is bold; a table whose cells wrap over several lines is
 *    rebuilt from the boxes of its pieces of text (columns from the first
 *    row, rows from the gaps between them), one line per table row;
 *  - paragraphs are cut at vertical gaps clearly larger than the page's
 *    usual line gap and at an indented line after a sentence end; wrapped
 *    lines are joined into one line, "infor-" + "mation" too, while list
 *    items and lines the author ended early (an address) keep their break.
 *
 * Poppler reports syntax problems of damaged files through g_log (domain
 * "Poppler", level INFO) and they may quote document bytes, so a silent
 * handler is installed for that domain once per process. Poppler-glib
 * refcounts its global state under a mutex (GlobalParamsIniter), so one
 * document per thread is safe.
 *
 * Pages without a text layer are scans: with OCR on (lim->ocr), they are
 * rendered at INGEST_OCR_PDF_DPI and read by Tesseract (ocr.c); their text is
 * kept aside and written in page order between the pages that have text,
 * marked as OCR'd. */
#include "parse_pdf.h"

#include <cairo.h>
#include <math.h>
#include <poppler.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocr.h"

/* Beyond this the extraction gives up: poppler cannot be interrupted inside
 * a page, so this bounds hostile files between pages only. */
#define PDF_TIME_BASE_MS 30000.0
#define PDF_TIME_PER_PAGE_MS 200.0
#define PDF_MAX_CELLS 64
#define PDF_MAX_LEVELS 6

typedef struct pline {
    size_t off, len;      /* line text in the store; cells separated by '\t'
                             (wide gap: a column) or '\v' (a gap that is a
                             column only if the rows around agree) */
    int page;             /* 1-based */
    float x1, y1, x2, y2; /* bounding box, y grows downwards */
    float size;           /* dominant font size, 0 when unknown */
    unsigned nchars;      /* non-space characters */
    unsigned ncells;      /* cells split at '\t' and '\v' */
    unsigned nhard;       /* of which split at '\t' */
    size_t cell0;         /* first of ncells boxes in pdoc.cells */
    unsigned char bold;   /* every character in a bold face */
    unsigned char geom;   /* boxes are known */
    signed char level;    /* heading level, 0 for body text */
    unsigned char cont;   /* continues the heading on the previous line */
    unsigned char drop;   /* running header, footer or page number */
} pline;

typedef struct pcell {
    float x1, x2, y1, y2;
} pcell;

typedef struct pdoc {
    keep_buf store;
    pcell *cells;
    size_t n_cells, cap_cells;
    pline *lines;
    size_t n, cap;
    float *page_gap; /* usual gap between lines of a page, by page - 1 */
    float *page_h;   /* page heights, by page - 1 */
    int n_pages;
    float body;
    size_t max_text;
    size_t max_lines, max_cells; /* a page of one-letter lines must not
                                    cost 64 bytes per letter unbounded */
    keep_buf *ocr; /* OCR'd text of pages without a text layer, by page - 1;
                      NULL when OCR is off */
} pdoc;

static pthread_once_t pdf_once = PTHREAD_ONCE_INIT;

static void silent_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
    (void)domain;
    (void)level;
    (void)msg;
    (void)data;
}

static void pdf_setup(void)
{
    g_log_set_handler("Poppler",
                      (GLogLevelFlags)(G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION),
                      silent_log, NULL);
}

static int is_bold_font(const char *name)
{
    if (!name)
        return 0;
    return strstr(name, "Bold") || strstr(name, "bold") || strstr(name, "Black") ||
           strstr(name, "Heavy") || strstr(name, "Semibold") || strstr(name, "Demi");
}

/* ---- collecting lines ---------------------------------------------------- */

typedef struct size_count {
    float size;
    unsigned count;
} size_count;

/* Line under construction. */
typedef struct lbuild {
    pline l;
    size_count sizes[8];
    int n_sizes;
    unsigned bold_chars;
    float prev_x2, prev_size;
    float cell_x1, cell_x2, cell_y1, cell_y2; /* box of the cell being read */
    int pending_space, any;
    int force_cell; /* the line continues at the same height further right */
} lbuild;

static void lb_start(lbuild *b, const pdoc *pd, int page)
{
    memset(b, 0, sizeof *b);
    b->l.off = pd->store.len;
    b->l.cell0 = pd->n_cells;
    b->l.page = page;
    b->l.ncells = 1;
}

static void lb_size(lbuild *b, float size)
{
    for (int i = 0; i < b->n_sizes; i++)
        if (fabsf(b->sizes[i].size - size) < 0.25f) {
            b->sizes[i].count++;
            return;
        }
    if (b->n_sizes < 8) {
        b->sizes[b->n_sizes].size = size;
        b->sizes[b->n_sizes++].count = 1;
    } else {
        b->sizes[7].count++;
    }
}

static int push_cell(pdoc *pd, lbuild *b)
{
    if (pd->n_cells == pd->cap_cells) {
        size_t cap = pd->cap_cells ? pd->cap_cells * 2 : 256;
        pcell *n = keep_reallocarray(pd->cells, cap, sizeof *n);
        if (!n)
            return KEEP_ERR_NOMEM;
        pd->cells = n;
        pd->cap_cells = cap;
    }
    pcell *pc = &pd->cells[pd->n_cells++];
    pc->x1 = b->cell_x1;
    pc->x2 = b->cell_x2;
    pc->y1 = b->cell_y1;
    pc->y2 = b->cell_y2;
    return KEEP_OK;
}

static int push_line(pdoc *pd, lbuild *b)
{
    if (!b->any)
        return KEEP_OK;
    if (push_cell(pd, b))
        return KEEP_ERR_NOMEM;
    pline *l = &b->l;
    l->len = pd->store.len - l->off;
    unsigned best = 0;
    for (int i = 0; i < b->n_sizes; i++)
        if (b->sizes[i].count > best) {
            best = b->sizes[i].count;
            l->size = b->sizes[i].size;
        }
    l->bold = l->nchars && b->bold_chars == l->nchars;
    if (pd->n >= pd->max_lines)
        return KEEP_ERR_TOOBIG;
    if (pd->n == pd->cap) {
        size_t cap = pd->cap ? pd->cap * 2 : 256;
        pline *nl = keep_reallocarray(pd->lines, cap, sizeof *nl);
        if (!nl)
            return KEEP_ERR_NOMEM;
        pd->lines = nl;
        pd->cap = cap;
    }
    pd->lines[pd->n++] = *l;
    return KEEP_OK;
}

static int is_blank(gunichar c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == 0xA0 ||
           g_unichar_type(c) == G_UNICODE_SPACE_SEPARATOR;
}

/* A list marker ("•", "–", "3.", "2.1.", "b)"): the gap after it is
 * indentation, not a column. */
static int list_marker(const char *s, size_t len)
{
    if (!len || len > 8)
        return 0;
    gunichar c = g_utf8_get_char(s);
    if ((size_t)(g_utf8_next_char(s) - s) == len)
        return !g_unichar_isalnum(c);
    if (s[len - 1] != '.' && s[len - 1] != ')')
        return 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (!g_ascii_isalnum(s[i]) && s[i] != '.')
            return 0;
    return 1;
}

/* Adds one page's lines to pd. rects may be NULL (no geometry). */
static int collect_page(pdoc *pd, int page, const char *text, const PopplerRectangle *rects,
                        GList *attrs)
{
    lbuild b;
    lb_start(&b, pd, page);
    GList *a = attrs;
    long idx = 0;
    int rc = KEEP_OK;
    for (const char *p = text; *p; p = g_utf8_next_char(p), idx++) {
        gunichar c = g_utf8_get_char(p);
        if (c == '\n') {
            /* Poppler ends a line where a table row crosses into the next
             * text block ("Millbrook 12.5" / "2019"): a next character at
             * the same height to the right continues the row. */
            if (rects && b.any && p[1] && p[1] != '\n' && b.l.ncells < PDF_MAX_CELLS) {
                const PopplerRectangle *r = &rects[idx + 1];
                float em = b.prev_size > 0 ? b.prev_size : 10;
                float y1 = (float)(r->y1 < r->y2 ? r->y1 : r->y2);
                float y2 = (float)(r->y1 < r->y2 ? r->y2 : r->y1);
                if (fabsf(y1 - b.l.y1) < 0.3f * em && fabsf(y2 - b.l.y2) < 0.3f * em &&
                    (float)r->x1 > b.prev_x2 + 0.3f * em) {
                    b.force_cell = 1;
                    continue;
                }
            }
            if ((rc = push_line(pd, &b)))
                return rc;
            lb_start(&b, pd, page);
            continue;
        }
        if (is_blank(c)) {
            b.pending_space = b.any;
            continue;
        }
        if (c < 0x20 || (c >= 0x7F && c < 0xA0) || c == 0xFEFF)
            continue; /* controls and BOMs carry no text */
        if (c == 0xAD && p[2] && p[2] != '\n')
            continue; /* an invisible soft hyphen, unless it ends the line */
        while (a && ((PopplerTextAttributes *)a->data)->end_index < idx)
            a = a->next;
        const PopplerTextAttributes *at = a ? a->data : NULL;
        if (at && at->start_index > idx)
            at = NULL;
        float size = at && at->font_size > 0 && at->font_size < 5000 ? (float)at->font_size : 0;
        const PopplerRectangle *r = rects ? &rects[idx] : NULL;
        if (b.any && r) {
            float em = size > b.prev_size ? size : b.prev_size;
            if (em <= 0)
                em = 10;
            float gap = (float)r->x1 - b.prev_x2;
            char brk = 0;
            if (b.force_cell || gap > 2.0f * em || gap < -2.0f * em)
                brk = '\t';
            else if (gap > 0.6f * em && !(b.l.ncells == 1 && list_marker(pd->store.data + b.l.off,
                                                                         pd->store.len - b.l.off)))
                brk = '\v';
            if (brk && b.l.ncells < PDF_MAX_CELLS && pd->n_cells < pd->max_cells) {
                if ((rc = keep_buf_putc(&pd->store, brk)) || (rc = push_cell(pd, &b)))
                    return rc;
                b.l.ncells++;
                b.l.nhard += brk == '\t';
                b.pending_space = 0;
                b.cell_x1 = (float)r->x1;
                b.cell_y1 = b.cell_y2 = -1; /* set by the glyph below */
            } else if (brk || gap > 0.2f * em) {
                b.pending_space = 1;
            }
            b.force_cell = 0;
        }
        if (b.pending_space && (rc = keep_buf_putc(&pd->store, ' ')))
            return rc;
        b.pending_space = 0;
        /* typographic ligatures would make "ﬁnd" unsearchable as "find" */
        static const char *const liga[] = {"ff", "fi", "fl", "ffi", "ffl", "st", "st"};
        char u[6];
        int ul = g_unichar_to_utf8(c, u);
        if (c >= 0xFB00 && c <= 0xFB06)
            rc = keep_buf_puts(&pd->store, liga[c - 0xFB00]);
        else
            rc = keep_buf_append(&pd->store, u, (size_t)ul);
        if (rc)
            return rc;
        if (pd->max_text && pd->store.len > pd->max_text + pd->max_text / 4)
            return KEEP_ERR_TOOBIG;
        if (r) {
            float x1 = (float)r->x1, x2 = (float)r->x2;
            float y1 = (float)(r->y1 < r->y2 ? r->y1 : r->y2);
            float y2 = (float)(r->y1 < r->y2 ? r->y2 : r->y1);
            if (!b.any || x1 < b.l.x1)
                b.l.x1 = x1;
            if (!b.any || x2 > b.l.x2)
                b.l.x2 = x2;
            if (!b.any || y1 < b.l.y1)
                b.l.y1 = y1;
            if (!b.any || y2 > b.l.y2)
                b.l.y2 = y2;
            if (!b.any)
                b.cell_x1 = x1;
            if (!b.any || b.cell_y1 < 0 || y1 < b.cell_y1)
                b.cell_y1 = y1;
            if (!b.any || b.cell_y2 < 0 || y2 > b.cell_y2)
                b.cell_y2 = y2;
            b.cell_x2 = x2;
            b.prev_x2 = x2;
            b.l.geom = 1;
        }
        if (size > 0) {
            lb_size(&b, size);
            b.prev_size = size;
        }
        if (at && is_bold_font(at->font_name))
            b.bold_chars++;
        b.l.nchars++;
        b.any = 1;
    }
    return push_line(pd, &b);
}

/* ---- document-level analysis -------------------------------------------- */

static float round_half(float v)
{
    return floorf(v * 2.0f + 0.5f) / 2.0f;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Body size: the font size carrying the most characters. */
static int find_body(pdoc *pd)
{
    size_count *h = NULL;
    size_t nh = 0;
    for (size_t i = 0; i < pd->n; i++) {
        float s = round_half(pd->lines[i].size);
        if (s <= 0)
            continue;
        size_t j = 0;
        while (j < nh && h[j].size != s)
            j++;
        if (j == nh) {
            if (nh >= 256)
                continue; /* pathological size zoo: ignore the tail */
            size_count *n = keep_reallocarray(h, nh + 1, sizeof *n);
            if (!n) {
                keep_free(h);
                return KEEP_ERR_NOMEM;
            }
            h = n;
            h[nh].size = s;
            h[nh++].count = 0;
        }
        h[j].count += pd->lines[i].nchars;
    }
    unsigned best = 0;
    pd->body = 0;
    for (size_t j = 0; j < nh; j++)
        if (h[j].count > best || (h[j].count == best && h[j].size < pd->body)) {
            best = h[j].count;
            pd->body = h[j].size;
        }
    keep_free(h);
    return KEEP_OK;
}

/* Usual vertical gap between consecutive body lines, per page (median). */
static int find_gaps(pdoc *pd)
{
    pd->page_gap = keep_calloc((size_t)pd->n_pages + 1, sizeof *pd->page_gap);
    float *g = keep_calloc(pd->n + 1, sizeof *g);
    if (!pd->page_gap || !g) {
        keep_free(g);
        return KEEP_ERR_NOMEM;
    }
    size_t i = 0;
    while (i < pd->n) {
        int page = pd->lines[i].page;
        size_t ng = 0;
        for (; i < pd->n && pd->lines[i].page == page; i++) {
            if (i == 0 || pd->lines[i - 1].page != page)
                continue;
            const pline *a = &pd->lines[i - 1], *b = &pd->lines[i];
            if (!a->geom || !b->geom || a->level || b->level || fabsf(a->size - b->size) > 1)
                continue;
            float gap = b->y1 - a->y2;
            if (gap > -0.5f * (a->size > 0 ? a->size : 10))
                g[ng++] = gap < 0 ? 0 : gap;
        }
        if (ng && page >= 1 && page <= pd->n_pages) {
            qsort(g, ng, sizeof *g, cmp_float);
            pd->page_gap[page - 1] = g[ng / 2];
        }
    }
    keep_free(g);
    return KEEP_OK;
}

static int has_letter(const char *s, size_t len)
{
    const char *end = s + len;
    for (const char *p = s; p < end; p = g_utf8_next_char(p))
        if (g_unichar_isalpha(g_utf8_get_char(p)))
            return 1;
    return 0;
}

/* Running headers and footers: lines in the top or bottom tenth of a page
 * whose text, digits ignored, recurs on at least three pages ("Chapter 2:
 * Handling ... 3"), and bare page numbers there. They
 * would otherwise split paragraphs that continue across pages and pollute
 * every chunk with the same words. */
typedef struct rkey {
    uint64_t hash;
    int page;
    size_t line;
} rkey;

static int cmp_rkey(const void *a, const void *b)
{
    const rkey *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->page - y->page;
}

static int in_margin(const pdoc *pd, const pline *l)
{
    if (!l->geom || l->page < 1 || l->page > pd->n_pages)
        return 0;
    float h = pd->page_h[l->page - 1];
    return h > 0 && (l->y2 < 0.1f * h || l->y1 > 0.9f * h);
}

static int find_running(pdoc *pd)
{
    rkey *k = keep_calloc(pd->n + 1, sizeof *k);
    if (!k)
        return KEEP_ERR_NOMEM;
    size_t nk = 0;
    for (size_t i = 0; i < pd->n; i++) {
        pline *l = &pd->lines[i];
        if (!in_margin(pd, l))
            continue;
        uint64_t h = 1469598103934665603ull; /* FNV-1a over the non-digit, non-space bytes */
        int any = 0;
        const char *s = pd->store.data + l->off;
        for (size_t j = 0; j < l->len; j++) {
            unsigned char c = (unsigned char)s[j];
            if ((c >= '0' && c <= '9') || c == ' ' || c == '\t')
                continue;
            h = (h ^ c) * 1099511628211ull;
            any = 1;
        }
        if (!any) {
            l->drop = 1; /* a page number alone */
            continue;
        }
        k[nk].hash = h;
        k[nk].page = l->page;
        k[nk++].line = i;
    }
    qsort(k, nk, sizeof *k, cmp_rkey);
    /* on three pages; a two-page document's footer is on both */
    const int need = pd->n_pages >= 3 ? 3 : 2;
    for (size_t a = 0; a < nk;) {
        size_t b = a;
        int pages = 0;
        for (; b < nk && k[b].hash == k[a].hash; b++)
            if (b == a || k[b].page != k[b - 1].page)
                pages++;
        if (pages >= need)
            for (size_t m = a; m < b; m++)
                pd->lines[k[m].line].drop = 1;
        a = b;
    }
    keep_free(k);
    size_t out = 0;
    for (size_t i = 0; i < pd->n; i++)
        if (!pd->lines[i].drop)
            pd->lines[out++] = pd->lines[i];
    pd->n = out;
    return KEEP_OK;
}

/* Dot leaders of a table of contents ("Introduction . . . . 1"). */
static int leaders(const char *s, size_t len)
{
    unsigned dots = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '.' && (i + 1 == len || s[i + 1] == '.' || s[i + 1] == ' ') && ++dots >= 4)
            return 1;
    return 0;
}

/* Marks heading lines: clearly larger than the body, short, one cell, with
 * letters; a run of more than three such lines is large body text instead. */
static void find_headings(pdoc *pd)
{
    if (pd->body <= 0)
        return;
    float min = pd->body * 1.15f; /* Word: 13 pt Heading 2 over 11 pt text */
    if (min < pd->body + 1.5f)
        min = pd->body + 1.5f;
    float sizes[PDF_MAX_LEVELS * 4];
    int n_sizes = 0;
    size_t i = 0;
    while (i < pd->n) {
        pline *l = &pd->lines[i];
        if (l->drop || l->size < min || l->nhard || l->nchars > 150 ||
            !has_letter(pd->store.data + l->off, l->len) ||
            leaders(pd->store.data + l->off, l->len)) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < pd->n && j - i <= 3) {
            const pline *p = &pd->lines[j - 1], *q = &pd->lines[j];
            if (q->page != p->page || fabsf(q->size - l->size) > 0.25f || q->nhard || !q->geom ||
                !p->geom || q->y1 - p->y2 > 0.6f * l->size || q->y1 < p->y1)
                break;
            j++;
        }
        if (j - i > 3) {
            i = j;
            continue;
        }
        float s = round_half(l->size);
        int k = 0;
        while (k < n_sizes && sizes[k] != s)
            k++;
        if (k == n_sizes && n_sizes < (int)(sizeof sizes / sizeof *sizes))
            sizes[n_sizes++] = s;
        for (size_t m = i; m < j; m++) {
            pd->lines[m].level = -1; /* ranked below */
            pd->lines[m].cont = m > i;
        }
        i = j;
    }
    qsort(sizes, (size_t)n_sizes, sizeof *sizes, cmp_float);
    for (size_t m = 0; m < pd->n; m++) {
        pline *l = &pd->lines[m];
        if (l->level != -1)
            continue;
        float s = round_half(l->size);
        int rank = 0;
        for (int k = n_sizes - 1; k >= 0 && sizes[k] > s; k--)
            rank++;
        l->level = (signed char)(rank + 1 > PDF_MAX_LEVELS ? PDF_MAX_LEVELS : rank + 1);
    }
}

/* ---- emitting ------------------------------------------------------------ */

static const char *ltext(const pdoc *pd, const pline *l)
{
    return pd->store.data + l->off;
}

/* Whether b starts a new paragraph after a (same page, both body text). */
static int para_break(const pdoc *pd, const pline *a, const pline *b)
{
    if (a->nhard || b->nhard)
        return 1;
    if (a->size > 0 && b->size > 0 && fabsf(a->size - b->size) > 1.0f)
        return 1;
    if (!a->geom || !b->geom)
        return 0;
    float em = a->size > 0 ? a->size : 10;
    if (b->y1 < a->y1 - 0.5f * em)
        return 1; /* moved up: next column or a text box elsewhere */
    float usual = a->page >= 1 && a->page <= pd->n_pages ? pd->page_gap[a->page - 1] : 0;
    if (usual > 0.6f * em)
        usual = 0.6f * em;
    return b->y1 - a->y2 > usual + 0.5f * em;
}

/* Last code point of s[0..len) and where it starts. */
static gunichar last_char(const char *s, size_t len, size_t *at)
{
    if (!len)
        return 0;
    const char *p = g_utf8_find_prev_char(s, s + len);
    if (!p)
        return 0;
    *at = (size_t)(p - s);
    return g_utf8_get_char(p);
}

/* Splits s[0..len) at cell breaks ('\t', and '\v' when soft): returns the
 * length of the cell starting at *pos and moves *pos past its break; 0 with
 * *pos > len at the end. */
static size_t next_cell(const char *s, size_t len, size_t *pos, int soft)
{
    size_t start = *pos, k = start;
    while (k < len && s[k] != '\t' && !(soft && s[k] == '\v'))
        k++;
    *pos = k + 1;
    return k - start;
}

static int emit_cells(ingest_doc *doc, const char *s, size_t len, const char *sep, int soft)
{
    int rc = KEEP_OK;
    size_t pos = 0;
    for (int first = 1; pos <= len && !rc; first = 0) {
        size_t start = pos, n = next_cell(s, len, &pos, soft);
        if (!first && (rc = ingest_doc_puts(doc, sep)))
            break;
        rc = ingest_doc_text(doc, s + start, n);
    }
    return rc;
}

/* How the text s[0..len) of a line joins the next line starting with first:
 * the length of s to keep, *glue set when no space goes between ("infor-" +
 * "mation" is one word; "North-" + "East" keeps its hyphen). */
static size_t line_join(const char *s, size_t len, gunichar first, int *glue)
{
    size_t at = 0, at2 = 0;
    gunichar last = last_char(s, len, &at);
    gunichar before = at ? last_char(s, at, &at2) : 0;
    *glue = 0;
    int hyphen = (last == '-' || last == 0x2010 || last == 0xAD) && g_unichar_isalpha(before);
    if (hyphen && g_unichar_islower(first)) {
        *glue = 1;
        return at; /* a word broken across lines: drop the hyphen */
    }
    if (hyphen && (g_unichar_isupper(first) || last == 0xAD)) {
        *glue = 1; /* a compound word */
        return last == 0xAD ? at : len;
    }
    return len;
}

/* Whether a line starts with a list item marker followed by a space: a
 * bullet ("•", "–", "-"), a number ("3.", "2.1.", "12)"), a letter in
 * parentheses ("b)", "(iv)"). A word ending a sentence ("harbour.") is not. */
static int starts_item(const char *s, size_t len)
{
    size_t k = 0;
    while (k < len && s[k] != ' ' && s[k] != '\t' && s[k] != '\v')
        k++;
    if (k == len || k == 0)
        return 0;
    gunichar c = g_utf8_get_char(s);
    if ((size_t)(g_utf8_next_char(s) - s) == k)
        return c == 0x2022 || c == 0x25E6 || c == 0x25AA || c == 0x25CF || c == 0x2023 ||
               c == 0x2013 || c == 0x2014 || c == 0xB7 || c == '-' || c == '*' || c == 0x2043 ||
               c == 0xF0B7 || c == 0x25A0 || c == 0x27A2 || c == 0x2713;
    size_t i = s[0] == '(' ? 1 : 0, digits = 0, letters = 0;
    for (; i + 1 < k; i++) {
        if (g_ascii_isdigit(s[i]))
            digits++;
        else if (g_ascii_isalpha(s[i]))
            letters++;
        else if (s[i] != '.' || !digits)
            return 0;
    }
    if (s[k - 1] == ')')
        return (digits && digits <= 3 && !letters) ||
               (!digits && (letters == 1 || (s[0] == '(' && letters && letters <= 4)));
    return s[k - 1] == '.' && digits && digits <= 3 && !letters && s[0] != '(';
}

/* How lines l and n of one block join: 0 a wrapped line (a space), 1 a
 * line break the author made (n starts a list item, or l ended early
 * although n's first word would have fitted after it, or in a ragged block
 * where most lines end early: an address, a list of names), 2 a paragraph break (l ends a sentence and n is indented past
 * the block's left edge x1, as books start paragraphs without a gap, unless n
 * is the hanging indent of a list item's next line). */
static int line_break_kind(const pdoc *pd, const pline *l, const pline *n, float x1, float right,
                           int ragged, int hanging)
{
    const char *t = ltext(pd, n);
    if (starts_item(t, n->len))
        return 1;
    if (!l->geom || !n->geom)
        return 0;
    float em = l->size > 0 ? l->size : 10;
    size_t at = 0;
    gunichar last = last_char(ltext(pd, l), l->len, &at);
    if ((last == '.' || last == '!' || last == '?' || last == ':') && n->x1 > x1 + 1.0f * em &&
        !hanging)
        return 2;
    if (l->x2 >= right - 3.0f * em)
        return 0;
    if (ragged)
        return 1;
    long chars = g_utf8_strlen(t, (gssize)n->len);
    size_t w = 0;
    while (w < n->len && t[w] != ' ' && t[w] != '\t' && t[w] != '\v')
        w++;
    float word = chars > 0 ? (n->x2 - n->x1) * (float)g_utf8_strlen(t, (gssize)w) / (float)chars : 0;
    return l->x2 + 1.15f * word + 1.0f * em < right; /* with room to spare: ragged right */
}

/* Right edge of the text column of lines [a, b): the widest body line of
 * the page that starts where they start (within an em), so a block of short
 * lines (an address) is measured against the column, not against itself.
 * Scans at most PDF_COLUMN_SCAN lines each way. */
#define PDF_COLUMN_SCAN 400
static float column_right(const pdoc *pd, size_t a, size_t b)
{
    const pline *f = &pd->lines[a];
    float em = f->size > 0 ? f->size : 10, x1 = f->x1, right = 0;
    for (size_t i = a; i < b; i++)
        if (pd->lines[i].x1 < x1)
            x1 = pd->lines[i].x1;
    size_t lo = a > PDF_COLUMN_SCAN ? a - PDF_COLUMN_SCAN : 0;
    size_t hi = b + PDF_COLUMN_SCAN < pd->n ? b + PDF_COLUMN_SCAN : pd->n;
    for (size_t i = lo; i < hi; i++) {
        const pline *l = &pd->lines[i];
        if (i >= a && i < b) {
            if (l->x2 > right)
                right = l->x2;
            continue;
        }
        if (l->page == f->page && l->geom && l->level == 0 && l->ncells == 1 &&
            fabsf(l->x1 - x1) < em && fabsf(l->size - f->size) < 1.0f && l->x2 > right)
            right = l->x2;
    }
    return right;
}

/* Emits lines [a, b) as one paragraph: wrapped lines join with a space,
 * "infor-" + "mation" becomes one word, a line or paragraph break the author
 * made (see line_break_kind) stays. */
static int emit_para(const pdoc *pd, ingest_doc *doc, size_t a, size_t b)
{
    float maxx2 = column_right(pd, a, b), x1 = pd->lines[a].x1;
    size_t early = 0; /* lines but the last that end well before the column edge */
    for (size_t i = a; i < b; i++) {
        const pline *l = &pd->lines[i];
        if (l->x1 < x1)
            x1 = l->x1;
        if (i + 1 < b && l->geom && l->x2 < maxx2 - 3.0f * (l->size > 0 ? l->size : 10))
            early++;
    }
    int ragged = b - a > 2 && early * 2 > b - a - 1;
    int rc = KEEP_OK;
    float item_x1 = -1; /* left edge of the list item being read */
    for (size_t i = a; i < b && !rc; i++) {
        const pline *l = &pd->lines[i];
        float em = l->size > 0 ? l->size : 10;
        if (starts_item(ltext(pd, l), l->len))
            item_x1 = l->x1;
        else if (l->x1 <= item_x1 + 0.3f * em)
            item_x1 = -1;
        const char *s = ltext(pd, l);
        size_t len = l->len;
        int glue = 0; /* next line follows without a space */
        if (i + 1 < b)
            len = line_join(s, len, g_utf8_get_char(ltext(pd, &pd->lines[i + 1])), &glue);
        if ((rc = ingest_doc_text(doc, s, len)))
            break;
        if (i + 1 == b || glue)
            continue;
        const pline *n = &pd->lines[i + 1];
        int kind = line_break_kind(pd, l, n, x1, maxx2, ragged,
                                   item_x1 >= 0 && n->x1 > item_x1 + 0.3f * em);
        rc = kind == 2 ? ingest_doc_para(doc) : kind ? ingest_doc_line(doc) : ingest_doc_puts(doc, " ");
    }
    if (!rc)
        rc = ingest_doc_para(doc);
    return rc;
}

/* Whether row b continues the columns of row a: each column after the
 * first starts, ends (not the last, which ends at the margin in justified
 * prose) or is centred at the same x. */
static int aligned(const pdoc *pd, const pline *a, const pline *b)
{
    if (a->ncells != b->ncells || a->ncells < 2)
        return 0;
    float em = a->size > 0 ? a->size : 10;
    float tol = 0.5f * em > 4 ? 0.5f * em : 4;
    for (unsigned c = 1; c < a->ncells; c++) {
        const pcell *x = &pd->cells[a->cell0 + c], *y = &pd->cells[b->cell0 + c];
        int ok = fabsf(x->x1 - y->x1) < tol || fabsf((x->x1 + x->x2) - (y->x1 + y->x2)) < 2 * tol ||
                 (c + 1 < a->ncells && fabsf(x->x2 - y->x2) < tol);
        if (!ok)
            return 0;
    }
    return 1;
}

/* End of the table starting at line i: rows of the same page with aligned
 * columns. i + 1 when line i starts no table (one row is not enough). */
static size_t table_end(const pdoc *pd, size_t i)
{
    size_t j = i + 1;
    while (j < pd->n && pd->lines[j].page == pd->lines[i].page && pd->lines[j].level == 0 &&
           aligned(pd, &pd->lines[j - 1], &pd->lines[j]))
        j++;
    return j;
}

/* Lines [a, b): a table. A bold first row over non-bold rows names the
 * columns ("Owner: Chen Wei; ..."); otherwise cells are joined by " | ". */
static int emit_table(const pdoc *pd, ingest_doc *doc, size_t a, size_t b)
{
    int header = b - a >= 2 && pd->lines[a].bold;
    for (size_t i = a + 1; header && i < b; i++)
        if (pd->lines[i].bold)
            header = 0;
    int rc = KEEP_OK;
    if (!header) {
        for (size_t i = a; i < b && !rc; i++) {
            const pline *l = &pd->lines[i];
            rc = emit_cells(doc, ltext(pd, l), l->len, " | ", 1);
            if (!rc)
                rc = ingest_doc_line(doc);
        }
        return rc ? rc : ingest_doc_para(doc);
    }
    const pline *h = &pd->lines[a];
    const char *hs = ltext(pd, h);
    for (size_t i = a + 1; i < b && !rc; i++) {
        const pline *l = &pd->lines[i];
        const char *s = ltext(pd, l);
        size_t hpos = 0, pos = 0;
        int first = 1;
        while (!rc && pos <= l->len) {
            size_t hstart = hpos, start = pos;
            size_t hn = hpos <= h->len ? next_cell(hs, h->len, &hpos, 1) : 0;
            size_t n = next_cell(s, l->len, &pos, 1);
            if (!n)
                continue;
            if (!first)
                rc = ingest_doc_puts(doc, "; ");
            if (!rc && hn) {
                rc = ingest_doc_text(doc, hs + hstart, hn);
                if (!rc)
                    rc = ingest_doc_puts(doc, ": ");
            }
            if (!rc)
                rc = ingest_doc_text(doc, s + start, n);
            first = 0;
        }
        if (!rc)
            rc = ingest_doc_line(doc);
    }
    return rc ? rc : ingest_doc_para(doc);
}

/* ---- tables whose cells wrap ---------------------------------------------
 * Poppler reads a table with multi-line cells block by block, so the lines
 * of one row come out interleaved ("releases | everyone" glues the third
 * line of one cell to the first of the next). The pieces of text (split at
 * gaps, each with its own box) are placed instead: columns from the first
 * row's cells, rows from the vertical gaps that are clearly wider than the
 * gap between the lines of one cell. Anything that does not fit that
 * picture (a piece across a column edge, a piece taller than a line, no
 * wrapped cell at all, rows that cannot be told apart) leaves the lines to
 * the line-based rules. */

#define PDF_TABLE_MAX_LINES 2000

typedef struct tpiece {
    size_t off, len; /* text in pd->store */
    float x1, y1, y2;
    int col;
    unsigned bold; /* of a bold line */
    size_t row;
} tpiece;

static int cmp_piece_y(const void *a, const void *b)
{
    const tpiece *p = a, *q = b;
    if (p->y1 != q->y1)
        return p->y1 < q->y1 ? -1 : 1;
    return p->x1 < q->x1 ? -1 : p->x1 > q->x1;
}

/* Appends the pieces of one cell (sorted by position) to out. */
static int cell_join(const pdoc *pd, const tpiece *const *v, size_t n, float em, keep_buf *out)
{
    for (size_t k = 0; k < n; k++) {
        const char *s = pd->store.data + v[k]->off;
        size_t len = v[k]->len;
        int glue = 0;
        if (k + 1 < n && v[k + 1]->y1 > v[k]->y1 + 0.5f * em)
            len = line_join(s, len, g_utf8_get_char(pd->store.data + v[k + 1]->off), &glue);
        if (keep_buf_append(out, s, len) || (k + 1 < n && !glue && keep_buf_putc(out, ' ')))
            return KEEP_ERR_NOMEM;
    }
    return KEEP_OK;
}

/* Pieces of lines [i, limit) that form a table with columns starting at x[];
 * the end of the table's lines in *end. Caller frees *out with keep_free. */
static int table_pieces(const pdoc *pd, size_t i, size_t limit, const float *x, int ncols,
                        float em, size_t *budget, tpiece **out, size_t *n_out, size_t *end)
{
    float tol = 0.5f * em > 4 ? 0.5f * em : 4;
    const pline *h = &pd->lines[i];
    tpiece *v = NULL;
    size_t n = 0, cap = 0, j = i;
    float bottom = h->y2;
    for (; j < limit && j < i + PDF_TABLE_MAX_LINES && *budget; j++, (*budget)--) {
        const pline *l = &pd->lines[j];
        if (l->page != h->page || l->level != 0 || !l->geom ||
            (size_t)l->ncells + n > (size_t)PDF_TABLE_MAX_LINES * 4)
            break;
        size_t n0 = n, pos = 0;
        const char *s = ltext(pd, l);
        int fits = 1;
        for (unsigned k = 0; k < l->ncells && fits; k++) {
            size_t start = pos, len = next_cell(s, l->len, &pos, 1);
            const pcell *c = &pd->cells[l->cell0 + k];
            int col = -1;
            while (col + 1 < ncols && x[col + 1] <= c->x1 + tol)
                col++;
            fits = col >= 0 && (col + 1 == ncols || c->x2 <= x[col + 1]) &&
                   c->y2 - c->y1 < 2.0f * em && c->y1 > h->y1 - tol && c->y1 < bottom + 2.5f * em;
            if (!fits || !len)
                continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                tpiece *nv = keep_reallocarray(v, nc, sizeof *nv);
                if (!nv) {
                    keep_free(v);
                    return KEEP_ERR_NOMEM;
                }
                v = nv;
                cap = nc;
            }
            v[n++] = (tpiece){l->off + start, len, c->x1, c->y1, c->y2, col, l->bold, 0};
        }
        if (!fits) {
            n = n0;
            break;
        }
        for (size_t k = n0; k < n; k++)
            if (v[k].y2 > bottom)
                bottom = v[k].y2;
    }
    *out = v;
    *n_out = n;
    *end = j;
    return KEEP_OK;
}

/* Lines [i, *end) when they are a table with wrapped cells, emitted; *end
 * is i when they are not (nothing emitted). *budget bounds the lines
 * examined over the whole document: rows of misaligned cells would
 * otherwise each start a scan of the lines below them. */
static int emit_wrapped_table(const pdoc *pd, ingest_doc *doc, size_t i, size_t *budget,
                              size_t *end)
{
    *end = i;
    const pline *h = &pd->lines[i];
    if (h->level != 0 || !h->geom || h->nhard < 1 || h->ncells < 2)
        return KEEP_OK;
    /* columns: the first line's cells, soft gaps inside a column */
    float x[PDF_MAX_CELLS];
    int ncols = 0;
    const char *s = ltext(pd, h);
    size_t pos = 0;
    for (unsigned k = 0; k < h->ncells && ncols < PDF_MAX_CELLS; k++) {
        int hard = k == 0 || s[pos - 1] == '\t';
        next_cell(s, h->len, &pos, 1);
        if (hard)
            x[ncols++] = pd->cells[h->cell0 + k].x1;
    }
    for (int c = 1; c < ncols; c++)
        if (x[c] <= x[c - 1])
            return KEEP_OK;
    float em = h->size > 0 ? h->size : 10;
    int header_like = h->bold, retried = 0;
    tpiece *v = NULL;
    size_t n = 0, j = i, limit = pd->n;
    int rc;
again:
    rc = table_pieces(pd, i, limit, x, ncols, em, budget, &v, &n, &j);
    if (rc || j < i + 2 || n < 4 || !*budget)
        goto out; /* no table, or the scan was cut short */
    qsort(v, n, sizeof *v, cmp_piece_y);
    /* rows: a gap clearly wider than the gap between a cell's lines */
    float usual = h->page >= 1 && h->page <= pd->n_pages ? pd->page_gap[h->page - 1] : 0;
    if (usual > 0.6f * em)
        usual = 0.6f * em;
    float thr = usual + 0.3f * em, bottom = v[0].y2;
    size_t rows = 1;
    for (size_t k = 1; k < n; k++) {
        if (v[k].y1 > bottom + thr)
            rows++;
        v[k].row = rows - 1;
        if (v[k].y2 > bottom)
            bottom = v[k].y2;
    }
    /* a last row with text in the first column only is prose after the
     * table ("Prices in EUR."): the lines keep their own rules then */
    int wrapped = 0, last_multi = 0;
    for (size_t k = 0; k < n; k++) {
        if (v[k].row == rows - 1 && v[k].col > 0)
            last_multi = 1;
        for (size_t m = k + 1; m < n && v[m].row == v[k].row && !wrapped; m++)
            wrapped = v[m].col == v[k].col && v[m].y1 > v[k].y2 - 0.3f * em;
    }
    if (!last_multi && rows > 3 && !retried) {
        /* drop the last line: prose under the table */
        keep_free(v);
        v = NULL;
        retried = 1;
        limit = j - 1;
        goto again;
    }
    if (!wrapped || !last_multi || rows < (header_like ? 2u : 3u))
        goto out;
    /* a bold first row over rows that are not all bold names the columns */
    int header = 1, body_bold = 1;
    for (size_t k = 0; k < n; k++) {
        if (v[k].row == 0 && !v[k].bold)
            header = 0;
        if (v[k].row > 0 && !v[k].bold)
            body_bold = 0;
    }
    if (body_bold)
        header = 0;
    keep_buf names[PDF_MAX_CELLS];
    memset(names, 0, sizeof names);
    keep_buf cell = {0};
    const tpiece **grp = keep_calloc(n, sizeof *grp);
    if (!grp) {
        rc = KEEP_ERR_NOMEM;
        goto out;
    }
    size_t k = 0;
    for (size_t r = 0; r < rows && !rc; r++) {
        size_t r0 = k;
        while (k < n && v[k].row == r)
            k++;
        int first = 1;
        for (int c = 0; c < ncols && !rc; c++) {
            size_t ng = 0;
            for (size_t m = r0; m < k; m++)
                if (v[m].col == c)
                    grp[ng++] = &v[m];
            /* one visual line of a cell: left to right */
            for (size_t a = 1; a < ng; a++)
                for (size_t b = a; b > 0 && fabsf(grp[b]->y1 - grp[b - 1]->y1) < 0.5f * em &&
                                   grp[b]->x1 < grp[b - 1]->x1;
                     b--) {
                    const tpiece *t = grp[b];
                    grp[b] = grp[b - 1];
                    grp[b - 1] = t;
                }
            keep_buf_reset(&cell);
            if ((rc = cell_join(pd, grp, ng, em, &cell)))
                break;
            if (header && r == 0) {
                if (cell.len && keep_buf_append(&names[c], cell.data, cell.len))
                    rc = KEEP_ERR_NOMEM;
                continue;
            }
            if (!cell.len)
                continue;
            if (!first)
                rc = ingest_doc_puts(doc, header ? "; " : " | ");
            if (!rc && header && names[c].len &&
                !(rc = ingest_doc_text(doc, names[c].data, names[c].len)))
                rc = ingest_doc_puts(doc, ": ");
            if (!rc)
                rc = ingest_doc_text(doc, cell.data, cell.len);
            first = 0;
        }
        if (!rc && !(header && r == 0))
            rc = ingest_doc_line(doc);
    }
    if (!rc)
        rc = ingest_doc_para(doc);
    keep_free(grp);
    keep_buf_free(&cell);
    for (int c = 0; c < PDF_MAX_CELLS; c++)
        keep_buf_free(&names[c]);
    if (!rc)
        *end = j;
out:
    keep_free(v);
    return rc;
}

/* Text of the heading starting at line i and its continuation lines, joined
 * by spaces, into h (caller frees); *end is the line after it. */
static int heading_text(const pdoc *pd, size_t i, keep_buf *h, size_t *end)
{
    size_t j = i;
    do {
        if ((j > i && keep_buf_putc(h, ' ')) ||
            keep_buf_append(h, ltext(pd, &pd->lines[j]), pd->lines[j].len))
            return KEEP_ERR_NOMEM;
        j++;
    } while (j < pd->n && pd->lines[j].cont);
    *end = j;
    return KEEP_OK;
}

/* Writes the OCR'd pages numbered below upto that are not written yet. */
static int emit_ocr(const pdoc *pd, ingest_doc *doc, int *next, int upto)
{
    int rc = KEEP_OK;
    for (; pd->ocr && *next < upto && *next <= pd->n_pages && !rc; (*next)++) {
        const keep_buf *b = &pd->ocr[*next - 1];
        if (b->len)
            rc = ingest__ocr_emit(doc, *next, b->data, b->len);
    }
    return rc;
}

static int emit(const pdoc *pd, ingest_doc *doc)
{
    int rc = KEEP_OK;
    size_t table_budget = 16 * pd->n + 20000;
    size_t i = 0, para = 0;
    int in_para = 0, page = 0, next_ocr = 1;
    while (i < pd->n && !rc) {
        const pline *l = &pd->lines[i];
        size_t tend = l->level == 0 && l->ncells > 1 ? table_end(pd, i) : i + 1;
        int starts_block = l->page != page || l->level > 0 || l->nhard || tend > i + 1;
        if (in_para && (starts_block || para_break(pd, &pd->lines[i - 1], l))) {
            rc = emit_para(pd, doc, para, i);
            in_para = 0;
            if (rc)
                break;
        }
        if (l->page != page) {
            if ((rc = emit_ocr(pd, doc, &next_ocr, l->page)))
                break;
            page = l->page;
            ingest_doc_page(doc, page);
        }
        if (l->level > 0) {
            keep_buf h = {0};
            size_t j = i;
            rc = heading_text(pd, i, &h, &j);
            if (!rc)
                rc = ingest_doc_heading(doc, l->level, h.data, h.len);
            keep_buf_free(&h);
            i = j;
            continue;
        }
        size_t wend = i;
        if ((rc = emit_wrapped_table(pd, doc, i, &table_budget, &wend)))
            break;
        if (wend > i) {
            i = wend;
            continue;
        }
        if (tend > i + 1) {
            rc = emit_table(pd, doc, i, tend);
            i = tend;
            continue;
        }
        if (l->nhard) { /* columns without rows around: "Total | 42" */
            rc = emit_cells(doc, ltext(pd, l), l->len, " | ", 0);
            if (!rc)
                rc = ingest_doc_para(doc);
            i++;
            continue;
        }
        if (!in_para) {
            para = i;
            in_para = 1;
        }
        i++;
    }
    if (!rc && in_para)
        rc = emit_para(pd, doc, para, pd->n);
    if (!rc)
        rc = emit_ocr(pd, doc, &next_ocr, pd->n_pages + 1);
    return rc;
}

/* ---- outline --------------------------------------------------------------
 * A PDF's bookmarks name its sections exactly, with their depth: when most
 * of them can be found as lines on their target pages, they replace the
 * font-size guesses (which miss bold body-size headings). */

#define PDF_MAX_OUTLINE 5000
#define PDF_OUTLINE_DEPTH 6

typedef struct oentry {
    char *key; /* lower-case ASCII letters and digits, other bytes >= 0x80 */
    int page, level;
} oentry;

static int key_byte(unsigned char c)
{
    return c >= 0x80 || g_ascii_isalnum((char)c);
}

static char *make_key(const char *s)
{
    size_t n = strlen(s), k = 0;
    char *key = keep_malloc(n + 1);
    if (!key)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (key_byte((unsigned char)s[i]))
            key[k++] = g_ascii_tolower(s[i]);
    key[k] = '\0';
    return key;
}

/* Lines i.. (up to three, same page) whose key is exactly key, skipping a
 * leading section number in the line when the key has none ("2.1 ASN.1
 * syntax" for the bookmark "ASN.1 syntax"). Returns how many lines, 0. */
static size_t match_lines(const pdoc *pd, size_t i, const char *key, int skip_number)
{
    size_t ki = 0;
    int skipping = skip_number;
    for (size_t k = i; k < i + 3 && k < pd->n && pd->lines[k].page == pd->lines[i].page; k++) {
        const pline *l = &pd->lines[k];
        const char *t = ltext(pd, l);
        for (size_t j = 0; j < l->len; j++) {
            unsigned char c = (unsigned char)t[j];
            if (skipping &&
                ((c >= '0' && c <= '9') || c == '.' || c == ' ' || c == '\t' || c == '\v'))
                continue;
            skipping = 0;
            if (!key_byte(c))
                continue;
            if (!key[ki] || key[ki] != g_ascii_tolower((char)c))
                return 0;
            ki++;
        }
        if (!key[ki])
            return ki ? k - i + 1 : 0;
    }
    return 0;
}

static int read_outline(PopplerDocument *pdf, oentry **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    PopplerIndexIter *stack[PDF_OUTLINE_DEPTH];
    int depth = 0;
    stack[0] = poppler_index_iter_new(pdf);
    if (!stack[0])
        return KEEP_OK;
    oentry *e = NULL;
    size_t n = 0, steps = 0;
    int rc = KEEP_OK;
    while (depth >= 0 && !rc && steps++ < 4 * PDF_MAX_OUTLINE) {
        PopplerIndexIter *cur = stack[depth];
        PopplerAction *a = poppler_index_iter_get_action(cur);
        if (a && a->type == POPPLER_ACTION_GOTO_DEST && a->goto_dest.title && a->goto_dest.dest &&
            n < PDF_MAX_OUTLINE) {
            PopplerDest *d = a->goto_dest.dest;
            int page = d->page_num;
            if (d->type == POPPLER_DEST_NAMED && d->named_dest) {
                PopplerDest *f = poppler_document_find_dest(pdf, d->named_dest);
                page = f ? f->page_num : 0;
                if (f)
                    poppler_dest_free(f);
            }
            oentry *ne = keep_reallocarray(e, n + 1, sizeof *ne);
            char *key = ne ? make_key(a->goto_dest.title) : NULL;
            if (!ne || !key) {
                keep_free(key);
                if (ne)
                    e = ne;
                rc = KEEP_ERR_NOMEM;
            } else {
                e = ne;
                e[n].key = key;
                e[n].page = page;
                e[n++].level = depth + 1;
            }
        }
        if (a)
            poppler_action_free(a);
        if (rc)
            break;
        PopplerIndexIter *child =
            depth + 1 < PDF_OUTLINE_DEPTH ? poppler_index_iter_get_child(cur) : NULL;
        if (child) {
            stack[++depth] = child;
            continue;
        }
        while (depth >= 0 && !poppler_index_iter_next(stack[depth]))
            poppler_index_iter_free(stack[depth--]);
    }
    while (depth >= 0)
        poppler_index_iter_free(stack[depth--]);
    *out = e;
    *n_out = n;
    return rc;
}

static int apply_outline(pdoc *pd, PopplerDocument *pdf)
{
    oentry *e = NULL;
    size_t ne = 0;
    int rc = read_outline(pdf, &e, &ne);
    size_t *first = NULL; /* first line of each page */
    signed char *level = NULL;
    unsigned char *cont = NULL;
    if (rc || ne == 0)
        goto out;
    first = keep_calloc((size_t)pd->n_pages + 2, sizeof *first);
    level = keep_calloc(pd->n + 1, 1);
    cont = keep_calloc(pd->n + 1, 1);
    if (!first || !level || !cont) {
        rc = KEEP_ERR_NOMEM;
        goto out;
    }
    for (int p = 0; p <= pd->n_pages + 1; p++)
        first[p] = pd->n;
    for (size_t i = pd->n; i-- > 0;)
        if (pd->lines[i].page >= 1 && pd->lines[i].page <= pd->n_pages)
            first[pd->lines[i].page] = i;
    size_t valid = 0, found = 0;
    for (size_t k = 0; k < ne; k++) {
        int page = e[k].page;
        if (page < 1 || page > pd->n_pages || !e[k].key[0])
            continue;
        valid++;
        int numbered = e[k].key[0] >= '0' && e[k].key[0] <= '9';
        size_t scanned = 0;
        for (size_t i = first[page]; i < pd->n && pd->lines[i].page == page && scanned < 2000;
             i++, scanned++) {
            if (level[i])
                continue;
            size_t m = match_lines(pd, i, e[k].key, 0);
            if (!m && !numbered)
                m = match_lines(pd, i, e[k].key, 1);
            if (!m)
                continue;
            for (size_t j = i; j < i + m; j++) {
                level[j] = (signed char)e[k].level;
                cont[j] = j > i;
            }
            found++;
            break;
        }
    }
    if (found && found * 2 >= valid) {
        for (size_t i = 0; i < pd->n; i++) {
            pd->lines[i].level = level[i];
            pd->lines[i].cont = cont[i];
        }
    }
out:
    for (size_t k = 0; k < ne; k++)
        keep_free(e[k].key);
    keep_free(e);
    keep_free(first);
    keep_free(level);
    keep_free(cont);
    return rc;
}

/* ---- metadata ------------------------------------------------------------ */

static int meta_str(ingest_doc *doc, const char *key, gchar *v)
{
    int rc = KEEP_OK;
    if (v) {
        g_strstrip(v);
        if (*v)
            rc = ingest_doc_meta(doc, key, v);
    }
    g_free(v);
    return rc;
}

/* Producers fill Title with placeholders; those are worse than a heading. */
static int useless_title(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || g_ascii_strcasecmp(t, "untitled") == 0)
        return 1;
    static const char *const ext[] = {".pdf", ".doc", ".docx", ".odt", ".rtf", ".txt", ".tex"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && g_ascii_strcasecmp(t + n - e, ext[i]) == 0)
            return 1;
    }
    return 0;
}

static int set_title(const pdoc *pd, PopplerDocument *pdf, ingest_doc *doc)
{
    gchar *t = poppler_document_get_title(pdf);
    int rc = KEEP_OK;
    if (t) {
        g_strstrip(t);
        if (!useless_title(t))
            rc = ingest_doc_title(doc, t, strlen(t), 0);
        g_free(t);
    }
    if (rc || doc->title)
        return rc;
    for (size_t i = 0; i < pd->n && pd->lines[i].page <= 2; i++) {
        const pline *l = &pd->lines[i];
        if (l->level != 1)
            continue;
        keep_buf h = {0};
        size_t j = i;
        rc = heading_text(pd, i, &h, &j);
        if (!rc)
            rc = ingest_doc_title(doc, h.data, h.len, 0);
        keep_buf_free(&h);
        break;
    }
    return rc;
}

/* ---- scanned pages ----------------------------------------------------------- */

/* Renders page (pw x ph points) on white at INGEST_OCR_PDF_DPI, or less when
 * that would exceed the OCR pixel cap, and OCRs it into out. A page that
 * renders blank is not OCR'd. */
static int ocr_page(PopplerPage *page, double pw, double ph, const ingest_ocr_options *opt,
                    keep_buf *out, keep_err *err)
{
    if (!(pw > 1 && ph > 1 && pw < 1e6 && ph < 1e6))
        return KEEP_OK; /* no sensible page box: nothing to render */
    double scale = INGEST_OCR_PDF_DPI / 72.0;
    double px = pw * scale * ph * scale;
    if (px > (double)INGEST_OCR_MAX_PIXELS)
        scale *= sqrt((double)INGEST_OCR_MAX_PIXELS / px) * 0.999;
    double longest = (pw > ph ? pw : ph) * scale;
    if (longest > 30000) /* cairo's image surfaces end at 32767 */
        scale *= 30000 / longest;
    int w = (int)(pw * scale), h = (int)(ph * scale);
    if (w < 16 || h < 16)
        return KEEP_OK;
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(surf);
        return keep_err_set(err, KEEP_ERR_NOMEM, "cannot render a %d x %d page for OCR", w, h);
    }
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, scale, scale);
    poppler_page_render(page, cr);
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    const unsigned char *src = cairo_image_surface_get_data(surf);
    int sstride = cairo_image_surface_get_stride(surf);
    unsigned char *gray = src ? keep_malloc((size_t)w * (size_t)h) : NULL;
    int rc = KEEP_OK;
    if (!gray) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory rendering a page for OCR");
        goto out;
    }
    size_t dark = 0;
    for (int y = 0; y < h; y++) {
        const uint32_t *row = (const uint32_t *)(const void *)(src + (size_t)y * (size_t)sstride);
        unsigned char *g = gray + (size_t)y * (size_t)w;
        for (int x = 0; x < w; x++) {
            uint32_t v = row[x]; /* xRGB, native endian */
            unsigned lum = (((v >> 16) & 0xff) * 77 + ((v >> 8) & 0xff) * 150 + (v & 0xff) * 29) >> 8;
            g[x] = (unsigned char)lum;
            dark += lum < 128;
        }
    }
    /* fewer dark pixels than a few letters have: a blank page */
    if (dark > (size_t)w * (size_t)h / 20000)
        rc = ingest__ocr_gray(gray, w, h, (size_t)w, (int)(72.0 * scale + 0.5), opt, out, NULL,
                              err);
out:
    keep_free(gray);
    cairo_surface_destroy(surf);
    return rc;
}

/* ---- entry point --------------------------------------------------------- */

static int open_error(GError *ge, keep_err *err)
{
    int code = ge ? ge->code : -1;
    if (ge && ge->domain == POPPLER_ERROR && code == POPPLER_ERROR_ENCRYPTED)
        return keep_err_set(err, KEEP_ERR_DENIED, "PDF is password-protected");
    if (ge && ge->domain == POPPLER_ERROR && code == POPPLER_ERROR_DAMAGED)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "PDF is damaged or not a PDF");
    return keep_err_set(err, KEEP_ERR_PARSE, "PDF cannot be opened (poppler error %d)", code);
}

int ingest_parse_pdf(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err)
{
    ingest_limits dl;
    if (!lim) {
        ingest_limits_default(&dl);
        lim = &dl;
    }
    if (len == 0)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "PDF is empty");
    if (lim->max_file_bytes && len > lim->max_file_bytes)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "PDF of %zu bytes exceeds the %zu-byte limit",
                            len, lim->max_file_bytes);
    pthread_once(&pdf_once, pdf_setup);

    pdoc pd;
    memset(&pd, 0, sizeof pd);
    pd.max_text = lim->max_text_bytes;
    pd.max_lines = (pd.max_text ? pd.max_text : (size_t)64 << 20) / 16 + 100000;
    pd.max_cells = 2 * pd.max_lines;
    int rc = KEEP_OK;
    GError *ge = NULL;
    GBytes *bytes = g_bytes_new_static(data, len);
    PopplerDocument *pdf = poppler_document_new_from_bytes(bytes, NULL, &ge);
    if (!pdf) {
        rc = open_error(ge, err);
        goto out;
    }
    int n_pages = poppler_document_get_n_pages(pdf);
    if (n_pages < 0)
        n_pages = 0;
    if (lim->max_pages && (unsigned)n_pages > lim->max_pages) {
        rc = keep_err_set(err, KEEP_ERR_TOOBIG, "PDF has %d pages, more than the limit of %u",
                          n_pages, lim->max_pages);
        goto out;
    }
    pd.n_pages = n_pages;
    pd.page_h = keep_calloc((size_t)n_pages + 1, sizeof *pd.page_h);
    if (!pd.page_h) {
        rc = KEEP_ERR_NOMEM;
        goto nomem;
    }
    if (lim->ocr.enabled && ingest__ocr_built() && n_pages > 0) {
        keep_err oerr;
        /* no language data: the text layer is still worth having */
        if (ingest__ocr_check(&lim->ocr, &oerr) == KEEP_OK &&
            !(pd.ocr = keep_calloc((size_t)n_pages, sizeof *pd.ocr))) {
            rc = KEEP_ERR_NOMEM;
            goto nomem;
        }
    }
    int n_ocr = 0, n_tried = 0;
    size_t ocr_bytes = 0;
    double ocr_ms = 0;
    double t0 = keep_now_ms();
    double budget = PDF_TIME_BASE_MS + PDF_TIME_PER_PAGE_MS * n_pages;
    for (int p = 0; p < n_pages; p++) {
        if (keep_now_ms() - t0 > budget) {
            rc = keep_err_set(err, KEEP_ERR_TOOBIG,
                              "PDF text extraction exceeded %.0f s at page %d of %d",
                              budget / 1000.0, p + 1, n_pages);
            goto out;
        }
        PopplerPage *page = poppler_document_get_page(pdf, p);
        if (!page)
            continue; /* a broken page tree entry: keep the other pages */
        double pw = 0, ph = 0;
        poppler_page_get_size(page, &pw, &ph);
        pd.page_h[p] = ph > 0 && ph < 1e6 ? (float)ph : 0;
        char *text = poppler_page_get_text(page);
        if (text && !g_utf8_validate(text, -1, NULL)) {
            char *fixed = g_utf8_make_valid(text, -1);
            g_free(text);
            text = fixed;
        }
        PopplerRectangle *rects = NULL;
        guint n_rects = 0;
        GList *attrs = NULL;
        size_t lines_before = pd.n;
        if (text && *text) {
            if (!poppler_page_get_text_layout(page, &rects, &n_rects))
                n_rects = 0;
            if ((glong)n_rects != g_utf8_strlen(text, -1)) {
                g_free(rects); /* boxes that do not match the text are no use */
                rects = NULL;
            }
            attrs = poppler_page_get_text_attributes(page);
            rc = collect_page(&pd, p + 1, text, rects, attrs);
        }
        poppler_page_free_text_attributes(attrs);
        g_free(rects);
        g_free(text);
        if (!rc && pd.ocr && pd.n == lines_before) {
            /* OCR has its own deadline per page; the text budget is for poppler */
            double o0 = keep_now_ms();
            keep_err oerr;
            keep_err_clear(&oerr);
            rc = ocr_page(page, pw, ph, &lim->ocr, &pd.ocr[p], &oerr);
            double took = keep_now_ms() - o0;
            t0 += took;
            ocr_ms += took;
            n_tried++;
            n_ocr += pd.ocr[p].len > 0;
            if (!rc && ocr_ms > INGEST_OCR_DOC_BASE_MS + INGEST_OCR_DOC_PAGE_MS * n_tried)
                rc = keep_err_set(&oerr, KEEP_ERR_TOOBIG, "OCR of the scanned pages exceeded %.0f s",
                                  ocr_ms / 1000.0);
            if (rc) {
                g_object_unref(page);
                keep_err_set(err, rc, "OCR of page %d: %s", p + 1, oerr.msg);
                goto out;
            }
            ocr_bytes += pd.ocr[p].len;
            if (pd.max_text && pd.store.len + ocr_bytes > pd.max_text + pd.max_text / 4)
                rc = KEEP_ERR_TOOBIG;
        }
        g_object_unref(page);
        if (rc == KEEP_ERR_TOOBIG) {
            if (pd.n >= pd.max_lines)
                keep_err_set(err, rc, "PDF has more than %zu text lines", pd.max_lines);
            else
                keep_err_set(err, rc, "PDF text exceeds the %zu-byte limit", pd.max_text);
            goto out;
        }
        if (rc) {
            keep_err_set(err, rc, "out of memory reading PDF page %d", p + 1);
            goto out;
        }
    }

    if ((rc = find_running(&pd)) || (rc = find_body(&pd)))
        goto nomem;
    find_headings(&pd);
    if ((rc = find_gaps(&pd)))
        goto nomem;
    if ((rc = set_title(&pd, pdf, doc)) || (rc = apply_outline(&pd, pdf)))
        goto nomem;
    if ((rc = meta_str(doc, "author", poppler_document_get_author(pdf))) ||
        (rc = meta_str(doc, "subject", poppler_document_get_subject(pdf))) ||
        (rc = meta_str(doc, "keywords", poppler_document_get_keywords(pdf))))
        goto nomem;
    /* pages without a text layer are scanned images: OCR's business */
    int with_text = 0, last = 0;
    for (size_t i = 0; i < pd.n; i++)
        if (pd.lines[i].page != last) {
            last = pd.lines[i].page;
            with_text++;
        }
    char num[32];
    snprintf(num, sizeof num, "%d", n_pages);
    if ((rc = ingest_doc_meta(doc, "pages", num)))
        goto nomem;
    snprintf(num, sizeof num, "%d", n_pages - with_text);
    if ((rc = ingest_doc_meta(doc, "pages_without_text", num)))
        goto nomem;
    if (pd.ocr) {
        snprintf(num, sizeof num, "%d", n_ocr);
        if ((rc = ingest_doc_meta(doc, "pages_ocr", num)) ||
            (n_ocr && (rc = ingest_doc_meta(doc, "ocr_languages", lim->ocr.languages))))
            goto nomem;
    }
    rc = emit(&pd, doc);
    if (rc == KEEP_ERR_TOOBIG) {
        keep_err_set(err, rc, "PDF text exceeds the %zu-byte limit", pd.max_text);
        goto out;
    }
    if (rc)
        goto nomem;
    ingest_doc_finish(doc);
    goto out;
nomem:
    keep_err_set(err, rc, "out of memory extracting PDF text");
out:
    if (pdf)
        g_object_unref(pdf);
    g_bytes_unref(bytes);
    if (ge)
        g_error_free(ge);
    keep_buf_free(&pd.store);
    keep_free(pd.lines);
    keep_free(pd.page_gap);
    keep_free(pd.page_h);
    keep_free(pd.cells);
    for (int p = 0; pd.ocr && p < pd.n_pages; p++)
        keep_buf_free(&pd.ocr[p]);
    keep_free(pd.ocr);
    return rc;
}
