/* doc.h — the contract between a format parser and the rest of ingest/.
 *
 * A parser turns untrusted bytes into an ingest_doc: one UTF-8 text plus spans
 * that say, for each stretch of that text, its heading path and its page,
 * slide or sheet. Parsers never build spans by hand; they call the builder
 * below in reading order (heading, text, paragraph end, page change, ...) and
 * the builder keeps offsets, heading stack and spans consistent. The chunker
 * then cuts chunks that never cross a span when it can avoid it, and the
 * store keeps the text so a citation's offsets can be shown.
 *
 * Invariants kept by the builder:
 *  - text is valid UTF-8 (invalid input bytes become U+FFFD);
 *  - spans are sorted, non-overlapping and cover [0, text.len);
 *  - a paragraph ends with "\n\n" in text; a line break is a single "\n";
 *  - text never exceeds limits->max_text_bytes (KEEP_ERR_TOOBIG instead). */
#ifndef KEEP_INGEST_DOC_H
#define KEEP_INGEST_DOC_H

#include "common.h"

#define INGEST_MAX_HEADING_DEPTH 8

/* OCR of scanned PDF pages and image files (keep.conf [ingest] ocr,
 * ocr_languages). Ignored by a build without Tesseract. */
#define INGEST_OCR_DEFAULT_LANGUAGES "eng+deu"
typedef struct ingest_ocr_options {
    int enabled;
    char languages[64]; /* Tesseract names joined by '+': "eng+deu" */
} ingest_ocr_options;

/* Caps every parser honours; the values come from keep.conf. */
typedef struct ingest_limits {
    size_t max_file_bytes;      /* whole input file */
    size_t max_text_bytes;      /* extracted text of one document */
    size_t max_unzip_bytes;     /* sum of decompressed zip members read */
    size_t max_member_bytes;    /* one decompressed zip member */
    unsigned max_zip_ratio;     /* decompressed / compressed, per member */
    unsigned max_depth;         /* XML / HTML / MIME nesting depth */
    unsigned max_attachments;   /* child documents of one mail */
    unsigned max_pages;         /* pages, slides or sheets */
    ingest_ocr_options ocr;
} ingest_limits;

/* Defaults documented in README.md (keep.conf [ingest]). */
void ingest_limits_default(ingest_limits *lim);

/* One stretch of text with one location. Strings owned by the doc. */
typedef struct ingest_span {
    size_t start, end;  /* byte offsets into doc->text */
    char *heading;      /* "Backups > Retention", NULL when none */
    int page;           /* 1-based; 0 when the format has no pages */
    int slide;          /* 1-based; 0 when none */
    char *sheet;        /* sheet name, NULL when none */
    int ocr;            /* 1 when the text came from OCR */
} ingest_span;

/* A file embedded in another (mail attachment): parsed later as a child
 * document that cites back to its parent. Bytes owned by the doc. */
typedef struct ingest_attachment {
    char *name;
    char *mime;
    char *data;
    size_t len;
} ingest_attachment;

typedef struct ingest_meta {
    char *key;
    char *value;
} ingest_meta;

typedef struct ingest_doc {
    keep_buf text;
    ingest_span *spans;
    size_t n_spans, cap_spans;
    char *title;
    ingest_meta *meta;
    size_t n_meta;
    ingest_attachment *attachments;
    size_t n_attachments;
    size_t max_text; /* from limits; 0 = unlimited */
    /* builder state */
    char *headings[INGEST_MAX_HEADING_DEPTH];
    int page, slide, ocr;
    char *sheet;
    int dirty; /* location changed since the last span opened */
} ingest_doc;

void ingest_doc_init(ingest_doc *doc, const ingest_limits *lim);
void ingest_doc_free(ingest_doc *doc);

/* Appends text in reading order. Runs of spaces/tabs collapse to one space
 * and leading whitespace of a paragraph is dropped, so parsers can pass raw
 * runs. Invalid UTF-8 becomes U+FFFD. */
int ingest_doc_text(ingest_doc *doc, const char *s, size_t len);
int ingest_doc_puts(ingest_doc *doc, const char *s);
/* Appends text verbatim (code blocks, preformatted text): whitespace kept. */
int ingest_doc_raw(ingest_doc *doc, const char *s, size_t len);
/* Ends the current line / paragraph (idempotent: no empty paragraphs). */
int ingest_doc_line(ingest_doc *doc);
int ingest_doc_para(ingest_doc *doc);
/* A heading of level 1..INGEST_MAX_HEADING_DEPTH: sets the heading path
 * (dropping deeper levels), ends the paragraph, and writes the heading text
 * as its own paragraph so it is searchable. Empty headings are ignored. */
int ingest_doc_heading(ingest_doc *doc, int level, const char *s, size_t len);
/* Location changes start a new span at the current offset. */
int ingest_doc_page(ingest_doc *doc, int page);
int ingest_doc_slide(ingest_doc *doc, int slide);
int ingest_doc_sheet(ingest_doc *doc, const char *name);
int ingest_doc_set_ocr(ingest_doc *doc, int ocr);
/* Title (first call wins unless replace) and metadata (From, To, Date, ...). */
int ingest_doc_title(ingest_doc *doc, const char *s, size_t len, int replace);
int ingest_doc_meta(ingest_doc *doc, const char *key, const char *value);
/* Copies the bytes. */
int ingest_doc_attach(ingest_doc *doc, const char *name, const char *mime, const char *data,
                      size_t len);
/* Closes the last span; call once after the parser finished. */
int ingest_doc_finish(ingest_doc *doc);

/* Every parser has this shape: bytes in, structured text out. On failure the
 * doc may hold partial content; the caller discards it. */
typedef int (*ingest_parse_fn)(const char *data, size_t len, const ingest_limits *lim,
                               ingest_doc *doc, keep_err *err);

#endif
