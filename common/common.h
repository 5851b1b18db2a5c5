/* common.h — what every stage of Keep shares: the status codes, the error message
 * a caller can print, the allocation wrapper (so tests can inject failures),
 * overflow-checked size arithmetic and a growable byte buffer.
 *
 * Invariant: every function of every stage that can fail returns a keep_status
 * (KEEP_OK == 0) and, when given a non-NULL keep_err, fills it with one line a
 * user can read. Nothing here aborts or exits on bad input. */
#ifndef KEEP_COMMON_H
#define KEEP_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* One list, so the enum and keep_strerror() never drift apart (libuv's
 * UV_ERRNO_MAP). Append only: the numbers are never reused. */
#define KEEP_STATUS_MAP(X)                                       \
    X(OK, "success")                                             \
    X(ERR_NOMEM, "out of memory")                                \
    X(ERR_IO, "input/output error")                              \
    X(ERR_USAGE, "invalid argument")                             \
    X(ERR_PARSE, "malformed input")                              \
    X(ERR_UNSUPPORTED, "unsupported format")                     \
    X(ERR_TOOBIG, "input exceeds a configured limit")            \
    X(ERR_CORRUPT, "corrupt data")                               \
    X(ERR_DB, "database error")                                  \
    X(ERR_NOTFOUND, "not found")                                 \
    X(ERR_DENIED, "permission denied")                           \
    X(ERR_VERSION, "incompatible version")                       \
    X(ERR_CANCELLED, "cancelled")                                \
    X(ERR_ENCODING, "invalid text encoding")                     \
    X(ERR_INTERNAL, "internal error")

typedef enum {
#define KEEP_STATUS_ENUM(name, text) KEEP_##name,
    KEEP_STATUS_MAP(KEEP_STATUS_ENUM)
#undef KEEP_STATUS_ENUM
        KEEP_STATUS_COUNT
} keep_status;

const char *keep_strerror(int status);

/* A one-line message for the user; fixed size so filling it never fails. */
typedef struct keep_err {
    int code;
    char msg[512];
} keep_err;

/* Fills err (if non-NULL) and returns code, so callers write
 * `return keep_err_set(err, KEEP_ERR_PARSE, "bad header at %zu", off);` */
int keep_err_set(keep_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void keep_err_clear(keep_err *err);

/* ---- allocation ----------------------------------------------------------
 * All heap memory goes through these so that tests can make the Nth
 * allocation fail (keep_alloc_fail_after). keep_free(NULL) is a no-op. */
void *keep_malloc(size_t n);
void *keep_calloc(size_t count, size_t size);
void *keep_realloc(void *p, size_t n);
/* Grows *p to hold count elements of size bytes; NULL on overflow or OOM
 * (the old block stays valid and owned by the caller). */
void *keep_reallocarray(void *p, size_t count, size_t size);
void keep_free(void *p);
/* Caller owns the copy; NULL on OOM or when s is NULL. */
char *keep_strdup(const char *s);
char *keep_strndup(const char *s, size_t n);
/* Test hook: the allocation after `n` more succeed fails; -1 disables. */
void keep_alloc_fail_after(long n);

/* ---- overflow-checked arithmetic: return 0 and set *out, or 1 on overflow */
static inline int keep_add_overflow(size_t a, size_t b, size_t *out)
{
    return __builtin_add_overflow(a, b, out);
}
static inline int keep_mul_overflow(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

/* ---- growable buffer ------------------------------------------------------
 * Always NUL-terminated when data != NULL. Zero-initialise ({0}) before use. */
typedef struct keep_buf {
    char *data;
    size_t len;
    size_t cap;
} keep_buf;

int keep_buf_reserve(keep_buf *b, size_t extra);
int keep_buf_append(keep_buf *b, const void *p, size_t n);
int keep_buf_puts(keep_buf *b, const char *s);
int keep_buf_putc(keep_buf *b, char c);
int keep_buf_printf(keep_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int keep_buf_vprintf(keep_buf *b, const char *fmt, va_list ap);
void keep_buf_reset(keep_buf *b); /* len = 0, keeps the memory */
void keep_buf_free(keep_buf *b);
/* Hands the storage to the caller (who frees it with keep_free); b is reset.
 * Returns an empty string rather than NULL when b was empty (NULL on OOM). */
char *keep_buf_take(keep_buf *b);

/* ---- UTF-8 ----------------------------------------------------------------- */
/* Returns 1 when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates). */
int keep_utf8_valid(const char *s, size_t n);
/* Number of code points in well-formed s[0..n). */
size_t keep_utf8_count(const char *s, size_t n);
/* Largest m <= n such that s[0..m) does not end inside a multi-byte sequence. */
size_t keep_utf8_floor(const char *s, size_t n);

/* ---- files ----------------------------------------------------------------- */
/* Reads a whole regular file of at most max_bytes. Caller frees *out with
 * keep_free. The buffer has one extra NUL byte after *len. */
int keep_read_file(const char *path, size_t max_bytes, char **out, size_t *len, keep_err *err);
/* Same, but a symbolic link as the last path component is refused rather than
 * followed (documents from watched folders must not lead out of them). */
int keep_read_file_nofollow(const char *path, size_t max_bytes, char **out, size_t *len,
                            keep_err *err);

/* Monotonic clock in milliseconds, for timings shown to users. */
double keep_now_ms(void);

#endif
