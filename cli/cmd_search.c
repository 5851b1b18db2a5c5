/* cmd_search.c — `keep search "query"`: ranked passages, as text or JSON; one
 * query or a batch file of queries (JSON lines out). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "retrieve/retr.h"

static const char usage[] =
    "usage: keep search [OPTIONS] QUERY...\n"
    "       keep search [OPTIONS] --batch FILE\n\n"
    "Finds the passages that best match QUERY (any text: punctuation and search\n"
    "operators are treated as plain words).\n\n"
    "  -k N               number of results (default: [search] k in keep.conf, 10)\n"
    "  --mode MODE        bm25 (words), vector (meaning) or hybrid (both fused;\n"
    "                     the default once embeddings exist)\n"
    "  --collection NAME  only this collection\n"
    "  --format FMT       only documents of this format (markdown, text, pdf, ...)\n"
    "  --path-prefix P    only documents whose path starts with P\n"
    "  --since DATE       only documents modified at or after DATE (YYYY-MM-DD, UTC)\n"
    "  --until DATE       only documents modified before DATE\n"
    "  --as USER          search as USER (sees only what USER's groups may read)\n"
    "  --batch FILE       one query per line in FILE; one JSON document per line out\n"
    "  --json             print one JSON document: {query, mode, results[], took_ms}\n";

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

/* Parses YYYY-MM-DD[THH:MM[:SS]] (UTC) into nanoseconds since the epoch. */
static int parse_date(const char *s, int64_t *ns)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || *end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(s, "%Y-%m-%dT%H:%M", &tm);
    }
    if (!end || *end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(s, "%Y-%m-%d", &tm);
    }
    if (!end || *end)
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || t < 0 || t > (time_t)9000000000LL)
        return -1;
    *ns = (int64_t)t * 1000000000;
    return 0;
}

static int search_one(idx_store *store, retr_request *req, const char *q, int json, int batch)
{
    retr_results *res = NULL;
    keep_err err;
    keep_err_clear(&err);
    req->query = q;
    if (retr_search(store, req, &res, &err)) {
        if (batch) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "query", q);
            cJSON_AddStringToObject(o, "error", err.msg);
            cli_print_json(o);
            return CLI_FAIL;
        }
        return cli_error(CLI_FAIL, "%s", err.msg);
    }
    int rc = CLI_OK;
    if (json || batch) {
        rc = cli_print_json(retr_results_json(res));
    } else {
        size_t n = retr_results_count(res);
        if (!n)
            printf("no results for \"%s\"\n", q);
        for (size_t i = 0; i < n; i++) {
            const idx_hit *h = retr_results_hit(res, i);
            printf("%zu. %s (%s", i + 1, h->title ? h->title : h->path, h->path);
            print_location(h);
            printf(")  score %.3f\n   ", h->score);
            /* one line per snippet: paragraph breaks become spaces */
            for (const char *p = h->snippet ? h->snippet : ""; *p; p++)
                putchar(*p == '\n' ? ' ' : *p);
            putchar('\n');
        }
    }
    retr_results_free(res);
    return rc;
}

static int run(cli_env *env, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"mode", required_argument, 0, 'm'},
                                         {"collection", required_argument, 0, 'c'},
                                         {"format", required_argument, 0, 'f'},
                                         {"path-prefix", required_argument, 0, 'p'},
                                         {"since", required_argument, 0, 's'},
                                         {"until", required_argument, 0, 'u'},
                                         {"as", required_argument, 0, 'a'},
                                         {"batch", required_argument, 0, 'b'},
                                         {0, 0, 0, 0}};
    int json = 0, c;
    long k = 0;
    const char *mode = NULL, *as = NULL, *batch = NULL;
    idx_filter filter = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+k:", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (cli_parse_int(optarg, 1, 1000, &k))
                return cli_usage_error(&cli_cmd_search, "-k needs a number from 1 to 1000");
            break;
        case 'j': json = 1; break;
        case 'm':
            if (strcmp(optarg, "bm25") && strcmp(optarg, "vector") && strcmp(optarg, "hybrid"))
                return cli_usage_error(&cli_cmd_search, "--mode is bm25, vector or hybrid");
            mode = optarg;
            break;
        case 'c': filter.collection = optarg; break;
        case 'f': filter.format = optarg; break;
        case 'p': filter.path_prefix = optarg; break;
        case 's':
            if (parse_date(optarg, &filter.since_ns))
                return cli_usage_error(&cli_cmd_search, "--since needs a date YYYY-MM-DD");
            break;
        case 'u':
            if (parse_date(optarg, &filter.until_ns))
                return cli_usage_error(&cli_cmd_search, "--until needs a date YYYY-MM-DD");
            break;
        case 'a': as = optarg; break;
        case 'b': batch = optarg; break;
        default:
            return cli_usage_error(&cli_cmd_search, "unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    if (!batch && optind >= argc)
        return cli_usage_error(&cli_cmd_search, "give a query");
    if (batch && optind < argc)
        return cli_usage_error(&cli_cmd_search, "give a query or --batch FILE, not both");
    char *data = NULL;
    size_t len = 0;
    keep_err err;
    if (batch && keep_read_file(batch, (size_t)64 << 20, &data, &len, &err))
        return cli_error(CLI_FAIL, "%s: %s", batch, err.msg);
    keep_buf q = {0};
    for (int i = optind; i < argc; i++) {
        if (q.len)
            keep_buf_putc(&q, ' ');
        keep_buf_puts(&q, argv[i]);
    }
    keep_config cfg;
    idx_store *store = NULL;
    cli_retr rt = {0};
    int rc = cli_open(env, 0, &cfg, &store);
    if (!rc)
        rc = cli_retr_open(env, store, as, &rt);
    if (rc)
        goto out;
    retr_request req = {NULL, k ? (size_t)k : (size_t)cfg.search_k, mode, rt.as, &filter,
                        (size_t)cfg.max_chunks_per_doc, rt.vectors, rt.embedder};
    if (!batch) {
        rc = search_one(store, &req, q.data ? q.data : "", json, 0);
        goto out;
    }
    for (char *p = data, *end = data + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl)
            *nl = '\0';
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r')
            p[--l] = '\0';
        if (l && search_one(store, &req, p, 1, 1))
            rc = CLI_FAIL;
        p = nl ? nl + 1 : end;
    }
out:
    cli_retr_close(&rt);
    idx_store_close(store);
    keep_buf_free(&q);
    keep_free(data);
    return rc;
}

const cli_command cli_cmd_search = {"search", "find the passages that match a query", usage, run};
