/* fuzz_office.c — libFuzzer target for the Office Open XML and OpenDocument
 * parsers. The first byte picks the parser (value % 6: docx, pptx, xlsx,
 * odt, odp, ods), the rest is the file. Limits are tightened so that one
 * input stays fast; any crash, leak, hang or sanitizer report is a bug. */
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "ingest/doc.h"
#include "ingest/parse_office.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ingest_parse_fn fns[] = {ingest_parse_docx, ingest_parse_pptx,
                                          ingest_parse_xlsx, ingest_parse_odt,
                                          ingest_parse_odp,  ingest_parse_ods};
    if (size < 1)
        return 0;
    ingest_limits lim;
    ingest_limits_default(&lim);
    lim.max_text_bytes = 1 << 20;
    lim.max_unzip_bytes = 8 << 20;
    lim.max_member_bytes = 4 << 20;
    lim.max_depth = 64;
    lim.max_pages = 64;
    ingest_doc doc;
    ingest_doc_init(&doc, &lim);
    keep_err err = {0};
    fns[data[0] % 6]((const char *)data + 1, size - 1, &lim, &doc, &err);
    ingest_doc_free(&doc);
    return 0;
}
