/* bert_synth.c — random-weight BERT-family models written with the project's
 * GGUF writer (see bert_synth.h). Weights are a deterministic hash of (seed,
 * tensor name, row, column), generated row by row while the file is written,
 * so a model of real size never sits in memory. */
#include "bert_synth.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ggml_types.h"
#include "gguf_write.h"
#include "infer.h"

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int gen_row(void *ctx, const char *name, uint64_t row, float *out, size_t cols)
{
    const infer__bert_synth *s = ctx;
    uint64_t h = 1469598103934665603ull ^ s->seed;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    size_t nl = strlen(name);
    int is_bias = nl > 5 && !strcmp(name + nl - 5, ".bias");
    int is_norm = strstr(name, "norm.weight") != NULL;
    float scale = is_bias ? 0.02f : is_norm ? 0.1f : sqrtf(3.0f / (float)cols);
    for (size_t c = 0; c < cols; c++) {
        uint64_t r = mix(h ^ mix(row * 0x100000001B3ull + c));
        float u = (float)((double)(r >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
        out[c] = (is_norm ? 1.0f : 0.0f) + scale * u;
    }
    return KEEP_OK;
}

/* Copies every tokenizer.* key of the vocabulary file. */
static int copy_tokenizer(infer_gguf_writer *w, const infer_gguf *v, keep_err *err)
{
    for (size_t i = 0; i < infer_gguf_kv_count(v); i++) {
        const char *key = infer_gguf_key(v, i);
        if (strncmp(key, "tokenizer.", 10))
            continue;
        int t = infer_gguf_kv_type(v, i);
        if (t == INFER_GGUF_STRING) {
            const char *s;
            size_t len;
            infer_gguf_get_str(v, i, &s, &len);
            infer_gguf_writer_set_strn(w, key, s, len);
        } else if (t == INFER_GGUF_BOOL) {
            int b;
            infer_gguf_get_bool(v, i, &b);
            infer_gguf_writer_set_bool(w, key, b);
        } else if (t == INFER_GGUF_F32 || t == INFER_GGUF_F64) {
            double d;
            infer_gguf_get_f64(v, i, &d);
            infer_gguf_writer_set_f32(w, key, (float)d);
        } else if (t == INFER_GGUF_ARRAY) {
            uint32_t et;
            uint64_t n;
            infer_gguf_arr_info(v, i, &et, &n);
            if (et == INFER_GGUF_STRING) {
                const char **strs = keep_calloc(n ? n : 1, sizeof *strs);
                size_t *lens = keep_calloc(n ? n : 1, sizeof *lens);
                if (!strs || !lens) {
                    keep_free(strs);
                    keep_free(lens);
                    return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
                }
                for (uint64_t j = 0; j < n; j++)
                    infer_gguf_arr_str(v, i, j, &strs[j], &lens[j]);
                infer_gguf_writer_set_arr_str(w, key, strs, lens, n);
                keep_free(strs);
                keep_free(lens);
            } else if (et != INFER_GGUF_ARRAY) {
                const void *data;
                size_t es;
                uint64_t cnt;
                infer_gguf_arr_data(v, i, &data, &es, &cnt);
                void *copy = keep_malloc(cnt * es + 1); /* the mapping may be unaligned */
                if (!copy)
                    return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
                memcpy(copy, data, cnt * es);
                infer_gguf_writer_set_arr(w, key, et, copy, cnt);
                keep_free(copy);
            }
        } else {
            int64_t x;
            if (infer_gguf_get_i64(v, i, &x) == KEEP_OK)
                infer_gguf_writer_set_u32(w, key, (uint32_t)x);
        }
    }
    return KEEP_OK;
}

static void add(infer_gguf_writer *w, const infer__bert_synth *s, const char *name, uint32_t type,
                uint64_t ne0, uint64_t ne1)
{
    if (s->skip_tensor && !strcmp(name, s->skip_tensor))
        return;
    if (s->bad_tensor && !strcmp(name, s->bad_tensor))
        ne1++;
    uint64_t ne[2] = {ne0, ne1};
    infer_gguf_writer_add_tensor_gen(w, name, type, ne1 > 1 ? 2 : 1, ne, gen_row, (void *)s);
}

int infer__bert_synth_write(const char *path, const infer__bert_synth *s, keep_err *err)
{
    infer_gguf *v = NULL;
    infer_gguf_writer *w = NULL;
    int rc = infer_gguf_open(s->vocab_path, &v, err);
    if (rc)
        return rc;
    if ((rc = infer_gguf_writer_new(&w, err)))
        goto done;
    long kt = infer_gguf_find_key(v, "tokenizer.ggml.tokens");
    uint32_t et;
    uint64_t n_vocab = 0;
    if (kt < 0 || infer_gguf_arr_info(v, (size_t)kt, &et, &n_vocab) || !n_vocab) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "%s: no tokenizer.ggml.tokens", s->vocab_path);
        goto done;
    }
    int nomic = !strcmp(s->arch, "nomic-bert");
    char key[128];
    infer_gguf_writer_set_str(w, "general.architecture", s->arch);
    infer_gguf_writer_set_str(w, "general.name", s->name);
#define ARCH_KEY(suffix) (snprintf(key, sizeof key, "%s.%s", s->arch, suffix), key)
    infer_gguf_writer_set_u32(w, ARCH_KEY("block_count"), s->n_layer);
    infer_gguf_writer_set_u32(w, ARCH_KEY("context_length"), s->n_ctx);
    infer_gguf_writer_set_u32(w, ARCH_KEY("embedding_length"), s->n_embd);
    infer_gguf_writer_set_u32(w, ARCH_KEY("feed_forward_length"), s->n_ff);
    infer_gguf_writer_set_u32(w, ARCH_KEY("attention.head_count"), s->n_head);
    infer_gguf_writer_set_f32(w, ARCH_KEY("attention.layer_norm_epsilon"), 1e-12f);
    infer_gguf_writer_set_bool(w, ARCH_KEY("attention.causal"), 0);
    if (s->pooling >= 0)
        infer_gguf_writer_set_u32(w, ARCH_KEY("pooling_type"), (uint32_t)s->pooling);
    if (nomic)
        infer_gguf_writer_set_f32(w, ARCH_KEY("rope.freq_base"), 1000.0f);
#undef ARCH_KEY
    if ((rc = copy_tokenizer(w, v, err)))
        goto done;

    uint32_t d = s->n_embd, F32 = INFER_T_F32;
    add(w, s, "token_embd.weight", s->wtype, d, n_vocab);
    if (!nomic)
        add(w, s, "position_embd.weight", F32, d, s->n_ctx);
    add(w, s, "token_types.weight", F32, d, 2);
    add(w, s, "token_embd_norm.weight", F32, d, 1);
    add(w, s, "token_embd_norm.bias", F32, d, 1);
    for (uint32_t il = 0; il < s->n_layer; il++) {
        char name[96];
#define T(what, type, a, b) (snprintf(name, sizeof name, "blk.%u.%s", il, what), add(w, s, name, type, a, b))
        if (nomic) {
            T("attn_qkv.weight", s->wtype, d, 3 * d);
        } else {
            T("attn_q.weight", s->wtype, d, d);
            T("attn_q.bias", F32, d, 1);
            T("attn_k.weight", s->wtype, d, d);
            T("attn_k.bias", F32, d, 1);
            T("attn_v.weight", s->wtype, d, d);
            T("attn_v.bias", F32, d, 1);
        }
        T("attn_output.weight", s->wtype, d, d);
        if (!nomic)
            T("attn_output.bias", F32, d, 1);
        T("attn_output_norm.weight", F32, d, 1);
        T("attn_output_norm.bias", F32, d, 1);
        T("ffn_up.weight", s->wtype, d, s->n_ff);
        if (nomic)
            T("ffn_gate.weight", s->wtype, d, s->n_ff);
        else
            T("ffn_up.bias", F32, s->n_ff, 1);
        T("ffn_down.weight", s->wtype, s->n_ff, d);
        if (!nomic)
            T("ffn_down.bias", F32, d, 1);
        T("layer_output_norm.weight", F32, d, 1);
        T("layer_output_norm.bias", F32, d, 1);
#undef T
    }
    rc = infer_gguf_writer_write(w, path, err);
done:
    infer_gguf_writer_free(w);
    infer_gguf_close(v);
    return rc;
}
