# index/local.mk — SQLite store, FTS5, vector index
libkeep_a_SOURCES += index/idx.h index/store_int.h index/store.c index/sync.c
check_PROGRAMS += tests/test_store
tests_test_store_SOURCES = tests/test_store.c tests/tap.h
tests_test_store_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_store_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_store
