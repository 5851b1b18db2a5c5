/* parse_mail.c — .eml and mbox through GMime 3 (see parse_mail.h).
 *
 * GMime parses the MIME structure; we walk the tree with our own depth cap,
 * pick the body parts, convert their charsets with encoding.c (so mail and
 * plain files share one policy) and hand attachments to the caller as bytes.
 * Embedded messages (message/rfc822) are handed to the caller as their
 * original bytes, cut from the input by GMime's header offsets and the
 * enclosing boundary: re-serialising GMime's tree would re-encode headers,
 * which GMime 3.2 can loop on for hostile parameters. */
#include "parse_mail.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "encoding.h"

/* HTML bodies go through the HTML parser of ingest/parse_web.h. */
#include "parse_web.h"

#define MAX_HEADER_VALUE ((size_t)2000)
#define MAX_NAME ((size_t)200)

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;


static void gmime_setup(void) { g_mime_init(); }

typedef struct {
    const char *data; /* the whole input: embedded messages are cut from it */
    size_t len;
    size_t msg_end; /* end of the current message within data */
    const ingest_limits *lim;
    ingest_doc *doc;
    keep_err *err;
    unsigned max_depth, max_attach;
    unsigned attach_dropped;
    unsigned n_attach_seen;
    int nesting_overflow; /* GMime reported its own nesting limit */
    int mbox;             /* messages come from an mbox (">From " escapes) */
} mail_ctx;

static void on_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
    (void)offset;
    (void)item;
    mail_ctx *c = data;
    if (code == GMIME_CRIT_NESTING_OVERFLOW)
        c->nesting_overflow = 1;
}

/* ---- small text helpers ------------------------------------------------------ */

/* A header value as clean one-line UTF-8, at most MAX_HEADER_VALUE bytes.
 * Caller frees with keep_free; NULL on OOM (or when s is NULL). */
static char *clean_value(const char *s, size_t cap)
{
    if (!s)
        return NULL;
    char *u = NULL;
    size_t ulen = 0;
    size_t len = strlen(s);
    if (ingest_charset_to_utf8(s, len, NULL, 0, &u, &ulen, NULL) != KEEP_OK) {
        /* binary junk in a header: keep the printable ASCII only */
        keep_buf b = {0};
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7F &&
                keep_buf_putc(&b, s[i])) {
                keep_buf_free(&b);
                return NULL;
            }
        u = keep_buf_take(&b);
        if (!u)
            return NULL;
        ulen = strlen(u);
    }
    /* collapse whitespace and control characters into single spaces */
    size_t o = 0;
    int space = 0;
    for (size_t i = 0; i < ulen; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c <= 0x20 || c == 0x7F) {
            space = o > 0;
            continue;
        }
        if (space)
            u[o++] = ' ';
        space = 0;
        u[o++] = (char)c;
    }
    if (o > cap)
        o = keep_utf8_floor(u, cap);
    u[o] = '\0';
    return u;
}

/* Whether the line at s is an mbox-escaped ">From " (mboxrd: ">>From "
 * too); the writer added one '>'. */
static int escaped_from(const char *s, size_t n)
{
    size_t k = 0;
    while (k < n && s[k] == '>')
        k++;
    return k > 0 && n - k >= 5 && !memcmp(s + k, "From ", 5);
}

/* Appends mail text: blank lines end paragraphs, other line breaks become
 * spaces (mail is hard-wrapped at ~72 columns). unescape: the text comes
 * from an mbox, whose writer escaped body lines starting with "From ". */
static int append_plain(ingest_doc *doc, const char *s, size_t len, int unescape)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - s) + 1 : len;
        if (unescape && escaped_from(s + i, end - i))
            i++;
        size_t k = i;
        while (k < end && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n'))
            k++;
        int rc = k == end ? ingest_doc_para(doc) : ingest_doc_text(doc, s + i, end - i);
        if (rc)
            return rc;
        i = end;
    }
    return ingest_doc_para(doc);
}

static int doc_fail(mail_ctx *c, int rc)
{
    if (rc == KEEP_ERR_TOOBIG)
        return keep_err_set(c->err, rc, "mail text exceeds the size limit");
    return keep_err_set(c->err, rc, "out of memory building mail text");
}

/* ---- HTML bodies --------------------------------------------------------------- */

/* The HTML parser fills a scratch document whose paragraphs we copy. */
static int html_to_doc(mail_ctx *c, const char *html, size_t len)
{
    ingest_doc tmp;
    ingest_doc_init(&tmp, c->lim);
    int rc = ingest_parse_html(html, len, c->lim, &tmp, c->err);
    if (rc == KEEP_OK)
        rc = ingest_doc_finish(&tmp);
    if (rc == KEEP_OK && (rc = append_plain(c->doc, tmp.text.data ? tmp.text.data : "",
                                            tmp.text.len, 0)))
        rc = doc_fail(c, rc);
    ingest_doc_free(&tmp);
    return rc;
}

/* ---- MIME walk ---------------------------------------------------------------- */

/* Decoded content of a leaf part (transfer encoding undone). Caller frees
 * *out with keep_free. */
static int part_bytes(GMimePart *part, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    GMimeStream *mem = g_mime_stream_mem_new();
    if (!mem)
        return KEEP_ERR_NOMEM;
    if (w && g_mime_data_wrapper_write_to_stream(w, mem) < 0) {
        g_object_unref(mem);
        return KEEP_ERR_CORRUPT;
    }
    GByteArray *a = g_mime_stream_mem_get_byte_array((GMimeStreamMem *)mem);
    size_t n = a ? a->len : 0;
    *out = keep_malloc(n + 1);
    if (!*out) {
        g_object_unref(mem);
        return KEEP_ERR_NOMEM;
    }
    if (n)
        memcpy(*out, a->data, n);
    (*out)[n] = '\0';
    *len = n;
    g_object_unref(mem);
    return KEEP_OK;
}

static int is_type(GMimeObject *o, const char *type, const char *subtype)
{
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    return ct && g_mime_content_type_is_type(ct, type, subtype);
}

static int is_message_type(GMimeObject *o)
{
    return is_type(o, "message", "rfc822") || is_type(o, "message", "rfc2822") ||
           is_type(o, "message", "global") || is_type(o, "message", "news");
}

/* A file name safe to show and to take an extension from: last path
 * component, valid UTF-8, no control characters, bounded. Caller frees. */
static char *clean_name(const char *name, const char *fallback, unsigned n)
{
    if (name) {
        const char *slash = strrchr(name, '/'), *bslash = strrchr(name, '\\');
        if (slash && (!bslash || slash > bslash))
            name = slash + 1;
        else if (bslash)
            name = bslash + 1;
    }
    if (name && *name)
        return clean_value(name, MAX_NAME);
    char buf[64];
    snprintf(buf, sizeof buf, "%s-%u%s", fallback, n, strcmp(fallback, "message") ? "" : ".eml");
    return keep_strdup(buf);
}

static int add_attachment(mail_ctx *c, GMimePart *part, const char *fallback)
{
    c->n_attach_seen++;
    if (c->doc->n_attachments >= c->max_attach) {
        c->attach_dropped++;
        return KEEP_OK;
    }
    char *bytes = NULL, *name = NULL, *mime = NULL;
    size_t len = 0;
    int rc = part_bytes(part, &bytes, &len);
    if (rc == KEEP_ERR_CORRUPT) {
        c->attach_dropped++; /* undecodable: skip it, keep the mail */
        return KEEP_OK;
    }
    if (rc)
        return keep_err_set(c->err, rc, "out of memory decoding an attachment");
    name = clean_name(g_mime_part_get_filename(part), fallback, c->n_attach_seen);
    GMimeContentType *ct = g_mime_object_get_content_type((GMimeObject *)part);
    char *gm = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
    mime = clean_value(gm ? gm : "application/octet-stream", MAX_NAME);
    g_free(gm);
    if (!name || !mime)
        rc = keep_err_set(c->err, KEEP_ERR_NOMEM, "out of memory adding an attachment");
    else if ((rc = ingest_doc_attach(c->doc, name, mime, bytes, len)))
        rc = keep_err_set(c->err, rc, "out of memory adding an attachment");
    keep_free(bytes);
    keep_free(name);
    keep_free(mime);
    return rc;
}

/* Appends a text/plain or text/html part as body text. A part whose bytes
 * cannot be made into text (binary in a text/plain label) is skipped. */
static int add_text_body(mail_ctx *c, GMimePart *part, int html)
{
    char *bytes = NULL, *text = NULL;
    size_t len = 0, tlen = 0;
    int rc = part_bytes(part, &bytes, &len);
    if (rc == KEEP_ERR_CORRUPT)
        return KEEP_OK;
    if (rc)
        return keep_err_set(c->err, rc, "out of memory decoding a mail body");
    const char *cs = g_mime_object_get_content_type_parameter((GMimeObject *)part, "charset");
    keep_err e2;
    rc = ingest_charset_to_utf8(bytes, len, cs, 0, &text, &tlen, &e2);
    keep_free(bytes);
    if (rc == KEEP_ERR_ENCODING)
        return KEEP_OK;
    if (rc) {
        if (c->err)
            *c->err = e2;
        return rc;
    }
    if (html) {
        /* the text is UTF-8 now: a leading declaration makes an HTML parser
         * ignore the (stale) charset of the part's own <meta> */
        static const char meta[] = "<meta charset=\"utf-8\">";
        keep_buf b = {0};
        if (keep_buf_append(&b, meta, sizeof meta - 1) || keep_buf_append(&b, text, tlen)) {
            keep_buf_free(&b);
            keep_free(text);
            return keep_err_set(c->err, KEEP_ERR_NOMEM, "out of memory reading an HTML body");
        }
        rc = html_to_doc(c, b.data, b.len);
        keep_buf_free(&b);
        /* unreadable HTML loses that body only, not the mail */
        if (rc == KEEP_ERR_PARSE)
            rc = KEEP_OK;
    } else if ((rc = append_plain(c->doc, text, tlen, c->mbox))) {
        rc = doc_fail(c, rc);
    }
    keep_free(text);
    return rc;
}

static int is_signature(GMimeObject *o)
{
    return is_type(o, "application", "pgp-signature") ||
           is_type(o, "application", "pkcs7-signature") ||
           is_type(o, "application", "x-pkcs7-signature") ||
           is_type(o, "application", "pgp-encrypted") ||
           is_type(o, "application", "pgp-keys");
}

/* Smallest header offset of o (-1 when it has none). */
static gint64 first_header_offset(GMimeObject *o, gint64 best)
{
    GMimeHeaderList *hl = o ? g_mime_object_get_header_list(o) : NULL;
    int n = hl ? g_mime_header_list_get_count(hl) : 0;
    for (int i = 0; i < n; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        gint64 off = h ? g_mime_header_get_offset(h) : -1;
        if (off >= 0 && (best < 0 || off < best))
            best = off;
    }
    return best;
}

/* An embedded message as the bytes it had in the input: from its first
 * header to the line of the enclosing boundary (or the end of the message
 * holding it), so the caller parses exactly what was sent. */
static int add_embedded(mail_ctx *c, GMimeMessagePart *part, const char *boundary)
{
    GMimeMessage *m = g_mime_message_part_get_message(part);
    if (!m)
        return KEEP_OK;
    /* counted before the scan below, which is then done at most
     * max_attachments times per input */
    c->n_attach_seen++;
    if (c->doc->n_attachments >= c->max_attach) {
        c->attach_dropped++;
        return KEEP_OK;
    }
    gint64 first = first_header_offset((GMimeObject *)m, -1);
    first = first_header_offset(g_mime_message_get_mime_part(m), first);
    size_t end = c->msg_end <= c->len ? c->msg_end : c->len;
    if (first < 0 || (guint64)first >= end)
        return KEEP_OK;
    size_t start = (size_t)first;
    if (boundary && *boundary) {
        size_t bl = strlen(boundary);
        const char *p = c->data + start, *stop = c->data + end;
        while (p < stop) {
            const char *nl = memchr(p, '\n', (size_t)(stop - p));
            if (!nl)
                break;
            size_t rest = (size_t)(stop - nl - 1);
            if (rest >= bl + 2 && nl[1] == '-' && nl[2] == '-' && !memcmp(nl + 3, boundary, bl)) {
                end = (size_t)(nl - c->data);
                break;
            }
            p = nl + 1;
        }
    }
    while (end > start && (c->data[end - 1] == '\r' || c->data[end - 1] == '\n'))
        end--;
    GMimeObject *po = (GMimeObject *)part;
    const char *fn = g_mime_object_get_content_disposition_parameter(po, "filename");
    if (!fn)
        fn = g_mime_object_get_content_type_parameter(po, "name");
    char *name = clean_name(fn, "message", c->n_attach_seen);
    int rc = name ? ingest_doc_attach(c->doc, name, "message/rfc822", c->data + start, end - start)
                  : KEEP_ERR_NOMEM;
    keep_free(name);
    return rc ? keep_err_set(c->err, rc, "out of memory adding an attachment") : KEEP_OK;
}

static int walk(mail_ctx *c, GMimeObject *o, unsigned depth, int in_related,
                const char *boundary);

/* The one alternative to render: plain text, else HTML, else the first
 * nested multipart (multipart/related holding the HTML and its images). */
static GMimeObject *pick_alternative(GMimeMultipart *mp)
{
    int n = g_mime_multipart_get_count(mp);
    GMimeObject *html = NULL, *nested = NULL;
    for (int i = 0; i < n; i++) {
        GMimeObject *o = g_mime_multipart_get_part(mp, i);
        if (!o)
            continue;
        if (GMIME_IS_PART(o) && !g_mime_part_is_attachment((GMimePart *)o)) {
            if (is_type(o, "text", "plain"))
                return o;
            if (is_type(o, "text", "html") && !html)
                html = o;
        } else if (GMIME_IS_MULTIPART(o) && !nested) {
            nested = o;
        }
    }
    return html ? html : nested;
}

static int walk_leaf(mail_ctx *c, GMimePart *part, int in_related)
{
    GMimeObject *o = (GMimeObject *)part;
    if (is_message_type(o))
        return add_attachment(c, part, "message");
    if (is_signature(o))
        return KEEP_OK;
    const char *filename = g_mime_part_get_filename(part);
    const char *disp = g_mime_object_get_disposition(o);
    int attachment = disp && !strcasecmp(disp, "attachment");
    int inline_disp = disp && !strcasecmp(disp, "inline");
    if (is_type(o, "text", "*") && !attachment && (!filename || inline_disp))
        return add_text_body(c, part, is_type(o, "text", "html"));
    if (filename || attachment) {
        /* images a HTML body embeds by Content-ID are decoration */
        if (in_related && !attachment && g_mime_object_get_content_id(o))
            return KEEP_OK;
        return add_attachment(c, part, "attachment");
    }
    return KEEP_OK;
}

static int walk(mail_ctx *c, GMimeObject *o, unsigned depth, int in_related,
                const char *boundary)
{
    if (!o)
        return KEEP_OK;
    if (depth > c->max_depth)
        return keep_err_set(c->err, KEEP_ERR_TOOBIG, "MIME parts nested deeper than %u levels",
                            c->max_depth);
    if (GMIME_IS_MULTIPART_ENCRYPTED(o))
        return KEEP_OK; /* nothing readable without the key */
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = (GMimeMultipart *)o;
        const char *own = g_mime_object_get_content_type_parameter(o, "boundary");
        if (!own || !*own)
            own = boundary;
        if (is_type(o, "multipart", "alternative"))
            return walk(c, pick_alternative(mp), depth + 1, in_related, own);
        int related = is_type(o, "multipart", "related");
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++) {
            int rc = walk(c, g_mime_multipart_get_part(mp, i), depth + 1, related, own);
            if (rc)
                return rc;
        }
        return KEEP_OK;
    }
    if (GMIME_IS_PART(o))
        return walk_leaf(c, (GMimePart *)o, in_related);
    if (GMIME_IS_MESSAGE_PART(o))
        return add_embedded(c, (GMimeMessagePart *)o, boundary);
    return KEEP_OK;
}

/* ---- headers ------------------------------------------------------------------ */

typedef struct {
    char *from, *from_short, *to, *cc, *date, *date_short, *subject;
} mail_headers;

static void headers_free(mail_headers *h)
{
    keep_free(h->from);
    keep_free(h->from_short);
    keep_free(h->to);
    keep_free(h->cc);
    keep_free(h->date);
    keep_free(h->date_short);
    keep_free(h->subject);
    memset(h, 0, sizeof *h);
}

static char *address_list(InternetAddressList *l)
{
    if (!l || internet_address_list_length(l) == 0)
        return NULL;
    char *s = internet_address_list_to_string(l, NULL, FALSE);
    char *r = s && *s ? clean_value(s, MAX_HEADER_VALUE) : NULL;
    g_free(s);
    return r;
}

/* The sender's display name, else the address: for section headings. */
static char *address_short(InternetAddressList *l)
{
    if (!l || internet_address_list_length(l) == 0)
        return NULL;
    InternetAddress *a = internet_address_list_get_address(l, 0);
    const char *name = a ? internet_address_get_name(a) : NULL;
    if ((!name || !*name) && a && INTERNET_ADDRESS_IS_MAILBOX(a))
        name = internet_address_mailbox_get_addr((InternetAddressMailbox *)a);
    return name && *name ? clean_value(name, MAX_NAME) : NULL;
}

/* Fills h; fields missing from the mail (or lost to OOM) stay NULL. */
static void read_headers(GMimeMessage *m, mail_headers *h)
{
    memset(h, 0, sizeof *h);
    h->from = address_list(g_mime_message_get_from(m));
    h->from_short = address_short(g_mime_message_get_from(m));
    h->to = address_list(g_mime_message_get_to(m));
    h->cc = address_list(g_mime_message_get_cc(m));
    const char *subj = g_mime_message_get_subject(m);
    h->subject = subj && *subj ? clean_value(subj, MAX_HEADER_VALUE) : NULL;
    GDateTime *dt = g_mime_message_get_date(m);
    if (dt) {
        gchar *iso = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S%:z");
        gchar *sh = g_date_time_format(dt, "%Y-%m-%d %H:%M");
        h->date = iso ? keep_strdup(iso) : NULL;
        h->date_short = sh ? keep_strdup(sh) : NULL;
        g_free(iso);
        g_free(sh);
    } else {
        const char *raw = g_mime_object_get_header((GMimeObject *)m, "Date");
        h->date = raw && *raw ? clean_value(raw, MAX_NAME) : NULL;
        h->date_short = raw && *raw ? clean_value(raw, MAX_NAME) : NULL;
    }
}

static int header_line(ingest_doc *doc, const char *label, const char *value)
{
    if (!value || !*value)
        return KEEP_OK;
    int rc = ingest_doc_puts(doc, label);
    if (!rc)
        rc = ingest_doc_puts(doc, value);
    if (!rc)
        rc = ingest_doc_line(doc);
    return rc;
}

static int header_block(ingest_doc *doc, const mail_headers *h, int with_subject)
{
    int rc = header_line(doc, "From: ", h->from);
    if (!rc)
        rc = header_line(doc, "To: ", h->to);
    if (!rc)
        rc = header_line(doc, "Cc: ", h->cc);
    if (!rc)
        rc = header_line(doc, "Date: ", h->date);
    if (!rc && with_subject)
        rc = header_line(doc, "Subject: ", h->subject);
    if (!rc)
        rc = ingest_doc_para(doc);
    return rc;
}

/* ---- entry points --------------------------------------------------------------- */

static void ctx_init(mail_ctx *c, const char *data, size_t len, const ingest_limits *lim,
                     ingest_doc *doc, keep_err *err)
{
    memset(c, 0, sizeof *c);
    c->data = data;
    c->len = len;
    c->msg_end = len;
    c->lim = lim;
    c->doc = doc;
    c->err = err;
    c->max_depth = lim && lim->max_depth ? lim->max_depth : 256;
    c->max_attach = lim ? lim->max_attachments : 64;
}

static GMimeParser *open_parser(const char *data, size_t len, GMimeFormat format)
{
    pthread_once(&gmime_once, gmime_setup);
    GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, len);
    if (!s)
        return NULL;
    GMimeParser *p = g_mime_parser_new_with_stream(s);
    g_object_unref(s);
    if (p)
        g_mime_parser_set_format(p, format);
    return p;
}

static int finish(mail_ctx *c)
{
    int rc = KEEP_OK;
    if (c->attach_dropped) {
        char n[32];
        snprintf(n, sizeof n, "%u", c->attach_dropped);
        rc = ingest_doc_meta(c->doc, "attachments_dropped", n);
    }
    if (!rc)
        rc = ingest_doc_finish(c->doc);
    return rc ? doc_fail(c, rc) : KEEP_OK;
}

static int add_meta(ingest_doc *doc, const mail_headers *h)
{
    int rc = KEEP_OK;
    if (!rc && h->from)
        rc = ingest_doc_meta(doc, "from", h->from);
    if (!rc && h->to)
        rc = ingest_doc_meta(doc, "to", h->to);
    if (!rc && h->cc)
        rc = ingest_doc_meta(doc, "cc", h->cc);
    if (!rc && h->date)
        rc = ingest_doc_meta(doc, "date", h->date);
    if (!rc && h->subject)
        rc = ingest_doc_meta(doc, "subject", h->subject);
    return rc;
}

int ingest_parse_email(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                       keep_err *err)
{
    if (lim && lim->max_file_bytes && len > lim->max_file_bytes)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "mail of %zu bytes exceeds the limit", len);
    mail_ctx c;
    ctx_init(&c, data, len, lim, doc, err);
    mail_headers h = {0};
    GMimeParserOptions *opts = NULL;
    GMimeMessage *m = NULL;
    int rc = KEEP_OK;
    GMimeParser *p = open_parser(data, len, GMIME_FORMAT_MESSAGE);
    opts = g_mime_parser_options_new();
    if (!p || !opts) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory starting the mail parser");
        goto done;
    }
    g_mime_parser_options_set_warning_callback(opts, on_warning, &c);
    m = g_mime_parser_construct_message(p, opts);
    if (!m) {
        rc = keep_err_set(err, KEEP_ERR_PARSE, "not a mail message");
        goto done;
    }
    if (c.nesting_overflow) {
        rc = keep_err_set(err, KEEP_ERR_TOOBIG, "MIME parts nested too deeply");
        goto done;
    }
    read_headers(m, &h);
    if (!h.from && !h.to && !h.subject && !h.date && !g_mime_message_get_message_id(m)) {
        rc = keep_err_set(err, KEEP_ERR_PARSE, "no mail headers (From, To, Subject, Date)");
        goto done;
    }
    if ((h.subject && (rc = ingest_doc_title(doc, h.subject, strlen(h.subject), 0))) ||
        (rc = add_meta(doc, &h)) || (rc = header_block(doc, &h, 1))) {
        rc = doc_fail(&c, rc);
        goto done;
    }
    if ((rc = walk(&c, g_mime_message_get_mime_part(m), 0, 0, NULL)))
        goto done;
    rc = finish(&c);
done:
    headers_free(&h);
    if (m)
        g_object_unref(m);
    if (p)
        g_object_unref(p);
    if (opts)
        g_mime_parser_options_free(opts);
    return rc;
}

/* "Subject — From, Date" with whichever parts the message has. */
static int section_heading(ingest_doc *doc, const mail_headers *h)
{
    keep_buf b = {0};
    int rc = keep_buf_puts(&b, h->subject ? h->subject : "(no subject)");
    if (!rc && (h->from_short || h->date_short))
        rc = keep_buf_puts(&b, " \xE2\x80\x94 ");
    if (!rc && h->from_short)
        rc = keep_buf_puts(&b, h->from_short);
    if (!rc && h->from_short && h->date_short)
        rc = keep_buf_puts(&b, ", ");
    if (!rc && h->date_short)
        rc = keep_buf_puts(&b, h->date_short);
    if (!rc)
        rc = ingest_doc_heading(doc, 1, b.data, b.len);
    keep_buf_free(&b);
    return rc;
}

int ingest_parse_mbox(const char *data, size_t len, const ingest_limits *lim, ingest_doc *doc,
                      keep_err *err)
{
    if (lim && lim->max_file_bytes && len > lim->max_file_bytes)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "mbox of %zu bytes exceeds the limit", len);
    if (len < 5 || memcmp(data, "From ", 5) != 0)
        return keep_err_set(err, KEEP_ERR_PARSE, "not an mbox (no \"From \" line at the start)");
    mail_ctx c;
    ctx_init(&c, data, len, lim, doc, err);
    c.mbox = 1;
    GMimeParserOptions *opts = g_mime_parser_options_new();
    GMimeParser *p = open_parser(data, len, GMIME_FORMAT_MBOX);
    int rc = KEEP_OK;
    unsigned count = 0;
    if (!p || !opts) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory starting the mail parser");
        goto done;
    }
    g_mime_parser_options_set_warning_callback(opts, on_warning, &c);
    gint64 last = -1;
    while (!g_mime_parser_eos(p)) {
        GMimeMessage *m = g_mime_parser_construct_message(p, opts);
        if (!m)
            break;
        gint64 pos = g_mime_parser_tell(p);
        c.msg_end = pos > 0 && (guint64)pos < len ? (size_t)pos : len;
        if (c.nesting_overflow) {
            g_object_unref(m);
            rc = keep_err_set(err, KEEP_ERR_TOOBIG, "MIME parts nested too deeply in message %u",
                              count + 1);
            goto done;
        }
        mail_headers h;
        read_headers(m, &h);
        count++;
        rc = section_heading(doc, &h);
        if (!rc)
            rc = header_block(doc, &h, 0);
        if (rc)
            rc = doc_fail(&c, rc);
        else
            rc = walk(&c, g_mime_message_get_mime_part(m), 0, 0, NULL);
        headers_free(&h);
        g_object_unref(m);
        if (rc)
            goto done;
        if (pos <= last)
            break; /* no progress: never loop on a confused parser */
        last = pos;
    }
    if (count == 0) {
        rc = keep_err_set(err, KEEP_ERR_PARSE, "no message in mbox");
        goto done;
    }
    {
        char n[32];
        snprintf(n, sizeof n, "%u", count);
        if ((rc = ingest_doc_meta(doc, "messages", n))) {
            rc = doc_fail(&c, rc);
            goto done;
        }
    }
    rc = finish(&c);
done:
    if (p)
        g_object_unref(p);
    if (opts)
        g_mime_parser_options_free(opts);
    return rc;
}
