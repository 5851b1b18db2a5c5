/* bert_synth.h — writes random-weight BERT-family GGUF models of any shape
 * with a real vocabulary, for tests (malformed variants, other families) and
 * the embedding benchmark (a bge-small-shaped file). Internal to infer/. */
#ifndef KEEP_INFER_BERT_SYNTH_H
#define KEEP_INFER_BERT_SYNTH_H

#include <stdint.h>

#include "common.h"

typedef struct infer__bert_synth {
    const char *arch;        /* "bert" or "nomic-bert" */
    const char *name;        /* general.name */
    const char *vocab_path;  /* GGUF whose tokenizer.* keys are copied */
    uint32_t n_embd, n_layer, n_head, n_ff, n_ctx;
    uint32_t wtype;          /* type of the weight matrices (F32, F16, Q8_0, ...) */
    int pooling;             /* INFER_POOL_*; < 0 writes no pooling key */
    uint64_t seed;
    const char *skip_tensor; /* leave this tensor out (NULL: none) */
    const char *bad_tensor;  /* give this tensor one row too many (NULL: none) */
} infer__bert_synth;

/* Writes the model to path. */
int infer__bert_synth_write(const char *path, const infer__bert_synth *spec, keep_err *err);

#endif
