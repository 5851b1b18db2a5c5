# tests/local.mk — end-to-end CLI tests (shell, TAP)
TESTS += tests/e2e_ingest.sh tests/e2e_cli.sh tests/e2e_model.sh tests/checksrc.sh tests/e2e_watch.sh tests/e2e_decoder.sh
EXTRA_DIST += tests/e2e_ingest.sh tests/tap.sh tests/e2e_cli.sh tests/e2e_model.sh tests/checksrc.sh tests/e2e_watch.sh tests/e2e_decoder.sh
FUZZ_TARGETS += tests/fuzz/fuzz_markdown tests/fuzz/fuzz_query
EXTRA_DIST += tests/fuzz/run.sh
