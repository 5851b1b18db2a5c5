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
libkeep_a_SOURCES += ingest/encoding.c ingest/encoding.h
libkeep_a_SOURCES += ingest/parse_csv.c ingest/parse_csv.h
libkeep_a_SOURCES += ingest/parse_mail.c ingest/parse_mail.h
libkeep_a_SOURCES += ingest/detect.c ingest/detect.h
check_PROGRAMS += tests/test_mailtext
tests_test_mailtext_SOURCES = tests/test_mailtext.c tests/tap.h
tests_test_mailtext_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_mailtext_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_mailtext
EXTRA_DIST += tests/data/mailtext
FUZZ_TARGETS += tests/fuzz/fuzz_csv tests/fuzz/fuzz_email tests/fuzz/fuzz_encoding
check_PROGRAMS += tests/test_watch
tests_test_watch_SOURCES = tests/test_watch.c tests/tap.h
tests_test_watch_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_watch_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_watch
libkeep_a_SOURCES += ingest/parse_pdf.c ingest/parse_pdf.h
libkeep_a_SOURCES += ingest/ocr.c ingest/ocr.h
libkeep_a_SOURCES += ingest/parse_web.c ingest/parse_web.h
check_PROGRAMS += tests/test_pdfweb
tests_test_pdfweb_SOURCES = tests/test_pdfweb.c tests/tap.h
tests_test_pdfweb_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_pdfweb_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_pdfweb
FUZZ_TARGETS += tests/fuzz/fuzz_pdf tests/fuzz/fuzz_html tests/fuzz/fuzz_xml

# Office Open XML and OpenDocument: bounded zip access, shared helpers, parsers
libkeep_a_SOURCES += ingest/zip_safe.c ingest/zip_safe.h
libkeep_a_SOURCES += ingest/office_util.c ingest/office_util.h ingest/parse_office.h
libkeep_a_SOURCES += ingest/parse_docx.c ingest/parse_pptx.c ingest/parse_xlsx.c \
	ingest/parse_odf.c
check_PROGRAMS += tests/test_office
tests_test_office_SOURCES = tests/test_office.c tests/tap.h
tests_test_office_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_office_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_office
FUZZ_TARGETS += tests/fuzz/fuzz_office

# OCR (Tesseract, when configure finds it): images, scanned PDF pages
check_PROGRAMS += tests/test_ocr
tests_test_ocr_SOURCES = tests/test_ocr.c tests/tap.h
tests_test_ocr_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_ocr_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_ocr
EXTRA_DIST += tests/data/ocr
