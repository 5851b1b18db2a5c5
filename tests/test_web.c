/* test_web.c — web/'s account helpers and index/auth.c's rows without a
 * server: argon2id hashes, generated passwords, the first admin, API tokens
 * (stored hashed, revocable, owner-checked), sessions (expiry, ended on a
 * password change), drop folders, and the login rate limiter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/auth.h"
#include "tap.h"
#include "web/web_int.h"

/* idx_tokens_list callback: the first (newest) token's last_used */
static int token_last_used(void *ud, const idx_token_info *t)
{
    *(int64_t *)ud = t->last_used;
    return 1;
}

int main(void)
{
    char dir[] = "/tmp/keep-test-web-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char db[256];
    snprintf(db, sizeof db, "%s/keep.db", dir);
    keep_err err;
    keep_err_clear(&err);
    idx_store *s = NULL;
    ASSERT_EQ_INT(idx_store_open(db, 1000, &s, &err), KEEP_OK, "store opens at the new schema");
    ASSERT_EQ_INT(idx_store_schema_version(s), IDX_SCHEMA_VERSION, "schema is current");

    /* passwords */
    char hash[WEB_PWHASH_MAX];
    ASSERT_EQ_INT(web_password_hash("correct horse battery", hash, &err), KEEP_OK, "hash a password");
    OK(strncmp(hash, "$argon2id$", 10) == 0, "the hash is argon2id");
    OK(web_password_verify(hash, "correct horse battery"), "the right password verifies");
    OK(!web_password_verify(hash, "correct horse batterx"), "a wrong one does not");
    ASSERT_EQ_INT(web_password_hash("short", hash, &err), KEEP_ERR_USAGE, "a short password is refused");
    char a[21], b[21];
    web_password_generate(a);
    web_password_generate(b);
    ASSERT_EQ_INT((int)strlen(a), 20, "a generated password has 20 characters");
    OK(strcmp(a, b) != 0, "two generated passwords differ");

    /* the first admin */
    char *pw = NULL;
    ASSERT_EQ_INT(web_ensure_admin(s, &pw, &err), KEEP_OK, "ensure_admin on a fresh store");
    OK(pw && strlen(pw) == 20, "it returns the generated password");
    char *stored = NULL;
    int admin = 0;
    ASSERT_EQ_INT(idx_password_get(s, "admin", &stored, &admin, &err), KEEP_OK, "admin has a password");
    OK(admin == 1 && stored && web_password_verify(stored, pw), "which is the printed one");
    keep_free(stored);
    keep_free(pw);
    pw = NULL;
    ASSERT_EQ_INT(web_ensure_admin(s, &pw, &err), KEEP_OK, "ensure_admin again");
    OK(pw == NULL, "creates nothing the second time");

    /* tokens */
    ASSERT_EQ_INT(idx_user_add(s, "alice", 0, &err), KEEP_OK, "add alice");
    ASSERT_EQ_INT(idx_user_add(s, "bob", 0, &err), KEEP_OK, "add bob");
    char *secret = NULL;
    int64_t tid = 0;
    ASSERT_EQ_INT(web_token_create(s, "alice", "laptop", &secret, &tid, &err), KEEP_OK, "create a token");
    OK(secret && strncmp(secret, "keep_", 5) == 0 && strlen(secret) == 48, "keep_ + 43 characters");
    char th[65];
    web__secret_hash(secret, th);
    char *user = NULL;
    ASSERT_EQ_INT(idx_token_find(s, th, 100, &user, &err), KEEP_OK, "the token's hash finds it");
    ASSERT_EQ_STR(user, "alice", "as alice");
    keep_free(user);
    ASSERT_EQ_INT(idx_token_find(s, secret, 100, &user, &err), KEEP_ERR_NOTFOUND,
                  "the secret itself is not what is stored");
    /* last_used moves at most once a minute (each write costs every reader
     * its cache) */
    int64_t seen = -1;
    ASSERT_EQ_INT(idx_token_find(s, th, 130, &user, &err), KEEP_OK, "found again 30 s later");
    keep_free(user);
    ASSERT_EQ_INT(idx_tokens_list(s, "alice", token_last_used, &seen, &err), KEEP_OK, "list tokens");
    ASSERT_EQ_INT((int)seen, 100, "last_used not rewritten within the minute");
    ASSERT_EQ_INT(idx_token_find(s, th, 100 + IDX_TOKEN_LAST_USED_STEP, &user, &err), KEEP_OK,
                  "found a minute later");
    keep_free(user);
    ASSERT_EQ_INT(idx_tokens_list(s, "alice", token_last_used, &seen, &err), KEEP_OK, "list tokens");
    ASSERT_EQ_INT((int)seen, 100 + IDX_TOKEN_LAST_USED_STEP, "last_used moves after a minute");
    ASSERT_EQ_INT(idx_token_revoke(s, tid, "bob", 100, &err), KEEP_ERR_NOTFOUND,
                  "bob cannot revoke alice's token");
    ASSERT_EQ_INT(idx_token_revoke(s, tid, "alice", 100, &err), KEEP_OK, "alice revokes it");
    ASSERT_EQ_INT(idx_token_find(s, th, 100, &user, &err), KEEP_ERR_NOTFOUND, "a revoked token is not found");
    ASSERT_EQ_INT(web_token_create(s, "nobody", "x", &user, &tid, &err), KEEP_ERR_NOTFOUND,
                  "no token for an unknown user");
    keep_free(secret);

    /* sessions */
    char *csrf = NULL;
    ASSERT_EQ_INT(idx_session_add(s, "h1", "alice", "c1", 100, 200, &err), KEEP_OK, "add a session");
    ASSERT_EQ_INT(idx_session_find(s, "h1", 150, &user, &csrf, &err), KEEP_OK, "find it before expiry");
    ASSERT_EQ_STR(csrf, "c1", "with its CSRF token");
    keep_free(user);
    keep_free(csrf);
    ASSERT_EQ_INT(idx_session_find(s, "h1", 200, &user, &csrf, &err), KEEP_ERR_NOTFOUND,
                  "an expired session is not found");
    ASSERT_EQ_INT(idx_session_add(s, "h2", "alice", "c2", 100, 10000000000LL, &err), KEEP_OK, "another");
    ASSERT_EQ_INT(web_user_set_password(s, "alice", "alice-password", &err), KEEP_OK, "set alice's password");
    ASSERT_EQ_INT(idx_session_find(s, "h2", 150, &user, &csrf, &err), KEEP_ERR_NOTFOUND,
                  "a password change ends her sessions");
    ASSERT_EQ_INT(idx_session_add(s, "h3", "bob", "c3", 100, 10000000000LL, &err), KEEP_OK, "bob's session");
    ASSERT_EQ_INT(idx_user_remove(s, "bob", &err), KEEP_OK, "remove bob");
    ASSERT_EQ_INT(idx_session_find(s, "h3", 150, &user, &csrf, &err), KEEP_ERR_NOTFOUND,
                  "removing a user ends their sessions");

    /* drop folders */
    int64_t fid = 0;
    ASSERT_EQ_INT(idx_folder_add(s, "/srv/drop", "hr", &fid, &err), KEEP_OK, "add a drop folder");
    ASSERT_EQ_INT(idx_folder_add(s, "/srv/drop", "eng", &fid, &err), KEEP_ERR_USAGE, "not twice");
    ASSERT_EQ_INT(idx_folder_remove(s, fid, &err), KEEP_OK, "remove it");
    ASSERT_EQ_INT(idx_folder_remove(s, fid, &err), KEEP_ERR_NOTFOUND, "it is gone");

    /* rate limiter */
    web_server *srv = keep_calloc(1, sizeof *srv);
    pthread_mutex_init(&srv->rl_mu, NULL);
    int64_t retry = 0;
    for (int i = 0; i < 3; i++)
        web__rl_fail(srv, "u:carol", 1000);
    OK(web__rl_blocked(srv, "u:carol", 3, 1001, &retry), "three failures block");
    ASSERT_EQ_INT((int)retry, 899, "until the window ends");
    OK(!web__rl_blocked(srv, "u:carol", 4, 1001, &retry), "not under a higher limit");
    OK(!web__rl_blocked(srv, "u:dave", 3, 1001, &retry), "other users are not blocked");
    OK(!web__rl_blocked(srv, "u:carol", 3, 1900, &retry), "the block ends after 15 minutes");
    for (int i = 0; i < 3; i++)
        web__rl_fail(srv, "u:erin", 1000);
    web__rl_reset(srv, "u:erin");
    OK(!web__rl_blocked(srv, "u:erin", 3, 1001, &retry), "a success resets the count");
    for (int i = 0; i < WEB_RL_SLOTS + 10; i++) {
        char key[32];
        snprintf(key, sizeof key, "ip:10.0.%d.%d", i / 256, i % 256);
        web__rl_fail(srv, key, 2000 + i);
    }
    OK(1, "more keys than slots evict the oldest without failing");
    pthread_mutex_destroy(&srv->rl_mu);
    keep_free(srv);

    OK(web__const_eq("abc", "abc") && !web__const_eq("abc", "abd") && !web__const_eq("", ""),
       "constant-time comparison");

    idx_store_close(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return tap_done();
}
