/* embed_index.c — GGUF embedding models as index/'s idx_embedder, and the
 * one place that decides which embedder a data directory uses: the model of
 * keep.conf's `embedding_model` when set, else the built-in (corpus-learned)
 * embedder. index/ defines the interface and never includes infer/; cli/ and
 * web/ call these two functions. */
#include <stdio.h>
#include <string.h>

#include "infer.h"

typedef struct {
    idx_embedder base;
    infer_embedder *model;
    char name[300];
} gguf_embedder;

static int gguf_embed(idx_embedder *e, const char *const *texts, size_t n, int is_query,
                      float *out, keep_err *err)
{
    gguf_embedder *g = (gguf_embedder *)e;
    return infer_embed(g->model, texts, NULL, n, is_query, out, NULL, err);
}

static void gguf_free(idx_embedder *e)
{
    gguf_embedder *g = (gguf_embedder *)e;
    infer_embedder_free(g->model);
    keep_free(g);
}

int infer_idx_embedder_open(const char *path, int n_threads, idx_embedder **out, keep_err *err)
{
    *out = NULL;
    gguf_embedder *g = keep_calloc(1, sizeof *g);
    if (!g)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    infer_embed_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.n_threads = n_threads;
    opts.pooling = INFER_POOL_DEFAULT; /* as the file says */
    int rc = infer_embedder_open(path, &opts, &g->model, err);
    if (rc) {
        keep_free(g);
        return rc;
    }
    /* the space is named by the model and its width: another model file (or
     * another version of it) makes every vector be re-made */
    const char *slash = strrchr(path, '/');
    snprintf(g->name, sizeof g->name, "gguf:%s:%s:%zu", infer_embedder_name(g->model),
             slash ? slash + 1 : path, infer_embedder_dim(g->model));
    g->base.name = g->name;
    g->base.dim = infer_embedder_dim(g->model);
    g->base.max_tokens = infer_embedder_max_tokens(g->model);
    g->base.embed = gguf_embed;
    g->base.free = gguf_free;
    *out = &g->base;
    return KEEP_OK;
}

int infer_configured_embedder(idx_store *s, const char *model_path, int n_threads,
                              idx_embedder **out, keep_err *err)
{
    if (model_path && *model_path)
        return infer_idx_embedder_open(model_path, n_threads, out, err);
    return idx_builtin_open(s, out, err);
}

int infer_refresh_vectors(idx_store *s, const char *model_path, int n_threads,
                          idx_embed_progress_fn progress, void *ud, size_t *n_embedded,
                          keep_err *err)
{
    if (!model_path || !*model_path)
        return idx_builtin_refresh(s, progress, ud, NULL, n_embedded, err);
    idx_embedder *e = NULL;
    int rc = infer_idx_embedder_open(model_path, n_threads, &e, err);
    if (!rc)
        rc = idx_vectors_embed(s, e, progress, ud, n_embedded, err);
    idx_embedder_free(e);
    return rc;
}
