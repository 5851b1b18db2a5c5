/* gguf_write.c — the GGUF writer (see gguf_write.h). Each metadata value is
 * serialized when it is set, so writing is a plain concatenation: header,
 * key/values, tensor descriptors with offsets assigned in insertion order,
 * padding to the alignment, then each tensor's bytes padded likewise. */
#include "gguf_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ggml_types.h"
#include "quant.h"

#define MAX_ALIGNMENT (1u << 20)

typedef struct wkv {
    char *key;
    uint32_t type;
    keep_buf val; /* serialized value (for arrays: element type, count, elements) */
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[INFER_GGUF_MAX_DIMS];
    void *data;           /* NULL for a generated tensor */
    size_t nbytes;
    infer_gguf_row_fn gen; /* rows produced while writing */
    void *gen_ctx;
} wtensor;

struct infer_gguf_writer {
    uint32_t version;
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    keep_err err; /* first error, sticky */
};

int infer_gguf_writer_new(infer_gguf_writer **out, keep_err *err)
{
    *out = keep_calloc(1, sizeof **out);
    if (!*out)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory creating a GGUF writer");
    (*out)->version = 3;
    return KEEP_OK;
}

void infer_gguf_writer_free(infer_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        keep_free(w->kv[i].key);
        keep_buf_free(&w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        keep_free(w->t[i].name);
        keep_free(w->t[i].data);
    }
    keep_free(w->kv);
    keep_free(w->t);
    keep_free(w);
}

/* Records the first error and returns code. */
static int fail(infer_gguf_writer *w, int code, const char *fmt, const char *arg)
{
    if (!w->err.code) {
        w->err.code = code;
        snprintf(w->err.msg, sizeof w->err.msg, fmt, arg);
    }
    return code;
}

int infer_gguf_writer_set_version(infer_gguf_writer *w, uint32_t version)
{
    if (version != 2 && version != 3)
        return fail(w, KEEP_ERR_USAGE, "GGUF writer: version must be 2 or 3%s", "");
    w->version = version;
    return KEEP_OK;
}

int infer_gguf_writer_set_alignment(infer_gguf_writer *w, uint32_t a)
{
    if (a == 0 || (a & (a - 1)) || a > MAX_ALIGNMENT)
        return fail(w, KEEP_ERR_USAGE, "GGUF writer: alignment must be a power of two up to 1 MiB%s", "");
    return infer_gguf_writer_set_u32(w, "general.alignment", a);
}

/* Keys and tensor names: no control characters (the reader refuses them). */
static int name_ok(const char *s, size_t max)
{
    if (!s || !s[0] || strlen(s) > max)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* The entry for key, emptied for a new value (created when absent). */
static wkv *slot(infer_gguf_writer *w, const char *key, uint32_t type)
{
    if (!name_ok(key, 65535)) {
        fail(w, KEEP_ERR_USAGE, "GGUF writer: bad metadata key '%.80s'", key ? key : "(null)");
        return NULL;
    }
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            keep_buf_reset(&w->kv[i].val);
            w->kv[i].type = type;
            return &w->kv[i];
        }
    if (w->n_kv == w->cap_kv) {
        size_t nc = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv *n = keep_reallocarray(w->kv, nc, sizeof *n);
        if (!n) {
            fail(w, KEEP_ERR_NOMEM, "out of memory adding GGUF key '%.80s'", key);
            return NULL;
        }
        w->kv = n;
        w->cap_kv = nc;
    }
    wkv *kv = &w->kv[w->n_kv];
    memset(kv, 0, sizeof *kv);
    kv->key = keep_strdup(key);
    if (!kv->key) {
        fail(w, KEEP_ERR_NOMEM, "out of memory adding GGUF key '%.80s'", key);
        return NULL;
    }
    kv->type = type;
    w->n_kv++;
    return kv;
}

static int put(infer_gguf_writer *w, wkv *kv, const void *p, size_t n)
{
    if (keep_buf_append(&kv->val, p, n))
        return fail(w, KEEP_ERR_NOMEM, "out of memory setting GGUF key '%.80s'", kv->key);
    return KEEP_OK;
}

static int put32(infer_gguf_writer *w, wkv *kv, uint32_t v)
{
    return put(w, kv, &v, 4);
}

static int put64(infer_gguf_writer *w, wkv *kv, uint64_t v)
{
    return put(w, kv, &v, 8);
}

static int set_scalar(infer_gguf_writer *w, const char *key, uint32_t type, const void *v, size_t n)
{
    wkv *kv = slot(w, key, type);
    return kv ? put(w, kv, v, n) : w->err.code;
}

int infer_gguf_writer_set_u8(infer_gguf_writer *w, const char *key, uint8_t v)
{
    return set_scalar(w, key, INFER_GGUF_U8, &v, 1);
}
int infer_gguf_writer_set_i8(infer_gguf_writer *w, const char *key, int8_t v)
{
    return set_scalar(w, key, INFER_GGUF_I8, &v, 1);
}
int infer_gguf_writer_set_u16(infer_gguf_writer *w, const char *key, uint16_t v)
{
    return set_scalar(w, key, INFER_GGUF_U16, &v, 2);
}
int infer_gguf_writer_set_i16(infer_gguf_writer *w, const char *key, int16_t v)
{
    return set_scalar(w, key, INFER_GGUF_I16, &v, 2);
}
int infer_gguf_writer_set_u32(infer_gguf_writer *w, const char *key, uint32_t v)
{
    return set_scalar(w, key, INFER_GGUF_U32, &v, 4);
}
int infer_gguf_writer_set_i32(infer_gguf_writer *w, const char *key, int32_t v)
{
    return set_scalar(w, key, INFER_GGUF_I32, &v, 4);
}
int infer_gguf_writer_set_u64(infer_gguf_writer *w, const char *key, uint64_t v)
{
    return set_scalar(w, key, INFER_GGUF_U64, &v, 8);
}
int infer_gguf_writer_set_i64(infer_gguf_writer *w, const char *key, int64_t v)
{
    return set_scalar(w, key, INFER_GGUF_I64, &v, 8);
}
int infer_gguf_writer_set_f32(infer_gguf_writer *w, const char *key, float v)
{
    return set_scalar(w, key, INFER_GGUF_F32, &v, 4);
}
int infer_gguf_writer_set_f64(infer_gguf_writer *w, const char *key, double v)
{
    return set_scalar(w, key, INFER_GGUF_F64, &v, 8);
}
int infer_gguf_writer_set_bool(infer_gguf_writer *w, const char *key, int v)
{
    uint8_t b = v != 0;
    return set_scalar(w, key, INFER_GGUF_BOOL, &b, 1);
}

int infer_gguf_writer_set_strn(infer_gguf_writer *w, const char *key, const char *s, size_t len)
{
    if (!s && len)
        return fail(w, KEEP_ERR_USAGE, "GGUF writer: NULL string for key '%.80s'", key ? key : "");
    wkv *kv = slot(w, key, INFER_GGUF_STRING);
    if (!kv)
        return w->err.code;
    int rc = put64(w, kv, len);
    return rc ? rc : put(w, kv, s, len);
}

int infer_gguf_writer_set_str(infer_gguf_writer *w, const char *key, const char *s)
{
    return infer_gguf_writer_set_strn(w, key, s, s ? strlen(s) : 0);
}

int infer_gguf_writer_set_arr(infer_gguf_writer *w, const char *key, uint32_t elem_type, const void *elems,
                              size_t count)
{
    size_t es = infer_gguf_vtype_size(elem_type), n;
    if (!es || keep_mul_overflow(es, count, &n) || (!elems && count))
        return fail(w, KEEP_ERR_USAGE, "GGUF writer: bad numeric array for key '%.80s'", key ? key : "");
    wkv *kv = slot(w, key, INFER_GGUF_ARRAY);
    if (!kv)
        return w->err.code;
    int rc;
    if ((rc = put32(w, kv, elem_type)) || (rc = put64(w, kv, count)))
        return rc;
    return put(w, kv, elems, n);
}

int infer_gguf_writer_set_arr_str(infer_gguf_writer *w, const char *key, const char *const *strs,
                                  const size_t *lens, size_t count)
{
    if (!strs && count)
        return fail(w, KEEP_ERR_USAGE, "GGUF writer: NULL string array for key '%.80s'", key ? key : "");
    wkv *kv = slot(w, key, INFER_GGUF_ARRAY);
    if (!kv)
        return w->err.code;
    int rc;
    if ((rc = put32(w, kv, INFER_GGUF_STRING)) || (rc = put64(w, kv, count)))
        return rc;
    for (size_t i = 0; i < count; i++) {
        size_t len = lens ? lens[i] : strs[i] ? strlen(strs[i]) : 0;
        if (!strs[i] && len)
            return fail(w, KEEP_ERR_USAGE, "GGUF writer: NULL string in array '%.80s'", kv->key);
        if ((rc = put64(w, kv, len)) || (rc = put(w, kv, strs[i], len)))
            return rc;
    }
    return KEEP_OK;
}

/* ---- tensors ------------------------------------------------------------------- */

/* Validates name and shape; returns the element count or 0 (error recorded). */
static uint64_t check_shape(infer_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                            const uint64_t *ne, size_t *nbytes)
{
    if (!name_ok(name, INFER_GGUF_MAX_NAME)) {
        fail(w, KEEP_ERR_USAGE, "GGUF writer: bad tensor name '%.80s'", name ? name : "(null)");
        return 0;
    }
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0) {
            fail(w, KEEP_ERR_USAGE, "GGUF writer: duplicate tensor '%.80s'", name);
            return 0;
        }
    const infer_type_info *ti = infer_type_get(type);
    if (!ti || n_dims < 1 || n_dims > INFER_GGUF_MAX_DIMS || !ne) {
        fail(w, KEEP_ERR_USAGE, "GGUF writer: bad type or dimensions for tensor '%.80s'", name);
        return 0;
    }
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++)
        if (ne[d] == 0 || __builtin_mul_overflow(n, ne[d], &n) || n > (uint64_t)INT64_MAX) {
            fail(w, KEEP_ERR_USAGE, "GGUF writer: bad shape for tensor '%.80s'", name);
            return 0;
        }
    size_t row = infer_type_row_bytes(type, ne[0]);
    if (!row || n / ne[0] > SIZE_MAX || keep_mul_overflow(row, (size_t)(n / ne[0]), nbytes)) {
        fail(w, KEEP_ERR_USAGE, "GGUF writer: tensor '%.80s' rows do not fit the block size of its type", name);
        return 0;
    }
    return n;
}

/* Takes ownership of data (freed on failure too). */
static int push_tensor(infer_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne,
                       void *data, size_t nbytes)
{
    if (w->n_t == w->cap_t) {
        size_t nc = w->cap_t ? w->cap_t * 2 : 16;
        wtensor *n = keep_reallocarray(w->t, nc, sizeof *n);
        if (!n) {
            keep_free(data);
            return fail(w, KEEP_ERR_NOMEM, "out of memory adding tensor '%.80s'", name);
        }
        w->t = n;
        w->cap_t = nc;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = keep_strdup(name);
    if (!t->name) {
        keep_free(data);
        return fail(w, KEEP_ERR_NOMEM, "out of memory adding tensor '%.80s'", name);
    }
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < INFER_GGUF_MAX_DIMS; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    t->data = data;
    t->nbytes = nbytes;
    w->n_t++;
    return KEEP_OK;
}

int infer_gguf_writer_add_tensor(infer_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                 const uint64_t *ne, const void *data, size_t nbytes)
{
    size_t want = 0;
    if (!check_shape(w, name, type, n_dims, ne, &want))
        return w->err.code;
    if (nbytes != want || !data) {
        char m[128];
        snprintf(m, sizeof m, "%.80s: %zu bytes given, %zu expected", name, nbytes, want);
        return fail(w, KEEP_ERR_USAGE, "GGUF writer: tensor %s", m);
    }
    void *copy = keep_malloc(nbytes);
    if (!copy)
        return fail(w, KEEP_ERR_NOMEM, "out of memory copying tensor '%.80s'", name);
    memcpy(copy, data, nbytes);
    return push_tensor(w, name, type, n_dims, ne, copy, nbytes);
}

/* Encodes one row of cols floats as type into out (row bytes). */
static int encode_row(uint32_t type, const float *src, void *out, size_t cols)
{
    if (type == INFER_T_F32) {
        memcpy(out, src, cols * sizeof(float));
    } else if (type == INFER_T_F16 || type == INFER_T_BF16) {
        uint16_t *h = out;
        for (size_t i = 0; i < cols; i++)
            h[i] = type == INFER_T_F16 ? infer_f32_to_f16(src[i]) : infer_f32_to_bf16(src[i]);
    } else {
        return infer_quantize_row(type, src, out, cols);
    }
    return KEEP_OK;
}

static int can_encode(uint32_t type)
{
    return type == INFER_T_F32 || type == INFER_T_F16 || type == INFER_T_BF16 || infer_can_quantize(type);
}

int infer_gguf_writer_add_tensor_f32(infer_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                     const uint64_t *ne, const float *data)
{
    size_t nbytes = 0;
    uint64_t n = check_shape(w, name, type, n_dims, ne, &nbytes);
    if (!n)
        return w->err.code;
    if (!data)
        return fail(w, KEEP_ERR_USAGE, "GGUF writer: NULL data for tensor '%.80s'", name);
    if (!can_encode(type))
        return fail(w, KEEP_ERR_UNSUPPORTED, "GGUF writer: cannot encode tensor '%.80s' to that type from f32", name);
    void *out = keep_malloc(nbytes ? nbytes : 1);
    if (!out)
        return fail(w, KEEP_ERR_NOMEM, "out of memory encoding tensor '%.80s'", name);
    /* row by row: the quantizers work on whole rows of whole blocks */
    size_t row = infer_type_row_bytes(type, ne[0]);
    for (uint64_t r = 0; r < n / ne[0]; r++)
        if (encode_row(type, data + r * ne[0], (char *)out + r * row, (size_t)ne[0]) != KEEP_OK) {
            keep_free(out);
            return fail(w, KEEP_ERR_INTERNAL, "GGUF writer: encoding tensor '%.80s' failed", name);
        }
    return push_tensor(w, name, type, n_dims, ne, out, nbytes);
}

int infer_gguf_writer_add_tensor_gen(infer_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                     const uint64_t *ne, infer_gguf_row_fn gen, void *ctx)
{
    size_t nbytes = 0;
    if (!check_shape(w, name, type, n_dims, ne, &nbytes))
        return w->err.code;
    if (!gen)
        return fail(w, KEEP_ERR_USAGE, "GGUF writer: NULL generator for tensor '%.80s'", name);
    if (!can_encode(type))
        return fail(w, KEEP_ERR_UNSUPPORTED, "GGUF writer: cannot encode tensor '%.80s' to that type from f32", name);
    int rc = push_tensor(w, name, type, n_dims, ne, NULL, nbytes);
    if (rc == KEEP_OK) {
        w->t[w->n_t - 1].gen = gen;
        w->t[w->n_t - 1].gen_ctx = ctx;
    }
    return rc;
}

/* ---- output ------------------------------------------------------------------- */

typedef int (*sink_fn)(void *ctx, const void *p, size_t n);

static int emit_pad(sink_fn sink, void *ctx, size_t pos, size_t align, size_t *out_pos)
{
    static const char zeros[256];
    size_t pad = (align - pos % align) % align;
    *out_pos = pos + pad;
    while (pad) {
        size_t k = pad < sizeof zeros ? pad : sizeof zeros;
        if (sink(ctx, zeros, k))
            return KEEP_ERR_IO;
        pad -= k;
    }
    return KEEP_OK;
}

static size_t writer_alignment(const infer_gguf_writer *w, keep_err *err, int *rc)
{
    *rc = KEEP_OK;
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, "general.alignment") == 0) {
            uint32_t a = 0;
            if (w->kv[i].type == INFER_GGUF_U32)
                memcpy(&a, w->kv[i].val.data, 4);
            if (a == 0 || (a & (a - 1)) || a > MAX_ALIGNMENT) {
                *rc = keep_err_set(err, KEEP_ERR_USAGE, "GGUF writer: general.alignment must be a u32 power of two");
                return 0;
            }
            return a;
        }
    return INFER_GGUF_DEFAULT_ALIGNMENT;
}

/* Streams a generated tensor: one f32 row and one encoded row in memory. */
static int emit_generated(const wtensor *t, sink_fn sink, void *ctx, keep_err *err)
{
    size_t cols = (size_t)t->ne[0];
    size_t rb = infer_type_row_bytes(t->type, cols);
    uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    float *src = keep_reallocarray(NULL, cols, sizeof *src);
    void *enc = keep_malloc(rb);
    int rc = KEEP_OK;
    if (!src || !enc) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory generating tensor '%.80s'", t->name);
        goto done;
    }
    for (uint64_t r = 0; r < rows; r++) {
        if ((rc = t->gen(t->gen_ctx, t->name, r, src, cols))) {
            rc = keep_err_set(err, rc, "GGUF writer: generator failed for tensor '%.80s' row %llu", t->name,
                              (unsigned long long)r);
            goto done;
        }
        if (encode_row(t->type, src, enc, cols) != KEEP_OK) {
            rc = keep_err_set(err, KEEP_ERR_INTERNAL, "GGUF writer: encoding tensor '%.80s' failed", t->name);
            goto done;
        }
        if (sink(ctx, enc, rb)) {
            rc = keep_err_set(err, KEEP_ERR_IO, "GGUF write failed: %s", strerror(errno ? errno : EIO));
            goto done;
        }
    }
done:
    keep_free(src);
    keep_free(enc);
    return rc;
}

/* Streams the file to sink. */
static int emit(const infer_gguf_writer *w, sink_fn sink, void *ctx, keep_err *err)
{
    if (w->err.code)
        return keep_err_set(err, w->err.code, "%s", w->err.msg);
    int rc;
    size_t align = writer_alignment(w, err, &rc);
    if (rc)
        return rc;
    keep_buf h = {0};
    uint32_t v32;
    uint64_t v64;
#define H(p, n)                                                                                                       \
    do {                                                                                                              \
        if (keep_buf_append(&h, (p), (n)))                                                                            \
            goto nomem;                                                                                               \
    } while (0)
    H("GGUF", 4);
    H(&w->version, 4);
    v64 = w->n_t;
    H(&v64, 8);
    v64 = w->n_kv;
    H(&v64, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        v64 = strlen(w->kv[i].key);
        H(&v64, 8);
        H(w->kv[i].key, (size_t)v64);
        H(&w->kv[i].type, 4);
        if (w->kv[i].val.len)
            H(w->kv[i].val.data, w->kv[i].val.len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        v64 = strlen(t->name);
        H(&v64, 8);
        H(t->name, (size_t)v64);
        H(&t->n_dims, 4);
        H(t->ne, 8 * (size_t)t->n_dims);
        v32 = t->type;
        H(&v32, 4);
        H(&off, 8);
        off += t->nbytes;
        off += (align - off % align) % align;
    }
#undef H
    size_t pos;
    if (sink(ctx, h.data, h.len) || emit_pad(sink, ctx, h.len, align, &pos))
        goto io;
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        if (t->gen) {
            if ((rc = emit_generated(t, sink, ctx, err)))
                goto out;
        } else if (sink(ctx, t->data, t->nbytes)) {
            goto io;
        }
        if (emit_pad(sink, ctx, pos + t->nbytes, align, &pos))
            goto io;
    }
    keep_buf_free(&h);
    return KEEP_OK;
out:
    keep_buf_free(&h);
    return rc;
nomem:
    keep_buf_free(&h);
    return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory writing GGUF header");
io:
    keep_buf_free(&h);
    return keep_err_set(err, KEEP_ERR_IO, "GGUF write failed: %s", strerror(errno ? errno : EIO));
}

static int sink_buf(void *ctx, const void *p, size_t n)
{
    return keep_buf_append(ctx, p, n) ? -1 : 0;
}

static int sink_file(void *ctx, const void *p, size_t n)
{
    return fwrite(p, 1, n, ctx) == n ? 0 : -1;
}

int infer_gguf_writer_to_memory(const infer_gguf_writer *w, char **out, size_t *len, keep_err *err)
{
    keep_buf b = {0};
    *out = NULL;
    *len = 0;
    errno = ENOMEM; /* the only way a memory sink fails */
    int rc = emit(w, sink_buf, &b, err);
    if (rc) {
        keep_buf_free(&b);
        return rc;
    }
    *len = b.len;
    *out = keep_buf_take(&b);
    if (!*out)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory writing GGUF");
    return KEEP_OK;
}

int infer_gguf_writer_write(const infer_gguf_writer *w, const char *path, keep_err *err)
{
    size_t n = strlen(path);
    char *tmp = keep_malloc(n + 16);
    if (!tmp)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory writing %s", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmpXXXXXX", 11);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int rc = keep_err_set(err, KEEP_ERR_IO, "%s: %s", tmp, strerror(errno));
        keep_free(tmp);
        return rc;
    }
    /* mkstemp creates 0600; a model file is not secret */
    (void)fchmod(fd, 0644);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int rc = keep_err_set(err, KEEP_ERR_IO, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        keep_free(tmp);
        return rc;
    }
    errno = 0;
    int rc = emit(w, sink_file, f, err);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        if (!rc)
            rc = keep_err_set(err, KEEP_ERR_IO, "%s: %s", tmp, strerror(errno));
    }
    if (fclose(f) != 0 && !rc)
        rc = keep_err_set(err, KEEP_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = keep_err_set(err, KEEP_ERR_IO, "rename %s: %s", path, strerror(errno));
    if (rc)
        unlink(tmp);
    keep_free(tmp);
    return rc;
}

