/* doc.c — the ingest_doc builder parsers call (see doc.h for the invariants). */
#include "doc.h"

#include <stdio.h>
#include <string.h>

void ingest_limits_default(ingest_limits *lim)
{
    lim->max_file_bytes = (size_t)256 << 20;
    lim->max_text_bytes = (size_t)64 << 20;
    lim->max_unzip_bytes = (size_t)512 << 20;
    lim->max_member_bytes = (size_t)256 << 20;
    lim->max_zip_ratio = 200;
    lim->max_depth = 256;
    lim->max_attachments = 64;
    lim->max_pages = 20000;
    lim->ocr.enabled = 1;
    snprintf(lim->ocr.languages, sizeof lim->ocr.languages, "%s", INGEST_OCR_DEFAULT_LANGUAGES);
}

void ingest_doc_init(ingest_doc *doc, const ingest_limits *lim)
{
    memset(doc, 0, sizeof *doc);
    doc->max_text = lim ? lim->max_text_bytes : 0;
}

void ingest_doc_free(ingest_doc *doc)
{
    if (!doc)
        return;
    keep_buf_free(&doc->text);
    for (size_t i = 0; i < doc->n_spans; i++) {
        keep_free(doc->spans[i].heading);
        keep_free(doc->spans[i].sheet);
    }
    keep_free(doc->spans);
    keep_free(doc->title);
    for (size_t i = 0; i < doc->n_meta; i++) {
        keep_free(doc->meta[i].key);
        keep_free(doc->meta[i].value);
    }
    keep_free(doc->meta);
    for (size_t i = 0; i < doc->n_attachments; i++) {
        keep_free(doc->attachments[i].name);
        keep_free(doc->attachments[i].mime);
        keep_free(doc->attachments[i].data);
    }
    keep_free(doc->attachments);
    for (int i = 0; i < INGEST_MAX_HEADING_DEPTH; i++)
        keep_free(doc->headings[i]);
    keep_free(doc->sheet);
    memset(doc, 0, sizeof *doc);
}

/* ---- spans --------------------------------------------------------------- */

static char *heading_path(const ingest_doc *doc)
{
    keep_buf b = {0};
    for (int i = 0; i < INGEST_MAX_HEADING_DEPTH; i++) {
        if (!doc->headings[i])
            continue;
        if (b.len && keep_buf_puts(&b, " > "))
            goto fail;
        if (keep_buf_puts(&b, doc->headings[i]))
            goto fail;
    }
    return b.data ? b.data : NULL;
fail:
    keep_buf_free(&b);
    return NULL;
}

static void span_clear(ingest_span *s)
{
    keep_free(s->heading);
    keep_free(s->sheet);
    s->heading = s->sheet = NULL;
}

static int span_fill(ingest_doc *doc, ingest_span *s)
{
    s->heading = heading_path(doc);
    s->sheet = doc->sheet ? keep_strdup(doc->sheet) : NULL;
    if ((doc->sheet && !s->sheet))
        return KEEP_ERR_NOMEM;
    s->page = doc->page;
    s->slide = doc->slide;
    s->ocr = doc->ocr;
    return KEEP_OK;
}

/* Opens a span for the text about to be appended when the location changed. */
static int ensure_span(ingest_doc *doc)
{
    if (doc->n_spans && !doc->dirty)
        return KEEP_OK;
    if (doc->n_spans && doc->spans[doc->n_spans - 1].start == doc->text.len) {
        ingest_span *s = &doc->spans[doc->n_spans - 1]; /* empty: relabel it */
        span_clear(s);
        doc->dirty = 0;
        return span_fill(doc, s);
    }
    if (doc->n_spans == doc->cap_spans) {
        size_t cap = doc->cap_spans ? doc->cap_spans * 2 : 16;
        ingest_span *n = keep_reallocarray(doc->spans, cap, sizeof *n);
        if (!n)
            return KEEP_ERR_NOMEM;
        doc->spans = n;
        doc->cap_spans = cap;
    }
    if (doc->n_spans)
        doc->spans[doc->n_spans - 1].end = doc->text.len;
    ingest_span *s = &doc->spans[doc->n_spans++];
    memset(s, 0, sizeof *s);
    s->start = s->end = doc->text.len;
    doc->dirty = 0;
    return span_fill(doc, s);
}

/* ---- text ---------------------------------------------------------------- */

static int at_line_start(const ingest_doc *doc)
{
    return doc->text.len == 0 || doc->text.data[doc->text.len - 1] == '\n';
}

static int put(ingest_doc *doc, const char *s, size_t n)
{
    if (doc->max_text && doc->text.len + n > doc->max_text)
        return KEEP_ERR_TOOBIG;
    return keep_buf_append(&doc->text, s, n);
}

/* Length of a well-formed UTF-8 sequence at p, 0 when malformed. */
static size_t seq_len(const unsigned char *p, size_t n)
{
    size_t l = p[0] < 0x80 ? 1 : p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : 2;
    if (l > n || !keep_utf8_valid((const char *)p, l))
        return 0;
    return l;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static int append_text(ingest_doc *doc, const char *s, size_t len, int raw)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)s;
    int rc = ensure_span(doc);
    if (rc)
        return rc;
    int pending_space = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (!raw && is_space(c)) {
            pending_space = 1;
            i++;
            continue;
        }
        if (raw && c == '\r') {
            i++;
            if (i < len && p[i] == '\n')
                continue;
            rc = put(doc, "\n", 1);
            if (rc)
                return rc;
            continue;
        }
        if (c < 0x20 && !(raw && (c == '\n' || c == '\t'))) {
            i++; /* other control characters carry no text */
            continue;
        }
        if (c == 0x7F) {
            i++;
            continue;
        }
        if (pending_space && !at_line_start(doc)) {
            rc = put(doc, " ", 1);
            if (rc)
                return rc;
        }
        pending_space = 0;
        size_t l = c < 0x80 ? 1 : seq_len(p + i, len - i);
        if (l == 0) {
            rc = put(doc, replacement, 3);
            i++;
        } else {
            rc = put(doc, (const char *)p + i, l);
            i += l;
        }
        if (rc)
            return rc;
    }
    /* a trailing space matters between two runs ("foo" "bar" vs "foo " "bar") */
    if (pending_space && !at_line_start(doc))
        rc = put(doc, " ", 1);
    return rc;
}

int ingest_doc_text(ingest_doc *doc, const char *s, size_t len) { return append_text(doc, s, len, 0); }

int ingest_doc_puts(ingest_doc *doc, const char *s) { return append_text(doc, s, strlen(s), 0); }

int ingest_doc_raw(ingest_doc *doc, const char *s, size_t len) { return append_text(doc, s, len, 1); }

/* Drops trailing spaces left by ingest_doc_text before a line break. */
static void trim_trailing_spaces(ingest_doc *doc)
{
    while (doc->text.len && doc->text.data[doc->text.len - 1] == ' ')
        doc->text.data[--doc->text.len] = '\0';
}

int ingest_doc_line(ingest_doc *doc)
{
    trim_trailing_spaces(doc);
    if (at_line_start(doc))
        return KEEP_OK;
    return put(doc, "\n", 1);
}

int ingest_doc_para(ingest_doc *doc)
{
    trim_trailing_spaces(doc);
    size_t n = doc->text.len;
    if (n == 0)
        return KEEP_OK;
    if (n >= 2 && doc->text.data[n - 1] == '\n' && doc->text.data[n - 2] == '\n')
        return KEEP_OK;
    if (doc->text.data[n - 1] == '\n')
        return put(doc, "\n", 1);
    return put(doc, "\n\n", 2);
}

int ingest_doc_heading(ingest_doc *doc, int level, const char *s, size_t len)
{
    if (level < 1)
        level = 1;
    if (level > INGEST_MAX_HEADING_DEPTH)
        level = INGEST_MAX_HEADING_DEPTH;
    /* normalise the heading text through a scratch doc-less pass */
    keep_buf h = {0};
    int pending = 0, rc = KEEP_OK;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_space(c) || c < 0x20) {
            pending = h.len > 0;
            continue;
        }
        if (pending && (rc = keep_buf_putc(&h, ' ')))
            goto out;
        pending = 0;
        if ((rc = keep_buf_putc(&h, (char)c)))
            goto out;
    }
    if (!h.len)
        goto out; /* empty heading: nothing to name the section by */
    if (!keep_utf8_valid(h.data, h.len)) {
        ingest_doc tmp;
        ingest_doc_init(&tmp, NULL);
        rc = ingest_doc_text(&tmp, h.data, h.len);
        keep_buf_free(&h);
        h = tmp.text;
        tmp.text.data = NULL;
        ingest_doc_free(&tmp);
        if (rc)
            goto out;
    }
    if ((rc = ingest_doc_para(doc)))
        goto out;
    for (int i = level - 1; i < INGEST_MAX_HEADING_DEPTH; i++) {
        keep_free(doc->headings[i]);
        doc->headings[i] = NULL;
    }
    doc->headings[level - 1] = keep_buf_take(&h);
    if (!doc->headings[level - 1]) {
        rc = KEEP_ERR_NOMEM;
        goto out;
    }
    doc->dirty = 1;
    if ((rc = ingest_doc_text(doc, doc->headings[level - 1], strlen(doc->headings[level - 1]))))
        goto out;
    rc = ingest_doc_para(doc);
out:
    keep_buf_free(&h);
    return rc;
}

int ingest_doc_page(ingest_doc *doc, int page)
{
    if (doc->page != page) {
        ingest_doc_para(doc);
        doc->page = page;
        doc->dirty = 1;
    }
    return KEEP_OK;
}

int ingest_doc_slide(ingest_doc *doc, int slide)
{
    if (doc->slide != slide) {
        ingest_doc_para(doc);
        doc->slide = slide;
        doc->dirty = 1;
    }
    return KEEP_OK;
}

int ingest_doc_sheet(ingest_doc *doc, const char *name)
{
    if ((doc->sheet == NULL) != (name == NULL) || (name && strcmp(doc->sheet, name) != 0)) {
        char *copy = name ? keep_strdup(name) : NULL;
        if (name && !copy)
            return KEEP_ERR_NOMEM;
        ingest_doc_para(doc);
        keep_free(doc->sheet);
        doc->sheet = copy;
        doc->dirty = 1;
    }
    return KEEP_OK;
}

int ingest_doc_set_ocr(ingest_doc *doc, int ocr)
{
    if (doc->ocr != !!ocr) {
        doc->ocr = !!ocr;
        doc->dirty = 1;
    }
    return KEEP_OK;
}

int ingest_doc_title(ingest_doc *doc, const char *s, size_t len, int replace)
{
    if (doc->title && !replace)
        return KEEP_OK;
    ingest_doc tmp;
    ingest_doc_init(&tmp, NULL);
    int rc = ingest_doc_text(&tmp, s, len);
    if (rc == KEEP_OK && tmp.text.len) {
        trim_trailing_spaces(&tmp);
        keep_free(doc->title);
        doc->title = keep_buf_take(&tmp.text);
        if (!doc->title)
            rc = KEEP_ERR_NOMEM;
    }
    ingest_doc_free(&tmp);
    return rc;
}

int ingest_doc_meta(ingest_doc *doc, const char *key, const char *value)
{
    ingest_meta *m = keep_reallocarray(doc->meta, doc->n_meta + 1, sizeof *m);
    if (!m)
        return KEEP_ERR_NOMEM;
    doc->meta = m;
    char *k = keep_strdup(key), *v = keep_strdup(value ? value : "");
    if (!k || !v) {
        keep_free(k);
        keep_free(v);
        return KEEP_ERR_NOMEM;
    }
    m[doc->n_meta].key = k;
    m[doc->n_meta].value = v;
    doc->n_meta++;
    return KEEP_OK;
}

int ingest_doc_attach(ingest_doc *doc, const char *name, const char *mime, const char *data,
                      size_t len)
{
    ingest_attachment *a =
        keep_reallocarray(doc->attachments, doc->n_attachments + 1, sizeof *a);
    if (!a)
        return KEEP_ERR_NOMEM;
    doc->attachments = a;
    ingest_attachment *n = &a[doc->n_attachments];
    n->name = keep_strdup(name ? name : "attachment");
    n->mime = keep_strdup(mime ? mime : "application/octet-stream");
    n->data = keep_malloc(len + 1);
    if (!n->name || !n->mime || !n->data) {
        keep_free(n->name);
        keep_free(n->mime);
        keep_free(n->data);
        return KEEP_ERR_NOMEM;
    }
    memcpy(n->data, data, len);
    n->data[len] = '\0';
    n->len = len;
    doc->n_attachments++;
    return KEEP_OK;
}

int ingest_doc_finish(ingest_doc *doc)
{
    trim_trailing_spaces(doc);
    /* trailing blank lines carry nothing */
    while (doc->text.len && doc->text.data[doc->text.len - 1] == '\n')
        doc->text.data[--doc->text.len] = '\0';
    while (doc->n_spans && doc->spans[doc->n_spans - 1].start >= doc->text.len) {
        span_clear(&doc->spans[--doc->n_spans]);
    }
    if (doc->n_spans)
        doc->spans[doc->n_spans - 1].end = doc->text.len;
    for (size_t i = 0; i + 1 < doc->n_spans; i++)
        if (doc->spans[i].end > doc->text.len)
            doc->spans[i].end = doc->text.len;
    return KEEP_OK;
}
