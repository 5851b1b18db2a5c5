/* test_gguf_write.c — the GGUF writer: every metadata type and several tensor
 * types written, read back with the reader and compared value by value; the
 * file rebuilt from what the reader saw is byte-identical; half-precision
 * conversions checked on edge values and exhaustively; misuse is refused. */
#include "infer/gguf_write.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <stdlib.h>
#include <unistd.h>

#include "infer/ggml_types.h"
#include "infer/quant.h"
#include "tap.h"

/* Rebuilds a writer from everything a reader exposes (keys in order, values,
 * tensors), so that writer(reader(file)) == file checks both sides. */
static int copy_into(const infer_gguf *g, infer_gguf_writer *w)
{
    int rc = infer_gguf_writer_set_version(w, infer_gguf_version(g));
    for (size_t i = 0; i < infer_gguf_kv_count(g) && !rc; i++) {
        const char *k = infer_gguf_key(g, i);
        int t = infer_gguf_kv_type(g, i);
        const char *s;
        size_t len;
        int64_t iv = 0;
        uint64_t uv = 0;
        double d = 0;
        switch (t) {
        case INFER_GGUF_STRING:
            infer_gguf_get_str(g, i, &s, &len);
            rc = infer_gguf_writer_set_strn(w, k, s, len);
            break;
        case INFER_GGUF_U8:
            infer_gguf_get_u64(g, i, &uv);
            rc = infer_gguf_writer_set_u8(w, k, (uint8_t)uv);
            break;
        case INFER_GGUF_I8:
            infer_gguf_get_i64(g, i, &iv);
            rc = infer_gguf_writer_set_i8(w, k, (int8_t)iv);
            break;
        case INFER_GGUF_U16:
            infer_gguf_get_u64(g, i, &uv);
            rc = infer_gguf_writer_set_u16(w, k, (uint16_t)uv);
            break;
        case INFER_GGUF_I16:
            infer_gguf_get_i64(g, i, &iv);
            rc = infer_gguf_writer_set_i16(w, k, (int16_t)iv);
            break;
        case INFER_GGUF_U32:
            infer_gguf_get_u64(g, i, &uv);
            rc = infer_gguf_writer_set_u32(w, k, (uint32_t)uv);
            break;
        case INFER_GGUF_I32:
            infer_gguf_get_i64(g, i, &iv);
            rc = infer_gguf_writer_set_i32(w, k, (int32_t)iv);
            break;
        case INFER_GGUF_U64:
            infer_gguf_get_u64(g, i, &uv);
            rc = infer_gguf_writer_set_u64(w, k, uv);
            break;
        case INFER_GGUF_I64:
            infer_gguf_get_i64(g, i, &iv);
            rc = infer_gguf_writer_set_i64(w, k, iv);
            break;
        case INFER_GGUF_F32:
            infer_gguf_get_f64(g, i, &d);
            rc = infer_gguf_writer_set_f32(w, k, (float)d);
            break;
        case INFER_GGUF_F64:
            infer_gguf_get_f64(g, i, &d);
            rc = infer_gguf_writer_set_f64(w, k, d);
            break;
        case INFER_GGUF_BOOL: {
            int b = 0;
            infer_gguf_get_bool(g, i, &b);
            rc = infer_gguf_writer_set_bool(w, k, b);
            break;
        }
        case INFER_GGUF_ARRAY: {
            uint32_t et;
            uint64_t n;
            infer_gguf_arr_info(g, i, &et, &n);
            if (et == INFER_GGUF_STRING) {
                const char **ss = keep_calloc(n + 1, sizeof *ss);
                size_t *ls = keep_calloc(n + 1, sizeof *ls);
                for (uint64_t j = 0; j < n; j++)
                    infer_gguf_arr_str(g, i, j, &ss[j], &ls[j]);
                rc = infer_gguf_writer_set_arr_str(w, k, ss, ls, n);
                keep_free(ss);
                keep_free(ls);
            } else {
                const void *p;
                size_t es;
                infer_gguf_arr_data(g, i, &p, &es, &n);
                rc = infer_gguf_writer_set_arr(w, k, et, p, n);
            }
            break;
        }
        default:
            rc = KEEP_ERR_INTERNAL;
        }
    }
    for (size_t i = 0; i < infer_gguf_tensor_count(g) && !rc; i++) {
        infer_gguf_tensor t;
        infer_gguf_get_tensor(g, i, &t);
        rc = infer_gguf_writer_add_tensor(w, t.name, t.type, t.n_dims, t.ne, t.data, t.nbytes);
    }
    return rc;
}

static void test_round_trip(void)
{
    infer_gguf_writer *w = NULL;
    keep_err err = {0, {0}};
    ASSERT_EQ_INT(infer_gguf_writer_new(&w, &err), KEEP_OK, "writer_new");
    infer_gguf_writer_set_str(w, "general.architecture", "synth");
    infer_gguf_writer_set_alignment(w, 64);
    infer_gguf_writer_set_u8(w, "t.u8", 200);
    infer_gguf_writer_set_i8(w, "t.i8", -100);
    infer_gguf_writer_set_u16(w, "t.u16", 60000);
    infer_gguf_writer_set_i16(w, "t.i16", -30000);
    infer_gguf_writer_set_u32(w, "t.u32", 4000000000u);
    infer_gguf_writer_set_i32(w, "t.i32", -2000000000);
    infer_gguf_writer_set_u64(w, "t.u64", ((uint64_t)1 << 63) + 5);
    infer_gguf_writer_set_i64(w, "t.i64", INT64_MIN);
    infer_gguf_writer_set_f32(w, "t.f32", 3.25f);
    infer_gguf_writer_set_f64(w, "t.f64", -1e300);
    infer_gguf_writer_set_bool(w, "t.bool", 7);
    infer_gguf_writer_set_str(w, "t.str", "h\xc3\xa9llo");
    infer_gguf_writer_set_strn(w, "t.nul", "a\0b", 3);
    infer_gguf_writer_set_str(w, "t.empty", "");
    infer_gguf_writer_set_u32(w, "t.replaced", 1);
    infer_gguf_writer_set_str(w, "t.replaced", "now a string");
    const char *toks[] = {"<s>", "", "\xe4\xb8\xad", "a b"};
    infer_gguf_writer_set_arr_str(w, "t.tokens", toks, NULL, 4);
    const float fl[] = {0.5f, -1.0f, 1e-8f};
    infer_gguf_writer_set_arr(w, "t.f32s", INFER_GGUF_F32, fl, 3);
    const int32_t il[] = {-1, 0, 2147483647};
    infer_gguf_writer_set_arr(w, "t.i32s", INFER_GGUF_I32, il, 3);
    const uint64_t ul[] = {UINT64_MAX, 1};
    infer_gguf_writer_set_arr(w, "t.u64s", INFER_GGUF_U64, ul, 2);
    const int8_t bl[] = {1, 0, 1};
    infer_gguf_writer_set_arr(w, "t.bools", INFER_GGUF_BOOL, bl, 3);
    const double dl[] = {1.0 / 3};
    infer_gguf_writer_set_arr(w, "t.f64s", INFER_GGUF_F64, dl, 1);
    infer_gguf_writer_set_arr(w, "t.none", INFER_GGUF_U16, NULL, 0);

    float data[2 * 3 * 32];
    for (int i = 0; i < 2 * 3 * 32; i++)
        data[i] = (float)(i - 96) / 7.0f;
    uint64_t ne3[] = {32, 3, 2};
    uint64_t ne1[] = {5};
    uint64_t ne4[] = {32, 1, 1, 6};
    ASSERT_EQ_INT(infer_gguf_writer_add_tensor_f32(w, "a.f32", INFER_T_F32, 3, ne3, data), KEEP_OK, "add f32");
    ASSERT_EQ_INT(infer_gguf_writer_add_tensor_f32(w, "b.f16", INFER_T_F16, 1, ne1, data), KEEP_OK, "add f16");
    ASSERT_EQ_INT(infer_gguf_writer_add_tensor_f32(w, "c.bf16", INFER_T_BF16, 3, ne3, data), KEEP_OK, "add bf16");
    uint8_t q[6 * 34];
    for (size_t i = 0; i < sizeof q; i++)
        q[i] = (uint8_t)(i * 37);
    ASSERT_EQ_INT(infer_gguf_writer_add_tensor(w, "d.q8_0", INFER_T_Q8_0, 4, ne4, q, sizeof q), KEEP_OK,
                  "add encoded q8_0");

    char *mem = NULL;
    size_t len = 0;
    ASSERT_EQ_INT(infer_gguf_writer_to_memory(w, &mem, &len, &err), KEEP_OK, "to_memory");
    infer_gguf *g = NULL;
    int rc = infer_gguf_open_memory(mem, len, &g, &err);
    ASSERT_EQ_INT(rc, KEEP_OK, "reader opens the written file");
    if (rc) {
        printf("# %s\n", err.msg);
        goto out;
    }
    ASSERT_EQ_INT(infer_gguf_kv_count(g), 24, "24 keys (replacement kept one)");
    ASSERT_EQ_STR(infer_gguf_key(g, 0), "general.architecture", "key order kept");
    ASSERT_EQ_STR(infer_gguf_arch(g), "synth", "architecture");
    ASSERT_EQ_INT(infer_gguf_alignment(g), 64, "alignment 64");
    uint64_t u;
    int64_t i;
    double d;
    int b;
    OK(!infer_gguf_key_u64(g, "t.u8", &u) && u == 200, "u8");
    OK(!infer_gguf_key_i64(g, "t.i8", &i) && i == -100, "i8");
    OK(!infer_gguf_key_u64(g, "t.u16", &u) && u == 60000, "u16");
    OK(!infer_gguf_key_i64(g, "t.i16", &i) && i == -30000, "i16");
    OK(!infer_gguf_key_u64(g, "t.u32", &u) && u == 4000000000u, "u32");
    OK(!infer_gguf_key_i64(g, "t.i32", &i) && i == -2000000000, "i32");
    OK(!infer_gguf_key_u64(g, "t.u64", &u) && u == ((uint64_t)1 << 63) + 5, "u64");
    ASSERT_EQ_INT(infer_gguf_key_i64(g, "t.u64", &i), KEEP_ERR_TOOBIG, "u64 > INT64_MAX refused as i64");
    OK(!infer_gguf_key_i64(g, "t.i64", &i) && i == INT64_MIN, "i64");
    ASSERT_EQ_INT(infer_gguf_key_u64(g, "t.i8", &u), KEEP_ERR_TOOBIG, "negative refused as u64");
    OK(!infer_gguf_key_f64(g, "t.f32", &d) && d == 3.25, "f32");
    OK(!infer_gguf_key_f64(g, "t.f64", &d) && d == -1e300, "f64");
    OK(!infer_gguf_key_bool(g, "t.bool", &b) && b == 1, "bool");
    const char *s;
    size_t sl;
    OK(!infer_gguf_key_str(g, "t.str", &s, &sl) && sl == 6 && !memcmp(s, "h\xc3\xa9llo", 6), "utf-8 string");
    OK(!infer_gguf_key_str(g, "t.nul", &s, &sl) && sl == 3 && !memcmp(s, "a\0b", 3), "string with NUL");
    OK(!infer_gguf_key_str(g, "t.empty", &s, &sl) && sl == 0, "empty string");
    OK(!infer_gguf_key_str(g, "t.replaced", &s, &sl) && sl == 12, "replaced value");
    long k = infer_gguf_find_key(g, "t.tokens");
    uint32_t et;
    uint64_t n;
    OK(k >= 0 && !infer_gguf_arr_info(g, (size_t)k, &et, &n) && et == INFER_GGUF_STRING && n == 4, "string array");
    int same = 1;
    for (uint64_t j = 0; j < 4 && k >= 0; j++)
        if (infer_gguf_arr_str(g, (size_t)k, j, &s, &sl) || sl != strlen(toks[j]) || memcmp(s, toks[j], sl))
            same = 0;
    OK(same, "string array elements");
    k = infer_gguf_find_key(g, "t.f32s");
    OK(k >= 0 && !infer_gguf_arr_f64(g, (size_t)k, 2, &d) && d == (double)1e-8f, "f32 array element");
    k = infer_gguf_find_key(g, "t.i32s");
    OK(k >= 0 && !infer_gguf_arr_i64(g, (size_t)k, 2, &i) && i == 2147483647, "i32 array element");
    k = infer_gguf_find_key(g, "t.u64s");
    OK(k >= 0 && infer_gguf_arr_i64(g, (size_t)k, 0, &i) == KEEP_ERR_TOOBIG, "u64 array element range-checked");
    k = infer_gguf_find_key(g, "t.bools");
    OK(k >= 0 && !infer_gguf_arr_i64(g, (size_t)k, 2, &i) && i == 1, "bool array element");
    k = infer_gguf_find_key(g, "t.f64s");
    OK(k >= 0 && !infer_gguf_arr_f64(g, (size_t)k, 0, &d) && d == 1.0 / 3, "f64 array element");
    k = infer_gguf_find_key(g, "t.none");
    OK(k >= 0 && !infer_gguf_arr_info(g, (size_t)k, &et, &n) && et == INFER_GGUF_U16 && n == 0, "empty array");

    ASSERT_EQ_INT(infer_gguf_tensor_count(g), 4, "4 tensors");
    infer_gguf_tensor t;
    OK(!infer_gguf_tensor_by_name(g, "a.f32", &t) && t.n_dims == 3 && t.ne[2] == 2 && t.nbytes == sizeof data &&
           !memcmp(t.data, data, sizeof data),
       "f32 tensor exact");
    OK(!infer_gguf_tensor_by_name(g, "b.f16", &t) && t.type == INFER_T_F16 && t.nbytes == 10, "f16 tensor");
    uint16_t h[5];
    memcpy(h, t.data, sizeof h);
    ASSERT_NEAR(infer_f16_to_f32(h[0]), -96.0 / 7, 0.005, "f16 value within half precision");
    ASSERT_EQ_INT(h[4], infer_f32_to_f16(data[4]), "f16 bits");
    OK(!infer_gguf_tensor_by_name(g, "c.bf16", &t) && t.type == INFER_T_BF16 && t.nbytes == 2 * 192, "bf16 tensor");
    memcpy(h, t.data, 4);
    ASSERT_EQ_INT(h[1], infer_f32_to_bf16(data[1]), "bf16 bits");
    OK(!infer_gguf_tensor_by_name(g, "d.q8_0", &t) && t.n_dims == 4 && t.ne[3] == 6 && t.nbytes == sizeof q &&
           !memcmp(t.data, q, sizeof q) && t.offset % 64 == 0,
       "q8_0 tensor bytes exact and aligned");

    /* writer(reader(file)) is the same file, byte for byte */
    infer_gguf_writer *w2 = NULL;
    infer_gguf_writer_new(&w2, &err);
    ASSERT_EQ_INT(copy_into(g, w2), KEEP_OK, "copy into a new writer");
    char *mem2 = NULL;
    size_t len2 = 0;
    ASSERT_EQ_INT(infer_gguf_writer_to_memory(w2, &mem2, &len2, &err), KEEP_OK, "rewrite");
    OK(len2 == len && !memcmp(mem, mem2, len), "round trip byte for byte");
    keep_free(mem2);
    infer_gguf_writer_free(w2);

    /* the file on disk is the same bytes, written atomically */
    char dir[] = "/tmp/keep-gguf-XXXXXX";
    if (mkdtemp(dir)) {
        char path[128];
        snprintf(path, sizeof path, "%s/m.gguf", dir);
        ASSERT_EQ_INT(infer_gguf_writer_write(w, path, &err), KEEP_OK, "write to a path");
        char *disk = NULL;
        size_t dl2 = 0;
        OK(!keep_read_file(path, 1 << 20, &disk, &dl2, &err) && dl2 == len && !memcmp(disk, mem, len),
           "file bytes equal memory bytes");
        keep_free(disk);
        infer_gguf *g2 = NULL;
        ASSERT_EQ_INT(infer_gguf_open(path, &g2, &err), KEEP_OK, "mmap open of the written file");
        OK(g2 && infer_gguf_tensor_by_name(g2, "d.q8_0", &t) == KEEP_OK && ((uintptr_t)t.data & 63) == 0,
           "mapped tensor data aligned to 64");
        infer_gguf_close(g2);
        unlink(path);
        snprintf(path, sizeof path, "%s/no/such/dir/m.gguf", dir);
        OK(infer_gguf_writer_write(w, path, &err) == KEEP_ERR_IO, "unwritable path is an I/O error");
        rmdir(dir);
    }
    infer_gguf_close(g);
out:
    keep_free(mem);
    infer_gguf_writer_free(w);
}

static void test_version2(void)
{
    infer_gguf_writer *w = NULL;
    keep_err err = {0, {0}};
    infer_gguf_writer_new(&w, &err);
    infer_gguf_writer_set_version(w, 2);
    infer_gguf_writer_set_str(w, "general.architecture", "llama");
    char *mem = NULL;
    size_t len = 0;
    infer_gguf *g = NULL;
    OK(!infer_gguf_writer_to_memory(w, &mem, &len, &err) && !infer_gguf_open_memory(mem, len, &g, &err) &&
           infer_gguf_version(g) == 2 && infer_gguf_tensor_count(g) == 0,
       "v2 file without tensors");
    infer_gguf_close(g);
    keep_free(mem);
    infer_gguf_writer_free(w);
}

static void test_misuse(void)
{
    keep_err err = {0, {0}};
    uint64_t ne[] = {33, 2};
    float f[66] = {0};
    uint8_t bytes[200] = {0};
    struct {
        const char *what;
        int which;
    } cases[] = {{"wrong byte count", 0},     {"row not a block multiple", 1}, {"zero dimension", 2},
                 {"duplicate tensor", 3},     {"five dims", 4},                {"unknown type", 5},
                 {"bad alignment", 6},        {"alignment key not u32", 7},    {"quantized from f32 unsupported type", 8},
                 {"bad version", 9},          {"empty key", 10},
                 {"newline in tensor name", 11}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        infer_gguf_writer *w = NULL;
        infer_gguf_writer_new(&w, &err);
        uint64_t z[] = {0};
        int rc = 0;
        switch (cases[c].which) {
        case 0:
            rc = infer_gguf_writer_add_tensor(w, "x", INFER_T_F32, 2, ne, bytes, 100);
            break;
        case 1:
            rc = infer_gguf_writer_add_tensor(w, "x", INFER_T_Q8_0, 2, ne, bytes, 68);
            break;
        case 2:
            rc = infer_gguf_writer_add_tensor_f32(w, "x", INFER_T_F32, 1, z, f);
            break;
        case 3:
            infer_gguf_writer_add_tensor_f32(w, "x", INFER_T_F32, 2, ne, f);
            rc = infer_gguf_writer_add_tensor_f32(w, "x", INFER_T_F16, 2, ne, f);
            break;
        case 4:
            rc = infer_gguf_writer_add_tensor_f32(w, "x", INFER_T_F32, 5, ne, f);
            break;
        case 5:
            rc = infer_gguf_writer_add_tensor(w, "x", 4, 1, ne, bytes, 33);
            break;
        case 6:
            rc = infer_gguf_writer_set_alignment(w, 24);
            break;
        case 7:
            infer_gguf_writer_set_u64(w, "general.alignment", 32);
            break;
        case 8:
            rc = infer_gguf_writer_add_tensor_f32(w, "x", INFER_T_I32, 1, (uint64_t[]){32}, f);
            break;
        case 9:
            rc = infer_gguf_writer_set_version(w, 1);
            break;
        case 10:
            rc = infer_gguf_writer_set_u32(w, "", 1);
            break;
        case 11:
            rc = infer_gguf_writer_add_tensor_f32(w, "a\nb", INFER_T_F32, 2, ne, f);
            break;
        }
        infer_gguf_writer_set_str(w, "general.architecture", "x"); /* later calls do not clear the error */
        char *mem = NULL;
        size_t len = 0;
        err.msg[0] = 0;
        int wrc = infer_gguf_writer_to_memory(w, &mem, &len, &err);
        char what[128];
        snprintf(what, sizeof what, "%s refused", cases[c].what);
        OK((cases[c].which == 7 || rc != KEEP_OK) && wrc != KEEP_OK && mem == NULL && err.msg[0], what);
        printf("#   -> %s\n", err.msg);
        keep_free(mem);
        infer_gguf_writer_free(w);
    }
}

static uint16_t h_of(float f)
{
    return infer_f32_to_f16(f);
}

static void test_half(void)
{
    ASSERT_EQ_INT(h_of(1.0f), 0x3c00, "f16 1.0");
    ASSERT_EQ_INT(h_of(-2.0f), 0xc000, "f16 -2.0");
    ASSERT_EQ_INT(h_of(-0.0f), 0x8000, "f16 -0");
    ASSERT_EQ_INT(h_of(65504.0f), 0x7bff, "f16 max");
    ASSERT_EQ_INT(h_of(65519.0f), 0x7bff, "f16 65519 rounds down to max");
    ASSERT_EQ_INT(h_of(65520.0f), 0x7c00, "f16 65520 rounds to inf");
    ASSERT_EQ_INT(h_of(1e10f), 0x7c00, "f16 overflow inf");
    ASSERT_EQ_INT(h_of(INFINITY), 0x7c00, "f16 inf");
    OK((h_of(NAN) & 0x7c00) == 0x7c00 && (h_of(NAN) & 0x3ff), "f16 NaN stays NaN");
    ASSERT_EQ_INT(h_of(ldexpf(1, -24)), 0x0001, "smallest subnormal");
    ASSERT_EQ_INT(h_of(ldexpf(1, -25)), 0x0000, "half the smallest subnormal ties to even 0");
    ASSERT_EQ_INT(h_of(ldexpf(1.5f, -25)), 0x0001, "above the tie rounds up");
    ASSERT_EQ_INT(h_of(ldexpf(3, -25)), 0x0002, "1.5 ulp ties to even 2");
    ASSERT_EQ_INT(h_of(ldexpf(1, -14)), 0x0400, "smallest normal");
    ASSERT_EQ_INT(h_of(ldexpf(1023, -24) + ldexpf(1, -25)), 0x0400, "subnormal rounding carries into normal");
    ASSERT_EQ_INT(h_of(1.0f + ldexpf(1, -11)), 0x3c00, "1 + half ulp ties to even");
    ASSERT_EQ_INT(h_of(1.0f + ldexpf(3, -11)), 0x3c02, "1 + 1.5 ulp ties to even up");
    ASSERT_EQ_INT(h_of(1.0f + ldexpf(1, -11) + ldexpf(1, -20)), 0x3c01, "just above the tie rounds up");
    ASSERT_EQ_INT(h_of(1e-30f), 0, "tiny to zero");
    int ok = 1;
    for (uint32_t x = 0; x < 0x10000; x++) {
        uint16_t hx = (uint16_t)x;
        if ((hx & 0x7c00) == 0x7c00 && (hx & 0x3ff))
            continue; /* NaN */
        if (h_of(infer_f16_to_f32(hx)) != hx)
            ok = 0;
    }
    OK(ok, "every non-NaN half survives f16 -> f32 -> f16");
    ASSERT_NEAR(infer_f16_to_f32(0x0001), ldexp(1, -24), 0, "f16 subnormal to f32");
    ASSERT_NEAR(infer_f16_to_f32(0x3555), 0.333251953125, 0, "f16 0x3555");

    ASSERT_EQ_INT(infer_f32_to_bf16(1.0f), 0x3f80, "bf16 1.0");
    ASSERT_EQ_INT(infer_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3f80, "bf16 tie to even down");
    ASSERT_EQ_INT(infer_f32_to_bf16(1.0f + ldexpf(3, -8)), 0x3f82, "bf16 tie to even up");
    ASSERT_EQ_INT(infer_f32_to_bf16(-1.0f - ldexpf(1, -7) - ldexpf(1, -9)), 0xbf81, "bf16 below tie");
    ASSERT_EQ_INT(infer_f32_to_bf16(FLT_MAX), 0x7f80, "bf16 FLT_MAX rounds to inf");
    ASSERT_EQ_INT(infer_f32_to_bf16(-INFINITY), 0xff80, "bf16 -inf");
    OK((infer_f32_to_bf16(NAN) & 0x7f80) == 0x7f80 && (infer_f32_to_bf16(NAN) & 0x7f),
       "bf16 NaN stays NaN");
    float sn;
    uint32_t snb = 0x7f800001u; /* signalling NaN whose payload lies in the dropped bits */
    memcpy(&sn, &snb, 4);
    OK((infer_f32_to_bf16(sn) & 0x7f) != 0, "bf16 low-payload NaN does not become inf");
    ok = 1;
    for (uint32_t x = 0; x < 0x10000; x++) {
        uint16_t hx = (uint16_t)x;
        if ((hx & 0x7f80) == 0x7f80 && (hx & 0x7f))
            continue;
        if (infer_f32_to_bf16(infer_bf16_to_f32(hx)) != hx)
            ok = 0;
    }
    OK(ok, "every non-NaN bf16 survives bf16 -> f32 -> bf16");
}

/* Strings from a hostile file reach describe's JSON escaped and its text sanitized. */
static void test_describe_hostile(void)
{
    infer_gguf_writer *w = NULL;
    keep_err err = {0, {0}};
    infer_gguf_writer_new(&w, &err);
    infer_gguf_writer_set_str(w, "general.architecture", "ar\"ch\\");
    infer_gguf_writer_set_strn(w, "general.name", "a\nb\x01\xff\"", 6);
    infer_gguf_writer_set_str(w, "ar\"ch\\.context_length", "not a number");
    infer_gguf_writer_set_u32(w, "ar\"ch\\.block_count", 12);
    char *mem = NULL;
    size_t len = 0;
    infer_gguf *g = NULL;
    keep_buf b = {0};
    OK(!infer_gguf_writer_to_memory(w, &mem, &len, &err) && !infer_gguf_open_memory(mem, len, &g, &err), "hostile file opens");
    if (g) {
        infer_gguf_describe(g, &b, 1);
        cJSON *j = cJSON_Parse(b.data);
        OK(j != NULL, "describe JSON valid despite quotes, controls and bad UTF-8");
        ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "architecture")), "ar\"ch\\", "architecture escaped");
        ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "name")), "a\nb\x01?\"", "name escaped");
        OK(cJSON_IsNull(cJSON_GetObjectItem(j, "context_length")), "non-integer context length is null");
        ASSERT_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "block_count")), 12, "block count");
        OK(cJSON_IsNull(cJSON_GetObjectItem(j, "vocab_size")), "no vocabulary is null");
        cJSON_Delete(j);
        keep_buf_reset(&b);
        infer_gguf_describe(g, &b, 0);
        OK(b.data && strstr(b.data, "name:             a?b??\"\n"), "text: controls and bad UTF-8 replaced");
        infer_gguf_close(g);
    }
    keep_buf_free(&b);
    keep_free(mem);
    infer_gguf_writer_free(w);
}

/* Quantized tensors from f32: read back, they are exactly the reference
 * quantizer's bytes and dequantize close to the input. */
static void test_quantized(void)
{
    enum { COLS = 512, ROWS = 3 };
    static float src[COLS * ROWS], back[COLS];
    uint32_t seed = 12345;
    for (int i = 0; i < COLS * ROWS; i++) {
        seed = seed * 1664525u + 1013904223u;
        src[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * (1.0f + (float)(i % 7));
    }
    const uint32_t types[] = {INFER_T_Q8_0, INFER_T_Q4_0, INFER_T_Q4_1, INFER_T_Q5_0, INFER_T_Q5_1,
                              INFER_T_Q2_K, INFER_T_Q3_K, INFER_T_Q4_K, INFER_T_Q5_K, INFER_T_Q6_K};
    const double max_rel[] = {0.01, 0.12, 0.12, 0.06, 0.06, 0.45, 0.25, 0.12, 0.06, 0.03};
    infer_gguf_writer *w = NULL;
    keep_err err = {0, {0}};
    infer_gguf_writer_new(&w, &err);
    uint64_t ne[] = {COLS, ROWS};
    size_t nt = sizeof types / sizeof types[0];
    for (size_t i = 0; i < nt; i++) {
        char name[32];
        snprintf(name, sizeof name, "w.%s", infer_type_get(types[i])->name);
        char what[80];
        snprintf(what, sizeof what, "add %s from f32", infer_type_get(types[i])->name);
        ASSERT_EQ_INT(infer_gguf_writer_add_tensor_f32(w, name, types[i], 2, ne, src), KEEP_OK, what);
    }
    char *mem = NULL;
    size_t len = 0;
    infer_gguf *g = NULL;
    OK(!infer_gguf_writer_to_memory(w, &mem, &len, &err) && !infer_gguf_open_memory(mem, len, &g, &err),
       "quantized model opens");
    for (size_t i = 0; g && i < nt; i++) {
        const char *tn = infer_type_get(types[i])->name;
        char name[32], what[120];
        snprintf(name, sizeof name, "w.%s", tn);
        infer_gguf_tensor t;
        infer_gguf_tensor_by_name(g, name, &t);
        size_t row = infer_type_row_bytes(types[i], COLS);
        void *ref = keep_malloc(row * ROWS);
        for (int r = 0; r < ROWS; r++)
            infer_quantize_row(types[i], src + r * COLS, (char *)ref + r * row, COLS);
        snprintf(what, sizeof what, "%s bytes are the reference quantizer's", tn);
        OK(t.type == types[i] && t.nbytes == row * ROWS && !memcmp(t.data, ref, row * ROWS), what);
        keep_free(ref);
        double num = 0, den = 0;
        for (int r = 0; r < ROWS; r++) {
            infer_dequantize_row(types[i], (const char *)t.data + r * row, back, COLS);
            for (int c = 0; c < COLS; c++) {
                double d = back[c] - src[r * COLS + c];
                num += d * d;
                den += (double)src[r * COLS + c] * src[r * COLS + c];
            }
        }
        double rel = sqrt(num / den);
        snprintf(what, sizeof what, "%s relative RMS error %.4f < %.2f", tn, rel, max_rel[i]);
        OK(rel < max_rel[i], what);
    }
    infer_gguf_close(g);
    keep_free(mem);
    infer_gguf_writer_free(w);
}

typedef struct gen_ctx {
    const float *src;
    uint64_t fail_at;
    uint64_t calls;
} gen_ctx;

static int gen_rows(void *ctx, const char *name, uint64_t row, float *out, size_t cols)
{
    gen_ctx *c = ctx;
    (void)name;
    c->calls++;
    if (row == c->fail_at)
        return KEEP_ERR_CANCELLED;
    memcpy(out, c->src + row * cols, cols * sizeof *out);
    return KEEP_OK;
}

/* Generated tensors are the same bytes as the same floats added at once. */
static void test_generated(void)
{
    enum { COLS = 256, ROWS = 6 };
    static float src[COLS * ROWS];
    for (int i = 0; i < COLS * ROWS; i++)
        src[i] = sinf((float)i * 0.37f) * 2.0f;
    const uint32_t types[] = {INFER_T_F32, INFER_T_F16, INFER_T_BF16, INFER_T_Q8_0, INFER_T_Q4_K, INFER_T_Q6_K};
    uint64_t ne[] = {COLS, 2, 3};
    keep_err err = {0, {0}};
    int all = 1;
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        infer_gguf_writer *a = NULL, *b = NULL;
        infer_gguf_writer_new(&a, &err);
        infer_gguf_writer_new(&b, &err);
        gen_ctx c = {src, UINT64_MAX, 0};
        infer_gguf_writer_add_tensor_f32(a, "t", types[k], 3, ne, src);
        infer_gguf_writer_add_tensor_gen(b, "t", types[k], 3, ne, gen_rows, &c);
        char *ma = NULL, *mb = NULL;
        size_t la = 0, lb = 0;
        if (infer_gguf_writer_to_memory(a, &ma, &la, &err) || infer_gguf_writer_to_memory(b, &mb, &lb, &err) ||
            la != lb || memcmp(ma, mb, la) || c.calls != ROWS)
            all = 0;
        keep_free(ma);
        keep_free(mb);
        infer_gguf_writer_free(a);
        infer_gguf_writer_free(b);
    }
    OK(all, "generated tensors equal f32-added tensors byte for byte (f32, f16, bf16, q8_0, q4_K, q6_K)");

    infer_gguf_writer *w = NULL;
    infer_gguf_writer_new(&w, &err);
    gen_ctx c = {src, 4, 0};
    infer_gguf_writer_add_tensor_gen(w, "t", INFER_T_Q8_0, 3, ne, gen_rows, &c);
    char dir[] = "/tmp/keep-gguf-XXXXXX";
    if (mkdtemp(dir)) {
        char path[128];
        snprintf(path, sizeof path, "%s/g.gguf", dir);
        ASSERT_EQ_INT(infer_gguf_writer_write(w, path, &err), KEEP_ERR_CANCELLED, "generator error aborts the write");
        OK(strstr(err.msg, "row 4") != NULL, "error names the row");
        OK(rmdir(dir) == 0, "nothing left behind (directory empty)");
    }
    infer_gguf_writer_free(w);
}

int main(void)
{
    test_round_trip();
    test_version2();
    test_misuse();
    test_half();
    test_describe_hostile();
    test_quantized();
    test_generated();
    return tap_done();
}
