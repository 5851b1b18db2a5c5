/* parse_text.c — plain text and Markdown.
 *
 * Both take UTF-8 (the caller converts other encodings first) and refuse
 * binary data. Markdown is read line by line, not through a full CommonMark
 * parser: what matters for retrieval is the heading path, paragraphs, lists,
 * verbatim code and tables rendered row by row with their header names; inline
 * markup (emphasis, links, images) is reduced to its text. */
#include "parse_text.h"

#include <string.h>

static int check_text(const char *data, size_t len, keep_err *err)
{
    if (memchr(data, '\0', len))
        return keep_err_set(err, KEEP_ERR_ENCODING, "binary data, not text");
    if (!keep_utf8_valid(data, len))
        return keep_err_set(err, KEEP_ERR_ENCODING, "not valid UTF-8 text");
    return KEEP_OK;
}

static void skip_bom(const char **data, size_t *len)
{
    if (*len >= 3 && memcmp(*data, "\xEF\xBB\xBF", 3) == 0) {
        *data += 3;
        *len -= 3;
    }
}

/* Iterates lines: (*line, *n) is the next line without its "\n" or "\r\n". */
typedef struct {
    const char *p, *end;
} line_iter;

static int next_line(line_iter *it, const char **line, size_t *n)
{
    if (it->p >= it->end)
        return 0;
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    const char *stop = nl ? nl : it->end;
    *line = it->p;
    *n = (size_t)(stop - it->p);
    if (*n && (*line)[*n - 1] == '\r')
        (*n)--;
    it->p = nl ? nl + 1 : it->end;
    return 1;
}

/* Whether s[0..n) is only c and spaces (setext underline). Bounded: lines
 * are not NUL-terminated. */
static int all_of(const char *s, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != c && s[i] != ' ')
            return 0;
    return 1;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

int ingest_parse_text(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                      keep_err *err)
{
    (void)lim;
    skip_bom(&data, &len);
    int rc = check_text(data, len, err);
    if (rc)
        return rc;
    line_iter it = {data, data + len};
    const char *line;
    size_t n;
    while (next_line(&it, &line, &n)) {
        if (blank(line, n))
            rc = ingest_doc_para(doc);
        else if (!(rc = ingest_doc_text(doc, line, n)))
            rc = ingest_doc_line(doc);
        if (rc)
            goto fail;
    }
    return ingest_doc_finish(doc);
fail:
    return keep_err_set(err, rc, "%s", rc == KEEP_ERR_TOOBIG ? "extracted text exceeds the limit"
                                                               : keep_strerror(rc));
}

/* ---- Markdown ---------------------------------------------------------------- */

/* Appends s[0..n) with inline markup reduced to text: **x** __x__ *x* `x`
 * -> x, [text](url) -> text, ![alt](src) -> alt, <tags> dropped. */
static int md_inline(ingest_doc *doc, const char *s, size_t n)
{
    keep_buf b = {0};
    int rc = KEEP_OK;
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '\\' && i + 1 < n && strchr("\\`*_{}[]()#+-.!|<>", s[i + 1])) {
            rc = keep_buf_putc(&b, s[i + 1]);
            i += 2;
        } else if (c == '`') {
            i++; /* code span: the text stays, the ticks go */
        } else if ((c == '*' || c == '_') && i + 1 < n && s[i + 1] == c) {
            i += 2;
        } else if ((c == '*' || c == '_') &&
                   ((i + 1 < n && s[i + 1] != ' ' && (i == 0 || s[i - 1] == ' ')) ||
                    (i > 0 && s[i - 1] != ' ' && (i + 1 == n || strchr(" .,;:!?)", s[i + 1]))))) {
            i++; /* single emphasis marker at a word edge */
        } else if ((c == '[' || (c == '!' && i + 1 < n && s[i + 1] == '['))) {
            size_t open = c == '!' ? i + 1 : i;
            const char *close = memchr(s + open, ']', n - open);
            if (close && (size_t)(close - s) + 1 < n && close[1] == '(') {
                const char *paren = memchr(close, ')', (size_t)(s + n - close));
                if (paren) {
                    rc = keep_buf_append(&b, s + open + 1, (size_t)(close - (s + open + 1)));
                    i = (size_t)(paren - s) + 1;
                    if (rc)
                        break;
                    continue;
                }
            }
            rc = keep_buf_putc(&b, c);
            i++;
        } else if (c == '<' && i + 1 < n && (s[i + 1] == '/' || (s[i + 1] >= 'a' && s[i + 1] <= 'z'))) {
            const char *gt = memchr(s + i, '>', n - i);
            if (gt) {
                i = (size_t)(gt - s) + 1;
                continue;
            }
            rc = keep_buf_putc(&b, c);
            i++;
        } else {
            rc = keep_buf_putc(&b, c);
            i++;
        }
        if (rc)
            break;
    }
    if (!rc && b.len)
        rc = ingest_doc_text(doc, b.data, b.len);
    keep_buf_free(&b);
    return rc;
}

/* Splits a table row "| a | b |" into trimmed cells. Returns the count (up to max). */
static size_t md_cells(const char *s, size_t n, const char **cell, size_t *cell_len, size_t max)
{
    size_t i = 0, count = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] == '|')
        i++;
    while (i < n && count < max) {
        size_t st = i;
        while (i < n && !(s[i] == '|' && (i == 0 || s[i - 1] != '\\')))
            i++;
        size_t a = st, b = i;
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
            b--;
        if (i >= n && a == b)
            break; /* trailing pipe */
        cell[count] = s + a;
        cell_len[count] = b - a;
        count++;
        if (i < n)
            i++;
    }
    return count;
}

static int md_is_table_sep(const char *s, size_t n)
{
    int dashes = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-')
            dashes++;
        else if (!strchr("|: \t", s[i]))
            return 0;
    }
    return dashes >= 3 && memchr(s, '|', n) != NULL;
}

/* A code fence (``` or ~~~, up to 3 spaces indent): returns its length and
 * sets *ch and *after (index past the fence characters); 0 when none. */
static size_t md_fence(const char *s, size_t n, char *ch, size_t *after)
{
    size_t i = 0;
    while (i < n && i < 3 && s[i] == ' ')
        i++;
    if (i + 3 > n || (s[i] != '`' && s[i] != '~'))
        return 0;
    char c = s[i];
    size_t k = i;
    while (k < n && s[k] == c)
        k++;
    if (k - i < 3)
        return 0;
    *ch = c;
    *after = k;
    return k - i;
}

#define MD_MAX_COLS 64

int ingest_parse_markdown(const char *data, size_t len, const ingest_limits *lim,
                          ingest_doc *doc, keep_err *err)
{
    (void)lim;
    skip_bom(&data, &len);
    int rc = check_text(data, len, err);
    if (rc)
        return rc;
    line_iter it = {data, data + len};
    const char *line, *prev = NULL;
    size_t n, prev_n = 0;
    const char *head[MD_MAX_COLS];
    size_t head_len[MD_MAX_COLS], n_head = 0;
    int in_table = 0;
    char fence_ch = 0;
    size_t fence_len = 0;

    /* YAML front matter: only its title is kept */
    if (len >= 4 && memcmp(data, "---", 3) == 0 && (data[3] == '\n' || data[3] == '\r')) {
        line_iter fm = {data, data + len};
        next_line(&fm, &line, &n);
        while (next_line(&fm, &line, &n)) {
            if (n >= 3 && memcmp(line, "---", 3) == 0 && blank(line + 3, n - 3)) {
                it = fm;
                break;
            }
            if (n > 6 && memcmp(line, "title:", 6) == 0) {
                const char *v = line + 6;
                size_t vn = n - 6;
                while (vn && (*v == ' ' || *v == '"' || *v == '\''))
                    v++, vn--;
                while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '"' || v[vn - 1] == '\''))
                    vn--;
                if ((rc = ingest_doc_title(doc, v, vn, 1)))
                    goto fail;
            }
        }
    }

    while (next_line(&it, &line, &n)) {
        char ch = 0;
        size_t fl, after = 0;
        if (fence_len) { /* inside a fenced code block: verbatim */
            if ((fl = md_fence(line, n, &ch, &after)) >= fence_len && ch == fence_ch &&
                blank(line + after, n - after)) {
                fence_len = 0;
                rc = ingest_doc_para(doc);
            } else if (!(rc = ingest_doc_raw(doc, line, n)))
                rc = ingest_doc_raw(doc, "\n", 1);
            if (rc)
                goto fail;
            prev = NULL;
            continue;
        }
        if ((fl = md_fence(line, n, &ch, &after))) {
            fence_len = fl;
            fence_ch = ch;
            in_table = 0;
            if ((rc = ingest_doc_para(doc)))
                goto fail;
            prev = NULL;
            continue;
        }
        if (blank(line, n)) {
            in_table = 0;
            if ((rc = ingest_doc_para(doc)))
                goto fail;
            prev = NULL;
            continue;
        }
        /* ATX heading */
        size_t h = 0;
        while (h < n && h < 7 && line[h] == '#')
            h++;
        if (h >= 1 && h <= 6 && (h == n || line[h] == ' ' || line[h] == '\t')) {
            size_t e = n;
            while (e > h && (line[e - 1] == '#' || line[e - 1] == ' '))
                e--;
            const char *t = line + h;
            size_t tn = e > h ? e - h : 0;
            if ((rc = ingest_doc_heading(doc, (int)h, t, tn)))
                goto fail;
            if (h == 1 && (rc = ingest_doc_title(doc, t, tn, 0)))
                goto fail;
            in_table = 0;
            prev = NULL;
            continue;
        }
        /* setext heading: the previous line was its text, already emitted as a
         * paragraph line; it is re-emitted as a heading (rare enough to accept
         * the duplicate line in the text) */
        if (prev && n >= 2 && (line[0] == '=' || line[0] == '-') && all_of(line, n, line[0]) &&
            !in_table) {
            int level = line[0] == '=' ? 1 : 2;
            if ((rc = ingest_doc_heading(doc, level, prev, prev_n)))
                goto fail;
            if (level == 1 && (rc = ingest_doc_title(doc, prev, prev_n, 0)))
                goto fail;
            prev = NULL;
            continue;
        }
        /* table: header row followed by a separator row */
        if (!in_table && memchr(line, '|', n)) {
            line_iter peek = it;
            const char *nx;
            size_t nn;
            if (next_line(&peek, &nx, &nn) && md_is_table_sep(nx, nn)) {
                n_head = md_cells(line, n, head, head_len, MD_MAX_COLS);
                in_table = 1;
                it = peek;
                if ((rc = ingest_doc_para(doc)))
                    goto fail;
                prev = NULL;
                continue;
            }
        }
        if (in_table && memchr(line, '|', n)) {
            const char *cell[MD_MAX_COLS];
            size_t cl[MD_MAX_COLS];
            size_t nc = md_cells(line, n, cell, cl, MD_MAX_COLS);
            int any = 0;
            for (size_t c = 0; c < nc; c++) {
                if (!cl[c])
                    continue;
                if (any && (rc = ingest_doc_puts(doc, "; ")))
                    goto fail;
                if (c < n_head && head_len[c]) {
                    if ((rc = md_inline(doc, head[c], head_len[c])) ||
                        (rc = ingest_doc_puts(doc, ": ")))
                        goto fail;
                }
                if ((rc = md_inline(doc, cell[c], cl[c])))
                    goto fail;
                any = 1;
            }
            if ((rc = ingest_doc_line(doc)))
                goto fail;
            continue;
        }
        in_table = 0;
        /* list items and quotes start their own line */
        size_t s = 0;
        while (s < n && (line[s] == ' ' || line[s] == '\t'))
            s++;
        int item = 0;
        if (s + 1 < n && strchr("-*+", line[s]) && line[s + 1] == ' ')
            item = 1;
        else {
            size_t d = s;
            while (d < n && line[d] >= '0' && line[d] <= '9')
                d++;
            if (d > s && d - s < 10 && d + 1 < n && (line[d] == '.' || line[d] == ')') &&
                line[d + 1] == ' ')
                item = 1;
        }
        const char *t = line;
        size_t tn = n;
        while (tn && *t == '>') { /* block quote markers */
            t++, tn--;
            while (tn && *t == ' ')
                t++, tn--;
        }
        if (item && (rc = ingest_doc_line(doc)))
            goto fail;
        if (item && line[s] != '-' && !(line[s] >= '0' && line[s] <= '9')) {
            /* normalise * and + bullets to "- " */
            if ((rc = ingest_doc_puts(doc, "- ")) || (rc = md_inline(doc, line + s + 2, n - s - 2)))
                goto fail;
        } else if ((rc = md_inline(doc, t, tn))) {
            goto fail;
        }
        if ((rc = ingest_doc_line(doc)))
            goto fail;
        prev = line;
        prev_n = n;
    }
    return ingest_doc_finish(doc);
fail:
    return keep_err_set(err, rc, "%s", rc == KEEP_ERR_TOOBIG ? "extracted text exceeds the limit"
                                                               : keep_strerror(rc));
}
