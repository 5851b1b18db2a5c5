/* test_pdfweb.c — PDF, HTML, XHTML and XML parsers on the real files in
 * tests/data/pdfweb/ (how they were made: tests/data/pdfweb/src/README). */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/doc.h"
#include "ingest/parse_pdf.h"
#include "ingest/parse_web.h"
#include "tap.h"

static char *load(const char *name, size_t *len)
{
    const char *dir = getenv("KEEP_SRCDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/pdfweb/%s", dir ? dir : ".", name);
    char *data = NULL;
    keep_err err;
    if (keep_read_file(path, (size_t)1 << 24, &data, len, &err) != KEEP_OK) {
        printf("# cannot read %s: %s\n", path, err.msg);
        *len = 0;
    }
    return data;
}

typedef struct parsed {
    ingest_doc doc;
    keep_err err;
    int rc;
} parsed;

static void parse_buf(parsed *p, ingest_parse_fn fn, const char *data, size_t len,
                      const ingest_limits *lim)
{
    ingest_limits dl;
    if (!lim) {
        ingest_limits_default(&dl);
        lim = &dl;
    }
    memset(&p->err, 0, sizeof p->err);
    ingest_doc_init(&p->doc, lim);
    p->rc = fn(data, len, lim, &p->doc, &p->err);
    if (p->rc)
        printf("# parse: %s\n", p->err.msg);
}

static void parse_file(parsed *p, ingest_parse_fn fn, const char *name)
{
    size_t len = 0;
    char *data = load(name, &len);
    parse_buf(p, fn, data ? data : "", len, NULL);
    keep_free(data);
}

static const char *text(const parsed *p)
{
    return p->doc.text.data ? p->doc.text.data : "";
}

static int has(const parsed *p, const char *s)
{
    return strstr(text(p), s) != NULL;
}

/* Span holding the first occurrence of s, NULL when s is absent. */
static const ingest_span *span_of(const parsed *p, const char *s)
{
    const char *at = strstr(text(p), s);
    if (!at)
        return NULL;
    size_t off = (size_t)(at - text(p));
    for (size_t i = 0; i < p->doc.n_spans; i++)
        if (off >= p->doc.spans[i].start && off < p->doc.spans[i].end)
            return &p->doc.spans[i];
    return NULL;
}

static int page_of(const parsed *p, const char *s)
{
    const ingest_span *sp = span_of(p, s);
    return sp ? sp->page : -1;
}

static const char *heading_of(const parsed *p, const char *s)
{
    const ingest_span *sp = span_of(p, s);
    return sp ? (sp->heading ? sp->heading : "") : "(absent)";
}

static const char *meta(const parsed *p, const char *key)
{
    for (size_t i = 0; i < p->doc.n_meta; i++)
        if (strcmp(p->doc.meta[i].key, key) == 0)
            return p->doc.meta[i].value;
    return NULL;
}

/* ---- PDF ----------------------------------------------------------------- */

static void test_pdf_guide(void)
{
    parsed p;
    parse_file(&p, ingest_parse_pdf, "guide.pdf");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "pdf: guide.pdf parses");
    ASSERT_EQ_STR(p.doc.title, "Keep Operations Guide", "pdf: title from the metadata");
    ASSERT_EQ_STR(meta(&p, "author"), "Platform Team", "pdf: author metadata");
    ASSERT_EQ_STR(meta(&p, "pages"), "3", "pdf: page count metadata");
    ASSERT_EQ_STR(meta(&p, "pages_without_text"), "0", "pdf: every page has text");
    ASSERT_EQ_INT(page_of(&p, "The recovery passphrase is kept in the red safe in room 214."), 3,
                  "pdf: sentence on page 3 is tagged page 3");
    ASSERT_EQ_INT(page_of(&p, "Nightly backups copy every volume"), 1, "pdf: page 1 text");
    ASSERT_EQ_INT(page_of(&p, "Capacity is reviewed every quarter."), 2, "pdf: page 2 text");
    ASSERT_EQ_STR(heading_of(&p, "Nightly backups"), "Operations Guide > Backups",
                  "pdf: 24pt and 16pt lines become a two-level heading path");
    ASSERT_EQ_STR(heading_of(&p, "red safe"), "Operations Guide > Recovery Keys",
                  "pdf: heading on page 3");
    OK(has(&p, "keeps the full information needed to restore"),
       "pdf: \"infor-\" + \"mation\" joined into one word");
    OK(!has(&p, "infor-"), "pdf: no hyphen left from the line break");
    OK(has(&p, "owned by the North-East operations group."),
       "pdf: hyphen before a capital is a compound and stays");
    OK(has(&p, "offsite store. The copy runs at two"), "pdf: wrapped lines joined with a space");
    OK(has(&p, "from scratch.\n\nRestores are tested"), "pdf: paragraph break from line spacing");
    OK(has(&p, "Server: beta; Capacity: 12 TB; Owner: Chen Wei"),
       "pdf: table row rendered with its header names");
    OK(!has(&p, "ServerCapacityOwner"), "pdf: cells separated by gaps are not glued");
    ingest_doc_free(&p.doc);
}

static void test_pdf_heading_title(void)
{
    parsed p;
    parse_file(&p, ingest_parse_pdf, "report.pdf");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "pdf: report.pdf parses");
    ASSERT_EQ_STR(p.doc.title, "Quarterly Report", "pdf: no metadata title: first big heading");
    ASSERT_EQ_STR(heading_of(&p, "steady growth"), "Quarterly Report > Outlook",
                  "pdf: heading levels by size rank");
    ingest_doc_free(&p.doc);
}

/* LibreOffice places table cells a little apart and poppler's reading order
 * breaks its rows in two; rows must still come out whole. */
static void test_pdf_libreoffice(void)
{
    parsed p;
    parse_file(&p, ingest_parse_pdf, "manual.pdf");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "pdf: LibreOffice PDF parses");
    ASSERT_EQ_STR(p.doc.title, "Field Manual", "pdf: LibreOffice title");
    OK(has(&p, "Station: Eastford; River km: 31.0; Installed: 2021"),
       "pdf: narrow table rows rebuilt with header names");
    ASSERT_EQ_STR(heading_of(&p, "Station: Millbrook"), "Field Manual > Station List",
                  "pdf: table under its heading");
    ASSERT_EQ_INT(page_of(&p, "calls the duty officer at extension 4471"), 3,
                  "pdf: LibreOffice page 3");
    OK(has(&p, "the radio modem. A station that fails"), "pdf: LibreOffice lines joined");
    ingest_doc_free(&p.doc);
}

static void test_pdf_columns(void)
{
    parsed p;
    parse_file(&p, ingest_parse_pdf, "columns.pdf");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "pdf: two-column page parses");
    OK(has(&p, "the harbour master wrote each arrival into a large green book.\n\n"
               "The right column continues later: in winter the harbour froze"),
       "pdf: left column read before the right one, as two paragraphs");
    OK(!has(&p, " | "), "pdf: side-by-side columns are not a table");
    ingest_doc_free(&p.doc);
}

/* ---- PDFs written here ------------------------------------------------------
 * A4 pages of text in the standard Helvetica fonts (poppler knows their
 * metrics, no font file needed), each string placed at (x, y from the top of
 * the first page; y >= 842 is on a later page): the tests know exactly where
 * every line and cell is. */

typedef struct gtext {
    double x, y, size;
    int bold;
    const char *s;
} gtext;

#define GEN_MAX_PAGES 4

/* Caller frees with keep_free. */
static char *gen_pdf(const gtext *t, size_t n, size_t *len)
{
    keep_buf content[GEN_MAX_PAGES], b = {0};
    memset(content, 0, sizeof content);
    int pages = 1;
    for (size_t i = 0; i < n; i++) {
        int pg = (int)(t[i].y / 842.0);
        if (pg >= GEN_MAX_PAGES)
            continue;
        if (pg + 1 > pages)
            pages = pg + 1;
        keep_buf *cb = &content[pg];
        keep_buf_printf(cb, "BT /%s %.1f Tf %.2f %.2f Td (", t[i].bold ? "F2" : "F1", t[i].size,
                        t[i].x, 842.0 * (pg + 1) - t[i].y);
        for (const char *s = t[i].s; *s; s++) {
            if (*s == '(' || *s == ')' || *s == '\\')
                keep_buf_putc(cb, '\\');
            keep_buf_putc(cb, *s);
        }
        keep_buf_puts(cb, ") Tj ET\n");
    }
    /* objects: 1 catalog, 2 pages, 3 and 4 fonts, then page and content per page */
    size_t off[5 + 2 * GEN_MAX_PAGES];
    int nobj = 4 + 2 * pages;
    keep_buf_puts(&b, "%PDF-1.4\n");
    off[1] = b.len;
    keep_buf_puts(&b, "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
    off[2] = b.len;
    keep_buf_printf(&b, "2 0 obj << /Type /Pages /Count %d /Kids [", pages);
    for (int p = 0; p < pages; p++)
        keep_buf_printf(&b, " %d 0 R", 5 + 2 * p);
    keep_buf_puts(&b, " ] >> endobj\n");
    off[3] = b.len;
    keep_buf_puts(&b, "3 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                      "/Encoding /WinAnsiEncoding >> endobj\n");
    off[4] = b.len;
    keep_buf_puts(&b, "4 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
                      "/Encoding /WinAnsiEncoding >> endobj\n");
    for (int p = 0; p < pages; p++) {
        off[5 + 2 * p] = b.len;
        keep_buf_printf(&b, "%d 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                            "/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R "
                            ">> endobj\n", 5 + 2 * p, 6 + 2 * p);
        off[6 + 2 * p] = b.len;
        keep_buf_printf(&b, "%d 0 obj << /Length %zu >> stream\n", 6 + 2 * p, content[p].len);
        if (content[p].len)
            keep_buf_append(&b, content[p].data, content[p].len);
        keep_buf_puts(&b, "endstream endobj\n");
    }
    size_t xref = b.len;
    keep_buf_printf(&b, "xref\n0 %d\n0000000000 65535 f \n", nobj + 1);
    for (int i = 1; i <= nobj; i++)
        keep_buf_printf(&b, "%010zu 00000 n \n", off[i]);
    keep_buf_printf(&b, "trailer << /Size %d /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", nobj + 1,
                    xref);
    for (int p = 0; p < GEN_MAX_PAGES; p++)
        keep_buf_free(&content[p]);
    *len = b.len;
    return keep_buf_take(&b);
}

static void parse_gen(parsed *p, const gtext *t, size_t n)
{
    size_t len = 0;
    char *pdf = gen_pdf(t, n, &len);
    parse_buf(p, ingest_parse_pdf, pdf ? pdf : "", pdf ? len : 0, NULL);
    if (getenv("KEEP_TEST_VERBOSE") && p->doc.text.data)
        printf("%s\n", p->doc.text.data);
    keep_free(pdf);
}

/* Lines of one paragraph become one line; the author's breaks stay. */
static void test_pdf_paragraphs(void)
{
    static const gtext t[] = {
        {72, 80, 18, 1, "Reading PDF files"},
        {72, 110, 11, 0, "Keep reads the documents of a small office and answers the questions"},
        {72, 124, 11, 0, "of its staff. The lines of one paragraph are joined into a single line,"},
        {72, 138, 11, 0, "and a word that was broken at the end of a line, like the word exam-"},
        {72, 152, 11, 0, "ple in this sentence, becomes whole again. Names such as North-"},
        {72, 166, 11, 0, "East keep their hyphen, and the words after the end of a line are"},
        {72, 180, 11, 0, "not changed. This line ends earlier than the others since the"},
        {72, 194, 11, 0, "telecommunications-grade word after it is too long to fit there."},
        {72, 222, 11, 0, "A new paragraph starts after a gap and keeps its list:"},
        {72, 236, 11, 0, "- the first item of the list"},
        {72, 250, 11, 0, "- the second item, which is long enough to wrap onto a second line of"},
        {82, 264, 11, 0, "its own, which joins the item"},
        {72, 278, 11, 0, "2. a numbered item"},
        {72, 306, 11, 0, "Brightwater Freight GmbH"},
        {72, 320, 11, 0, "Hafenstrasse 12"},
        {72, 334, 11, 0, "20457 Hamburg"},
        {90, 362, 11, 0, "Books set their paragraphs without a gap and indent the first line"},
        {72, 376, 11, 0, "of each one instead, like this one, which ends here."},
        {90, 390, 11, 0, "The next paragraph starts with an indent on the following line."},
    };
    parsed p;
    parse_gen(&p, t, sizeof t / sizeof t[0]);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "pdf paragraphs: parses");
    ASSERT_EQ_STR(text(&p),
                  "Reading PDF files\n\n"
                  "Keep reads the documents of a small office and answers the questions of its "
                  "staff. The lines of one paragraph are joined into a single line, and a word "
                  "that was broken at the end of a line, like the word example in this sentence, "
                  "becomes whole again. Names such as North-East keep their hyphen, and the words "
                  "after the end of a line are not changed. This line ends earlier than the "
                  "others since the "
                  "telecommunications-grade word after it is too long to fit there.\n\n"
                  "A new paragraph starts after a gap and keeps its list:\n"
                  "- the first item of the list\n"
                  "- the second item, which is long enough to wrap onto a second line of its "
                  "own, which joins the item\n"
                  "2. a numbered item\n\n"
                  "Brightwater Freight GmbH\nHafenstrasse 12\n20457 Hamburg\n\n"
                  "Books set their paragraphs without a gap and indent the first line of each "
                  "one instead, like this one, which ends here.\n\n"
                  "The next paragraph starts with an indent on the following line.",
                  "pdf paragraphs: lines joined, exam-ple de-hyphenated, breaks and items kept");
    ingest_doc_free(&p.doc);
}

/* A table whose cells wrap over several lines: one row per table row. */
static void test_pdf_wrapped_table(void)
{
    static const gtext t[] = {
        {72, 80, 10, 0, "Meeting rooms of the Hamburg office:"},
        {72, 110, 10, 1, "Room"},
        {200, 110, 10, 1, "Equipment"},
        {360, 110, 10, 1, "Booking"},
        {72, 132, 10, 0, "Harbour"},
        {200, 132, 10, 0, "projector, whiteboard,"},
        {200, 145, 10, 0, "video phone"},
        {360, 132, 10, 0, "front desk"},
        {72, 166, 10, 0, "Lighthouse"},
        {72, 179, 10, 0, "(small)"},
        {200, 166, 10, 0, "screen"},
        {360, 166, 10, 0, "self-service in the"},
        {360, 179, 10, 0, "calendar, up to two"},
        {360, 192, 10, 0, "weeks ahead"},
        {72, 213, 10, 0, "Dock"},
        {200, 213, 10, 0, "none"},
        {360, 213, 10, 0, "not needed"},
        {72, 240, 10, 0, "Rooms are cleaned every evening by the facility team."},
    };
    parsed p;
    parse_gen(&p, t, sizeof t / sizeof t[0]);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "pdf wrapped table: parses");
    ASSERT_EQ_STR(text(&p),
                  "Meeting rooms of the Hamburg office:\n\n"
                  "Room: Harbour; Equipment: projector, whiteboard, video phone; "
                  "Booking: front desk\n"
                  "Room: Lighthouse (small); Equipment: screen; Booking: self-service in the "
                  "calendar, up to two weeks ahead\n"
                  "Room: Dock; Equipment: none; Booking: not needed\n\n"
                  "Rooms are cleaned every evening by the facility team.",
                  "pdf wrapped table: wrapped cells joined within their cell, rows kept");
    ingest_doc_free(&p.doc);

    /* rows as close as the lines inside a cell: which line starts a row is
     * unclear, so the rows are not merged (the line rules apply) */
    gtext tight[sizeof t / sizeof t[0]];
    memcpy(tight, t, sizeof t);
    for (size_t i = 1; i < sizeof t / sizeof t[0] - 1; i++)
        tight[i].y = 110 + 13 * (double)(i / 3); /* rough: rows 13 pt apart, no padding */
    static const double ys[] = {80, 110, 110, 110, 123, 123, 136, 123, 149, 162, 149,
                                149, 162, 175, 188, 188, 188, 214};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        tight[i].y = ys[i];
    parse_gen(&p, tight, sizeof t / sizeof t[0]);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "pdf tight table: parses");
    OK(!has(&p, "Harbour projector") && !has(&p, "front desk Lighthouse") &&
           !has(&p, "video phone screen"),
       "pdf tight table: rows not merged into one");
    OK(has(&p, "Lighthouse") && has(&p, "weeks ahead"), "pdf tight table: text kept");
    ingest_doc_free(&p.doc);
}

/* A two-page document's running footer (same text, page number aside) is
 * furniture on both pages. */
static void test_pdf_two_page_footer(void)
{
    static const gtext t[] = {
        {72, 80, 11, 0, "The first page says that the depot opens at six."},
        {150, 800, 8, 0, "Brightwater Freight GmbH - Depot Rules - page 1"},
        {72, 842 + 80, 11, 0, "The second page says that it closes at ten."},
        {150, 842 + 800, 8, 0, "Brightwater Freight GmbH - Depot Rules - page 2"},
    };
    parsed p;
    parse_gen(&p, t, sizeof t / sizeof t[0]);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "pdf two pages: parses");
    ASSERT_EQ_STR(text(&p),
                  "The first page says that the depot opens at six.\n\n"
                  "The second page says that it closes at ten.",
                  "pdf two pages: running footer dropped");
    ASSERT_EQ_INT(page_of(&p, "closes at ten"), 2, "pdf two pages: page of the second text");
    ingest_doc_free(&p.doc);
}

/* Bookmarks name headings that are set in bold body size. */
static void test_pdf_outline(void)
{
    parsed p;
    parse_file(&p, ingest_parse_pdf, "outline.pdf");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "pdf: outline.pdf parses");
    OK(has(&p, "Pump seals and filters are replaced"), "pdf: fi ligature spelled out");
    ASSERT_EQ_STR(heading_of(&p, "Pump seals"), "Maintenance Plan > Pumps",
                  "pdf: bookmark makes a bold body-size line a heading");
    ASSERT_EQ_STR(heading_of(&p, "Valves are greased"), "Maintenance Plan > Valves",
                  "pdf: bookmark on page 2, level from the outline depth");
    ASSERT_EQ_STR(p.doc.title, "Maintenance Plan", "pdf: title from the first big heading");
    ingest_doc_free(&p.doc);
}

static void test_pdf_encrypted(void)
{
    parsed p;
    parse_file(&p, ingest_parse_pdf, "locked.pdf");
    ASSERT_EQ_INT(p.rc, KEEP_ERR_DENIED, "pdf: user password refused");
    ASSERT_EQ_STR(p.err.msg, "PDF is password-protected", "pdf: clear message");
    ingest_doc_free(&p.doc);

    parse_file(&p, ingest_parse_pdf, "owner-only.pdf");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "pdf: empty user password opens");
    ASSERT_EQ_INT(page_of(&p, "red safe in room 214"), 3, "pdf: encrypted text decrypted");
    ingest_doc_free(&p.doc);
}

/* Damaged input: a clean error, and nothing printed even when GLib is asked
 * to print every debug message (poppler's complaints quote document bytes;
 * GLib prints INFO on stdout, warnings on stderr, so both are captured). */
static void test_pdf_broken(void)
{
    size_t len = 0;
    char *data = load("guide.pdf", &len);
    char *bad = keep_malloc(len);
    memcpy(bad, data, len);
    for (size_t i = len / 3; i < len / 3 + 2000 && i < len; i += 7)
        bad[i] ^= 0x5A; /* content streams, fonts */

    fflush(stdout);
    fflush(stderr);
    int out = dup(1), errfd = dup(2);
    char tmpl[] = "/tmp/keep-pdfweb-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    int rc[5];
    keep_err e[5];
    const char *in[5] = {data, data, bad, "hello, I am not a PDF", ""};
    size_t n[5] = {len / 2, 9000, len, 21, 0};
    for (int i = 0; i < 5; i++) {
        ingest_doc doc;
        ingest_limits lim;
        ingest_limits_default(&lim);
        ingest_doc_init(&doc, &lim);
        memset(&e[i], 0, sizeof e[i]);
        rc[i] = ingest_parse_pdf(in[i], n[i], &lim, &doc, &e[i]);
        ingest_doc_free(&doc);
    }
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(errfd, 2);
    close(out);
    close(errfd);
    struct stat st;
    OK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0, "pdf: poppler printed nothing");
    if (fd >= 0) {
        close(fd);
        unlink(tmpl);
    }
    OK(rc[0] == KEEP_ERR_CORRUPT || rc[0] == KEEP_OK, "pdf: truncated file: clean result");
    OK(rc[0] == KEEP_OK || e[0].msg[0], "pdf: truncated file: message");
    ASSERT_EQ_INT(rc[1], KEEP_ERR_CORRUPT, "pdf: file cut before its xref is damaged");
    ASSERT_EQ_STR(e[1].msg, "PDF is damaged or not a PDF", "pdf: damaged message");
    OK(rc[2] == KEEP_OK || rc[2] == KEEP_ERR_CORRUPT || rc[2] == KEEP_ERR_PARSE,
       "pdf: corrupted bytes: clean result");
    ASSERT_EQ_INT(rc[3], KEEP_ERR_CORRUPT, "pdf: garbage is damaged");
    ASSERT_EQ_INT(rc[4], KEEP_ERR_CORRUPT, "pdf: empty input");
    keep_free(bad);
    keep_free(data);
}

static void test_pdf_limits(void)
{
    size_t len = 0;
    char *data = load("guide.pdf", &len);
    ingest_limits lim;
    ingest_limits_default(&lim);
    lim.max_pages = 2;
    parsed p;
    parse_buf(&p, ingest_parse_pdf, data, len, &lim);
    ASSERT_EQ_INT(p.rc, KEEP_ERR_TOOBIG, "pdf: page cap");
    ingest_doc_free(&p.doc);
    ingest_limits_default(&lim);
    lim.max_text_bytes = 200;
    parse_buf(&p, ingest_parse_pdf, data, len, &lim);
    ASSERT_EQ_INT(p.rc, KEEP_ERR_TOOBIG, "pdf: text cap");
    OK(p.doc.text.len <= 200, "pdf: text cap holds");
    ingest_doc_free(&p.doc);
    ingest_limits_default(&lim);
    lim.max_file_bytes = 1000;
    parse_buf(&p, ingest_parse_pdf, data, len, &lim);
    ASSERT_EQ_INT(p.rc, KEEP_ERR_TOOBIG, "pdf: file size cap");
    ingest_doc_free(&p.doc);
    keep_free(data);
}

typedef struct job {
    const char *data;
    size_t len;
    int same;
    const char *expect;
} job;

static void *pdf_thread(void *arg)
{
    job *j = arg;
    j->same = 1;
    for (int i = 0; i < 4; i++) {
        parsed p;
        ingest_limits lim;
        ingest_limits_default(&lim);
        ingest_doc_init(&p.doc, &lim);
        p.rc = ingest_parse_pdf(j->data, j->len, &lim, &p.doc, &p.err);
        if (p.rc || strcmp(text(&p), j->expect) != 0)
            j->same = 0;
        ingest_doc_free(&p.doc);
    }
    return NULL;
}

/* One document per thread, several at once: the same text as alone. */
static void test_pdf_threads(void)
{
    size_t l1 = 0, l2 = 0;
    char *d1 = load("guide.pdf", &l1), *d2 = load("report.pdf", &l2);
    parsed a, b;
    parse_buf(&a, ingest_parse_pdf, d1, l1, NULL);
    parse_buf(&b, ingest_parse_pdf, d2, l2, NULL);
    job jobs[4] = {
        {d1, l1, 0, text(&a)}, {d2, l2, 0, text(&b)}, {d1, l1, 0, text(&a)}, {d2, l2, 0, text(&b)}};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, pdf_thread, &jobs[i]);
    int same = 1;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        same &= jobs[i].same;
    }
    OK(same && a.doc.text.len > 100, "pdf: parallel parses give the same text");
    ingest_doc_free(&a.doc);
    ingest_doc_free(&b.doc);
    keep_free(d1);
    keep_free(d2);
}

/* ---- HTML ---------------------------------------------------------------- */

static void test_html_page(void)
{
    parsed p;
    parse_file(&p, ingest_parse_html, "page.html");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "html: page.html parses");
    ASSERT_EQ_STR(p.doc.title, "Backup Handbook \xE2\x80\x93 Keep Docs", "html: <title>");
    ASSERT_EQ_STR(meta(&p, "description"),
                  "How the operations team backs up and restores the file servers.",
                  "html: meta description");
    ASSERT_EQ_STR(meta(&p, "keywords"), "backup, restore, retention", "html: meta keywords");
    OK(strncmp(text(&p), "How the operations team backs up", 32) == 0,
       "html: description leads the text");
    static const char *const gone[] = {"SCRIPT-TEXT-MUST-NOT-APPEAR",
                                       "trackingToken",
                                       "secret-style-rule",
                                       "SITE-BANNER-TEXT",
                                       "NAV-LINK-TEXT",
                                       "ROLE-NAV-TEXT",
                                       "HIDDEN-ATTR-TEXT",
                                       "ARIA-HIDDEN-TEXT",
                                       "DISPLAY-NONE-TEXT",
                                       "ASIDE-TEXT",
                                       "NOSCRIPT-TEXT",
                                       "TEMPLATE-TEXT",
                                       "FORM-BUTTON-TEXT",
                                       "FORM-INPUT",
                                       "IFRAME-TEXT",
                                       "SVG-TEXT",
                                       "FOOTER-TEXT",
                                       NULL};
    int clean = 1;
    for (int i = 0; gone[i]; i++)
        if (has(&p, gone[i])) {
            printf("#   still there: %s\n", gone[i]);
            clean = 0;
        }
    OK(clean, "html: script, style, nav, header, footer, aside, form, hidden... dropped");
    OK(has(&p, "By the operations team"), "html: an article's own header stays");
    ASSERT_EQ_STR(heading_of(&p, "Public holidays"), "Backup Handbook > Schedule > Exceptions",
                  "html: h1 > h2 > h3 heading path");
    ASSERT_EQ_STR(heading_of(&p, "copies the file servers to the offsite store."),
                  "Backup Handbook", "html: text under h1, inline markup flows");
    OK(has(&p, "The job starts at 02:00.\nIt finishes before 05:00."), "html: <br> is a line");
    OK(has(&p, "1. Stop the indexer.\n2. Run keep-backup --all.\n3. Start the indexer again."),
       "html: ordered list numbered");
    OK(has(&p, "- Public holidays\n- Maintenance windows"), "html: bullet list");
    OK(has(&p, "Server: beta; Capacity: 12 TB; Owner: Chen Wei"),
       "html: table cell named by its header");
    OK(has(&p, "Restore\n\nkeep-restore --server beta \\\n    --date 2024-05-01"),
       "html: <pre> kept verbatim");
    ingest_doc_free(&p.doc);
}

static void test_html_charsets(void)
{
    parsed p;
    parse_file(&p, ingest_parse_html, "cp1252.html");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "html: windows-1252 page parses");
    ASSERT_EQ_STR(p.doc.title, "Caf\xC3\xA9 menu", "html: windows-1252 title");
    OK(has(&p, "Cr\xC3\xA8me br\xC3\xBBl\xC3\xA9"
               "e costs 6\xE2\x82\xAC \xE2\x80\x93 "
               "\xE2\x80\x9C"
               "fresh\xE2\x80\x9D daily."),
       "html: windows-1252 accents, euro, dash and quotes");
    ingest_doc_free(&p.doc);

    parse_file(&p, ingest_parse_html, "latin1.html");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "html: iso-8859-1 page parses");
    OK(has(&p, "El ni\xC3\xB1o dijo \xE2\x80\x9Chola\xE2\x80\x9D en Espa\xC3\xB1"
               "a."),
       "html: iso-8859-1 label decoded as windows-1252 (quotes)");
    ingest_doc_free(&p.doc);
}

static void test_html_undeclared(void)
{
    parsed p;
    parse_file(&p, ingest_parse_html, "cp1251-undeclared.html");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "html: undeclared windows-1251 page parses");
    ASSERT_EQ_STR(p.doc.title, "\xD0\x9D\xD0\xBE\xD0\xB2\xD0\xBE\xD1\x81\xD1\x82\xD0\xB8",
                  "html: undeclared windows-1251 guessed (title)");
    OK(has(&p, "\xD0\x92\xD0\xB5\xD1\x82\xD0\xB5\xD1\x80 "), "html: undeclared windows-1251 body");
    ingest_doc_free(&p.doc);

    const char *s = "<p>caf\xC3\xA9 au lait</p>"; /* UTF-8 without a label stays UTF-8 */
    parse_buf(&p, ingest_parse_html, s, strlen(s), NULL);
    ASSERT_EQ_STR(text(&p), "caf\xC3\xA9 au lait", "html: unlabelled UTF-8");
    ingest_doc_free(&p.doc);

    ingest_limits lim;
    ingest_limits_default(&lim);
    lim.max_text_bytes = 40;
    size_t len = 0;
    char *data = load("page.html", &len);
    parse_buf(&p, ingest_parse_html, data, len, &lim);
    ASSERT_EQ_INT(p.rc, KEEP_ERR_TOOBIG, "html: text cap");
    ingest_doc_free(&p.doc);
    keep_free(data);
}

static void test_html_small(void)
{
    parsed p;
    const char *s = "<h1>Only Heading</h1><p>Body text.</p>"
                    "<table><tr><td>left</td><td>right</td></tr></table>";
    parse_buf(&p, ingest_parse_html, s, strlen(s), NULL);
    ASSERT_EQ_STR(p.doc.title, "Only Heading", "html: no <title>: first h1");
    OK(has(&p, "left | right"), "html: table without header row");
    ingest_doc_free(&p.doc);

    s = "<table><tr><th>A</th><th hidden>H</th><th>B</th></tr>"
        "<tr><td>1</td><td hidden>x</td><td>2</td></tr>"
        "<tr style='display:none'><td>HIDDENROW</td><td>3</td></tr></table>";
    parse_buf(&p, ingest_parse_html, s, strlen(s), NULL);
    ASSERT_EQ_STR(text(&p), "A: 1; B: 2", "html: hidden cells and rows left out of tables");
    ingest_doc_free(&p.doc);

    s = "<table><tr><td><h2>Layout</h2><p>cell one</p></td></tr>"
        "<tr><td>cell two</td></tr></table>";
    parse_buf(&p, ingest_parse_html, s, strlen(s), NULL);
    ASSERT_EQ_STR(heading_of(&p, "cell two"), "Layout", "html: layout table walked as blocks");
    ingest_doc_free(&p.doc);

    /* a form wrapping the whole page (ASP.NET) is content, not a search box */
    s = "<body><form><h1>Inside</h1><p>Wrapped page text.</p></form></body>";
    parse_buf(&p, ingest_parse_html, s, strlen(s), NULL);
    OK(has(&p, "Wrapped page text."), "html: page-wrapping form kept");
    ingest_doc_free(&p.doc);

    size_t len = 0;
    char *data = load("page.html", &len);
    parse_buf(&p, ingest_parse_html, data, len / 3, NULL);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "html: truncated page parses");
    OK(!has(&p, "SCRIPT-TEXT"), "html: truncated page still drops scripts");
    ingest_doc_free(&p.doc);
    keep_free(data);

    s = "<pre><span>a  b\n<code>x  y</code>\n  c</span></pre><p>after   text</p>";
    parse_buf(&p, ingest_parse_html, s, strlen(s), NULL);
    ASSERT_EQ_STR(text(&p), "a  b\nx  y\n  c\n\nafter text",
                  "html: markup inside <pre> stays verbatim, text after it does not");
    ingest_doc_free(&p.doc);

    parse_buf(&p, ingest_parse_html, "", 0, NULL);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "html: empty page is an empty document");
    ASSERT_EQ_INT(p.doc.text.len, 0, "html: empty page has no text");
    ingest_doc_free(&p.doc);

    static const char junk[] = "\x00\xff<<<>>><\x01<p<b</ &#xffffff; &#0; \xc3";
    parse_buf(&p, ingest_parse_html, junk, sizeof junk - 1, NULL);
    OK(p.rc == KEEP_OK || p.rc == KEEP_ERR_PARSE, "html: garbage: clean result");
    OK(keep_utf8_valid(text(&p), p.doc.text.len), "html: garbage: valid UTF-8 out");
    ingest_doc_free(&p.doc);

    keep_buf deep = {0};
    for (int i = 0; i < 5000; i++)
        keep_buf_puts(&deep, "<div>");
    keep_buf_puts(&deep, "deep text");
    parse_buf(&p, ingest_parse_html, deep.data, deep.len, NULL);
    OK(p.rc == KEEP_ERR_TOOBIG || p.rc == KEEP_OK, "html: 5000 nested divs: clean result");
    ingest_doc_free(&p.doc);
    keep_buf_free(&deep);
}

static void test_xhtml(void)
{
    parsed p;
    parse_file(&p, ingest_parse_xhtml, "page.xhtml");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "xhtml: parses");
    ASSERT_EQ_STR(p.doc.title, "Chapter One", "xhtml: title");
    OK(!has(&p, "SCRIPT-IN-XHTML") && !has(&p, "XHTML-NAV"), "xhtml: boilerplate dropped");
    ASSERT_EQ_STR(heading_of(&p, "Waves broke"), "The Lighthouse > Storm", "xhtml: headings");
    OK(has(&p, "The keeper climbed the spiral stairs at dusk."), "xhtml: inline markup flows");
    ingest_doc_free(&p.doc);

    /* the DTD is not loaded: HTML entity names come from libxml2's table */
    const char *s = "<?xml version='1.0'?>\n<!DOCTYPE html PUBLIC '-//W3C//DTD XHTML 1.0 Strict//EN' "
                    "'http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd'>\n"
                    "<html xmlns='http://www.w3.org/1999/xhtml'><body>"
                    "<p>A&nbsp;B &copy; 2024 &mdash; C&amp;D</p></body></html>";
    parse_buf(&p, ingest_parse_xhtml, s, strlen(s), NULL);
    ASSERT_EQ_STR(text(&p), "A B \xC2\xA9 2024 \xE2\x80\x94 C&D", "xhtml: HTML entities");
    ingest_doc_free(&p.doc);

    s = "<html><body><p>open <b>bold</p><p>next</body>";
    parse_buf(&p, ingest_parse_xhtml, s, strlen(s), NULL);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "xhtml: not well-formed: HTML fallback");
    OK(has(&p, "open bold"), "xhtml: fallback text");
    ingest_doc_free(&p.doc);
}

/* ---- XML ----------------------------------------------------------------- */

static void test_xml_records(void)
{
    parsed p;
    parse_file(&p, ingest_parse_xml, "records.xml");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "xml: records parse");
    ASSERT_EQ_STR(p.doc.title, "Server Catalog", "xml: title child of the root");
    ASSERT_EQ_STR(heading_of(&p, "owner: Chen Wei"), "beta",
                  "xml: record headed by its name child, leaf as name: value");
    OK(has(&p, "location: Rack 4, Building North\ncapacity: 4\nowner: Maria Lopez"),
       "xml: one field per line");
    OK(has(&p, "warranty: Expires in March 2027"), "xml: name attribute labels a field");
    OK(has(&p, "description: Secondary store used for cold archives"),
       "xml: text-like attribute kept");
    OK(!has(&p, "unit"), "xml: short code-like attribute left out");
    OK(has(&p, "Exceptions need written approval from the security officer."),
       "xml: mixed content reads as running text");
    ASSERT_EQ_STR(heading_of(&p, "rule: Monthly copies"), "policy",
                  "xml: container without a name headed by its element name");
    ingest_doc_free(&p.doc);
}

static void test_xml_hostile(void)
{
    parsed p;
    parse_file(&p, ingest_parse_xml, "laughs.xml");
    OK(p.rc == KEEP_OK || p.rc == KEEP_ERR_PARSE, "xml: billion laughs: clean result");
    OK(p.doc.text.len < 1000 && !has(&p, "lollol"), "xml: billion laughs not expanded");
    ingest_doc_free(&p.doc);

    size_t plen = 0;
    char *passwd = NULL;
    keep_err e;
    keep_read_file("/etc/passwd", 1 << 20, &passwd, &plen, &e);
    parse_file(&p, ingest_parse_xml, "xxe.xml");
    ASSERT_EQ_INT(p.rc, KEEP_OK, "xml: XXE document parses");
    OK(has(&p, "item: start end"), "xml: external entity reference skipped");
    OK(passwd && strstr(passwd, "root:") && !has(&p, "root:") && !has(&p, "/bin/"),
       "xml: /etc/passwd content never appears");
    ingest_doc_free(&p.doc);
    keep_free(passwd);

    const char *s = "<a><b>unclosed</a>";
    parse_buf(&p, ingest_parse_xml, s, strlen(s), NULL);
    ASSERT_EQ_INT(p.rc, KEEP_ERR_PARSE, "xml: malformed XML is a parse error");
    ingest_doc_free(&p.doc);

    /* declared entities are never expanded, whatever their name */
    s = "<?xml version='1.0'?>\n<!DOCTYPE r [ <!ENTITY copy SYSTEM 'file:///etc/passwd'>"
        " <!ENTITY mine 'SECRET-EXPANSION'> <!ENTITY mdash 'OVERRIDE'> ]>\n"
        "<r><a>x &copy; y &mine; z &mdash; w</a><b>mixed <i>it</i> &copy;</b></r>";
    parse_buf(&p, ingest_parse_xml, s, strlen(s), NULL);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "xml: internal DTD parses");
    ASSERT_EQ_STR(text(&p), "a: x \xC2\xA9 y z \xE2\x80\x94 w\n\nmixed it \xC2\xA9",
                  "xml: user entities skipped, HTML names from the fixed table");
    ingest_doc_free(&p.doc);

    s = "<html xmlns='http://www.w3.org/1999/xhtml'><body><nav>menu</nav><p>para</p></body></html>";
    parse_buf(&p, ingest_parse_xml, s, strlen(s), NULL);
    OK(p.rc == KEEP_OK && has(&p, "para") && !has(&p, "menu"), "xml: XHTML root walked as HTML");
    ingest_doc_free(&p.doc);
}

/* Every allocation failure is a clean KEEP_ERR_NOMEM (or a result without
 * the failed piece), never a crash or a leak (the ASan build checks). */
static void oom_loop(ingest_parse_fn fn, const char *name, const char *what)
{
    size_t len = 0;
    char *data = load(name, &len);
    parsed base;
    parse_buf(&base, fn, data, len, NULL);
    int clean = base.rc == KEEP_OK, done = 0;
    long n;
    for (n = 0; n < 20000 && clean && !done; n++) {
        ingest_limits lim;
        ingest_limits_default(&lim);
        ingest_doc doc;
        ingest_doc_init(&doc, &lim);
        keep_err err;
        keep_alloc_fail_after(n);
        int rc = fn(data, len, &lim, &doc, &err);
        keep_alloc_fail_after(-1);
        if (rc != KEEP_OK && rc != KEEP_ERR_NOMEM)
            clean = 0;
        done = rc == KEEP_OK && doc.text.len == base.doc.text.len &&
               memcmp(doc.text.data, base.doc.text.data, doc.text.len) == 0;
        ingest_doc_free(&doc);
    }
    char msg[128];
    snprintf(msg, sizeof msg, "%s: allocation failures handled (%ld points)", what, n);
    OK(clean && done, msg);
    ingest_doc_free(&base.doc);
    keep_free(data);
}

int main(void)
{
    /* make GLib print every message it is given: poppler must give none */
    setenv("G_MESSAGES_DEBUG", "all", 1);
    test_pdf_guide();
    test_pdf_heading_title();
    test_pdf_libreoffice();
    test_pdf_columns();
    test_pdf_paragraphs();
    test_pdf_wrapped_table();
    test_pdf_two_page_footer();
    test_pdf_outline();
    test_pdf_encrypted();
    test_pdf_broken();
    test_pdf_limits();
    test_pdf_threads();
    test_html_page();
    test_html_charsets();
    test_html_undeclared();
    test_html_small();
    test_xhtml();
    test_xml_records();
    test_xml_hostile();
    oom_loop(ingest_parse_html, "page.html", "html");
    oom_loop(ingest_parse_xml, "records.xml", "xml");
    oom_loop(ingest_parse_pdf, "guide.pdf", "pdf");
    return tap_done();
}
