/* cmd_model.c — `keep model SUB M.gguf ...`: look inside a model file and run
 * its parts (tokenizer, embeddings, generation) from the command line. Each
 * subcommand is one entry of the table at the bottom. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "infer/infer.h"

static const char usage[] =
    "usage: keep model info M.gguf [--json]\n"
    "       keep model tokenize M.gguf TEXT [--json] [--no-bos] [--special]\n"
    "       keep model embed M.gguf TEXT [TEXT...] [--json] [--query] [--threads N]\n"
    "       keep model logits M.gguf TEXT [--top N] [--json]\n"
    "       keep model generate M.gguf PROMPT [-n N] [--greedy | --temp T --top-k K\n"
    "                 --top-p P --min-p M --repeat-penalty R --seed S] [--chat]\n"
    "                 [--system TEXT] [--template NAME] [--stop S]... [--ctx N]\n"
    "       keep model bench M.gguf [-p 512] [-n 128] [-t THREADS]\n\n"
    "info       architecture, sizes, tensor types, tokenizer and chat template\n"
    "tokenize   token ids of TEXT: BOS/CLS added as the vocabulary says and\n"
    "           special-token text not parsed, unless told otherwise\n"
    "embed      one L2-normalized vector per TEXT (BERT-family models), as\n"
    "           passages unless --query; texts over the context are truncated\n"
    "           (a warning says so)\n"
    "logits     last-position logits of TEXT (tokenized as by tokenize)\n"
    "generate   continue PROMPT (or answer it with --chat), streaming the text\n"
    "bench      prompt processing and generation speed in tokens/s\n\n"
    "  --json      one JSON document (tokenize: {\"ids\": [...], \"pieces\": [...]};\n"
    "              logits: {\"tokens\": [...], \"n_vocab\": N, \"logits\": [...]})\n"
    "  --no-bos    add no BOS/EOS/CLS/SEP\n"
    "  --special   recognise special tokens such as <|im_start|> in TEXT\n"
    "  --query     embed: use the model's query prefix (e5 \"query: \", bge instruction)\n"
    "  --threads N embed: threads (default: one per physical core)\n"
    "  --top N     logits: show the N highest (default 10)\n"
    "  -n N        generate: at most N tokens (default 256); bench: tokens generated (128)\n"
    "  -p N        bench: prompt tokens (default 512)\n"
    "  -t N        threads (default: physical cores)\n"
    "  --chat      wrap PROMPT in the model's chat template as a user message\n"
    "  --template  chatml|llama3|llama2|mistral|phi3|gemma instead of the detected one\n";

/* A piece can be a lone byte of a multi-byte character: JSON needs valid
 * UTF-8, so such bytes are shown as <0xAB>. Caller frees with keep_free. */
static char *printable_piece(const char *p, size_t len)
{
    keep_buf b = {0};
    size_t i = 0;
    while (i < len) {
        size_t l = 1;
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x80) {
            l = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (i + l > len || !keep_utf8_valid(p + i, l))
                l = 0;
        }
        if (l == 0) {
            keep_buf_printf(&b, "<0x%02X>", c);
            i++;
        } else {
            keep_buf_append(&b, p + i, l);
            i += l;
        }
    }
    return keep_buf_take(&b);
}

#define MAX_STOP 8

typedef struct {
    int json, no_bos, special, chat, greedy;
    long top, n_gen, n_prompt, threads, ctx;
    infer_sampling samp;
    const char *system, *tmpl;
    const char *stop[MAX_STOP];
    int n_stop;
    int n_pos;
    char *pos[8];
} model_args;

static int parse_float(const char *s, double min, double max, float *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= min && v <= max)) return 1;
    *out = (float)v;
    return 0;
}

static int parse_args(int argc, char **argv, model_args *a)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"no-bos", no_argument, 0, 'b'},
                                         {"special", no_argument, 0, 's'},
                                         {"top", required_argument, 0, 'T'},
                                         {"greedy", no_argument, 0, 'g'},
                                         {"temp", required_argument, 0, 'e'},
                                         {"top-k", required_argument, 0, 'k'},
                                         {"top-p", required_argument, 0, 'P'},
                                         {"min-p", required_argument, 0, 'm'},
                                         {"repeat-penalty", required_argument, 0, 'r'},
                                         {"seed", required_argument, 0, 'S'},
                                         {"chat", no_argument, 0, 'c'},
                                         {"system", required_argument, 0, 'y'},
                                         {"template", required_argument, 0, 'L'},
                                         {"stop", required_argument, 0, 'x'},
                                         {"ctx", required_argument, 0, 'C'},
                                         {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->top = 10;
    a->n_gen = -1;
    a->n_prompt = 512;
    infer_sampling_defaults(&a->samp);
    int c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "n:p:t:", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'j': a->json = 1; break;
        case 'b': a->no_bos = 1; break;
        case 's': a->special = 1; break;
        case 'g': a->greedy = 1; break;
        case 'c': a->chat = 1; break;
        case 'y': a->system = optarg; break;
        case 'L': a->tmpl = optarg; break;
        case 'T': bad = cli_parse_int(optarg, 1, 1 << 22, &a->top); break;
        case 'n': bad = cli_parse_int(optarg, 1, 1 << 20, &a->n_gen); break;
        case 'p': bad = cli_parse_int(optarg, 1, 1 << 20, &a->n_prompt); break;
        case 't': bad = cli_parse_int(optarg, 1, 256, &a->threads); break;
        case 'C': bad = cli_parse_int(optarg, 16, 1 << 20, &a->ctx); break;
        case 'e': bad = parse_float(optarg, 0, 100, &a->samp.temperature); break;
        case 'P': bad = parse_float(optarg, 0, 1, &a->samp.top_p); break;
        case 'm': bad = parse_float(optarg, 0, 1, &a->samp.min_p); break;
        case 'r': bad = parse_float(optarg, 0.01, 100, &a->samp.repeat_penalty); break;
        case 'k':
            bad = cli_parse_int(optarg, 0, 1 << 22, &v);
            a->samp.top_k = (int)v;
            break;
        case 'S':
            bad = cli_parse_int(optarg, 0, 0x7fffffffL, &v);
            a->samp.seed = (uint64_t)v;
            break;
        case 'x':
            if (a->n_stop == MAX_STOP) return cli_usage_error(&cli_cmd_model, "at most %d --stop", MAX_STOP);
            a->stop[a->n_stop++] = optarg;
            break;
        default:
            return cli_usage_error(&cli_cmd_model, "unknown or incomplete option %s", argv[optind - 1]);
        }
        if (bad) return cli_usage_error(&cli_cmd_model, "bad value for %s: %s", argv[optind - 2], optarg);
    }
    if (a->greedy) a->samp.temperature = 0;
    for (int i = optind; i < argc; i++) {
        if (a->n_pos == 8)
            return cli_usage_error(&cli_cmd_model, "too many arguments");
        a->pos[a->n_pos++] = argv[i];
    }
    return CLI_OK;
}

static int cmd_info(int argc, char **argv)
{
    model_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    if (a.n_pos != 1)
        return cli_usage_error(&cli_cmd_model, "info takes one model file");
    keep_buf out = {0};
    keep_err err;
    keep_err_clear(&err);
    if (infer_model_describe_file(a.pos[0], &out, a.json, &err)) {
        keep_buf_free(&out);
        return cli_error(CLI_FAIL, "%s: %s", a.pos[0], err.msg);
    }
    fputs(out.data ? out.data : "", stdout);
    if (out.len && out.data[out.len - 1] != '\n')
        putchar('\n');
    keep_buf_free(&out);
    return CLI_OK;
}

static int cmd_tokenize(int argc, char **argv)
{
    model_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    if (a.n_pos != 2)
        return cli_usage_error(&cli_cmd_model, "tokenize takes a model file and a text");
    infer_tokenizer *t = NULL;
    keep_err err;
    keep_err_clear(&err);
    if (infer_tokenizer_open_file(a.pos[0], &t, &err))
        return cli_error(CLI_FAIL, "%s: %s", a.pos[0], err.msg);
    unsigned flags = (a.no_bos ? 0 : INFER_TOK_ADD_SPECIAL) | (a.special ? INFER_TOK_PARSE_SPECIAL : 0);
    int32_t *ids = NULL;
    size_t n = 0;
    if (infer_tokenize_alloc(t, a.pos[1], strlen(a.pos[1]), flags, &ids, &n, &err)) {
        infer_tokenizer_free(t);
        return cli_error(CLI_FAIL, "%s", err.msg);
    }
    cJSON *doc = a.json ? cJSON_CreateObject() : NULL;
    cJSON *jids = doc ? cJSON_AddArrayToObject(doc, "ids") : NULL;
    cJSON *jpieces = doc ? cJSON_AddArrayToObject(doc, "pieces") : NULL;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *p = infer_token_piece(t, ids[i], 1, &len);
        char *shown = printable_piece(p ? p : "", p ? len : 0);
        if (doc) {
            cJSON_AddItemToArray(jids, cJSON_CreateNumber(ids[i]));
            cJSON_AddItemToArray(jpieces, cJSON_CreateString(shown ? shown : ""));
        } else {
            printf("%6d  '%s'\n", ids[i], shown ? shown : "");
        }
        keep_free(shown);
    }
    keep_free(ids);
    infer_tokenizer_free(t);
    return doc ? cli_print_json(doc) : CLI_OK;
}

/* Opens model + context; prints the error. */
static int open_model(const char *path, long threads, long n_ctx, infer_model **m, infer_ctx **c)
{
    keep_err err;
    keep_err_clear(&err);
    *m = NULL;
    *c = NULL;
    if (infer_model_open(path, m, &err)) return cli_error(CLI_FAIL, "%s: %s", path, err.msg);
    infer_ctx_params p = {.n_ctx = (size_t)n_ctx, .n_threads = (int)threads};
    if (infer_ctx_new(*m, &p, c, &err)) {
        infer_model_free(*m);
        *m = NULL;
        return cli_error(CLI_FAIL, "%s: %s", path, err.msg);
    }
    return CLI_OK;
}

static int cmd_logits(int argc, char **argv)
{
    model_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    if (a.n_pos != 2) return cli_usage_error(&cli_cmd_model, "logits takes a model file and a text");
    infer_model *m;
    infer_ctx *c;
    if ((rc = open_model(a.pos[0], a.threads, a.ctx, &m, &c))) return rc;
    keep_err err;
    keep_err_clear(&err);
    int32_t *ids = NULL;
    size_t n = 0;
    const infer_tokenizer *t = infer_model_tokenizer(m);
    if (infer_tokenize_alloc(t, a.pos[1], strlen(a.pos[1]), INFER_TOK_ADD_SPECIAL, &ids, &n, &err) ||
        infer_ctx_eval(c, ids, n, NULL, &err)) {
        rc = cli_error(CLI_FAIL, "%s", err.msg);
        goto out;
    }
    const float *lg = infer_ctx_logits(c);
    size_t nv = infer_model_n_vocab(m);
    if (a.json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON *jt = cJSON_AddArrayToObject(doc, "tokens");
        for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(jt, cJSON_CreateNumber(ids[i]));
        cJSON_AddNumberToObject(doc, "n_vocab", (double)nv);
        cJSON *jl = cJSON_AddArrayToObject(doc, "logits");
        for (size_t i = 0; i < nv; i++) cJSON_AddItemToArray(jl, cJSON_CreateNumber(lg[i]));
        rc = cli_print_json(doc);
        goto out;
    }
    size_t top = (size_t)a.top < nv ? (size_t)a.top : nv;
    int32_t *best = keep_calloc(top, sizeof *best);
    if (!best) {
        rc = cli_error(CLI_FAIL, "out of memory");
        goto out;
    }
    size_t nb = 0;
    for (size_t i = 0; i < nv; i++) {
        size_t j = nb < top ? nb++ : top;
        if (j == top && lg[i] <= lg[best[top - 1]]) continue;
        if (j == top) j = top - 1;
        while (j > 0 && lg[best[j - 1]] < lg[i]) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = (int32_t)i;
    }
    printf("%zu prompt tokens, %zu logits\n", n, nv);
    for (size_t i = 0; i < nb; i++) {
        size_t len = 0;
        const char *pc = infer_token_piece(t, best[i], 1, &len);
        char *shown = printable_piece(pc ? pc : "", pc ? len : 0);
        printf("%8d  %10.4f  '%s'\n", best[i], lg[best[i]], shown ? shown : "");
        keep_free(shown);
    }
    keep_free(best);
out:
    keep_free(ids);
    infer_ctx_free(c);
    infer_model_free(m);
    return rc;
}

static infer_ctx *sigint_ctx;

static void on_sigint(int sig)
{
    (void)sig;
    if (sigint_ctx) infer_ctx_cancel(sigint_ctx);
}

static int print_piece(void *user, const char *text, size_t len)
{
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static int cmd_generate(int argc, char **argv)
{
    model_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    if (a.n_pos != 2) return cli_usage_error(&cli_cmd_model, "generate takes a model file and a prompt");
    int fmt = INFER_CHAT_CHATML;
    if (a.tmpl && (fmt = infer_chat_from_name(a.tmpl)) < 0)
        return cli_usage_error(&cli_cmd_model, "unknown template %s", a.tmpl);
    infer_model *m;
    infer_ctx *c;
    if ((rc = open_model(a.pos[0], a.threads, a.ctx, &m, &c))) return rc;
    keep_err err;
    keep_err_clear(&err);
    keep_buf text = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    unsigned flags = INFER_TOK_ADD_SPECIAL;
    const char *prompt = a.pos[1];
    if (a.chat) {
        if (!a.tmpl) fmt = infer_chat_detect(infer_model_chat_template(m));
        infer_chat_msg msgs[2] = {{"system", a.system}, {"user", a.pos[1]}};
        int first = a.system ? 0 : 1;
        if (infer_chat_apply(fmt, msgs + first, 2 - (size_t)first, 1, &text, &err)) {
            rc = cli_error(CLI_FAIL, "%s", err.msg);
            goto out;
        }
        prompt = text.data;
        flags |= INFER_TOK_PARSE_SPECIAL;
    }
    if (infer_tokenize_alloc(infer_model_tokenizer(m), prompt, strlen(prompt), flags, &ids, &n, &err)) {
        rc = cli_error(CLI_FAIL, "%s", err.msg);
        goto out;
    }
    infer_gen_params gp;
    infer_gen_defaults(&gp);
    gp.sampling = a.samp;
    gp.max_tokens = a.n_gen > 0 ? (size_t)a.n_gen : 256;
    gp.stop = a.stop;
    gp.n_stop = (size_t)a.n_stop;
    gp.on_piece = print_piece;
    infer_gen_result res;
    sigint_ctx = c;
    void (*old)(int) = signal(SIGINT, on_sigint);
    int grc = infer_generate(c, ids, n, &gp, NULL, &res, &err);
    signal(SIGINT, old);
    sigint_ctx = NULL;
    putchar('\n');
    if (grc && grc != KEEP_ERR_CANCELLED) {
        rc = cli_error(CLI_FAIL, "%s", err.msg);
        goto out;
    }
    fprintf(stderr, "[%zu prompt tokens, %.1f tokens/s; %zu generated, %.1f tokens/s]\n", res.n_prompt,
            res.prompt_ms > 0 ? (double)(res.n_prompt - res.n_reused) * 1000.0 / res.prompt_ms : 0.0,
            res.n_generated, res.gen_ms > 0 ? (double)res.n_generated * 1000.0 / res.gen_ms : 0.0);
out:
    keep_buf_free(&text);
    keep_free(ids);
    infer_ctx_free(c);
    infer_model_free(m);
    return rc;
}

static int cmd_bench(int argc, char **argv)
{
    model_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    if (a.n_pos != 1) return cli_usage_error(&cli_cmd_model, "bench takes a model file");
    size_t np = (size_t)a.n_prompt, ng = a.n_gen > 0 ? (size_t)a.n_gen : 128;
    infer_model *m;
    infer_ctx *c;
    if ((rc = open_model(a.pos[0], a.threads, (long)(np + ng + 16), &m, &c))) return rc;
    keep_err err;
    keep_err_clear(&err);
    size_t nv = infer_model_n_vocab(m);
    int32_t *seq = keep_calloc(np + ng + 1, sizeof *seq);
    if (!seq) {
        rc = cli_error(CLI_FAIL, "out of memory");
        goto out;
    }
    /* the same spread of ids as ../shared/tools/llamacpp-bench.mjs */
    for (size_t i = 0; i < np; i++) seq[i] = (int32_t)((1000 + (i * 7919) % 20000) % nv);
    /* warm-up (as llama-bench): one token maps every weight page and wakes
     * the workers, so the timings measure compute, not page faults */
    if (infer_ctx_eval(c, seq, 1, NULL, &err)) {
        rc = cli_error(CLI_FAIL, "%s", err.msg);
        goto out;
    }
    infer_ctx_reset(c);
    double t0 = keep_now_ms();
    if (infer_ctx_eval(c, seq, np, NULL, &err)) {
        rc = cli_error(CLI_FAIL, "%s", err.msg);
        goto out;
    }
    double t1 = keep_now_ms();
    size_t len = np;
    for (size_t i = 0; i < ng; i++) {
        const float *lg = infer_ctx_logits(c);
        size_t b = 0;
        for (size_t j = 1; j < nv; j++)
            if (lg[j] > lg[b]) b = j;
        seq[len++] = (int32_t)b;
        if (infer_ctx_eval(c, seq, len, NULL, &err)) {
            rc = cli_error(CLI_FAIL, "%s", err.msg);
            goto out;
        }
    }
    double t2 = keep_now_ms();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double pp = (double)np * 1000.0 / (t1 - t0), tg = (double)ng * 1000.0 / (t2 - t1);
    if (a.json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "model", a.pos[0]);
        cJSON_AddNumberToObject(doc, "threads", infer_ctx_n_threads(c));
        cJSON_AddNumberToObject(doc, "prompt_tokens", (double)np);
        cJSON_AddNumberToObject(doc, "prompt_tps", pp);
        cJSON_AddNumberToObject(doc, "gen_tokens", (double)ng);
        cJSON_AddNumberToObject(doc, "gen_tps", tg);
        cJSON_AddNumberToObject(doc, "peak_rss_mib", (double)ru.ru_maxrss / 1024.0);
        rc = cli_print_json(doc);
        goto out;
    }
    printf("| model | arch | threads | test | t/s |\n|---|---|---|---|---|\n");
    const char *base = strrchr(a.pos[0], '/');
    base = base ? base + 1 : a.pos[0];
    printf("| %s | %s | %d | pp%zu | %.2f |\n", base, infer_model_arch(m), infer_ctx_n_threads(c), np, pp);
    printf("| %s | %s | %d | tg%zu | %.2f |\n", base, infer_model_arch(m), infer_ctx_n_threads(c), ng, tg);
    printf("peak RSS %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
out:
    keep_free(seq);
    infer_ctx_free(c);
    infer_model_free(m);
    return rc;
}

static int cmd_embed(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"query", no_argument, 0, 'q'},
                                         {"threads", required_argument, 0, 't'},
                                         {0, 0, 0, 0}};
    int json = 0, query = 0, c;
    long threads = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 'q') {
            query = 1;
        } else if (c == 't') {
            char *end;
            threads = strtol(optarg, &end, 10);
            if (*end || threads < 1 || threads > 256)
                return cli_usage_error(&cli_cmd_model, "--threads takes 1..256");
        } else {
            return cli_usage_error(&cli_cmd_model, "unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    if (argc - optind < 2)
        return cli_usage_error(&cli_cmd_model, "embed takes a model file and at least one text");
    const char *path = argv[optind];
    size_t n = (size_t)(argc - optind - 1);
    const char *const *texts = (const char *const *)(argv + optind + 1);
    infer_embed_opts o = {.n_threads = (int)threads, .pooling = INFER_POOL_DEFAULT};
    infer_embedder *e = NULL;
    keep_err err;
    keep_err_clear(&err);
    if (infer_embedder_open(path, &o, &e, &err))
        return cli_error(CLI_FAIL, "%s", err.msg);
    size_t dim = infer_embedder_dim(e);
    float *vec = keep_calloc(n, dim * sizeof(float));
    unsigned char *cut = keep_calloc(n, 1);
    if (!vec || !cut) {
        keep_free(vec);
        keep_free(cut);
        infer_embedder_free(e);
        return cli_error(CLI_FAIL, "out of memory");
    }
    if (infer_embed(e, texts, NULL, n, query, vec, cut, &err)) {
        keep_free(vec);
        keep_free(cut);
        infer_embedder_free(e);
        return cli_error(CLI_FAIL, "%s", err.msg);
    }
    for (size_t i = 0; i < n; i++)
        if (cut[i])
            fprintf(stderr, "keep: text %zu truncated to %zu tokens\n", i, infer_embedder_max_tokens(e));
    int rc = CLI_OK;
    if (json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "model", infer_embedder_name(e));
        cJSON_AddNumberToObject(doc, "dim", (double)dim);
        cJSON *data = cJSON_AddArrayToObject(doc, "data");
        for (size_t i = 0; i < n; i++) {
            cJSON *item = cJSON_CreateObject();
            cJSON_AddNumberToObject(item, "index", (double)i);
            cJSON *arr = cJSON_AddArrayToObject(item, "embedding");
            for (size_t k = 0; k < dim; k++)
                cJSON_AddItemToArray(arr, cJSON_CreateNumber(vec[i * dim + k]));
            cJSON_AddItemToArray(data, item);
        }
        rc = cli_print_json(doc);
    } else {
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < dim; k++)
                printf(k ? " %.7g" : "%.7g", (double)vec[i * dim + k]);
            putchar('\n');
        }
    }
    keep_free(vec);
    keep_free(cut);
    infer_embedder_free(e);
    return rc;
}

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
} model_sub;

static const model_sub subs[] = {
    {"info", cmd_info},
    {"tokenize", cmd_tokenize},
    {"embed", cmd_embed},
    {"logits", cmd_logits},
    {"generate", cmd_generate},
    {"bench", cmd_bench},
};

static int run(cli_env *env, int argc, char **argv)
{
    (void)env;
    if (argc < 2)
        return cli_usage_error(&cli_cmd_model, "give a subcommand");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1);
    return cli_usage_error(&cli_cmd_model, "unknown subcommand '%s'", argv[1]);
}

const cli_command cli_cmd_model = {"model", "inspect and run GGUF model files", usage, run};
