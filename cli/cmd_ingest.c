/* cmd_ingest.c — `keep ingest PATH...`: sync files and folders into the store,
 * with a progress line on a terminal and a summary (or one JSON document). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: keep ingest [--collection NAME] [--json] PATH...\n\n"
    "Reads files and folders (recursively) into the data directory. Unchanged\n"
    "files are not read again, changed files are replaced, and files gone from\n"
    "an ingested folder are removed. Symbolic links are not followed.\n\n"
    "  --collection NAME  collection the documents belong to (default: default)\n"
    "  --json             print one JSON document with the outcome\n"
    "  --no-embed         store text and full-text index only; vectors are made by\n"
    "                     the next ingest without this flag (or 'keep reindex')\n\n"
    "Exit status: 0 when every file was indexed or skipped, 1 when some failed.\n";

typedef struct {
    int tty, json;
    double t0;
    cJSON *files;
} progress_state;

static int on_progress(void *ud, const char *path, const char *status, const char *reason,
                       const idx_ingest_stats *s)
{
    progress_state *p = ud;
    int notable = strcmp(status, "failed") == 0 || strcmp(status, "skipped") == 0;
    if (p->json && strcmp(status, "unchanged") != 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", path);
        cJSON_AddStringToObject(o, "status", status);
        if (reason)
            cJSON_AddStringToObject(o, "reason", reason);
        cJSON_AddItemToArray(p->files, o);
    }
    if (p->tty) {
        double secs = (keep_now_ms() - p->t0) / 1000.0;
        double mb = (double)s->done_bytes / 1e6;
        double rate = secs > 0 ? mb / secs : 0.0;
        double left = (double)(s->total_bytes > s->done_bytes ? s->total_bytes - s->done_bytes : 0) / 1e6;
        int width = 24, filled = s->files_total ? (int)(width * s->seen / s->files_total) : 0;
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r\033[K[%s] %zu/%zu files  %zu new  %zu updated  %zu failed  %.1f MB/s", bar,
                s->seen, s->files_total, s->added, s->updated, s->failed, rate);
        if (rate > 0 && left > 0)
            fprintf(stderr, "  ETA %.0f s", left / rate);
    }
    if (notable && !p->json) {
        if (p->tty)
            fputs("\r\033[K", stderr);
        fprintf(stderr, "keep: %s: %s%s%s\n", path, status, reason ? ": " : "", reason ? reason : "");
    }
    return 0;
}

static int run(cli_env *env, int argc, char **argv)
{
    static const struct option opts[] = {{"collection", required_argument, 0, 'c'},
                                         {"json", no_argument, 0, 'j'},
                                         {"no-embed", no_argument, 0, 'E'},
                                         {0, 0, 0, 0}};
    const char *collection = "default";
    int json = 0, no_embed = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+c:", opts, NULL)) != -1) {
        if (c == 'c')
            collection = optarg;
        else if (c == 'j')
            json = 1;
        else if (c == 'E')
            no_embed = 1;
        else
            return cli_usage_error(&cli_cmd_ingest, "unknown or incomplete option %s", argv[optind - 1]);
    }
    if (optind >= argc)
        return cli_usage_error(&cli_cmd_ingest, "nothing to ingest: give files or folders");
    if (!*collection || strlen(collection) > 128)
        return cli_usage_error(&cli_cmd_ingest, "a collection name is 1 to 128 characters");

    keep_config cfg;
    idx_store *store = NULL;
    int rc = cli_open(env, 1, &cfg, &store);
    if (rc)
        return rc;
    progress_state p = {isatty(STDERR_FILENO) && !json, json, keep_now_ms(), NULL};
    if (json)
        p.files = cJSON_CreateArray();
    idx_ingest_opts opt = {0};
    opt.collection = collection;
    ingest_options_default(&opt.ingest);
    opt.ingest.max_file_bytes = cfg.max_file_mb << 20;
    opt.ingest.max_text_bytes = cfg.max_text_mb << 20;
    opt.ingest.chunk_chars = cfg.chunk_chars;
    opt.ingest.chunk_overlap = cfg.chunk_overlap;
    opt.ingest.ocr = cfg.ocr;
    snprintf(opt.ingest.ocr_languages, sizeof opt.ingest.ocr_languages, "%s", cfg.ocr_languages);
    opt.threads = cfg.ingest_threads;
    opt.progress = on_progress;
    opt.progress_ud = &p;
    idx_ingest_stats st;
    keep_err err;
    keep_err_clear(&err);
    rc = idx_ingest_paths(store, (const char *const *)argv + optind, (size_t)(argc - optind), &opt,
                          &st, &err);
    if (p.tty)
        fputs("\r\033[K", stderr);
    if (rc) {
        idx_store_close(store);
        cJSON_Delete(p.files);
        return cli_error(CLI_FAIL, "%s", err.msg);
    }
    /* embeddings of the new chunks (the space is re-learned when the corpus doubled) */
    size_t embedded = 0;
    if (!no_embed)
        rc = cli_refresh_vectors(env, store, p.tty, 0, &embedded);
    idx_store_close(store);
    if (rc) {
        cJSON_Delete(p.files);
        return rc;
    }
    double secs = (keep_now_ms() - p.t0) / 1000.0;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "collection", collection);
        cJSON_AddNumberToObject(o, "seen", (double)st.seen);
        cJSON_AddNumberToObject(o, "added", (double)st.added);
        cJSON_AddNumberToObject(o, "updated", (double)st.updated);
        cJSON_AddNumberToObject(o, "unchanged", (double)st.unchanged);
        cJSON_AddNumberToObject(o, "removed", (double)st.removed);
        cJSON_AddNumberToObject(o, "failed", (double)st.failed);
        cJSON_AddNumberToObject(o, "skipped", (double)st.skipped);
        cJSON_AddNumberToObject(o, "embedded", (double)embedded);
        cJSON_AddNumberToObject(o, "seconds", secs);
        cJSON_AddItemToObject(o, "files", p.files);
        cli_print_json(o);
    } else {
        printf("%zu files: %zu added, %zu updated, %zu unchanged, %zu removed, %zu failed, "
               "%zu skipped (%.2f s)\n",
               st.seen, st.added, st.updated, st.unchanged, st.removed, st.failed, st.skipped, secs);
    }
    return st.failed ? CLI_FAIL : CLI_OK;
}

const cli_command cli_cmd_ingest = {"ingest", "read files and folders into the index", usage, run};
