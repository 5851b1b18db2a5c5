/* fuzz_encoding.c — libFuzzer target: encoding detection and conversion must
 * return well-formed UTF-8 or a clean error, and format detection must not
 * crash, on any bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "ingest/detect.h"
#include "ingest/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out = NULL;
    size_t out_len = 0;
    char cs[64];
    keep_err err;
    if (ingest_to_utf8((const char *)data, size, (size_t)1 << 22, &out, &out_len, cs, sizeof cs,
                       &err) == KEEP_OK) {
        if (!keep_utf8_valid(out, out_len) || memchr(out, 0, out_len) || out[out_len] != '\0')
            __builtin_trap();
        keep_free(out);
    }
    /* the first byte picks a declared charset, as a MIME part would */
    static const char *const names[] = {"iso-8859-1", "utf-8", "shift_jis", "utf-16le",
                                        "iso-2022-jp", "x-bogus", "windows-1252", "gb18030"};
    if (size) {
        const char *cs2 = names[data[0] % (sizeof names / sizeof *names)];
        if (ingest_charset_to_utf8((const char *)data + 1, size - 1, cs2, (size_t)1 << 22, &out,
                                   &out_len, &err) == KEEP_OK) {
            if (!keep_utf8_valid(out, out_len))
                __builtin_trap();
            keep_free(out);
        }
    }
    char reason[128];
    ingest_detect_format_ex("fuzz.bin", (const char *)data, size, reason, sizeof reason);
    return 0;
}
