/* fuzz_markdown.c — the text and Markdown parsers and the chunker on
 * arbitrary bytes. The first byte picks the parser and chunk size. */
#include <stdint.h>
#include <string.h>

#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    ingest_options opt;
    ingest_options_default(&opt);
    opt.chunk_chars = 50 + (size_t)(data[0] & 0x7f) * 8;
    opt.chunk_overlap = (data[0] & 0x80) ? opt.chunk_chars / 3 : 0;
    opt.max_text_bytes = 1 << 20;
    ingest_result *r = NULL;
    keep_err err;
    const char *name = (data[0] & 1) ? "f.md" : "f.txt";
    if (ingest_bytes(name, (const char *)data + 1, size - 1, &opt, &r, &err) == KEEP_OK) {
        size_t len;
        const char *text = ingest_result_text(r, &len);
        /* invariants: valid UTF-8 text, chunks inside it */
        if (!keep_utf8_valid(text, len))
            __builtin_trap();
        size_t chars = keep_utf8_count(text, len);
        for (size_t i = 0; i < ingest_result_n_chunks(r); i++) {
            const ingest_chunk *c = ingest_result_chunk(r, i);
            if (c->start >= c->end || c->end > chars || !keep_utf8_valid(c->text, c->text_len))
                __builtin_trap();
        }
    }
    ingest_result_free(r);
    return 0;
}
