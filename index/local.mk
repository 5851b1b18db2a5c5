# index/local.mk — sources and tests of index/
