/* fuzz_gguf.c — libFuzzer target for the GGUF reader: open the input from
 * memory and, when it is accepted, touch every value, array element and
 * tensor byte range the accessors hand out, plus the describe summary, so a
 * validation gap shows up as an out-of-bounds read under ASan. */
#include <stdint.h>
#include <string.h>

#include "infer/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    infer_gguf *g = NULL;
    keep_err err;
    if (infer_gguf_open_memory(data, size, &g, &err) != KEEP_OK)
        return 0;
    volatile unsigned sink = 0;
    for (size_t i = 0; i < infer_gguf_kv_count(g); i++) {
        const char *s;
        size_t len;
        int64_t iv;
        uint64_t uv, n;
        double d;
        int b;
        uint32_t et;
        char buf[16];
        sink += (unsigned)strlen(infer_gguf_key(g, i));
        if (infer_gguf_get_str(g, i, &s, &len) == KEEP_OK && len)
            sink += (unsigned char)s[len - 1];
        infer_gguf_get_str_copy(g, i, buf, sizeof buf);
        infer_gguf_get_i64(g, i, &iv);
        infer_gguf_get_u64(g, i, &uv);
        infer_gguf_get_f64(g, i, &d);
        infer_gguf_get_bool(g, i, &b);
        if (infer_gguf_arr_info(g, i, &et, &n) == KEEP_OK) {
            for (uint64_t j = 0; j < n && j < 4096; j++) {
                if (infer_gguf_arr_str(g, i, j, &s, &len) == KEEP_OK && len)
                    sink += (unsigned char)s[len - 1];
                infer_gguf_arr_i64(g, i, j, &iv);
                infer_gguf_arr_f64(g, i, j, &d);
            }
            const void *p;
            size_t es;
            if (infer_gguf_arr_data(g, i, &p, &es, &n) == KEEP_OK && n)
                sink += ((const unsigned char *)p)[n * es - 1];
        }
    }
    for (size_t i = 0; i < infer_gguf_tensor_count(g); i++) {
        infer_gguf_tensor t;
        if (infer_gguf_get_tensor(g, i, &t) != KEEP_OK)
            continue;
        sink += infer_gguf_find_tensor(g, t.name) == (long)i;
        if (t.nbytes)
            sink += ((const unsigned char *)t.data)[0] + ((const unsigned char *)t.data)[t.nbytes - 1];
    }
    keep_buf out = {0};
    infer_gguf_describe(g, &out, 0);
    infer_gguf_describe(g, &out, 1);
    keep_buf_free(&out);
    infer_gguf_close(g);
    (void)sink;
    return 0;
}
