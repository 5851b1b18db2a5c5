/* office_util.c — helpers shared by the OOXML and ODF parsers (see
 * office_util.h). Every text read here goes through text/CDATA nodes only:
 * entity references are skipped, never expanded. */
#include "office_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xml_safe.h"

int ingest__ox_is(xmlNodePtr n, const char *nskey, const char *local)
{
    if (!n || n->type != XML_ELEMENT_NODE || !n->name)
        return 0;
    if (strcmp((const char *)n->name, local) != 0)
        return 0;
    if (!nskey)
        return 1;
    return n->ns && n->ns->href && strstr((const char *)n->ns->href, nskey) != NULL;
}

xmlNodePtr ingest__ox_child(xmlNodePtr n, const char *nskey, const char *local)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (ingest__ox_is(c, nskey, local))
            return c;
    return NULL;
}

const char *ingest__ox_attr(xmlNodePtr n, const char *nskey, const char *local, char *buf,
                            size_t cap)
{
    if (!n || n->type != XML_ELEMENT_NODE || cap == 0)
        return NULL;
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        if (!a->name || strcmp((const char *)a->name, local) != 0)
            continue;
        if (nskey) {
            if (!*nskey && a->ns)
                continue;
            if (*nskey &&
                (!a->ns || !a->ns->href || !strstr((const char *)a->ns->href, nskey)))
                continue;
        }
        size_t len = 0;
        for (xmlNodePtr c = a->children; c; c = c->next) {
            if (c->type != XML_TEXT_NODE || !c->content)
                continue;
            size_t l = strlen((const char *)c->content);
            if (l > cap - 1 - len)
                l = cap - 1 - len;
            memcpy(buf + len, c->content, l);
            len += l;
        }
        buf[len] = '\0';
        return buf;
    }
    return NULL;
}

long ingest__ox_attr_long(xmlNodePtr n, const char *nskey, const char *local, long def,
                          long max)
{
    char b[64];
    const char *s = ingest__ox_attr(n, nskey, local, b, sizeof b);
    if (!s)
        return def;
    while (*s == ' ')
        s++;
    if (*s < '0' || *s > '9')
        return def;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno == ERANGE || v > max)
        return max;
    return v;
}

int ingest__ox_text(xmlNodePtr node, keep_buf *out)
{
    /* iterative: the tree is depth-capped, but nothing here needs a stack */
    xmlNodePtr n = node ? node->children : NULL;
    while (n) {
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content) {
            if (keep_buf_puts(out, (const char *)n->content))
                return KEEP_ERR_NOMEM;
        }
        if (n->type == XML_ELEMENT_NODE && n->children) {
            n = n->children;
            continue;
        }
        while (n && !n->next) {
            n = n->parent;
            if (n == node)
                return KEEP_OK;
        }
        if (!n)
            break;
        n = n->next;
    }
    return KEEP_OK;
}

int ingest__ox_load(ingest_zip *z, const char *name, const ingest_limits *lim, xmlDocPtr *out,
                    keep_err *err)
{
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    int rc = ingest__zip_read(z, name, &data, &len, err);
    if (rc)
        return rc;
    keep_err e2 = {0};
    *out = ingest__xml_parse(data, len, lim, &e2);
    keep_free(data);
    if (!*out)
        return keep_err_set(err, e2.code ? e2.code : KEEP_ERR_PARSE, "%s: %s", name, e2.msg);
    return KEEP_OK;
}

int ingest__ox_load_opt(ingest_zip *z, const char *name, const ingest_limits *lim,
                        xmlDocPtr *out, keep_err *err)
{
    keep_err e = {0};
    int rc = ingest__ox_load(z, name, lim, out, &e);
    if (rc == KEEP_ERR_NOMEM || rc == KEEP_ERR_TOOBIG)
        return keep_err_set(err, rc, "%s", e.msg);
    return KEEP_OK;
}

/* ---- relationships ----------------------------------------------------------- */

void ingest__rels_free(ingest__rels *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        keep_free(r->v[i].id);
        keep_free(r->v[i].type);
        keep_free(r->v[i].target);
    }
    keep_free(r->v);
    r->v = NULL;
    r->n = 0;
}

static int rel_cmp(const void *a, const void *b)
{
    const ingest__rel *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

int ingest__rels_load(ingest_zip *z, const char *part, const ingest_limits *lim,
                      ingest__rels *out, keep_err *err)
{
    out->v = NULL;
    out->n = 0;
    keep_buf name = {0};
    const char *slash = strrchr(part, '/');
    size_t dir = slash ? (size_t)(slash - part) + 1 : 0;
    if (keep_buf_append(&name, part, dir) || keep_buf_puts(&name, "_rels/") ||
        keep_buf_puts(&name, part + dir) || keep_buf_puts(&name, ".rels")) {
        keep_buf_free(&name);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    }
    xmlDocPtr x = NULL;
    int rc = ingest__ox_load(z, name.data, lim, &x, err);
    keep_buf_free(&name);
    if (rc == KEEP_ERR_NOTFOUND) {
        keep_err_clear(err);
        return KEEP_OK;
    }
    if (rc)
        return rc;
    xmlNodePtr root = xmlDocGetRootElement(x);
    size_t cap = 0;
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next) {
        if (!ingest__ox_is(c, NULL, "Relationship"))
            continue;
        char id[256], type[512], target[2048], mode[32];
        if (!ingest__ox_attr(c, "", "Id", id, sizeof id) ||
            !ingest__ox_attr(c, "", "Type", type, sizeof type) ||
            !ingest__ox_attr(c, "", "Target", target, sizeof target))
            continue;
        int external = ingest__ox_attr(c, "", "TargetMode", mode, sizeof mode) &&
                       strcmp(mode, "External") == 0;
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            ingest__rel *v = keep_reallocarray(out->v, nc, sizeof *v);
            if (!v)
                goto nomem;
            out->v = v;
            cap = nc;
        }
        const char *t = strrchr(type, '/');
        ingest__rel *r = &out->v[out->n];
        r->id = keep_strdup(id);
        r->type = keep_strdup(t ? t + 1 : type);
        r->target = external ? NULL : ingest__zip_resolve(part, target);
        r->order = out->n;
        if (!r->id || !r->type) {
            keep_free(r->id);
            keep_free(r->type);
            keep_free(r->target);
            goto nomem;
        }
        out->n++;
    }
    xmlFreeDoc(x);
    /* sorted by id (stable on index) so lookups stay logarithmic */
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, rel_cmp);
    return KEEP_OK;
nomem:
    xmlFreeDoc(x);
    ingest__rels_free(out);
    return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
}

const ingest__rel *ingest__rels_id(const ingest__rels *r, const char *id)
{
    size_t lo = 0, hi = r->n;
    while (id && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(r->v[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return id && lo < r->n && strcmp(r->v[lo].id, id) == 0 ? &r->v[lo] : NULL;
}

const ingest__rel *ingest__rels_type(const ingest__rels *r, const char *type)
{
    const ingest__rel *best = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].type, type) == 0 && r->v[i].target &&
            (!best || r->v[i].order < best->order))
            best = &r->v[i];
    return best;
}

/* docProps/core.xml: metadata only, so a broken part is ignored. */
static int core_props(ingest_zip *z, const char *name, const ingest_limits *lim,
                      ingest_doc *doc)
{
    xmlDocPtr x = NULL;
    keep_err e = {0};
    if (ingest__ox_load(z, name, lim, &x, &e))
        return e.code == KEEP_ERR_NOMEM ? KEEP_ERR_NOMEM : KEEP_OK;
    int rc = KEEP_OK;
    keep_buf b = {0};
    xmlNodePtr root = xmlDocGetRootElement(x);
    for (xmlNodePtr c = root ? root->children : NULL; c && !rc; c = c->next) {
        int title = ingest__ox_is(c, OX_DC, "title");
        int author = ingest__ox_is(c, OX_DC, "creator");
        if (!title && !author)
            continue;
        keep_buf_reset(&b);
        if ((rc = ingest__ox_text(c, &b)) || !b.len)
            continue;
        if (title)
            rc = ingest_doc_title(doc, b.data, b.len, 1);
        else
            rc = ingest_doc_meta(doc, "Author", b.data);
    }
    keep_buf_free(&b);
    xmlFreeDoc(x);
    return rc;
}

int ingest__ooxml_main(ingest_zip *z, const ingest_limits *lim, const char *fallback,
                       char **main_part, ingest_doc *doc, keep_err *err)
{
    *main_part = NULL;
    ingest__rels rels;
    int rc = ingest__rels_load(z, "", lim, &rels, err);
    if (rc)
        return rc;
    const ingest__rel *m = ingest__rels_type(&rels, "officeDocument");
    const ingest__rel *core = ingest__rels_type(&rels, "core-properties");
    *main_part = keep_strdup(m && ingest__zip_has(z, m->target) ? m->target : fallback);
    rc = core_props(z, core ? core->target : "docProps/core.xml", lim, doc);
    ingest__rels_free(&rels);
    if (!*main_part || rc) {
        keep_free(*main_part);
        *main_part = NULL;
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    }
    if (!ingest__zip_has(z, *main_part)) {
        rc = keep_err_set(err, KEEP_ERR_PARSE, "not an Office document: %s is missing",
                          *main_part);
        keep_free(*main_part);
        *main_part = NULL;
    }
    return rc;
}

/* ---- tables ---------------------------------------------------------------- */

int ingest__append_norm(keep_buf *out, const char *s, size_t len)
{
    int pending = 0;
    size_t start = out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            pending = out->len > start;
            continue;
        }
        if (pending && keep_buf_putc(out, ' '))
            return KEEP_ERR_NOMEM;
        pending = 0;
        if (keep_buf_putc(out, (char)c))
            return KEEP_ERR_NOMEM;
    }
    return KEEP_OK;
}

void ingest__tab_init(ingest__table *t, size_t max_text)
{
    memset(t, 0, sizeof *t);
    t->max_text = max_text;
}

static void free_headers(ingest__table *t)
{
    for (size_t i = 0; i < t->n_headers; i++)
        keep_free(t->headers[i]);
    keep_free(t->headers);
    t->headers = NULL;
    t->n_headers = 0;
    t->have_header = 0;
}

void ingest__tab_free(ingest__table *t)
{
    free_headers(t);
    keep_buf_free(&t->text);
    keep_free(t->cells);
    size_t max = t->max_text;
    memset(t, 0, sizeof *t);
    t->max_text = max;
}

void ingest__tab_reset_header(ingest__table *t) { free_headers(t); }

int ingest__tab_cell(ingest__table *t, size_t col, size_t span, const char *s, size_t len)
{
    if (col >= INGEST_TAB_MAX_COLS)
        return KEEP_OK;
    if (span < 1)
        span = 1;
    if (span > INGEST_TAB_MAX_COLS - col)
        span = INGEST_TAB_MAX_COLS - col;
    size_t off = t->text.len;
    if (t->max_text && (len > t->max_text || off > t->max_text - len))
        return KEEP_ERR_TOOBIG; /* one row longer than a whole document may be */
    if (ingest__append_norm(&t->text, s, len))
        return KEEP_ERR_NOMEM;
    if (t->text.len == off)
        return KEEP_OK;
    if (t->n_cells == t->cap_cells) {
        size_t nc = t->cap_cells ? t->cap_cells * 2 : 16;
        ingest__cell *c = keep_reallocarray(t->cells, nc, sizeof *c);
        if (!c)
            return KEEP_ERR_NOMEM;
        t->cells = c;
        t->cap_cells = nc;
    }
    ingest__cell *c = &t->cells[t->n_cells++];
    c->col = col;
    c->span = span;
    c->off = off;
    c->len = t->text.len - off;
    return KEEP_OK;
}

static int set_header(ingest__table *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n_cells; i++)
        if (t->cells[i].col + t->cells[i].span > n)
            n = t->cells[i].col + t->cells[i].span;
    t->headers = keep_calloc(n, sizeof *t->headers);
    if (!t->headers)
        return KEEP_ERR_NOMEM;
    t->n_headers = n;
    t->have_header = 1;
    for (size_t i = 0; i < t->n_cells; i++) {
        const ingest__cell *c = &t->cells[i];
        for (size_t k = c->col; k < c->col + c->span && k < n; k++) {
            if (t->headers[k])
                continue;
            t->headers[k] = keep_strndup(t->text.data + c->off, c->len);
            if (!t->headers[k])
                return KEEP_ERR_NOMEM;
        }
    }
    return KEEP_OK;
}

int ingest__tab_row(ingest__table *t, ingest_doc *doc, int *emitted)
{
    int rc = KEEP_OK;
    if (emitted)
        *emitted = 0;
    if (!t->n_cells)
        goto out;
    if (!t->have_header && t->n_cells == 1) {
        /* a lone cell above the header is a caption ("Q3 inventory"), not
         * the name of column A */
        rc = ingest_doc_text(doc, t->text.data + t->cells[0].off, t->cells[0].len);
    } else if (!t->have_header) {
        if ((rc = set_header(t)))
            goto out;
        for (size_t i = 0; i < t->n_cells && !rc; i++) {
            if (i)
                rc = ingest_doc_puts(doc, " | ");
            if (!rc)
                rc = ingest_doc_text(doc, t->text.data + t->cells[i].off, t->cells[i].len);
        }
    } else {
        for (size_t i = 0; i < t->n_cells && !rc; i++) {
            const ingest__cell *c = &t->cells[i];
            const char *h = c->col < t->n_headers ? t->headers[c->col] : NULL;
            if (i)
                rc = ingest_doc_puts(doc, "; ");
            if (!rc && h && *h && !(rc = ingest_doc_puts(doc, h)))
                rc = ingest_doc_puts(doc, ": ");
            if (!rc)
                rc = ingest_doc_text(doc, t->text.data + c->off, c->len);
        }
    }
    if (!rc)
        rc = ingest_doc_line(doc);
    if (!rc && emitted)
        *emitted = 1;
out:
    t->n_cells = 0;
    keep_buf_reset(&t->text);
    return rc;
}

int ingest__tab_end(ingest__table *t, ingest_doc *doc)
{
    int rc = KEEP_OK;
    if (t->n_cells)
        rc = ingest__tab_row(t, doc, NULL);
    ingest__tab_free(t);
    if (!rc)
        rc = ingest_doc_para(doc);
    return rc;
}

int ingest__notes_flush(ingest__notes *notes, ingest_doc *doc)
{
    int rc = KEEP_OK;
    if (notes->text.len) {
        rc = ingest_doc_heading(doc, 1, "Footnotes", 9);
        const char *p = notes->text.data, *end = p + notes->text.len;
        while (!rc && p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
            rc = ingest_doc_text(doc, p, l);
            if (!rc)
                rc = ingest_doc_line(doc);
            p += l + 1;
        }
        if (!rc)
            rc = ingest_doc_para(doc);
    }
    keep_buf_free(&notes->text);
    notes->count = 0;
    return rc;
}

int ingest__office_done(int rc, ingest_doc *doc, keep_err *err)
{
    if (!rc)
        rc = ingest_doc_finish(doc);
    if (rc && err && (!err->msg[0] || err->code != rc)) {
        if (rc == KEEP_ERR_TOOBIG)
            keep_err_set(err, rc, "document text exceeds the configured limit");
        else
            keep_err_set(err, rc, "%s", keep_strerror(rc));
    }
    return rc;
}
