/* parse_csv.c — CSV/TSV reader: dialect sniffing, header detection and the
 * "Header: value; ..." rendering described in parse_csv.h. */
#include "parse_csv.h"

#include <string.h>

#include "encoding.h"

#define SNIFF_BYTES ((size_t)65536)
#define SNIFF_RECORDS 32
#define MAX_HEADER_CELL 200

typedef struct {
    const char *p;
    size_t len, pos;
    char delim;
    int quotes; /* 0 once a quote was found never to close */
} csv_reader;

/* One record: field texts packed in `data`, field i at off[i], length n[i]. */
typedef struct {
    keep_buf data;
    size_t *off, *n;
    size_t count, cap;
    size_t dropped; /* fields past INGEST_CSV_MAX_FIELDS */
} csv_record;

static void record_free(csv_record *r)
{
    keep_buf_free(&r->data);
    keep_free(r->off);
    keep_free(r->n);
    memset(r, 0, sizeof *r);
}

static int record_add(csv_record *r, size_t off, size_t n)
{
    if (r->count == INGEST_CSV_MAX_FIELDS) {
        r->dropped++;
        r->data.len = off; /* forget its bytes too */
        if (r->data.data)
            r->data.data[off] = '\0';
        return KEEP_OK;
    }
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        size_t *o = keep_reallocarray(r->off, cap, sizeof *o);
        if (!o)
            return KEEP_ERR_NOMEM;
        r->off = o;
        size_t *l = keep_reallocarray(r->n, cap, sizeof *l);
        if (!l)
            return KEEP_ERR_NOMEM;
        r->n = l;
        r->cap = cap;
    }
    r->off[r->count] = off;
    r->n[r->count] = n;
    r->count++;
    return KEEP_OK;
}

/* Appends field bytes while the field is under the cap (the rest is read
 * and dropped). */
static int field_put(csv_record *r, size_t field_start, const char *s, size_t n)
{
    if (!r)
        return KEEP_OK;
    size_t have = r->data.len - field_start;
    if (have >= INGEST_CSV_MAX_FIELD)
        return KEEP_OK;
    if (n > INGEST_CSV_MAX_FIELD - have)
        n = INGEST_CSV_MAX_FIELD - have;
    return keep_buf_append(&r->data, s, n);
}

static int is_eol(char c) { return c == '\n' || c == '\r'; }

/* Reads one record. rec may be NULL (the sniffer only counts fields).
 * Returns 1 with *nfields set, 0 at end of input, <0 on allocation failure. */
static int read_record(csv_reader *rd, csv_record *rec, size_t *nfields)
{
    const char *p = rd->p;
    size_t len = rd->len;
    *nfields = 0;
    if (rd->pos >= len)
        return 0;
    if (rec) {
        keep_buf_reset(&rec->data);
        rec->count = 0;
        rec->dropped = 0;
    }
    for (;;) {
        size_t start = rec ? rec->data.len : 0;
        size_t field_pos = rd->pos;
        int rc;
        if (rd->quotes && rd->pos < len && p[rd->pos] == '"') {
            size_t i = rd->pos + 1;
            int closed = 0;
            while (i < len) {
                const char *q = memchr(p + i, '"', len - i);
                size_t stop = q ? (size_t)(q - p) : len;
                if ((rc = field_put(rec, start, p + i, stop - i)))
                    return -1;
                if (!q) {
                    i = len;
                    break;
                }
                if (stop + 1 < len && p[stop + 1] == '"') {
                    if ((rc = field_put(rec, start, "\"", 1)))
                        return -1;
                    i = stop + 2;
                    continue;
                }
                i = stop + 1;
                closed = 1;
                break;
            }
            if (!closed) {
                /* a stray quote: read the field again as plain text, and
                 * trust no later quote either (keeps the reader linear) */
                rd->quotes = 0;
                rd->pos = field_pos;
                if (rec) {
                    rec->data.len = start;
                    if (rec->data.data)
                        rec->data.data[start] = '\0';
                }
                continue;
            }
            rd->pos = i;
        }
        /* unquoted field, or what follows a closing quote: literal text */
        size_t i = rd->pos;
        while (i < len && p[i] != rd->delim && !is_eol(p[i]))
            i++;
        if ((rc = field_put(rec, start, p + rd->pos, i - rd->pos)))
            return -1;
        rd->pos = i;
        if (rec) {
            if (record_add(rec, start, rec->data.len - start))
                return -1;
        }
        (*nfields)++;
        if (rd->pos >= len)
            return 1;
        if (p[rd->pos] == rd->delim) {
            rd->pos++;
            continue;
        }
        if (p[rd->pos] == '\r') {
            rd->pos++;
            if (rd->pos < len && p[rd->pos] == '\n')
                rd->pos++;
        } else {
            rd->pos++;
        }
        return 1;
    }
}

/* Whether a record is a blank line (one empty field). */
static int blank_line(size_t nfields, size_t first_len) { return nfields <= 1 && first_len == 0; }

/* ---- dialect -------------------------------------------------------------- */

/* The delimiter whose field count repeats on the most records (at least two
 * fields); ties go to the larger count, then to the order , ; TAB |. */
static char sniff_delimiter(const char *text, size_t len)
{
    static const char cands[] = {',', ';', '\t', '|'};
    char best = ',';
    size_t best_freq = 0, best_total = 1, best_mode = 1;
    for (size_t c = 0; c < sizeof cands; c++) {
        csv_reader rd = {text, len, 0, cands[c], 1};
        size_t counts[SNIFF_RECORDS], total = 0;
        while (total < SNIFF_RECORDS && rd.pos < SNIFF_BYTES) {
            size_t before = rd.pos, n;
            if (read_record(&rd, NULL, &n) <= 0)
                break;
            int blank = n <= 1;
            if (blank) {
                /* one field: either a blank line or a line without delimiter */
                size_t k = before;
                while (k < rd.pos && is_eol(text[k]))
                    k++;
                if (k == rd.pos)
                    continue;
            }
            counts[total++] = n;
        }
        if (!total)
            continue;
        size_t mode = 1, freq = 0;
        for (size_t i = 0; i < total; i++) {
            size_t f = 0;
            for (size_t j = 0; j < total; j++)
                f += counts[j] == counts[i];
            if (f > freq || (f == freq && counts[i] > mode)) {
                freq = f;
                mode = counts[i];
            }
        }
        if (mode < 2)
            continue;
        /* compare freq/total against best_freq/best_total without division */
        size_t lhs = freq * best_total, rhs = best_freq * total;
        if (lhs > rhs || (lhs == rhs && mode > best_mode)) {
            best = cands[c];
            best_freq = freq;
            best_total = total;
            best_mode = mode;
        }
    }
    return best;
}

/* ---- header ---------------------------------------------------------------- */

static void trim(const char **s, size_t *n)
{
    while (*n && ((*s)[0] == ' ' || (*s)[0] == '\t' || (*s)[0] == '\n' || (*s)[0] == '\r')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\n' ||
                  (*s)[*n - 1] == '\r'))
        (*n)--;
}

/* Field i of r without surrounding blanks. */
static const char *field(const csv_record *r, size_t i, size_t *n)
{
    const char *s = r->data.data + r->off[i];
    *n = r->n[i];
    trim(&s, n);
    return s;
}

/* Numbers, amounts, dates and times: digits with ASCII punctuation only. */
static int numeric_like(const char *s, size_t n)
{
    int digit = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= '0' && c <= '9')
            digit = 1;
        else if (!strchr(" +-.,:/%'()$#", c) || c == '\0')
            return 0;
    }
    return digit;
}

static int looks_like_header(const csv_record *r, int have_more_rows)
{
    if (!have_more_rows || r->count == 0)
        return 0;
    size_t nonempty = 0;
    for (size_t i = 0; i < r->count; i++) {
        size_t n;
        const char *s = field(r, i, &n);
        if (!n)
            continue;
        nonempty++;
        if (n > MAX_HEADER_CELL || numeric_like(s, n))
            return 0;
        for (size_t j = 0; j < i; j++) {
            size_t m;
            const char *t = field(r, j, &m);
            if (m == n && memcmp(s, t, n) == 0)
                return 0;
        }
    }
    return nonempty * 2 >= r->count;
}

/* ---- rendering ------------------------------------------------------------- */

typedef struct {
    char **names;
    size_t count;
} csv_header;

static void header_free(csv_header *h)
{
    for (size_t i = 0; i < h->count; i++)
        keep_free(h->names[i]);
    keep_free(h->names);
    memset(h, 0, sizeof *h);
}

static int header_take(csv_header *h, const csv_record *r)
{
    h->names = keep_calloc(r->count ? r->count : 1, sizeof *h->names);
    if (!h->names)
        return KEEP_ERR_NOMEM;
    h->count = r->count;
    for (size_t i = 0; i < r->count; i++) {
        size_t n;
        const char *s = field(r, i, &n);
        h->names[i] = n ? keep_strndup(s, n) : NULL; /* NULL: "Column N" */
        if (n && !h->names[i])
            return KEEP_ERR_NOMEM;
    }
    return KEEP_OK;
}

/* Renders one record into line ("Name: value; ..."); empty when every value
 * is empty. */
static int render_record(const csv_header *h, const csv_record *r, keep_buf *line)
{
    keep_buf_reset(line);
    for (size_t i = 0; i < r->count; i++) {
        size_t n;
        const char *s = field(r, i, &n);
        if (!n)
            continue;
        n = keep_utf8_floor(s, n); /* a capped field may end mid-character */
        int rc = line->len ? keep_buf_puts(line, "; ") : KEEP_OK;
        if (!rc) {
            if (i < h->count && h->names[i])
                rc = keep_buf_puts(line, h->names[i]);
            else
                rc = keep_buf_printf(line, "Column %zu", i + 1);
        }
        if (!rc)
            rc = keep_buf_puts(line, ": ");
        if (!rc)
            rc = keep_buf_append(line, s, n);
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

static int parse_table(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                       keep_err *err, char forced_delim)
{
    char *text = NULL;
    size_t text_len = 0;
    csv_record rec = {0};
    csv_header hdr = {0};
    keep_buf line = {0};
    size_t max_out = 0;
    /* converted input may be up to 3x an 8-bit file; the rendered text is
     * capped by the doc itself */
    if (lim && lim->max_file_bytes && keep_mul_overflow(lim->max_file_bytes, 3, &max_out))
        max_out = 0;
    int rc = ingest_to_utf8(data, len, max_out, &text, &text_len, NULL, 0, err);
    if (rc)
        return rc;

    char delim = forced_delim ? forced_delim : sniff_delimiter(text, text_len);
    csv_reader rd = {text, text_len, 0, delim, 1};
    size_t rows = 0, para_start = doc->text.len, nf;
    int first = 1;
    for (;;) {
        int r = read_record(&rd, &rec, &nf);
        if (r < 0) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory reading a table");
            goto done;
        }
        if (r == 0)
            break;
        if (blank_line(rec.count, rec.count ? rec.n[0] : 0))
            continue;
        if (++rows > INGEST_CSV_MAX_ROWS) {
            rc = keep_err_set(err, KEEP_ERR_TOOBIG, "table has more than %u rows",
                              INGEST_CSV_MAX_ROWS);
            goto done;
        }
        if (first) {
            first = 0;
            int more = rd.pos < text_len;
            if (looks_like_header(&rec, more)) {
                if ((rc = header_take(&hdr, &rec))) {
                    rc = keep_err_set(err, rc, "out of memory reading a table header");
                    goto done;
                }
                continue;
            }
        }
        if ((rc = render_record(&hdr, &rec, &line))) {
            rc = keep_err_set(err, rc, "out of memory rendering a table row");
            goto done;
        }
        if (!line.len)
            continue;
        /* a new paragraph when this row would push the current one past the
         * target: chunks then hold whole rows */
        size_t cur = doc->text.len - para_start;
        if (cur && cur + line.len + 1 > INGEST_CSV_PARA_BYTES) {
            if ((rc = ingest_doc_para(doc)))
                goto fail_doc;
            para_start = doc->text.len;
        }
        if ((rc = ingest_doc_text(doc, line.data, line.len)) || (rc = ingest_doc_line(doc)))
            goto fail_doc;
    }
    rc = ingest_doc_para(doc);
    if (rc)
        goto fail_doc;
    goto done;
fail_doc:
    rc = keep_err_set(err, rc, rc == KEEP_ERR_TOOBIG ? "table text exceeds the size limit"
                                                     : "out of memory building table text");
done:
    keep_free(text);
    record_free(&rec);
    header_free(&hdr);
    keep_buf_free(&line);
    return rc;
}

int ingest_parse_csv(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err)
{
    return parse_table(data, len, lim, doc, err, 0);
}

int ingest_parse_tsv(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                     keep_err *err)
{
    return parse_table(data, len, lim, doc, err, '\t');
}
