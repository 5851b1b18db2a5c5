/* access.c — who may read what, and the searches that honour it.
 *
 * A principal carries the collections it may read, computed when it is loaded
 * (idx_principal_may_read answers from that). Searches ask permcache.c for the
 * bitmap of chunks the principal may read now and test it inside the ranked
 * query itself: the FTS5 query ranks only permitted chunks and the vector
 * search only permitted vectors, so nothing is filtered after the top-k. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "store_int.h"

struct idx_principal {
    char *name;
    int admin;
    char *readable_json; /* JSON array of readable collections; NULL for admins */
};

/* ---- principals ---------------------------------------------------------------------- */

void idx_principal_free(idx_principal *p)
{
    if (!p)
        return;
    keep_free(p->name);
    keep_free(p->readable_json);
    keep_free(p);
}

int idx_principal_admin(idx_principal **out, keep_err *err)
{
    *out = keep_calloc(1, sizeof **out);
    if (!*out || !((*out)->name = keep_strdup("admin"))) {
        idx_principal_free(*out);
        *out = NULL;
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    }
    (*out)->admin = 1;
    return KEEP_OK;
}

const char *idx_principal_name(const idx_principal *p) { return p->name; }
int idx_principal_is_admin(const idx_principal *p) { return p->admin; }

int idx_principal_load(idx_store *s, const char *user, idx_principal **out, keep_err *err)
{
    *out = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT admin FROM users WHERE name = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return idx__db_error(s, err, "reading users");
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), admin = step == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (step == SQLITE_DONE)
        return keep_err_set(err, KEEP_ERR_NOTFOUND, "no user named '%s'", user);
    if (step != SQLITE_ROW)
        return idx__db_error(s, err, "reading users");
    idx_principal *p = keep_calloc(1, sizeof *p);
    cJSON *arr = cJSON_CreateArray();
    if (!p || !arr || !(p->name = keep_strdup(user)))
        goto oom;
    p->admin = admin != 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT DISTINCT collection FROM collection_grants WHERE grp = 'everyone'"
                           " OR grp IN (SELECT grp FROM user_groups WHERE user = ?1)"
                           " ORDER BY collection",
                           -1, &st, NULL) != SQLITE_OK) {
        idx_principal_free(p);
        cJSON_Delete(arr);
        return idx__db_error(s, err, "reading grants");
    }
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *c = cJSON_CreateString((const char *)sqlite3_column_text(st, 0));
        if (!c) {
            sqlite3_finalize(st);
            goto oom;
        }
        cJSON_AddItemToArray(arr, c);
    }
    sqlite3_finalize(st);
    char *js = cJSON_PrintUnformatted(arr);
    if (!js)
        goto oom;
    p->readable_json = keep_strdup(js);
    cJSON_free(js);
    if (!p->readable_json)
        goto oom;
    cJSON_Delete(arr);
    *out = p;
    return KEEP_OK;
oom:
    idx_principal_free(p);
    cJSON_Delete(arr);
    return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
}

/* ---- users and grants -------------------------------------------------------------------- */

static int check_name(const char *what, const char *name, keep_err *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 128 || !keep_utf8_valid(name, n))
        return keep_err_set(err, KEEP_ERR_USAGE, "a %s name is 1 to 128 bytes of UTF-8", what);
    return KEEP_OK;
}

/* Runs a one-statement change with up to three text parameters; *changes
 * (may be NULL) receives the number of rows changed. */
static int run_change(idx_store *s, const char *sql, const char *a, const char *b,
                      int *changes, keep_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "preparing");
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? KEEP_OK : idx__db_error(s, err, "writing");
    sqlite3_finalize(st);
    if (changes)
        *changes = sqlite3_changes(s->db);
    return rc;
}

int idx_user_add(idx_store *s, const char *user, int admin, keep_err *err)
{
    if (check_name("user", user, err))
        return KEEP_ERR_USAGE;
    return run_change(s,
                      admin ? "INSERT INTO users(name, admin) VALUES (?1, 1)"
                              " ON CONFLICT(name) DO UPDATE SET admin = 1"
                            : "INSERT INTO users(name, admin) VALUES (?1, 0)"
                              " ON CONFLICT(name) DO NOTHING",
                      user, NULL, NULL, err);
}

int idx_user_remove(idx_store *s, const char *user, keep_err *err)
{
    int n = 0;
    int rc = run_change(s, "DELETE FROM users WHERE name = ?1", user, NULL, &n, err);
    if (!rc && n == 0)
        return keep_err_set(err, KEEP_ERR_NOTFOUND, "no user named '%s'", user);
    return rc;
}

int idx_user_join(idx_store *s, const char *user, const char *group, keep_err *err)
{
    if (check_name("group", group, err))
        return KEEP_ERR_USAGE;
    int n = 0;
    int rc = run_change(s,
                        "INSERT OR IGNORE INTO user_groups(user, grp)"
                        " SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM users WHERE name = ?1)",
                        user, group, &n, err);
    if (rc)
        return rc;
    idx_principal *p = NULL;
    rc = idx_principal_load(s, user, &p, err); /* says NOTFOUND for an unknown user */
    idx_principal_free(p);
    return rc;
}

int idx_user_leave(idx_store *s, const char *user, const char *group, keep_err *err)
{
    return run_change(s, "DELETE FROM user_groups WHERE user = ?1 AND grp = ?2", user, group,
                      NULL, err);
}

int idx_collection_grant(idx_store *s, const char *collection, const char *group, keep_err *err)
{
    if (check_name("collection", collection, err) || check_name("group", group, err))
        return KEEP_ERR_USAGE;
    return run_change(s, "INSERT OR IGNORE INTO collection_grants(collection, grp) VALUES (?1, ?2)",
                      collection, group, NULL, err);
}

int idx_collection_revoke(idx_store *s, const char *collection, const char *group, keep_err *err)
{
    return run_change(s, "DELETE FROM collection_grants WHERE collection = ?1 AND grp = ?2",
                      collection, group, NULL, err);
}

int idx_grants_list(idx_store *s, int (*fn)(void *ud, const char *collection, const char *group),
                    void *ud, keep_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT collection, grp FROM collection_grants ORDER BY collection, grp",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "reading grants");
    while (sqlite3_step(st) == SQLITE_ROW)
        if (fn(ud, (const char *)sqlite3_column_text(st, 0),
               (const char *)sqlite3_column_text(st, 1)))
            break;
    sqlite3_finalize(st);
    return KEEP_OK;
}

int idx_users_list(idx_store *s,
                   int (*fn)(void *ud, const char *user, int admin, const char *groups), void *ud,
                   keep_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT u.name, u.admin, (SELECT group_concat(grp, ',') FROM"
                           " (SELECT grp FROM user_groups g WHERE g.user = u.name ORDER BY grp))"
                           " FROM users u ORDER BY u.name",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "reading users");
    while (sqlite3_step(st) == SQLITE_ROW)
        if (fn(ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
               (const char *)sqlite3_column_text(st, 2)))
            break;
    sqlite3_finalize(st);
    return KEEP_OK;
}

/* ---- filtered searches ------------------------------------------------------------------- */

int idx_fts_candidates_in(idx_store *s, const char *match, const idx_permitted *perm,
                          const double weights[3], size_t k, idx_cand **out, size_t *n,
                          keep_err *err)
{
    *out = NULL;
    *n = 0;
    if (k == 0 || !match || perm->count == 0)
        return KEEP_OK;
    if (k > 10000)
        k = 10000;
    /* no join in the ranked query: FTS5 tests each matching rowid against
     * the bitmap before bm25 is computed for it, and only the k survivors
     * are looked up in chunks */
    sqlite3_stmt *st =
        idx__stmt(s, IDX_STMT_FTS_CAND,
                  "SELECT rowid, -bm25(chunks_fts, ?3, ?4, ?5) FROM chunks_fts"
                  " WHERE chunks_fts MATCH ?1 AND keep_permitted(?6, rowid)"
                  " ORDER BY bm25(chunks_fts, ?3, ?4, ?5) LIMIT ?2",
                  err);
    if (!st)
        return KEEP_ERR_DB;
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)k);
    for (int i = 0; i < 3; i++)
        sqlite3_bind_double(st, 3 + i, weights ? weights[i] : 1.0);
    idx__perm_bind(st, 6, perm);
    idx_cand *v = keep_calloc(k, sizeof *v);
    if (!v)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    size_t count = 0;
    int step;
    while (count < k && (step = sqlite3_step(st)) == SQLITE_ROW) {
        v[count].chunk_id = sqlite3_column_int64(st, 0);
        v[count].score = sqlite3_column_double(st, 1);
        count++;
    }
    if (count < k && step != SQLITE_DONE) {
        int rc = idx__db_error(s, err, "search");
        sqlite3_reset(st);
        keep_free(v);
        return rc;
    }
    sqlite3_reset(st);
    int rc = idx_cands_locate_in(s, perm, v, &count, err);
    if (rc) {
        keep_free(v);
        return rc;
    }
    *out = v;
    *n = count;
    return KEEP_OK;
}

int idx_fts_candidates(idx_store *s, const char *match, const idx_principal *p,
                       const idx_filter *f, const double weights[3], size_t k, idx_cand **out,
                       size_t *n, keep_err *err)
{
    *out = NULL;
    *n = 0;
    idx_permitted perm;
    int rc = idx_permitted_get(s, p, f, &perm, err);
    return rc ? rc : idx_fts_candidates_in(s, match, &perm, weights, k, out, n, err);
}

int idx_permitted_chunks(idx_store *s, const idx_principal *p, const idx_filter *f,
                         int64_t **ids, size_t *n, int *all, keep_err *err)
{
    *ids = NULL;
    *n = 0;
    *all = 0;
    idx_permitted perm;
    int rc = idx_permitted_get(s, p, f, &perm, err);
    if (rc)
        return rc;
    if (perm.all_indexed) {
        *all = 1;
        return KEEP_OK;
    }
    if (perm.count == 0)
        return KEEP_OK;
    int64_t *v = keep_reallocarray(NULL, perm.count, sizeof *v);
    if (!v)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    size_t count = 0;
    for (int64_t b = 0; b < (perm.n_bits + 7) / 8 && count < perm.count; b++)
        for (int i = 0; perm.bits[b] && i < 8; i++)
            if ((perm.bits[b] >> i) & 1)
                v[count++] = perm.base + b * 8 + i;
    *ids = v;
    *n = count;
    return KEEP_OK;
}

int idx_cands_locate_in(idx_store *s, const idx_permitted *perm, idx_cand *c, size_t *n,
                        keep_err *err)
{
    sqlite3_stmt *st = idx__stmt(s, IDX_STMT_LOCATE,
                                 "SELECT doc_id, ordinal FROM chunks WHERE id = ?1", err);
    if (!st)
        return KEEP_ERR_DB;
    size_t w = 0;
    for (size_t i = 0; i < *n; i++) {
        if (!idx_permitted_has(perm, c[i].chunk_id))
            continue;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, c[i].chunk_id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            c[w] = c[i];
            c[w].doc_id = sqlite3_column_int64(st, 0);
            c[w].ordinal = sqlite3_column_int(st, 1);
            w++;
        } else if (step != SQLITE_DONE) {
            sqlite3_reset(st);
            return idx__db_error(s, err, "locating chunks");
        }
    }
    sqlite3_reset(st);
    *n = w;
    return KEEP_OK;
}

int idx_cands_locate(idx_store *s, const idx_principal *p, const idx_filter *f, idx_cand *c,
                     size_t *n, keep_err *err)
{
    idx_permitted perm;
    int rc = idx_permitted_get(s, p, f, &perm, err);
    return rc ? rc : idx_cands_locate_in(s, &perm, c, n, err);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? keep_strdup((const char *)t) : NULL;
}

/* The first words of text (about 30 words, at most 240 bytes), for a hit no
 * FTS5 match explains. */
static char *lead_snippet(const char *text)
{
    size_t len = strlen(text), cut = len, words = 0;
    if (len > 240)
        cut = keep_utf8_floor(text, 240);
    for (size_t i = 0; i < cut; i++)
        if (text[i] == ' ' && ++words == 30) {
            cut = i;
            break;
        }
    keep_buf b = {0};
    keep_buf_append(&b, text, cut);
    if (cut < len)
        keep_buf_puts(&b, "…");
    return keep_buf_take(&b);
}

int idx_hit_fetch(idx_store *s, int64_t chunk_id, const char *match, idx_hit *h, keep_err *err)
{
    memset(h, 0, sizeof *h);
    sqlite3_stmt *st = idx__stmt(
        s, IDX_STMT_HIT,
        "SELECT c.id, c.doc_id, d.path, d.title, d.collection, c.heading, c.sheet, c.text,"
        " COALESCE(c.page_start, 0), COALESCE(c.page_end, 0), COALESCE(c.slide, 0),"
        " c.start_char, c.end_char, c.ordinal, c.ocr"
        " FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id = ?1",
        err);
    if (!st)
        return KEEP_ERR_DB;
    sqlite3_bind_int64(st, 1, chunk_id);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_reset(st);
        if (step == SQLITE_DONE)
            return keep_err_set(err, KEEP_ERR_NOTFOUND, "no chunk %lld", (long long)chunk_id);
        return idx__db_error(s, err, "reading chunk");
    }
    h->chunk_id = sqlite3_column_int64(st, 0);
    h->doc_id = sqlite3_column_int64(st, 1);
    h->path = col_dup(st, 2);
    h->title = col_dup(st, 3);
    h->collection = col_dup(st, 4);
    h->heading = col_dup(st, 5);
    h->sheet = col_dup(st, 6);
    h->text = col_dup(st, 7);
    h->page_start = sqlite3_column_int(st, 8);
    h->page_end = sqlite3_column_int(st, 9);
    h->slide = sqlite3_column_int(st, 10);
    h->start = sqlite3_column_int64(st, 11);
    h->end = sqlite3_column_int64(st, 12);
    h->ordinal = h->ordinal_end = sqlite3_column_int(st, 13);
    h->ocr = sqlite3_column_int(st, 14) != 0;
    sqlite3_reset(st);
    if (!h->path || !h->text)
        goto oom;
    if (match) {
        sqlite3_stmt *sn = idx__stmt(s, IDX_STMT_SNIPPET,
                                     "SELECT snippet(chunks_fts, 2, '[', ']', '…', 24)"
                                     " FROM chunks_fts WHERE chunks_fts MATCH ?1 AND rowid = ?2",
                                     err);
        if (!sn)
            return KEEP_ERR_DB;
        sqlite3_bind_text(sn, 1, match, -1, SQLITE_STATIC);
        sqlite3_bind_int64(sn, 2, chunk_id);
        if (sqlite3_step(sn) == SQLITE_ROW)
            h->snippet = col_dup(sn, 0);
        sqlite3_reset(sn);
    }
    if (!h->snippet && !(h->snippet = lead_snippet(h->text)))
        goto oom;
    return KEEP_OK;
oom:
    keep_free(h->path);
    keep_free(h->title);
    keep_free(h->collection);
    keep_free(h->heading);
    keep_free(h->sheet);
    keep_free(h->text);
    keep_free(h->snippet);
    memset(h, 0, sizeof *h);
    return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
}

int idx_doc_text_range(idx_store *s, int64_t doc_id, int64_t start, int64_t end, char **text,
                       keep_err *err)
{
    *text = NULL;
    if (start < 0 || end < start)
        return keep_err_set(err, KEEP_ERR_USAGE, "bad text range");
    sqlite3_stmt *st = idx__stmt(s, IDX_STMT_TEXT_RANGE,
                                 "SELECT substr(text, ?2 + 1, ?3 - ?2) FROM doc_text WHERE doc_id = ?1",
                                 err);
    if (!st)
        return KEEP_ERR_DB;
    sqlite3_bind_int64(st, 1, doc_id);
    sqlite3_bind_int64(st, 2, start);
    sqlite3_bind_int64(st, 3, end);
    int rc = KEEP_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (!(*text = col_dup(st, 0)))
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    } else {
        rc = keep_err_set(err, KEEP_ERR_NOTFOUND, "no text for document %lld", (long long)doc_id);
    }
    sqlite3_reset(st);
    return rc;
}

/* ---- one collection ------------------------------------------------------------------------ */

int idx_principal_may_read(const idx_principal *p, const char *collection)
{
    if (!p || !collection)
        return 0;
    if (p->admin)
        return 1;
    cJSON *arr = p->readable_json ? cJSON_Parse(p->readable_json) : NULL;
    int ok = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        if (cJSON_IsString(c) && strcmp(c->valuestring, collection) == 0) {
            ok = 1;
            break;
        }
    }
    cJSON_Delete(arr);
    return ok;
}
