/* text.c — the small text analysis answering needs: sentences (that survive
 * abbreviations, initials, decimals and table rows), words lowercased and
 * lightly stemmed so "charging" meets "charge" and "days" meets "day", and
 * the stop words a question is made of ("how", "many", "does"). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "ask_int.h"

/* ---- words ---------------------------------------------------------------- */

/* Question and function words: they never decide which sentence answers. */
static const char *const stop_words[] = {
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "done",
    "each", "for", "from", "get", "gets", "give", "got", "had", "has", "have", "he", "her",
    "here", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "know",
    "let", "many", "me", "much", "my", "no", "not", "of", "on", "one", "or", "our", "out",
    "please", "she", "should", "so", "some", "such", "tell", "than", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "those", "to", "up", "us", "was", "we",
    "were", "what", "whats", "when", "where", "which", "while", "who", "whom", "whose", "why",
    "will", "with", "would", "you", "your", "there's", "s", "t", "actually", "exactly",
    "really", "kind", "sort", "anyone", "someone", "somebody", "anybody", "thing", "things",
    "need", "needs", "may", "might", "must", "shall", "ever", "very", "too", "more", "most",
};

static int is_stop(const char *lower)
{
    for (size_t i = 0; i < sizeof stop_words / sizeof stop_words[0]; i++)
        if (strcmp(lower, stop_words[i]) == 0)
            return 1;
    return 0;
}

static int is_word_cp(utf8proc_int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

static int is_vowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y'; }

static int has_vowel(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_vowel(w[i]))
            return 1;
    return 0;
}

static int ends(const char *w, size_t n, const char *suf)
{
    size_t m = strlen(suf);
    return n >= m && memcmp(w + n - m, suf, m) == 0;
}

/* A light English stemmer on a lowercased ASCII word: plurals, -ed/-ing,
 * -ly, final e and y, doubled consonants. It only has to map the forms of
 * one word together, not produce a dictionary root. Non-ASCII words pass
 * through (lowercased). */
static size_t stem_ascii(char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)w[i] >= 0x80 || (w[i] >= '0' && w[i] <= '9'))
            return n;
    if (n <= 3)
        return n;
    if (ends(w, n, "'s"))
        n -= 2;
    if (ends(w, n, "ies") && n > 4)
        n -= 2, w[n - 1] = 'y';
    else if (ends(w, n, "sses") || ends(w, n, "xes") || ends(w, n, "ches") || ends(w, n, "shes"))
        n -= 2;
    else if (ends(w, n, "s") && !ends(w, n, "ss") && !ends(w, n, "us") && !ends(w, n, "is") && n > 3)
        n -= 1;
    int cut = 0;
    if (ends(w, n, "ing") && n > 5 && has_vowel(w, n - 3))
        n -= 3, cut = 1;
    else if (ends(w, n, "ed") && n > 4 && has_vowel(w, n - 2))
        n -= 2, cut = 1;
    else if (ends(w, n, "ly") && n > 5)
        n -= 2;
    if (cut && n >= 2 && w[n - 1] == w[n - 2] && !is_vowel(w[n - 1]) && w[n - 1] != 'l' &&
        w[n - 1] != 's' && w[n - 1] != 'z')
        n -= 1; /* stopped -> stop */
    if (n > 3 && w[n - 1] == 'e')
        n -= 1; /* charge, charging -> charg */
    if (n > 3 && w[n - 1] == 'y')
        w[n - 1] = 'i'; /* policy, policies -> polici */
    return n;
}

/* Spellings of one unit that documents and questions use interchangeably
 * ("13.5 %" answers "what percentage"); applied after stemming. */
static const char *const canon[][2] = {
    {"percentag", "percent"}, {"pct", "percent"}, {"euro", "eur"}, {"€", "eur"},
    {"kilometr", "km"}, {"kilometer", "km"}, {"hr", "hour"},
};

static void canonical(char out[RETR__MAX_WORD])
{
    for (size_t i = 0; i < sizeof canon / sizeof canon[0]; i++)
        if (strcmp(out, canon[i][0]) == 0) {
            snprintf(out, RETR__MAX_WORD, "%s", canon[i][1]);
            return;
        }
}

void retr__stem(const char *word, size_t len, char out[RETR__MAX_WORD])
{
    size_t o = 0;
    utf8proc_ssize_t i = 0;
    while ((size_t)i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)word + i,
                                              (utf8proc_ssize_t)len - i, &cp);
        if (r <= 0)
            break;
        i += r;
        if (cp == ',' || cp == '.')
            continue; /* inside numbers: 1,140 and 1140 are one word */
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_tolower(cp), enc);
        if (m <= 0 || o + (size_t)m >= RETR__MAX_WORD)
            break;
        memcpy(out + o, enc, (size_t)m);
        o += (size_t)m;
    }
    out[stem_ascii(out, o)] = '\0';
    canonical(out);
}

int retr__words_each(const char *text, size_t len, retr__word_fn fn, void *ud)
{
    const utf8proc_uint8_t *t = (const utf8proc_uint8_t *)text;
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t r = utf8proc_iterate(t + i, (utf8proc_ssize_t)(len - i), &cp);
        if (r <= 0) {
            i++;
            continue;
        }
        if (cp == '%' || cp == 0x20AC) {
            /* "13.5 %" says "percent", "€ 5" says "eur" */
            const char *w = cp == '%' ? "percent" : "eur";
            int rc = fn(ud, text + i, (size_t)r, w, 0);
            if (rc)
                return rc;
            i += (size_t)r;
            continue;
        }
        if (!is_word_cp(cp)) {
            i += (size_t)r;
            continue;
        }
        size_t start = i, end = i;
        int digits = 0;
        while (end < len) {
            r = utf8proc_iterate(t + end, (utf8proc_ssize_t)(len - end), &cp);
            if (r <= 0)
                break;
            if (is_word_cp(cp)) {
                digits |= cp >= '0' && cp <= '9';
                end += (size_t)r;
                continue;
            }
            /* a '.' or ',' between digits belongs to the number; an
             * apostrophe inside a word to the word */
            if ((cp == '.' || cp == ',') && digits && end + 1 < len && text[end + 1] >= '0' &&
                text[end + 1] <= '9' && text[end - 1] >= '0' && text[end - 1] <= '9') {
                end += 1;
                continue;
            }
            if (cp == '\'' && end + 1 < len && ((text[end + 1] | 32) >= 'a' && (text[end + 1] | 32) <= 'z')) {
                end += 1;
                continue;
            }
            break;
        }
        i = end;
        char stem[RETR__MAX_WORD], lower[RETR__MAX_WORD];
        retr__stem(text + start, end - start, stem);
        /* the stop list is checked on the lowercased unstemmed word */
        size_t ln = 0;
        for (size_t k = start; k < end && ln + 1 < sizeof lower; k++) {
            char c = text[k];
            lower[ln++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        lower[ln] = '\0';
        if (!stem[0])
            continue;
        int rc = fn(ud, text + start, end - start, stem, is_stop(lower));
        if (rc)
            return rc;
    }
    return 0;
}

int retr__words_has(const retr__words *ws, const char *w)
{
    for (size_t i = 0; i < ws->n; i++)
        if (strcmp(ws->w[i], w) == 0)
            return 1;
    return 0;
}

typedef struct {
    retr__words *ws;
    int keep_stop;
} add_ctx;

static int add_one(void *ud, const char *surface, size_t n, const char *stem, int stop)
{
    (void)surface;
    (void)n;
    add_ctx *a = ud;
    if ((stop && !a->keep_stop) || retr__words_has(a->ws, stem))
        return 0;
    if (a->ws->n == a->ws->cap) {
        size_t cap = a->ws->cap ? a->ws->cap * 2 : 32;
        void *p = keep_reallocarray(a->ws->w, cap, sizeof *a->ws->w);
        if (!p)
            return KEEP_ERR_NOMEM;
        a->ws->w = p;
        a->ws->cap = cap;
    }
    snprintf(a->ws->w[a->ws->n++], RETR__MAX_WORD, "%s", stem);
    return 0;
}

int retr__words_add(retr__words *ws, const char *text, size_t len, int keep_stop)
{
    add_ctx a = {ws, keep_stop};
    return retr__words_each(text, len, add_one, &a);
}

void retr__words_free(retr__words *ws)
{
    keep_free(ws->w);
    memset(ws, 0, sizeof *ws);
}

int retr__has_digit(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] >= '0' && text[i] <= '9')
            return 1;
    return 0;
}

float retr__cosine(const float *a, const float *b, size_t dim)
{
    double d = 0, na = 0, nb = 0;
    for (size_t i = 0; i < dim; i++) {
        d += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    if (na <= 0 || nb <= 0)
        return 0;
    return (float)(d / sqrt(na * nb));
}

/* ---- sentences --------------------------------------------------------------- */

/* Words after which a period does not end a sentence. */
static const char *const abbrevs[] = {
    "dr", "mr", "mrs", "ms", "prof", "st", "no", "nr", "vs", "approx", "incl", "excl", "fig",
    "ca", "cf", "e.g", "i.e", "eg", "ie", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "dept", "est", "min", "max", "ref", "vol", "art", "sec", "para",
    "co", "corp", "inc", "ltd", "bzw", "z.b", "u.a", "d.h", "usw", "ggf", "tel", "str",
};

/* 1 when the period at text[dot] follows an abbreviation or an initial. */
static int period_is_abbrev(const char *text, size_t from, size_t dot)
{
    size_t s = dot;
    while (s > from && text[s - 1] != ' ' && text[s - 1] != '\n' && text[s - 1] != '\t' &&
           text[s - 1] != '(')
        s--;
    size_t n = dot - s;
    if (n == 0)
        return 0;
    if (n == 1 && text[s] >= 'A' && text[s] <= 'Z')
        return 1; /* an initial: "J. Smith" */
    char w[16];
    if (n >= sizeof w)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = text[s + i];
        w[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    w[n] = '\0';
    for (size_t i = 0; i < sizeof abbrevs / sizeof abbrevs[0]; i++)
        if (strcmp(w, abbrevs[i]) == 0)
            return 1;
    return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }

static int push_span(retr_span **v, size_t *n, size_t *cap, const char *text, size_t a, size_t b)
{
    while (a < b && is_space(text[a]))
        a++;
    while (b > a && is_space(text[b - 1]))
        b--;
    if (a == b)
        return 0;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        retr_span *p = keep_reallocarray(*v, c, sizeof *p);
        if (!p)
            return -1;
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = (retr_span){a, b};
    return 0;
}

/* 1 when the line break at text[nl] joins a sentence wrapped across lines:
 * the line does not end in punctuation and the next one starts lowercase. */
static int soft_break(const char *text, size_t len, size_t from, size_t nl)
{
    size_t p = nl;
    while (p > from && (text[p - 1] == ' ' || text[p - 1] == '\r' || text[p - 1] == '\t'))
        p--;
    if (p == from)
        return 0;
    char last = text[p - 1];
    if (last == '.' || last == '!' || last == '?' || last == ':' || last == ';')
        return 0;
    size_t q = nl + 1;
    while (q < len && (text[q] == ' ' || text[q] == '\t'))
        q++;
    return q < len && text[q] >= 'a' && text[q] <= 'z';
}

int retr_sentences(const char *text, size_t len, retr_span **out, size_t *n_out, keep_err *err)
{
    *out = NULL;
    *n_out = 0;
    retr_span *v = NULL;
    size_t n = 0, cap = 0, start = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        size_t end = 0;
        if (c == '\n') {
            if (soft_break(text, len, start, i))
                continue;
            end = i;
        } else if (c == '.' || c == '!' || c == '?') {
            size_t j = i + 1;
            while (j < len && (text[j] == '"' || text[j] == '\'' || text[j] == ')' || text[j] == ']'))
                j++;
            if (j < len && !is_space(text[j]))
                continue; /* 13.5, e.g., file.pdf */
            if (c == '.' && period_is_abbrev(text, start, i))
                continue;
            size_t k = j;
            while (k < len && (text[k] == ' ' || text[k] == '\t'))
                k++;
            if (k < len && text[k] >= 'a' && text[k] <= 'z')
                continue; /* a lowercase word goes on the same sentence */
            end = j;
            i = j - 1;
        } else {
            continue;
        }
        if (push_span(&v, &n, &cap, text, start, end))
            goto oom;
        start = end;
    }
    if (push_span(&v, &n, &cap, text, start, len))
        goto oom;
    *out = v;
    *n_out = n;
    return KEEP_OK;
oom:
    keep_free(v);
    return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
}
