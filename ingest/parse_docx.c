/* parse_docx.c — Word (.docx) to structured text.
 *
 * The body is walked in document order. A paragraph's heading level comes
 * from its outline level or its style, resolved through word/styles.xml by
 * style *name* ("heading 1", "Title") and basedOn chains, because style ids
 * are localized ("berschrift1", "Titre1") while names are not. List
 * paragraphs (numPr, direct or from the style) become "- " or "1. " lines
 * following word/numbering.xml; tables become header-named rows; footnote
 * and endnote references become [^n] with the note text in a final
 * "Footnotes" section. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "office_util.h"
#include "parse_office.h"
#include "xml_safe.h"

#define MAX_LEVELS 9
#define STYLE_CHAIN 16

typedef struct dstyle {
    char *id;
    char *based_on;
    int name_level; /* from the name: "heading 2" -> 2, "title" -> 1; 0 none */
    int is_toc;     /* "toc 1".."toc 9": table-of-contents entries */
    int outline;    /* w:outlineLvl + 1; 0 none */
    int is_title;
    long num_id, ilvl; /* numbering from the style; -1 none */
    /* the above resolved through basedOn, computed on first use */
    int resolved, r_level, r_title;
    long r_num_id, r_ilvl;
} dstyle;

typedef struct dabstract {
    long id;
    char fmt[MAX_LEVELS][16];
    char text[MAX_LEVELS][32]; /* lvlText: "%1.%2." */
    long start[MAX_LEVELS];
    /* Word keeps one count per abstract list: every num pointing at it
     * continues the numbering unless it overrides the start */
    long counter[MAX_LEVELS];
} dabstract;

typedef struct dnum {
    long id;
    dabstract *abs;
    long override[MAX_LEVELS]; /* startOverride, -1 none */
    int used;                  /* overrides apply when the num is first used */
} dnum;

typedef struct dnote {
    long id;
    xmlNodePtr node;
} dnote;

typedef struct docx {
    ingest_zip *z;
    const ingest_limits *lim;
    ingest_doc *doc;
    dstyle *styles;
    size_t n_styles;
    dabstract *abstracts;
    size_t n_abstracts;
    dnum *nums;
    size_t n_nums;
    xmlDocPtr foot_doc, end_doc;
    dnote *foot, *end;
    size_t n_foot, n_end;
    ingest__notes notes;
    int in_list;
    int in_note; /* collecting a note's own text: no nested markers */
    keep_err *err;
} docx;

/* ---- styles ------------------------------------------------------------------ */

static int name_level(const char *name, int *is_title)
{
    *is_title = 0;
    if (strcasecmp(name, "title") == 0) {
        *is_title = 1;
        return 1;
    }
    if (strncasecmp(name, "heading", 7) == 0) {
        const char *p = name + 7;
        if (*p == ' ')
            p++;
        if (*p >= '1' && *p <= '9' && p[1] == '\0')
            return *p - '0';
    }
    return 0;
}

/* "toc 1" (the style name) or "TOC1" / "Contents1" style ids. */
static int is_toc_name(const char *name)
{
    size_t skip = strncasecmp(name, "toc", 3) == 0 ? 3 : strncasecmp(name, "contents", 8) == 0 ? 8 : 0;
    if (!skip)
        return 0;
    const char *p = name + skip;
    if (*p == ' ')
        p++;
    return *p >= '1' && *p <= '9' && p[1] == '\0';
}

static int style_cmp(const void *a, const void *b)
{
    return strcmp(((const dstyle *)a)->id, ((const dstyle *)b)->id);
}

static int load_styles(docx *d, const char *part)
{
    xmlDocPtr x = NULL;
    int rc = ingest__ox_load_opt(d->z, part, d->lim, &x, d->err);
    if (rc || !x)
        return rc;
    xmlNodePtr root = xmlDocGetRootElement(x);
    size_t n = 0;
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next)
        n += ingest__ox_is(c, OX_W, "style");
    if (n && !(d->styles = keep_calloc(n, sizeof *d->styles))) {
        rc = keep_err_set(d->err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    char buf[256];
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next) {
        if (!ingest__ox_is(c, OX_W, "style"))
            continue;
        const char *type = ingest__ox_attr(c, OX_W, "type", buf, sizeof buf);
        if (type && strcmp(type, "paragraph") != 0)
            continue;
        const char *id = ingest__ox_attr(c, OX_W, "styleId", buf, sizeof buf);
        if (!id)
            continue;
        dstyle *s = &d->styles[d->n_styles];
        memset(s, 0, sizeof *s);
        s->num_id = s->ilvl = -1;
        if (!(s->id = keep_strdup(id)))
            goto nomem;
        d->n_styles++;
        xmlNodePtr nm = ingest__ox_child(c, OX_W, "name");
        if (nm && ingest__ox_attr(nm, OX_W, "val", buf, sizeof buf)) {
            s->name_level = name_level(buf, &s->is_title);
            s->is_toc = is_toc_name(buf);
        }
        xmlNodePtr bo = ingest__ox_child(c, OX_W, "basedOn");
        if (bo && ingest__ox_attr(bo, OX_W, "val", buf, sizeof buf) &&
            !(s->based_on = keep_strdup(buf)))
            goto nomem;
        xmlNodePtr ppr = ingest__ox_child(c, OX_W, "pPr");
        xmlNodePtr ol = ingest__ox_child(ppr, OX_W, "outlineLvl");
        long lvl = ingest__ox_attr_long(ol, OX_W, "val", -1, 100);
        if (lvl >= 0 && lvl < MAX_LEVELS)
            s->outline = (int)lvl + 1;
        xmlNodePtr np = ingest__ox_child(ppr, OX_W, "numPr");
        if (np) {
            s->num_id = ingest__ox_attr_long(ingest__ox_child(np, OX_W, "numId"), OX_W, "val",
                                             -1, 1L << 30);
            s->ilvl = ingest__ox_attr_long(ingest__ox_child(np, OX_W, "ilvl"), OX_W, "val", 0,
                                           MAX_LEVELS - 1);
        }
    }
    if (d->n_styles > 1)
        qsort(d->styles, d->n_styles, sizeof *d->styles, style_cmp);
out:
    xmlFreeDoc(x);
    return rc;
nomem:
    rc = keep_err_set(d->err, KEEP_ERR_NOMEM, "out of memory");
    goto out;
}

static const dstyle *find_style(const docx *d, const char *id)
{
    if (!id || !d->n_styles)
        return NULL;
    dstyle key;
    key.id = (char *)(uintptr_t)id;
    return bsearch(&key, d->styles, d->n_styles, sizeof *d->styles, style_cmp);
}

/* Level (0 for body text) and numbering of a style, following basedOn a
 * bounded number of steps (a hostile chain may loop), memoized per style. */
static void resolve_style(const docx *d, dstyle *st)
{
    st->resolved = 1;
    st->r_num_id = st->r_ilvl = -1;
    int have_level = 0;
    const dstyle *s = st;
    for (int i = 0; s && i < STYLE_CHAIN; i++) {
        if (!have_level && s->name_level) {
            st->r_level = s->name_level;
            st->r_title = s->is_title;
            have_level = 1;
        } else if (!have_level && s->outline) {
            st->r_level = s->outline;
            have_level = 1;
        }
        if (st->r_num_id < 0 && s->num_id >= 0) {
            st->r_num_id = s->num_id;
            st->r_ilvl = s->ilvl;
        }
        if (have_level && st->r_num_id >= 0)
            break;
        s = find_style(d, s->based_on);
    }
}

static int style_level(const docx *d, const char *id, int *is_title)
{
    *is_title = 0;
    dstyle *s = (dstyle *)find_style(d, id);
    if (!s) {
        /* no styles.xml entry: the built-in English ids still say it */
        int t = 0;
        int l = id ? name_level(id, &t) : 0;
        *is_title = t;
        return l;
    }
    if (!s->resolved)
        resolve_style(d, s);
    *is_title = s->r_title;
    return s->r_level;
}

static void style_numbering(const docx *d, const char *id, long *num_id, long *ilvl)
{
    dstyle *s = (dstyle *)find_style(d, id);
    if (!s)
        return;
    if (!s->resolved)
        resolve_style(d, s);
    if (s->r_num_id >= 0) {
        *num_id = s->r_num_id;
        *ilvl = s->r_ilvl;
    }
}

/* ---- numbering ------------------------------------------------------------- */

static int abstract_cmp(const void *a, const void *b)
{
    long x = ((const dabstract *)a)->id, y = ((const dabstract *)b)->id;
    return x < y ? -1 : x > y;
}

static int num_cmp(const void *a, const void *b)
{
    long x = ((const dnum *)a)->id, y = ((const dnum *)b)->id;
    return x < y ? -1 : x > y;
}

static int load_numbering(docx *d, const char *part)
{
    xmlDocPtr x = NULL;
    int rc = ingest__ox_load_opt(d->z, part, d->lim, &x, d->err);
    if (rc || !x)
        return rc;
    xmlNodePtr root = xmlDocGetRootElement(x);
    size_t na = 0, nn = 0;
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next) {
        na += ingest__ox_is(c, OX_W, "abstractNum");
        nn += ingest__ox_is(c, OX_W, "num");
    }
    if ((na && !(d->abstracts = keep_calloc(na, sizeof *d->abstracts))) ||
        (nn && !(d->nums = keep_calloc(nn, sizeof *d->nums)))) {
        rc = keep_err_set(d->err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next) {
        if (!ingest__ox_is(c, OX_W, "abstractNum"))
            continue;
        dabstract *a = &d->abstracts[d->n_abstracts++];
        a->id = ingest__ox_attr_long(c, OX_W, "abstractNumId", -1, 1L << 30);
        for (int l = 0; l < MAX_LEVELS; l++) {
            memcpy(a->fmt[l], "bullet", 7);
            a->start[l] = 1;
        }
        for (xmlNodePtr lv = c->children; lv; lv = lv->next) {
            if (!ingest__ox_is(lv, OX_W, "lvl"))
                continue;
            long il = ingest__ox_attr_long(lv, OX_W, "ilvl", -1, 100);
            if (il < 0 || il >= MAX_LEVELS)
                continue;
            xmlNodePtr f = ingest__ox_child(lv, OX_W, "numFmt");
            if (f)
                ingest__ox_attr(f, OX_W, "val", a->fmt[il], sizeof a->fmt[il]);
            xmlNodePtr lt = ingest__ox_child(lv, OX_W, "lvlText");
            if (lt)
                ingest__ox_attr(lt, OX_W, "val", a->text[il], sizeof a->text[il]);
            a->start[il] = ingest__ox_attr_long(ingest__ox_child(lv, OX_W, "start"), OX_W,
                                                "val", 1, 1L << 30);
        }
    }
    if (d->n_abstracts > 1)
        qsort(d->abstracts, d->n_abstracts, sizeof *d->abstracts, abstract_cmp);
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next) {
        if (!ingest__ox_is(c, OX_W, "num"))
            continue;
        dnum *n = &d->nums[d->n_nums++];
        n->id = ingest__ox_attr_long(c, OX_W, "numId", -1, 1L << 30);
        dabstract key;
        key.id = ingest__ox_attr_long(ingest__ox_child(c, OX_W, "abstractNumId"), OX_W, "val",
                                      -1, 1L << 30);
        n->abs = d->n_abstracts ? bsearch(&key, d->abstracts, d->n_abstracts,
                                          sizeof *d->abstracts, abstract_cmp)
                                : NULL;
        for (int l = 0; l < MAX_LEVELS; l++)
            n->override[l] = -1;
        for (xmlNodePtr o = c->children; o; o = o->next) {
            if (!ingest__ox_is(o, OX_W, "lvlOverride"))
                continue;
            long il = ingest__ox_attr_long(o, OX_W, "ilvl", -1, 100);
            xmlNodePtr so = ingest__ox_child(o, OX_W, "startOverride");
            if (so && il >= 0 && il < MAX_LEVELS)
                n->override[il] = ingest__ox_attr_long(so, OX_W, "val", 1, 1L << 30);
        }
    }
    if (d->n_nums > 1)
        qsort(d->nums, d->n_nums, sizeof *d->nums, num_cmp);
out:
    xmlFreeDoc(x);
    return rc;
}

static void roman(long v, int upper, char *out, size_t cap)
{
    static const struct {
        int v;
        const char *s;
    } t[] = {{1000, "m"}, {900, "cm"}, {500, "d"}, {400, "cd"}, {100, "c"}, {90, "xc"},
             {50, "l"},   {40, "xl"},  {10, "x"},  {9, "ix"},   {5, "v"},   {4, "iv"},
             {1, "i"}};
    size_t len = 0;
    out[0] = '\0';
    if (v <= 0 || v >= 4000) {
        snprintf(out, cap, "%ld", v);
        return;
    }
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        while (v >= t[i].v) {
            for (const char *s = t[i].s; *s && len + 1 < cap; s++)
                out[len++] = upper ? (char)(*s - 32) : *s;
            v -= t[i].v;
        }
    }
    out[len] = '\0';
}

static void format_number(const char *fmt, long v, char *out, size_t cap)
{
    if (strcmp(fmt, "lowerLetter") == 0 || strcmp(fmt, "upperLetter") == 0) {
        char c = (char)((v - 1) % 26 + (fmt[0] == 'l' ? 'a' : 'A'));
        snprintf(out, cap, "%c", v >= 1 ? c : '?');
    } else if (strcmp(fmt, "lowerRoman") == 0 || strcmp(fmt, "upperRoman") == 0) {
        roman(v, fmt[0] == 'u', out, cap);
    } else {
        snprintf(out, cap, "%ld", v);
    }
}

enum { MARK_NONE, MARK_BULLET, MARK_NUMBER };

/* Advances the list counters and writes the marker of an item: "- " for
 * bullets, the level text with its counters ("2.1. ", "c) ") or "3. " for
 * numbered levels. Returns MARK_NONE when the level shows nothing. */
static int list_marker(docx *d, long num_id, long ilvl, char *out, size_t cap)
{
    snprintf(out, cap, "- ");
    dnum key;
    key.id = num_id;
    dnum *n = d->n_nums ? bsearch(&key, d->nums, d->n_nums, sizeof *d->nums, num_cmp) : NULL;
    if (!n || !n->abs || ilvl < 0 || ilvl >= MAX_LEVELS)
        return MARK_BULLET;
    dabstract *a = n->abs;
    if (!n->used) {
        n->used = 1;
        for (int l = 0; l < MAX_LEVELS; l++)
            if (n->override[l] >= 0)
                a->counter[l] = 0; /* restart: next item of level l shows the override */
    }
    if (a->counter[ilvl] == 0)
        a->counter[ilvl] = n->override[ilvl] >= 0 ? n->override[ilvl] : a->start[ilvl];
    else
        a->counter[ilvl]++;
    for (long l = ilvl + 1; l < MAX_LEVELS; l++)
        a->counter[l] = 0;
    if (strcmp(a->fmt[ilvl], "bullet") == 0)
        return MARK_BULLET;
    if (strcmp(a->fmt[ilvl], "none") == 0) {
        out[0] = '\0';
        return MARK_NONE;
    }
    char num[48];
    const char *t = a->text[ilvl];
    if (!strchr(t, '%')) {
        format_number(a->fmt[ilvl], a->counter[ilvl], num, sizeof num);
        snprintf(out, cap, "%s. ", num);
        return MARK_NUMBER;
    }
    size_t len = 0;
    for (; *t && len + 1 < cap; t++) {
        if (t[0] == '%' && t[1] >= '1' && t[1] <= '9') {
            int l = t[1] - '1';
            long v = a->counter[l] ? a->counter[l] : a->start[l];
            format_number(a->fmt[l], v, num, sizeof num);
            for (const char *q = num; *q && len + 1 < cap; q++)
                out[len++] = *q;
            t++;
        } else {
            out[len++] = *t;
        }
    }
    if (len + 1 < cap)
        out[len++] = ' ';
    out[len] = '\0';
    return MARK_NUMBER;
}

/* ---- notes ----------------------------------------------------------------- */

static int note_cmp(const void *a, const void *b)
{
    const dnote *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int load_notes(docx *d, const char *part, const char *elem, xmlDocPtr *xd, dnote **out,
                      size_t *n)
{
    int rc = ingest__ox_load_opt(d->z, part, d->lim, xd, d->err);
    if (rc || !*xd)
        return rc;
    xmlNodePtr root = xmlDocGetRootElement(*xd);
    size_t count = 0;
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next)
        count += ingest__ox_is(c, OX_W, elem);
    if (!count)
        return KEEP_OK;
    if (!(*out = keep_calloc(count, sizeof **out)))
        return keep_err_set(d->err, KEEP_ERR_NOMEM, "out of memory");
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (!ingest__ox_is(c, OX_W, elem))
            continue;
        (*out)[*n].id = ingest__ox_attr_long(c, OX_W, "id", -1, 1L << 30);
        (*out)[*n].node = c;
        (*n)++;
    }
    qsort(*out, *n, sizeof **out, note_cmp);
    return KEEP_OK;
}

static xmlNodePtr find_note(const dnote *v, size_t n, long id)
{
    dnote key = {id, NULL};
    const dnote *f = v ? bsearch(&key, v, n, sizeof *v, note_cmp) : NULL;
    return f ? f->node : NULL;
}

/* ---- paragraphs ------------------------------------------------------------ */

static int collect_block_text(docx *d, xmlNodePtr n, keep_buf *out, unsigned depth);

static int note_ref(docx *d, xmlNodePtr r, int endnote, keep_buf *out)
{
    if (d->in_note)
        return KEEP_OK;
    long id = ingest__ox_attr_long(r, OX_W, "id", -1, 1L << 30);
    xmlNodePtr note = endnote ? find_note(d->end, d->n_end, id) : find_note(d->foot, d->n_foot, id);
    if (!note)
        return KEEP_OK;
    unsigned num = ++d->notes.count;
    if (keep_buf_printf(out, "[^%u]", num))
        return KEEP_ERR_NOMEM;
    keep_buf body = {0};
    d->in_note = 1;
    int rc = collect_block_text(d, note, &body, 0);
    d->in_note = 0;
    if (!rc && keep_buf_printf(&d->notes.text, "[^%u] ", num))
        rc = KEEP_ERR_NOMEM;
    if (!rc)
        rc = ingest__append_norm(&d->notes.text, body.data ? body.data : "", body.len);
    if (!rc && keep_buf_putc(&d->notes.text, '\n'))
        rc = KEEP_ERR_NOMEM;
    keep_buf_free(&body);
    if (!rc && d->lim && d->lim->max_text_bytes && d->notes.text.len > d->lim->max_text_bytes)
        rc = KEEP_ERR_TOOBIG;
    return rc;
}

/* Inline content of a paragraph into out: runs, hyperlinks, fields,
 * insertions, content controls. Deleted text, field instructions and text
 * boxes (written after the paragraph) are left out. */
static int collect_inline(docx *d, xmlNodePtr n, keep_buf *out, unsigned depth)
{
    if (depth > 512)
        return KEEP_OK;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        int rc = KEEP_OK;
        if (c->type != XML_ELEMENT_NODE)
            continue;
        const char *name = (const char *)c->name;
        if (strcmp(name, "t") == 0) {
            rc = ingest__ox_text(c, out);
        } else if (strcmp(name, "tab") == 0 || strcmp(name, "ptab") == 0) {
            rc = keep_buf_putc(out, '\t');
        } else if (strcmp(name, "br") == 0 || strcmp(name, "cr") == 0) {
            rc = keep_buf_putc(out, '\n');
        } else if (strcmp(name, "noBreakHyphen") == 0) {
            rc = keep_buf_putc(out, '-');
        } else if (ingest__ox_is(c, OX_W, "footnoteReference")) {
            rc = note_ref(d, c, 0, out);
        } else if (ingest__ox_is(c, OX_W, "endnoteReference")) {
            rc = note_ref(d, c, 1, out);
        } else if (strcmp(name, "AlternateContent") == 0) {
            xmlNodePtr ch = ingest__ox_child(c, OX_MC, "Choice");
            if (!ch)
                ch = ingest__ox_child(c, OX_MC, "Fallback");
            if (ch)
                rc = collect_inline(d, ch, out, depth + 1);
        } else if (strcmp(name, "del") == 0 || strcmp(name, "moveFrom") == 0 ||
                   strcmp(name, "rPr") == 0 || strcmp(name, "pPr") == 0 ||
                   strcmp(name, "sdtPr") == 0 || strcmp(name, "sdtEndPr") == 0 ||
                   strcmp(name, "instrText") == 0 || strcmp(name, "delText") == 0 ||
                   strcmp(name, "drawing") == 0 || strcmp(name, "pict") == 0 ||
                   strcmp(name, "object") == 0 || strcmp(name, "txbxContent") == 0) {
            continue;
        } else if (strcmp(name, "p") == 0 || strcmp(name, "tbl") == 0) {
            /* block content inside inline content (content controls) */
            rc = collect_block_text(d, c, out, depth + 1);
        } else {
            rc = collect_inline(d, c, out, depth + 1);
        }
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

/* All text of block content (a cell, a note) flattened, paragraphs
 * separated by spaces. */
static int collect_block_text(docx *d, xmlNodePtr n, keep_buf *out, unsigned depth)
{
    if (depth > 512)
        return KEEP_OK;
    if (ingest__ox_is(n, OX_W, "p")) {
        int rc = collect_inline(d, n, out, depth + 1);
        if (!rc && out->len && keep_buf_putc(out, ' '))
            rc = KEEP_ERR_NOMEM;
        return rc;
    }
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || ingest__ox_is(c, OX_W, "tblPr") ||
            ingest__ox_is(c, OX_W, "tcPr") || ingest__ox_is(c, OX_W, "trPr") ||
            ingest__ox_is(c, OX_W, "sdtPr"))
            continue;
        int rc = collect_block_text(d, c, out, depth + 1);
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

static int walk_blocks(docx *d, xmlNodePtr container, unsigned depth);

static int end_list(docx *d)
{
    if (!d->in_list)
        return KEEP_OK;
    d->in_list = 0;
    return ingest_doc_para(d->doc);
}

/* Text boxes anchored in a paragraph, as blocks after it. mc:Fallback holds
 * a second copy of the same box (VML), so only the first choice is read. */
static int text_boxes(docx *d, xmlNodePtr n, unsigned depth)
{
    if (depth > 512)
        return KEEP_OK;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        int rc;
        if (ingest__ox_is(c, OX_W, "txbxContent"))
            rc = walk_blocks(d, c, depth + 1);
        else if (ingest__ox_is(c, OX_MC, "Fallback"))
            continue;
        else if (ingest__ox_is(c, OX_MC, "AlternateContent")) {
            xmlNodePtr ch = ingest__ox_child(c, OX_MC, "Choice");
            rc = ch ? text_boxes(d, ch, depth + 1) : KEEP_OK;
        } else
            rc = text_boxes(d, c, depth + 1);
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

static int paragraph(docx *d, xmlNodePtr p, unsigned depth)
{
    char style[256] = "";
    int level = 0, is_title = 0;
    long num_id = -1, ilvl = 0;
    xmlNodePtr ppr = ingest__ox_child(p, OX_W, "pPr");
    xmlNodePtr ps = ingest__ox_child(ppr, OX_W, "pStyle");
    const char *sid = ps ? ingest__ox_attr(ps, OX_W, "val", style, sizeof style) : NULL;
    int toc = 0;
    if (sid) {
        level = style_level(d, sid, &is_title);
        style_numbering(d, sid, &num_id, &ilvl);
        const dstyle *st = find_style(d, sid);
        toc = st ? st->is_toc : is_toc_name(sid);
    }
    long ol = ingest__ox_attr_long(ingest__ox_child(ppr, OX_W, "outlineLvl"), OX_W, "val", -1,
                                   100);
    if (ol >= 0 && ol < MAX_LEVELS) {
        level = (int)ol + 1;
        is_title = 0;
    }
    xmlNodePtr np = ingest__ox_child(ppr, OX_W, "numPr");
    if (np) {
        num_id = ingest__ox_attr_long(ingest__ox_child(np, OX_W, "numId"), OX_W, "val", -1,
                                      1L << 30);
        xmlNodePtr il = ingest__ox_child(np, OX_W, "ilvl");
        if (il)
            ilvl = ingest__ox_attr_long(il, OX_W, "val", 0, MAX_LEVELS - 1);
    }

    keep_buf text = {0};
    int rc = collect_inline(d, p, &text, depth + 1);
    if (rc)
        goto out;
    size_t l = text.len;
    const char *s = text.data ? text.data : "";
    int empty = 1;
    for (size_t i = 0; i < l; i++)
        if ((unsigned char)s[i] > ' ')
            empty = 0;

    if (!empty && toc)
        goto out; /* a table of contents repeats the headings with page numbers */
    if (!empty && level > 0) {
        if ((rc = end_list(d)))
            goto out;
        if (is_title && (rc = ingest_doc_title(d->doc, s, l, 0)))
            goto out;
        /* outline numbering ("2.1") becomes part of the heading: questions
         * cite sections by number */
        char marker[64];
        if (num_id > 0 && list_marker(d, num_id, ilvl, marker, sizeof marker) == MARK_NUMBER) {
            keep_buf h = {0};
            if (keep_buf_puts(&h, marker) || keep_buf_append(&h, s, l))
                rc = KEEP_ERR_NOMEM;
            else
                rc = ingest_doc_heading(d->doc, level, h.data, h.len);
            keep_buf_free(&h);
        } else {
            rc = ingest_doc_heading(d->doc, level, s, l);
        }
    } else if (!empty && num_id > 0) {
        char marker[64];
        list_marker(d, num_id, ilvl, marker, sizeof marker);
        if (!d->in_list && (rc = ingest_doc_para(d->doc)))
            goto out;
        d->in_list = 1;
        for (long i = 0; i < ilvl && !rc; i++)
            rc = ingest_doc_raw(d->doc, "  ", 2);
        if (!rc && !(rc = ingest_doc_puts(d->doc, marker)) && !(rc = ingest_doc_text(d->doc, s, l)))
            rc = ingest_doc_line(d->doc);
    } else if (!empty) {
        if ((rc = end_list(d)))
            goto out;
        /* a line break inside a paragraph stays a line break */
        const char *q = s, *end = s + l;
        while (!rc && q < end) {
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            size_t seg = nl ? (size_t)(nl - q) : (size_t)(end - q);
            rc = ingest_doc_text(d->doc, q, seg);
            if (!rc && nl)
                rc = ingest_doc_line(d->doc);
            q += seg + 1;
        }
        if (!rc)
            rc = ingest_doc_para(d->doc);
    }
    if (!rc)
        rc = text_boxes(d, p, depth + 1);
out:
    keep_buf_free(&text);
    return rc;
}

/* Cells of a row; cells may sit inside content controls. gridBefore skips
 * grid columns at the start of a row, gridSpan widens a cell. */
static int table_cells(docx *d, xmlNodePtr n, ingest__table *t, keep_buf *cell, size_t *col,
                       unsigned depth)
{
    if (depth > 512)
        return KEEP_OK;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        int rc = KEEP_OK;
        if (ingest__ox_is(c, OX_W, "sdt"))
            rc = table_cells(d, ingest__ox_child(c, OX_W, "sdtContent"), t, cell, col, depth + 1);
        else if (ingest__ox_is(c, OX_W, "customXml"))
            rc = table_cells(d, c, t, cell, col, depth + 1);
        else if (ingest__ox_is(c, OX_W, "tc")) {
            long span = ingest__ox_attr_long(
                ingest__ox_child(ingest__ox_child(c, OX_W, "tcPr"), OX_W, "gridSpan"), OX_W,
                "val", 1, INGEST_TAB_MAX_COLS);
            if (span < 1)
                span = 1;
            keep_buf_reset(cell);
            if (!(rc = collect_block_text(d, c, cell, depth + 1)))
                rc = ingest__tab_cell(t, *col, (size_t)span, cell->data ? cell->data : "",
                                      cell->len);
            *col += (size_t)span;
        }
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

static int table_rows(docx *d, xmlNodePtr n, ingest__table *t, keep_buf *cell, unsigned depth)
{
    if (!n || depth > 512)
        return KEEP_OK;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        int rc = KEEP_OK;
        if (ingest__ox_is(c, OX_W, "sdt")) {
            rc = table_rows(d, ingest__ox_child(c, OX_W, "sdtContent"), t, cell, depth + 1);
        } else if (ingest__ox_is(c, OX_W, "customXml")) {
            rc = table_rows(d, c, t, cell, depth + 1);
        } else if (ingest__ox_is(c, OX_W, "tr")) {
            size_t col = (size_t)ingest__ox_attr_long(
                ingest__ox_child(ingest__ox_child(c, OX_W, "trPr"), OX_W, "gridBefore"), OX_W,
                "val", 0, INGEST_TAB_MAX_COLS);
            rc = table_cells(d, c, t, cell, &col, depth + 1);
            if (!rc)
                rc = ingest__tab_row(t, d->doc, NULL);
        }
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

static int table(docx *d, xmlNodePtr tbl, unsigned depth)
{
    ingest__table t;
    ingest__tab_init(&t, d->doc->max_text);
    keep_buf cell = {0};
    int rc = end_list(d);
    if (!rc)
        rc = ingest_doc_para(d->doc);
    if (!rc)
        rc = table_rows(d, tbl, &t, &cell, depth + 1);
    if (!rc)
        rc = ingest__tab_end(&t, d->doc);
    ingest__tab_free(&t);
    keep_buf_free(&cell);
    return rc;
}

/* Word wraps its generated table of contents in a content control. */
static int sdt_is_toc(xmlNodePtr sdt)
{
    char v[64];
    xmlNodePtr g = ingest__ox_child(
        ingest__ox_child(ingest__ox_child(sdt, OX_W, "sdtPr"), OX_W, "docPartObj"), OX_W,
        "docPartGallery");
    return g && ingest__ox_attr(g, OX_W, "val", v, sizeof v) &&
           strcasecmp(v, "Table of Contents") == 0;
}

static int walk_blocks(docx *d, xmlNodePtr container, unsigned depth)
{
    if (!container || depth > 512)
        return KEEP_OK;
    for (xmlNodePtr c = container->children; c; c = c->next) {
        int rc = KEEP_OK;
        if (ingest__ox_is(c, OX_W, "p"))
            rc = paragraph(d, c, depth + 1);
        else if (ingest__ox_is(c, OX_W, "tbl"))
            rc = table(d, c, depth + 1);
        else if (ingest__ox_is(c, OX_W, "sdt") && !sdt_is_toc(c))
            rc = walk_blocks(d, ingest__ox_child(c, OX_W, "sdtContent"), depth + 1);
        else if (ingest__ox_is(c, OX_W, "customXml") || ingest__ox_is(c, OX_W, "ins") ||
                 ingest__ox_is(c, OX_W, "moveTo"))
            rc = walk_blocks(d, c, depth + 1);
        else if (ingest__ox_is(c, OX_MC, "AlternateContent")) {
            xmlNodePtr ch = ingest__ox_child(c, OX_MC, "Choice");
            if (ch)
                rc = walk_blocks(d, ch, depth + 1);
        }
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

int ingest_parse_docx(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                      keep_err *err)
{
    docx d;
    memset(&d, 0, sizeof d);
    d.lim = lim;
    d.doc = doc;
    d.err = err;
    char *main_part = NULL;
    xmlDocPtr x = NULL;
    ingest__rels rels = {0};
    keep_err_clear(err);
    int rc = ingest__zip_open(data, len, lim, &d.z, err);
    if (rc)
        return rc;
    if ((rc = ingest__ooxml_main(d.z, lim, "word/document.xml", &main_part, doc, err)))
        goto out;
    if ((rc = ingest__rels_load(d.z, main_part, lim, &rels, err)))
        goto out;
    const ingest__rel *r;
    if ((r = ingest__rels_type(&rels, "styles")) && (rc = load_styles(&d, r->target)))
        goto out;
    if ((r = ingest__rels_type(&rels, "numbering")) && (rc = load_numbering(&d, r->target)))
        goto out;
    if ((r = ingest__rels_type(&rels, "footnotes")) &&
        (rc = load_notes(&d, r->target, "footnote", &d.foot_doc, &d.foot, &d.n_foot)))
        goto out;
    if ((r = ingest__rels_type(&rels, "endnotes")) &&
        (rc = load_notes(&d, r->target, "endnote", &d.end_doc, &d.end, &d.n_end)))
        goto out;
    if ((rc = ingest__ox_load(d.z, main_part, lim, &x, err)))
        goto out;
    xmlNodePtr root = xmlDocGetRootElement(x);
    xmlNodePtr body = ingest__ox_child(root, OX_W, "body");
    if (!ingest__ox_is(root, OX_W, "document") || !body) {
        rc = keep_err_set(err, KEEP_ERR_PARSE, "%s: not a Word document body", main_part);
        goto out;
    }
    rc = walk_blocks(&d, body, 0);
    if (!rc)
        rc = end_list(&d);
    if (!rc)
        rc = ingest__notes_flush(&d.notes, doc);
out:
    rc = ingest__office_done(rc, doc, err);
    xmlFreeDoc(x);
    xmlFreeDoc(d.foot_doc);
    xmlFreeDoc(d.end_doc);
    keep_free(d.foot);
    keep_free(d.end);
    for (size_t i = 0; i < d.n_styles; i++) {
        keep_free(d.styles[i].id);
        keep_free(d.styles[i].based_on);
    }
    keep_free(d.styles);
    keep_free(d.abstracts);
    keep_free(d.nums);
    keep_buf_free(&d.notes.text);
    ingest__rels_free(&rels);
    keep_free(main_part);
    ingest__zip_close(d.z);
    return rc;
}
