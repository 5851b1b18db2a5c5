# web/local.mk — sources and tests of web/: the HTTP server, its API and the
# embedded UI. web/assets.c is generated from web/assets/* at build time.
libkeep_a_SOURCES += web/web.h web/web_int.h web/server.c web/ask.c web/auth.c web/api.c web/admin.c web/audit.c
nodist_libkeep_a_SOURCES = web/assets.c
WEB_ASSETS = web/assets/index.html web/assets/app.js web/assets/admin.js web/assets/app.css web/assets/openapi.json
EXTRA_DIST += web/gen_assets.sh $(WEB_ASSETS)
CLEANFILES = web/assets.c

web/assets.c: $(WEB_ASSETS) web/gen_assets.sh
	$(AM_V_GEN)$(MKDIR_P) web && \
	  $(SHELL) $(srcdir)/web/gen_assets.sh $(srcdir) $(WEB_ASSETS) > $@.tmp && mv $@.tmp $@

check_PROGRAMS += tests/test_web
tests_test_web_SOURCES = tests/test_web.c tests/tap.h
tests_test_web_LDADD = $(TEST_LIBS)
nodist_EXTRA_tests_test_web_SOURCES = build-aux/force-cxx-link.cpp
TESTS += tests/test_web
