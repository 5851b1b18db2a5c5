/* vocab.c — building a tokenizer vocabulary by hand or from the tokenizer.ggml.*
 * keys of a GGUF file. The file is untrusted: every array length, id and
 * string is checked here so that the tokenizer can index without checks. */
#include "infer/vocab.h"

#include <stdio.h>
#include <string.h>

int infer_vocab_new(const char *model, const char *pre, infer_vocab **out, keep_err *err)
{
    *out = NULL;
    infer_vocab_kind kind;
    if (!model)
        return keep_err_set(err, KEEP_ERR_USAGE, "tokenizer model name missing");
    if (strcmp(model, "llama") == 0)
        kind = INFER_VOCAB_SPM;
    else if (strcmp(model, "gpt2") == 0)
        kind = INFER_VOCAB_BPE;
    else if (strcmp(model, "bert") == 0)
        kind = INFER_VOCAB_WPM;
    else
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "tokenizer model '%.40s' is not supported",
                            model);
    if (pre && strlen(pre) >= sizeof((*out)->pre))
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "pre-tokenizer name too long");
    infer_vocab *v = keep_calloc(1, sizeof *v);
    if (!v)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for the vocabulary");
    v->kind = kind;
    snprintf(v->model, sizeof v->model, "%s", model);
    snprintf(v->pre, sizeof v->pre, "%s", pre ? pre : "");
    v->bos = v->eos = v->eot = v->eom = v->unk = v->sep = v->pad = v->cls = v->mask = -1;
    v->add_bos = v->add_eos = v->add_sep = v->add_space_prefix = -1;
    *out = v;
    return KEEP_OK;
}

void infer_vocab_free(infer_vocab *v)
{
    if (!v)
        return;
    keep_free(v->text);
    keep_free(v->tok_off);
    keep_free(v->tok_len);
    keep_free(v->scores);
    keep_free(v->types);
    keep_free(v->mtext);
    keep_free(v->m_off);
    keep_free(v->m_llen);
    keep_free(v->m_rlen);
    keep_free(v);
}

/* Grows a byte blob so that `need` more bytes fit, doubling. */
static int blob_reserve(char **p, size_t *cap, size_t len, size_t need)
{
    size_t want;
    if (keep_add_overflow(len, need, &want) || want > INFER_VOCAB_MAX_TEXT_BYTES)
        return KEEP_ERR_TOOBIG;
    if (want <= *cap)
        return KEEP_OK;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < want)
        ncap *= 2;
    char *np = keep_realloc(*p, ncap);
    if (!np)
        return KEEP_ERR_NOMEM;
    *p = np;
    *cap = ncap;
    return KEEP_OK;
}

static int grow_tokens(infer_vocab *v)
{
    size_t ncap = v->tok_cap ? v->tok_cap * 2 : 256;
    uint32_t *off = keep_reallocarray(v->tok_off, ncap, sizeof *off);
    if (!off)
        return KEEP_ERR_NOMEM;
    v->tok_off = off;
    uint32_t *len = keep_reallocarray(v->tok_len, ncap, sizeof *len);
    if (!len)
        return KEEP_ERR_NOMEM;
    v->tok_len = len;
    float *sc = keep_reallocarray(v->scores, ncap, sizeof *sc);
    if (!sc)
        return KEEP_ERR_NOMEM;
    v->scores = sc;
    uint8_t *ty = keep_reallocarray(v->types, ncap, sizeof *ty);
    if (!ty)
        return KEEP_ERR_NOMEM;
    v->types = ty;
    v->tok_cap = ncap;
    return KEEP_OK;
}

int infer_vocab_add_token(infer_vocab *v, const char *text, size_t len, float score, int type,
                          keep_err *err)
{
    if (v->n_tokens >= INFER_VOCAB_MAX_TOKENS)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "vocabulary has more than %u tokens",
                            INFER_VOCAB_MAX_TOKENS);
    if (len > INFER_VOCAB_MAX_TOKEN_BYTES)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "token %u is %zu bytes long (limit %u)",
                            v->n_tokens, len, INFER_VOCAB_MAX_TOKEN_BYTES);
    if (type < INFER_TOKEN_UNDEFINED || type > INFER_TOKEN_BYTE)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "token %u has unknown type %d", v->n_tokens,
                            type);
    if (score != score)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "token %u has a NaN score", v->n_tokens);
    if (v->n_tokens == v->tok_cap && grow_tokens(v) != KEEP_OK)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for the vocabulary");
    int rc = blob_reserve(&v->text, &v->text_cap, v->text_len, len + 1);
    if (rc != KEEP_OK)
        return keep_err_set(err, rc, rc == KEEP_ERR_NOMEM ? "out of memory for token text"
                                                          : "token text exceeds %u bytes",
                            INFER_VOCAB_MAX_TEXT_BYTES);
    if (len)
        memcpy(v->text + v->text_len, text, len);
    v->text[v->text_len + len] = '\0';
    uint32_t i = v->n_tokens++;
    v->tok_off[i] = (uint32_t)v->text_len;
    v->tok_len[i] = (uint32_t)len;
    v->scores[i] = score;
    v->types[i] = (uint8_t)type;
    v->text_len += len + 1;
    return KEEP_OK;
}

static int grow_merges(infer_vocab *v)
{
    size_t ncap = v->merge_cap ? v->merge_cap * 2 : 256;
    uint32_t *off = keep_reallocarray(v->m_off, ncap, sizeof *off);
    if (!off)
        return KEEP_ERR_NOMEM;
    v->m_off = off;
    uint32_t *ll = keep_reallocarray(v->m_llen, ncap, sizeof *ll);
    if (!ll)
        return KEEP_ERR_NOMEM;
    v->m_llen = ll;
    uint32_t *rl = keep_reallocarray(v->m_rlen, ncap, sizeof *rl);
    if (!rl)
        return KEEP_ERR_NOMEM;
    v->m_rlen = rl;
    v->merge_cap = ncap;
    return KEEP_OK;
}

int infer_vocab_add_merge(infer_vocab *v, const char *rule, size_t len, keep_err *err)
{
    if (v->n_merges >= INFER_VOCAB_MAX_MERGES)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "more than %u merges", INFER_VOCAB_MAX_MERGES);
    if (len > 2 * INFER_VOCAB_MAX_TOKEN_BYTES)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "merge %u is too long", v->n_merges);
    /* The first byte belongs to the left side even when it is a space, as in
     * the files llama.cpp's converter writes. */
    const char *sp = len > 1 ? memchr(rule + 1, ' ', len - 1) : NULL;
    if (!sp || (size_t)(sp - rule) + 1 >= len)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "merge %u is not \"left right\"", v->n_merges);
    size_t llen = (size_t)(sp - rule), rlen = len - llen - 1;
    if (v->n_merges == v->merge_cap && grow_merges(v) != KEEP_OK)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for merges");
    int rc = blob_reserve(&v->mtext, &v->mtext_cap, v->mtext_len, llen + rlen);
    if (rc != KEEP_OK)
        return keep_err_set(err, rc, rc == KEEP_ERR_NOMEM ? "out of memory for merges"
                                                          : "merge text exceeds %u bytes",
                            INFER_VOCAB_MAX_TEXT_BYTES);
    memcpy(v->mtext + v->mtext_len, rule, llen);
    memcpy(v->mtext + v->mtext_len + llen, sp + 1, rlen);
    uint32_t i = v->n_merges++;
    v->m_off[i] = (uint32_t)v->mtext_len;
    v->m_llen[i] = (uint32_t)llen;
    v->m_rlen[i] = (uint32_t)rlen;
    v->mtext_len += llen + rlen;
    return KEEP_OK;
}

/* ---- GGUF ------------------------------------------------------------------- */

/* Copies an optional string key into buf; "" when absent. */
static int gguf_opt_str(const infer_gguf *g, const char *key, char *buf, size_t cap,
                        keep_err *err)
{
    buf[0] = '\0';
    long k = infer_gguf_find_key(g, key);
    if (k < 0)
        return KEEP_OK;
    const char *s;
    size_t n;
    if (infer_gguf_get_str(g, (size_t)k, &s, &n) != KEEP_OK)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s is not a string", key);
    if (n >= cap || memchr(s, '\0', n))
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "%s value is not a short name", key);
    memcpy(buf, s, n);
    buf[n] = '\0';
    return KEEP_OK;
}

/* An optional token id key: -1 when absent; an error when present but not an
 * integer or not an id of the vocabulary. */
static int gguf_opt_id(const infer_gguf *g, const char *key, uint32_t n_tokens, int32_t *out,
                       keep_err *err)
{
    long k = infer_gguf_find_key(g, key);
    if (k < 0)
        return KEEP_OK;
    int64_t id;
    if (infer_gguf_get_i64(g, (size_t)k, &id) != KEEP_OK)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s is not an integer", key);
    if (id == -1 || id == 0xFFFFFFFFll) { /* written by some converters for "none" */
        *out = -1;
        return KEEP_OK;
    }
    if (id < 0 || id >= (int64_t)n_tokens)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s = %lld is not a token id (vocab has %u)",
                            key, (long long)id, n_tokens);
    *out = (int32_t)id;
    return KEEP_OK;
}

static int gguf_opt_bool(const infer_gguf *g, const char *key, int *out, keep_err *err)
{
    long k = infer_gguf_find_key(g, key);
    if (k < 0)
        return KEEP_OK;
    int b;
    if (infer_gguf_get_bool(g, (size_t)k, &b) != KEEP_OK)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s is not a boolean", key);
    *out = b ? 1 : 0;
    return KEEP_OK;
}

/* Index of an array key with elements of type `want` (or, when want_alt >= 0,
 * of that type instead), -1 when absent. */
static int gguf_array(const infer_gguf *g, const char *key, int want, int want_alt, long *idx,
                      uint64_t *count, uint32_t *etype, keep_err *err)
{
    *idx = infer_gguf_find_key(g, key);
    *count = 0;
    if (*idx < 0)
        return KEEP_OK;
    if (infer_gguf_arr_info(g, (size_t)*idx, etype, count) != KEEP_OK ||
        ((int)*etype != want && (int)*etype != want_alt))
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s is not an array of %s", key,
                            infer_gguf_vtype_name((uint32_t)want));
    return KEEP_OK;
}

int infer_vocab_from_gguf(const infer_gguf *g, infer_vocab **out, keep_err *err)
{
    *out = NULL;
    infer_vocab *v = NULL;
    char model[32], pre[64];
    int rc = gguf_opt_str(g, "tokenizer.ggml.model", model, sizeof model, err);
    if (rc != KEEP_OK)
        return rc;
    if (!model[0])
        return keep_err_set(err, KEEP_ERR_NOTFOUND, "no tokenizer in this file (tokenizer.ggml.model missing)");
    if ((rc = gguf_opt_str(g, "tokenizer.ggml.pre", pre, sizeof pre, err)) != KEEP_OK)
        return rc;
    if ((rc = infer_vocab_new(model, pre, &v, err)) != KEEP_OK)
        return rc;

    long ktok, ksc, kty, kmer;
    uint64_t ntok, nsc, nty, nmer;
    uint32_t et_tok, et_sc, et_ty, et_mer;
    if ((rc = gguf_array(g, "tokenizer.ggml.tokens", INFER_GGUF_STRING, -1, &ktok, &ntok, &et_tok,
                         err)) != KEEP_OK)
        goto fail;
    if (ktok < 0 || ntok == 0) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "tokenizer.ggml.tokens is missing or empty");
        goto fail;
    }
    if (ntok > INFER_VOCAB_MAX_TOKENS) {
        rc = keep_err_set(err, KEEP_ERR_TOOBIG, "vocabulary of %llu tokens exceeds the limit",
                          (unsigned long long)ntok);
        goto fail;
    }
    if ((rc = gguf_array(g, "tokenizer.ggml.scores", INFER_GGUF_F32, INFER_GGUF_F64, &ksc, &nsc,
                         &et_sc, err)) != KEEP_OK)
        goto fail;
    if ((rc = gguf_array(g, "tokenizer.ggml.token_type", INFER_GGUF_I32, INFER_GGUF_U32, &kty,
                         &nty, &et_ty, err)) != KEEP_OK)
        goto fail;
    if (ksc >= 0 && nsc != ntok) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "%llu scores for %llu tokens",
                          (unsigned long long)nsc, (unsigned long long)ntok);
        goto fail;
    }
    if (kty >= 0 && nty != ntok) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "%llu token types for %llu tokens",
                          (unsigned long long)nty, (unsigned long long)ntok);
        goto fail;
    }
    for (uint64_t i = 0; i < ntok; i++) {
        const char *s;
        size_t n;
        double score = 0.0;
        int64_t type = INFER_TOKEN_NORMAL;
        if (infer_gguf_arr_str(g, (size_t)ktok, i, &s, &n) != KEEP_OK) {
            rc = keep_err_set(err, KEEP_ERR_CORRUPT, "token %llu unreadable", (unsigned long long)i);
            goto fail;
        }
        if (ksc >= 0 && infer_gguf_arr_f64(g, (size_t)ksc, i, &score) != KEEP_OK) {
            rc = keep_err_set(err, KEEP_ERR_CORRUPT, "score %llu unreadable", (unsigned long long)i);
            goto fail;
        }
        if (kty >= 0 && infer_gguf_arr_i64(g, (size_t)kty, i, &type) != KEEP_OK) {
            rc = keep_err_set(err, KEEP_ERR_CORRUPT, "token type %llu unreadable",
                              (unsigned long long)i);
            goto fail;
        }
        if (type < INFER_TOKEN_UNDEFINED || type > INFER_TOKEN_BYTE) {
            rc = keep_err_set(err, KEEP_ERR_CORRUPT, "token %llu has unknown type %lld",
                              (unsigned long long)i, (long long)type);
            goto fail;
        }
        if (score != score || score > 3.4e38 || score < -3.4e38) {
            rc = keep_err_set(err, KEEP_ERR_CORRUPT, "token %llu has a bad score",
                              (unsigned long long)i);
            goto fail;
        }
        if ((rc = infer_vocab_add_token(v, s, n, (float)score, (int)type, err)) != KEEP_OK)
            goto fail;
    }

    if ((rc = gguf_array(g, "tokenizer.ggml.merges", INFER_GGUF_STRING, -1, &kmer, &nmer, &et_mer,
                         err)) != KEEP_OK)
        goto fail;
    if (v->kind == INFER_VOCAB_BPE && kmer < 0) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "BPE tokenizer without tokenizer.ggml.merges");
        goto fail;
    }
    if (nmer > INFER_VOCAB_MAX_MERGES) {
        rc = keep_err_set(err, KEEP_ERR_TOOBIG, "%llu merges exceed the limit",
                          (unsigned long long)nmer);
        goto fail;
    }
    for (uint64_t i = 0; i < nmer; i++) {
        const char *s;
        size_t n;
        if (infer_gguf_arr_str(g, (size_t)kmer, i, &s, &n) != KEEP_OK) {
            rc = keep_err_set(err, KEEP_ERR_CORRUPT, "merge %llu unreadable", (unsigned long long)i);
            goto fail;
        }
        if ((rc = infer_vocab_add_merge(v, s, n, err)) != KEEP_OK)
            goto fail;
    }

    static const struct {
        const char *key;
        size_t off;
    } ids[] = {
        {"tokenizer.ggml.bos_token_id", offsetof(infer_vocab, bos)},
        {"tokenizer.ggml.eos_token_id", offsetof(infer_vocab, eos)},
        {"tokenizer.ggml.eot_token_id", offsetof(infer_vocab, eot)},
        {"tokenizer.ggml.eom_token_id", offsetof(infer_vocab, eom)},
        {"tokenizer.ggml.unknown_token_id", offsetof(infer_vocab, unk)},
        /* GGUF spells it "seperator"; accept the correct spelling too */
        {"tokenizer.ggml.seperator_token_id", offsetof(infer_vocab, sep)},
        {"tokenizer.ggml.separator_token_id", offsetof(infer_vocab, sep)},
        {"tokenizer.ggml.padding_token_id", offsetof(infer_vocab, pad)},
        {"tokenizer.ggml.cls_token_id", offsetof(infer_vocab, cls)},
        {"tokenizer.ggml.mask_token_id", offsetof(infer_vocab, mask)},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        int32_t *field = (int32_t *)((char *)v + ids[i].off);
        if ((rc = gguf_opt_id(g, ids[i].key, v->n_tokens, field, err)) != KEEP_OK)
            goto fail;
    }
    if ((rc = gguf_opt_bool(g, "tokenizer.ggml.add_bos_token", &v->add_bos, err)) != KEEP_OK ||
        (rc = gguf_opt_bool(g, "tokenizer.ggml.add_eos_token", &v->add_eos, err)) != KEEP_OK ||
        (rc = gguf_opt_bool(g, "tokenizer.ggml.add_sep_token", &v->add_sep, err)) != KEEP_OK ||
        (rc = gguf_opt_bool(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix, err)) !=
            KEEP_OK)
        goto fail;
    *out = v;
    return KEEP_OK;
fail:
    infer_vocab_free(v);
    return rc;
}
