/* ask.c — answers over HTTP: POST /api/v1/ask (JSON, or Server-Sent Events
 * while the answer is generated) and the OpenAI-compatible routes
 * POST /v1/chat/completions, POST /v1/embeddings and GET /v1/models.
 *
 * Every answer runs as the caller's principal, so a passage of a collection
 * the caller may not read is never retrieved, hence never cited.
 *
 * An answer runs on its own worker thread, never on a thread of MHD's pool:
 * while it waits for the model its connection is suspended
 * (MHD_suspend_connection), so twenty questions waiting for one model hold
 * no request thread and searches go on. A streamed answer appends events to
 * a buffer that MHD's content reader drains; when the buffer is empty the
 * reader suspends the connection and the worker resumes it with the next
 * event. A plain JSON answer suspends the request in its handler; the
 * worker resumes it when the answer is ready, and the handler, called
 * again, sends it. The worker holds a pooled store for retrieval and for
 * checking the answer, not while it waits in the model's queue.
 *
 * MHD does not see a suspended client hang up, so the ask thread polls the
 * sockets of suspended answers (POLLRDHUP) and cancels the answer of a
 * client that went away; it also resumes a silent stream now and then for a
 * keep-alive comment. The job is shared by the worker and the connection
 * (the stream response, or the request): the last one frees it. Shutdown
 * waits for the workers (web_server.ask_workers) after cancelling them. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "retrieve/retr.h"
#include "web_int.h"

#define ASK_MAX_QUESTION 4096
#define ASK_MAX_TURNS 20
#define ASK_MAX_TURN_BYTES 16384
#define EMBED_MAX_INPUTS 256
#define EMBED_MAX_INPUT_BYTES 65536
/* Answers running or waiting at once; more are 503 (the model's queue
 * refuses beyond its own bound anyway). */
#define ASK_MAX_JOBS 256
/* A stream silent this long gets a keep-alive comment. */
#define ASK_PING_MS 5000.0
/* How often the ask thread looks at suspended connections. */
#define ASK_TICK_MS 100

enum { FMT_KEEP, FMT_OPENAI };

typedef struct ask_job {
    web_server *srv;
    int fmt, stream;
    cJSON *body; /* owns the strings below */
    const char *question;
    retr_turn turns[ASK_MAX_TURNS];
    size_t n_turns;
    idx_filter filter;
    size_t k;
    idx_principal *as; /* owned when own_as */
    int own_as;
    web_slot *slot;   /* held by the worker while it needs the store */
    web_slot *parked; /* given back while queued for the model; taken again after */
    retr_ask_request *rq; /* the worker's request, while retr_ask runs */
    idx_store *store;
    idx_vectors *vectors;
    idx_embedder *embedder;
    char id[48];
    long long created;
    retr_cancel *cancel;
    int queued; /* counted in srv->gen_waiting */
    struct ask_job *prev, *next; /* srv->asks, under srv->asks_mu */
    web_audit_who who; /* the audit row a streamed answer writes when it ends */

    /* under mu */
    pthread_mutex_t mu;
    int refs; /* the worker and the connection side (stream response or request) */
    struct MHD_Connection *conn;
    int fd;        /* the client's socket, polled while suspended */
    int suspended; /* the connection is suspended and waits for the worker */
    int gone;      /* the client hung up */
    int finished;  /* the worker is done */
    double last_out; /* when the stream last gave MHD data */
    keep_buf out;  /* streamed events not yet sent */
    size_t sent;
    int streamed; /* some answer text went out as it was generated */
    /* a plain answer's outcome */
    retr_answer *answer;
    int rc;
    keep_err err;
} ask_job;

static const char *json_str(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* ---- requests ------------------------------------------------------------------------------ */

static void job_free(ask_job *j)
{
    if (!j)
        return;
    web_server *s = j->srv;
    pthread_mutex_lock(&s->asks_mu);
    if (j->prev)
        j->prev->next = j->next;
    else if (s->asks == j)
        s->asks = j->next;
    if (j->next)
        j->next->prev = j->prev;
    pthread_mutex_unlock(&s->asks_mu);
    web__slot_put(s, j->slot);
    if (j->own_as)
        idx_principal_free(j->as);
    cJSON_Delete(j->body);
    retr_cancel_free(j->cancel);
    retr_answer_free(j->answer);
    keep_buf_free(&j->out);
    pthread_mutex_destroy(&j->mu);
    keep_free(j);
}

static void job_unref(ask_job *j)
{
    pthread_mutex_lock(&j->mu);
    int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left == 0)
        job_free(j);
}

/* A new job over body (taken: freed with the job). Caller frees with job_free. */
static ask_job *job_new(web_req *r, cJSON *body, int fmt)
{
    ask_job *j = keep_calloc(1, sizeof *j);
    if (!j) {
        cJSON_Delete(body);
        return NULL;
    }
    pthread_mutex_init(&j->mu, NULL);
    j->srv = r->srv;
    j->fmt = fmt;
    j->body = body;
    j->as = r->principal;
    j->k = (size_t)r->srv->cfg.answer_k;
    j->created = (long long)time(NULL);
    j->fd = -1;
    char rnd[64];
    web__random_token(rnd, sizeof rnd);
    snprintf(j->id, sizeof j->id, "chatcmpl-%.24s", rnd);
    keep_err err;
    if (retr_cancel_new(&j->cancel, &err)) {
        job_free(j);
        return NULL;
    }
    return j;
}

static int bad_text(const char *s, size_t max)
{
    return !s || !*s || strlen(s) > max;
}

/* POST /api/v1/ask: {"question", "history"?, "collection"?, "k"?, "stream"?}.
 * 0, or an error response queued. */
static int parse_ask(web_req *r, ask_job *j, int *mhd)
{
    const cJSON *b = j->body;
    j->question = json_str(b, "question");
    if (bad_text(j->question, ASK_MAX_QUESTION)) {
        *mhd = web__error(r, 400, "bad_request", "question is a string of 1 to %d bytes",
                          ASK_MAX_QUESTION);
        return 1;
    }
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(b, "history");
    if (h && !cJSON_IsNull(h)) {
        if (!cJSON_IsArray(h) || cJSON_GetArraySize(h) > ASK_MAX_TURNS) {
            *mhd = web__error(r, 400, "bad_request", "history is an array of at most %d turns",
                              ASK_MAX_TURNS);
            return 1;
        }
        const cJSON *t;
        cJSON_ArrayForEach(t, h)
        {
            const char *q = json_str(t, "question"), *a = json_str(t, "answer");
            if (bad_text(q, ASK_MAX_TURN_BYTES) || !a || strlen(a) > ASK_MAX_TURN_BYTES) {
                *mhd = web__error(r, 400, "bad_request",
                                  "each history turn is {\"question\", \"answer\"} (strings)");
                return 1;
            }
            j->turns[j->n_turns].question = q;
            j->turns[j->n_turns++].answer = a;
        }
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(b, "collection");
    if (c && !cJSON_IsNull(c)) {
        if (!cJSON_IsString(c)) {
            *mhd = web__error(r, 400, "bad_request", "collection is a string");
            return 1;
        }
        if (*c->valuestring)
            j->filter.collection = c->valuestring;
    }
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(b, "k");
    if (k) {
        if (!cJSON_IsNumber(k) || k->valuedouble < 1 || k->valuedouble > 100) {
            *mhd = web__error(r, 400, "bad_request", "k is a number from 1 to 100");
            return 1;
        }
        j->k = (size_t)k->valuedouble;
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(b, "stream");
    if (s && !cJSON_IsBool(s)) {
        *mhd = web__error(r, 400, "bad_request", "stream is true or false");
        return 1;
    }
    j->stream = cJSON_IsTrue(s);
    return 0;
}

/* The text of an OpenAI message content: a string, or an array of parts of
 * which the {"type": "text", "text"} ones are joined (into *joined, which the
 * caller frees with keep_buf_free). NULL when there is no text. */
static const char *content_text(const cJSON *content, keep_buf *joined)
{
    if (cJSON_IsString(content))
        return content->valuestring;
    if (!cJSON_IsArray(content))
        return NULL;
    const cJSON *p;
    cJSON_ArrayForEach(p, content)
    {
        const char *type = json_str(p, "type"), *text = json_str(p, "text");
        if (!type || strcmp(type, "text") || !text)
            continue;
        if ((joined->len && keep_buf_putc(joined, '\n')) || keep_buf_puts(joined, text))
            return NULL;
    }
    return joined->len ? joined->data : NULL;
}

/* POST /v1/chat/completions: the last user message is the question, earlier
 * user/assistant pairs the history; system messages are Keep's own. Array
 * contents are joined into strings held by the body (so they live as long). */
static int parse_chat(web_req *r, ask_job *j, int *mhd)
{
    cJSON *b = j->body;
    const char *model = json_str(b, "model");
    if (model && strcmp(model, "keep") != 0) {
        *mhd = web__error(r, 404, "model_not_found", "the chat model is \"keep\"");
        return 1;
    }
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(b, "messages");
    int n = cJSON_IsArray(msgs) ? cJSON_GetArraySize(msgs) : 0;
    if (n < 1 || n > 2 * ASK_MAX_TURNS + 8) {
        *mhd = web__error(r, 400, "bad_request", "messages is an array of 1 to %d messages",
                          2 * ASK_MAX_TURNS + 8);
        return 1;
    }
    const char *pending_q = NULL;
    int i = 0;
    cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const char *role = json_str(m, "role");
        cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        keep_buf joined = {0};
        const char *text = content_text(content, &joined);
        if (text && joined.len) { /* keep the joined text alive inside the body */
            cJSON *s = cJSON_CreateString(text);
            if (!s || !cJSON_ReplaceItemInObjectCaseSensitive(m, "content", s)) {
                cJSON_Delete(s);
                text = NULL;
            } else {
                text = s->valuestring;
            }
        }
        keep_buf_free(&joined);
        i++;
        if (!role) {
            *mhd = web__error(r, 400, "bad_request", "every message has a role");
            return 1;
        }
        if (strcmp(role, "user") == 0) {
            if (bad_text(text, i == n ? ASK_MAX_QUESTION : ASK_MAX_TURN_BYTES)) {
                *mhd = web__error(r, 400, "bad_request",
                                  "a user message holds text (the last one at most %d bytes)",
                                  ASK_MAX_QUESTION);
                return 1;
            }
            if (i == n)
                j->question = text;
            else
                pending_q = text;
        } else if (strcmp(role, "assistant") == 0) {
            if (pending_q && j->n_turns < ASK_MAX_TURNS) {
                j->turns[j->n_turns].question = pending_q;
                j->turns[j->n_turns++].answer = text && strlen(text) <= ASK_MAX_TURN_BYTES ? text : "";
            }
            pending_q = NULL;
        }
    }
    if (!j->question) {
        *mhd = web__error(r, 400, "bad_request", "the last message is the user's question");
        return 1;
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(b, "stream");
    j->stream = cJSON_IsTrue(s);
    return 0;
}

static void fill_request(ask_job *j, retr_ask_request *rq)
{
    const keep_config *cfg = &j->srv->cfg;
    memset(rq, 0, sizeof *rq);
    rq->question = j->question;
    rq->history = j->n_turns ? j->turns : NULL;
    rq->n_history = j->n_turns;
    rq->as = j->as;
    rq->filter = &j->filter;
    rq->k = j->k;
    rq->max_chunks_per_doc = (size_t)cfg->max_chunks_per_doc;
    rq->vectors = j->vectors;
    rq->embedder = j->embedder;
    rq->gen = j->srv->gen;
    rq->context_tokens = cfg->context_tokens;
    rq->max_tokens = cfg->max_tokens;
    rq->min_relevance = cfg->min_relevance / 100.0;
    rq->cancel = j->cancel;
    rq->timeout_ms = cfg->answer_timeout_s * 1000.0;
}

/* The cited documents of an answer as an id list into b (the documents an
 * answer returns are its citations). */
static void cited_docs(const retr_answer *a, keep_buf *b)
{
    for (size_t i = 0; a && i < retr_answer_citation_count(a); i++)
        web__audit_doc(b, retr_answer_citation(a, i)->doc_id);
}

static void record_answer(web_server *s, const retr_answer *a)
{
    if (!a || strcmp(retr_answer_mode(a), "generative") != 0)
        return;
    cJSON *o = retr_answer_json(a);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "timings");
    double toks = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "generated_tokens"));
    double tps = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "tokens_per_s"));
    pthread_mutex_lock(&s->metrics_mu);
    s->gen_answers++;
    if (toks > 0 && toks < 1e9) {
        s->gen_tokens += (uint64_t)toks;
        if (tps > 0)
            s->gen_decode_s += toks / tps;
    }
    pthread_mutex_unlock(&s->metrics_mu);
    cJSON_Delete(o);
}

/* The citations of an answer as {"citations", "refused", "mode"} (the
 * OpenAI responses' "keep" field). Caller frees with cJSON_Delete. */
static cJSON *keep_extra(cJSON *answer_json)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    const char *keys[] = {"citations", "refused", "mode", "model", "sentences"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(answer_json, keys[i]);
        if (v)
            cJSON_AddItemToObject(o, keys[i], cJSON_Duplicate(v, 1));
    }
    return o;
}

static cJSON *openai_completion(const ask_job *j, const retr_answer *a)
{
    cJSON *aj = retr_answer_json(a);
    cJSON *o = cJSON_CreateObject();
    if (!aj || !o) {
        cJSON_Delete(aj);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "object", "chat.completion");
    cJSON_AddNumberToObject(o, "created", (double)j->created);
    cJSON_AddStringToObject(o, "model", "keep");
    cJSON *choices = cJSON_AddArrayToObject(o, "choices"), *c = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, c);
    cJSON_AddNumberToObject(c, "index", 0);
    cJSON *msg = cJSON_AddObjectToObject(c, "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    cJSON_AddStringToObject(msg, "content", retr_answer_text(a));
    cJSON_AddStringToObject(c, "finish_reason", "stop");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(aj, "timings");
    double pt = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "prompt_tokens"));
    double gt = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "generated_tokens"));
    pt = pt > 0 ? pt : 0;
    gt = gt > 0 ? gt : 0;
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", pt);
    cJSON_AddNumberToObject(u, "completion_tokens", gt);
    cJSON_AddNumberToObject(u, "total_tokens", pt + gt);
    cJSON_AddItemToObject(o, "keep", keep_extra(aj));
    cJSON_Delete(aj);
    return o;
}

static int answer_error(web_req *r, int rc, const keep_err *err)
{
    if (rc == KEEP_ERR_CANCELLED)
        return web__error(r, 504, "timeout", "the answer took longer than the time limit");
    if (rc == KEEP_ERR_TOOBIG) /* the generation queue is full */
        return web__error(r, 503, "busy", "%s", err->msg);
    return web__keep_error(r, rc, err);
}

/* ---- streaming ------------------------------------------------------------------------------ */

/* The connection goes on if it waits for the worker (locked by the caller). */
static void wake(ask_job *j)
{
    if (j->suspended) {
        j->suspended = 0;
        MHD_resume_connection(j->conn);
    }
}

/* Appends one event (locked by the caller). */
static void put_event(ask_job *j, const char *name, cJSON *data)
{
    char *s = data ? cJSON_PrintUnformatted(data) : NULL;
    cJSON_Delete(data);
    if (!s)
        return;
    if (j->fmt == FMT_KEEP)
        keep_buf_printf(&j->out, "event: %s\ndata: %s\n\n", name, s);
    else
        keep_buf_printf(&j->out, "data: %s\n\n", s);
    cJSON_free(s);
    wake(j);
}

static cJSON *openai_chunk(const ask_job *j, const char *text, const char *finish)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "object", "chat.completion.chunk");
    cJSON_AddNumberToObject(o, "created", (double)j->created);
    cJSON_AddStringToObject(o, "model", "keep");
    cJSON *choices = cJSON_AddArrayToObject(o, "choices"), *c = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, c);
    cJSON_AddNumberToObject(c, "index", 0);
    cJSON *d = cJSON_AddObjectToObject(c, "delta");
    if (text) {
        cJSON_AddStringToObject(d, "role", "assistant");
        cJSON_AddStringToObject(d, "content", text);
    }
    if (finish)
        cJSON_AddStringToObject(c, "finish_reason", finish);
    else
        cJSON_AddNullToObject(c, "finish_reason");
    return o;
}

/* Answer text as it comes (locked by the caller). */
static void put_text(ask_job *j, const char *text)
{
    if (j->fmt == FMT_KEEP) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "text", text);
        put_event(j, "token", o);
    } else {
        put_event(j, NULL, openai_chunk(j, text, NULL));
    }
}

static int on_piece(void *ud, const char *text, size_t len)
{
    ask_job *j = ud;
    char *t = keep_malloc(len + 1);
    if (!t)
        return 1;
    memcpy(t, text, len);
    t[len] = '\0';
    pthread_mutex_lock(&j->mu);
    j->streamed = 1;
    put_text(j, t);
    pthread_mutex_unlock(&j->mu);
    keep_free(t);
    if (j->srv->test_piece_delay_ms > 0) {
        struct timespec ts = {0, j->srv->test_piece_delay_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    return retr_cancel_fired(j->cancel);
}

/* The model's queue: the place of this answer (0: its turn). A waiting
 * answer needs no store, so its slot goes back to the pool meanwhile; it
 * takes the same one again (its embedder checks the answer) when its turn
 * comes. */
static void on_queue(void *ud, size_t position)
{
    ask_job *j = ud;
    web_server *s = j->srv;
    if (position && j->slot) {
        j->parked = j->slot;
        j->slot = NULL;
        web__slot_put(s, j->parked);
    } else if (!position && j->parked) {
        web__slot_get_this(s, j->parked);
        j->slot = j->parked;
        j->parked = NULL;
        /* another request may have replaced the slot's embedder meanwhile */
        if (j->rq && j->rq->embedder)
            j->rq->embedder = j->slot->embedder;
    }
    if (position && !j->queued) {
        j->queued = 1;
        atomic_fetch_add(&s->gen_waiting, 1);
    } else if (!position && j->queued) {
        j->queued = 0;
        atomic_fetch_sub(&s->gen_waiting, 1);
    }
    if (!j->stream || j->fmt != FMT_KEEP)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "position", (double)position);
    pthread_mutex_lock(&j->mu);
    put_event(j, "queue", o);
    pthread_mutex_unlock(&j->mu);
}

static void put_error(ask_job *j, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    if (j->fmt == FMT_KEEP) {
        cJSON_AddStringToObject(o, "message", msg);
        put_event(j, "error", o);
    } else {
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddStringToObject(e, "type", "server_error");
        put_event(j, NULL, o);
        keep_buf_puts(&j->out, "data: [DONE]\n\n");
    }
}

static void put_answer(ask_job *j, const retr_answer *a)
{
    cJSON *aj = retr_answer_json(a);
    if (!aj) {
        put_error(j, "out of memory");
        return;
    }
    /* an extractive answer (or a refusal) is not generated piece by piece */
    if (!j->streamed && retr_answer_text(a)[0])
        put_text(j, retr_answer_text(a));
    if (j->fmt == FMT_KEEP) {
        put_event(j, "citations", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(aj, "citations"), 1));
        put_event(j, "done", aj);
        return;
    }
    cJSON *last = openai_chunk(j, NULL, "stop");
    if (last)
        cJSON_AddItemToObject(last, "keep", keep_extra(aj));
    cJSON_Delete(aj);
    put_event(j, NULL, last);
    keep_buf_puts(&j->out, "data: [DONE]\n\n");
}

static void *ask_worker(void *arg)
{
    ask_job *j = arg;
    web_server *s = j->srv;
    j->slot = web__slot_get(s);
    j->store = j->slot->store;
    web__slot_vectors(s, j->slot, &j->vectors, &j->embedder);
    retr_ask_request rq;
    fill_request(j, &rq);
    if (j->stream) {
        rq.on_piece = on_piece;
        rq.piece_ud = j;
    }
    rq.on_queue = on_queue;
    rq.queue_ud = j;
    j->rq = &rq;
    retr_answer *a = NULL;
    keep_err err;
    keep_err_clear(&err);
    int rc = retr_ask(j->store, &rq, &a, &err);
    j->rq = NULL;
    if (j->queued) {
        j->queued = 0;
        atomic_fetch_sub(&s->gen_waiting, 1);
    }
    record_answer(s, a);
    if (j->stream) { /* a plain answer's row is written by its request */
        int gone_now = retr_cancel_fired(j->cancel);
        keep_buf cited = {0};
        if (!rc && !gone_now)
            cited_docs(a, &cited);
        int status = gone_now ? 499 : rc == KEEP_ERR_CANCELLED ? 504 : rc == KEEP_ERR_TOOBIG ? 503 : rc ? 500 : 200;
        /* a job cancelled while queued gave its slot back: the store is
         * someone else's now, so the row goes through a slot of its own */
        web_slot *own = j->slot ? NULL : web__slot_get(s);
        web__audit_write(s, own ? own->store : j->store, &j->who, NULL, j->question, cited.data,
                         cited.data, status);
        web__slot_put(s, own);
        keep_buf_free(&cited);
    }
    /* the store goes back to the pool now, not when the client has read everything */
    web__slot_put(s, j->slot);
    j->slot = NULL;
    j->parked = NULL; /* a parked slot was given back already */
    /* a generation stopped by the flag ends in KEEP_ERR_CANCELLED; an answer
     * that was complete when the flag came is sent all the same */
    int cancelled = rc && retr_cancel_fired(j->cancel);
    pthread_mutex_lock(&j->mu);
    int gone = j->gone;
    if (!j->stream) {
        j->answer = a;
        a = NULL;
        j->rc = rc;
        j->err = err;
    } else if (cancelled) {
        put_error(j, gone ? "cancelled" : "the server is shutting down");
    } else if (rc == KEEP_ERR_CANCELLED) {
        put_error(j, "the answer took longer than the time limit");
    } else if (rc) {
        put_error(j, rc == KEEP_ERR_TOOBIG ? err.msg : "the answer failed");
    } else {
        put_answer(j, a);
    }
    j->finished = 1;
    wake(j);
    pthread_mutex_unlock(&j->mu);
    retr_answer_free(a);
    if (gone && cancelled)
        web__log(s, "ask: stopped, the client went away");
    else if (cancelled)
        web__log(s, "ask: stopped, the server is shutting down");
    else if (rc && rc != KEEP_ERR_CANCELLED && rc != KEEP_ERR_TOOBIG)
        web__log(s, "ask: %s", err.msg);
    job_unref(j);
    atomic_fetch_sub(&s->ask_workers, 1);
    return NULL;
}

/* MHD's content reader: what the worker has produced. With nothing to send
 * it suspends the connection (the worker resumes it), or, after a long
 * silence, sends a comment line so proxies keep the connection open. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    ask_job *j = cls;
    (void)pos;
    pthread_mutex_lock(&j->mu);
    ssize_t n;
    double now = keep_now_ms();
    if (j->sent < j->out.len) {
        size_t left = j->out.len - j->sent;
        size_t take = left < max ? left : max;
        memcpy(buf, j->out.data + j->sent, take);
        j->sent += take;
        if (j->sent == j->out.len)
            j->sent = j->out.len = 0;
        n = (ssize_t)take;
        j->last_out = now;
    } else if (j->finished) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (now - j->last_out >= ASK_PING_MS) {
        static const char ping[] = ": keep-alive\n\n";
        size_t take = sizeof ping - 1 < max ? sizeof ping - 1 : max;
        memcpy(buf, ping, take);
        n = (ssize_t)take;
        j->last_out = now;
    } else {
        j->suspended = 1;
        MHD_suspend_connection(j->conn);
        n = 0;
    }
    pthread_mutex_unlock(&j->mu);
    return n;
}

/* The response is gone: done, or the client went away (then the answer stops). */
static void stream_free(void *cls)
{
    ask_job *j = cls;
    pthread_mutex_lock(&j->mu);
    if (!j->finished)
        j->gone = 1;
    pthread_mutex_unlock(&j->mu);
    retr_cancel_fire(j->cancel);
    job_unref(j);
}

/* Starts the worker of j for request r: the stream response is queued, or
 * the request suspended until the plain answer is ready. */
static int start_job(web_req *r, ask_job *j)
{
    web_server *s = r->srv;
    if (atomic_fetch_add(&s->ask_workers, 1) >= ASK_MAX_JOBS) {
        atomic_fetch_sub(&s->ask_workers, 1);
        job_free(j);
        return web__error(r, 503, "busy", "too many questions at once; try again later");
    }
    web__audit_who(r, &j->who);
    j->as = r->principal;
    j->own_as = 1;
    r->principal = NULL;
    j->conn = r->conn;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    j->fd = ci ? ci->connect_fd : -1;
    j->last_out = keep_now_ms();
    j->refs = 2;
    struct MHD_Response *resp = NULL;
    if (j->stream &&
        !(resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, j, stream_free))) {
        atomic_fetch_sub(&s->ask_workers, 1);
        job_free(j);
        return web__error(r, 500, "internal", "out of memory");
    }
    pthread_mutex_lock(&s->asks_mu);
    j->next = s->asks;
    if (s->asks)
        s->asks->prev = j;
    s->asks = j;
    pthread_mutex_unlock(&s->asks_mu);
    if (!j->stream) {
        r->ask = j; /* the request's reference, dropped by web__ask_release */
        pthread_mutex_lock(&j->mu);
    }
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int prc = pthread_create(&t, &attr, ask_worker, j);
    pthread_attr_destroy(&attr);
    if (prc != 0) {
        atomic_fetch_sub(&s->ask_workers, 1);
        if (resp)
            MHD_destroy_response(resp); /* drops the response's reference */
        else {
            pthread_mutex_unlock(&j->mu);
            r->ask = NULL;
            job_unref(j);
        }
        job_unref(j);
        return web__error(r, 503, "busy", "cannot start the answer");
    }
    if (!j->stream) {
        /* the worker cannot finish before this: it needs mu to say so */
        j->suspended = 1;
        MHD_suspend_connection(r->conn);
        pthread_mutex_unlock(&j->mu);
        return MHD_YES;
    }
    r->audit.deferred = 1; /* the worker writes the row with what was cited */
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    web__headers(r, resp);
    enum MHD_Result rc = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    r->responded = 1;
    r->status = 200;
    return rc;
}

int web__ask_resume(web_req *r)
{
    ask_job *j = r->ask;
    pthread_mutex_lock(&j->mu);
    if (!j->finished) {
        j->suspended = 1;
        MHD_suspend_connection(r->conn);
        pthread_mutex_unlock(&j->mu);
        return MHD_YES;
    }
    pthread_mutex_unlock(&j->mu);
    int mhd;
    if (!j->rc) {
        cited_docs(j->answer, &r->audit.returned);
        cited_docs(j->answer, &r->audit.cited);
    }
    if (j->rc == KEEP_ERR_CANCELLED && retr_cancel_fired(j->cancel))
        mhd = j->gone ? web__error(r, 499, "cancelled", "the client went away")
                      : web__error(r, 503, "unavailable", "the server is shutting down");
    else if (j->rc)
        mhd = answer_error(r, j->rc, &j->err);
    else if (j->fmt == FMT_KEEP)
        mhd = web__json(r, 200, retr_answer_json(j->answer));
    else
        mhd = web__json(r, 200, openai_completion(j, j->answer));
    r->ask = NULL;
    job_unref(j);
    return mhd;
}

void web__ask_release(web_req *r)
{
    ask_job *j = r->ask;
    if (!j)
        return;
    r->ask = NULL;
    pthread_mutex_lock(&j->mu);
    if (!j->finished)
        j->gone = 1;
    pthread_mutex_unlock(&j->mu);
    retr_cancel_fire(j->cancel);
    job_unref(j);
}

/* ---- the ask thread -------------------------------------------------------------------------- */

static void *asks_main(void *arg)
{
    web_server *s = arg;
    pthread_mutex_lock(&s->asks_mu);
    while (!s->asks_stop) {
        double now = keep_now_ms();
        for (ask_job *j = s->asks; j; j = j->next) {
            int hung = 0;
            pthread_mutex_lock(&j->mu);
            if (j->suspended && !j->gone) {
                /* the socket stays open while the connection is suspended */
                struct pollfd p = {j->fd, POLLRDHUP, 0};
                if (j->fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
                    hung = j->gone = 1;
                else if (j->stream && now - j->last_out >= ASK_PING_MS)
                    wake(j);
            }
            pthread_mutex_unlock(&j->mu);
            /* the worker ends soon and resumes the connection, which MHD then closes */
            if (hung)
                retr_cancel_fire(j->cancel);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += ASK_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->asks_cv, &s->asks_mu, &ts);
    }
    pthread_mutex_unlock(&s->asks_mu);
    return NULL;
}

int web__asks_start(web_server *s, keep_err *err)
{
    const char *d = getenv("KEEP_TEST_PIECE_DELAY_MS");
    if (d) {
        char *end;
        long v = strtol(d, &end, 10);
        s->test_piece_delay_ms = *end == '\0' && v > 0 && v < 1000 ? v : 0;
    }
    if (pthread_create(&s->asks_thread, NULL, asks_main, s) != 0)
        return keep_err_set(err, KEEP_ERR_INTERNAL, "cannot start the ask thread");
    s->asks_thread_on = 1;
    return KEEP_OK;
}

void web__asks_cancel(web_server *s)
{
    pthread_mutex_lock(&s->asks_mu);
    for (ask_job *j = s->asks; j; j = j->next)
        retr_cancel_fire(j->cancel);
    pthread_mutex_unlock(&s->asks_mu);
}

void web__asks_stop(web_server *s)
{
    if (!s->asks_thread_on)
        return;
    pthread_mutex_lock(&s->asks_mu);
    s->asks_stop = 1;
    pthread_cond_broadcast(&s->asks_cv);
    pthread_mutex_unlock(&s->asks_mu);
    pthread_join(s->asks_thread, NULL);
    s->asks_thread_on = 0;
}

static int handle(web_req *r, int fmt)
{
    if (fmt == FMT_OPENAI && !r->via_token)
        return web__error(r, 401, "unauthorized", "use Authorization: Bearer TOKEN");
    cJSON *body = web__body_json(r);
    if (!body)
        return MHD_YES;
    ask_job *j = job_new(r, body, fmt);
    if (!j)
        return web__error(r, 500, "internal", "out of memory");
    int mhd;
    int bad = fmt == FMT_KEEP ? parse_ask(r, j, &mhd) : parse_chat(r, j, &mhd);
    web__audit_query(r, j->question);
    if (bad) {
        job_free(j);
        return mhd;
    }
    /* the request's pooled store is not needed: the worker takes its own */
    web__slot_put(r->srv, r->slot);
    r->slot = NULL;
    return start_job(r, j);
}

int web__h_ask(web_req *r) { return handle(r, FMT_KEEP); }

int web__h_chat_completions(web_req *r) { return handle(r, FMT_OPENAI); }

/* ---- embeddings and models ------------------------------------------------------------------ */

/* This thread's embedder (the configured one); NULL with an error response queued. */
static idx_embedder *slot_embedder(web_req *r, int *mhd)
{
    idx_store *st = web__store(r);
    keep_err err;
    keep_err_clear(&err);
    if (!r->slot->embedder &&
        infer_configured_embedder(st, r->srv->cfg.embedding_model, 0, &r->slot->embedder, &err)) {
        r->slot->embedder = NULL;
        *mhd = web__error(r, 503, "unavailable", "no embedding model yet: %s", err.msg);
        return NULL;
    }
    return r->slot->embedder;
}

int web__h_embeddings(web_req *r)
{
    if (!r->via_token)
        return web__error(r, 401, "unauthorized", "use Authorization: Bearer TOKEN");
    cJSON *body = web__body_json(r);
    if (!body)
        return MHD_YES;
    int mhd = MHD_YES;
    const char **texts = NULL;
    float *vec = NULL;
    cJSON *out = NULL;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(body, "input");
    size_t n = cJSON_IsString(in) ? 1 : cJSON_IsArray(in) ? (size_t)cJSON_GetArraySize(in) : 0;
    if (n < 1 || n > EMBED_MAX_INPUTS) {
        mhd = web__error(r, 400, "bad_request", "input is a string or an array of 1 to %d strings",
                         EMBED_MAX_INPUTS);
        goto out;
    }
    if (!(texts = keep_calloc(n, sizeof *texts))) {
        mhd = web__error(r, 500, "internal", "out of memory");
        goto out;
    }
    size_t tokens = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *t = cJSON_IsString(in) ? in : cJSON_GetArrayItem(in, (int)i);
        if (!cJSON_IsString(t) || strlen(t->valuestring) > EMBED_MAX_INPUT_BYTES) {
            mhd = web__error(r, 400, "bad_request", "each input is a string of at most %d bytes",
                             EMBED_MAX_INPUT_BYTES);
            goto out;
        }
        texts[i] = t->valuestring;
        tokens += (strlen(t->valuestring) + 3) / 4;
    }
    idx_embedder *e = slot_embedder(r, &mhd);
    if (!e)
        goto out;
    size_t cells;
    if (keep_mul_overflow(n, e->dim, &cells) || !(vec = keep_calloc(cells ? cells : 1, sizeof *vec))) {
        mhd = web__error(r, 500, "internal", "out of memory");
        goto out;
    }
    keep_err err;
    keep_err_clear(&err);
    int rc = e->embed(e, texts, n, 0, vec, &err);
    if (rc) {
        mhd = web__keep_error(r, rc, &err);
        goto out;
    }
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(out, "data");
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject(), *v = cJSON_CreateArray();
        cJSON_AddItemToArray(data, o);
        cJSON_AddStringToObject(o, "object", "embedding");
        cJSON_AddNumberToObject(o, "index", (double)i);
        for (size_t d = 0; d < e->dim; d++)
            cJSON_AddItemToArray(v, cJSON_CreateNumber(vec[i * e->dim + d]));
        cJSON_AddItemToObject(o, "embedding", v);
    }
    cJSON_AddStringToObject(out, "model", e->name);
    cJSON *u = cJSON_AddObjectToObject(out, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)tokens);
    mhd = web__json(r, 200, out);
out:
    keep_free(vec);
    keep_free(texts);
    cJSON_Delete(body);
    return mhd;
}

static void add_model(cJSON *arr, const char *id)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "object", "model");
    cJSON_AddNumberToObject(o, "created", 0);
    cJSON_AddStringToObject(o, "owned_by", "keep");
    cJSON_AddItemToArray(arr, o);
}

int web__h_models(web_req *r)
{
    if (!r->via_token)
        return web__error(r, 401, "unauthorized", "use Authorization: Bearer TOKEN");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON *arr = cJSON_AddArrayToObject(o, "data");
    add_model(arr, "keep");
    idx_store *st = web__store(r);
    keep_err err;
    keep_err_clear(&err);
    if (!r->slot->embedder &&
        infer_configured_embedder(st, r->srv->cfg.embedding_model, 0, &r->slot->embedder, &err))
        r->slot->embedder = NULL;
    if (r->slot->embedder)
        add_model(arr, r->slot->embedder->name);
    return web__json(r, 200, o);
}
