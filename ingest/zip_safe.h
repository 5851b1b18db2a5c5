/* zip_safe.h — the only way ingest/ reads zip containers (OOXML, ODF): libzip
 * over the bytes in memory, never a file, with every member read bounded.
 *
 * A hostile archive may declare small sizes and inflate to gigabytes, claim
 * names like "../../etc/passwd", hold thousands of entries or encrypted
 * members. This layer caps each member (lim->max_member_bytes), the
 * decompressed/compressed ratio of large members (lim->max_zip_ratio), the sum
 * read per document (lim->max_unzip_bytes) and the entry count, counts the
 * bytes actually inflated (declared sizes lie) and only ever exposes members
 * whose names are relative paths without "..", backslashes or drive letters.
 * A limit of 0 disables that check.
 * Lookups are ASCII case-insensitive, as OPC part names are. Internal to
 * ingest/. */
#ifndef KEEP_INGEST_ZIP_SAFE_H
#define KEEP_INGEST_ZIP_SAFE_H

#include "doc.h"

/* Most entries an archive may hold; documents have tens to a few thousand. */
#define INGEST_ZIP_MAX_ENTRIES 65536u
/* Ratio checks start past this many decompressed bytes: a small member of
 * repetitive XML legitimately compresses a thousandfold and costs nothing. */
#define INGEST_ZIP_RATIO_FLOOR ((size_t)1 << 20)

typedef struct ingest_zip ingest_zip;

/* Opens an archive held in data[0..len) (not copied: data must outlive the
 * handle). Fails with KEEP_ERR_PARSE for bytes that are not a zip,
 * KEEP_ERR_CORRUPT for a damaged one, KEEP_ERR_TOOBIG for too many entries.
 * Caller frees *out with ingest__zip_close. */
int ingest__zip_open(const char *data, size_t len, const ingest_limits *lim, ingest_zip **out,
                     keep_err *err);
void ingest__zip_close(ingest_zip *z);

/* 1 when a member of that exact name (case-insensitive) exists. */
int ingest__zip_has(const ingest_zip *z, const char *name);

/* Reads a whole member. KEEP_ERR_NOTFOUND when absent, KEEP_ERR_TOOBIG past a
 * cap, KEEP_ERR_UNSUPPORTED when encrypted or compressed with an unknown
 * method, KEEP_ERR_CORRUPT on a bad CRC or a size that lied. The buffer has a
 * NUL after *len; caller frees *out with keep_free. */
int ingest__zip_read(ingest_zip *z, const char *name, char **out, size_t *len, keep_err *err);

/* Names of the members "<prefix><decimal number><suffix>" sorted by number
 * (slide2 before slide10). Caller frees with ingest__zip_names_free. */
int ingest__zip_list_numbered(const ingest_zip *z, const char *prefix, const char *suffix,
                              char ***names, size_t *n, keep_err *err);
void ingest__zip_names_free(char **names, size_t n);

/* Resolves an OPC/ODF reference against the folder of the part that holds it
 * ("ppt/slides/slide1.xml" + "../notesSlides/notesSlide1.xml" ->
 * "ppt/notesSlides/notesSlide1.xml"; a leading "/" means the package root).
 * Returns NULL when the target escapes the root, is a URL or is unsafe.
 * Caller frees with keep_free. */
char *ingest__zip_resolve(const char *base_part, const char *target);

#endif
