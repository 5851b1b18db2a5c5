/* answer.c — retr_ask, the answering pipeline (see retr.h): retrieve as the
 * caller, select passages, refuse when nothing is relevant enough (before any
 * model runs), answer extractively or with the generator, check citations,
 * and the documented JSON. */
#include <stdlib.h>
#include <string.h>

#include "ask_int.h"

#define DEFAULT_K 8
#define DEFAULT_BUDGET 1500
#define MAX_QUESTION 4000
/* sentences of an extractive answer */
#define EXTRACT_SENTENCES 3

static const char refusal_text[] =
    "I found nothing in the documents you can access that answers this question.";

struct retr_answer {
    char *question, *text, *model, *prompt;
    const char *mode;
    int refused;
    double relevance;
    retr_citation *cit;
    size_t n_cit;
    retr_answer_sentence *sent;
    size_t n_sent;
    retr__checked *checked;
    double retrieve_ms, first_token_ms, total_ms, tokens_per_s, prefill_ms, decode_ms;
    size_t prompt_tokens, cached_tokens, generated_tokens;
};

void retr_answer_free(retr_answer *a)
{
    if (!a)
        return;
    keep_free(a->question);
    keep_free(a->text);
    keep_free(a->model);
    keep_free(a->prompt);
    for (size_t i = 0; i < a->n_cit; i++) {
        retr_citation *c = &a->cit[i];
        keep_free((char *)c->path);
        keep_free((char *)c->title);
        keep_free((char *)c->collection);
        keep_free((char *)c->heading);
        keep_free((char *)c->sheet);
        keep_free((char *)c->quote);
    }
    keep_free(a->cit);
    keep_free(a->sent);
    retr__checked_free(a->checked, a->n_sent);
    keep_free(a);
}

const char *retr_answer_text(const retr_answer *a) { return a->text; }
int retr_answer_refused(const retr_answer *a) { return a->refused; }
const char *retr_answer_mode(const retr_answer *a) { return a->mode; }
double retr_answer_relevance(const retr_answer *a) { return a->relevance; }
size_t retr_answer_citation_count(const retr_answer *a) { return a->n_cit; }
const retr_citation *retr_answer_citation(const retr_answer *a, size_t i)
{
    return i < a->n_cit ? &a->cit[i] : NULL;
}
size_t retr_answer_sentence_count(const retr_answer *a) { return a->n_sent; }
const retr_answer_sentence *retr_answer_sentence_at(const retr_answer *a, size_t i)
{
    return i < a->n_sent ? &a->sent[i] : NULL;
}
const char *retr_answer_prompt(const retr_answer *a) { return a->prompt; }

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = keep_strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

/* Fills a->sent (views of a->checked) and a->cit (copies of the cited
 * passages, ordered by number) from a->checked. */
static int collect(retr_answer *a, const retr_context *ctx, const retr_results *res)
{
    size_t np = retr_context_count(ctx);
    a->sent = keep_calloc(a->n_sent ? a->n_sent : 1, sizeof *a->sent);
    a->cit = keep_calloc(np ? np : 1, sizeof *a->cit);
    if (!a->sent || !a->cit)
        return KEEP_ERR_NOMEM;
    for (size_t i = 0; i < a->n_sent; i++) {
        retr__checked *c = &a->checked[i];
        a->sent[i] = (retr_answer_sentence){c->text, c->cites, c->n_cites, c->supported, c->support};
    }
    int oom = 0;
    for (size_t p = 0; p < np; p++) {
        const retr_passage *ps = retr_context_passage(ctx, p);
        int used = 0;
        for (size_t i = 0; i < a->n_sent && !used; i++)
            for (size_t k = 0; k < a->checked[i].n_cites; k++)
                used |= a->checked[i].cites[k] == ps->number;
        if (!used)
            continue;
        /* the collection is on the search hit of the same document */
        const char *coll = NULL;
        for (size_t h = 0; h < retr_results_count(res); h++)
            if (retr_results_hit(res, h)->doc_id == ps->doc_id) {
                coll = retr_results_hit(res, h)->collection;
                break;
            }
        retr_citation *c = &a->cit[a->n_cit++];
        c->n = ps->number;
        c->doc_id = ps->doc_id;
        c->path = dup_or_null(ps->path, &oom);
        c->title = dup_or_null(ps->title, &oom);
        c->collection = dup_or_null(coll, &oom);
        c->heading = dup_or_null(ps->heading, &oom);
        c->sheet = dup_or_null(ps->sheet, &oom);
        c->quote = dup_or_null(ps->text, &oom);
        c->page = ps->page_start;
        c->slide = ps->slide;
        c->start = ps->start;
        c->end = ps->end;
    }
    return oom ? KEEP_ERR_NOMEM : KEEP_OK;
}

/* The extractive answer: each picked sentence (line breaks flattened) with
 * its [n], one per line. */
static int extractive(retr_answer *a, const retr_context *ctx, const retr__pick *pk, size_t n,
                      idx_embedder *e)
{
    keep_buf b = {0};
    a->checked = keep_calloc(n ? n : 1, sizeof *a->checked);
    if (!a->checked)
        return KEEP_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const retr_passage *p = retr_context_passage(ctx, pk[i].passage);
        retr__checked *c = &a->checked[i];
        c->text = keep_strndup(p->text + pk[i].start, pk[i].end - pk[i].start);
        c->cites = keep_calloc(1, sizeof *c->cites);
        a->n_sent++;
        if (!c->text || !c->cites)
            goto oom;
        for (char *q = c->text; *q; q++)
            if (*q == '\n' || *q == '\t' || *q == '\r')
                *q = ' ';
        c->cites[0] = p->number;
        c->n_cites = 1;
        if (retr__judge(c, ctx, e))
            goto oom;
        if ((i && keep_buf_putc(&b, '\n')) || keep_buf_printf(&b, "%s [%d]", c->text, p->number))
            goto oom;
    }
    a->text = keep_buf_take(&b);
    return a->text ? KEEP_OK : KEEP_ERR_NOMEM;
oom:
    keep_buf_free(&b);
    return KEEP_ERR_NOMEM;
}

static size_t count_with_gen(void *ud, const char *text, size_t len)
{
    retr_generator *g = ud;
    return g->count_tokens(g, text, len);
}

typedef struct {
    const retr_ask_request *rq;
    double t0, first;
} piece_ud;

static int on_piece(void *ud, const char *text, size_t len)
{
    piece_ud *p = ud;
    if (p->first <= 0)
        p->first = keep_now_ms() - p->t0;
    if (p->rq->on_piece)
        return p->rq->on_piece(p->rq->piece_ud, text, len);
    return 0;
}

static int generative(retr_answer *a, const retr_ask_request *rq, const retr_context *ctx,
                      double t0, keep_err *err)
{
    retr_generator *g = rq->gen;
    keep_buf user = {0}, prompt = {0}, out = {0}, *hbuf = NULL;
    retr_turn *hist = NULL;
    size_t nm = 2 + 2 * rq->n_history;
    retr_chat_msg *msgs = keep_calloc(nm, sizeof *msgs);
    int rc = msgs ? retr_prompt_user(rq->question, ctx, &user, err) : KEEP_ERR_NOMEM;
    if (rc)
        goto out;
    /* earlier turns are text from users and from extracted documents: the
     * same neutralising as the sources */
    hist = keep_calloc(rq->n_history ? rq->n_history : 1, sizeof *hist);
    hbuf = keep_calloc(rq->n_history ? 2 * rq->n_history : 1, sizeof *hbuf);
    if (!hist || !hbuf) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < rq->n_history; i++) {
        const char *hq = rq->history[i].question ? rq->history[i].question : "";
        const char *ha = rq->history[i].answer ? rq->history[i].answer : "";
        if (retr__neutral(&hbuf[2 * i], hq, strlen(hq)) || keep_buf_puts(&hbuf[2 * i], "") ||
            retr__neutral(&hbuf[2 * i + 1], ha, strlen(ha)) || keep_buf_puts(&hbuf[2 * i + 1], "")) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
            goto out;
        }
        hist[i] = (retr_turn){hbuf[2 * i].data, hbuf[2 * i + 1].data};
    }
    retr_prompt_messages(hist, rq->n_history, user.data, msgs, &nm);
    if ((rc = g->render(g, msgs, nm, &prompt, err)))
        goto out;
    double warm_ms = 0;
    if (g->warm) {
        /* the system prompt alone, computed once per sequence and reused */
        double tw = keep_now_ms();
        keep_buf sys = {0};
        retr_chat_msg m0 = {"system", retr_system_prompt()};
        rc = g->render(g, &m0, 1, &sys, err);
        /* what the system-only rendering shares with the prompt is the part
         * every question starts with */
        size_t lcp = 0;
        while (!rc && lcp < sys.len && lcp < prompt.len && sys.data[lcp] == prompt.data[lcp])
            lcp++;
        if (!rc && lcp > 0) {
            sys.data[lcp] = '\0';
            rc = g->warm(g, sys.data, err);
        }
        keep_buf_free(&sys);
        warm_ms = keep_now_ms() - tw;
        if (rc)
            goto out;
    }
    a->prompt = keep_strdup(prompt.data);
    if (!a->prompt) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    piece_ud pu = {rq, t0, 0};
    retr_gen_request gr = {prompt.data, rq->max_tokens, on_piece, &pu, rq->on_queue, rq->queue_ud,
                           rq->cancel, rq->timeout_ms > 0 ? t0 + rq->timeout_ms : 0};
    retr_gen_stats st;
    memset(&st, 0, sizeof st);
    if ((rc = g->generate(g, &gr, &out, &st, err)))
        goto out;
    a->prompt_tokens = st.prompt_tokens;
    a->cached_tokens = st.reused_tokens;
    a->generated_tokens = st.generated_tokens;
    a->first_token_ms = pu.first > 0 ? pu.first : 0;
    a->prefill_ms = warm_ms + st.prefill_ms; /* a cold sequence computes the system prompt first */
    a->decode_ms = st.decode_ms;
    a->tokens_per_s = st.decode_ms > 0 ? (double)st.generated_tokens * 1000.0 / st.decode_ms : 0;
    char *clean = NULL;
    if ((rc = retr__check(out.data ? out.data : "", ctx, rq->embedder, &clean, &a->checked,
                          &a->n_sent, err)))
        goto out;
    a->text = clean;
    /* an answer that cites no source is the model saying the sources do not
     * hold the answer (or not answering from them): either way no claim of
     * it stands on a document */
    size_t cited = 0;
    for (size_t i = 0; i < a->n_sent; i++)
        cited += a->checked[i].n_cites;
    a->refused = cited == 0;
out:
    if (hbuf)
        for (size_t i = 0; i < 2 * rq->n_history; i++)
            keep_buf_free(&hbuf[i]);
    keep_free(hbuf);
    keep_free(hist);
    keep_free(msgs);
    keep_buf_free(&user);
    keep_buf_free(&prompt);
    keep_buf_free(&out);
    return rc;
}

int retr_ask(idx_store *s, const retr_ask_request *rq, retr_answer **out, keep_err *err)
{
    *out = NULL;
    double t0 = keep_now_ms();
    if (!rq->question || !*rq->question)
        return keep_err_set(err, KEEP_ERR_USAGE, "give a question");
    if (strlen(rq->question) > MAX_QUESTION)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "a question is at most %d bytes", MAX_QUESTION);
    if (!keep_utf8_valid(rq->question, strlen(rq->question)))
        return keep_err_set(err, KEEP_ERR_ENCODING, "the question is not valid UTF-8");
    if (!rq->as)
        return keep_err_set(err, KEEP_ERR_USAGE, "a question is asked as a principal");
    retr_answer *a = keep_calloc(1, sizeof *a);
    retr_results *res = NULL;
    retr_context *ctx = NULL;
    retr__pick *picks = NULL;
    keep_buf query = {0}, fctx = {0};
    int rc;
    if (!a)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    a->mode = rq->gen ? "generative" : "extractive";
    a->question = keep_strdup(rq->question);
    a->model = rq->gen && rq->gen->name ? keep_strdup(rq->gen->name) : NULL;
    if (!a->question || (rq->gen && rq->gen->name && !a->model))
        goto oom;
    /* a follow-up ("and from Leipzig to Prague?") is retrieved with the words
     * of the conversation it refers to; a question of its own is not */
    if ((rc = retr__followup_context(s, rq->question, rq->history, rq->n_history, &fctx, err)))
        goto fail;
    if (keep_buf_puts(&query, rq->question) ||
        (fctx.len && (keep_buf_putc(&query, ' ') || keep_buf_append(&query, fctx.data, fctx.len))))
        goto oom;
    retr_request sr = {query.data,
                       rq->k ? rq->k : DEFAULT_K,
                       NULL,
                       rq->as,
                       rq->filter,
                       rq->max_chunks_per_doc ? rq->max_chunks_per_doc : 3,
                       rq->vectors,
                       rq->embedder};
    if ((rc = retr_search(s, &sr, &res, err)))
        goto fail;
    a->retrieve_ms = keep_now_ms() - t0;
    size_t budget = rq->context_tokens ? rq->context_tokens : DEFAULT_BUDGET;
    if (rq->gen && rq->gen->n_ctx) {
        /* room for the instructions, the question, the history and the
         * answer; the passages get at least a quarter of the context */
        size_t n_ctx = rq->gen->n_ctx, fixed = 64;
        fixed += rq->gen->count_tokens(rq->gen, retr_system_prompt(), strlen(retr_system_prompt()));
        fixed += rq->gen->count_tokens(rq->gen, rq->question, strlen(rq->question));
        for (size_t i = 0; i < rq->n_history; i++) {
            const retr_turn *t = &rq->history[i];
            fixed += 16 + (t->question ? rq->gen->count_tokens(rq->gen, t->question, strlen(t->question)) : 0) +
                     (t->answer ? rq->gen->count_tokens(rq->gen, t->answer, strlen(t->answer)) : 0);
        }
        fixed += rq->max_tokens ? rq->max_tokens : 512;
        size_t room = n_ctx > fixed ? n_ctx - fixed : 0;
        if (room < n_ctx / 4)
            room = n_ctx / 4;
        if (budget > room)
            budget = room;
    }
    if ((rc = retr_context_build(res, budget, rq->gen ? count_with_gen : NULL, rq->gen, &ctx, err)))
        goto fail;
    size_t n_picks = 0;
    if ((rc = retr__extract(s, rq->question, fctx.len ? fctx.data : NULL, ctx, rq->embedder,
                            EXTRACT_SENTENCES, &picks, &n_picks, &a->relevance, err)))
        goto fail;
    double threshold = rq->min_relevance > 0 ? rq->min_relevance : RETR_MIN_RELEVANCE;
    if (a->relevance < threshold || n_picks == 0) {
        a->refused = 1;
        if (!(a->text = keep_strdup(refusal_text)))
            goto oom;
    } else if (!rq->gen) {
        if ((rc = extractive(a, ctx, picks, n_picks, rq->embedder)))
            goto oom;
    } else if ((rc = generative(a, rq, ctx, t0, err))) {
        goto fail;
    }
    if ((rc = collect(a, ctx, res)))
        goto oom;
    a->total_ms = keep_now_ms() - t0;
    keep_free(picks);
    retr_context_free(ctx);
    retr_results_free(res);
    keep_buf_free(&query);
    keep_buf_free(&fctx);
    *out = a;
    return KEEP_OK;
oom:
    rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
fail:
    keep_free(picks);
    retr_context_free(ctx);
    retr_results_free(res);
    keep_buf_free(&query);
    keep_buf_free(&fctx);
    retr_answer_free(a);
    return rc;
}

/* ---- JSON ---- */

static cJSON *num_or_null(int v) { return v ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }
static cJSON *str_or_null(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

cJSON *retr_answer_json(const retr_answer *a)
{
    cJSON *o = cJSON_CreateObject(), *cits = cJSON_CreateArray(), *sents = cJSON_CreateArray(),
          *t = cJSON_CreateObject();
    if (!o || !cits || !sents || !t)
        goto oom;
    cJSON_AddItemToObject(o, "question", cJSON_CreateString(a->question));
    cJSON_AddItemToObject(o, "answer", cJSON_CreateString(a->text ? a->text : ""));
    cJSON_AddItemToObject(o, "refused", cJSON_CreateBool(a->refused));
    cJSON_AddItemToObject(o, "mode", cJSON_CreateString(a->mode));
    cJSON_AddItemToObject(o, "model", str_or_null(a->model));
    cJSON_AddItemToObject(o, "relevance", cJSON_CreateNumber(a->relevance));
    for (size_t i = 0; i < a->n_cit; i++) {
        const retr_citation *c = &a->cit[i];
        cJSON *j = cJSON_CreateObject(), *loc = cJSON_CreateObject();
        if (!j || !loc) {
            cJSON_Delete(j);
            cJSON_Delete(loc);
            goto oom;
        }
        cJSON_AddItemToArray(cits, j);
        cJSON_AddItemToObject(j, "n", cJSON_CreateNumber(c->n));
        cJSON_AddItemToObject(j, "doc_id", cJSON_CreateNumber((double)c->doc_id));
        cJSON_AddItemToObject(j, "path", str_or_null(c->path));
        cJSON_AddItemToObject(j, "title", str_or_null(c->title));
        cJSON_AddItemToObject(j, "collection", str_or_null(c->collection));
        cJSON_AddItemToObject(loc, "page", num_or_null(c->page));
        cJSON_AddItemToObject(loc, "slide", num_or_null(c->slide));
        cJSON_AddItemToObject(loc, "sheet", str_or_null(c->sheet));
        cJSON_AddItemToObject(loc, "heading", str_or_null(c->heading));
        cJSON_AddItemToObject(j, "location", loc);
        cJSON_AddItemToObject(j, "quote", str_or_null(c->quote));
        cJSON_AddItemToObject(j, "start", cJSON_CreateNumber((double)c->start));
        cJSON_AddItemToObject(j, "end", cJSON_CreateNumber((double)c->end));
    }
    cJSON_AddItemToObject(o, "citations", cits);
    cits = NULL;
    for (size_t i = 0; i < a->n_sent; i++) {
        const retr_answer_sentence *s = &a->sent[i];
        cJSON *j = cJSON_CreateObject(), *cs = cJSON_CreateArray();
        if (!j || !cs) {
            cJSON_Delete(j);
            cJSON_Delete(cs);
            goto oom;
        }
        cJSON_AddItemToArray(sents, j);
        cJSON_AddItemToObject(j, "text", cJSON_CreateString(s->text));
        for (size_t k = 0; k < s->n_cites; k++)
            cJSON_AddItemToArray(cs, cJSON_CreateNumber(s->cites[k]));
        cJSON_AddItemToObject(j, "cites", cs);
        cJSON_AddItemToObject(j, "supported", cJSON_CreateBool(s->supported));
    }
    cJSON_AddItemToObject(o, "sentences", sents);
    sents = NULL;
    cJSON_AddItemToObject(t, "retrieve_ms", cJSON_CreateNumber(a->retrieve_ms));
    cJSON_AddItemToObject(t, "first_token_ms",
                          a->generated_tokens ? cJSON_CreateNumber(a->first_token_ms) : cJSON_CreateNull());
    cJSON_AddItemToObject(t, "total_ms", cJSON_CreateNumber(a->total_ms));
    /* where the time went: the prompt's evaluation (its uncached part) and
     * the sampled tokens */
    cJSON_AddItemToObject(t, "prefill_ms", cJSON_CreateNumber(a->prefill_ms));
    cJSON_AddItemToObject(t, "decode_ms", cJSON_CreateNumber(a->decode_ms));
    cJSON_AddItemToObject(t, "prompt_tokens", cJSON_CreateNumber((double)a->prompt_tokens));
    cJSON_AddItemToObject(t, "cached_tokens", cJSON_CreateNumber((double)a->cached_tokens));
    cJSON_AddItemToObject(t, "generated_tokens", cJSON_CreateNumber((double)a->generated_tokens));
    cJSON_AddItemToObject(t, "tokens_per_s", cJSON_CreateNumber(a->tokens_per_s));
    cJSON_AddItemToObject(o, "timings", t);
    return o;
oom:
    cJSON_Delete(cits);
    cJSON_Delete(sents);
    cJSON_Delete(t);
    cJSON_Delete(o);
    return NULL;
}
