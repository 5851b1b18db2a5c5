/* chunker.c — structure-aware chunking (see chunker.h for the rules). */
#include "chunker.h"

#include <string.h>

/* ---- text scanning helpers ------------------------------------------------ */

static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\t'; }

/* Byte position `chars` code points after pos (or end). */
static size_t advance_chars(const char *t, size_t pos, size_t end, size_t chars)
{
    while (pos < end && chars) {
        pos++;
        while (pos < end && ((unsigned char)t[pos] & 0xC0) == 0x80)
            pos++;
        chars--;
    }
    return pos;
}

/* Does a sentence end right before position i (i is the byte after the
 * terminator)? ASCII . ! ? followed by whitespace, or CJK full stops. */
static int sentence_end_before(const char *t, size_t i, size_t lo)
{
    if (i >= lo + 3) {
        const unsigned char *p = (const unsigned char *)t + i - 3;
        if ((p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x82) ||   /* 。 */
            (p[0] == 0xEF && p[1] == 0xBC && (p[2] == 0x81 || p[2] == 0x9F))) /* ！？ */
            return 1;
    }
    if (i < lo + 2)
        return 0;
    char c = t[i - 1];
    if (c != '.' && c != '!' && c != '?')
        return 0;
    /* "e.g." / "Dr." style: a one-letter word before the dot is no sentence end */
    if (c == '.' && i >= lo + 3 && !is_ws(t[i - 2]) && (i == lo + 2 || is_ws(t[i - 3])))
        return 0;
    return 1;
}

/* Best cut in (lo, hi]: paragraph break > sentence end > line break > space.
 * Returns 0 when there is none. The cut is the position where the next
 * chunk may start (after the whitespace). */
static size_t find_cut(const char *t, size_t lo, size_t hi)
{
    size_t para = 0, sent = 0, line = 0, space = 0;
    for (size_t i = hi; i > lo; i--) {
        char c = t[i - 1];
        if (!is_ws(c))
            continue;
        if (c == '\n' && i >= 2 && t[i - 2] == '\n') {
            para = i;
            break; /* the latest paragraph break wins outright */
        }
        size_t w = i - 1; /* the whitespace byte; text before it ends at w */
        if (!sent && sentence_end_before(t, w, lo))
            sent = i;
        if (!line && c == '\n')
            line = i;
        if (!space)
            space = i;
    }
    if (para)
        return para;
    if (sent)
        return sent;
    if (line)
        return line;
    return space;
}

/* Start of the overlap for a chunk that ends at cut: the first sentence
 * start at or after cut - overlap (else a word start), never at or before
 * floor_pos so chunking always advances. Returns cut for no overlap. */
static size_t overlap_start(const char *t, size_t floor_pos, size_t cut, size_t overlap_bytes)
{
    if (!overlap_bytes || cut <= floor_pos + 1)
        return cut;
    size_t from = cut > overlap_bytes ? cut - overlap_bytes : 0;
    if (from <= floor_pos)
        from = floor_pos + 1;
    size_t word = 0;
    for (size_t i = from; i < cut; i++) {
        if (i == 0 || !is_ws(t[i - 1]) || is_ws(t[i]))
            continue;
        if (sentence_end_before(t, i - 1, floor_pos))
            return i;
        if (!word)
            word = i;
    }
    return word ? word : cut;
}

/* ---- offsets -------------------------------------------------------------- */

/* Byte -> code point offset with a movable cursor (chunks arrive in nearly
 * increasing order, so each lookup is short). */
typedef struct {
    const char *t;
    size_t byte, chr;
} char_cursor;

static size_t char_offset(char_cursor *c, size_t byte)
{
    while (c->byte < byte) {
        if (((unsigned char)c->t[c->byte] & 0xC0) != 0x80)
            c->chr++;
        c->byte++;
    }
    while (c->byte > byte) {
        c->byte--;
        if (((unsigned char)c->t[c->byte] & 0xC0) != 0x80)
            c->chr--;
    }
    return c->chr;
}

/* ---- chunk list ------------------------------------------------------------ */

typedef struct {
    ingest_chunk *v;
    size_t n, cap;
} chunk_list;

void ingest__chunks_free(ingest_chunk *chunks, size_t n)
{
    if (!chunks)
        return;
    for (size_t i = 0; i < n; i++) {
        keep_free((char *)chunks[i].text);
        keep_free((char *)chunks[i].heading);
        keep_free((char *)chunks[i].sheet);
    }
    keep_free(chunks);
}

static int same_str(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static int same_section(const ingest_span *a, const ingest_span *b)
{
    return same_str(a->heading, b->heading) && same_str(a->sheet, b->sheet) &&
           a->slide == b->slide;
}

/* Span index containing byte pos within [first, last]. */
static size_t span_at(const ingest_doc *doc, size_t first, size_t last, size_t pos)
{
    size_t i = first;
    while (i < last && doc->spans[i].end <= pos)
        i++;
    return i;
}

static int emit(const ingest_doc *doc, size_t first, size_t last, size_t a, size_t b,
                char_cursor *cc, chunk_list *out)
{
    const char *t = doc->text.data;
    while (a < b && is_ws(t[a]))
        a++;
    while (b > a && is_ws(t[b - 1]))
        b--;
    if (a >= b)
        return KEEP_OK;
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 32;
        ingest_chunk *v = keep_reallocarray(out->v, cap, sizeof *v);
        if (!v)
            return KEEP_ERR_NOMEM;
        out->v = v;
        out->cap = cap;
    }
    size_t ia = span_at(doc, first, last, a), ib = span_at(doc, first, last, b - 1);
    const ingest_span *sa = &doc->spans[ia];
    const ingest_span *sb = &doc->spans[ib];
    ingest_chunk *c = &out->v[out->n];
    memset(c, 0, sizeof *c);
    c->ordinal = (int)out->n;
    c->text = keep_strndup(t + a, b - a);
    c->text_len = b - a;
    c->heading = sa->heading ? keep_strdup(sa->heading) : NULL;
    c->sheet = sa->sheet ? keep_strdup(sa->sheet) : NULL;
    if (!c->text || (sa->heading && !c->heading) || (sa->sheet && !c->sheet)) {
        keep_free((char *)c->text);
        keep_free((char *)c->heading);
        keep_free((char *)c->sheet);
        return KEEP_ERR_NOMEM;
    }
    c->page_start = sa->page;
    c->page_end = sb->page >= sa->page ? sb->page : sa->page;
    c->slide = sa->slide;
    /* any OCR'd text inside makes the chunk OCR'd: a scanned page between
     * two pages with text must not pass as exact text */
    for (size_t k = ia; k <= ib && !c->ocr; k++)
        c->ocr = doc->spans[k].ocr;
    c->start = char_offset(cc, a);
    c->end = char_offset(cc, b);
    out->n++;
    return KEEP_OK;
}

/* Is the section nothing but its own heading line? Then the heading path of
 * the sections below carries it and a chunk of it alone would be noise. */
static int heading_only(const char *t, size_t a, size_t b, const char *heading)
{
    while (a < b && is_ws(t[a]))
        a++;
    while (b > a && is_ws(t[b - 1]))
        b--;
    if (a >= b)
        return 1;
    if (!heading)
        return 0;
    const char *last = heading;
    for (const char *p = strstr(heading, " > "); p; p = strstr(p + 3, " > "))
        last = p + 3;
    return strlen(last) == b - a && memcmp(last, t + a, b - a) == 0;
}

static int chunk_section(const ingest_doc *doc, size_t first, size_t last, size_t target,
                         size_t overlap, char_cursor *cc, chunk_list *out)
{
    const char *t = doc->text.data;
    size_t s = doc->spans[first].start, e = doc->spans[last].end;
    if (heading_only(t, s, e, doc->spans[first].heading))
        return KEEP_OK;
    size_t pos = s;
    while (pos < e) {
        while (pos < e && is_ws(t[pos]))
            pos++;
        if (pos >= e)
            break;
        /* the last piece may run 20% over target rather than leave a scrap */
        size_t hi = advance_chars(t, pos, e, target + target / 5);
        if (hi >= e) {
            return emit(doc, first, last, pos, e, cc, out);
        }
        hi = advance_chars(t, pos, e, target);
        size_t lo = advance_chars(t, pos, e, target / 3);
        size_t cut = find_cut(t, lo, hi);
        if (!cut)
            cut = hi; /* one unbroken run: hard cut on a character boundary */
        int rc = emit(doc, first, last, pos, cut, cc, out);
        if (rc)
            return rc;
        /* the overlap is counted in characters: find its width in bytes */
        size_t back = cut, nchar = 0;
        while (back > pos && nchar < overlap) {
            back--;
            while (back > pos && ((unsigned char)t[back] & 0xC0) == 0x80)
                back--;
            nchar++;
        }
        size_t next = overlap_start(t, pos, cut, cut - back);
        pos = next > pos ? next : cut;
    }
    return KEEP_OK;
}

int ingest__chunk(const ingest_doc *doc, size_t target_chars, size_t overlap_chars,
                  ingest_chunk **out, size_t *n, keep_err *err)
{
    chunk_list list = {0};
    char_cursor cc = {doc->text.data, 0, 0};
    if (target_chars < 50)
        target_chars = 50;
    if (overlap_chars * 2 > target_chars)
        overlap_chars = target_chars / 2;
    *out = NULL;
    *n = 0;
    size_t i = 0;
    while (i < doc->n_spans) {
        size_t j = i;
        while (j + 1 < doc->n_spans && same_section(&doc->spans[i], &doc->spans[j + 1]))
            j++;
        int rc = chunk_section(doc, i, j, target_chars, overlap_chars, &cc, &list);
        if (rc) {
            ingest__chunks_free(list.v, list.n);
            return keep_err_set(err, rc, "chunking failed: %s", keep_strerror(rc));
        }
        i = j + 1;
    }
    *out = list.v;
    *n = list.n;
    return KEEP_OK;
}
