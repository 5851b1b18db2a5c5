/* test_office.c — Office Open XML and OpenDocument parsers on real files
 * (made by LibreOffice from the sources in tests/data/office/src/, see
 * make_office.py there), hand-made packages for what LibreOffice never
 * writes, and hostile inputs: zip bombs, lying sizes, traversal names,
 * encryption, truncation, XXE, billion laughs, deep nesting, huge repeats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include "common.h"
#include "ingest/doc.h"
#include "ingest/parse_office.h"
#include "ingest/zip_safe.h"
#include "tap.h"

static char *load(const char *name, size_t *len)
{
    char path[4096];
    const char *dir = getenv("KEEP_SRCDIR");
    snprintf(path, sizeof path, "%s/tests/data/office/%s", dir ? dir : ".", name);
    char *data = NULL;
    keep_err err = {0};
    if (keep_read_file(path, (size_t)64 << 20, &data, len, &err)) {
        printf("# cannot read %s: %s\n", path, err.msg);
        return NULL;
    }
    return data;
}

/* Parses a test file; returns the status, doc filled. */
static int parse_file(const char *name, ingest_parse_fn fn, const ingest_limits *lim,
                      ingest_doc *doc, keep_err *err)
{
    ingest_limits def;
    ingest_limits_default(&def);
    if (!lim)
        lim = &def;
    ingest_doc_init(doc, lim);
    keep_err_clear(err);
    size_t len = 0;
    char *data = load(name, &len);
    if (!data)
        return KEEP_ERR_IO;
    int rc = fn(data, len, lim, doc, err);
    keep_free(data);
    if (rc)
        printf("# %s: %s\n", name, err->msg);
    return rc;
}

static int has(const ingest_doc *doc, const char *needle)
{
    return doc->text.data && strstr(doc->text.data, needle) != NULL;
}

/* The span holding the first occurrence of needle. */
static const ingest_span *span_of(const ingest_doc *doc, const char *needle)
{
    const char *p = doc->text.data ? strstr(doc->text.data, needle) : NULL;
    if (!p)
        return NULL;
    size_t off = (size_t)(p - doc->text.data);
    for (size_t i = 0; i < doc->n_spans; i++)
        if (doc->spans[i].start <= off && off < doc->spans[i].end)
            return &doc->spans[i];
    return NULL;
}

static const char *heading_of(const ingest_doc *doc, const char *needle)
{
    const ingest_span *s = span_of(doc, needle);
    return s ? (s->heading ? s->heading : "") : "(no span)";
}

static int slide_of(const ingest_doc *doc, const char *needle)
{
    const ingest_span *s = span_of(doc, needle);
    return s ? s->slide : -1;
}

static const char *sheet_of(const ingest_doc *doc, const char *needle)
{
    const ingest_span *s = span_of(doc, needle);
    return s ? (s->sheet ? s->sheet : "") : "(no span)";
}

static int spans_ok(const ingest_doc *doc)
{
    size_t at = 0;
    for (size_t i = 0; i < doc->n_spans; i++) {
        if (doc->spans[i].start != at || doc->spans[i].end < doc->spans[i].start)
            return 0;
        at = doc->spans[i].end;
    }
    return at == doc->text.len && keep_utf8_valid(doc->text.data, doc->text.len);
}

static const char *meta_of(const ingest_doc *doc, const char *key)
{
    for (size_t i = 0; i < doc->n_meta; i++)
        if (strcmp(doc->meta[i].key, key) == 0)
            return doc->meta[i].value;
    return NULL;
}

/* ---- word processing ---------------------------------------------------------- */

/* handbook.docx and handbook.odt come from the same source: same facts. */
static void check_handbook(const char *file, ingest_parse_fn fn)
{
    ingest_doc doc;
    keep_err err;
    char what[128];
#define W(s) (snprintf(what, sizeof what, "%s: %s", file, s), what)
    ASSERT_EQ_INT(parse_file(file, fn, NULL, &doc, &err), KEEP_OK, W("parses"));
    ASSERT_EQ_STR(doc.title, "Keep Test Handbook", W("title from document properties"));
    ASSERT_EQ_STR(heading_of(&doc, "Snapshots are kept for 30 days"), "Backups > Retention",
                  W("heading path of a paragraph"));
    ASSERT_EQ_STR(heading_of(&doc, "This handbook explains"), "", W("text before any heading"));
    OK(has(&doc, "\nServer: alpha; Location: Basement rack 2; Capacity: 12 TB\n"),
       W("table row rendered with header names"));
    OK(has(&doc, "Server: beta; Location: Attic closet; Capacity: 8 TB"), W("second table row"));
    ASSERT_EQ_STR(heading_of(&doc, "Server: beta"), "Backups > Servers", W("table under its heading"));
    OK(has(&doc, "\n- Nightly snapshot of the file server\n- Weekly full copy to tape\n"),
       W("bullet list items"));
    OK(has(&doc, "\n  - Tapes rotate every Friday\n"), W("nested list item indented"));
    OK(has(&doc, "\n1. Stop the sync service\n2. Copy the snapshot back\n3. Start the sync service"),
       W("numbered list items"));
    OK(has(&doc, "If the file is still missing:\n\n4. Check the permissions\n"),
       W("interrupted list continues its numbering"));
    OK(has(&doc, "Snapshots are kept for 30 days[^1] before they expire."), W("footnote marker"));
    OK(has(&doc, "[^1] Except snapshots tagged legal-hold, which are kept for 7 years."),
       W("footnote text"));
    ASSERT_EQ_STR(heading_of(&doc, "[^1] Except"), "Footnotes", W("footnotes section"));
    OK(has(&doc, "Read the restore guide for details. Ask Bob\nif stuck."),
       W("hyperlink text, tab as space, line break"));
    OK(spans_ok(&doc), W("spans cover the text"));
    ingest_doc_free(&doc);
#undef W
}

static void test_docx_localized(void)
{
    ingest_doc doc;
    keep_err err;
    ASSERT_EQ_INT(parse_file("localized.docx", ingest_parse_docx, NULL, &doc, &err), KEEP_OK,
                  "localized.docx parses");
    ASSERT_EQ_STR(doc.title, "Sicherungskonzept", "Title style without core.xml gives the title");
    ASSERT_EQ_STR(heading_of(&doc, "Die Daten werden gesichert."), "Einleitung",
                  "outline level 0 style is a level-1 heading");
    ASSERT_EQ_STR(heading_of(&doc, "Backups run at"), "Einleitung > Zeitplan",
                  "localized id 'berschrift2' named 'heading 2' is a level-2 heading");
    ASSERT_EQ_STR(heading_of(&doc, "Looping styles"), "3 Wiederherstellung > Anhang",
                  "basedOn heading 2 inherits the level; a basedOn loop is body text");
    OK(has(&doc, "Backups run at 02:00 nightly.[^1]"), "field result and insertion kept");
    OK(!has(&doc, "DELETED-WORDS"), "deleted text dropped");
    OK(!has(&doc, "TIME"), "field instruction dropped");
    OK(has(&doc, "\n1. Check the logs\n  a. Look for errors\n  b. Look for warnings\n2. Report\n- Coffee"),
       "decimal, letter and bullet numbering");
    OK(has(&doc, "\n1. Install\n  1.1. Unpack\n  1.2. Configure\n"), "multi-level lvlText numbering");
    OK(has(&doc, "\n2. Verify the copy\n1. Start over\n"),
       "a second num of the same list continues; startOverride restarts");
    ASSERT_EQ_STR(heading_of(&doc, "Room: Server room"), "3 Wiederherstellung",
                  "outline-numbered heading keeps its number");
    OK(!has(&doc, "TOC-"), "table of contents (content control and toc style) skipped");
    OK(has(&doc, "\nRoom: Server room; Keys: Alice; Keys: Bob\n"), "header spanning two columns");
    OK(has(&doc, "[^1] Measured in March 2024."), "endnote text");
    const char *box = doc.text.data ? strstr(doc.text.data, "Boxed reminder") : NULL;
    OK(box && !strstr(box + 1, "Boxed reminder"), "text box once (fallback copy skipped)");
    OK(has(&doc, "the wiki page tab\nnext line"), "hyperlink, tab, break");
    OK(!has(&doc, "EVIL"), "unsafe member names never read");
    OK(spans_ok(&doc), "localized.docx spans");
    ingest_doc_free(&doc);
}

/* ---- presentations ---------------------------------------------------------------- */

static void check_deck(const char *file, ingest_parse_fn fn)
{
    ingest_doc doc;
    keep_err err;
    char what[128];
#define W(s) (snprintf(what, sizeof what, "%s: %s", file, s), what)
    ASSERT_EQ_INT(parse_file(file, fn, NULL, &doc, &err), KEEP_OK, W("parses"));
    ASSERT_EQ_STR(doc.title, "Quarterly Review", W("title"));
    OK(has(&doc, "Slide 2: Storage Growth\n\n"), W("slide title heading with its number"));
    ASSERT_EQ_INT(slide_of(&doc, "Disk usage grew 40 percent"), 2, W("body text on slide 2"));
    ASSERT_EQ_STR(heading_of(&doc, "Disk usage grew 40 percent"), "Slide 2: Storage Growth",
                  W("body text under the slide heading"));
    OK(has(&doc, "- Disk usage grew 40 percent\n- Archive moved to cold storage"), W("bullets"));
    OK(has(&doc, "Quarter: Q2; Terabytes: 43"), W("slide table with header names"));
    ASSERT_EQ_STR(heading_of(&doc, "Welcome everyone and thank the facilities crew."),
                  "Slide 1: Quarterly Review > Notes", W("speaker notes of slide 1"));
    ASSERT_EQ_INT(slide_of(&doc, "Mention the budget request is due in May."), 3,
                  W("speaker notes of slide 3"));
    const char *s2 = doc.text.data ? strstr(doc.text.data, "Slide 2:") : NULL;
    const char *s3 = s2 ? strstr(s2, "Slide 3:") : NULL;
    OK(s2 && s3 && !memmem(s2, (size_t)(s3 - s2), "Notes", 5), W("no notes marker without notes"));
    OK(!has(&doc, "Click to"), W("layout prompts not read"));
    OK(spans_ok(&doc), W("spans"));
    ingest_doc_free(&doc);
#undef W
}

static void test_pptx_order(void)
{
    ingest_doc doc;
    keep_err err;
    ASSERT_EQ_INT(parse_file("reordered.pptx", ingest_parse_pptx, NULL, &doc, &err), KEEP_OK,
                  "reordered.pptx parses");
    OK(doc.text.data && strncmp(doc.text.data, "Slide 1: Next Steps\n", 20) == 0,
       "slide order from sldIdLst, not file names");
    ASSERT_EQ_INT(slide_of(&doc, "Mention the budget"), 1, "notes follow their slide");
    ASSERT_EQ_INT(slide_of(&doc, "Welcome everyone"), 3, "last listed slide is slide 3");
    ASSERT_EQ_STR(doc.title, "Next Steps", "no core properties: first slide title");
    OK(has(&doc, "\n- Plan the budget\n- Order the drives\n"), "SmartArt node text");
    ASSERT_EQ_INT(slide_of(&doc, "Plan the budget"), 1, "SmartArt on its slide");
    OK(!has(&doc, "JUNK"), "SmartArt document and presentation points skipped");
    ingest_doc_free(&doc);
}

/* ---- spreadsheets ----------------------------------------------------------------- */

static void check_inventory(const char *file, ingest_parse_fn fn)
{
    ingest_doc doc;
    keep_err err;
    char what[128];
#define W(s) (snprintf(what, sizeof what, "%s: %s", file, s), what)
    ASSERT_EQ_INT(parse_file(file, fn, NULL, &doc, &err), KEEP_OK, W("parses"));
    ASSERT_EQ_STR(doc.title, "Office Inventory", W("title"));
    OK(has(&doc, "Item: Desk lamp; Qty: 4; Unit price: 12.5; Total: 50;"),
       W("row with header names, cached formula value"));
    ASSERT_EQ_STR(sheet_of(&doc, "Item: Tape drive"), "Equipment", W("row in its sheet"));
    OK(has(&doc, "Total: 1798"), W("second formula result"));
    OK(!has(&doc, "B2") && !has(&doc, "*"), W("formulas never shown"));
    OK(has(&doc, "Purchased: 2024-03-15"), W("date shown as a date"));
    OK(has(&doc, "\nItem: Desk lamp; Total: spare\n"), W("sparse row keeps its column headers"));
    OK(has(&doc, "\nItem: Printer toner; Qty: 6"), W("row after blank rows"));
    ASSERT_EQ_STR(sheet_of(&doc, "Name: Linus; Role: Facilities lead"), "Contacts",
                  W("second sheet, shared string reused"));
    ASSERT_EQ_STR(heading_of(&doc, "Name: Grace"), "Contacts", W("sheet name as heading"));
    OK(spans_ok(&doc), W("spans"));
    ingest_doc_free(&doc);
#undef W
}

static void test_xlsx_handmade(void)
{
    ingest_doc doc;
    keep_err err;
    ASSERT_EQ_INT(parse_file("handmade.xlsx", ingest_parse_xlsx, NULL, &doc, &err), KEEP_OK,
                  "handmade.xlsx parses");
    OK(doc.text.data && strncmp(doc.text.data, "Summary\n", 8) == 0,
       "sheets in workbook order, not file order");
    ASSERT_EQ_STR(sheet_of(&doc, "Day: Tuesday; Uptime: 100"), "Raw data", "second sheet");
    OK(has(&doc, "\nUptime log (March)\nDay | Uptime\nDay: Monday; Uptime: 99.9\n"),
       "caption row above the header row");
    OK(has(&doc, "Metric: Uptime percent; Value: 99.95; Owner: Ops team"),
       "rich shared string, cached value, inline string in column D");
    OK(!has(&doc, "PHONETIC") && !has(&doc, "AVERAGE"), "phonetic runs and formulas skipped");
    OK(has(&doc, "Metric: Healthy; Value: TRUE"), "cells without references, boolean");
    OK(has(&doc, "Metric: Last check; Value: 2024-03-15"), "built-in date format");
    OK(has(&doc, "Metric: Next check; Value: 2024-03-16 18:00:00"), "custom date-time format");
    OK(has(&doc, "Metric: Ratio; Value: #DIV/0!; Owner: Ops team!"), "error and string results");
    OK(!has(&doc, "Chart"), "chart sheets skipped");
    ingest_doc_free(&doc);
}

/* ---- zip layer ---------------------------------------------------------------------- */

static void test_zip_layer(void)
{
    size_t len = 0;
    char *data = load("localized.docx", &len);
    ingest_limits lim;
    ingest_limits_default(&lim);
    ingest_zip *z = NULL;
    keep_err err = {0};
    ASSERT_EQ_INT(ingest__zip_open(data, len, &lim, &z, &err), KEEP_OK, "zip opens from memory");
    OK(z && ingest__zip_has(z, "word/document.xml"), "member found");
    OK(z && ingest__zip_has(z, "WORD/Document.XML"), "lookup is case-insensitive");
    OK(z && !ingest__zip_has(z, "../evil.xml"), "../ member hidden");
    OK(z && !ingest__zip_has(z, "/abs.xml") && !ingest__zip_has(z, "abs.xml"),
       "absolute member hidden");
    OK(z && !ingest__zip_has(z, "word\\back.xml"), "backslash member hidden");
    char *buf = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(z ? ingest__zip_read(z, "word/missing.xml", &buf, &n, &err) : -1,
                  KEEP_ERR_NOTFOUND, "missing member");
    ASSERT_EQ_INT(z ? ingest__zip_read(z, "word/styles.xml", &buf, &n, &err) : -1, KEEP_OK,
                  "member read");
    OK(buf && n > 100 && strstr(buf, "heading 1") && buf[n] == '\0', "member bytes, NUL-ended");
    keep_free(buf);
    ingest__zip_close(z);
    keep_free(data);

    /* a per-document budget smaller than the document */
    lim.max_unzip_bytes = 3000;
    data = load("handbook.docx", &len);
    ingest_doc doc;
    ingest_doc_init(&doc, &lim);
    ASSERT_EQ_INT(ingest_parse_docx(data, len, &lim, &doc, &err), KEEP_ERR_TOOBIG,
                  "total decompressed budget enforced");
    ingest_doc_free(&doc);
    keep_free(data);

    char *s;
    ASSERT_EQ_STR((s = ingest__zip_resolve("ppt/slides/slide1.xml", "../notesSlides/notesSlide1.xml")),
                  "ppt/notesSlides/notesSlide1.xml", "relative target resolved");
    keep_free(s);
    ASSERT_EQ_STR((s = ingest__zip_resolve("word/document.xml", "/word/media/a%20b.png")),
                  "word/media/a b.png", "absolute, percent-decoded target");
    keep_free(s);
    OK((s = ingest__zip_resolve("word/document.xml", "../../etc/passwd")) == NULL,
       "target above the root refused");
    keep_free(s);
    OK((s = ingest__zip_resolve("word/document.xml", "https://example.org/x")) == NULL,
       "URL target refused");
    keep_free(s);
    OK((s = ingest__zip_resolve("a/b.xml", "c%2f..%2f..%2fd")) == NULL, "encoded slash refused");
    keep_free(s);

    data = load("deck.pptx", &len);
    lim.max_unzip_bytes = (size_t)512 << 20;
    char **names = NULL;
    ASSERT_EQ_INT(ingest__zip_open(data, len, &lim, &z, &err), KEEP_OK, "pptx opens");
    ASSERT_EQ_INT(ingest__zip_list_numbered(z, "ppt/slideLayouts/slideLayout", ".xml", &names, &n, &err),
                  KEEP_OK, "numbered listing");
    OK(n == 12 && strcmp(names[1], "ppt/slideLayouts/slideLayout2.xml") == 0 &&
           strcmp(names[9], "ppt/slideLayouts/slideLayout10.xml") == 0,
       "numbered members sorted numerically");
    ingest__zip_names_free(names, n);
    ingest__zip_close(z);
    keep_free(data);
}

/* ---- hostile inputs ---------------------------------------------------------------- */

static void test_hostile(void)
{
    ingest_doc doc;
    keep_err err;
    ingest_limits lim;
    ingest_limits_default(&lim);

    ASSERT_EQ_INT(parse_file("bomb_ratio.docx", ingest_parse_docx, NULL, &doc, &err),
                  KEEP_ERR_TOOBIG, "high-ratio member refused");
    OK(strstr(err.msg, "inflates") != NULL, "ratio error says why");
    ingest_doc_free(&doc);
    lim.max_member_bytes = 1 << 20;
    ASSERT_EQ_INT(parse_file("bomb_ratio.docx", ingest_parse_docx, &lim, &doc, &err),
                  KEEP_ERR_TOOBIG, "member over the size cap refused");
    ingest_doc_free(&doc);
    ingest_limits_default(&lim);
    ASSERT_EQ_INT(parse_file("bomb_lying.docx", ingest_parse_docx, NULL, &doc, &err),
                  KEEP_ERR_CORRUPT, "member inflating past its declared size refused");
    ingest_doc_free(&doc);
    ASSERT_EQ_INT(parse_file("encrypted_member.docx", ingest_parse_docx, NULL, &doc, &err),
                  KEEP_ERR_UNSUPPORTED, "encrypted member refused");
    OK(strstr(err.msg, "encrypted") != NULL, "encryption error says so");
    ingest_doc_free(&doc);
    ASSERT_EQ_INT(parse_file("encrypted.odt", ingest_parse_odt, NULL, &doc, &err),
                  KEEP_ERR_UNSUPPORTED, "encrypted OpenDocument refused");
    ingest_doc_free(&doc);

    /* XXE: the entity is never loaded nor substituted */
    int rc = parse_file("xxe.docx", ingest_parse_docx, NULL, &doc, &err);
    OK(rc == KEEP_OK || rc == KEEP_ERR_PARSE, "XXE document: clean result");
    OK(!has(&doc, "root:") && !has(&doc, "/bin/"), "no file content leaked");
    if (rc == KEEP_OK)
        OK(has(&doc, "Leak: end"), "text around the entity kept");
    ingest_doc_free(&doc);
    rc = parse_file("billion_laughs.docx", ingest_parse_docx, NULL, &doc, &err);
    OK(rc == KEEP_OK || rc == KEEP_ERR_PARSE || rc == KEEP_ERR_TOOBIG, "billion laughs: clean result");
    OK(!has(&doc, "lollol") && doc.text.len < 4096, "no entity expansion");
    ingest_doc_free(&doc);
    rc = parse_file("deep.docx", ingest_parse_docx, NULL, &doc, &err);
    OK(rc == KEEP_ERR_PARSE || rc == KEEP_ERR_TOOBIG, "3000-deep nesting refused");
    ingest_doc_free(&doc);

    /* 10^9 repeated rows and columns */
    lim.max_text_bytes = 16 << 10;
    ASSERT_EQ_INT(parse_file("huge_repeat.ods", ingest_parse_ods, &lim, &doc, &err),
                  KEEP_ERR_TOOBIG, "huge repeat count stops at the text cap");
    ingest_doc_free(&doc);
    ASSERT_EQ_INT(parse_file("huge_repeat.ods", ingest_parse_ods, NULL, &doc, &err), KEEP_OK,
                  "huge repeat count with default caps");
    ASSERT_EQ_STR(meta_of(&doc, "Truncated"),
                  "repeated rows shown 100 times at most, repeated cells 64 times",
                  "repeat caps reported");
    OK(!has(&doc, "after-empty"), "cell past the last column ignored");
    /* the header: Name and 64 copies of x; each row: 65 cells of y */
    size_t rows = 0;
    for (const char *p = doc.text.data; p && (p = strstr(p, "\nName: y; x: y")); p++)
        rows++;
    ASSERT_EQ_INT((long)rows, 100, "repeated non-empty row written 100 times");
    OK(has(&doc, "x: y; x: y\n") && !has(&doc, "x: y; x: y; x: y; x: y; x: y; x: y; x: y; x: y; "
                                                 "x: y; x: y; x: y; x: y; x: y; x: y; x: y; x: y; "
                                                 "x: y; x: y; x: y; x: y; x: y; x: y; x: y; x: y; "
                                                 "x: y; x: y; x: y; x: y; x: y; x: y; x: y; x: y; "
                                                 "x: y; x: y; x: y; x: y; x: y; x: y; x: y; x: y; "
                                                 "x: y; x: y; x: y; x: y; x: y; x: y; x: y; x: y; "
                                                 "x: y; x: y; x: y; x: y; x: y; x: y; x: y; x: y; "
                                                 "x: y; x: y; x: y; x: y; x: y; x: y; x: y; x: y; "
                                                 "x: y"),
       "repeated non-empty cell written 64 times");
    OK(doc.text.len < (size_t)64 << 10, "output bounded (no empty repeats written)");
    ingest_doc_free(&doc);
    ingest_limits_default(&lim);
    lim.max_pages = 2;
    ASSERT_EQ_INT(parse_file("deck.pptx", ingest_parse_pptx, &lim, &doc, &err), KEEP_ERR_TOOBIG,
                  "slide cap");
    ingest_doc_free(&doc);

    /* truncated, damaged and foreign bytes */
    size_t len = 0;
    char *data = load("handbook.docx", &len);
    ingest_limits_default(&lim);
    ingest_doc_init(&doc, &lim);
    rc = data ? ingest_parse_docx(data, len / 2, &lim, &doc, &err) : -1;
    OK(rc == KEEP_ERR_PARSE || rc == KEEP_ERR_CORRUPT, "truncated zip: clean error");
    OK(err.msg[0] != '\0', "truncated zip: message");
    ingest_doc_free(&doc);
    if (data) {
        char *bad = keep_malloc(len);
        memcpy(bad, data, len);
        for (size_t i = 200; i < len / 2; i += 7)
            bad[i] = (char)(bad[i] ^ 0x5A);
        ingest_doc_init(&doc, &lim);
        rc = ingest_parse_docx(bad, len, &lim, &doc, &err);
        OK(rc != KEEP_OK && err.msg[0], "damaged member data: clean error");
        ingest_doc_free(&doc);
        keep_free(bad);
    }
    keep_free(data);

    static const char not_zip[] = "Hello, this is plain text and not an archive at all.";
    ingest_parse_fn fns[] = {ingest_parse_docx, ingest_parse_pptx, ingest_parse_xlsx,
                             ingest_parse_odt,  ingest_parse_odp,  ingest_parse_ods};
    for (size_t i = 0; i < 6; i++) {
        ingest_doc_init(&doc, &lim);
        ASSERT_EQ_INT(fns[i](not_zip, sizeof not_zip - 1, &lim, &doc, &err), KEEP_ERR_PARSE,
                      "not a zip: parse error");
        ingest_doc_free(&doc);
        ingest_doc_init(&doc, &lim);
        OK(fns[i]("", 0, &lim, &doc, &err) != KEEP_OK, "empty input refused");
        ingest_doc_free(&doc);
    }
    static const char cfb[] = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1 rest of an OLE file";
    ingest_doc_init(&doc, &lim);
    ASSERT_EQ_INT(ingest_parse_docx(cfb, sizeof cfb - 1, &lim, &doc, &err), KEEP_ERR_UNSUPPORTED,
                  "encrypted OOXML (OLE container) refused");
    ingest_doc_free(&doc);

    /* the wrong parser for a real file */
    ASSERT_EQ_INT(parse_file("inventory.xlsx", ingest_parse_docx, NULL, &doc, &err),
                  KEEP_ERR_PARSE, "xlsx given to the docx parser");
    ingest_doc_free(&doc);
    ASSERT_EQ_INT(parse_file("handbook.odt", ingest_parse_ods, NULL, &doc, &err), KEEP_ERR_PARSE,
                  "odt given to the ods parser");
    ingest_doc_free(&doc);
}

/* ---- packages built in memory ---------------------------------------------------- */

typedef struct mpart {
    const char *name;
    const char *data;
    size_t len;
} mpart;

/* A zip of the parts (or of n_empty empty members when parts is NULL) made
 * with libzip in memory. Caller frees with keep_free. */
static char *make_zip(const mpart *parts, size_t n, size_t n_empty, size_t *len)
{
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, NULL);
    if (!src)
        return NULL;
    zip_source_keep(src);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, NULL);
    char *out = NULL;
    if (!za)
        goto done;
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(za, parts[i].data, parts[i].len, 0);
        if (!s || zip_file_add(za, parts[i].name, s, 0) < 0) {
            zip_source_free(s);
            zip_discard(za);
            goto done;
        }
    }
    for (size_t i = 0; i < n_empty; i++) {
        char name[32];
        snprintf(name, sizeof name, "e%zu", i);
        zip_source_t *s = zip_source_buffer(za, "", 0, 0);
        if (!s || zip_file_add(za, name, s, 0) < 0) {
            zip_source_free(s);
            zip_discard(za);
            goto done;
        }
        zip_set_file_compression(za, (zip_uint64_t)i + n, ZIP_CM_STORE, 0);
    }
    if (zip_close(za) < 0) {
        zip_discard(za);
        goto done;
    }
    zip_stat_t st;
    if (zip_source_stat(src, &st) == 0 && zip_source_open(src) == 0) {
        out = keep_malloc(st.size + 1);
        if (out && zip_source_read(src, out, st.size) == (zip_int64_t)st.size) {
            *len = st.size;
        } else {
            keep_free(out);
            out = NULL;
        }
        zip_source_close(src);
    }
done:
    zip_source_free(src);
    return out;
}

#define OOXML_RELS(type, target)                                                               \
    "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/"  \
    "2006/relationships\"><Relationship Id=\"r1\" Type=\"http://schemas.openxmlformats.org/"     \
    "officeDocument/2006/relationships/" type "\" Target=\"" target "\"/></Relationships>"
#define WNS "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\""

static void test_generated(void)
{
    ingest_limits lim;
    ingest_limits_default(&lim);
    keep_err err = {0};
    ingest_doc doc;

    /* more entries than any document has */
    size_t len = 0;
    char *z = make_zip(NULL, 0, INGEST_ZIP_MAX_ENTRIES + 1, &len);
    ingest_zip *zh = NULL;
    OK(z != NULL, "zip with 65537 entries built");
    ASSERT_EQ_INT(z ? ingest__zip_open(z, len, &lim, &zh, &err) : -1, KEEP_ERR_TOOBIG,
                  "entry count cap");
    ingest__zip_close(zh);
    keep_free(z);

    /* 10000 styles, numbering definitions and paragraphs using them: lookups
     * that were linear would make this quadratic (minutes, not milliseconds) */
    enum { N = 10000 };
    keep_buf styles = {0}, numbering = {0}, body = {0};
    keep_buf_printf(&styles, "<w:styles " WNS ">");
    keep_buf_printf(&numbering, "<w:numbering " WNS ">");
    keep_buf_printf(&body, "<w:document " WNS "><w:body>");
    for (int i = 0; i < N; i++) {
        keep_buf_printf(&styles,
                        "<w:style w:type=\"paragraph\" w:styleId=\"S%d\"><w:name w:val=\"s%d\"/>"
                        "<w:basedOn w:val=\"S%d\"/></w:style>",
                        i, i, i + 1);
        keep_buf_printf(&numbering,
                        "<w:abstractNum w:abstractNumId=\"%d\"><w:lvl w:ilvl=\"0\"><w:numFmt "
                        "w:val=\"decimal\"/></w:lvl></w:abstractNum><w:num w:numId=\"%d\">"
                        "<w:abstractNumId w:val=\"%d\"/></w:num>",
                        i, i + 1, i);
        keep_buf_printf(&body,
                        "<w:p><w:pPr><w:pStyle w:val=\"S%d\"/><w:numPr><w:ilvl w:val=\"0\"/>"
                        "<w:numId w:val=\"%d\"/></w:numPr></w:pPr><w:r><w:t>item %d</w:t></w:r></w:p>",
                        (i * 7919) % N, N - i, i);
    }
    keep_buf_printf(&styles, "<w:style w:type=\"paragraph\" w:styleId=\"S%d\"><w:name "
                             "w:val=\"heading 2\"/></w:style></w:styles>", N);
    keep_buf_puts(&numbering, "</w:numbering>");
    keep_buf_puts(&body, "</w:body></w:document>");
    static const char root[] = OOXML_RELS("officeDocument", "word/document.xml");
    static const char rels[] =
        "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/"
        "2006/relationships\"><Relationship Id=\"r1\" Type=\"http://schemas.openxmlformats.org/"
        "officeDocument/2006/relationships/styles\" Target=\"styles.xml\"/><Relationship Id=\"r2\" "
        "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/numbering\" "
        "Target=\"numbering.xml\"/></Relationships>";
    mpart parts[] = {{"_rels/.rels", root, sizeof root - 1},
                     {"word/_rels/document.xml.rels", rels, sizeof rels - 1},
                     {"word/document.xml", body.data, body.len},
                     {"word/styles.xml", styles.data, styles.len},
                     {"word/numbering.xml", numbering.data, numbering.len}};
    z = make_zip(parts, 5, 0, &len);
    ingest_doc_init(&doc, &lim);
    double t0 = keep_now_ms();
    ASSERT_EQ_INT(z ? ingest_parse_docx(z, len, &lim, &doc, &err) : -1, KEEP_OK,
                  "10000 styles and lists parse");
    printf("# 10000 styles/lists/paragraphs: %.0f ms\n", keep_now_ms() - t0);
    /* S0's basedOn chain is 16 steps short of the heading style: body text;
     * S9990 reaches "heading 2" within 16 steps */
    OK(doc.text.data && strncmp(doc.text.data, "1. item 0\n1. item 1\n", 20) == 0,
       "each paragraph numbered in its own list");
    int hi = 0;
    while (hi < N && (hi * 7919) % N != N - 1)
        hi++;
    char needle[64], path[64];
    snprintf(needle, sizeof needle, "\n\n1. item %d\n\n", hi);
    snprintf(path, sizeof path, "1. item %d", hi);
    OK(has(&doc, needle), "style one basedOn step from a heading is a heading");
    ASSERT_EQ_STR(heading_of(&doc, needle + 2), path, "numbered heading keeps its number");
    ingest_doc_free(&doc);
    keep_free(z);
    keep_buf_free(&styles);
    keep_buf_free(&numbering);
    keep_buf_free(&body);

    /* a 64 KiB shared string referenced by 16384 cells of one row */
    keep_buf sst = {0}, sheet = {0};
    keep_buf_puts(&sst, "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><si><t>");
    for (int i = 0; i < 4096; i++)
        keep_buf_puts(&sst, "0123456789abcdef");
    keep_buf_puts(&sst, "</t></si></sst>");
    keep_buf_puts(&sheet, "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
                          "<sheetData><row>");
    for (int i = 0; i < 16384; i++)
        keep_buf_puts(&sheet, "<c t=\"s\"><v>0</v></c>");
    keep_buf_puts(&sheet, "</row></sheetData></worksheet>");
    static const char xroot[] = OOXML_RELS("officeDocument", "xl/workbook.xml");
    static const char wb[] =
        "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
        "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>"
        "<sheet name=\"Big\" sheetId=\"1\" r:id=\"r1\"/></sheets></workbook>";
    static const char wrels[] =
        "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/"
        "2006/relationships\"><Relationship Id=\"r1\" Type=\"http://schemas.openxmlformats.org/"
        "officeDocument/2006/relationships/worksheet\" Target=\"s.xml\"/><Relationship Id=\"r2\" "
        "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings\" "
        "Target=\"sst.xml\"/></Relationships>";
    mpart xparts[] = {{"_rels/.rels", xroot, sizeof xroot - 1},
                      {"xl/workbook.xml", wb, sizeof wb - 1},
                      {"xl/_rels/workbook.xml.rels", wrels, sizeof wrels - 1},
                      {"xl/s.xml", sheet.data, sheet.len},
                      {"xl/sst.xml", sst.data, sst.len}};
    z = make_zip(xparts, 5, 0, &len);
    lim.max_text_bytes = 8 << 20;
    ingest_doc_init(&doc, &lim);
    ASSERT_EQ_INT(z ? ingest_parse_xlsx(z, len, &lim, &doc, &err) : -1, KEEP_ERR_TOOBIG,
                  "1 GiB row of one shared string stops at the text cap");
    ingest_doc_free(&doc);
    keep_free(z);
    keep_buf_free(&sst);
    keep_buf_free(&sheet);
}

/* Number formats: each row shows a value through one cell style of a
 * generated workbook; the expected text is what Excel shows (English). */
static void test_xlsx_numfmt(void)
{
    static const struct {
        const char *code; /* custom code, or NULL for the built-in id */
        long id;
        const char *value, *shown;
    } cases[] = {
        {"0.00", 164, "7.9", "7.90"},
        {NULL, 2, "2.4", "2.40"},
        {NULL, 1, "2.5", "3"},
        {NULL, 3, "1234", "1,234"},
        {NULL, 4, "1234567.891", "1,234,567.89"},
        {NULL, 4, "-1234567.891", "-1,234,567.89"},
        {NULL, 9, "0.125", "13%"},
        {NULL, 10, "0.0525", "5.25%"},
        {"0.0%", 165, "0.4567", "45.7%"},
        {"$#,##0.00", 166, "1234.5", "$1,234.50"},
        {"$#,##0.00", 166, "-1234.5", "-$1,234.50"},
        {"[$\xe2\x82\xac-407]#,##0.00", 167, "99", "\xe2\x82\xac" "99.00"},
        {"#,##0.00\\ [$\xe2\x82\xac-407]", 168, "1234.5", "1,234.50 \xe2\x82\xac"},
        {"#,##0.00 \"EUR\"", 169, "1385", "1,385.00 EUR"},
        {"0.00;(0.00)", 170, "-7.9", "(7.90)"},
        {"0.00;(0.00)", 170, "7.9", "7.90"},
        {"0.00;[Red]\\-0.00", 171, "-3", "-3.00"},
        {"0.00;-0.00;\"nil\"", 172, "0", "0"}, /* a text-only section: the value */
        {NULL, 39, "-1500", "(1,500.00)"},
        {NULL, 11, "12345", "1.23E+04"},
        {NULL, 49, "42", "42"},
        {"@", 173, "0.1", "0.1"},
        {"General", 174, "3.14159", "3.14159"},
        {NULL, 0, "1.5", "1.5"},
        {NULL, 0, "0.30000000000000004", "0.3"}, /* 15 significant digits, as Excel */
        {NULL, 0, "45.599999999999994", "45.6"},
        {NULL, 0, "-1234.5678", "-1234.5678"},
        {"General\\ \"kg\"", 182, "2.5000000000000004", "2.5 kg"},
        {"0.0#", 175, "1.5", "1.5"},
        {"0.0#", 175, "1.567", "1.57"},
        {"#,##0,\"k\"", 176, "1234567", "1,235k"},
        {"000", 177, "7", "007"},
        {"#.00", 178, "0.5", ".50"},
        {NULL, 2, "1.005", "1.01"},
        {NULL, 2, "0.995", "1.00"},
        {NULL, 2, "-0.001", "0.00"},
        {NULL, 2, "123456789012", "123456789012.00"},
        {NULL, 2, "1e300", "1e300"},
        {"_(* #,##0.00_);_(* \\(#,##0.00\\);_(* \"-\"??_);_(@_)", 179, "-1234", "(1,234.00)"},
        {"[>=100]0;0.0", 180, "5", "5"}, /* conditions: the stored value */
        {"# ?/?", 181, "1.5", "1.5"},   /* fractions: the stored value */
        {NULL, 14, "45366", "2024-03-15"},
    };
    enum { NC = sizeof cases / sizeof cases[0] };
    keep_buf styles = {0}, sheet = {0};
    keep_buf_puts(&styles, "<styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/"
                           "2006/main\"><numFmts>");
    for (size_t i = 0; i < NC; i++) {
        if (!cases[i].code)
            continue;
        keep_buf_printf(&styles, "<numFmt numFmtId=\"%ld\" formatCode=\"", cases[i].id);
        for (const char *q = cases[i].code; *q; q++)
            if (*q == '"')
                keep_buf_puts(&styles, "&quot;");
            else
                keep_buf_putc(&styles, *q);
        keep_buf_puts(&styles, "\"/>");
    }
    keep_buf_puts(&styles, "</numFmts><cellXfs><xf numFmtId=\"0\"/>"); /* default: General */
    for (size_t i = 0; i < NC; i++)
        keep_buf_printf(&styles, "<xf numFmtId=\"%ld\"/>", cases[i].id);
    keep_buf_puts(&styles, "</cellXfs></styleSheet>");
    keep_buf_puts(&sheet, "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/"
                          "2006/main\"><sheetData><row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>"
                          "Case</t></is></c><c r=\"B1\" t=\"inlineStr\"><is><t>Shown</t></is></c>"
                          "</row>");
    for (size_t i = 0; i < NC; i++)
        keep_buf_printf(&sheet, "<row r=\"%zu\"><c r=\"A%zu\"><v>%zu</v></c><c r=\"B%zu\" s=\"%zu\">"
                                "<v>%s</v></c></row>", i + 2, i + 2, i + 1000, i + 2, i + 1,
                        cases[i].value);
    keep_buf_puts(&sheet, "<row><c t=\"inlineStr\"><is><t>end</t></is></c></row></sheetData>"
                          "</worksheet>");
    static const char root[] = OOXML_RELS("officeDocument", "xl/workbook.xml");
    static const char wb[] =
        "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
        "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>"
        "<sheet name=\"Formats\" sheetId=\"1\" r:id=\"r1\"/></sheets></workbook>";
    static const char wrels[] =
        "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/"
        "2006/relationships\"><Relationship Id=\"r1\" Type=\"http://schemas.openxmlformats.org/"
        "officeDocument/2006/relationships/worksheet\" Target=\"s.xml\"/><Relationship Id=\"r2\" "
        "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" "
        "Target=\"styles.xml\"/></Relationships>";
    mpart parts[] = {{"_rels/.rels", root, sizeof root - 1},
                     {"xl/workbook.xml", wb, sizeof wb - 1},
                     {"xl/_rels/workbook.xml.rels", wrels, sizeof wrels - 1},
                     {"xl/s.xml", sheet.data, sheet.len},
                     {"xl/styles.xml", styles.data, styles.len}};
    size_t len = 0;
    char *z = make_zip(parts, 5, 0, &len);
    ingest_limits lim;
    ingest_limits_default(&lim);
    ingest_doc doc;
    keep_err err = {0};
    ingest_doc_init(&doc, &lim);
    ASSERT_EQ_INT(z ? ingest_parse_xlsx(z, len, &lim, &doc, &err) : -1, KEEP_OK,
                  "number format workbook parses");
    for (size_t i = 0; i < NC; i++) {
        char needle[128], what[160];
        snprintf(needle, sizeof needle, "\nCase: %zu; Shown: %s\n", i + 1000, cases[i].shown);
        snprintf(what, sizeof what, "format %s (id %ld) shows %s as %s",
                 cases[i].code ? cases[i].code : "built-in", cases[i].id, cases[i].value,
                 cases[i].shown);
        OK(has(&doc, needle), what);
    }
    if (doc.text.data && getenv("KEEP_TEST_VERBOSE"))
        printf("%s\n", doc.text.data);
    ingest_doc_free(&doc);
    keep_free(z);
    keep_buf_free(&styles);
    keep_buf_free(&sheet);
}

/* Sparse sheets: a cell in the last row and column, and rows of formatted
 * but empty cells (what a whole-column style leaves), write only the values. */
static void test_xlsx_sparse(void)
{
    keep_buf sheet = {0};
    keep_buf_puts(&sheet, "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/"
                          "2006/main\"><sheetData><row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>"
                          "Name</t></is></c><c r=\"B1\" t=\"inlineStr\"><is><t>Qty</t></is></c></row>");
    for (int r = 2; r < 2002; r++) {
        keep_buf_printf(&sheet, "<row r=\"%d\" s=\"1\" customFormat=\"1\">", r);
        for (int col = 0; col < 26; col++)
            keep_buf_printf(&sheet, "<c r=\"%c%d\" s=\"1\"/>", 'A' + col, r);
        keep_buf_puts(&sheet, "</row>");
    }
    keep_buf_puts(&sheet, "<row r=\"1048576\"><c r=\"A1048576\" t=\"inlineStr\"><is><t>far</t></is>"
                          "</c><c r=\"B1048576\"><v>3</v></c><c r=\"XFD1048576\"><v>9</v></c></row>"
                          "</sheetData></worksheet>");
    static const char root[] = OOXML_RELS("officeDocument", "xl/workbook.xml");
    static const char wb[] =
        "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
        "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>"
        "<sheet name=\"Sparse\" sheetId=\"1\" r:id=\"r1\"/></sheets></workbook>";
    static const char wrels[] = OOXML_RELS("worksheet", "s.xml");
    mpart parts[] = {{"_rels/.rels", root, sizeof root - 1},
                     {"xl/workbook.xml", wb, sizeof wb - 1},
                     {"xl/_rels/workbook.xml.rels", wrels, sizeof wrels - 1},
                     {"xl/s.xml", sheet.data, sheet.len}};
    size_t len = 0;
    char *z = make_zip(parts, 4, 0, &len);
    ingest_limits lim;
    ingest_limits_default(&lim);
    ingest_doc doc;
    keep_err err = {0};
    ingest_doc_init(&doc, &lim);
    ASSERT_EQ_INT(z ? ingest_parse_xlsx(z, len, &lim, &doc, &err) : -1, KEEP_OK,
                  "sparse sheet parses");
    ASSERT_EQ_STR(doc.text.data ? doc.text.data : "",
                  "Sparse\n\nName | Qty\nName: far; Qty: 3; 9",
                  "sparse sheet: empty formatted cells write nothing, the far cell has no header");
    ingest_doc_free(&doc);
    keep_free(z);
    keep_buf_free(&sheet);
}

/* Every allocation failure point of a whole parse is a clean error. */
static void test_alloc_failures(void)
{
    struct {
        const char *file;
        ingest_parse_fn fn;
    } cases[] = {{"handbook.docx", ingest_parse_docx}, {"deck.pptx", ingest_parse_pptx},
                 {"inventory.xlsx", ingest_parse_xlsx}, {"handbook.odt", ingest_parse_odt}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t len = 0;
        char *data = load(cases[c].file, &len);
        ingest_limits lim;
        ingest_limits_default(&lim);
        int clean = 1, done = 0;
        for (long n = 0; n < 5000 && data && !done; n += 1 + n / 64) {
            ingest_doc doc;
            keep_err err = {0};
            ingest_doc_init(&doc, &lim);
            keep_alloc_fail_after(n);
            int rc = cases[c].fn(data, len, &lim, &doc, &err);
            keep_alloc_fail_after(-1);
            if (rc == KEEP_OK)
                done = 1;
            else if (!err.msg[0])
                clean = 0;
            ingest_doc_free(&doc);
        }
        char what[96];
        snprintf(what, sizeof what, "%s: allocation failures give errors", cases[c].file);
        OK(clean && done, what);
        keep_free(data);
    }
}

int main(void)
{
    check_handbook("handbook.docx", ingest_parse_docx);
    check_handbook("handbook.odt", ingest_parse_odt);
    check_handbook("src/handbook.fodt", ingest_parse_odt);
    test_docx_localized();
    check_deck("deck.pptx", ingest_parse_pptx);
    check_deck("deck.odp", ingest_parse_odp);
    check_deck("src/deck.fodp", ingest_parse_odp);
    test_pptx_order();
    check_inventory("inventory.xlsx", ingest_parse_xlsx);
    check_inventory("inventory.ods", ingest_parse_ods);
    check_inventory("src/inventory.fods", ingest_parse_ods);
    test_xlsx_handmade();
    test_zip_layer();
    test_hostile();
    test_generated();
    test_xlsx_numfmt();
    test_xlsx_sparse();
    test_alloc_failures();
    return tap_done();
}
