/* encoding.c — charset detection (BOM, NUL patterns, uchardet) and conversion
 * to UTF-8 with glibc iconv. See encoding.h for the policy on bad input. */
#include "encoding.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uchardet/uchardet.h>

/* uchardet reaches its verdict long before this; more only costs time. */
#define DETECT_SAMPLE ((size_t)1 << 20)
/* NUL-pattern heuristics look at the start of the file only. */
#define PATTERN_SAMPLE ((size_t)8192)

static void set_charset(char *dst, size_t cap, const char *name)
{
    if (dst && cap)
        snprintf(dst, cap, "%s", name);
}

/* ---- evidence ------------------------------------------------------------- */

/* Charset named by a byte-order mark, with the BOM's length in *skip. UTF-32LE
 * is tested before UTF-16LE because its BOM starts with the UTF-16LE one. */
static const char *bom_charset(const unsigned char *p, size_t len, size_t *skip)
{
    if (len >= 4 && p[0] == 0xFF && p[1] == 0xFE && p[2] == 0 && p[3] == 0) {
        *skip = 4;
        return "UTF-32LE";
    }
    if (len >= 4 && p[0] == 0 && p[1] == 0 && p[2] == 0xFE && p[3] == 0xFF) {
        *skip = 4;
        return "UTF-32BE";
    }
    if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        *skip = 3;
        return "UTF-8";
    }
    if (len >= 2 && p[0] == 0xFF && p[1] == 0xFE) {
        *skip = 2;
        return "UTF-16LE";
    }
    if (len >= 2 && p[0] == 0xFE && p[1] == 0xFF) {
        *skip = 2;
        return "UTF-16BE";
    }
    *skip = 0;
    return NULL;
}

/* UTF-32/UTF-16 without a BOM: text in these encodings has NUL bytes in
 * fixed positions of each code unit (the high bytes of Latin text), which
 * 8-bit text and most binary formats do not. */
static const char *nul_pattern_charset(const unsigned char *p, size_t len)
{
    size_t n = len < PATTERN_SAMPLE ? len : PATTERN_SAMPLE;
    if (n >= 8) {
        size_t units = n / 4, le = 0, be = 0;
        for (size_t i = 0; i < units; i++) {
            const unsigned char *u = p + 4 * i;
            if (u[2] == 0 && u[3] == 0 && (u[0] || u[1]))
                le++;
            if (u[0] == 0 && u[1] == 0 && (u[2] || u[3]))
                be++;
        }
        if (le * 100 >= units * 95)
            return "UTF-32LE";
        if (be * 100 >= units * 95)
            return "UTF-32BE";
    }
    if (n >= 4) {
        size_t units = n / 2, le = 0, be = 0;
        for (size_t i = 0; i < units; i++) {
            const unsigned char *u = p + 2 * i;
            if (u[1] == 0 && u[0])
                le++;
            else if (u[0] == 0 && u[1])
                be++;
        }
        if (le * 100 >= units * 30 && be * 100 < units * 5)
            return "UTF-16LE";
        if (be * 100 >= units * 30 && le * 100 < units * 5)
            return "UTF-16BE";
    }
    return NULL;
}

/* Control bytes that real text files carry: tab, line ends, form feed,
 * backspace (man pages), escape (ISO-2022, terminal logs), SUB (DOS EOF). */
static int benign_control(unsigned char c)
{
    return c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '\b' ||
           c == 0x1B || c == 0x1A;
}

int ingest__looks_binary(const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t skip;
    if (bom_charset(p, len, &skip) && skip != 3)
        return 0;
    if (nul_pattern_charset(p, len))
        return 0;
    size_t controls = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == 0)
            return 1;
        if (p[i] < 0x20 && !benign_control(p[i]))
            controls++;
    }
    /* a few stray control bytes happen in text; one in fifty does not */
    return controls * 50 > len;
}

/* ---- conversion ------------------------------------------------------------ */

/* Bytes to skip after an invalid sequence: a whole code unit, so UTF-16/32
 * stay aligned. */
static size_t unit_size(const char *charset)
{
    if (!strncasecmp(charset, "UTF-32", 6) || !strncasecmp(charset, "UCS-4", 5))
        return 4;
    if (!strncasecmp(charset, "UTF-16", 6) || !strncasecmp(charset, "UCS-2", 5))
        return 2;
    return 1;
}

static int grow(char **buf, size_t *cap, size_t used, size_t max_out)
{
    size_t ncap;
    if (keep_mul_overflow(*cap, 2, &ncap))
        return KEEP_ERR_TOOBIG;
    if (max_out && ncap > max_out + 16)
        ncap = max_out + 16;
    if (ncap <= used + 4)
        return KEEP_ERR_TOOBIG;
    char *n = keep_realloc(*buf, ncap);
    if (!n)
        return KEEP_ERR_NOMEM;
    *buf = n;
    *cap = ncap;
    return KEEP_OK;
}

/* Rewrites buf in place so it is well-formed UTF-8 without NUL or a leading
 * U+FEFF; invalid bytes become U+FFFD (which may lengthen it, hence the
 * reallocation). Returns the new length through *len. */
static int sanitize_utf8(char **buf, size_t *len, size_t *cap)
{
    static const char fffd[] = "\xEF\xBF\xBD";
    unsigned char *p = (unsigned char *)*buf;
    size_t n = *len;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        memmove(p, p + 3, n - 3);
        n -= 3;
    }
    if (keep_utf8_valid((char *)p, n) && !memchr(p, 0, n)) {
        *len = n;
        (*buf)[n] = '\0';
        return KEEP_OK;
    }
    keep_buf b = {0};
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t l = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        int rc;
        if (c == 0) {
            i++;
            continue;
        }
        if (l > n - i || !keep_utf8_valid((char *)p + i, l)) {
            rc = keep_buf_append(&b, fffd, 3);
            i++;
        } else {
            rc = keep_buf_append(&b, p + i, l);
            i += l;
        }
        if (rc) {
            keep_buf_free(&b);
            return rc;
        }
    }
    char *data = keep_buf_take(&b);
    if (!data)
        return KEEP_ERR_NOMEM;
    keep_free(*buf);
    *buf = data;
    *len = strlen(data);
    *cap = *len + 1;
    return KEEP_OK;
}

/* iconv from `from` to UTF-8. Invalid input becomes U+FFFD. Returns
 * KEEP_ERR_UNSUPPORTED when iconv does not know the charset. */
static int convert(const char *data, size_t len, const char *from, size_t max_out, char **out,
                   size_t *out_len, keep_err *err)
{
    static const char fffd[] = "\xEF\xBF\xBD";
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1)
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "unknown charset %s", from);
    size_t skip = unit_size(from);
    size_t cap = len + len / 2 + 64, used = 0;
    if (max_out && cap > max_out + 16)
        cap = max_out + 16;
    char *buf = keep_malloc(cap);
    int rc = KEEP_OK;
    if (!buf) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory converting %s", from);
        goto done;
    }
    char *in = (char *)data;
    size_t in_left = len;
    int flushing = 0;
    for (;;) {
        char *op = buf + used;
        size_t o_left = cap - used - 1; /* room for the final NUL */
        size_t r = flushing ? iconv(cd, NULL, NULL, &op, &o_left)
                            : iconv(cd, &in, &in_left, &op, &o_left);
        int e = errno;
        used = (size_t)(op - buf);
        if (max_out && used > max_out) {
            rc = keep_err_set(err, KEEP_ERR_TOOBIG, "text exceeds %zu bytes after conversion",
                              max_out);
            goto done;
        }
        if (r != (size_t)-1) {
            if (flushing)
                break;
            flushing = 1; /* stateful encodings (ISO-2022-JP) may owe a reset */
            continue;
        }
        if (e == E2BIG) {
            if ((rc = grow(&buf, &cap, used, max_out))) {
                rc = keep_err_set(err, rc, rc == KEEP_ERR_TOOBIG
                                               ? "text exceeds the size limit after conversion"
                                               : "out of memory converting text");
                goto done;
            }
            continue;
        }
        if (e == EILSEQ || e == EINVAL) {
            /* EINVAL: the input ends inside a sequence; replace and finish */
            if (cap - used - 1 < 3 && (rc = grow(&buf, &cap, used, max_out))) {
                rc = keep_err_set(err, rc, rc == KEEP_ERR_TOOBIG
                                               ? "text exceeds the size limit after conversion"
                                               : "out of memory converting text");
                goto done;
            }
            memcpy(buf + used, fffd, 3);
            used += 3;
            size_t s = e == EINVAL || skip > in_left ? in_left : skip;
            in += s;
            in_left -= s;
            iconv(cd, NULL, NULL, NULL, NULL);
            continue;
        }
        rc = keep_err_set(err, KEEP_ERR_ENCODING, "conversion from %s failed", from);
        goto done;
    }
    if ((rc = sanitize_utf8(&buf, &used, &cap))) {
        rc = keep_err_set(err, rc, "out of memory converting text");
        goto done;
    }
    *out = buf;
    *out_len = used;
    buf = NULL;
done:
    keep_free(buf);
    iconv_close(cd);
    return rc;
}

/* Text decoded from a guessed encoding that is mostly control characters or
 * replacement characters was binary after all. */
static int decoded_is_garbage(const char *s, size_t len)
{
    size_t bad = 0, chars = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        if ((p[i] & 0xC0) == 0x80)
            continue;
        chars++;
        if (p[i] < 0x20 && !benign_control(p[i]))
            bad++;
        else if (p[i] == 0xEF && i + 2 < len && p[i + 1] == 0xBF && p[i + 2] == 0xBD)
            bad++;
    }
    return chars >= 16 && bad * 10 > chars;
}

static int copy_utf8(const char *data, size_t len, size_t max_out, char **out, size_t *out_len,
                     keep_err *err)
{
    if (max_out && len > max_out)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "text exceeds %zu bytes", max_out);
    size_t cap = len + 1;
    char *buf = keep_malloc(cap);
    if (!buf)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory copying text");
    memcpy(buf, data, len);
    buf[len] = '\0';
    int rc = sanitize_utf8(&buf, &len, &cap);
    if (rc) {
        keep_free(buf);
        return keep_err_set(err, rc, "out of memory copying text");
    }
    *out = buf;
    *out_len = len;
    return KEEP_OK;
}

/* uchardet's verdict, or windows-1252 when it has none: the most common
 * 8-bit encoding of Western text and a superset of ISO-8859-1's printables. */
static void guess_charset(const char *data, size_t len, char *name, size_t cap)
{
    set_charset(name, cap, "WINDOWS-1252");
    uchardet_t ud = uchardet_new();
    if (!ud)
        return;
    if (uchardet_handle_data(ud, data, len < DETECT_SAMPLE ? len : DETECT_SAMPLE) == 0) {
        uchardet_data_end(ud);
        const char *cs = uchardet_get_charset(ud);
        /* "ASCII" cannot be right for bytes that failed UTF-8 validation */
        if (cs && *cs && strcasecmp(cs, "ASCII") != 0)
            set_charset(name, cap, cs);
    }
    uchardet_delete(ud);
}

int ingest_to_utf8(const char *data, size_t len, size_t max_out, char **out, size_t *out_len,
                   char *charset_out, size_t charset_cap, keep_err *err)
{
    const unsigned char *p = (const unsigned char *)data;
    *out = NULL;
    *out_len = 0;
    if (!data)
        len = 0;
    set_charset(charset_out, charset_cap, "UTF-8");

    size_t skip;
    const char *cs = bom_charset(p, len, &skip);
    int heuristic = 0;
    if (!cs) {
        cs = nul_pattern_charset(p, len);
        heuristic = cs != NULL;
    }
    if (cs && strcmp(cs, "UTF-8") == 0)
        return copy_utf8(data + skip, len - skip, max_out, out, out_len, err);
    if (cs) {
        set_charset(charset_out, charset_cap, cs);
        int rc = convert(data + skip, len - skip, cs, max_out, out, out_len, err);
        if (rc)
            return rc;
        if (heuristic && decoded_is_garbage(*out, *out_len)) {
            keep_free(*out);
            *out = NULL;
            *out_len = 0;
            return keep_err_set(err, KEEP_ERR_ENCODING, "binary data, not text");
        }
        return KEEP_OK;
    }

    if (ingest__looks_binary(data, len))
        return keep_err_set(err, KEEP_ERR_ENCODING, "binary data, not text");
    if (keep_utf8_valid(data, len))
        return copy_utf8(data, len, max_out, out, out_len, err);

    char name[64];
    guess_charset(data, len, name, sizeof name);
    int rc = convert(data, len, name, max_out, out, out_len, err);
    if (rc == KEEP_ERR_UNSUPPORTED) {
        snprintf(name, sizeof name, "WINDOWS-1252");
        rc = convert(data, len, name, max_out, out, out_len, err);
    }
    if (rc == KEEP_OK)
        set_charset(charset_out, charset_cap, name);
    return rc;
}

static int is_ascii_name(const char *cs)
{
    return !strcasecmp(cs, "us-ascii") || !strcasecmp(cs, "ascii") ||
           !strcasecmp(cs, "ANSI_X3.4-1968") || !strcasecmp(cs, "utf-8") ||
           !strcasecmp(cs, "utf8");
}

int ingest_charset_to_utf8(const char *data, size_t len, const char *charset, size_t max_out,
                           char **out, size_t *out_len, keep_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (!data)
        len = 0;
    size_t skip;
    /* a BOM is stronger evidence than a label; "UTF-8"/"ASCII" labels are so
     * often wrong on 8-bit text that detection decides when the bytes are
     * not valid UTF-8 */
    if (!charset || !*charset || is_ascii_name(charset) ||
        bom_charset((const unsigned char *)data, len, &skip)) {
        if (keep_utf8_valid(data, len))
            return copy_utf8(data, len, max_out, out, out_len, err);
        return ingest_to_utf8(data, len, max_out, out, out_len, NULL, 0, err);
    }
    keep_err e2;
    int rc = convert(data, len, charset, max_out, out, out_len, &e2);
    if (rc == KEEP_ERR_UNSUPPORTED)
        return ingest_to_utf8(data, len, max_out, out, out_len, NULL, 0, err);
    if (rc && err)
        *err = e2;
    return rc;
}
