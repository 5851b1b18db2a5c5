/* cmd_model.c — `keep model SUB M.gguf ...`: look inside a model file and run
 * its parts (tokenizer, embeddings, generation) from the command line. Each
 * subcommand is one entry of the table at the bottom. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "infer/infer.h"

static const char usage[] =
    "usage: keep model info M.gguf [--json]\n"
    "       keep model tokenize M.gguf TEXT [--json] [--no-bos] [--special]\n"
    "       keep model embed M.gguf TEXT [TEXT...] [--json] [--query] [--threads N]\n\n"
    "info       architecture, sizes, tensor types, tokenizer and chat template\n"
    "tokenize   token ids of TEXT: BOS/CLS added as the vocabulary says and\n"
    "           special-token text not parsed, unless told otherwise\n"
    "embed      one L2-normalized vector per TEXT (BERT-family models), as\n"
    "           passages unless --query; texts over the context are truncated\n"
    "           (a warning says so)\n\n"
    "  --json      one JSON document (tokenize: {\"ids\": [...], \"pieces\": [...]})\n"
    "  --no-bos    add no BOS/EOS/CLS/SEP\n"
    "  --special   recognise special tokens such as <|im_start|> in TEXT\n"
    "  --query     embed: use the model's query prefix (e5 \"query: \", bge instruction)\n"
    "  --threads N embed: threads (default: one per physical core)\n";

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

typedef struct {
    int json, no_bos, special;
    int n_pos;
    char *pos[8];
} model_args;

static int parse_args(int argc, char **argv, model_args *a)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"no-bos", no_argument, 0, 'b'},
                                         {"special", no_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j')
            a->json = 1;
        else if (c == 'b')
            a->no_bos = 1;
        else if (c == 's')
            a->special = 1;
        else
            return cli_usage_error(&cli_cmd_model, "unknown or incomplete option %s", argv[optind - 1]);
    }
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

/* Texts come from the command line, so their count is bounded by it. */
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
