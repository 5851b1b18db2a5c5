/* cmd_serve.c — `keep serve`: the web UI and JSON API (web/web.h) with the
 * drop-folder watcher in the same process, until SIGINT or SIGTERM (requests
 * in flight finish first). On a store without an administrator it creates
 * one and prints the generated password once. Also the account commands of
 * `keep user` that need web/'s hashing: passwd, token, tokens, revoke-token. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "index/auth.h"
#include "web/web.h"

static const char usage[] =
    "usage: keep serve [--listen ADDR:PORT]\n\n"
    "Serves the browser UI and the JSON API (documented at /api/v1/openapi.json)\n"
    "and keeps the drop folders configured by administrators indexed.\n"
    "Listens on [web] listen of keep.conf (default 127.0.0.1:8080); HTTPS when\n"
    "[web] tls_cert and tls_key are set. On first start an administrator 'admin'\n"
    "is created and its generated password printed once. SIGINT or SIGTERM stop\n"
    "the server after the requests in flight have finished.\n\n"
    "  --listen ADDR:PORT  address to listen on (port 0: any free port)\n";

static web_server *g_server;

static void on_signal(int sig)
{
    (void)sig;
    web_server_shutdown(g_server);
}

static int run(cli_env *env, int argc, char **argv)
{
    const char *listen = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen = argv[++i];
        else if (strncmp(argv[i], "--listen=", 9) == 0)
            listen = argv[i] + 9;
        else
            return cli_usage_error(&cli_cmd_serve, "unknown argument %s", argv[i]);
    }
    keep_config cfg;
    idx_store *store = NULL;
    int rc = cli_open(env, 1, &cfg, &store);
    if (rc)
        return rc;
    keep_err err;
    keep_err_clear(&err);
    char *pw = NULL;
    int st = web_ensure_admin(store, &pw, &err);
    idx_store_close(store);
    if (st)
        return cli_error(CLI_FAIL, "%s", err.msg);
    if (pw) {
        printf("Created the administrator account 'admin' with the password:\n\n    %s\n\n"
               "It is shown only this once. Change it with 'keep user passwd admin'.\n",
               pw);
        fflush(stdout);
        keep_free(pw);
    }
    web_options opt = {env->data_dir, &cfg, listen};
    web_server *srv = NULL;
    if (web_server_start(&opt, &srv, &err))
        return cli_error(CLI_FAIL, "%s", err.msg);
    g_server = srv;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    const char *addr = listen ? listen : cfg.web_listen;
    const char *colon = strrchr(addr, ':');
    fprintf(stderr, "keep: serving on %s://%.*s:%u (SIGINT or SIGTERM stops)\n",
            web_server_tls(srv) ? "https" : "http", (int)(colon ? colon - addr : 0), addr,
            (unsigned)web_server_port(srv));
    web_server_wait(srv);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    g_server = NULL;
    web_server_free(srv);
    fprintf(stderr, "keep: stopped\n");
    return CLI_OK;
}

const cli_command cli_cmd_serve = {"serve", "serve the web UI and the JSON API", usage, run};

/* ---- keep user passwd / token / tokens / revoke-token ------------------------------------------ */

static int on_token(void *ud, const idx_token_info *t)
{
    (void)ud;
    printf("%lld\t%s\t%s\t%s\n", (long long)t->id, t->user, t->name,
           t->revoked_at ? "revoked" : "live");
    return 0;
}

int cli_user_account(cli_env *env, int argc, char **argv)
{
    const char *sub = argv[1];
    keep_config cfg;
    idx_store *store = NULL;
    int rc = cli_open(env, 0, &cfg, &store);
    if (rc)
        return rc;
    keep_err err;
    keep_err_clear(&err);
    int st = KEEP_OK;
    if (strcmp(sub, "passwd") == 0 && argc == 3) {
        /* a password on stdin (one line) when piped; else a generated one, printed */
        char line[1100], gen[21];
        const char *pw;
        if (!isatty(STDIN_FILENO)) {
            if (!fgets(line, sizeof line, stdin)) {
                idx_store_close(store);
                return cli_error(CLI_USAGE, "no password on standard input");
            }
            line[strcspn(line, "\r\n")] = '\0';
            pw = line;
        } else {
            web_password_generate(gen);
            pw = gen;
        }
        st = web_user_set_password(store, argv[2], pw, &err);
        if (!st && pw == gen)
            printf("new password for %s: %s\n", argv[2], gen);
    } else if (strcmp(sub, "token") == 0 && (argc == 3 || argc == 4)) {
        char *secret = NULL;
        int64_t id = 0;
        st = web_token_create(store, argv[2], argc == 4 ? argv[3] : "cli", &secret, &id, &err);
        if (!st)
            printf("%s\n", secret);
        keep_free(secret);
    } else if (strcmp(sub, "tokens") == 0 && argc <= 3) {
        st = idx_tokens_list(store, argc == 3 ? argv[2] : NULL, on_token, NULL, &err);
    } else if (strcmp(sub, "revoke-token") == 0 && argc == 3) {
        long id;
        if (cli_parse_int(argv[2], 1, 2147483647L, &id)) {
            idx_store_close(store);
            return cli_usage_error(&cli_cmd_user, "revoke-token needs a token id");
        }
        st = idx_token_revoke(store, id, NULL, (int64_t)time(NULL), &err);
    } else {
        idx_store_close(store);
        return cli_usage_error(&cli_cmd_user, "unknown subcommand or wrong arguments");
    }
    idx_store_close(store);
    if (st)
        return cli_error(st == KEEP_ERR_USAGE ? CLI_USAGE : CLI_FAIL, "%s", err.msg);
    return CLI_OK;
}
