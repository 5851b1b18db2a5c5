/* cite.c — citations you can trust. A model may cite a source that does not
 * exist, or write a sentence its source does not say: [n] naming no passage
 * is dropped, and each sentence is compared with the passages it cites
 *   support = 0.75 * (share of its content words the cited passages hold)
 *           + 0.25 * (cosine of sentence and passage in the embedder's space)
 * and is supported when support >= 0.5 and every number it states appears in
 * a cited passage (a wrong figure is the error that matters most). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ask_int.h"

#define MAX_CITES 16
#define SUPPORT_MIN 0.5

/* Parses a marker at t: "[3]", "[1, 2]", "[1][2]" is two markers. Returns its
 * length (0: not a marker) and the numbers in nums. */
static size_t parse_marker(const char *t, size_t len, int *nums, size_t *n)
{
    *n = 0;
    if (len < 3 || t[0] != '[' || !isdigit((unsigned char)t[1]))
        return 0;
    size_t i = 1;
    while (i < len) {
        long v = 0;
        size_t d = 0;
        while (i < len && isdigit((unsigned char)t[i]) && d < 6) {
            v = v * 10 + (t[i] - '0');
            i++;
            d++;
        }
        if (d == 0 || d >= 6)
            return 0;
        if (*n < MAX_CITES)
            nums[(*n)++] = (int)v;
        if (i < len && t[i] == ']')
            return i + 1;
        if (i < len && t[i] == ',') {
            i++;
            while (i < len && t[i] == ' ')
                i++;
            continue;
        }
        return 0;
    }
    return 0;
}

static int valid_number(const retr_context *ctx, int v)
{
    for (size_t i = 0; i < retr_context_count(ctx); i++)
        if (retr_context_passage(ctx, i)->number == v)
            return 1;
    return 0;
}

static const retr_passage *passage_numbered(const retr_context *ctx, int v)
{
    for (size_t i = 0; i < retr_context_count(ctx); i++)
        if (retr_context_passage(ctx, i)->number == v)
            return retr_context_passage(ctx, i);
    return NULL;
}

/* Rewrites answer keeping only the valid numbers of each marker. */
static int clean_markers(const char *a, const retr_context *ctx, keep_buf *out)
{
    size_t len = strlen(a);
    for (size_t i = 0; i < len;) {
        int nums[MAX_CITES];
        size_t n, m = a[i] == '[' ? parse_marker(a + i, len - i, nums, &n) : 0;
        if (!m) {
            if (keep_buf_putc(out, a[i]))
                return KEEP_ERR_NOMEM;
            i++;
            continue;
        }
        size_t kept = 0;
        for (size_t k = 0; k < n; k++)
            if (valid_number(ctx, nums[k]))
                nums[kept++] = nums[k];
        if (kept) {
            if (keep_buf_putc(out, '['))
                return KEEP_ERR_NOMEM;
            for (size_t k = 0; k < kept; k++)
                if (keep_buf_printf(out, k ? ", %d" : "%d", nums[k]))
                    return KEEP_ERR_NOMEM;
            if (keep_buf_putc(out, ']'))
                return KEEP_ERR_NOMEM;
        } else if (out->len && out->data[out->len - 1] == ' ' && i + m < len &&
                   (a[i + m] == ' ' || a[i + m] == '.' || a[i + m] == ',')) {
            out->data[--out->len] = '\0'; /* "word [9]." -> "word." */
        }
        i += m;
    }
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

typedef struct {
    const retr__words *have;
    size_t words, found, numbers, numbers_found;
} support_ctx;

static int on_word(void *ud, const char *surface, size_t n, const char *stem, int stop)
{
    support_ctx *c = ud;
    if (stop)
        return 0;
    int num = retr__has_digit(surface, n);
    int hit = retr__words_has(c->have, stem);
    c->words++;
    c->found += hit;
    c->numbers += num;
    c->numbers_found += num && hit;
    return 0;
}

/* Sets supported/support of one sentence against the passages it cites. */
int retr__judge(retr__checked *s, const retr_context *ctx, idx_embedder *e)
{
    s->supported = 0;
    s->support = 0;
    if (!s->n_cites)
        return 0;
    retr__words have = {0};
    int rc = 0;
    const char *texts[MAX_CITES + 1];
    size_t nt = 0;
    texts[nt++] = s->text;
    for (size_t i = 0; i < s->n_cites; i++) {
        const retr_passage *p = passage_numbered(ctx, s->cites[i]);
        if (!p)
            continue;
        if ((rc = retr__words_add(&have, p->text, strlen(p->text), 1)))
            goto out;
        if ((p->title && (rc = retr__words_add(&have, p->title, strlen(p->title), 1))) ||
            (p->heading && (rc = retr__words_add(&have, p->heading, strlen(p->heading), 1))) ||
            (p->sheet && (rc = retr__words_add(&have, p->sheet, strlen(p->sheet), 1))))
            goto out;
        texts[nt++] = p->text;
    }
    support_ctx c = {&have, 0, 0, 0, 0};
    retr__words_each(s->text, strlen(s->text), on_word, &c);
    if (c.words == 0) {
        s->support = 1; /* nothing to check ("See [2].") */
        s->supported = 1;
        goto out;
    }
    double lex = (double)c.found / (double)c.words, sem = 0;
    if (e && nt > 1) {
        float *v = keep_calloc(nt * e->dim, sizeof *v);
        keep_err e2;
        if (v && e->embed(e, texts, 1, 0, v, &e2) == KEEP_OK &&
            e->embed(e, texts + 1, nt - 1, 0, v + e->dim, &e2) == KEEP_OK)
            for (size_t i = 1; i < nt; i++) {
                float cs = retr__cosine(v, v + i * e->dim, e->dim);
                if (cs > sem)
                    sem = cs;
            }
        keep_free(v);
    }
    s->support = e ? 0.75 * lex + 0.25 * sem : lex;
    s->supported = s->support >= SUPPORT_MIN && c.numbers_found == c.numbers;
out:
    retr__words_free(&have);
    return rc;
}

/* Appends sentence text[0..len) (markers taken out into cites) to the list. */
static int add_sentence(retr__checked **v, size_t *n, size_t *cap, const char *t, size_t len)
{
    keep_buf b = {0};
    int cites[MAX_CITES];
    size_t nc = 0;
    for (size_t i = 0; i < len;) {
        int nums[MAX_CITES];
        size_t k, m = t[i] == '[' ? parse_marker(t + i, len - i, nums, &k) : 0;
        if (!m) {
            if (keep_buf_putc(&b, t[i]))
                goto oom;
            i++;
            continue;
        }
        for (size_t j = 0; j < k && nc < MAX_CITES; j++) {
            int dup = 0;
            for (size_t q = 0; q < nc; q++)
                dup |= cites[q] == nums[j];
            if (!dup)
                cites[nc++] = nums[j];
        }
        /* "fact [1]." loses the space before the marker */
        if (b.len && b.data[b.len - 1] == ' ' && (i + m >= len || t[i + m] == '.' || t[i + m] == ',' ||
                                                  t[i + m] == ' '))
            b.data[--b.len] = '\0';
        i += m;
    }
    /* collapse doubled spaces left by removed markers; trim */
    size_t o = 0;
    for (size_t i = 0; i < b.len; i++)
        if (!(b.data[i] == ' ' && (o == 0 || b.data[o - 1] == ' ')))
            b.data[o++] = b.data[i];
    while (o && b.data[o - 1] == ' ')
        o--;
    if (b.data)
        b.data[o] = '\0';
    b.len = o;
    if (o == 0 && nc && *n) {
        /* markers alone ("... end. [2]"): they belong to the sentence before */
        retr__checked *prev = &(*v)[*n - 1];
        int *pc = keep_reallocarray(prev->cites, prev->n_cites + nc, sizeof *pc);
        if (!pc)
            goto oom;
        prev->cites = pc;
        for (size_t j = 0; j < nc; j++) {
            int dup = 0;
            for (size_t q = 0; q < prev->n_cites; q++)
                dup |= pc[q] == cites[j];
            if (!dup)
                pc[prev->n_cites++] = cites[j];
        }
        qsort(pc, prev->n_cites, sizeof *pc, cmp_int);
        keep_buf_free(&b);
        return 0;
    }
    if (o == 0) {
        keep_buf_free(&b);
        return 0;
    }
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        retr__checked *p = keep_reallocarray(*v, c, sizeof *p);
        if (!p)
            goto oom;
        *v = p;
        *cap = c;
    }
    retr__checked *s = &(*v)[*n];
    memset(s, 0, sizeof *s);
    s->text = keep_buf_take(&b);
    if (!s->text)
        goto oom;
    if (nc) {
        s->cites = keep_calloc(nc, sizeof *s->cites);
        if (!s->cites) {
            keep_free(s->text);
            goto oom;
        }
        memcpy(s->cites, cites, nc * sizeof *cites);
        qsort(s->cites, nc, sizeof *s->cites, cmp_int);
        s->n_cites = nc;
    }
    (*n)++;
    return 0;
oom:
    keep_buf_free(&b);
    return KEEP_ERR_NOMEM;
}

int retr__check(const char *answer, const retr_context *ctx, idx_embedder *e, char **clean,
                retr__checked **out, size_t *n_out, keep_err *err)
{
    *clean = NULL;
    *out = NULL;
    *n_out = 0;
    keep_buf b = {0};
    retr__checked *v = NULL;
    size_t n = 0, cap = 0;
    retr_span *sp = NULL;
    size_t ns = 0;
    int rc = clean_markers(answer, ctx, &b);
    if (!rc && !b.data)
        rc = keep_buf_puts(&b, "") ? KEEP_ERR_NOMEM : 0;
    if (rc)
        goto fail;
    /* a marker right after a sentence's period starts the next span: the
     * splitter sees "[" as a new sentence, add_sentence hands it back */
    if ((rc = retr_sentences(b.data, b.len, &sp, &ns, err)))
        goto fail;
    for (size_t i = 0; i < ns; i++) {
        const char *t = b.data + sp[i].start;
        size_t len = sp[i].end - sp[i].start;
        /* leading markers belong to the previous sentence */
        size_t lead = 0;
        int nums[MAX_CITES];
        size_t k, m;
        while (n && lead < len && (m = parse_marker(t + lead, len - lead, nums, &k)) > 0) {
            if ((rc = add_sentence(&v, &n, &cap, t + lead, m)))
                goto fail;
            lead += m;
            while (lead < len && t[lead] == ' ')
                lead++;
        }
        if ((rc = add_sentence(&v, &n, &cap, t + lead, len - lead)))
            goto fail;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = retr__judge(&v[i], ctx, e)))
            goto fail;
    keep_free(sp);
    *clean = keep_buf_take(&b);
    if (!*clean) {
        rc = KEEP_ERR_NOMEM;
        goto fail;
    }
    *out = v;
    *n_out = n;
    return KEEP_OK;
fail:
    keep_free(sp);
    keep_buf_free(&b);
    retr__checked_free(v, n);
    return rc == KEEP_ERR_NOMEM ? keep_err_set(err, rc, "out of memory") : rc;
}

void retr__checked_free(retr__checked *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++) {
        keep_free(c[i].text);
        keep_free(c[i].cites);
    }
    keep_free(c);
}
