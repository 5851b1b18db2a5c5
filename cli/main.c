/* main.c — the `keep` binary: global options, then one command from the
 * table. Every command follows the conventions in cli.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"

static const cli_command *const commands[] = {
    &cli_cmd_ingest,
    &cli_cmd_search,
    &cli_cmd_ask,
    &cli_cmd_docs,
    &cli_cmd_eval,
    &cli_cmd_model,
    &cli_cmd_folder,
    &cli_cmd_reindex,
    &cli_cmd_user,
    &cli_cmd_collection,
    &cli_cmd_watch,
    &cli_cmd_serve,
    &cli_cmd_audit,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_help(void)
{
    printf("keep %s: private question answering over your documents\n\n"
           "usage: keep [--data DIR] COMMAND [ARGS]\n\n"
           "commands:\n",
           PACKAGE_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf("  %-10s %s\n", commands[i]->name, commands[i]->summary);
    printf("  %-10s %s\n", "help", "show help for keep or for one command");
    printf("\nglobal options:\n"
           "  --data DIR   data directory (default: $KEEP_DATA, else ./keep-data)\n"
           "  --version    print the version\n"
           "  --help       this help\n\n"
           "'keep COMMAND --help' describes a command.\n");
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    cli_env env = {0};
    env.data_dir = getenv("KEEP_DATA");
    env.data_explicit = env.data_dir && *env.data_dir;
    if (!env.data_explicit)
        env.data_dir = "./keep-data";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("keep %s\n", PACKAGE_VERSION);
            return CLI_OK;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help();
            return CLI_OK;
        }
        if (strcmp(argv[i], "--data") == 0) {
            if (i + 1 >= argc)
                return cli_error(CLI_USAGE, "--data needs a directory");
            env.data_dir = argv[++i];
            env.data_explicit = 1;
        } else if (strncmp(argv[i], "--data=", 7) == 0) {
            env.data_dir = argv[i] + 7;
            env.data_explicit = 1;
        } else {
            return cli_error(CLI_USAGE, "unknown option %s (see 'keep help')", argv[i]);
        }
    }
    if (i >= argc) {
        print_help();
        return CLI_USAGE;
    }
    const char *name = argv[i];
    if (strcmp(name, "help") == 0) {
        if (i + 1 < argc) {
            const cli_command *c = find_command(argv[i + 1]);
            if (!c)
                return cli_error(CLI_USAGE, "unknown command '%s' (see 'keep help')", argv[i + 1]);
            fputs(c->usage, stdout);
        } else {
            print_help();
        }
        return CLI_OK;
    }
    const cli_command *cmd = find_command(name);
    if (!cmd)
        return cli_error(CLI_USAGE, "unknown command '%s' (see 'keep help')", name);
    if (cli_wants_help(cmd, argc - i, argv + i))
        return CLI_OK;
    return cmd->run(&env, argc - i, argv + i);
}
