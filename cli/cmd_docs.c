/* cmd_docs.c — `keep docs list|rm`: what is indexed, what failed and why. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: keep docs list [--failed | --status STATUS] [--json]\n"
    "       keep docs rm ID\n\n"
    "list   every document with its status (indexed, failed with the reason,\n"
    "       skipped with the reason), format, chunk count and path\n"
    "rm     remove a document (and its attachments) from the index; the file\n"
    "       itself is never touched\n\n"
    "  --failed         only documents that failed\n"
    "  --status STATUS  only documents with this status\n"
    "  --json           one JSON document: {\"documents\": [...]}\n";

typedef struct {
    int json;
    cJSON *arr;
    size_t n;
} list_state;

static int on_doc(void *ud, const idx_doc_info *d)
{
    list_state *s = ud;
    s->n++;
    if (s->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)d->id);
        if (d->parent_id)
            cJSON_AddNumberToObject(o, "parent_id", (double)d->parent_id);
        else
            cJSON_AddNullToObject(o, "parent_id");
        cJSON_AddStringToObject(o, "path", d->path);
        cJSON_AddStringToObject(o, "collection", d->collection);
        if (d->format)
            cJSON_AddStringToObject(o, "format", d->format);
        else
            cJSON_AddNullToObject(o, "format");
        if (d->title)
            cJSON_AddStringToObject(o, "title", d->title);
        else
            cJSON_AddNullToObject(o, "title");
        cJSON_AddStringToObject(o, "status", d->status);
        if (d->error)
            cJSON_AddStringToObject(o, "error", d->error);
        else
            cJSON_AddNullToObject(o, "error");
        cJSON_AddNumberToObject(o, "size", (double)d->size);
        cJSON_AddNumberToObject(o, "chunks", (double)d->chunks);
        cJSON_AddItemToArray(s->arr, o);
    } else {
        printf("%6lld  %-8s %-9s %5lld  %-10s %s%s%s\n", (long long)d->id, d->status,
               d->format ? d->format : "-", (long long)d->chunks, d->collection, d->path,
               d->error ? "  -- " : "", d->error ? d->error : "");
    }
    return 0;
}

static int run(cli_env *env, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(&cli_cmd_docs, "give a subcommand: list or rm");
    const char *sub = argv[1];
    keep_config cfg;
    idx_store *store = NULL;
    keep_err err;
    keep_err_clear(&err);
    if (strcmp(sub, "list") == 0) {
        static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                             {"failed", no_argument, 0, 'f'},
                                             {"status", required_argument, 0, 's'},
                                             {0, 0, 0, 0}};
        int json = 0, c;
        const char *status = NULL;
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc - 1, argv + 1, "+", opts, NULL)) != -1) {
            if (c == 'j')
                json = 1;
            else if (c == 'f')
                status = "failed";
            else if (c == 's')
                status = optarg;
            else
                return cli_usage_error(&cli_cmd_docs, "unknown or incomplete option %s", argv[optind]);
        }
        if (optind < argc - 1)
            return cli_usage_error(&cli_cmd_docs, "unexpected argument %s", argv[optind + 1]);
        if (status && strcmp(status, "indexed") && strcmp(status, "failed") && strcmp(status, "skipped"))
            return cli_usage_error(&cli_cmd_docs, "status is indexed, failed or skipped");
        int rc = cli_open(env, 0, &cfg, &store);
        if (rc)
            return rc;
        list_state s = {json, json ? cJSON_CreateArray() : NULL, 0};
        if (!json)
            printf("%6s  %-8s %-9s %5s  %-10s %s\n", "ID", "STATUS", "FORMAT", "CHUNKS",
                   "COLLECTION", "PATH");
        rc = idx_docs_list(store, status, on_doc, &s, &err);
        idx_store_close(store);
        if (rc) {
            cJSON_Delete(s.arr);
            return cli_error(CLI_FAIL, "%s", err.msg);
        }
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "documents", s.arr);
            return cli_print_json(o);
        }
        return CLI_OK;
    }
    if (strcmp(sub, "rm") == 0) {
        long id;
        if (argc != 3 || cli_parse_int(argv[2], 1, 0x7fffffffL, &id))
            return cli_usage_error(&cli_cmd_docs, "rm takes one document id");
        int rc = cli_open(env, 0, &cfg, &store);
        if (rc)
            return rc;
        rc = idx_doc_remove(store, id, &err);
        idx_store_close(store);
        if (rc)
            return cli_error(CLI_FAIL, "%s", err.msg);
        printf("removed document %ld\n", id);
        return CLI_OK;
    }
    return cli_usage_error(&cli_cmd_docs, "unknown subcommand '%s'", sub);
}

const cli_command cli_cmd_docs = {"docs", "list or remove indexed documents", usage, run};
