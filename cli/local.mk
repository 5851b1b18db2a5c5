# cli/local.mk — the keep binary's commands
libkeep_a_SOURCES += cli/cli.h cli/util.c cli/cmd_ingest.c cli/cmd_search.c cli/cmd_docs.c cli/cmd_eval.c cli/cmd_model.c cli/cmd_folder.c
libkeep_a_SOURCES += cli/cmd_watch.c cli/cmd_serve.c
libkeep_a_SOURCES += cli/cmd_access.c cli/cmd_reindex.c
libkeep_a_SOURCES += cli/cmd_ask.c cli/cmd_audit.c
