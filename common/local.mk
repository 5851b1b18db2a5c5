# common/local.mk — shared utilities and their tests
libkeep_a_SOURCES += common/common.c common/common.h
check_PROGRAMS += tests/test_common
tests_test_common_SOURCES = tests/test_common.c tests/tap.h
tests_test_common_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_common_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_common
libkeep_a_SOURCES += common/config.c common/config.h
