/* followup.c — what a follow-up question ("and from Leipzig to Prague?",
 * "until when is its warranty valid?") refers to: words of the conversation
 * so far, added to its retrieval and, at half weight, to its scoring. A
 * question that stands on its own gets nothing added, so a change of topic
 * does not drag the old one along (see retr__followup_context in ask_int.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ask_int.h"

/* a follow-up has at most this many content words of its own ... */
#define FOLLOWUP_WORDS 2
/* ... or, with a pronoun or an opener ("and ...", "what about ..."), this many */
#define FOLLOWUP_WORDS_CUED 4
/* words taken from the last three questions, newest first */
static const size_t question_words[3] = {8, 4, 2};
/* rarest words taken from the last answer */
#define ANSWER_WORDS 4
/* words of an answer looked at (an answer is at most a few hundred) */
#define ANSWER_SCAN 300

/* Words that point back at something said before. */
static const char *const pronouns[] = {"it", "its", "they", "them", "their", "theirs", "this",
                                       "that", "these", "those", "there", "he", "she", "him",
                                       "her", "his", "hers", "same", "one", "ones", "else"};
/* Openers that continue the previous question. */
static const char *const openers[] = {"and ", "also ", "but ", "what about ", "how about ",
                                      "and what about ", "same for ", "what of "};

typedef struct {
    size_t content, words;
    int cue;
} shape;

static int lower_eq(const char *s, size_t n, const char *w)
{
    size_t m = strlen(w);
    if (n != m)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != w[i])
            return 0;
    return 1;
}

static int on_shape(void *ud, const char *surface, size_t n, const char *stem, int stop)
{
    (void)stem;
    shape *sh = ud;
    sh->words++;
    if (!stop)
        sh->content++;
    /* "IT" (the department) is not "it" */
    int caps = n >= 2 && isupper((unsigned char)surface[0]) && isupper((unsigned char)surface[1]);
    for (size_t i = 0; i < sizeof pronouns / sizeof pronouns[0] && !caps; i++)
        if (lower_eq(surface, n, pronouns[i]))
            sh->cue = 1;
    return 0;
}

static int is_followup(const char *q)
{
    shape sh = {0, 0, 0};
    if (retr__words_each(q, strlen(q), on_shape, &sh))
        return 0;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '.')
        q++;
    for (size_t i = 0; i < sizeof openers / sizeof openers[0]; i++) {
        size_t m = strlen(openers[i]);
        if (strlen(q) >= m && lower_eq(q, m, openers[i]))
            sh.cue = 1;
    }
    return sh.content <= FOLLOWUP_WORDS || (sh.cue && sh.content <= FOLLOWUP_WORDS_CUED);
}

typedef struct {
    retr__words seen; /* stems already in the question or the context */
    keep_buf *out;
    size_t left;      /* words still to take from this text */
    int rc;
} take_ctx;

/* Appends surface to the context unless its stem is there already. */
static int take(take_ctx *t, const char *surface, size_t n, const char *stem)
{
    if (retr__words_has(&t->seen, stem))
        return 0;
    int rc = retr__words_add(&t->seen, surface, n, 1);
    if (!rc && t->out->len)
        rc = keep_buf_putc(t->out, ' ');
    if (!rc)
        rc = keep_buf_append(t->out, surface, n);
    return rc;
}

static int on_question_word(void *ud, const char *surface, size_t n, const char *stem, int stop)
{
    take_ctx *t = ud;
    if (stop || t->left == 0)
        return 0;
    size_t before = t->out->len;
    int rc = take(t, surface, n, stem);
    if (!rc && t->out->len != before)
        t->left--;
    return rc;
}

typedef struct {
    char surface[RETR__MAX_WORD];
    char stem[RETR__MAX_WORD];
    int64_t df;
} cand;

typedef struct {
    idx_store *s;
    const retr__words *question;
    cand *c;
    size_t n, cap, scanned;
    int rc;
} answer_ctx;

static int on_answer_word(void *ud, const char *surface, size_t n, const char *stem, int stop)
{
    answer_ctx *a = ud;
    if (stop || a->scanned >= ANSWER_SCAN)
        return 0;
    a->scanned++;
    /* [1], [2]: citation markers, not words of the answer */
    if (n <= 2 && isdigit((unsigned char)surface[0]) && (n == 1 || isdigit((unsigned char)surface[1])))
        return 0;
    if (n >= RETR__MAX_WORD || retr__words_has(a->question, stem))
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->c[i].stem, stem) == 0)
            return 0;
    char word[RETR__MAX_WORD];
    memcpy(word, surface, n);
    word[n] = '\0';
    int64_t df = 0;
    keep_err e2;
    if (idx_term_chunk_freq(a->s, word, &df, &e2) != KEEP_OK || df <= 0)
        return 0; /* a word no passage has cannot help find one */
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        cand *p = keep_reallocarray(a->c, cap, sizeof *p);
        if (!p)
            return KEEP_ERR_NOMEM;
        a->c = p;
        a->cap = cap;
    }
    cand *c = &a->c[a->n++];
    memcpy(c->surface, word, n + 1);
    memcpy(c->stem, stem, strlen(stem) + 1);
    c->df = df;
    return 0;
}

static int cmp_df(const void *x, const void *y)
{
    int64_t a = ((const cand *)x)->df, b = ((const cand *)y)->df;
    return a < b ? -1 : a > b;
}

int retr__followup_context(idx_store *s, const char *question, const retr_turn *history,
                           size_t n_history, keep_buf *context, keep_err *err)
{
    if (!history || n_history == 0 || !is_followup(question))
        return KEEP_OK;
    take_ctx t = {{0}, context, 0, 0};
    answer_ctx a = {s, &t.seen, NULL, 0, 0, 0, 0};
    int rc = retr__words_add(&t.seen, question, strlen(question), 0);
    for (size_t k = 0; !rc && k < 3 && k < n_history; k++) {
        const char *q = history[n_history - 1 - k].question;
        if (!q)
            continue;
        t.left = question_words[k];
        rc = retr__words_each(q, strlen(q), on_question_word, &t);
    }
    /* the last answer names what "it" is: its rarest words in the store */
    const char *ans = history[n_history - 1].answer;
    if (!rc && ans && s && !strstr(ans, "found nothing in the documents")) {
        rc = retr__words_each(ans, strlen(ans), on_answer_word, &a);
        if (!rc && a.n > 1)
            qsort(a.c, a.n, sizeof *a.c, cmp_df);
        for (size_t i = 0, got = 0; !rc && i < a.n && got < ANSWER_WORDS; i++) {
            size_t before = context->len;
            rc = take(&t, a.c[i].surface, strlen(a.c[i].surface), a.c[i].stem);
            got += context->len != before;
        }
    }
    keep_free(a.c);
    retr__words_free(&t.seen);
    if (rc)
        return keep_err_set(err, rc, "%s", keep_strerror(rc));
    return KEEP_OK;
}
