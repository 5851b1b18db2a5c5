/* cmd_search.c — `keep search "query"`: ranked passages, as text or JSON. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "retrieve/retr.h"

static const char usage[] =
    "usage: keep search [-k N] [--json] QUERY...\n\n"
    "Finds the passages that best match QUERY (any text: punctuation and search\n"
    "operators are treated as plain words).\n\n"
    "  -k N      number of results (default: [search] k in keep.conf, 10)\n"
    "  --json    print one JSON document: {query, mode, results[], took_ms}\n";

static void print_location(const idx_hit *h)
{
    if (h->page_start && h->page_end > h->page_start)
        printf(", pages %d-%d", h->page_start, h->page_end);
    else if (h->page_start)
        printf(", page %d", h->page_start);
    if (h->slide)
        printf(", slide %d", h->slide);
    if (h->sheet)
        printf(", sheet %s", h->sheet);
    if (h->heading)
        printf(", %s", h->heading);
}

static int run(cli_env *env, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    int json = 0, c;
    long k = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+k:", opts, NULL)) != -1) {
        if (c == 'k') {
            if (cli_parse_int(optarg, 1, 1000, &k))
                return cli_usage_error(&cli_cmd_search, "-k needs a number from 1 to 1000");
        } else if (c == 'j') {
            json = 1;
        } else {
            return cli_usage_error(&cli_cmd_search, "unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error(&cli_cmd_search, "give a query");
    keep_buf q = {0};
    for (int i = optind; i < argc; i++) {
        if (q.len)
            keep_buf_putc(&q, ' ');
        keep_buf_puts(&q, argv[i]);
    }
    keep_config cfg;
    idx_store *store = NULL;
    int rc = cli_open(env, 0, &cfg, &store);
    if (rc) {
        keep_buf_free(&q);
        return rc;
    }
    retr_request req = {q.data, k ? (size_t)k : (size_t)cfg.search_k, "bm25"};
    retr_results *res = NULL;
    keep_err err;
    keep_err_clear(&err);
    rc = retr_search(store, &req, &res, &err);
    if (rc) {
        idx_store_close(store);
        keep_buf_free(&q);
        return cli_error(CLI_FAIL, "%s", err.msg);
    }
    if (json) {
        rc = cli_print_json(retr_results_json(res));
    } else {
        size_t n = retr_results_count(res);
        if (!n)
            printf("no results for \"%s\"\n", q.data);
        for (size_t i = 0; i < n; i++) {
            const idx_hit *h = retr_results_hit(res, i);
            printf("%zu. %s (%s", i + 1, h->title ? h->title : h->path, h->path);
            print_location(h);
            printf(")  score %.2f\n   %s\n", h->score, h->snippet ? h->snippet : "");
        }
    }
    retr_results_free(res);
    idx_store_close(store);
    keep_buf_free(&q);
    return rc;
}

const cli_command cli_cmd_search = {"search", "find the passages that match a query", usage, run};
