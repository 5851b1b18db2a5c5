/* ingest.h — the public face of ingest/: a file in, its extracted text and its
 * chunks out. index/ (the only consumer) stores what comes back; ingest/ never
 * touches the database. Every input is untrusted: a file that cannot be read
 * is a status plus one line of reason, never a crash.
 *
 * Offsets: a chunk's start/end are character (Unicode code point) offsets
 * into the document's extracted text, which is stored so citations can be
 * shown and highlighted. */
#ifndef KEEP_INGEST_H
#define KEEP_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* What the caller may tune (from keep.conf). */
typedef struct ingest_options {
    size_t max_file_bytes;
    size_t max_text_bytes;
    size_t chunk_chars;   /* target chunk size */
    size_t chunk_overlap; /* overlap inside a section */
    int ocr;              /* OCR scanned PDF pages and images (when built in) */
    char ocr_languages[64]; /* Tesseract languages, "eng+deu" */
} ingest_options;

void ingest_options_default(ingest_options *opt);

/* One chunk: a record, so plain data. Strings owned by the result. */
typedef struct ingest_chunk {
    int ordinal;          /* 0-based position in the document */
    const char *text;     /* NUL-terminated copy of text[start, end) */
    size_t text_len;      /* bytes */
    const char *heading;  /* heading path "A > B" or NULL */
    int page_start, page_end;   /* 0 when the format has no pages */
    int slide;            /* 0 when none */
    const char *sheet;    /* NULL when none */
    int ocr;              /* text came from OCR */
    size_t start, end;    /* character offsets into the document text */
} ingest_chunk;

/* The outcome of reading one file. Opaque. */
typedef struct ingest_result ingest_result;

/* Reads, detects, parses and chunks one file. *out is set even on a parse
 * failure when the file could be read at all (so the caller can record
 * format and size); it is NULL on usage errors. Returns KEEP_OK, or
 * KEEP_ERR_UNSUPPORTED for a file to skip (reason in err), or another error
 * for a file that failed. Caller frees *out with ingest_result_free. */
int ingest_file(const char *path, const ingest_options *opt, ingest_result **out, keep_err *err);
/* Same for bytes already in memory (uploads, attachments); name gives the
 * extension hint. */
int ingest_bytes(const char *name, const char *data, size_t len, const ingest_options *opt,
                 ingest_result **out, keep_err *err);
void ingest_result_free(ingest_result *r);

const char *ingest_result_format(const ingest_result *r);  /* "markdown", ... */
const char *ingest_result_title(const ingest_result *r);   /* NULL when none */
const char *ingest_result_text(const ingest_result *r, size_t *len);
size_t ingest_result_n_chunks(const ingest_result *r);
const ingest_chunk *ingest_result_chunk(const ingest_result *r, size_t i);
size_t ingest_result_n_meta(const ingest_result *r);
void ingest_result_meta(const ingest_result *r, size_t i, const char **key, const char **value);
/* Attachments, parsed as child documents (mail attachments). */
size_t ingest_result_n_children(const ingest_result *r);
const ingest_result *ingest_result_child(const ingest_result *r, size_t i, const char **name);
/* 64 hex characters: BLAKE2b-256 of the file bytes. */
const char *ingest_result_hash(const ingest_result *r);

/* BLAKE2b-256 of bytes as 64 hex characters + NUL into out[65]. */
void ingest_hash_hex(const char *data, size_t len, char out[65]);

/* Whether a file name is a temporary or lock file that ingest ignores
 * (~$x.docx, x.tmp, x.part, .dotfiles, x~). */
int ingest_is_ignored_name(const char *name);

#endif
