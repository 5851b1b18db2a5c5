/* cmd_ask.c — `keep ask "question"`: an answer from the documents the caller
 * may read, every claim with its source. Extractive without a model (the
 * default), generative with `model =` in keep.conf or --model. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "retrieve/retr.h"

static const char usage[] =
    "usage: keep ask [OPTIONS] QUESTION...\n\n"
    "Answers QUESTION from the documents you may read, citing each claim as [n].\n"
    "Without a model ([answer] model in keep.conf, or --model) the answer is the\n"
    "most relevant sentences, extracted word for word. When nothing relevant is\n"
    "found, Keep says so instead of answering.\n\n"
    "  --collection NAME  only this collection\n"
    "  -k N               passages retrieved (default: [answer] k, 8)\n"
    "  --as USER          ask as USER (sees only what USER's groups may read)\n"
    "  --model PATH       a GGUF chat model (overrides keep.conf)\n"
    "  --extractive       no model, even if keep.conf names one\n"
    "  --json             print one JSON document: {question, answer, refused, mode,\n"
    "                     model, citations[], sentences[], timings}\n";

static volatile sig_atomic_t interrupted;
static retr_cancel *sig_cancel;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
    /* only an atomic flag store here; the cancel hook takes a mutex, so it
     * is fired from the piece callback instead */
}

static int print_piece(void *ud, const char *text, size_t len)
{
    (void)ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    if (interrupted && sig_cancel)
        retr_cancel_fire(sig_cancel);
    return interrupted;
}

static void on_queue(void *ud, size_t pos)
{
    (void)ud;
    if (pos)
        fprintf(stderr, "waiting for the model: place %zu in the queue\n", pos);
}

static void print_location(const retr_citation *c)
{
    if (c->page)
        printf(", page %d", c->page);
    if (c->slide)
        printf(", slide %d", c->slide);
    if (c->sheet)
        printf(", sheet %s", c->sheet);
    if (c->heading)
        printf(", %s", c->heading);
}

static void print_text(const retr_answer *a, int streamed)
{
    if (retr_answer_refused(a)) {
        if (!streamed)
            printf("%s\n", retr_answer_text(a));
        return;
    }
    if (!streamed) {
        if (strcmp(retr_answer_mode(a), "extractive") == 0)
            printf("Extracted from your documents (no model: these are the passages' own words):\n");
        printf("%s\n", retr_answer_text(a));
    }
    size_t weak = 0;
    for (size_t i = 0; i < retr_answer_sentence_count(a); i++)
        weak += !retr_answer_sentence_at(a, i)->supported;
    if (weak)
        printf("\n(%zu sentence%s not supported by the cited sources)\n", weak, weak == 1 ? "" : "s");
    printf("\nSources:\n");
    for (size_t i = 0; i < retr_answer_citation_count(a); i++) {
        const retr_citation *c = retr_answer_citation(a, i);
        printf("[%d] %s (%s", c->n, c->title ? c->title : c->path, c->path);
        print_location(c);
        printf(")\n");
    }
}

static int run(cli_env *env, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"collection", required_argument, 0, 'c'},
                                         {"as", required_argument, 0, 'a'},
                                         {"model", required_argument, 0, 'm'},
                                         {"extractive", no_argument, 0, 'x'},
                                         {0, 0, 0, 0}};
    int json = 0, c, extractive = 0;
    long k = 0;
    const char *as = NULL, *model = NULL;
    idx_filter filter = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+k:", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (cli_parse_int(optarg, 1, 100, &k))
                return cli_usage_error(&cli_cmd_ask, "-k needs a number from 1 to 100");
            break;
        case 'j': json = 1; break;
        case 'c': filter.collection = optarg; break;
        case 'a': as = optarg; break;
        case 'm': model = optarg; break;
        case 'x': extractive = 1; break;
        default:
            return cli_usage_error(&cli_cmd_ask, "unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error(&cli_cmd_ask, "give a question");
    keep_buf q = {0};
    for (int i = optind; i < argc; i++)
        if ((q.len && keep_buf_putc(&q, ' ')) || keep_buf_puts(&q, argv[i])) {
            keep_buf_free(&q);
            return cli_error(CLI_FAIL, "out of memory");
        }
    keep_config cfg;
    idx_store *store = NULL;
    cli_retr rt = {0};
    retr_generator *gen = NULL;
    retr_answer *ans = NULL;
    retr_cancel *cancel = NULL;
    keep_err err;
    keep_err_clear(&err);
    int rc = cli_open(env, 0, &cfg, &store);
    if (!rc)
        rc = cli_retr_open(env, store, as, &rt);
    if (rc)
        goto out;
    char model_path[8300] = "";
    if (!extractive && model)
        snprintf(model_path, sizeof model_path, "%s", model);
    else if (!extractive && cfg.model[0] == '/')
        snprintf(model_path, sizeof model_path, "%s", cfg.model);
    else if (!extractive && cfg.model[0]) /* relative to the data directory */
        snprintf(model_path, sizeof model_path, "%s/%s", env->data_dir, cfg.model);
    if (model_path[0]) {
        retr_gguf_options go = {cfg.answer_threads, 0, 1, 0, cfg.max_tokens, 0, 0, cfg.chat_template, 0};
        if (retr_generator_open_gguf(model_path, &go, &gen, &err)) {
            rc = cli_error(CLI_FAIL, "%s: %s", model_path, err.msg);
            goto out;
        }
    }
    if (retr_cancel_new(&cancel, &err)) {
        rc = cli_error(CLI_FAIL, "%s", err.msg);
        goto out;
    }
    sig_cancel = cancel;
    int stream = gen && !json;
    retr_ask_request rq = {0};
    rq.question = q.data;
    rq.as = rt.as;
    rq.filter = &filter;
    rq.k = k ? (size_t)k : (size_t)cfg.answer_k;
    rq.max_chunks_per_doc = (size_t)cfg.max_chunks_per_doc;
    rq.vectors = rt.vectors;
    rq.embedder = rt.embedder;
    rq.gen = gen;
    rq.context_tokens = cfg.context_tokens;
    rq.max_tokens = cfg.max_tokens;
    rq.min_relevance = cfg.min_relevance / 100.0;
    rq.on_piece = stream ? print_piece : NULL;
    rq.on_queue = on_queue;
    rq.cancel = cancel;
    rq.timeout_ms = cfg.answer_timeout_s * 1000.0;
    void (*old)(int) = signal(SIGINT, on_sigint);
    int arc = retr_ask(store, &rq, &ans, &err);
    signal(SIGINT, old);
    if (arc) {
        if (stream)
            putchar('\n');
        rc = cli_error(CLI_FAIL, "%s", err.msg);
        goto out;
    }
    if (json) {
        rc = cli_print_json(retr_answer_json(ans));
    } else {
        if (stream)
            printf("\n");
        print_text(ans, stream && !retr_answer_refused(ans) ? 1 : 0);
    }
out:
    sig_cancel = NULL;
    retr_answer_free(ans);
    retr_cancel_free(cancel);
    retr_generator_free(gen);
    cli_retr_close(&rt);
    idx_store_close(store);
    keep_buf_free(&q);
    return rc;
}

const cli_command cli_cmd_ask = {"ask", "answer a question from the documents, with citations", usage, run};
