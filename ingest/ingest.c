/* ingest.c — the entry point of ingest/: read a file (or bytes), pick the
 * parser, run it under the configured limits, chunk the result, and parse
 * attachments as child documents. */
#include "config.h"

#include "ingest.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "chunker.h"
#include "detect.h"
#include "doc.h"
#include "encoding.h"
#include "ocr.h"
#include "parse_csv.h"
#include "parse_mail.h"
#include "parse_office.h"
#include "parse_pdf.h"
#include "parse_text.h"
#include "parse_web.h"

/* Attachments inside attachments inside ... stop here. */
#define INGEST_MAX_CHILD_DEPTH 3

struct ingest_result {
    char *format;
    char hash[65];
    ingest_doc doc;
    ingest_chunk *chunks;
    size_t n_chunks;
    ingest_result **children;
    char **child_names;
    size_t n_children;
};

void ingest_options_default(ingest_options *opt)
{
    opt->max_file_bytes = (size_t)256 << 20;
    opt->max_text_bytes = (size_t)64 << 20;
    opt->chunk_chars = 1200;
    opt->chunk_overlap = 150;
    opt->ocr = 1;
    snprintf(opt->ocr_languages, sizeof opt->ocr_languages, "%s", INGEST_OCR_DEFAULT_LANGUAGES);
}

/* ---- formats ------------------------------------------------------------------ */

/* Text-like formats arrive in any encoding: convert to UTF-8 first, then
 * parse. The converted text replaces the input for the parser only. */
static int parse_converted(ingest_parse_fn fn, const char *data, size_t len,
                           const ingest_limits *lim, ingest_doc *doc, keep_err *err)
{
    char *utf8 = NULL;
    size_t n = 0;
    char charset[64] = "";
    int rc = ingest_to_utf8(data, len, lim->max_text_bytes, &utf8, &n, charset, sizeof charset, err);
    if (rc)
        return rc;
    if (charset[0] && strcmp(charset, "UTF-8") != 0 && strcmp(charset, "ASCII") != 0)
        ingest_doc_meta(doc, "charset", charset);
    rc = fn(utf8, n, lim, doc, err);
    keep_free(utf8);
    return rc;
}

static int parse_text_any(const char *data, size_t len, const ingest_limits *lim,
                          ingest_doc *doc, keep_err *err)
{
    return parse_converted(ingest_parse_text, data, len, lim, doc, err);
}

static int parse_markdown_any(const char *data, size_t len, const ingest_limits *lim,
                              ingest_doc *doc, keep_err *err)
{
    return parse_converted(ingest_parse_markdown, data, len, lim, doc, err);
}

typedef struct {
    const char *name;     /* as ingest_detect_format names it */
    ingest_parse_fn parse; /* NULL: recognised, but this build cannot read it */
    const char *why_not;  /* reason given when parse is NULL */
    int needs_ocr;        /* skipped when OCR is turned off */
} format_entry;

#ifdef HAVE_TESSERACT
#define IMAGE_PARSER ingest_parse_image, NULL, 1
#else
#define IMAGE_PARSER NULL, "image files need OCR, which this build does not have", 1
#endif

static const format_entry formats[] = {
    {"text", parse_text_any, NULL, 0},
    {"markdown", parse_markdown_any, NULL, 0},
    {"csv", ingest_parse_csv, NULL, 0},
    {"tsv", ingest_parse_tsv, NULL, 0},
    {"eml", ingest_parse_email, NULL, 0},
    {"mbox", ingest_parse_mbox, NULL, 0},
    {"pdf", ingest_parse_pdf, NULL, 0},
    {"docx", ingest_parse_docx, NULL, 0},
    {"pptx", ingest_parse_pptx, NULL, 0},
    {"xlsx", ingest_parse_xlsx, NULL, 0},
    {"odt", ingest_parse_odt, NULL, 0},
    {"odp", ingest_parse_odp, NULL, 0},
    {"ods", ingest_parse_ods, NULL, 0},
    {"html", ingest_parse_html, NULL, 0},
    {"xml", ingest_parse_xml, NULL, 0},
    {"png", IMAGE_PARSER},
    {"jpeg", IMAGE_PARSER},
    {"tiff", IMAGE_PARSER},
};

/* Picks the parser from content and name. NULL with a reason when the file
 * is to be skipped. */
static const format_entry *detect(const char *name, const char *data, size_t len, int ocr,
                                  keep_err *err)
{
    char reason[256] = "";
    const char *fmt = ingest_detect_format_ex(name, data, len, reason, sizeof reason);
    if (!fmt) {
        keep_err_set(err, KEEP_ERR_UNSUPPORTED, "%s", reason[0] ? reason : "unsupported file type");
        return NULL;
    }
    /* flat OpenDocument files are XML to libmagic; their extension says which */
    if (strcmp(fmt, "xml") == 0) {
        const char *dot = name ? strrchr(name, '.') : NULL;
        if (dot && strcasecmp(dot, ".fodt") == 0)
            fmt = "odt";
        else if (dot && strcasecmp(dot, ".fodp") == 0)
            fmt = "odp";
        else if (dot && strcasecmp(dot, ".fods") == 0)
            fmt = "ods";
    }
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(formats[i].name, fmt) != 0)
            continue;
        if (!formats[i].parse) {
            keep_err_set(err, KEEP_ERR_UNSUPPORTED, "%s", formats[i].why_not);
            return NULL;
        }
        if (formats[i].needs_ocr && !ocr) {
            keep_err_set(err, KEEP_ERR_UNSUPPORTED, "OCR is turned off in keep.conf");
            return NULL;
        }
        return &formats[i];
    }
    keep_err_set(err, KEEP_ERR_UNSUPPORTED, "no parser for %s files in this build", fmt);
    return NULL;
}

/* ---- hashing --------------------------------------------------------------------- */

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_status;
static void sodium_setup(void) { sodium_status = sodium_init(); }

void ingest_hash_hex(const char *data, size_t len, char out[65])
{
    unsigned char h[32];
    pthread_once(&sodium_once, sodium_setup);
    crypto_generichash(h, sizeof h, (const unsigned char *)data, len, NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof h);
}

int ingest_is_ignored_name(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    size_t n = strlen(base);
    if (n == 0 || base[0] == '.' || (base[0] == '~' && n > 1 && base[1] == '$'))
        return 1;
    if (base[n - 1] == '~')
        return 1;
    static const char *const temp_ext[] = {".tmp", ".temp", ".part", ".crdownload", ".swp",
                                           ".lock", ".partial"};
    for (size_t i = 0; i < sizeof temp_ext / sizeof temp_ext[0]; i++) {
        size_t e = strlen(temp_ext[i]);
        if (n > e && strcasecmp(base + n - e, temp_ext[i]) == 0)
            return 1;
    }
    return 0;
}

/* ---- results ------------------------------------------------------------------------ */

void ingest_result_free(ingest_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_children; i++) {
        ingest_result_free(r->children[i]);
        keep_free(r->child_names[i]);
    }
    keep_free(r->children);
    keep_free(r->child_names);
    ingest__chunks_free(r->chunks, r->n_chunks);
    ingest_doc_free(&r->doc);
    keep_free(r->format);
    keep_free(r);
}

const char *ingest_result_format(const ingest_result *r) { return r->format; }
const char *ingest_result_title(const ingest_result *r) { return r->doc.title; }
const char *ingest_result_hash(const ingest_result *r) { return r->hash; }
size_t ingest_result_n_chunks(const ingest_result *r) { return r->n_chunks; }
size_t ingest_result_n_meta(const ingest_result *r) { return r->doc.n_meta; }
size_t ingest_result_n_children(const ingest_result *r) { return r->n_children; }

const char *ingest_result_text(const ingest_result *r, size_t *len)
{
    if (len)
        *len = r->doc.text.len;
    return r->doc.text.data ? r->doc.text.data : "";
}

const ingest_chunk *ingest_result_chunk(const ingest_result *r, size_t i)
{
    return i < r->n_chunks ? &r->chunks[i] : NULL;
}

void ingest_result_meta(const ingest_result *r, size_t i, const char **key, const char **value)
{
    *key = i < r->doc.n_meta ? r->doc.meta[i].key : NULL;
    *value = i < r->doc.n_meta ? r->doc.meta[i].value : NULL;
}

const ingest_result *ingest_result_child(const ingest_result *r, size_t i, const char **name)
{
    if (i >= r->n_children)
        return NULL;
    if (name)
        *name = r->child_names[i];
    return r->children[i];
}

/* ---- the pipeline --------------------------------------------------------------------- */

static int parse_bytes(const char *name, const char *data, size_t len, const ingest_options *opt,
                       int depth, ingest_result **out, keep_err *err)
{
    *out = NULL;
    ingest_result *r = keep_calloc(1, sizeof *r);
    if (!r)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    ingest_limits lim;
    ingest_limits_default(&lim);
    lim.max_file_bytes = opt->max_file_bytes;
    lim.max_text_bytes = opt->max_text_bytes;
    lim.ocr.enabled = opt->ocr;
    snprintf(lim.ocr.languages, sizeof lim.ocr.languages, "%s",
             opt->ocr_languages[0] ? opt->ocr_languages : INGEST_OCR_DEFAULT_LANGUAGES);
    ingest_doc_init(&r->doc, &lim);
    ingest_hash_hex(data, len, r->hash);
    *out = r;

    const format_entry *fmt = detect(name, data, len, opt->ocr, err);
    if (!fmt) {
        const char *guess = ingest_detect_format(name, data, len);
        r->format = keep_strdup(guess ? guess : "unknown");
        return KEEP_ERR_UNSUPPORTED;
    }
    r->format = keep_strdup(fmt->name);
    if (!r->format)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    if (len > opt->max_file_bytes)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "file is %zu bytes, over the limit of %zu", len,
                            opt->max_file_bytes);
    keep_err perr;
    keep_err_clear(&perr);
    int rc = fmt->parse(data, len, &lim, &r->doc, &perr);
    /* A file of a format Keep reads that its parser cannot open (password,
     * unsupported variant) failed: the operator has something to fix, so it
     * belongs in `keep docs list --failed`, not among the skipped. */
    if (rc == KEEP_ERR_UNSUPPORTED)
        rc = KEEP_ERR_PARSE;
    if (rc == KEEP_OK)
        rc = ingest_doc_finish(&r->doc);
    if (rc) {
        if (!perr.msg[0])
            keep_err_set(&perr, rc, "%s", keep_strerror(rc));
        return keep_err_set(err, rc, "%s: %s", fmt->name, perr.msg);
    }
    rc = ingest__chunk(&r->doc, opt->chunk_chars, opt->chunk_overlap, &r->chunks, &r->n_chunks,
                       err);
    if (rc)
        return rc;
    if (r->doc.n_attachments && depth < INGEST_MAX_CHILD_DEPTH) {
        size_t n = r->doc.n_attachments;
        r->children = keep_calloc(n, sizeof *r->children);
        r->child_names = keep_calloc(n, sizeof *r->child_names);
        if (!r->children || !r->child_names)
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            const ingest_attachment *a = &r->doc.attachments[i];
            ingest_result *child = NULL;
            keep_err cerr;
            /* an unreadable attachment does not fail its mail: it is simply
             * not a child document */
            if (parse_bytes(a->name, a->data, a->len, opt, depth + 1, &child, &cerr) == KEEP_OK) {
                r->child_names[r->n_children] = keep_strdup(a->name);
                r->children[r->n_children++] = child;
            } else {
                ingest_result_free(child);
            }
        }
    }
    return KEEP_OK;
}

int ingest_bytes(const char *name, const char *data, size_t len, const ingest_options *opt,
                 ingest_result **out, keep_err *err)
{
    ingest_options def;
    if (!opt) {
        ingest_options_default(&def);
        opt = &def;
    }
    if (!name || !data || !out)
        return keep_err_set(err, KEEP_ERR_USAGE, "ingest_bytes: missing argument");
    return parse_bytes(name, data, len, opt, 0, out, err);
}

int ingest_file(const char *path, const ingest_options *opt, ingest_result **out, keep_err *err)
{
    ingest_options def;
    if (!opt) {
        ingest_options_default(&def);
        opt = &def;
    }
    if (!path || !out)
        return keep_err_set(err, KEEP_ERR_USAGE, "ingest_file: missing argument");
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    /* callers pass real paths (realpath or lstat-checked); a file swapped for
     * a link since then is refused rather than followed out of its folder */
    int rc = keep_read_file_nofollow(path, opt->max_file_bytes, &data, &len, err);
    if (rc)
        return rc;
    rc = parse_bytes(path, data, len, opt, 0, out, err);
    keep_free(data);
    return rc;
}
