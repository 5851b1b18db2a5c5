/* parse_xlsx.c — Excel (.xlsx) to structured text.
 *
 * Sheets are read in workbook order (xl/workbook.xml <sheets> through its
 * relationships), each opening a sheet span and a heading with its name.
 * Rows are written with their header names ("Item: Lamp; Qty: 4"), the
 * first non-empty row being the header. Values are what Excel stored:
 * shared and inline strings, numbers as written, the cached result <v> of
 * formulas (never the formula), TRUE/FALSE for booleans, error codes as
 * is; numbers whose cell style is a date or time format are shown as ISO
 * dates, because a serial like 45366 answers no question; other numbers are
 * shown through their number format as Excel shows them with an English
 * locale (7.9 in "0.00" is 7.90, "#,##0" gives 1,234, "0%" 13%, currency
 * symbols and quoted text kept, a negative section's parentheses), so the
 * text says what the reader of the sheet saw. Cells are placed
 * by their reference (B7 -> column 1) so sparse rows keep their headers. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "office_util.h"
#include "parse_office.h"

/* What a cell style says about its number: kind 0 number, 1 date, 2 time,
 * 3 date and time; code: offset + 1 of a custom format code in codes, 0 for
 * the built-in format id. */
struct xf {
    unsigned char kind;
    size_t code;
    long id;
};

typedef struct xlsx {
    ingest_zip *z;
    const ingest_limits *lim;
    ingest_doc *doc;
    keep_err *err;
    keep_buf sst_text;
    size_t *sst_off; /* offsets into sst_text, n_sst + 1 entries */
    size_t n_sst;
    struct xf *xf; /* per cellXfs index */
    size_t n_xf;
    keep_buf codes; /* custom number format codes, NUL-separated */
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
    size_t code; /* offset + 1 in xlsx.codes */
} fmt_kind;

static int fmt_cmp(const void *a, const void *b)
{
    long x = ((const fmt_kind *)a)->id, y = ((const fmt_kind *)b)->id;
    return x < y ? -1 : x > y;
}

static int load_styles(xlsx *x, const char *part)
{
    xmlDocPtr d = NULL;
    int rc = ingest__ox_load_opt(x->z, part, x->lim, &d, x->err);
    if (rc || !d)
        return rc;
    xmlNodePtr root = xmlDocGetRootElement(d);
    xmlNodePtr fmts = ingest__ox_child(root, OX_S, "numFmts");
    xmlNodePtr xfs = ingest__ox_child(root, OX_S, "cellXfs");
    size_t n = 0;
    for (xmlNodePtr c = xfs ? xfs->children : NULL; c; c = c->next)
        n += ingest__ox_is(c, OX_S, "xf");
    if (n && !(x->xf = keep_calloc(n, sizeof *x->xf))) {
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
        if (fc) {
            fk[k].code = x->codes.len + 1;
            if (keep_buf_append(&x->codes, fc, strlen(fc) + 1)) {
                keep_free(fk);
                rc = keep_err_set(x->err, KEEP_ERR_NOMEM, "out of memory");
                goto out;
            }
        }
        k++;
    }
    if (k > 1)
        qsort(fk, k, sizeof *fk, fmt_cmp);
    for (xmlNodePtr c = xfs ? xfs->children : NULL; c; c = c->next) {
        if (!ingest__ox_is(c, OX_S, "xf"))
            continue;
        fmt_kind key = {ingest__ox_attr_long(c, "", "numFmtId", 0, 1L << 30), 0, 0};
        const fmt_kind *hit = k ? bsearch(&key, fk, k, sizeof *fk, fmt_cmp) : NULL;
        /* a custom code overrides a built-in id */
        struct xf *xe = &x->xf[x->n_xf++];
        xe->id = key.id;
        xe->kind = hit ? hit->kind : format_kind(key.id, NULL);
        xe->code = hit ? hit->code : 0;
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

/* ---- number formats ------------------------------------------------------------- */

/* Built-in number formats of ECMA-376 18.8.30 that are not dates. Ids 5-8
 * and 37-44 are currency and accounting formats whose symbol depends on the
 * reader's locale, which the file does not name: shown without a symbol. */
static const char *builtin_code(long id)
{
    switch (id) {
    case 1: return "0";
    case 2: return "0.00";
    case 3: return "#,##0";
    case 4: return "#,##0.00";
    case 5: case 6: return "#,##0;-#,##0";
    case 7: case 8: return "#,##0.00;-#,##0.00";
    case 9: return "0%";
    case 10: return "0.00%";
    case 11: return "0.00E+00";
    case 37: case 38: return "#,##0;(#,##0)";
    case 39: case 40: return "#,##0.00;(#,##0.00)";
    case 41: case 42: return "#,##0;(#,##0);\"-\"";
    case 43: case 44: return "#,##0.00;(#,##0.00);\"-\"";
    case 48: return "##0.0E+0";
    default: return NULL; /* General (0), text (49), dates and times */
    }
}

/* Output of one rendering: bounded, never allocated. */
typedef struct nf_out {
    char s[512];
    size_t n;
    int full;
} nf_out;

static void nf_put(nf_out *o, const char *s, size_t n)
{
    if (n >= sizeof o->s - o->n) {
        o->full = 1;
        return;
    }
    memcpy(o->s + o->n, s, n);
    o->n += n;
    o->s[o->n] = '\0';
}

/* Length of the UTF-8 sequence starting at p (1 on a stray byte). */
static size_t u8len(const char *p)
{
    size_t n = 1;
    while (n < 4 && ((unsigned char)p[n] & 0xC0) == 0x80)
        n++;
    return n;
}

/* a >= 0 as decimal digits rounded half away from zero at dec decimals, after
 * rounding to 15 significant digits as Excel does (so 1.005 shows 1.01, not
 * the 1.00 of its binary value). ip gets the integer digits ("0" when none),
 * fp exactly dec digits. 0 when a is too large to show digit by digit. */
static int nf_digits(double a, int dec, char ip[24], char fp[40])
{
    char e[40], dig[20];
    int nd = 0;
    snprintf(e, sizeof e, "%.14e", a);
    const char *p = e;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < 15)
            dig[nd++] = *p;
    if (*p != 'e' || nd != 15 || dec < 0 || dec > 30)
        return 0;
    long ex = strtol(p + 1, NULL, 10);
    if (ex > 15)
        return 0;
    if (ex < -60)
        ex = -60;
    int ni = ex >= 0 ? (int)ex + 1 : 0; /* integer digits */
    char s[64];
    int n = 0;
    for (int k = 0; k < ni + dec + 1; k++) {
        long at = k - (ni - 1 - ex); /* digit k of s is dig[at] */
        s[n++] = at >= 0 && at < nd ? dig[at] : '0';
    }
    int round_up = s[--n] >= '5';
    for (int k = n - 1; round_up && k >= 0; k--) {
        if (s[k] == '9') {
            s[k] = '0';
        } else {
            s[k]++;
            round_up = 0;
        }
    }
    size_t o = 0;
    if (round_up)
        ip[o++] = '1';
    int k = 0;
    while (k < ni - 1 && s[k] == '0' && !round_up)
        k++; /* leading zeros */
    for (; k < ni; k++)
        ip[o++] = s[k];
    if (!o)
        ip[o++] = '0';
    ip[o] = '\0';
    memcpy(fp, s + ni, (size_t)dec);
    fp[dec] = '\0';
    return 1;
}

/* The digits of a >= 0 for the digit pattern pat (placeholders 0 # ?, a
 * decimal point, thousands and scaling commas, an exponent). 0 when the
 * pattern is one Keep does not render (fractions, engineering notation). */
static int nf_number(double a, const char *pat, size_t len, nf_out *o)
{
    int min_int = 0, n_int = 0, point = 0, dec_min = 0, dec_max = 0, group = 0, scale = 0;
    int exp_digits = -1, exp_plus = 0;
    for (size_t i = 0; i < len; i++) {
        char c = pat[i];
        if (c == 'E' || c == 'e') {
            exp_plus = pat[i + 1] == '+';
            exp_digits = 0;
            for (i += 2; i < len; i++)
                exp_digits += pat[i] == '0';
            break;
        }
        if (c == '.') {
            point = 1;
        } else if (c == ',') {
            size_t j = i + 1;
            while (j < len && pat[j] == ',')
                j++;
            if (j < len && (pat[j] == '0' || pat[j] == '#' || pat[j] == '?') && !point)
                group = 1; /* between digits: thousands separator */
            else if (j >= len || pat[j] == '.' || pat[j] == 'E' || pat[j] == 'e')
                scale += (int)(j - i); /* after the digits: divide by 1000 each */
            i = j - 1;
        } else if (point) {
            dec_max++;
            if (c == '0')
                dec_min = dec_max;
        } else {
            n_int++;
            min_int += c == '0';
        }
    }
    for (int k = 0; k < scale && k < 8; k++)
        a /= 1000.0;
    char ip[24], fp[40], buf[96];
    if (exp_digits >= 0) {
        if (n_int != 1 || dec_max > 20)
            return 0; /* engineering notation (##0.0E+0) */
        char e[64];
        snprintf(e, sizeof e, "%.*e", dec_max, a);
        char *ep = strchr(e, 'e');
        if (!ep)
            return 0;
        long x = strtol(ep + 1, NULL, 10);
        *ep = '\0';
        if (exp_digits < 1)
            exp_digits = 1;
        if (exp_digits > 4)
            exp_digits = 4;
        snprintf(buf, sizeof buf, "%.40sE%s%0*ld", e, x < 0 ? "-" : exp_plus ? "+" : "",
                 exp_digits, x < 0 ? -x : x);
        nf_put(o, buf, strlen(buf));
        return 1;
    }
    if (!nf_digits(a, dec_max, ip, fp))
        return 0;
    while (dec_max > dec_min && fp[dec_max - 1] == '0')
        fp[--dec_max] = '\0';
    size_t il = strlen(ip);
    if (il == 1 && ip[0] == '0' && min_int == 0)
        il = 0; /* "#.00" shows .50 */
    size_t b = 0;
    for (int k = (int)il; k < min_int && b < 16; k++)
        buf[b++] = '0';
    for (size_t k = 0; k < il; k++) {
        buf[b++] = ip[k];
        if (group && (il - k - 1) % 3 == 0 && k + 1 < il)
            buf[b++] = ',';
    }
    if (point)
        buf[b++] = '.';
    memcpy(buf + b, fp, (size_t)dec_max);
    b += (size_t)dec_max;
    nf_put(o, buf, b);
    return 1;
}

static int is_digit_ph(char c)
{
    return c == '0' || c == '#' || c == '?';
}

/* Renders number v (stored as text raw) with an Excel format code as Excel
 * shows it with an English locale: sections pos;neg;zero;text, literal text
 * in quotes or after a backslash, [$sym-locale] currency, colours dropped,
 * padding (_x) and fill (*x) dropped, %, thousands separators and scaling
 * commas, fixed and optional decimals, scientific notation. 0 when the code
 * is one Keep does not render (conditions, fractions): the caller shows raw. */
static int numfmt_render(const char *code, const char *raw, double v, nf_out *o)
{
    const char *sec[4];
    size_t sl[4], ns = 0;
    const char *start = code, *p = code;
    for (;; p++) {
        if (*p == '"') {
            while (p[1] && p[1] != '"')
                p++;
            if (!p[1])
                return 0;
            p++;
        } else if (*p == '\\' || *p == '_' || *p == '*') {
            if (!p[1])
                return 0;
            p++;
        } else if (*p == '[') {
            if (p[1] == '<' || p[1] == '>' || p[1] == '=')
                return 0; /* conditional sections */
            while (*p && *p != ']')
                p++;
            if (!*p)
                return 0;
        } else if (*p == ';' || !*p) {
            if (ns == 4)
                return 0;
            sec[ns] = start;
            sl[ns++] = (size_t)(p - start);
            if (!*p)
                break;
            start = p + 1;
        }
    }
    size_t si = 0;
    int minus = 0;
    if (v < 0 && ns >= 2)
        si = 1;
    else if (v == 0 && ns >= 3)
        si = 2;
    else if (v < 0)
        minus = 1;
    double a = v < 0 ? -v : v;
    const char *s = sec[si], *end = sec[si] + sl[si];
    /* percent signs scale the value before any digit is written */
    for (const char *q = s; q < end; q++) {
        if (*q == '"') {
            q++;
            while (q < end && *q != '"')
                q++;
        } else if (*q == '\\' || *q == '_' || *q == '*') {
            q++;
        } else if (*q == '[') {
            while (q < end && *q != ']')
                q++;
        } else if (*q == '%') {
            a *= 100.0;
        }
    }
    nf_out body = {{0}, 0, 0};
    int number_done = 0;
    for (const char *q = s; q < end && !body.full;) {
        if (*q == '"') {
            const char *t = ++q;
            while (q < end && *q != '"')
                q++;
            nf_put(&body, t, (size_t)(q - t));
            q++;
        } else if (*q == '\\') {
            size_t n = u8len(q + 1);
            nf_put(&body, q + 1, n);
            q += 1 + n;
        } else if (*q == '_' || *q == '*') {
            q += 1 + u8len(q + 1);
        } else if (*q == '[') {
            const char *t = ++q;
            while (q < end && *q != ']')
                q++;
            if (*t == '$') { /* [$€-407]: the symbol before the locale id */
                const char *d = ++t;
                while (d < q && *d != '-')
                    d++;
                nf_put(&body, t, (size_t)(d - t));
            }
            q++;
        } else if ((size_t)(end - q) >= 7 && strncasecmp(q, "General", 7) == 0) {
            if (number_done)
                return 0;
            number_done = 1;
            if (minus || v >= 0 || raw[0] != '-')
                nf_put(&body, raw, strlen(raw));
            else
                nf_put(&body, raw + 1, strlen(raw + 1));
            minus = 0; /* General writes its own sign */
            q += 7;
        } else if (is_digit_ph(*q) || (*q == '.' && q + 1 < end && is_digit_ph(q[1]))) {
            if (number_done)
                return 0; /* digits split by text: fractions, phone numbers */
            number_done = 1;
            const char *t = q;
            while (q < end && (is_digit_ph(*q) || *q == '.' || *q == ','))
                q++;
            if (q + 1 < end && (*q == 'E' || *q == 'e') && (q[1] == '+' || q[1] == '-')) {
                q += 2;
                while (q < end && is_digit_ph(*q))
                    q++;
            }
            if (!nf_number(a, t, (size_t)(q - t), &body))
                return 0;
        } else if (*q == '@') {
            return 0; /* text placeholder in a number section */
        } else {
            size_t n = u8len(q);
            nf_put(&body, q, n);
            q += n;
        }
    }
    if (body.full)
        return 0;
    /* no minus when every shown digit is zero */
    int nonzero = 0;
    for (size_t i = 0; i < body.n; i++)
        nonzero |= body.s[i] >= '1' && body.s[i] <= '9';
    const char *b = body.s;
    size_t n = body.n;
    while (n && *b == ' ')
        b++, n--;
    while (n && b[n - 1] == ' ')
        n--;
    if (!n || !number_done)
        return 0; /* hidden (;;;) or all text: raw is more useful */
    if (minus && nonzero)
        nf_put(o, "-", 1);
    nf_put(o, b, n);
    return !o->full;
}

/* raw without the binary noise of a double written with 17 digits
 * ("0.30000000000000004" is 0.3, as Excel shows it: 15 significant digits
 * at most); raw itself when it has 15 or fewer or is not a number. */
static const char *general_text(const char *raw, char *buf, size_t cap)
{
    int sig = 0, lead = 1;
    const char *p = raw;
    if (*p == '-' || *p == '+')
        p++;
    for (; *p && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.')
            continue;
        if (*p < '0' || *p > '9')
            return raw;
        if (*p != '0')
            lead = 0;
        sig += !lead;
    }
    if (sig <= 15)
        return raw;
    char *end;
    double v = strtod(raw, &end);
    if (end == raw || *end || v != v)
        return raw;
    snprintf(buf, cap, "%.15g", v);
    return buf;
}

/* Appends number raw as its cell style shows it. */
static int number_value(const xlsx *x, long s, const char *raw, keep_buf *out)
{
    char iso[48], g[40];
    const char *shown = general_text(raw, g, sizeof g);
    if (s < 0 || (size_t)s >= x->n_xf)
        return keep_buf_puts(out, shown);
    const struct xf *f = &x->xf[s];
    if (f->kind)
        return keep_buf_puts(out, serial_to_iso(x, raw, f->kind, iso, sizeof iso) ? iso : shown);
    const char *code = f->code ? x->codes.data + f->code - 1 : builtin_code(f->id);
    char *end;
    double v = code ? strtod(raw, &end) : 0;
    nf_out o = {{0}, 0, 0};
    if (code && end != raw && !*end && v == v && numfmt_render(code, shown, v, &o))
        return keep_buf_append(out, o.s, o.n);
    return keep_buf_puts(out, shown);
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
        rc = number_value(x, ingest__ox_attr_long(c, "", "s", 0, 1L << 30), raw.data, out);
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
    keep_free(x.xf);
    keep_buf_free(&x.codes);
    ingest__rels_free(&rels);
    keep_free(main_part);
    ingest__zip_close(x.z);
    return rc;
}
