/* auth.c — the web server's rows: password hashes, API tokens, sessions,
 * drop folders, and single-document lookups (see auth.h). Every statement
 * binds its values; none is built from input. */
#include "auth.h"

#include <string.h>

#include "store_int.h"

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? keep_strdup((const char *)t) : NULL;
}

/* Runs one change statement; ?1..?3 text (NULL skips), ?4..?5 integers.
 * *changes (may be NULL) receives the rows changed. */
static int change(idx_store *s, const char *sql, const char *a, const char *b, const char *c,
                  int64_t i4, int64_t i5, int *changes, keep_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "prepare");
    if (a)
        sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    if (c)
        sqlite3_bind_text(st, 3, c, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 4)
        sqlite3_bind_int64(st, 4, i4);
    if (sqlite3_bind_parameter_count(st) >= 5)
        sqlite3_bind_int64(st, 5, i5);
    int step = sqlite3_step(st);
    int rc = KEEP_OK;
    if (step != SQLITE_DONE)
        rc = (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE ||
              sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
                 ? keep_err_set(err, KEEP_ERR_USAGE, "already exists")
                 : idx__db_error(s, err, "write");
    if (changes)
        *changes = sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc;
}

/* ---- passwords ------------------------------------------------------------------------ */

int idx_user_exists(idx_store *s, const char *user, int *exists, keep_err *err)
{
    sqlite3_stmt *st;
    *exists = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM users WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "reading users");
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return idx__db_error(s, err, "reading users");
    *exists = step == SQLITE_ROW;
    return KEEP_OK;
}

int idx_password_set(idx_store *s, const char *user, const char *hash, keep_err *err)
{
    int exists;
    int rc = idx_user_exists(s, user, &exists, err);
    if (rc)
        return rc;
    if (!exists)
        return keep_err_set(err, KEEP_ERR_NOTFOUND, "no user named '%s'", user);
    return change(s,
                  "INSERT INTO user_passwords(user, hash, changed_at) VALUES (?1, ?2, unixepoch())"
                  " ON CONFLICT(user) DO UPDATE SET hash = excluded.hash,"
                  " changed_at = excluded.changed_at",
                  user, hash, NULL, 0, 0, NULL, err);
}

int idx_password_get(idx_store *s, const char *user, char **hash, int *admin, keep_err *err)
{
    *hash = NULL;
    *admin = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT p.hash, u.admin FROM users u JOIN user_passwords p"
                           " ON p.user = u.name WHERE u.name = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "reading passwords");
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc = KEEP_OK;
    if (step == SQLITE_ROW) {
        *admin = sqlite3_column_int(st, 1) != 0;
        if (!(*hash = col_dup(st, 0)))
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    } else if (step == SQLITE_DONE) {
        rc = keep_err_set(err, KEEP_ERR_NOTFOUND, "no password for '%s'", user);
    } else {
        rc = idx__db_error(s, err, "reading passwords");
    }
    sqlite3_finalize(st);
    return rc;
}

int idx_admins_with_password(idx_store *s, int64_t *n, keep_err *err)
{
    sqlite3_stmt *st;
    *n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT count(*) FROM users u JOIN user_passwords p ON p.user = u.name"
                           " WHERE u.admin != 0",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "reading users");
    int rc = sqlite3_step(st) == SQLITE_ROW ? KEEP_OK : idx__db_error(s, err, "reading users");
    *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* ---- API tokens ------------------------------------------------------------------------- */

int idx_token_add(idx_store *s, const char *user, const char *name, const char *hash,
                  int64_t *id, keep_err *err)
{
    int exists;
    int rc = idx_user_exists(s, user, &exists, err);
    if (rc)
        return rc;
    if (!exists)
        return keep_err_set(err, KEEP_ERR_NOTFOUND, "no user named '%s'", user);
    rc = change(s,
                "INSERT INTO api_tokens(user, name, hash, created_at) VALUES (?1, ?2, ?3, unixepoch())",
                user, name, hash, 0, 0, NULL, err);
    if (!rc)
        *id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int idx_token_find(idx_store *s, const char *hash, int64_t now, char **user, keep_err *err)
{
    *user = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, user, COALESCE(last_used, 0) FROM api_tokens"
                           " WHERE hash = ?1 AND revoked_at IS NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "reading tokens");
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc = KEEP_OK;
    int64_t id = 0, last_used = 0;
    if (step == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        last_used = sqlite3_column_int64(st, 2);
        if (!(*user = col_dup(st, 1)))
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    } else if (step == SQLITE_DONE) {
        rc = keep_err_set(err, KEEP_ERR_NOTFOUND, "unknown or revoked token");
    } else {
        rc = idx__db_error(s, err, "reading tokens");
    }
    sqlite3_finalize(st);
    /* last_used is informational: a busy database must not fail the request.
     * Written at most once a minute: every write to keep.db makes each other
     * connection drop its page cache and mapping of the database, which cost
     * the server a large share of its time per request under wrk. */
    if (!rc && (now < last_used || now - last_used >= IDX_TOKEN_LAST_USED_STEP))
        change(s, "UPDATE api_tokens SET last_used = ?4 WHERE id = ?5", NULL, NULL, NULL, now, id,
               NULL, NULL);
    return rc;
}

int idx_token_revoke(idx_store *s, int64_t id, const char *owner, int64_t now, keep_err *err)
{
    int n = 0;
    int rc = change(s,
                    "UPDATE api_tokens SET revoked_at = ?4 WHERE id = ?5 AND revoked_at IS NULL"
                    " AND (?1 IS NULL OR user = ?1)",
                    owner, NULL, NULL, now, id, &n, err);
    if (!rc && n == 0)
        return keep_err_set(err, KEEP_ERR_NOTFOUND, "no live token %lld", (long long)id);
    return rc;
}

int idx_tokens_list(idx_store *s, const char *user,
                    int (*fn)(void *ud, const idx_token_info *t), void *ud, keep_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, user, name, created_at, COALESCE(last_used, 0),"
                           " COALESCE(revoked_at, 0) FROM api_tokens"
                           " WHERE ?1 IS NULL OR user = ?1 ORDER BY id DESC",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "listing tokens");
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    int step, rc = KEEP_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        idx_token_info t;
        t.id = sqlite3_column_int64(st, 0);
        t.user = (const char *)sqlite3_column_text(st, 1);
        t.name = (const char *)sqlite3_column_text(st, 2);
        t.created_at = sqlite3_column_int64(st, 3);
        t.last_used = sqlite3_column_int64(st, 4);
        t.revoked_at = sqlite3_column_int64(st, 5);
        if (fn(ud, &t))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = idx__db_error(s, err, "listing tokens");
    sqlite3_finalize(st);
    return rc;
}

/* ---- sessions --------------------------------------------------------------------------- */

int idx_session_add(idx_store *s, const char *hash, const char *user, const char *csrf,
                    int64_t now, int64_t expires_at, keep_err *err)
{
    return change(s,
                  "INSERT INTO sessions(hash, user, csrf, created_at, expires_at)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)",
                  hash, user, csrf, now, expires_at, NULL, err);
}

int idx_session_find(idx_store *s, const char *hash, int64_t now, char **user, char **csrf,
                     keep_err *err)
{
    *user = *csrf = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT user, csrf FROM sessions WHERE hash = ?1 AND expires_at > ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "reading sessions");
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int step = sqlite3_step(st), rc = KEEP_OK;
    if (step == SQLITE_ROW) {
        *user = col_dup(st, 0);
        *csrf = col_dup(st, 1);
        if (!*user || !*csrf) {
            keep_free(*user);
            keep_free(*csrf);
            *user = *csrf = NULL;
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        }
    } else if (step == SQLITE_DONE) {
        rc = keep_err_set(err, KEEP_ERR_NOTFOUND, "no such session");
    } else {
        rc = idx__db_error(s, err, "reading sessions");
    }
    sqlite3_finalize(st);
    return rc;
}

int idx_session_remove(idx_store *s, const char *hash, keep_err *err)
{
    return change(s, "DELETE FROM sessions WHERE hash = ?1", hash, NULL, NULL, 0, 0, NULL, err);
}

int idx_sessions_remove_user(idx_store *s, const char *user, keep_err *err)
{
    return change(s, "DELETE FROM sessions WHERE user = ?1", user, NULL, NULL, 0, 0, NULL, err);
}

int idx_sessions_purge(idx_store *s, int64_t now, keep_err *err)
{
    return change(s, "DELETE FROM sessions WHERE expires_at <= ?4", NULL, NULL, NULL, now, 0, NULL,
                  err);
}

/* ---- drop folders ----------------------------------------------------------------------- */

int idx_folder_add(idx_store *s, const char *path, const char *collection, int64_t *id,
                   keep_err *err)
{
    int rc = change(s, "INSERT INTO drop_folders(path, collection) VALUES (?1, ?2)", path,
                    collection, NULL, 0, 0, NULL, err);
    if (rc == KEEP_ERR_USAGE)
        return keep_err_set(err, KEEP_ERR_USAGE, "%s is already a drop folder", path);
    if (!rc)
        *id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int idx_folder_remove(idx_store *s, int64_t id, keep_err *err)
{
    int n = 0;
    int rc = change(s, "DELETE FROM drop_folders WHERE id = ?4", NULL, NULL, NULL, id, 0, &n, err);
    if (!rc && n == 0)
        return keep_err_set(err, KEEP_ERR_NOTFOUND, "no drop folder %lld", (long long)id);
    return rc;
}

int idx_folders_list(idx_store *s,
                     int (*fn)(void *ud, int64_t id, const char *path, const char *collection),
                     void *ud, keep_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT id, path, collection FROM drop_folders ORDER BY id", -1,
                           &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "listing drop folders");
    int step, rc = KEEP_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ud, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2)))
            break;
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = idx__db_error(s, err, "listing drop folders");
    sqlite3_finalize(st);
    return rc;
}

/* ---- documents ---------------------------------------------------------------------------- */

int idx_doc_get(idx_store *s, int64_t id, int (*fn)(void *ud, const idx_doc_info *d), void *ud,
                keep_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT d.id, COALESCE(d.parent_id, 0), d.path, d.collection, d.format,"
                           " d.title, d.status, d.error, d.content_hash, d.size, d.mtime,"
                           " (SELECT count(*) FROM chunks c WHERE c.doc_id = d.id)"
                           " FROM documents d WHERE d.id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "reading document");
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st), rc = KEEP_OK;
    if (step == SQLITE_ROW) {
        idx_doc_info d;
        idx__doc_info_row(st, &d);
        fn(ud, &d);
    } else if (step == SQLITE_DONE) {
        rc = keep_err_set(err, KEEP_ERR_NOTFOUND, "no document with id %lld", (long long)id);
    } else {
        rc = idx__db_error(s, err, "reading document");
    }
    sqlite3_finalize(st);
    return rc;
}

int idx_doc_find(idx_store *s, const char *collection, const char *path, int64_t *id,
                 keep_err *err)
{
    *id = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id FROM documents WHERE collection = ?1 AND path = ?2"
                           " AND parent_id IS NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "finding document");
    sqlite3_bind_text(st, 1, collection, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc = KEEP_OK;
    if (step == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    else if (step == SQLITE_DONE)
        rc = keep_err_set(err, KEEP_ERR_NOTFOUND, "no document at %s", path);
    else
        rc = idx__db_error(s, err, "finding document");
    sqlite3_finalize(st);
    return rc;
}

int idx_doc_text(idx_store *s, int64_t id, char **text, size_t *len, keep_err *err)
{
    *text = NULL;
    *len = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT text FROM doc_text WHERE doc_id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return idx__db_error(s, err, "reading text");
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st), rc = KEEP_OK;
    if (step == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (!(*text = keep_strndup(t ? t : "", t ? n : 0)))
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        else
            *len = t ? n : 0;
    } else if (step == SQLITE_DONE) {
        rc = keep_err_set(err, KEEP_ERR_NOTFOUND, "no text for document %lld", (long long)id);
    } else {
        rc = idx__db_error(s, err, "reading text");
    }
    sqlite3_finalize(st);
    return rc;
}

int idx_store_counts(idx_store *s, idx_counts *c, keep_err *err)
{
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT (SELECT count(*) FROM documents WHERE status = 'indexed'),"
                           " (SELECT count(*) FROM documents WHERE status = 'failed'),"
                           " (SELECT count(*) FROM documents WHERE status = 'skipped'),"
                           " (SELECT count(*) FROM chunks)",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "counting");
    int rc = sqlite3_step(st) == SQLITE_ROW ? KEEP_OK : idx__db_error(s, err, "counting");
    if (!rc) {
        c->docs_indexed = sqlite3_column_int64(st, 0);
        c->docs_failed = sqlite3_column_int64(st, 1);
        c->docs_skipped = sqlite3_column_int64(st, 2);
        c->chunks = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    return rc;
}

int idx_collections_list(idx_store *s, int (*fn)(void *ud, const char *collection, int64_t docs),
                         void *ud, keep_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT c, sum(n) FROM (SELECT collection AS c, count(*) AS n"
                           " FROM documents WHERE parent_id IS NULL GROUP BY collection"
                           " UNION ALL SELECT collection, 0 FROM collection_grants)"
                           " GROUP BY c ORDER BY c",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "listing collections");
    int step, rc = KEEP_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1)))
            break;
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = idx__db_error(s, err, "listing collections");
    sqlite3_finalize(st);
    return rc;
}
