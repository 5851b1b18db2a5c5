/* fuzz_email.c — libFuzzer target: GMime-based .eml and mbox parsing, MIME
 * walk, charset conversion and HTML bodies must return cleanly on any bytes. */
#include <stddef.h>
#include <stdint.h>

#include "ingest/doc.h"
#include "ingest/parse_mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ingest_limits lim;
    ingest_limits_default(&lim);
    lim.max_text_bytes = (size_t)1 << 20;
    ingest_doc doc;
    keep_err err;
    ingest_doc_init(&doc, &lim);
    if (ingest_parse_email((const char *)data, size, &lim, &doc, &err) == KEEP_OK)
        ingest_doc_finish(&doc);
    ingest_doc_free(&doc);
    ingest_doc_init(&doc, &lim);
    ingest_parse_mbox((const char *)data, size, &lim, &doc, &err);
    ingest_doc_free(&doc);
    return 0;
}
