/* test_generate.c — sampling, chat templates, the generation loop (stop
 * strings, streaming, determinism, cancellation from another thread), prefix
 * reuse and thread-count independence of the decoder, and the errors a broken
 * model file gives. Uses the tiny fixture models (random weights: the text is
 * noise, but the same noise every time). */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infer/attn_kernels.h"
#include "infer/cpu.h"
#include "infer/gguf_write.h"
#include "infer/quant.h"
#include "infer/infer.h"
#include "tap.h"

#define NV 1000

static void test_sampler(void)
{
    static float lg[NV];
    static float sp[NV];
    static int32_t sid[NV];
    for (int i = 0; i < NV; i++) lg[i] = (float)sin(i * 0.37) * 3.0f - 6.0f;
    lg[123] = 9.0f;
    lg[456] = 8.5f;
    infer_sampling s;
    infer_sampling_defaults(&s);
    uint64_t rng = 1;

    s.temperature = 0;
    ASSERT_EQ_INT(infer_sample(&s, lg, NV, NULL, 0, &rng, sp, sid), 123, "greedy is argmax");
    int32_t hist[1] = {123};
    s.repeat_penalty = 1.5f;
    ASSERT_EQ_INT(infer_sample(&s, lg, NV, hist, 1, &rng, sp, sid), 456,
                  "repetition penalty 1.5 demotes a repeated 9.0 below 8.5");
    s.repeat_penalty = 1.0f;

    infer_sampling_defaults(&s);
    s.temperature = 1.0f;
    s.top_k = 1;
    int all = 1;
    for (int i = 0; i < 50; i++) all &= infer_sample(&s, lg, NV, NULL, 0, &rng, sp, sid) == 123;
    OK(all, "top-k 1 always picks the argmax");

    /* same seed, same draws; another seed, other draws */
    infer_sampling_defaults(&s);
    s.temperature = 5.0f;
    s.top_k = 0;
    s.top_p = 1.0f;
    s.min_p = 0;
    int32_t a[64], b[64], d[64];
    uint64_t r1 = 42, r2 = 42, r3 = 43;
    for (int i = 0; i < 64; i++) {
        a[i] = infer_sample(&s, lg, NV, NULL, 0, &r1, sp, sid);
        b[i] = infer_sample(&s, lg, NV, NULL, 0, &r2, sp, sid);
        d[i] = infer_sample(&s, lg, NV, NULL, 0, &r3, sp, sid);
    }
    OK(!memcmp(a, b, sizeof a), "same seed: same 64 tokens");
    OK(memcmp(a, d, sizeof a) != 0, "another seed: other tokens");

    /* min-p 0.5 keeps only tokens with p >= 0.5 * p(best): 123 and 456
     * (exp(-0.5) = 0.61) */
    s.temperature = 1.0f;
    s.min_p = 0.5f;
    int only = 1, saw456 = 0;
    for (int i = 0; i < 300; i++) {
        int32_t t = infer_sample(&s, lg, NV, NULL, 0, &r1, sp, sid);
        only &= t == 123 || t == 456;
        saw456 |= t == 456;
    }
    OK(only && saw456, "min-p 0.5 keeps exactly the two near-top tokens");

    /* top-p: p(123) = 1/(1 + e^-0.5 + rest); with top-p 0.5 only 123 */
    s.min_p = 0;
    s.top_p = 0.5f;
    all = 1;
    for (int i = 0; i < 50; i++) all &= infer_sample(&s, lg, NV, NULL, 0, &r1, sp, sid) == 123;
    OK(all, "top-p 0.5 keeps only the top token (p > 0.5)");

    /* frequencies follow the distribution: logits 0 and ln 3 -> 1/4, 3/4 */
    float two[2] = {0.0f, logf(3.0f)};
    float sp2[2];
    int32_t sid2[2];
    infer_sampling_defaults(&s);
    s.temperature = 1.0f;
    s.top_k = 0;
    s.top_p = 1.0f;
    s.min_p = 0;
    int ones = 0;
    for (int i = 0; i < 4000; i++) ones += infer_sample(&s, two, 2, NULL, 0, &r1, sp2, sid2) == 1;
    ASSERT_NEAR(ones / 4000.0, 0.75, 0.03, "temperature 1 draws follow softmax (0.75)");
    s.temperature = 0.5f; /* p1 = 9/10 */
    ones = 0;
    for (int i = 0; i < 4000; i++) ones += infer_sample(&s, two, 2, NULL, 0, &r1, sp2, sid2) == 1;
    ASSERT_NEAR(ones / 4000.0, 0.9, 0.03, "temperature 0.5 sharpens (0.9)");
}

static void test_templates(void)
{
    infer_chat_msg msgs[] = {{"system", "Be brief."},
                             {"user", "Hi"},
                             {"assistant", "Hello."},
                             {"user", "Why?"}};
    static const struct {
        int fmt;
        const char *want;
    } cases[] = {
        {INFER_CHAT_CHATML, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nWhy?<|im_end|>\n"
                            "<|im_start|>assistant\n"},
        {INFER_CHAT_LLAMA3,
         "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nWhy?<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\n"},
        {INFER_CHAT_LLAMA2,
         "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello.</s><s>[INST] Why? [/INST]"},
        {INFER_CHAT_MISTRAL, "[INST] Be brief.\n\nHi [/INST] Hello.</s><s>[INST] Why? [/INST]"},
        {INFER_CHAT_PHI3, "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n"
                          "<|user|>\nWhy?<|end|>\n<|assistant|>\n"},
        {INFER_CHAT_GEMMA, "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
                           "Hello.<end_of_turn>\n<start_of_turn>user\nWhy?<end_of_turn>\n"
                           "<start_of_turn>model\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        keep_buf b = {0};
        keep_err err;
        char what[64];
        snprintf(what, sizeof what, "template %s", infer_chat_name(cases[i].fmt));
        ASSERT_EQ_INT(infer_chat_apply(cases[i].fmt, msgs, 4, 1, &b, &err), KEEP_OK, what);
        ASSERT_EQ_STR(b.data, cases[i].want, what);
        keep_buf_free(&b);
    }
    keep_buf b = {0};
    keep_err err;
    infer_chat_msg bad = {"robot", "x"};
    ASSERT_EQ_INT(infer_chat_apply(INFER_CHAT_CHATML, &bad, 1, 1, &b, &err), KEEP_ERR_USAGE,
                  "unknown role refused");
    keep_buf_free(&b);

    ASSERT_EQ_INT(infer_chat_detect(NULL), INFER_CHAT_CHATML, "no template: ChatML");
    ASSERT_EQ_INT(infer_chat_detect("{{ '<|start_header_id|>' + role }}"), INFER_CHAT_LLAMA3, "detect llama3");
    ASSERT_EQ_INT(infer_chat_detect("[INST] <<SYS>>"), INFER_CHAT_LLAMA2, "detect llama2");
    ASSERT_EQ_INT(infer_chat_detect("{{ '[INST] ' + m }}"), INFER_CHAT_MISTRAL, "detect mistral");
    ASSERT_EQ_INT(infer_chat_detect("<|user|>\n{{m}}<|end|>"), INFER_CHAT_PHI3, "detect phi3");
    ASSERT_EQ_INT(infer_chat_detect("<start_of_turn>user"), INFER_CHAT_GEMMA, "detect gemma");
    ASSERT_EQ_INT(infer_chat_detect("{% weird %}"), INFER_CHAT_CHATML, "unknown: ChatML");
    ASSERT_EQ_INT(infer_chat_from_name("smollm2"), INFER_CHAT_CHATML, "smollm2 is ChatML");
    ASSERT_EQ_INT(infer_chat_from_name("gemma"), INFER_CHAT_GEMMA, "gemma by name");
    ASSERT_EQ_INT(infer_chat_from_name("nope"), -1, "unknown name");
}

typedef struct {
    keep_buf pieces;
    int n;
} collect;

static int on_piece(void *user, const char *t, size_t len)
{
    collect *c = user;
    keep_buf_append(&c->pieces, t, len);
    c->n++;
    return 0;
}

static int open_tiny(const char *name, int threads, infer_model **m, infer_ctx **c)
{
    char rel[128];
    keep_err err;
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    if (infer_model_open(tap_fixture(rel), m, &err)) {
        printf("# %s\n", err.msg);
        return 1;
    }
    infer_ctx_params p = {.n_ctx = 512, .n_batch = 64, .n_threads = threads};
    if (infer_ctx_new(*m, &p, c, &err)) {
        printf("# %s\n", err.msg);
        infer_model_free(*m);
        return 1;
    }
    return 0;
}

static void test_generation(void)
{
    infer_model *m;
    infer_ctx *c;
    if (open_tiny("tiny-qwen2-q8_0", 2, &m, &c)) {
        OK(0, "open tiny-qwen2-q8_0");
        return;
    }
    keep_err err;
    int32_t *ids = NULL;
    size_t n = 0;
    const char *prompt = "The quick brown fox";
    infer_tokenize_alloc(infer_model_tokenizer(m), prompt, strlen(prompt), INFER_TOK_ADD_SPECIAL, &ids, &n,
                         &err);
    infer_gen_params gp;
    infer_gen_defaults(&gp);
    gp.sampling.temperature = 0;
    gp.max_tokens = 24;
    keep_buf t1 = {0}, t2 = {0};
    collect col = {{0}, 0};
    gp.on_piece = on_piece;
    gp.user = &col;
    infer_gen_result r;
    ASSERT_EQ_INT(infer_generate(c, ids, n, &gp, &t1, &r, &err), KEEP_OK, "greedy generate");
    ASSERT_EQ_INT(r.stop, INFER_STOP_LENGTH, "stopped at max_tokens");
    ASSERT_EQ_INT(r.n_generated, 24, "24 tokens");
    OK(t1.len > 10, "some text");
    OK(keep_utf8_valid(t1.data, t1.len), "streamed text is valid UTF-8");
    ASSERT_EQ_STR(col.pieces.data, t1.data, "pieces concatenate to the text");
    OK(col.n > 1, "several pieces");
    gp.on_piece = NULL;
    ASSERT_EQ_INT(infer_generate(c, ids, n, &gp, &t2, &r, &err), KEEP_OK, "again");
    ASSERT_EQ_STR(t2.data, t1.data, "greedy is deterministic");
    ASSERT_EQ_INT(r.n_reused, n - 1, "the prompt was reused from the cache");

    /* stop string: a piece of the middle of the greedy text */
    size_t at = t1.len / 2;
    while (at < t1.len && ((unsigned char)t1.data[at] & 0xC0) == 0x80) at++;
    char stop[8] = {0};
    size_t sl = t1.len - at < 3 ? t1.len - at : 3;
    memcpy(stop, t1.data + at, sl);
    const char *stops[] = {"\x01never", stop};
    size_t first = (size_t)(strstr(t1.data, stop) - t1.data);
    gp.stop = stops;
    gp.n_stop = 2;
    keep_buf t3 = {0};
    ASSERT_EQ_INT(infer_generate(c, ids, n, &gp, &t3, &r, &err), KEEP_OK, "generate with stop");
    ASSERT_EQ_INT(r.stop, INFER_STOP_STRING, "stopped by the stop string");
    ASSERT_EQ_INT(t3.len, first, "text ends right before the stop string");
    OK(t3.len == 0 || !memcmp(t3.data, t1.data, t3.len), "and is the same prefix");
    gp.stop = NULL;
    gp.n_stop = 0;

    /* seeded sampling is reproducible */
    infer_gen_defaults(&gp);
    gp.max_tokens = 16;
    gp.sampling.seed = 7;
    keep_buf s1 = {0}, s2 = {0}, s3 = {0};
    infer_generate(c, ids, n, &gp, &s1, &r, &err);
    infer_generate(c, ids, n, &gp, &s2, &r, &err);
    gp.sampling.seed = 8;
    gp.sampling.temperature = 1.5f;
    infer_generate(c, ids, n, &gp, &s3, &r, &err);
    ASSERT_EQ_STR(s2.data, s1.data, "same seed: same text");
    OK(strcmp(s1.data ? s1.data : "", s3.data ? s3.data : "") != 0, "other seed and temperature: other text");

    keep_buf_free(&t1);
    keep_buf_free(&t2);
    keep_buf_free(&t3);
    keep_buf_free(&s1);
    keep_buf_free(&s2);
    keep_buf_free(&s3);
    keep_buf_free(&col.pieces);
    keep_free(ids);
    infer_ctx_free(c);
    infer_model_free(m);
}

typedef struct {
    infer_ctx *c;
    const int32_t *ids;
    size_t n;
    atomic_int started, cancel_sent;
    int rc;
    infer_gen_result res;
} cancel_job;

static int wait_for_cancel(void *user, const char *t, size_t len)
{
    (void)t;
    (void)len;
    cancel_job *j = user;
    atomic_store(&j->started, 1);
    while (!atomic_load(&j->cancel_sent)) usleep(100);
    return 0;
}

static void *gen_thread(void *arg)
{
    cancel_job *j = arg;
    infer_gen_params gp;
    infer_gen_defaults(&gp);
    gp.sampling.temperature = 0;
    gp.max_tokens = 400;
    gp.on_piece = wait_for_cancel;
    gp.user = j;
    keep_err err;
    j->rc = infer_generate(j->c, j->ids, j->n, &gp, NULL, &j->res, &err);
    atomic_store(&j->started, 1);
    return NULL;
}

static void test_cancel(void)
{
    infer_model *m;
    infer_ctx *c;
    if (open_tiny("tiny-llama-q4_0", 1, &m, &c)) {
        OK(0, "open tiny-llama-q4_0");
        return;
    }
    keep_err err;
    int32_t *ids = NULL;
    size_t n = 0;
    infer_tokenize_alloc(infer_model_tokenizer(m), "Once upon a time", 16, INFER_TOK_ADD_SPECIAL, &ids, &n, &err);
    cancel_job j = {.c = c, .ids = ids, .n = n};
    atomic_init(&j.started, 0);
    atomic_init(&j.cancel_sent, 0);
    pthread_t th;
    pthread_create(&th, NULL, gen_thread, &j);
    while (!atomic_load(&j.started)) usleep(100);
    infer_ctx_cancel(c);
    atomic_store(&j.cancel_sent, 1);
    pthread_join(th, NULL);
    ASSERT_EQ_INT(j.rc, KEEP_ERR_CANCELLED, "cancel from another thread: KEEP_ERR_CANCELLED");
    ASSERT_EQ_INT(j.res.stop, INFER_STOP_CANCELLED, "stop reason cancelled");
    OK(j.res.n_generated < 400, "stopped early");
    /* the request was consumed: the context works again */
    ASSERT_EQ_INT(infer_ctx_eval(c, ids, n, NULL, &err), KEEP_OK, "eval after a cancel");
    keep_free(ids);
    infer_ctx_free(c);
    infer_model_free(m);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_reuse_threads(void)
{
    infer_model *m;
    infer_ctx *c1, *c2;
    if (open_tiny("tiny-llama3-q4_k_m", 1, &m, &c1)) {
        OK(0, "open");
        return;
    }
    infer_ctx_params p = {.n_ctx = 512, .n_batch = 7, .n_threads = 2};
    keep_err err;
    infer_ctx_new(m, &p, &c2, &err);
    const char *text = "A system prompt that stays the same, then a question that changes.";
    int32_t *ids = NULL;
    size_t n = 0, computed = 0;
    infer_tokenize_alloc(infer_model_tokenizer(m), text, strlen(text), INFER_TOK_ADD_SPECIAL, &ids, &n, &err);
    size_t nv = infer_model_n_vocab(m);
    float *full = malloc(nv * sizeof *full);
    ASSERT_EQ_INT(infer_ctx_eval(c1, ids, n, &computed, &err), KEEP_OK, "eval 1 thread, batch 64");
    ASSERT_EQ_INT(computed, n, "all computed");
    memcpy(full, infer_ctx_logits(c1), nv * sizeof *full);
    infer_ctx_eval(c2, ids, n / 2, NULL, &err);
    ASSERT_EQ_INT(infer_ctx_eval(c2, ids, n, &computed, &err), KEEP_OK, "eval prefix then all, 2 threads, batch 7");
    ASSERT_EQ_INT(computed, n - n / 2, "only the new part computed");
    ASSERT_NEAR(max_diff(full, infer_ctx_logits(c2), nv), 0, 1e-4,
                "same logits across threads, batch sizes and prefix reuse");
    /* a different continuation after the shared prefix */
    int32_t alt[256];
    memcpy(alt, ids, n * sizeof *ids);
    alt[n - 2] = 100;
    ASSERT_EQ_INT(infer_ctx_eval(c2, alt, n, &computed, &err), KEEP_OK, "diverging prompt");
    ASSERT_EQ_INT(computed, 2, "recomputes from the first difference");
    infer_ctx_eval(c1, alt, n, NULL, &err);
    ASSERT_NEAR(max_diff(infer_ctx_logits(c1), infer_ctx_logits(c2), nv), 0, 1e-4, "and matches");
    int32_t badid = (int32_t)nv;
    ASSERT_EQ_INT(infer_ctx_eval(c2, &badid, 1, NULL, &err), KEEP_ERR_USAGE, "id out of vocabulary refused");
    free(full);
    keep_free(ids);
    infer_ctx_free(c1);
    infer_ctx_free(c2);
    infer_model_free(m);
}

/* A small llama file with one thing broken. */
static int write_model(const char *path, const char *skip, const char *arch, int bad_shape)
{
    infer_gguf_writer *w;
    keep_err err;
    if (infer_gguf_writer_new(&w, &err)) return 1;
    char key[64];
    infer_gguf_writer_set_str(w, "general.architecture", arch);
#define K(s) (snprintf(key, sizeof key, "%s.%s", arch, s), key)
    infer_gguf_writer_set_u32(w, K("embedding_length"), 64);
    infer_gguf_writer_set_u32(w, K("block_count"), 1);
    infer_gguf_writer_set_u32(w, K("attention.head_count"), 4);
    infer_gguf_writer_set_u32(w, K("attention.head_count_kv"), 2);
    infer_gguf_writer_set_u32(w, K("feed_forward_length"), 128);
#undef K
    static float data[64 * 300];
    for (size_t i = 0; i < sizeof data / sizeof *data; i++) data[i] = (float)((i * 37) % 11) * 0.01f;
    struct {
        const char *name;
        uint64_t k, r;
    } t[] = {{"token_embd.weight", 64, 300},   {"output_norm.weight", 64, 1},
             {"blk.0.attn_norm.weight", 64, 1}, {"blk.0.ffn_norm.weight", 64, 1},
             {"blk.0.attn_q.weight", 64, 64},   {"blk.0.attn_k.weight", 64, 32},
             {"blk.0.attn_v.weight", 64, 32},   {"blk.0.attn_output.weight", 64, 64},
             {"blk.0.ffn_gate.weight", 64, 128}, {"blk.0.ffn_up.weight", 64, 128},
             {"blk.0.ffn_down.weight", 128, 64}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        if (skip && !strcmp(skip, t[i].name)) continue;
        uint64_t ne[2] = {t[i].k, t[i].r};
        if (bad_shape && !strcmp(t[i].name, "blk.0.attn_k.weight")) ne[1] = 48;
        infer_gguf_writer_add_tensor_f32(w, t[i].name, 0, t[i].r == 1 ? 1 : 2, ne, data);
    }
    int rc = infer_gguf_writer_write(w, path, &err);
    infer_gguf_writer_free(w);
    return rc;
}

static void test_errors(void)
{
    char path[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/keep-test-decoder-%d.gguf", tmp ? tmp : "/tmp", (int)getpid());
    infer_model *m = NULL;
    keep_err err;
    ASSERT_EQ_INT(infer_model_open(tap_fixture("models/tiny-bert-f32.gguf"), &m, &err), KEEP_ERR_UNSUPPORTED,
                  "bert is not a decoder");
    OK(strstr(err.msg, "\"bert\"") != NULL, "the message names the architecture");
    write_model(path, "blk.0.ffn_up.weight", "llama", 0);
    ASSERT_EQ_INT(infer_model_open(path, &m, &err), KEEP_ERR_CORRUPT, "missing tensor");
    OK(strstr(err.msg, "blk.0.ffn_up.weight") != NULL, "the message names the tensor");
    write_model(path, NULL, "llama", 1);
    ASSERT_EQ_INT(infer_model_open(path, &m, &err), KEEP_ERR_CORRUPT, "wrong shape");
    OK(strstr(err.msg, "blk.0.attn_k.weight") && strstr(err.msg, "[64, 48]"), "the message names tensor and shape");
    write_model(path, NULL, "mamba", 0);
    ASSERT_EQ_INT(infer_model_open(path, &m, &err), KEEP_ERR_UNSUPPORTED, "unknown architecture");
    write_model(path, NULL, "qwen2", 0);
    ASSERT_EQ_INT(infer_model_open(path, &m, &err), KEEP_ERR_CORRUPT, "qwen2 without biases");
    OK(strstr(err.msg, "attn_q.bias") != NULL, "names the bias");
    unlink(path);
}

/* softmax(scale q.K) V in double: what both attention paths approximate */
static void attend_ref(const float *q, const uint16_t *K, const uint16_t *V, size_t n, size_t dk,
                       size_t dv, float scale, double *out)
{
    double w[100], mx = -1e300, sum = 0;
    for (size_t p = 0; p < n; p++) {
        double s = 0;
        for (size_t i = 0; i < dk; i++) s += (double)q[i] * infer_f16_to_f32(K[p * dk + i]);
        w[p] = s * scale;
        mx = fmax(mx, w[p]);
    }
    for (size_t p = 0; p < n; p++) sum += w[p] = exp(w[p] - mx);
    for (size_t i = 0; i < dv; i++) {
        out[i] = 0;
        for (size_t p = 0; p < n; p++) out[i] += w[p] / sum * infer_f16_to_f32(V[p * dv + i]);
    }
}

/* Attention kernels: both paths close to the exact result, and every SIMD
 * level bit-identical to the scalar code (they emulate one summation order),
 * odd sizes included (head sizes not a multiple of 8 or 32, key counts not
 * of 8, more than one 64-key tile). */
static void test_attn_kernels(void)
{
    static const size_t dims[] = {8, 40, 64, 72, 128};
    static const size_t keys[] = {1, 7, 8, 13, 65, 100};
    static uint16_t K[100 * 128], V[100 * 128];
    float q[128], ref_v[128], ref_t[128], got[128];
    double exact[128];
    for (size_t i = 0; i < 100 * 128; i++) {
        K[i] = infer_f32_to_f16((float)sin(i * 0.7) * 2.0f);
        V[i] = infer_f32_to_f16((float)cos(i * 0.37) * 3.0f);
    }
    for (size_t i = 0; i < 128; i++) q[i] = (float)cos(i * 0.3);
    int best = infer_cpu_best_level(), close = 1;
    int same[INFER_CPU_LEVELS] = {0};
    for (int level = 0; level <= best; level++) same[level] = 1;
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
        for (size_t ki = 0; ki < sizeof keys / sizeof *keys; ki++) {
            size_t d = dims[di], n = keys[ki];
            float scale = 1.0f / sqrtf((float)d);
            attend_ref(q, K, V, n, d, d, scale, exact);
            infer_cpu_set_level(INFER_CPU_SCALAR);
            infer__attn_kernels ks = infer__attn_kernels_get();
            ks.vec(q, K, V, n, d, d, scale, ref_v);
            ks.tiled(q, K, V, n, d, d, scale, ref_t);
            for (size_t i = 0; i < d; i++) {
                /* the vector path keeps its sum in f16: 3 significant digits */
                close &= fabs(ref_v[i] - exact[i]) <= 4e-3 * (1 + fabs(exact[i]));
                close &= fabs(ref_t[i] - exact[i]) <= 1e-5 * (1 + fabs(exact[i]));
            }
            for (int level = INFER_CPU_SCALAR + 1; level <= best; level++) {
                if (!infer_cpu_level_supported(level)) continue;
                infer_cpu_set_level(level);
                infer__attn_kernels kv = infer__attn_kernels_get();
                kv.vec(q, K, V, n, d, d, scale, got);
                same[level] &= !memcmp(got, ref_v, d * sizeof *got);
                kv.tiled(q, K, V, n, d, d, scale, got);
                same[level] &= !memcmp(got, ref_t, d * sizeof *got);
            }
        }
    OK(close, "attention paths agree with exact softmax attention");
    for (int level = INFER_CPU_SCALAR + 1; level <= best; level++) {
        if (!infer_cpu_level_supported(level)) continue;
        char what[96];
        snprintf(what, sizeof what, "attention kernels at %s equal the scalar ones bit for bit",
                 infer_cpu_level_name(level));
        OK(same[level], what);
    }
    infer_cpu_set_level(best);
}

/* tiled_many (tiles converted once, shared by every query of a KV head) gives
 * each query exactly the bits tiled gives it at the scalar level, for causal
 * key counts crossing tile boundaries, odd head sizes and GQA ratios 1, 4
 * and 7 (queries of several heads over one K/V), at every SIMD level. */
static void test_attn_many(void)
{
    static const size_t dims[] = {8, 40, 64, 72};
    static const size_t ratios[] = {1, 4, 7};
    enum { NK = 200, NT = 23, MAXD = 72 };
    static uint16_t K[NK * MAXD], V[NK * MAXD];
    static float q[7 * NT * MAXD], ref[7 * NT * MAXD], got[7 * NT * MAXD];
    static float scratch[INFER__ATT_TILE * 2 * MAXD];
    unsigned seed = 12345;
    for (size_t i = 0; i < NK * MAXD; i++) {
        seed = seed * 1103515245u + 12345u;
        K[i] = infer_f32_to_f16((float)((seed >> 8) % 20001) / 5000.0f - 2.0f);
        seed = seed * 1103515245u + 12345u;
        V[i] = infer_f32_to_f16((float)((seed >> 8) % 20001) / 4000.0f - 2.5f);
    }
    for (size_t i = 0; i < 7 * NT * MAXD; i++) {
        seed = seed * 1103515245u + 12345u;
        q[i] = (float)((seed >> 8) % 20001) / 2500.0f - 4.0f;
    }
    int best = infer_cpu_best_level(), same = 1, nonzero = 0;
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
        for (size_t ri = 0; ri < sizeof ratios / sizeof *ratios; ri++) {
            size_t d = dims[di], nq = ratios[ri] * NT;
            const float *qp[7 * NT];
            float *op[7 * NT];
            size_t nk[7 * NT];
            /* token t of each head sees 1 + 8t + 5 keys: 6 ... 182, across 3 tiles */
            for (size_t r = 0; r < nq; r++) {
                qp[r] = q + r * d;
                nk[r] = 6 + 8 * (r % NT);
            }
            float scale = 1.0f / sqrtf((float)d);
            infer_cpu_set_level(INFER_CPU_SCALAR);
            infer__attn_kernels ks = infer__attn_kernels_get();
            for (size_t r = 0; r < nq; r++) ks.tiled(qp[r], K, V, nk[r], d, d, scale, ref + r * d);
            for (int level = INFER_CPU_SCALAR; level <= best; level++) {
                if (!infer_cpu_level_supported(level)) continue;
                infer_cpu_set_level(level);
                infer__attn_kernels kv = infer__attn_kernels_get();
                for (size_t r = 0; r < nq; r++) op[r] = got + r * d;
                memset(got, 0xff, sizeof got);
                kv.tiled_many(nq, qp, nk, op, K, V, d, d, scale, scratch);
                same &= !memcmp(got, ref, nq * d * sizeof *got);
            }
            for (size_t i = 0; i < nq * d; i++) nonzero += ref[i] != 0.0f;
        }
    OK(nonzero > 1000, "batched tiled attention reference outputs are real numbers");
    OK(same, "batched tiled attention equals the one-query tiled path bit for bit at every level");
    infer_cpu_set_level(best);
}

int main(void)
{
    test_attn_kernels();
    test_attn_many();
    test_sampler();
    test_templates();
    test_generation();
    test_cancel();
    test_reuse_threads();
    test_errors();
    return tap_done();
}
