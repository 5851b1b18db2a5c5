/* web_int.h — what the files of web/ share: the server, one request, the
 * response helpers, authentication and the route handlers. */
#ifndef KEEP_WEB_INT_H
#define KEEP_WEB_INT_H

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "index/auth.h"
#include "index/dropsync.h"
#include "infer/infer.h"
#include "web.h"

/* A JSON request body larger than this is refused (uploads have their own cap). */
#define WEB_MAX_JSON_BODY (1u << 20)
/* Files in one upload request. */
#define WEB_MAX_UPLOAD_FILES 100
#define WEB_NAME_MAX 128

/* One database handle (and the embedder read with it) per request thread. */
typedef struct web_slot {
    idx_store *store;
    idx_embedder *embedder; /* opened lazily; NULL when no vectors */
    int busy;
} web_slot;

/* Prometheus counters of one route. */
#define WEB_N_BUCKETS 10
typedef struct web_route_stats {
    uint64_t by_class[6]; /* 1xx..5xx at [1..5] */
    uint64_t buckets[WEB_N_BUCKETS]; /* latency <= bound (cumulative at output) */
    uint64_t count;
    double sum_s;
} web_route_stats;

/* Failed-login counters by key ("u:name" or "ip:addr"). */
#define WEB_RL_SLOTS 1024
typedef struct web_rl_entry {
    char key[WEB_NAME_MAX + 8];
    int failures;
    int64_t window_start;
} web_rl_entry;

struct web_server {
    struct MHD_Daemon *mhd;
    keep_config cfg;
    char data_dir[4096];
    char db_path[4200];
    char vec_path[4200];
    char uploads_dir[4200];
    uint16_t port;
    int tls;
    char *tls_cert, *tls_key; /* PEM held for MHD */

    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    web_slot *slots;
    size_t n_slots;

    pthread_mutex_t vec_mu; /* guards vectors (re)opening */
    idx_vectors *vectors;

    pthread_mutex_t metrics_mu;
    web_route_stats *route_stats; /* one per route + one for "not found" */
    uint64_t upload_failures;

    pthread_mutex_t rl_mu;
    web_rl_entry rl[WEB_RL_SLOTS];

    pthread_mutex_t hash_mu; /* argon2id runs at most 2 at a time (64 MiB each) */
    pthread_cond_t hash_cv;
    int hashing;

    pthread_mutex_t log_mu;

    /* answers: the generator opened at start ([answer] model), or NULL for
     * extractive answers; streaming answers run on worker threads counted
     * here so shutdown waits for them */
    struct retr_generator *gen;
    atomic_int ask_workers;
    /* the answers alive (ask.c): their connections are suspended while they
     * wait for the model, and the ask thread watches those for hang-ups */
    pthread_mutex_t asks_mu;
    pthread_cond_t asks_cv;
    struct ask_job *asks;
    pthread_t asks_thread;
    int asks_thread_on, asks_stop;
    /* tests only (KEEP_TEST_PIECE_DELAY_MS): each streamed piece of answer
     * waits this long, so a test can keep the model busy on the fixture models */
    long test_piece_delay_ms;
    atomic_int gen_waiting;          /* answers waiting for a free sequence */
    uint64_t gen_tokens, gen_answers; /* under metrics_mu */
    double gen_decode_s;

    atomic_int in_flight;
    volatile sig_atomic_t shutdown;
    int wake_pipe[2];

    pthread_t watch_thread;
    int watch_started;
    idx_store *watch_store;
    idx_dropsync *dropsync;
    atomic_int folders_dirty, vectors_dirty;
};

/* An uploaded file held in memory until the body is complete. */
typedef struct web_upload_file {
    char name[256];
    keep_buf data;
} web_upload_file;

typedef struct web_route web_route;

/* What the audit row of a request records besides who, where and the
 * status (audit.c). */
typedef struct web_audit {
    char target[512];   /* what was acted on; default: the route's * segments */
    char *query;        /* the query or question (owned) */
    keep_buf returned;  /* document ids returned, "1,5,9" */
    keep_buf cited;     /* document ids cited by an answer */
    int deferred;       /* a streaming answer's worker writes the row */
} web_audit;

/* One request, from its headers to its completion. */
typedef struct web_req {
    web_server *srv;
    struct MHD_Connection *conn;
    const char *method, *url;
    const web_route *route;
    int route_index;
    char params[2][512]; /* the * segments of the route pattern, unescaped */
    double t0;
    char peer[64];
    int responded;
    int status;
    int head_done; /* the first call (headers) was handled */

    /* body */
    keep_buf body;
    size_t body_cap;
    int body_too_big;
    struct MHD_PostProcessor *pp;
    web_upload_file *files;
    size_t n_files;
    char upload_collection[WEB_NAME_MAX + 1];
    int upload_bad;

    /* who is asking */
    char user[WEB_NAME_MAX + 1];
    idx_principal *principal;
    int via_session, via_token, via_proxy;
    char session_hash[65];
    char csrf[64];

    web_audit audit;

    /* response extras */
    char set_cookie[256];
    char extra_name[64], extra_value[512];
    web_slot *slot;
    /* a plain JSON answer computed on a worker while the connection is suspended */
    struct ask_job *ask;
} web_req;

typedef int (*web_handler)(web_req *r);

enum { WEB_PUBLIC, WEB_USER, WEB_ADMIN };
enum { WEB_BODY_NONE, WEB_BODY_JSON, WEB_BODY_UPLOAD };

struct web_route {
    const char *method;
    const char *pattern; /* '*' matches one path segment */
    int access;
    int body;
    web_handler fn;
};

extern const web_route web_routes[];
extern const size_t web_n_routes;

/* ---- responses (server.c) ----------------------------------------------------------------- */
/* Each returns MHD_YES/MHD_NO for the MHD callback. data is copied. */
int web__respond(web_req *r, unsigned status, const char *content_type, const void *data,
                 size_t len);
int web__json(web_req *r, unsigned status, cJSON *doc); /* frees doc */
int web__error(web_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps a keep_status to an HTTP error response. */
int web__keep_error(web_req *r, int status, const keep_err *err);
const char *web__header(web_req *r, const char *name);
const char *web__arg(web_req *r, const char *name);
/* A pooled store for this request (released when the request completes). */
idx_store *web__store(web_req *r);
void web__log(web_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds the security headers every response carries (data responses and streams). */
void web__headers(web_req *r, struct MHD_Response *resp);
/* A pooled store for a worker thread (waits for a free one); it gives it
 * back with web__slot_put. */
web_slot *web__slot_get(web_server *s);
/* Waits until that very slot is free and takes it again. */
void web__slot_get_this(web_server *s, web_slot *slot);
void web__slot_put(web_server *s, web_slot *slot);
/* The vector index and the slot's embedder when they match the stored
 * vectors; NULLs (words only) otherwise. */
void web__slot_vectors(web_server *s, web_slot *slot, idx_vectors **v, idx_embedder **e);
/* The same for the request's slot. */
void web__search_vectors(web_req *r, idx_vectors **v, idx_embedder **e);
/* Parses the JSON body (400 response queued and NULL returned when bad). */
cJSON *web__body_json(web_req *r);

/* ---- authentication (auth.c) ------------------------------------------------------------- */
/* Establishes who is asking (session cookie, bearer token, trusted proxy)
 * and checks CSRF and the route's access level; queues 401/403 and returns
 * non-zero when the request must stop. */
int web__authenticate(web_req *r);
int web__rl_blocked(web_server *s, const char *key, int limit, int64_t now, int64_t *retry);
void web__rl_fail(web_server *s, const char *key, int64_t now);
void web__rl_reset(web_server *s, const char *key);
/* Random bytes as URL-safe base64 (43 characters for 32 bytes) into out. */
void web__random_token(char *out, size_t out_size);
/* BLAKE2b-256 of a secret as 64 hex characters. */
void web__secret_hash(const char *secret, char out[65]);
int web__const_eq(const char *a, const char *b);
int web__verify_login(web_server *s, idx_store *st, const char *user, const char *password,
                      int *admin);

/* ---- handlers (api.c, admin.c) ----------------------------------------------------------- */
int web__h_login(web_req *r);
int web__h_logout(web_req *r);
int web__h_session(web_req *r);
/* Asks the watcher thread to reload the drop folders / refresh embeddings. */
void web__poke_watcher(web_server *s, int folders, int vectors);
/* Upload multipart iterator state setup; 0 or an error response queued. */
int web__upload_begin(web_req *r);
/* Prometheus text of the counters and the store. */
int web__metrics_text(web_req *r, keep_buf *out);
/* Answers (ask.c): POST /api/v1/ask and the OpenAI-compatible /v1 routes. */
int web__h_ask(web_req *r);
/* The ask thread (hang-ups of suspended answers, keep-alive comments). */
int web__asks_start(web_server *s, keep_err *err);
/* Cancels every answer (shutdown, once in-flight requests had their time). */
void web__asks_cancel(web_server *s);
void web__asks_stop(web_server *s);
/* MHD calls the handler again for a suspended plain answer: its response,
 * or the connection suspended again. */
int web__ask_resume(web_req *r);
/* The request ends (on_completed): drops its answer, cancelling it if unfinished. */
void web__ask_release(web_req *r);
int web__h_chat_completions(web_req *r);
int web__h_embeddings(web_req *r);
int web__h_models(web_req *r);

/* ---- audit log (audit.c) ------------------------------------------------------------------- */
/* The audit action of a route ("search", "ask", "user_add", ...), NULL when
 * the route is not audited. */
const char *web__audit_action(const web_route *route);
/* Records the query of this request (copied). */
void web__audit_query(web_req *r, const char *query);
/* Sets what the request acted on (default: the route's * segments). */
void web__audit_target(web_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds a document id to a list (returned or cited) unless already there. */
void web__audit_doc(keep_buf *list, int64_t id);
/* Writes the request's row (at completion; not for deferred rows). Never
 * fails the request: a failure is logged without the query. */
void web__audit_finish(web_req *r);
/* Who and from where, copied for a row written after the request is gone. */
typedef struct web_audit_who {
    char user[WEB_NAME_MAX + 1];
    char via[16];
    char remote[64];
    const char *action;
} web_audit_who;
void web__audit_who(web_req *r, web_audit_who *w);
/* Writes a row on st (an answer worker's store). */
void web__audit_write(web_server *s, idx_store *st, const web_audit_who *w, const char *target,
                      const char *query, const char *returned, const char *cited, int status);
/* Prunes rows older than [audit] retention_days (no-op when 0) on st. */
void web__audit_retention(web_server *s, idx_store *st);
int web__h_admin_audit(web_req *r);
int web__h_admin_audit_verify(web_req *r);
int web__h_admin_status(web_req *r);

/* Embedded files (assets.c, generated from web/assets/). */
typedef struct web_asset {
    const char *path; /* "/assets/app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} web_asset;
const web_asset *web__asset(const char *path);

/* Admin handlers (admin.c), routed by api.c's table. */
int web__h_admin_users(web_req *r);
int web__h_admin_user_add(web_req *r);
int web__h_admin_user_remove(web_req *r);
int web__h_admin_user_password(web_req *r);
int web__h_admin_user_join(web_req *r);
int web__h_admin_user_leave(web_req *r);
int web__h_admin_groups(web_req *r);
int web__h_admin_collections(web_req *r);
int web__h_admin_grant(web_req *r);
int web__h_admin_revoke(web_req *r);
int web__h_admin_tokens(web_req *r);
int web__h_admin_folders(web_req *r);
int web__h_admin_folder_add(web_req *r);
int web__h_admin_folder_remove(web_req *r);
/* One token as JSON into the array ud (api.c; admin.c lists every user's). */
int web__token_item(void *ud, const idx_token_info *t);

#endif
