/* audit.h — the audit log of keep.db: who searched, asked, viewed,
 * downloaded, uploaded, deleted, logged in or changed access, when, from
 * where, with which query and which documents were returned and cited.
 * Never document text.
 *
 * Append-only and tamper-evident: each row stores a BLAKE2b-256 hash over
 * the previous row's hash and its own fields, so changing, removing or
 * inserting a row breaks the chain from that row on (idx_audit_verify finds
 * the first broken row). Triggers refuse UPDATE and DELETE; the only rows
 * ever deleted are the oldest ones, by retention (idx_audit_prune), which
 * first moves the anchor (the hash of the last pruned row) so the rows left
 * still verify. Times are seconds since the epoch. */
#ifndef KEEP_IDX_AUDIT_H
#define KEEP_IDX_AUDIT_H

#include <stdint.h>

#include "idx.h"

/* Caps on what one row stores (longer strings are cut at a UTF-8 boundary). */
#define IDX_AUDIT_MAX_TEXT 4096
#define IDX_AUDIT_MAX_IDS 8192 /* bytes of a doc-id list */

typedef struct idx_audit_entry {
    int64_t at;           /* 0: now */
    const char *user;     /* the account acting (token owner, SSO user); "" when none */
    const char *via;      /* "session", "token", "proxy", "cli" or "" */
    const char *remote;   /* client address */
    const char *action;   /* "search", "ask", "chat", "view", "download", "upload", ... */
    const char *target;   /* what was acted on (document id, user, group, ...); may be NULL */
    const char *query;    /* the query or question; may be NULL */
    const char *returned; /* document ids returned, comma-separated; may be NULL */
    const char *cited;    /* document ids cited by an answer; may be NULL */
    int status;           /* HTTP status (0 for none) */
} idx_audit_entry;

/* Appends one row (one short write transaction). *id (may be NULL) receives
 * the row's id. */
int idx_audit_append(idx_store *s, const idx_audit_entry *e, int64_t *id, keep_err *err);

typedef struct idx_audit_filter {
    const char *user, *action; /* exact matches; NULL or "": any */
    int64_t since, until;      /* at >= since, at < until; 0: open */
    int64_t before_id;         /* rows with id < before_id (paging); 0: from the newest */
    size_t limit;              /* 0: 100; capped at 10000 */
} idx_audit_filter;

/* Rows matching f, newest first. Strings passed to fn live until it returns;
 * fn returns non-zero to stop. */
int idx_audit_list(idx_store *s, const idx_audit_filter *f,
                   int (*fn)(void *ud, int64_t id, const idx_audit_entry *e), void *ud,
                   keep_err *err);

typedef struct idx_audit_check {
    int64_t rows;          /* rows checked */
    int64_t first_id;      /* first row kept (0 when none) */
    int64_t pruned_id;     /* rows up to this id were pruned by retention */
    int64_t bad_id;        /* first broken row; 0 when the chain holds */
    char reason[128];      /* why bad_id is broken */
} idx_audit_check;

/* Recomputes the chain from the anchor. KEEP_OK whether or not the chain
 * holds (c->bad_id says); an error only when the store fails. */
int idx_audit_verify(idx_store *s, idx_audit_check *c, keep_err *err);

/* Retention: deletes the rows older than cutoff (seconds) — the oldest rows
 * up to the last one with at < cutoff — after moving the anchor to the last
 * deleted row's hash. *pruned (may be NULL) receives the count. */
int idx_audit_prune(idx_store *s, int64_t cutoff, int64_t *pruned, keep_err *err);

/* A time filter value: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" (UTC) or seconds
 * since the epoch into *out; with end_of_day, a bare day means its end (for
 * an exclusive upper bound). -1 when s is none of these. */
int idx_audit_parse_time(const char *s, int end_of_day, int64_t *out);

/* One row as the JSON object the CLI and the admin API print: id, time
 * (ISO 8601 UTC), at, user, via, remote, action, target, query, returned and
 * cited (arrays of document ids), status. Caller frees with cJSON_Delete;
 * NULL when out of memory. */
struct cJSON *idx_audit_entry_json(int64_t id, const idx_audit_entry *e);

/* Rows in the log (for status pages). */
int idx_audit_count(idx_store *s, int64_t *n, keep_err *err);

#endif
