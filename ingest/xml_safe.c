/* xml_safe.c — hardened libxml2 entry points (see xml_safe.h). */
#include "xml_safe.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <limits.h>
#include <pthread.h>

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* Refuses every external resource: a document never makes Keep open a file
 * or a URL, whatever its DOCTYPE or XInclude says. */
static xmlParserInputPtr refuse_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    (void)url;
    (void)id;
    (void)ctxt;
    return NULL;
}

/* libxml2 prints parse errors on stderr by default; document text must not
 * reach logs, so errors are swallowed and reported as one line by us. */
static void silent_error(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void xml_setup(void)
{
    xmlInitParser();
    xmlSetExternalEntityLoader(refuse_loader);
    xmlSetGenericErrorFunc(NULL, silent_error);
}

unsigned ingest__xml_depth(xmlNodePtr node, unsigned cap)
{
    /* iterative walk: recursion on hostile depth is what we guard against */
    unsigned depth = 0, max = 0;
    xmlNodePtr n = node;
    while (n) {
        if (n->type == XML_ELEMENT_NODE && depth > max) {
            max = depth;
            if (max > cap)
                return max;
        }
        if (n->children && n->type == XML_ELEMENT_NODE) {
            n = n->children;
            depth++;
            continue;
        }
        while (n && !n->next && n != node) {
            n = n->parent;
            depth--;
        }
        if (!n || n == node)
            break;
        n = n->next;
    }
    return max;
}

static xmlDocPtr check_depth(xmlDocPtr doc, const ingest_limits *lim, keep_err *err)
{
    unsigned cap = lim && lim->max_depth ? lim->max_depth : 256;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (root && ingest__xml_depth(root, cap) > cap) {
        xmlFreeDoc(doc);
        keep_err_set(err, KEEP_ERR_TOOBIG, "markup nested deeper than %u levels", cap);
        return NULL;
    }
    return doc;
}

xmlDocPtr ingest__xml_parse(const char *data, size_t len, const ingest_limits *lim,
                            keep_err *err)
{
    pthread_once(&xml_once, xml_setup);
    if (len > INT_MAX) {
        keep_err_set(err, KEEP_ERR_TOOBIG, "XML part of %zu bytes is too large", len);
        return NULL;
    }
    /* No XML_PARSE_NOENT (substitution), DTDLOAD, DTDATTR, XINCLUDE or HUGE:
     * libxml2 then keeps its own amplification and size limits. */
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA |
               XML_PARSE_COMPACT | XML_PARSE_NSCLEAN;
    xmlDocPtr doc = xmlReadMemory(data, (int)len, NULL, NULL, opts);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        if (e && e->line)
            keep_err_set(err, KEEP_ERR_PARSE, "malformed XML at line %d", e->line);
        else
            keep_err_set(err, KEEP_ERR_PARSE, "malformed XML");
        return NULL;
    }
    return check_depth(doc, lim, err);
}

xmlDocPtr ingest__html_parse(const char *data, size_t len, const ingest_limits *lim,
                             keep_err *err)
{
    pthread_once(&xml_once, xml_setup);
    if (len > INT_MAX) {
        keep_err_set(err, KEEP_ERR_TOOBIG, "HTML of %zu bytes is too large", len);
        return NULL;
    }
    int opts = HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_RECOVER |
               HTML_PARSE_COMPACT;
    htmlDocPtr doc = htmlReadMemory(data, (int)len, NULL, NULL, opts);
    if (!doc) {
        keep_err_set(err, KEEP_ERR_PARSE, "unreadable HTML");
        return NULL;
    }
    return check_depth(doc, lim, err);
}
