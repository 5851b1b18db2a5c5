/* cmd_folder.c — `keep folder add|list|rm`: the drop folders `keep watch`
 * (with no PATH) and `keep serve` keep indexed. They live in the database,
 * shared with the web admin API; [folder] blocks of keep.conf are watched as
 * well and listed here, but are changed by editing the file. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "index/auth.h"

static const char usage[] =
    "usage: keep folder add PATH [--collection NAME]\n"
    "       keep folder list [--json]\n"
    "       keep folder rm PATH\n\n"
    "Drop folders are watched by 'keep watch' (with no PATH) and 'keep serve':\n"
    "new, changed, moved and deleted files are picked up, each folder feeding\n"
    "its collection. Folders can also be declared in keep.conf:\n\n"
    "    [folder]\n    path = /srv/drop/hr\n    collection = hr\n\n"
    "Removing a folder stops watching it; its documents stay indexed until\n"
    "removed with 'keep docs rm'.\n";

typedef struct {
    int json;
    cJSON *arr;
    size_t n;
    const char *find; /* look for this path instead of listing */
    int64_t found_id;
    int found_conf;
} list_ctx;

static void list_one(list_ctx *c, const char *path, const char *collection, const char *source)
{
    c->n++;
    if (c->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", path);
        cJSON_AddStringToObject(o, "collection", collection);
        cJSON_AddStringToObject(o, "source", source);
        cJSON_AddItemToArray(c->arr, o);
    } else {
        printf("%-12s %-9s %s\n", collection, source, path);
    }
}

static int on_db_folder(void *ud, int64_t id, const char *path, const char *collection)
{
    list_ctx *c = ud;
    if (c->find) {
        if (strcmp(c->find, path) == 0)
            c->found_id = id;
        return 0;
    }
    list_one(c, path, collection, "database");
    return 0;
}

static int on_conf_folder(void *ud, const char *path, const char *collection)
{
    list_ctx *c = ud;
    if (c->find) {
        if (strcmp(c->find, path) == 0)
            c->found_conf = 1;
        return 0;
    }
    list_one(c, path, collection, "keep.conf");
    return 0;
}

/* Looks path up in both places. */
static int find_folder(idx_store *store, const char *conf, const char *path, list_ctx *c,
                       keep_err *err)
{
    memset(c, 0, sizeof *c);
    c->find = path;
    int rc = idx_folders_list(store, on_db_folder, c, err);
    if (!rc)
        rc = keep_config_folders(conf, on_conf_folder, c, err);
    return rc;
}

static int run(cli_env *env, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(&cli_cmd_folder, "give a subcommand: add, list or rm");
    char conf[4200];
    snprintf(conf, sizeof conf, "%s/keep.conf", env->data_dir);
    keep_config cfg;
    idx_store *store = NULL;
    keep_err err;
    keep_err_clear(&err);
    const char *sub = argv[1];
    int rc;
    if (strcmp(sub, "list") == 0) {
        int json = argc == 3 && strcmp(argv[2], "--json") == 0;
        if (argc > 3 || (argc == 3 && !json))
            return cli_usage_error(&cli_cmd_folder, "list takes only --json");
        if ((rc = cli_open(env, 1, &cfg, &store)))
            return rc;
        list_ctx c = {json, json ? cJSON_CreateArray() : NULL, 0, NULL, 0, 0};
        rc = idx_folders_list(store, on_db_folder, &c, &err);
        if (!rc)
            rc = keep_config_folders(conf, on_conf_folder, &c, &err);
        idx_store_close(store);
        if (rc) {
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
        if (!*collection || strlen(collection) > 128)
            return cli_usage_error(&cli_cmd_folder, "a collection name is 1 to 128 characters");
        char real[PATH_MAX];
        struct stat st;
        if (!realpath(path, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
            return cli_error(CLI_FAIL, "%s is not a folder", path);
        if ((rc = cli_open(env, 1, &cfg, &store)))
            return rc;
        list_ctx c;
        rc = find_folder(store, conf, real, &c, &err);
        if (!rc && (c.found_id || c.found_conf))
            rc = keep_err_set(&err, KEEP_ERR_USAGE, "%s is already a drop folder", real);
        int64_t id;
        if (!rc)
            rc = idx_folder_add(store, real, collection, &id, &err);
        idx_store_close(store);
        if (rc)
            return cli_error(CLI_FAIL, "%s", err.msg);
        printf("drop folder %s feeds collection %s\n", real, collection);
        return CLI_OK;
    }
    if (strcmp(sub, "rm") == 0) {
        if (argc != 3)
            return cli_usage_error(&cli_cmd_folder, "rm takes one folder");
        char real[PATH_MAX];
        const char *which = realpath(argv[2], real) ? real : argv[2];
        if ((rc = cli_open(env, 0, &cfg, &store)))
            return rc;
        list_ctx c;
        rc = find_folder(store, conf, which, &c, &err);
        if (!rc && !c.found_id)
            rc = keep_err_set(&err, KEEP_ERR_NOTFOUND,
                              c.found_conf ? "%s is declared in keep.conf: remove its [folder] block there"
                                           : "%s is not a drop folder",
                              which);
        if (!rc)
            rc = idx_folder_remove(store, c.found_id, &err);
        idx_store_close(store);
        if (rc)
            return cli_error(CLI_FAIL, "%s", err.msg);
        printf("no longer watching %s\n", which);
        return CLI_OK;
    }
    return cli_usage_error(&cli_cmd_folder, "unknown subcommand '%s'", sub);
}

const cli_command cli_cmd_folder = {"folder", "manage the drop folders that are watched", usage, run};
