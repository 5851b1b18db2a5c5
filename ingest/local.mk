# ingest/local.mk — parsers, chunker, drop-folder watcher
libkeep_a_SOURCES += ingest/doc.c ingest/doc.h
libkeep_a_SOURCES += ingest/xml_safe.c ingest/xml_safe.h
libkeep_a_SOURCES += ingest/watch.c ingest/watch.h
libkeep_a_SOURCES += ingest/ingest.c ingest/ingest.h ingest/chunker.c ingest/chunker.h \
	ingest/parse_text.c ingest/parse_text.h
check_PROGRAMS += tests/test_ingest
tests_test_ingest_SOURCES = tests/test_ingest.c tests/tap.h
tests_test_ingest_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_ingest_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_ingest
check_PROGRAMS += tests/test_watch
tests_test_watch_SOURCES = tests/test_watch.c tests/tap.h
tests_test_watch_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_watch_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_watch
