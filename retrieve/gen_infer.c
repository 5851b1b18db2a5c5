/* gen_infer.c — the retr_generator over Keep's own decoder (infer/): the only
 * file of the answering layer that calls infer/. It owns the model (mmapped,
 * shared read-only) and a fixed number of sequences, each an infer_ctx with
 * its own KV cache; a FIFO queue hands them out, reports each waiter's
 * place, and drops waiters whose asker went away or whose time ran out.
 * A watchdog thread stops a generation past its deadline even in the middle
 * of a long prompt evaluation (infer_ctx_cancel), which the per-token checks
 * alone could not. The system prompt stays in every sequence's cache, so
 * only the question's part of a prompt is computed. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "infer/infer.h"
#include "retr.h"

typedef struct waiter {
    struct waiter *next;
    int granted;
    size_t slot;
} waiter;

typedef struct slot {
    infer_ctx *ctx;
    int busy;
    double deadline;  /* keep_now_ms(); 0: none */
    int cancel_sent;  /* infer_ctx_cancel issued during this generation */
    int timed_out;
    int stale_cancel; /* a cancel that arrived after the generation ended */
} slot;

typedef struct gguf_gen {
    retr_generator base;
    infer_model *m;
    infer_chat_format fmt;
    slot *slots;
    size_t n_slots;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    waiter *head, *tail;
    size_t n_wait, max_queue, max_tokens;
    infer_sampling samp;
    char *name;
    pthread_t watchdog;
    int watchdog_on, stopping;
} gguf_gen;

static size_t gg_count(retr_generator *g, const char *text, size_t len)
{
    gguf_gen *gg = (gguf_gen *)g;
    size_t n = 0;
    keep_err err;
    if (infer_tokenize(infer_model_tokenizer(gg->m), text, len, 0, NULL, 0, &n, &err) &&
        err.code != KEEP_ERR_TOOBIG)
        return (len + 3) / 4;
    return n;
}

static int gg_render(retr_generator *g, const retr_chat_msg *msgs, size_t n, keep_buf *out,
                     keep_err *err)
{
    gguf_gen *gg = (gguf_gen *)g;
    infer_chat_msg *m = keep_calloc(n ? n : 1, sizeof *m);
    if (!m)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        m[i] = (infer_chat_msg){msgs[i].role, msgs[i].content};
    int rc = infer_chat_apply(gg->fmt, m, n, 1, out, err);
    keep_free(m);
    return rc;
}

static void timespec_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *watchdog_main(void *ud)
{
    gguf_gen *gg = ud;
    pthread_mutex_lock(&gg->mu);
    while (!gg->stopping) {
        double now = keep_now_ms();
        for (size_t i = 0; i < gg->n_slots; i++) {
            slot *s = &gg->slots[i];
            if (s->busy && s->deadline > 0 && now > s->deadline && !s->cancel_sent) {
                s->timed_out = 1;
                s->cancel_sent = 1;
                infer_ctx_cancel(s->ctx);
            }
        }
        struct timespec ts;
        timespec_in(&ts, 50);
        pthread_cond_timedwait(&gg->cv, &gg->mu, &ts);
    }
    pthread_mutex_unlock(&gg->mu);
    return NULL;
}

/* Takes the waiter out of the queue (under mu). */
static void unlink_waiter(gguf_gen *gg, waiter *w)
{
    waiter **pp = &gg->head, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = w->next;
    if (gg->tail == w)
        gg->tail = prev;
    gg->n_wait--;
}

/* Waits for a free sequence in arrival order. KEEP_ERR_CANCELLED when the
 * asker left or the deadline passed while waiting. */
static int acquire(gguf_gen *gg, const retr_gen_request *rq, size_t *slot_out, keep_err *err)
{
    pthread_mutex_lock(&gg->mu);
    if (gg->n_wait >= gg->max_queue) {
        pthread_mutex_unlock(&gg->mu);
        return keep_err_set(err, KEEP_ERR_TOOBIG, "%zu questions are waiting already; try again later",
                            gg->n_wait);
    }
    waiter w = {NULL, 0, 0};
    if (gg->tail)
        gg->tail->next = &w;
    else
        gg->head = &w;
    gg->tail = &w;
    gg->n_wait++;
    size_t reported = 0;
    int rc = KEEP_OK;
    for (;;) {
        if (gg->head == &w) {
            for (size_t i = 0; i < gg->n_slots; i++)
                if (!gg->slots[i].busy) {
                    w.granted = 1;
                    w.slot = i;
                    break;
                }
        }
        if (w.granted)
            break;
        if (retr_cancel_fired(rq->cancel) || (rq->deadline_ms > 0 && keep_now_ms() > rq->deadline_ms)) {
            rc = keep_err_set(err, KEEP_ERR_CANCELLED,
                              retr_cancel_fired(rq->cancel) ? "cancelled while waiting in the queue"
                                                            : "time limit reached while waiting in the queue");
            break;
        }
        size_t pos = 1;
        for (waiter *p = gg->head; p && p != &w; p = p->next)
            pos++;
        if (pos != reported && rq->on_queue) {
            reported = pos;
            pthread_mutex_unlock(&gg->mu);
            rq->on_queue(rq->queue_ud, pos);
            pthread_mutex_lock(&gg->mu);
            continue;
        }
        struct timespec ts;
        timespec_in(&ts, 50);
        pthread_cond_timedwait(&gg->cv, &gg->mu, &ts);
    }
    unlink_waiter(gg, &w);
    if (!rc) {
        slot *s = &gg->slots[w.slot];
        s->busy = 1;
        s->deadline = rq->deadline_ms;
        s->cancel_sent = 0;
        s->timed_out = 0;
        *slot_out = w.slot;
    }
    pthread_cond_broadcast(&gg->cv); /* the next waiter is now at the head */
    pthread_mutex_unlock(&gg->mu);
    return rc;
}

static void release(gguf_gen *gg, size_t i, int was_cancelled)
{
    pthread_mutex_lock(&gg->mu);
    slot *s = &gg->slots[i];
    if (s->cancel_sent && !was_cancelled)
        s->stale_cancel = 1; /* it would stop the next, innocent generation */
    s->busy = 0;
    s->deadline = 0;
    pthread_cond_broadcast(&gg->cv);
    pthread_mutex_unlock(&gg->mu);
}

typedef struct {
    gguf_gen *gg;
    size_t slot;
} hook_ud;

static void on_cancel(void *ud)
{
    hook_ud *h = ud;
    pthread_mutex_lock(&h->gg->mu);
    slot *s = &h->gg->slots[h->slot];
    if (s->busy && !s->cancel_sent) {
        s->cancel_sent = 1;
        infer_ctx_cancel(s->ctx);
    }
    pthread_mutex_unlock(&h->gg->mu);
}

/* Consumes a cancel request left pending on a context by a generation that
 * ended on its own just before it arrived. */
static void clear_stale(gguf_gen *gg, slot *s)
{
    if (!s->stale_cancel)
        return;
    s->stale_cancel = 0;
    int32_t tok = infer_tokenizer_special(infer_model_tokenizer(gg->m), INFER_SPECIAL_BOS);
    if (tok < 0)
        tok = 0;
    keep_err err;
    infer_ctx_reset(s->ctx);
    if (infer_ctx_eval(s->ctx, &tok, 1, NULL, &err) == KEEP_OK) {
        /* the cancel had been consumed after all */
    }
    infer_ctx_reset(s->ctx);
}

typedef struct {
    const retr_gen_request *rq;
    slot *s;
    double t0;
    int first;
    double first_ms;
} piece_ctx;

static int on_piece(void *ud, const char *text, size_t len)
{
    piece_ctx *p = ud;
    if (!p->first) {
        p->first = 1;
        p->first_ms = keep_now_ms() - p->t0;
    }
    if (p->rq->deadline_ms > 0 && keep_now_ms() > p->rq->deadline_ms) {
        p->s->timed_out = 1;
        return 1;
    }
    if (retr_cancel_fired(p->rq->cancel))
        return 1;
    return p->rq->on_piece ? p->rq->on_piece(p->rq->piece_ud, text, len) : 0;
}

static int gg_generate(retr_generator *g, const retr_gen_request *rq, keep_buf *text,
                       retr_gen_stats *st, keep_err *err)
{
    gguf_gen *gg = (gguf_gen *)g;
    double t0 = keep_now_ms();
    memset(st, 0, sizeof *st);
    int32_t *ids = NULL;
    size_t n = 0, si = 0;
    int rc = infer_tokenize_alloc(infer_model_tokenizer(gg->m), rq->prompt, strlen(rq->prompt),
                                  INFER_TOK_ADD_SPECIAL | INFER_TOK_PARSE_SPECIAL, &ids, &n, err);
    if (rc)
        return rc;
    size_t max_tokens = rq->max_tokens ? rq->max_tokens : gg->max_tokens;
    if (n + 8 > g->n_ctx) {
        keep_free(ids);
        return keep_err_set(err, KEEP_ERR_TOOBIG, "the prompt (%zu tokens) does not fit the model's context of %zu",
                            n, g->n_ctx);
    }
    if ((rc = acquire(gg, rq, &si, err))) {
        keep_free(ids);
        st->stop = "cancelled";
        return rc;
    }
    st->queue_ms = keep_now_ms() - t0;
    if (rq->on_queue)
        rq->on_queue(rq->queue_ud, 0);
    slot *s = &gg->slots[si];
    clear_stale(gg, s);
    hook_ud h = {gg, si};
    if (retr_cancel_hook(rq->cancel, on_cancel, &h)) {
        release(gg, si, 0);
        keep_free(ids);
        st->stop = "cancelled";
        return keep_err_set(err, KEEP_ERR_CANCELLED, "cancelled");
    }
    infer_gen_params gp;
    infer_gen_defaults(&gp);
    gp.sampling = gg->samp;
    gp.max_tokens = max_tokens;
    piece_ctx pc = {rq, s, t0, 0, 0};
    gp.on_piece = on_piece;
    gp.user = &pc;
    infer_gen_result res;
    memset(&res, 0, sizeof res);
    rc = infer_generate(s->ctx, ids, n, &gp, text, &res, err);
    retr_cancel_hook(rq->cancel, NULL, NULL);
    int timed_out;
    pthread_mutex_lock(&gg->mu);
    timed_out = s->timed_out;
    pthread_mutex_unlock(&gg->mu);
    release(gg, si, rc == KEEP_ERR_CANCELLED);
    keep_free(ids);
    st->prompt_tokens = res.n_prompt;
    st->reused_tokens = res.n_reused;
    st->generated_tokens = res.n_generated;
    st->prefill_ms = res.prompt_ms;
    st->decode_ms = res.gen_ms;
    st->first_token_ms = pc.first ? pc.first_ms : 0;
    int stopped = rc == KEEP_ERR_CANCELLED || res.stop == INFER_STOP_CALLBACK;
    if (stopped && (timed_out || (rq->deadline_ms > 0 && keep_now_ms() > rq->deadline_ms))) {
        st->stop = "timeout";
        return keep_err_set(err, KEEP_ERR_CANCELLED, "the answer took longer than its time limit");
    }
    if (stopped && retr_cancel_fired(rq->cancel)) {
        st->stop = "cancelled";
        return keep_err_set(err, KEEP_ERR_CANCELLED, "cancelled");
    }
    if (rc)
        return rc;
    st->stop = res.stop == INFER_STOP_LENGTH ? "length" : res.stop == INFER_STOP_CONTEXT ? "context"
             : res.stop == INFER_STOP_CALLBACK ? "stopped" : "end";
    return KEEP_OK;
}

static int gg_warm(retr_generator *g, const char *prefix, keep_err *err)
{
    gguf_gen *gg = (gguf_gen *)g;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = infer_tokenize_alloc(infer_model_tokenizer(gg->m), prefix, strlen(prefix),
                                  INFER_TOK_ADD_SPECIAL | INFER_TOK_PARSE_SPECIAL, &ids, &n, err);
    if (rc || n == 0 || n + 8 > g->n_ctx) {
        keep_free(ids);
        return rc;
    }
    /* only sequences that are free now and hold no prefix yet: a busy one
     * keeps the system prompt from its previous answer anyway */
    for (size_t i = 0; i < gg->n_slots && !rc; i++) {
        pthread_mutex_lock(&gg->mu);
        slot *s = &gg->slots[i];
        int take = !s->busy && !gg->head && infer_ctx_n_past(s->ctx) == 0;
        if (take) {
            s->busy = 1;
            s->cancel_sent = 0;
        }
        pthread_mutex_unlock(&gg->mu);
        if (!take)
            continue;
        clear_stale(gg, s);
        rc = infer_ctx_eval(s->ctx, ids, n, NULL, err);
        release(gg, i, 0);
    }
    keep_free(ids);
    return rc;
}

/* The part every prompt starts with (the system prompt in the chat format,
 * up to where the user's turn begins) into every sequence: what two
 * conversations with different questions share. */
static int warm_all(gguf_gen *gg, keep_err *err)
{
    keep_buf a = {0}, b = {0};
    retr_chat_msg m[2] = {{"system", retr_system_prompt()}, {"user", "a"}};
    int rc = gg_render(&gg->base, m, 2, &a, err);
    m[1].content = "b";
    if (!rc)
        rc = gg_render(&gg->base, m, 2, &b, err);
    size_t lcp = 0;
    while (!rc && lcp < a.len && lcp < b.len && a.data[lcp] == b.data[lcp])
        lcp++;
    if (!rc && lcp > 0) {
        a.data[lcp] = '\0';
        rc = gg_warm(&gg->base, a.data, err);
    }
    keep_buf_free(&a);
    keep_buf_free(&b);
    return rc;
}

static void gg_free(retr_generator *g)
{
    gguf_gen *gg = (gguf_gen *)g;
    if (gg->watchdog_on) {
        pthread_mutex_lock(&gg->mu);
        gg->stopping = 1;
        pthread_cond_broadcast(&gg->cv);
        pthread_mutex_unlock(&gg->mu);
        pthread_join(gg->watchdog, NULL);
    }
    for (size_t i = 0; i < gg->n_slots; i++)
        infer_ctx_free(gg->slots[i].ctx);
    keep_free(gg->slots);
    infer_model_free(gg->m);
    keep_free(gg->name);
    pthread_cond_destroy(&gg->cv);
    pthread_mutex_destroy(&gg->mu);
    keep_free(gg);
}

int retr_generator_open_gguf(const char *path, const retr_gguf_options *o, retr_generator **out,
                             keep_err *err)
{
    *out = NULL;
    retr_gguf_options d;
    memset(&d, 0, sizeof d);
    if (!o)
        o = &d;
    gguf_gen *gg = keep_calloc(1, sizeof *gg);
    if (!gg)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    if (pthread_mutex_init(&gg->mu, NULL)) {
        keep_free(gg);
        return keep_err_set(err, KEEP_ERR_INTERNAL, "cannot create a mutex");
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    if (pthread_cond_init(&gg->cv, &ca)) {
        pthread_condattr_destroy(&ca);
        pthread_mutex_destroy(&gg->mu);
        keep_free(gg);
        return keep_err_set(err, KEEP_ERR_INTERNAL, "cannot create a condition variable");
    }
    pthread_condattr_destroy(&ca);
    int rc = infer_model_open(path, &gg->m, err);
    if (rc)
        goto fail;
    const char *base = strrchr(path, '/');
    gg->name = keep_strdup(base ? base + 1 : path);
    gg->n_slots = o->sequences > 0 ? (size_t)o->sequences : 1;
    gg->slots = keep_calloc(gg->n_slots, sizeof *gg->slots);
    if (!gg->name || !gg->slots) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    infer_ctx_params cp = {o->n_ctx, 0, o->threads};
    for (size_t i = 0; i < gg->n_slots; i++)
        if ((rc = infer_ctx_new(gg->m, &cp, &gg->slots[i].ctx, err)))
            goto fail;
    gg->fmt = infer_chat_detect(infer_model_chat_template(gg->m));
    if (o->chat_template && o->chat_template[0] && strcmp(o->chat_template, "auto") != 0) {
        /* keep.conf overrides a template the model lacks or names wrongly */
        int f = infer_chat_from_name(o->chat_template);
        if (f < 0) {
            rc = keep_err_set(err, KEEP_ERR_USAGE, "unknown chat template '%.32s'", o->chat_template);
            goto fail;
        }
        gg->fmt = (infer_chat_format)f;
    }
    gg->max_queue = o->max_queue ? o->max_queue : 64;
    gg->max_tokens = o->max_tokens ? o->max_tokens : 512;
    infer_sampling_defaults(&gg->samp);
    gg->samp.temperature = o->temperature > 0 ? o->temperature : 0.0f;
    gg->samp.repeat_penalty = 1.1f; /* small models loop on a phrase otherwise */
    if (o->seed)
        gg->samp.seed = o->seed;
    if (pthread_create(&gg->watchdog, NULL, watchdog_main, gg)) {
        rc = keep_err_set(err, KEEP_ERR_INTERNAL, "cannot start the answer watchdog");
        goto fail;
    }
    gg->watchdog_on = 1;
    gg->base.name = gg->name;
    gg->base.n_ctx = infer_ctx_n_ctx(gg->slots[0].ctx);
    gg->base.render = gg_render;
    gg->base.count_tokens = gg_count;
    gg->base.warm = gg_warm;
    gg->base.generate = gg_generate;
    gg->base.free = gg_free;
    if (o->warm && (rc = warm_all(gg, err)))
        goto fail;
    *out = &gg->base;
    return KEEP_OK;
fail:
    gg_free(&gg->base);
    return rc;
}

void retr_generator_free(retr_generator *g)
{
    if (g)
        g->free(g);
}
