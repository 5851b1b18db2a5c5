/* test_bert.c — BERT-family embedding models (infer.h, "embeddings"): the
 * fixture models against llama.cpp's embeddings at every kernel level this
 * CPU has, batching, truncation, empty text, prefixes, a nomic-bert model,
 * and files with missing or misshapen tensors. */
#include <cjson/cJSON.h>
#include <math.h>
#include <unistd.h>

#include "common.h"
#include "infer/bert_synth.h"
#include "infer/cpu.h"
#include "infer/emb_gemm.h"
#include "infer/ggml_types.h"
#include "infer/infer.h"
#include "tap.h"

#define MAX_LINES 16

static char lines[MAX_LINES][512];
static int n_lines;

static void read_prompts(void)
{
    FILE *f = fopen(tap_fixture("prompts/bert.txt"), "r");
    if (!f)
        return;
    while (n_lines < MAX_LINES && fgets(lines[n_lines], sizeof lines[0], f)) {
        size_t l = strlen(lines[n_lines]);
        while (l && (lines[n_lines][l - 1] == '\n' || lines[n_lines][l - 1] == '\r'))
            lines[n_lines][--l] = 0;
        if (l)
            n_lines++;
    }
    fclose(f);
}

/* Reference vectors of ref/tiny-bert-TYPE.embeddings.json; caller frees. */
static float *read_ref(const char *type, size_t *n, size_t *dim)
{
    char rel[128], *text = NULL;
    size_t len;
    snprintf(rel, sizeof rel, "ref/tiny-bert-%s.embeddings.json", type);
    if (keep_read_file(tap_fixture(rel), 1 << 24, &text, &len, NULL))
        return NULL;
    cJSON *j = cJSON_Parse(text);
    keep_free(text);
    cJSON *data = cJSON_GetObjectItem(j, "data");
    *n = (size_t)cJSON_GetArraySize(data);
    *dim = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(data, 0), "embedding"));
    float *v = keep_calloc(*n * *dim + 1, sizeof(float));
    for (size_t i = 0; v && i < *n; i++) {
        cJSON *item = cJSON_GetArrayItem(data, (int)i);
        size_t idx = (size_t)cJSON_GetObjectItem(item, "index")->valueint;
        cJSON *emb = cJSON_GetObjectItem(item, "embedding");
        for (size_t k = 0; k < *dim && idx < *n; k++)
            v[idx * *dim + k] = (float)cJSON_GetArrayItem(emb, (int)k)->valuedouble;
    }
    cJSON_Delete(j);
    return v;
}

static double cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / (sqrt(aa * bb) + 1e-30);
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void test_fixture(const char *type, int threads)
{
    char rel[128], what[400];
    snprintf(rel, sizeof rel, "models/tiny-bert-%s.gguf", type);
    size_t nref = 0, dim = 0;
    float *ref = read_ref(type, &nref, &dim);
    infer_embed_opts o = {.n_threads = threads, .pooling = INFER_POOL_DEFAULT};
    infer_embedder *e = NULL;
    keep_err err = {0};
    int rc = infer_embedder_open(tap_fixture(rel), &o, &e, &err);
    snprintf(what, sizeof what, "open %s (%.100s)", rel, err.msg);
    ASSERT_EQ_INT(rc, KEEP_OK, what);
    if (rc || !ref) {
        keep_free(ref);
        return;
    }
    ASSERT_EQ_INT(infer_embedder_dim(e), dim, "dimension as the reference");
    ASSERT_EQ_INT(nref, n_lines, "one reference vector per prompt line");
    ASSERT_EQ_INT(infer_embedder_pooling(e), INFER_POOL_CLS, "CLS pooling from the file");
    ASSERT_EQ_STR(infer_embedder_prefix(e, 1), "", "no query prefix for tiny-bert");
    const char *texts[MAX_LINES];
    for (int i = 0; i < n_lines; i++)
        texts[i] = lines[i];
    float *out = keep_calloc((size_t)n_lines * dim, sizeof(float));
    rc = infer_embed(e, texts, NULL, (size_t)n_lines, 0, out, NULL, &err);
    ASSERT_EQ_INT(rc, KEEP_OK, "embed the prompt lines as one batch");
    for (int i = 0; i < n_lines && (size_t)i < nref; i++) {
        double c = cosine(out + (size_t)i * dim, ref + (size_t)i * dim, dim);
        snprintf(what, sizeof what, "%s %s %d threads: line %d cosine %.6f >= 0.999", type,
                 infer_cpu_level_name(infer_cpu_level()), threads, i, c);
        OK(c >= 0.999, what);
    }
    /* One text at a time gives the same vectors as the batch. */
    float *one = keep_calloc(dim, sizeof(float));
    double worst = 0;
    for (int i = 0; i < n_lines; i++) {
        rc |= infer_embed(e, texts + i, NULL, 1, 0, one, NULL, &err);
        worst = fmax(worst, max_abs_diff(one, out + (size_t)i * dim, dim));
    }
    ASSERT_EQ_INT(rc, KEEP_OK, "embed one at a time");
    ASSERT_NEAR(worst, 0, 1e-6, "batch == one at a time");
    keep_free(one);
    keep_free(out);
    keep_free(ref);
    infer_embedder_free(e);
}

/* Truncation, empty text, explicit lengths and small passes on the f32 model. */
static void test_edges(void)
{
    infer_embedder *e = NULL;
    keep_err err = {0};
    infer_embed_opts o = {.n_threads = 2, .pooling = INFER_POOL_DEFAULT, .max_batch_tokens = 1};
    int rc = infer_embedder_open(tap_fixture("models/tiny-bert-f32.gguf"), &o, &e, &err);
    ASSERT_EQ_INT(rc, KEEP_OK, "open tiny-bert-f32");
    if (rc)
        return;
    size_t dim = infer_embedder_dim(e), maxt = infer_embedder_max_tokens(e);
    ASSERT_EQ_INT(maxt, 512, "max tokens = context length");

    /* 600 words: truncated to 512 tokens, [SEP] kept at the end. */
    keep_buf long_text = {0};
    for (int i = 0; i < 600; i++)
        keep_buf_puts(&long_text, "backup ");
    const char *texts[3] = {long_text.data, "", "The quick brown fox"};
    unsigned char trunc[3] = {9, 9, 9};
    float *out = keep_calloc(3 * dim, sizeof(float));
    rc = infer_embed(e, texts, NULL, 3, 0, out, trunc, &err);
    ASSERT_EQ_INT(rc, KEEP_OK, "embed long, empty and short texts (passes of one text)");
    ASSERT_EQ_INT(trunc[0], 1, "600-word text reported truncated");
    ASSERT_EQ_INT(trunc[1], 0, "empty text not truncated");
    ASSERT_EQ_INT(trunc[2], 0, "short text not truncated");
    const infer_tokenizer *tok = infer_embedder_tokenizer(e);
    int32_t *ids = NULL;
    size_t n = 0;
    infer_tokenize_alloc(tok, long_text.data, long_text.len, INFER_TOK_ADD_SPECIAL, &ids, &n, &err);
    OK(n > maxt, "the long text has more tokens than the context");
    if (n > maxt) {
        ids[maxt - 1] = infer_tokenizer_special(tok, INFER_SPECIAL_SEP);
        size_t off[2] = {0, maxt};
        float *v = keep_calloc(dim, sizeof(float));
        rc = infer_embed_tokens(e, ids, off, 1, v, &err);
        ASSERT_EQ_INT(rc, KEEP_OK, "embed the first 511 ids + [SEP]");
        ASSERT_NEAR(max_abs_diff(v, out, dim), 0, 1e-6, "truncated text == its first 511 tokens + [SEP]");
        off[1] = maxt + 1;
        rc = infer_embed_tokens(e, ids, off, 1, v, &err);
        ASSERT_EQ_INT(rc, KEEP_ERR_USAGE, "infer_embed_tokens refuses a sequence over the context");
        keep_free(v);
    }
    keep_free(ids);
    /* 5 MiB of the same words (over the tokenizer's 4 MiB cap): only a
     * prefix is tokenized, and the vector is the 600-word text's. */
    char *huge = keep_malloc((size_t)5 << 20);
    if (huge) {
        size_t hl = ((size_t)5 << 20) - 8;
        for (size_t i = 0; i < hl; i++)
            huge[i] = "backup "[i % 7];
        const char *ht[1] = {huge};
        size_t hlen[1] = {hl};
        unsigned char ht_cut = 0;
        float *hv = keep_calloc(dim, sizeof(float));
        rc = infer_embed(e, ht, hlen, 1, 0, hv, &ht_cut, &err);
        ASSERT_EQ_INT(rc, KEEP_OK, "a 5 MiB text embeds (only its head is tokenized)");
        ASSERT_EQ_INT(ht_cut, 1, "and is reported truncated");
        ASSERT_NEAR(max_abs_diff(hv, out, dim), 0, 1e-6, "5 MiB text == the 600-word text (same first 511 tokens)");
        keep_free(hv);
        keep_free(huge);
    }
    double n2 = 0;
    for (size_t i = 0; i < dim; i++)
        n2 += (double)out[dim + i] * out[dim + i];
    ASSERT_NEAR(n2, 1.0, 1e-5, "empty text gives a unit vector ([CLS][SEP])");
    int32_t cs[2] = {infer_tokenizer_special(tok, INFER_SPECIAL_CLS),
                     infer_tokenizer_special(tok, INFER_SPECIAL_SEP)};
    size_t off2[2] = {0, 2};
    float *v2 = keep_calloc(dim, sizeof(float));
    infer_embed_tokens(e, cs, off2, 1, v2, &err);
    ASSERT_NEAR(max_abs_diff(v2, out + dim, dim), 0, 1e-6, "empty text == embedding of [CLS][SEP]");
    /* Explicit lengths: only the first 19 bytes of a longer string count. */
    const char *pre[1] = {"The quick brown fox jumps"};
    size_t lens[1] = {19};
    infer_embed(e, pre, lens, 1, 0, v2, NULL, &err);
    ASSERT_NEAR(max_abs_diff(v2, out + 2 * dim, dim), 0, 1e-6, "lens[] bounds the text");
    int32_t bad = 1 << 20;
    size_t off1[2] = {0, 1};
    ASSERT_EQ_INT(infer_embed_tokens(e, &bad, off1, 1, v2, &err), KEEP_ERR_USAGE,
                  "token id outside the vocabulary refused");
    keep_free(v2);
    keep_free(out);
    keep_buf_free(&long_text);
    infer_embedder_free(e);
}

static char tmpdir[] = "/tmp/keep-test-bert-XXXXXX";

static int synth(const char *file, infer__bert_synth *s, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, file);
    keep_err err = {0};
    int rc = infer__bert_synth_write(path, s, &err);
    if (rc)
        printf("# synth %s: %s\n", file, err.msg);
    return rc;
}

static infer__bert_synth base_spec(void)
{
    infer__bert_synth s = {0};
    s.arch = "bert";
    s.name = "test-bert";
    s.vocab_path = tap_fixture("vocab/ggml-vocab-bert-bge.gguf");
    s.n_embd = 64;
    s.n_layer = 2;
    s.n_head = 4;
    s.n_ff = 128;
    s.n_ctx = 128;
    s.wtype = INFER_T_F16;
    s.pooling = INFER_POOL_MEAN;
    s.seed = 7;
    return s;
}

/* Opening must fail with an error message containing needle. */
static void expect_open_error(const char *path, const char *needle, const char *what)
{
    infer_embedder *e = NULL;
    keep_err err = {0};
    int rc = infer_embedder_open(path, NULL, &e, &err);
    OK(rc != KEEP_OK && e == NULL, what);
    int has = strstr(err.msg, needle) != NULL;
    OK(has, "error names the problem");
    if (!has)
        printf("#   message: %s\n", err.msg);
    infer_embedder_free(e);
}

/* Synthetic bert (mean pooling) and nomic-bert models against the vectors
 * llama.cpp computed for the same files (tests/data/bert/synth-llamacpp.json
 * says how they were made): covers rotary positions, SwiGLU and the fused
 * QKV, which no fixture model has. */
static void test_synth_llamacpp(void)
{
    const char *src = getenv("KEEP_SRCDIR");
    char ref[4096], path[512], *text = NULL;
    size_t len;
    snprintf(ref, sizeof ref, "%s/tests/data/bert/synth-llamacpp.json", src ? src : ".");
    if (keep_read_file(ref, 1 << 20, &text, &len, NULL)) {
        OK(0, "read tests/data/bert/synth-llamacpp.json");
        return;
    }
    cJSON *j = cJSON_Parse(text);
    keep_free(text);
    static const char *archs[] = {"nomic-bert", "bert"};
    for (int a = 0; a < 2; a++) {
        infer__bert_synth s = {0};
        s.arch = archs[a];
        s.name = "syn";
        s.vocab_path = tap_fixture("vocab/ggml-vocab-bert-bge.gguf");
        s.n_embd = 128;
        s.n_layer = 2;
        s.n_head = 4;
        s.n_ff = 256;
        s.n_ctx = 128;
        s.wtype = INFER_T_F16;
        s.pooling = INFER_POOL_MEAN;
        s.seed = 3;
        infer_embedder *e = NULL;
        keep_err err = {0};
        if (synth("ref.gguf", &s, path, sizeof path) || infer_embedder_open(path, NULL, &e, &err)) {
            OK(0, "write and open the synthetic model");
            continue;
        }
        cJSON *texts = cJSON_GetObjectItem(j, "texts"), *vecs = cJSON_GetObjectItem(j, archs[a]);
        const char *t[2] = {cJSON_GetArrayItem(texts, 0)->valuestring, cJSON_GetArrayItem(texts, 1)->valuestring};
        float out[2 * 128], want[128];
        int rc = infer_embed(e, t, NULL, 2, 0, out, NULL, &err);
        for (int i = 0; i < 2; i++) {
            cJSON *v = cJSON_GetArrayItem(vecs, i);
            for (int k = 0; k < 128; k++)
                want[k] = (float)cJSON_GetArrayItem(v, k)->valuedouble;
            double c = cosine(out + i * 128, want, 128);
            char what[128];
            snprintf(what, sizeof what, "%s (synthetic, mean pooling) text %d: cosine with llama.cpp %.7f >= 0.9999",
                     archs[a], i, c);
            OK(rc == KEEP_OK && c >= 0.9999, what);
        }
        infer_embedder_free(e);
        unlink(path);
    }
    cJSON_Delete(j);
}

/* Every allocation of open + embed failing in turn (all of the first 200,
 * then a sample): a clean KEEP_ERR_NOMEM, nothing leaked (ASan builds). */
static void test_alloc_failures(void)
{
    char path[512];
    infer__bert_synth s = base_spec();
    s.n_layer = 1;
    if (synth("oom.gguf", &s, path, sizeof path))
        return;
    const char *texts[3] = {"alpha beta", "", "gamma delta epsilon"};
    float out[3 * 64];
    int bad = 0, fails = 0;
    long n;
    for (n = 0; n < 100000; n += n < 200 ? 1 : 37) {
        infer_embedder *e = NULL;
        keep_err err = {0};
        infer_embed_opts o = {.n_threads = 1, .pooling = INFER_POOL_DEFAULT, .max_batch_tokens = 1};
        keep_alloc_fail_after(n);
        int rc = infer_embedder_open(path, &o, &e, &err);
        if (rc == KEEP_OK)
            rc = infer_embed(e, texts, NULL, 3, 1, out, NULL, &err);
        keep_alloc_fail_after(-1);
        infer_embedder_free(e);
        if (rc == KEEP_OK)
            break;
        fails++;
        if (rc != KEEP_ERR_NOMEM && !bad) {
            bad = 1;
            printf("# allocation %ld failing gave %d: %s\n", n, rc, err.msg);
        }
    }
    OK(fails > 10 && !bad, "every failed allocation in open + embed is a clean KEEP_ERR_NOMEM");
    OK(n < 100000, "open + embed succeed once allocations do");
    unlink(path);
}

static void test_synthetic(void)
{
    char path[512];
    if (!mkdtemp(tmpdir)) {
        OK(0, "mkdtemp");
        return;
    }
    infer__bert_synth s = base_spec();
    s.skip_tensor = "blk.1.attn_k.weight";
    if (synth("missing.gguf", &s, path, sizeof path) == KEEP_OK)
        expect_open_error(path, "blk.1.attn_k.weight missing", "missing tensor refused");
    unlink(path);
    s = base_spec();
    s.bad_tensor = "blk.0.ffn_down.weight";
    if (synth("shape.gguf", &s, path, sizeof path) == KEEP_OK)
        expect_open_error(path, "blk.0.ffn_down.weight has shape [128, 65, 1, 1], expected [128, 64]",
                          "misshapen tensor refused");
    unlink(path);
    s = base_spec();
    s.bad_tensor = "blk.1.attn_output_norm.bias";
    if (synth("shape2.gguf", &s, path, sizeof path) == KEEP_OK)
        expect_open_error(path, "blk.1.attn_output_norm.bias has shape", "misshapen vector refused");
    unlink(path);

    /* Mean pooling, many texts of different lengths, passes of few tokens ==
     * one pass; one and two threads agree. */
    s = base_spec();
    s.name = "bge-small-en-v1.5";
    infer_embedder *e1 = NULL, *e2 = NULL;
    keep_err err = {0};
    if (synth("bge.gguf", &s, path, sizeof path) == KEEP_OK) {
        infer_embed_opts o1 = {.n_threads = 1, .pooling = INFER_POOL_DEFAULT};
        infer_embed_opts o2 = {.n_threads = 2, .pooling = INFER_POOL_DEFAULT, .max_batch_tokens = 40};
        int rc = infer_embedder_open(path, &o1, &e1, &err);
        rc |= infer_embedder_open(path, &o2, &e2, &err);
        ASSERT_EQ_INT(rc, KEEP_OK, "open a synthetic bge-small-named model");
        if (!rc) {
            ASSERT_EQ_INT(infer_embedder_pooling(e1), INFER_POOL_MEAN, "mean pooling from the file");
            ASSERT_EQ_STR(infer_embedder_prefix(e1, 1),
                          "Represent this sentence for searching relevant passages: ",
                          "bge query instruction detected from the name");
            ASSERT_EQ_STR(infer_embedder_prefix(e1, 0), "", "bge passages have no prefix");
            ASSERT_EQ_INT(infer_embedder_max_tokens(e1), 128, "context 128");
            const char *texts[12];
            for (int i = 0; i < 12; i++)
                texts[i] = lines[i % (n_lines ? n_lines : 1)];
            texts[5] = "";
            texts[7] = "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k";
            float a[12 * 64], b[12 * 64], c[64];
            rc = infer_embed(e1, texts, NULL, 12, 1, a, NULL, &err);
            rc |= infer_embed(e2, texts, NULL, 12, 1, b, NULL, &err);
            ASSERT_EQ_INT(rc, KEEP_OK, "embed 12 queries");
            ASSERT_NEAR(max_abs_diff(a, b, sizeof a / sizeof a[0]), 0, 1e-6,
                        "1 thread one pass == 2 threads in passes of <= 40 tokens");
            infer_embed(e1, texts + 7, NULL, 1, 1, c, NULL, &err);
            ASSERT_NEAR(max_abs_diff(c, a + 7 * 64, 64), 0, 1e-6, "batch == alone (mean pooling)");
            infer_embed(e1, texts + 7, NULL, 1, 0, c, NULL, &err);
            OK(cosine(c, a + 7 * 64, 64) < 0.99999, "passage differs from query (prefix applied)");
        }
        infer_embedder_free(e1);
        infer_embedder_free(e2);
        e1 = e2 = NULL;
        infer_embed_opts o3 = {.pooling = INFER_POOL_CLS, .query_prefix = "q: ", .passage_prefix = "p: "};
        rc = infer_embedder_open(path, &o3, &e1, &err);
        ASSERT_EQ_INT(rc, KEEP_OK, "open with overrides");
        if (!rc) {
            ASSERT_EQ_STR(infer_embedder_prefix(e1, 1), "q: ", "query prefix overridden");
            ASSERT_EQ_STR(infer_embedder_prefix(e1, 0), "p: ", "passage prefix overridden");
            ASSERT_EQ_INT(infer_embedder_pooling(e1), INFER_POOL_CLS, "pooling overridden");
        }
        infer_embedder_free(e1);
        e1 = NULL;
        /* Last-token pooling: the last layer carries only that row; batch ==
         * alone, and the vector differs from CLS pooling's. */
        infer_embed_opts o4 = {.n_threads = 2, .pooling = INFER_POOL_LAST};
        rc = infer_embedder_open(path, &o4, &e1, &err);
        rc |= infer_embedder_open(path, &o3, &e2, &err);
        if (!rc) {
            const char *t3[3] = {"short", "a somewhat longer text here", "mid length text"};
            float v[3 * 64], w1[64], c1[64];
            rc = infer_embed(e1, t3, NULL, 3, 0, v, NULL, &err);
            rc |= infer_embed(e1, t3 + 1, NULL, 1, 0, w1, NULL, &err);
            rc |= infer_embed(e2, t3 + 1, NULL, 1, 0, c1, NULL, &err);
            ASSERT_EQ_INT(rc, KEEP_OK, "embed with last-token pooling");
            ASSERT_NEAR(max_abs_diff(w1, v + 64, 64), 0, 1e-6, "last-token pooling: batch == alone");
            OK(cosine(w1, c1, 64) < 0.9999, "last-token and CLS vectors differ");
        }
        infer_embedder_free(e2);
        e2 = NULL;
        infer_embedder_free(e1);
        e1 = NULL;
    }
    unlink(path);

    /* e5 and nomic prefixes; nomic-bert runs (rotary, SwiGLU, fused qkv). */
    s = base_spec();
    s.name = "multilingual-e5-small";
    if (synth("e5.gguf", &s, path, sizeof path) == KEEP_OK &&
        infer_embedder_open(path, NULL, &e1, &err) == KEEP_OK) {
        ASSERT_EQ_STR(infer_embedder_prefix(e1, 1), "query: ", "e5 query prefix");
        ASSERT_EQ_STR(infer_embedder_prefix(e1, 0), "passage: ", "e5 passage prefix");
    }
    infer_embedder_free(e1);
    e1 = NULL;
    unlink(path);
    s = base_spec();
    s.arch = "nomic-bert";
    s.name = "nomic-embed-text-v1.5";
    s.wtype = INFER_T_Q8_0;
    if (synth("nomic.gguf", &s, path, sizeof path) == KEEP_OK) {
        int rc = infer_embedder_open(path, NULL, &e1, &err);
        ASSERT_EQ_INT(rc, KEEP_OK, "open a nomic-bert model");
        if (!rc) {
            ASSERT_EQ_STR(infer_embedder_prefix(e1, 1), "search_query: ", "nomic query prefix");
            ASSERT_EQ_STR(infer_embedder_prefix(e1, 0), "search_document: ", "nomic passage prefix");
            const char *t2[2] = {"alpha beta gamma", "alpha beta gamma delta"};
            float v[2 * 64], w1[64];
            rc = infer_embed(e1, t2, NULL, 2, 0, v, NULL, &err);
            infer_embed(e1, t2 + 1, NULL, 1, 0, w1, NULL, &err);
            ASSERT_EQ_INT(rc, KEEP_OK, "nomic-bert embeds");
            ASSERT_NEAR(max_abs_diff(w1, v + 64, 64), 0, 1e-6, "nomic-bert batch == alone");
            double c = cosine(v, v + 64, 64);
            OK(c > 0.5 && c < 0.99999, "related texts: similar, not identical vectors");
        }
        infer_embedder_free(e1);
        e1 = NULL;
    }
    unlink(path);
    s = base_spec();
    s.arch = "nomic-bert";
    s.skip_tensor = "blk.0.ffn_gate.weight";
    if (synth("nomic-bad.gguf", &s, path, sizeof path) == KEEP_OK)
        expect_open_error(path, "blk.0.ffn_gate.weight missing", "nomic-bert without a gate refused");
    unlink(path);
    test_synth_llamacpp();
    test_alloc_failures();
    rmdir(tmpdir);

    expect_open_error(tap_fixture("models/tiny-llama-q8_0.gguf"), "architecture 'llama'",
                      "a decoder model is not an embedder");
    expect_open_error("/nonexistent/model.gguf", "/nonexistent/model.gguf", "missing file refused");
}

/* The float product against a plain triple loop on odd shapes (tails of
 * every tile dimension), both B layouts, with bias and GELU. */
static void test_gemm(void)
{
    static const size_t ks[] = {1, 17, 300}, ns[] = {1, 31, 33, 100}, ms[] = {1, 5, 23, 100};
    float *w = keep_malloc(300 * 100 * sizeof(float)), *a = keep_malloc(100 * 300 * sizeof(float));
    float *bias = keep_malloc(100 * sizeof(float)), *out = keep_malloc(100 * 101 * sizeof(float));
    float *scratch = keep_malloc(infer__gemm_scratch_floats(300) * sizeof(float));
    for (size_t i = 0; i < 300 * 100; i++) {
        w[i] = (float)((i * 7919) % 201) / 100.0f - 1.0f;
        a[i] = (float)((i * 104729) % 199) / 99.0f - 1.0f;
    }
    for (size_t i = 0; i < 100; i++)
        bias[i] = (float)i / 50.0f - 1.0f;
    double worst = 0;
    int cases = 0;
    for (size_t ki = 0; ki < 3; ki++)
        for (size_t ni = 0; ni < 4; ni++)
            for (size_t mi = 0; mi < 4; mi++)
                for (int layout = 0; layout < 2; layout++) {
                    size_t k = ks[ki], n = ns[ni], m = ms[mi];
                    infer__gemm_b b = {0};
                    b.k = k;
                    b.n = n;
                    if (layout == 0) { /* weight rows: W[j][e] = w[j * k + e] */
                        b.type = INFER_T_F32;
                        b.data = (const char *)w;
                        b.row_bytes = k * sizeof(float);
                    } else { /* e-major: B[e][j] = w[e * n + j] */
                        b.rowmajor_f32 = 1;
                        b.b = w;
                        b.ldb = n;
                    }
                    int act = (ki + ni + mi) % 2 ? INFER__ACT_GELU : INFER__ACT_NONE;
                    size_t c0 = n > 40 ? 32 : 0; /* a column range not starting at 0 */
                    infer__gemm(&b, c0, n, a, k, m, bias, out, 101, scratch, act);
                    for (size_t i = 0; i < m; i++)
                        for (size_t j = c0; j < n; j++) {
                            double sum = bias[j];
                            for (size_t e = 0; e < k; e++)
                                sum += (double)a[i * k + e] * (layout ? w[e * n + j] : w[j * k + e]);
                            if (act)
                                sum = sum / (1 + exp(-2 * 0.7978845608 * (sum + 0.044715 * sum * sum * sum)));
                            worst = fmax(worst, fabs(sum - out[i * 101 + j]) / (1 + fabs(sum)));
                        }
                    cases++;
                }
    char what[128];
    snprintf(what, sizeof what, "%s: float product of %d odd shapes vs a plain loop (worst %.2g)",
             infer_cpu_level_name(infer_cpu_level()), cases, worst);
    OK(worst < 1e-4, what);
    float x[37], y[37];
    for (int i = 0; i < 37; i++)
        x[i] = y[i] = (float)i / 3.0f - 6.0f;
    infer__softmax(x, 37, 0.5f);
    double sum = 0, err = 0, mx = -INFINITY, den = 0;
    for (int i = 0; i < 37; i++)
        mx = fmax(mx, 0.5 * y[i]);
    for (int i = 0; i < 37; i++)
        den += exp(0.5 * y[i] - mx);
    for (int i = 0; i < 37; i++) {
        sum += x[i];
        err = fmax(err, fabs(x[i] - exp(0.5 * y[i] - mx) / den));
    }
    OK(fabs(sum - 1) < 1e-5 && err < 1e-6, "softmax sums to 1 and matches exp()");
    float g[41];
    double gerr = 0;
    for (int i = 0; i < 41; i++)
        g[i] = (float)(i - 20) * 0.5f;
    infer__vgelu(g, 41);
    for (int i = 0; i < 41; i++) {
        double v = (i - 20) * 0.5;
        double want = 0.5 * v * (1 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
        gerr = fmax(gerr, fabs(g[i] - want));
    }
    OK(gerr < 1e-5, "GELU (tanh form) on [-10, 10]");
    keep_free(w);
    keep_free(a);
    keep_free(bias);
    keep_free(out);
    keep_free(scratch);
}

int main(void)
{
    read_prompts();
    OK(n_lines >= 4, "prompt lines read");
    static const char *types[] = {"f32", "f16", "q8_0"};
    int best = infer_cpu_best_level();
    for (int level = 0; level <= best; level++) {
        if (!infer_cpu_level_supported(level) || infer_cpu_set_level(level))
            continue;
        test_gemm();
        for (int t = 0; t < 3; t++)
            test_fixture(types[t], level == best ? 1 : 2);
    }
    infer_cpu_set_level(best);
    test_fixture("q8_0", 2);
    test_edges();
    test_synthetic();
    return tap_done();
}
