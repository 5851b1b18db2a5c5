/* detect.c — format detection from signatures, zip members, libmagic and the
 * file extension (see detect.h for the rules). */
#include "detect.h"

#include <magic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#include "encoding.h"

/* libmagic decides from the start of a file; more only costs time. */
#define MAGIC_SAMPLE ((size_t)65536)

/* One libmagic handle for the process: loading the database costs ~10 ms and
 * a handle is not thread-safe, so calls are serialised (they are short). */
static pthread_once_t magic_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t magic_lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t magic_handle;

static void magic_setup(void)
{
    magic_t m = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_TAR |
                           MAGIC_NO_CHECK_CDF);
    if (!m)
        return;
    if (magic_load(m, NULL) != 0) {
        magic_close(m);
        return;
    }
    magic_handle = m;
}

/* libmagic's MIME type for the sample, copied into out ("" when unknown). */
static void magic_type(const char *data, size_t len, char *out, size_t cap)
{
    out[0] = '\0';
    pthread_once(&magic_once, magic_setup);
    if (!magic_handle)
        return;
    pthread_mutex_lock(&magic_lock);
    const char *t = magic_buffer(magic_handle, data, len < MAGIC_SAMPLE ? len : MAGIC_SAMPLE);
    if (t)
        snprintf(out, cap, "%s", t);
    pthread_mutex_unlock(&magic_lock);
}

static void set_reason(char *reason, size_t cap, const char *fmt, const char *arg)
{
    if (reason && cap)
        snprintf(reason, cap, fmt, arg);
}

/* Lower-case extension of path's last component, "" when none. */
static void extension(const char *path, char *ext, size_t cap)
{
    ext[0] = '\0';
    if (!path)
        return;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base || strlen(dot + 1) >= cap)
        return;
    size_t i = 0;
    for (const char *p = dot + 1; *p; p++) {
        char c = *p;
        ext[i++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    ext[i] = '\0';
}

static int ext_in(const char *ext, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(ext, *list))
            return 1;
    return 0;
}

/* The text-like format an extension names, NULL when it names none. */
static const char *text_format_of_ext(const char *ext)
{
    static const char *const md[] = {"md", "markdown", "mdown", "mkd", "mkdn", NULL};
    static const char *const html[] = {"html", "htm", "xhtml", "shtml", NULL};
    static const char *const text[] = {"txt", "text", NULL};
    if (ext_in(ext, md))
        return "markdown";
    if (ext_in(ext, html))
        return "html";
    if (!strcmp(ext, "csv"))
        return "csv";
    if (!strcmp(ext, "tsv") || !strcmp(ext, "tab"))
        return "tsv";
    if (!strcmp(ext, "xml"))
        return "xml";
    if (!strcmp(ext, "eml"))
        return "eml";
    if (!strcmp(ext, "mbox") || !strcmp(ext, "mbx"))
        return "mbox";
    if (ext_in(ext, text))
        return "text";
    return NULL;
}

/* ---- zip containers ------------------------------------------------------------ */

static const char *odf_format(const char *mt, size_t n)
{
    static const char prefix[] = "application/vnd.oasis.opendocument.";
    if (n < sizeof prefix - 1 || memcmp(mt, prefix, sizeof prefix - 1) != 0)
        return NULL;
    const char *kind = mt + sizeof prefix - 1;
    size_t kn = n - (sizeof prefix - 1);
    if (kn == 4 && !memcmp(kind, "text", 4))
        return "odt";
    if (kn == 12 && !memcmp(kind, "presentation", 12))
        return "odp";
    if (kn == 11 && !memcmp(kind, "spreadsheet", 11))
        return "ods";
    return NULL;
}

/* Office format of a zip by its members; NULL for another zip (or one that
 * libzip cannot open, e.g. a truncated sample). *opened tells which. */
static const char *zip_format(const char *data, size_t len, int *opened)
{
    *opened = 0;
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    if (!src) {
        zip_error_fini(&ze);
        return NULL;
    }
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    zip_error_fini(&ze);
    if (!za) {
        zip_source_free(src);
        return NULL;
    }
    *opened = 1;
    const char *fmt = NULL;
    if (zip_name_locate(za, "word/document.xml", 0) >= 0)
        fmt = "docx";
    else if (zip_name_locate(za, "ppt/presentation.xml", 0) >= 0)
        fmt = "pptx";
    else if (zip_name_locate(za, "xl/workbook.xml", 0) >= 0)
        fmt = "xlsx";
    else {
        zip_int64_t i = zip_name_locate(za, "mimetype", 0);
        zip_file_t *f = i >= 0 ? zip_fopen_index(za, (zip_uint64_t)i, 0) : NULL;
        if (f) {
            char mt[96];
            zip_int64_t n = zip_fread(f, mt, sizeof mt); /* bounded: no bomb */
            zip_fclose(f);
            if (n > 0) {
                size_t m = (size_t)n;
                while (m && (mt[m - 1] == '\n' || mt[m - 1] == '\r' || mt[m - 1] == ' '))
                    m--;
                fmt = odf_format(mt, m);
            }
        }
    }
    zip_discard(za);
    return fmt;
}

/* For a zip libzip could not open (only its start was given): the local
 * headers at the start name the members too. */
static const char *zip_format_by_scan(const char *data, size_t len)
{
    size_t n = len < MAGIC_SAMPLE ? len : MAGIC_SAMPLE;
    if (memmem(data, n, "word/document.xml", 17))
        return "docx";
    if (memmem(data, n, "ppt/presentation.xml", 20))
        return "pptx";
    if (memmem(data, n, "xl/workbook.xml", 15))
        return "xlsx";
    /* ODF: a stored "mimetype" member first, its content right after */
    static const char mt[] = "mimetypeapplication/vnd.oasis.opendocument.";
    const char *p = memmem(data, n, mt, sizeof mt - 1);
    if (p) {
        p += 8;
        size_t rest = (size_t)(data + n - p), m = 0;
        while (m < rest && m < 64 && p[m] >= 0x21 && p[m] < 0x7F && p[m] != 'P')
            m++;
        /* the next local header ("PK") ends the content; try each length */
        for (size_t k = m; k > 0; k--) {
            const char *f = odf_format(p, k);
            if (f)
                return f;
        }
    }
    return NULL;
}

/* ---- classification ---------------------------------------------------------------- */

static const char *office_of_mime(const char *mt)
{
    static const struct {
        const char *mime, *fmt;
    } map[] = {
        {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
        {"application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"},
        {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
        {"application/vnd.oasis.opendocument.text", "odt"},
        {"application/vnd.oasis.opendocument.presentation", "odp"},
        {"application/vnd.oasis.opendocument.spreadsheet", "ods"},
        {"application/pdf", "pdf"},
        {"image/png", "png"},
        {"image/jpeg", "jpeg"},
        {"image/tiff", "tiff"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(mt, map[i].mime))
            return map[i].fmt;
    return NULL;
}

/* MIME types of text in some form: the extension or the type refines it. */
static int textual_mime(const char *mt)
{
    return !strncmp(mt, "text/", 5) || !strcmp(mt, "message/rfc822") ||
           !strcmp(mt, "message/news") || !strcmp(mt, "application/mbox") ||
           !strcmp(mt, "application/xml") || !strcmp(mt, "application/json") ||
           !strcmp(mt, "application/javascript") || !strcmp(mt, "image/svg+xml") ||
           !strcmp(mt, "application/x-empty") || !strcmp(mt, "inode/x-empty") ||
           !strcmp(mt, "application/csv") || !strcmp(mt, "application/x-wine-extension-ini");
}

static const char *text_format_of_mime(const char *mt)
{
    if (!strcmp(mt, "text/html"))
        return "html";
    if (!strcmp(mt, "text/xml") || !strcmp(mt, "application/xml") ||
        !strcmp(mt, "image/svg+xml"))
        return "xml";
    if (!strcmp(mt, "message/rfc822") || !strcmp(mt, "message/news"))
        return "eml";
    if (!strcmp(mt, "application/mbox"))
        return "mbox";
    if (!strcmp(mt, "text/csv") || !strcmp(mt, "application/csv"))
        return "csv";
    if (!strcmp(mt, "text/markdown") || !strcmp(mt, "text/x-markdown"))
        return "markdown";
    return "text";
}

const char *ingest_detect_format_ex(const char *path, const char *data, size_t len,
                                    char *reason, size_t reason_cap)
{
    char ext[16];
    extension(path, ext, sizeof ext);
    const char *by_ext = text_format_of_ext(ext);
    if (!data)
        len = 0;
    set_reason(reason, reason_cap, "%s", "");

    /* signatures that settle it whatever the name says */
    const unsigned char *u = (const unsigned char *)data;
    size_t head = len < 1024 ? len : 1024;
    if (len >= 5 && memmem(data, head, "%PDF-", 5))
        return "pdf";
    if (len >= 8 && !memcmp(u, "\x89PNG\r\n\x1a\n", 8))
        return "png";
    if (len >= 3 && u[0] == 0xFF && u[1] == 0xD8 && u[2] == 0xFF)
        return "jpeg";
    if (len >= 4 && (!memcmp(u, "II*\0", 4) || !memcmp(u, "MM\0*", 4)))
        return "tiff";
    if (len >= 4 && !memcmp(u, "PK\x03\x04", 4)) {
        int opened;
        const char *z = zip_format(data, len, &opened);
        if (!z && !opened)
            z = zip_format_by_scan(data, len);
        if (z)
            return z;
        set_reason(reason, reason_cap, "%s", "zip archive that is not an office document");
        return NULL;
    }
    if (len == 0)
        return by_ext ? by_ext : "text";

    char mt[128];
    magic_type(data, len, mt, sizeof mt);
    const char *office = mt[0] ? office_of_mime(mt) : NULL;
    if (office)
        return office;
    int textual = mt[0] ? textual_mime(mt) : 0;
    /* libmagic calls UTF-16 without BOM or some legacy CJK "data": our own
     * binary test has the last word on text */
    size_t sample = len < MAGIC_SAMPLE ? len : MAGIC_SAMPLE;
    if (!textual && !ingest__looks_binary(data, sample))
        textual = 1;
    if (!textual) {
        set_reason(reason, reason_cap, "binary file of type %s",
                   mt[0] ? mt : "unknown");
        return NULL;
    }
    if (by_ext)
        return by_ext;
    return text_format_of_mime(mt);
}

const char *ingest_detect_format(const char *path, const char *data, size_t len)
{
    return ingest_detect_format_ex(path, data, len, NULL, 0);
}
