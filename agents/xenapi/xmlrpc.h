/*
 * vmfence - agents/xenapi/xmlrpc.h: a small, bounded XML-RPC encoder and
 * decoder on libxml2, for XAPI.
 *
 * Requests: a method call with string, boolean and integer parameters.
 * Responses: every XML-RPC type; an untyped <value>text</value> is a
 * string (XAPI sends strings that way).  Input is capped in size
 * (VF_XR_MAX_RESPONSE), nesting (VF_XR_MAX_DEPTH) and number of values
 * (VF_XR_MAX_VALUES); a document with a DTD is refused (no entities).
 */
#ifndef VF_XMLRPC_H
#define VF_XMLRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VF_XR_MAX_RESPONSE (16u * 1024u * 1024u)
#define VF_XR_MAX_DEPTH    32u
#define VF_XR_MAX_VALUES   1000000u

enum vf_xr_type {
    VF_XR_NIL,
    VF_XR_STRING,
    VF_XR_INT,
    VF_XR_BOOL,
    VF_XR_DOUBLE,
    VF_XR_DATETIME,             /* text kept as sent */
    VF_XR_BASE64,               /* text kept as sent (not decoded) */
    VF_XR_ARRAY,
    VF_XR_STRUCT,
};

struct vf_xr_value {
    enum vf_xr_type type;
    char *s;                    /* STRING, DATETIME, BASE64 */
    int64_t i;                  /* INT */
    bool b;                     /* BOOL */
    double d;                   /* DOUBLE */
    size_t n;                   /* ARRAY, STRUCT: number of items */
    struct vf_xr_value **items;
    char **names;               /* STRUCT: member names */
};

/* a request parameter */
struct vf_xr_param {
    enum vf_xr_type type;       /* VF_XR_STRING, VF_XR_BOOL or VF_XR_INT */
    const char *s;
    bool b;
    int64_t i;
};

/* NULL-tolerant; returns NULL */
struct vf_xr_value *vf_xr_free(struct vf_xr_value *v);

/*
 * Encode <methodCall>.  *ret_xml is malloc'ed and NUL-terminated.
 * 0, -EINVAL (bad parameter type) or -ENOMEM.
 */
int vf_xr_encode_call(const char *method, const struct vf_xr_param *params, size_t n,
                      char **ret_xml, size_t *ret_len);

/*
 * Decode <methodResponse>: the single parameter in *ret_value, or -EPROTO
 * with the fault (or what is wrong with the document) in @err.
 * Returns 0, -EPROTO, -E2BIG (larger than VF_XR_MAX_RESPONSE) or -ENOMEM.
 */
int vf_xr_decode_response(const char *buf, size_t len, struct vf_xr_value **ret_value,
                          char *err, size_t err_len);

/* struct member @name, or NULL */
const struct vf_xr_value *vf_xr_member(const struct vf_xr_value *v, const char *name);
/* the text of a STRING value, or NULL */
const char *vf_xr_str(const struct vf_xr_value *v);
/* a struct member's string, or NULL */
const char *vf_xr_member_str(const struct vf_xr_value *v, const char *name);
/* a struct member's boolean (false if absent or not a boolean) */
bool vf_xr_member_bool(const struct vf_xr_value *v, const char *name);

#endif
