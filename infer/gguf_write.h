/* gguf_write.h — writing GGUF files: synthetic models of any shape and
 * architecture for tests and benchmarks, and small fuzz seeds.
 *
 * Build a writer, set metadata and add tensors in the order they should appear,
 * then write it to a path (atomically: temporary file + rename) or to memory.
 * Setters record the first error in the writer ("sticky"), so a caller may
 * chain them and check only the final write; each also returns its status.
 * Setting a key twice replaces its value in place. Tensor data is copied,
 * except for generated tensors (add_tensor_gen), produced row by row while
 * writing. */
#ifndef KEEP_INFER_GGUF_WRITE_H
#define KEEP_INFER_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "gguf.h"

typedef struct infer_gguf_writer infer_gguf_writer;

/* Caller frees *out with infer_gguf_writer_free. Version 3, alignment 32. */
int infer_gguf_writer_new(infer_gguf_writer **out, keep_err *err);
void infer_gguf_writer_free(infer_gguf_writer *w);

/* 2 or 3 (the formats differ only in the version number once counts are
 * 64-bit, which both are). */
int infer_gguf_writer_set_version(infer_gguf_writer *w, uint32_t version);
/* Sets general.alignment (u32; a power of two up to 1 MiB). */
int infer_gguf_writer_set_alignment(infer_gguf_writer *w, uint32_t alignment);

/* ---- metadata ---------------------------------------------------------------- */
int infer_gguf_writer_set_u8(infer_gguf_writer *w, const char *key, uint8_t v);
int infer_gguf_writer_set_i8(infer_gguf_writer *w, const char *key, int8_t v);
int infer_gguf_writer_set_u16(infer_gguf_writer *w, const char *key, uint16_t v);
int infer_gguf_writer_set_i16(infer_gguf_writer *w, const char *key, int16_t v);
int infer_gguf_writer_set_u32(infer_gguf_writer *w, const char *key, uint32_t v);
int infer_gguf_writer_set_i32(infer_gguf_writer *w, const char *key, int32_t v);
int infer_gguf_writer_set_u64(infer_gguf_writer *w, const char *key, uint64_t v);
int infer_gguf_writer_set_i64(infer_gguf_writer *w, const char *key, int64_t v);
int infer_gguf_writer_set_f32(infer_gguf_writer *w, const char *key, float v);
int infer_gguf_writer_set_f64(infer_gguf_writer *w, const char *key, double v);
int infer_gguf_writer_set_bool(infer_gguf_writer *w, const char *key, int v);
int infer_gguf_writer_set_str(infer_gguf_writer *w, const char *key, const char *s);
/* A string of len bytes (may contain NUL). */
int infer_gguf_writer_set_strn(infer_gguf_writer *w, const char *key, const char *s, size_t len);
/* A numeric or bool array: count elements of elem_type (an infer_gguf_vtype of
 * fixed size) in host representation (little-endian hosts only, as Keep). */
int infer_gguf_writer_set_arr(infer_gguf_writer *w, const char *key, uint32_t elem_type, const void *elems,
                              size_t count);
/* A string array; lens may be NULL (strings are then NUL-terminated). */
int infer_gguf_writer_set_arr_str(infer_gguf_writer *w, const char *key, const char *const *strs,
                                  const size_t *lens, size_t count);

/* ---- tensors ----------------------------------------------------------------- */
/* Adds already-encoded data of any known type: nbytes must be exactly what
 * type and shape take. ne[0] is the row length; n_dims is 1..4. */
int infer_gguf_writer_add_tensor(infer_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                 const uint64_t *ne, const void *data, size_t nbytes);
/* Adds a tensor from n_elements floats, encoding it as type: F32, F16 or BF16
 * (round to nearest even), or any block type infer_can_quantize() accepts
 * (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K ... Q6_K), quantized row by row with
 * the reference quantizers of infer/quant.h (deterministic bytes). */
int infer_gguf_writer_add_tensor_f32(infer_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                     const uint64_t *ne, const float *data);

/* A row generator: fills row[0..cols) with the floats of row `row` of the
 * tensor named name (rows counted over ne[1..3]); returns KEEP_OK or an error
 * code that aborts the write. */
typedef int (*infer_gguf_row_fn)(void *ctx, const char *name, uint64_t row, float *out, size_t cols);
/* Adds a tensor whose rows gen produces while the file is written, encoded
 * like add_tensor_f32: memory stays one row whatever the tensor size, for
 * benchmark models of real shapes. ctx must stay valid until the write. */
int infer_gguf_writer_add_tensor_gen(infer_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                     const uint64_t *ne, infer_gguf_row_fn gen, void *ctx);

/* ---- output ------------------------------------------------------------------- */
/* Writes path.tmpXXXXXX then renames it over path; nothing is left behind on
 * failure. Reports the first sticky error, if any. */
int infer_gguf_writer_write(const infer_gguf_writer *w, const char *path, keep_err *err);
/* The whole file in memory; caller frees *out with keep_free. */
int infer_gguf_writer_to_memory(const infer_gguf_writer *w, char **out, size_t *len, keep_err *err);


#endif
