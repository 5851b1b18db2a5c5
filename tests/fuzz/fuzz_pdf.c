/* fuzz_pdf.c — libFuzzer target for the PDF parser (poppler-glib underneath; only our glue is
 * instrumented). */
#include <stddef.h>
#include <stdint.h>

#include "ingest/doc.h"
#include "ingest/parse_pdf.h"

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
    ingest_parse_pdf((const char *)data, size, &lim, &doc, &err);
    ingest_doc_free(&doc);
    return 0;
}
