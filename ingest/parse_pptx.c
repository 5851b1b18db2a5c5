/* parse_pptx.c — PowerPoint (.pptx) to structured text.
 *
 * Slides are read in presentation order (ppt/presentation.xml sldIdLst
 * through its relationships; file names say nothing about order once slides
 * were moved). Each slide opens a slide span with the heading
 * "Slide n: Title" (title or ctrTitle placeholder), then the text of its
 * other shapes in tree order, tables as header-named rows, and the speaker
 * notes (notesSlide relationship) under a "Notes" sub-heading. Layouts and
 * masters are never read: their placeholder prompts are not content. */
#include <string.h>

#include "office_util.h"
#include "parse_office.h"

#define PPTX_MAX_DEPTH 512

typedef struct pptx {
    ingest_zip *z;
    const ingest_limits *lim;
    ingest_doc *doc;
    keep_err *err;
    ingest__rels rels; /* of the slide being read */
} pptx;

/* The placeholder type of a shape: "" for a placeholder without type (a
 * body/object placeholder), NULL for a plain shape. */
static const char *ph_type(xmlNodePtr sp, char *buf, size_t cap)
{
    for (xmlNodePtr nv = sp->children; nv; nv = nv->next) {
        if (nv->type != XML_ELEMENT_NODE || !strstr((const char *)nv->name, "Pr") ||
            strncmp((const char *)nv->name, "nv", 2) != 0)
            continue;
        xmlNodePtr ph = ingest__ox_child(ingest__ox_child(nv, OX_P, "nvPr"), OX_P, "ph");
        if (!ph)
            return NULL;
        if (!ingest__ox_attr(ph, "", "type", buf, cap))
            buf[0] = '\0';
        return buf;
    }
    return NULL;
}

static int is_title(const char *ph)
{
    return ph && (strcmp(ph, "title") == 0 || strcmp(ph, "ctrTitle") == 0);
}

/* Offset of the first character of b above a space (b->len when blank). */
static size_t skip_blanks(const keep_buf *b)
{
    size_t i = 0;
    while (i < b->len && (unsigned char)b->data[i] <= ' ')
        i++;
    return i;
}

/* Text of one a:p: runs, fields, line breaks. */
static int para_text(xmlNodePtr p, keep_buf *out)
{
    for (xmlNodePtr c = p->children; c; c = c->next) {
        int rc = KEEP_OK;
        if (ingest__ox_is(c, OX_A, "r") || ingest__ox_is(c, OX_A, "fld"))
            rc = ingest__ox_text(ingest__ox_child(c, OX_A, "t"), out);
        else if (ingest__ox_is(c, OX_A, "br"))
            rc = keep_buf_putc(out, '\n');
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

/* All paragraphs of a text body joined by spaces (titles, table cells). */
static int body_flat(xmlNodePtr txbody, keep_buf *out)
{
    for (xmlNodePtr p = txbody ? txbody->children : NULL; p; p = p->next) {
        if (!ingest__ox_is(p, OX_A, "p"))
            continue;
        int rc = para_text(p, out);
        if (!rc && keep_buf_putc(out, ' '))
            rc = KEEP_ERR_NOMEM;
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

/* Writes a text body one line per paragraph; bullets become "- " and
 * automatic numbering "n. ", nested levels indented. Body placeholders
 * inherit bullets from the master unless a paragraph says buNone. */
static int body_lines(pptx *x, xmlNodePtr txbody, int implied_bullets)
{
    keep_buf line = {0};
    long counter[10] = {0};
    int rc = KEEP_OK;
    for (xmlNodePtr p = txbody ? txbody->children : NULL; p && !rc; p = p->next) {
        if (!ingest__ox_is(p, OX_A, "p"))
            continue;
        keep_buf_reset(&line);
        if ((rc = para_text(p, &line)))
            break;
        size_t i = skip_blanks(&line);
        if (i == line.len)
            continue;
        xmlNodePtr ppr = ingest__ox_child(p, OX_A, "pPr");
        long lvl = ingest__ox_attr_long(ppr, "", "lvl", 0, 8);
        int bullet = implied_bullets && !ingest__ox_child(ppr, OX_A, "buNone");
        if (ingest__ox_child(ppr, OX_A, "buChar"))
            bullet = 1;
        int numbered = ingest__ox_child(ppr, OX_A, "buAutoNum") != NULL;
        for (long l = lvl + 1; l < 10; l++)
            counter[l] = 0;
        for (long l = 0; l < lvl && !rc; l++)
            rc = ingest_doc_raw(x->doc, "  ", 2);
        if (!rc && numbered) {
            char m[32];
            snprintf(m, sizeof m, "%ld. ", ++counter[lvl]);
            rc = ingest_doc_puts(x->doc, m);
        } else if (!rc && bullet) {
            rc = ingest_doc_puts(x->doc, "- ");
        }
        if (!rc)
            rc = ingest_doc_text(x->doc, line.data + i, line.len - i);
        if (!rc)
            rc = ingest_doc_line(x->doc);
    }
    keep_buf_free(&line);
    if (!rc)
        rc = ingest_doc_para(x->doc);
    return rc;
}

static int table(pptx *x, xmlNodePtr tbl)
{
    ingest__table t;
    ingest__tab_init(&t, x->doc->max_text);
    keep_buf cell = {0};
    int rc = ingest_doc_para(x->doc);
    for (xmlNodePtr tr = tbl->children; tr && !rc; tr = tr->next) {
        if (!ingest__ox_is(tr, OX_A, "tr"))
            continue;
        size_t col = 0;
        for (xmlNodePtr tc = tr->children; tc && !rc; tc = tc->next) {
            if (!ingest__ox_is(tc, OX_A, "tc"))
                continue;
            long span = ingest__ox_attr_long(tc, "", "gridSpan", 1, INGEST_TAB_MAX_COLS);
            if (span < 1)
                span = 1;
            keep_buf_reset(&cell);
            if (!(rc = body_flat(ingest__ox_child(tc, OX_A, "txBody"), &cell)))
                rc = ingest__tab_cell(&t, col, (size_t)span, cell.data ? cell.data : "",
                                      cell.len);
            col += 1; /* merged cells still occupy their grid column */
        }
        if (!rc)
            rc = ingest__tab_row(&t, x->doc, NULL);
    }
    if (!rc)
        rc = ingest__tab_end(&t, x->doc);
    ingest__tab_free(&t);
    keep_buf_free(&cell);
    return rc;
}

/* SmartArt: the text lives in the diagram's data part, one point per
 * node; connector and presentation points carry none. */
static int diagram(pptx *x, xmlNodePtr relids)
{
    char id[256];
    if (!ingest__ox_attr(relids, OX_R, "dm", id, sizeof id))
        return KEEP_OK;
    const ingest__rel *r = ingest__rels_id(&x->rels, id);
    if (!r || !r->target)
        return KEEP_OK;
    xmlDocPtr dd = NULL;
    int rc = ingest__ox_load_opt(x->z, r->target, x->lim, &dd, x->err);
    if (rc || !dd)
        return rc;
    xmlNodePtr lst = ingest__ox_child(xmlDocGetRootElement(dd), NULL, "ptLst");
    keep_buf line = {0};
    char type[32];
    for (xmlNodePtr pt = lst ? lst->children : NULL; pt && !rc; pt = pt->next) {
        if (!ingest__ox_is(pt, NULL, "pt"))
            continue;
        if (ingest__ox_attr(pt, "", "type", type, sizeof type) && strcmp(type, "node") != 0)
            continue;
        keep_buf_reset(&line);
        if ((rc = body_flat(ingest__ox_child(pt, NULL, "t"), &line)))
            break;
        size_t i = skip_blanks(&line);
        if (i == line.len)
            continue;
        if (!(rc = ingest_doc_puts(x->doc, "- ")) &&
            !(rc = ingest_doc_text(x->doc, line.data + i, line.len - i)))
            rc = ingest_doc_line(x->doc);
    }
    keep_buf_free(&line);
    xmlFreeDoc(dd);
    if (!rc)
        rc = ingest_doc_para(x->doc);
    return rc;
}

/* Shapes of a tree in order. on_notes: a speaker-notes page, where only the
 * body and plain shapes carry text (not the slide image or page number). */
static int shapes(pptx *x, xmlNodePtr tree, int on_notes, unsigned depth)
{
    if (depth > PPTX_MAX_DEPTH)
        return KEEP_OK;
    char ph[64];
    for (xmlNodePtr c = tree ? tree->children : NULL; c; c = c->next) {
        int rc = KEEP_OK;
        if (ingest__ox_is(c, OX_P, "sp")) {
            const char *t = ph_type(c, ph, sizeof ph);
            if (is_title(t) && !on_notes)
                continue; /* already the slide heading */
            if (on_notes && t && *t && strcmp(t, "body") != 0)
                continue;
            int implied = !on_notes && t && (!*t || strcmp(t, "body") == 0 || strcmp(t, "obj") == 0);
            rc = body_lines(x, ingest__ox_child(c, OX_P, "txBody"), implied);
        } else if (ingest__ox_is(c, OX_P, "grpSp")) {
            rc = shapes(x, c, on_notes, depth + 1);
        } else if (ingest__ox_is(c, OX_P, "graphicFrame")) {
            xmlNodePtr gd = ingest__ox_child(ingest__ox_child(c, OX_A, "graphic"), OX_A,
                                             "graphicData");
            xmlNodePtr tbl = ingest__ox_child(gd, OX_A, "tbl");
            xmlNodePtr dgm = ingest__ox_child(gd, NULL, "relIds");
            if (tbl)
                rc = table(x, tbl);
            else if (dgm && !on_notes)
                rc = diagram(x, dgm);
        } else if (ingest__ox_is(c, OX_MC, "AlternateContent")) {
            xmlNodePtr ch = ingest__ox_child(c, OX_MC, "Choice");
            if (!ch)
                ch = ingest__ox_child(c, OX_MC, "Fallback");
            rc = shapes(x, ch, on_notes, depth + 1);
        }
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

/* The first title placeholder of the tree, searched through groups. */
static xmlNodePtr find_title(xmlNodePtr tree, unsigned depth)
{
    char ph[64];
    if (depth > PPTX_MAX_DEPTH)
        return NULL;
    for (xmlNodePtr c = tree ? tree->children : NULL; c; c = c->next) {
        if (ingest__ox_is(c, OX_P, "sp") && is_title(ph_type(c, ph, sizeof ph)))
            return c;
        if (ingest__ox_is(c, OX_P, "grpSp")) {
            xmlNodePtr t = find_title(c, depth + 1);
            if (t)
                return t;
        }
    }
    return NULL;
}

/* Flat text of what shapes() writes for a notes page, to know whether a
 * "Notes" heading is worth opening. */
static int notes_text(xmlNodePtr tree, keep_buf *out, unsigned depth)
{
    char ph[64];
    if (depth > PPTX_MAX_DEPTH)
        return KEEP_OK;
    for (xmlNodePtr c = tree ? tree->children : NULL; c; c = c->next) {
        int rc = KEEP_OK;
        if (ingest__ox_is(c, OX_P, "sp")) {
            const char *t = ph_type(c, ph, sizeof ph);
            if (!(t && *t && strcmp(t, "body") != 0))
                rc = body_flat(ingest__ox_child(c, OX_P, "txBody"), out);
        } else if (ingest__ox_is(c, OX_P, "grpSp")) {
            rc = notes_text(c, out, depth + 1);
        }
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

static int notes(pptx *x)
{
    int rc = KEEP_OK;
    const ingest__rel *r = ingest__rels_type(&x->rels, "notesSlide");
    xmlDocPtr nd = NULL;
    if (r) /* missing or broken notes: the slide still counts */
        rc = ingest__ox_load_opt(x->z, r->target, x->lim, &nd, x->err);
    if (nd && !rc) {
        xmlNodePtr tree = ingest__ox_child(
            ingest__ox_child(xmlDocGetRootElement(nd), OX_P, "cSld"), OX_P, "spTree");
        keep_buf probe = {0};
        rc = notes_text(tree, &probe, 0);
        int any = 0;
        for (size_t i = 0; i < probe.len; i++)
            any |= (unsigned char)probe.data[i] > ' ';
        keep_buf_free(&probe);
        if (!rc && any && !(rc = ingest_doc_heading(x->doc, 2, "Notes", 5)))
            rc = shapes(x, tree, 1, 0);
    }
    xmlFreeDoc(nd);
    return rc;
}

static int slide(pptx *x, const char *part, int n)
{
    xmlDocPtr sd = NULL;
    int rc = ingest__ox_load(x->z, part, x->lim, &sd, x->err);
    if (rc)
        return rc;
    xmlNodePtr tree = ingest__ox_child(
        ingest__ox_child(xmlDocGetRootElement(sd), OX_P, "cSld"), OX_P, "spTree");
    keep_buf h = {0};
    ingest__rels_free(&x->rels);
    if ((rc = ingest__rels_load(x->z, part, x->lim, &x->rels, x->err)))
        goto out;
    if ((rc = ingest_doc_slide(x->doc, n)))
        goto out;
    if (keep_buf_printf(&h, "Slide %d", n)) {
        rc = KEEP_ERR_NOMEM;
        goto out;
    }
    xmlNodePtr title = find_title(tree, 0);
    if (title) {
        keep_buf tt = {0};
        rc = body_flat(ingest__ox_child(title, OX_P, "txBody"), &tt);
        size_t mark = h.len;
        if (!rc && keep_buf_puts(&h, ": "))
            rc = KEEP_ERR_NOMEM;
        if (!rc && ingest__append_norm(&h, tt.data ? tt.data : "", tt.len))
            rc = KEEP_ERR_NOMEM;
        if (!rc && h.len == mark + 2) {
            h.len = mark; /* empty title */
            h.data[mark] = '\0';
        } else if (!rc) {
            /* no title in the document properties: the first slide title */
            rc = ingest_doc_title(x->doc, h.data + mark + 2, h.len - mark - 2, 0);
        }
        keep_buf_free(&tt);
        if (rc)
            goto out;
    }
    if ((rc = ingest_doc_heading(x->doc, 1, h.data, h.len)))
        goto out;
    if ((rc = shapes(x, tree, 0, 0)))
        goto out;
    rc = notes(x);
out:
    keep_buf_free(&h);
    xmlFreeDoc(sd);
    return rc;
}

int ingest_parse_pptx(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                      keep_err *err)
{
    pptx x = {NULL, lim, doc, err, {NULL, 0}};
    char *main_part = NULL;
    xmlDocPtr pd = NULL;
    ingest__rels rels = {0};
    char **parts = NULL;
    size_t n_parts = 0;
    keep_err_clear(err);
    int rc = ingest__zip_open(data, len, lim, &x.z, err);
    if (rc)
        return rc;
    if ((rc = ingest__ooxml_main(x.z, lim, "ppt/presentation.xml", &main_part, doc, err)))
        goto out;
    if ((rc = ingest__rels_load(x.z, main_part, lim, &rels, err)))
        goto out;
    if ((rc = ingest__ox_load(x.z, main_part, lim, &pd, err)))
        goto out;
    xmlNodePtr lst = ingest__ox_child(xmlDocGetRootElement(pd), OX_P, "sldIdLst");
    size_t cap = 0;
    for (xmlNodePtr c = lst ? lst->children : NULL; c; c = c->next)
        cap += ingest__ox_is(c, OX_P, "sldId");
    if (lim && lim->max_pages && cap > lim->max_pages) {
        rc = keep_err_set(err, KEEP_ERR_TOOBIG, "presentation lists %zu slides (limit %u)", cap,
                          lim->max_pages);
        goto out;
    }
    if (cap) {
        if (!(parts = keep_calloc(cap, sizeof *parts))) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
            goto out;
        }
        char id[256];
        for (xmlNodePtr c = lst->children; c; c = c->next) {
            if (!ingest__ox_is(c, OX_P, "sldId") || !ingest__ox_attr(c, OX_R, "id", id, sizeof id))
                continue;
            const ingest__rel *r = ingest__rels_id(&rels, id);
            if (!r || !r->target || strcmp(r->type, "slide") != 0)
                continue;
            if (!(parts[n_parts] = keep_strdup(r->target))) {
                rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
                goto out;
            }
            n_parts++;
        }
    } else {
        /* no slide list (hand-made files): fall back to numeric name order */
        if ((rc = ingest__zip_list_numbered(x.z, "ppt/slides/slide", ".xml", &parts, &n_parts,
                                            err)))
            goto out;
    }
    if (lim && lim->max_pages && n_parts > lim->max_pages) {
        rc = keep_err_set(err, KEEP_ERR_TOOBIG, "presentation has %zu slides (limit %u)",
                          n_parts, lim->max_pages);
        goto out;
    }
    for (size_t i = 0; i < n_parts && !rc; i++)
        rc = slide(&x, parts[i], (int)i + 1);
out:
    rc = ingest__office_done(rc, doc, err);
    ingest__zip_names_free(parts, n_parts);
    ingest__rels_free(&x.rels);
    xmlFreeDoc(pd);
    ingest__rels_free(&rels);
    keep_free(main_part);
    ingest__zip_close(x.z);
    return rc;
}
