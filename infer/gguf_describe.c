/* gguf_describe.c — a summary of a GGUF model for `keep model info`: what it
 * is (architecture, name, size, quantization mix), its shape and its
 * tokenizer, as text for people or JSON for scripts. Strings from the file are
 * untrusted: they are shortened and escaped before they reach a terminal or a
 * JSON document. */
#include "gguf.h"

#include <string.h>

#include "ggml_types.h"

#define MAX_SHOWN 200 /* bytes of a file string shown */

/* Appends s[0..len) made safe: cut at MAX_SHOWN on a character boundary,
 * control characters and (in invalid UTF-8) high bytes replaced, and JSON
 * escaping when json. */
static int put_text(keep_buf *out, const char *s, size_t len, int json)
{
    int cut = 0;
    if (len > MAX_SHOWN) {
        len = keep_utf8_floor(s, MAX_SHOWN);
        cut = 1;
    }
    int utf8 = keep_utf8_valid(s, len);
    int rc = json ? keep_buf_putc(out, '"') : 0;
    for (size_t i = 0; i < len && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 && !utf8)
            rc = keep_buf_putc(out, '?');
        else if (c < 0x20 || c == 0x7f)
            rc = json ? keep_buf_printf(out, "\\u%04x", c) : keep_buf_putc(out, '?');
        else if (json && (c == '"' || c == '\\'))
            rc = keep_buf_printf(out, "\\%c", c);
        else
            rc = keep_buf_putc(out, (char)c);
    }
    if (!rc && cut)
        rc = keep_buf_puts(out, "...");
    if (!rc && json)
        rc = keep_buf_putc(out, '"');
    return rc;
}

static int put_str_key(keep_buf *out, const infer_gguf *g, const char *key, int json)
{
    const char *s;
    size_t len;
    if (infer_gguf_key_str(g, key, &s, &len) != KEEP_OK)
        return keep_buf_puts(out, json ? "null" : "-");
    return put_text(out, s, len, json);
}

static int put_u64_idx(keep_buf *out, const infer_gguf *g, long i, int json)
{
    uint64_t v;
    if (i < 0 || infer_gguf_get_u64(g, (size_t)i, &v) != KEEP_OK)
        return keep_buf_puts(out, json ? "null" : "-");
    return keep_buf_printf(out, "%llu", (unsigned long long)v);
}

static int put_arch_u64(keep_buf *out, const infer_gguf *g, const char *suffix, int json)
{
    return put_u64_idx(out, g, infer_gguf_find_arch_key(g, suffix), json);
}

int infer_gguf_describe(const infer_gguf *g, keep_buf *out, int json)
{
    size_t per_type[INFER_T_COUNT] = {0};
    uint64_t params = 0;
    for (size_t i = 0; i < infer_gguf_tensor_count(g); i++) {
        infer_gguf_tensor t;
        infer_gguf_get_tensor(g, i, &t);
        per_type[t.type]++; /* the reader only accepts known types, all < INFER_T_COUNT */
        params += t.n_elements;
    }
    uint64_t vocab = 0;
    long tk = infer_gguf_find_key(g, "tokenizer.ggml.tokens");
    int has_vocab = tk >= 0 && infer_gguf_arr_info(g, (size_t)tk, NULL, &vocab) == KEEP_OK;
    int has_template = infer_gguf_find_key(g, "tokenizer.chat_template") >= 0;
    const char *arch = infer_gguf_arch(g);
    int rc = 0;

#define P(call)                                                                                                       \
    do {                                                                                                              \
        if (!rc)                                                                                                      \
            rc = (call);                                                                                              \
    } while (0)
    if (json) {
        P(keep_buf_puts(out, "{\"architecture\":"));
        P(arch[0] ? put_text(out, arch, strlen(arch), 1) : keep_buf_puts(out, "null"));
        P(keep_buf_puts(out, ",\"name\":"));
        P(put_str_key(out, g, "general.name", 1));
        P(keep_buf_printf(out, ",\"file_size\":%zu,\"gguf_version\":%u,\"parameters\":%llu,\"tensor_count\":%zu",
                          infer_gguf_file_size(g), infer_gguf_version(g), (unsigned long long)params,
                          infer_gguf_tensor_count(g)));
        P(keep_buf_puts(out, ",\"tensor_types\":{"));
        int first = 1;
        for (uint32_t t = 0; t < INFER_T_COUNT; t++)
            if (per_type[t]) {
                P(keep_buf_printf(out, "%s\"%s\":%zu", first ? "" : ",", infer_type_get(t)->name, per_type[t]));
                first = 0;
            }
        P(keep_buf_puts(out, "},\"context_length\":"));
        P(put_arch_u64(out, g, "context_length", 1));
        P(keep_buf_puts(out, ",\"embedding_length\":"));
        P(put_arch_u64(out, g, "embedding_length", 1));
        P(keep_buf_puts(out, ",\"block_count\":"));
        P(put_arch_u64(out, g, "block_count", 1));
        P(keep_buf_puts(out, ",\"head_count\":"));
        P(put_arch_u64(out, g, "attention.head_count", 1));
        P(keep_buf_puts(out, ",\"head_count_kv\":"));
        P(put_arch_u64(out, g, "attention.head_count_kv", 1));
        P(keep_buf_puts(out, ",\"feed_forward_length\":"));
        P(put_arch_u64(out, g, "feed_forward_length", 1));
        P(keep_buf_puts(out, ",\"tokenizer_model\":"));
        P(put_str_key(out, g, "tokenizer.ggml.model", 1));
        P(keep_buf_puts(out, ",\"tokenizer_pre\":"));
        P(put_str_key(out, g, "tokenizer.ggml.pre", 1));
        if (has_vocab)
            P(keep_buf_printf(out, ",\"vocab_size\":%llu", (unsigned long long)vocab));
        else
            P(keep_buf_puts(out, ",\"vocab_size\":null"));
        P(keep_buf_printf(out, ",\"chat_template\":%s}", has_template ? "true" : "false"));
    } else {
        P(keep_buf_puts(out, "architecture:     "));
        P(arch[0] ? put_text(out, arch, strlen(arch), 0) : keep_buf_puts(out, "-"));
        P(keep_buf_puts(out, "\nname:             "));
        P(put_str_key(out, g, "general.name", 0));
        P(keep_buf_printf(out, "\nfile size:        %zu bytes (%.1f MiB), GGUF v%u\n", infer_gguf_file_size(g),
                          (double)infer_gguf_file_size(g) / (1024.0 * 1024.0), infer_gguf_version(g)));
        P(keep_buf_printf(out, "parameters:       %llu\ntensors:          %zu (", (unsigned long long)params,
                          infer_gguf_tensor_count(g)));
        int first = 1;
        for (uint32_t t = 0; t < INFER_T_COUNT; t++)
            if (per_type[t]) {
                P(keep_buf_printf(out, "%s%s: %zu", first ? "" : ", ", infer_type_get(t)->name, per_type[t]));
                first = 0;
            }
        P(keep_buf_puts(out, ")\ncontext length:   "));
        P(put_arch_u64(out, g, "context_length", 0));
        P(keep_buf_puts(out, "\nembedding width:  "));
        P(put_arch_u64(out, g, "embedding_length", 0));
        P(keep_buf_puts(out, "\nlayers:           "));
        P(put_arch_u64(out, g, "block_count", 0));
        P(keep_buf_puts(out, "\nattention heads:  "));
        P(put_arch_u64(out, g, "attention.head_count", 0));
        P(keep_buf_puts(out, " (kv heads: "));
        P(put_arch_u64(out, g, "attention.head_count_kv", 0));
        P(keep_buf_puts(out, ")\nfeed-forward:     "));
        P(put_arch_u64(out, g, "feed_forward_length", 0));
        P(keep_buf_puts(out, "\ntokenizer:        "));
        P(put_str_key(out, g, "tokenizer.ggml.model", 0));
        P(keep_buf_puts(out, " (pre: "));
        P(put_str_key(out, g, "tokenizer.ggml.pre", 0));
        if (has_vocab)
            P(keep_buf_printf(out, "), vocabulary %llu", (unsigned long long)vocab));
        else
            P(keep_buf_puts(out, "), no vocabulary"));
        P(keep_buf_printf(out, "\nchat template:    %s\n", has_template ? "yes" : "no"));
    }
#undef P
    return rc ? KEEP_ERR_NOMEM : KEEP_OK;
}
