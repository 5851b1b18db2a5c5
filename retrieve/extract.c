/* extract.c — answers without a model: the sentences of the retrieved
 * passages that best answer the question.
 *
 * A sentence's score (0..1) is
 *   0.35 * coverage   the question's content words (stemmed) found in the
 *                     sentence, each weighted by its rarity in the store
 *                     (BM25 idf), a word found only in the passage's title or
 *                     heading counting half; a word the store lacks weighs
 *                     as much as the rarest word it has;
 *   0.20 * passage    the same coverage by the whole passage (the sentence's
 *                     context: "10 km/h on the yard" under "Speed");
 *   0.20 * meaning    cosine of the sentence and the question in the
 *                     built-in embedder's space (catches other wordings),
 *                     times the share of the question's weight the store
 *                     knows (the embedder cannot vouch for unseen words),
 *                     times the passage coverage: a sentence on the same
 *                     broad subject in a passage that lacks the question's
 *                     own words is what an unanswerable question finds;
 *   0.15 * phrase     share of the question's adjacent content-word pairs
 *                     ("charging park", "third quarter") adjacent in the
 *                     sentence: words that merely co-occur by chance rarely
 *                     form the question's phrases;
 *   0.10 * kind       the question asks for a number or date (how many,
 *                     when, ...) and the sentence holds one, times coverage;
 *   0.05 * rank       1 / (1 + passage rank) from retrieval.
 * The word after "how" in "how long", "how fast"... asks for the kind of
 * answer (a duration, a speed) and is no content word: the answer says
 * "13 weeks", not "long".
 * The best score is the answer's relevance; below the threshold Keep
 * refuses (tests/data/ask measures it). Table rows, list items and lines are
 * sentences of their own; headings and column-header rows are not answers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ask_int.h"

#define W_COVER 0.35
#define W_PASSAGE 0.20
#define W_MEANING 0.20
#define W_PHRASE 0.15
#define W_KIND 0.10
#define W_RANK 0.05
/* sentences kept per passage and overall, so a huge passage stays cheap */
#define MAX_SENTENCES 2000

typedef struct {
    char stem[RETR__MAX_WORD];
    double w;
    int known; /* the store has it (so the embedder may too) */
} qword;

typedef struct {
    qword *q;
    size_t n, cap;
    idx_store *s;
    int64_t total;
    int failed;
    double scale; /* weight factor of the words being added (context < 1) */
    int after_how; /* the previous word was "how" */
} qctx;

/* Stems that, right after "how", ask for a kind of answer ("how long": a
 * duration) rather than name the subject. */
static int how_word(const char *stem)
{
    static const char *const w[] = {"long", "fast", "far", "often", "big", "larg", "old",
                                    "soon", "quick", "quickli", "high", "late", "earli",
                                    "frequent", "frequentli", "heavi", "wid", "deep", "tall"};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (strcmp(stem, w[i]) == 0)
            return 1;
    return 0;
}

static int is_how(const char *surface, size_t n)
{
    return n == 3 && (surface[0] | 32) == 'h' && (surface[1] | 32) == 'o' && (surface[2] | 32) == 'w';
}

static int on_qword(void *ud, const char *surface, size_t n, const char *stem, int stop)
{
    qctx *c = ud;
    int after_how = c->after_how;
    c->after_how = is_how(surface, n);
    if (stop || (after_how && how_word(stem)))
        return 0;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->q[i].stem, stem) == 0)
            return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        qword *p = keep_reallocarray(c->q, cap, sizeof *p);
        if (!p)
            return KEEP_ERR_NOMEM;
        c->q = p;
        c->cap = cap;
    }
    if (c->n >= 64)
        return 0; /* a pasted page is not a question: its first words decide */
    qword *w = &c->q[c->n++];
    snprintf(w->stem, RETR__MAX_WORD, "%s", stem);
    char word[RETR__MAX_WORD * 2];
    size_t m = n < sizeof word - 1 ? n : sizeof word - 1;
    memcpy(word, surface, m);
    word[m] = '\0';
    int64_t df = 0;
    keep_err e2;
    if (c->s && idx_term_chunk_freq(c->s, word, &df, &e2) != KEEP_OK)
        df = 0;
    double N = (double)(c->total > 0 ? c->total : 1);
    /* a word found nowhere in the store weighs as much as the rarest word
     * found once: absent from every passage, it lowers every sentence's
     * coverage alike, which is what tells an unanswerable question */
    w->known = df > 0;
    if (df <= 0)
        df = 1;
    w->w = log(1.0 + (N - (double)df + 0.5) / ((double)df + 0.5));
    if (w->w < 0.05)
        w->w = 0.05;
    w->w *= c->scale;
    return 0;
}

/* Content stems of a text in order (stop words dropped), for phrases. */
typedef struct {
    char (*w)[RETR__MAX_WORD];
    size_t n, cap;
    int question, after_how; /* a question: drop the word after "how" too */
} seq;

static int on_seq(void *ud, const char *surface, size_t n, const char *stem, int stop)
{
    seq *q = ud;
    int after_how = q->after_how;
    q->after_how = q->question && is_how(surface, n);
    if (stop || (after_how && how_word(stem)))
        return 0;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 32;
        void *p = keep_reallocarray(q->w, cap, sizeof *q->w);
        if (!p)
            return KEEP_ERR_NOMEM;
        q->w = p;
        q->cap = cap;
    }
    snprintf(q->w[q->n++], RETR__MAX_WORD, "%s", stem);
    return 0;
}

/* Share of the question's adjacent pairs that are adjacent in the sentence. */
static double phrase_share(const seq *q, const seq *s)
{
    if (q->n < 2)
        return 0;
    size_t hit = 0;
    for (size_t i = 0; i + 1 < q->n; i++)
        for (size_t j = 0; j + 1 < s->n; j++)
            if (strcmp(q->w[i], s->w[j]) == 0 && strcmp(q->w[i + 1], s->w[j + 1]) == 0) {
                hit++;
                break;
            }
    return (double)hit / (double)(q->n - 1);
}

/* Phrases by which a question asks for a quantity, a date or a time. */
static int asks_number(const char *q)
{
    static const char *const cues[] = {
        "how many", "how much", "how long", "how often", "how far", "how high", "how big",
        "how large", "how fast", "how old", "how soon", "how late", "how early", "when ",
        "what date", "which date", "what time", "what percentage", "what percent", "what share",
        "which year", "what year", "what day", "by when", "until when", "what price",
        "what does it cost", "cost", "price", "rate", "number of", "amount", "budget", "deadline",
        "what age", "minimum", "maximum", "limit", "how quickly",
    };
    char low[512];
    size_t n = 0;
    for (; q[n] && n + 1 < sizeof low; n++)
        low[n] = (q[n] >= 'A' && q[n] <= 'Z') ? (char)(q[n] + 32) : q[n];
    low[n] = '\0';
    for (size_t i = 0; i < sizeof cues / sizeof cues[0]; i++)
        if (strstr(low, cues[i]))
            return 1;
    return 0;
}

typedef struct {
    size_t passage, start, end;
    double cover, pcover, phrase, cos, score;
    int kind;
} cand;

/* 1 when a span cannot be an answer: too few words, or a table's header row. */
static int not_an_answer(const char *t, size_t len, size_t words)
{
    if (words < 3)
        return 1;
    /* "Lane | Distance (km) | ..." names columns; the rows below hold the facts */
    size_t bars = 0;
    for (size_t i = 0; i + 2 < len; i++)
        bars += t[i] == ' ' && t[i + 1] == '|' && t[i + 2] == ' ';
    return bars >= 1 && !retr__has_digit(t, len);
}

/* 1 when the span is the passage's title or one of its headings, which the
 * chunk text repeats: a heading names a topic, it does not answer. */
static int is_heading(const retr_passage *p, const char *t, size_t len)
{
    const char *hs[2] = {p->heading, p->title};
    for (int k = 0; k < 2; k++) {
        const char *h = hs[k];
        if (!h)
            continue;
        for (const char *f = h; (f = strchr(f, t[0])) != NULL; f++) {
            if (strncmp(f, t, len) == 0 && (f[len] == '\0' || f[len] == ' ') &&
                (f == h || f[-1] == ' '))
                return 1;
        }
    }
    return 0;
}

typedef struct {
    size_t words;
} count_ctx;

static int count_word(void *ud, const char *s, size_t n, const char *st, int stop)
{
    (void)s;
    (void)n;
    (void)st;
    (void)stop;
    ((count_ctx *)ud)->words++;
    return 0;
}

static double coverage(const qword *q, size_t nq, double wsum, const retr__words *sent,
                       const retr__words *head)
{
    if (wsum <= 0)
        return 0;
    double got = 0;
    for (size_t i = 0; i < nq; i++) {
        if (retr__words_has(sent, q[i].stem))
            got += q[i].w;
        else if (head && retr__words_has(head, q[i].stem))
            got += 0.5 * q[i].w;
    }
    return got / wsum;
}

static int cmp_cand(const void *a, const void *b)
{
    double x = ((const cand *)a)->score, y = ((const cand *)b)->score;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Two sentences say the same when their normalised texts are equal (the
 * overlap between chunks repeats sentences). */
static int same_text(const char *a, size_t na, const char *b, size_t nb)
{
    return na == nb && memcmp(a, b, na) == 0;
}

int retr__extract(idx_store *s, const char *question, const char *context,
                  const retr_context *ctx, idx_embedder *e, size_t max_picks, retr__pick **picks,
                  size_t *n_picks, double *best, keep_err *err)
{
    *picks = NULL;
    *n_picks = 0;
    *best = 0;
    qctx q = {0};
    q.s = s;
    q.scale = 1.0;
    cand *c = NULL;
    size_t nc = 0, capc = 0;
    float *vec = NULL;
    const char **texts = NULL;
    char **owned = NULL;
    retr__words sw = {0}, hw = {0}, pw = {0};
    seq qs = {0}, ss = {0};
    qs.question = 1;
    retr_span *sp = NULL;
    keep_buf full = {0};
    int rc = KEEP_OK;
    if (s && idx_chunk_total(s, &q.total, err))
        return err ? err->code : KEEP_ERR_DB;
    if ((rc = retr__words_each(question, strlen(question), on_qword, &q)))
        goto fail;
    /* a follow-up's words from the conversation: they say what the question
     * is about, the question's own words what it asks, so they weigh half */
    q.scale = 0.5;
    q.after_how = 0;
    if (context && (rc = retr__words_each(context, strlen(context), on_qword, &q)))
        goto fail;
    if ((rc = retr__words_each(question, strlen(question), on_seq, &qs)))
        goto fail;
    double wsum = 0, wknown = 0;
    for (size_t i = 0; i < q.n; i++) {
        wsum += q.q[i].w;
        wknown += q.q[i].known ? q.q[i].w : 0;
    }
    /* the embedder never saw a word the store lacks: its similarity speaks
     * for the known share of the question only */
    double known = wsum > 0 ? wknown / wsum : 0;
    int want_number = asks_number(question);
    size_t np = retr_context_count(ctx);
    for (size_t p = 0; p < np && nc < MAX_SENTENCES; p++) {
        const retr_passage *ps = retr_context_passage(ctx, p);
        retr__words_free(&hw);
        if ((ps->title && (rc = retr__words_add(&hw, ps->title, strlen(ps->title), 0))) ||
            (ps->heading && (rc = retr__words_add(&hw, ps->heading, strlen(ps->heading), 0))) ||
            (ps->sheet && (rc = retr__words_add(&hw, ps->sheet, strlen(ps->sheet), 0))))
            goto fail;
        retr__words_free(&pw);
        if ((rc = retr__words_add(&pw, ps->text, strlen(ps->text), 0)))
            goto fail;
        double pcover = coverage(q.q, q.n, wsum, &pw, &hw);
        size_t ns = 0;
        keep_free(sp);
        sp = NULL;
        if ((rc = retr_sentences(ps->text, strlen(ps->text), &sp, &ns, err)))
            goto fail;
        for (size_t k = 0; k < ns && nc < MAX_SENTENCES; k++) {
            const char *t = ps->text + sp[k].start;
            size_t len = sp[k].end - sp[k].start;
            count_ctx cw = {0};
            retr__words_each(t, len, count_word, &cw);
            if (not_an_answer(t, len, cw.words) || is_heading(ps, t, len))
                continue;
            int dup = 0;
            for (size_t j = 0; j < nc && !dup; j++)
                dup = same_text(retr_context_passage(ctx, c[j].passage)->text + c[j].start,
                                c[j].end - c[j].start, t, len);
            if (dup)
                continue;
            retr__words_free(&sw);
            if ((rc = retr__words_add(&sw, t, len, 0)))
                goto fail;
            if (nc == capc) {
                size_t cap = capc ? capc * 2 : 64;
                cand *nv = keep_reallocarray(c, cap, sizeof *nv);
                if (!nv) {
                    rc = KEEP_ERR_NOMEM;
                    goto fail;
                }
                c = nv;
                capc = cap;
            }
            cand *x = &c[nc++];
            x->passage = p;
            x->start = sp[k].start;
            x->end = sp[k].end;
            x->cover = coverage(q.q, q.n, wsum, &sw, &hw);
            x->cos = 0;
            x->kind = want_number && retr__has_digit(t, len);
            x->pcover = pcover;
            ss.n = 0;
            if ((rc = retr__words_each(t, len, on_seq, &ss)))
                goto fail;
            x->phrase = phrase_share(&qs, &ss);
            /* the kind of answer counts only as far as the words match: a
             * number in an unrelated sentence proves nothing */
            x->score = W_COVER * x->cover + W_PASSAGE * pcover + W_PHRASE * x->phrase +
                       W_RANK / (1.0 + (double)p) +
                       (x->kind ? W_KIND * x->cover : 0.0);
        }
    }
    if (e && nc) {
        /* the question and every candidate sentence in one batch */
        size_t dim = e->dim;
        size_t cells;
        texts = keep_calloc(nc + 1, sizeof *texts);
        owned = keep_calloc(nc + 1, sizeof *owned);
        if (keep_mul_overflow(nc + 1, dim, &cells) || !texts || !owned ||
            !(vec = keep_calloc(cells, sizeof *vec))) {
            rc = KEEP_ERR_NOMEM;
            goto fail;
        }
        /* the embedder reads a follow-up with what it refers to */
        if (context && context[0]) {
            if (keep_buf_printf(&full, "%s %s", question, context)) {
                rc = KEEP_ERR_NOMEM;
                goto fail;
            }
            texts[0] = full.data;
        } else {
            texts[0] = question;
        }
        for (size_t i = 0; i < nc; i++) {
            owned[i] = keep_strndup(retr_context_passage(ctx, c[i].passage)->text + c[i].start,
                                    c[i].end - c[i].start);
            if (!owned[i]) {
                rc = KEEP_ERR_NOMEM;
                goto fail;
            }
            texts[i + 1] = owned[i];
        }
        keep_err e2;
        if (e->embed(e, texts, 1, 1, vec, &e2) == KEEP_OK &&
            e->embed(e, texts + 1, nc, 0, vec + dim, &e2) == KEEP_OK) {
            for (size_t i = 0; i < nc; i++) {
                float cs = retr__cosine(vec, vec + (i + 1) * dim, dim);
                c[i].cos = cs;
                if (cs > 0)
                    c[i].score += W_MEANING * known * cs * c[i].pcover;
            }
        }
    }
    if (nc > 1) /* c is NULL when no passage had a sentence */
        qsort(c, nc, sizeof *c, cmp_cand);
    if (nc) {
        *best = c[0].score;
        size_t keep = nc < max_picks ? nc : max_picks;
        retr__pick *out = keep_calloc(keep ? keep : 1, sizeof *out);
        if (!out) {
            rc = KEEP_ERR_NOMEM;
            goto fail;
        }
        size_t k = 0;
        for (size_t i = 0; i < nc && k < keep; i++) {
            /* further sentences only when nearly as good as the best and
             * actually sharing words with the question */
            if (i > 0 && (c[i].score < 0.8 * c[0].score || c[i].cover <= 0))
                break;
            out[k++] = (retr__pick){c[i].passage, c[i].start, c[i].end, c[i].score};
        }
        *picks = out;
        *n_picks = k;
    }
fail:
    if (owned)
        for (size_t i = 0; i < nc; i++)
            keep_free(owned[i]);
    keep_free(owned);
    keep_free(texts);
    keep_free(vec);
    keep_free(c);
    keep_free(sp);
    keep_free(q.q);
    retr__words_free(&sw);
    retr__words_free(&hw);
    retr__words_free(&pw);
    keep_free(qs.w);
    keep_free(ss.w);
    keep_buf_free(&full);
    if (rc && rc != KEEP_OK && (!err || err->code != rc))
        return keep_err_set(err, rc, "%s", keep_strerror(rc));
    return rc;
}
