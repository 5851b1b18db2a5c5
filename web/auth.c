/* auth.c — who is asking, and may they: passwords (argon2id), API tokens
 * and session ids (random, stored as BLAKE2b hashes), CSRF and Origin checks
 * on state-changing requests, login rate limiting per user and per address,
 * and single sign-on from trusted reverse proxies (see web.h). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "web_int.h"

#define RL_WINDOW_S 900 /* failed logins count for 15 minutes */
#define SESSION_COOKIE "keep_session"

/* ---- secrets -------------------------------------------------------------------------------- */

void web__random_token(char *out, size_t out_size)
{
    unsigned char raw[32];
    if (sodium_init() < 0) { /* cannot happen after the first call; never serve a weak token */
        out[0] = '\0';
        return;
    }
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, out_size, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

void web__secret_hash(const char *secret, char out[65])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)secret, strlen(secret), NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof h);
}

int web__const_eq(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && n > 0 && sodium_memcmp(a, b, n) == 0;
}

/* ---- passwords -------------------------------------------------------------------------------- */

int web_password_hash(const char *password, char out[WEB_PWHASH_MAX], keep_err *err)
{
    size_t n = strlen(password);
    if (n < 8 || n > 1024)
        return keep_err_set(err, KEEP_ERR_USAGE, "a password is 8 to 1024 bytes");
    if (sodium_init() < 0)
        return keep_err_set(err, KEEP_ERR_INTERNAL, "libsodium failed to initialise");
    _Static_assert(WEB_PWHASH_MAX >= crypto_pwhash_STRBYTES, "room for an argon2id string");
    if (crypto_pwhash_str(out, password, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory hashing the password");
    return KEEP_OK;
}

int web_password_verify(const char *hash, const char *password)
{
    if (sodium_init() < 0)
        return 0;
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void web_password_generate(char out[21])
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    if (sodium_init() < 0) {
        out[0] = '\0';
        return;
    }
    for (int i = 0; i < 20; i++)
        out[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    out[20] = '\0';
}

int web_user_set_password(idx_store *s, const char *user, const char *password, keep_err *err)
{
    char hash[WEB_PWHASH_MAX];
    int rc = web_password_hash(password, hash, err);
    if (!rc)
        rc = idx_password_set(s, user, hash, err);
    if (!rc)
        rc = idx_sessions_remove_user(s, user, err);
    return rc;
}

int web_token_create(idx_store *s, const char *user, const char *name, char **secret,
                     int64_t *id, keep_err *err)
{
    *secret = NULL;
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > WEB_NAME_MAX || !keep_utf8_valid(name, n))
        return keep_err_set(err, KEEP_ERR_USAGE, "a token name is 1 to 128 bytes of UTF-8");
    char tok[64], full[80], hash[65];
    web__random_token(tok, sizeof tok);
    if (!tok[0])
        return keep_err_set(err, KEEP_ERR_INTERNAL, "no randomness");
    snprintf(full, sizeof full, "keep_%s", tok);
    web__secret_hash(full, hash);
    int rc = idx_token_add(s, user, name, hash, id, err);
    if (!rc && !(*secret = keep_strdup(full)))
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    sodium_memzero(full, sizeof full);
    return rc;
}

int web_ensure_admin(idx_store *s, char **password, keep_err *err)
{
    *password = NULL;
    int64_t n;
    int rc = idx_admins_with_password(s, &n, err);
    if (rc || n > 0)
        return rc;
    char pw[21];
    web_password_generate(pw);
    if (!pw[0])
        return keep_err_set(err, KEEP_ERR_INTERNAL, "no randomness");
    if ((rc = idx_user_add(s, "admin", 1, err)) || (rc = web_user_set_password(s, "admin", pw, err)))
        return rc;
    if (!(*password = keep_strdup(pw)))
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    sodium_memzero(pw, sizeof pw);
    return KEEP_OK;
}

/* ---- login rate limit ---------------------------------------------------------------------------- */

static web_rl_entry *rl_find(web_server *s, const char *key)
{
    for (size_t i = 0; i < WEB_RL_SLOTS; i++)
        if (s->rl[i].key[0] && strcmp(s->rl[i].key, key) == 0)
            return &s->rl[i];
    return NULL;
}

int web__rl_blocked(web_server *s, const char *key, int limit, int64_t now, int64_t *retry)
{
    pthread_mutex_lock(&s->rl_mu);
    web_rl_entry *e = rl_find(s, key);
    int blocked = e && now - e->window_start < RL_WINDOW_S && e->failures >= limit;
    if (blocked)
        *retry = e->window_start + RL_WINDOW_S - now;
    pthread_mutex_unlock(&s->rl_mu);
    return blocked;
}

void web__rl_fail(web_server *s, const char *key, int64_t now)
{
    pthread_mutex_lock(&s->rl_mu);
    web_rl_entry *e = rl_find(s, key);
    if (!e) {
        /* a free slot, else the one whose window started longest ago */
        e = &s->rl[0];
        for (size_t i = 0; i < WEB_RL_SLOTS; i++) {
            if (!s->rl[i].key[0]) {
                e = &s->rl[i];
                break;
            }
            if (s->rl[i].window_start < e->window_start)
                e = &s->rl[i];
        }
        snprintf(e->key, sizeof e->key, "%s", key);
        e->failures = 0;
        e->window_start = now;
    }
    if (now - e->window_start >= RL_WINDOW_S) {
        e->failures = 0;
        e->window_start = now;
    }
    e->failures++;
    pthread_mutex_unlock(&s->rl_mu);
}

void web__rl_reset(web_server *s, const char *key)
{
    pthread_mutex_lock(&s->rl_mu);
    web_rl_entry *e = rl_find(s, key);
    if (e)
        memset(e, 0, sizeof *e);
    pthread_mutex_unlock(&s->rl_mu);
}

/* ---- login ---------------------------------------------------------------------------------------- */

/* A hash to verify against for unknown users, so that the time a failed
 * login takes does not tell whether the user exists. */
static char dummy_hash[WEB_PWHASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static void make_dummy(void)
{
    char pw[21];
    web_password_generate(pw);
    if (web_password_hash(pw, dummy_hash, NULL))
        dummy_hash[0] = '\0';
}

int web__verify_login(web_server *s, idx_store *st, const char *user, const char *password,
                      int *admin)
{
    char *hash = NULL;
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_password_get(st, user, &hash, admin, &err);
    pthread_once(&dummy_once, make_dummy);
    /* argon2id takes 64 MiB: at most two at a time */
    pthread_mutex_lock(&s->hash_mu);
    while (s->hashing >= 2)
        pthread_cond_wait(&s->hash_cv, &s->hash_mu);
    s->hashing++;
    pthread_mutex_unlock(&s->hash_mu);
    int ok = web_password_verify(rc ? dummy_hash : hash, password) && rc == KEEP_OK;
    pthread_mutex_lock(&s->hash_mu);
    s->hashing--;
    pthread_cond_signal(&s->hash_cv);
    pthread_mutex_unlock(&s->hash_mu);
    keep_free(hash);
    return ok;
}

static void set_session_cookie(web_req *r, const char *value, long max_age)
{
    snprintf(r->set_cookie, sizeof r->set_cookie,
             SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s", value, max_age,
             r->srv->tls ? "; Secure" : "");
}

/* Starts a session for r->user: cookie set, r->csrf filled. */
static int start_session(web_req *r, keep_err *err)
{
    char secret[64], hash[65];
    web__random_token(secret, sizeof secret);
    web__random_token(r->csrf, sizeof r->csrf);
    if (!secret[0] || !r->csrf[0])
        return keep_err_set(err, KEEP_ERR_INTERNAL, "no randomness");
    web__secret_hash(secret, hash);
    int64_t now = time(NULL), life = (int64_t)r->srv->cfg.web_session_hours * 3600;
    int rc = idx_session_add(web__store(r), hash, r->user, r->csrf, now, now + life, err);
    if (!rc) {
        set_session_cookie(r, secret, (long)life);
        memcpy(r->session_hash, hash, sizeof hash);
        r->via_session = 1;
    }
    sodium_memzero(secret, sizeof secret);
    return rc;
}

static cJSON *session_json(web_req *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "user", r->user);
    cJSON_AddBoolToObject(o, "admin", r->principal && idx_principal_is_admin(r->principal));
    cJSON_AddStringToObject(o, "csrf_token", r->csrf);
    return o;
}

int web__h_login(web_req *r)
{
    cJSON *body = web__body_json(r);
    if (!body)
        return MHD_YES;
    const char *user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "username"));
    const char *pw = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "password"));
    if (!user || !pw || !*user || strlen(user) > WEB_NAME_MAX || strlen(pw) > 1024) {
        cJSON_Delete(body);
        return web__error(r, 400, "bad_request", "give username and password");
    }
    web_server *s = r->srv;
    web__audit_target(r, "%s", user); /* the name tried, also when the login fails */
    int64_t now = time(NULL), retry = 0;
    char ukey[WEB_NAME_MAX + 8], ikey[80];
    snprintf(ukey, sizeof ukey, "u:%s", user);
    snprintf(ikey, sizeof ikey, "ip:%s", r->peer);
    int limit = s->cfg.web_login_failures;
    if (web__rl_blocked(s, ukey, limit, now, &retry) ||
        web__rl_blocked(s, ikey, limit * 4, now, &retry)) {
        cJSON_Delete(body);
        snprintf(r->extra_name, sizeof r->extra_name, "Retry-After");
        snprintf(r->extra_value, sizeof r->extra_value, "%lld", (long long)retry);
        return web__error(r, 429, "too_many_attempts",
                          "too many failed logins: try again in %lld seconds", (long long)retry);
    }
    int admin = 0;
    int ok = web__verify_login(s, web__store(r), user, pw, &admin);
    if (!ok) {
        web__rl_fail(s, ukey, now);
        web__rl_fail(s, ikey, now);
        cJSON_Delete(body);
        return web__error(r, 401, "unauthorized", "wrong user name or password");
    }
    web__rl_reset(s, ukey);
    snprintf(r->user, sizeof r->user, "%s", user);
    cJSON_Delete(body);
    keep_err err;
    keep_err_clear(&err);
    idx_principal_free(r->principal);
    r->principal = NULL;
    int rc = idx_principal_load(web__store(r), r->user, &r->principal, &err);
    if (!rc)
        rc = start_session(r, &err);
    if (rc)
        return web__keep_error(r, rc, &err);
    return web__json(r, 200, session_json(r));
}

int web__h_logout(web_req *r)
{
    keep_err err;
    keep_err_clear(&err);
    if (r->via_session)
        idx_session_remove(web__store(r), r->session_hash, &err);
    set_session_cookie(r, "", 0);
    return web__json(r, 200, cJSON_CreateObject());
}

int web__h_session(web_req *r)
{
    if (!r->principal)
        return web__error(r, 401, "unauthorized", "not logged in");
    if (!r->via_session && r->via_proxy) {
        keep_err err;
        keep_err_clear(&err);
        int rc = start_session(r, &err);
        if (rc)
            return web__keep_error(r, rc, &err);
    }
    cJSON *o = session_json(r);
    cJSON_AddStringToObject(o, "via", r->via_token ? "token" : r->via_proxy ? "proxy" : "session");
    return web__json(r, 200, o);
}

/* ---- every request ------------------------------------------------------------------------------- */

static int trusted_proxy(web_server *s, const char *peer)
{
    const char *p = s->cfg.web_trusted_proxies;
    size_t n = strlen(peer);
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len && len == n && memcmp(p, peer, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

static int is_safe_method(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* A browser names the page's origin on cross-site requests: it must be ours. */
static int origin_ok(web_req *r)
{
    const char *origin = web__header(r, "Origin");
    if (!origin)
        return 1;
    const char *host = web__header(r, "Host");
    if (!host)
        return 0;
    char want[300];
    snprintf(want, sizeof want, "%s://%s", r->srv->tls ? "https" : "http", host);
    return strcmp(origin, want) == 0;
}

/* Handlers return the MHD result; authentication returns "stop" once a
 * response is queued. */
static int stop(int mhd_result)
{
    (void)mhd_result;
    return 1;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= WEB_NAME_MAX && keep_utf8_valid(s, n);
}

int web__authenticate(web_req *r)
{
    web_server *s = r->srv;
    keep_err err;
    keep_err_clear(&err);
    int64_t now = time(NULL);
    char *user = NULL, *csrf = NULL;
    const char *authz = web__header(r, "Authorization");
    int rc;
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0)
            return stop(web__error(r, 401, "unauthorized", "use Authorization: Bearer TOKEN"));
        const char *tok = authz + 7;
        while (*tok == ' ')
            tok++;
        char hash[65];
        web__secret_hash(tok, hash);
        rc = idx_token_find(web__store(r), hash, now, &user, &err);
        if (rc == KEEP_ERR_NOTFOUND)
            return stop(web__error(r, 401, "unauthorized", "unknown or revoked token"));
        if (rc)
            return stop(web__keep_error(r, rc, &err));
        r->via_token = 1;
    } else {
        const char *proxy_user = NULL;
        if (s->cfg.web_trusted_proxies[0] && trusted_proxy(s, r->peer))
            proxy_user = web__header(r, s->cfg.web_proxy_user_header);
        const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
        if (cookie && *cookie && strlen(cookie) < 128) {
            web__secret_hash(cookie, r->session_hash);
            rc = idx_session_find(web__store(r), r->session_hash, now, &user, &csrf, &err);
            if (rc && rc != KEEP_ERR_NOTFOUND)
                return stop(web__keep_error(r, rc, &err));
            if (!rc) {
                r->via_session = 1;
                snprintf(r->csrf, sizeof r->csrf, "%s", csrf);
            }
        }
        if (proxy_user && valid_name(proxy_user)) {
            if (user && strcmp(user, proxy_user) != 0) { /* a session of someone else */
                r->via_session = 0;
                r->csrf[0] = '\0';
            }
            keep_free(user);
            user = keep_strdup(proxy_user);
            if (!user)
                return stop(web__error(r, 500, "internal", "out of memory"));
            r->via_proxy = 1;
        }
    }
    keep_free(csrf);
    if (user) {
        snprintf(r->user, sizeof r->user, "%s", user);
        rc = idx_principal_load(web__store(r), user, &r->principal, &err);
        keep_free(user);
        if (rc == KEEP_ERR_NOTFOUND) {
            r->user[0] = '\0';
            return stop(web__error(r, 401, "unauthorized", "unknown user"));
        }
        if (rc)
            return stop(web__keep_error(r, rc, &err));
    }
    if (!is_safe_method(r->method)) {
        if (!origin_ok(r))
            return stop(web__error(r, 403, "forbidden", "cross-origin request refused"));
        int is_login = r->route->fn == web__h_login;
        if (r->principal && !r->via_token && !is_login) {
            const char *h = web__header(r, "X-CSRF-Token");
            if (!r->via_session || !h || !web__const_eq(h, r->csrf))
                return stop(web__error(r, 403, "csrf", "missing or wrong X-CSRF-Token"));
        }
    }
    if (r->route->access == WEB_PUBLIC)
        return 0;
    if (!r->principal)
        return stop(web__error(r, 401, "unauthorized", "log in or send an API token"));
    if (r->route->access == WEB_ADMIN && !idx_principal_is_admin(r->principal))
        return stop(web__error(r, 403, "forbidden", "administrators only"));
    return 0;
}
