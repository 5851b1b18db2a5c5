# tests/local.mk — end-to-end CLI tests (shell, TAP)
TESTS += tests/e2e_cli.sh
EXTRA_DIST += tests/tap.sh tests/e2e_cli.sh
