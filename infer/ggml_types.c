/* ggml_types.c — block geometry of each GGUF tensor type (see ggml_types.h). */
#include "ggml_types.h"

static const infer_type_info type_table[INFER_T_COUNT] = {
    [INFER_T_F32] = {"f32", 1, 4},
    [INFER_T_F16] = {"f16", 1, 2},
    [INFER_T_Q4_0] = {"q4_0", 32, 18},
    [INFER_T_Q4_1] = {"q4_1", 32, 20},
    [INFER_T_Q5_0] = {"q5_0", 32, 22},
    [INFER_T_Q5_1] = {"q5_1", 32, 24},
    [INFER_T_Q8_0] = {"q8_0", 32, 34},
    [INFER_T_Q8_1] = {"q8_1", 32, 36},
    [INFER_T_Q2_K] = {"q2_K", 256, 84},
    [INFER_T_Q3_K] = {"q3_K", 256, 110},
    [INFER_T_Q4_K] = {"q4_K", 256, 144},
    [INFER_T_Q5_K] = {"q5_K", 256, 176},
    [INFER_T_Q6_K] = {"q6_K", 256, 210},
    [INFER_T_Q8_K] = {"q8_K", 256, 292},
    [INFER_T_I8] = {"i8", 1, 1},
    [INFER_T_I16] = {"i16", 1, 2},
    [INFER_T_I32] = {"i32", 1, 4},
    [INFER_T_I64] = {"i64", 1, 8},
    [INFER_T_F64] = {"f64", 1, 8},
    [INFER_T_BF16] = {"bf16", 1, 2},
};

const infer_type_info *infer_type_get(uint32_t type)
{
    if (type >= INFER_T_COUNT || !type_table[type].name)
        return 0;
    return &type_table[type];
}

size_t infer_type_row_bytes(uint32_t type, uint64_t n)
{
    const infer_type_info *t = infer_type_get(type);
    if (!t || n % t->block)
        return 0;
    uint64_t blocks = n / t->block;
    if (blocks > SIZE_MAX / t->bytes)
        return 0;
    return (size_t)(blocks * t->bytes);
}
