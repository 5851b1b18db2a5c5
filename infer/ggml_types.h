/* ggml_types.h — the tensor element types a GGUF file can name, with their
 * block geometry. The numbers are the GGUF on-disk type ids and never change.
 * Both the GGUF reader (to validate sizes) and the kernels (to pick a
 * dequantizer) use this one table. Internal to infer/. */
#ifndef KEEP_INFER_GGML_TYPES_H
#define KEEP_INFER_GGML_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    INFER_T_F32 = 0,
    INFER_T_F16 = 1,
    INFER_T_Q4_0 = 2,
    INFER_T_Q4_1 = 3,
    INFER_T_Q5_0 = 6,
    INFER_T_Q5_1 = 7,
    INFER_T_Q8_0 = 8,
    INFER_T_Q8_1 = 9,
    INFER_T_Q2_K = 10,
    INFER_T_Q3_K = 11,
    INFER_T_Q4_K = 12,
    INFER_T_Q5_K = 13,
    INFER_T_Q6_K = 14,
    INFER_T_Q8_K = 15,
    INFER_T_I8 = 24,
    INFER_T_I16 = 25,
    INFER_T_I32 = 26,
    INFER_T_I64 = 27,
    INFER_T_F64 = 28,
    INFER_T_BF16 = 30,
    INFER_T_COUNT = 40 /* bound for tables indexed by type id */
} infer_type;

typedef struct infer_type_info {
    const char *name;   /* "q4_K", as llama.cpp prints it; NULL when unknown */
    uint32_t block;     /* elements per block */
    uint32_t bytes;     /* bytes per block */
} infer_type_info;

/* NULL for an id Keep does not know (the GGUF reader rejects such tensors). */
const infer_type_info *infer_type_get(uint32_t type);

/* Bytes of a row of n elements; 0 when n is not a multiple of the block size
 * or the type is unknown. */
size_t infer_type_row_bytes(uint32_t type, uint64_t n);

#endif
