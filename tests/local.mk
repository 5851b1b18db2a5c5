# tests/local.mk — end-to-end CLI tests
