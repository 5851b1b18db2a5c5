# ingest/local.mk — parsers, chunker, drop-folder watcher
libkeep_a_SOURCES += ingest/doc.c ingest/doc.h
libkeep_a_SOURCES += ingest/xml_safe.c ingest/xml_safe.h
libkeep_a_SOURCES += ingest/parse_pdf.c ingest/parse_pdf.h
libkeep_a_SOURCES += ingest/parse_web.c ingest/parse_web.h
check_PROGRAMS += tests/test_pdfweb
tests_test_pdfweb_SOURCES = tests/test_pdfweb.c tests/tap.h
tests_test_pdfweb_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_pdfweb_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_pdfweb
FUZZ_TARGETS += tests/fuzz/fuzz_pdf tests/fuzz/fuzz_html tests/fuzz/fuzz_xml
