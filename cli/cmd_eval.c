/* cmd_eval.c — `keep eval beir DIR`: retrieval quality on a BEIR-layout test
 * collection (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv), so every ranking
 * change is measured rather than guessed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "retrieve/eval.h"
#include "retrieve/retr.h"

static const char usage[] =
    "usage: keep eval beir DIR [--split NAME] [--mode bm25|vector|hybrid] [--json]\n\n"
    "Ingests the BEIR-layout dataset in DIR (corpus.jsonl, queries.jsonl,\n"
    "qrels/NAME.tsv) into a fresh temporary data directory (or the one given\n"
    "with --data), runs every query of the split and prints nDCG@10 (linear\n"
    "gain, as trec_eval), Recall@100, MRR@10 and queries per second.\n\n"
    "  --split NAME   qrels file to use (default: test, else train)\n"
    "  --mode MODE    ranking mode: bm25, vector or hybrid (default: bm25)\n"
    "  --json         one JSON document with the figures\n";

#define EVAL_MAX_FILE ((size_t)4 << 30)

typedef struct {
    char *id, *text;
} query_t;

typedef struct {
    char *query;
    retr_judgment *j;
    size_t n, cap;
} qrels_t;

/* Calls fn for each non-empty line of a file read whole. */
static int for_lines(const char *path, int (*fn)(void *, char *), void *ud)
{
    char *data;
    size_t len;
    keep_err err;
    if (keep_read_file(path, EVAL_MAX_FILE, &data, &len, &err))
        return cli_error(CLI_FAIL, "%s: %s", path, err.msg);
    int rc = 0;
    char *p = data, *end = data + len;
    while (p < end && !rc) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl)
            *nl = '\0';
        if (*p)
            rc = fn(ud, p);
        p = nl ? nl + 1 : end;
    }
    keep_free(data);
    return rc;
}

typedef struct {
    idx_store *store;
    ingest_options opt;
    size_t docs, chunks, failed;
} corpus_ctx;

static int on_corpus_line(void *ud, char *line)
{
    corpus_ctx *c = ud;
    cJSON *o = cJSON_Parse(line);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "_id");
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(o, "title");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
    if (!cJSON_IsString(id) || !cJSON_IsString(text)) {
        cJSON_Delete(o);
        c->failed++;
        return 0;
    }
    keep_buf body = {0}, path = {0};
    if (cJSON_IsString(title) && *title->valuestring)
        keep_buf_printf(&body, "%s\n\n", title->valuestring);
    keep_buf_puts(&body, text->valuestring);
    keep_buf_printf(&path, "beir/%s", id->valuestring);
    ingest_result *r = NULL;
    keep_err err;
    int rc = ingest_bytes("doc.txt", body.data ? body.data : "", body.len, &c->opt, &r, &err);
    if (rc == KEEP_OK) {
        rc = idx_put_document(c->store, "beir", path.data, r, (int64_t)body.len, 0, NULL, NULL, &err);
        if (rc) {
            cli_error(CLI_FAIL, "%s", err.msg);
        } else {
            c->docs++;
            c->chunks += ingest_result_n_chunks(r);
        }
    } else {
        c->failed++;
        rc = 0;
    }
    ingest_result_free(r);
    keep_buf_free(&body);
    keep_buf_free(&path);
    cJSON_Delete(o);
    return rc ? CLI_FAIL : 0;
}

typedef struct {
    query_t *v;
    size_t n, cap;
} queries_ctx;

static int on_query_line(void *ud, char *line)
{
    queries_ctx *q = ud;
    cJSON *o = cJSON_Parse(line);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "_id");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
    if (cJSON_IsString(id) && cJSON_IsString(text)) {
        if (q->n == q->cap) {
            size_t cap = q->cap ? q->cap * 2 : 256;
            query_t *v = keep_reallocarray(q->v, cap, sizeof *v);
            if (!v) {
                cJSON_Delete(o);
                return cli_error(CLI_FAIL, "out of memory");
            }
            q->v = v;
            q->cap = cap;
        }
        q->v[q->n].id = keep_strdup(id->valuestring);
        q->v[q->n].text = keep_strdup(text->valuestring);
        q->n++;
    }
    cJSON_Delete(o);
    return 0;
}

typedef struct {
    qrels_t *v;
    size_t n, cap;
    int header_seen;
} qrels_ctx;

static int on_qrels_line(void *ud, char *line)
{
    qrels_ctx *q = ud;
    char *f[3];
    int nf = 0;
    for (char *p = line; nf < 3;) {
        f[nf++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    if (nf < 3)
        return 0;
    long grade;
    if (cli_parse_int(f[2], -100, 100, &grade)) {
        if (!q->header_seen++)
            return 0; /* the header line */
        return 0;
    }
    qrels_t *cur = q->n ? &q->v[q->n - 1] : NULL;
    if (!cur || strcmp(cur->query, f[0]) != 0) {
        cur = NULL;
        for (size_t i = 0; i < q->n; i++)
            if (strcmp(q->v[i].query, f[0]) == 0)
                cur = &q->v[i];
    }
    if (!cur) {
        if (q->n == q->cap) {
            size_t cap = q->cap ? q->cap * 2 : 256;
            qrels_t *v = keep_reallocarray(q->v, cap, sizeof *v);
            if (!v)
                return cli_error(CLI_FAIL, "out of memory");
            q->v = v;
            q->cap = cap;
        }
        cur = &q->v[q->n++];
        memset(cur, 0, sizeof *cur);
        cur->query = keep_strdup(f[0]);
    }
    if (cur->n == cur->cap) {
        size_t cap = cur->cap ? cur->cap * 2 : 16;
        retr_judgment *j = keep_reallocarray(cur->j, cap, sizeof *j);
        if (!j)
            return cli_error(CLI_FAIL, "out of memory");
        cur->j = j;
        cur->cap = cap;
    }
    cur->j[cur->n].doc = keep_strdup(f[1]);
    cur->j[cur->n].grade = (int)grade;
    cur->n++;
    return 0;
}

static int run(cli_env *env, int argc, char **argv)
{
    static const struct option opts[] = {{"split", required_argument, 0, 's'},
                                         {"mode", required_argument, 0, 'm'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    const char *split = NULL, *mode = "bm25";
    int json = 0, c;
    if (argc < 2 || strcmp(argv[1], "beir") != 0)
        return cli_usage_error(&cli_cmd_eval, "the only evaluation is 'beir'");
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        if (c == 's')
            split = optarg;
        else if (c == 'm')
            mode = optarg;
        else if (c == 'j')
            json = 1;
        else
            return cli_usage_error(&cli_cmd_eval, "unknown or incomplete option %s", argv[optind]);
    }
    if (optind != argc - 2) /* getopt moved the one positional argument last */
        return cli_usage_error(&cli_cmd_eval, "give exactly one dataset folder");
    const char *dir = argv[optind + 1];
    char path[4096];
    if (!split) {
        snprintf(path, sizeof path, "%s/qrels/test.tsv", dir);
        split = access(path, R_OK) == 0 ? "test" : "train";
    }
    if (strchr(split, '/'))
        return cli_usage_error(&cli_cmd_eval, "a split is a name, not a path");

    char tmp[] = "/tmp/keep-eval-XXXXXX";
    cli_env local = *env;
    if (!env->data_explicit) {
        if (!mkdtemp(tmp))
            return cli_error(CLI_FAIL, "cannot create a temporary data directory");
        local.data_dir = tmp;
    }
    keep_config cfg;
    corpus_ctx cc = {0};
    queries_ctx qc = {0};
    qrels_ctx rc_ = {0};
    cli_retr rt = {0};
    int rc = cli_open(&local, 1, &cfg, &cc.store);
    if (rc)
        goto out;
    ingest_options_default(&cc.opt);
    cc.opt.chunk_chars = cfg.chunk_chars;
    cc.opt.chunk_overlap = cfg.chunk_overlap;
    cc.opt.ocr = cfg.ocr;
    snprintf(cc.opt.ocr_languages, sizeof cc.opt.ocr_languages, "%s", cfg.ocr_languages);
    double t0 = keep_now_ms();
    snprintf(path, sizeof path, "%s/corpus.jsonl", dir);
    if ((rc = for_lines(path, on_corpus_line, &cc)))
        goto out;
    /* embeddings as an ingest makes them; timed with the ingest */
    if ((rc = cli_refresh_vectors(&local, cc.store, 0, 0, NULL)))
        goto out;
    if ((rc = cli_retr_open(&local, cc.store, NULL, &rt)))
        goto out;
    double ingest_s = (keep_now_ms() - t0) / 1000.0;
    snprintf(path, sizeof path, "%s/queries.jsonl", dir);
    if ((rc = for_lines(path, on_query_line, &qc)))
        goto out;
    snprintf(path, sizeof path, "%s/qrels/%s.tsv", dir, split);
    if ((rc = for_lines(path, on_qrels_line, &rc_)))
        goto out;

    double ndcg = 0, recall = 0, mrr = 0, search_ms = 0;
    size_t evaluated = 0;
    for (size_t i = 0; i < rc_.n; i++) {
        const char *text = NULL;
        for (size_t k = 0; k < qc.n && !text; k++)
            if (strcmp(qc.v[k].id, rc_.v[i].query) == 0)
                text = qc.v[k].text;
        if (!text)
            continue;
        /* one passage per document: 100 results are the 100 best documents */
        retr_request req = {text, 100, mode, rt.as, NULL, 1, rt.vectors, rt.embedder};
        retr_results *res = NULL;
        keep_err err;
        double q0 = keep_now_ms();
        if (retr_search(cc.store, &req, &res, &err)) {
            rc = cli_error(CLI_FAIL, "query %s: %s", rc_.v[i].query, err.msg);
            goto out;
        }
        search_ms += keep_now_ms() - q0;
        /* chunks -> documents, first (best) occurrence wins */
        size_t n = retr_results_count(res), m = 0;
        const char **ranked = keep_calloc(n ? n : 1, sizeof *ranked);
        for (size_t h = 0; ranked && h < n && m < 100; h++) {
            const char *p = retr_results_hit(res, h)->path;
            const char *doc = strncmp(p, "beir/", 5) == 0 ? p + 5 : p;
            int dup = 0;
            for (size_t x = 0; x < m && !dup; x++)
                dup = strcmp(ranked[x], doc) == 0;
            if (!dup)
                ranked[m++] = doc;
        }
        ndcg += retr_eval_ndcg(ranked, m, rc_.v[i].j, rc_.v[i].n, 10);
        recall += retr_eval_recall(ranked, m, rc_.v[i].j, rc_.v[i].n, 100);
        mrr += retr_eval_rr(ranked, m, rc_.v[i].j, rc_.v[i].n, 10);
        evaluated++;
        keep_free(ranked);
        retr_results_free(res);
    }
    if (!evaluated) {
        rc = cli_error(CLI_FAIL, "no query of split '%s' has judgments and text", split);
        goto out;
    }
    double qps = search_ms > 0 ? evaluated / (search_ms / 1000.0) : 0;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "dataset", dir);
        cJSON_AddStringToObject(o, "split", split);
        cJSON_AddStringToObject(o, "mode", mode);
        cJSON_AddNumberToObject(o, "documents", (double)cc.docs);
        cJSON_AddNumberToObject(o, "chunks", (double)cc.chunks);
        cJSON_AddNumberToObject(o, "queries", (double)evaluated);
        cJSON_AddNumberToObject(o, "ndcg@10", ndcg / evaluated);
        cJSON_AddNumberToObject(o, "recall@100", recall / evaluated);
        cJSON_AddNumberToObject(o, "mrr@10", mrr / evaluated);
        cJSON_AddNumberToObject(o, "queries_per_s", qps);
        cJSON_AddNumberToObject(o, "ingest_s", ingest_s);
        cli_print_json(o);
    } else {
        printf("| mode | queries | nDCG@10 | Recall@100 | MRR@10 | queries/s |\n"
               "|---|---|---|---|---|---|\n"
               "| %s | %zu | %.3f | %.3f | %.3f | %.0f |\n",
               mode, evaluated, ndcg / evaluated, recall / evaluated, mrr / evaluated, qps);
        fprintf(stderr, "keep: %zu documents, %zu chunks ingested in %.1f s\n", cc.docs, cc.chunks,
                ingest_s);
    }
out:
    cli_retr_close(&rt);
    idx_store_close(cc.store);
    for (size_t i = 0; i < qc.n; i++) {
        keep_free(qc.v[i].id);
        keep_free(qc.v[i].text);
    }
    keep_free(qc.v);
    for (size_t i = 0; i < rc_.n; i++) {
        for (size_t k = 0; k < rc_.v[i].n; k++)
            keep_free((char *)rc_.v[i].j[k].doc);
        keep_free(rc_.v[i].j);
        keep_free(rc_.v[i].query);
    }
    keep_free(rc_.v);
    if (!env->data_explicit) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "keep: could not remove %s\n", tmp);
    }
    return rc;
}

const cli_command cli_cmd_eval = {"eval", "measure retrieval quality on a test collection", usage, run};
