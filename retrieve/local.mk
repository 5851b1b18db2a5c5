# retrieve/local.mk — sources and tests of retrieve/
