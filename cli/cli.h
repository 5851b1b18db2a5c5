/* cli.h — what the command files of cli/ share: the command table entry, the
 * data directory, and output helpers that keep the CLI conventions (exit 0 /
 * 1 failure / 2 usage; one-line errors on stderr; --json is one document). */
#ifndef KEEP_CLI_H
#define KEEP_CLI_H

#include <cjson/cJSON.h>

#include "common.h"
#include "common/config.h"
#include "index/idx.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct cli_env {
    const char *data_dir; /* --data, $KEEP_DATA or ./keep-data */
    int data_explicit;    /* given by --data or $KEEP_DATA, not the default */
} cli_env;

typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage; /* full --help text */
    int (*run)(cli_env *env, int argc, char **argv);
} cli_command;

/* Prints "keep: <message>" on stderr; returns code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns 1 (and prints the command's help on stdout) when argv asks for help. */
int cli_wants_help(const cli_command *cmd, int argc, char **argv);
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Opens the data directory: creates it (and a default keep.conf) when
 * create is set; loads keep.conf; opens keep.db. */
int cli_open(cli_env *env, int create, keep_config *cfg, idx_store **store);

/* Prints a cJSON document on stdout followed by a newline and frees it. */
int cli_print_json(cJSON *doc);

/* Parses a positive integer option value; 0 on success. */
int cli_parse_int(const char *s, long min, long max, long *out);

/* What a search needs besides the store: the principal it runs as, the
 * embedder and the vector index (both NULL when no vectors are stored yet). */
typedef struct cli_retr {
    idx_principal *as;
    idx_embedder *embedder;
    idx_vectors *vectors;
} cli_retr;

/* Opens the embedder and the vector index (cache file in the data directory)
 * and the principal: the local admin, or as_user when non-NULL. */
int cli_retr_open(cli_env *env, idx_store *store, const char *as_user, cli_retr *r);
void cli_retr_close(cli_retr *r);
/* Learns/embeds what ingest added (progress on a terminal when tty). With
 * relearn, learns a new model and re-embeds every chunk. */
int cli_refresh_vectors(cli_env *env, idx_store *store, int tty, int relearn, size_t *embedded);

extern const cli_command cli_cmd_ingest, cli_cmd_search, cli_cmd_docs, cli_cmd_eval,
    cli_cmd_model, cli_cmd_folder, cli_cmd_reindex, cli_cmd_user, cli_cmd_collection;
extern const cli_command cli_cmd_watch, cli_cmd_serve, cli_cmd_ask, cli_cmd_audit;
/* keep user passwd|token|tokens|revoke-token (cmd_serve.c: they need web/). */
int cli_user_account(cli_env *env, int argc, char **argv);

#endif
