/* ocr.h — OCR of scanned pages with Tesseract (internal to ingest/).
 *
 * Two users: the image parser (PNG, JPEG, TIFF with one page per frame) and
 * the PDF parser, which renders pages without a text layer and hands their
 * pixels here. Recognised text is returned as paragraphs separated by blank
 * lines, lines of a paragraph joined and words broken by a hyphen at a line
 * end rejoined; ingest__ocr_emit writes it into a doc marked as OCR'd.
 *
 * Each thread keeps one Tesseract engine (loading the language models costs
 * a few hundred milliseconds), created on first use and freed when the thread
 * exits; each page is decoded and recognised in a child process forked with
 * that engine, so that a page that hangs or crashes the OCR libraries costs
 * one error and at most INGEST_OCR_PAGE_MS (see ocr.c). In a build without Tesseract (HAVE_TESSERACT undefined) every entry
 * point returns KEEP_ERR_UNSUPPORTED. */
#ifndef KEEP_INGEST_OCR_H
#define KEEP_INGEST_OCR_H

#include "doc.h"

/* Largest image OCR accepts, checked from the file header before any pixel
 * is decoded: 50 megapixels is an A3 page at 600 dpi. */
#define INGEST_OCR_MAX_PIXELS ((uint64_t)50 * 1000 * 1000)
/* One page (decoding, layout analysis, recognition) gets this long. */
#define INGEST_OCR_PAGE_MS 15000
/* A document's OCR (TIFF frames, scanned PDF pages) stops when it took
 * longer than BASE + PAGE per page read so far: real pages take a few
 * seconds, so only pages that each run into the deadline stop it. */
#define INGEST_OCR_DOC_BASE_MS 30000.0
#define INGEST_OCR_DOC_PAGE_MS 8000.0
/* Resolution at which PDF pages without text are rendered for OCR. */
#define INGEST_OCR_PDF_DPI 300

/* Tests: a shorter page deadline (ms; 0 restores INGEST_OCR_PAGE_MS). */
void ingest__ocr_set_page_ms(int ms);

/* 1 when this build has Tesseract. */
int ingest__ocr_built(void);

/* Checks that the language data of opt->languages is installed. The error
 * names the missing language and its Debian package. */
int ingest__ocr_check(const ingest_ocr_options *opt, keep_err *err);

/* Recognises an 8-bit grey image of w x h pixels (rows stride bytes apart,
 * 0 = black) scanned at dpi (0 when unknown). Appends the text to out (see
 * above) and the mean word confidence, 0..100, to *conf (may be NULL). */
int ingest__ocr_gray(const unsigned char *px, int w, int h, size_t stride, int dpi,
                     const ingest_ocr_options *opt, keep_buf *out, int *conf, keep_err *err);

/* Writes text from ingest__ocr_* (paragraphs separated by blank lines) into
 * doc at page (0: none), its spans marked OCR'd; restores the OCR mark after. */
int ingest__ocr_emit(ingest_doc *doc, int page, const char *text, size_t len);

/* The parser of PNG, JPEG and TIFF files: one page per image (per frame of a
 * multi-page TIFF), each OCR'd with lim->ocr. Refuses images above
 * INGEST_OCR_MAX_PIXELS and more frames than lim->max_pages before decoding.
 * Metadata: pages, ocr_languages, ocr_confidence. */
int ingest_parse_image(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                       keep_err *err);

#endif
