# index/local.mk — SQLite store, FTS5, vector index
libkeep_a_SOURCES += index/idx.h index/store_int.h index/store.c index/sync.c
libkeep_a_SOURCES += index/vecindex.c index/vecindex.h index/faiss_c_ext.h
libkeep_a_SOURCES += index/embed_builtin.c index/vectors.c index/access.c
libkeep_a_SOURCES += index/termstats.c index/permcache.c
libkeep_a_SOURCES += index/audit.c
libkeep_a_SOURCES += index/auth.h index/auth.c index/dropsync.h index/dropsync.c
# Debian 12 has FAISS's C API headers but no libfaiss_c: configure then sets
# FAISS_SHIM and we supply the C API functions we call ourselves.
if FAISS_SHIM
libkeep_a_SOURCES += index/faiss_c_shim.cpp
endif

check_PROGRAMS += tests/test_store tests/test_vecindex
tests_test_store_SOURCES = tests/test_store.c tests/tap.h
tests_test_store_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_store_SOURCES = build-aux/force-cxx-link.cpp
tests_test_vecindex_SOURCES = tests/test_vecindex.c tests/tap.h
tests_test_vecindex_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_vecindex_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_store tests/test_vecindex

check_PROGRAMS += tests/test_audit
tests_test_audit_SOURCES = tests/test_audit.c tests/tap.h
tests_test_audit_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_audit_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_audit
