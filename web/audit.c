/* audit.c — the web server's side of the audit log (index/audit.h): which
 * routes are audited and as what action, the row each audited request
 * writes when it completes (on its own pooled store: one short INSERT,
 * after the response went out), retention, and the admin endpoints that
 * read the log, verify its chain and show the model and index status.
 *
 * An audit failure never fails the request; it is logged without the query
 * (the server log holds no query and no document text). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "index/idx.h"
#include "index/vecindex.h"
#include "web_int.h"

/* ---- which routes --------------------------------------------------------------------------- */

static const struct {
    const char *method, *pattern, *action;
} audited[] = {
    {"POST", "/api/v1/search", "search"},
    {"POST", "/api/v1/ask", "ask"},
    {"POST", "/v1/chat/completions", "chat"},
    {"GET", "/api/v1/documents/*/text", "view"},
    {"GET", "/api/v1/documents/*/original", "download"},
    {"POST", "/api/v1/documents", "upload"},
    {"DELETE", "/api/v1/documents/*", "delete"},
    {"POST", "/api/v1/login", "login"},
    {"POST", "/api/v1/logout", "logout"},
    {"POST", "/api/v1/tokens", "token_create"},
    {"DELETE", "/api/v1/tokens/*", "token_revoke"},
    {"POST", "/api/v1/admin/users", "user_add"},
    {"DELETE", "/api/v1/admin/users/*", "user_remove"},
    {"PUT", "/api/v1/admin/users/*/password", "user_password"},
    {"PUT", "/api/v1/admin/users/*/groups/*", "group_join"},
    {"DELETE", "/api/v1/admin/users/*/groups/*", "group_leave"},
    {"PUT", "/api/v1/admin/collections/*/grants/*", "grant"},
    {"DELETE", "/api/v1/admin/collections/*/grants/*", "revoke"},
    {"POST", "/api/v1/admin/folders", "folder_add"},
    {"DELETE", "/api/v1/admin/folders/*", "folder_remove"},
    {"GET", "/api/v1/admin/audit", "audit_read"},
};

const char *web__audit_action(const web_route *route)
{
    if (!route)
        return NULL;
    for (size_t i = 0; i < sizeof audited / sizeof audited[0]; i++)
        if (strcmp(audited[i].method, route->method) == 0 &&
            strcmp(audited[i].pattern, route->pattern) == 0)
            return audited[i].action;
    return NULL;
}

/* ---- a request's row ------------------------------------------------------------------------ */

void web__audit_query(web_req *r, const char *query)
{
    keep_free(r->audit.query);
    r->audit.query = query ? keep_strdup(query) : NULL;
}

void web__audit_target(web_req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->audit.target, sizeof r->audit.target, fmt, ap);
    va_end(ap);
    r->audit.target[keep_utf8_floor(r->audit.target, strlen(r->audit.target))] = '\0';
}

void web__audit_doc(keep_buf *list, int64_t id)
{
    char item[32];
    snprintf(item, sizeof item, "%lld", (long long)id);
    size_t n = strlen(item);
    for (const char *p = list->data; p && *p;) { /* already listed? */
        size_t len = strcspn(p, ",");
        if (len == n && memcmp(p, item, n) == 0)
            return;
        p += len + (p[len] == ',');
    }
    if (list->len > IDX_AUDIT_MAX_IDS - 32)
        return;
    if (list->len)
        keep_buf_putc(list, ',');
    keep_buf_puts(list, item);
}

void web__audit_who(web_req *r, web_audit_who *w)
{
    memset(w, 0, sizeof *w);
    snprintf(w->user, sizeof w->user, "%s", r->user);
    snprintf(w->via, sizeof w->via, "%s",
             r->via_token ? "token" : r->via_proxy ? "proxy" : r->via_session ? "session" : "");
    snprintf(w->remote, sizeof w->remote, "%s", r->peer);
    w->action = web__audit_action(r->route);
}

void web__audit_write(web_server *s, idx_store *st, const web_audit_who *w, const char *target,
                      const char *query, const char *returned, const char *cited, int status)
{
    if (!w->action)
        return;
    idx_audit_entry e = {0};
    e.user = w->user;
    e.via = w->via;
    e.remote = w->remote;
    e.action = w->action;
    e.target = target && *target ? target : NULL;
    e.query = query;
    e.returned = returned && *returned ? returned : NULL;
    e.cited = cited && *cited ? cited : NULL;
    e.status = status;
    keep_err err;
    keep_err_clear(&err);
    if (idx_audit_append(st, &e, NULL, &err))
        web__log(s, "audit: cannot record a %s row: %s", w->action, err.msg);
}

void web__audit_finish(web_req *r)
{
    web_audit *a = &r->audit;
    const char *action = web__audit_action(r->route);
    if (action && !a->deferred) {
        web_audit_who w;
        web__audit_who(r, &w);
        char target[2 * sizeof r->params[0] + 2];
        if (a->target[0]) {
            snprintf(target, sizeof target, "%s", a->target);
        } else {
            snprintf(target, sizeof target, "%s%s%s", r->params[0], r->params[1][0] ? "/" : "",
                     r->params[1]);
            target[keep_utf8_floor(target, strlen(target))] = '\0';
        }
        int status = r->status ? r->status : 200;
        web__audit_write(r->srv, web__store(r), &w, target, a->query, a->returned.data,
                         a->cited.data, status);
    }
    keep_free(a->query);
    a->query = NULL;
    keep_buf_free(&a->returned);
    keep_buf_free(&a->cited);
}

/* ---- retention ------------------------------------------------------------------------------ */

void web__audit_retention(web_server *s, idx_store *st)
{
    int days = s->cfg.audit_retention_days;
    if (days <= 0)
        return;
    keep_err err;
    keep_err_clear(&err);
    int64_t n = 0, cutoff = (int64_t)time(NULL) - (int64_t)days * 86400;
    if (idx_audit_prune(st, cutoff, &n, &err))
        web__log(s, "audit: retention failed: %s", err.msg);
    else if (n)
        web__log(s, "audit: pruned %lld rows older than %d days", (long long)n, days);
}

/* ---- reading the log ------------------------------------------------------------------------ */

typedef struct {
    cJSON *arr;
    int64_t last_id;
    size_t n;
} audit_ctx;

static int on_audit_row(void *ud, int64_t id, const idx_audit_entry *e)
{
    audit_ctx *c = ud;
    cJSON *o = idx_audit_entry_json(id, e);
    if (!o)
        return 1;
    cJSON_AddItemToArray(c->arr, o);
    c->last_id = id;
    c->n++;
    return 0;
}

/* GET /api/v1/admin/audit?user=&action=&since=&until=&limit=&before= */
int web__h_admin_audit(web_req *r)
{
    idx_audit_filter f = {0};
    f.user = web__arg(r, "user");
    f.action = web__arg(r, "action");
    f.limit = 100;
    const char *a;
    if ((a = web__arg(r, "since")) && *a && idx_audit_parse_time(a, 0, &f.since))
        return web__error(r, 400, "bad_request", "since is YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or seconds");
    if ((a = web__arg(r, "until")) && *a && idx_audit_parse_time(a, 1, &f.until))
        return web__error(r, 400, "bad_request", "until is YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or seconds");
    char *end;
    if ((a = web__arg(r, "limit")) && *a) {
        errno = 0;
        long v = strtol(a, &end, 10);
        if (errno || end == a || *end || v < 1 || v > 1000)
            return web__error(r, 400, "bad_request", "limit is 1 to 1000");
        f.limit = (size_t)v;
    }
    if ((a = web__arg(r, "before")) && *a) {
        errno = 0;
        long long v = strtoll(a, &end, 10);
        if (errno || end == a || *end || v < 1)
            return web__error(r, 400, "bad_request", "before is a row id");
        f.before_id = v;
    }
    audit_ctx c = {cJSON_CreateArray(), 0, 0};
    keep_err err;
    keep_err_clear(&err);
    int rc = c.arr ? idx_audit_list(web__store(r), &f, on_audit_row, &c, &err)
                   : keep_err_set(&err, KEEP_ERR_NOMEM, "out of memory");
    if (rc) {
        cJSON_Delete(c.arr);
        return web__keep_error(r, rc, &err);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "entries", c.arr);
    /* a full page may have more behind it: the cursor for the next one */
    if (c.n == f.limit && c.last_id > 1)
        cJSON_AddNumberToObject(o, "next_before", (double)c.last_id);
    else
        cJSON_AddNullToObject(o, "next_before");
    cJSON_AddNumberToObject(o, "retention_days", r->srv->cfg.audit_retention_days);
    return web__json(r, 200, o);
}

/* GET /api/v1/admin/audit/verify */
int web__h_admin_audit_verify(web_req *r)
{
    idx_audit_check c;
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_audit_verify(web__store(r), &c, &err);
    if (rc)
        return web__keep_error(r, rc, &err);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", c.bad_id == 0);
    cJSON_AddNumberToObject(o, "rows", (double)c.rows);
    cJSON_AddNumberToObject(o, "pruned_through", (double)c.pruned_id);
    if (c.bad_id) {
        cJSON_AddNumberToObject(o, "first_bad_id", (double)c.bad_id);
        cJSON_AddStringToObject(o, "reason", c.reason);
    } else {
        cJSON_AddNullToObject(o, "first_bad_id");
        cJSON_AddNullToObject(o, "reason");
    }
    return web__json(r, 200, o);
}

/* ---- model and index status ----------------------------------------------------------------- */

/* GET /api/v1/admin/status */
int web__h_admin_status(web_req *r)
{
    web_server *s = r->srv;
    idx_store *st = web__store(r);
    keep_err err;
    keep_err_clear(&err);
    idx_counts counts;
    int64_t audit_rows = 0;
    int rc = idx_store_counts(st, &counts, &err);
    if (!rc)
        rc = idx_audit_count(st, &audit_rows, &err);
    if (rc)
        return web__keep_error(r, rc, &err);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "schema", idx_store_schema_version(st));

    cJSON *m = cJSON_AddObjectToObject(o, "model");
    if (s->cfg.model[0]) {
        const char *slash = strrchr(s->cfg.model, '/');
        cJSON_AddStringToObject(m, "file", slash ? slash + 1 : s->cfg.model);
        char mp[8300];
        snprintf(mp, sizeof mp, "%s%s%s", s->cfg.model[0] == '/' ? "" : s->data_dir,
                 s->cfg.model[0] == '/' ? "" : "/", s->cfg.model);
        struct stat sb;
        cJSON_AddNumberToObject(m, "bytes", stat(mp, &sb) == 0 ? (double)sb.st_size : 0);
    } else {
        cJSON_AddNullToObject(m, "file");
        cJSON_AddNumberToObject(m, "bytes", 0);
    }
    cJSON_AddBoolToObject(m, "loaded", s->gen != NULL);
    cJSON_AddStringToObject(m, "answers", s->gen ? "generative" : "extractive");
    cJSON_AddNumberToObject(m, "sequences", s->gen ? s->cfg.sequences : 0);
    cJSON_AddNumberToObject(m, "queue_depth", atomic_load(&s->gen_waiting));

    cJSON *ix = cJSON_AddObjectToObject(o, "index");
    cJSON_AddNumberToObject(ix, "documents", (double)counts.docs_indexed);
    cJSON_AddNumberToObject(ix, "documents_failed", (double)counts.docs_failed);
    cJSON_AddNumberToObject(ix, "documents_skipped", (double)counts.docs_skipped);
    cJSON_AddNumberToObject(ix, "chunks", (double)counts.chunks);
    char *emb = NULL;
    if (idx_vectors_embedder_name(st, &emb, &err))
        emb = NULL;
    if (emb)
        cJSON_AddStringToObject(ix, "embedder", emb);
    else
        cJSON_AddNullToObject(ix, "embedder");
    keep_free(emb);
    idx_vectors *vec;
    idx_embedder *e;
    web__search_vectors(r, &vec, &e);
    size_t nvec = vec ? idx_vectors_count(vec) : 0;
    cJSON_AddNumberToObject(ix, "vectors", (double)nvec);
    idx_vec_tunables t;
    idx_vec_tunables_default(&t);
    const char *kind = !vec ? "words only (BM25)"
                            : idx_vec_choose_kind(nvec, &t) == IDX_VEC_HNSW ? "hybrid: BM25 + HNSW"
                                                                             : "hybrid: BM25 + exact";
    cJSON_AddStringToObject(ix, "kind", kind);

    cJSON *au = cJSON_AddObjectToObject(o, "audit");
    cJSON_AddNumberToObject(au, "rows", (double)audit_rows);
    cJSON_AddNumberToObject(au, "retention_days", s->cfg.audit_retention_days);
    return web__json(r, 200, o);
}
