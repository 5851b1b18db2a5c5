/* fuzz_bert.c — libFuzzer target for BERT-family embedding models: the input
 * is a GGUF file opened as an embedder (errors are fine); when accepted, a
 * short text, an empty one and one over the context are embedded; vectors
 * must come out of unit (or zero) length, or the call fail. Seeds: tiny bert and
 * nomic-bert models with a ten-token vocabulary. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer/infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    infer_embed_opts o = {.n_threads = 1, .pooling = INFER_POOL_DEFAULT, .max_batch_tokens = 8};
    infer_embedder *e = NULL;
    keep_err err;
    if (infer_embedder_open_memory(data, size, &o, &e, &err) != KEEP_OK)
        return 0;
    char long_text[400];
    for (size_t i = 0; i + 6 < sizeof long_text; i += 6)
        memcpy(long_text + i, "hello ", 6);
    long_text[sizeof long_text - 4] = 0;
    const char *texts[3] = {"hello world", "", long_text};
    size_t dim = infer_embedder_dim(e);
    float *out = calloc(3, dim * sizeof(float));
    if (out && infer_embed(e, texts, NULL, 3, 1, out, NULL, &err) == KEEP_OK) {
        for (size_t i = 0; i < 3; i++) {
            double n2 = 0;
            for (size_t k = 0; k < dim; k++)
                n2 += (double)out[i * dim + k] * out[i * dim + k];
            if (!(n2 == 0 || fabs(n2 - 1) < 1e-3))
                abort();
        }
    }
    free(out);
    infer_embedder_free(e);
    return 0;
}
