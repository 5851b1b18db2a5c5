/* parse_xlsx.c — Excel (.xlsx) to structured text.
 *
 * Sheets are read in workbook order (xl/workbook.xml <sheets> through its
 * relationships), each opening a sheet span and a heading with its name.
 * Rows are written with their header names ("Item: Lamp; Qty: 4"), the
 * first non-empty row being the header. Values are what Excel stored:
 * shared and inline strings, numbers as written, the cached result <v> of
 * formulas (never the formula), TRUE/FALSE for booleans, error codes as
 * is; numbers whose cell style is a date or time format are shown as ISO
 * dates, because a serial like 45366 answers no question. Cells are placed
 * by their reference (B7 -> column 1) so sparse rows keep their headers. */
#include <stdlib.h>
#include <string.h>

#include "office_util.h"
#include "parse_office.h"

typedef struct xlsx {
    ingest_zip *z;
    const ingest_limits *lim;
    ingest_doc *doc;
    keep_err *err;
    keep_buf sst_text;
    size_t *sst_off; /* offsets into sst_text, n_sst + 1 entries */
    size_t n_sst;
    unsigned char *xf_kind; /* per cellXfs index: 0 number, 1 date, 2 time, 3 datetime */
    size_t n_xf;
    int date1904;
    size_t cells; /* rendered so far, against INGEST_SHEET_MAX_CELLS */
    int truncated;
} xlsx;

/* Text of a string item (<si> or <is>): <t> and rich-text runs <r><t>,
 * without phonetic guides (<rPh>). */
static int string_item(xmlNodePtr si, keep_buf *out)
{
    for (xmlNodePtr c = si ? si->children : NULL; c; c = c->next) {
        int rc = KEEP_OK;
        if (ingest__ox_is(c, OX_S, "t"))
            rc = ingest__ox_text(c, out);
        else if (ingest__ox_is(c, OX_S, "r"))
            rc = ingest__ox_text(ingest__ox_child(c, OX_S, "t"), out);
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

static int load_sst(xlsx *x, const char *part)
{
    xmlDocPtr d = NULL;
    int rc = ingest__ox_load(x->z, part, x->lim, &d, x->err);
    if (rc == KEEP_ERR_NOTFOUND) {
        keep_err_clear(x->err);
        return KEEP_OK;
    }
    if (rc)
        return rc;
    xmlNodePtr root = xmlDocGetRootElement(d);
    size_t n = 0;
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next)
        n += ingest__ox_is(c, OX_S, "si");
    if (!(x->sst_off = keep_calloc(n + 1, sizeof *x->sst_off))) {
        rc = keep_err_set(x->err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (xmlNodePtr c = root ? root->children : NULL; c && !rc; c = c->next) {
        if (!ingest__ox_is(c, OX_S, "si"))
            continue;
        x->sst_off[x->n_sst++] = x->sst_text.len;
        if (string_item(c, &x->sst_text))
            rc = keep_err_set(x->err, KEEP_ERR_NOMEM, "out of memory");
    }
    x->sst_off[x->n_sst] = x->sst_text.len;
out:
    xmlFreeDoc(d);
    return rc;
}

/* Kind of a number format: 0 plain, 1 date, 2 time, 3 date and time. */
static unsigned char format_kind(long id, const char *code)
{
    if (!code) {
        if ((id >= 14 && id <= 17) || id == 22 || (id >= 27 && id <= 36) ||
            (id >= 50 && id <= 58))
            return id == 22 ? 3 : 1;
        if ((id >= 18 && id <= 21) || (id >= 45 && id <= 47))
            return 2;
        return 0;
    }
    int date = 0, time = 0;
    for (const char *p = code; *p; p++) {
        if (*p == '"') { /* literal text */
            p++;
            while (*p && *p != '"')
                p++;
            if (!*p)
                break;
            continue;
        }
        if (*p == '[') { /* colour, locale, elapsed-time brackets */
            if (p[1] == 'h' || p[1] == 'm' || p[1] == 's')
                time = 1;
            while (*p && *p != ']')
                p++;
            if (!*p)
                break;
            continue;
        }
        if (*p == '\\' || *p == '_' || *p == '*') {
            if (!p[1])
                break;
            p++;
            continue;
        }
        int c = *p | 32;
        if (c == 'y' || c == 'd')
            date = 1;
        else if (c == 'h' || c == 's')
            time = 1;
    }
    return (unsigned char)(date && time ? 3 : date ? 1 : time ? 2 : 0);
}

typedef struct fmt_kind {
    long id;
    unsigned char kind;
} fmt_kind;

static int fmt_cmp(const void *a, const void *b)
{
    long x = ((const fmt_kind *)a)->id, y = ((const fmt_kind *)b)->id;
    return x < y ? -1 : x > y;
}

static int load_styles(xlsx *x, const char *part)
{
    xmlDocPtr d = NULL;
    keep_err e = {0};
    int rc = ingest__ox_load(x->z, part, x->lim, &d, &e);
    if (rc)
        return rc == KEEP_ERR_NOMEM || rc == KEEP_ERR_TOOBIG ? keep_err_set(x->err, rc, "%s", e.msg)
                                                           : KEEP_OK;
    xmlNodePtr root = xmlDocGetRootElement(d);
    xmlNodePtr fmts = ingest__ox_child(root, OX_S, "numFmts");
    xmlNodePtr xfs = ingest__ox_child(root, OX_S, "cellXfs");
    size_t n = 0;
    for (xmlNodePtr c = xfs ? xfs->children : NULL; c; c = c->next)
        n += ingest__ox_is(c, OX_S, "xf");
    if (n && !(x->xf_kind = keep_calloc(n, 1))) {
        rc = keep_err_set(x->err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* custom formats first, sorted, so each xf finds its format in log time */
    size_t nf = 0;
    for (xmlNodePtr f = fmts ? fmts->children : NULL; f; f = f->next)
        nf += ingest__ox_is(f, OX_S, "numFmt");
    fmt_kind *fk = nf ? keep_calloc(nf, sizeof *fk) : NULL;
    if (nf && !fk) {
        rc = keep_err_set(x->err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t k = 0;
    char code[256];
    for (xmlNodePtr f = fmts ? fmts->children : NULL; f; f = f->next) {
        if (!ingest__ox_is(f, OX_S, "numFmt"))
            continue;
        fk[k].id = ingest__ox_attr_long(f, "", "numFmtId", -1, 1L << 30);
        const char *fc = ingest__ox_attr(f, "", "formatCode", code, sizeof code);
        fk[k].kind = fc ? format_kind(fk[k].id, fc) : 0;
        k++;
    }
    if (k > 1)
        qsort(fk, k, sizeof *fk, fmt_cmp);
    for (xmlNodePtr c = xfs ? xfs->children : NULL; c; c = c->next) {
        if (!ingest__ox_is(c, OX_S, "xf"))
            continue;
        fmt_kind key = {ingest__ox_attr_long(c, "", "numFmtId", 0, 1L << 30), 0};
        const fmt_kind *hit = k ? bsearch(&key, fk, k, sizeof *fk, fmt_cmp) : NULL;
        /* a custom code overrides a built-in id */
        x->xf_kind[x->n_xf++] = hit ? hit->kind : format_kind(key.id, NULL);
    }
    keep_free(fk);
out:
    xmlFreeDoc(d);
    return rc;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil(long long z, long long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

/* A serial date as ISO text; 0 when the value is not a plausible date. */
static int serial_to_iso(const xlsx *x, const char *v, unsigned char kind, char *out, size_t cap)
{
    char *end;
    double s = strtod(v, &end);
    if (end == v || *end || !(s >= 0 && s < 2958466)) /* up to 9999-12-31 */
        return 0;
    long long days = (long long)s;
    double frac = s - (double)days;
    long long secs = (long long)(frac * 86400.0 + 0.5);
    if (secs >= 86400) {
        days++;
        secs -= 86400;
    }
    /* 1900 system: serial 1 is 1900-01-01 and Excel counts a fake 1900-02-29,
     * so from serial 61 on the epoch is 1899-12-30 */
    long long unix_days;
    if (x->date1904)
        unix_days = days - 24107;
    else
        unix_days = days >= 61 ? days - 25569 : days - 25568;
    long long y;
    unsigned mo, d;
    civil(unix_days, &y, &mo, &d);
    unsigned hh = (unsigned)(secs / 3600), mm = (unsigned)(secs / 60 % 60), ss = (unsigned)(secs % 60);
    if (kind == 2)
        snprintf(out, cap, "%02u:%02u:%02u", hh, mm, ss);
    else if (kind == 3)
        snprintf(out, cap, "%04lld-%02u-%02u %02u:%02u:%02u", y, mo, d, hh, mm, ss);
    else
        snprintf(out, cap, "%04lld-%02u-%02u", y, mo, d);
    return 1;
}

/* "BC12" -> column 54 (0-based); -1 when not a reference. */
static long ref_col(const char *r)
{
    long col = 0;
    int n = 0;
    while ((*r >= 'A' && *r <= 'Z') || (*r >= 'a' && *r <= 'z')) {
        col = col * 26 + ((*r | 32) - 'a' + 1);
        if (++n > 3)
            return -1;
        r++;
    }
    return n ? col - 1 : -1;
}

/* Appends the value of a cell to out as the user sees it. */
static int cell_value(xlsx *x, xmlNodePtr c, keep_buf *out)
{
    char type[16];
    if (!ingest__ox_attr(c, "", "t", type, sizeof type))
        type[0] = '\0';
    if (strcmp(type, "inlineStr") == 0)
        return string_item(ingest__ox_child(c, OX_S, "is"), out);
    xmlNodePtr v = ingest__ox_child(c, OX_S, "v");
    if (!v)
        return KEEP_OK;
    keep_buf raw = {0};
    int rc = ingest__ox_text(v, &raw);
    if (rc || !raw.len)
        goto out;
    if (strcmp(type, "s") == 0) {
        char *end;
        long i = strtol(raw.data, &end, 10);
        if (end != raw.data && i >= 0 && (size_t)i < x->n_sst)
            rc = keep_buf_append(out, x->sst_text.data + x->sst_off[i],
                                 x->sst_off[i + 1] - x->sst_off[i]);
    } else if (strcmp(type, "b") == 0) {
        rc = keep_buf_puts(out, strcmp(raw.data, "0") == 0 ? "FALSE" : "TRUE");
    } else if (type[0] == '\0' || strcmp(type, "n") == 0) {
        long s = ingest__ox_attr_long(c, "", "s", 0, 1L << 30);
        char iso[48];
        if (s >= 0 && (size_t)s < x->n_xf && x->xf_kind[s] &&
            serial_to_iso(x, raw.data, x->xf_kind[s], iso, sizeof iso))
            rc = keep_buf_puts(out, iso);
        else
            rc = keep_buf_append(out, raw.data, raw.len);
    } else {
        rc = keep_buf_append(out, raw.data, raw.len); /* str, e, d: stored text */
    }
out:
    keep_buf_free(&raw);
    return rc;
}

static int sheet(xlsx *x, const char *name, const char *part)
{
    xmlDocPtr d = NULL;
    int rc = ingest__ox_load(x->z, part, x->lim, &d, x->err);
    if (rc)
        return rc;
    ingest__table t;
    ingest__tab_init(&t, x->doc->max_text);
    keep_buf val = {0};
    if ((rc = ingest_doc_sheet(x->doc, name)) ||
        (rc = ingest_doc_heading(x->doc, 1, name, strlen(name))))
        goto out;
    xmlNodePtr data = ingest__ox_child(xmlDocGetRootElement(d), OX_S, "sheetData");
    for (xmlNodePtr row = data ? data->children : NULL; row && !rc; row = row->next) {
        if (!ingest__ox_is(row, OX_S, "row"))
            continue;
        long prev = -1;
        char ref[32];
        for (xmlNodePtr c = row->children; c && !rc; c = c->next) {
            if (!ingest__ox_is(c, OX_S, "c"))
                continue;
            long col = ingest__ox_attr(c, "", "r", ref, sizeof ref) ? ref_col(ref) : -1;
            if (col < 0)
                col = prev + 1;
            if (col <= prev || (size_t)col >= INGEST_TAB_MAX_COLS)
                continue; /* out of order: the header mapping needs increasing columns */
            prev = col;
            if (x->cells >= INGEST_SHEET_MAX_CELLS) {
                x->truncated = 1;
                goto out;
            }
            keep_buf_reset(&val);
            if ((rc = cell_value(x, c, &val)))
                break;
            if (val.len) {
                x->cells++;
                rc = ingest__tab_cell(&t, (size_t)col, 1, val.data, val.len);
            }
        }
        if (!rc)
            rc = ingest__tab_row(&t, x->doc, NULL);
    }
out:
    if (!rc)
        rc = ingest__tab_end(&t, x->doc);
    ingest__tab_free(&t);
    keep_buf_free(&val);
    xmlFreeDoc(d);
    return rc;
}

int ingest_parse_xlsx(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                      keep_err *err)
{
    xlsx x;
    memset(&x, 0, sizeof x);
    x.lim = lim;
    x.doc = doc;
    x.err = err;
    char *main_part = NULL;
    xmlDocPtr wb = NULL;
    ingest__rels rels = {0};
    keep_err_clear(err);
    int rc = ingest__zip_open(data, len, lim, &x.z, err);
    if (rc)
        return rc;
    if ((rc = ingest__ooxml_main(x.z, lim, "xl/workbook.xml", &main_part, doc, err)))
        goto out;
    if ((rc = ingest__rels_load(x.z, main_part, lim, &rels, err)))
        goto out;
    const ingest__rel *r;
    if ((r = ingest__rels_type(&rels, "sharedStrings")) && (rc = load_sst(&x, r->target)))
        goto out;
    if ((r = ingest__rels_type(&rels, "styles")) && (rc = load_styles(&x, r->target)))
        goto out;
    if ((rc = ingest__ox_load(x.z, main_part, lim, &wb, err)))
        goto out;
    xmlNodePtr root = xmlDocGetRootElement(wb);
    char flag[16];
    xmlNodePtr pr = ingest__ox_child(root, OX_S, "workbookPr");
    x.date1904 = ingest__ox_attr(pr, "", "date1904", flag, sizeof flag) &&
                 (strcmp(flag, "1") == 0 || strcmp(flag, "true") == 0);
    xmlNodePtr sheets = ingest__ox_child(root, OX_S, "sheets");
    unsigned count = 0;
    char name[512], id[256];
    for (xmlNodePtr s = sheets ? sheets->children : NULL; s && !rc; s = s->next) {
        if (!ingest__ox_is(s, OX_S, "sheet") || !ingest__ox_attr(s, OX_R, "id", id, sizeof id))
            continue;
        r = ingest__rels_id(&rels, id);
        if (!r || !r->target || strcmp(r->type, "worksheet") != 0)
            continue; /* chart and dialog sheets hold no cells */
        if (lim && lim->max_pages && ++count > lim->max_pages) {
            rc = keep_err_set(err, KEEP_ERR_TOOBIG, "workbook has more than %u sheets",
                              lim->max_pages);
            break;
        }
        if (!ingest__ox_attr(s, "", "name", name, sizeof name))
            snprintf(name, sizeof name, "Sheet%u", count);
        rc = sheet(&x, name, r->target);
    }
    if (!rc && x.truncated) {
        char m[96];
        snprintf(m, sizeof m, "sheets cut after %u cells", INGEST_SHEET_MAX_CELLS);
        rc = ingest_doc_meta(doc, "Truncated", m);
    }
out:
    rc = ingest__office_done(rc, doc, err);
    xmlFreeDoc(wb);
    keep_buf_free(&x.sst_text);
    keep_free(x.sst_off);
    keep_free(x.xf_kind);
    ingest__rels_free(&rels);
    keep_free(main_part);
    ingest__zip_close(x.z);
    return rc;
}
