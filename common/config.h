/* config.h — keep.conf: every tunable of Keep with its default. The README
 * documents each key; keep_config_defaults() is the single place defaults
 * live, so the docs test can compare the two. Unknown keys are an error (a
 * typo in a security setting must not pass silently). */
#ifndef KEEP_CONFIG_H
#define KEEP_CONFIG_H

#include <stddef.h>

#include "common.h"

typedef struct keep_config {
    /* [ingest] */
    size_t max_file_mb;      /* bigger files are skipped with a reason */
    size_t max_text_mb;      /* extracted text cap per document */
    size_t chunk_chars;      /* target chunk size in characters */
    size_t chunk_overlap;    /* overlap between chunks of one section */
    int ingest_threads;      /* parser threads; 0 = number of cores */
    int ocr;                 /* OCR scanned PDF pages and images (1/0) */
    char ocr_languages[64];  /* Tesseract languages joined by '+' */
    /* [search] */
    int search_k;            /* results by default */
    int max_chunks_per_doc;  /* results per document by default */
    /* [store] */
    int busy_timeout_ms;     /* SQLite busy timeout */
    /* [answer] */
    char model[4096];        /* generative model (GGUF path); "" = extractive answers */
    int answer_k;            /* passages retrieved for an answer */
    size_t context_tokens;   /* token budget of those passages */
    size_t max_tokens;       /* answer length cap */
    int answer_threads;      /* decoder threads per sequence; 0 = physical cores */
    int sequences;           /* answers generated at once */
    int answer_timeout_s;    /* time limit per answer, queue included; 0 = none */
    int min_relevance;       /* percent: below it Keep refuses */
    char chat_template[16];  /* auto (the model's own) or a format name (chatml, llama3, ...) */
    /* [web] */
    char embedding_model[1024];  /* [search] GGUF embedding model; empty: built-in */
    char web_listen[128];        /* ADDR:PORT of keep serve */
    int web_threads;             /* request threads */
    size_t web_max_upload_mb;    /* request body cap for uploads */
    int web_timeout_s;           /* idle connection timeout */
    int web_session_hours;       /* browser session lifetime */
    int web_login_failures;      /* failed logins per user per 15 minutes */
    char web_tls_cert[1024];     /* PEM certificate: HTTPS when set with the key */
    char web_tls_key[1024];      /* PEM private key */
    char web_trusted_proxies[512]; /* addresses whose user header is believed */
    char web_proxy_user_header[128]; /* the reverse proxy's user header */
    /* [audit] */
    int audit_retention_days;    /* audit rows older than this are pruned; 0 = kept forever */
} keep_config;

void keep_config_defaults(keep_config *cfg);
/* Reads path into cfg (defaults for keys not given). A missing file is not an
 * error (defaults stay). Unknown sections/keys and bad values are. */
int keep_config_load(const char *path, keep_config *cfg, keep_err *err);
/* Drop folders declared in keep.conf, one block per folder:
 *     [folder]
 *     path = /srv/drop/hr
 *     collection = hr        (default: default)
 * fn is called once per folder in file order; a non-zero return stops.
 * A missing file means no folders. */
int keep_config_folders(const char *path,
                        int (*fn)(void *ud, const char *folder, const char *collection),
                        void *ud, keep_err *err);

/* Writes a commented keep.conf with the defaults (used on first run). */
int keep_config_write_default(const char *path, keep_err *err);

#endif
