/* audit.c — the audit log's rows (see idx.h): appending with the hash
 * chain, listing with filters, verifying the chain, and retention.
 *
 * The log lives in its own database file beside keep.db (keep-audit.db for
 * keep.db): every request writes a row, and a write to keep.db would make
 * every other connection drop its page cache and mapping of the index, which
 * under load cost the server more than its searches. A log written by an
 * older Keep inside keep.db (schema 4 and 5) is copied over on first use.
 *
 * A row's hash is BLAKE2b-256 over the previous row's hash (hex) and every
 * stored field, each field length-prefixed (NULL distinct from "") so no two
 * different rows serialise alike. Ids are consecutive from the anchor's
 * pruned_id, so a row removed from the middle shows as a gap even before the
 * hashes are looked at. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "idx.h"
#include "store_int.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* ---- the log's database ----------------------------------------------------------------------- */

static const char audit_schema[] =
    "CREATE TABLE IF NOT EXISTS audit_log(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
    "  user TEXT NOT NULL, via TEXT NOT NULL, remote TEXT NOT NULL, action TEXT NOT NULL,"
    "  target TEXT, query TEXT, returned TEXT, cited TEXT, status INTEGER NOT NULL,"
    "  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log(at);"
    "CREATE INDEX IF NOT EXISTS audit_log_user ON audit_log(user, id);"
    "CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log(action, id);"
    "CREATE TABLE IF NOT EXISTS audit_anchor(id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  pruned_id INTEGER NOT NULL, hash TEXT NOT NULL,"
    "  pruned_rows INTEGER NOT NULL DEFAULT 0, pruned_at INTEGER);"
    "INSERT OR IGNORE INTO audit_anchor(id, pruned_id, hash) VALUES (1, 0, '" ZERO_HASH "');"
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log BEGIN"
    "  SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log"
    "  WHEN old.id > (SELECT pruned_id FROM audit_anchor) BEGIN"
    "  SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS audit_anchor_forward BEFORE UPDATE ON audit_anchor"
    "  WHEN new.pruned_id < old.pruned_id OR new.id <> old.id BEGIN"
    "  SELECT RAISE(ABORT, 'the audit anchor only moves forward'); END;"
    "CREATE TRIGGER IF NOT EXISTS audit_anchor_no_delete BEFORE DELETE ON audit_anchor BEGIN"
    "  SELECT RAISE(ABORT, 'the audit anchor stays'); END;";

/* 1 when the query's first column of its first row is non-zero (0 on any
 * error: the caller then has nothing to do) */
static int ask_true(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int yes = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        yes = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    return yes;
}

/* Copies a log an older Keep kept inside keep.db, once: only into an empty
 * log whose anchor never moved, inside one write transaction (two server
 * connections may get here at once). The write transaction also locks
 * keep.db (attached), so it is only begun when there are rows to copy. */
static int import_legacy(idx_store *a, keep_err *err)
{
    if (!ask_true(a->db, "SELECT EXISTS (SELECT 1 FROM legacy.sqlite_master WHERE name = 'audit_log')"
                         " AND (EXISTS (SELECT 1 FROM legacy.audit_log)"
                         " OR (SELECT pruned_id FROM legacy.audit_anchor) > 0)"))
        return KEEP_OK;
    if (idx__exec(a, "BEGIN IMMEDIATE", err))
        return KEEP_ERR_DB;
    int rc = idx__exec(a,
                       "INSERT INTO main.audit_log SELECT id, at, user, via, remote, action, target,"
                       " query, returned, cited, status, prev_hash, hash FROM legacy.audit_log"
                       " WHERE NOT EXISTS (SELECT 1 FROM main.audit_log)"
                       " AND (SELECT pruned_id FROM main.audit_anchor) = 0;"
                       "UPDATE main.audit_anchor SET (pruned_id, hash, pruned_rows, pruned_at) ="
                       " (SELECT pruned_id, hash, pruned_rows, pruned_at FROM legacy.audit_anchor)"
                       " WHERE pruned_id = 0 AND EXISTS (SELECT 1 FROM legacy.audit_anchor)"
                       " AND (SELECT count(*) FROM main.audit_log) ="
                       " (SELECT count(*) FROM legacy.audit_log);",
                       err);
    if (rc) {
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return idx__exec(a, "COMMIT", err);
}

/* The audit database of s (opened with s by idx_store_open, so two threads
 * never race to open it). */
int idx__audit_db(idx_store *s, idx_store **out, keep_err *err)
{
    if (s->audit) {
        *out = s->audit;
        return KEEP_OK;
    }
    const char *p = s->path ? s->path : "";
    char path[4200];
    size_t n = strlen(p);
    int w;
    if (!strcmp(p, ":memory:") || !n)
        w = snprintf(path, sizeof path, ":memory:");
    else if (n > 3 && !strcmp(p + n - 3, ".db"))
        w = snprintf(path, sizeof path, "%.*s-audit.db", (int)(n - 3), p);
    else
        w = snprintf(path, sizeof path, "%s-audit", p);
    if (w < 0 || (size_t)w >= sizeof path)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "database path too long");
    idx_store *a;
    int rc = idx__store_open_plain(path, s->busy_timeout_ms, &a, err);
    if (rc)
        return rc;
    if ((rc = idx__exec(a, audit_schema, err)))
        goto fail;
    /* a log already in use, or a new install's: no older log to look for */
    if (strcmp(path, ":memory:") &&
        ask_true(a->db, "SELECT NOT EXISTS (SELECT 1 FROM audit_log)"
                        " AND (SELECT pruned_id FROM audit_anchor) = 0")) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(a->db, "ATTACH ?1 AS legacy", -1, &st, NULL) != SQLITE_OK) {
            rc = idx__db_error(a, err, "opening the old audit log");
            goto fail;
        }
        sqlite3_bind_text(st, 1, p, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        sqlite3_finalize(st);
        if (step != SQLITE_DONE) {
            rc = idx__db_error(a, err, "opening the old audit log");
            goto fail;
        }
        rc = import_legacy(a, err);
        sqlite3_exec(a->db, "DETACH legacy", NULL, NULL, NULL);
        if (rc)
            goto fail;
    }
    s->audit = a;
    *out = a;
    return KEEP_OK;
fail:
    idx_store_close(a);
    return rc;
}

/* ---- hashing --------------------------------------------------------------------------------- */

static int put_field(keep_buf *b, const char *s)
{
    if (!s)
        return keep_buf_puts(b, "-|");
    return keep_buf_printf(b, "%zu:", strlen(s)) || keep_buf_puts(b, s) || keep_buf_putc(b, '|');
}

/* hex out[65] of the row (id, e) chained after prev. */
static int row_hash(const char *prev, int64_t id, const idx_audit_entry *e, char out[65])
{
    keep_buf b = {0};
    int bad = keep_buf_printf(&b, "keep-audit-1|%s|%lld|%lld|%d|", prev, (long long)id,
                              (long long)e->at, e->status);
    bad |= put_field(&b, e->user) | put_field(&b, e->via) | put_field(&b, e->remote) |
           put_field(&b, e->action) | put_field(&b, e->target) | put_field(&b, e->query) |
           put_field(&b, e->returned) | put_field(&b, e->cited);
    if (bad || sodium_init() < 0) {
        keep_buf_free(&b);
        return KEEP_ERR_NOMEM;
    }
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)b.data, b.len, NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof h);
    keep_buf_free(&b);
    return KEEP_OK;
}

/* s cut to at most max bytes at a UTF-8 boundary, invalid UTF-8 replaced by
 * a marker (the log never refuses a row for its content). Caller frees with
 * keep_free; NULL stays NULL. */
static char *clip(const char *s, size_t max, int *oom)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    if (n > max)
        n = keep_utf8_floor(s, max);
    char *c = keep_utf8_valid(s, n) ? keep_strndup(s, n) : keep_strdup("(not UTF-8)");
    if (!c)
        *oom = 1;
    return c;
}

/* ---- appending ------------------------------------------------------------------------------- */

int idx_audit_append(idx_store *s0, const idx_audit_entry *in, int64_t *id_out, keep_err *err)
{
    idx_store *s;
    int arc = idx__audit_db(s0, &s, err);
    if (arc)
        return arc;
    int oom = 0;
    idx_audit_entry e = *in;
    char *user = clip(in->user ? in->user : "", 256, &oom);
    char *via = clip(in->via ? in->via : "", 32, &oom);
    char *remote = clip(in->remote ? in->remote : "", 64, &oom);
    char *action = clip(in->action ? in->action : "", 64, &oom);
    char *target = clip(in->target, IDX_AUDIT_MAX_TEXT, &oom);
    char *query = clip(in->query, IDX_AUDIT_MAX_TEXT, &oom);
    char *returned = clip(in->returned, IDX_AUDIT_MAX_IDS, &oom);
    char *cited = clip(in->cited, IDX_AUDIT_MAX_IDS, &oom);
    int rc = KEEP_OK, in_tx = 0;
    if (oom) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    e.user = user, e.via = via, e.remote = remote, e.action = action;
    e.target = target, e.query = query, e.returned = returned, e.cited = cited;
    if (!e.at)
        e.at = (int64_t)time(NULL);
    /* the previous hash and the insert in one write transaction: concurrent
     * writers on other connections queue on the busy timeout */
    if ((rc = idx__exec(s, "BEGIN IMMEDIATE", err)))
        goto out;
    in_tx = 1;
    sqlite3_stmt *st = idx__stmt(s, IDX_STMT_AUDIT_LAST,
                                 "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", err);
    if (!st) {
        rc = KEEP_ERR_DB;
        goto out;
    }
    int64_t last = 0;
    char prev[65] = "";
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        last = sqlite3_column_int64(st, 0);
        snprintf(prev, sizeof prev, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = idx__db_error(s, err, "reading the audit log");
        goto out;
    }
    if (step == SQLITE_DONE) { /* empty (or all pruned): chain from the anchor */
        sqlite3_stmt *a;
        if (sqlite3_prepare_v2(s->db, "SELECT pruned_id, hash FROM audit_anchor WHERE id = 1", -1,
                               &a, NULL) != SQLITE_OK) {
            rc = idx__db_error(s, err, "reading the audit anchor");
            goto out;
        }
        if (sqlite3_step(a) == SQLITE_ROW) {
            last = sqlite3_column_int64(a, 0);
            snprintf(prev, sizeof prev, "%s", (const char *)sqlite3_column_text(a, 1));
        } else {
            snprintf(prev, sizeof prev, "%s", ZERO_HASH);
        }
        sqlite3_finalize(a);
    }
    int64_t id = last + 1;
    char hash[65];
    if ((rc = row_hash(prev, id, &e, hash))) {
        keep_err_set(err, rc, "out of memory");
        goto out;
    }
    st = idx__stmt(s, IDX_STMT_AUDIT_INS,
                   "INSERT INTO audit_log(id, at, user, via, remote, action, target, query,"
                   " returned, cited, status, prev_hash, hash)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                   err);
    if (!st) {
        rc = KEEP_ERR_DB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, e.at);
    sqlite3_bind_text(st, 3, e.user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e.via, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, e.remote, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, e.action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, e.target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, e.query, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, e.returned, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, e.cited, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 11, e.status);
    sqlite3_bind_text(st, 12, prev, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, hash, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        rc = idx__db_error(s, err, "writing the audit log");
        goto out;
    }
    if ((rc = idx__exec(s, "COMMIT", err)))
        goto out;
    in_tx = 0;
    if (id_out)
        *id_out = id;
out:
    if (in_tx)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    keep_free(user);
    keep_free(via);
    keep_free(remote);
    keep_free(action);
    keep_free(target);
    keep_free(query);
    keep_free(returned);
    keep_free(cited);
    return rc;
}

/* ---- reading --------------------------------------------------------------------------------- */

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static void row_entry(sqlite3_stmt *st, idx_audit_entry *e)
{
    e->at = sqlite3_column_int64(st, 1);
    e->user = col(st, 2);
    e->via = col(st, 3);
    e->remote = col(st, 4);
    e->action = col(st, 5);
    e->target = col(st, 6);
    e->query = col(st, 7);
    e->returned = col(st, 8);
    e->cited = col(st, 9);
    e->status = sqlite3_column_int(st, 10);
}

#define ROW_COLS "id, at, user, via, remote, action, target, query, returned, cited, status"

int idx_audit_list(idx_store *s0, const idx_audit_filter *f,
                   int (*fn)(void *ud, int64_t id, const idx_audit_entry *e), void *ud,
                   keep_err *err)
{
    idx_store *s;
    int arc = idx__audit_db(s0, &s, err);
    if (arc)
        return arc;
    static const char sql[] =
        "SELECT " ROW_COLS " FROM audit_log"
        " WHERE (?1 IS NULL OR user = ?1) AND (?2 IS NULL OR action = ?2)"
        " AND (?3 = 0 OR at >= ?3) AND (?4 = 0 OR at < ?4) AND (?5 = 0 OR id < ?5)"
        " ORDER BY id DESC LIMIT ?6";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "reading the audit log");
    size_t limit = f->limit ? f->limit : 100;
    if (limit > 10000)
        limit = 10000;
    sqlite3_bind_text(st, 1, f->user && *f->user ? f->user : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->action && *f->action ? f->action : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, f->since);
    sqlite3_bind_int64(st, 4, f->until);
    sqlite3_bind_int64(st, 5, f->before_id);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)limit);
    int rc = KEEP_OK, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        idx_audit_entry e;
        row_entry(st, &e);
        if (fn(ud, sqlite3_column_int64(st, 0), &e))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = idx__db_error(s, err, "reading the audit log");
    sqlite3_finalize(st);
    return rc;
}

int idx_audit_count(idx_store *s0, int64_t *n, keep_err *err)
{
    idx_store *s;
    int arc = idx__audit_db(s0, &s, err);
    if (arc)
        return arc;
    sqlite3_stmt *st;
    *n = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM audit_log", -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "counting the audit log");
    int rc = sqlite3_step(st) == SQLITE_ROW ? KEEP_OK : idx__db_error(s, err, "counting the audit log");
    *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* ---- verifying ------------------------------------------------------------------------------- */

static void broken(idx_audit_check *c, int64_t id, const char *why)
{
    c->bad_id = id;
    snprintf(c->reason, sizeof c->reason, "%s", why);
}

int idx_audit_verify(idx_store *s0, idx_audit_check *c, keep_err *err)
{
    memset(c, 0, sizeof *c);
    idx_store *s;
    int arc = idx__audit_db(s0, &s, err);
    if (arc)
        return arc;
    /* one read transaction: a consistent snapshot while the server appends */
    if (idx__exec(s, "BEGIN", err))
        return KEEP_ERR_DB;
    int rc = KEEP_OK;
    sqlite3_stmt *st = NULL;
    char prev[65] = ZERO_HASH;
    if (sqlite3_prepare_v2(s->db, "SELECT pruned_id, hash FROM audit_anchor WHERE id = 1", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = idx__db_error(s, err, "reading the audit anchor");
        goto out;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        c->pruned_id = sqlite3_column_int64(st, 0);
        const char *h = col(st, 1);
        snprintf(prev, sizeof prev, "%s", h ? h : "");
    } else {
        broken(c, 1, "the anchor row is missing");
    }
    sqlite3_finalize(st);
    st = NULL;
    if (c->bad_id)
        goto out;
    if (sqlite3_prepare_v2(s->db, "SELECT " ROW_COLS ", prev_hash, hash FROM audit_log ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = idx__db_error(s, err, "reading the audit log");
        goto out;
    }
    int64_t expect = c->pruned_id + 1;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        idx_audit_entry e;
        row_entry(st, &e);
        const char *stored_prev = col(st, 11), *stored = col(st, 12);
        if (!c->first_id)
            c->first_id = id;
        c->rows++;
        if (id != expect) {
            broken(c, id < expect ? id : expect,
                   id < expect ? "row at or below the pruned anchor" : "rows missing before this id");
            goto out;
        }
        if (!stored_prev || strcmp(stored_prev, prev) != 0) {
            broken(c, id, "does not chain to the previous row's hash");
            goto out;
        }
        char h[65];
        if (row_hash(prev, id, &e, h)) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (!stored || strcmp(stored, h) != 0) {
            broken(c, id, "its content does not match its hash (changed after writing)");
            goto out;
        }
        memcpy(prev, h, sizeof h);
        expect = id + 1;
    }
    if (step != SQLITE_DONE)
        rc = idx__db_error(s, err, "reading the audit log");
out:
    sqlite3_finalize(st);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

/* "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" or seconds since the epoch. A bare
 * day as an upper bound means the end of that day. */
int idx_audit_parse_time(const char *s, int end_of_day, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!errno && end != s && !*end && v >= 0) {
        *out = v;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int day_only = 0;
    if (!e || *e) {
        memset(&tm, 0, sizeof tm);
        e = strptime(s, "%Y-%m-%d", &tm);
        if (!e || *e)
            return -1;
        day_only = 1;
    }
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || t < 0)
        return -1;
    *out = (int64_t)t + (day_only && end_of_day ? 86400 : 0);
    return 0;
}

/* ---- retention ------------------------------------------------------------------------------- */

int idx_audit_prune(idx_store *s0, int64_t cutoff, int64_t *pruned, keep_err *err)
{
    idx_store *s;
    int arc = idx__audit_db(s0, &s, err);
    if (arc)
        return arc;
    if (pruned)
        *pruned = 0;
    if (idx__exec(s, "BEGIN IMMEDIATE", err))
        return KEEP_ERR_DB;
    int rc = KEEP_OK;
    sqlite3_stmt *st = NULL;
    /* the last row older than the cutoff: it and everything before it go,
     * so what stays is one unbroken run of the chain */
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, hash, (SELECT count(*) FROM audit_log a2 WHERE a2.id <= a.id)"
                           " FROM audit_log a WHERE at < ?1 ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = idx__db_error(s, err, "pruning the audit log");
        goto out;
    }
    sqlite3_bind_int64(st, 1, cutoff);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE)
        goto out;
    if (step != SQLITE_ROW) {
        rc = idx__db_error(s, err, "pruning the audit log");
        goto out;
    }
    int64_t last = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 2);
    char hash[65];
    snprintf(hash, sizeof hash, "%s", col(st, 1) ? col(st, 1) : "");
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE audit_anchor SET pruned_id = ?1, hash = ?2,"
                           " pruned_rows = pruned_rows + ?3, pruned_at = ?4 WHERE id = 1",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = idx__db_error(s, err, "pruning the audit log");
        goto out;
    }
    sqlite3_bind_int64(st, 1, last);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, n);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = idx__db_error(s, err, "moving the audit anchor");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(s->db, "DELETE FROM audit_log WHERE id <= ?1", -1, &st, NULL) !=
        SQLITE_OK) {
        rc = idx__db_error(s, err, "pruning the audit log");
        goto out;
    }
    sqlite3_bind_int64(st, 1, last);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = idx__db_error(s, err, "pruning the audit log");
        goto out;
    }
    if (pruned)
        *pruned = n;
out:
    sqlite3_finalize(st);
    if (rc) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    if (idx__exec(s, "COMMIT", err)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return KEEP_ERR_DB;
    }
    return KEEP_OK;
}

static cJSON *id_array(const char *list)
{
    cJSON *arr = cJSON_CreateArray();
    for (const char *p = list; p && *p && arr;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p)
            break;
        cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)v));
        p = *end == ',' ? end + 1 : end;
    }
    return arr;
}

static void add_str_or_null(cJSON *o, const char *key, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

struct cJSON *idx_audit_entry_json(int64_t id, const idx_audit_entry *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)id);
    time_t t = (time_t)e->at;
    struct tm tm;
    char ts[32] = "";
    if (gmtime_r(&t, &tm))
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(o, "time", ts);
    cJSON_AddNumberToObject(o, "at", (double)e->at);
    cJSON_AddStringToObject(o, "user", e->user ? e->user : "");
    cJSON_AddStringToObject(o, "via", e->via ? e->via : "");
    cJSON_AddStringToObject(o, "remote", e->remote ? e->remote : "");
    cJSON_AddStringToObject(o, "action", e->action ? e->action : "");
    add_str_or_null(o, "target", e->target);
    add_str_or_null(o, "query", e->query);
    cJSON_AddItemToObject(o, "returned", id_array(e->returned));
    cJSON_AddItemToObject(o, "cited", id_array(e->cited));
    cJSON_AddNumberToObject(o, "status", e->status);
    return o;
}
