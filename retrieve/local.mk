# retrieve/local.mk — query building, ranking, context assembly
libkeep_a_SOURCES += retrieve/retr.h retrieve/search.c
