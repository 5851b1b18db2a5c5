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

#include "infer/gguf_write.h"
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


/* ---- streaming decoder ------------------------------------------------------------------- */

/* Feeds the tokens of text one by one: after every push the output so far
 * must be valid UTF-8, some push must hold bytes back (the text has
 * characters split over byte tokens) and the end result must be the text. */
static void check_stream(const infer_tokenizer *t, const char *name, const char *text)
{
    int32_t *ids = NULL;
    size_t n = 0;
    keep_err err = {0, {0}};
    keep_buf out = {0};
    infer_tok_stream *s = NULL;
    int valid = 1, held = 0, rc;
    rc = infer_tokenize_alloc(t, text, strlen(text), 0, &ids, &n, &err);
    if (rc == KEEP_OK)
        rc = infer_tok_stream_new(t, 0, &s, &err);
    for (size_t i = 0; rc == KEEP_OK && i < n; i++) {
        size_t before = out.len, plen;
        infer_token_piece(t, ids[i], 0, &plen);
        rc = infer_tok_stream_push(s, ids[i], &out, &err);
        if (!keep_utf8_valid(out.data ? out.data : "", out.len))
            valid = 0;
        if (plen > 0 && out.len == before)
            held++;
    }
    if (rc == KEEP_OK)
        rc = infer_tok_stream_flush(s, &out, &err);
    char what[200];
    snprintf(what, sizeof what, "%s: stream decoder emits only whole characters", name);
    OK(rc == KEEP_OK && valid && held > 0, what);
    snprintf(what, sizeof what, "%s: streamed text equals the input", name);
    ASSERT_EQ_STR(out.data ? out.data : "", text, what);
    keep_buf_free(&out);
    infer_tok_stream_free(s);
    keep_free(ids);
}

static void test_stream_invalid(const infer_tokenizer *t)
{
    int32_t e6 = infer_tokenizer_find(t, "<0xE6>", 6), ff = infer_tokenizer_find(t, "<0xFF>", 6);
    int32_t f0 = infer_tokenizer_find(t, "<0xF0>", 6), x9f = infer_tokenizer_find(t, "<0x9F>", 6);
    int32_t a = infer_tokenizer_find(t, "A", 1);
    OK(e6 >= 0 && ff >= 0 && f0 >= 0 && x9f >= 0 && a >= 0, "llama-spm has the byte tokens");
    keep_buf out = {0};
    keep_err err = {0, {0}};
    infer_tok_stream *s = NULL;
    infer_tok_stream_new(t, 0, &s, &err);
    infer_tok_stream_push(s, e6, &out, &err);
    ASSERT_EQ_INT(out.len, 0, "a lead byte alone is held back");
    infer_tok_stream_push(s, a, &out, &err);
    ASSERT_EQ_STR(out.data, "\xEF\xBF\xBD" "A", "a cut character becomes U+FFFD");
    keep_buf_reset(&out);
    infer_tok_stream_push(s, ff, &out, &err);
    ASSERT_EQ_STR(out.data, "\xEF\xBF\xBD", "a byte that starts nothing becomes U+FFFD");
    keep_buf_reset(&out);
    infer_tok_stream_push(s, f0, &out, &err);
    infer_tok_stream_push(s, x9f, &out, &err);
    ASSERT_EQ_INT(out.len, 0, "two of four bytes are held back");
    infer_tok_stream_flush(s, &out, &err);
    ASSERT_EQ_STR(out.data, "\xEF\xBF\xBD", "flush ends a cut character with U+FFFD");
    ASSERT_EQ_INT(infer_tok_stream_push(s, 1 << 30, &out, &err), KEEP_ERR_USAGE,
                  "stream: id out of range refused");
    infer_tok_stream_free(s);
    keep_buf_free(&out);
}

/* ---- API details on the real vocabularies ------------------------------------------------ */

static void test_api_spm(const infer_tokenizer *t)
{
    int32_t ids[8];
    size_t need = 0;
    keep_err err = {0, {0}};
    int rc = infer_tokenize(t, "Hello world", 11, INFER_TOK_ADD_SPECIAL, NULL, 0, &need, &err);
    ASSERT_EQ_INT(rc, KEEP_ERR_TOOBIG, "cap 0: TOOBIG");
    ASSERT_EQ_INT(need, 3, "cap 0: needed count reported");
    rc = infer_tokenize(t, "Hello world", 11, INFER_TOK_ADD_SPECIAL, ids, 2, &need, &err);
    OK(rc == KEEP_ERR_TOOBIG && ids[0] == 1 && ids[1] == 15043, "cap 2: first two ids written");
    rc = infer_tokenize(t, "Hello world", 11, INFER_TOK_ADD_SPECIAL, ids, 8, &need, &err);
    OK(rc == KEEP_OK && need == 3 && ids[2] == 3186, "cap 8: all ids");
    rc = infer_tokenize(t, "", 0, INFER_TOK_ADD_SPECIAL, ids, 8, &need, &err);
    OK(rc == KEEP_OK && need == 1 && ids[0] == 1, "empty text with specials is just BOS");
    rc = infer_tokenize(t, "x", INFER_TOK_MAX_TEXT + 1, 0, ids, 8, &need, &err);
    ASSERT_EQ_INT(rc, KEEP_ERR_TOOBIG, "text over the cap refused before reading it");

    ASSERT_EQ_INT(infer_tokenizer_n_vocab(t), 32000, "llama-spm n_vocab");
    ASSERT_EQ_INT(infer_tokenizer_special(t, INFER_SPECIAL_BOS), 1, "llama-spm BOS");
    ASSERT_EQ_INT(infer_tokenizer_special(t, INFER_SPECIAL_EOS), 2, "llama-spm EOS");
    ASSERT_EQ_INT(infer_tokenizer_special(t, INFER_SPECIAL_UNK), 0, "llama-spm UNK");
    ASSERT_EQ_INT(infer_tokenizer_token_type(t, 1), INFER_TOKEN_CONTROL, "<s> is control");
    ASSERT_EQ_INT(infer_tokenizer_token_type(t, 13), INFER_TOKEN_BYTE, "<0x0A> is a byte token");
    ASSERT_EQ_INT(infer_tokenizer_token_type(t, 32000), -1, "type of an id out of range");
    OK(infer_tokenizer_is_eog(t, 2) && !infer_tokenizer_is_eog(t, 1), "</s> ends generation");
    size_t len;
    const char *p = infer_token_piece(t, 13, 0, &len);
    OK(p && len == 1 && p[0] == '\n', "piece of <0x0A> is a newline");
    p = infer_token_piece(t, 15043, 0, &len);
    OK(p && len == 6 && memcmp(p, " Hello", 6) == 0, "piece of \xE2\x96\x81Hello is \" Hello\"");
    p = infer_token_piece(t, 1, 0, &len);
    OK(p && len == 0, "BOS renders as nothing");
    p = infer_token_piece(t, 1, 1, &len);
    OK(p && len == 3 && memcmp(p, "<s>", 3) == 0, "BOS renders as <s> on request");
    OK(infer_token_piece(t, -1, 0, &len) == NULL && len == 0, "piece of -1 is NULL");

    /* special parsing recognises <s> only when asked */
    rc = infer_tokenize(t, "<s>hi", 5, INFER_TOK_PARSE_SPECIAL, ids, 8, &need, &err);
    OK(rc == KEEP_OK && need >= 2 && ids[0] == 1, "<s> parsed as BOS with PARSE_SPECIAL");
    rc = infer_tokenize(t, "<s>hi", 5, 0, ids, 8, &need, &err);
    OK(rc == KEEP_OK && ids[0] != 1, "<s> is text without PARSE_SPECIAL");

    keep_buf b = {0};
    int32_t bad[] = {15043, 99999};
    ASSERT_EQ_INT(infer_detokenize(t, bad, 2, 0, &b, &err), KEEP_ERR_USAGE,
                  "detokenize refuses an id out of range");
    keep_buf_reset(&b);
    int32_t hw[] = {1, 15043, 3186};
    infer_detokenize(t, hw, 3, INFER_DETOK_KEEP_LEADING_SPACE, &b, &err);
    ASSERT_EQ_STR(b.data, " Hello world", "KEEP_LEADING_SPACE keeps SentencePiece's space");
    keep_buf_free(&b);

    /* any bytes: invalid UTF-8 comes back byte for byte through byte tokens */
    static const char junk[] = "\xff\xfe abc \xc3 \xe6\x95";
    int32_t *jid = NULL;
    size_t jn = 0;
    rc = infer_tokenize_alloc(t, junk, sizeof junk - 1, 0, &jid, &jn, &err);
    keep_buf jb = {0};
    if (rc == KEEP_OK)
        rc = infer_detokenize(t, jid, jn, 0, &jb, &err);
    OK(rc == KEEP_OK && jb.len == sizeof junk - 1 && memcmp(jb.data, junk, jb.len) == 0,
       "llama-spm: invalid UTF-8 round-trips");
    keep_buf_free(&jb);
    keep_free(jid);
}

static void test_api_bpe(const infer_tokenizer *bpe, const infer_tokenizer *qwen)
{
    ASSERT_EQ_INT(infer_tokenizer_special(bpe, INFER_SPECIAL_BOS), 128000, "llama-bpe BOS");
    ASSERT_EQ_INT(infer_tokenizer_special(bpe, INFER_SPECIAL_EOT), 128009,
                  "llama-bpe EOT found by name (<|eot_id|>)");
    OK(infer_tokenizer_is_eog(bpe, 128009) && infer_tokenizer_is_eog(bpe, 128001),
       "llama-bpe <|eot_id|> and <|end_of_text|> end generation");
    OK(infer_tokenizer_adds_bos(bpe) && !infer_tokenizer_adds_bos(qwen),
       "BOS added for llama-bpe, not for qwen2");
    ASSERT_EQ_STR(infer_tokenizer_pre(qwen), "qwen2", "qwen2 pre-tokenizer in use");
    OK(infer_tokenizer_warning(qwen) == NULL, "no warning for a known pre-tokenizer");
    OK(infer_tokenizer_is_eog(qwen, 151645), "qwen2 <|im_end|> ends generation");

    static const char chat[] = "<|im_start|>user\nHi there<|im_end|>\n";
    int32_t *ids = NULL;
    size_t n = 0;
    keep_err err = {0, {0}};
    keep_buf b = {0};
    int rc = infer_tokenize_alloc(qwen, chat, sizeof chat - 1, INFER_TOK_PARSE_SPECIAL, &ids, &n,
                                  &err);
    OK(rc == KEEP_OK && n > 2 && ids[0] == 151644, "qwen2: <|im_start|> parsed");
    infer_detokenize(qwen, ids, n, INFER_DETOK_SPECIAL, &b, &err);
    ASSERT_EQ_STR(b.data, chat, "qwen2: detokenize with specials restores the markup");
    keep_buf_reset(&b);
    infer_detokenize(qwen, ids, n, 0, &b, &err);
    ASSERT_EQ_STR(b.data, "user\nHi there\n", "qwen2: control tokens hidden by default");
    keep_buf_free(&b);
    keep_free(ids);

    static const char junk[] = "\xff\xfe abc \xc3 \xe6\x95 \xed\xa0\x80";
    rc = infer_tokenize_alloc(bpe, junk, sizeof junk - 1, 0, &ids, &n, &err);
    keep_buf jb = {0};
    if (rc == KEEP_OK)
        rc = infer_detokenize(bpe, ids, n, 0, &jb, &err);
    OK(rc == KEEP_OK && jb.len == sizeof junk - 1 && memcmp(jb.data, junk, jb.len) == 0,
       "llama-bpe: invalid UTF-8 round-trips");
    keep_buf_free(&jb);
    keep_free(ids);

    /* a long run of one letter is one word: merging must stay fast (heap) */
    size_t big = 200000;
    char *run = keep_malloc(big);
    memset(run, 'a', big);
    double t0 = keep_now_ms();
    rc = infer_tokenize_alloc(bpe, run, big, 0, &ids, &n, &err);
    double ms = keep_now_ms() - t0;
    keep_buf rb = {0};
    if (rc == KEEP_OK)
        rc = infer_detokenize(bpe, ids, n, 0, &rb, &err);
    OK(rc == KEEP_OK && rb.len == big && n < big / 2, "200 kB single word tokenizes and round-trips");
    printf("# 200 kB word: %zu tokens in %.0f ms\n", n, ms);
    keep_buf_free(&rb);
    keep_free(ids);
    keep_free(run);
}

static void test_api_bert(const infer_tokenizer *t)
{
    ASSERT_EQ_INT(infer_tokenizer_special(t, INFER_SPECIAL_CLS), 101, "bert CLS");
    ASSERT_EQ_INT(infer_tokenizer_special(t, INFER_SPECIAL_SEP), 102, "bert SEP");
    ASSERT_EQ_INT(infer_tokenizer_special(t, INFER_SPECIAL_UNK), 100, "bert UNK");
    int32_t *ids = NULL;
    size_t n = 0;
    keep_err err = {0, {0}};
    keep_buf b = {0};
    static const char txt[] = "Hello, World! Caf\xC3\xA9 na\xC3\xAFve";
    int rc = infer_tokenize_alloc(t, txt, sizeof txt - 1, INFER_TOK_ADD_SPECIAL, &ids, &n, &err);
    if (rc == KEEP_OK)
        rc = infer_detokenize(t, ids, n, 0, &b, &err);
    ASSERT_EQ_STR(b.data, "hello , world ! cafe naive",
                  "bert: detokenize joins pieces, lower case without accents");
    keep_buf_free(&b);
    keep_free(ids);
    /* a word over 100 characters is [UNK] as a whole */
    char longw[160];
    memset(longw, 'a', sizeof longw);
    rc = infer_tokenize_alloc(t, longw, sizeof longw, 0, &ids, &n, &err);
    OK(rc == KEEP_OK && n == 1 && ids[0] == 100, "bert: 160-letter word is [UNK]");
    keep_free(ids);
}

/* ---- hand-built vocabularies -------------------------------------------------------------- */

static int build_quiet;

static infer_vocab *build(const char *model, const char *pre, const char *const *toks,
                          const float *scores, const int *types, size_t n,
                          const char *const *merges, size_t nm)
{
    infer_vocab *v = NULL;
    keep_err err = {0, {0}};
    if (infer_vocab_new(model, pre, &v, &err) != KEEP_OK)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (infer_vocab_add_token(v, toks[i], strlen(toks[i]), scores ? scores[i] : 0.0f,
                                  types ? types[i] : INFER_TOKEN_NORMAL, &err) != KEEP_OK)
            goto fail;
    for (size_t i = 0; i < nm; i++)
        if (infer_vocab_add_merge(v, merges[i], strlen(merges[i]), &err) != KEEP_OK)
            goto fail;
    return v;
fail:
    if (!build_quiet)
        printf("# build: %s\n", err.msg);
    infer_vocab_free(v);
    return NULL;
}

static int ids_are(const infer_tokenizer *t, const char *text, unsigned flags, const int32_t *want,
                   size_t nw)
{
    int shown = 0;
    return t && check_ids(t, text, strlen(text), flags, want, nw, &shown);
}

static void test_hand_built(void)
{
    keep_err err = {0, {0}};
    infer_tokenizer *t = NULL;

    /* BPE: rank order decides ("a b" before "\xC4\xA0 a"), unknown pre warns */
    static const char *const btok[] = {"a", "b", "c", "ab", "abc", "\xC4\xA0", "\xC4\xA0" "a"};
    static const char *const bmer[] = {"a b", "ab c", "\xC4\xA0 a"};
    int rc = infer_tokenizer_from_vocab(build("gpt2", "mystery", btok, NULL, NULL, 7, bmer, 3),
                                        &t, &err);
    ASSERT_EQ_INT(rc, KEEP_OK, "hand-built BPE builds");
    OK(t && infer_tokenizer_warning(t) && strstr(infer_tokenizer_warning(t), "mystery"),
       "unknown pre-tokenizer gives a warning naming it");
    OK(t && strcmp(infer_tokenizer_pre(t), "gpt-2") == 0, "unknown pre falls back to gpt-2");
    OK(ids_are(t, "abc ab", 0, (const int32_t[]){4, 5, 3}, 3), "BPE merges lowest rank first");
    infer_tokenizer_free(t);

    /* SPM: the best score wins ("ab" -0.5 before "\xE2\x96\x81" "a" -1); no byte
     * tokens, so an unknown character is <unk> */
    static const char *const stok[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b",
                                       "\xE2\x96\x81" "a", "ab"};
    static const float ssc[] = {0, 0, 0, -3, -4, -4, -1, -0.5f};
    static const int sty[] = {INFER_TOKEN_UNKNOWN, INFER_TOKEN_CONTROL, INFER_TOKEN_CONTROL, 1, 1,
                              1, 1, 1};
    rc = infer_tokenizer_from_vocab(build("llama", NULL, stok, ssc, sty, 8, NULL, 0), &t, &err);
    ASSERT_EQ_INT(rc, KEEP_OK, "hand-built SPM builds");
    OK(ids_are(t, "ab", 0, (const int32_t[]){3, 7}, 2), "SPM merges the best score first");
    OK(ids_are(t, "az", INFER_TOK_ADD_SPECIAL, (const int32_t[]){1, 6, 0}, 3),
       "SPM: unknown character without byte tokens is <unk>");
    infer_tokenizer_free(t);

    /* WordPiece with BERT's own "##" vocabulary */
    static const char *const wtok[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff",
                                       "##able", "hello", ","};
    static const int wty[] = {3, 3, 3, 3, 1, 1, 1, 1, 1};
    rc = infer_tokenizer_from_vocab(build("bert", NULL, wtok, NULL, wty, 9, NULL, 0), &t, &err);
    ASSERT_EQ_INT(rc, KEEP_OK, "hand-built WordPiece builds");
    OK(ids_are(t, "Unaffable, HELLO xyz", INFER_TOK_ADD_SPECIAL,
               (const int32_t[]){2, 4, 5, 6, 8, 7, 1, 3}, 8),
       "WordPiece: ## continuations, punctuation split, [UNK], [CLS]/[SEP]");
    int32_t ids[] = {2, 4, 5, 6, 8, 7, 1, 3};
    keep_buf b = {0};
    infer_detokenize(t, ids, 8, 0, &b, &err);
    ASSERT_EQ_STR(b.data, "unaffable , hello", "WordPiece detokenize joins ## pieces");
    keep_buf_free(&b);
    infer_tokenizer_free(t);

    /* malformed by hand */
    static const char *const one[] = {"a", "b"};
    infer_vocab *v = build("gpt2", "gpt-2", one, NULL, NULL, 2, NULL, 0);
    OK(v && infer_vocab_add_merge(v, "ab", 2, &err) == KEEP_ERR_CORRUPT,
       "merge without a space refused");
    OK(v && infer_vocab_add_merge(v, "a ", 2, &err) == KEEP_ERR_CORRUPT,
       "merge with an empty right side refused");
    OK(v && infer_vocab_add_token(v, "x", 1, 0, 7, &err) == KEEP_ERR_CORRUPT,
       "token type 7 refused");
    if (v)
        v->bos = 5;
    rc = infer_tokenizer_from_vocab(v, &t, &err);
    OK(rc == KEEP_ERR_CORRUPT && t == NULL, "BOS id out of range refused at build");
    printf("#   %s\n", err.msg);
    OK(infer_vocab_new("t5", NULL, &v, &err) == KEEP_ERR_UNSUPPORTED && v == NULL,
       "unsupported tokenizer model refused");
}

/* Every allocation of building and using a tokenizer may fail: the result
 * is an error (never a crash or, under ASan, a leak), and with enough
 * successful allocations everything works. */
static void test_alloc_failures(void)
{
    static const char *const btok[] = {"a", "b", "ab", "\xC4\xA0", "<|x|>"};
    static const int bty[] = {1, 1, 1, 1, INFER_TOKEN_CONTROL};
    static const char *const bmer[] = {"a b"};
    static const char *const kinds[] = {"gpt2", "llama", "bert"};
    build_quiet = 1;
    for (int k = 0; k < 3; k++) {
        int ok_at = -1, crashed_rc = 0;
        for (long n = 0; n < 400 && ok_at < 0; n++) {
            keep_err err = {0, {0}};
            keep_alloc_fail_after(n);
            infer_vocab *v = build(kinds[k], "gpt-2", btok, NULL, bty, 5, k == 0 ? bmer : NULL,
                                   k == 0 ? 1 : 0);
            infer_tokenizer *t = NULL;
            int32_t *ids = NULL;
            size_t nid = 0;
            keep_buf b = {0};
            int rc = v ? infer_tokenizer_from_vocab(v, &t, &err) : KEEP_ERR_NOMEM;
            if (rc == KEEP_OK)
                rc = infer_tokenize_alloc(t, "ab a<|x|>b", 10,
                                          INFER_TOK_ADD_SPECIAL | INFER_TOK_PARSE_SPECIAL, &ids,
                                          &nid, &err);
            if (rc == KEEP_OK)
                rc = infer_detokenize(t, ids, nid, 0, &b, &err);
            keep_alloc_fail_after(-1);
            if (rc == KEEP_OK)
                ok_at = (int)n;
            else if (rc != KEEP_ERR_NOMEM) {
                crashed_rc = rc;
                printf("#   fail after %ld: %s\n", n, err.msg);
            }
            keep_buf_free(&b);
            keep_free(ids);
            infer_tokenizer_free(t);
        }
        char what[120];
        snprintf(what, sizeof what, "%s: every failed allocation is NOMEM, success after %d",
                 kinds[k], ok_at);
        OK(ok_at > 0 && crashed_rc == 0, what);
    }
    build_quiet = 0;
}

/* ---- malformed GGUF vocabularies ---------------------------------------------------------------- */

static int load_variant(int variant, keep_err *err, infer_tokenizer **out)
{
    infer_gguf_writer *w = NULL;
    infer_gguf *g = NULL;
    char *mem = NULL;
    size_t len = 0;
    *out = NULL;
    static const char *const toks[] = {"a", "b", "ab"};
    static const char *const merges[] = {"a b"};
    static const char *const bad_merges[] = {"ab"};
    int32_t types[3] = {1, 1, 1};
    float scores[4] = {0, 0, 0, 0}; /* variant 9 declares one score too many */
    uint32_t nums[3] = {1, 2, 3};
    int rc = infer_gguf_writer_new(&w, err);
    if (rc != KEEP_OK)
        return rc;
    if (variant != 10)
        infer_gguf_writer_set_str(w, "tokenizer.ggml.model", variant == 7 ? "t5" : "gpt2");
    infer_gguf_writer_set_str(w, "tokenizer.ggml.pre", "gpt-2");
    if (variant == 8)
        infer_gguf_writer_set_arr(w, "tokenizer.ggml.tokens", INFER_GGUF_U32, nums, 3);
    else if (variant != 1)
        infer_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 3);
    if (variant == 3)
        types[1] = 9;
    infer_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", INFER_GGUF_I32, types,
                              variant == 2 ? 2 : 3);
    infer_gguf_writer_set_arr(w, "tokenizer.ggml.scores", INFER_GGUF_F32, scores,
                              variant == 9 ? 4 : 3);
    if (variant == 6)
        infer_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", bad_merges, NULL, 1);
    else if (variant != 5)
        infer_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, NULL, 1);
    infer_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", variant == 4 ? 3 : 0);
    rc = infer_gguf_writer_to_memory(w, &mem, &len, err);
    if (rc == KEEP_OK)
        rc = infer_gguf_open_memory(mem, len, &g, err);
    if (rc == KEEP_OK)
        rc = infer_tokenizer_from_gguf(g, out, err);
    infer_gguf_close(g);
    keep_free(mem);
    infer_gguf_writer_free(w);
    return rc;
}

static void test_malformed_gguf(void)
{
    static const char *const what[] = {
        "well-formed synthetic vocab loads",   "missing tokenizer.ggml.tokens refused",
        "token_type length mismatch refused",  "token type 9 refused",
        "bos_token_id out of range refused",   "BPE without merges refused",
        "merge without a space refused",       "tokenizer model t5 unsupported",
        "tokens of the wrong array type refused", "scores length mismatch refused",
        "missing tokenizer.ggml.model refused"};
    for (int v = 0; v < 11; v++) {
        keep_err err = {0, {0}};
        infer_tokenizer *t = NULL;
        int rc = load_variant(v, &err, &t);
        if (v == 0) {
            OK(rc == KEEP_OK && ids_are(t, "ab", 0, (const int32_t[]){2}, 1), what[v]);
        } else {
            OK(rc != KEEP_OK && t == NULL && err.msg[0] != '\0', what[v]);
            printf("#   %s\n", err.msg);
        }
        infer_tokenizer_free(t);
    }
}

/* ---- concurrency ------------------------------------------------------------------------------- */

typedef struct {
    const infer_tokenizer *t;
    const char *text;
    size_t len;
    const int32_t *want;
    size_t nwant;
    int ok;
} thread_job;

static void *tokenize_many(void *arg)
{
    thread_job *j = arg;
    j->ok = 1;
    for (int r = 0; r < 10; r++) {
        int32_t *ids = NULL;
        size_t n = 0;
        keep_err err = {0, {0}};
        if (infer_tokenize_alloc(j->t, j->text, j->len, INFER_TOK_ADD_SPECIAL, &ids, &n, &err) !=
                KEEP_OK ||
            n != j->nwant || memcmp(ids, j->want, n * sizeof *ids) != 0)
            j->ok = 0;
        keep_free(ids);
    }
    return NULL;
}

static void test_threads(const infer_tokenizer *t)
{
    char *text = NULL;
    size_t len = 0;
    keep_err err = {0, {0}};
    int32_t *want = NULL;
    size_t nwant = 0;
    if (keep_read_file(tap_fixture("prompts/p4.txt"), MAX_FIXTURE_BYTES, &text, &len, &err) !=
            KEEP_OK ||
        infer_tokenize_alloc(t, text, len, INFER_TOK_ADD_SPECIAL, &want, &nwant, &err) != KEEP_OK) {
        OK(0, "threads: prompt tokenizes");
        keep_free(text);
        return;
    }
    thread_job jobs[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        jobs[i] = (thread_job){t, text, len, want, nwant, 0};
        pthread_create(&th[i], NULL, tokenize_many, &jobs[i]);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    OK(jobs[0].ok && jobs[1].ok && jobs[2].ok, "3 threads tokenizing at once agree");
    keep_free(want);
    keep_free(text);
}

int main(void)
{
    cJSON *extra = read_json("vocab/extra-tokenize.json");
    OK(extra != NULL, "extra-tokenize.json parses");
    infer_tokenizer *kept[sizeof vocabs / sizeof vocabs[0]] = {0};
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
        kept[i] = t;
    }
    if (kept[0]) {
        check_stream(kept[0], "llama-spm", "\xE6\x95\xB0\xE6\x8D\xAE \xF0\x9F\x99\x82 ok \xE7\x95\x99");
        test_stream_invalid(kept[0]);
        test_api_spm(kept[0]);
    }
    if (kept[1])
        check_stream(kept[1], "llama-bpe", "emoji \xF0\x9F\x99\x82\xF0\x9F\x9A\x80 and \xE6\x95\xB0\xE6\x8D\xAE");
    if (kept[1] && kept[2]) {
        test_api_bpe(kept[1], kept[2]);
        test_threads(kept[1]);
    }
    if (kept[5])
        test_api_bert(kept[5]);
    for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++)
        infer_tokenizer_free(kept[i]);
    test_hand_built();
    test_alloc_failures();
    test_malformed_gguf();
    cJSON_Delete(extra);
    test_tiny_models();
    test_tiny_bert();
    return tap_done();
}
