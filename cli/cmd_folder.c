/* cmd_folder.c — `keep folder add|list|rm`: the drop folders `keep watch`
 * (and `keep serve`) keep indexed, stored as [folder] blocks in keep.conf so
 * an operator can also edit them by hand. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char usage[] =
    "usage: keep folder add PATH [--collection NAME]\n"
    "       keep folder list [--json]\n"
    "       keep folder rm PATH\n\n"
    "Drop folders are watched by 'keep watch' (with no PATH) and 'keep serve':\n"
    "new, changed, moved and deleted files are picked up, each folder feeding\n"
    "its collection. They are kept in keep.conf as [folder] blocks:\n\n"
    "    [folder]\n    path = /srv/drop/hr\n    collection = hr\n\n"
    "Removing a folder stops watching it; its documents stay indexed until\n"
    "removed with 'keep docs rm'.\n";

typedef struct {
    int json;
    cJSON *arr;
    size_t n;
    const char *find;
    int found;
} list_ctx;

static int on_folder(void *ud, const char *folder, const char *collection)
{
    list_ctx *c = ud;
    c->n++;
    if (c->find && strcmp(c->find, folder) == 0)
        c->found = 1;
    if (c->find)
        return 0;
    if (c->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", folder);
        cJSON_AddStringToObject(o, "collection", collection);
        cJSON_AddItemToArray(c->arr, o);
    } else {
        printf("%-12s %s\n", collection, folder);
    }
    return 0;
}

static int run(cli_env *env, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(&cli_cmd_folder, "give a subcommand: add, list or rm");
    char conf[4200];
    snprintf(conf, sizeof conf, "%s/keep.conf", env->data_dir);
    keep_err err;
    keep_err_clear(&err);
    const char *sub = argv[1];
    if (strcmp(sub, "list") == 0) {
        int json = argc == 3 && strcmp(argv[2], "--json") == 0;
        if (argc > 3 || (argc == 3 && !json))
            return cli_usage_error(&cli_cmd_folder, "list takes only --json");
        list_ctx c = {json, json ? cJSON_CreateArray() : NULL, 0, NULL, 0};
        if (keep_config_folders(conf, on_folder, &c, &err)) {
            cJSON_Delete(c.arr);
            return cli_error(CLI_FAIL, "%s", err.msg);
        }
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "folders", c.arr);
            return cli_print_json(o);
        }
        if (!c.n)
            printf("no drop folders (add one with 'keep folder add PATH --collection NAME')\n");
        return CLI_OK;
    }
    if (strcmp(sub, "add") == 0) {
        const char *path = NULL, *collection = "default";
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--collection") == 0 && i + 1 < argc)
                collection = argv[++i];
            else if (strncmp(argv[i], "--collection=", 13) == 0)
                collection = argv[i] + 13;
            else if (argv[i][0] == '-' || path)
                return cli_usage_error(&cli_cmd_folder, "add takes one PATH and --collection NAME");
            else
                path = argv[i];
        }
        if (!path)
            return cli_usage_error(&cli_cmd_folder, "add needs a folder");
        if (!*collection || strlen(collection) > 128 || strpbrk(collection, "\n\r[]="))
            return cli_usage_error(&cli_cmd_folder, "a collection name is 1 to 128 plain characters");
        char real[PATH_MAX];
        struct stat st;
        if (!realpath(path, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
            return cli_error(CLI_FAIL, "%s is not a folder", path);
        if (strpbrk(real, "\n\r"))
            return cli_error(CLI_FAIL, "a folder path with a line break cannot be configured");
        keep_config cfg;
        idx_store *store = NULL;
        int rc = cli_open(env, 1, &cfg, &store); /* creates the data directory */
        idx_store_close(store);
        if (rc)
            return rc;
        list_ctx c = {0, NULL, 0, real, 0};
        if (keep_config_folders(conf, on_folder, &c, &err))
            return cli_error(CLI_FAIL, "%s", err.msg);
        if (c.found)
            return cli_error(CLI_FAIL, "%s is already a drop folder", real);
        if (keep_config_add_folder(conf, real, collection, &err))
            return cli_error(CLI_FAIL, "%s", err.msg);
        printf("drop folder %s feeds collection %s\n", real, collection);
        return CLI_OK;
    }
    if (strcmp(sub, "rm") == 0) {
        if (argc != 3)
            return cli_usage_error(&cli_cmd_folder, "rm takes one folder");
        char real[PATH_MAX];
        const char *which = realpath(argv[2], real) ? real : argv[2];
        int rc = keep_config_remove_folder(conf, which, &err);
        if (rc == KEEP_ERR_NOTFOUND && which != argv[2])
            rc = keep_config_remove_folder(conf, argv[2], &err);
        if (rc)
            return cli_error(CLI_FAIL, "%s", err.msg);
        printf("no longer watching %s\n", which);
        return CLI_OK;
    }
    return cli_usage_error(&cli_cmd_folder, "unknown subcommand '%s'", sub);
}

const cli_command cli_cmd_folder = {"folder", "manage the drop folders that are watched", usage, run};
