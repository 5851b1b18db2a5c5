/* ask_int.h — what the files of the answering layer (text.c, extract.c,
 * cite.c, prompt.c, answer.c) share and nothing outside retrieve/ needs. */
#ifndef KEEP_RETRIEVE_ASK_INT_H
#define KEEP_RETRIEVE_ASK_INT_H

#include "retr.h"

/* A word of a text reduced to what matching compares: lowercased, light
 * English stemming; numbers kept whole ("13.5", "1,140" -> "1140"). */
#define RETR__MAX_WORD 48

typedef struct retr__words {
    char (*w)[RETR__MAX_WORD];
    size_t n, cap;
} retr__words;

/* Appends the content words of text[0..len) (stop words dropped unless
 * keep_stop) to ws, each at most once. */
int retr__words_add(retr__words *ws, const char *text, size_t len, int keep_stop);
int retr__words_has(const retr__words *ws, const char *w);
void retr__words_free(retr__words *ws);
/* The stemmed, lowercased form of one word (UTF-8) into out. */
void retr__stem(const char *word, size_t len, char out[RETR__MAX_WORD]);
/* Calls fn for each word of text[0..len): its surface form, its stem and
 * whether it is a stop word; a non-zero return stops (and is returned). */
typedef int (*retr__word_fn)(void *ud, const char *surface, size_t n, const char *stem,
                             int is_stop);
int retr__words_each(const char *text, size_t len, retr__word_fn fn, void *ud);
/* 1 when text holds a digit. */
int retr__has_digit(const char *text, size_t len);
/* Cosine of two L2-normalised vectors (0 when either is all zero). */
float retr__cosine(const float *a, const float *b, size_t dim);


/* ---- prompts (prompt.c) ---- */

/* Appends text with the prompt fence and chat control markers broken up
 * (a space after their first character), so text can only ever be data. */
int retr__neutral(keep_buf *b, const char *text, size_t len);

/* ---- extractive answers (extract.c) ---- */

/* A sentence of a passage picked as part of an extractive answer. */
typedef struct retr__pick {
    size_t passage;    /* index in the context */
    size_t start, end; /* bytes of the passage text */
    double score;      /* 0..1 */
} retr__pick;

/* Scores every sentence of ctx's passages against question (words weighted
 * by rarity in the store s, the embedder's similarity when e is given, the
 * passage's rank) and returns the best few (at most max_picks), best first;
 * *best receives the best score (0 when there is no sentence). context (may
 * be NULL): words from the conversation a follow-up refers to, weighing half
 * as much as the question's own. Caller frees *picks with keep_free. */
int retr__extract(idx_store *s, const char *question, const char *context,
                  const retr_context *ctx, idx_embedder *e, size_t max_picks, retr__pick **picks,
                  size_t *n, double *best, keep_err *err);

/* ---- follow-up questions (followup.c) ---- */

/* When question reads as a follow-up of the conversation (short, few content
 * words of its own, a pronoun or an opener like "and"/"what about"), fills
 * context with words of the earlier turns: content words of the previous
 * questions (the newest most: at most 8, 4, 2 words of the last three) and
 * the rarest words of the last answer (at most 4), each at most once and
 * none the question already has. Leaves context empty for a self-contained
 * question. Caller frees context with keep_buf_free. */
int retr__followup_context(idx_store *s, const char *question, const retr_turn *history,
                           size_t n_history, keep_buf *context, keep_err *err);


/* ---- citation checking (cite.c) ---- */

/* One sentence of an answer after checking. */
typedef struct retr__checked {
    char *text;     /* the sentence without its [n] markers */
    int *cites;     /* valid passage numbers, ascending, once each */
    size_t n_cites;
    int supported;
    double support;
} retr__checked;

/* Checks answer against the passages of ctx: [n] naming no passage is
 * removed (*clean receives the answer without them), the answer is split in
 * sentences and each is marked supported when the passages it cites hold
 * its words (every number included) and meaning (embedder e, may be NULL).
 * Caller frees *clean with keep_free and *out with retr__checked_free. */
int retr__check(const char *answer, const retr_context *ctx, idx_embedder *e, char **clean,
                retr__checked **out, size_t *n, keep_err *err);
void retr__checked_free(retr__checked *c, size_t n);
/* Sets c->supported and c->support against the passages c->cites names. */
int retr__judge(retr__checked *c, const retr_context *ctx, idx_embedder *e);

#endif
