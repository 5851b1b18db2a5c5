/* infer.h — the public face of infer/, Keep's own GGUF inference engine.
 * Other stages include only this header.
 *
 * Sections, each owned by one part of infer/:
 *   model files   GGUF reader (infer/gguf.h) and model descriptions
 *   tokenizers    text <-> ids for llama/SPM, gpt2/BPE and bert/WordPiece
 *   embeddings    BERT-family embedding models (see the embeddings section)
 *   generation    llama / qwen2 / qwen3 decoders (see the generation section)
 * The structs behind every handle are private to infer/. */
#ifndef KEEP_INFER_H
#define KEEP_INFER_H

#include "common.h"
#include "infer/gguf.h"
#include "infer/tokenizer.h"

/* ==== model files ========================================================== */

/* Describes a GGUF file (architecture, sizes, types, tokenizer, chat template)
 * as text or JSON into out. */
int infer_model_describe_file(const char *path, keep_buf *out, int json, keep_err *err);

/* Opens the tokenizer of a GGUF file. Caller frees with infer_tokenizer_free. */
int infer_tokenizer_open_file(const char *path, infer_tokenizer **out, keep_err *err);

/* ==== embeddings ============================================================ */

/* ==== generation ============================================================ */

#endif
