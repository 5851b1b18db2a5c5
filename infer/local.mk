# infer/local.mk — GGUF, tokenizers, kernels, models
libkeep_a_SOURCES += infer/ggml_types.c infer/ggml_types.h
libkeep_a_SOURCES += infer/quant.c infer/quant.h
