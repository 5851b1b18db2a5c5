# ingest/local.mk — parsers, chunker, drop-folder watcher
libkeep_a_SOURCES += ingest/doc.c ingest/doc.h
libkeep_a_SOURCES += ingest/xml_safe.c ingest/xml_safe.h
libkeep_a_SOURCES += ingest/parse_pdf.c ingest/parse_pdf.h
libkeep_a_SOURCES += ingest/parse_web.c ingest/parse_web.h
