# bench/local.mk — benchmarks, built by `make bench` (never run by `make check`)
EXTRA_PROGRAMS = bench/search_bench
bench_search_bench_SOURCES = bench/search_bench.c
bench_search_bench_LDADD = $(TEST_LIBS)
nodist_EXTRA_bench_search_bench_SOURCES = build-aux/force-cxx-link.cpp
bench: bench/search_bench$(EXEEXT)
.PHONY: bench
