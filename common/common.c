/* common.c — status strings, error messages, the allocation wrapper, keep_buf,
 * UTF-8 helpers and whole-file reads shared by every stage. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const status_text[] = {
#define KEEP_STATUS_TEXT(name, text) text,
    KEEP_STATUS_MAP(KEEP_STATUS_TEXT)
#undef KEEP_STATUS_TEXT
};

const char *keep_strerror(int status)
{
    if (status < 0 || status >= KEEP_STATUS_COUNT)
        return "unknown error";
    return status_text[status];
}

int keep_err_set(keep_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void keep_err_clear(keep_err *err)
{
    if (err) {
        err->code = KEEP_OK;
        err->msg[0] = '\0';
    }
}

/* ---- allocation ---------------------------------------------------------- */

/* Not thread-safe by design: failure injection is for single-threaded tests. */
static long alloc_fail_countdown = -1;

void keep_alloc_fail_after(long n) { alloc_fail_countdown = n; }

static int alloc_should_fail(void)
{
    if (alloc_fail_countdown < 0)
        return 0;
    if (alloc_fail_countdown == 0)
        return 1;
    alloc_fail_countdown--;
    return 0;
}

void *keep_malloc(size_t n)
{
    if (alloc_should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *keep_calloc(size_t count, size_t size)
{
    if (alloc_should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *keep_realloc(void *p, size_t n)
{
    if (alloc_should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void *keep_reallocarray(void *p, size_t count, size_t size)
{
    size_t n;
    if (keep_mul_overflow(count, size, &n))
        return NULL;
    return keep_realloc(p, n);
}

void keep_free(void *p) { free(p); }

char *keep_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = keep_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *keep_strdup(const char *s) { return s ? keep_strndup(s, strlen(s)) : NULL; }

/* ---- keep_buf ------------------------------------------------------------ */

int keep_buf_reserve(keep_buf *b, size_t extra)
{
    size_t need;
    if (keep_add_overflow(b->len, extra, &need) || keep_add_overflow(need, 1, &need))
        return KEEP_ERR_NOMEM;
    if (need <= b->cap)
        return KEEP_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *d = keep_realloc(b->data, cap);
    if (!d)
        return KEEP_ERR_NOMEM;
    b->data = d;
    b->cap = cap;
    return KEEP_OK;
}

int keep_buf_append(keep_buf *b, const void *p, size_t n)
{
    if (keep_buf_reserve(b, n))
        return KEEP_ERR_NOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return KEEP_OK;
}

int keep_buf_puts(keep_buf *b, const char *s) { return keep_buf_append(b, s, strlen(s)); }

int keep_buf_putc(keep_buf *b, char c) { return keep_buf_append(b, &c, 1); }

int keep_buf_vprintf(keep_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return KEEP_ERR_INTERNAL;
    if (keep_buf_reserve(b, (size_t)n))
        return KEEP_ERR_NOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return KEEP_OK;
}

int keep_buf_printf(keep_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = keep_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void keep_buf_reset(keep_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void keep_buf_free(keep_buf *b)
{
    keep_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *keep_buf_take(keep_buf *b)
{
    char *d = b->data;
    if (!d)
        d = keep_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

/* ---- UTF-8 ----------------------------------------------------------------- */

/* Length of the well-formed sequence at s (max n bytes), 0 when malformed. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80)
            return 0;
        return 2;
    }
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0;
        if (c == 0xF4 && s[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

int keep_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq_len(p + i, n - i);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

size_t keep_utf8_count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

size_t keep_utf8_floor(const char *s, size_t n)
{
    size_t i = n;
    /* step back over at most 3 continuation bytes to the lead byte */
    while (i > 0 && n - i < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return n; /* only continuation bytes: no lead byte to cut at */
    unsigned lead = (unsigned char)s[i - 1];
    size_t want = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    size_t have = n - (i - 1);
    return have >= want ? n : i - 1;
}

/* ---- files ----------------------------------------------------------------- */

static int read_file(const char *path, int extra_flags, size_t max_bytes, char **out, size_t *len,
                     keep_err *err)
{
    int rc = KEEP_ERR_IO;
    char *data = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | extra_flags);
    if (fd < 0 && errno == ELOOP && (extra_flags & O_NOFOLLOW))
        return keep_err_set(err, KEEP_ERR_DENIED, "is a symbolic link (not followed)");
    if (fd < 0)
        return keep_err_set(err, errno == ENOENT ? KEEP_ERR_NOTFOUND : KEEP_ERR_IO,
                            "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        keep_err_set(err, KEEP_ERR_IO, "cannot stat: %s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = keep_err_set(err, KEEP_ERR_UNSUPPORTED, "not a regular file");
        goto fail;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        rc = keep_err_set(err, KEEP_ERR_TOOBIG, "file is %lld bytes, over the limit of %zu",
                          (long long)st.st_size, max_bytes);
        goto fail;
    }
    size_t size = (size_t)st.st_size;
    data = keep_malloc(size + 1);
    if (!data) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory reading %zu bytes", size);
        goto fail;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            keep_err_set(err, KEEP_ERR_IO, "read failed: %s", strerror(errno));
            goto fail;
        }
        if (r == 0)
            break; /* file shrank while reading: take what is there */
        got += (size_t)r;
    }
    data[got] = '\0';
    close(fd);
    *out = data;
    *len = got;
    return KEEP_OK;
fail:
    keep_free(data);
    close(fd);
    return rc;
}

int keep_read_file(const char *path, size_t max_bytes, char **out, size_t *len, keep_err *err)
{
    return read_file(path, 0, max_bytes, out, len, err);
}

int keep_read_file_nofollow(const char *path, size_t max_bytes, char **out, size_t *len,
                            keep_err *err)
{
    return read_file(path, O_NOFOLLOW, max_bytes, out, len, err);
}

double keep_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
