# infer/local.mk — GGUF, tokenizers, kernels, models
libkeep_a_SOURCES += infer/ggml_types.c infer/ggml_types.h
libkeep_a_SOURCES += infer/quant.c infer/quant.h
libkeep_a_SOURCES += infer/cpu.c infer/cpu.h infer/kernels.c infer/kernels.h \
	infer/kernels_internal.h infer/kernels_x86.h infer/kernels_avx2.c infer/kernels_avxvnni.c \
	infer/kernels_avx512.c

check_PROGRAMS += tests/test_quant
tests_test_quant_SOURCES = tests/test_quant.c tests/tap.h
tests_test_quant_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_quant_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_quant
FUZZ_TARGETS += tests/fuzz/fuzz_quant
