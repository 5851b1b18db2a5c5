/* test_mailtext.c — text encodings, CSV/TSV, e-mail/mbox and format detection
 * on the inputs of tests/data/mailtext/ (made by make_data.py there) and on
 * hostile inputs generated here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ingest/detect.h"
#include "ingest/doc.h"
#include "ingest/encoding.h"
#include "ingest/parse_csv.h"
#include "ingest/parse_mail.h"
#include "tap.h"

static const char *GERMAN =
    "Die Größe der Dateien beträgt 5 Mbyte. Äpfel, Öl und Übermaß kosten zusammen 12 € – das "
    "ist günstig. Straße, Fußgänger und Maßband.\n";

/* Whole file of tests/data/mailtext/name; caller frees with keep_free. */
static char *load(const char *name, size_t *len)
{
    char path[4096];
    const char *src = getenv("KEEP_SRCDIR");
    snprintf(path, sizeof path, "%s/tests/data/mailtext/%s", src ? src : ".", name);
    char *data = NULL;
    keep_err e;
    if (keep_read_file(path, (size_t)16 << 20, &data, len, &e) != KEEP_OK) {
        printf("# cannot read %s: %s\n", path, e.msg);
        *len = 0;
        return NULL;
    }
    return data;
}

static int contains(const char *hay, const char *needle)
{
    int ok = hay && strstr(hay, needle) != NULL;
    if (!ok)
        printf("#   missing \"%s\"\n", needle);
    return ok;
}

static const char *meta(const ingest_doc *d, const char *key)
{
    for (size_t i = 0; i < d->n_meta; i++)
        if (!strcmp(d->meta[i].key, key))
            return d->meta[i].value;
    return NULL;
}

/* Parses a data file with fn into doc (initialised here); returns the code. */
static int parse_file(ingest_parse_fn fn, const char *name, ingest_doc *doc, keep_err *e)
{
    ingest_limits lim;
    ingest_limits_default(&lim);
    ingest_doc_init(doc, &lim);
    size_t len;
    char *data = load(name, &len);
    int rc = data ? fn(data, len, &lim, doc, e) : KEEP_ERR_IO;
    keep_free(data);
    return rc;
}

/* ---- encodings ------------------------------------------------------------------ */

static void check_to_utf8(const char *file, const char *charset)
{
    size_t len, olen;
    char *data = load(file, &len), *out = NULL, cs[32] = "";
    keep_err e;
    int rc = ingest_to_utf8(data, len, 0, &out, &olen, cs, sizeof cs, &e);
    char what[128];
    snprintf(what, sizeof what, "%s converts", file);
    ASSERT_EQ_INT(rc, KEEP_OK, what);
    snprintf(what, sizeof what, "%s text exact", file);
    ASSERT_EQ_STR(out, GERMAN, what);
    snprintf(what, sizeof what, "%s detected as %s", file, charset);
    ASSERT_EQ_STR(cs, charset, what);
    keep_free(out);
    keep_free(data);
}

static void test_encoding(void)
{
    check_to_utf8("utf16le_bom.txt", "UTF-16LE");
    check_to_utf8("utf16be_bom.txt", "UTF-16BE");
    check_to_utf8("utf32le_bom.txt", "UTF-32LE");
    check_to_utf8("utf32be_bom.txt", "UTF-32BE");
    check_to_utf8("utf16le_nobom.txt", "UTF-16LE");

    size_t len, olen;
    char *data, *out = NULL, cs[32];
    keep_err e;

    data = load("cp1252_de.txt", &len);
    ASSERT_EQ_INT(ingest_to_utf8(data, len, 0, &out, &olen, cs, sizeof cs, &e), KEEP_OK,
                  "windows-1252 converts");
    printf("# cp1252_de.txt detected as %s\n", cs);
    OK(contains(out, "Die Größe der Dateien beträgt"), "windows-1252: Größe");
    OK(contains(out, "„Anführungszeichen“"), "windows-1252: typographic quotes");
    OK(contains(out, "12 € – das"), "windows-1252: euro and dash");
    OK(keep_utf8_valid(out, olen), "windows-1252 output is UTF-8");
    keep_free(out);
    keep_free(data);

    data = load("iso885915_de.txt", &len);
    ASSERT_EQ_INT(ingest_to_utf8(data, len, 0, &out, &olen, cs, sizeof cs, &e), KEEP_OK,
                  "iso-8859-15 converts");
    printf("# iso885915_de.txt detected as %s\n", cs);
    OK(contains(out, "Die Größe ist wichtig, sagte der Bürgermeister"), "iso-8859-15: Größe");
    OK(contains(out, "Schöne Grüße aus Düsseldorf"), "iso-8859-15: Grüße");
    keep_free(out);
    keep_free(data);

    data = load("sjis_ja.txt", &len);
    ASSERT_EQ_INT(ingest_to_utf8(data, len, 0, &out, &olen, cs, sizeof cs, &e), KEEP_OK,
                  "Shift_JIS converts");
    ASSERT_EQ_STR(cs, "SHIFT_JIS", "Shift_JIS detected by uchardet");
    OK(contains(out, "日本語のテキストです。これはシフトJISで書かれた文書の例です。"),
       "Shift_JIS text exact");
    keep_free(out);
    keep_free(data);

    /* binary: NUL bytes in 8-bit data, and a real executable */
    char bin[2048];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (char)((i * 7919u) % 251u);
    int rc = ingest_to_utf8(bin, sizeof bin, 0, &out, &olen, NULL, 0, &e);
    ASSERT_EQ_INT(rc, KEEP_ERR_ENCODING, "binary bytes rejected");
    ASSERT_EQ_STR(e.msg, "binary data, not text", "binary message");
    char *elf = NULL;
    size_t elf_len = 0;
    if (keep_read_file("/bin/true", (size_t)16 << 20, &elf, &elf_len, &e) == KEEP_OK) {
        ASSERT_EQ_INT(ingest_to_utf8(elf, elf_len, 0, &out, &olen, NULL, 0, &e),
                      KEEP_ERR_ENCODING, "ELF executable rejected as text");
    }

    /* invalid UTF-8 in otherwise ASCII text: detected as 8-bit, never fails */
    const char *bad = "caf\xe9 and cr\xe8me br\xfbl\xe9\x65 for everyone, the menu says.";
    ASSERT_EQ_INT(ingest_to_utf8(bad, strlen(bad), 0, &out, &olen, NULL, 0, &e), KEEP_OK,
                  "latin-1 text converts");
    OK(contains(out, "café and crème brûlée"), "latin-1 accents");
    keep_free(out);

    /* a lone surrogate in UTF-16 becomes U+FFFD */
    const char u16[] = "\xff\xfe" "a\0" "\x00\xd8" "b\0";
    ASSERT_EQ_INT(ingest_to_utf8(u16, sizeof u16 - 1, 0, &out, &olen, NULL, 0, &e), KEEP_OK,
                  "UTF-16 with lone surrogate converts");
    ASSERT_EQ_STR(out, "a\xEF\xBF\xBD" "b", "lone surrogate replaced");
    keep_free(out);

    /* output cap */
    char big[1000];
    memset(big, 'x', sizeof big);
    ASSERT_EQ_INT(ingest_to_utf8(big, sizeof big, 100, &out, &olen, NULL, 0, &e), KEEP_ERR_TOOBIG,
                  "max_out honoured on UTF-8");
    memcpy(big, "\xff\xfe", 2);
    ASSERT_EQ_INT(ingest_to_utf8(big, sizeof big, 100, &out, &olen, NULL, 0, &e), KEEP_ERR_TOOBIG,
                  "max_out honoured on conversion");

    /* declared charsets (MIME) */
    ASSERT_EQ_INT(ingest_charset_to_utf8("Gr\xf6\xdf\x65", 5, "iso-8859-1", 0, &out, &olen, &e),
                  KEEP_OK, "declared latin-1");
    ASSERT_EQ_STR(out, "Größe", "declared latin-1 text");
    keep_free(out);
    ASSERT_EQ_INT(ingest_charset_to_utf8("Gr\xf6\xdf\x65 und Ma\xdf\x65 im Garten", 24,
                                         "x-unknown-charset", 0, &out, &olen, &e),
                  KEEP_OK, "unknown charset falls back to detection");
    OK(contains(out, "Größe und Maße"), "fallback detection text");
    keep_free(out);
    ASSERT_EQ_INT(ingest_to_utf8("", 0, 0, &out, &olen, NULL, 0, &e), KEEP_OK, "empty input");
    ASSERT_EQ_INT(olen, 0, "empty output");
    keep_free(out);
    keep_free(elf);
}

/* ---- tables -------------------------------------------------------------------- */

static void test_csv(void)
{
    ingest_doc d;
    keep_err e;
    ASSERT_EQ_INT(parse_file(ingest_parse_csv, "semicolon.csv", &d, &e), KEEP_OK, "csv ; parses");
    ingest_doc_finish(&d);
    ASSERT_EQ_STR(d.text.data,
                  "Name: Anna Schmidt; Stadt: Berlin; Notiz: Erste Zeile zweite Zeile; Betrag: "
                  "12,50\n"
                  "Name: Müller; Hans; Stadt: Köln; Notiz: Er sagte \"Hallo\"; Betrag: 7,00\n"
                  "Name: Petra; Betrag: 3",
                  "csv ; rows rendered with header, quotes and multi-line field");
    OK(d.title == NULL, "csv has no title");
    ingest_doc_free(&d);

    ASSERT_EQ_INT(parse_file(ingest_parse_tsv, "excel.tsv", &d, &e), KEEP_OK, "tsv parses");
    ingest_doc_finish(&d);
    ASSERT_EQ_STR(d.text.data,
                  "Product: Widget; Price: 9.99; Stock: 120\nProduct: Gadget; Price: 19.50",
                  "UTF-16 TSV rendered");
    ingest_doc_free(&d);
    ASSERT_EQ_INT(parse_file(ingest_parse_csv, "excel.tsv", &d, &e), KEEP_OK,
                  "tsv through the csv sniffer");
    ingest_doc_finish(&d);
    OK(contains(d.text.data, "Product: Widget; Price: 9.99; Stock: 120"), "tab sniffed");
    ingest_doc_free(&d);

    ASSERT_EQ_INT(parse_file(ingest_parse_csv, "noheader.csv", &d, &e), KEEP_OK,
                  "header-less csv parses");
    ingest_doc_finish(&d);
    ASSERT_EQ_STR(d.text.data,
                  "Column 1: 1; Column 2: Alice; Column 3: 42.5\n"
                  "Column 1: 2; Column 2: Bob; Column 3: 17\n"
                  "Column 1: 3; Column 2: Carol, Jr.; Column 3: 99",
                  "header-less csv uses Column N");
    ingest_doc_free(&d);

    /* many rows: paragraphs near 1200 bytes, rows never split */
    ingest_limits lim;
    ingest_limits_default(&lim);
    keep_buf b = {0};
    keep_buf_puts(&b, "id,city,comment\n");
    for (int i = 0; i < 300; i++)
        keep_buf_printf(&b, "%d,City %d,\"comment number %d, with a comma\"\n", i, i, i);
    ingest_doc_init(&d, &lim);
    ASSERT_EQ_INT(ingest_parse_csv(b.data, b.len, &lim, &d, &e), KEEP_OK, "300-row csv parses");
    ingest_doc_finish(&d);
    size_t paras = 0, longest = 0, rows = 0;
    int rows_whole = 1;
    const char *p = d.text.data;
    while (p && *p) {
        const char *end = strstr(p, "\n\n");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        paras++;
        if (n > longest)
            longest = n;
        for (const char *l = p; l < p + n;) {
            const char *nl = memchr(l, '\n', (size_t)(p + n - l));
            size_t ll = nl ? (size_t)(nl - l) : (size_t)(p + n - l);
            rows++;
            if (strncmp(l, "id: ", 4) != 0 || !memmem(l, ll, "with a comma", 12))
                rows_whole = 0;
            l += ll + 1;
        }
        p = end ? end + 2 : p + n;
    }
    ASSERT_EQ_INT(rows, 300, "every row rendered once");
    OK(rows_whole, "no row split across lines or paragraphs");
    OK(paras >= 10 && longest <= INGEST_CSV_PARA_BYTES, "rows grouped in ~1200-byte paragraphs");
    printf("# %zu paragraphs, longest %zu bytes\n", paras, longest);
    ingest_doc_free(&d);

    /* a quote that never closes is literal text, later rows survive */
    const char *stray = "a,b\n\"x,y\nc,d\n";
    ingest_doc_init(&d, &lim);
    ASSERT_EQ_INT(ingest_parse_csv(stray, strlen(stray), &lim, &d, &e), KEEP_OK,
                  "unterminated quote parses");
    ingest_doc_finish(&d);
    ASSERT_EQ_STR(d.text.data, "a: \"x; b: y\na: c; b: d", "unterminated quote taken literally");
    ingest_doc_free(&d);

    /* a huge field is cut at the cap */
    keep_buf_reset(&b);
    keep_buf_puts(&b, "k,v\n1,");
    for (int i = 0; i < 100000; i++)
        keep_buf_putc(&b, 'z');
    keep_buf_puts(&b, "\n");
    ingest_doc_init(&d, &lim);
    ASSERT_EQ_INT(ingest_parse_csv(b.data, b.len, &lim, &d, &e), KEEP_OK, "huge field parses");
    ingest_doc_finish(&d);
    ASSERT_EQ_INT(d.text.len, strlen("k: 1; v: ") + INGEST_CSV_MAX_FIELD, "field capped");
    ingest_doc_free(&d);

    /* Excel's "CSV UTF-8": a BOM before the first header */
    const char *bom = "\xEF\xBB\xBFName,Ort\nJ\xC3\xBCrgen,K\xC3\xB6ln\n";
    ingest_doc_init(&d, &lim);
    ASSERT_EQ_INT(ingest_parse_csv(bom, strlen(bom), &lim, &d, &e), KEEP_OK, "BOM csv parses");
    ingest_doc_finish(&d);
    ASSERT_EQ_STR(d.text.data, "Name: Jürgen; Ort: Köln", "BOM stripped from first header");
    ingest_doc_free(&d);

    /* binary is not a table */
    char bin[512] = {0};
    ingest_doc_init(&d, &lim);
    ASSERT_EQ_INT(ingest_parse_csv(bin, sizeof bin, &lim, &d, &e), KEEP_ERR_ENCODING,
                  "binary csv rejected");
    ingest_doc_free(&d);
    keep_buf_free(&b);
}

/* ---- mail ---------------------------------------------------------------------- */

static void test_email(void)
{
    ingest_doc d;
    keep_err e;
    size_t pdf_len;
    char *pdf = load("tiny.pdf", &pdf_len);

    ASSERT_EQ_INT(parse_file(ingest_parse_email, "alternative.eml", &d, &e), KEEP_OK,
                  "alternative.eml parses");
    ASSERT_EQ_STR(d.title, "Größe der Dateien", "subject decoded as title");
    ASSERT_EQ_STR(meta(&d, "subject"), "Größe der Dateien", "meta subject");
    ASSERT_EQ_STR(meta(&d, "from"), "Jürgen Müller <juergen@example.org>", "meta from");
    ASSERT_EQ_STR(meta(&d, "to"), "Alice <alice@example.com>, bob@example.com", "meta to");
    ASSERT_EQ_STR(meta(&d, "cc"), "Carol <carol@example.net>", "meta cc");
    ASSERT_EQ_STR(meta(&d, "date"), "2024-03-05T14:22:10+01:00", "meta date ISO 8601");
    static const char block[] =
        "From: Jürgen Müller <juergen@example.org>\nTo: Alice <alice@example.com>, "
        "bob@example.com\nCc: Carol <carol@example.net>\nDate: 2024-03-05T14:22:10+01:00\n"
        "Subject: Größe der Dateien\n\n";
    OK(d.text.data && !strncmp(d.text.data, block, sizeof block - 1),
       "header block starts the text");
    OK(contains(d.text.data, "Hallo Alice,\n\ndie Dateien sind 5 MB groß. Der Bericht liegt im "
                             "Anhang.\n\nGrüße, Jürgen"),
       "plain body with paragraphs");
    OK(!strstr(d.text.data, "HTML VERSION ONLY"), "text/plain chosen over text/html");
    ASSERT_EQ_INT(d.n_attachments, 2, "two attachments");
    if (d.n_attachments == 2) {
        ASSERT_EQ_STR(d.attachments[0].name, "bericht.pdf", "pdf attachment name");
        ASSERT_EQ_STR(d.attachments[0].mime, "application/pdf", "pdf attachment type");
        OK(pdf && d.attachments[0].len == pdf_len &&
               !memcmp(d.attachments[0].data, pdf, pdf_len),
           "base64 pdf attachment bytes equal the file");
        ASSERT_EQ_STR(d.attachments[1].name, "notes.txt", "text attachment name");
        OK(contains(d.attachments[1].data, "Attached notes, line one."), "text attachment bytes");
    }
    ingest_doc_free(&d);

    ASSERT_EQ_INT(parse_file(ingest_parse_email, "qp_latin1.eml", &d, &e), KEEP_OK,
                  "qp latin-1 parses");
    OK(contains(d.text.data, "Die Größe des Raums beträgt 25 m², das ist ein sehr langer Satz, "
                             "der über zwei Zeilen geht.\n\nZweiter Absatz mit Ärger."),
       "quoted-printable latin-1 body decoded");
    ASSERT_EQ_STR(d.title, "Messung", "qp title");
    ingest_doc_free(&d);

    ASSERT_EQ_INT(parse_file(ingest_parse_email, "html_only.eml", &d, &e), KEEP_OK,
                  "html-only mail parses");
    OK(contains(d.text.data, "Neuigkeiten"), "html heading text");
    OK(contains(d.text.data, "Die Größe zählt & nichts sonst."), "html body text, charset right");
    OK(contains(d.text.data, "Zweiter\nAbsatz") || contains(d.text.data, "Zweiter Absatz"),
       "html br");
    OK(!strstr(d.text.data, "do not index") && !strstr(d.text.data, "color: red") &&
           !strstr(d.text.data, "<p>"),
       "script, style and tags dropped");
    ingest_doc_free(&d);

    ASSERT_EQ_INT(parse_file(ingest_parse_email, "forward.eml", &d, &e), KEEP_OK,
                  "forwarded mail parses");
    OK(contains(d.text.data, "See the forwarded message."), "forward body");
    OK(!strstr(d.text.data, "Inner body text."), "embedded message not inlined");
    ASSERT_EQ_INT(d.n_attachments, 1, "embedded message is an attachment");
    if (d.n_attachments == 1) {
        ASSERT_EQ_STR(d.attachments[0].mime, "message/rfc822", "embedded message type");
        OK(contains(d.attachments[0].data, "Subject: original") &&
               contains(d.attachments[0].data, "Inner body text."),
           "embedded message bytes kept whole");
        /* the child parses as a mail of its own */
        ingest_doc c;
        ingest_doc_init(&c, NULL);
        ASSERT_EQ_INT(ingest_parse_email(d.attachments[0].data, d.attachments[0].len, NULL, &c,
                                         &e),
                      KEEP_OK, "embedded message parses as a child");
        ASSERT_EQ_STR(c.title, "original", "child title");
        ingest_doc_free(&c);
    }
    ingest_doc_free(&d);

    int rc = parse_file(ingest_parse_email, "truncated.eml", &d, &e);
    ASSERT_EQ_INT(rc, KEEP_OK, "truncated multipart parses");
    OK(contains(d.text.data, "Visible text before the cut."), "text before the cut kept");
    ingest_doc_free(&d);

    ASSERT_EQ_INT(parse_file(ingest_parse_mbox, "three.mbox", &d, &e), KEEP_OK, "mbox parses");
    ingest_doc_finish(&d);
    size_t sections = 0;
    for (size_t i = 0; i < d.n_spans; i++)
        if (d.spans[i].heading && (i == 0 || !d.spans[i - 1].heading ||
                                   strcmp(d.spans[i].heading, d.spans[i - 1].heading)))
            sections++;
    ASSERT_EQ_INT(sections, 3, "three sections");
    if (d.n_spans >= 3) {
        ASSERT_EQ_STR(d.spans[0].heading, "First message — Alice, 2024-01-01 10:00",
                      "section 1 heading");
        ASSERT_EQ_STR(d.spans[1].heading, "Second message — Bob, 2024-01-02 11:00",
                      "section 2 heading");
        ASSERT_EQ_STR(d.spans[2].heading,
                      "Dritte Nachricht ✓ — carol@example.com, 2024-01-03 12:00",
                      "section 3 heading (encoded subject)");
    }
    OK(contains(d.text.data, "Body of the first message. From here on, an escaped line."),
       "mbox body 1, >From unescaped");
    OK(contains(d.text.data, "Body of the second message."), "mbox body 2");
    OK(contains(d.text.data, "Body of the third message."), "mbox body 3");
    ASSERT_EQ_INT(d.n_attachments, 1, "mbox attachment");
    if (d.n_attachments == 1)
        ASSERT_EQ_STR(d.attachments[0].name, "minutes.txt", "mbox attachment name");
    ASSERT_EQ_STR(meta(&d, "messages"), "3", "mbox message count");
    OK(d.title == NULL, "mbox has no title");
    ingest_doc_free(&d);
    keep_free(pdf);
}

/* Deep nesting, made here: GMime's and our depth caps must answer quickly. */
static void test_hostile_mail(void)
{
    ingest_limits lim;
    ingest_limits_default(&lim);
    ingest_doc d;
    keep_err e;
    keep_buf b = {0};
    keep_buf_puts(&b, "From: a@b.c\nSubject: deep\nMIME-Version: 1.0\n");
    for (int i = 0; i < 10000; i++)
        keep_buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i);
    keep_buf_puts(&b, "Content-Type: text/plain\n\ninnermost\n");
    for (int i = 9999; i >= 0; i--)
        keep_buf_printf(&b, "--b%d--\n", i);
    double t0 = keep_now_ms();
    ingest_doc_init(&d, &lim);
    int rc = ingest_parse_email(b.data, b.len, &lim, &d, &e);
    double ms = keep_now_ms() - t0;
    ASSERT_EQ_INT(rc, KEEP_ERR_TOOBIG, "10,000-deep multipart rejected");
    printf("# deep multipart: %s (%.0f ms)\n", e.msg, ms);
    OK(ms < 10000, "deep multipart answered quickly");
    ingest_doc_free(&d);

    /* the same nesting inside an mbox */
    keep_buf mbox = {0};
    keep_buf_puts(&mbox, "From a@b.c Mon Jan  1 10:00:00 2024\n");
    keep_buf_append(&mbox, b.data, b.len);
    ingest_doc_init(&d, &lim);
    ASSERT_EQ_INT(ingest_parse_mbox(mbox.data, mbox.len, &lim, &d, &e), KEEP_ERR_TOOBIG,
                  "deep multipart in mbox rejected");
    ingest_doc_free(&d);
    keep_buf_free(&mbox);

    /* 10,000 nested message/rfc822 */
    keep_buf_reset(&b);
    keep_buf_puts(&b, "From: a@b.c\nSubject: russian doll\n");
    for (int i = 0; i < 10000; i++)
        keep_buf_puts(&b, "Content-Type: message/rfc822\n\nFrom: a@b.c\n");
    keep_buf_puts(&b, "\nbottom\n");
    t0 = keep_now_ms();
    ingest_doc_init(&d, &lim);
    rc = ingest_parse_email(b.data, b.len, &lim, &d, &e);
    ASSERT_EQ_INT(rc, KEEP_ERR_TOOBIG, "10,000 nested message/rfc822 rejected");
    OK(keep_now_ms() - t0 < 10000, "nested rfc822 answered quickly");
    ingest_doc_free(&d);

    /* two levels of forwarding: the outer mail attaches the middle one whole */
    keep_buf_reset(&b);
    keep_buf_puts(&b, "From: a@b.c\nSubject: outer\nContent-Type: message/rfc822\n\n"
                      "From: m@b.c\nSubject: middle\nContent-Type: message/rfc822\n\n"
                      "From: i@b.c\nSubject: inner\n\ninner text\n");
    ingest_doc_init(&d, &lim);
    ASSERT_EQ_INT(ingest_parse_email(b.data, b.len, &lim, &d, &e), KEEP_OK, "nested forward");
    ASSERT_EQ_INT(d.n_attachments, 1, "nested forward: one attachment");
    if (d.n_attachments == 1)
        ASSERT_EQ_STR(d.attachments[0].data,
                      "From: m@b.c\nSubject: middle\nContent-Type: message/rfc822\n\n"
                      "From: i@b.c\nSubject: inner\n\ninner text",
                      "middle message bytes cut from the input");
    ingest_doc_free(&d);

    /* many attachments: capped */
    keep_buf_reset(&b);
    keep_buf_puts(&b, "From: a@b.c\nSubject: many\nContent-Type: multipart/mixed; "
                      "boundary=\"x\"\n\n");
    for (int i = 0; i < 100; i++)
        keep_buf_printf(&b, "--x\nContent-Type: application/octet-stream\n"
                            "Content-Disposition: attachment; filename=\"f%d.bin\"\n\nAAAA\n",
                        i);
    keep_buf_puts(&b, "--x--\n");
    lim.max_attachments = 5;
    ingest_doc_init(&d, &lim);
    ASSERT_EQ_INT(ingest_parse_email(b.data, b.len, &lim, &d, &e), KEEP_OK, "100 attachments");
    ASSERT_EQ_INT(d.n_attachments, 5, "attachments capped");
    ASSERT_EQ_STR(meta(&d, "attachments_dropped"), "95", "dropped attachments counted");
    ingest_doc_free(&d);
    keep_buf_free(&b);

    /* 8-bit body without a charset: detected, not mangled */
    const char *undeclared = "From: a@b.c\nSubject: s\nContent-Type: text/plain\n\n"
                             "Die Gr\xf6\xdf\x65 der R\xe4ume ist \xfc" "berall gleich, sagte er.\n";
    ingest_doc_init(&d, &lim);
    ASSERT_EQ_INT(ingest_parse_email(undeclared, strlen(undeclared), &lim, &d, &e), KEEP_OK,
                  "undeclared 8-bit body parses");
    OK(contains(d.text.data, "Die Größe der Räume ist überall gleich"), "undeclared body detected");
    ingest_doc_free(&d);

    ingest_doc_init(&d, &lim);
    ASSERT_EQ_INT(ingest_parse_email("just some words\n", 16, &lim, &d, &e), KEEP_ERR_PARSE,
                  "text without headers is not a mail");
    ingest_doc_free(&d);
    ingest_doc_init(&d, &lim);
    ASSERT_EQ_INT(ingest_parse_email("", 0, &lim, &d, &e), KEEP_ERR_PARSE, "empty mail");
    ingest_doc_free(&d);
    ingest_doc_init(&d, &lim);
    ASSERT_EQ_INT(ingest_parse_mbox("Subject: x\n\nbody\n", 17, &lim, &d, &e), KEEP_ERR_PARSE,
                  "mbox without From line");
    ingest_doc_free(&d);
}

/* ---- detection ------------------------------------------------------------------- */

static void detect_file(const char *file, const char *as_path, const char *want)
{
    size_t len;
    char *data = load(file, &len);
    char reason[256];
    const char *got = ingest_detect_format_ex(as_path ? as_path : file, data, len, reason,
                                              sizeof reason);
    char what[160];
    snprintf(what, sizeof what, "detect %s as %s -> %s", file, as_path ? as_path : file,
             want ? want : "NULL");
    if (want)
        ASSERT_EQ_STR(got, want, what);
    else
        OK(got == NULL, what);
    keep_free(data);
}

static void test_detect(void)
{
    detect_file("tiny.pdf", NULL, "pdf");
    detect_file("tiny.pdf", "docs/report.txt", "pdf");
    detect_file("tiny.png", NULL, "png");
    detect_file("tiny.jpg", NULL, "jpeg");
    detect_file("tiny.tif", NULL, "tiff");
    detect_file("tiny.docx", NULL, "docx");
    detect_file("tiny.pptx", NULL, "pptx");
    detect_file("tiny.xlsx", NULL, "xlsx");
    detect_file("tiny.xlsx", "table.csv", "xlsx");
    detect_file("tiny.odt", NULL, "odt");
    detect_file("tiny.odp", NULL, "odp");
    detect_file("tiny.ods", NULL, "ods");
    detect_file("other.zip", NULL, NULL);
    detect_file("sample.md", NULL, "markdown");
    detect_file("sample.md", "README.MARKDOWN", "markdown");
    detect_file("sample.html", NULL, "html");
    detect_file("sample.html", "page", "html");
    detect_file("sample.xml", NULL, "xml");
    detect_file("sample.xml", "feed", "xml");
    detect_file("sample.txt", NULL, "text");
    detect_file("sample.txt", "notes", "text");
    detect_file("semicolon.csv", NULL, "csv");
    detect_file("excel.tsv", NULL, "tsv");
    detect_file("alternative.eml", NULL, "eml");
    detect_file("alternative.eml", "saved-mail", "eml");
    detect_file("three.mbox", NULL, "mbox");
    detect_file("utf16le_nobom.txt", NULL, "text");
    detect_file("cp1252_de.txt", "brief", "text");
    detect_file("sjis_ja.txt", NULL, "text");

    /* the start of an office zip is enough when the directory is cut off */
    size_t len;
    char *docx = load("tiny.docx", &len);
    if (docx)
        ASSERT_EQ_STR(ingest_detect_format("a.docx", docx, len - 30), "docx",
                      "truncated docx by local headers");
    keep_free(docx);
    char *odt = load("tiny.odt", &len);
    if (odt)
        ASSERT_EQ_STR(ingest_detect_format("a.odt", odt, 80), "odt",
                      "truncated odt by mimetype member");
    keep_free(odt);

    char *elf = NULL;
    keep_err e;
    if (keep_read_file("/bin/true", (size_t)16 << 20, &elf, &len, &e) == KEEP_OK) {
        char reason[256] = "";
        const char *f = ingest_detect_format_ex("/bin/true", elf, len, reason, sizeof reason);
        OK(f == NULL, "ELF binary unsupported");
        OK(contains(reason, "binary file of type application/"), "ELF reason names its type");
        printf("# reason: %s\n", reason);
        OK(ingest_detect_format("true.txt", elf, len) == NULL, "ELF named .txt still binary");
    }
    keep_free(elf);
    ASSERT_EQ_STR(ingest_detect_format("empty.md", "", 0), "markdown", "empty file by extension");
}

int main(void)
{
    test_encoding();
    test_csv();
    test_email();
    test_hostile_mail();
    test_detect();
    return tap_done();
}
