/* ocr.c — Tesseract OCR of scanned pages and image files (see ocr.h).
 *
 * Images are decoded by leptonica, but only after the header says the file
 * is a PNG, JPEG or TIFF of at most INGEST_OCR_MAX_PIXELS: a hostile header
 * ("100000 x 100000") is refused before anything is allocated, and no other
 * of leptonica's decoders is reachable from untrusted input.
 *
 * Tesseract is not thread-safe per engine, and an engine is expensive to
 * create, so each thread keeps its own in a pthread key (freed when the
 * thread exits); pages are read in child processes forked with it (see
 * run_isolated). Tesseract's OpenMP loops are switched off there: ingest
 * already runs one parser per core, and spinning OpenMP workers on a busy
 * machine made one page five times slower. What Tesseract and the image
 * libraries print goes to /dev/null: it may quote the input. */
#include "config.h"

#include "ocr.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef HAVE_TESSERACT
#include <allheaders.h>
#include <omp.h>
#include <tesseract/capi.h>
#endif

/* Paragraphs Tesseract is less sure of than this, and short, are specks and
 * rulings read as letters ("on", "|"); real text scores far higher. */
#define OCR_NOISE_CONF 60.0f
#define OCR_NOISE_CHARS 4
/* Frames of one TIFF, and its time budget: a base plus a share per page
 * well above what a real page takes (a few seconds at 300 dpi). */
#define OCR_MAX_TIFF_PAGES 1000u
#define OCR_DOC_BASE_MS INGEST_OCR_DOC_BASE_MS
#define OCR_DOC_PAGE_MS INGEST_OCR_DOC_PAGE_MS

int ingest__ocr_emit(ingest_doc *doc, int page, const char *text, size_t len)
{
    int was = doc->ocr, rc = ingest_doc_para(doc);
    if (!rc && page)
        rc = ingest_doc_page(doc, page);
    if (!rc)
        rc = ingest_doc_set_ocr(doc, 1);
    size_t i = 0;
    while (!rc && i < len) {
        const char *end = memmem(text + i, len - i, "\n\n", 2);
        size_t n = end ? (size_t)(end - (text + i)) : len - i;
        rc = ingest_doc_text(doc, text + i, n);
        if (!rc)
            rc = ingest_doc_para(doc);
        i += n + (end ? 2 : 0);
    }
    if (!rc)
        rc = ingest_doc_para(doc);
    if (!rc)
        rc = ingest_doc_set_ocr(doc, was);
    return rc;
}

#ifndef HAVE_TESSERACT

int ingest__ocr_built(void) { return 0; }

void ingest__ocr_set_page_ms(int ms) { (void)ms; }

int ingest__ocr_check(const ingest_ocr_options *opt, keep_err *err)
{
    (void)opt;
    return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "this build has no OCR");
}

int ingest__ocr_gray(const unsigned char *px, int w, int h, size_t stride, int dpi,
                     const ingest_ocr_options *opt, keep_buf *out, int *conf, keep_err *err)
{
    (void)px, (void)w, (void)h, (void)stride, (void)dpi, (void)opt, (void)out, (void)conf;
    return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "this build has no OCR");
}

int ingest_parse_image(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                       keep_err *err)
{
    (void)data, (void)len, (void)lim, (void)doc;
    return keep_err_set(err, KEEP_ERR_UNSUPPORTED,
                        "image files need OCR, which this build does not have");
}

#else

int ingest__ocr_built(void) { return 1; }

/* ---- language data ----------------------------------------------------------- */

/* Where Debian's tesseract-ocr-* packages put the models; TESSDATA_PREFIX
 * (Tesseract's own variable) comes first. */
static const char *const tessdata_dirs[] = {
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
};

/* Language names become file names under tessdata: letters, digits and
 * '_' only ("chi_sim"), joined by '+'. keep.conf is checked the same way. */
static int valid_languages(const char *langs)
{
    if (!langs[0] || langs[0] == '+')
        return 0;
    for (const char *p = langs; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= '0' && *p <= '9') || *p == '_' || (*p == '+' && p[1] && p[1] != '+');
        if (!ok)
            return 0;
    }
    return 1;
}

/* Whether dir holds LANG.traineddata for every language; the first missing
 * one is copied to missing. */
static int have_languages(const char *dir, const char *langs, char *missing, size_t cap)
{
    const char *p = langs;
    while (*p) {
        size_t n = strcspn(p, "+");
        char path[1024];
        int w = snprintf(path, sizeof path, "%s/%.*s.traineddata", dir, (int)n, p);
        if (w < 0 || (size_t)w >= sizeof path || access(path, R_OK) != 0) {
            snprintf(missing, cap, "%.*s", (int)n, p);
            return 0;
        }
        p += n + (p[n] == '+');
    }
    return 1;
}

static int find_tessdata(const char *langs, char *dir, size_t cap, keep_err *err)
{
    if (!valid_languages(langs))
        return keep_err_set(err, KEEP_ERR_USAGE,
                            "OCR languages '%s' are not Tesseract names joined by '+'", langs);
    char missing[64] = "";
    const char *env = getenv("TESSDATA_PREFIX");
    if (env && env[0] && strlen(env) < cap && have_languages(env, langs, missing, sizeof missing)) {
        snprintf(dir, cap, "%s", env);
        return KEEP_OK;
    }
    for (size_t i = 0; i < sizeof tessdata_dirs / sizeof tessdata_dirs[0]; i++) {
        char m[64] = "";
        if (have_languages(tessdata_dirs[i], langs, m, sizeof m)) {
            snprintf(dir, cap, "%s", tessdata_dirs[i]);
            return KEEP_OK;
        }
        if (!missing[0])
            snprintf(missing, sizeof missing, "%s", m);
    }
    /* Debian names the packages after the model: tesseract-ocr-deu */
    char pkg[64];
    size_t k = 0;
    for (const char *p = missing; *p && k + 1 < sizeof pkg; p++)
        pkg[k++] = *p == '_' ? '-' : (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    pkg[k] = '\0';
    return keep_err_set(err, KEEP_ERR_UNSUPPORTED,
                        "OCR language data '%s' is not installed (Debian package tesseract-ocr-%s)",
                        missing, pkg);
}

int ingest__ocr_check(const ingest_ocr_options *opt, keep_err *err)
{
    char dir[512];
    return find_tessdata(opt->languages, dir, sizeof dir, err);
}

/* the page deadline; tests shorten it */
static volatile int page_ms = INGEST_OCR_PAGE_MS;

void ingest__ocr_set_page_ms(int ms)
{
    page_ms = ms > 0 ? ms : INGEST_OCR_PAGE_MS;
}

/* ---- one engine per thread ---------------------------------------------------------- */

typedef struct ocr_engine {
    TessBaseAPI *api;
    char langs[64];
} ocr_engine;

static pthread_key_t engine_key;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static int engine_key_ok;

static void engine_free(void *p)
{
    ocr_engine *e = p;
    if (!e)
        return;
    if (e->api) {
        TessBaseAPIEnd(e->api);
        TessBaseAPIDelete(e->api);
    }
    keep_free(e);
}

static void engine_setup(void)
{
    engine_key_ok = pthread_key_create(&engine_key, engine_free) == 0;
    setMsgSeverity(L_SEVERITY_NONE);
}

/* The calling thread's engine for langs, created on first use. */
static TessBaseAPI *engine_get(const char *langs, keep_err *err)
{
    pthread_once(&engine_once, engine_setup);
    if (!engine_key_ok) {
        keep_err_set(err, KEEP_ERR_NOMEM, "cannot set up OCR for this thread");
        return NULL;
    }
    ocr_engine *e = pthread_getspecific(engine_key);
    if (e && strcmp(e->langs, langs) == 0)
        return e->api;
    char dir[512];
    if (find_tessdata(langs, dir, sizeof dir, err))
        return NULL;
    if (e) { /* another language set: start over */
        pthread_setspecific(engine_key, NULL);
        engine_free(e);
    }
    e = keep_calloc(1, sizeof *e);
    if (!e) {
        keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(e->langs, sizeof e->langs, "%s", langs);
    e->api = TessBaseAPICreate();
    if (!e->api) {
        keep_free(e);
        keep_err_set(err, KEEP_ERR_NOMEM, "cannot create the OCR engine");
        return NULL;
    }
    /* before Init, so that loading messages go there too */
    TessBaseAPISetVariable(e->api, "debug_file", "/dev/null");
    if (TessBaseAPIInit2(e->api, dir, langs, OEM_LSTM_ONLY) != 0) {
        engine_free(e);
        keep_err_set(err, KEEP_ERR_UNSUPPORTED, "OCR language data '%s' in %s cannot be loaded",
                     langs, dir);
        return NULL;
    }
    /* With the orientation model (Debian: tesseract-ocr-osd) pages scanned
     * sideways or upside down are turned first; it costs about 0.2 s a page
     * and changes nothing on upright ones. */
    char osd[600];
    snprintf(osd, sizeof osd, "%s/osd.traineddata", dir);
    TessBaseAPISetPageSegMode(e->api, access(osd, R_OK) == 0 ? PSM_AUTO_OSD : PSM_AUTO);
    if (pthread_setspecific(engine_key, e) != 0) {
        engine_free(e);
        keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return e->api;
}

/* ---- text clean-up --------------------------------------------------------------------- */

static int is_lower_start(const char *s)
{
    unsigned char c = (unsigned char)s[0];
    if (c >= 'a' && c <= 'z')
        return 1;
    /* ä ö ü ß and the rest of Latin-1's lower case letters */
    return c == 0xC3 && (unsigned char)s[1] >= 0x9F && (unsigned char)s[1] <= 0xBF &&
           (unsigned char)s[1] != 0xB7;
}

static int is_letter_end(const char *s, size_t n)
{
    if (!n)
        return 0;
    unsigned char c = (unsigned char)s[n - 1];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return n >= 2 && (unsigned char)s[n - 2] == 0xC3 && c >= 0x80 && c <= 0xBF;
}

/* Appends one paragraph of Tesseract's text (lines ending in '\n') as one
 * line: lines joined by a space, "charg-" + "ing" rejoined, ligatures split
 * so "ﬁnd" is searchable as "find". */
static int append_para(keep_buf *out, const char *t)
{
    int rc = KEEP_OK, any = 0, glue = 0;
    const char *p = t;
    while (*p && !rc) {
        size_t n = strcspn(p, "\n");
        const char *line = p;
        p += n + (p[n] == '\n');
        while (n && (line[0] == ' ' || line[0] == '\t'))
            line++, n--;
        while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
            n--;
        if (!n)
            continue;
        if (any && !glue)
            rc = keep_buf_putc(out, ' ');
        else if (any && glue && !is_lower_start(line))
            rc = keep_buf_putc(out, '-'); /* "North-" + "East": the hyphen stays */
        glue = 0;
        if (n >= 2 && line[n - 1] == '-' && is_letter_end(line, n - 1) && *p) {
            glue = 1;
            n--;
        }
        for (size_t i = 0; i < n && !rc; i++) {
            /* U+FB00..U+FB06 are EF AC 80..86 */
            if ((unsigned char)line[i] == 0xEF && i + 2 < n && (unsigned char)line[i + 1] == 0xAC &&
                (unsigned char)line[i + 2] >= 0x80 && (unsigned char)line[i + 2] <= 0x86) {
                static const char *const liga[] = {"ff", "fi", "fl", "ffi", "ffl", "st", "st"};
                rc = keep_buf_puts(out, liga[(unsigned char)line[i + 2] - 0x80]);
                i += 2;
            } else {
                rc = keep_buf_putc(out, line[i]);
            }
        }
        any = 1;
    }
    if (!rc && glue)
        rc = keep_buf_putc(out, '-');
    return rc;
}

static size_t count_alnum(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        n += (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             c >= 0xC0;
    }
    return n;
}

/* ---- recognition ------------------------------------------------------------------------ */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* The median height of letter-like dark blobs of an 8-bit image: the size
 * of its print in pixels (0 when there is no print). */
static int print_height(PIX *g)
{
    PIX *bin = pixConvertTo1(g, 128);
    BOXA *boxes = bin ? pixConnCompBB(bin, 8) : NULL;
    pixDestroy(&bin);
    int n = boxes ? boxaGetCount(boxes) : 0, m = 0, med = 0;
    int *h = n > 0 ? keep_calloc((size_t)n, sizeof *h) : NULL;
    for (int i = 0; h && i < n; i++) {
        l_int32 x, y, bw, bh;
        /* specks, rulings and pictures are no letters */
        if (boxaGetBoxGeometry(boxes, i, &x, &y, &bw, &bh) == 0 && bh >= 4 && bh <= 300 &&
            bw <= 3 * bh)
            h[m++] = bh;
    }
    if (m) {
        qsort(h, (size_t)m, sizeof *h, cmp_int);
        med = h[m / 2];
    }
    keep_free(h);
    boxaDestroy(&boxes);
    return med;
}

/* Small print is doubled in size before OCR: Tesseract reads letters below
 * about 12 pixels (10 pt at 90 dpi) poorly. On the sample memo, scanned at
 * 110 dpi, word errors fell from 3 in 112 to 1, in the same time; print that
 * is large enough is left alone (doubling it lost umlauts of German text). */
#define OCR_SMALL_PRINT 12

static PIX *enlarge_small_print(PIX *g, int *dpi)
{
    uint64_t w = (uint64_t)pixGetWidth(g), h = (uint64_t)pixGetHeight(g);
    if (4 * w * h > INGEST_OCR_MAX_PIXELS)
        return NULL;
    int ph = print_height(g);
    if (ph == 0 || ph >= OCR_SMALL_PRINT)
        return NULL;
    PIX *big = pixScale(g, 2.0f, 2.0f);
    if (big && *dpi >= 70)
        *dpi *= 2;
    return big;
}

/* OCRs pix (any depth) into out; see ingest__ocr_gray. */
/* Runs in the OCR child (see run_isolated): recognises pix into out. */
static int ocr_pix(TessBaseAPI *api, PIX *pix, int dpi, double deadline, keep_buf *out,
                   int *conf, keep_err *err)
{
    PIX *big = pixGetDepth(pix) == 8 ? enlarge_small_print(pix, &dpi) : NULL;
    TessBaseAPISetImage2(api, big ? big : pix);
    if (dpi >= 70 && dpi <= 2400)
        TessBaseAPISetSourceResolution(api, dpi);
    ETEXT_DESC *mon = TessMonitorCreate();
    int rc = KEEP_OK;
    if (!mon) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    double left = deadline - keep_now_ms();
    TessMonitorSetDeadlineMSecs(mon, left > 1 ? (int)left : 1);
    if (TessBaseAPIRecognize(api, mon) != 0 || keep_now_ms() > deadline) {
        rc = keep_now_ms() > deadline
                 ? keep_err_set(err, KEEP_ERR_TOOBIG, "OCR gave up on a page after %.0f s",
                                page_ms / 1000.0)
                 : keep_err_set(err, KEEP_ERR_PARSE, "Tesseract could not analyse the page");
        goto out;
    }
    *conf = TessBaseAPIMeanTextConf(api);
    TessResultIterator *it = TessBaseAPIGetIterator(api);
    if (it) {
        do {
            char *t = TessResultIteratorGetUTF8Text(it, RIL_PARA);
            if (!t)
                continue;
            float c = TessResultIteratorConfidence(it, RIL_PARA);
            size_t letters = count_alnum(t);
            if (letters > 0 && (letters > OCR_NOISE_CHARS || c >= OCR_NOISE_CONF)) {
                if (out->len && keep_buf_puts(out, "\n\n"))
                    rc = KEEP_ERR_NOMEM;
                if (!rc)
                    rc = append_para(out, t);
            }
            TessDeleteText(t);
        } while (!rc && TessResultIteratorNext(it, RIL_PARA));
        TessResultIteratorDelete(it);
        if (rc)
            keep_err_set(err, rc, "out of memory");
    }
out:
    if (mon)
        TessMonitorDelete(mon);
    pixDestroy(&big);
    return rc;
}

/* ---- one page in a child process ----------------------------------------------------------
 *
 * Tesseract's deadline covers recognition only: its layout analysis of a
 * page of noise ran for over ten minutes. And leptonica and Tesseract are
 * large C/C++ code bases reading hostile pixels. So each page is decoded and
 * recognised in a child process forked from the calling thread, which
 * already holds an initialised engine (the child inherits it, so the models
 * are not loaded again); the parent waits at most INGEST_OCR_PAGE_MS plus a
 * grace period, then kills it. A hang or crash is a one-line error for the
 * file. The child reports through a pipe: a header, the error message and
 * the text. It only computes and writes, then _exit()s. */

typedef struct page_job {
    /* an image file: frame n of data[0..len) */
    const l_uint8 *data;
    size_t len;
    int frame, tiff;
    l_int32 w, h; /* from the header, which the decoder must agree with */
    /* or grey pixels */
    const unsigned char *px;
    size_t stride;
    int dpi;
} page_job;

typedef struct reply_head {
    int32_t rc, conf;
    uint32_t msg_len, text_len;
} reply_head;

/* Text of one page beyond this is not a page. */
#define OCR_MAX_PAGE_TEXT ((size_t)4 << 20)

/* Transparent pixels are often black underneath: lay the image over white
 * paper, then reduce it to grey, which is all Tesseract looks at. */
static PIX *to_gray(PIX *pix)
{
    PIX *flat = NULL;
    if (pixGetSpp(pix) == 4)
        flat = pixAlphaBlendUniform(pix, 0xffffff00);
    PIX *g = pixConvertTo8(flat ? flat : pix, 0);
    pixDestroy(&flat);
    return g;
}

static PIX *job_pix(const page_job *j, int *dpi, keep_err *err)
{
    if (j->px) {
        PIX *pix = pixCreate((l_int32)j->w, (l_int32)j->h, 8);
        if (!pix) {
            keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for a %d x %d page image",
                         (int)j->w, (int)j->h);
            return NULL;
        }
        l_uint32 *data = pixGetData(pix);
        int wpl = pixGetWpl(pix);
        for (int y = 0; y < j->h; y++) {
            l_uint32 *line = data + (size_t)y * (size_t)wpl;
            const unsigned char *row = j->px + (size_t)y * j->stride;
            for (int x = 0; x < j->w; x++)
                SET_DATA_BYTE(line, x, row[x]);
        }
        *dpi = j->dpi;
        return pix;
    }
    PIX *pix = j->tiff ? pixReadMemTiff(j->data, j->len, j->frame) : pixReadMem(j->data, j->len);
    if (!pix) {
        keep_err_set(err, KEEP_ERR_CORRUPT, "%s cannot be decoded",
                     j->tiff ? "TIFF page" : "image");
        return NULL;
    }
    /* the header and the decoder must agree, or the pixel cap meant nothing */
    if (pixGetWidth(pix) != j->w || pixGetHeight(pix) != j->h) {
        pixDestroy(&pix);
        keep_err_set(err, KEEP_ERR_CORRUPT, "image size differs from its header");
        return NULL;
    }
    *dpi = pixGetXRes(pix);
    PIX *g = to_gray(pix);
    pixDestroy(&pix);
    if (!g)
        keep_err_set(err, KEEP_ERR_NOMEM, "out of memory converting a %d x %d image", (int)j->w,
                     (int)j->h);
    return g;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void child_main(int fd, TessBaseAPI *api, const page_job *j)
{
    /* a child outliving its parent or the wait below dies with it */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGALRM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    alarm((unsigned)(page_ms / 1000 + 5));
    /* libpng's and libjpeg's messages go to stderr, past leptonica's switch */
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, 2);
        close(devnull);
    }
    /* ingest runs a parser per core already: no OpenMP threads on top */
    omp_set_max_active_levels(0);
    double deadline = keep_now_ms() + page_ms;
    keep_err err;
    keep_err_clear(&err);
    keep_buf text = {0};
    int conf = 0, dpi = 0;
    int rc = KEEP_OK;
    PIX *pix = job_pix(j, &dpi, &err);
    if (!pix)
        rc = err.code ? err.code : KEEP_ERR_CORRUPT;
    else
        rc = ocr_pix(api, pix, dpi, deadline, &text, &conf, &err);
    if (!rc && text.len > OCR_MAX_PAGE_TEXT)
        rc = keep_err_set(&err, KEEP_ERR_TOOBIG, "OCR text of one page exceeds %zu bytes",
                          OCR_MAX_PAGE_TEXT);
    reply_head h = {rc, conf, rc ? (uint32_t)strlen(err.msg) : 0, rc ? 0 : (uint32_t)text.len};
    if (write_all(fd, &h, sizeof h) == 0 && write_all(fd, err.msg, h.msg_len) == 0)
        write_all(fd, text.data ? text.data : "", h.text_len);
    _exit(0);
}

/* Reads the child's reply until EOF or the deadline. 1 when complete. */
static int read_reply(int fd, double deadline, keep_buf *in)
{
    for (;;) {
        double left = deadline - keep_now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, (int)left + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return 0;
        if (keep_buf_reserve(in, 65536))
            return 0;
        ssize_t n = read(fd, in->data + in->len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 0;
        if (n == 0)
            return 1;
        in->len += (size_t)n;
        in->data[in->len] = '\0';
        if (in->len > OCR_MAX_PAGE_TEXT + sizeof(reply_head) + sizeof(((keep_err *)0)->msg))
            return 0;
    }
}

static int run_isolated(const page_job *j, const ingest_ocr_options *opt, keep_buf *out,
                        int *conf, keep_err *err)
{
    TessBaseAPI *api = engine_get(opt->languages, err);
    if (!api)
        return err && err->code ? err->code : KEEP_ERR_UNSUPPORTED;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return keep_err_set(err, KEEP_ERR_IO, "cannot start OCR: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return keep_err_set(err, KEEP_ERR_NOMEM, "cannot start OCR: %s", strerror(e));
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], api, j);
    }
    close(fds[1]);
    keep_buf in = {0};
    /* the child stops itself at the deadline; a little later it is killed */
    int limit = page_ms;
    int done = read_reply(fds[0], keep_now_ms() + limit + limit / 5, &in);
    close(fds[0]);
    if (!done)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int rc;
    reply_head h;
    if (!done) {
        rc = keep_err_set(err, KEEP_ERR_TOOBIG, "OCR gave up on a page after %.0f s",
                          limit / 1000.0);
    } else if (WIFSIGNALED(status) || in.len < sizeof h) {
        rc = keep_err_set(err, KEEP_ERR_PARSE, "OCR crashed on this page (signal %d)",
                          WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    } else {
        memcpy(&h, in.data, sizeof h);
        size_t need = sizeof h + (size_t)h.msg_len + (size_t)h.text_len;
        if (h.msg_len >= sizeof err->msg || h.text_len > OCR_MAX_PAGE_TEXT || in.len != need) {
            rc = keep_err_set(err, KEEP_ERR_PARSE, "OCR returned a damaged reply");
        } else if (h.rc) {
            rc = keep_err_set(err, h.rc, "%.*s", (int)h.msg_len, in.data + sizeof h);
        } else {
            rc = keep_buf_append(out, in.data + sizeof h + h.msg_len, h.text_len);
            if (rc)
                keep_err_set(err, rc, "out of memory");
            else if (conf)
                *conf = h.conf;
        }
    }
    keep_buf_free(&in);
    return rc;
}

int ingest__ocr_gray(const unsigned char *px, int w, int h, size_t stride, int dpi,
                     const ingest_ocr_options *opt, keep_buf *out, int *conf, keep_err *err)
{
    if (w <= 0 || h <= 0 || stride < (size_t)w ||
        (uint64_t)w * (uint64_t)h > INGEST_OCR_MAX_PIXELS)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "page image of %d x %d pixels is too large for OCR",
                            w, h);
    page_job j = {0};
    j.px = px;
    j.w = w;
    j.h = h;
    j.stride = stride;
    j.dpi = dpi;
    return run_isolated(&j, opt, out, conf, err);
}

/* ---- image files ----------------------------------------------------------------------- */

static const char *format_name(l_int32 f)
{
    switch (f) {
    case IFF_PNG:
        return "PNG";
    case IFF_JFIF_JPEG:
        return "JPEG";
    case IFF_TIFF:
    case IFF_TIFF_PACKBITS:
    case IFF_TIFF_RLE:
    case IFF_TIFF_G3:
    case IFF_TIFF_G4:
    case IFF_TIFF_LZW:
    case IFF_TIFF_ZIP:
    case IFF_TIFF_JPEG:
        return "TIFF";
    default:
        return NULL;
    }
}

static int check_size(l_int32 w, l_int32 h, int page, keep_err *err)
{
    if (w <= 0 || h <= 0)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "image page %d has no pixels", page);
    if ((uint64_t)w * (uint64_t)h > INGEST_OCR_MAX_PIXELS)
        return keep_err_set(err, KEEP_ERR_TOOBIG,
                            "image of %d x %d pixels is over the OCR limit of %llu megapixels",
                            (int)w, (int)h,
                            (unsigned long long)(INGEST_OCR_MAX_PIXELS / 1000000));
    return KEEP_OK;
}

int ingest_parse_image(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                       keep_err *err)
{
    ingest_limits dl;
    if (!lim) {
        ingest_limits_default(&dl);
        lim = &dl;
    }
    if (!lim->ocr.enabled)
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "OCR is turned off in keep.conf");
    if (len < 8)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "image file is truncated");
    if (lim->max_file_bytes && len > lim->max_file_bytes)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "image of %zu bytes exceeds the %zu-byte limit",
                            len, lim->max_file_bytes);
    pthread_once(&engine_once, engine_setup);
    int rc = ingest__ocr_check(&lim->ocr, err);
    if (rc)
        return rc;
    page_job j = {0};
    j.data = (const l_uint8 *)data;
    j.len = len;
    /* only the header is read here: no pixel of an untrusted image is
     * decoded outside the child */
    l_int32 fmt = 0, bps = 0, spp = 0, cmap = 0;
    if (pixReadHeaderMem(j.data, len, &fmt, &j.w, &j.h, &bps, &spp, &cmap) != 0)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "not a readable PNG, JPEG or TIFF image");
    const char *name = format_name(fmt);
    if (!name)
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "image format %d is not PNG, JPEG or TIFF",
                            (int)fmt);
    j.tiff = strcmp(name, "TIFF") == 0;
    unsigned max_pages = lim->max_pages && lim->max_pages < OCR_MAX_TIFF_PAGES ? lim->max_pages
                                                                                : OCR_MAX_TIFF_PAGES;
    keep_buf text = {0};
    long conf_sum = 0;
    int pages = 0;
    double t0 = keep_now_ms();
    for (int n = 0;; n++) {
        if (j.tiff && n > 0) {
            l_int32 res = 0, f2 = 0;
            /* past the last frame leptonica reports an error: the end */
            if (readHeaderMemTiff(j.data, len, n, &j.w, &j.h, &bps, &spp, &res, &cmap, &f2) != 0)
                break;
        }
        if ((unsigned)n >= max_pages) {
            rc = keep_err_set(err, KEEP_ERR_TOOBIG, "TIFF has more than %u pages", max_pages);
            goto out;
        }
        if ((rc = check_size(j.w, j.h, n + 1, err)))
            goto out;
        j.frame = n;
        keep_buf_reset(&text);
        int conf = 0;
        keep_err perr;
        keep_err_clear(&perr);
        if ((rc = run_isolated(&j, &lim->ocr, &text, &conf, &perr))) {
            if (j.tiff)
                keep_err_set(err, rc, "page %d: %s", n + 1, perr.msg);
            else
                keep_err_set(err, rc, "%s", perr.msg);
            goto out;
        }
        pages++;
        conf_sum += conf;
        if ((rc = ingest__ocr_emit(doc, n + 1, text.data ? text.data : "", text.len))) {
            if (rc == KEEP_ERR_TOOBIG)
                keep_err_set(err, rc, "image text exceeds the %zu-byte limit", lim->max_text_bytes);
            else
                keep_err_set(err, rc, "out of memory");
            goto out;
        }
        if (!j.tiff)
            break;
        /* a many-page TIFF may take long, but pages that each run into
         * the deadline stop it */
        double budget = OCR_DOC_BASE_MS + OCR_DOC_PAGE_MS * (n + 1);
        if (keep_now_ms() - t0 > budget) {
            rc = keep_err_set(err, KEEP_ERR_TOOBIG, "OCR of the TIFF exceeded %.0f s at page %d",
                              budget / 1000.0, n + 1);
            goto out;
        }
    }
    char num[32];
    snprintf(num, sizeof num, "%d", pages);
    if ((rc = ingest_doc_meta(doc, "pages", num)) ||
        (rc = ingest_doc_meta(doc, "ocr_languages", lim->ocr.languages)))
        goto nomem;
    snprintf(num, sizeof num, "%ld", pages ? conf_sum / pages : 0);
    if ((rc = ingest_doc_meta(doc, "ocr_confidence", num)))
        goto nomem;
    goto out;
nomem:
    keep_err_set(err, rc, "out of memory");
out:
    keep_buf_free(&text);
    return rc;
}

#endif
