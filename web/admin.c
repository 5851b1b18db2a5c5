/* admin.c — the administrators' endpoints: users and their groups,
 * collection grants, every API token, and the drop folders the server
 * watches. The route table (api.c) lets only admins reach them. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "web_int.h"

static int done(web_req *r, int rc, const keep_err *err, unsigned status)
{
    if (rc)
        return web__keep_error(r, rc, err);
    return web__json(r, status, cJSON_CreateObject());
}

/* ---- users ------------------------------------------------------------------------------------- */

/* Splits "a,b" into a JSON array of strings. */
static cJSON *split_groups(const char *groups)
{
    cJSON *arr = cJSON_CreateArray();
    while (groups && *groups && arr) {
        size_t n = strcspn(groups, ",");
        char *g = keep_strndup(groups, n);
        if (g)
            cJSON_AddItemToArray(arr, cJSON_CreateString(g));
        keep_free(g);
        groups += n;
        if (*groups == ',')
            groups++;
    }
    return arr;
}

static int on_user(void *ud, const char *user, int admin, const char *groups)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", user);
    cJSON_AddBoolToObject(o, "admin", admin);
    cJSON_AddItemToObject(o, "groups", split_groups(groups));
    cJSON_AddItemToArray((cJSON *)ud, o);
    return 0;
}

int web__h_admin_users(web_req *r)
{
    cJSON *arr = cJSON_CreateArray();
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_users_list(web__store(r), on_user, arr, &err);
    if (rc) {
        cJSON_Delete(arr);
        return web__keep_error(r, rc, &err);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "users", arr);
    return web__json(r, 200, o);
}

int web__h_admin_user_add(web_req *r)
{
    cJSON *body = web__body_json(r);
    if (!body)
        return MHD_YES;
    idx_store *s = web__store(r);
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "name"));
    const char *pw = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "password"));
    const cJSON *admin = cJSON_GetObjectItemCaseSensitive(body, "admin");
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(body, "groups");
    keep_err err;
    keep_err_clear(&err);
    int rc = KEEP_OK, exists = 0;
    char generated[21] = "";
    if (!name) {
        rc = keep_err_set(&err, KEEP_ERR_USAGE, "name is required");
        goto out;
    }
    web__audit_target(r, "%s%s", name, cJSON_IsTrue(admin) ? " (admin)" : "");
    if (groups && !cJSON_IsArray(groups)) {
        rc = keep_err_set(&err, KEEP_ERR_USAGE, "groups is an array of names");
        goto out;
    }
    if ((rc = idx_user_exists(s, name, &exists, &err)))
        goto out;
    if (exists) {
        cJSON_Delete(body);
        return web__error(r, 409, "exists", "user '%s' exists", name);
    }
    if (!pw) {
        web_password_generate(generated);
        pw = generated;
    }
    /* check the password before creating anything */
    size_t pl = strlen(pw);
    if (pl < 8 || pl > 1024) {
        rc = keep_err_set(&err, KEEP_ERR_USAGE, "a password is 8 to 1024 bytes");
        goto out;
    }
    if ((rc = idx_user_add(s, name, cJSON_IsTrue(admin), &err)))
        goto out;
    const cJSON *g;
    cJSON_ArrayForEach(g, groups)
    {
        if (!cJSON_IsString(g)) {
            rc = keep_err_set(&err, KEEP_ERR_USAGE, "groups is an array of names");
            break;
        }
        if ((rc = idx_user_join(s, name, g->valuestring, &err)))
            break;
    }
    if (!rc)
        rc = web_user_set_password(s, name, pw, &err);
    if (rc) {
        keep_err e2;
        idx_user_remove(s, name, &e2);
        goto out;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddBoolToObject(o, "admin", cJSON_IsTrue(admin));
    if (generated[0])
        cJSON_AddStringToObject(o, "password", generated);
    cJSON_Delete(body);
    return web__json(r, 201, o);
out:
    cJSON_Delete(body);
    return web__keep_error(r, rc, &err);
}

int web__h_admin_user_remove(web_req *r)
{
    if (strcmp(r->params[0], r->user) == 0)
        return web__error(r, 409, "conflict", "you cannot remove your own account");
    keep_err err;
    keep_err_clear(&err);
    return done(r, idx_user_remove(web__store(r), r->params[0], &err), &err, 200);
}

int web__h_admin_user_password(web_req *r)
{
    cJSON *body = web__body_json(r);
    if (!body)
        return MHD_YES;
    const char *pw = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "password"));
    keep_err err;
    keep_err_clear(&err);
    int rc = pw ? web_user_set_password(web__store(r), r->params[0], pw, &err)
                : keep_err_set(&err, KEEP_ERR_USAGE, "password is required");
    cJSON_Delete(body);
    return done(r, rc, &err, 200);
}

int web__h_admin_user_join(web_req *r)
{
    keep_err err;
    keep_err_clear(&err);
    int exists = 0;
    int rc = idx_user_exists(web__store(r), r->params[0], &exists, &err);
    if (!rc && !exists)
        rc = keep_err_set(&err, KEEP_ERR_NOTFOUND, "no user named '%s'", r->params[0]);
    if (!rc)
        rc = idx_user_join(web__store(r), r->params[0], r->params[1], &err);
    return done(r, rc, &err, 200);
}

int web__h_admin_user_leave(web_req *r)
{
    keep_err err;
    keep_err_clear(&err);
    return done(r, idx_user_leave(web__store(r), r->params[0], r->params[1], &err), &err, 200);
}

/* ---- groups and collections ---------------------------------------------------------------------- */

typedef struct {
    cJSON *groups; /* object: group -> {"users": [...], "collections": [...]} */
} group_ctx;

static cJSON *group_entry(cJSON *groups, const char *g)
{
    cJSON *e = cJSON_GetObjectItemCaseSensitive(groups, g);
    if (!e) {
        e = cJSON_AddObjectToObject(groups, g);
        cJSON_AddArrayToObject(e, "users");
        cJSON_AddArrayToObject(e, "collections");
    }
    return e;
}

static int on_user_groups(void *ud, const char *user, int admin, const char *groups)
{
    group_ctx *c = ud;
    (void)admin;
    cJSON *arr = split_groups(groups), *g;
    cJSON_ArrayForEach(g, arr)
    {
        cJSON *e = group_entry(c->groups, g->valuestring);
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(e, "users"), cJSON_CreateString(user));
    }
    cJSON_Delete(arr);
    return 0;
}

static int on_grant_groups(void *ud, const char *collection, const char *group)
{
    group_ctx *c = ud;
    cJSON *e = group_entry(c->groups, group);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(e, "collections"),
                         cJSON_CreateString(collection));
    return 0;
}

int web__h_admin_groups(web_req *r)
{
    group_ctx c = {cJSON_CreateObject()};
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_users_list(web__store(r), on_user_groups, &c, &err);
    if (!rc)
        rc = idx_grants_list(web__store(r), on_grant_groups, &c, &err);
    if (rc) {
        cJSON_Delete(c.groups);
        return web__keep_error(r, rc, &err);
    }
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "groups"), *g;
    cJSON_ArrayForEach(g, c.groups)
    {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", g->string);
        cJSON_AddItemReferenceToObject(e, "users", cJSON_GetObjectItemCaseSensitive(g, "users"));
        cJSON_AddItemReferenceToObject(e, "collections",
                                       cJSON_GetObjectItemCaseSensitive(g, "collections"));
        cJSON_AddItemToArray(arr, e);
    }
    char *s = cJSON_PrintUnformatted(o); /* print before the referenced items go */
    cJSON_Delete(o);
    cJSON_Delete(c.groups);
    if (!s)
        return web__error(r, 500, "internal", "out of memory");
    int out = web__respond(r, 200, "application/json", s, strlen(s));
    cJSON_free(s);
    return out;
}

typedef struct {
    cJSON *colls; /* object: collection -> {"documents": n, "groups": [...]} */
} coll_admin_ctx;

static int on_coll(void *ud, const char *collection, int64_t docs)
{
    coll_admin_ctx *c = ud;
    cJSON *e = cJSON_AddObjectToObject(c->colls, collection);
    cJSON_AddNumberToObject(e, "documents", (double)docs);
    cJSON_AddArrayToObject(e, "groups");
    return 0;
}

static int on_coll_grant(void *ud, const char *collection, const char *group)
{
    coll_admin_ctx *c = ud;
    cJSON *e = cJSON_GetObjectItemCaseSensitive(c->colls, collection);
    if (e)
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(e, "groups"), cJSON_CreateString(group));
    return 0;
}

int web__h_admin_collections(web_req *r)
{
    coll_admin_ctx c = {cJSON_CreateObject()};
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_collections_list(web__store(r), on_coll, &c, &err);
    if (!rc)
        rc = idx_grants_list(web__store(r), on_coll_grant, &c, &err);
    if (rc) {
        cJSON_Delete(c.colls);
        return web__keep_error(r, rc, &err);
    }
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "collections"), *e;
    cJSON_ArrayForEach(e, c.colls)
    {
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "name", e->string);
        cJSON_AddItemToObject(item, "documents",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(e, "documents"), 1));
        cJSON_AddItemToObject(item, "groups",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(e, "groups"), 1));
        cJSON_AddItemToArray(arr, item);
    }
    cJSON_Delete(c.colls);
    return web__json(r, 200, o);
}

int web__h_admin_grant(web_req *r)
{
    keep_err err;
    keep_err_clear(&err);
    return done(r, idx_collection_grant(web__store(r), r->params[0], r->params[1], &err), &err, 200);
}

int web__h_admin_revoke(web_req *r)
{
    keep_err err;
    keep_err_clear(&err);
    return done(r, idx_collection_revoke(web__store(r), r->params[0], r->params[1], &err), &err,
                200);
}

/* ---- tokens ------------------------------------------------------------------------------------------ */

int web__h_admin_tokens(web_req *r)
{
    cJSON *arr = cJSON_CreateArray();
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_tokens_list(web__store(r), NULL, web__token_item, arr, &err);
    if (rc) {
        cJSON_Delete(arr);
        return web__keep_error(r, rc, &err);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "tokens", arr);
    return web__json(r, 200, o);
}

/* ---- drop folders --------------------------------------------------------------------------------------- */

static int on_folder_item(void *ud, int64_t id, const char *path, const char *collection)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "collection", collection);
    cJSON_AddItemToArray((cJSON *)ud, o);
    return 0;
}

int web__h_admin_folders(web_req *r)
{
    cJSON *arr = cJSON_CreateArray();
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_folders_list(web__store(r), on_folder_item, arr, &err);
    if (rc) {
        cJSON_Delete(arr);
        return web__keep_error(r, rc, &err);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "folders", arr);
    return web__json(r, 200, o);
}

int web__h_admin_folder_add(web_req *r)
{
    cJSON *body = web__body_json(r);
    if (!body)
        return MHD_YES;
    const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "path"));
    const char *coll = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "collection"));
    if (!coll)
        coll = "default";
    if (path)
        web__audit_target(r, "%s -> %s", path, coll);
    size_t cl = strlen(coll);
    if (!path || path[0] != '/' || cl == 0 || cl > WEB_NAME_MAX || !keep_utf8_valid(coll, cl)) {
        cJSON_Delete(body);
        return web__error(r, 400, "bad_request",
                          "give an absolute folder path and a collection of 1 to 128 bytes");
    }
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(path, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cJSON_Delete(body);
        return web__error(r, 400, "bad_request", "not a folder on the server");
    }
    /* the data directory holds the database and uploads: never a drop folder */
    char data_real[PATH_MAX];
    if (realpath(r->srv->data_dir, data_real)) {
        size_t dl = strlen(data_real), rl = strlen(real);
        if ((rl >= dl && strncmp(real, data_real, dl) == 0 && (real[dl] == '/' || !real[dl])) ||
            (dl > rl && strncmp(data_real, real, rl) == 0 && data_real[rl] == '/')) {
            cJSON_Delete(body);
            return web__error(r, 400, "bad_request", "a drop folder cannot hold Keep's data directory");
        }
    }
    keep_err err;
    keep_err_clear(&err);
    int64_t id = 0;
    int rc = idx_folder_add(web__store(r), real, coll, &id, &err);
    if (rc == KEEP_ERR_USAGE) {
        cJSON_Delete(body);
        return web__error(r, 409, "exists", "%s", err.msg);
    }
    if (rc) {
        cJSON_Delete(body);
        return web__keep_error(r, rc, &err);
    }
    web__poke_watcher(r->srv, 1, 0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddStringToObject(o, "path", real);
    cJSON_AddStringToObject(o, "collection", coll);
    cJSON_Delete(body);
    return web__json(r, 201, o);
}

int web__h_admin_folder_remove(web_req *r)
{
    char *end;
    errno = 0;
    long long id = strtoll(r->params[0], &end, 10);
    if (errno || end == r->params[0] || *end || id <= 0)
        return web__error(r, 404, "not_found", "no such drop folder");
    keep_err err;
    keep_err_clear(&err);
    int rc = idx_folder_remove(web__store(r), id, &err);
    if (!rc)
        web__poke_watcher(r->srv, 1, 0);
    return done(r, rc, &err, 200);
}
