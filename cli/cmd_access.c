/* cmd_access.c — `keep user ...` and `keep collection ...`: the users, their
 * groups, and which groups may read which collection. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char user_usage[] =
    "usage: keep user add NAME [--admin] [GROUP...]\n"
    "       keep user join NAME GROUP...\n"
    "       keep user leave NAME GROUP...\n"
    "       keep user remove NAME\n"
    "       keep user list\n\n"
    "Users read the collections granted to their groups (see 'keep collection').\n"
    "Every user is also in the group 'everyone'. Admins read everything.\n";

static const char coll_usage[] =
    "usage: keep collection grant NAME GROUP...\n"
    "       keep collection revoke NAME GROUP...\n"
    "       keep collection list\n\n"
    "A collection is readable by the groups granted to it ('everyone' for all\n"
    "users); a collection with no grant is readable by admins only.\n";

static int print_user(void *ud, const char *user, int admin, const char *groups)
{
    (void)ud;
    printf("%s%s\t%s\n", user, admin ? " (admin)" : "", groups ? groups : "");
    return 0;
}

static int print_grant(void *ud, const char *collection, const char *group)
{
    (void)ud;
    printf("%s\t%s\n", collection, group);
    return 0;
}

static int run_user(cli_env *env, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(&cli_cmd_user, "give a subcommand");
    const char *sub = argv[1];
    keep_config cfg;
    idx_store *store = NULL;
    int rc = cli_open(env, strcmp(sub, "list") != 0, &cfg, &store);
    if (rc)
        return rc;
    keep_err err;
    keep_err_clear(&err);
    int st = KEEP_OK;
    if (strcmp(sub, "list") == 0 && argc == 2) {
        st = idx_users_list(store, print_user, NULL, &err);
    } else if (strcmp(sub, "add") == 0 && argc >= 3) {
        int admin = 0;
        for (int i = 3; i < argc; i++)
            admin |= strcmp(argv[i], "--admin") == 0;
        st = idx_user_add(store, argv[2], admin, &err);
        for (int i = 3; i < argc && !st; i++)
            if (strcmp(argv[i], "--admin") != 0)
                st = idx_user_join(store, argv[2], argv[i], &err);
    } else if ((strcmp(sub, "join") == 0 || strcmp(sub, "leave") == 0) && argc >= 4) {
        for (int i = 3; i < argc && !st; i++)
            st = sub[0] == 'j' ? idx_user_join(store, argv[2], argv[i], &err)
                               : idx_user_leave(store, argv[2], argv[i], &err);
    } else if (strcmp(sub, "remove") == 0 && argc == 3) {
        st = idx_user_remove(store, argv[2], &err);
    } else {
        idx_store_close(store);
        return cli_usage_error(&cli_cmd_user, "unknown subcommand or wrong arguments");
    }
    idx_store_close(store);
    if (st)
        return cli_error(st == KEEP_ERR_USAGE ? CLI_USAGE : CLI_FAIL, "%s", err.msg);
    return CLI_OK;
}

static int run_collection(cli_env *env, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(&cli_cmd_collection, "give a subcommand");
    const char *sub = argv[1];
    keep_config cfg;
    idx_store *store = NULL;
    int rc = cli_open(env, strcmp(sub, "list") != 0, &cfg, &store);
    if (rc)
        return rc;
    keep_err err;
    keep_err_clear(&err);
    int st = KEEP_OK;
    if (strcmp(sub, "list") == 0 && argc == 2) {
        st = idx_grants_list(store, print_grant, NULL, &err);
    } else if ((strcmp(sub, "grant") == 0 || strcmp(sub, "revoke") == 0) && argc >= 4) {
        for (int i = 3; i < argc && !st; i++)
            st = sub[0] == 'g' ? idx_collection_grant(store, argv[2], argv[i], &err)
                               : idx_collection_revoke(store, argv[2], argv[i], &err);
    } else {
        idx_store_close(store);
        return cli_usage_error(&cli_cmd_collection, "unknown subcommand or wrong arguments");
    }
    idx_store_close(store);
    if (st)
        return cli_error(st == KEEP_ERR_USAGE ? CLI_USAGE : CLI_FAIL, "%s", err.msg);
    return CLI_OK;
}

const cli_command cli_cmd_user = {"user", "manage users and their groups", user_usage, run_user};
const cli_command cli_cmd_collection = {"collection", "grant groups read access to collections",
                                        coll_usage, run_collection};
