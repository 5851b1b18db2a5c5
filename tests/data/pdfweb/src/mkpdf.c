/* mkpdf.c — writes the PDF test files of tests/test_pdfweb.c with cairo's PDF
 * backend (a real producer: subset TrueType fonts, ToUnicode maps, metadata).
 * Not part of the build; see make.sh next to it. Lines are placed by hand so
 * the tests know exactly where headings, hyphenated line ends and table cells
 * are. */
#include <cairo-pdf.h>
#include <stdio.h>
#include <string.h>

#define W 595.0
#define H 842.0
#define LEFT 72.0

static double y;

static void font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, "DejaVu Serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static void at(cairo_t *cr, double x, const char *s)
{
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s);
}

static void heading(cairo_t *cr, double size, const char *s)
{
    y += size * 1.2;
    font(cr, size, 1);
    at(cr, LEFT, s);
    y += size * 0.8;
}

/* One paragraph of pre-broken lines at 11 pt, 14 pt leading, 10 pt after. */
static void para(cairo_t *cr, const char *const *lines)
{
    font(cr, 11, 0);
    for (int i = 0; lines[i]; i++) {
        y += 14;
        at(cr, LEFT, lines[i]);
    }
    y += 10;
}

static void table(cairo_t *cr, const char *const cells[][3], int rows)
{
    const double col[4] = {LEFT, LEFT + 120, LEFT + 240, LEFT + 400};
    double top = y + 4;
    for (int r = 0; r < rows; r++) {
        y += 18;
        font(cr, 11, r == 0);
        for (int c = 0; c < 3; c++)
            at(cr, col[c] + 4, cells[r][c]);
    }
    y += 6;
    cairo_set_line_width(cr, 0.5);
    for (int r = 0; r <= rows; r++) {
        cairo_move_to(cr, col[0], top + 18 * r);
        cairo_line_to(cr, col[3], top + 18 * r);
    }
    for (int c = 0; c < 4; c++) {
        cairo_move_to(cr, col[c], top);
        cairo_line_to(cr, col[c], top + 18 * rows);
    }
    cairo_stroke(cr);
    y += 10;
}

static void guide(const char *path)
{
    cairo_surface_t *s = cairo_pdf_surface_create(path, W, H);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, "Keep Operations Guide");
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_AUTHOR, "Platform Team");
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_SUBJECT, "Backups and recovery");
    cairo_t *cr = cairo_create(s);

    y = 60;
    heading(cr, 24, "Operations Guide");
    heading(cr, 16, "Backups");
    para(cr, (const char *const[]){"Nightly backups copy every volume to the offsite store. The",
                                   "copy runs at two in the morning and keeps the full infor-",
                                   "mation needed to restore a server from scratch.", NULL});
    para(cr, (const char *const[]){"Restores are tested every month by the on-call engineer, who",
                                   "writes the result into the shared log book.", NULL});
    heading(cr, 16, "Retention Policy");
    para(cr, (const char *const[]){"Daily copies are kept for thirty days and monthly copies for",
                                   "one year. The policy is owned by the North-",
                                   "East operations group.", NULL});
    cairo_show_page(cr);

    y = 60;
    heading(cr, 16, "Storage Inventory");
    para(cr, (const char *const[]){"The table lists each backup server.", NULL});
    static const char *const cells[][3] = {
        {"Server", "Capacity", "Owner"},
        {"alpha", "4 TB", "Maria Lopez"},
        {"beta", "12 TB", "Chen Wei"},
    };
    table(cr, cells, 3);
    para(cr, (const char *const[]){"Capacity is reviewed every quarter.", NULL});
    cairo_show_page(cr);

    y = 60;
    heading(cr, 16, "Recovery Keys");
    para(cr, (const char *const[]){"The recovery passphrase is kept in the red safe in room 214.",
                                   NULL});
    cairo_show_page(cr);

    cairo_destroy(cr);
    cairo_surface_destroy(s);
}

/* No metadata title: the title must come from the first big heading. */
static void report(const char *path)
{
    cairo_surface_t *s = cairo_pdf_surface_create(path, W, H);
    cairo_t *cr = cairo_create(s);
    y = 60;
    heading(cr, 22, "Quarterly Report");
    para(cr, (const char *const[]){"Revenue grew by eleven percent in the third quarter.", NULL});
    heading(cr, 14, "Outlook");
    para(cr, (const char *const[]){"The team expects steady growth next year.", NULL});
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
}

/* Two columns of justified-looking prose: reading order must finish the left
 * column before the right one, and lines at the same height in the two
 * columns must not be read as table rows. */
static void columns(const char *path)
{
    cairo_surface_t *s = cairo_pdf_surface_create(path, W, H);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, "Two Columns");
    cairo_t *cr = cairo_create(s);
    static const char *const left[] = {
        "The left column starts the story of the", "harbour. Ships arrived every morning",
        "with fish, salt and letters from the",    "islands, and the harbour master wrote",
        "each arrival into a large green book.",   NULL};
    static const char *const right[] = {
        "The right column continues later: in", "winter the harbour froze and the ships",
        "waited in the southern bay until the", "ice broke in early spring, which the",
        "green book also records in detail.",   NULL};
    y = 60;
    heading(cr, 18, "Harbour History");
    double top = y;
    font(cr, 11, 0);
    for (int i = 0; left[i]; i++) {
        y += 14;
        at(cr, LEFT, left[i]);
    }
    y = top;
    for (int i = 0; right[i]; i++) {
        y += 14;
        at(cr, 320, right[i]);
    }
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
}

/* Section headings in bold body size (font size alone cannot tell them)
 * and bookmarks that name them. */
static void outline(const char *path)
{
    cairo_surface_t *s = cairo_pdf_surface_create(path, W, H);
    cairo_t *cr = cairo_create(s);
    int top = cairo_pdf_surface_add_outline(s, CAIRO_PDF_OUTLINE_ROOT, "Maintenance Plan",
                                            "page=1 pos=[72 60]", 0);
    cairo_pdf_surface_add_outline(s, top, "Pumps", "page=1 pos=[72 120]", 0);
    cairo_pdf_surface_add_outline(s, top, "Valves", "page=2 pos=[72 60]", 0);
    y = 60;
    heading(cr, 18, "Maintenance Plan");
    y += 14;
    font(cr, 11, 1);
    at(cr, LEFT, "Pumps");
    para(cr, (const char *const[]){"Pump seals and \xEF\xAC\x81lters are replaced every spring.",
                                   NULL});
    cairo_show_page(cr);
    y = 60;
    y += 14;
    font(cr, 11, 1);
    at(cr, LEFT, "Valves");
    para(cr, (const char *const[]){"Valves are greased before the first frost.", NULL});
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[1024];
    snprintf(path, sizeof path, "%s/guide.pdf", dir);
    guide(path);
    snprintf(path, sizeof path, "%s/report.pdf", dir);
    report(path);
    snprintf(path, sizeof path, "%s/columns.pdf", dir);
    columns(path);
    snprintf(path, sizeof path, "%s/outline.pdf", dir);
    outline(path);
    return 0;
}
