/* fuzz_html.c — libFuzzer target for the HTML walker; an input starting with
 * 'X' goes (without that byte) through the XHTML entry instead. */
#include <stddef.h>
#include <stdint.h>

#include "ingest/doc.h"
#include "ingest/parse_web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ingest_limits lim;
    ingest_limits_default(&lim);
    lim.max_text_bytes = (size_t)1 << 20;
    lim.max_pages = 50;
    lim.max_depth = 64;
    ingest_doc doc;
    ingest_doc_init(&doc, &lim);
    keep_err err;
    if (size && data[0] == 'X')
        ingest_parse_xhtml((const char *)data + 1, size - 1, &lim, &doc, &err);
    else
        ingest_parse_html((const char *)data, size, &lim, &doc, &err);
    ingest_doc_free(&doc);
    return 0;
}
