/* bench/embed.c — embeddings per second of Keep's BERT engine on models of
 * real shape with random weights (speed does not depend on the values).
 *
 *   bench/embed write DIR         writes DIR/bge-small-{f16,q8_0}.gguf (bert,
 *                                 384 wide, 12 layers, 12 heads, FFN 1536,
 *                                 context 512, the bert-bge vocabulary of the
 *                                 fixtures) unless present
 *   bench/embed run M.gguf THREADS [N] [TOKENS]
 *                                 one JSON line: embeddings/s for N passages
 *                                 (default 256) of about TOKENS tokens
 *                                 (default 60), embedded as one batch call
 *
 * The passages are those ../shared/tools/llamacpp-bench.mjs gives llama.cpp,
 * so bench/embed.sh can print both engines' figures on the same file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "infer/bert_synth.h"
#include "infer/ggml_types.h"
#include "infer/infer.h"

static int write_models(const char *dir)
{
    const char *fx = getenv("KEEP_FIXTURES");
    char vocab[4096], path[4096];
    snprintf(vocab, sizeof vocab, "%s/vocab/ggml-vocab-bert-bge.gguf", fx ? fx : "../shared/fixtures");
    static const struct {
        const char *file;
        uint32_t type;
    } models[] = {{"bge-small-f16.gguf", INFER_T_F16}, {"bge-small-q8_0.gguf", INFER_T_Q8_0}};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, models[i].file);
        if (access(path, R_OK) == 0)
            continue;
        infer__bert_synth s = {0};
        s.arch = "bert";
        s.name = "bge-small-shape";
        s.vocab_path = vocab;
        s.n_embd = 384;
        s.n_layer = 12;
        s.n_head = 12;
        s.n_ff = 1536;
        s.n_ctx = 512;
        s.wtype = models[i].type;
        s.pooling = INFER_POOL_CLS;
        s.seed = 1;
        keep_err err = {0};
        if (infer__bert_synth_write(path, &s, &err)) {
            fprintf(stderr, "bench/embed: %s\n", err.msg);
            return 1;
        }
        fprintf(stderr, "bench/embed: wrote %s\n", path);
    }
    return 0;
}

static int run(const char *model, int threads, size_t n, size_t tokens)
{
    static const char *words[] = {"the", "policy", "requires", "every", "backup", "to", "be",
                                  "encrypted", "and", "verified", "weekly", "by", "operations",
                                  "before", "archives", "move", "off", "site"};
    const size_t nw = sizeof words / sizeof words[0];
    size_t per = (size_t)((double)tokens * 0.75 + 0.5);
    char **texts = keep_calloc(n, sizeof *texts);
    for (size_t i = 0; texts && i < n; i++) {
        keep_buf b = {0};
        for (size_t j = 0; j < per; j++)
            keep_buf_printf(&b, "%s%s", j ? " " : "", words[(i * 31 + j * 7) % nw]);
        texts[i] = keep_buf_take(&b);
    }
    infer_embed_opts o = {.n_threads = threads, .pooling = INFER_POOL_DEFAULT, .passage_prefix = ""};
    infer_embedder *e = NULL;
    keep_err err = {0};
    if (!texts || infer_embedder_open(model, &o, &e, &err)) {
        fprintf(stderr, "bench/embed: %s\n", err.msg);
        return 1;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t nt = 0;
        infer_tokenize(infer_embedder_tokenizer(e), texts[i], strlen(texts[i]), INFER_TOK_ADD_SPECIAL,
                       NULL, 0, &nt, &err);
        total += nt;
    }
    float *out = keep_calloc(n, infer_embedder_dim(e) * sizeof(float));
    /* Warm-up: page the weights in and size the scratch. */
    int rc = infer_embed(e, (const char *const *)texts, NULL, n < 48 ? n : 48, 0, out, NULL, &err);
    double t0 = keep_now_ms();
    rc |= infer_embed(e, (const char *const *)texts, NULL, n, 0, out, NULL, &err);
    double t1 = keep_now_ms();
    if (rc) {
        fprintf(stderr, "bench/embed: %s\n", err.msg);
        return 1;
    }
    const char *base = strrchr(model, '/');
    printf("{\"engine\": \"keep\", \"model\": \"%s\", \"threads\": %d, \"inputs\": %zu, "
           "\"avg_tokens\": %.1f, \"embeddings_per_s\": %.2f, \"tokens_per_s\": %.1f}\n",
           base ? base + 1 : model, threads, n, (double)total / (double)n,
           (double)n / ((t1 - t0) / 1000), (double)total / ((t1 - t0) / 1000));
    for (size_t i = 0; i < n; i++)
        keep_free(texts[i]);
    keep_free(texts);
    keep_free(out);
    infer_embedder_free(e);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "write"))
        return write_models(argv[2]);
    if (argc >= 4 && argc <= 6 && !strcmp(argv[1], "run"))
        return run(argv[2], (int)strtol(argv[3], NULL, 10),
                   argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 256,
                   argc > 5 ? (size_t)strtoul(argv[5], NULL, 10) : 60);
    fprintf(stderr, "usage: bench/embed write DIR | run M.gguf THREADS [N] [TOKENS]\n");
    return 2;
}
