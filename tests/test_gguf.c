/* test_gguf.c — the GGUF reader against the llama.cpp-made fixtures (real
 * values), against every truncation of real files, and against hand-corrupted
 * headers built byte by byte here (each must be a one-line error). */
#include "infer/gguf.h"

#include <cjson/cJSON.h>
#include <dirent.h>

#include "infer/ggml_types.h"
#include "tap.h"

/* ---- fixtures --------------------------------------------------------------- */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static void open_all(const char *sub)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tap_fixture(sub));
    DIR *d = opendir(dir);
    OK(d != NULL, "fixture directory exists");
    if (!d)
        return;
    int n = 0, good = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!ends_with(e->d_name, ".gguf"))
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        infer_gguf *g = NULL;
        keep_err err = {0, {0}};
        int rc = infer_gguf_open(path, &g, &err);
        n++;
        if (rc == KEEP_OK && infer_gguf_kv_count(g) > 0 && infer_gguf_arch(g)[0])
            good++;
        else
            printf("# %s: %s\n", e->d_name, err.msg);
        infer_gguf_close(g);
    }
    closedir(d);
    char what[128];
    snprintf(what, sizeof what, "every %s fixture opens (%d)", sub, n);
    OK(n > 0 && good == n, what);
}

static void test_llama_f32(void)
{
    infer_gguf *g = NULL;
    keep_err err = {0, {0}};
    int rc = infer_gguf_open(tap_fixture("models/tiny-llama-f32.gguf"), &g, &err);
    ASSERT_EQ_INT(rc, KEEP_OK, "open tiny-llama-f32");
    if (rc) {
        printf("# %s\n", err.msg);
        return;
    }
    ASSERT_EQ_INT(infer_gguf_version(g), 3, "version 3");
    ASSERT_EQ_STR(infer_gguf_arch(g), "llama", "general.architecture");
    ASSERT_EQ_INT(infer_gguf_alignment(g), 32, "default alignment");
    ASSERT_EQ_INT(infer_gguf_tensor_count(g), 20, "2 layers x 9 + token_embd + output_norm");
    ASSERT_EQ_INT(infer_gguf_file_size(g), 10579488, "file size");

    char name[64];
    long ni = infer_gguf_find_key(g, "general.name");
    OK(ni >= 0, "general.name present");
    ASSERT_EQ_INT(infer_gguf_get_str_copy(g, (size_t)ni, name, sizeof name), KEEP_OK, "copy general.name");
    ASSERT_EQ_STR(name, "tiny-llama-f32", "general.name value");
    ASSERT_EQ_INT(infer_gguf_get_str_copy(g, (size_t)ni, name, 5), KEEP_ERR_TOOBIG, "small buffer refused");
    char *dup = infer_gguf_key_strdup(g, "tokenizer.ggml.model");
    ASSERT_EQ_STR(dup, "llama", "tokenizer.ggml.model strdup");
    keep_free(dup);

    uint64_t u;
    int64_t i64;
    double f;
    int b;
    ASSERT_EQ_INT(infer_gguf_key_u64(g, "llama.embedding_length", &u), KEEP_OK, "embedding_length");
    ASSERT_EQ_INT(u, 256, "embedding_length 256");
    long ci = infer_gguf_find_arch_key(g, "context_length");
    OK(ci >= 0 && infer_gguf_get_i64(g, (size_t)ci, &i64) == KEEP_OK && i64 == 2048, "arch key context_length 2048");
    ASSERT_EQ_INT(infer_gguf_key_u64(g, "llama.attention.head_count_kv", &u), KEEP_OK, "head_count_kv");
    ASSERT_EQ_INT(u, 2, "head_count_kv 2");
    ASSERT_EQ_INT(infer_gguf_key_f64(g, "llama.rope.freq_base", &f), KEEP_OK, "rope base f32");
    ASSERT_NEAR(f, 10000.0, 1e-9, "rope base 1e4");
    ASSERT_EQ_INT(infer_gguf_key_f64(g, "llama.block_count", &f), KEEP_ERR_PARSE, "u32 is not a float");
    ASSERT_EQ_INT(infer_gguf_key_u64(g, "general.name", &u), KEEP_ERR_PARSE, "string is not an integer");
    ASSERT_EQ_INT(infer_gguf_key_u64(g, "no.such.key", &u), KEEP_ERR_NOTFOUND, "absent key");
    ASSERT_EQ_INT(infer_gguf_key_bool(g, "tokenizer.ggml.add_bos_token", &b), KEEP_OK, "add_bos bool");
    ASSERT_EQ_INT(b, 1, "add_bos true");
    ASSERT_EQ_INT(infer_gguf_key_u64(g, "tokenizer.ggml.eos_token_id", &u), KEEP_OK, "eos id");
    ASSERT_EQ_INT(u, 2, "eos id 2");

    long ti = infer_gguf_find_key(g, "tokenizer.ggml.tokens");
    uint32_t et = 99;
    uint64_t cnt = 0;
    OK(ti >= 0 && infer_gguf_arr_info(g, (size_t)ti, &et, &cnt) == KEEP_OK, "tokens array");
    ASSERT_EQ_INT(et, INFER_GGUF_STRING, "tokens are strings");
    ASSERT_EQ_INT(cnt, 4096, "4096 tokens");
    const char *s;
    size_t len;
    ASSERT_EQ_INT(infer_gguf_arr_str(g, (size_t)ti, 2, &s, &len), KEEP_OK, "token 2");
    OK(len == 4 && memcmp(s, "</s>", 4) == 0, "token 2 is </s>");
    ASSERT_EQ_INT(infer_gguf_arr_str(g, (size_t)ti, 1, &s, &len), KEEP_OK, "token 1");
    OK(len == 3 && memcmp(s, "<s>", 3) == 0, "token 1 is <s>");
    ASSERT_EQ_INT(infer_gguf_arr_str(g, (size_t)ti, 4096, &s, &len), KEEP_ERR_NOTFOUND, "token 4096 out of range");
    long tt = infer_gguf_find_key(g, "tokenizer.ggml.token_type");
    OK(tt >= 0 && infer_gguf_arr_i64(g, (size_t)tt, 1, &i64) == KEEP_OK && i64 == 3, "token_type[1] is CONTROL (3)");
    const void *raw;
    size_t es;
    OK(tt >= 0 && infer_gguf_arr_data(g, (size_t)tt, &raw, &es, &cnt) == KEEP_OK && es == 4 && cnt == 4096,
       "token_type raw i32 x 4096");
    ASSERT_EQ_INT(infer_gguf_arr_str(g, (size_t)tt, 0, &s, &len), KEEP_ERR_PARSE, "i32 array has no strings");
    long sc = infer_gguf_find_key(g, "tokenizer.ggml.scores");
    OK(sc >= 0 && infer_gguf_arr_f64(g, (size_t)sc, 0, &f) == KEEP_OK, "scores[0] readable");

    infer_gguf_tensor t;
    ASSERT_EQ_INT(infer_gguf_tensor_by_name(g, "token_embd.weight", &t), KEEP_OK, "token_embd.weight");
    ASSERT_EQ_INT(t.type, INFER_T_F32, "token_embd f32");
    ASSERT_EQ_INT(t.n_dims, 2, "token_embd 2 dims");
    ASSERT_EQ_INT(t.ne[0], 256, "token_embd ne0 256");
    ASSERT_EQ_INT(t.ne[1], 4096, "token_embd ne1 4096");
    ASSERT_EQ_INT(t.nbytes, 256 * 4096 * 4, "token_embd nbytes");
    OK(((uintptr_t)t.data & 31) == 0, "tensor data aligned in the mapping");
    ASSERT_EQ_INT(infer_gguf_tensor_by_name(g, "blk.1.ffn_down.weight", &t), KEEP_OK, "blk.1.ffn_down");
    OK(t.ne[0] == 768 && t.ne[1] == 256, "ffn_down is 768 x 256");
    ASSERT_EQ_INT(infer_gguf_tensor_by_name(g, "output.weight", &t), KEEP_ERR_NOTFOUND, "tied output: no output.weight");
    ASSERT_EQ_INT(infer_gguf_get_tensor(g, 20, &t), KEEP_ERR_NOTFOUND, "tensor index out of range");
    /* every tensor lies inside the file and the offsets are what the table says */
    int inside = 1;
    uint64_t params = 0;
    for (size_t i = 0; i < infer_gguf_tensor_count(g); i++) {
        infer_gguf_get_tensor(g, i, &t);
        const char *base = (const char *)t.data - t.offset - infer_gguf_data_offset(g);
        if ((const char *)t.data + t.nbytes > base + infer_gguf_file_size(g))
            inside = 0;
        params += t.n_elements;
        if (infer_gguf_find_tensor(g, t.name) != (long)i)
            inside = 0;
    }
    OK(inside, "tensors inside the file and found by name");
    /* (file size - data offset) / 4 for an all-f32 file */
    ASSERT_EQ_INT(params, 2622720, "parameter count");
    infer_gguf_close(g);
}

static void test_types(const char *file, uint32_t want1, uint32_t want2)
{
    infer_gguf *g = NULL;
    keep_err err = {0, {0}};
    char what[160];
    snprintf(what, sizeof what, "open %s", file);
    ASSERT_EQ_INT(infer_gguf_open(tap_fixture(file), &g, &err), KEEP_OK, what);
    if (!g)
        return;
    int has1 = 0, has2 = 0;
    infer_gguf_tensor t;
    for (size_t i = 0; i < infer_gguf_tensor_count(g); i++) {
        infer_gguf_get_tensor(g, i, &t);
        has1 |= t.type == want1;
        has2 |= t.type == want2;
    }
    snprintf(what, sizeof what, "%s has %s and %s tensors", file, infer_type_get(want1)->name,
             infer_type_get(want2)->name);
    OK(has1 && has2, what);
    infer_gguf_close(g);
}

static void test_vocab(void)
{
    infer_gguf *g = NULL;
    keep_err err = {0, {0}};
    ASSERT_EQ_INT(infer_gguf_open(tap_fixture("vocab/ggml-vocab-qwen2.gguf"), &g, &err), KEEP_OK, "open qwen2 vocab");
    if (!g)
        return;
    ASSERT_EQ_INT(infer_gguf_tensor_count(g), 0, "vocab file has no tensors");
    long ti = infer_gguf_find_key(g, "tokenizer.ggml.tokens");
    uint64_t cnt = 0;
    OK(ti >= 0 && infer_gguf_arr_info(g, (size_t)ti, NULL, &cnt) == KEEP_OK, "qwen2 tokens");
    ASSERT_EQ_INT(cnt, 151936, "qwen2 vocabulary size");
    const char *s;
    size_t len;
    OK(infer_gguf_arr_str(g, (size_t)ti, 151935, &s, &len) == KEEP_OK && len > 0, "last qwen2 token");
    long mi = infer_gguf_find_key(g, "tokenizer.ggml.merges");
    OK(mi >= 0 && infer_gguf_arr_str(g, (size_t)mi, 2, &s, &len) == KEEP_OK && len == 3 && memcmp(s, "i n", 3) == 0,
       "merge 2 is 'i n'");
    OK(infer_gguf_key_str(g, "tokenizer.ggml.pre", &s, &len) == KEEP_OK && len == 5 && memcmp(s, "qwen2", 5) == 0,
       "pre-tokenizer qwen2");
    infer_gguf_close(g);
}

/* Every prefix of a real file must be refused without a crash. */
static void test_truncations(const char *file)
{
    char *data = NULL;
    size_t len = 0;
    keep_err err = {0, {0}};
    char what[160];
    snprintf(what, sizeof what, "read %s", file);
    ASSERT_EQ_INT(keep_read_file(tap_fixture(file), (size_t)64 << 20, &data, &len, &err), KEEP_OK, what);
    if (!data)
        return;
    infer_gguf *g = NULL;
    ASSERT_EQ_INT(infer_gguf_open_memory(data, len, &g, &err), KEEP_OK, "whole file opens from memory");
    size_t hdr = g ? infer_gguf_data_offset(g) : len;
    infer_gguf_close(g);
    int tried = 0, refused = 0, messages = 1;
    for (size_t n = 0; n < len; n += n < 2048 ? 1 : n < hdr ? 61 : 4099) {
        g = NULL;
        err.msg[0] = 0;
        int rc = infer_gguf_open_memory(data, n, &g, &err);
        tried++;
        if (rc != KEEP_OK && g == NULL)
            refused++;
        if (!err.msg[0] || strchr(err.msg, '\n'))
            messages = 0;
        infer_gguf_close(g);
    }
    snprintf(what, sizeof what, "%s: all %d truncations refused", file, tried);
    ASSERT_EQ_INT(refused, tried, what);
    OK(messages, "each with a one-line message");
    keep_free(data);
}

/* ---- hand-built files ------------------------------------------------------- */

typedef struct fields {
    size_t version, n_tensors, n_kv, key0_len, key0_type, align_type, align_val, arr_type, arr_count, arr_str0_len,
        bool_val, nested_type, nested_inner, t0_name, t0_ndims, t0_ne0, t0_ne1, t0_type, t0_off, t1_name, t1_off, key1;
} fields;

static void p32(keep_buf *b, uint32_t v)
{
    keep_buf_append(b, &v, 4);
}
static void p64(keep_buf *b, uint64_t v)
{
    keep_buf_append(b, &v, 8);
}
static void pstr(keep_buf *b, const char *s)
{
    p64(b, strlen(s));
    keep_buf_puts(b, s);
}

/* A valid little file: 6 keys, an f32 and a q8_0 tensor; f records where each
 * field is. */
static void build(keep_buf *b, fields *f)
{
    keep_buf_puts(b, "GGUF");
    f->version = b->len;
    p32(b, 3);
    f->n_tensors = b->len;
    p64(b, 2);
    f->n_kv = b->len;
    p64(b, 6);
    f->key0_len = b->len;
    pstr(b, "general.architecture");
    f->key0_type = b->len;
    p32(b, INFER_GGUF_STRING);
    pstr(b, "test");
    pstr(b, "general.alignment");
    f->align_type = b->len;
    p32(b, INFER_GGUF_U32);
    f->align_val = b->len;
    p32(b, 64);
    f->key1 = b->len + 8;
    pstr(b, "test.list");
    p32(b, INFER_GGUF_ARRAY);
    f->arr_type = b->len;
    p32(b, INFER_GGUF_STRING);
    f->arr_count = b->len;
    p64(b, 3);
    f->arr_str0_len = b->len;
    pstr(b, "one");
    pstr(b, "two");
    pstr(b, "three");
    pstr(b, "test.flag");
    p32(b, INFER_GGUF_BOOL);
    f->bool_val = b->len;
    keep_buf_putc(b, 1);
    pstr(b, "test.lisu");
    p32(b, INFER_GGUF_ARRAY);
    p32(b, INFER_GGUF_I16);
    p64(b, 2);
    p32(b, 0xfffe0007u);
    pstr(b, "test.nested"); /* [[1, 2], ["x"]]: one level of nesting is accepted */
    p32(b, INFER_GGUF_ARRAY);
    f->nested_type = b->len;
    p32(b, INFER_GGUF_ARRAY);
    p64(b, 2);
    p32(b, INFER_GGUF_U8);
    p64(b, 2);
    keep_buf_putc(b, 1);
    keep_buf_putc(b, 2);
    f->nested_inner = b->len;
    p32(b, INFER_GGUF_STRING);
    p64(b, 1);
    pstr(b, "x");
    f->t0_name = b->len + 8;
    pstr(b, "ta");
    f->t0_ndims = b->len;
    p32(b, 2);
    f->t0_ne0 = b->len;
    p64(b, 8);
    f->t0_ne1 = b->len;
    p64(b, 2);
    f->t0_type = b->len;
    p32(b, INFER_T_F32);
    f->t0_off = b->len;
    p64(b, 0);
    f->t1_name = b->len + 8;
    pstr(b, "tb");
    p32(b, 1);
    p64(b, 32);
    p32(b, INFER_T_Q8_0);
    f->t1_off = b->len;
    p64(b, 64);
    while (b->len % 64)
        keep_buf_putc(b, 0);
    for (int i = 0; i < 64; i++) /* 16 floats, then 34 bytes of q8_0 and padding */
        keep_buf_putc(b, (char)i);
    for (int i = 0; i < 34; i++)
        keep_buf_putc(b, 1);
}

static void put32(char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static void test_hand_built(void)
{
    keep_buf b = {0};
    fields f;
    build(&b, &f);
    infer_gguf *g = NULL;
    keep_err err = {0, {0}};
    int rc = infer_gguf_open_memory(b.data, b.len, &g, &err);
    ASSERT_EQ_INT(rc, KEEP_OK, "hand-built file opens");
    if (rc)
        printf("# %s\n", err.msg);
    if (g) {
        ASSERT_EQ_INT(infer_gguf_alignment(g), 64, "alignment 64");
        ASSERT_EQ_INT(infer_gguf_data_offset(g) % 64, 0, "data offset aligned");
        infer_gguf_tensor t;
        ASSERT_EQ_INT(infer_gguf_tensor_by_name(g, "tb", &t), KEEP_OK, "tensor tb");
        OK(t.type == INFER_T_Q8_0 && t.nbytes == 34 && ((const char *)t.data)[0] == 1, "tb q8_0 34 bytes of 1");
        long li = infer_gguf_find_key(g, "test.lisu");
        int64_t v = 0;
        OK(li >= 0 && infer_gguf_arr_i64(g, (size_t)li, 1, &v) == KEEP_OK && v == -2, "i16 array element -2");
        OK(infer_gguf_arr_i64(g, (size_t)li, 0, &v) == KEEP_OK && v == 7, "i16 array element 7");
        ASSERT_EQ_INT(infer_gguf_arr_f64(g, (size_t)li, 0, &(double){0}), KEEP_ERR_PARSE, "i16 is not float");
        long ne = infer_gguf_find_key(g, "test.nested");
        uint32_t et = 0;
        uint64_t cnt = 0;
        OK(ne >= 0 && !infer_gguf_arr_info(g, (size_t)ne, &et, &cnt) && et == INFER_GGUF_ARRAY && cnt == 2,
           "array of arrays accepted, 2 elements");
        const void *raw;
        size_t es;
        OK(ne >= 0 && infer_gguf_arr_data(g, (size_t)ne, &raw, &es, &cnt) == KEEP_ERR_PARSE &&
               infer_gguf_arr_i64(g, (size_t)ne, 0, &v) == KEEP_ERR_PARSE,
           "its elements are not readable as numbers");
        const char *s;
        size_t len;
        long si = infer_gguf_find_key(g, "test.list");
        OK(si >= 0 && infer_gguf_arr_str(g, (size_t)si, 2, &s, &len) == KEEP_OK && len == 5 && !memcmp(s, "three", 5),
           "string array element 2");
        infer_gguf_close(g);
    }

    struct {
        const char *what;
        size_t at;
        int is64;
        uint64_t val;
    } cases[] = {
        {"version 1", f.version, 0, 1},
        {"version 4", f.version, 0, 4},
        {"huge tensor count", f.n_tensors, 1, UINT64_MAX},
        {"tensor count just past the file", f.n_tensors, 1, 3},
        {"huge kv count", f.n_kv, 1, (uint64_t)1 << 40},
        {"kv count one too many", f.n_kv, 1, 7},
        {"nested array of unknown type", f.nested_inner, 0, 200},
        {"arrays nested three deep", f.nested_inner, 0, INFER_GGUF_ARRAY},
        {"huge key length", f.key0_len, 1, UINT64_MAX - 3},
        {"key length past the end", f.key0_len, 1, 100000},
        {"zero key length", f.key0_len, 1, 0},
        {"unknown value type", f.key0_type, 0, 13},
        {"value type huge", f.key0_type, 0, 0xffffffffu},
        {"alignment of type u64", f.align_type, 0, INFER_GGUF_U64},
        {"alignment not a power of two", f.align_val, 0, 48},
        {"alignment zero", f.align_val, 0, 0},
        {"alignment 2^30", f.align_val, 0, 1u << 30},
        {"array of unknown type", f.arr_type, 0, 77},
        {"array count huge", f.arr_count, 1, (uint64_t)1 << 62},
        {"array count past the end", f.arr_count, 1, 1000},
        {"array string length huge", f.arr_str0_len, 1, UINT64_MAX},
        {"array of arrays of arrays", f.arr_type, 0, INFER_GGUF_ARRAY},
        {"bool value 2", f.bool_val, -1, 2},
        {"zero dims", f.t0_ndims, 0, 0},
        {"five dims", f.t0_ndims, 0, 5},
        {"zero dim", f.t0_ne0, 1, 0},
        {"dim past int64", f.t0_ne1, 1, (uint64_t)1 << 63},
        {"overflowing dims", f.t0_ne1, 1, (uint64_t)1 << 62},
        {"tensor too big for the data", f.t0_ne1, 1, 1000},
        {"unknown tensor type", f.t0_type, 0, 5},
        {"tensor type huge", f.t0_type, 0, 1000},
        {"row not a multiple of the block", f.t0_type, 0, INFER_T_Q4_0},
        {"tensor offset outside the file", f.t1_off, 1, 1 << 20},
        {"tensor offset huge", f.t1_off, 1, UINT64_MAX - 63},
        {"tensor offset unaligned", f.t1_off, 1, 32},
        {"tensor offset overlapping the end", f.t1_off, 1, 128},
        {"duplicate tensor name", f.t1_name + 1, -1, 'a'},
        {"NUL in tensor name", f.t0_name, -1, 0},
        {"newline in tensor name", f.t0_name + 1, -1, '\n'},
        {"escape in key", f.key1 + 2, -1, 0x1b},
        {"duplicate key", f.key1 + 8, -1, 'u'},
        {"bad magic", 0, -1, 'g'},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *copy = keep_malloc(b.len);
        memcpy(copy, b.data, b.len);
        if (cases[i].is64 == 1)
            put64(copy + cases[i].at, cases[i].val);
        else if (cases[i].is64 == 0)
            put32(copy + cases[i].at, (uint32_t)cases[i].val);
        else
            copy[cases[i].at] = (char)cases[i].val;
        g = NULL;
        err.msg[0] = 0;
        rc = infer_gguf_open_memory(copy, b.len, &g, &err);
        char what[200];
        snprintf(what, sizeof what, "%s refused", cases[i].what);
        OK(rc != KEEP_OK && g == NULL && err.msg[0] && !strchr(err.msg, '\n'), what);
        printf("#   -> %s\n", err.msg);
        infer_gguf_close(g);
        keep_free(copy);
    }
    keep_buf_free(&b);
}

static void test_open_errors(void)
{
    infer_gguf *g = (infer_gguf *)1;
    keep_err err = {0, {0}};
    OK(infer_gguf_open("/nonexistent/x.gguf", &g, &err) == KEEP_ERR_IO && g == NULL, "missing file is an I/O error");
    OK(infer_gguf_open("/", &g, &err) != KEEP_OK && g == NULL, "directory refused");
    OK(infer_gguf_open_memory("", 0, &g, &err) != KEEP_OK, "empty buffer refused");
    infer_gguf_close(NULL);
    /* allocation failures at every step are errors, not crashes */
    char *data = NULL;
    size_t len = 0;
    int all = 1;
    if (keep_read_file(tap_fixture("vocab/ggml-vocab-bert-bge.gguf"), 1 << 24, &data, &len, &err) == KEEP_OK) {
        for (long k = 0; k < 40; k++) {
            keep_alloc_fail_after(k);
            g = NULL;
            int rc = infer_gguf_open_memory(data, len, &g, &err);
            keep_alloc_fail_after(-1);
            if (rc == KEEP_OK)
                infer_gguf_close(g);
            else if (g != NULL)
                all = 0;
        }
    }
    OK(data && all, "allocation failures handled");
    keep_free(data);
}

static void test_describe(void)
{
    infer_gguf *g = NULL;
    keep_err err = {0, {0}};
    keep_buf b = {0};
    if (infer_gguf_open(tap_fixture("models/tiny-llama-q4_k_m.gguf"), &g, &err) != KEEP_OK) {
        OK(0, "open q4_k_m for describe");
        return;
    }
    ASSERT_EQ_INT(infer_gguf_describe(g, &b, 0), KEEP_OK, "describe text");
    OK(b.data && strstr(b.data, "architecture:     llama\n"), "text: architecture");
    OK(b.data && strstr(b.data, "layers:           2\n"), "text: layers");
    OK(b.data && strstr(b.data, "attention heads:  4 (kv heads: 2)"), "text: heads");
    OK(b.data && strstr(b.data, "q4_K: ") && strstr(b.data, "q6_K: "), "text: per-type counts");
    OK(b.data && strstr(b.data, "tokenizer:        llama (pre: -), vocabulary 4096"), "text: tokenizer");
    OK(b.data && strstr(b.data, "chat template:    no"), "text: no chat template");
    keep_buf_reset(&b);
    ASSERT_EQ_INT(infer_gguf_describe(g, &b, 1), KEEP_OK, "describe json");
    cJSON *j = cJSON_Parse(b.data);
    OK(j != NULL, "json parses");
    ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "architecture")), "llama", "json architecture");
    ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "name")), "tiny-llama-f32", "json name (quantized from the f32 model)");
    ASSERT_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "parameters")), 2622720, "json parameters");
    ASSERT_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "file_size")), 1897824, "json file size");
    ASSERT_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "embedding_length")), 256, "json embedding");
    ASSERT_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "context_length")), 2048, "json context");
    ASSERT_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "vocab_size")), 4096, "json vocab");
    cJSON *types = cJSON_GetObjectItem(j, "tensor_types");
    double sum = 0;
    for (cJSON *c = types ? types->child : NULL; c; c = c->next)
        sum += cJSON_GetNumberValue(c);
    ASSERT_EQ_INT(sum, 20, "json per-type counts add up to 20");
    OK(cJSON_GetObjectItem(types, "q6_K") != NULL, "json has q6_K");
    OK(cJSON_IsNull(cJSON_GetObjectItem(j, "tokenizer_pre")), "json missing pre is null");
    OK(cJSON_IsFalse(cJSON_GetObjectItem(j, "chat_template")), "json chat_template false");
    cJSON_Delete(j);
    infer_gguf_close(g);

    keep_buf_reset(&b);
    if (infer_gguf_open(tap_fixture("models/tiny-qwen2-q8_0.gguf"), &g, &err) == KEEP_OK) {
        infer_gguf_describe(g, &b, 1);
        j = cJSON_Parse(b.data);
        OK(cJSON_IsTrue(cJSON_GetObjectItem(j, "chat_template")), "qwen2 has a chat template");
        ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "tokenizer_pre")), "qwen2", "qwen2 pre");
        cJSON_Delete(j);
        infer_gguf_close(g);
    }
    keep_buf_free(&b);
}

int main(void)
{
    open_all("models");
    open_all("vocab");
    test_llama_f32();
    test_types("models/tiny-llama-q4_k_m.gguf", INFER_T_Q4_K, INFER_T_Q6_K);
    test_types("models/tiny-llama-q3_k_m.gguf", INFER_T_Q3_K, INFER_T_Q6_K);
    test_types("models/tiny-qwen2-q8_0.gguf", INFER_T_Q8_0, INFER_T_F32);
    test_types("models/tiny-llama-bf16.gguf", INFER_T_BF16, INFER_T_F32);
    test_vocab();
    test_truncations("models/tiny-llama-q4_k_m.gguf");
    test_truncations("vocab/ggml-vocab-bert-bge.gguf");
    test_hand_built();
    test_open_errors();
    test_describe();
    return tap_done();
}
