/* api.c — the routes of Keep's HTTP API and UI, and the handlers for
 * search, documents (list, upload, metadata, text, original, delete),
 * collections, API tokens, health, metrics and the embedded files. Admin
 * handlers live in admin.c.
 *
 * Every document is reached by its id, and every handler that returns
 * anything of a document first checks that the caller may read its
 * collection; a document the caller may not read is "not found" (its
 * existence is not revealed). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "retrieve/retr.h"
#include "web_int.h"


/* ---- small helpers --------------------------------------------------------------------------- */

static int parse_id(const char *s, int64_t *id)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v <= 0)
        return -1;
    *id = v;
    return 0;
}

static const char *json_str(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* ---- static files ------------------------------------------------------------------------------- */

static int h_asset(web_req *r)
{
    const web_asset *a = web__asset(strcmp(r->url, "/") == 0 ? "/index.html" : r->url);
    if (!a)
        return web__error(r, 404, "not_found", "no such file");
    return web__respond(r, 200, a->content_type, a->data, a->len);
}

static int h_openapi(web_req *r)
{
    const web_asset *a = web__asset("/openapi.json");
    if (!a)
        return web__error(r, 404, "not_found", "no API document");
    return web__respond(r, 200, "application/json", a->data, a->len);
}

static int h_healthz(web_req *r)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    return web__respond(r, 200, "application/json", ok, sizeof ok - 1);
}

static int h_metrics(web_req *r)
{
    /* scrapers on the machine itself need no account; anyone else is an admin */
    int local = strcmp(r->peer, "127.0.0.1") == 0 || strcmp(r->peer, "::1") == 0;
    if (!local) {
        if (!r->principal)
            return web__error(r, 401, "unauthorized", "log in or send an API token");
        if (!idx_principal_is_admin(r->principal))
            return web__error(r, 403, "forbidden", "administrators only");
    }
    keep_buf b = {0};
    int rc = web__metrics_text(r, &b);
    if (rc) {
        keep_buf_free(&b);
        return web__keep_error(r, rc, NULL);
    }
    int mrc = web__respond(r, 200, "text/plain; version=0.0.4", b.data, b.len);
    keep_buf_free(&b);
    return mrc;
}

/* ---- search ----------------------------------------------------------------------------------- */

void web__search_vectors(web_req *r, idx_vectors **v, idx_embedder **e)
{
    web__store(r);
    web__slot_vectors(r->srv, r->slot, v, e);
}

/* "YYYY-MM-DD" (UTC) into nanoseconds since the epoch. */
static int parse_day(const char *s, int64_t *ns)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (!end || *end)
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || t < 0 || t > (time_t)9000000000LL)
        return -1;
    *ns = (int64_t)t * 1000000000;
    return 0;
}

static int h_search(web_req *r)
{
    cJSON *body = web__body_json(r);
    if (!body)
        return MHD_YES;
    int rc = MHD_YES;
    retr_results *res = NULL;
    const char *q = json_str(body, "query");
    web__audit_query(r, q);
    if (!q || !*q || strlen(q) > 4096) {
        rc = web__error(r, 400, "bad_request", "query is a string of 1 to 4096 bytes");
        goto out;
    }
    retr_request req = {0};
    req.query = q;
    req.k = (size_t)r->srv->cfg.search_k;
    req.max_chunks_per_doc = (size_t)r->srv->cfg.max_chunks_per_doc;
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(body, "k");
    if (k) {
        if (!cJSON_IsNumber(k) || k->valuedouble < 1 || k->valuedouble > 100) {
            rc = web__error(r, 400, "bad_request", "k is a number from 1 to 100");
            goto out;
        }
        req.k = (size_t)k->valuedouble;
    }
    const char *mode = json_str(body, "mode");
    if (mode && strcmp(mode, "bm25") && strcmp(mode, "vector") && strcmp(mode, "hybrid")) {
        rc = web__error(r, 400, "bad_request", "mode is bm25, vector or hybrid");
        goto out;
    }
    req.mode = mode;
    idx_filter f = {0};
    f.collection = json_str(body, "collection");
    f.format = json_str(body, "format");
    f.path_prefix = json_str(body, "path_prefix");
    const char *since = json_str(body, "since"), *until = json_str(body, "until");
    if ((since && *since && parse_day(since, &f.since_ns)) ||
        (until && *until && parse_day(until, &f.until_ns))) {
        rc = web__error(r, 400, "bad_request", "since and until are dates YYYY-MM-DD");
        goto out;
    }
    if (f.collection && !*f.collection)
        f.collection = NULL;
    if (f.format && !*f.format)
        f.format = NULL;
    req.filter = &f;
    req.as = r->principal;
    web__search_vectors(r, &req.vectors, &req.embedder);
    if (req.mode && strcmp(req.mode, "bm25") != 0 && !req.vectors)
        req.mode = NULL; /* no embeddings yet: what the default mode gives */
    keep_err err;
    keep_err_clear(&err);
    int st = retr_search(web__store(r), &req, &res, &err);
    if (st) {
        rc = web__keep_error(r, st, &err);
        goto out;
    }
    for (size_t i = 0; i < retr_results_count(res); i++)
        web__audit_doc(&r->audit.returned, retr_results_hit(res, i)->doc_id);
    rc = web__json(r, 200, retr_results_json(res));
out:
    retr_results_free(res);
    cJSON_Delete(body);
    return rc;
}

/* ---- documents ---------------------------------------------------------------------------------- */

static cJSON *doc_json(const idx_doc_info *d)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)d->id);
    if (d->parent_id)
        cJSON_AddNumberToObject(o, "parent_id", (double)d->parent_id);
    else
        cJSON_AddNullToObject(o, "parent_id");
    cJSON_AddStringToObject(o, "path", d->path ? d->path : "");
    const char *slash = d->path ? strrchr(d->path, '/') : NULL;
    cJSON_AddStringToObject(o, "name", slash ? slash + 1 : d->path ? d->path : "");
    cJSON_AddStringToObject(o, "collection", d->collection ? d->collection : "");
    if (d->title)
        cJSON_AddStringToObject(o, "title", d->title);
    else
        cJSON_AddNullToObject(o, "title");
    if (d->format)
        cJSON_AddStringToObject(o, "format", d->format);
    else
        cJSON_AddNullToObject(o, "format");
    cJSON_AddStringToObject(o, "status", d->status ? d->status : "");
    if (d->error)
        cJSON_AddStringToObject(o, "error", d->error);
    else
        cJSON_AddNullToObject(o, "error");
    cJSON_AddNumberToObject(o, "size", (double)d->size);
    time_t t = (time_t)(d->mtime / 1000000000);
    struct tm tm;
    char ts[32] = "";
    if (gmtime_r(&t, &tm))
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(o, "modified", ts);
    cJSON_AddNumberToObject(o, "chunks", (double)d->chunks);
    return o;
}

typedef struct {
    web_req *r;
    cJSON *arr;
    const char *collection;
    long offset, limit, total;
    int failed;
} list_ctx;

static int on_doc(void *ud, const idx_doc_info *d)
{
    list_ctx *c = ud;
    if (!idx_principal_may_read(c->r->principal, d->collection))
        return 0;
    if (c->collection && strcmp(c->collection, d->collection) != 0)
        return 0;
    c->total++;
    if (c->total <= c->offset || c->total > c->offset + c->limit)
        return 0;
    cJSON *o = doc_json(d);
    if (!o) {
        c->failed = 1;
        return 1;
    }
    cJSON_AddItemToArray(c->arr, o);
    return 0;
}

static int parse_long_arg(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int h_docs_list(web_req *r)
{
    const char *status = web__arg(r, "status");
    if (status && strcmp(status, "indexed") && strcmp(status, "failed") && strcmp(status, "skipped"))
        return web__error(r, 400, "bad_request", "status is indexed, failed or skipped");
    list_ctx c = {r, cJSON_CreateArray(), web__arg(r, "collection"), 0, 200, 0, 0};
    const char *a;
    if (((a = web__arg(r, "offset")) && parse_long_arg(a, 0, LONG_MAX / 2, &c.offset)) ||
        ((a = web__arg(r, "limit")) && parse_long_arg(a, 1, 1000, &c.limit))) {
        cJSON_Delete(c.arr);
        return web__error(r, 400, "bad_request", "offset >= 0 and limit 1..1000");
    }
    keep_err err;
    keep_err_clear(&err);
    int rc = c.arr ? idx_docs_list(web__store(r), status, on_doc, &c, &err)
                   : keep_err_set(&err, KEEP_ERR_NOMEM, "out of memory");
    if (rc || c.failed) {
        cJSON_Delete(c.arr);
        return web__keep_error(r, rc ? rc : KEEP_ERR_NOMEM, &err);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "documents", c.arr);
    cJSON_AddNumberToObject(o, "total", (double)c.total);
    return web__json(r, 200, o);
}

/* One document the caller may read, copied out of the row. */
typedef struct {
    int found;
    int64_t id, parent_id, size;
    char path[4096], collection[WEB_NAME_MAX + 1], hash[65];
    cJSON *json;
} doc_row;

static int on_doc_row(void *ud, const idx_doc_info *d)
{
    doc_row *row = ud;
    row->found = 1;
    row->id = d->id;
    row->parent_id = d->parent_id;
    row->size = d->size;
    snprintf(row->path, sizeof row->path, "%s", d->path ? d->path : "");
    snprintf(row->collection, sizeof row->collection, "%s", d->collection ? d->collection : "");
    snprintf(row->hash, sizeof row->hash, "%s", d->hash ? d->hash : "");
    row->json = doc_json(d);
    return 0;
}

/* Loads the document of the route's id when the caller may read it; else
 * queues 404 (also for documents of other groups) and returns non-zero. */
static int load_doc(web_req *r, doc_row *row, int *mhd)
{
    memset(row, 0, sizeof *row);
    int64_t id;
    if (parse_id(r->params[0], &id)) {
        *mhd = web__error(r, 404, "not_found", "no such document");
        return 1;
    }
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_doc_get(web__store(r), id, on_doc_row, row, &err);
    if (rc == KEEP_ERR_NOTFOUND || (!rc && !idx_principal_may_read(r->principal, row->collection))) {
        cJSON_Delete(row->json);
        row->json = NULL;
        *mhd = web__error(r, 404, "not_found", "no such document");
        return 1;
    }
    if (rc || !row->json) {
        cJSON_Delete(row->json);
        row->json = NULL;
        *mhd = web__keep_error(r, rc ? rc : KEEP_ERR_NOMEM, &err);
        return 1;
    }
    return 0;
}

static int h_doc_get(web_req *r)
{
    doc_row row;
    int mhd;
    if (load_doc(r, &row, &mhd))
        return mhd;
    return web__json(r, 200, row.json);
}

static int h_doc_text(web_req *r)
{
    doc_row row;
    int mhd;
    if (load_doc(r, &row, &mhd))
        return mhd;
    char *text = NULL;
    size_t len = 0;
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_doc_text(web__store(r), row.id, &text, &len, &err);
    if (rc == KEEP_ERR_NOTFOUND) { /* failed and skipped documents have none */
        rc = KEEP_OK;
        text = keep_strdup("");
    }
    if (rc || !text) {
        cJSON_Delete(row.json);
        return web__keep_error(r, rc ? rc : KEEP_ERR_NOMEM, &err);
    }
    cJSON_AddStringToObject(row.json, "text", text);
    keep_free(text);
    web__audit_doc(&r->audit.returned, row.id);
    return web__json(r, 200, row.json);
}

/* Content-Disposition for a file name: an ASCII fallback and the UTF-8 name
 * percent-encoded (RFC 6266), so no byte of the name reaches the header raw. */
static void disposition(const char *path, char *out, size_t n)
{
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    char ascii[128], enc[400];
    size_t a = 0, e = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (a + 1 < sizeof ascii)
            ascii[a++] = (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\') ? (char)*p : '_';
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_';
        if (e + 4 >= sizeof enc)
            break;
        if (plain)
            enc[e++] = (char)*p;
        else
            e += (size_t)snprintf(enc + e, sizeof enc - e, "%%%02X", *p);
    }
    ascii[a] = enc[e] = '\0';
    snprintf(out, n, "attachment; filename=\"%s\"; filename*=UTF-8''%s", a ? ascii : "document",
             e ? enc : "document");
}

static int h_doc_original(web_req *r)
{
    doc_row row;
    int mhd;
    if (load_doc(r, &row, &mhd))
        return mhd;
    cJSON_Delete(row.json);
    if (row.parent_id)
        return web__error(r, 404, "not_found",
                          "an attachment has no file of its own: download the message");
    char *data = NULL;
    size_t len = 0;
    keep_err err;
    keep_err_clear(&err);
    /* the path comes from the database, never from the request */
    int rc = keep_read_file_nofollow(row.path, r->srv->cfg.max_file_mb << 20, &data, &len, &err);
    if (rc)
        return web__error(r, 410, "gone", "the original file is no longer readable");
    char hex[65];
    ingest_hash_hex(data, len, hex);
    if (row.hash[0] && strcmp(hex, row.hash) != 0) {
        keep_free(data);
        return web__error(r, 409, "changed", "the file changed since it was indexed");
    }
    snprintf(r->extra_name, sizeof r->extra_name, "Content-Disposition");
    disposition(row.path, r->extra_value, sizeof r->extra_value);
    web__audit_doc(&r->audit.returned, row.id);
    int out = web__respond(r, 200, "application/octet-stream", data, len);
    keep_free(data);
    return out;
}

static int is_upload_path(web_server *s, const char *path)
{
    size_t n = strlen(s->uploads_dir);
    return strncmp(path, s->uploads_dir, n) == 0 && path[n] == '/';
}

static int h_doc_delete(web_req *r)
{
    doc_row row;
    int mhd;
    if (load_doc(r, &row, &mhd))
        return mhd;
    cJSON_Delete(row.json);
    int upload = is_upload_path(r->srv, row.path);
    if (!idx_principal_is_admin(r->principal) && (!upload || row.parent_id))
        return web__error(r, 403, "forbidden",
                          "only administrators delete documents that are not uploads");
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_doc_remove(web__store(r), row.id, &err);
    if (rc)
        return web__keep_error(r, rc, &err);
    if (upload && !row.parent_id)
        unlink(row.path);
    web__audit_doc(&r->audit.returned, row.id);
    web__poke_watcher(r->srv, 0, 1);
    return web__json(r, 200, cJSON_CreateObject());
}

/* ---- upload ------------------------------------------------------------------------------------------ */

/* The file name to store an upload under: its last path component, control
 * characters replaced, at most 200 bytes of UTF-8; "" when unusable. */
static void clean_name(const char *in, char *out, size_t n)
{
    const char *b = in;
    for (const char *p = in; *p; p++)
        if (*p == '/' || *p == '\\')
            b = p + 1;
    size_t len = strlen(b);
    if (len > 200)
        len = keep_utf8_floor(b, 200);
    if (len >= n)
        len = n - 1;
    memcpy(out, b, len);
    out[len] = '\0';
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '_';
    if (!keep_utf8_valid(out, len) || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        out[0] = '\0';
}

typedef struct {
    char status[16];
    char reason[600];
} ingest_outcome;

static int on_upload_progress(void *ud, const char *path, const char *status, const char *reason,
                              const idx_ingest_stats *s)
{
    ingest_outcome *o = ud;
    (void)path, (void)s;
    snprintf(o->status, sizeof o->status, "%s", status);
    snprintf(o->reason, sizeof o->reason, "%s", reason ? reason : "");
    return 0;
}

/* Writes data to dir/name through a temporary file (0600, never following a
 * link) and renames it into place. */
static int store_file(const char *dir, const char *name, const keep_buf *data, char *path,
                      size_t path_size, keep_err *err)
{
    char tmp[4400], rnd[64];
    web__random_token(rnd, sizeof rnd);
    if (snprintf(path, path_size, "%s/%s", dir, name) >= (int)path_size ||
        snprintf(tmp, sizeof tmp, "%s/.upload-%.16s.part", dir, rnd) >= (int)sizeof tmp)
        return keep_err_set(err, KEEP_ERR_USAGE, "path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return keep_err_set(err, KEEP_ERR_IO, "cannot store the upload: %s", strerror(errno));
    size_t off = 0;
    while (off < data->len) {
        ssize_t w = write(fd, data->data + off, data->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return keep_err_set(err, KEEP_ERR_IO, "cannot store the upload: %s", strerror(errno));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return keep_err_set(err, KEEP_ERR_IO, "cannot store the upload: %s", strerror(errno));
    }
    return KEEP_OK;
}

static int h_upload(web_req *r)
{
    web_server *s = r->srv;
    if (r->upload_bad)
        return web__error(r, 400, "bad_request", "malformed upload (or more than %d files)",
                          WEB_MAX_UPLOAD_FILES);
    if (!r->n_files)
        return web__error(r, 400, "bad_request", "no file in the upload (form field 'file')");
    const char *coll = r->upload_collection[0] ? r->upload_collection : "default";
    web__audit_target(r, "%s", coll);
    if (!keep_utf8_valid(coll, strlen(coll)))
        return web__error(r, 400, "bad_request", "the collection name is not UTF-8");
    if (!idx_principal_may_read(r->principal, coll))
        return web__error(r, 403, "forbidden", "you may not add documents to collection '%s'",
                          coll);
    /* one folder per collection, named by a hash so any collection name is safe */
    char hex[65], dir[4400];
    ingest_hash_hex(coll, strlen(coll), hex);
    snprintf(dir, sizeof dir, "%s/%.16s", s->uploads_dir, hex);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return web__error(r, 500, "internal", "cannot create the upload folder");
    idx_ingest_opts opt = {0};
    ingest_options_default(&opt.ingest);
    opt.ingest.max_file_bytes = s->cfg.max_file_mb << 20;
    opt.ingest.max_text_bytes = s->cfg.max_text_mb << 20;
    opt.ingest.chunk_chars = s->cfg.chunk_chars;
    opt.ingest.chunk_overlap = s->cfg.chunk_overlap;
    opt.ingest.ocr = s->cfg.ocr;
    snprintf(opt.ingest.ocr_languages, sizeof opt.ingest.ocr_languages, "%s", s->cfg.ocr_languages);
    opt.collection = coll;
    opt.progress = on_upload_progress;
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "documents");
    if (!arr) {
        cJSON_Delete(out);
        return web__error(r, 500, "internal", "out of memory");
    }
    int failures = 0;
    for (size_t i = 0; i < r->n_files; i++) {
        char name[256], path[4700];
        clean_name(r->files[i].name, name, sizeof name);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", name[0] ? name : r->files[i].name);
        keep_err err;
        keep_err_clear(&err);
        if (!name[0] || ingest_is_ignored_name(name)) {
            cJSON_AddNullToObject(o, "id");
            cJSON_AddStringToObject(o, "status", "failed");
            cJSON_AddStringToObject(o, "action", "failed");
            cJSON_AddStringToObject(o, "error", "unusable file name (temporary, hidden or empty)");
            failures++;
            continue;
        }
        ingest_outcome res = {"failed", ""};
        opt.progress_ud = &res;
        idx_ingest_stats st;
        int64_t id = 0;
        int rc = store_file(dir, name, &r->files[i].data, path, sizeof path, &err);
        if (!rc)
            rc = idx_ingest_paths(web__store(r), (const char *const[]){path}, 1, &opt, &st, &err);
        if (!rc)
            rc = idx_doc_find(web__store(r), coll, path, &id, &err);
        if (rc) {
            snprintf(res.status, sizeof res.status, "failed");
            snprintf(res.reason, sizeof res.reason, "%s", err.msg);
        }
        if (id)
            web__audit_doc(&r->audit.returned, id);
        if (id)
            cJSON_AddNumberToObject(o, "id", (double)id);
        else
            cJSON_AddNullToObject(o, "id");
        /* the document's status, and what this upload did to it */
        int ok = !strcmp(res.status, "added") || !strcmp(res.status, "updated") ||
                 !strcmp(res.status, "unchanged");
        cJSON_AddStringToObject(o, "status", ok ? "indexed" : res.status);
        cJSON_AddStringToObject(o, "action", res.status);
        if (res.reason[0])
            cJSON_AddStringToObject(o, "error", res.reason);
        else
            cJSON_AddNullToObject(o, "error");
        failures += strcmp(res.status, "failed") == 0;
    }
    /* embed the new chunks now, so hybrid search ranks them at once; learning
     * a new embedding space (when the corpus has grown) is left to the
     * watcher thread */
    idx_vectors *vec;
    idx_embedder *emb;
    web__search_vectors(r, &vec, &emb);
    if (emb) {
        keep_err err;
        keep_err_clear(&err);
        if (idx_vectors_embed(web__store(r), emb, NULL, NULL, NULL, &err))
            web__log(s, "embedding: %s", err.msg);
    }
    pthread_mutex_lock(&s->metrics_mu);
    s->upload_failures += (uint64_t)failures;
    pthread_mutex_unlock(&s->metrics_mu);
    web__poke_watcher(s, 0, 1);
    return web__json(r, 201, out);
}

/* ---- collections and tokens ------------------------------------------------------------------------- */

typedef struct {
    web_req *r;
    cJSON *arr;
} coll_ctx;

static int on_collection(void *ud, const char *collection, int64_t docs)
{
    coll_ctx *c = ud;
    if (!idx_principal_may_read(c->r->principal, collection))
        return 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", collection);
    cJSON_AddNumberToObject(o, "documents", (double)docs);
    cJSON_AddItemToArray(c->arr, o);
    return 0;
}

static int h_collections(web_req *r)
{
    coll_ctx c = {r, cJSON_CreateArray()};
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_collections_list(web__store(r), on_collection, &c, &err);
    if (rc) {
        cJSON_Delete(c.arr);
        return web__keep_error(r, rc, &err);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "collections", c.arr);
    return web__json(r, 200, o);
}

int web__token_item(void *ud, const idx_token_info *t)
{
    cJSON *arr = ud;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)t->id);
    cJSON_AddStringToObject(o, "user", t->user);
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddNumberToObject(o, "created_at", (double)t->created_at);
    if (t->last_used)
        cJSON_AddNumberToObject(o, "last_used", (double)t->last_used);
    else
        cJSON_AddNullToObject(o, "last_used");
    cJSON_AddBoolToObject(o, "revoked", t->revoked_at != 0);
    cJSON_AddItemToArray(arr, o);
    return 0;
}

static int h_tokens(web_req *r)
{
    cJSON *arr = cJSON_CreateArray();
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_tokens_list(web__store(r), r->user, web__token_item, arr, &err);
    if (rc) {
        cJSON_Delete(arr);
        return web__keep_error(r, rc, &err);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "tokens", arr);
    return web__json(r, 200, o);
}

static int h_token_add(web_req *r)
{
    cJSON *body = web__body_json(r);
    if (!body)
        return MHD_YES;
    const char *name = json_str(body, "name");
    if (name)
        web__audit_target(r, "%s", name);
    char *secret = NULL;
    int64_t id = 0;
    keep_err err;
    keep_err_clear(&err);
    int rc = web_token_create(web__store(r), r->user, name, &secret, &id, &err);
    cJSON_Delete(body);
    if (rc)
        return web__keep_error(r, rc, &err);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddStringToObject(o, "token", secret);
    sodium_memzero(secret, strlen(secret));
    keep_free(secret);
    return web__json(r, 201, o);
}

static int h_token_revoke(web_req *r)
{
    int64_t id;
    if (parse_id(r->params[0], &id))
        return web__error(r, 404, "not_found", "no such token");
    keep_err err;
    keep_err_clear(&err);
    /* an admin revokes anyone's token; a user only their own */
    const char *owner = idx_principal_is_admin(r->principal) ? NULL : r->user;
    int rc = idx_token_revoke(web__store(r), id, owner, time(NULL), &err);
    if (rc)
        return web__keep_error(r, rc, &err);
    return web__json(r, 200, cJSON_CreateObject());
}

/* ---- the table ------------------------------------------------------------------------------------------ */

const web_route web_routes[] = {
    {"GET", "/", WEB_PUBLIC, WEB_BODY_NONE, h_asset},
    {"GET", "/index.html", WEB_PUBLIC, WEB_BODY_NONE, h_asset},
    {"GET", "/assets/*", WEB_PUBLIC, WEB_BODY_NONE, h_asset},
    {"GET", "/healthz", WEB_PUBLIC, WEB_BODY_NONE, h_healthz},
    {"GET", "/metrics", WEB_PUBLIC, WEB_BODY_NONE, h_metrics},
    {"GET", "/api/v1/openapi.json", WEB_PUBLIC, WEB_BODY_NONE, h_openapi},
    {"POST", "/api/v1/login", WEB_PUBLIC, WEB_BODY_JSON, web__h_login},
    {"POST", "/api/v1/logout", WEB_PUBLIC, WEB_BODY_NONE, web__h_logout},
    {"GET", "/api/v1/session", WEB_PUBLIC, WEB_BODY_NONE, web__h_session},
    {"POST", "/api/v1/search", WEB_USER, WEB_BODY_JSON, h_search},
    {"POST", "/api/v1/ask", WEB_USER, WEB_BODY_JSON, web__h_ask},
    {"POST", "/v1/chat/completions", WEB_USER, WEB_BODY_JSON, web__h_chat_completions},
    {"POST", "/v1/embeddings", WEB_USER, WEB_BODY_JSON, web__h_embeddings},
    {"GET", "/v1/models", WEB_USER, WEB_BODY_NONE, web__h_models},
    {"GET", "/api/v1/documents", WEB_USER, WEB_BODY_NONE, h_docs_list},
    {"POST", "/api/v1/documents", WEB_USER, WEB_BODY_UPLOAD, h_upload},
    {"GET", "/api/v1/documents/*", WEB_USER, WEB_BODY_NONE, h_doc_get},
    {"DELETE", "/api/v1/documents/*", WEB_USER, WEB_BODY_NONE, h_doc_delete},
    {"GET", "/api/v1/documents/*/text", WEB_USER, WEB_BODY_NONE, h_doc_text},
    {"GET", "/api/v1/documents/*/original", WEB_USER, WEB_BODY_NONE, h_doc_original},
    {"GET", "/api/v1/collections", WEB_USER, WEB_BODY_NONE, h_collections},
    {"GET", "/api/v1/tokens", WEB_USER, WEB_BODY_NONE, h_tokens},
    {"POST", "/api/v1/tokens", WEB_USER, WEB_BODY_JSON, h_token_add},
    {"DELETE", "/api/v1/tokens/*", WEB_USER, WEB_BODY_NONE, h_token_revoke},
    {"GET", "/api/v1/admin/users", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_users},
    {"POST", "/api/v1/admin/users", WEB_ADMIN, WEB_BODY_JSON, web__h_admin_user_add},
    {"DELETE", "/api/v1/admin/users/*", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_user_remove},
    {"PUT", "/api/v1/admin/users/*/password", WEB_ADMIN, WEB_BODY_JSON, web__h_admin_user_password},
    {"PUT", "/api/v1/admin/users/*/groups/*", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_user_join},
    {"DELETE", "/api/v1/admin/users/*/groups/*", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_user_leave},
    {"GET", "/api/v1/admin/groups", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_groups},
    {"GET", "/api/v1/admin/collections", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_collections},
    {"PUT", "/api/v1/admin/collections/*/grants/*", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_grant},
    {"DELETE", "/api/v1/admin/collections/*/grants/*", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_revoke},
    {"GET", "/api/v1/admin/tokens", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_tokens},
    {"GET", "/api/v1/admin/folders", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_folders},
    {"POST", "/api/v1/admin/folders", WEB_ADMIN, WEB_BODY_JSON, web__h_admin_folder_add},
    {"DELETE", "/api/v1/admin/folders/*", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_folder_remove},
    {"GET", "/api/v1/admin/audit", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_audit},
    {"GET", "/api/v1/admin/audit/verify", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_audit_verify},
    {"GET", "/api/v1/admin/status", WEB_ADMIN, WEB_BODY_NONE, web__h_admin_status},
};
const size_t web_n_routes = sizeof web_routes / sizeof web_routes[0];
