/* test_ingest.c — the ingest_doc builder, text and Markdown parsers, chunker. */
#include <string.h>

#include "ingest/chunker.h"
#include "ingest/doc.h"
#include "ingest/ingest.h"
#include "ingest/parse_text.h"
#include "tap.h"

static const char *chunk_text(const ingest_result *r, size_t i)
{
    const ingest_chunk *c = ingest_result_chunk(r, i);
    return c ? c->text : "(none)";
}

static void test_builder(void)
{
    ingest_doc d;
    ingest_limits lim;
    ingest_limits_default(&lim);
    ingest_doc_init(&d, &lim);
    ingest_doc_heading(&d, 1, "Backups", 7);
    ingest_doc_puts(&d, "  Nightly   at\t2am. ");
    ingest_doc_para(&d);
    ingest_doc_heading(&d, 2, "Retention", 9);
    ingest_doc_page(&d, 3);
    ingest_doc_text(&d, "Keep 30 days.\xff", 14);
    ingest_doc_finish(&d);
    ASSERT_EQ_STR(d.text.data, "Backups\n\nNightly at 2am.\n\nRetention\n\nKeep 30 days.\xEF\xBF\xBD",
                  "builder collapses whitespace, separates paragraphs, replaces bad bytes");
    OK(d.n_spans >= 2, "builder made spans");
    const ingest_span *last = &d.spans[d.n_spans - 1];
    ASSERT_EQ_STR(last->heading, "Backups > Retention", "heading path");
    ASSERT_EQ_INT(last->page, 3, "page recorded on span");
    ASSERT_EQ_INT(last->end, d.text.len, "spans cover the text");
    ingest_doc_free(&d);

    ingest_limits small = lim;
    small.max_text_bytes = 10;
    ingest_doc_init(&d, &small);
    ASSERT_EQ_INT(ingest_doc_puts(&d, "this is longer than ten"), KEEP_ERR_TOOBIG,
                  "text cap enforced");
    ingest_doc_free(&d);
}

static void test_markdown(void)
{
    const char *md = "---\ntitle: \"Backup Policy\"\n---\n"
                     "# Backups\n\nWe back up **every** night. See [the runbook](run.md).\n\n"
                     "## Retention\n\n| Tier | Days |\n|---|---:|\n| Gold | 90 |\n| Bronze | 7 |\n\n"
                     "```\ncode   stays   verbatim\n```\n"
                     "* first\n* second\n";
    ingest_result *r = NULL;
    keep_err err;
    int rc = ingest_bytes("policy.md", md, strlen(md), NULL, &r, &err);
    ASSERT_EQ_INT(rc, KEEP_OK, "markdown parses");
    if (!r)
        return;
    ASSERT_EQ_STR(ingest_result_format(r), "markdown", "format");
    ASSERT_EQ_STR(ingest_result_title(r), "Backup Policy", "front matter title wins");
    size_t len;
    const char *text = ingest_result_text(r, &len);
    OK(strstr(text, "We back up every night. See the runbook.") != NULL, "inline markup reduced");
    OK(strstr(text, "Tier: Gold; Days: 90") != NULL, "table row with header names");
    OK(strstr(text, "code   stays   verbatim") != NULL, "code block verbatim");
    OK(strstr(text, "- first\n- second") != NULL, "list items on their own lines");
    int found = 0;
    for (size_t i = 0; i < ingest_result_n_chunks(r); i++) {
        const ingest_chunk *c = ingest_result_chunk(r, i);
        if (strstr(c->text, "Bronze")) {
            found = 1;
            ASSERT_EQ_STR(c->heading, "Backups > Retention", "table chunk heading path");
            /* offsets are characters into the text */
            OK(c->end - c->start == keep_utf8_count(c->text, c->text_len), "offset span length");
            OK(strncmp(text + c->start, c->text, c->text_len) == 0, "offsets point at the text (ASCII)");
        }
    }
    OK(found, "table in a chunk");
    ingest_result_free(r);
}

static void test_chunker(void)
{
    /* one long section of numbered sentences: chunks stay near the target,
     * cut at sentence ends, overlap, and cover everything */
    keep_buf b = {0};
    for (int i = 0; i < 200; i++)
        keep_buf_printf(&b, "Sentence number %d says something about backups. ", i);
    ingest_options opt;
    ingest_options_default(&opt);
    opt.chunk_chars = 400;
    opt.chunk_overlap = 60;
    ingest_result *r = NULL;
    keep_err err;
    ASSERT_EQ_INT(ingest_bytes("long.txt", b.data, b.len, &opt, &r, &err), KEEP_OK, "long text parses");
    size_t n = ingest_result_n_chunks(r);
    OK(n > 20 && n < 40, "chunk count near length/target");
    int sizes_ok = 1, ends_ok = 1, overlap_ok = 1;
    for (size_t i = 0; i < n; i++) {
        const ingest_chunk *c = ingest_result_chunk(r, i);
        if (c->text_len > 400 * 6 / 5 || (i + 1 < n && c->text_len < 400 / 3))
            sizes_ok = 0;
        if (i + 1 < n && c->text[c->text_len - 1] != '.')
            ends_ok = 0;
        if (i > 0 && c->start >= ingest_result_chunk(r, i - 1)->end)
            overlap_ok = 0;
    }
    OK(sizes_ok, "chunk sizes within bounds");
    OK(ends_ok, "chunks end at sentence ends");
    OK(overlap_ok, "consecutive chunks overlap");
    OK(strstr(chunk_text(r, n - 1), "number 199") != NULL, "last sentence in last chunk");
    ingest_result_free(r);
    keep_buf_free(&b);

    /* sections are not merged, heading-only sections make no chunk */
    const char *md = "# A\n\n## B\n\nbody of b.\n\n## C\n\nbody of c.\n";
    ASSERT_EQ_INT(ingest_bytes("x.md", md, strlen(md), NULL, &r, &err), KEEP_OK, "sections parse");
    ASSERT_EQ_INT(ingest_result_n_chunks(r), 2, "one chunk per non-empty section");
    ASSERT_EQ_STR(ingest_result_chunk(r, 1)->heading, "A > C", "second section heading");
    ingest_result_free(r);

    /* a run without any break is cut on a character boundary */
    keep_buf u = {0};
    for (int i = 0; i < 1000; i++)
        keep_buf_puts(&u, "\xC3\xA9"); /* é */
    opt.chunk_overlap = 0;
    ASSERT_EQ_INT(ingest_bytes("e.txt", u.data, u.len, &opt, &r, &err), KEEP_OK, "unbroken run");
    int valid = 1;
    size_t chars = 0;
    for (size_t i = 0; i < ingest_result_n_chunks(r); i++) {
        const ingest_chunk *c = ingest_result_chunk(r, i);
        valid &= keep_utf8_valid(c->text, c->text_len);
        chars += c->end - c->start;
    }
    OK(valid, "hard cuts keep UTF-8 valid");
    ASSERT_EQ_INT(chars, 1000, "character offsets cover the run exactly");
    ingest_result_free(r);
    keep_buf_free(&u);
}

static void test_errors(void)
{
    ingest_result *r = NULL;
    keep_err err;
    keep_err_clear(&err);
    ASSERT_EQ_INT(ingest_bytes("legacy.txt", "caf\xe9 cr\xe8me", 10, NULL, &r, &err), KEEP_OK,
                  "legacy 8-bit text is decoded");
    if (r)
        ASSERT_EQ_STR(ingest_result_text(r, NULL), "caf\xc3\xa9 cr\xc3\xa8me", "as windows-1252");
    ingest_result_free(r);
    ASSERT_EQ_INT(ingest_bytes("bin.txt", "a\0b\0\0\1\2", 7, NULL, &r, &err), KEEP_ERR_UNSUPPORTED,
                  "binary data named .txt is skipped");
    ingest_result_free(r);
    char *exe = NULL;
    size_t exe_len = 0;
    keep_read_file("/bin/true", 1 << 20, &exe, &exe_len, &err);
    ASSERT_EQ_INT(ingest_bytes("tool", exe ? exe : "", exe_len, NULL, &r, &err), KEEP_ERR_UNSUPPORTED,
                  "executable skipped");
    keep_free(exe);
    OK(err.msg[0] != '\0', "skip reason given");
    ingest_result_free(r);
    keep_err_clear(&err);
    const char *notmail = "this is not an e-mail at all\n";
    int rc = ingest_bytes("note.eml", notmail, strlen(notmail), NULL, &r, &err);
    OK(rc != KEEP_OK && rc != KEEP_ERR_UNSUPPORTED, "a broken file of a known format fails");
    OK(err.msg[0] != '\0', "with a reason");
    ingest_result_free(r);
    OK(ingest_is_ignored_name("dir/~$report.docx"), "office lock file ignored");
    OK(ingest_is_ignored_name("a/.hidden.md"), "dotfile ignored");
    OK(ingest_is_ignored_name("upload.part"), "partial download ignored");
    OK(!ingest_is_ignored_name("notes.md"), "normal file kept");
}

int main(void)
{
    test_builder();
    test_markdown();
    test_chunker();
    test_errors();
    return tap_done();
}
