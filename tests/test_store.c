/* test_store.c — the SQLite store: schema versions, ingest of a folder
 * (added, unchanged, changed, removed, failed), search, hostile queries. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "index/idx.h"
#include "retrieve/retr.h"
#include "tap.h"

static char tmpdir[256];

static void write_file(const char *rel, const char *content)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
    FILE *f = fopen(p, "wb");
    fputs(content, f);
    fclose(f);
}

static size_t search_count(idx_store *s, const char *q, const char *must_contain)
{
    idx_principal *admin = NULL;
    keep_err err;
    if (idx_principal_admin(&admin, &err))
        return (size_t)-1;
    retr_request req = {q, 10, "bm25", admin, NULL, 0, NULL, NULL};
    retr_results *r = NULL;
    int rc = retr_search(s, &req, &r, &err);
    idx_principal_free(admin);
    if (rc != KEEP_OK)
        return (size_t)-1;
    size_t n = retr_results_count(r), hits = 0;
    for (size_t i = 0; i < n; i++)
        if (!must_contain || strstr(retr_results_hit(r, i)->text, must_contain))
            hits++;
    retr_results_free(r);
    return hits;
}

static int64_t count_rows(idx_store *s, const char *db, const char *sql)
{
    (void)s;
    sqlite3 *h;
    sqlite3_open(db, &h);
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static int find_status_cb(void *ud, const idx_doc_info *d)
{
    char **out = ud;
    if (strstr(d->path, "bad.eml")) {
        snprintf(out[0], 64, "%s", d->status);
        snprintf(out[1], 256, "%s", d->error ? d->error : "");
    }
    return 0;
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/keep-test-store-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    char db[512], docs[512];
    snprintf(db, sizeof db, "%s/keep.db", tmpdir);
    snprintf(docs, sizeof docs, "%s/docs", tmpdir);
    mkdir(docs, 0755);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/sub", docs);
    mkdir(sub, 0755);
    write_file("docs/backup.md", "# Backups\n\n## Retention\n\nNightly backups are retained for 35 days.\n");
    write_file("docs/sub/vpn.txt", "The VPN gateway rotates certificates every 90 days.\n");
    write_file("docs/bad.eml", "this is not an e-mail at all\n");
    write_file("docs/~$lock.md", "lock file content zebra\n");

    idx_store *s = NULL;
    keep_err err;
    ASSERT_EQ_INT(idx_store_open(db, 5000, &s, &err), KEEP_OK, "store opens");
    ASSERT_EQ_INT(idx_store_schema_version(s), IDX_SCHEMA_VERSION, "schema at current version");

    idx_ingest_opts opt = {0};
    ingest_options_default(&opt.ingest);
    idx_ingest_stats st;
    const char *paths[] = {docs};
    ASSERT_EQ_INT(idx_ingest_paths(s, paths, 1, &opt, &st, &err), KEEP_OK, "ingest runs");
    ASSERT_EQ_INT(st.added, 2, "two files added");
    ASSERT_EQ_INT(st.failed, 1, "bad file failed");
    ASSERT_EQ_INT(count_rows(s, db, "SELECT count(*) FROM chunks c JOIN documents d ON d.id=c.doc_id WHERE d.path LIKE '%bad.eml'"), 0,
                  "nothing of the failed file stored");
    char status[64] = "", reason[256] = "";
    char *out[2] = {status, reason};
    idx_docs_list(s, NULL, find_status_cb, out, &err);
    ASSERT_EQ_STR(status, "failed", "failed status recorded");
    OK(strlen(reason) > 5, "failure reason recorded");
    ASSERT_EQ_INT(search_count(s, "zebra", NULL), 0, "lock files ignored");
    ASSERT_EQ_INT(search_count(s, "how long are backups retained?", "35 days"), 1, "search finds the fact");

    /* unchanged */
    ASSERT_EQ_INT(idx_ingest_paths(s, paths, 1, &opt, &st, &err), KEEP_OK, "re-ingest runs");
    ASSERT_EQ_INT(st.unchanged, 3, "unchanged files not re-parsed");
    ASSERT_EQ_INT(st.added + st.updated, 0, "nothing re-added");

    /* changed + removed */
    int64_t chunk_ids_before = count_rows(s, db, "SELECT max(id) FROM chunks");
    write_file("docs/backup.md", "# Backups\n\n## Retention\n\nNightly backups are now retained for 60 days.\n");
    struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    char p[700];
    snprintf(p, sizeof p, "%s/backup.md", docs);
    ts[1].tv_sec = time(NULL) + 10;
    ts[1].tv_nsec = 0;
    utimensat(AT_FDCWD, p, ts, 0);
    snprintf(p, sizeof p, "%s/vpn.txt", sub);
    unlink(p);
    ASSERT_EQ_INT(idx_ingest_paths(s, paths, 1, &opt, &st, &err), KEEP_OK, "ingest after changes");
    ASSERT_EQ_INT(st.updated, 1, "changed file updated");
    ASSERT_EQ_INT(st.removed, 1, "deleted file removed");
    ASSERT_EQ_INT(search_count(s, "retained", "35 days"), 0, "old content gone");
    ASSERT_EQ_INT(search_count(s, "retained", "60 days"), 1, "new content found");
    ASSERT_EQ_INT(search_count(s, "VPN certificates", NULL), 0, "removed file not found");
    OK(count_rows(s, db, "SELECT min(id) FROM chunks") > chunk_ids_before, "chunk ids never reused");
    ASSERT_EQ_INT(count_rows(s, db, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'VPN'"), 0,
                  "FTS index has no stale rows");

    /* hostile queries: every FTS5 operator and punctuation alone or unbalanced */
    static const char *const hostile[] = {
        "\"", "\"\"", "\"unbalanced", "(", ")", "((backups", "NEAR(", "NEAR(a b", "*", "backup*",
        "-", "-backups", ":", "title:backups", "^", "^backups", "+", "AND", "OR", "NOT",
        "backups AND", "OR OR", "NOT NOT", "{", "}", "{title}: x", "[", "]", "'", "\\", ";",
        "DROP TABLE chunks; --", "%", "_", "\xff\xfe", "日本語のクエリ", "Ёжик", "مرحبا",
        "a\"b\"c", "col:", "\"backups\" NEAR/2 \"days\"", ".", ",", "!", "?", "@", "#", "$",
        "&", "|", "~", "`", "<script>", "", "   ", "\t\n"};
    int all_ok = 1;
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        idx_principal *admin = NULL;
        idx_principal_admin(&admin, &err);
        retr_request req = {hostile[i], 5, "bm25", admin, NULL, 0, NULL, NULL};
        retr_results *r = NULL;
        if (retr_search(s, &req, &r, &err) != KEEP_OK) {
            all_ok = 0;
            printf("# hostile query failed: [%s]: %s\n", hostile[i], err.msg);
        }
        retr_results_free(r);
        idx_principal_free(admin);
    }
    OK(all_ok, "no hostile query causes an error");
    ASSERT_EQ_INT(search_count(s, "-backups NEAR( \"retained", "60 days"), 1,
                  "operators in text are plain words");

    /* remove by path (the watcher's REMOVED): a file, a folder, scoped by
     * collection, a folder's name prefix is not a folder */
    {
        static const char *const rel[] = {"w/keep.md", "w/gone.md", "w/dir/one.md",
                                          "w/dir/deep/two.md", "w/dirx.md", "w/dir-other/three.md"};
        char wdir[600], real[4096], q[8192];
        snprintf(wdir, sizeof wdir, "%s/w", tmpdir);
        mkdir(wdir, 0755);
        snprintf(q, sizeof q, "%s/w/dir", tmpdir);
        mkdir(q, 0755);
        snprintf(q, sizeof q, "%s/w/dir/deep", tmpdir);
        mkdir(q, 0755);
        snprintf(q, sizeof q, "%s/w/dir-other", tmpdir);
        mkdir(q, 0755);
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
            write_file(rel[i], "walrus handbook text\n");
        const char *wp[] = {wdir};
        idx_ingest_opts wo = opt;
        wo.collection = "watched";
        idx_ingest_paths(s, wp, 1, &wo, &st, &err);
        wo.collection = "elsewhere";
        idx_ingest_paths(s, wp, 1, &wo, &st, &err);
        const char *count_sql = "SELECT count(*) FROM documents WHERE collection = 'watched'";
        ASSERT_EQ_INT(count_rows(s, db, count_sql), 6, "six documents in the watched collection");
        if (!realpath(wdir, real))
            real[0] = '\0';
        snprintf(q, sizeof q, "%s/gone.md", real);
        ASSERT_EQ_INT(idx_doc_remove_path(s, "watched", q, &err), KEEP_OK, "remove a file by path");
        ASSERT_EQ_INT(count_rows(s, db, "SELECT count(*) FROM documents WHERE collection = 'watched'"
                                        " AND path LIKE '%gone.md'"), 0, "the file's document is gone");
        snprintf(q, sizeof q, "%s/dir/", real);
        ASSERT_EQ_INT(idx_doc_remove_path(s, "watched", q, &err), KEEP_OK, "remove a folder by path");
        ASSERT_EQ_INT(count_rows(s, db, count_sql), 3, "the folder's two documents are gone");
        ASSERT_EQ_INT(count_rows(s, db, "SELECT count(*) FROM documents WHERE collection = 'watched'"
                                        " AND (path LIKE '%dirx.md' OR path LIKE '%dir-other/three.md')"),
                      2, "siblings sharing the folder's name prefix stay");
        ASSERT_EQ_INT(count_rows(s, db, "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.doc_id"
                                        " WHERE d.collection = 'watched' AND d.path LIKE '%/dir/%'"), 0,
                      "no chunks left of removed documents");
        ASSERT_EQ_INT(count_rows(s, db, "SELECT count(*) FROM documents WHERE collection = 'elsewhere'"),
                      6, "other collection untouched");
        snprintf(q, sizeof q, "%s/never-there.md", real);
        ASSERT_EQ_INT(idx_doc_remove_path(s, "watched", q, &err), KEEP_OK, "nothing stored: not an error");
        ASSERT_EQ_INT(idx_doc_remove_path(s, "watched", "", &err), KEEP_ERR_USAGE, "empty path refused");
        snprintf(q, sizeof q, "%s", real);
        idx_doc_remove_path(s, "elsewhere", q, &err);
        ASSERT_EQ_INT(count_rows(s, db, "SELECT count(*) FROM documents WHERE collection = 'elsewhere'"),
                      0, "removing the root folder empties that collection's tree");
    }

    /* docs rm */
    int64_t id = count_rows(s, db, "SELECT id FROM documents WHERE path LIKE '%backup.md'");
    ASSERT_EQ_INT(idx_doc_remove(s, id, &err), KEEP_OK, "docs rm");
    ASSERT_EQ_INT(search_count(s, "retained", NULL), 0, "removed document never returned");
    ASSERT_EQ_INT(idx_doc_remove(s, 999999, &err), KEEP_ERR_NOTFOUND, "rm of unknown id");
    idx_store_close(s);

    /* a newer schema is refused, clearly */
    sqlite3 *h;
    sqlite3_open(db, &h);
    sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(h);
    ASSERT_EQ_INT(idx_store_open(db, 5000, &s, &err), KEEP_ERR_VERSION, "newer schema refused");
    OK(strstr(err.msg, "newer Keep") != NULL, "message says why");

    /* an old (version 0) database with unrelated content is migrated */
    char db0[600];
    snprintf(db0, sizeof db0, "%s/old.db", tmpdir);
    sqlite3_open(db0, &h);
    sqlite3_exec(h, "CREATE TABLE unrelated(x)", NULL, NULL, NULL);
    sqlite3_close(h);
    ASSERT_EQ_INT(idx_store_open(db0, 5000, &s, &err), KEEP_OK, "old schema migrated");
    ASSERT_EQ_INT(idx_store_schema_version(s), IDX_SCHEMA_VERSION, "migrated to current");
    idx_store_close(s);

    /* a file that is not a database */
    char junk[600];
    snprintf(junk, sizeof junk, "%s/junk.db", tmpdir);
    FILE *f = fopen(junk, "wb");
    for (int i = 0; i < 4096; i++)
        fputc('x', f);
    fclose(f);
    OK(idx_store_open(junk, 5000, &s, &err) != KEEP_OK, "garbage database refused");

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpdir);
    return tap_done();
}
