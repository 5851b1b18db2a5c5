/* mkmodel.c — writes random-weight decoder models of real shapes with the
 * project's GGUF writer, for speed comparisons (speed does not depend on the
 * weight values). The tokenizer is copied from a real vocabulary file of
 * ../shared/fixtures/vocab.
 *
 *   mkmodel qwen2-0.5b|llama-3.2-1b q8_0|q4_k_m VOCAB.gguf OUT.gguf
 *
 * Shapes: Qwen2.5-0.5B (qwen2: 896 wide, 24 layers, 14 heads, 2 KV heads,
 * FFN 4864, vocabulary 151,936, tied, q/k/v biases) and Llama-3.2-1B (llama:
 * 2048 wide, 16 layers, 32 heads, 8 KV heads, FFN 8192, vocabulary 128,256,
 * tied, rope factors). q4_k_m follows llama-quantize's choices: Q4_K, with
 * Q6_K for the tied embedding/output and for attn_v and ffn_down in the
 * "more bits" layers (the first and last eighth and every third between), and
 * its fallbacks where a row is not whole 256-blocks (Q4_K -> Q5_0, Q6_K ->
 * Q8_0), which is what Qwen2.5-0.5B's 896-wide rows get. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/ggml_types.h"
#include "infer/gguf.h"
#include "infer/gguf_write.h"

typedef struct {
    const char *name, *arch;
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    float rope_base, eps;
    int biases, rope_factors;
} shape;

static const shape shapes[] = {
    {"qwen2-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, 32768, 1e6f, 1e-6f, 1, 0},
    {"llama-3.2-1b", "llama", 2048, 16, 32, 8, 8192, 128256, 131072, 5e5f, 1e-5f, 0, 1},
};

/* deterministic noise: a row's values depend on (tensor, row) only */
static uint64_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static int gen_row(void *ctx, const char *name, uint64_t row, float *out, size_t cols)
{
    (void)ctx;
    uint64_t h = 1469598103934665603ull;
    for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    uint64_t s = hash64(h ^ (row * 0x9E3779B97F4A7C15ull));
    int is_norm = strstr(name, "norm") != NULL;
    for (size_t i = 0; i < cols; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float u = (float)(s >> 40) / 16777216.0f - 0.5f; /* [-0.5, 0.5) */
        out[i] = is_norm ? 1.0f + 0.1f * u : 0.04f * u;
    }
    return 0;
}

static int use_more_bits(uint32_t i, uint32_t n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static uint32_t fallback(uint32_t t, uint64_t k)
{
    if (k % 256 == 0) return t;
    if (t == INFER_T_Q4_K) return INFER_T_Q5_0;
    if (t == INFER_T_Q6_K) return INFER_T_Q8_0;
    return t;
}

static int copy_tokenizer(const infer_gguf *v, infer_gguf_writer *w)
{
    for (size_t i = 0; i < infer_gguf_kv_count(v); i++) {
        const char *key = infer_gguf_key(v, i);
        if (strncmp(key, "tokenizer.", 10) || !strcmp(key, "tokenizer.chat_template")) continue;
        int t = infer_gguf_kv_type(v, i);
        int rc = 0;
        if (t == INFER_GGUF_STRING) {
            const char *s;
            size_t len;
            infer_gguf_get_str(v, i, &s, &len);
            rc = infer_gguf_writer_set_strn(w, key, s, len);
        } else if (t == INFER_GGUF_ARRAY) {
            uint32_t et;
            uint64_t n;
            infer_gguf_arr_info(v, i, &et, &n);
            if (et == INFER_GGUF_STRING) {
                const char **strs = malloc(n * sizeof *strs);
                size_t *lens = malloc(n * sizeof *lens);
                if (!strs || !lens) return 1;
                for (uint64_t j = 0; j < n; j++) infer_gguf_arr_str(v, i, j, &strs[j], &lens[j]);
                rc = infer_gguf_writer_set_arr_str(w, key, strs, lens, n);
                free(strs);
                free(lens);
            } else {
                const void *data;
                size_t es;
                infer_gguf_arr_data(v, i, &data, &es, &n);
                void *copy = malloc(n * es + 1);
                if (!copy) return 1;
                memcpy(copy, data, n * es);
                rc = infer_gguf_writer_set_arr(w, key, et, copy, n);
                free(copy);
            }
        } else if (t == INFER_GGUF_BOOL) {
            int b;
            infer_gguf_get_bool(v, i, &b);
            rc = infer_gguf_writer_set_bool(w, key, b);
        } else if (t == INFER_GGUF_F32 || t == INFER_GGUF_F64) {
            double d;
            infer_gguf_get_f64(v, i, &d);
            rc = infer_gguf_writer_set_f32(w, key, (float)d);
        } else {
            int64_t x;
            infer_gguf_get_i64(v, i, &x);
            rc = t == INFER_GGUF_I32 ? infer_gguf_writer_set_i32(w, key, (int32_t)x)
                                     : infer_gguf_writer_set_u32(w, key, (uint32_t)x);
        }
        if (rc) return rc;
    }
    return 0;
}

static void add(infer_gguf_writer *w, const char *name, uint32_t type, uint64_t k, uint64_t rows)
{
    uint64_t ne[2] = {k, rows};
    infer_gguf_writer_add_tensor_gen(w, name, rows == 1 ? INFER_T_F32 : fallback(type, k), rows == 1 ? 1 : 2,
                                     ne, gen_row, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: mkmodel qwen2-0.5b|llama-3.2-1b q8_0|q4_k_m VOCAB.gguf OUT.gguf\n");
        return 2;
    }
    const shape *s = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (!strcmp(argv[1], shapes[i].name)) s = &shapes[i];
    int q4 = !strcmp(argv[2], "q4_k_m");
    if (!s || (!q4 && strcmp(argv[2], "q8_0"))) {
        fprintf(stderr, "mkmodel: unknown shape or type\n");
        return 2;
    }
    keep_err err;
    infer_gguf *v = NULL;
    infer_gguf_writer *w = NULL;
    if (infer_gguf_open(argv[3], &v, &err) || infer_gguf_writer_new(&w, &err)) {
        fprintf(stderr, "mkmodel: %s\n", err.msg);
        return 1;
    }
    char key[128];
#define K(x) (snprintf(key, sizeof key, "%s.%s", s->arch, x), key)
    infer_gguf_writer_set_str(w, "general.architecture", s->arch);
    infer_gguf_writer_set_str(w, "general.name", argv[1]);
    infer_gguf_writer_set_u32(w, K("block_count"), s->n_layer);
    infer_gguf_writer_set_u32(w, K("context_length"), s->n_ctx);
    infer_gguf_writer_set_u32(w, K("embedding_length"), s->n_embd);
    infer_gguf_writer_set_u32(w, K("feed_forward_length"), s->n_ff);
    infer_gguf_writer_set_u32(w, K("attention.head_count"), s->n_head);
    infer_gguf_writer_set_u32(w, K("attention.head_count_kv"), s->n_head_kv);
    infer_gguf_writer_set_f32(w, K("rope.freq_base"), s->rope_base);
    infer_gguf_writer_set_f32(w, K("attention.layer_norm_rms_epsilon"), s->eps);
    infer_gguf_writer_set_u32(w, "general.file_type", q4 ? 15 : 7);
#undef K
    if (copy_tokenizer(v, w)) {
        fprintf(stderr, "mkmodel: cannot copy the tokenizer\n");
        return 1;
    }
    uint32_t E = s->n_embd, hd = E / s->n_head, qd = E, kd = s->n_head_kv * hd;
    uint32_t base = q4 ? INFER_T_Q4_K : INFER_T_Q8_0, big = q4 ? INFER_T_Q6_K : INFER_T_Q8_0;
    add(w, "token_embd.weight", big, E, s->n_vocab);
    add(w, "output_norm.weight", 0, E, 1);
    if (s->rope_factors) {
        /* Llama 3.1-style factors (factor 32, low 1, high 4, original 8192) */
        float f[64];
        uint64_t ne[1] = {hd / 2};
        for (uint32_t i = 0; i < hd / 2; i++) {
            double freq = pow(s->rope_base, -2.0 * i / hd), wl = 2 * M_PI / freq;
            double lo = 8192 / 1.0, hi = 8192 / 4.0;
            if (wl < hi) f[i] = 1;
            else if (wl > lo) f[i] = 32;
            else {
                double sm = (8192 / wl - 1) / (4 - 1);
                f[i] = (float)(1 / ((1 - sm) / 32 + sm));
            }
        }
        infer_gguf_writer_add_tensor_f32(w, "rope_freqs.weight", INFER_T_F32, 1, ne, f);
    }
    for (uint32_t l = 0; l < s->n_layer; l++) {
        char n[64];
        int more = q4 && use_more_bits(l, s->n_layer);
#define N(x) (snprintf(n, sizeof n, "blk.%u.%s", l, x), n)
        add(w, N("attn_norm.weight"), 0, E, 1);
        add(w, N("ffn_norm.weight"), 0, E, 1);
        add(w, N("attn_q.weight"), base, E, qd);
        add(w, N("attn_k.weight"), base, E, kd);
        add(w, N("attn_v.weight"), more ? big : base, E, kd);
        add(w, N("attn_output.weight"), base, qd, E);
        add(w, N("ffn_gate.weight"), base, E, s->n_ff);
        add(w, N("ffn_up.weight"), base, E, s->n_ff);
        add(w, N("ffn_down.weight"), more ? big : base, s->n_ff, E);
        if (s->biases) {
            add(w, N("attn_q.bias"), 0, qd, 1);
            add(w, N("attn_k.bias"), 0, kd, 1);
            add(w, N("attn_v.bias"), 0, kd, 1);
        }
#undef N
    }
    int rc = infer_gguf_writer_write(w, argv[4], &err);
    if (rc) fprintf(stderr, "mkmodel: %s\n", err.msg);
    infer_gguf_writer_free(w);
    infer_gguf_close(v);
    return rc ? 1 : 0;
}
