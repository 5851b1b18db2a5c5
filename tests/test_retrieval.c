/* test_retrieval.c — the retrieval layer end to end on a small corpus: the
 * built-in embedder (deterministic, stable space), each ranking mode, deleted
 * documents, the FAISS cache file (missing, corrupt -> rebuilt), access control
 * before top-k, filters, hostile queries, searches during an ingest, and the
 * context builder. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/idx.h"
#include "retrieve/retr.h"
#include "tap.h"

static char tmpdir[256], db[512], cache[512];

typedef struct {
    const char *coll, *path, *text;
    int64_t mtime_s;
} doc_t;

/* Two collections: "eng" (engineering notes) and "hr" (personnel policies). */
static const doc_t docs[] = {
    {"eng", "eng/turbine.md", "# Turbine blades\n\nTurbine blade cooling uses air bled from the compressor; film cooling holes protect the blade surface from hot gas.", 1600000000},
    {"eng", "eng/wing.md", "# Wing flutter\n\nWing flutter is an aeroelastic instability: the wing bends and twists at a critical airspeed, and flutter tests measure the damping.", 1610000000},
    {"eng", "eng/boundary.md", "# Boundary layer\n\nThe boundary layer over a flat plate becomes turbulent at high Reynolds number; transition depends on surface roughness and pressure gradient.", 1620000000},
    {"eng", "eng/nozzle.md", "# Nozzle flow\n\nSupersonic nozzle flow expands the hot gas; shock waves form in the nozzle when the pressure ratio is wrong.", 1630000000},
    {"eng", "eng/heat.md", "# Heat transfer\n\nHeat transfer to the blade surface at hypersonic speed heats the structure; cooling air and insulation limit the temperature.", 1640000000},
    {"eng", "eng/buckling.md", "# Buckling\n\nThin cylindrical shells buckle under axial compression; buckling loads of shells depend on imperfections.", 1650000000},
    {"hr", "hr/vacation.md", "# Vacation policy\n\nEmployees receive twenty five vacation days per year; unused vacation days carry over until March.", 1660000000},
    {"hr", "hr/parental.md", "# Parental leave\n\nParents receive sixteen weeks of paid parental leave; leave requests go to the personnel office.", 1670000000},
    {"hr", "hr/expenses.md", "# Travel expenses\n\nTravel expenses are reimbursed within thirty days; receipts for hotel and train tickets are required.", 1680000000},
    {"hr", "hr/salary.md", "# Salary review\n\nSalary reviews happen every spring; the personnel office publishes the salary bands.", 1690000000},
};
#define N_DOCS (sizeof docs / sizeof docs[0])

static int put_doc(idx_store *s, const char *coll, const char *path, const char *text,
                   int64_t mtime_s)
{
    ingest_options o;
    ingest_options_default(&o);
    ingest_result *r = NULL;
    keep_err err;
    int rc = ingest_bytes("doc.md", text, strlen(text), &o, &r, &err);
    if (!rc)
        rc = idx_put_document(s, coll, path, r, (int64_t)strlen(text), mtime_s * 1000000000LL,
                              NULL, NULL, &err);
    if (rc)
        printf("# put %s: %s\n", path, err.msg);
    ingest_result_free(r);
    return rc;
}

typedef struct {
    idx_store *s;
    idx_vectors *v;
    idx_embedder *e;
    idx_principal *as;
} env_t;

/* Runs a search; returns the result (caller frees) or NULL. */
static retr_results *search(env_t *en, const char *q, const char *mode, size_t k,
                            const idx_filter *f)
{
    retr_request req = {q, k, mode, en->as, f, 0, en->v, en->e};
    retr_results *r = NULL;
    keep_err err;
    if (retr_search(en->s, &req, &r, &err)) {
        printf("# search [%s] %s: %s\n", q, mode, err.msg);
        return NULL;
    }
    return r;
}

static const char *top_path(env_t *en, const char *q, const char *mode, char *buf, size_t n)
{
    retr_results *r = search(en, q, mode, 5, NULL);
    snprintf(buf, n, "%s", r && retr_results_count(r) ? retr_results_hit(r, 0)->path : "(none)");
    retr_results_free(r);
    return buf;
}

static int any_path_has(retr_results *r, const char *needle)
{
    for (size_t i = 0; r && i < retr_results_count(r); i++)
        if (strstr(retr_results_hit(r, i)->path, needle))
            return 1;
    return 0;
}

static const char *const modes[] = {"bm25", "vector", "hybrid"};

static void test_embedder(idx_store *s, idx_embedder *e)
{
    keep_err err;
    const char *t[] = {"turbine blade cooling air", "turbine blade cooling air"};
    float *v = calloc(2 * e->dim, sizeof *v);
    ASSERT_EQ_INT(e->embed(e, t, 2, 1, v, &err), KEEP_OK, "embed a batch");
    OK(memcmp(v, v + e->dim, e->dim * sizeof *v) == 0, "embedder is deterministic");
    double norm = 0;
    for (size_t i = 0; i < e->dim; i++)
        norm += (double)v[i] * v[i];
    ASSERT_NEAR(norm, 1.0, 1e-4, "embeddings are unit length");
    const char *unknown[] = {"zzzqqq xxyyzz"};
    e->embed(e, unknown, 1, 1, v + e->dim, &err);
    norm = 0;
    for (size_t i = 0; i < e->dim; i++)
        norm += (double)v[e->dim + i] * v[e->dim + i];
    ASSERT_NEAR(norm, 0.0, 1e-12, "unknown words embed to zero");

    /* learning twice on the same corpus gives the same space */
    int64_t id;
    idx_embedder *e1 = NULL, *e2 = NULL;
    float *w = calloc(256, sizeof *w), *w1 = calloc(256, sizeof *w1);
    ASSERT_EQ_INT(idx_builtin_learn(s, &id, &err), KEEP_OK, "learn");
    idx_builtin_open(s, &e1, &err);
    ASSERT_EQ_INT(idx_builtin_learn(s, &id, &err), KEEP_OK, "learn again");
    ASSERT_EQ_INT(idx_builtin_open(s, &e2, &err), KEEP_OK, "open the new model");
    if (e1 && e2 && e2->dim == e1->dim && e1->dim <= 256) {
        e1->embed(e1, t, 1, 1, w1, &err);
        e2->embed(e2, t, 1, 1, w, &err);
        double diff = 0;
        for (size_t i = 0; i < e1->dim; i++)
            diff += fabs((double)w[i] - w1[i]);
        ASSERT_NEAR(diff, 0.0, 1e-3, "learning is deterministic");
    } else {
        OK(0, "same dimension after re-learning");
    }
    idx_embedder_free(e1);
    free(w1);
    OK(e2 && strcmp(e2->name, e->name) != 0, "a new model is a new space name");
    idx_embedder_free(e2);
    free(v);
    free(w);
}

typedef struct {
    const char *db;
    int stop, errors, writes;
} writer_t;

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    idx_store *s = NULL;
    keep_err err;
    if (idx_store_open(w->db, 10000, &s, &err)) {
        w->errors++;
        return NULL;
    }
    for (int i = 0; i < 30 && !w->stop; i++) {
        char path[64], text[256];
        snprintf(path, sizeof path, "eng/extra-%d.md", i % 5);
        snprintf(text, sizeof text, "# Extra %d\n\nCompressor stall note %d: blade vibration at high speed.", i, i);
        if (put_doc(s, "eng", path, text, 1700000000))
            w->errors++;
        if (idx_builtin_refresh(s, NULL, NULL, NULL, NULL, &err)) {
            printf("# writer refresh: %s\n", err.msg);
            w->errors++;
        }
        w->writes++;
    }
    idx_store_close(s);
    return NULL;
}

static void test_context(env_t *en)
{
    keep_err err;
    retr_results *r = search(en, "blade cooling heat", "hybrid", 5, NULL);
    OK(r && retr_results_count(r) >= 3, "results to build a context from");
    if (!r)
        return;
    retr_context *c = NULL;
    ASSERT_EQ_INT(retr_context_build(r, 10000, NULL, NULL, &c, &err), KEEP_OK, "context with a large budget");
    ASSERT_EQ_INT(retr_context_count(c), retr_results_count(r), "every passage fits");
    int numbered = 1;
    for (size_t i = 0; i < retr_context_count(c); i++) {
        const retr_passage *p = retr_context_passage(c, i);
        char tag[32];
        snprintf(tag, sizeof tag, "[%zu] ", i + 1);
        numbered &= p->number == (int)i + 1 && strstr(retr_context_text(c), tag) != NULL;
        numbered &= p->path && p->title && p->end > p->start;
    }
    OK(numbered, "passages numbered [1]..[n] with path, title and offsets");
    const retr_passage *p0 = retr_context_passage(c, 0);
    ASSERT_EQ_STR(p0 ? p0->path : NULL, retr_results_hit(r, 0)->path, "best result first");
    OK(strncmp(retr_context_text(c), "[1] ", 4) == 0, "rendered text starts with [1]");
    size_t sum = 0;
    for (size_t i = 0; i < retr_context_count(c); i++)
        sum += retr_context_passage(c, i)->tokens;
    ASSERT_EQ_INT(retr_context_tokens(c), sum, "total tokens = sum over passages");
    ASSERT_EQ_INT(retr_context_passage(c, 0)->tokens,
                  (strlen(retr_context_text(c)) - strlen(strstr(retr_context_text(c), "[2] ")) + 3) / 4,
                  "default estimate: bytes / 4 of the block");
    /* a budget for exactly the first two passages */
    size_t budget = retr_context_passage(c, 0)->tokens + retr_context_passage(c, 1)->tokens;
    retr_context_free(c);
    ASSERT_EQ_INT(retr_context_build(r, budget, NULL, NULL, &c, &err), KEEP_OK, "context with a small budget");
    OK(retr_context_tokens(c) <= budget, "tokens within the budget");
    OK(retr_context_count(c) >= 2 && retr_context_count(c) < retr_results_count(r),
       "budget keeps fewer passages");
    retr_context_free(c);

    /* a budget below the best passage: it is cut to fit, offsets follow */
    ASSERT_EQ_INT(retr_context_build(r, 20, NULL, NULL, &c, &err), KEEP_OK, "tiny budget");
    ASSERT_EQ_INT(retr_context_count(c), 1, "one cut passage");
    const retr_passage *p = retr_context_passage(c, 0);
    OK(p && p->tokens <= 20 && strlen(p->text) < strlen(retr_results_hit(r, 0)->text),
       "the passage was cut to the budget");
    OK(p && p->end - p->start == (int64_t)strlen(p->text), "end offset follows the cut (ASCII)");
    retr_context_free(c);
    retr_results_free(r);
}

/* Counts whitespace-separated words: a stand-in for a tokenizer. */
static size_t count_words(void *ud, const char *text, size_t len)
{
    size_t *calls = ud, n = 0;
    (*calls)++;
    for (size_t i = 0; i < len; i++)
        if ((i == 0 || text[i - 1] == ' ' || text[i - 1] == '\n') && text[i] != ' ' && text[i] != '\n')
            n++;
    return n;
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/keep-test-retrieval-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    snprintf(db, sizeof db, "%s/keep.db", tmpdir);
    snprintf(cache, sizeof cache, "%s/vectors.faiss", tmpdir);
    keep_err err;
    idx_store *s = NULL;
    ASSERT_EQ_INT(idx_store_open(db, 10000, &s, &err), KEEP_OK, "store opens");
    int ok = 1;
    for (size_t i = 0; i < N_DOCS; i++)
        ok &= put_doc(s, docs[i].coll, docs[i].path, docs[i].text, docs[i].mtime_s) == KEEP_OK;
    OK(ok, "corpus stored");

    int needed = 0;
    idx_builtin_needs_learning(s, &needed, &err);
    ASSERT_EQ_INT(needed, 1, "no model yet: learning needed");
    idx_embedder *e = NULL;
    size_t embedded = 0;
    ASSERT_EQ_INT(idx_builtin_refresh(s, NULL, NULL, &e, &embedded, &err), KEEP_OK, "learn and embed");
    ASSERT_EQ_INT(embedded, N_DOCS, "every chunk embedded");
    if (!e) {
        printf("# %s\n", err.msg);
        return tap_done();
    }
    OK(e->dim > 0 && e->dim <= 256, "a dimension");

    /* the space is stable between re-learnings: new chunks fold in */
    const char *probe[] = {"wing flutter damping"};
    float *before = calloc(e->dim, sizeof(float)), *after = calloc(e->dim, sizeof(float));
    e->embed(e, probe, 1, 1, before, &err);
    put_doc(s, "eng", "eng/fold.md", "# Fold\n\nFlutter of panels at supersonic speed.", 1690000000);
    idx_embedder *e1 = NULL;
    ASSERT_EQ_INT(idx_builtin_refresh(s, NULL, NULL, &e1, &embedded, &err), KEEP_OK, "refresh after a small ingest");
    ASSERT_EQ_INT(embedded, 1, "only the new chunk embedded");
    ASSERT_EQ_STR(e1 ? e1->name : NULL, e->name, "same space: no re-learning below doubling");
    if (e1)
        e1->embed(e1, probe, 1, 1, after, &err);
    OK(memcmp(before, after, e->dim * sizeof(float)) == 0, "same text, same vector after folding in");
    idx_embedder_free(e1);
    free(before);
    free(after);

    idx_principal *admin = NULL;
    idx_principal_admin(&admin, &err);
    idx_vectors *v = NULL;
    ASSERT_EQ_INT(idx_vectors_open(s, cache, &v, &err), KEEP_OK, "vector index opens");
    ASSERT_EQ_STR(v ? idx_vectors_origin(v) : NULL, "rebuilt", "no cache file: rebuilt from SQLite");
    ASSERT_EQ_INT(v ? idx_vectors_count(v) : 0, N_DOCS + 1, "one vector per chunk");
    env_t en = {s, v, e, admin};

    /* each mode finds the right passage */
    char buf[256];
    static const struct { const char *q, *path; } cases[] = {
        {"turbine blade cooling", "eng/turbine.md"},
        {"how many vacation days do employees get", "hr/vacation.md"},
        {"buckling of cylindrical shells under compression", "eng/buckling.md"},
    };
    for (size_t m = 0; m < 3; m++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char what[200];
            snprintf(what, sizeof what, "%s: [%s] -> %s", modes[m], cases[i].q, cases[i].path);
            ASSERT_EQ_STR(top_path(&en, cases[i].q, modes[m], buf, sizeof buf), cases[i].path, what);
        }
    /* vector mode finds by meaning what shares no word with the query */
    retr_results *r = search(&en, "personnel office", "vector", 3, NULL);
    OK(r && any_path_has(r, "hr/"), "vector: related passages of the same topic");
    retr_results_free(r);
    retr_results *rj = search(&en, "turbine blade cooling", "hybrid", 3, NULL);
    cJSON *js = rj ? retr_results_json(rj) : NULL;
    ASSERT_EQ_STR(js ? cJSON_GetObjectItem(js, "mode")->valuestring : NULL, "hybrid", "JSON names the mode");
    cJSON_Delete(js);
    retr_results_free(rj);
    retr_request defreq = {"wing flutter", 3, NULL, admin, NULL, 0, v, e};
    ASSERT_EQ_INT(retr_search(s, &defreq, &r, &err), KEEP_OK, "default mode");
    ASSERT_EQ_STR(r ? retr_results_mode(r) : NULL, "hybrid", "hybrid is the default with vectors");
    retr_results_free(r);
    retr_request nop = {"wing flutter", 3, "bm25", NULL, NULL, 0, NULL, NULL};
    r = NULL;
    ASSERT_EQ_INT(retr_search(s, &nop, &r, &err), KEEP_ERR_USAGE, "no principal: refused");
    retr_request bad = {"wing", 3, "magic", admin, NULL, 0, v, e};
    ASSERT_EQ_INT(retr_search(s, &bad, &r, &err), KEEP_ERR_USAGE, "unknown mode refused");

    test_embedder(s, e);
    /* a re-learned space: the stored vectors are re-made, the old embedder refused */
    idx_embedder *enew = NULL;
    ASSERT_EQ_INT(idx_builtin_refresh(s, NULL, NULL, &enew, &embedded, &err), KEEP_OK, "re-embed in the new space");
    ASSERT_EQ_INT(embedded, N_DOCS + 1, "every chunk re-embedded, none re-parsed");
    r = search(&en, "wing flutter", "vector", 3, NULL);
    OK(r == NULL, "a search with the embedder of an older space is refused");
    retr_results_free(r);
    if (enew) {
        idx_embedder_free(e);
        e = en.e = enew;
    }

    /* hostile queries in every mode */
    static const char *const hostile[] = {"\"", "NEAR(", "*", "-", ":", "title:x", "(", ")",
                                          "AND OR NOT", "'; DROP TABLE chunks; --", "\xff\xfe",
                                          "日本語", "", "   ", "a\"b", "%_", "^", "{}"};
    int all_ok = 1;
    for (size_t m = 0; m < 3; m++)
        for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
            r = search(&en, hostile[i], modes[m], 5, NULL);
            all_ok &= r != NULL;
            retr_results_free(r);
        }
    OK(all_ok, "hostile queries never fail, in every mode");

    /* filters */
    idx_filter f = {0};
    f.collection = "hr";
    int fok = 1;
    for (size_t m = 0; m < 3; m++) {
        r = search(&en, "blade cooling vacation", modes[m], 10, &f);
        fok &= r && retr_results_count(r) > 0 && !any_path_has(r, "eng/");
        retr_results_free(r);
    }
    OK(fok, "collection filter, every mode");
    memset(&f, 0, sizeof f);
    f.path_prefix = "eng/t";
    r = search(&en, "blade cooling vacation heat", "hybrid", 10, &f);
    ASSERT_EQ_INT(r ? retr_results_count(r) : 0, 1, "path prefix filter");
    retr_results_free(r);
    memset(&f, 0, sizeof f);
    f.since_ns = 1640000000LL * 1000000000;
    f.until_ns = 1660000000LL * 1000000000;
    r = search(&en, "blade heat buckling vacation shells", "hybrid", 10, &f);
    int dok = r && retr_results_count(r) == 2 && any_path_has(r, "heat.md") && any_path_has(r, "buckling.md");
    OK(dok, "modified-date range filter (since inclusive, until exclusive)");
    retr_results_free(r);
    memset(&f, 0, sizeof f);
    f.format = "pdf";
    r = search(&en, "blade", "hybrid", 10, &f);
    ASSERT_EQ_INT(r ? retr_results_count(r) : 9, 0, "format filter");
    retr_results_free(r);

    /* access control: alice reads eng, bob reads hr, carol nothing */
    ASSERT_EQ_INT(idx_user_add(s, "alice", 0, &err), KEEP_OK, "add alice");
    idx_user_add(s, "bob", 0, &err);
    idx_user_add(s, "carol", 0, &err);
    ASSERT_EQ_INT(idx_user_join(s, "alice", "engineering", &err), KEEP_OK, "alice joins engineering");
    idx_user_join(s, "bob", "personnel", &err);
    ASSERT_EQ_INT(idx_user_join(s, "nobody", "x", &err), KEEP_ERR_NOTFOUND, "unknown user cannot join");
    idx_collection_grant(s, "eng", "engineering", &err);
    idx_collection_grant(s, "hr", "personnel", &err);
    idx_principal *alice = NULL, *bob = NULL, *carol = NULL, *nobody = NULL;
    idx_principal_load(s, "alice", &alice, &err);
    idx_principal_load(s, "bob", &bob, &err);
    idx_principal_load(s, "carol", &carol, &err);
    ASSERT_EQ_INT(idx_principal_load(s, "mallory", &nobody, &err), KEEP_ERR_NOTFOUND, "unknown user");
    int acl_ok = 1, k_ok = 1, carol_ok = 1;
    for (size_t m = 0; m < 3; m++) {
        en.as = alice;
        /* the query is all about hr: alice must still get k eng passages */
        r = search(&en, "vacation days parental leave salary personnel", modes[m], 3, NULL);
        acl_ok &= r && !any_path_has(r, "hr/");
        if (strcmp(modes[m], "bm25") != 0) /* bm25 only ranks chunks with a query word */
            k_ok &= r && retr_results_count(r) == 3;
        retr_results_free(r);
        r = search(&en, "blade cooling", modes[m], 10, NULL);
        acl_ok &= r && !any_path_has(r, "hr/") && retr_results_count(r) > 0;
        retr_results_free(r);
        en.as = bob;
        r = search(&en, "turbine blade cooling wing flutter", modes[m], 3, NULL);
        acl_ok &= r && !any_path_has(r, "eng/");
        if (strcmp(modes[m], "bm25") != 0)
            k_ok &= r && retr_results_count(r) == 3;
        retr_results_free(r);
        en.as = carol;
        r = search(&en, "turbine vacation", modes[m], 3, NULL);
        carol_ok &= r && retr_results_count(r) == 0;
        retr_results_free(r);
    }
    OK(acl_ok, "a user never sees a collection only another group reads (every mode)");
    OK(k_ok, "restricted users still get k results when k permitted ones exist");
    OK(carol_ok, "a user with no granted group sees nothing");
    /* bm25 with k permitted matches: the filter is inside the ranked query */
    en.as = alice;
    r = search(&en, "blade flutter nozzle vacation salary expenses parental", "bm25", 3, NULL);
    ASSERT_EQ_INT(r ? retr_results_count(r) : 0, 3, "bm25: k permitted results despite better hr matches");
    retr_results_free(r);
    idx_collection_grant(s, "hr", "everyone", &err);
    idx_principal_free(carol);
    idx_principal_load(s, "carol", &carol, &err);
    en.as = carol;
    r = search(&en, "vacation days", "hybrid", 3, NULL);
    OK(r && any_path_has(r, "hr/vacation.md") && !any_path_has(r, "eng/"), "grant to everyone");
    retr_results_free(r);

    /* the cached access bitmaps follow the database: the same principal
     * object, searching again after each change, sees it on the next query */
    en.as = alice;
    idx_permitted pm;
    ASSERT_EQ_INT(idx_permitted_get(s, alice, NULL, &pm, &err), KEEP_OK, "alice's permitted chunks");
    size_t alice_chunks = pm.count;
    r = search(&en, "ornithopter gearbox flapping", "bm25", 5, NULL);
    int orni_before = !r || any_path_has(r, "ornithopter");
    retr_results_free(r);
    put_doc(s, "eng", "eng/ornithopter.md",
            "# Ornithopter\n\nFlapping wing ornithopter gearbox with a crank linkage.", 1650000000);
    put_doc(s, "legal", "legal/ornithopter-policy.md",
            "# Ornithopter policy\n\nOrnithopter gearbox purchases need flapping approval.", 1650000000);
    idx_builtin_refresh(s, NULL, NULL, NULL, NULL, &err);
    idx_permitted_get(s, alice, NULL, &pm, &err);
    ASSERT_EQ_INT((long)pm.count, (long)alice_chunks + 1, "one more permitted chunk after the eng document");
    int seen = 1, hr_hidden = 1;
    int64_t orni_doc = 0;
    for (size_t m = 0; m < 3; m++) {
        r = search(&en, "ornithopter gearbox flapping", modes[m], 5, NULL);
        if (strcmp(modes[m], "vector") != 0) /* the learned space has not seen the new words */
            seen &= r && any_path_has(r, "eng/ornithopter.md");
        hr_hidden &= r && !any_path_has(r, "legal/");
        for (size_t i = 0; r && i < retr_results_count(r); i++)
            if (strstr(retr_results_hit(r, i)->path, "eng/ornithopter.md"))
                orni_doc = retr_results_hit(r, i)->doc_id;
        retr_results_free(r);
    }
    OK(!orni_before && seen, "a chunk added after a first query is found by the next (bm25, hybrid)");
    OK(hr_hidden, "a chunk added to an unreadable collection stays hidden (every mode)");
    ASSERT_EQ_INT(idx_doc_remove(s, orni_doc, &err), KEEP_OK, "remove the new document");
    int gone = 1;
    for (size_t m = 0; m < 3; m++) {
        r = search(&en, "ornithopter gearbox flapping", modes[m], 5, NULL);
        gone &= r && !any_path_has(r, "eng/ornithopter.md");
        retr_results_free(r);
    }
    OK(gone, "a chunk removed after a query is gone from the next (every mode)");
    ASSERT_EQ_INT(idx_collection_revoke(s, "eng", "engineering", &err), KEEP_OK, "revoke eng from engineering");
    int revoked = 1;
    for (size_t m = 0; m < 3; m++) {
        r = search(&en, "turbine blade cooling wing flutter", modes[m], 5, NULL);
        revoked &= r && !any_path_has(r, "eng/");
        retr_results_free(r);
    }
    OK(revoked, "a revoked group right takes effect on the next query (every mode)");
    idx_collection_grant(s, "eng", "engineering", &err);
    r = search(&en, "turbine blade cooling", "hybrid", 5, NULL);
    OK(r && any_path_has(r, "eng/"), "granted again: seen again");
    retr_results_free(r);
    idx_user_leave(s, "alice", "engineering", &err);
    r = search(&en, "turbine blade cooling", "hybrid", 5, NULL);
    OK(r && !any_path_has(r, "eng/"), "a user who left the group loses its collections on the next query");
    retr_results_free(r);
    idx_user_join(s, "alice", "engineering", &err);
    en.as = admin;

    /* deleted documents are never returned (the open index catches up) */
    int64_t turbine_id = 0;
    r = search(&en, "turbine blade cooling", "bm25", 1, NULL);
    if (r && retr_results_count(r))
        turbine_id = retr_results_hit(r, 0)->doc_id;
    retr_results_free(r);
    ASSERT_EQ_INT(idx_doc_remove(s, turbine_id, &err), KEEP_OK, "remove the turbine document");
    int del_ok = 1;
    for (size_t m = 0; m < 3; m++) {
        r = search(&en, "turbine blade cooling", modes[m], 20, NULL);
        del_ok &= r && !any_path_has(r, "turbine");
        retr_results_free(r);
    }
    OK(del_ok, "a deleted document is never returned (every mode)");
    /* replaced: the old chunk's id is gone, the new text is found */
    put_doc(s, "eng", "eng/nozzle.md", "# Nozzle flow\n\nConvergent divergent nozzle design with ablative throat liners.", 1630000000);
    idx_builtin_refresh(s, NULL, NULL, NULL, NULL, &err);
    r = search(&en, "ablative throat liners", "hybrid", 3, NULL);
    OK(r && retr_results_count(r) > 0 && strstr(retr_results_hit(r, 0)->text, "ablative"),
       "a replaced document is found by its new text");
    retr_results_free(r);

    /* the FAISS cache: saved, loaded, and rebuilt when missing or corrupt */
    retr_results *ref = search(&en, "supersonic flow shock", "vector", 5, NULL);
    idx_vectors_close(v);
    v = NULL;
    ASSERT_EQ_INT(idx_vectors_open(s, cache, &v, &err), KEEP_OK, "reopen");
    en.v = v;
    ASSERT_EQ_STR(v ? idx_vectors_origin(v) : NULL, "loaded", "cache file loaded");
    FILE *fp = fopen(cache, "r+b");
    if (fp) {
        fseek(fp, 100, SEEK_SET);
        fputs("garbage garbage garbage", fp);
        fclose(fp);
    }
    idx_vectors_close(v);
    ASSERT_EQ_INT(idx_vectors_open(s, cache, &v, &err), KEEP_OK, "open with a corrupt cache");
    en.v = v;
    ASSERT_EQ_STR(v ? idx_vectors_origin(v) : NULL, "rebuilt", "corrupt cache: rebuilt");
    r = search(&en, "supersonic flow shock", "vector", 5, NULL);
    int same = r && ref && retr_results_count(r) == retr_results_count(ref);
    for (size_t i = 0; same && i < retr_results_count(r); i++)
        same = retr_results_hit(r, i)->chunk_id == retr_results_hit(ref, i)->chunk_id;
    OK(same, "same results after the rebuild");
    retr_results_free(r);
    idx_vectors_close(v);
    unlink(cache);
    ASSERT_EQ_INT(idx_vectors_open(s, cache, &v, &err), KEEP_OK, "open with the cache removed");
    en.v = v;
    ASSERT_EQ_STR(v ? idx_vectors_origin(v) : NULL, "rebuilt", "missing cache: rebuilt");
    r = search(&en, "supersonic flow shock", "vector", 5, NULL);
    same = r && ref && retr_results_count(r) == retr_results_count(ref);
    for (size_t i = 0; same && i < retr_results_count(r); i++)
        same = retr_results_hit(r, i)->chunk_id == retr_results_hit(ref, i)->chunk_id;
    OK(same, "same results after the rebuild (missing file)");
    retr_results_free(r);
    retr_results_free(ref);

    test_context(&en);
    {
        size_t calls = 0;
        r = search(&en, "blade cooling heat", "hybrid", 5, NULL);
        retr_context *c = NULL;
        ASSERT_EQ_INT(retr_context_build(r, 40, count_words, &calls, &c, &err), KEEP_OK, "context with a tokenizer callback");
        OK(calls > 0, "the callback counts the tokens");
        OK(c && retr_context_tokens(c) <= 40 && retr_context_count(c) >= 1, "word budget respected");
        retr_context_free(c);
        retr_results_free(r);
    }

    /* searches while another thread ingests (WAL, busy timeout) */
    writer_t w = {db, 0, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &w);
    int failures = 0, searches = 0;
    while (searches < 400) {
        r = search(&en, "compressor blade vibration", modes[searches % 3], 5, NULL);
        failures += r == NULL;
        retr_results_free(r);
        searches++;
        if (w.writes >= 30)
            break;
    }
    pthread_join(th, NULL);
    ASSERT_EQ_INT(w.errors, 0, "the writer never failed");
    ASSERT_EQ_INT(failures, 0, "no search failed during the ingest");
    r = search(&en, "compressor stall blade vibration", "hybrid", 3, NULL);
    OK(r && any_path_has(r, "extra-"), "what was ingested is found afterwards");
    retr_results_free(r);

    idx_principal_free(alice);
    idx_principal_free(bob);
    idx_principal_free(carol);
    idx_principal_free(admin);
    idx_vectors_close(v);
    idx_embedder_free(e);
    idx_store_close(s);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpdir);
    return tap_done();
}
