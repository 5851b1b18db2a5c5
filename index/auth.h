/* auth.h — what the web server stores besides documents: password hashes,
 * API tokens and browser sessions of the users of idx.h's access control, the
 * drop folders it watches, and single-document lookups for its file
 * endpoints. index/ only stores strings: hashing (argon2id for passwords, a
 * keyed-free BLAKE2b for random tokens) is web/'s job, so a token or session
 * id never reaches the database in the clear.
 *
 * Times are seconds since the epoch. */
#ifndef KEEP_IDX_AUTH_H
#define KEEP_IDX_AUTH_H

#include <stdint.h>

#include "idx.h"

/* ---- passwords ------------------------------------------------------------------------ */

/* Sets (or replaces) a user's password hash. KEEP_ERR_NOTFOUND when there is no
 * such user. */
int idx_password_set(idx_store *s, const char *user, const char *hash, keep_err *err);
/* A user's password hash and admin flag. KEEP_ERR_NOTFOUND when the user does
 * not exist or has no password. Caller frees *hash with keep_free. */
int idx_password_get(idx_store *s, const char *user, char **hash, int *admin, keep_err *err);
/* How many admins have a password (0 on a fresh store: the server creates one). */
int idx_admins_with_password(idx_store *s, int64_t *n, keep_err *err);
/* 1 in *exists when the user exists. */
int idx_user_exists(idx_store *s, const char *user, int *exists, keep_err *err);

/* ---- API tokens ------------------------------------------------------------------------- */

typedef struct idx_token_info {
    int64_t id;
    const char *user, *name;
    int64_t created_at, last_used, revoked_at; /* 0 when never / not */
} idx_token_info;

/* Stores a new token (hash of the secret) for user; *id receives its id. */
int idx_token_add(idx_store *s, const char *user, const char *name, const char *hash,
                  int64_t *id, keep_err *err);
/* The user of the live (not revoked) token with this hash; records the use
 * (last_used, rewritten at most every IDX_TOKEN_LAST_USED_STEP seconds).
 * KEEP_ERR_NOTFOUND when none. Caller frees *user with keep_free. */
#define IDX_TOKEN_LAST_USED_STEP 60 /* seconds between writes of a token's last_used */
int idx_token_find(idx_store *s, const char *hash, int64_t now, char **user, keep_err *err);
/* Revokes token id; when owner is non-NULL only a token of that user.
 * KEEP_ERR_NOTFOUND when there is no such live token. */
int idx_token_revoke(idx_store *s, int64_t id, const char *owner, int64_t now, keep_err *err);
/* Tokens of user (all users when NULL), newest first. fn returns non-zero to stop. */
int idx_tokens_list(idx_store *s, const char *user,
                    int (*fn)(void *ud, const idx_token_info *t), void *ud, keep_err *err);

/* ---- sessions --------------------------------------------------------------------------- */

int idx_session_add(idx_store *s, const char *hash, const char *user, const char *csrf,
                    int64_t now, int64_t expires_at, keep_err *err);
/* The user and CSRF token of the unexpired session with this hash.
 * KEEP_ERR_NOTFOUND when none. Caller frees both with keep_free. */
int idx_session_find(idx_store *s, const char *hash, int64_t now, char **user, char **csrf,
                     keep_err *err);
int idx_session_remove(idx_store *s, const char *hash, keep_err *err);
/* Ends every session of a user (password changed, account removed). */
int idx_sessions_remove_user(idx_store *s, const char *user, keep_err *err);
/* Drops expired sessions. */
int idx_sessions_purge(idx_store *s, int64_t now, keep_err *err);

/* ---- drop folders ----------------------------------------------------------------------- */

/* path as given (absolute); KEEP_ERR_USAGE when it is already a drop folder. */
int idx_folder_add(idx_store *s, const char *path, const char *collection, int64_t *id,
                   keep_err *err);
int idx_folder_remove(idx_store *s, int64_t id, keep_err *err);
int idx_folders_list(idx_store *s,
                     int (*fn)(void *ud, int64_t id, const char *path, const char *collection),
                     void *ud, keep_err *err);

/* ---- documents and access --------------------------------------------------------------- */

/* Calls fn once with document id (chunks counted). KEEP_ERR_NOTFOUND when none. */
int idx_doc_get(idx_store *s, int64_t id, int (*fn)(void *ud, const idx_doc_info *d), void *ud,
                keep_err *err);
/* The id of the top-level document stored under (collection, path).
 * KEEP_ERR_NOTFOUND when none. */
int idx_doc_find(idx_store *s, const char *collection, const char *path, int64_t *id,
                 keep_err *err);
/* The whole extracted text of a document. Caller frees *text with keep_free. */
int idx_doc_text(idx_store *s, int64_t id, char **text, size_t *len, keep_err *err);
/* Counts for monitoring. */
typedef struct idx_counts {
    int64_t docs_indexed, docs_failed, docs_skipped, chunks;
} idx_counts;
int idx_store_counts(idx_store *s, idx_counts *c, keep_err *err);

/* Each collection named by a document or a grant, with its number of
 * top-level documents (0 for a collection only granted), ordered by name. */
int idx_collections_list(idx_store *s, int (*fn)(void *ud, const char *collection, int64_t docs),
                         void *ud, keep_err *err);

/* 1 when p may read documents of collection (the rule of idx.h's access
 * control: admins read everything, others what their groups were granted).
 * Defined in access.c, which owns the principal. */
int idx_principal_may_read(const idx_principal *p, const char *collection);

#endif
