/* fuzz_office.c — libFuzzer target for the Office Open XML and OpenDocument
 * parsers. The first byte picks the mode (value % 9):
 *   0-5  the rest is a whole file for docx, pptx, xlsx, odt, odp, ods;
 *   6-8  the rest is XML wrapped here into a minimal docx, pptx or xlsx
 *        package: before the first NUL byte the main part (document body,
 *        slide, worksheet), after it a second part (styles.xml, the slide's
 *        notes, sharedStrings.xml).
 * Mutating a real zip mostly breaks its CRCs, so modes 6-8 are what lets
 * the fuzzer reach the OOXML tree walkers. Limits are tightened so that one
 * input stays fast; any crash, leak, hang or sanitizer report is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zip.h>

#include "common.h"
#include "ingest/doc.h"
#include "ingest/parse_office.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RELS_NS "http://schemas.openxmlformats.org/package/2006/relationships"
#define RT "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
#define RELS_HEAD "<?xml version=\"1.0\"?><Relationships xmlns=\"" RELS_NS "\">"
#define REL(id, type, target) "<Relationship Id=\"" id "\" Type=\"" RT type "\" Target=\"" target "\"/>"

typedef struct part {
    const char *name;
    const char *data;
    size_t len;
} part;

static int add(zip_t *za, const char *name, const void *p, size_t n)
{
    zip_source_t *s = zip_source_buffer(za, p, n, 0);
    if (!s)
        return -1;
    if (zip_file_add(za, name, s, ZIP_FL_OVERWRITE) < 0) {
        zip_source_free(s);
        return -1;
    }
    return 0;
}

/* Builds a zip of the parts in memory; caller frees *out with keep_free. */
static int make_zip(const part *parts, size_t n, char **out, size_t *len)
{
    *out = NULL;
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_error_fini(&ze);
    if (!src)
        return -1;
    zip_source_keep(src);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, NULL);
    if (!za) {
        zip_source_free(src);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (add(za, parts[i].name, parts[i].data, parts[i].len)) {
            zip_discard(za);
            zip_source_free(src);
            return -1;
        }
    if (zip_close(za) < 0) {
        zip_discard(za);
        zip_source_free(src);
        return -1;
    }
    zip_stat_t st;
    int rc = -1;
    if (zip_source_stat(src, &st) == 0 && zip_source_open(src) == 0) {
        *out = keep_malloc(st.size ? st.size : 1);
        if (*out && zip_source_read(src, *out, st.size) == (zip_int64_t)st.size) {
            *len = st.size;
            rc = 0;
        }
        zip_source_close(src);
    }
    zip_source_free(src);
    if (rc) {
        keep_free(*out);
        *out = NULL;
    }
    return rc;
}

static const char docx_root[] = RELS_HEAD REL("r1", "officeDocument", "word/document.xml") "</Relationships>";
static const char docx_rels[] = RELS_HEAD REL("r1", "styles", "styles.xml")
    REL("r2", "numbering", "styles.xml") REL("r3", "footnotes", "styles.xml")
    REL("r4", "endnotes", "styles.xml") "</Relationships>";
static const char pptx_root[] = RELS_HEAD REL("r1", "officeDocument", "ppt/presentation.xml") "</Relationships>";
static const char pptx_pres[] = "<?xml version=\"1.0\"?><p:presentation xmlns:p=\""
    "http://schemas.openxmlformats.org/presentationml/2006/main\"/>";
static const char pptx_slide_rels[] = RELS_HEAD REL("r1", "notesSlide", "../notesSlides/notesSlide1.xml") "</Relationships>";
static const char xlsx_root[] = RELS_HEAD REL("r1", "officeDocument", "xl/workbook.xml") "</Relationships>";
static const char xlsx_wb[] = "<?xml version=\"1.0\"?><workbook xmlns=\""
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"" RT "\"><sheets>"
    "<sheet name=\"S\" sheetId=\"1\" r:id=\"r1\"/></sheets></workbook>";
static const char xlsx_rels[] = RELS_HEAD REL("r1", "worksheet", "worksheets/sheet1.xml")
    REL("r2", "sharedStrings", "sharedStrings.xml") REL("r3", "styles", "sharedStrings.xml") "</Relationships>";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ingest_parse_fn fns[] = {ingest_parse_docx, ingest_parse_pptx,
                                          ingest_parse_xlsx, ingest_parse_odt,
                                          ingest_parse_odp,  ingest_parse_ods};
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 9;
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    char *file = NULL;
    size_t flen = 0;
    if (mode >= 6) {
        const char *nul = memchr(body, '\0', n);
        size_t a = nul ? (size_t)(nul - body) : n;
        const char *b = nul ? nul + 1 : "";
        size_t bl = nul ? n - a - 1 : 0;
        part p[5];
        size_t np = 0;
#define P(nm, d, l) (p[np].name = (nm), p[np].data = (d), p[np].len = (l), np++)
        if (mode == 6) {
            P("_rels/.rels", docx_root, sizeof docx_root - 1);
            P("word/_rels/document.xml.rels", docx_rels, sizeof docx_rels - 1);
            P("word/document.xml", body, a);
            P("word/styles.xml", b, bl);
        } else if (mode == 7) {
            P("_rels/.rels", pptx_root, sizeof pptx_root - 1);
            P("ppt/presentation.xml", pptx_pres, sizeof pptx_pres - 1);
            P("ppt/slides/slide1.xml", body, a);
            P("ppt/slides/_rels/slide1.xml.rels", pptx_slide_rels, sizeof pptx_slide_rels - 1);
            P("ppt/notesSlides/notesSlide1.xml", b, bl);
        } else {
            P("_rels/.rels", xlsx_root, sizeof xlsx_root - 1);
            P("xl/workbook.xml", xlsx_wb, sizeof xlsx_wb - 1);
            P("xl/_rels/workbook.xml.rels", xlsx_rels, sizeof xlsx_rels - 1);
            P("xl/worksheets/sheet1.xml", body, a);
            P("xl/sharedStrings.xml", b, bl);
        }
#undef P
        if (make_zip(p, np, &file, &flen))
            return 0;
        body = file;
        n = flen;
        mode -= 6;
    }
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
    fns[mode](body, n, &lim, &doc, &err);
    ingest_doc_free(&doc);
    keep_free(file);
    return 0;
}
