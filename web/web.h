/* web.h — the public face of web/: Keep's HTTP server (the JSON API, the
 * embedded browser UI, authentication) and the account helpers the CLI
 * shares with it.
 *
 * Authentication (every route but /healthz, the login route, the UI's static
 * files and the OpenAPI document needs it):
 *  - browser sessions: POST /api/v1/login sets an HttpOnly SameSite=Strict
 *    cookie; every state-changing request (not GET/HEAD) made with the
 *    cookie must carry the session's CSRF token in X-CSRF-Token;
 *  - API tokens: "Authorization: Bearer keep_..."; stored hashed, revocable;
 *  - single sign-on: a user name in a configured header, believed only from
 *    the configured proxy addresses.
 * Passwords are argon2id hashes (libsodium's crypto_pwhash_str). */
#ifndef KEEP_WEB_H
#define KEEP_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "common/config.h"
#include "index/idx.h"

typedef struct web_server web_server;

typedef struct web_options {
    const char *data_dir;   /* holds keep.db; uploads are kept under it */
    const keep_config *cfg; /* copied */
    const char *listen;     /* ADDR:PORT overriding cfg->web_listen; port 0 picks one */
} web_options;

/* Opens the store, starts listening and the drop-folder watcher. The server
 * log (one line per request: method, route, status, latency, user; never
 * document text) goes to stderr. Caller ends with web_server_wait then
 * web_server_free. */
int web_server_start(const web_options *opt, web_server **out, keep_err *err);
/* The port actually listened on. */
uint16_t web_server_port(const web_server *s);
/* 1 when serving HTTPS. */
int web_server_tls(const web_server *s);
/* Asks the server to stop: async-signal-safe. */
void web_server_shutdown(web_server *s);
/* Blocks until shutdown is asked, stops accepting, lets in-flight requests
 * finish (at most the connection timeout), stops the watcher. */
void web_server_wait(web_server *s);
void web_server_free(web_server *s);

/* ---- accounts (shared with `keep user`) ---------------------------------------------------- */

#define WEB_PWHASH_MAX 128
/* Hashes password with argon2id into out (NUL-terminated). Passwords are 8
 * to 1024 bytes. */
int web_password_hash(const char *password, char out[WEB_PWHASH_MAX], keep_err *err);
/* 1 when password matches hash. */
int web_password_verify(const char *hash, const char *password);
/* A random password of 20 characters from an unambiguous alphabet into out[21]. */
void web_password_generate(char out[21]);
/* Sets user's password (hashing it) and ends the user's sessions. */
int web_user_set_password(idx_store *s, const char *user, const char *password, keep_err *err);
/* Creates an API token for user: *secret (shown once; caller frees with
 * keep_free) is stored only as a hash. */
int web_token_create(idx_store *s, const char *user, const char *name, char **secret,
                     int64_t *id, keep_err *err);
/* On a store where no admin has a password: creates (or promotes) the
 * user "admin" with a generated password returned in *password (caller
 * frees with keep_free). *password stays NULL when an admin exists. */
int web_ensure_admin(idx_store *s, char **password, keep_err *err);

#endif
