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
#include "index/auth.h"
#include "index/dropsync.h"
#include "ingest/watch.h"

static const char usage[] =
    "usage: keep watch [--settle-ms MS] [PATH [--collection NAME]]...\n\n"
    "With no PATH, watches the drop folders of keep.conf (see 'keep folder').\n"
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

/* Drop folders (database, keep.conf): their strings are copies owned by *owned (a
 * NULL-terminated list), the roots array grows as needed. */
typedef struct {
    watch_root **roots;
    size_t *n, cap;
    char ***owned;
    size_t n_owned;
} conf_roots;

static int add_conf_root(void *ud, const char *folder, const char *collection)
{
    conf_roots *c = ud;
    if (*c->n >= c->cap) {
        size_t cap = c->cap * 2 + 4;
        watch_root *r = keep_reallocarray(*c->roots, cap, sizeof *r);
        if (!r)
            return 1;
        *c->roots = r;
        c->cap = cap;
    }
    char **o = keep_reallocarray(*c->owned, c->n_owned + 3, sizeof *o);
    if (!o)
        return 1;
    *c->owned = o;
    o[c->n_owned] = keep_strdup(folder);
    o[c->n_owned + 1] = keep_strdup(collection);
    o[c->n_owned + 2] = NULL;
    if (!o[c->n_owned] || !o[c->n_owned + 1])
        return 1;
    (*c->roots)[*c->n].path = o[c->n_owned];
    (*c->roots)[*c->n].collection = o[c->n_owned + 1];
    (*c->n)++;
    c->n_owned += 2;
    return 0;
}

static int add_db_root(void *ud, int64_t id, const char *folder, const char *collection)
{
    (void)id;
    return add_conf_root(ud, folder, collection);
}

static idx_dropsync *g_sync;
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    idx_dropsync_stop(g_sync);
}

static void on_log(void *ud, const char *action, const char *path, const char *detail)
{
    (void)ud;
    if (strcmp(action, "error") == 0)
        cli_error(CLI_FAIL, "%s: %s", path, detail ? detail : ""); /* the next event retries */
    else if (strcmp(action, "removed") == 0)
        printf("removed %s%s\n", path, detail ? detail : "");
    else if (strcmp(action, "rescan") == 0)
        printf("rescan %s: %s\n", path, detail ? detail : "");
    else
        printf("%s %s%s%s\n", action, path, detail ? ": " : "", detail ? detail : "");
    fflush(stdout);
}

static int run(cli_env *env, int argc, char **argv)
{
    watch_root *roots = keep_calloc((size_t)argc, sizeof *roots);
    char **owned = NULL;
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
        /* no folders given: the drop folders (database and keep.conf) */
        char conf[4200];
        snprintf(conf, sizeof conf, "%s/keep.conf", env->data_dir);
        conf_roots cr = {&roots, &n, (size_t)argc, &owned, 0};
        keep_err cerr;
        keep_err_clear(&cerr);
        keep_config fcfg;
        idx_store *fstore = NULL;
        if ((rc = cli_open(env, 1, &fcfg, &fstore)))
            goto out;
        int frc = idx_folders_list(fstore, add_db_root, &cr, &cerr);
        idx_store_close(fstore);
        if (frc || keep_config_folders(conf, add_conf_root, &cr, &cerr)) {
            rc = cli_error(CLI_FAIL, "%s", cerr.msg[0] ? cerr.msg : "out of memory");
            goto out;
        }
    }
    if (n == 0) {
        rc = cli_usage_error(&cli_cmd_watch,
                             "nothing to watch: give folders or add drop folders with 'keep folder add'");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (!roots[i].collection)
            roots[i].collection = "default";

    keep_config cfg;
    idx_store *store = NULL;
    if ((rc = cli_open(env, 1, &cfg, &store)))
        goto out;
    idx_ingest_opts opt = {0};
    ingest_options_default(&opt.ingest);
    opt.ingest.max_file_bytes = cfg.max_file_mb << 20;
    opt.ingest.max_text_bytes = cfg.max_text_mb << 20;
    opt.ingest.chunk_chars = cfg.chunk_chars;
    opt.ingest.chunk_overlap = cfg.chunk_overlap;
    opt.ingest.ocr = cfg.ocr;
    snprintf(opt.ingest.ocr_languages, sizeof opt.ingest.ocr_languages, "%s", cfg.ocr_languages);

    keep_err err;
    keep_err_clear(&err);
    idx_dropsync *d = NULL;
    if (idx_dropsync_new(store, &opt, (int)settle, on_log, NULL, &d, &err)) {
        rc = cli_error(CLI_FAIL, "%s", err.msg);
        goto close;
    }
    g_sync = d;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    for (size_t i = 0; i < n && !g_stop; i++) {
        if (idx_dropsync_add(d, roots[i].path, roots[i].collection, &err)) {
            rc = cli_error(CLI_FAIL, "%s", err.msg);
            goto restore;
        }
    }
    fprintf(stderr, "keep: watching %zu folder%s (SIGINT or SIGTERM stops)\n", n, n == 1 ? "" : "s");
    for (;;) {
        /* embeddings of the new chunks, after the first sync and each batch */
        if (idx_dropsync_take_changes(d) && !g_stop)
            cli_refresh_vectors(env, store, 0, 0, NULL);
        int prc = idx_dropsync_poll(d, -1, &err);
        if (prc == KEEP_ERR_CANCELLED)
            break;
        if (prc) {
            rc = cli_error(CLI_FAIL, "%s", err.msg);
            break;
        }
    }
restore:
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    g_sync = NULL;
close:
    idx_dropsync_free(d);
    idx_store_close(store);
out:
    keep_free(roots);
    for (size_t i = 0; owned && owned[i]; i++)
        keep_free(owned[i]);
    keep_free(owned);
    return rc;
}

const cli_command cli_cmd_watch = {"watch", "keep folders indexed as files change", usage, run};
