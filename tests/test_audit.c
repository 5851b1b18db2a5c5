/* test_audit.c — index/audit.c without a server: rows appended with their
 * fields, filters and paging, the hash chain verifying, tampering (a changed
 * row, a removed row) found at the right row, UPDATE/DELETE refused by the
 * triggers, retention pruning the oldest rows while the chain still
 * verifies (also through the server's [audit] retention_days), and the
 * time filter parser. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "index/idx.h"
#include "tap.h"
#include "web/web_int.h"

typedef struct {
    int n;
    int64_t ids[64];
    char users[64][32], actions[64][32], returned[64][64], cited[64][64], query[64][64];
    int status[64];
} rows;

static int on_row(void *ud, int64_t id, const idx_audit_entry *e)
{
    rows *r = ud;
    if (r->n >= 64)
        return 1;
    r->ids[r->n] = id;
    snprintf(r->users[r->n], 32, "%s", e->user);
    snprintf(r->actions[r->n], 32, "%s", e->action);
    snprintf(r->returned[r->n], 64, "%s", e->returned ? e->returned : "(null)");
    snprintf(r->cited[r->n], 64, "%s", e->cited ? e->cited : "(null)");
    snprintf(r->query[r->n], 64, "%s", e->query ? e->query : "(null)");
    r->status[r->n] = e->status;
    r->n++;
    return 0;
}

static int sql(const char *db, const char *stmt)
{
    sqlite3 *h;
    if (sqlite3_open(db, &h) != SQLITE_OK)
        return -1;
    int rc = sqlite3_exec(h, stmt, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc;
}

static int64_t append(idx_store *s, int64_t at, const char *user, const char *action,
                      const char *query, const char *returned, const char *cited, int status)
{
    idx_audit_entry e = {at, user, "session", "127.0.0.1", action, NULL, query, returned, cited,
                         status};
    keep_err err;
    keep_err_clear(&err);
    int64_t id = 0;
    if (idx_audit_append(s, &e, &id, &err))
        printf("# append: %s\n", err.msg);
    return id;
}

int main(void)
{
    char dir[] = "/tmp/keep-test-audit-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char db[256], db2[256], adb[256], adb2[256];
    snprintf(db, sizeof db, "%s/keep.db", dir);
    snprintf(db2, sizeof db2, "%s/retention.db", dir);
    /* the log's own files beside them */
    snprintf(adb, sizeof adb, "%s/keep-audit.db", dir);
    snprintf(adb2, sizeof adb2, "%s/retention-audit.db", dir);
    keep_err err;
    keep_err_clear(&err);
    idx_store *s = NULL;
    ASSERT_EQ_INT(idx_store_open(db, 1000, &s, &err), KEEP_OK, "store opens");
    ASSERT_EQ_INT(idx_store_schema_version(s), IDX_SCHEMA_VERSION, "schema has the audit log");

    idx_audit_check c;
    ASSERT_EQ_INT(idx_audit_verify(s, &c, &err), KEEP_OK, "an empty log verifies");
    ASSERT_EQ_INT((int)c.bad_id, 0, "nothing broken in an empty log");

    int64_t now = (int64_t)time(NULL);
    ASSERT_EQ_INT((int)append(s, now - 30, "alice", "search", "payroll deadline", "3,7", NULL, 200),
                  1, "first row is id 1");
    ASSERT_EQ_INT((int)append(s, now - 20, "bob", "ask", "who signs leave requests?", "3,9", "9", 200),
                  2, "second row is id 2");
    ASSERT_EQ_INT((int)append(s, now - 10, "alice", "view", NULL, "7", NULL, 200), 3, "id 3");
    ASSERT_EQ_INT((int)append(s, now, "", "login", NULL, NULL, NULL, 401), 4, "id 4");
    /* a question that is not UTF-8 is stored as a marker, not refused */
    ASSERT_EQ_INT((int)append(s, now, "bob", "search", "bad \xff byte", NULL, NULL, 200), 5,
                  "a non-UTF-8 query is still recorded");

    rows r = {0};
    idx_audit_filter f = {0};
    ASSERT_EQ_INT(idx_audit_list(s, &f, on_row, &r, &err), KEEP_OK, "list everything");
    ASSERT_EQ_INT(r.n, 5, "five rows");
    ASSERT_EQ_INT((int)r.ids[0], 5, "newest first");
    ASSERT_EQ_STR(r.query[0], "(not UTF-8)", "invalid UTF-8 replaced by a marker");
    ASSERT_EQ_STR(r.actions[3], "ask", "row 2 is the ask");
    ASSERT_EQ_STR(r.returned[3], "3,9", "returned ids stored");
    ASSERT_EQ_STR(r.cited[3], "9", "cited ids stored");
    ASSERT_EQ_STR(r.query[3], "who signs leave requests?", "the question stored");
    ASSERT_EQ_INT(r.status[1], 401, "status stored");

    memset(&r, 0, sizeof r);
    f.user = "alice";
    ASSERT_EQ_INT(idx_audit_list(s, &f, on_row, &r, &err), KEEP_OK, "filter by user");
    ASSERT_EQ_INT(r.n, 2, "alice has two rows");
    ASSERT_EQ_INT((int)r.ids[0], 3, "alice's newest is row 3");
    memset(&r, 0, sizeof r);
    f.user = NULL;
    f.action = "search";
    f.limit = 1;
    ASSERT_EQ_INT(idx_audit_list(s, &f, on_row, &r, &err), KEEP_OK, "filter by action, limit 1");
    ASSERT_EQ_INT(r.n, 1, "one row per page");
    ASSERT_EQ_INT((int)r.ids[0], 5, "the newest search");
    memset(&r, 0, sizeof r);
    f.before_id = 5;
    ASSERT_EQ_INT(idx_audit_list(s, &f, on_row, &r, &err), KEEP_OK, "next page");
    ASSERT_EQ_INT((int)r.ids[0], 1, "the older search");
    memset(&r, 0, sizeof r);
    idx_audit_filter tf = {0};
    tf.since = now - 25;
    tf.until = now - 5;
    ASSERT_EQ_INT(idx_audit_list(s, &tf, on_row, &r, &err), KEEP_OK, "filter by time");
    ASSERT_EQ_INT(r.n, 2, "two rows in the window");
    ASSERT_EQ_INT((int)r.ids[1], 2, "the window starts at row 2");

    ASSERT_EQ_INT(idx_audit_verify(s, &c, &err), KEEP_OK, "verify");
    ASSERT_EQ_INT((int)c.bad_id, 0, "the chain holds");
    ASSERT_EQ_INT((int)c.rows, 5, "five rows checked");

    /* the triggers refuse changes through SQL */
    OK(sql(adb, "UPDATE audit_log SET query = 'nothing' WHERE id = 2") != SQLITE_OK,
       "UPDATE refused by the trigger");
    OK(sql(adb, "DELETE FROM audit_log WHERE id = 3") != SQLITE_OK, "DELETE refused by the trigger");
    /* someone with the file drops the trigger and edits a row: found */
    ASSERT_EQ_INT(sql(adb, "DROP TRIGGER audit_log_no_update;"
                          "UPDATE audit_log SET query = 'nothing to see' WHERE id = 2"),
                  SQLITE_OK, "tampering with the trigger dropped");
    ASSERT_EQ_INT(idx_audit_verify(s, &c, &err), KEEP_OK, "verify after tampering");
    ASSERT_EQ_INT((int)c.bad_id, 2, "the changed row is the first broken one");
    OK(strstr(c.reason, "hash") != NULL, "the reason names the hash");
    /* recomputing that row's hash is not enough: the next row chains to the old one */
    ASSERT_EQ_INT(sql(adb, "UPDATE audit_log SET hash = 'ffff' WHERE id = 2"), SQLITE_OK,
                  "forged hash");
    ASSERT_EQ_INT(idx_audit_verify(s, &c, &err), KEEP_OK, "verify again");
    ASSERT_EQ_INT((int)c.bad_id, 2, "still row 2");
    idx_store_close(s);

    /* a removed row shows as a gap */
    s = NULL;
    ASSERT_EQ_INT(idx_store_open(db2, 1000, &s, &err), KEEP_OK, "second store");
    for (int i = 0; i < 10; i++) /* rows 1..6 forty days old, 7..10 new */
        append(s, i < 6 ? now - 40 * 86400 + i : now - 100 + i, i % 2 ? "u1" : "u2",
               "search", "q", "1", NULL, 200);
    ASSERT_EQ_INT(idx_audit_verify(s, &c, &err), KEEP_OK, "verify 10 rows");
    ASSERT_EQ_INT((int)c.bad_id, 0, "ten rows chain");

    /* retention */
    int64_t pruned = 0;
    ASSERT_EQ_INT(idx_audit_prune(s, now - 30 * 86400, &pruned, &err), KEEP_OK, "prune 30 days");
    ASSERT_EQ_INT((int)pruned, 6, "six old rows pruned");
    int64_t n = 0;
    idx_audit_count(s, &n, &err);
    ASSERT_EQ_INT((int)n, 4, "four rows left");
    ASSERT_EQ_INT(idx_audit_verify(s, &c, &err), KEEP_OK, "verify after pruning");
    ASSERT_EQ_INT((int)c.bad_id, 0, "the chain still holds from the anchor");
    ASSERT_EQ_INT((int)c.pruned_id, 6, "anchor at row 6");
    ASSERT_EQ_INT((int)c.first_id, 7, "first row kept is 7");
    ASSERT_EQ_INT(idx_audit_prune(s, now - 30 * 86400, &pruned, &err), KEEP_OK, "prune again");
    ASSERT_EQ_INT((int)pruned, 0, "nothing more to prune");
    ASSERT_EQ_INT((int)append(s, 0, "u1", "ask", "q2", NULL, NULL, 200), 11, "append after pruning");
    /* pruning everything, then appending: the new row chains to the anchor */
    ASSERT_EQ_INT(idx_audit_prune(s, now + 10, &pruned, &err), KEEP_OK, "prune all");
    ASSERT_EQ_INT((int)pruned, 5, "five rows pruned");
    ASSERT_EQ_INT((int)append(s, 0, "u1", "ask", "q3", NULL, NULL, 200), 12, "ids go on");
    ASSERT_EQ_INT(idx_audit_verify(s, &c, &err), KEEP_OK, "verify");
    ASSERT_EQ_INT((int)c.bad_id, 0, "holds after pruning everything");
    ASSERT_EQ_INT((int)c.rows, 1, "one row");
    /* the anchor only moves forward */
    OK(sql(adb2, "UPDATE audit_anchor SET pruned_id = 0") != SQLITE_OK, "anchor cannot move back");
    /* a row deleted around the trigger: a gap */
    append(s, 0, "u1", "ask", "q4", NULL, NULL, 200);
    append(s, 0, "u1", "ask", "q5", NULL, NULL, 200);
    ASSERT_EQ_INT(sql(adb2, "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 13"),
                  SQLITE_OK, "a row deleted with the trigger dropped");
    ASSERT_EQ_INT(idx_audit_verify(s, &c, &err), KEEP_OK, "verify");
    ASSERT_EQ_INT((int)c.bad_id, 13, "the missing row is reported");
    idx_store_close(s);

    /* the server's retention: [audit] retention_days over old rows */
    char db3[256];
    snprintf(db3, sizeof db3, "%s/server.db", dir);
    s = NULL;
    ASSERT_EQ_INT(idx_store_open(db3, 1000, &s, &err), KEEP_OK, "third store");
    append(s, now - 100 * 86400, "u", "search", "old", NULL, NULL, 200);
    append(s, now - 50 * 86400, "u", "search", "older than 40 days", NULL, NULL, 200);
    append(s, now - 10 * 86400, "u", "search", "recent", NULL, NULL, 200);
    web_server *srv = keep_calloc(1, sizeof *srv);
    pthread_mutex_init(&srv->log_mu, NULL);
    keep_config_defaults(&srv->cfg);
    ASSERT_EQ_INT(srv->cfg.audit_retention_days, 0, "retention defaults to keep forever");
    web__audit_retention(srv, s);
    idx_audit_count(s, &n, &err);
    ASSERT_EQ_INT((int)n, 3, "retention 0 prunes nothing");
    srv->cfg.audit_retention_days = 40;
    web__audit_retention(srv, s);
    idx_audit_count(s, &n, &err);
    ASSERT_EQ_INT((int)n, 1, "retention 40 days keeps the recent row");
    ASSERT_EQ_INT(idx_audit_verify(s, &c, &err), KEEP_OK, "verify");
    ASSERT_EQ_INT((int)c.bad_id, 0, "the chain holds after the server's retention");
    pthread_mutex_destroy(&srv->log_mu);
    keep_free(srv);
    idx_store_close(s);

    int64_t t = 0;
    ASSERT_EQ_INT(idx_audit_parse_time("2026-11-23", 0, &t), 0, "a day parses");
    ASSERT_EQ_INT((int)(t % 86400), 0, "at midnight UTC");
    int64_t t2 = 0;
    idx_audit_parse_time("2026-11-23", 1, &t2);
    ASSERT_EQ_INT((int)(t2 - t), 86400, "as an upper bound, the end of the day");
    ASSERT_EQ_INT(idx_audit_parse_time("2026-11-23T10:00:00Z", 1, &t2), 0, "a UTC time parses");
    ASSERT_EQ_INT((int)(t2 - t), 36000, "ten hours in");
    ASSERT_EQ_INT(idx_audit_parse_time("1700000000", 0, &t2), 0, "seconds parse");
    OK(t2 == 1700000000, "as given");
    OK(idx_audit_parse_time("yesterday", 0, &t2) != 0, "words do not");
    OK(idx_audit_parse_time("2026-13-45", 0, &t2) != 0, "nor impossible dates");

    /* appending writes nothing to keep.db, so readers keep their cache */
    s = NULL;
    ASSERT_EQ_INT(idx_store_open(db3, 1000, &s, &err), KEEP_OK, "reopen");
    sqlite3 *h = NULL;
    sqlite3_open(db3, &h);
    int dv0 = -1, dv1 = -2;
    sqlite3_stmt *st = NULL;
    sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
    sqlite3_prepare_v2(h, "PRAGMA data_version", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        dv0 = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    OK(append(s, now, "u", "search", "while another connection reads", NULL, NULL, 200) > 0,
       "append");
    if (sqlite3_step(st) == SQLITE_ROW)
        dv1 = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    ASSERT_EQ_INT(dv1, dv0, "keep.db is unchanged by an audit row (its data_version holds)");
    idx_store_close(s);

    /* a log an older Keep kept inside keep.db is carried over on first use */
    char db5[256], adb5[256], old[600];
    snprintf(db5, sizeof db5, "%s/legacy.db", dir);
    snprintf(adb5, sizeof adb5, "%s/legacy-audit.db", dir);
    s = NULL;
    ASSERT_EQ_INT(idx_store_open(db5, 1000, &s, &err), KEEP_OK, "legacy store");
    for (int i = 0; i < 3; i++)
        append(s, now - 10 + i, "carol", "ask", "old question", "4", "4", 200);
    idx_store_close(s);
    snprintf(old, sizeof old, "ATTACH '%s' AS x; INSERT INTO audit_log SELECT * FROM x.audit_log;", adb5);
    ASSERT_EQ_INT(sql(db5, old), SQLITE_OK, "the rows put into keep.db as an older Keep had them");
    unlink(adb5);
    s = NULL;
    ASSERT_EQ_INT(idx_store_open(db5, 1000, &s, &err), KEEP_OK, "reopened without the log's file");
    idx_audit_count(s, &n, &err);
    ASSERT_EQ_INT((int)n, 3, "the old rows are carried over");
    ASSERT_EQ_INT(idx_audit_verify(s, &c, &err), KEEP_OK, "verify");
    ASSERT_EQ_INT((int)c.bad_id, 0, "and their chain holds");
    OK(append(s, now, "carol", "search", "new", NULL, NULL, 200) == 4, "the chain goes on from them");
    idx_store_close(s);
    s = NULL;
    ASSERT_EQ_INT(idx_store_open(db5, 1000, &s, &err), KEEP_OK, "reopened");
    idx_audit_count(s, &n, &err);
    ASSERT_EQ_INT((int)n, 4, "carried over once, not again");
    idx_store_close(s);

    unlink(db3);
    unlink(db);
    unlink(db2);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
