/* cmd_watch.c — `keep watch PATH --collection NAME ...`: keeps the index in
 * step with drop folders. Each folder is watched first and then fully synced
 * (so nothing written during the sync is missed); after that the watcher's
 * settled events drive small updates: CHANGED re-ingests one file, REMOVED
 * removes a file's or a folder's documents, RESCAN re-syncs the whole
 * folder. SIGINT/SIGTERM stop it cleanly (exit 0). One line per action on
 * stdout. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ingest/watch.h"

static const char usage[] =
    "usage: keep watch [--settle-ms MS] PATH [--collection NAME] [PATH [--collection NAME]]...\n\n"
    "Watches folders (recursively) and keeps their documents indexed: each folder\n"
    "is synced on start, then a file is (re)read once it has been closed and left\n"
    "alone for the settle time, and documents of deleted or moved-away files are\n"
    "removed. Temporary and lock files (~$x, *.tmp, *.part, dotfiles) and\n"
    "symbolic links are ignored. Runs until SIGINT or SIGTERM.\n\n"
    "  --collection NAME  collection for the PATH before it (default: default)\n"
    "  --settle-ms MS     quiet time after the last write (default: 1000)\n\n"
    "If a watched folder itself disappears, its documents are kept and the\n"
    "folder is synced again when it comes back.\n";

typedef struct {
    const char *path, *collection;
} watch_root;

typedef struct {
    idx_store *store;
    idx_ingest_opts opt;
} watch_ctx;

static ingest_watch *g_watch;
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    ingest_watch_stop(g_watch);
}

static int on_progress(void *ud, const char *path, const char *status, const char *reason,
                       const idx_ingest_stats *s)
{
    (void)ud;
    (void)s;
    if (strcmp(status, "unchanged") != 0) {
        printf("%s %s%s%s\n", status, path, reason ? ": " : "", reason ? reason : "");
        fflush(stdout);
    }
    return g_stop; /* a signal cuts a long sync short */
}

static void sync_path(watch_ctx *c, const char *collection, const char *path)
{
    idx_ingest_stats st;
    keep_err err;
    keep_err_clear(&err);
    c->opt.collection = collection;
    if (idx_ingest_paths(c->store, &path, 1, &c->opt, &st, &err))
        cli_error(CLI_FAIL, "%s: %s", path, err.msg); /* logged; the next event retries */
    else if (st.added || st.updated)
        cli_refresh_vectors(NULL, c->store, 0, 0, NULL); /* embeddings of the new chunks */
}

static int on_event(void *ud, const ingest_watch_event *ev)
{
    watch_ctx *c = ud;
    keep_err err;
    keep_err_clear(&err);
    switch (ev->kind) {
    case INGEST_WATCH_CHANGED:
        sync_path(c, ev->tag, ev->path);
        break;
    case INGEST_WATCH_REMOVED:
        if (idx_doc_remove_path(c->store, ev->tag, ev->path, &err))
            cli_error(CLI_FAIL, "%s: %s", ev->path, err.msg);
        else
            printf("removed %s%s\n", ev->path, ev->is_dir ? "/" : "");
        break;
    case INGEST_WATCH_RESCAN:
        printf("rescan %s: %s\n", ev->path, ev->reason ? ev->reason : "");
        fflush(stdout);
        sync_path(c, ev->tag, ev->path);
        break;
    }
    fflush(stdout);
    return g_stop;
}

static int run(cli_env *env, int argc, char **argv)
{
    watch_root *roots = keep_calloc((size_t)argc, sizeof *roots);
    if (!roots)
        return cli_error(CLI_FAIL, "out of memory");
    size_t n = 0;
    long settle = INGEST_WATCH_DEFAULT_QUIET_MS;
    int rc = CLI_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        int is_coll = strcmp(a, "--collection") == 0 || strncmp(a, "--collection=", 13) == 0;
        int is_settle = strcmp(a, "--settle-ms") == 0 || strncmp(a, "--settle-ms=", 12) == 0;
        if (is_coll || is_settle) {
            const char *eq = strchr(a, '=');
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                rc = cli_usage_error(&cli_cmd_watch, "%s needs a value", a);
                goto out;
            }
            if (is_settle) {
                if (cli_parse_int(val, 10, 600000, &settle)) {
                    rc = cli_usage_error(&cli_cmd_watch, "--settle-ms needs 10 to 600000");
                    goto out;
                }
            } else if (n == 0 || roots[n - 1].collection) {
                rc = cli_usage_error(&cli_cmd_watch, "--collection must follow a folder");
                goto out;
            } else if (!*val || strlen(val) > 128) {
                rc = cli_usage_error(&cli_cmd_watch, "a collection name is 1 to 128 characters");
                goto out;
            } else {
                roots[n - 1].collection = val;
            }
        } else if (a[0] == '-' && strcmp(a, "-") != 0) {
            rc = cli_usage_error(&cli_cmd_watch, "unknown option %s", a);
            goto out;
        } else {
            roots[n++].path = a;
        }
    }
    if (n == 0) {
        rc = cli_usage_error(&cli_cmd_watch, "nothing to watch: give folders");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (!roots[i].collection)
            roots[i].collection = "default";

    keep_config cfg;
    watch_ctx c = {0};
    if ((rc = cli_open(env, 1, &cfg, &c.store)))
        goto out;
    ingest_options_default(&c.opt.ingest);
    c.opt.ingest.max_file_bytes = cfg.max_file_mb << 20;
    c.opt.ingest.max_text_bytes = cfg.max_text_mb << 20;
    c.opt.ingest.chunk_chars = cfg.chunk_chars;
    c.opt.ingest.chunk_overlap = cfg.chunk_overlap;
    c.opt.progress = on_progress;

    keep_err err;
    keep_err_clear(&err);
    ingest_watch *w = NULL;
    if (ingest_watch_new(&w, (int)settle, &err)) {
        rc = cli_error(CLI_FAIL, "%s", err.msg);
        goto close;
    }
    for (size_t i = 0; i < n; i++) {
        if (ingest_watch_add_root(w, roots[i].path, roots[i].collection, &err)) {
            rc = cli_error(CLI_FAIL, "%s", err.msg);
            goto close;
        }
    }
    g_watch = w;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    for (size_t i = 0; i < n && !g_stop; i++)
        sync_path(&c, roots[i].collection, roots[i].path);
    fprintf(stderr, "keep: watching %zu folder%s (SIGINT or SIGTERM stops)\n", n, n == 1 ? "" : "s");
    for (;;) {
        int prc = ingest_watch_poll(w, -1, on_event, &c, &err);
        if (prc == KEEP_ERR_CANCELLED)
            break;
        if (prc) {
            rc = cli_error(CLI_FAIL, "%s", err.msg);
            break;
        }
    }
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    g_watch = NULL;
close:
    ingest_watch_free(w);
    idx_store_close(c.store);
out:
    keep_free(roots);
    return rc;
}

const cli_command cli_cmd_watch = {"watch", "keep folders indexed as files change", usage, run};
