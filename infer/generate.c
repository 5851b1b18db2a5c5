/* generate.c — turning logits into text: the sampler (repetition penalty,
 * top-k, top-p, min-p, temperature, seeded draws), chat templates for the
 * common instruct formats, and the generation loop (prompt with prefix reuse,
 * stop at end-of-generation tokens and stop strings, streaming of whole UTF-8
 * characters, cancellation from another thread).
 *
 * The token loop allocates nothing but the growing output text: logits,
 * candidates and the id sequence live in the context. */
#include <math.h>
#include <string.h>

#include "infer/model.h"

/* ---- random numbers: splitmix64 (simple, good enough for sampling, and the
 * same sequence on every platform) ---------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) */
static double rng_uniform(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- candidate arrays (values v with ids) ---------------------------------- */

static void swap2(float *v, int32_t *id, size_t a, size_t b)
{
    float t = v[a];
    v[a] = v[b];
    v[b] = t;
    int32_t u = id[a];
    id[a] = id[b];
    id[b] = u;
}

/* Moves the k largest values to v[0..k) (in no order). Iterative quickselect
 * with a median-of-three pivot. */
static void select_top(float *v, int32_t *id, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1 && k > lo && k < hi) {
        size_t mid = lo + (hi - lo) / 2;
        float a = v[lo], b = v[mid], c = v[hi - 1];
        float piv;
        if ((a <= b && b <= c) || (c <= b && b <= a))
            piv = b;
        else if ((b <= a && a <= c) || (c <= a && a <= b))
            piv = a;
        else
            piv = c;
        /* three-way partition: > piv | == piv | < piv */
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (v[i] > piv)
                swap2(v, id, lt++, i++);
            else if (v[i] < piv)
                swap2(v, id, i, --gt);
            else
                i++;
        }
        if (k <= lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return;
    }
}

/* Sorts v[0..n) descending (heapsort: no recursion, no allocation). */
static void sift(float *v, int32_t *id, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && v[c + 1] < v[c]) c++;
        if (v[i] <= v[c]) return;
        swap2(v, id, i, c);
        i = c;
    }
}

static void sort_desc(float *v, int32_t *id, size_t n)
{
    if (n < 2) return;
    for (size_t i = n / 2; i-- > 0;) sift(v, id, i, n);
    for (size_t e = n - 1; e > 0; e--) {
        swap2(v, id, 0, e);
        sift(v, id, 0, e);
    }
}

void infer_sampling_defaults(infer_sampling *s)
{
    s->temperature = 0.8f;
    s->top_k = 40;
    s->top_p = 0.95f;
    s->min_p = 0.05f;
    s->repeat_penalty = 1.0f;
    s->repeat_last_n = 64;
    s->seed = 0x5EED;
}

int32_t infer_sample(const infer_sampling *s, const float *logits, size_t n_vocab,
                     const int32_t *hist, size_t n_hist, uint64_t *rng, float *v, int32_t *id)
{
    memcpy(v, logits, n_vocab * sizeof *v);
    for (size_t i = 0; i < n_vocab; i++) id[i] = (int32_t)i;
    if (s->repeat_penalty > 0 && s->repeat_penalty != 1.0f && n_hist) {
        size_t from = n_hist > s->repeat_last_n ? n_hist - s->repeat_last_n : 0;
        for (size_t j = from; j < n_hist; j++) {
            int32_t t = hist[j];
            if (t < 0 || (size_t)t >= n_vocab) continue;
            int seen = 0;
            for (size_t q = from; q < j && !seen; q++) seen = hist[q] == t;
            if (seen) continue;
            v[t] = v[t] > 0 ? v[t] / s->repeat_penalty : v[t] * s->repeat_penalty;
        }
    }
    size_t best = 0;
    for (size_t i = 1; i < n_vocab; i++)
        if (v[i] > v[best]) best = i;
    if (s->temperature <= 0) return (int32_t)best;
    float vmax = v[best];

    /* candidates: top-k first (partial selection), then sorted when top-p
     * needs the order; min-p needs no order */
    size_t n = n_vocab;
    if (s->top_k > 0 && (size_t)s->top_k < n) {
        select_top(v, id, n, (size_t)s->top_k);
        n = (size_t)s->top_k;
    }
    if (s->top_p < 1.0f) {
        /* sort only a prefix when it already holds top_p of the mass */
        double z = 0;
        for (size_t i = 0; i < n; i++) z += exp((double)(v[i] - vmax));
        size_t m = n > 512 ? 512 : n;
        if (m < n) select_top(v, id, n, m);
        sort_desc(v, id, m);
        double cum = 0;
        size_t keep = 0;
        while (keep < m && cum < s->top_p * z) cum += exp((double)(v[keep++] - vmax));
        if (cum < s->top_p * z && m < n) {
            sort_desc(v, id, n);
            while (keep < n && cum < s->top_p * z) cum += exp((double)(v[keep++] - vmax));
        }
        n = keep ? keep : 1;
    }
    if (s->min_p > 0 && s->min_p <= 1) {
        float cut = vmax + logf(s->min_p);
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (v[i] >= cut) {
                v[w] = v[i];
                id[w] = id[i];
                w++;
            }
        n = w ? w : 1;
    }
    double z = 0;
    for (size_t i = 0; i < n; i++) z += exp((double)(v[i] - vmax) / s->temperature);
    double r = rng_uniform(rng) * z, acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += exp((double)(v[i] - vmax) / s->temperature);
        if (r < acc) return id[i];
    }
    return id[n - 1];
}

/* ---- chat templates ---------------------------------------------------------- */

static const char *const chat_names[INFER_CHAT_COUNT] = {"chatml", "llama3", "llama2",
                                                          "mistral", "phi3", "gemma"};

const char *infer_chat_name(infer_chat_format f)
{
    return (unsigned)f < INFER_CHAT_COUNT ? chat_names[f] : "?";
}

int infer_chat_from_name(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < INFER_CHAT_COUNT; i++)
        if (!strcmp(name, chat_names[i])) return i;
    if (!strcmp(name, "qwen") || !strcmp(name, "smollm2") || !strcmp(name, "smollm"))
        return INFER_CHAT_CHATML;
    return -1;
}

infer_chat_format infer_chat_detect(const char *t)
{
    if (!t) return INFER_CHAT_CHATML;
    if (strstr(t, "<|im_start|>")) return INFER_CHAT_CHATML;
    if (strstr(t, "<|start_header_id|>")) return INFER_CHAT_LLAMA3;
    if (strstr(t, "<start_of_turn>")) return INFER_CHAT_GEMMA;
    if (strstr(t, "<|user|>") && strstr(t, "<|end|>")) return INFER_CHAT_PHI3;
    if (strstr(t, "[INST]")) return strstr(t, "<<SYS>>") ? INFER_CHAT_LLAMA2 : INFER_CHAT_MISTRAL;
    return INFER_CHAT_CHATML;
}

static int role_of(const char *r)
{
    if (!r) return -1;
    if (!strcmp(r, "system")) return 0;
    if (!strcmp(r, "user")) return 1;
    if (!strcmp(r, "assistant")) return 2;
    return -1;
}

int infer_chat_apply(infer_chat_format f, const infer_chat_msg *msgs, size_t n, int add_assistant,
                     keep_buf *out, keep_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (role_of(msgs[i].role) < 0 || !msgs[i].content)
            return keep_err_set(err, KEEP_ERR_USAGE, "chat: message %zu has an unknown role", i);
    int rc = 0;
#define P(...) (rc = rc ? rc : keep_buf_printf(out, __VA_ARGS__))
    switch (f) {
    case INFER_CHAT_LLAMA3:
        for (size_t i = 0; i < n; i++)
            P("<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>", msgs[i].role, msgs[i].content);
        if (add_assistant) P("<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case INFER_CHAT_PHI3:
        for (size_t i = 0; i < n; i++) P("<|%s|>\n%s<|end|>\n", msgs[i].role, msgs[i].content);
        if (add_assistant) P("<|assistant|>\n");
        break;
    case INFER_CHAT_GEMMA: {
        /* no system role: the system text opens the first user turn */
        const char *sys = NULL;
        for (size_t i = 0; i < n; i++) {
            int r = role_of(msgs[i].role);
            if (r == 0) {
                sys = msgs[i].content;
                continue;
            }
            P("<start_of_turn>%s\n", r == 2 ? "model" : "user");
            if (r == 1 && sys) {
                P("%s\n\n", sys);
                sys = NULL;
            }
            P("%s<end_of_turn>\n", msgs[i].content);
        }
        if (add_assistant) P("<start_of_turn>model\n");
        break;
    }
    case INFER_CHAT_LLAMA2:
    case INFER_CHAT_MISTRAL: {
        /* [INST] user [/INST] assistant</s>; the system text goes into the
         * first user turn (inside <<SYS>> for Llama 2). BOS of the first
         * turn comes from the tokenizer, later ones are written. */
        const char *sys = NULL;
        int first = 1;
        for (size_t i = 0; i < n; i++) {
            int r = role_of(msgs[i].role);
            if (r == 0) {
                sys = msgs[i].content;
                continue;
            }
            if (r == 1) {
                if (!first) P("<s>");
                P("[INST] ");
                if (sys && f == INFER_CHAT_LLAMA2) P("<<SYS>>\n%s\n<</SYS>>\n\n", sys);
                else if (sys) P("%s\n\n", sys);
                sys = NULL;
                P("%s [/INST]", msgs[i].content);
            } else {
                P(" %s</s>", msgs[i].content);
            }
            first = 0;
        }
        (void)add_assistant; /* the assistant's turn follows [/INST] directly */
        break;
    }
    case INFER_CHAT_CHATML:
    default:
        for (size_t i = 0; i < n; i++) P("<|im_start|>%s\n%s<|im_end|>\n", msgs[i].role, msgs[i].content);
        if (add_assistant) P("<|im_start|>assistant\n");
        break;
    }
#undef P
    if (rc) return keep_err_set(err, rc, "chat: out of memory");
    return KEEP_OK;
}

/* ---- generation ------------------------------------------------------------------ */

void infer_gen_defaults(infer_gen_params *p)
{
    memset(p, 0, sizeof *p);
    infer_sampling_defaults(&p->sampling);
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop
 * string: text that must be held back until the next piece decides. */
static size_t held_back(const char *s, size_t n, const char *const *stop, size_t n_stop)
{
    size_t best = 0;
    for (size_t i = 0; i < n_stop; i++) {
        size_t L = strlen(stop[i]);
        for (size_t k = L ? L - 1 : 0; k > best; k--)
            if (k <= n && !memcmp(s + n - k, stop[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

/* Earliest position of any stop string in s[from..n), or n. */
static size_t find_stop(const char *s, size_t n, size_t from, const char *const *stop, size_t n_stop)
{
    size_t at = n;
    for (size_t i = 0; i < n_stop; i++) {
        size_t L = strlen(stop[i]);
        if (!L) continue;
        for (size_t p = from; p + L <= n && p < at; p++)
            if (!memcmp(s + p, stop[i], L)) {
                at = p;
                break;
            }
    }
    return at;
}

int infer_generate(infer_ctx *c, const int32_t *prompt, size_t n_prompt, const infer_gen_params *p,
                   keep_buf *text, infer_gen_result *res, keep_err *err)
{
    const infer_model *m = c->m;
    infer_gen_result r = {0};
    keep_buf pending = {0}; /* decoded, not yet delivered */
    infer_tok_stream *ts = NULL;
    int rc = KEEP_OK;
    r.n_prompt = n_prompt;
    if (n_prompt == 0 || n_prompt >= c->n_ctx) {
        rc = keep_err_set(err, n_prompt ? KEEP_ERR_TOOBIG : KEEP_ERR_USAGE,
                          "generate: prompt of %zu tokens for a context of %zu", n_prompt, c->n_ctx);
        goto done;
    }
    if ((rc = infer_tok_stream_new(m->tok, 0, &ts, err))) goto done;
    memcpy(c->seq, prompt, n_prompt * sizeof *prompt);
    size_t len = n_prompt, computed = 0;
    double t0 = keep_now_ms();
    rc = infer_ctx_eval(c, c->seq, len, &computed, err);
    r.n_reused = n_prompt - computed;
    r.prompt_ms = keep_now_ms() - t0;
    if (rc) {
        if (rc == KEEP_ERR_CANCELLED) r.stop = INFER_STOP_CANCELLED;
        goto done;
    }
    uint64_t rng = p->sampling.seed;
    size_t delivered = 0; /* bytes of pending already handed out */
    double t1 = keep_now_ms();
    for (;;) {
        if (atomic_exchange(&c->cancel, 0)) {
            r.stop = INFER_STOP_CANCELLED;
            rc = keep_err_set(err, KEEP_ERR_CANCELLED, "generate: cancelled");
            break;
        }
        if (p->max_tokens && r.n_generated >= p->max_tokens) {
            r.stop = INFER_STOP_LENGTH;
            break;
        }
        if (len >= c->n_ctx) {
            r.stop = INFER_STOP_CONTEXT;
            break;
        }
        int32_t tok = infer_sample(&p->sampling, c->logits, m->n_vocab, c->seq, len, &rng, c->samp_p,
                                   c->samp_id);
        r.n_generated++;
        if (infer_tokenizer_is_eog(m->tok, tok)) {
            r.stop = INFER_STOP_EOG;
            break;
        }
        c->seq[len++] = tok;
        size_t before = pending.len;
        if ((rc = infer_tok_stream_push(ts, tok, &pending, err))) break;
        int stop_hit = 0;
        if (p->n_stop && pending.len > before) {
            /* a stop string may start inside the held-back tail */
            size_t from = delivered;
            size_t at = find_stop(pending.data, pending.len, from, p->stop, p->n_stop);
            if (at < pending.len) {
                pending.len = at;
                pending.data[at] = 0;
                stop_hit = 1;
            }
        }
        size_t hold = stop_hit ? 0 : held_back(pending.data, pending.len, p->stop, p->n_stop);
        size_t upto = pending.len - hold;
        if (upto > delivered) {
            if (text && (rc = keep_buf_append(text, pending.data + delivered, upto - delivered))) {
                rc = keep_err_set(err, rc, "generate: out of memory");
                break;
            }
            if (p->on_piece && p->on_piece(p->user, pending.data + delivered, upto - delivered)) {
                delivered = upto;
                r.stop = INFER_STOP_CALLBACK;
                break;
            }
            delivered = upto;
        }
        if (stop_hit) {
            r.stop = INFER_STOP_STRING;
            break;
        }
        rc = infer_ctx_eval(c, c->seq, len, NULL, err);
        if (rc) {
            if (rc == KEEP_ERR_CANCELLED) r.stop = INFER_STOP_CANCELLED;
            break;
        }
    }
    /* text still held back for a stop string that never came, and any
     * incomplete character, is delivered at the end */
    if (!rc && r.stop != INFER_STOP_STRING && r.stop != INFER_STOP_CALLBACK) {
        if ((rc = infer_tok_stream_flush(ts, &pending, err))) goto timing;
        if (pending.len > delivered) {
            if (text && keep_buf_append(text, pending.data + delivered, pending.len - delivered))
                rc = keep_err_set(err, KEEP_ERR_NOMEM, "generate: out of memory");
            if (!rc && p->on_piece) p->on_piece(p->user, pending.data + delivered, pending.len - delivered);
        }
    }
timing:
    r.gen_ms = keep_now_ms() - t1;
done:
    atomic_store(&c->cancel, 0);
    infer_tok_stream_free(ts);
    keep_buf_free(&pending);
    if (res) *res = r;
    return rc;
}
