/* context.c — the passages handed to the model: the best results that fit a
 * token budget, numbered [1]..[n] so the answer can cite them, each with what
 * a citation needs (title, path, page/slide/sheet, heading, offsets). */
#include <string.h>

#include "retr.h"

struct retr_context {
    retr_passage *p;
    size_t n;
    char *text;
    size_t tokens;
    char **owned; /* strings the passages point to that we allocated */
    size_t n_owned;
};

static size_t estimate_tokens(void *ud, const char *text, size_t len)
{
    (void)ud;
    (void)text;
    return (len + 3) / 4;
}

/* Renders the header line of passage number n. */
static int render_header(keep_buf *b, int n, const idx_hit *h)
{
    int rc = keep_buf_printf(b, "[%d] %s (%s", n, h->title ? h->title : h->path, h->path);
    if (!rc && h->page_start && h->page_end > h->page_start)
        rc = keep_buf_printf(b, ", pages %d-%d", h->page_start, h->page_end);
    else if (!rc && h->page_start)
        rc = keep_buf_printf(b, ", page %d", h->page_start);
    if (!rc && h->slide)
        rc = keep_buf_printf(b, ", slide %d", h->slide);
    if (!rc && h->sheet)
        rc = keep_buf_printf(b, ", sheet %s", h->sheet);
    if (!rc && h->heading)
        rc = keep_buf_printf(b, ", %s", h->heading);
    if (!rc)
        rc = keep_buf_puts(b, ")\n");
    return rc;
}

/* Bytes of the longest prefix of text (whole code points) whose block still
 * fits in budget tokens, by bisection on the count function. */
static size_t fit_prefix(const keep_buf *header, const char *text, size_t len, size_t budget,
                         retr_token_count_fn count, void *ud, int *oom)
{
    size_t lo = 0, hi = len;
    keep_buf t = {0};
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2, cut = keep_utf8_floor(text, mid);
        keep_buf_reset(&t);
        if (keep_buf_append(&t, header->data, header->len) || keep_buf_append(&t, text, cut) ||
            keep_buf_puts(&t, "\n\n")) {
            *oom = 1;
            break;
        }
        if (count(ud, t.data, t.len) <= budget)
            lo = mid;
        else
            hi = mid - 1;
    }
    keep_buf_free(&t);
    return keep_utf8_floor(text, lo);
}

int retr_context_build(const retr_results *r, size_t budget_tokens, retr_token_count_fn count,
                       void *ud, retr_context **out, keep_err *err)
{
    *out = NULL;
    if (!count)
        count = estimate_tokens;
    retr_context *c = keep_calloc(1, sizeof *c);
    size_t n = retr_results_count(r);
    if (!c)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    c->p = keep_calloc(n ? n : 1, sizeof *c->p);
    c->owned = keep_calloc(n ? n : 1, sizeof *c->owned);
    keep_buf all = {0}, block = {0}, header = {0};
    if (!c->p || !c->owned)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const idx_hit *h = retr_results_hit(r, i);
        int num = (int)c->n + 1;
        keep_buf_reset(&header);
        keep_buf_reset(&block);
        if (render_header(&header, num, h) || keep_buf_append(&block, header.data, header.len) ||
            keep_buf_puts(&block, h->text) || keep_buf_puts(&block, "\n\n"))
            goto oom;
        size_t t = count(ud, block.data, block.len);
        const char *text = h->text;
        int64_t end = h->end;
        if (t > budget_tokens - c->tokens) {
            if (c->n > 0)
                continue; /* a later, shorter passage may still fit */
            /* the best passage alone is too long: keep its beginning */
            int oom = 0;
            size_t keep = fit_prefix(&header, h->text, strlen(h->text), budget_tokens, count, ud,
                                     &oom);
            if (oom)
                goto oom;
            if (keep == 0)
                continue;
            char *cut = keep_strndup(h->text, keep);
            if (!cut)
                goto oom;
            c->owned[c->n_owned++] = cut;
            text = cut;
            end = h->start + (int64_t)keep_utf8_count(cut, keep);
            keep_buf_reset(&block);
            if (keep_buf_append(&block, header.data, header.len) || keep_buf_puts(&block, cut) ||
                keep_buf_puts(&block, "\n\n"))
                goto oom;
            t = count(ud, block.data, block.len);
            if (t > budget_tokens)
                continue;
        }
        retr_passage *p = &c->p[c->n++];
        p->number = num;
        p->doc_id = h->doc_id;
        p->title = h->title;
        p->path = h->path;
        p->heading = h->heading;
        p->sheet = h->sheet;
        p->text = text;
        p->page_start = h->page_start;
        p->page_end = h->page_end;
        p->slide = h->slide;
        p->start = h->start;
        p->end = end;
        p->tokens = t;
        c->tokens += t;
        if (keep_buf_append(&all, block.data, block.len))
            goto oom;
        if (c->tokens >= budget_tokens)
            break;
    }
    c->text = keep_buf_take(&all);
    if (!c->text)
        goto oom;
    keep_buf_free(&block);
    keep_buf_free(&header);
    *out = c;
    return KEEP_OK;
oom:
    keep_buf_free(&all);
    keep_buf_free(&block);
    keep_buf_free(&header);
    retr_context_free(c);
    return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
}

void retr_context_free(retr_context *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_owned; i++)
        keep_free(c->owned[i]);
    keep_free(c->owned);
    keep_free(c->p);
    keep_free(c->text);
    keep_free(c);
}

size_t retr_context_count(const retr_context *c) { return c->n; }
const retr_passage *retr_context_passage(const retr_context *c, size_t i)
{
    return i < c->n ? &c->p[i] : NULL;
}
const char *retr_context_text(const retr_context *c) { return c->text; }
size_t retr_context_tokens(const retr_context *c) { return c->tokens; }
