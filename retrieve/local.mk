# retrieve/local.mk — query building, ranking, context assembly
libkeep_a_SOURCES += retrieve/retr.h retrieve/search.c retrieve/context.c
libkeep_a_SOURCES += retrieve/eval.c retrieve/eval.h
check_PROGRAMS += tests/test_retrieve
tests_test_retrieve_SOURCES = tests/test_retrieve.c tests/tap.h
tests_test_retrieve_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_retrieve_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_retrieve
check_PROGRAMS += tests/test_retrieval
tests_test_retrieval_SOURCES = tests/test_retrieval.c tests/tap.h
tests_test_retrieval_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_retrieval_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_retrieval
# the answering layer: sentences and words, extractive answers, citation
# checks, prompts, the pipeline and its JSON, the GGUF generator
libkeep_a_SOURCES += retrieve/ask_int.h retrieve/text.c retrieve/extract.c retrieve/cite.c \
	retrieve/prompt.c retrieve/answer.c retrieve/cancel.c retrieve/gen_infer.c \
	retrieve/followup.c
check_PROGRAMS += tests/test_ask
tests_test_ask_SOURCES = tests/test_ask.c tests/tap.h
tests_test_ask_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_ask_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_ask
EXTRA_DIST += tests/data/ask
FUZZ_TARGETS += tests/fuzz/fuzz_sentences
