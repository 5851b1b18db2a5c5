# infer/local.mk — GGUF, tokenizers, kernels, models
libkeep_a_SOURCES += infer/ggml_types.c infer/ggml_types.h
libkeep_a_SOURCES += infer/quant.c infer/quant.h
libkeep_a_SOURCES += infer/cpu.c infer/cpu.h infer/kernels.c infer/kernels.h \
	infer/kernels_internal.h infer/kernels_x86.h infer/kernels_avx2.c infer/kernels_avxvnni.c \
	infer/kernels_avx512.c infer/qgemm.c infer/qgemm.h infer/qgemm_avx512.c \
	infer/qgemm_avx2.c infer/qgemm_x86_tpl.h

check_PROGRAMS += tests/test_quant
tests_test_quant_SOURCES = tests/test_quant.c tests/tap.h
tests_test_quant_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_quant_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_quant
check_PROGRAMS += tests/test_qgemm
tests_test_qgemm_SOURCES = tests/test_qgemm.c tests/tap.h
tests_test_qgemm_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_qgemm_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_qgemm
FUZZ_TARGETS += tests/fuzz/fuzz_quant

# Kernel throughput per type and level, built on request only (never by
# `make check`): make bench-kernels && tests/bench_kernels [-q] [type ...]
bench-kernels: libkeep.a
	$(AM_V_CC)$(CXX) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) -O2 -g \
	  -x c -std=c11 $(srcdir)/tests/bench_kernels.c -x none -o tests/bench_kernels \
	  libkeep.a $(KEEP_LIBS) $(LIBS)
.PHONY: bench-kernels
EXTRA_DIST += tests/bench_kernels.c

libkeep_a_SOURCES += infer/gguf.c infer/gguf.h infer/gguf_describe.c
check_PROGRAMS += tests/test_gguf
tests_test_gguf_SOURCES = tests/test_gguf.c tests/tap.h
tests_test_gguf_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_gguf_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_gguf
libkeep_a_SOURCES += infer/gguf_write.c infer/gguf_write.h
check_PROGRAMS += tests/test_gguf_write
tests_test_gguf_write_SOURCES = tests/test_gguf_write.c tests/tap.h
tests_test_gguf_write_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_gguf_write_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_gguf_write
FUZZ_TARGETS += tests/fuzz/fuzz_gguf
check_PROGRAMS += tests/test_dequant_fixtures
tests_test_dequant_fixtures_SOURCES = tests/test_dequant_fixtures.c tests/tap.h
tests_test_dequant_fixtures_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_dequant_fixtures_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_dequant_fixtures
# tokenizers
libkeep_a_SOURCES += infer/vocab.c infer/vocab.h infer/tokenizer.c infer/tokenizer.h \
	infer/tok_impl.h infer/tok_spm.c infer/tok_bpe.c infer/tok_wpm.c
check_PROGRAMS += tests/test_tokenizer
tests_test_tokenizer_SOURCES = tests/test_tokenizer.c tests/tap.h
tests_test_tokenizer_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_tokenizer_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_tokenizer
FUZZ_TARGETS += tests/fuzz/fuzz_tokenizer tests/fuzz/fuzz_bert
libkeep_a_SOURCES += infer/infer.h infer/model_file.c
# thread pool
libkeep_a_SOURCES += infer/pool.c infer/pool.h
check_PROGRAMS += tests/test_pool
tests_test_pool_SOURCES = tests/test_pool.c tests/tap.h
tests_test_pool_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_pool_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_pool
# embedding models
libkeep_a_SOURCES += infer/bert.c infer/bert_synth.c infer/bert_synth.h infer/emb_gemm.c infer/emb_gemm.h infer/emb_gemm_tpl.h
check_PROGRAMS += tests/test_bert
tests_test_bert_SOURCES = tests/test_bert.c tests/tap.h
tests_test_bert_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_bert_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_bert
EXTRA_DIST += tests/data/bert/synth-llamacpp.json
libkeep_a_SOURCES += infer/embed_index.c
# decoder: model loading, forward pass, generation
libkeep_a_SOURCES += infer/model.c infer/model.h infer/forward.c infer/generate.c infer/attn_kernels.c \
	infer/attn_kernels.h
check_PROGRAMS += tests/test_decoder
tests_test_decoder_SOURCES = tests/test_decoder.c tests/tap.h
tests_test_decoder_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_decoder_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_decoder
check_PROGRAMS += tests/test_generate
tests_test_generate_SOURCES = tests/test_generate.c tests/tap.h
tests_test_generate_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_generate_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_generate
# bench/infer: random-weight models of real shapes (built with the tests so it
# keeps compiling; bench/infer/run.sh uses it)
check_PROGRAMS += bench/infer/mkmodel
bench_infer_mkmodel_SOURCES = bench/infer/mkmodel.c
bench_infer_mkmodel_LDADD = $(TEST_LIBS)
nodist_EXTRA_bench_infer_mkmodel_SOURCES = build-aux/force-cxx-link.cpp
EXTRA_DIST += bench/infer/run.sh bench/infer/README.md
