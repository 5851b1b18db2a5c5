/* config.c — keep.conf parsing with inih (see config.h). */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void keep_config_defaults(keep_config *cfg)
{
    cfg->max_file_mb = 256;
    cfg->max_text_mb = 64;
    cfg->chunk_chars = 1200;
    cfg->chunk_overlap = 150;
    cfg->ingest_threads = 0;
    cfg->ocr = 1;
    snprintf(cfg->ocr_languages, sizeof cfg->ocr_languages, "eng+deu");
    cfg->search_k = 10;
    cfg->max_chunks_per_doc = 3;
    cfg->busy_timeout_ms = 10000;
    cfg->model[0] = '\0';
    cfg->answer_k = 8;
    cfg->context_tokens = 1500;
    cfg->max_tokens = 512;
    cfg->answer_threads = 0;
    cfg->sequences = 1;
    cfg->answer_timeout_s = 120;
    cfg->min_relevance = 38;
    snprintf(cfg->chat_template, sizeof cfg->chat_template, "auto");
    snprintf(cfg->web_listen, sizeof cfg->web_listen, "127.0.0.1:8080");
    cfg->web_threads = 4;
    cfg->web_max_upload_mb = 64;
    cfg->web_timeout_s = 30;
    cfg->web_session_hours = 12;
    cfg->web_login_failures = 5;
    cfg->embedding_model[0] = '\0';
    cfg->web_tls_cert[0] = cfg->web_tls_key[0] = cfg->web_trusted_proxies[0] = '\0';
    snprintf(cfg->web_proxy_user_header, sizeof cfg->web_proxy_user_header, "X-Remote-User");
    cfg->audit_retention_days = 0;
}

typedef struct {
    keep_config *cfg;
    keep_err *err;
    int failed;
} load_ctx;

static int parse_long(const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

typedef struct {
    const char *section, *key;
    long min, max;
    size_t offset;
    int is_size_t;
} int_key;

#define SZ(s, k, f, lo, hi) {s, k, lo, hi, offsetof(keep_config, f), 1}
#define IN(s, k, f, lo, hi) {s, k, lo, hi, offsetof(keep_config, f), 0}
static const int_key int_keys[] = {
    SZ("ingest", "max_file_mb", max_file_mb, 1, 65536),
    SZ("ingest", "max_text_mb", max_text_mb, 1, 4096),
    SZ("ingest", "chunk_chars", chunk_chars, 200, 20000),
    SZ("ingest", "chunk_overlap", chunk_overlap, 0, 5000),
    IN("ingest", "threads", ingest_threads, 0, 256),
    IN("search", "k", search_k, 1, 1000),
    IN("search", "max_chunks_per_doc", max_chunks_per_doc, 1, 1000),
    IN("store", "busy_timeout_ms", busy_timeout_ms, 0, 600000),
    IN("answer", "k", answer_k, 1, 100),
    SZ("answer", "context_tokens", context_tokens, 100, 100000),
    SZ("answer", "max_tokens", max_tokens, 1, 32768),
    IN("answer", "threads", answer_threads, 0, 256),
    IN("answer", "sequences", sequences, 1, 64),
    IN("answer", "timeout_s", answer_timeout_s, 0, 86400),
    IN("answer", "min_relevance", min_relevance, 1, 100),
    IN("web", "threads", web_threads, 1, 256),
    SZ("web", "max_upload_mb", web_max_upload_mb, 1, 4096),
    IN("web", "timeout_s", web_timeout_s, 1, 3600),
    IN("web", "session_hours", web_session_hours, 1, 8760),
    IN("web", "login_failures", web_login_failures, 1, 1000),
    IN("audit", "retention_days", audit_retention_days, 0, 36500),
};

/* Text keys: copied into fixed-size fields (too long is an error). */
typedef struct {
    const char *section, *key;
    size_t offset, size;
} str_key;

#define ST(s, k, f) {s, k, offsetof(keep_config, f), sizeof(((keep_config *)0)->f)}
static const str_key str_keys[] = {
    ST("search", "embedding_model", embedding_model),
    ST("answer", "model", model),
    ST("answer", "chat_template", chat_template),
    ST("ingest", "ocr_languages", ocr_languages),
    ST("web", "listen", web_listen),
    ST("web", "tls_cert", web_tls_cert),
    ST("web", "tls_key", web_tls_key),
    ST("web", "trusted_proxies", web_trusted_proxies),
    ST("web", "proxy_user_header", web_proxy_user_header),
};

/* Switches: on/off, yes/no, true/false, 1/0. */
typedef struct {
    const char *section, *key;
    size_t offset;
} bool_key;

#define BO(s, k, f) {s, k, offsetof(keep_config, f)}
static const bool_key bool_keys[] = {
    BO("ingest", "ocr", ocr),
};

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"on", "yes", "true", "1"}, *const no[] = {"off", "no", "false", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(v, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

/* Tesseract language names become file names: letters, digits and '_',
 * joined by '+' ("eng+deu", "chi_sim"); nothing that walks out of tessdata. */
static int valid_languages(const char *v)
{
    if (!v[0] || v[0] == '+')
        return 0;
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || (*p == '+' && p[1] && p[1] != '+')))
            return 0;
    return 1;
}

/* The prompt formats infer/ can write (infer_chat_from_name; common/ does
 * not link against infer/, so the names are listed here too). */
static int valid_chat_template(const char *v)
{
    static const char *const names[] = {"auto", "chatml", "qwen", "smollm", "smollm2", "llama3",
                                        "llama2", "mistral", "phi3", "gemma"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(v, names[i]) == 0)
            return 1;
    return 0;
}

/* Debian's inih is built without line numbers in the handler. */
static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *c = user;
    if (c->failed)
        return 0;
    if (strcmp(section, "folder") == 0) { /* read by keep_config_folders */
        if (strcmp(name, "path") == 0 || strcmp(name, "collection") == 0)
            return 1;
        keep_err_set(c->err, KEEP_ERR_USAGE, "keep.conf: unknown key '%s' in [folder]", name);
        c->failed = 1;
        return 0;
    }
    for (size_t i = 0; i < sizeof int_keys / sizeof int_keys[0]; i++) {
        const int_key *k = &int_keys[i];
        if (strcmp(section, k->section) || strcmp(name, k->key))
            continue;
        long v;
        if (parse_long(value, k->min, k->max, &v)) {
            keep_err_set(c->err, KEEP_ERR_USAGE, "keep.conf: %s.%s must be an integer in %ld..%ld",
                         section, name, k->min, k->max);
            c->failed = 1;
            return 0;
        }
        char *base = (char *)c->cfg;
        if (k->is_size_t)
            *(size_t *)(base + k->offset) = (size_t)v;
        else
            *(int *)(base + k->offset) = (int)v;
        return 1;
    }
    for (size_t i = 0; i < sizeof bool_keys / sizeof bool_keys[0]; i++) {
        const bool_key *k = &bool_keys[i];
        if (strcmp(section, k->section) || strcmp(name, k->key))
            continue;
        int v;
        if (parse_bool(value, &v)) {
            keep_err_set(c->err, KEEP_ERR_USAGE, "keep.conf: %s.%s must be on or off", section,
                         name);
            c->failed = 1;
            return 0;
        }
        *(int *)((char *)c->cfg + k->offset) = v;
        return 1;
    }
    for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++) {
        const str_key *k = &str_keys[i];
        if (strcmp(section, k->section) || strcmp(name, k->key))
            continue;
        size_t n = strlen(value);
        if (n >= k->size) {
            keep_err_set(c->err, KEEP_ERR_USAGE, "keep.conf: %s.%s is longer than %zu bytes",
                         section, name, k->size - 1);
            c->failed = 1;
            return 0;
        }
        memcpy((char *)c->cfg + k->offset, value, n + 1);
        return 1;
    }
    keep_err_set(c->err, KEEP_ERR_USAGE, "keep.conf: unknown key '%s' in [%s]", name, section);
    c->failed = 1;
    return 0;
}

int keep_config_load(const char *path, keep_config *cfg, keep_err *err)
{
    keep_config_defaults(cfg);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return KEEP_OK;
        return keep_err_set(err, KEEP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    }
    load_ctx c = {cfg, err, 0};
    int line = ini_parse_file(f, on_entry, &c);
    fclose(f);
    if (c.failed)
        return err ? err->code : KEEP_ERR_USAGE;
    if (line != 0)
        return keep_err_set(err, KEEP_ERR_USAGE, "keep.conf:%d: syntax error", line);
    if (!valid_languages(cfg->ocr_languages))
        return keep_err_set(err, KEEP_ERR_USAGE,
                            "keep.conf: ingest.ocr_languages must be Tesseract language names "
                            "joined by '+' (eng+deu)");
    if (!valid_chat_template(cfg->chat_template))
        return keep_err_set(err, KEEP_ERR_USAGE,
                            "keep.conf: answer.chat_template must be auto, chatml, qwen, smollm2, "
                            "llama3, llama2, mistral, phi3 or gemma");
    if (cfg->chunk_overlap * 2 > cfg->chunk_chars)
        return keep_err_set(err, KEEP_ERR_USAGE,
                            "keep.conf: ingest.chunk_overlap must be at most half of chunk_chars");
    return KEEP_OK;
}

int keep_config_write_default(const char *path, keep_err *err)
{
    keep_config d;
    keep_config_defaults(&d);
    FILE *f = fopen(path, "wx");
    if (!f) {
        if (errno == EEXIST)
            return KEEP_OK;
        return keep_err_set(err, KEEP_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    }
    fprintf(f,
            "; keep.conf: Keep's settings. Every key is documented in README.md;\n"
            "; the values below are the defaults.\n\n"
            "[ingest]\n"
            ";max_file_mb = %zu\n;max_text_mb = %zu\n;chunk_chars = %zu\n;chunk_overlap = %zu\n"
            ";threads = %d\n;ocr = %s\n;ocr_languages = %s\n\n"
            "[search]\n;k = %d\n;max_chunks_per_doc = %d\n;embedding_model =\n\n"
            "[store]\n;busy_timeout_ms = %d\n\n"
            "[answer]\n"
            "; a GGUF chat model; without one, answers are extracted sentences\n"
            ";model = /path/to/model.gguf\n"
            ";k = %d\n;context_tokens = %zu\n;max_tokens = %zu\n;threads = %d\n"
            ";sequences = %d\n;timeout_s = %d\n;min_relevance = %d\n;chat_template = %s\n\n"
            "[web]\n;listen = %s\n;threads = %d\n;max_upload_mb = %zu\n;timeout_s = %d\n"
            ";session_hours = %d\n;login_failures = %d\n;tls_cert =\n;tls_key =\n"
            ";trusted_proxies =\n;proxy_user_header = %s\n\n"
            "[audit]\n; 0 keeps the audit log forever\n;retention_days = %d\n",
            d.max_file_mb, d.max_text_mb, d.chunk_chars, d.chunk_overlap, d.ingest_threads,
            d.ocr ? "on" : "off", d.ocr_languages,
            d.search_k, d.max_chunks_per_doc, d.busy_timeout_ms, d.answer_k, d.context_tokens,
            d.max_tokens, d.answer_threads, d.sequences, d.answer_timeout_s, d.min_relevance, d.chat_template,
            d.web_listen, d.web_threads, d.web_max_upload_mb, d.web_timeout_s,
            d.web_session_hours, d.web_login_failures, d.web_proxy_user_header,
            d.audit_retention_days);
    if (fclose(f) != 0)
        return keep_err_set(err, KEEP_ERR_IO, "cannot write %s", path);
    return KEEP_OK;
}

/* ---- drop folders ------------------------------------------------------------ */

typedef struct {
    int (*fn)(void *ud, const char *folder, const char *collection);
    void *ud;
    keep_err *err;
    char folder[4096], collection[256];
    int have, stop, failed;
} folders_ctx;

static int folder_flush(folders_ctx *c)
{
    if (!c->have || c->stop)
        return 0;
    c->have = 0;
    if (c->fn(c->ud, c->folder, c->collection[0] ? c->collection : "default"))
        c->stop = 1;
    c->collection[0] = '\0';
    return c->stop;
}

static int on_folder_entry(void *user, const char *section, const char *name, const char *value)
{
    folders_ctx *c = user;
    if (c->stop || c->failed || strcmp(section, "folder") != 0)
        return 1;
    if (strcmp(name, "path") == 0) {
        folder_flush(c); /* a new block starts with its path */
        if (!*value || strlen(value) >= sizeof c->folder) {
            keep_err_set(c->err, KEEP_ERR_USAGE, "keep.conf: [folder] path is empty or too long");
            c->failed = 1;
            return 0;
        }
        snprintf(c->folder, sizeof c->folder, "%s", value);
        c->have = 1;
    } else if (strcmp(name, "collection") == 0) {
        if (!*value || strlen(value) > 128) {
            keep_err_set(c->err, KEEP_ERR_USAGE, "keep.conf: a collection name is 1 to 128 characters");
            c->failed = 1;
            return 0;
        }
        snprintf(c->collection, sizeof c->collection, "%s", value);
    }
    return 1;
}

int keep_config_folders(const char *path,
                        int (*fn)(void *ud, const char *folder, const char *collection),
                        void *ud, keep_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? KEEP_OK
                               : keep_err_set(err, KEEP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    folders_ctx *c = keep_calloc(1, sizeof *c);
    if (!c) {
        fclose(f);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    }
    c->fn = fn;
    c->ud = ud;
    c->err = err;
    int line = ini_parse_file(f, on_folder_entry, c);
    fclose(f);
    int rc = KEEP_OK;
    if (c->failed)
        rc = KEEP_ERR_USAGE;
    else if (line != 0)
        rc = keep_err_set(err, KEEP_ERR_USAGE, "keep.conf:%d: syntax error", line);
    else
        folder_flush(c);
    keep_free(c);
    return rc;
}
