/* cmd_audit.c — `keep audit`: reads the audit log the web server writes
 * (who searched, asked, viewed, downloaded, changed what), checks its hash
 * chain, and applies the retention of keep.conf by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "index/idx.h"

static const char audit_usage[] =
    "usage: keep audit [--user U] [--action A] [--since DATE] [--until DATE] [--limit N] [--json]\n"
    "       keep audit verify [--json]\n"
    "       keep audit prune [--days N]\n\n"
    "Lists the audit log, newest first (default 100 rows). DATE is YYYY-MM-DD,\n"
    "YYYY-MM-DDTHH:MM:SSZ (UTC) or seconds since the epoch; --until DAY includes\n"
    "that day. 'verify' recomputes the hash chain and names the first broken row\n"
    "(exit 1 when broken). 'prune' deletes rows older than N days (default:\n"
    "[audit] retention_days of keep.conf; the server also does this daily).\n";

typedef struct {
    int json;
    cJSON *arr;
} list_ctx;

static int on_row(void *ud, int64_t id, const idx_audit_entry *e)
{
    list_ctx *c = ud;
    time_t t = (time_t)e->at;
    struct tm tm;
    char ts[32] = "";
    if (gmtime_r(&t, &tm))
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!c->json) {
        printf("%lld\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s%s%s\n", (long long)id, ts,
               e->user && *e->user ? e->user : "-", e->remote && *e->remote ? e->remote : "-",
               e->action, e->status, e->target ? e->target : "-", e->query ? e->query : "-",
               e->returned ? e->returned : "-", e->cited ? " cited:" : "",
               e->cited ? e->cited : "");
        return 0;
    }
    cJSON *o = idx_audit_entry_json(id, e);
    if (!o)
        return 1;
    cJSON_AddItemToArray(c->arr, o);
    return 0;
}

static int run_verify(idx_store *store, int json)
{
    idx_audit_check c;
    keep_err err;
    keep_err_clear(&err);
    if (idx_audit_verify(store, &c, &err))
        return cli_error(CLI_FAIL, "%s", err.msg);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", c.bad_id == 0);
        cJSON_AddNumberToObject(o, "rows", (double)c.rows);
        cJSON_AddNumberToObject(o, "pruned_through", (double)c.pruned_id);
        if (c.bad_id) {
            cJSON_AddNumberToObject(o, "first_bad_id", (double)c.bad_id);
            cJSON_AddStringToObject(o, "reason", c.reason);
        }
        cli_print_json(o);
    } else if (c.bad_id) {
        printf("audit log BROKEN at row %lld: %s\n", (long long)c.bad_id, c.reason);
    } else {
        printf("audit log intact: %lld rows", (long long)c.rows);
        if (c.pruned_id)
            printf(" (rows up to %lld pruned by retention)", (long long)c.pruned_id);
        printf("\n");
    }
    return c.bad_id ? CLI_FAIL : CLI_OK;
}

static int run_audit(cli_env *env, int argc, char **argv)
{
    idx_audit_filter f = {0};
    int json = 0, verify = 0, prune = 0;
    long days = -1, limit = 100;
    int i = 1;
    if (i < argc && strcmp(argv[i], "verify") == 0)
        verify = 1, i++;
    else if (i < argc && strcmp(argv[i], "prune") == 0)
        prune = 1, i++;
    for (; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (!v)
            return cli_usage_error(&cli_cmd_audit, "unknown option or missing value: %s", a);
        if (!prune && !verify && strcmp(a, "--user") == 0) {
            f.user = v;
        } else if (!prune && !verify && strcmp(a, "--action") == 0) {
            f.action = v;
        } else if (!prune && !verify && strcmp(a, "--since") == 0) {
            if (idx_audit_parse_time(v, 0, &f.since))
                return cli_usage_error(&cli_cmd_audit, "bad date '%s'", v);
        } else if (!prune && !verify && strcmp(a, "--until") == 0) {
            if (idx_audit_parse_time(v, 1, &f.until))
                return cli_usage_error(&cli_cmd_audit, "bad date '%s'", v);
        } else if (!prune && !verify && strcmp(a, "--limit") == 0) {
            if (cli_parse_int(v, 1, 10000, &limit))
                return cli_usage_error(&cli_cmd_audit, "--limit is 1 to 10000");
        } else if (prune && strcmp(a, "--days") == 0) {
            if (cli_parse_int(v, 0, 36500, &days))
                return cli_usage_error(&cli_cmd_audit, "--days is 0 to 36500");
        } else {
            return cli_usage_error(&cli_cmd_audit, "unknown option %s", a);
        }
        i++;
    }
    f.limit = (size_t)limit;
    keep_config cfg;
    idx_store *store = NULL;
    int rc = cli_open(env, 0, &cfg, &store);
    if (rc)
        return rc;
    keep_err err;
    keep_err_clear(&err);
    if (verify) {
        rc = run_verify(store, json);
    } else if (prune) {
        if (days < 0)
            days = cfg.audit_retention_days;
        int64_t n = 0;
        if (days == 0)
            printf("retention is 0 days (keep forever): nothing pruned\n");
        else if (idx_audit_prune(store, (int64_t)time(NULL) - (int64_t)days * 86400, &n, &err))
            rc = cli_error(CLI_FAIL, "%s", err.msg);
        else
            printf("pruned %lld rows older than %ld days\n", (long long)n, days);
    } else {
        list_ctx c = {json, json ? cJSON_CreateArray() : NULL};
        if (idx_audit_list(store, &f, on_row, &c, &err)) {
            cJSON_Delete(c.arr);
            rc = cli_error(CLI_FAIL, "%s", err.msg);
        } else if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "entries", c.arr);
            cli_print_json(o);
        }
    }
    idx_store_close(store);
    return rc;
}

const cli_command cli_cmd_audit = {"audit", "read and verify the audit log", audit_usage, run_audit};
