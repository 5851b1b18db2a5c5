# ingest/local.mk — parsers, chunker, drop-folder watcher
libkeep_a_SOURCES += ingest/doc.c ingest/doc.h
