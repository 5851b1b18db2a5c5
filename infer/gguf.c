/* gguf.c — the GGUF reader (see gguf.h). One validating pass at open turns
 * the untrusted header into a table of metadata entries and tensor
 * descriptors; afterwards every accessor is a bounds-checked lookup.
 *
 * Memory bound: every entry the reader allocates stands for at least as many
 * bytes of the file as it occupies (a key/value needs >= 13 bytes on disk, a
 * tensor descriptor >= 32, a string of a string array >= 8), so a hostile
 * header cannot make the reader allocate much more than the file's size. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ggml_types.h"

#define GGUF_MAGIC "GGUF"
#define MAX_KEY_LEN 65535u
#define MAX_ALIGNMENT (1u << 20)
/* Smallest possible on-disk size of one key/value (8-byte key length, 4-byte
 * type, 1-byte value) and of one tensor descriptor (name length, n_dims, one
 * dim, type, offset). */
#define MIN_KV_BYTES 13u
#define MIN_TENSOR_BYTES 32u

typedef struct gguf_kv {
    size_t key_off;     /* into the arena, then resolved to key */
    const char *key;
    uint32_t type;
    uint32_t elem_type; /* arrays only */
    uint64_t count;     /* arrays only */
    size_t val;         /* file offset of the value; for arrays, of the first element */
    size_t *str_offs;   /* string arrays: file offset of each string's length */
} gguf_kv;

typedef struct gguf_tensor {
    size_t name_off;
    const char *name;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[INFER_GGUF_MAX_DIMS];
    uint64_t n_elements;
    size_t nbytes;
    uint64_t offset;
} gguf_tensor;

typedef struct name_ix {
    const char *name;
    size_t idx;
} name_ix;

struct infer_gguf {
    const uint8_t *base;
    size_t size;
    int mapped;
    uint32_t version;
    size_t alignment;
    size_t data_off;
    size_t n_kv;
    gguf_kv *kv;
    size_t n_tensors;
    gguf_tensor *tensors;
    keep_buf arena;     /* NUL-terminated keys and tensor names */
    name_ix *kv_index;  /* sorted by key */
    name_ix *t_index;   /* sorted by tensor name */
    const char *arch;   /* arch_copy or "" */
    char *arch_copy;
};

/* ---- little-endian loads (the file format is LE whatever the host) ------- */

static uint16_t ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static uint64_t ld64(const uint8_t *p)
{
    return (uint64_t)ld32(p) | ((uint64_t)ld32(p + 4) << 32);
}

size_t infer_gguf_vtype_size(uint32_t t)
{
    switch (t) {
    case INFER_GGUF_U8:
    case INFER_GGUF_I8:
    case INFER_GGUF_BOOL:
        return 1;
    case INFER_GGUF_U16:
    case INFER_GGUF_I16:
        return 2;
    case INFER_GGUF_U32:
    case INFER_GGUF_I32:
    case INFER_GGUF_F32:
        return 4;
    case INFER_GGUF_U64:
    case INFER_GGUF_I64:
    case INFER_GGUF_F64:
        return 8;
    default:
        return 0; /* string, array, unknown */
    }
}

const char *infer_gguf_vtype_name(uint32_t vtype)
{
    static const char *const names[INFER_GGUF_VTYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
    return vtype < INFER_GGUF_VTYPE_COUNT ? names[vtype] : "?";
}

/* ---- parsing cursor -------------------------------------------------------- */

typedef struct cursor {
    const uint8_t *p;
    size_t len;
    size_t pos;
    keep_err *err;
} cursor;

static int need(cursor *c, size_t n, const char *what)
{
    if (n > c->len - c->pos)
        return keep_err_set(c->err, KEEP_ERR_CORRUPT, "truncated GGUF: %s at offset %zu needs %zu bytes, %zu left", what,
                            c->pos, n, c->len - c->pos);
    return KEEP_OK;
}

static int rd32(cursor *c, uint32_t *v, const char *what)
{
    int rc = need(c, 4, what);
    if (rc)
        return rc;
    *v = ld32(c->p + c->pos);
    c->pos += 4;
    return KEEP_OK;
}

static int rd64(cursor *c, uint64_t *v, const char *what)
{
    int rc = need(c, 8, what);
    if (rc)
        return rc;
    *v = ld64(c->p + c->pos);
    c->pos += 8;
    return KEEP_OK;
}

/* A GGUF string: u64 length then bytes. *off is the offset of the bytes. */
static int rdstr(cursor *c, size_t *off, size_t *len, const char *what)
{
    uint64_t n;
    size_t at = c->pos;
    int rc = rd64(c, &n, what);
    if (rc)
        return rc;
    if (n > c->len - c->pos)
        return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: %s at offset %zu has length %llu past the end of the file",
                            what, at, (unsigned long long)n);
    *off = c->pos;
    *len = (size_t)n;
    c->pos += (size_t)n;
    return KEEP_OK;
}

/* Skips count elements of a non-array type; builds string offsets when offs. */
static int skip_elems(cursor *c, uint32_t t, uint64_t count, size_t *offs)
{
    size_t es = infer_gguf_vtype_size(t);
    if (es) {
        if (count > (c->len - c->pos) / es)
            return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: array of %llu %s at offset %zu exceeds the file",
                                (unsigned long long)count, infer_gguf_vtype_name(t), c->pos);
        c->pos += (size_t)count * es;
        return KEEP_OK;
    }
    if (t != INFER_GGUF_STRING)
        return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: unknown value type %u at offset %zu", t, c->pos);
    if (count > (c->len - c->pos) / 8)
        return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: array of %llu strings at offset %zu exceeds the file",
                            (unsigned long long)count, c->pos);
    for (uint64_t j = 0; j < count; j++) {
        size_t off, len;
        if (offs)
            offs[j] = c->pos;
        int rc = rdstr(c, &off, &len, "array string");
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

/* Name lookup is a sorted index and binary search rather than a hash table:
 * a hostile file could pick names that collide in a hash and make opening
 * quadratic; sorting stays O(n log n) whatever the names. */
static int name_ix_cmp(const void *a, const void *b)
{
    const name_ix *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Builds the sorted index of n names; KEEP_ERR_CORRUPT with *dup set (the
 * later of the two) when a name repeats. */
static int index_build(size_t n, const char *(*name_of)(const infer_gguf *, size_t), const infer_gguf *g,
                       name_ix **out, size_t *dup)
{
    name_ix *t = keep_reallocarray(NULL, n ? n : 1, sizeof *t);
    if (!t)
        return KEEP_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        t[i].name = name_of(g, i);
        t[i].idx = i;
    }
    qsort(t, n, sizeof *t, name_ix_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(t[i - 1].name, t[i].name) == 0) {
            *dup = t[i].idx;
            keep_free(t);
            return KEEP_ERR_CORRUPT;
        }
    *out = t;
    return KEEP_OK;
}

static long index_find(const name_ix *t, size_t n, const char *s)
{
    if (!t || !s)
        return -1;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t[mid].name, s);
        if (c == 0)
            return (long)t[mid].idx;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static const char *kv_name(const infer_gguf *g, size_t i)
{
    return g->kv[i].key;
}
static const char *tensor_name(const infer_gguf *g, size_t i)
{
    return g->tensors[i].name;
}

/* Copies a name into the arena with a NUL. Control characters (NUL
 * included) are refused: no real key or tensor name has them, and names are
 * quoted in one-line error messages. */
static int arena_add(infer_gguf *g, cursor *c, size_t off, size_t len, size_t *at, const char *what)
{
    for (size_t i = 0; i < len; i++)
        if (c->p[off + i] < 0x20 || c->p[off + i] == 0x7f)
            return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: %s at offset %zu contains control character 0x%02x",
                                what, off, c->p[off + i]);
    *at = g->arena.len;
    if (keep_buf_append(&g->arena, c->p + off, len) || keep_buf_putc(&g->arena, 0))
        return keep_err_set(c->err, KEEP_ERR_NOMEM, "out of memory reading GGUF %s", what);
    return KEEP_OK;
}

static int parse_kv(infer_gguf *g, cursor *c, gguf_kv *kv)
{
    size_t koff, klen;
    size_t at = c->pos;
    int rc = rdstr(c, &koff, &klen, "metadata key");
    if (rc)
        return rc;
    if (klen == 0 || klen > MAX_KEY_LEN)
        return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: metadata key at offset %zu has length %zu", at, klen);
    if ((rc = arena_add(g, c, koff, klen, &kv->key_off, "metadata key")))
        return rc;
    if ((rc = rd32(c, &kv->type, "metadata value type")))
        return rc;
    if (kv->type >= INFER_GGUF_VTYPE_COUNT)
        return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: metadata key '%.*s' has unknown value type %u",
                            (int)(klen > 80 ? 80 : klen), (const char *)c->p + koff, kv->type);
    if (kv->type == INFER_GGUF_STRING) {
        size_t off, len;
        kv->val = c->pos;
        return rdstr(c, &off, &len, "metadata string");
    }
    if (kv->type != INFER_GGUF_ARRAY) {
        size_t es = infer_gguf_vtype_size(kv->type);
        if ((rc = need(c, es, "metadata value")))
            return rc;
        kv->val = c->pos;
        if (kv->type == INFER_GGUF_BOOL && c->p[c->pos] > 1)
            return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: bool value %u at offset %zu", c->p[c->pos], c->pos);
        c->pos += es;
        return KEEP_OK;
    }
    if ((rc = rd32(c, &kv->elem_type, "array element type")) || (rc = rd64(c, &kv->count, "array length")))
        return rc;
    kv->val = c->pos;
    if (kv->elem_type == INFER_GGUF_STRING) {
        if (kv->count > (c->len - c->pos) / 8)
            return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: array of %llu strings at offset %zu exceeds the file",
                                (unsigned long long)kv->count, c->pos);
        /* Validate first, allocate after: a hostile count costs a scan of
         * the bytes that are really there, not an allocation it names. */
        if ((rc = skip_elems(c, INFER_GGUF_STRING, kv->count, NULL)))
            return rc;
        kv->str_offs = keep_reallocarray(NULL, kv->count ? (size_t)kv->count : 1, sizeof(size_t));
        if (!kv->str_offs)
            return keep_err_set(c->err, KEEP_ERR_NOMEM, "out of memory for a GGUF string array of %llu entries",
                                (unsigned long long)kv->count);
        cursor again = {c->p, c->len, kv->val, c->err};
        return skip_elems(&again, INFER_GGUF_STRING, kv->count, kv->str_offs);
    }
    if (kv->elem_type != INFER_GGUF_ARRAY)
        return skip_elems(c, kv->elem_type, kv->count, NULL);
    /* An array of arrays: accepted one level deep (validated and skipped);
     * nothing Keep reads uses them. */
    if (kv->count > (c->len - c->pos) / 12)
        return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: array of %llu arrays at offset %zu exceeds the file",
                            (unsigned long long)kv->count, c->pos);
    for (uint64_t j = 0; j < kv->count; j++) {
        uint32_t et;
        uint64_t n;
        if ((rc = rd32(c, &et, "nested array type")) || (rc = rd64(c, &n, "nested array length")))
            return rc;
        if (et == INFER_GGUF_ARRAY)
            return keep_err_set(c->err, KEEP_ERR_UNSUPPORTED, "unsupported GGUF: arrays nested more than two deep at offset %zu",
                                c->pos);
        if ((rc = skip_elems(c, et, n, NULL)))
            return rc;
    }
    return KEEP_OK;
}

static int parse_tensor(infer_gguf *g, cursor *c, gguf_tensor *t)
{
    size_t noff, nlen;
    size_t at = c->pos;
    int rc = rdstr(c, &noff, &nlen, "tensor name");
    if (rc)
        return rc;
    if (nlen == 0 || nlen > INFER_GGUF_MAX_NAME)
        return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: tensor name at offset %zu has length %zu", at, nlen);
    if ((rc = arena_add(g, c, noff, nlen, &t->name_off, "tensor name")))
        return rc;
    const char *nm = (const char *)c->p + noff;
    int nl = (int)nlen;
    if ((rc = rd32(c, &t->n_dims, "tensor dimension count")))
        return rc;
    if (t->n_dims < 1 || t->n_dims > INFER_GGUF_MAX_DIMS)
        return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: tensor '%.*s' has %u dimensions", nl, nm, t->n_dims);
    uint64_t n = 1;
    for (uint32_t d = 0; d < INFER_GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if ((rc = rd64(c, &t->ne[d], "tensor dimension")))
            return rc;
        if (t->ne[d] == 0 || t->ne[d] > (uint64_t)INT64_MAX)
            return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: tensor '%.*s' dimension %u is %llu", nl, nm, d,
                                (unsigned long long)t->ne[d]);
        if (__builtin_mul_overflow(n, t->ne[d], &n) || n > (uint64_t)INT64_MAX)
            return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: tensor '%.*s' has too many elements", nl, nm);
    }
    t->n_elements = n;
    if ((rc = rd32(c, &t->type, "tensor type")) || (rc = rd64(c, &t->offset, "tensor offset")))
        return rc;
    const infer_type_info *ti = infer_type_get(t->type);
    if (!ti)
        return keep_err_set(c->err, KEEP_ERR_UNSUPPORTED, "unsupported GGUF: tensor '%.*s' has unknown type %u", nl, nm,
                            t->type);
    if (t->ne[0] % ti->block)
        return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: tensor '%.*s' row of %llu is not a multiple of the %s block of %u",
                            nl, nm, (unsigned long long)t->ne[0], ti->name, ti->block);
    size_t row = infer_type_row_bytes(t->type, t->ne[0]);
    size_t nb;
    if (!row || keep_mul_overflow(row, (size_t)(n / t->ne[0]), &nb))
        return keep_err_set(c->err, KEEP_ERR_CORRUPT, "corrupt GGUF: tensor '%.*s' is too large", nl, nm);
    t->nbytes = nb;
    return KEEP_OK;
}

static void gguf_free(infer_gguf *g)
{
    if (!g)
        return;
    for (size_t i = 0; g->kv && i < g->n_kv; i++)
        keep_free(g->kv[i].str_offs);
    keep_free(g->kv);
    keep_free(g->tensors);
    keep_free(g->kv_index);
    keep_free(g->t_index);
    keep_free(g->arch_copy);
    keep_buf_free(&g->arena);
    if (g->mapped && g->base)
        munmap((void *)g->base, g->size);
    keep_free(g);
}

static int parse(infer_gguf *g, keep_err *err)
{
    cursor cur = {g->base, g->size, 0, err};
    cursor *c = &cur;
    uint32_t version;
    uint64_t n_tensors, n_kv;
    int rc;

    if (g->size < 4 || memcmp(g->base, GGUF_MAGIC, 4) != 0)
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "not a GGUF file (bad magic)");
    c->pos = 4;
    if ((rc = rd32(c, &version, "version")))
        return rc;
    if (version == 1)
        return keep_err_set(err, KEEP_ERR_VERSION, "GGUF version 1 is not supported (re-convert the model to GGUF v3)");
    if (version != 2 && version != 3)
        return keep_err_set(err, KEEP_ERR_VERSION, "unsupported GGUF version %u (expected 2 or 3)", version);
    g->version = version;
    if ((rc = rd64(c, &n_tensors, "tensor count")) || (rc = rd64(c, &n_kv, "metadata count")))
        return rc;
    size_t left = c->len - c->pos;
    if (n_kv > left / MIN_KV_BYTES)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "corrupt GGUF: %llu metadata entries cannot fit in %zu bytes",
                            (unsigned long long)n_kv, left);
    if (n_tensors > left / MIN_TENSOR_BYTES)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "corrupt GGUF: %llu tensors cannot fit in %zu bytes",
                            (unsigned long long)n_tensors, left);
    /* The tables grow as entries parse, so memory follows the entries that
     * are really in the file rather than the counts the header claims. */
    g->alignment = INFER_GGUF_DEFAULT_ALIGNMENT;
    size_t cap = 0;
    for (size_t i = 0; i < n_kv; i++) {
        if (i == cap) {
            size_t nc = cap ? cap * 2 : 64;
            gguf_kv *n = keep_reallocarray(g->kv, nc, sizeof *n);
            if (!n)
                return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for GGUF metadata");
            g->kv = n;
            cap = nc;
        }
        memset(&g->kv[i], 0, sizeof g->kv[i]);
        g->n_kv = i + 1; /* so that gguf_free() sees str_offs */
        if ((rc = parse_kv(g, c, &g->kv[i])))
            return rc;
    }
    cap = 0;
    for (size_t i = 0; i < n_tensors; i++) {
        if (i == cap) {
            size_t nc = cap ? cap * 2 : 64;
            gguf_tensor *n = keep_reallocarray(g->tensors, nc, sizeof *n);
            if (!n)
                return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for GGUF tensors");
            g->tensors = n;
            cap = nc;
        }
        memset(&g->tensors[i], 0, sizeof g->tensors[i]);
        g->n_tensors = i + 1;
        if ((rc = parse_tensor(g, c, &g->tensors[i])))
            return rc;
    }
    /* The arena no longer moves: resolve names, then index them. */
    for (size_t i = 0; i < g->n_kv; i++)
        g->kv[i].key = g->arena.data + g->kv[i].key_off;
    for (size_t i = 0; i < g->n_tensors; i++)
        g->tensors[i].name = g->arena.data + g->tensors[i].name_off;
    size_t dup = 0;
    rc = index_build(g->n_kv, kv_name, g, &g->kv_index, &dup);
    if (rc == KEEP_ERR_CORRUPT)
        return keep_err_set(err, rc, "corrupt GGUF: duplicate metadata key '%.80s'", g->kv[dup].key);
    if (rc)
        return keep_err_set(err, rc, "out of memory indexing GGUF metadata");
    rc = index_build(g->n_tensors, tensor_name, g, &g->t_index, &dup);
    if (rc == KEEP_ERR_CORRUPT)
        return keep_err_set(err, rc, "corrupt GGUF: duplicate tensor name '%.80s'", g->tensors[dup].name);
    if (rc)
        return keep_err_set(err, rc, "out of memory indexing GGUF tensors");

    long ai = infer_gguf_find_key(g, "general.alignment");
    if (ai >= 0) {
        const gguf_kv *kv = &g->kv[ai];
        if (kv->type != INFER_GGUF_U32)
            return keep_err_set(err, KEEP_ERR_CORRUPT, "corrupt GGUF: general.alignment is %s, not u32",
                                infer_gguf_vtype_name(kv->type));
        uint32_t a = ld32(g->base + kv->val);
        if (a == 0 || (a & (a - 1)) || a > MAX_ALIGNMENT)
            return keep_err_set(err, KEEP_ERR_CORRUPT, "corrupt GGUF: general.alignment %u is not a power of two up to %u", a,
                                MAX_ALIGNMENT);
        g->alignment = a;
    }
    g->arch = "";
    long ar = infer_gguf_find_key(g, "general.architecture");
    if (ar >= 0) {
        const gguf_kv *kv = &g->kv[ar];
        if (kv->type != INFER_GGUF_STRING)
            return keep_err_set(err, KEEP_ERR_CORRUPT, "corrupt GGUF: general.architecture is %s, not a string",
                                infer_gguf_vtype_name(kv->type));
        size_t len = (size_t)ld64(g->base + kv->val);
        const char *a = (const char *)g->base + kv->val + 8;
        if (len > 256 || memchr(a, 0, len))
            return keep_err_set(err, KEEP_ERR_CORRUPT, "corrupt GGUF: general.architecture is not a short name");
        /* Its own copy: the arena must not move once the indexes point into it. */
        g->arch_copy = keep_strndup(a, len);
        if (!g->arch_copy)
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory reading general.architecture");
        g->arch = g->arch_copy;
    }

    size_t pad = (g->alignment - c->pos % g->alignment) % g->alignment;
    if (g->n_tensors == 0) {
        /* Vocabulary-only files may end right after the header. */
        g->data_off = pad <= c->len - c->pos ? c->pos + pad : c->len;
        return KEEP_OK;
    }
    if (pad > c->len - c->pos)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "truncated GGUF: the file ends before its data section");
    g->data_off = c->pos + pad;
    size_t data_len = g->size - g->data_off;
    for (size_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment)
            return keep_err_set(err, KEEP_ERR_CORRUPT, "corrupt GGUF: tensor '%s' offset %llu is not aligned to %zu", t->name,
                                (unsigned long long)t->offset, g->alignment);
        if (t->offset > data_len || t->nbytes > data_len - t->offset)
            return keep_err_set(err, KEEP_ERR_CORRUPT,
                                "corrupt GGUF: tensor '%s' [%llu, +%zu) lies outside the %zu-byte data section", t->name,
                                (unsigned long long)t->offset, t->nbytes, data_len);
    }
    return KEEP_OK;
}

int infer_gguf_open_memory(const void *data, size_t len, infer_gguf **out, keep_err *err)
{
    *out = NULL;
    if (!data && len)
        return keep_err_set(err, KEEP_ERR_USAGE, "GGUF buffer is NULL");
    infer_gguf *g = keep_calloc(1, sizeof *g);
    if (!g)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory opening GGUF");
    g->base = data ? data : (const uint8_t *)"";
    g->size = len;
    int rc = parse(g, err);
    if (rc) {
        gguf_free(g);
        return rc;
    }
    *out = g;
    return KEEP_OK;
}

int infer_gguf_open(const char *path, infer_gguf **out, keep_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return keep_err_set(err, KEEP_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return keep_err_set(err, KEEP_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return keep_err_set(err, KEEP_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size < 4 || (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "%s: not a GGUF file (%lld bytes)", path, (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return keep_err_set(err, KEEP_ERR_IO, "%s: mmap: %s", path, strerror(e));
    infer_gguf *g = keep_calloc(1, sizeof *g);
    if (!g) {
        munmap(map, size);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory opening %s", path);
    }
    g->base = map;
    g->size = size;
    g->mapped = 1;
    keep_err e2 = {0, {0}};
    int rc = parse(g, &e2);
    if (rc) {
        gguf_free(g);
        return keep_err_set(err, rc, "%s: %s", path, e2.msg);
    }
    *out = g;
    return KEEP_OK;
}

void infer_gguf_close(infer_gguf *g)
{
    gguf_free(g);
}

uint32_t infer_gguf_version(const infer_gguf *g)
{
    return g->version;
}
size_t infer_gguf_file_size(const infer_gguf *g)
{
    return g->size;
}
size_t infer_gguf_alignment(const infer_gguf *g)
{
    return g->alignment;
}
size_t infer_gguf_data_offset(const infer_gguf *g)
{
    return g->data_off;
}

/* ---- metadata ---------------------------------------------------------------- */

size_t infer_gguf_kv_count(const infer_gguf *g)
{
    return g->n_kv;
}

long infer_gguf_find_key(const infer_gguf *g, const char *key)
{
    return index_find(g->kv_index, g->n_kv, key);
}

const char *infer_gguf_key(const infer_gguf *g, size_t i)
{
    return i < g->n_kv ? g->kv[i].key : NULL;
}

int infer_gguf_kv_type(const infer_gguf *g, size_t i)
{
    return i < g->n_kv ? (int)g->kv[i].type : -1;
}

static const gguf_kv *kv_at(const infer_gguf *g, size_t i)
{
    return i < g->n_kv ? &g->kv[i] : NULL;
}

int infer_gguf_get_str(const infer_gguf *g, size_t i, const char **s, size_t *len)
{
    const gguf_kv *kv = kv_at(g, i);
    if (!kv)
        return KEEP_ERR_NOTFOUND;
    if (kv->type != INFER_GGUF_STRING)
        return KEEP_ERR_PARSE;
    *len = (size_t)ld64(g->base + kv->val);
    *s = (const char *)g->base + kv->val + 8;
    return KEEP_OK;
}

int infer_gguf_get_str_copy(const infer_gguf *g, size_t i, char *buf, size_t cap)
{
    const char *s;
    size_t len;
    int rc = infer_gguf_get_str(g, i, &s, &len);
    if (rc)
        return rc;
    if (len >= cap)
        return KEEP_ERR_TOOBIG;
    memcpy(buf, s, len);
    buf[len] = 0;
    return KEEP_OK;
}

/* Reads an integer of GGUF type t at p as either signed or unsigned. */
static int load_int(uint32_t t, const uint8_t *p, int64_t *sv, uint64_t *uv, int *is_signed)
{
    *is_signed = 0;
    switch (t) {
    case INFER_GGUF_U8:
    case INFER_GGUF_BOOL:
        *uv = p[0];
        break;
    case INFER_GGUF_U16:
        *uv = ld16(p);
        break;
    case INFER_GGUF_U32:
        *uv = ld32(p);
        break;
    case INFER_GGUF_U64:
        *uv = ld64(p);
        break;
    case INFER_GGUF_I8:
        *sv = (int8_t)p[0];
        *is_signed = 1;
        break;
    case INFER_GGUF_I16:
        *sv = (int16_t)ld16(p);
        *is_signed = 1;
        break;
    case INFER_GGUF_I32:
        *sv = (int32_t)ld32(p);
        *is_signed = 1;
        break;
    case INFER_GGUF_I64:
        *sv = (int64_t)ld64(p);
        *is_signed = 1;
        break;
    default:
        return KEEP_ERR_PARSE;
    }
    return KEEP_OK;
}

static int to_i64(uint32_t t, const uint8_t *p, int64_t *v)
{
    int64_t s = 0;
    uint64_t u = 0;
    int sg, rc = load_int(t, p, &s, &u, &sg);
    if (rc)
        return rc;
    if (!sg) {
        if (u > (uint64_t)INT64_MAX)
            return KEEP_ERR_TOOBIG;
        s = (int64_t)u;
    }
    *v = s;
    return KEEP_OK;
}

static int to_u64(uint32_t t, const uint8_t *p, uint64_t *v)
{
    int64_t s = 0;
    uint64_t u = 0;
    int sg, rc = load_int(t, p, &s, &u, &sg);
    if (rc)
        return rc;
    if (sg) {
        if (s < 0)
            return KEEP_ERR_TOOBIG;
        u = (uint64_t)s;
    }
    *v = u;
    return KEEP_OK;
}

static int to_f64(uint32_t t, const uint8_t *p, double *v)
{
    if (t == INFER_GGUF_F32) {
        uint32_t b = ld32(p);
        float f;
        memcpy(&f, &b, 4);
        *v = f;
        return KEEP_OK;
    }
    if (t == INFER_GGUF_F64) {
        uint64_t b = ld64(p);
        memcpy(v, &b, 8);
        return KEEP_OK;
    }
    return KEEP_ERR_PARSE;
}

int infer_gguf_get_i64(const infer_gguf *g, size_t i, int64_t *v)
{
    const gguf_kv *kv = kv_at(g, i);
    return kv ? to_i64(kv->type, g->base + kv->val, v) : KEEP_ERR_NOTFOUND;
}

int infer_gguf_get_u64(const infer_gguf *g, size_t i, uint64_t *v)
{
    const gguf_kv *kv = kv_at(g, i);
    return kv ? to_u64(kv->type, g->base + kv->val, v) : KEEP_ERR_NOTFOUND;
}

int infer_gguf_get_f64(const infer_gguf *g, size_t i, double *v)
{
    const gguf_kv *kv = kv_at(g, i);
    return kv ? to_f64(kv->type, g->base + kv->val, v) : KEEP_ERR_NOTFOUND;
}

int infer_gguf_get_bool(const infer_gguf *g, size_t i, int *v)
{
    const gguf_kv *kv = kv_at(g, i);
    if (!kv)
        return KEEP_ERR_NOTFOUND;
    if (kv->type != INFER_GGUF_BOOL)
        return KEEP_ERR_PARSE;
    *v = g->base[kv->val] != 0;
    return KEEP_OK;
}

int infer_gguf_arr_info(const infer_gguf *g, size_t i, uint32_t *elem_type, uint64_t *count)
{
    const gguf_kv *kv = kv_at(g, i);
    if (!kv)
        return KEEP_ERR_NOTFOUND;
    if (kv->type != INFER_GGUF_ARRAY)
        return KEEP_ERR_PARSE;
    if (elem_type)
        *elem_type = kv->elem_type;
    if (count)
        *count = kv->count;
    return KEEP_OK;
}

int infer_gguf_arr_str(const infer_gguf *g, size_t i, uint64_t j, const char **s, size_t *len)
{
    const gguf_kv *kv = kv_at(g, i);
    if (!kv)
        return KEEP_ERR_NOTFOUND;
    if (kv->type != INFER_GGUF_ARRAY || kv->elem_type != INFER_GGUF_STRING)
        return KEEP_ERR_PARSE;
    if (j >= kv->count)
        return KEEP_ERR_NOTFOUND;
    size_t at = kv->str_offs[j];
    *len = (size_t)ld64(g->base + at);
    *s = (const char *)g->base + at + 8;
    return KEEP_OK;
}

int infer_gguf_arr_data(const infer_gguf *g, size_t i, const void **data, size_t *elem_size, uint64_t *count)
{
    const gguf_kv *kv = kv_at(g, i);
    if (!kv)
        return KEEP_ERR_NOTFOUND;
    if (kv->type != INFER_GGUF_ARRAY || !infer_gguf_vtype_size(kv->elem_type))
        return KEEP_ERR_PARSE;
    *data = g->base + kv->val;
    *elem_size = infer_gguf_vtype_size(kv->elem_type);
    *count = kv->count;
    return KEEP_OK;
}

static const uint8_t *arr_elem(const infer_gguf *g, size_t i, uint64_t j, uint32_t *t, int *rc)
{
    const gguf_kv *kv = kv_at(g, i);
    *rc = KEEP_ERR_NOTFOUND;
    if (!kv)
        return NULL;
    *rc = KEEP_ERR_PARSE;
    if (kv->type != INFER_GGUF_ARRAY || !infer_gguf_vtype_size(kv->elem_type))
        return NULL;
    *rc = KEEP_ERR_NOTFOUND;
    if (j >= kv->count)
        return NULL;
    *rc = KEEP_OK;
    *t = kv->elem_type;
    return g->base + kv->val + (size_t)j * infer_gguf_vtype_size(kv->elem_type);
}

int infer_gguf_arr_i64(const infer_gguf *g, size_t i, uint64_t j, int64_t *v)
{
    uint32_t t = 0;
    int rc;
    const uint8_t *p = arr_elem(g, i, j, &t, &rc);
    return p ? to_i64(t, p, v) : rc;
}

int infer_gguf_arr_f64(const infer_gguf *g, size_t i, uint64_t j, double *v)
{
    uint32_t t = 0;
    int rc;
    const uint8_t *p = arr_elem(g, i, j, &t, &rc);
    return p ? to_f64(t, p, v) : rc;
}

/* ---- by key ------------------------------------------------------------------- */

#define BY_KEY(g, key, call)                                                                                          \
    do {                                                                                                              \
        long ki_ = infer_gguf_find_key((g), (key));                                                                   \
        if (ki_ < 0)                                                                                                  \
            return KEEP_ERR_NOTFOUND;                                                                                 \
        size_t i = (size_t)ki_;                                                                                       \
        return call;                                                                                                  \
    } while (0)

int infer_gguf_key_str(const infer_gguf *g, const char *key, const char **s, size_t *len)
{
    BY_KEY(g, key, infer_gguf_get_str(g, i, s, len));
}
int infer_gguf_key_i64(const infer_gguf *g, const char *key, int64_t *v)
{
    BY_KEY(g, key, infer_gguf_get_i64(g, i, v));
}
int infer_gguf_key_u64(const infer_gguf *g, const char *key, uint64_t *v)
{
    BY_KEY(g, key, infer_gguf_get_u64(g, i, v));
}
int infer_gguf_key_f64(const infer_gguf *g, const char *key, double *v)
{
    BY_KEY(g, key, infer_gguf_get_f64(g, i, v));
}
int infer_gguf_key_bool(const infer_gguf *g, const char *key, int *v)
{
    BY_KEY(g, key, infer_gguf_get_bool(g, i, v));
}

char *infer_gguf_key_strdup(const infer_gguf *g, const char *key)
{
    const char *s;
    size_t len;
    if (infer_gguf_key_str(g, key, &s, &len))
        return NULL;
    return keep_strndup(s, len);
}

const char *infer_gguf_arch(const infer_gguf *g)
{
    return g->arch;
}

long infer_gguf_find_arch_key(const infer_gguf *g, const char *suffix)
{
    char key[512];
    int n = snprintf(key, sizeof key, "%s.%s", g->arch, suffix);
    if (n < 0 || (size_t)n >= sizeof key)
        return -1;
    return infer_gguf_find_key(g, key);
}

/* ---- tensors ----------------------------------------------------------------- */

size_t infer_gguf_tensor_count(const infer_gguf *g)
{
    return g->n_tensors;
}

int infer_gguf_get_tensor(const infer_gguf *g, size_t i, infer_gguf_tensor *t)
{
    if (i >= g->n_tensors)
        return KEEP_ERR_NOTFOUND;
    const gguf_tensor *s = &g->tensors[i];
    t->name = s->name;
    t->type = s->type;
    t->n_dims = s->n_dims;
    memcpy(t->ne, s->ne, sizeof t->ne);
    t->n_elements = s->n_elements;
    t->nbytes = s->nbytes;
    t->offset = s->offset;
    t->data = g->base + g->data_off + (size_t)s->offset;
    return KEEP_OK;
}

long infer_gguf_find_tensor(const infer_gguf *g, const char *name)
{
    return index_find(g->t_index, g->n_tensors, name);
}

int infer_gguf_tensor_by_name(const infer_gguf *g, const char *name, infer_gguf_tensor *t)
{
    long i = infer_gguf_find_tensor(g, name);
    if (i < 0)
        return KEEP_ERR_NOTFOUND;
    return infer_gguf_get_tensor(g, (size_t)i, t);
}
