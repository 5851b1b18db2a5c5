/* cmd_reindex.c — `keep reindex`: learns the embedding space again and
 * re-embeds every chunk from its stored text (no document is re-parsed). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: keep reindex\n\n"
    "Learns the built-in embedder's space from the stored chunks again and\n"
    "re-embeds every chunk from its stored text, with progress. Documents are\n"
    "not re-parsed. Keep also re-learns by itself when the corpus has doubled.\n";

static int run(cli_env *env, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return cli_usage_error(&cli_cmd_reindex, "reindex takes no argument");
    keep_config cfg;
    idx_store *store = NULL;
    int rc = cli_open(env, 0, &cfg, &store);
    if (rc)
        return rc;
    double t0 = keep_now_ms();
    size_t n = 0;
    rc = cli_refresh_vectors(env, store, isatty(STDERR_FILENO), 1, &n);
    idx_store_close(store);
    if (!rc)
        printf("%zu chunks embedded (%.2f s)\n", n, (keep_now_ms() - t0) / 1000.0);
    return rc;
}

const cli_command cli_cmd_reindex = {"reindex", "re-learn the embedding space and re-embed",
                                     usage, run};
