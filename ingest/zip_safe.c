/* zip_safe.c — bounded zip member access over libzip (see zip_safe.h). */
#include "zip_safe.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

typedef struct zentry {
    char *name;
    zip_uint64_t index;
} zentry;

struct ingest_zip {
    zip_t *za;
    zentry *entries; /* safe names only, sorted case-insensitively */
    size_t n_entries;
    size_t read_total; /* decompressed bytes handed out so far */
    ingest_limits lim;
};

static int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int name_cmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = ascii_lower((unsigned char)*a), cb = ascii_lower((unsigned char)*b);
        if (ca != cb || !ca)
            return ca - cb;
    }
}

static int entry_cmp(const void *a, const void *b)
{
    const zentry *x = a, *y = b;
    int c = name_cmp(x->name, y->name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Refuses what could name a file outside a extraction folder or confuse a
 * lookup: absolute paths, drive letters, backslashes, ".." components. */
static int name_is_safe(const char *s)
{
    if (!s || !*s || s[0] == '/')
        return 0;
    if (((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z') && s[1] == ':')
        return 0;
    if (strchr(s, '\\'))
        return 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        if (!e)
            break;
        p = e + 1;
    }
    return 1;
}

static int map_zip_error(int ze, keep_err *err, const char *what)
{
    switch (ze) {
    case ZIP_ER_NOZIP:
        return keep_err_set(err, KEEP_ERR_PARSE, "%s: not a zip archive", what);
    case ZIP_ER_MEMORY:
        return keep_err_set(err, KEEP_ERR_NOMEM, "%s: out of memory", what);
    case ZIP_ER_ENCRNOTSUPP:
    case ZIP_ER_NOPASSWD:
    case ZIP_ER_WRONGPASSWD:
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "%s: encrypted (password-protected)",
                            what);
    case ZIP_ER_COMPNOTSUPP:
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "%s: unsupported compression method",
                            what);
    case ZIP_ER_CRC:
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: CRC mismatch", what);
    default: {
        zip_error_t e;
        zip_error_init_with_code(&e, ze);
        int rc = keep_err_set(err, KEEP_ERR_CORRUPT, "%s: damaged zip (%s)", what,
                              zip_error_strerror(&e));
        zip_error_fini(&e);
        return rc;
    }
    }
}

int ingest__zip_open(const char *data, size_t len, const ingest_limits *lim, ingest_zip **out,
                     keep_err *err)
{
    *out = NULL;
    static const unsigned char cfb[8] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    if (len >= 8 && memcmp(data, cfb, 8) == 0)
        /* encrypted OOXML is an OLE compound file holding the real zip */
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED,
                            "password-protected or legacy binary Office file (not a zip)");
    if (len < 22)
        return keep_err_set(err, KEEP_ERR_PARSE, "not a zip archive (%zu bytes)", len);

    ingest_zip *z = keep_calloc(1, sizeof *z);
    if (!z)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    if (lim)
        z->lim = *lim;
    else
        ingest_limits_default(&z->lim);

    int rc = KEEP_OK;
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    if (!src) {
        rc = map_zip_error(zip_error_code_zip(&ze), err, "zip");
        zip_error_fini(&ze);
        goto fail;
    }
    z->za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    if (!z->za) {
        zip_source_free(src); /* still ours when the open failed */
        rc = map_zip_error(zip_error_code_zip(&ze), err, "zip");
        zip_error_fini(&ze);
        goto fail;
    }
    zip_error_fini(&ze);

    zip_int64_t n = zip_get_num_entries(z->za, 0);
    if (n < 0) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "zip: unreadable directory");
        goto fail;
    }
    if ((zip_uint64_t)n > INGEST_ZIP_MAX_ENTRIES) {
        rc = keep_err_set(err, KEEP_ERR_TOOBIG, "zip holds %lld entries (limit %u)",
                          (long long)n, INGEST_ZIP_MAX_ENTRIES);
        goto fail;
    }
    if (n) {
        z->entries = keep_calloc((size_t)n, sizeof *z->entries);
        if (!z->entries) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(z->za, (zip_uint64_t)i, 0);
        if (!name_is_safe(name))
            continue; /* never exposed: a lookup cannot reach it */
        char *copy = keep_strdup(name);
        if (!copy) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
            goto fail;
        }
        z->entries[z->n_entries].name = copy;
        z->entries[z->n_entries].index = (zip_uint64_t)i;
        z->n_entries++;
    }
    if (z->n_entries)
        qsort(z->entries, z->n_entries, sizeof *z->entries, entry_cmp);
    *out = z;
    return KEEP_OK;
fail:
    ingest__zip_close(z);
    return rc;
}

void ingest__zip_close(ingest_zip *z)
{
    if (!z)
        return;
    if (z->za)
        zip_discard(z->za);
    for (size_t i = 0; i < z->n_entries; i++)
        keep_free(z->entries[i].name);
    keep_free(z->entries);
    keep_free(z);
}

/* First entry of that name (duplicates: the lowest index wins). */
static const zentry *find(const ingest_zip *z, const char *name)
{
    size_t lo = 0, hi = z->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (name_cmp(z->entries[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < z->n_entries && name_cmp(z->entries[lo].name, name) == 0)
        return &z->entries[lo];
    return NULL;
}

int ingest__zip_has(const ingest_zip *z, const char *name)
{
    return z && name && find(z, name) != NULL;
}

int ingest__zip_read(ingest_zip *z, const char *name, char **out, size_t *len, keep_err *err)
{
    *out = NULL;
    *len = 0;
    const zentry *e = find(z, name);
    if (!e)
        return keep_err_set(err, KEEP_ERR_NOTFOUND, "zip member %s is missing", name);

    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z->za, e->index, 0, &st) != 0)
        return map_zip_error(zip_error_code_zip(zip_get_error(z->za)), err, name);
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED,
                            "zip member %s is encrypted (password-protected)", name);
    if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
        return keep_err_set(err, KEEP_ERR_CORRUPT, "zip member %s has no sizes", name);

    /* the member cap, lowered to what is left of the document budget;
     * a limit of 0 means none */
    size_t cap = z->lim.max_member_bytes ? z->lim.max_member_bytes : SIZE_MAX - 1;
    if (z->lim.max_unzip_bytes) {
        size_t left = z->lim.max_unzip_bytes > z->read_total
                          ? z->lim.max_unzip_bytes - z->read_total
                          : 0;
        if (left < cap)
            cap = left;
    }
    if (cap > SIZE_MAX - 1)
        cap = SIZE_MAX - 1;

    /* declared sizes first: cheap refusals before inflating anything */
    if (st.size > (zip_uint64_t)cap)
        return keep_err_set(err, KEEP_ERR_TOOBIG,
                            "zip member %s declares %llu bytes (limit %zu)", name,
                            (unsigned long long)st.size, cap);
    unsigned ratio = z->lim.max_zip_ratio;
    if (ratio && st.size > INGEST_ZIP_RATIO_FLOOR &&
        st.size / (st.comp_size ? st.comp_size : 1) > ratio)
        return keep_err_set(err, KEEP_ERR_TOOBIG,
                            "zip member %s inflates %llu:1 (limit %u:1)", name,
                            (unsigned long long)(st.size / (st.comp_size ? st.comp_size : 1)),
                            ratio);

    size_t declared = (size_t)st.size;
    char *buf = keep_malloc(declared + 1);
    if (!buf)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory reading %s", name);
    int rc = KEEP_OK;
    zip_file_t *f = zip_fopen_index(z->za, e->index, 0);
    if (!f) {
        rc = map_zip_error(zip_error_code_zip(zip_get_error(z->za)), err, name);
        goto fail;
    }
    /* Inflate exactly what was declared, then probe one byte more: a member
     * longer than its header says is refused before it can grow. */
    size_t got = 0;
    while (got < declared) {
        zip_int64_t r = zip_fread(f, buf + got, declared - got);
        if (r < 0) {
            rc = map_zip_error(zip_error_code_zip(zip_file_get_error(f)), err, name);
            goto fail;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got < declared) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "zip member %s is truncated (%zu of %zu bytes)",
                          name, got, declared);
        goto fail;
    }
    char probe;
    zip_int64_t extra = zip_fread(f, &probe, 1);
    if (extra != 0) {
        if (extra > 0)
            rc = keep_err_set(err, KEEP_ERR_CORRUPT,
                              "zip member %s is larger than its declared %zu bytes", name,
                              declared);
        else
            rc = map_zip_error(zip_error_code_zip(zip_file_get_error(f)), err, name);
        goto fail;
    }
    zip_fclose(f);
    f = NULL;
    buf[got] = '\0';
    z->read_total += got;
    *out = buf;
    *len = got;
    return KEEP_OK;
fail:
    if (f)
        zip_fclose(f);
    keep_free(buf);
    return rc;
}

void ingest__zip_names_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        keep_free(names[i]);
    keep_free(names);
}

typedef struct numbered {
    unsigned long num;
    char *name;
} numbered;

static int numbered_cmp(const void *a, const void *b)
{
    const numbered *x = a, *y = b;
    return x->num < y->num ? -1 : x->num > y->num;
}

int ingest__zip_list_numbered(const ingest_zip *z, const char *prefix, const char *suffix,
                              char ***names, size_t *n, keep_err *err)
{
    *names = NULL;
    *n = 0;
    size_t pl = strlen(prefix), sl = strlen(suffix), count = 0;
    numbered *list = NULL;
    int rc = KEEP_OK;
    if (z->n_entries) {
        list = keep_calloc(z->n_entries, sizeof *list);
        if (!list)
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < z->n_entries; i++) {
        const char *s = z->entries[i].name;
        size_t l = strlen(s);
        if (l <= pl + sl || strncasecmp(s, prefix, pl) != 0 ||
            name_cmp(s + l - sl, suffix) != 0)
            continue;
        unsigned long num = 0;
        size_t j = pl;
        for (; j < l - sl; j++) {
            if (s[j] < '0' || s[j] > '9' || num > 100000000UL)
                break;
            num = num * 10 + (unsigned long)(s[j] - '0');
        }
        if (j != l - sl)
            continue;
        if (count && name_cmp(list[count - 1].name, s) == 0)
            continue; /* duplicate entry: sorted, so adjacent */
        list[count].num = num;
        list[count].name = keep_strdup(s);
        if (!list[count].name) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
            goto out;
        }
        count++;
    }
    qsort(list, count, sizeof *list, numbered_cmp);
    if (count) {
        *names = keep_calloc(count, sizeof **names);
        if (!*names) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < count; i++) {
            (*names)[i] = list[i].name;
            list[i].name = NULL;
        }
        *n = count;
    }
out:
    for (size_t i = 0; i < count; i++)
        keep_free(list[i].name);
    keep_free(list);
    return rc;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 32;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

char *ingest__zip_resolve(const char *base_part, const char *target)
{
    if (!target || !*target)
        return NULL;
    /* URLs (hyperlinks, external images) never name a member */
    for (const char *p = target; *p && *p != '/'; p++)
        if (*p == ':')
            return NULL;
    keep_buf path = {0};
    if (target[0] == '/') {
        target++;
    } else if (base_part) {
        const char *slash = strrchr(base_part, '/');
        if (slash && keep_buf_append(&path, base_part, (size_t)(slash - base_part) + 1))
            goto fail;
    }
    /* percent-decoding: OPC targets escape spaces and non-ASCII */
    for (const char *p = target; *p && *p != '#' && *p != '?'; p++) {
        int c = (unsigned char)*p;
        if (c == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            c = hexval(p[1]) * 16 + hexval(p[2]);
            p += 2;
            if (c == 0 || c == '/' || c == '\\')
                goto fail;
        }
        if (keep_buf_putc(&path, (char)c))
            goto fail;
    }
    if (!path.data)
        goto fail;
    /* normalise "." and ".." in place; ".." above the root is refused */
    char *s = path.data, *w = s;
    const char *r = s;
    while (*r) {
        const char *e = strchr(r, '/');
        size_t l = e ? (size_t)(e - r) : strlen(r);
        if (l == 0 || (l == 1 && r[0] == '.')) {
            /* skip */
        } else if (l == 2 && r[0] == '.' && r[1] == '.') {
            if (w == s)
                goto fail;
            w--; /* drop the trailing '/' then the last component */
            while (w > s && w[-1] != '/')
                w--;
        } else {
            memmove(w, r, l);
            w += l;
            if (e)
                *w++ = '/';
        }
        if (!e)
            break;
        r = e + 1;
    }
    *w = '\0';
    path.len = (size_t)(w - s);
    if (!name_is_safe(path.data))
        goto fail;
    return path.data;
fail:
    keep_buf_free(&path);
    return NULL;
}
