/*
 * vmfence - agents/xenapi/xmlrpc.c: XML-RPC encoder and decoder (see
 * xmlrpc.h).  Requests are built with libxml2's text writer, so every
 * string is escaped; responses are parsed into a tree (libxml2, no
 * network, no entity substitution, no DTD) and converted with explicit
 * limits on depth and on the number of values.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>

#include "xmlrpc.h"

/* the items of an array or struct (n of them), and a struct's names */
static void
free_items(struct vf_xr_value *v)
{
    for (size_t i = 0; i < v->n; i++) {
        vf_xr_free(v->items[i]);
        if (v->names != NULL) {
            free(v->names[i]);
        }
    }
    free(v->items);
    free(v->names);
}

struct vf_xr_value *
vf_xr_free(struct vf_xr_value *v)
{
    if (v != NULL) {
        free_items(v);
        free(v->s);
        free(v);
    }
    return NULL;
}

/* ---- encoder ---------------------------------------------------------- */

static int
write_param(xmlTextWriterPtr w, const struct vf_xr_param *p)
{
    char num[32];

    if (xmlTextWriterStartElement(w, BAD_CAST "param") < 0
        || xmlTextWriterStartElement(w, BAD_CAST "value") < 0) {
        return -ENOMEM;
    }
    switch (p->type) {
    case VF_XR_STRING:
        if (p->s == NULL
            || xmlTextWriterWriteElement(w, BAD_CAST "string", BAD_CAST p->s) < 0) {
            return p->s == NULL ? -EINVAL : -ENOMEM;
        }
        break;
    case VF_XR_BOOL:
        if (xmlTextWriterWriteElement(w, BAD_CAST "boolean",
                                      BAD_CAST (p->b ? "1" : "0")) < 0) {
            return -ENOMEM;
        }
        break;
    case VF_XR_INT:
        snprintf(num, sizeof(num), "%" PRId64, p->i);
        if (xmlTextWriterWriteElement(w, BAD_CAST "i8", BAD_CAST num) < 0) {
            return -ENOMEM;
        }
        break;
    default:
        return -EINVAL;
    }
    if (xmlTextWriterEndElement(w) < 0 || xmlTextWriterEndElement(w) < 0) {
        return -ENOMEM;
    }
    return 0;
}

/**
 * \brief Encode a method call (see xmlrpc.h).
 * \return 0, -EINVAL or -ENOMEM
 */
int
vf_xr_encode_call(const char *method, const struct vf_xr_param *params, size_t n,
                  char **ret_xml, size_t *ret_len)
{
    xmlBufferPtr buf = NULL;
    xmlTextWriterPtr w = NULL;
    char *out = NULL;
    int r = -ENOMEM;

    if (method == NULL || (n > 0 && params == NULL)) {
        return -EINVAL;
    }
    buf = xmlBufferCreate();
    w = buf != NULL ? xmlNewTextWriterMemory(buf, 0) : NULL;
    if (w == NULL) {
        goto cleanup;
    }
    if (xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL) < 0
        || xmlTextWriterStartElement(w, BAD_CAST "methodCall") < 0
        || xmlTextWriterWriteElement(w, BAD_CAST "methodName", BAD_CAST method) < 0
        || xmlTextWriterStartElement(w, BAD_CAST "params") < 0) {
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        r = write_param(w, &params[i]);
        if (r < 0) {
            goto cleanup;
        }
    }
    r = -ENOMEM;
    if (xmlTextWriterEndDocument(w) < 0) {
        goto cleanup;
    }
    xmlFreeTextWriter(w);
    w = NULL;
    out = strdup((const char *)xmlBufferContent(buf));
    if (out == NULL) {
        goto cleanup;
    }
    *ret_len = strlen(out);
    *ret_xml = out;
    r = 0;

 cleanup:
    if (w != NULL) {
        xmlFreeTextWriter(w);
    }
    if (buf != NULL) {
        /* the buffer may hold a password */
        if (buf->content != NULL) {
            explicit_bzero(buf->content, buf->use);
        }
        xmlBufferFree(buf);
    }
    return r;
}

/* ---- decoder ---------------------------------------------------------- */

struct dec {
    unsigned int values;
    char *err;
    size_t err_len;
};

__attribute__((format(printf, 2, 3)))
static int
dec_fail(struct dec *d, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(d->err, d->err_len, fmt, ap);
    va_end(ap);
    return -EPROTO;
}

static bool
is_elem(const xmlNode *n, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0;
}

static bool
is_blank_text(const xmlNode *n)
{
    if (n->type == XML_COMMENT_NODE) {
        return true;
    }
    if (n->type != XML_TEXT_NODE) {
        return false;
    }
    for (const xmlChar *p = n->content; p != NULL && *p != '\0'; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            return false;
        }
    }
    return true;
}

/* the only element child of @n (blank text and comments skipped), or NULL */
static xmlNode *
only_child(const xmlNode *n, bool *ret_other)
{
    xmlNode *found = NULL;

    *ret_other = false;
    for (xmlNode *c = n->children; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            if (found != NULL) {
                *ret_other = true;
            }
            found = c;
        } else if (!is_blank_text(c)) {
            *ret_other = true;
        }
    }
    return found;
}

/* text content of an element without element children (malloc'ed) */
static char *
text_of(const xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *s = strdup(t != NULL ? (const char *)t : "");

    xmlFree(t);
    return s;
}

static int decode_value(struct dec *d, const xmlNode *n, unsigned int depth,
                        struct vf_xr_value **ret);

static int
add_item(struct vf_xr_value *v, struct vf_xr_value *item, char *name)
{
    struct vf_xr_value **items = realloc(v->items, (v->n + 1) * sizeof(*items));

    if (items == NULL) {
        return -ENOMEM;
    }
    v->items = items;
    if (v->type == VF_XR_STRUCT) {
        char **names = realloc(v->names, (v->n + 1) * sizeof(*names));

        if (names == NULL) {
            return -ENOMEM;
        }
        v->names = names;
        v->names[v->n] = name;
    }
    v->items[v->n++] = item;
    return 0;
}

/* Decode the <value> @n one level below @depth and append it to @v under
 * @name (a struct member's, or NULL): taken on success, freed on failure. */
static int
decode_item(struct dec *d, const xmlNode *n, unsigned int depth, struct vf_xr_value *v,
            char *name)
{
    struct vf_xr_value *item = NULL;
    int r = decode_value(d, n, depth + 1, &item);

    if (r == 0) {
        r = add_item(v, item, name);
    }
    if (r < 0) {
        vf_xr_free(item);
        free(name);
    }
    return r;
}

/* what decode_children() does with each child */
typedef int decode_child_fn(struct dec *d, const xmlNode *c, unsigned int depth,
                            struct vf_xr_value *v);

/* Every element child of @parent must be a <@child> (blank text and comments
 * skipped): @fn adds each to @v. */
static int
decode_children(struct dec *d, const xmlNode *parent, const char *child, unsigned int depth,
                struct vf_xr_value *v, decode_child_fn *fn)
{
    for (xmlNode *c = parent->children; c != NULL; c = c->next) {
        int r;

        if (is_blank_text(c)) {
            continue;
        }
        if (!is_elem(c, child)) {
            return dec_fail(d, "unexpected node in <%s>", (const char *)parent->name);
        }
        r = fn(d, c, depth, v);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* a <value> of an array's <data> */
static int
decode_element(struct dec *d, const xmlNode *c, unsigned int depth, struct vf_xr_value *v)
{
    return decode_item(d, c, depth, v, NULL);
}

static int
decode_array(struct dec *d, const xmlNode *n, unsigned int depth, struct vf_xr_value *v)
{
    bool other;
    xmlNode *data = only_child(n, &other);

    if (!is_elem(data, "data") || other) {
        return dec_fail(d, "<array> without a single <data>");
    }
    return decode_children(d, data, "value", depth, v, decode_element);
}

static int
decode_member(struct dec *d, const xmlNode *m, unsigned int depth, struct vf_xr_value *v)
{
    const xmlNode *name = NULL, *value = NULL;
    char *s = NULL;

    for (xmlNode *c = m->children; c != NULL; c = c->next) {
        if (is_elem(c, "name") && name == NULL) {
            name = c;
        } else if (is_elem(c, "value") && value == NULL) {
            value = c;
        } else if (!is_blank_text(c)) {
            return dec_fail(d, "unexpected node in <member>");
        }
    }
    if (name == NULL || value == NULL) {
        return dec_fail(d, "<member> without <name> and <value>");
    }
    s = text_of(name);
    if (s == NULL) {
        return -ENOMEM;
    }
    return decode_item(d, value, depth, v, s);
}

/* a scalar typed element into @v */
static int
decode_scalar(struct dec *d, const xmlNode *t, struct vf_xr_value *v)
{
    char *s = text_of(t), *end = NULL;
    const char *name = (const char *)t->name;
    int r = 0;

    if (s == NULL) {
        return -ENOMEM;
    }
    if (strcmp(name, "string") == 0 || strcmp(name, "dateTime.iso8601") == 0
        || strcmp(name, "base64") == 0) {
        v->type = name[0] == 's' ? VF_XR_STRING : name[0] == 'd' ? VF_XR_DATETIME
                                                                  : VF_XR_BASE64;
        v->s = s;
        return 0;
    }
    errno = 0;
    if (strcmp(name, "int") == 0 || strcmp(name, "i4") == 0 || strcmp(name, "i8") == 0) {
        v->type = VF_XR_INT;
        v->i = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0') {
            r = dec_fail(d, "bad <%s> value", name);
        }
    } else if (strcmp(name, "boolean") == 0) {
        v->type = VF_XR_BOOL;
        v->b = strcmp(s, "1") == 0;
        if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0) {
            r = dec_fail(d, "bad <boolean> value");
        }
    } else if (strcmp(name, "double") == 0) {
        v->type = VF_XR_DOUBLE;
        v->d = strtod(s, &end);
        if (end == s || *end != '\0' || !isfinite(v->d)) {
            r = dec_fail(d, "bad <double> value");
        }
    } else if (strcmp(name, "nil") == 0) {
        v->type = VF_XR_NIL;
    } else {
        r = dec_fail(d, "unknown XML-RPC type <%.40s>", name);
    }
    free(s);
    return r;
}

static int
decode_value(struct dec *d, const xmlNode *n, unsigned int depth, struct vf_xr_value **ret)
{
    struct vf_xr_value *v = NULL;
    xmlNode *t;
    bool other;
    int r;

    if (depth > VF_XR_MAX_DEPTH) {
        return dec_fail(d, "values nested deeper than %u", VF_XR_MAX_DEPTH);
    }
    if (++d->values > VF_XR_MAX_VALUES) {
        return dec_fail(d, "more than %u values", VF_XR_MAX_VALUES);
    }
    v = calloc(1, sizeof(*v));
    if (v == NULL) {
        return -ENOMEM;
    }
    t = only_child(n, &other);
    if (t == NULL) {
        /* untyped: the text is a string */
        v->type = VF_XR_STRING;
        v->s = text_of(n);
        r = v->s != NULL ? 0 : -ENOMEM;
    } else if (other) {
        r = dec_fail(d, "<value> with more than one child");
    } else if (is_elem(t, "array")) {
        v->type = VF_XR_ARRAY;
        r = decode_array(d, t, depth, v);
    } else if (is_elem(t, "struct")) {
        v->type = VF_XR_STRUCT;
        r = decode_children(d, t, "member", depth, v, decode_member);
    } else {
        r = decode_scalar(d, t, v);
    }
    if (r < 0) {
        vf_xr_free(v);
        return r;
    }
    *ret = v;
    return 0;
}

/* "<methodResponse><fault><value><struct>..." into a message */
static int
decode_fault(struct dec *d, const xmlNode *fault)
{
    struct vf_xr_value *v = NULL;
    const struct vf_xr_value *code, *str;
    bool other;
    xmlNode *val = only_child(fault, &other);
    int r;

    if (!is_elem(val, "value") || other) {
        return dec_fail(d, "malformed <fault>");
    }
    r = decode_value(d, val, 1, &v);
    if (r < 0) {
        return r;
    }
    code = vf_xr_member(v, "faultCode");
    str = vf_xr_member(v, "faultString");
    r = dec_fail(d, "XML-RPC fault %" PRId64 ": %.300s",
                 code != NULL && code->type == VF_XR_INT ? code->i : 0,
                 str != NULL && str->s != NULL ? str->s : "(no faultString)");
    vf_xr_free(v);
    return r;
}

static bool
looks_like_html(const char *buf, size_t len)
{
    size_t i = 0;

    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')) {
        i++;
    }
    return len - i >= 5 && (strncasecmp(buf + i, "<html", 5) == 0
                            || (len - i >= 9 && strncasecmp(buf + i, "<!doctype", 9) == 0));
}

static int
decode_doc(struct dec *d, xmlDocPtr doc, struct vf_xr_value **ret)
{
    const xmlNode *root = xmlDocGetRootElement(doc);
    xmlNode *c, *param, *val;
    bool other;

    if (doc->intSubset != NULL || doc->extSubset != NULL) {
        return dec_fail(d, "response has a DTD");
    }
    if (!is_elem(root, "methodResponse")) {
        return dec_fail(d, "not an XML-RPC response (root element <%.40s>)",
                        root != NULL ? (const char *)root->name : "");
    }
    c = only_child(root, &other);
    if (is_elem(c, "fault") && !other) {
        return decode_fault(d, c);
    }
    if (!is_elem(c, "params") || other) {
        return dec_fail(d, "<methodResponse> without <params> or <fault>");
    }
    param = only_child(c, &other);
    if (!is_elem(param, "param") || other) {
        return dec_fail(d, "<params> must hold exactly one <param>");
    }
    val = only_child(param, &other);
    if (!is_elem(val, "value") || other) {
        return dec_fail(d, "<param> without a <value>");
    }
    return decode_value(d, val, 1, ret);
}

/**
 * \brief Decode a response (see xmlrpc.h).
 * \return 0, -EPROTO, -E2BIG or -ENOMEM
 */
int
vf_xr_decode_response(const char *buf, size_t len, struct vf_xr_value **ret_value,
                      char *err, size_t err_len)
{
    struct dec d = { .err = err, .err_len = err_len };
    xmlDocPtr doc = NULL;
    int r;

    err[0] = '\0';
    if (len > VF_XR_MAX_RESPONSE) {
        snprintf(err, err_len, "response larger than %u bytes", VF_XR_MAX_RESPONSE);
        return -E2BIG;
    }
    if (buf == NULL || len == 0) {
        return dec_fail(&d, "empty response");
    }
    if (looks_like_html(buf, len)) {
        return dec_fail(&d, "an HTML page instead of an XML-RPC response");
    }
    doc = xmlReadMemory(buf, (int)len, "response.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
                        | XML_PARSE_NOCDATA);
    if (doc == NULL) {
        return dec_fail(&d, "response is not well-formed XML");
    }
    r = decode_doc(&d, doc, ret_value);
    xmlFreeDoc(doc);
    return r;
}

/* ---- access ----------------------------------------------------------- */

const struct vf_xr_value *
vf_xr_member(const struct vf_xr_value *v, const char *name)
{
    if (v == NULL || v->type != VF_XR_STRUCT) {
        return NULL;
    }
    for (size_t i = 0; i < v->n; i++) {
        if (v->names[i] != NULL && strcmp(v->names[i], name) == 0) {
            return v->items[i];
        }
    }
    return NULL;
}

const char *
vf_xr_str(const struct vf_xr_value *v)
{
    return v != NULL && v->type == VF_XR_STRING ? v->s : NULL;
}

const char *
vf_xr_member_str(const struct vf_xr_value *v, const char *name)
{
    return vf_xr_str(vf_xr_member(v, name));
}

bool
vf_xr_member_bool(const struct vf_xr_value *v, const char *name)
{
    const struct vf_xr_value *m = vf_xr_member(v, name);

    return m != NULL && m->type == VF_XR_BOOL && m->b;
}
