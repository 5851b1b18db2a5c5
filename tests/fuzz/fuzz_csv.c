/* fuzz_csv.c — libFuzzer target: CSV sniffing, quoting and rendering (and the
 * encoding layer under it) must return cleanly on any bytes. */
#include <stddef.h>
#include <stdint.h>

#include "ingest/doc.h"
#include "ingest/parse_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ingest_limits lim;
    ingest_limits_default(&lim);
    lim.max_text_bytes = (size_t)1 << 20;
    ingest_doc doc;
    keep_err err;
    ingest_doc_init(&doc, &lim);
    if (ingest_parse_csv((const char *)data, size, &lim, &doc, &err) == KEEP_OK)
        ingest_doc_finish(&doc);
    ingest_doc_free(&doc);
    ingest_doc_init(&doc, &lim);
    ingest_parse_tsv((const char *)data, size, &lim, &doc, &err);
    ingest_doc_free(&doc);
    return 0;
}
