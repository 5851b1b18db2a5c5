/* detect.h — which parser a file goes to, from its content and its name.
 *
 * Content wins where it is unambiguous: PDF, PNG, JPEG and TIFF signatures,
 * zip archives told apart by their members (word/document.xml -> docx,
 * ppt/presentation.xml -> pptx, xl/workbook.xml -> xlsx, the ODF "mimetype"
 * member -> odt/odp/ods), and libmagic's verdict for everything else. The
 * extension decides among text-like types (.md, .csv, .tsv, .html, .xml,
 * .eml, .mbox, .txt); text with an unknown extension is classified by
 * libmagic (HTML, XML, mail, mbox) or is "text".
 *
 * Format names: "text", "markdown", "html", "xml", "pdf", "docx", "pptx",
 * "xlsx", "odt", "odp", "ods", "csv", "tsv", "eml", "mbox", "png", "jpeg",
 * "tiff". NULL means unsupported; the reason says why ("binary file of type
 * application/x-executable"). Thread-safe. */
#ifndef KEEP_INGEST_DETECT_H
#define KEEP_INGEST_DETECT_H

#include <stddef.h>

/* data may be the whole file or its first bytes (at least 64 KiB when the
 * file is that long, so zip directories of small files are seen; a zip is
 * read whole, from data, to list its members). path may be NULL. */
const char *ingest_detect_format(const char *path, const char *data, size_t len);

/* Same, and when the answer is NULL writes a one-line reason to reason
 * (may be NULL). */
const char *ingest_detect_format_ex(const char *path, const char *data, size_t len,
                                    char *reason, size_t reason_cap);

#endif
