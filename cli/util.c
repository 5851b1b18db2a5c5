/* util.c — shared plumbing for the commands (see cli.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("keep: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int cli_wants_help(const cli_command *cmd, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(cmd->usage, stdout);
            return 1;
        }
    }
    return 0;
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("keep: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'keep %s --help')\n", cmd->name);
    va_end(ap);
    return CLI_USAGE;
}

int cli_parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_print_json(cJSON *doc)
{
    if (!doc)
        return cli_error(CLI_FAIL, "out of memory");
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!s)
        return cli_error(CLI_FAIL, "out of memory");
    puts(s);
    cJSON_free(s);
    return CLI_OK;
}

/* mkdir -p for the data directory (private: it holds every document). */
static int make_dirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int cli_open(cli_env *env, int create, keep_config *cfg, idx_store **store)
{
    char path[4096];
    keep_err err;
    keep_err_clear(&err);
    struct stat st;
    if (stat(env->data_dir, &st) != 0) {
        if (!create)
            return cli_error(CLI_FAIL, "no data directory at %s (run 'keep ingest PATH' first, or "
                                       "pass --data DIR)", env->data_dir);
        if (make_dirs(env->data_dir) != 0)
            return cli_error(CLI_FAIL, "cannot create data directory %s: %s", env->data_dir,
                             strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return cli_error(CLI_FAIL, "%s is not a directory", env->data_dir);
    }
    snprintf(path, sizeof path, "%s/keep.conf", env->data_dir);
    if (create && keep_config_write_default(path, &err))
        return cli_error(CLI_FAIL, "%s", err.msg);
    if (keep_config_load(path, cfg, &err))
        return cli_error(CLI_FAIL, "%s", err.msg);
    snprintf(path, sizeof path, "%s/keep.db", env->data_dir);
    if (!create && stat(path, &st) != 0)
        return cli_error(CLI_FAIL, "no database in %s (run 'keep ingest PATH' first)", env->data_dir);
    if (idx_store_open(path, cfg->busy_timeout_ms, store, &err))
        return cli_error(CLI_FAIL, "%s", err.msg);
    return CLI_OK;
}

/* ---- retrieval plumbing (the composition root for embedders) ---------------------- */

static void vectors_path(cli_env *env, char *out, size_t n)
{
    snprintf(out, n, "%s/vectors.faiss", env->data_dir);
}

int cli_retr_open(cli_env *env, idx_store *store, const char *as_user, cli_retr *r)
{
    memset(r, 0, sizeof *r);
    keep_err err;
    keep_err_clear(&err);
    int rc = as_user ? idx_principal_load(store, as_user, &r->as, &err)
                     : idx_principal_admin(&r->as, &err);
    if (rc)
        return cli_error(CLI_FAIL, "%s", err.msg);
    char *stored = NULL;
    if (idx_vectors_embedder_name(store, &stored, &err))
        return cli_error(CLI_FAIL, "%s", err.msg);
    if (!stored)
        return CLI_OK; /* no vectors yet: bm25 only */
    idx_embedder *e = NULL;
    rc = idx_builtin_open(store, &e, &err);
    if (rc && rc != KEEP_ERR_NOTFOUND) {
        keep_free(stored);
        return cli_error(CLI_FAIL, "%s", err.msg);
    }
    if (!e || strcmp(e->name, stored) != 0) {
        /* vectors of another embedder: usable only after 'keep reindex' */
        idx_embedder_free(e);
        keep_free(stored);
        return CLI_OK;
    }
    keep_free(stored);
    char path[4200];
    vectors_path(env, path, sizeof path);
    if (idx_vectors_open(store, path, &r->vectors, &err)) {
        idx_embedder_free(e);
        return cli_error(CLI_FAIL, "%s", err.msg);
    }
    r->embedder = e;
    return CLI_OK;
}

void cli_retr_close(cli_retr *r)
{
    idx_vectors_close(r->vectors);
    idx_embedder_free(r->embedder);
    idx_principal_free(r->as);
    memset(r, 0, sizeof *r);
}

static int on_embed_progress(void *ud, size_t done, size_t total)
{
    double *t0 = ud;
    double secs = (keep_now_ms() - *t0) / 1000.0;
    fprintf(stderr, "\r\033[Kembedding %zu/%zu chunks  %.0f chunks/s", done, total,
            secs > 0 ? (double)done / secs : 0.0);
    return 0;
}

int cli_refresh_vectors(cli_env *env, idx_store *store, int tty, int relearn, size_t *embedded)
{
    (void)env;
    keep_err err;
    keep_err_clear(&err);
    double t0 = keep_now_ms();
    int64_t id;
    if (relearn) {
        if (tty)
            fputs("learning the embedding space...", stderr);
        int rc = idx_builtin_learn(store, &id, &err);
        if (tty)
            fputs("\r\033[K", stderr);
        if (rc && rc != KEEP_ERR_NOTFOUND)
            return cli_error(CLI_FAIL, "%s", err.msg);
        keep_err_clear(&err);
    }
    int rc = idx_builtin_refresh(store, tty ? on_embed_progress : NULL, &t0, NULL, embedded, &err);
    if (tty)
        fputs("\r\033[K", stderr);
    if (rc)
        return cli_error(CLI_FAIL, "embedding: %s", err.msg);
    return CLI_OK;
}
