/* encoding.h — turns the bytes of a text file (or of a MIME part) into UTF-8.
 *
 * Order of evidence: a byte-order mark (UTF-8, UTF-16LE/BE, UTF-32LE/BE) wins;
 * then UTF-32/UTF-16 without BOM recognised by their NUL-byte pattern; then
 * well-formed UTF-8 is taken as is; else the charset is guessed by uchardet
 * and converted by iconv, with windows-1252 when uchardet has no answer.
 *
 * Policy on bad input (decided once here so every parser behaves alike):
 *  - an invalid or unmappable sequence in the detected/declared charset
 *    becomes U+FFFD and conversion goes on (replacement, never an error);
 *  - 8-bit data holding NUL bytes, or many other control bytes, is binary:
 *    KEEP_ERR_ENCODING "binary data, not text";
 *  - output larger than max_out: KEEP_ERR_TOOBIG.
 * The output is always well-formed UTF-8 without a BOM and NUL-terminated. */
#ifndef KEEP_INGEST_ENCODING_H
#define KEEP_INGEST_ENCODING_H

#include <stddef.h>

#include "common.h"

/* Converts data[0..len) to UTF-8, detecting its encoding. max_out caps the
 * output in bytes (0 = no cap). charset_out (may be NULL) receives the name of
 * the source encoding ("UTF-8", "UTF-16LE", "WINDOWS-1252", ...).
 * Caller frees *out with keep_free. */
int ingest_to_utf8(const char *data, size_t len, size_t max_out, char **out, size_t *out_len,
                   char *charset_out, size_t charset_cap, keep_err *err);

/* Converts from a declared charset (a MIME charset parameter). An empty,
 * NULL, "us-ascii" declaration on 8-bit data, or a charset iconv does not
 * know falls back to ingest_to_utf8's detection. Same ownership and policy,
 * except that NUL bytes are not taken as a sign of binary data when the
 * declared charset is a UTF-16/32 one. Caller frees *out with keep_free. */
int ingest_charset_to_utf8(const char *data, size_t len, const char *charset, size_t max_out,
                           char **out, size_t *out_len, keep_err *err);

/* 1 when data looks like binary (not text in any encoding we read): NUL
 * bytes outside a UTF-16/32 pattern, or too many control bytes. Used by
 * format detection on a leading sample. */
int ingest__looks_binary(const char *data, size_t len);

#endif
