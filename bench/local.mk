# bench/local.mk — benchmark programs (built by `make check`, run by hand:
# see bench/README.md)
check_PROGRAMS += bench/embed
bench_embed_SOURCES = bench/embed.c
bench_embed_LDADD = $(TEST_LIBS)
nodist_EXTRA_bench_embed_SOURCES = build-aux/force-cxx-link.cpp
EXTRA_DIST += bench/embed.sh bench/README.md
