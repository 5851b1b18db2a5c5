# tests/local.mk — end-to-end CLI tests (shell, TAP)
TESTS += tests/e2e_ingest.sh tests/e2e_cli.sh tests/e2e_model.sh tests/checksrc.sh tests/e2e_watch.sh tests/e2e_samples.sh tests/e2e_web.sh tests/e2e_web_net.sh tests/e2e_embed.sh tests/e2e_ask.sh tests/e2e_decoder.sh tests/e2e_web_ask.sh tests/e2e_browser.sh tests/e2e_audit.sh
EXTRA_DIST += tests/e2e_ingest.sh tests/tap.sh tests/e2e_cli.sh tests/e2e_model.sh tests/checksrc.sh tests/e2e_watch.sh tests/e2e_samples.sh tests/e2e_web.sh tests/e2e_web_net.sh tests/e2e_embed.sh samples tests/e2e_ask.sh tests/e2e_decoder.sh tests/e2e_web_ask.sh tests/e2e_audit.sh \
	tests/e2e_browser.sh tests/browser/e2e.mjs tests/browser/package.json tests/browser/package-lock.json
FUZZ_TARGETS += tests/fuzz/fuzz_markdown tests/fuzz/fuzz_query
EXTRA_DIST += tests/fuzz/run.sh tests/fuzz/lsan.supp
check_PROGRAMS += tests/test_bigpdf
tests_test_bigpdf_SOURCES = tests/test_bigpdf.c tests/tap.h
tests_test_bigpdf_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_bigpdf_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_bigpdf

# The browser test runs only where keep has no sanitizer (see e2e_browser.sh).
AM_TESTS_ENVIRONMENT += KEEP_SAN='$(KEEP_SAN)'; export KEEP_SAN;
