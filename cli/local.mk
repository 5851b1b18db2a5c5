# cli/local.mk — sources and tests of cli/
