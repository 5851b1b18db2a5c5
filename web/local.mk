# web/local.mk — sources and tests of web/
