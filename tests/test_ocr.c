/* test_ocr.c — OCR of scans: the sample memo PNG, a PDF whose middle page is
 * a scan without a text layer, German text, a JPEG, a two-page TIFF, hostile
 * headers refused before decoding, broken files, OCR turned off, missing
 * language data, and the keep.conf keys. Test files: tests/data/ocr/ (made
 * by tests/data/ocr/src/make.py). In a build without Tesseract the OCR checks
 * are TAP skips and only the no-OCR behaviour is tested. */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/config.h"
#include "ingest/doc.h"
#include "ingest/ingest.h"
#include "ingest/ocr.h"
#include "ingest/parse_pdf.h"
#include "tap.h"

static char *load(const char *rel, size_t *len)
{
    const char *dir = getenv("KEEP_SRCDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", rel);
    char *data = NULL;
    keep_err err;
    if (keep_read_file(path, (size_t)1 << 24, &data, len, &err) != KEEP_OK) {
        printf("# cannot read %s: %s\n", path, err.msg);
        *len = 0;
    }
    return data;
}

#define MEMO "samples/operations/scans/memo-forklift-charging.png"
#define DATA "tests/data/ocr/"

#ifdef HAVE_TESSERACT
typedef struct parsed {
    ingest_doc doc;
    keep_err err;
    int rc;
    char *norm; /* text lower-cased, punctuation and whitespace runs as one space */
} parsed;

/* OCR output differs from the source in punctuation and spacing ("only:in"),
 * so facts are matched on normalised text. */
static char *normalise(const char *s)
{
    size_t n = strlen(s);
    char *out = keep_malloc(n + 2);
    size_t k = 0;
    int space = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xC3 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9E && (unsigned char)s[i + 1] != 0x97) {
            out[k++] = (char)c; /* Latin-1 capitals: Ü -> ü */
            out[k++] = (char)((unsigned char)s[++i] + 0x20);
            space = 0;
        } else if (c >= 0x80 || isalnum(c)) {
            out[k++] = (char)(c < 0x80 ? tolower(c) : c);
            space = 0;
        } else if (!space) {
            out[k++] = ' ';
            space = 1;
        }
    }
    out[k] = '\0';
    return out;
}

static void parse_with(parsed *p, ingest_parse_fn fn, const char *rel, const ingest_limits *lim)
{
    ingest_limits dl;
    if (!lim) {
        ingest_limits_default(&dl);
        lim = &dl;
    }
    size_t len = 0;
    char *data = load(rel, &len);
    memset(&p->err, 0, sizeof p->err);
    ingest_doc_init(&p->doc, lim);
    p->rc = fn(data ? data : "", len, lim, &p->doc, &p->err);
    if (p->rc)
        printf("# %s: %s\n", rel, p->err.msg);
    else
        ingest_doc_finish(&p->doc);
    p->norm = normalise(p->doc.text.data ? p->doc.text.data : "");
    keep_free(data);
}

static void parsed_free(parsed *p)
{
    ingest_doc_free(&p->doc);
    keep_free(p->norm);
}

static int has(const parsed *p, const char *phrase)
{
    return strstr(p->norm, phrase) != NULL;
}

/* The span holding the first occurrence of s in the raw text. */
static const ingest_span *span_of(const parsed *p, const char *s)
{
    const char *t = p->doc.text.data ? p->doc.text.data : "";
    const char *at = strstr(t, s);
    if (!at)
        return NULL;
    size_t off = (size_t)(at - t);
    for (size_t i = 0; i < p->doc.n_spans; i++)
        if (off >= p->doc.spans[i].start && off < p->doc.spans[i].end)
            return &p->doc.spans[i];
    return NULL;
}

static long offset_of(const parsed *p, const char *s)
{
    const char *t = p->doc.text.data ? p->doc.text.data : "";
    const char *at = strstr(t, s);
    return at ? (long)(at - t) : -1;
}

static const char *meta(const parsed *p, const char *key)
{
    for (size_t i = 0; i < p->doc.n_meta; i++)
        if (strcmp(p->doc.meta[i].key, key) == 0)
            return p->doc.meta[i].value;
    return NULL;
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}
#endif

/* ---- keep.conf ------------------------------------------------------------------- */

static int load_conf(const char *body, keep_config *cfg, keep_err *err)
{
    char path[] = "/tmp/keep-test-ocr-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return KEEP_ERR_IO;
    if (write(fd, body, strlen(body)) != (ssize_t)strlen(body)) {
        close(fd);
        unlink(path);
        return KEEP_ERR_IO;
    }
    close(fd);
    int rc = keep_config_load(path, cfg, err);
    unlink(path);
    return rc;
}

static void test_config(void)
{
    keep_config cfg;
    keep_err err;
    keep_config_defaults(&cfg);
    ASSERT_EQ_INT(cfg.ocr, 1, "conf: OCR on by default");
    ASSERT_EQ_STR(cfg.ocr_languages, "eng+deu", "conf: English and German by default");
    ASSERT_EQ_INT(load_conf("[ingest]\nocr = off\nocr_languages = deu+eng\n", &cfg, &err), KEEP_OK,
                  "conf: ocr = off and ocr_languages load");
    ASSERT_EQ_INT(cfg.ocr, 0, "conf: ocr = off turns OCR off");
    ASSERT_EQ_STR(cfg.ocr_languages, "deu+eng", "conf: ocr_languages read");
    ASSERT_EQ_INT(load_conf("[ingest]\nocr = 1\n", &cfg, &err), KEEP_OK, "conf: ocr = 1 loads");
    ASSERT_EQ_INT(cfg.ocr, 1, "conf: ocr = 1 is on");
    ASSERT_EQ_INT(load_conf("[ingest]\nocr = maybe\n", &cfg, &err), KEEP_ERR_USAGE,
                  "conf: ocr = maybe is an error");
    OK(strstr(err.msg, "ingest.ocr must be on or off") != NULL, "conf: the error names the key");
    ASSERT_EQ_INT(load_conf("[ingest]\nocr_languages = ../../tmp/x\n", &cfg, &err), KEEP_ERR_USAGE,
                  "conf: a language name with a path is refused");
    ASSERT_EQ_INT(load_conf("[ingest]\nocr_languages = eng++deu\n", &cfg, &err), KEEP_ERR_USAGE,
                  "conf: an empty language name is refused");
}

/* ---- without Tesseract -------------------------------------------------------------- */

#ifndef HAVE_TESSERACT
static void test_no_ocr_build(void)
{
    size_t len = 0;
    char *png = load(MEMO, &len);
    ingest_result *r = NULL;
    keep_err err;
    int rc = ingest_bytes("memo.png", png ? png : "", len, NULL, &r, &err);
    ASSERT_EQ_INT(rc, KEEP_ERR_UNSUPPORTED, "no OCR build: a PNG is skipped");
    ASSERT_EQ_STR(err.msg, "image files need OCR, which this build does not have",
                  "no OCR build: the reason says why");
    ingest_result_free(r);
    keep_free(png);
    OK(!ingest__ocr_built(), "no OCR build: ingest__ocr_built says so");
    printf("ok %d - # SKIP OCR checks: this build has no Tesseract\n", ++tap_count);
}
#else

/* ---- hostile and broken input (first: the RSS high-water mark is still low) ---------- */

static void test_hostile(void)
{
    static const char *const huge[] = {DATA "huge.png", DATA "huge.tif", DATA "huge.jpg"};
    long rss0 = max_rss_kb();
    for (size_t i = 0; i < 3; i++) {
        parsed p;
        double t0 = keep_now_ms();
        parse_with(&p, ingest_parse_image, huge[i], NULL);
        char what[128];
        snprintf(what, sizeof what, "%s: refused as too big", huge[i]);
        ASSERT_EQ_INT(p.rc, KEEP_ERR_TOOBIG, what);
        snprintf(what, sizeof what, "%s: the reason names the pixel limit", huge[i]);
        OK(strstr(p.err.msg, "over the OCR limit of 50 megapixels") != NULL, what);
        snprintf(what, sizeof what, "%s: refused at once (%.0f ms)", huge[i], keep_now_ms() - t0);
        OK(keep_now_ms() - t0 < 2000, what);
        parsed_free(&p);
    }
    long grown = max_rss_kb() - rss0;
    char what[128];
    snprintf(what, sizeof what, "huge headers: no big allocation (peak RSS grew %ld KB)", grown);
    OK(grown < 50 * 1024, what);

    /* random bytes named .png: leptonica cannot read a header */
    char junk[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (char)(x >> 16);
    }
    ingest_limits lim;
    ingest_limits_default(&lim);
    ingest_doc doc;
    ingest_doc_init(&doc, &lim);
    keep_err err;
    keep_err_clear(&err);
    ASSERT_EQ_INT(ingest_parse_image(junk, sizeof junk, &lim, &doc, &err), KEEP_ERR_CORRUPT,
                  "garbage bytes: corrupt");
    ASSERT_EQ_STR(err.msg, "not a readable PNG, JPEG or TIFF image", "garbage bytes: the reason");
    ASSERT_EQ_INT(doc.text.len, 0, "garbage bytes: no text");
    ingest_doc_free(&doc);
    ingest_result *r = NULL;
    int rc = ingest_bytes("scan.png", junk, sizeof junk, NULL, &r, &err);
    OK(rc != KEEP_OK && err.msg[0], "garbage bytes named scan.png: not indexed, with a reason");
    printf("#   %s\n", err.msg);
    ingest_result_free(r);

    /* a real PNG cut short: the header passes, the pixels are missing */
    size_t len = 0;
    char *png = load(MEMO, &len);
    ingest_doc_init(&doc, &lim);
    rc = ingest_parse_image(png, len > 3000 ? 3000 : len, &lim, &doc, &err);
    ASSERT_EQ_INT(rc, KEEP_ERR_CORRUPT, "truncated PNG: corrupt");
    ASSERT_EQ_STR(err.msg, "image cannot be decoded", "truncated PNG: the reason");
    ingest_doc_free(&doc);
    keep_free(png);

    unsigned char px[16] = {0};
    keep_buf out = {0};
    ASSERT_EQ_INT(ingest__ocr_gray(px, 100000, 100000, 100000, 300, &lim.ocr, &out, NULL, &err),
                  KEEP_ERR_TOOBIG, "a page image over the pixel cap is refused");
    keep_buf_free(&out);
}

static void test_languages(void)
{
    parsed p;
    ingest_limits lim;
    ingest_limits_default(&lim);
    snprintf(lim.ocr.languages, sizeof lim.ocr.languages, "eng+xyz");
    parse_with(&p, ingest_parse_image, DATA "invoice.jpg", &lim);
    ASSERT_EQ_INT(p.rc, KEEP_ERR_UNSUPPORTED, "missing language data: an error for the file");
    ASSERT_EQ_STR(p.err.msg, "OCR language data 'xyz' is not installed (Debian package tesseract-ocr-xyz)",
                  "missing language data: names the language and its package");
    parsed_free(&p);
    snprintf(lim.ocr.languages, sizeof lim.ocr.languages, "../../etc/eng");
    parse_with(&p, ingest_parse_image, DATA "invoice.jpg", &lim);
    ASSERT_EQ_INT(p.rc, KEEP_ERR_USAGE, "a language name that is a path is refused");
    parsed_free(&p);
}

static void test_off(void)
{
    size_t len = 0;
    char *png = load(MEMO, &len);
    ingest_options opt;
    ingest_options_default(&opt);
    opt.ocr = 0;
    ingest_result *r = NULL;
    keep_err err;
    int rc = ingest_bytes("memo.png", png ? png : "", len, &opt, &r, &err);
    ASSERT_EQ_INT(rc, KEEP_ERR_UNSUPPORTED, "OCR off: a PNG is skipped");
    ASSERT_EQ_STR(err.msg, "OCR is turned off in keep.conf", "OCR off: the reason");
    ASSERT_EQ_STR(r ? ingest_result_format(r) : NULL, "png", "OCR off: the format is still known");
    ingest_result_free(r);
    keep_free(png);

    /* the PDF keeps its text pages; the scanned one stays empty */
    parsed p;
    ingest_limits lim;
    ingest_limits_default(&lim);
    lim.ocr.enabled = 0;
    parse_with(&p, ingest_parse_pdf, DATA "mixed.pdf", &lim);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "OCR off: the PDF parses");
    OK(has(&p, "cover sheet the scanned memo"), "OCR off: text pages kept");
    OK(!has(&p, "forklift batteries"), "OCR off: the scanned page is not read");
    ASSERT_EQ_STR(meta(&p, "pages_without_text"), "1", "OCR off: one page without text");
    OK(meta(&p, "pages_ocr") == NULL, "OCR off: no pages_ocr");
    parsed_free(&p);
}

/* ---- real scans ------------------------------------------------------------------------ */

static void test_memo(void)
{
    parsed p;
    double t0 = keep_now_ms();
    parse_with(&p, ingest_parse_image, MEMO, NULL);
    printf("# memo OCR took %.0f ms (including the engine's start)\n", keep_now_ms() - t0);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "memo PNG: OCR'd");
    printf("# memo: %s\n", p.norm);
    OK(has(&p, "forklift batteries are charged only in the new charging room in hall c"),
       "memo: the sentence on where batteries are charged");
    OK(has(&p, "next to gate c7"), "memo: gate C7");
    OK(has(&p, "the new room has 24 charging places"), "memo: 24 charging places");
    OK(has(&p, "eye wash station"), "memo: eye-wash station");
    OK(has(&p, "do not block the fire door c7a"), "memo: fire door C7a");
    OK(has(&p, "andrea wolff occupational safety"), "memo: Andrea Wolff");
    OK(has(&p, "from lukas berger site manager"), "memo: the sender");
    ASSERT_EQ_STR(meta(&p, "pages"), "1", "memo: one page");
    ASSERT_EQ_STR(meta(&p, "ocr_languages"), "eng+deu", "memo: languages recorded");
    const char *conf = meta(&p, "ocr_confidence");
    OK(conf && strtol(conf, NULL, 10) >= 80, "memo: mean word confidence at least 80");
    int all_ocr = p.doc.n_spans > 0;
    for (size_t i = 0; i < p.doc.n_spans; i++)
        all_ocr &= p.doc.spans[i].ocr == 1 && p.doc.spans[i].page == 1;
    OK(all_ocr, "memo: every span is OCR'd, on page 1");
    OK(strstr(p.doc.text.data ? p.doc.text.data : "", "\n\n") != NULL,
       "memo: paragraphs kept apart");
    parsed_free(&p);

}

/* Through the public entry point (the small JPEG: OCR under ASan is slow):
 * the chunk says OCR and page 1. */
static void test_chunk(void)
{
    size_t len = 0;
    char *jpg = load(DATA "invoice.jpg", &len);
    ingest_result *r = NULL;
    keep_err err;
    ASSERT_EQ_INT(ingest_bytes("scan.jpg", jpg ? jpg : "", len, NULL, &r, &err), KEEP_OK,
                  "JPEG via ingest_bytes");
    const ingest_chunk *c = r ? ingest_result_chunk(r, 0) : NULL;
    OK(c && strstr(c->text, "Invoice 4711"), "JPEG chunk: the invoice text");
    OK(c && c->ocr == 1, "JPEG chunk: marked OCR");
    OK(c && c->page_start == 1, "JPEG chunk: page 1");
    ASSERT_EQ_STR(r ? ingest_result_format(r) : NULL, "jpeg", "JPEG: format jpeg");
    ingest_result_free(r);
    keep_free(jpg);
}

static void test_pdf(void)
{
    parsed p;
    double t0 = keep_now_ms();
    parse_with(&p, ingest_parse_pdf, DATA "mixed.pdf", NULL);
    printf("# PDF with a scanned page took %.0f ms\n", keep_now_ms() - t0);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "mixed PDF parses");
    OK(has(&p, "forklift batteries are charged only in the new charging room"),
       "PDF: the scanned page is read");
    const ingest_span *cover = span_of(&p, "Cover sheet");
    const ingest_span *scan = span_of(&p, "forklift batteries");
    const ingest_span *appx = span_of(&p, "Appendix");
    OK(cover && cover->page == 1 && !cover->ocr, "PDF: page 1 from the text layer, not OCR");
    OK(scan && scan->page == 2 && scan->ocr, "PDF: the scan is page 2, marked OCR");
    OK(appx && appx->page == 3 && !appx->ocr, "PDF: page 3 from the text layer, not OCR");
    long a = offset_of(&p, "Cover sheet"), b = offset_of(&p, "forklift batteries"),
         c = offset_of(&p, "Appendix");
    OK(a >= 0 && a < b && b < c, "PDF: pages in order");
    ASSERT_EQ_STR(meta(&p, "pages_without_text"), "1", "PDF: one page without a text layer");
    ASSERT_EQ_STR(meta(&p, "pages_ocr"), "1", "PDF: one page OCR'd");
    parsed_free(&p);
}

static void test_german(void)
{
    parsed p;
    parse_with(&p, ingest_parse_image, DATA "german.png", NULL);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "German PNG: OCR'd");
    printf("# german: %s\n", p.norm);
    static const char *const words[] = {"prüfung", "schlüssel", "pförtner", "öffnen",
                                        "straße", "größe", "plätze", "übergabe"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        char what[96];
        snprintf(what, sizeof what, "German: '%s' with its umlaut or sharp s", words[i]);
        OK(has(&p, words[i]), what);
    }
    OK(has(&p, "in halle c"), "German: 'in Halle C'");
    parsed_free(&p);
}

static void test_jpeg_tiff(void)
{
    parsed p;
    parse_with(&p, ingest_parse_image, DATA "invoice.jpg", NULL);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "JPEG: OCR'd");
    OK(has(&p, "invoice 4711 from scanlogix total due eur 1 234 50"), "JPEG: the invoice line");
    parsed_free(&p);

    parse_with(&p, ingest_parse_image, DATA "fax.tif", NULL);
    ASSERT_EQ_INT(p.rc, KEEP_OK, "TIFF: OCR'd");
    ASSERT_EQ_STR(meta(&p, "pages"), "2", "TIFF: two pages");
    const ingest_span *s1 = span_of(&p, "7351"), *s2 = span_of(&p, "deliveries");
    OK(has(&p, "the gate code for hall c is 7351"), "TIFF page 1 text");
    OK(has(&p, "deliveries before six need a booking"), "TIFF page 2 text");
    OK(s1 && s1->page == 1 && s1->ocr, "TIFF: first frame is page 1");
    OK(s2 && s2->page == 2 && s2->ocr, "TIFF: second frame is page 2");
    parsed_free(&p);

    /* one page through ingest_bytes, limited to one page */
    ingest_limits lim;
    ingest_limits_default(&lim);
    lim.max_pages = 1;
    parse_with(&p, ingest_parse_image, DATA "fax.tif", &lim);
    ASSERT_EQ_INT(p.rc, KEEP_ERR_TOOBIG, "TIFF over max_pages: too big");
    parsed_free(&p);
}

/* A page of noise keeps Tesseract's layout analysis busy for minutes: the
 * child process reading it is stopped at the deadline (1 s here). */
static void test_deadline(void)
{
    int w = 1500, h = 1500;
    unsigned char *px = keep_malloc((size_t)w * (size_t)h);
    unsigned x = 99;
    for (size_t i = 0; px && i < (size_t)w * (size_t)h; i++) {
        x = x * 1103515245u + 12345u;
        px[i] = (x >> 16) % 5 < 2 ? 0 : 255;
    }
    ingest_ocr_options opt = {1, INGEST_OCR_DEFAULT_LANGUAGES};
    keep_buf out = {0};
    keep_err err;
    ingest__ocr_set_page_ms(1000);
    double t0 = keep_now_ms();
    int rc = px ? ingest__ocr_gray(px, w, h, (size_t)w, 300, &opt, &out, NULL, &err) : -1;
    double took = keep_now_ms() - t0;
    ingest__ocr_set_page_ms(0);
    ASSERT_EQ_INT(rc, KEEP_ERR_TOOBIG, "noise page: OCR stopped at the deadline");
    OK(rc == KEEP_ERR_TOOBIG && strstr(err.msg, "OCR gave up on a page after 1 s"),
       "noise page: the reason");
    char what[96];
    snprintf(what, sizeof what, "noise page: stopped after %.0f ms (deadline 1000 + 200)", took);
    OK(took < 2500, what);
    keep_buf_free(&out);
    keep_free(px);
}

/* Each thread has its own engine: two at once read the same text. */
typedef struct job {
    char norm[256];
    int rc;
} job;

static void *ocr_thread(void *arg)
{
    job *j = arg;
    parsed p;
    parse_with(&p, ingest_parse_image, DATA "invoice.jpg", NULL);
    j->rc = p.rc;
    snprintf(j->norm, sizeof j->norm, "%s", p.norm);
    parsed_free(&p);
    return NULL;
}

static void test_threads(void)
{
    job jobs[2];
    pthread_t t[2];
    memset(jobs, 0, sizeof jobs);
    int started = 0;
    for (int i = 0; i < 2; i++)
        started += pthread_create(&t[i], NULL, ocr_thread, &jobs[i]) == 0;
    ASSERT_EQ_INT(started, 2, "threads: two OCR threads start");
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    OK(jobs[0].rc == KEEP_OK && jobs[1].rc == KEEP_OK, "threads: both OCR'd");
    OK(strstr(jobs[0].norm, "invoice 4711") && strcmp(jobs[0].norm, jobs[1].norm) == 0,
       "threads: the same text from both");
}
#endif

int main(void)
{
    test_config();
#ifndef HAVE_TESSERACT
    test_no_ocr_build();
#else
    OK(ingest__ocr_built(), "this build has OCR");
    test_hostile();
    test_languages();
    test_off();
    test_memo();
    test_chunk();
    test_pdf();
    test_german();
    test_jpeg_tiff();
    test_threads();
    test_deadline();
#endif
    return tap_done();
}
