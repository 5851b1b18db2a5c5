/* test_bigpdf.c — a 1,000-page PDF (written here, byte by byte, with a
 * correct cross-reference table) ingests completely: every page's text with
 * its page number, chunks that cite pages 1 and 1000, within the default
 * limits. Guards against a parser that stalls or caps big documents. */
#include <stdio.h>
#include <string.h>

#include "ingest/ingest.h"
#include "tap.h"

#define PAGES 1000

/* Objects: 1 catalog, 2 pages tree, 3 font, then per page a page object and
 * its content stream. Returns the PDF in b. */
static void write_pdf(keep_buf *b)
{
    size_t n_obj = 3 + 2 * PAGES;
    size_t *off = keep_calloc(n_obj + 1, sizeof *off);
    keep_buf_puts(b, "%PDF-1.4\n");
    off[1] = b->len;
    keep_buf_puts(b, "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
    off[2] = b->len;
    keep_buf_printf(b, "2 0 obj << /Type /Pages /Count %d /Kids [", PAGES);
    for (int p = 0; p < PAGES; p++)
        keep_buf_printf(b, " %d 0 R", 4 + 2 * p);
    keep_buf_puts(b, " ] >> endobj\n");
    off[3] = b->len;
    keep_buf_puts(b, "3 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n");
    for (int p = 0; p < PAGES; p++) {
        int page_obj = 4 + 2 * p, content_obj = page_obj + 1;
        off[page_obj] = b->len;
        keep_buf_printf(b,
                        "%d 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                        "/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >> endobj\n",
                        page_obj, content_obj);
        char text[256];
        int tl = snprintf(text, sizeof text,
                          "BT /F1 12 Tf 72 760 Td (Ledger page %d records shipment SHP-%05d.) Tj ET\n",
                          p + 1, p + 1);
        off[content_obj] = b->len;
        keep_buf_printf(b, "%d 0 obj << /Length %d >> stream\n%sendstream endobj\n", content_obj, tl,
                        text);
    }
    size_t xref = b->len;
    keep_buf_printf(b, "xref\n0 %zu\n0000000000 65535 f \n", n_obj + 1);
    for (size_t i = 1; i <= n_obj; i++)
        keep_buf_printf(b, "%010zu 00000 n \n", off[i]);
    keep_buf_printf(b, "trailer << /Size %zu /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", n_obj + 1, xref);
    keep_free(off);
}

int main(void)
{
    keep_buf pdf = {0};
    write_pdf(&pdf);
    ingest_result *r = NULL;
    keep_err err;
    keep_err_clear(&err);
    double t0 = keep_now_ms();
    int rc = ingest_bytes("ledger.pdf", pdf.data, pdf.len, NULL, &r, &err);
    double ms = keep_now_ms() - t0;
    ASSERT_EQ_INT(rc, KEEP_OK, "a 1,000-page PDF ingests");
    if (rc)
        printf("# %s\n", err.msg);
    printf("# %d pages parsed in %.0f ms\n", PAGES, ms);
    int first = 0, last = 0, pages_ok = 1;
    size_t n = r ? ingest_result_n_chunks(r) : 0;
    for (size_t i = 0; i < n; i++) {
        const ingest_chunk *c = ingest_result_chunk(r, i);
        if (c->page_start < 1 || c->page_end > PAGES || c->page_end < c->page_start)
            pages_ok = 0;
        if (strstr(c->text, "SHP-00001.") && c->page_start == 1)
            first = 1;
        if (strstr(c->text, "SHP-01000.") && c->page_end == PAGES)
            last = 1;
    }
    OK(n > 0, "chunks made");
    OK(pages_ok, "every chunk cites pages within 1..1000");
    OK(first, "page 1's text cites page 1");
    OK(last, "page 1000's text cites page 1000");
    size_t len = 0;
    const char *text = r ? ingest_result_text(r, &len) : "";
    int all = 1;
    for (int p = 1; p <= PAGES && all; p += 37) {
        char want[32];
        snprintf(want, sizeof want, "SHP-%05d.", p);
        all = strstr(text, want) != NULL;
    }
    OK(all, "text of pages throughout the document kept");
    ingest_result_free(r);
    keep_buf_free(&pdf);
    return tap_done();
}
