/* server.c — Keep's HTTP server on libmicrohttpd: the daemon (thread pool,
 * caps, timeouts, TLS), each request's life (route, authentication, body
 * with its cap, handler, log line, metrics), the response helpers that put
 * the security headers on every response, the pool of database handles, the
 * drop-folder watcher thread, and graceful shutdown.
 *
 * A request is handled in three MHD calls: headers (route, authentication,
 * CSRF and the Content-Length cap are checked before any body is read), body
 * chunks (accumulated under the cap; uploads go through MHD's multipart post
 * processor), and the final call, which runs the handler. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "retrieve/retr.h"
#include "web_int.h"

/* Upper bounds (seconds) of the latency histogram. */
static const double bucket_le[WEB_N_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                0.25,  0.5,  1.0,   2.5,  10.0};

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                          "object-src 'none'; base-uri 'none'; form-action 'self'; "
                          "frame-ancestors 'none'";

/* ---- log ------------------------------------------------------------------------------------ */

void web__log(web_server *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    time_t t = time(NULL);
    struct tm tm;
    char ts[32];
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    pthread_mutex_lock(&s->log_mu);
    fprintf(stderr, "%s %s\n", ts, line);
    fflush(stderr);
    pthread_mutex_unlock(&s->log_mu);
}

/* ---- database handles ------------------------------------------------------------------------ */

/* A free slot (waiting for one), marked busy. */
static web_slot *slot_get(web_server *s)
{
    pthread_mutex_lock(&s->pool_mu);
    for (;;) {
        for (size_t i = 0; i < s->n_slots; i++) {
            if (!s->slots[i].busy) {
                s->slots[i].busy = 1;
                pthread_mutex_unlock(&s->pool_mu);
                return &s->slots[i];
            }
        }
        pthread_cond_wait(&s->pool_cv, &s->pool_mu);
    }
}

idx_store *web__store(web_req *r)
{
    if (!r->slot)
        r->slot = slot_get(r->srv);
    return r->slot->store;
}

web_slot *web__slot_get(web_server *s) { return slot_get(s); }

void web__slot_get_this(web_server *s, web_slot *slot)
{
    pthread_mutex_lock(&s->pool_mu);
    while (slot->busy)
        pthread_cond_wait(&s->pool_cv, &s->pool_mu);
    slot->busy = 1;
    pthread_mutex_unlock(&s->pool_mu);
}

void web__slot_put(web_server *s, web_slot *slot)
{
    if (!slot)
        return;
    pthread_mutex_lock(&s->pool_mu);
    slot->busy = 0;
    /* every waiter: one may be waiting for this very slot */
    pthread_cond_broadcast(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mu);
}

void web__slot_vectors(web_server *s, web_slot *slot, idx_vectors **v, idx_embedder **e)
{
    *v = NULL;
    *e = NULL;
    idx_store *st = slot->store;
    keep_err err;
    keep_err_clear(&err);
    char *stored = NULL;
    if (idx_vectors_embedder_name(st, &stored, &err) || !stored)
        return;
    if (slot->embedder && strcmp(slot->embedder->name, stored) != 0) {
        idx_embedder_free(slot->embedder);
        slot->embedder = NULL;
    }
    if (!slot->embedder && infer_configured_embedder(st, s->cfg.embedding_model, 0, &slot->embedder, &err))
        slot->embedder = NULL;
    if (slot->embedder && strcmp(slot->embedder->name, stored) != 0) {
        idx_embedder_free(slot->embedder);
        slot->embedder = NULL;
    }
    keep_free(stored);
    if (!slot->embedder)
        return;
    pthread_mutex_lock(&s->vec_mu);
    if (!s->vectors && idx_vectors_open(st, s->vec_path, &s->vectors, &err)) {
        web__log(s, "vectors: %s", err.msg);
        s->vectors = NULL;
    }
    idx_vectors *vec = s->vectors;
    pthread_mutex_unlock(&s->vec_mu);
    if (vec && idx_vectors_made_by(vec, slot->embedder->name)) {
        *v = vec;
        *e = slot->embedder;
    }
}

static void release_slot(web_req *r)
{
    web__slot_put(r->srv, r->slot);
    r->slot = NULL;
}

/* ---- responses ------------------------------------------------------------------------------- */

const char *web__header(web_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *web__arg(web_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int web__respond(web_req *r, unsigned status, const char *content_type, const void *data,
                 size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", content_type);
    web__headers(r, resp);
    if (status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"keep\"");
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    r->responded = 1;
    r->status = (int)status;
    return rc;
}

void web__headers(web_req *r, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(resp, "Permissions-Policy", "camera=(), microphone=(), geolocation=()");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r->srv->tls)
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    if (r->set_cookie[0])
        MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    if (r->extra_name[0])
        MHD_add_response_header(resp, r->extra_name, r->extra_value);
}

int web__json(web_req *r, unsigned status, cJSON *doc)
{
    char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!s)
        return web__error(r, 500, "internal", "out of memory");
    int rc = web__respond(r, status, "application/json", s, strlen(s));
    cJSON_free(s);
    return rc;
}

int web__error(web_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* messages come from keep_err and may hold bytes from input */
    size_t n = keep_utf8_floor(msg, strlen(msg));
    if (!keep_utf8_valid(msg, n))
        snprintf(msg, sizeof msg, "%s", "request failed");
    else
        msg[n] = '\0';
    cJSON *doc = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(doc, "error");
    if (!e || !cJSON_AddStringToObject(e, "code", code) || !cJSON_AddStringToObject(e, "message", msg)) {
        cJSON_Delete(doc);
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        return web__respond(r, 500, "application/json", oom, sizeof oom - 1);
    }
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!s)
        return MHD_NO;
    int rc = web__respond(r, status, "application/json", s, strlen(s));
    cJSON_free(s);
    return rc;
}

int web__keep_error(web_req *r, int status, const keep_err *err)
{
    const char *msg = err && err->msg[0] ? err->msg : keep_strerror(status);
    switch (status) {
    case KEEP_ERR_USAGE:
    case KEEP_ERR_PARSE:
    case KEEP_ERR_ENCODING:
        return web__error(r, 400, "bad_request", "%s", msg);
    case KEEP_ERR_NOTFOUND:
        return web__error(r, 404, "not_found", "%s", msg);
    case KEEP_ERR_DENIED:
        return web__error(r, 403, "forbidden", "%s", msg);
    case KEEP_ERR_TOOBIG:
        return web__error(r, 413, "too_large", "%s", msg);
    case KEEP_ERR_UNSUPPORTED:
        return web__error(r, 415, "unsupported", "%s", msg);
    default:
        web__log(r->srv, "error: %s", msg);
        return web__error(r, 500, "internal", "internal error");
    }
}

cJSON *web__body_json(web_req *r)
{
    if (!r->body.len) {
        web__error(r, 400, "bad_request", "a JSON body is required");
        return NULL;
    }
    if (!keep_utf8_valid(r->body.data, r->body.len)) {
        web__error(r, 400, "bad_request", "the body is not UTF-8");
        return NULL;
    }
    cJSON *doc = cJSON_ParseWithLength(r->body.data, r->body.len);
    if (!doc || !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        web__error(r, 400, "bad_request", "the body is not a JSON object");
        return NULL;
    }
    return doc;
}

/* ---- routing --------------------------------------------------------------------------------- */

/* Matches url against pattern segment by segment; '*' captures a segment. */
static int match(const char *pattern, const char *url, char params[2][512])
{
    int np = 0;
    const char *p = pattern, *u = url;
    while (*p && *u) {
        if (*p != '/' || *u != '/')
            return 0;
        p++, u++;
        const char *pe = strchr(p, '/'), *ue = strchr(u, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), ul = ue ? (size_t)(ue - u) : strlen(u);
        if (pl == 1 && *p == '*') {
            if (ul == 0 || ul >= 512 || np >= 2)
                return 0;
            memcpy(params[np], u, ul);
            params[np++][ul] = '\0';
        } else if (pl != ul || memcmp(p, u, pl) != 0) {
            return 0;
        }
        p += pl, u += ul;
    }
    return *p == '\0' && *u == '\0';
}

/* The route for (method, url): *path_known = 1 when only the method is wrong. */
static int find_route(const char *method, const char *url, char params[2][512], int *path_known)
{
    *path_known = 0;
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    for (size_t i = 0; i < web_n_routes; i++) {
        if (!match(web_routes[i].pattern, url, params))
            continue;
        if (strcmp(web_routes[i].method, method) == 0)
            return (int)i;
        *path_known = 1;
    }
    return -1;
}

/* ---- uploads --------------------------------------------------------------------------------- */

static enum MHD_Result on_post_data(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *transfer_encoding, const char *data, uint64_t off,
                                    size_t size)
{
    web_req *r = cls;
    (void)kind, (void)content_type, (void)transfer_encoding;
    if (!key)
        return MHD_YES;
    if (!filename) {
        if (strcmp(key, "collection") == 0) {
            size_t have = strlen(r->upload_collection);
            if (off != have || have + size > WEB_NAME_MAX) {
                r->upload_bad = 1;
                return MHD_NO;
            }
            memcpy(r->upload_collection + have, data, size);
            r->upload_collection[have + size] = '\0';
        }
        return MHD_YES;
    }
    if (off == 0) {
        if (r->n_files >= WEB_MAX_UPLOAD_FILES) {
            r->upload_bad = 1;
            return MHD_NO;
        }
        web_upload_file *f =
            keep_reallocarray(r->files, r->n_files + 1, sizeof *r->files);
        if (!f)
            return MHD_NO;
        r->files = f;
        memset(&f[r->n_files], 0, sizeof *f);
        snprintf(f[r->n_files].name, sizeof f[r->n_files].name, "%s", filename);
        r->n_files++;
    }
    if (!r->n_files)
        return MHD_NO;
    web_upload_file *f = &r->files[r->n_files - 1];
    if (off != f->data.len)
        return MHD_NO;
    if (size && keep_buf_append(&f->data, data, size))
        return MHD_NO;
    return MHD_YES;
}

int web__upload_begin(web_req *r)
{
    r->pp = MHD_create_post_processor(r->conn, 64 * 1024, on_post_data, r);
    if (!r->pp)
        return web__error(r, 400, "bad_request", "an upload is multipart/form-data");
    return MHD_YES;
}

/* ---- request life ---------------------------------------------------------------------------- */

static void peer_address(web_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(r->peer, sizeof r->peer, "-");
    if (!ci || !ci->client_addr)
        return;
    socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in);
    char host[INET6_ADDRSTRLEN + 1];
    if (getnameinfo(ci->client_addr, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
        return;
    const char *h = strncmp(host, "::ffff:", 7) == 0 && strchr(host + 7, '.') ? host + 7 : host;
    snprintf(r->peer, sizeof r->peer, "%s", h);
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        return -1;
    *out = v;
    return 0;
}

/* The first call: route, authentication, caps. */
static int begin(web_req *r)
{
    int known;
    r->route_index = find_route(r->method, r->url, r->params, &known);
    if (r->route_index < 0) {
        if (known)
            return web__error(r, 405, "method_not_allowed", "method not allowed");
        return web__error(r, 404, "not_found", "no such endpoint");
    }
    r->route = &web_routes[r->route_index];
    if (web__authenticate(r))
        return MHD_YES; /* response queued */
    switch (r->route->body) {
    case WEB_BODY_JSON: r->body_cap = WEB_MAX_JSON_BODY; break;
    case WEB_BODY_UPLOAD: r->body_cap = r->srv->cfg.web_max_upload_mb << 20; break;
    default: r->body_cap = 64 * 1024; break;
    }
    const char *cl = web__header(r, "Content-Length");
    uint64_t n = 0;
    if (cl && parse_size(cl, &n))
        return web__error(r, 400, "bad_request", "bad Content-Length");
    if (n > r->body_cap)
        return web__error(r, 413, "too_large", "the request body exceeds %zu bytes", r->body_cap);
    if (r->route->body == WEB_BODY_JSON && n > 0) {
        const char *ct = web__header(r, "Content-Type");
        if (!ct || strncasecmp(ct, "application/json", 16) != 0)
            return web__error(r, 415, "unsupported", "send the body as application/json");
    }
    if (r->route->body == WEB_BODY_UPLOAD)
        return web__upload_begin(r);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    web_server *s = cls;
    (void)version;
    web_req *r = *con_cls;
    if (!r) {
        r = keep_calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&s->in_flight, 1);
        r->srv = s;
        r->conn = conn;
        r->url = url;
        r->method = method;
        r->t0 = keep_now_ms();
        r->route_index = -1;
        peer_address(r);
        return (enum MHD_Result)begin(r);
    }
    if (r->responded) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        size_t total;
        if (keep_add_overflow(r->body.len, n, &total) || total > r->body_cap) {
            r->body_too_big = 1;
            r->status = 413;
            return MHD_NO; /* a body without an honest Content-Length: drop the connection */
        }
        if (r->pp) {
            r->body.len = total; /* counted only: the post processor keeps the data */
            if (MHD_post_process(r->pp, upload_data, n) != MHD_YES) {
                r->upload_bad = 1;
                r->status = 400;
                return MHD_NO;
            }
            return MHD_YES;
        }
        if (keep_buf_append(&r->body, upload_data, n))
            return MHD_NO;
        return MHD_YES;
    }
    if (r->ask) /* resumed: the plain answer is ready (or not yet) */
        return (enum MHD_Result)web__ask_resume(r);
    int rc = r->route->fn(r);
    if (!r->responded && !r->ask)
        rc = web__error(r, 500, "internal", "no response");
    return (enum MHD_Result)rc;
}

static void record_metrics(web_server *s, int route, int status, double secs)
{
    pthread_mutex_lock(&s->metrics_mu);
    web_route_stats *st = &s->route_stats[route < 0 ? (int)web_n_routes : route];
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        st->by_class[cls]++;
    for (int i = 0; i < WEB_N_BUCKETS; i++)
        if (secs <= bucket_le[i]) {
            st->buckets[i]++;
            break;
        }
    st->count++;
    st->sum_s += secs;
    pthread_mutex_unlock(&s->metrics_mu);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    web_server *s = cls;
    (void)conn;
    web_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    double ms = keep_now_ms() - r->t0;
    int status = r->status ? r->status : (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? 200 : 499);
    /* the route pattern, never the URL: ids and names stay out of the log */
    web__log(s, "%s %s %d %.1fms %s %s", r->method,
             r->route ? r->route->pattern : "(unknown)", status, ms,
             r->user[0] ? r->user : "-", r->peer);
    record_metrics(s, r->route_index, status, ms / 1000.0);
    r->status = status;
    web__audit_finish(r);
    web__ask_release(r);
    release_slot(r);
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    for (size_t i = 0; i < r->n_files; i++)
        keep_buf_free(&r->files[i].data);
    keep_free(r->files);
    keep_buf_free(&r->body);
    idx_principal_free(r->principal);
    keep_free(r);
    atomic_fetch_sub(&s->in_flight, 1);
}

/* ---- metrics ---------------------------------------------------------------------------------- */

int web__metrics_text(web_req *r, keep_buf *b)
{
    web_server *s = r->srv;
    idx_counts c;
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_store_counts(web__store(r), &c, &err);
    if (rc)
        return rc;
    int bad = 0;
    bad |= keep_buf_puts(b, "# HELP keep_http_requests_total HTTP requests by route and status class.\n"
                            "# TYPE keep_http_requests_total counter\n");
    pthread_mutex_lock(&s->metrics_mu);
    for (size_t i = 0; i <= web_n_routes; i++) {
        const web_route_stats *st = &s->route_stats[i];
        const char *m = i < web_n_routes ? web_routes[i].method : "";
        const char *p = i < web_n_routes ? web_routes[i].pattern : "(unknown)";
        for (int k = 1; k <= 5; k++)
            if (st->by_class[k])
                bad |= keep_buf_printf(b, "keep_http_requests_total{method=\"%s\",route=\"%s\",code=\"%dxx\"} %llu\n",
                                       m, p, k, (unsigned long long)st->by_class[k]);
    }
    bad |= keep_buf_puts(b, "# HELP keep_http_request_duration_seconds Request latency by route.\n"
                            "# TYPE keep_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= web_n_routes; i++) {
        const web_route_stats *st = &s->route_stats[i];
        if (!st->count)
            continue;
        const char *m = i < web_n_routes ? web_routes[i].method : "";
        const char *p = i < web_n_routes ? web_routes[i].pattern : "(unknown)";
        uint64_t cum = 0;
        for (int k = 0; k < WEB_N_BUCKETS; k++) {
            cum += st->buckets[k];
            bad |= keep_buf_printf(b, "keep_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %llu\n",
                                   m, p, bucket_le[k], (unsigned long long)cum);
        }
        bad |= keep_buf_printf(b, "keep_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n"
                                  "keep_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
                                  "keep_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
                               m, p, (unsigned long long)st->count, m, p, st->sum_s, m, p,
                               (unsigned long long)st->count);
    }
    uint64_t upload_failures = s->upload_failures;
    uint64_t gen_tokens = s->gen_tokens, gen_answers = s->gen_answers;
    double gen_s = s->gen_decode_s;
    pthread_mutex_unlock(&s->metrics_mu);
    bad |= keep_buf_printf(b,
                           "# HELP keep_answer_queue_depth Answers waiting for a free model sequence.\n"
                           "# TYPE keep_answer_queue_depth gauge\nkeep_answer_queue_depth %d\n"
                           "# HELP keep_answers_generated_total Generative answers since start.\n"
                           "# TYPE keep_answers_generated_total counter\nkeep_answers_generated_total %llu\n"
                           "# HELP keep_generated_tokens_total Answer tokens generated since start.\n"
                           "# TYPE keep_generated_tokens_total counter\nkeep_generated_tokens_total %llu\n"
                           "# HELP keep_generated_tokens_per_second Mean generation speed since start.\n"
                           "# TYPE keep_generated_tokens_per_second gauge\nkeep_generated_tokens_per_second %.3f\n",
                           atomic_load(&s->gen_waiting), (unsigned long long)gen_answers,
                           (unsigned long long)gen_tokens, gen_s > 0 ? (double)gen_tokens / gen_s : 0.0);
    bad |= keep_buf_printf(b,
                           "# HELP keep_http_in_flight Requests being handled.\n"
                           "# TYPE keep_http_in_flight gauge\nkeep_http_in_flight %d\n"
                           "# HELP keep_documents Documents in the store by status.\n"
                           "# TYPE keep_documents gauge\n"
                           "keep_documents{status=\"indexed\"} %lld\n"
                           "keep_documents{status=\"failed\"} %lld\n"
                           "keep_documents{status=\"skipped\"} %lld\n"
                           "# HELP keep_chunks Chunks indexed.\n# TYPE keep_chunks gauge\n"
                           "keep_chunks %lld\n"
                           "# HELP keep_ingest_failures Documents whose ingest failed (stored with a reason).\n"
                           "# TYPE keep_ingest_failures gauge\nkeep_ingest_failures %lld\n"
                           "# HELP keep_upload_failures_total Uploaded files that failed to ingest since start.\n"
                           "# TYPE keep_upload_failures_total counter\nkeep_upload_failures_total %llu\n",
                           atomic_load(&s->in_flight), (long long)c.docs_indexed,
                           (long long)c.docs_failed, (long long)c.docs_skipped, (long long)c.chunks,
                           (long long)c.docs_failed, (unsigned long long)upload_failures);
    return bad ? KEEP_ERR_NOMEM : KEEP_OK;
}

/* ---- the watcher thread ------------------------------------------------------------------------ */

void web__poke_watcher(web_server *s, int folders, int vectors)
{
    if (folders)
        atomic_store(&s->folders_dirty, 1);
    if (vectors)
        atomic_store(&s->vectors_dirty, 1);
}

static void on_sync_log(void *ud, const char *action, const char *path, const char *detail)
{
    web_server *s = ud;
    web__log(s, "watch: %s %s%s%s", action, path, detail && *detail && strcmp(detail, "/") ? ": " : "",
             detail && strcmp(detail, "/") ? detail : "");
}

typedef struct watched {
    int64_t id;
    char *path, *collection;
    int seen;
} watched;

typedef struct {
    watched *w;
    size_t n;
    int failed;
} watch_set;

static int on_folder(void *ud, int64_t id, const char *path, const char *collection)
{
    watch_set *ws = ud;
    watched *nw = keep_reallocarray(ws->w, ws->n + 1, sizeof *nw);
    if (!nw) {
        ws->failed = 1;
        return 1;
    }
    ws->w = nw;
    nw[ws->n].id = id;
    nw[ws->n].path = keep_strdup(path);
    nw[ws->n].collection = keep_strdup(collection);
    nw[ws->n].seen = 0;
    ws->n++;
    return 0;
}

static void watch_set_free(watch_set *ws)
{
    for (size_t i = 0; i < ws->n; i++) {
        keep_free(ws->w[i].path);
        keep_free(ws->w[i].collection);
    }
    keep_free(ws->w);
    ws->w = NULL;
    ws->n = 0;
}

/* keep.conf's [folder] blocks, with ids below zero (in file order, stable
 * while the server runs) so they never collide with the table's. */
typedef struct {
    watch_set *ws;
    int64_t next_id;
} conf_folders;

static int on_conf_folder(void *ud, const char *path, const char *collection)
{
    conf_folders *c = ud;
    return on_folder(c->ws, c->next_id--, path, collection);
}

/* Brings the watched roots in line with the drop_folders table and the
 * [folder] blocks of keep.conf. */
static void reload_folders(web_server *s, watch_set *cur)
{
    watch_set want = {0};
    keep_err err;
    keep_err_clear(&err);
    char conf[4200];
    snprintf(conf, sizeof conf, "%s/keep.conf", s->data_dir);
    conf_folders cf = {&want, -1};
    if (idx_folders_list(s->watch_store, on_folder, &want, &err) || want.failed ||
        keep_config_folders(conf, on_conf_folder, &cf, &err) || want.failed) {
        web__log(s, "watch: cannot read drop folders: %s", err.msg);
        watch_set_free(&want);
        return;
    }
    for (size_t i = 0; i < cur->n; i++) {
        int keep = 0;
        for (size_t j = 0; j < want.n; j++)
            if (want.w[j].id == cur->w[i].id)
                keep = want.w[j].seen = 1;
        if (!keep && cur->w[i].seen) {
            idx_dropsync_remove(s->dropsync, cur->w[i].path, &err);
            web__log(s, "watch: stopped watching %s", cur->w[i].path);
        }
    }
    for (size_t j = 0; j < want.n && !s->shutdown; j++) {
        if (want.w[j].seen)
            continue;
        /* seen marks a root the watcher really holds */
        if (idx_dropsync_add(s->dropsync, want.w[j].path, want.w[j].collection, &err) == KEEP_OK) {
            want.w[j].seen = 1;
            web__log(s, "watch: watching %s for collection %s", want.w[j].path,
                     want.w[j].collection);
        } else {
            web__log(s, "watch: cannot watch %s: %s", want.w[j].path, err.msg);
        }
    }
    for (size_t j = 0; j < want.n; j++) /* keep roots that were held before */
        for (size_t i = 0; i < cur->n; i++)
            if (cur->w[i].id == want.w[j].id && cur->w[i].seen)
                want.w[j].seen = 1;
    watch_set_free(cur);
    *cur = want;
}

static void refresh_vectors(web_server *s)
{
    keep_err err;
    keep_err_clear(&err);
    size_t n = 0;
    if (infer_refresh_vectors(s->watch_store, s->cfg.embedding_model, 0, NULL, NULL, &n, &err))
        web__log(s, "embedding: %s", err.msg);
    else if (n)
        web__log(s, "embedding: %zu chunks embedded", n);
}

static void *watch_main(void *arg)
{
    web_server *s = arg;
    watch_set cur = {0};
    atomic_store(&s->folders_dirty, 1);
    time_t last_purge = 0, last_retention = time(NULL);
    while (!s->shutdown) {
        if (atomic_exchange(&s->folders_dirty, 0))
            reload_folders(s, &cur);
        keep_err err;
        keep_err_clear(&err);
        int rc = idx_dropsync_poll(s->dropsync, 500, &err);
        if (rc == KEEP_ERR_CANCELLED)
            break;
        if (rc) {
            web__log(s, "watch: %s", err.msg);
            struct timespec ts = {0, 500 * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (idx_dropsync_take_changes(s->dropsync) | (size_t)atomic_exchange(&s->vectors_dirty, 0))
            refresh_vectors(s);
        time_t now = time(NULL);
        if (now - last_purge > 600) {
            idx_sessions_purge(s->watch_store, now, &err);
            last_purge = now;
        }
        if (now - last_retention >= 86400) {
            web__audit_retention(s, s->watch_store);
            last_retention = now;
        }
    }
    watch_set_free(&cur);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------------------------ */

static int parse_listen(const char *listen, struct sockaddr_storage *ss, int *v6, keep_err *err)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
        return keep_err_set(err, KEEP_ERR_USAGE, "listen address '%s' is not ADDR:PORT", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
        return keep_err_set(err, KEEP_ERR_USAGE, "bad port in '%s'", listen);
    memset(ss, 0, sizeof *ss);
    char *h = host;
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        h++;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *v6 = 0;
    } else if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = 1;
    } else {
        return keep_err_set(err, KEEP_ERR_USAGE, "listen address '%s' needs a numeric IP", listen);
    }
    return KEEP_OK;
}

static void daemon_log(void *cls, const char *fmt, va_list ap)
{
    web_server *s = cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    web__log(s, "http: %s", line);
}

int web_server_start(const web_options *opt, web_server **out, keep_err *err)
{
    *out = NULL;
    web_server *s = keep_calloc(1, sizeof *s);
    if (!s)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    s->cfg = *opt->cfg;
    s->wake_pipe[0] = s->wake_pipe[1] = -1;
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    pthread_mutex_init(&s->vec_mu, NULL);
    pthread_mutex_init(&s->metrics_mu, NULL);
    pthread_mutex_init(&s->rl_mu, NULL);
    pthread_mutex_init(&s->hash_mu, NULL);
    pthread_cond_init(&s->hash_cv, NULL);
    pthread_mutex_init(&s->log_mu, NULL);
    pthread_mutex_init(&s->asks_mu, NULL);
    pthread_cond_init(&s->asks_cv, NULL);
    int rc = KEEP_OK;
    if (snprintf(s->data_dir, sizeof s->data_dir, "%s", opt->data_dir) >= (int)sizeof s->data_dir) {
        rc = keep_err_set(err, KEEP_ERR_USAGE, "data directory path too long");
        goto fail;
    }
    snprintf(s->db_path, sizeof s->db_path, "%s/keep.db", s->data_dir);
    snprintf(s->vec_path, sizeof s->vec_path, "%s/vectors.faiss", s->data_dir);
    snprintf(s->uploads_dir, sizeof s->uploads_dir, "%s/uploads", s->data_dir);
    if (mkdir(s->uploads_dir, 0700) != 0 && errno != EEXIST) {
        rc = keep_err_set(err, KEEP_ERR_IO, "cannot create %s: %s", s->uploads_dir, strerror(errno));
        goto fail;
    }
    if (pipe2(s->wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        rc = keep_err_set(err, KEEP_ERR_IO, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (!(s->route_stats = keep_calloc(web_n_routes + 1, sizeof *s->route_stats))) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    s->n_slots = (size_t)s->cfg.web_threads + 2;
    if (!(s->slots = keep_calloc(s->n_slots, sizeof *s->slots))) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* searches read the FTS index and chunks: mapped pages spare a read()
     * copy per page (a third of the server's time under wrk otherwise) */
    for (size_t i = 0; i < s->n_slots; i++)
        if ((rc = idx_store_open(s->db_path, s->cfg.busy_timeout_ms, &s->slots[i].store, err)) ||
            (rc = idx_store_tune_reads(s->slots[i].store, (int64_t)1 << 36, 4 * 1024, err)))
            goto fail;
    if ((rc = idx_store_open(s->db_path, s->cfg.busy_timeout_ms, &s->watch_store, err)))
        goto fail;
    web__audit_retention(s, s->watch_store);

    /* the answer model, loaded once: every answer shares its sequences */
    if (s->cfg.model[0]) {
        char mp[8300];
        snprintf(mp, sizeof mp, "%s%s%s", s->cfg.model[0] == '/' ? "" : s->data_dir,
                 s->cfg.model[0] == '/' ? "" : "/", s->cfg.model);
        retr_gguf_options go = {0};
        go.threads = s->cfg.answer_threads;
        go.sequences = s->cfg.sequences > 0 ? s->cfg.sequences : 1;
        go.max_tokens = s->cfg.max_tokens;
        go.chat_template = s->cfg.chat_template;
        go.warm = 1; /* the first askers do not wait for the system prompt */
        if ((rc = retr_generator_open_gguf(mp, &go, &s->gen, err)))
            goto fail;
        web__log(s, "answers: %s (%d sequence%s)", mp, go.sequences, go.sequences == 1 ? "" : "s");
    }

    /* the drop-folder watcher */
    idx_ingest_opts io = {0};
    ingest_options_default(&io.ingest);
    io.ingest.max_file_bytes = s->cfg.max_file_mb << 20;
    io.ingest.max_text_bytes = s->cfg.max_text_mb << 20;
    io.ingest.chunk_chars = s->cfg.chunk_chars;
    io.ingest.chunk_overlap = s->cfg.chunk_overlap;
    io.ingest.ocr = s->cfg.ocr;
    snprintf(io.ingest.ocr_languages, sizeof io.ingest.ocr_languages, "%s", s->cfg.ocr_languages);
    if ((rc = idx_dropsync_new(s->watch_store, &io, 0, on_sync_log, s, &s->dropsync, err)))
        goto fail;

    /* TLS */
    if (s->cfg.web_tls_cert[0] || s->cfg.web_tls_key[0]) {
        if (!s->cfg.web_tls_cert[0] || !s->cfg.web_tls_key[0]) {
            rc = keep_err_set(err, KEEP_ERR_USAGE, "HTTPS needs both web.tls_cert and web.tls_key");
            goto fail;
        }
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            rc = keep_err_set(err, KEEP_ERR_UNSUPPORTED, "this libmicrohttpd has no TLS support");
            goto fail;
        }
        size_t len;
        if ((rc = keep_read_file(s->cfg.web_tls_cert, 1 << 20, &s->tls_cert, &len, err)) ||
            (rc = keep_read_file(s->cfg.web_tls_key, 1 << 20, &s->tls_key, &len, err)))
            goto fail;
        s->tls = 1;
    }

    const char *listen = opt->listen ? opt->listen : s->cfg.web_listen;
    struct sockaddr_storage ss;
    int v6 = 0;
    if ((rc = parse_listen(listen, &ss, &v6, err)))
        goto fail;
    if ((rc = web__asks_start(s, err)))
        goto fail;
    /* answers suspend their connections while they wait for the model, so
     * they hold no thread of the pool */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) | (s->tls ? MHD_USE_TLS : 0);
    struct MHD_OptionItem tls_opts[] = {
        {s->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->tls_cert},
        {s->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, daemon_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->cfg.web_threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)s->cfg.web_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
        MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 128u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!s->mhd) {
        rc = keep_err_set(err, KEEP_ERR_IO, "cannot listen on %s%s", listen,
                          s->tls ? " (or the TLS certificate/key is invalid)" : "");
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    if (pthread_create(&s->watch_thread, NULL, watch_main, s) != 0) {
        rc = keep_err_set(err, KEEP_ERR_INTERNAL, "cannot start the watcher thread");
        goto fail;
    }
    s->watch_started = 1;
    *out = s;
    return KEEP_OK;
fail:
    web_server_free(s);
    return rc ? rc : KEEP_ERR_INTERNAL;
}

uint16_t web_server_port(const web_server *s) { return s->port; }
int web_server_tls(const web_server *s) { return s->tls; }

void web_server_shutdown(web_server *s)
{
    if (!s)
        return;
    s->shutdown = 1;
    if (s->wake_pipe[1] >= 0) {
        ssize_t w = write(s->wake_pipe[1], "x", 1);
        (void)w;
    }
    idx_dropsync_stop(s->dropsync);
}

/* Cancels the answers still running and waits for their workers, which
 * resume their connections as they end: MHD must not be stopped while a
 * connection is suspended. */
static void end_asks(web_server *s)
{
    web__asks_cancel(s);
    while (atomic_load(&s->ask_workers) > 0) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    web__asks_stop(s);
}

void web_server_wait(web_server *s)
{
    while (!s->shutdown) {
        struct pollfd pfd = {s->wake_pipe[0], POLLIN, 0};
        poll(&pfd, 1, 1000);
    }
    /* no new connections; requests already being served run to their end */
    MHD_socket ls = MHD_quiesce_daemon(s->mhd);
    double deadline = keep_now_ms() + 1000.0 * s->cfg.web_timeout_s;
    while (atomic_load(&s->in_flight) > 0 && keep_now_ms() < deadline) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    end_asks(s);
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    if (s->watch_started) {
        pthread_join(s->watch_thread, NULL);
        s->watch_started = 0;
    }
}

void web_server_free(web_server *s)
{
    if (!s)
        return;
    end_asks(s);
    if (s->mhd) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
    }
    retr_generator_free(s->gen);
    if (s->watch_started) {
        s->shutdown = 1;
        idx_dropsync_stop(s->dropsync);
        pthread_join(s->watch_thread, NULL);
    }
    idx_dropsync_free(s->dropsync);
    idx_store_close(s->watch_store);
    for (size_t i = 0; s->slots && i < s->n_slots; i++) {
        idx_embedder_free(s->slots[i].embedder);
        idx_store_close(s->slots[i].store);
    }
    idx_vectors_close(s->vectors);
    keep_free(s->slots);
    keep_free(s->route_stats);
    if (s->tls_key)
        sodium_memzero(s->tls_key, strlen(s->tls_key));
    keep_free(s->tls_cert);
    keep_free(s->tls_key);
    if (s->wake_pipe[0] >= 0)
        close(s->wake_pipe[0]);
    if (s->wake_pipe[1] >= 0)
        close(s->wake_pipe[1]);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_cond_destroy(&s->pool_cv);
    pthread_mutex_destroy(&s->vec_mu);
    pthread_mutex_destroy(&s->metrics_mu);
    pthread_mutex_destroy(&s->rl_mu);
    pthread_mutex_destroy(&s->hash_mu);
    pthread_cond_destroy(&s->hash_cv);
    pthread_mutex_destroy(&s->log_mu);
    pthread_mutex_destroy(&s->asks_mu);
    pthread_cond_destroy(&s->asks_cv);
    keep_free(s);
}
