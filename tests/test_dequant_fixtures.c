/* test_dequant_fixtures.c — quant.h's dequantizers against llama.cpp's own
 * quantizations: each tiny-llama-TYPE.gguf holds the same random weights as
 * tiny-llama-f32.gguf, quantized by llama-quantize, so dequantizing a tensor
 * must give back the f32 tensor within the error its block type allows. A
 * wrong bit layout (a swapped nibble, a misplaced scale) shows up as a
 * relative error near or above 1, far past these bounds. */
#include "infer/gguf.h"

#include "infer/ggml_types.h"
#include "infer/quant.h"
#include "tap.h"

/* Relative RMS error bound by tensor type (not by file: the K-quant mixes use
 * several types), ||deq - ref|| / ||ref||. Each bound is ~1.3x the error
 * measured on these fixtures (in the comment), far below the ~1 of a layout
 * error, and tight enough to catch a scale rounded the wrong way. */
static double bound_for(uint32_t type)
{
    switch (type) {
    case INFER_T_F32:
        return 0.0; /* kept as is: exact */
    case INFER_T_F16:
        return 0.0003; /* measured 0.00021 */
    case INFER_T_BF16:
        return 0.0025; /* 0.00167 */
    case INFER_T_Q8_0:
        return 0.008; /* 0.0054 */
    case INFER_T_Q6_K:
        return 0.025; /* 0.0178 */
    case INFER_T_Q5_K:
        return 0.048; /* 0.0361 */
    case INFER_T_Q5_1:
        return 0.05; /* 0.0379 */
    case INFER_T_Q5_0:
        return 0.056; /* 0.0428 */
    case INFER_T_Q4_K:
        return 0.095; /* 0.0713 */
    case INFER_T_Q4_1:
        return 0.10; /* 0.0784 */
    case INFER_T_Q4_0:
        return 0.11; /* 0.0860 */
    case INFER_T_Q3_K:
        return 0.20; /* 0.1514 */
    case INFER_T_Q2_K:
        return 0.39; /* 0.2965 */
    default:
        return -1;
    }
}

static const char *const files[] = {"f16",  "bf16", "q8_0", "q4_0",    "q4_1",    "q5_0",    "q5_1",
                                    "q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k"};
static const char *const tensors[] = {"blk.0.attn_q.weight", "blk.0.ffn_down.weight", "token_embd.weight",
                                      "blk.1.attn_v.weight", "blk.1.ffn_gate.weight", "output_norm.weight"};

int main(void)
{
    infer_gguf *ref = NULL;
    keep_err err = {0, {0}};
    if (infer_gguf_open(tap_fixture("models/tiny-llama-f32.gguf"), &ref, &err) != KEEP_OK) {
        OK(0, err.msg);
        return tap_done();
    }
    float *row = keep_malloc(sizeof(float) * 4096);
    int seen[INFER_T_COUNT] = {0};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[64];
        snprintf(path, sizeof path, "models/tiny-llama-%s.gguf", files[f]);
        infer_gguf *g = NULL;
        if (infer_gguf_open(tap_fixture(path), &g, &err) != KEEP_OK) {
            OK(0, err.msg);
            continue;
        }
        for (size_t k = 0; k < sizeof tensors / sizeof tensors[0]; k++) {
            infer_gguf_tensor t, r;
            char what[200];
            if (infer_gguf_tensor_by_name(g, tensors[k], &t) || infer_gguf_tensor_by_name(ref, tensors[k], &r) ||
                r.type != INFER_T_F32 || t.ne[0] != r.ne[0] || t.n_elements != r.n_elements || t.ne[0] > 4096) {
                snprintf(what, sizeof what, "%s: %s present with the f32 shape", files[f], tensors[k]);
                OK(0, what);
                continue;
            }
            size_t cols = (size_t)t.ne[0], rows = (size_t)(t.n_elements / t.ne[0]);
            size_t rb = infer_type_row_bytes(t.type, cols);
            double num = 0, den = 0;
            int rc = KEEP_OK;
            for (size_t i = 0; i < rows && rc == KEEP_OK; i++) {
                rc = infer_dequantize_row(t.type, (const char *)t.data + i * rb, row, cols);
                const float *want = (const float *)r.data + i * cols;
                for (size_t c = 0; c < cols; c++) {
                    double d = (double)row[c] - want[c];
                    num += d * d;
                    den += (double)want[c] * want[c];
                }
            }
            double rel = den > 0 ? sqrt(num / den) : sqrt(num);
            double bound = bound_for(t.type);
            seen[t.type] = 1;
            snprintf(what, sizeof what, "%s %s (%s): relative RMS error %.5f <= %g", files[f], tensors[k],
                     infer_type_get(t.type)->name, rel, bound);
            OK(rc == KEEP_OK && bound >= 0 && rel <= bound, what);
        }
        infer_gguf_close(g);
    }
    int all = 1;
    const uint32_t want[] = {INFER_T_F16,  INFER_T_BF16, INFER_T_Q8_0, INFER_T_Q4_0, INFER_T_Q4_1, INFER_T_Q5_0,
                             INFER_T_Q5_1, INFER_T_Q2_K, INFER_T_Q3_K, INFER_T_Q4_K, INFER_T_Q5_K, INFER_T_Q6_K};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        all &= seen[want[i]];
    OK(all, "every block type of the fixtures was checked");
    keep_free(row);
    infer_gguf_close(ref);
    return tap_done();
}
