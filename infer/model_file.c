/* model_file.c — whole-file conveniences of the public header: describe a
 * GGUF file, open its tokenizer. */
#include "infer.h"

int infer_model_describe_file(const char *path, keep_buf *out, int json, keep_err *err)
{
    infer_gguf *g = NULL;
    int rc = infer_gguf_open(path, &g, err);
    if (rc)
        return rc;
    rc = infer_gguf_describe(g, out, json);
    if (rc)
        keep_err_set(err, rc, "cannot describe %s: %s", path, keep_strerror(rc));
    infer_gguf_close(g);
    return rc;
}

int infer_tokenizer_open_file(const char *path, infer_tokenizer **out, keep_err *err)
{
    infer_gguf *g = NULL;
    *out = NULL;
    int rc = infer_gguf_open(path, &g, err);
    if (rc)
        return rc;
    rc = infer_tokenizer_from_gguf(g, out, err);
    infer_gguf_close(g);
    return rc;
}
