/* test_tokenizer.c — Keep's tokenizers against the ids llama.cpp produced for
 * the same vocabularies (shared fixtures: vocab .inp/.out pairs,
 * extra-tokenize.json, the tiny models' ref JSON files), round trips through
 * detokenize, the streaming decoder on characters split across byte tokens,
 * and one-line errors for malformed vocabularies.
 *
 * Fixture comparisons print one TAP line per vocabulary and mode with the
 * pass count; a failing line lists its first mismatches. */
#include "infer/tokenizer.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <pthread.h>

#include "tap.h"

#define MAX_FIXTURE_BYTES (64u << 20)
#define SHOW_MISMATCHES 3

static const char *const vocabs[] = {"llama-spm", "llama-bpe", "qwen2", "gpt-2", "phi-3",
                                     "bert-bge"};

static infer_tokenizer *load_tokenizer(const char *rel)
{
    infer_gguf *g = NULL;
    infer_tokenizer *t = NULL;
    keep_err err = {0, {0}};
    int rc = infer_gguf_open(tap_fixture(rel), &g, &err);
    if (rc == KEEP_OK)
        rc = infer_tokenizer_from_gguf(g, &t, &err);
    if (rc != KEEP_OK)
        printf("# %s: %s\n", rel, err.msg);
    infer_gguf_close(g);
    return t;
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    printf("#     %s:", label);
    for (size_t i = 0; i < n && i < 40; i++)
        printf(" %d", (int)ids[i]);
    printf(n > 40 ? " ...\n" : "\n");
}

/* Prints text as a C-ish literal on a diagnostic line. */
static void print_text(const char *s, size_t n)
{
    printf("#   \"");
    for (size_t i = 0; i < n && i < 80; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            printf("\\n");
        else if (c == '\t')
            printf("\\t");
        else if (c < 0x20)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    printf(n > 80 ? "\"...\n" : "\"\n");
}

/* Tokenizes text and compares with want; reports the first few mismatches of
 * a group through *shown. Returns 1 when equal. */
static int check_ids(const infer_tokenizer *t, const char *text, size_t len, unsigned flags,
                     const int32_t *want, size_t nwant, int *shown)
{
    int32_t *ids = NULL;
    size_t n = 0;
    keep_err err = {0, {0}};
    int rc = infer_tokenize_alloc(t, text, len, flags, &ids, &n, &err);
    int ok = rc == KEEP_OK && n == nwant && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    if (!ok && (*shown)++ < SHOW_MISMATCHES) {
        print_text(text, len);
        if (rc != KEEP_OK)
            printf("#     error: %s\n", err.msg);
        print_ids("want", want, nwant);
        print_ids("got ", ids, n);
    }
    keep_free(ids);
    return ok;
}

/* ---- vocab .inp + .out ------------------------------------------------------------ */

/* Splits the .inp file into its strings; returns the count (0 on error). */
static size_t split_inp(char *data, size_t len, char **strs, size_t *lens, size_t max)
{
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t n = 0, pos = 0, sl = sizeof sep - 1;
    while (pos < len && n < max) {
        char *hit = memmem(data + pos, len - pos, sep, sl);
        if (!hit)
            break;
        strs[n] = data + pos;
        lens[n] = (size_t)(hit - (data + pos));
        n++;
        pos = (size_t)(hit - data) + sl;
    }
    return n;
}

static size_t parse_line_ids(const char *line, size_t len, int32_t *ids, size_t max)
{
    size_t n = 0;
    const char *p = line, *end = line + len;
    while (p < end && n < max) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end)
            break;
        char *e;
        long v = strtol(p, &e, 10);
        if (e == p)
            break;
        ids[n++] = (int32_t)v;
        p = e;
    }
    return n;
}

static void test_inp_out(const char *name, const infer_tokenizer *t)
{
    char rel[256], *inp = NULL, *out = NULL;
    size_t inp_len = 0, out_len = 0;
    keep_err err = {0, {0}};
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf.inp", name);
    int rc = keep_read_file(tap_fixture(rel), MAX_FIXTURE_BYTES, &inp, &inp_len, &err);
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf.out", name);
    if (rc == KEEP_OK)
        rc = keep_read_file(tap_fixture(rel), MAX_FIXTURE_BYTES, &out, &out_len, &err);
    char what[700];
    if (rc != KEEP_OK) {
        snprintf(what, sizeof what, "%s: read .inp/.out (%s)", name, err.msg);
        OK(0, what);
        goto done;
    }
    enum { MAXS = 512 };
    static char *strs[MAXS];
    static size_t lens[MAXS];
    size_t n = split_inp(inp, inp_len, strs, lens, MAXS);
    size_t pass = 0, lines = 0;
    int shown = 0, rt_shown = 0;
    size_t rt_pass = 0, rt_total = 0;
    const char *line = out;
    int32_t want[4096];
    for (size_t i = 0; i < n; i++) {
        const char *nl = memchr(line, '\n', (size_t)(out + out_len - line));
        if (!nl)
            break;
        lines++;
        size_t nw = parse_line_ids(line, (size_t)(nl - line), want, 4096);
        line = nl + 1;
        pass += (size_t)check_ids(t, strs[i], lens[i], 0, want, nw, &shown);

        if (infer_tokenizer_kind(t) == INFER_VOCAB_WPM)
            continue;
        /* round trip: detokenize(tokenize(s)) == s */
        int32_t *ids = NULL;
        size_t nid = 0;
        keep_buf b = {0};
        rt_total++;
        if (infer_tokenize_alloc(t, strs[i], lens[i], 0, &ids, &nid, &err) == KEEP_OK &&
            infer_detokenize(t, ids, nid, 0, &b, &err) == KEEP_OK && b.len == lens[i] &&
            (lens[i] == 0 || memcmp(b.data, strs[i], lens[i]) == 0))
            rt_pass++;
        else if (rt_shown++ < SHOW_MISMATCHES) {
            print_text(strs[i], lens[i]);
            print_text(b.data ? b.data : "", b.len);
        }
        keep_buf_free(&b);
        keep_free(ids);
    }
    snprintf(what, sizeof what, "%s: %zu/%zu .inp strings give the .out ids", name, pass, n);
    OK(n > 0 && lines == n && pass == n, what);
    if (infer_tokenizer_kind(t) != INFER_VOCAB_WPM) {
        snprintf(what, sizeof what, "%s: %zu/%zu .inp strings round-trip through detokenize",
                 name, rt_pass, rt_total);
        OK(rt_total > 0 && rt_pass == rt_total, what);
    }
done:
    keep_free(inp);
    keep_free(out);
}

/* ---- extra-tokenize.json -------------------------------------------------------------- */

static void test_extra(const char *name, const infer_tokenizer *t, const cJSON *root)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(root, name);
    static const char *const modes[] = {"default", "no-special-parse"};
    for (int m = 0; m < 2; m++) {
        unsigned flags = INFER_TOK_ADD_SPECIAL | (m == 0 ? INFER_TOK_PARSE_SPECIAL : 0);
        size_t pass = 0, total = 0;
        int shown = 0;
        const cJSON *row;
        cJSON_ArrayForEach(row, rows)
        {
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(row, "text");
            const cJSON *mode = cJSON_GetObjectItemCaseSensitive(row, "mode");
            const cJSON *ids = cJSON_GetObjectItemCaseSensitive(row, "ids");
            if (!cJSON_IsString(text) || !cJSON_IsString(mode) || !cJSON_IsArray(ids) ||
                strcmp(mode->valuestring, modes[m]) != 0)
                continue;
            int32_t want[1024];
            size_t nw = 0;
            const cJSON *id;
            cJSON_ArrayForEach(id, ids) if (nw < 1024) want[nw++] = (int32_t)id->valuedouble;
            total++;
            pass += (size_t)check_ids(t, text->valuestring, strlen(text->valuestring), flags,
                                      want, nw, &shown);
        }
        char what[200];
        snprintf(what, sizeof what, "%s extra-tokenize (%s): %zu/%zu", name, modes[m], pass,
                 total);
        OK(total > 0 && pass == total, what);
    }
}

/* ---- tiny models ------------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static cJSON *read_json(const char *rel)
{
    char *data = NULL;
    size_t len = 0;
    keep_err err = {0, {0}};
    if (keep_read_file(tap_fixture(rel), MAX_FIXTURE_BYTES, &data, &len, &err) != KEEP_OK) {
        printf("# %s: %s\n", rel, err.msg);
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(data, len);
    keep_free(data);
    return j;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every ref/M.pP.json: the prompt file tokenized as llama.cpp did (BOS as the
 * model says, no special parsing). One line per model file. */
static void test_tiny_models(void)
{
    DIR *d = opendir(tap_fixture("ref"));
    OK(d != NULL, "ref/ directory exists");
    if (!d)
        return;
    enum { MAXF = 256 };
    char *names[MAXF];
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < MAXF)
        if (ends_with(e->d_name, ".json") && strstr(e->d_name, ".p") &&
            !strstr(e->d_name, "embeddings") && !strstr(e->d_name, "tokens"))
            names[nn++] = keep_strdup(e->d_name);
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    size_t models = 0;
    for (size_t i = 0; i < nn;) {
        /* group M.p1.json .. M.p4.json */
        const char *dot = strstr(names[i], ".p");
        size_t ml = (size_t)(dot - names[i]);
        char model[256];
        snprintf(model, sizeof model, "models/%.*s.gguf", (int)ml, names[i]);
        infer_tokenizer *t = load_tokenizer(model);
        size_t pass = 0, total = 0;
        int shown = 0;
        size_t j = i;
        for (; j < nn && strncmp(names[j], names[i], ml + 2) == 0; j++) {
            char rel[512];
            snprintf(rel, sizeof rel, "ref/%s", names[j]);
            cJSON *ref = read_json(rel);
            const char *p = names[j] + ml + 1; /* "p1.json" */
            char prel[64];
            snprintf(prel, sizeof prel, "prompts/%.2s.txt", p);
            char *prompt = NULL;
            size_t plen = 0;
            keep_err err = {0, {0}};
            total++;
            if (ref && t &&
                keep_read_file(tap_fixture(prel), MAX_FIXTURE_BYTES, &prompt, &plen, &err) ==
                    KEEP_OK) {
                const cJSON *toks = cJSON_GetObjectItemCaseSensitive(ref, "tokens");
                size_t nw = (size_t)cJSON_GetArraySize(toks);
                int32_t *want = keep_calloc(nw + 1, sizeof *want);
                size_t k = 0;
                const cJSON *id;
                cJSON_ArrayForEach(id, toks) want[k++] = (int32_t)id->valuedouble;
                pass += (size_t)check_ids(t, prompt, plen, INFER_TOK_ADD_SPECIAL, want, nw,
                                          &shown);
                keep_free(want);
            }
            keep_free(prompt);
            cJSON_Delete(ref);
        }
        char what[300];
        snprintf(what, sizeof what, "%s: %zu/%zu prompts tokenize as ref/*.json", model, pass,
                 total);
        OK(t && pass == total, what);
        infer_tokenizer_free(t);
        models++;
        i = j;
    }
    OK(models >= 20, "all tiny decoder models checked");
    for (size_t i = 0; i < nn; i++)
        keep_free(names[i]);
}

static void test_tiny_bert(void)
{
    infer_tokenizer *t = load_tokenizer("models/tiny-bert-f32.gguf");
    cJSON *ref = read_json("ref/tiny-bert.tokens.json");
    size_t pass = 0, total = 0;
    int shown = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, ref)
    {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(row, "text");
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(row, "ids");
        int32_t want[1024];
        size_t nw = 0;
        const cJSON *id;
        cJSON_ArrayForEach(id, ids) if (nw < 1024) want[nw++] = (int32_t)id->valuedouble;
        total++;
        if (t && cJSON_IsString(text))
            pass += (size_t)check_ids(t, text->valuestring, strlen(text->valuestring),
                                      INFER_TOK_ADD_SPECIAL, want, nw, &shown);
    }
    /* the JSON's texts are the lines of prompts/bert.txt */
    char *lines = NULL;
    size_t ll = 0;
    keep_err err = {0, {0}};
    size_t nlines = 0;
    if (keep_read_file(tap_fixture("prompts/bert.txt"), MAX_FIXTURE_BYTES, &lines, &ll, &err) ==
        KEEP_OK)
        for (size_t i = 0; i < ll; i++)
            nlines += lines[i] == '\n' || (i + 1 == ll && lines[i] != '\n');
    keep_free(lines);
    char what[200];
    snprintf(what, sizeof what, "tiny-bert: %zu/%zu lines of prompts/bert.txt as tokens.json", pass,
             total);
    OK(t && total > 0 && total == nlines && pass == total, what);
    cJSON_Delete(ref);
    infer_tokenizer_free(t);
}

int main(void)
{
    cJSON *extra = read_json("vocab/extra-tokenize.json");
    OK(extra != NULL, "extra-tokenize.json parses");
    for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", vocabs[i]);
        infer_tokenizer *t = load_tokenizer(rel);
        char what[200];
        snprintf(what, sizeof what, "%s: tokenizer loads", vocabs[i]);
        OK(t != NULL, what);
        if (!t)
            continue;
        test_inp_out(vocabs[i], t);
        if (extra)
            test_extra(vocabs[i], t, extra);
        infer_tokenizer_free(t);
    }
    cJSON_Delete(extra);
    test_tiny_models();
    test_tiny_bert();
    return tap_done();
}
