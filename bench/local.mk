# bench/local.mk — benchmarks, built by `make bench` (never run by `make check`)
EXTRA_PROGRAMS = bench/search_bench bench/embed
bench_search_bench_SOURCES = bench/search_bench.c
bench_search_bench_LDADD = $(TEST_LIBS)
nodist_EXTRA_bench_search_bench_SOURCES = build-aux/force-cxx-link.cpp
# Embeddings per second against llama.cpp: bench/embed.sh (see bench/README.md)
bench_embed_SOURCES = bench/embed.c
bench_embed_LDADD = $(TEST_LIBS)
nodist_EXTRA_bench_embed_SOURCES = build-aux/force-cxx-link.cpp
EXTRA_DIST += bench/embed.sh bench/http/run.sh bench/http/search.lua bench/http/soak.sh
# Time to first token of `keep ask` on a Qwen2.5-0.5B-shaped model:
# `make bench-answer` (bench/answer/run.sh; see bench/README.md)
EXTRA_DIST += bench/answer/run.sh
bench: bench/search_bench$(EXEEXT) bench/embed$(EXEEXT) keep$(EXEEXT) bench/infer/mkmodel$(EXEEXT)
bench-answer: keep$(EXEEXT) bench/infer/mkmodel$(EXEEXT)
	KEEP_BIN=$(abs_builddir)/keep$(EXEEXT) MKMODEL=$(abs_builddir)/bench/infer/mkmodel$(EXEEXT) \
	  $(srcdir)/bench/answer/run.sh
.PHONY: bench bench-answer
