/* fuzz_tokenizer.c — libFuzzer target for the tokenizers. The first input
 * byte picks what the rest is:
 *   0..2  text for a small hand-built BPE / SPM / WordPiece tokenizer (the
 *         second byte's low bits are the tokenize flags); byte-level BPE must
 *         round-trip exactly and the stream decoder must emit valid UTF-8;
 *   3     a GGUF file whose tokenizer.ggml.* keys are loaded (errors are fine)
 *         and, when accepted, used on a fixed text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static infer_tokenizer *tk[3];

static infer_tokenizer *make(const char *model, const char *pre, int bytes)
{
    static const char *const words[] = {"a", "b", "c", "ab", "abc", "\xC4\xA0", "\xC4\xA0" "a",
                                        "\xE2\x96\x81", "\xE2\x96\x81" "a", "##b", "[UNK]",
                                        "[CLS]", "[SEP]", "<s>", "</s>", "<|im_start|>"};
    static const char *const merges[] = {"a b", "ab c", "\xC4\xA0 a"};
    infer_vocab *v = NULL;
    infer_tokenizer *t = NULL;
    keep_err err;
    if (infer_vocab_new(model, pre, &v, &err))
        abort();
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        int type = words[i][0] == '[' || words[i][0] == '<' ? INFER_TOKEN_CONTROL : INFER_TOKEN_NORMAL;
        infer_vocab_add_token(v, words[i], strlen(words[i]), -(float)i, type, &err);
    }
    for (int b = 0; bytes && b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        infer_vocab_add_token(v, name, 6, 0, INFER_TOKEN_BYTE, &err);
    }
    if (strcmp(model, "gpt2") == 0) {
        /* the 256 characters of the byte-level alphabet */
        for (unsigned b = 0; b < 256; b++) {
            unsigned cp = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174 ? b
                          : b <= 32 ? 256 + b : b <= 160 ? 289 + (b - 127) : 323;
            char u[2];
            size_t n = 1;
            if (cp < 0x80)
                u[0] = (char)cp;
            else {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                n = 2;
            }
            infer_vocab_add_token(v, u, n, 0, INFER_TOKEN_NORMAL, &err);
        }
        for (size_t i = 0; i < sizeof merges / sizeof merges[0]; i++)
            infer_vocab_add_merge(v, merges[i], strlen(merges[i]), &err);
    }
    if (infer_tokenizer_from_vocab(v, &t, &err))
        abort();
    return t;
}

static void check_text(const infer_tokenizer *t, const char *text, size_t len, unsigned flags,
                       int exact)
{
    int32_t *ids = NULL;
    size_t n = 0;
    keep_err err;
    if (infer_tokenize_alloc(t, text, len, flags, &ids, &n, &err) != KEEP_OK)
        return;
    keep_buf b = {0};
    if (infer_detokenize(t, ids, n, 0, &b, &err) != KEEP_OK)
        abort();
    if (exact && (b.len != len || (len && memcmp(b.data, text, len) != 0)))
        abort();
    keep_buf s = {0};
    infer_tok_stream *st = NULL;
    if (infer_tok_stream_new(t, INFER_DETOK_SPECIAL, &st, &err) != KEEP_OK)
        abort();
    for (size_t i = 0; i < n; i++)
        infer_tok_stream_push(st, ids[i], &s, &err);
    infer_tok_stream_flush(st, &s, &err);
    if (!keep_utf8_valid(s.data ? s.data : "", s.len))
        abort();
    infer_tok_stream_free(st);
    keep_buf_free(&s);
    keep_buf_free(&b);
    keep_free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tk[0]) {
        tk[0] = make("gpt2", "qwen2", 0);
        tk[1] = make("llama", NULL, 1);
        tk[2] = make("bert", NULL, 0);
    }
    if (size < 2)
        return 0;
    unsigned mode = data[0], flags = data[1] & 3u;
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    if (mode < 3) {
        /* BPE round-trips any bytes unless special markup was parsed */
        check_text(tk[mode], text, len, flags, mode == 0 && !(flags & INFER_TOK_ADD_SPECIAL) &&
                                                   !(flags & INFER_TOK_PARSE_SPECIAL));
        return 0;
    }
    if (mode == 3) {
        infer_gguf *g = NULL;
        infer_tokenizer *t = NULL;
        keep_err err;
        if (infer_gguf_open_memory(data + 1, size - 1, &g, &err) == KEEP_OK &&
            infer_tokenizer_from_gguf(g, &t, &err) == KEEP_OK) {
            static const char probe[] = "Hello <s> w\xC3\xB6rld \xF0\x9F\x99\x82 [CLS] ab\xff";
            check_text(t, probe, sizeof probe - 1, INFER_TOK_ADD_SPECIAL | INFER_TOK_PARSE_SPECIAL,
                       0);
        }
        infer_tokenizer_free(t);
        infer_gguf_close(g);
    }
    return 0;
}
