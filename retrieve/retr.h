/* retr.h — the public face of retrieve/: a user's question in, ranked
 * passages out, in the JSON shape every client relies on.
 *
 * Any user text is a valid query: retrieve/ turns it into a safe FTS5
 * expression (words only, each quoted), so quotes, NEAR(, *, -, : and other
 * FTS5 syntax never reach SQLite as operators. */
#ifndef KEEP_RETR_H
#define KEEP_RETR_H

#include <cjson/cJSON.h>

#include "common.h"
#include "index/idx.h"

/* Builds the FTS5 MATCH expression for user text: the words of the text,
 * each quoted, joined by OR; common English stop words dropped when other
 * words remain. *match is NULL when the text has no searchable word. Caller
 * frees *match with keep_free. */
int retr_fts_expression(const char *text, char **match, keep_err *err);

typedef struct retr_results retr_results;

/* Ranking modes. */
#define RETR_MODE_BM25 "bm25"     /* FTS5 BM25 over the words of the query */
#define RETR_MODE_VECTOR "vector" /* nearest chunk embeddings */
#define RETR_MODE_HYBRID "hybrid" /* both lists fused (reciprocal rank fusion) */

typedef struct retr_request {
    const char *query;
    size_t k;                 /* results wanted (10 when 0) */
    const char *mode;         /* NULL: hybrid when vectors are available, else bm25 */
    const idx_principal *as;  /* required: who runs the query */
    const idx_filter *filter; /* NULL: no filter */
    size_t max_chunks_per_doc; /* 0: no cap */
    /* Needed by vector and hybrid: the vector index and the embedder that
     * made it (its name must match the stored vectors'). */
    idx_vectors *vectors;
    idx_embedder *embedder;
} retr_request;

/* Runs a search: only chunks the principal may read and the filter allows
 * are ranked (before the top k). Chunks of one document beyond
 * max_chunks_per_doc are dropped, and adjacent chunks of one document are
 * merged into one result. Caller frees *out with retr_results_free. */
int retr_search(idx_store *s, const retr_request *req, retr_results **out, keep_err *err);
void retr_results_free(retr_results *r);
size_t retr_results_count(const retr_results *r);
const idx_hit *retr_results_hit(const retr_results *r, size_t i);
double retr_results_took_ms(const retr_results *r);
const char *retr_results_mode(const retr_results *r);

/* The documented JSON: {"query", "mode", "results": [...], "took_ms"}.
 * Caller frees with cJSON_Delete; NULL on OOM. */
cJSON *retr_results_json(const retr_results *r);

/* ---- context for the model ----------------------------------------------------------- */

/* Counts the tokens of text[0..len) with the generator's tokenizer. */
typedef size_t (*retr_token_count_fn)(void *ud, const char *text, size_t len);

/* One numbered passage of a context: everything a citation needs. */
typedef struct retr_passage {
    int number; /* [number] in the rendered text, from 1 */
    int64_t doc_id;
    const char *title, *path, *heading, *sheet, *text;
    int page_start, page_end, slide;
    int64_t start, end; /* character offsets of text in the document */
    size_t tokens;      /* of the passage's rendered block */
} retr_passage;

typedef struct retr_context retr_context;

/* Selects passages from r, best first, whose rendered blocks fit in
 * budget_tokens (counted by count, or estimated as bytes / 4 when count is
 * NULL); a passage that does not fit is skipped for later, smaller ones, and
 * when even the best one alone does not fit it is cut to the budget. The
 * passages are numbered [1]..[n] and rendered as
 *   [n] Title (path, page P, Heading)\n text\n\n
 * Caller frees *out with retr_context_free. */
int retr_context_build(const retr_results *r, size_t budget_tokens, retr_token_count_fn count,
                       void *ud, retr_context **out, keep_err *err);
void retr_context_free(retr_context *c);
size_t retr_context_count(const retr_context *c);
const retr_passage *retr_context_passage(const retr_context *c, size_t i);
const char *retr_context_text(const retr_context *c); /* every block, in order */
size_t retr_context_tokens(const retr_context *c);

/* ==== answers =============================================================================
 * A question in, an answer whose every claim points at a numbered passage out.
 * retr_ask retrieves as the caller (so a passage the caller may not read is
 * never in the context, hence never cited), selects passages under a token
 * budget, then answers either extractively (the best sentences of the
 * passages, no model) or with a generator (a chat model behind the
 * retr_generator interface), and checks every citation. */

/* ---- sentences ---- */

/* A byte range [start, end) of a text. */
typedef struct retr_span {
    size_t start, end;
} retr_span;

/* Splits text into sentences: at . ! ? followed by a space and not a
 * lowercase word, unless the period ends an abbreviation (Dr., e.g., No.)
 * or an initial; at line breaks, except where a line wrapped mid-sentence
 * (no final punctuation, next line lowercase). Decimals (13.5) and file
 * names never split. Spans exclude surrounding white space; empty ones are
 * dropped. Caller frees *out with keep_free. */
int retr_sentences(const char *text, size_t len, retr_span **out, size_t *n, keep_err *err);

/* ---- cancellation ---- */

/* A flag one thread fires and another's answer watches (the web server fires
 * it when the client goes away). Thread-safe. */
typedef struct retr_cancel retr_cancel;

/* Caller frees with retr_cancel_free (after every user of it is done). */
int retr_cancel_new(retr_cancel **out, keep_err *err);
void retr_cancel_free(retr_cancel *c);
void retr_cancel_fire(retr_cancel *c);
int retr_cancel_fired(retr_cancel *c);
/* Registers fn(ud), run once from the firing thread when c fires (a
 * generator uses it to stop a prompt evaluation in the middle); replaces any
 * previous hook; fn NULL removes it. Returns 1 (and does not register) when
 * c has already fired. */
int retr_cancel_hook(retr_cancel *c, void (*fn)(void *ud), void *ud);

/* ---- the generator interface ---- */

/* Receives each piece of the answer as it is generated (whole UTF-8
 * characters); non-zero stops the generation. */
typedef int (*retr_piece_fn)(void *ud, const char *text, size_t len);
/* Reports the place in the generation queue while waiting (1: next), then 0
 * when the generation starts. */
typedef void (*retr_queue_fn)(void *ud, size_t position);

typedef struct retr_chat_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} retr_chat_msg;

typedef struct retr_gen_request {
    const char *prompt; /* as rendered by the generator's render */
    size_t max_tokens;  /* 0: the generator's default */
    retr_piece_fn on_piece;
    void *piece_ud;
    retr_queue_fn on_queue;
    void *queue_ud;
    retr_cancel *cancel; /* may be NULL */
    double deadline_ms;  /* keep_now_ms() after which the answer stops (0: none) */
} retr_gen_request;

typedef struct retr_gen_stats {
    size_t prompt_tokens;    /* of the whole prompt */
    size_t reused_tokens;    /* of those, found in the prefix cache */
    size_t generated_tokens;
    double queue_ms;         /* waiting for a free sequence */
    double prefill_ms, decode_ms;
    double first_token_ms;   /* from the call (queue included) to the first piece */
    const char *stop;        /* "end", "length", "context", "cancelled", "timeout" */
} retr_gen_stats;

/* A text generator: a chat model behind a vtable so that retrieve/ does not
 * depend on infer/ (tests use fakes). One generator may be shared by threads:
 * generate queues when every sequence is busy. */
typedef struct retr_generator retr_generator;
struct retr_generator {
    const char *name; /* the model's file name, shown in answers */
    size_t n_ctx;     /* prompt + answer tokens one sequence holds */
    /* Renders a conversation with the model's chat template, ending with
     * the opener of the assistant's turn. */
    int (*render)(retr_generator *g, const retr_chat_msg *msgs, size_t n, keep_buf *out,
                  keep_err *err);
    size_t (*count_tokens)(retr_generator *g, const char *text, size_t len);
    /* Computes a prompt prefix (the system prompt) once, so every prompt
     * that starts with it reuses it. May be NULL. */
    int (*warm)(retr_generator *g, const char *prefix, keep_err *err);
    /* Generates the answer to rq->prompt into text (appended), streaming
     * pieces. Cancelled or past the deadline: KEEP_ERR_CANCELLED with the
     * text so far. */
    int (*generate)(retr_generator *g, const retr_gen_request *rq, keep_buf *text,
                    retr_gen_stats *st, keep_err *err);
    void (*free)(retr_generator *g);
};
void retr_generator_free(retr_generator *g); /* NULL is fine */

typedef struct retr_gguf_options {
    int threads;      /* per sequence; 0: physical cores */
    size_t n_ctx;     /* 0: min(training context, 4096) */
    int sequences;    /* generations run at once (each its own KV cache); 0: 1 */
    size_t max_queue; /* waiting generations beyond which generate fails; 0: 64 */
    size_t max_tokens; /* default answer length; 0: 512 */
    uint64_t seed;
    float temperature; /* <= 0: greedy (the default: answers should be reproducible) */
    const char *chat_template; /* NULL, "" or "auto": the one the model names; else a
                                  format of infer_chat_from_name ("chatml", "llama3", ...) */
    int warm; /* compute the system prompt into every sequence now, so that no
                 asker waits for it (a server; a one-question process gains nothing) */
} retr_gguf_options;

/* A generator over a GGUF chat model run by Keep's own decoder (infer/).
 * o may be NULL. Caller frees with retr_generator_free. */
int retr_generator_open_gguf(const char *path, const retr_gguf_options *o, retr_generator **out,
                             keep_err *err);

/* ---- prompts ---- */

/* The fixed instructions every generative answer starts with: identical for
 * every question, so a generator computes them once. */
const char *retr_system_prompt(void);

/* One earlier exchange of a conversation. */
typedef struct retr_turn {
    const char *question, *answer;
} retr_turn;

/* The user message for question over the passages of ctx: every passage
 * fenced between <source n="N" ...> and </source> inside a SOURCES block,
 * its text neutralised so it can neither close the fence nor carry a
 * chat-template control marker; then the question. Caller frees with
 * keep_buf_free. */
int retr_prompt_user(const char *question, const retr_context *ctx, keep_buf *out, keep_err *err);
/* The whole conversation: system prompt, earlier turns (questions and
 * answers, without their sources), then the user message. msgs has room for
 * 2 + 2 * n_history entries; *n receives the count. user must outlive msgs. */
void retr_prompt_messages(const retr_turn *history, size_t n_history, const char *user,
                          retr_chat_msg *msgs, size_t *n);

/* ---- answering ---- */

typedef struct retr_ask_request {
    const char *question;
    const retr_turn *history; /* earlier turns, oldest first (may be NULL) */
    size_t n_history;
    const idx_principal *as;  /* required */
    const idx_filter *filter; /* may be NULL */
    size_t k;                 /* passages retrieved; 0: 8 */
    size_t max_chunks_per_doc; /* 0: 3 */
    idx_vectors *vectors;     /* may be NULL (BM25 only) */
    idx_embedder *embedder;   /* may be NULL: scoring and checks use words only */
    retr_generator *gen;      /* NULL: extractive answer */
    size_t context_tokens;    /* budget for the passages; 0: 1500 */
    size_t max_tokens;        /* answer tokens; 0: the generator's default */
    double min_relevance;     /* refusal threshold; 0: RETR_MIN_RELEVANCE */
    retr_piece_fn on_piece;   /* streamed answer text (generative) */
    void *piece_ud;
    retr_queue_fn on_queue;
    void *queue_ud;
    retr_cancel *cancel;      /* may be NULL */
    double timeout_ms;        /* per answer, queue included; 0: none */
} retr_ask_request;

/* The relevance (0..1) the best sentence of the retrieved passages must
 * reach, or Keep says it found nothing; measured in tests/data/ask. */
#define RETR_MIN_RELEVANCE 0.38

typedef struct retr_answer retr_answer;

typedef struct retr_citation {
    int n;
    int64_t doc_id;
    const char *path, *title, *collection, *heading, *sheet, *quote;
    int page, slide;
    int64_t start, end;
} retr_citation;

typedef struct retr_answer_sentence {
    const char *text; /* without its [n] markers */
    const int *cites;
    size_t n_cites;
    int supported;
    double support; /* 0..1: how much of it the cited passages hold */
} retr_answer_sentence;

/* Answers rq->question. A generation cut by rq->cancel or the time limit is
 * KEEP_ERR_CANCELLED (no answer). Caller frees *out with retr_answer_free. */
int retr_ask(idx_store *s, const retr_ask_request *rq, retr_answer **out, keep_err *err);
void retr_answer_free(retr_answer *a);
const char *retr_answer_text(const retr_answer *a);
int retr_answer_refused(const retr_answer *a);
const char *retr_answer_mode(const retr_answer *a); /* "extractive" | "generative" */
double retr_answer_relevance(const retr_answer *a);  /* best sentence's score */
size_t retr_answer_citation_count(const retr_answer *a);
const retr_citation *retr_answer_citation(const retr_answer *a, size_t i);
size_t retr_answer_sentence_count(const retr_answer *a);
const retr_answer_sentence *retr_answer_sentence_at(const retr_answer *a, size_t i);
/* The prompt sent to the generator (NULL in extractive mode). */
const char *retr_answer_prompt(const retr_answer *a);
/* The documented JSON: {"question", "answer", "refused", "mode", "model",
 * "citations": [...], "sentences": [...], "timings": {...}}. Caller frees with
 * cJSON_Delete; NULL on OOM. */
cJSON *retr_answer_json(const retr_answer *a);

#endif
