/*
 * vmfence - agents/xenapi/http.h: XML-RPC POSTs over HTTP(S) with libcurl:
 * one connection kept open between calls, TLS verified unless asked not
 * to, a connect timeout and an overall deadline per request, a cap on the
 * response size.  No redirects are followed (XAPI never sends them).
 */
#ifndef VF_XENAPI_HTTP_H
#define VF_XENAPI_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vf_http;

struct vf_http_conf {
    const char *cacert;         /* CA bundle, NULL = the system's */
    bool insecure;              /* no certificate or host name check */
    unsigned int connect_timeout_s;
};

/* NULL on allocation failure */
struct vf_http *vf_http_new(const struct vf_http_conf *conf);
struct vf_http *vf_http_free(struct vf_http *h);

/*
 * POST @body (text/xml) to @url before @deadline_ms (vf_now_ms() clock).
 * A reply other than 200, or larger than @max, is an error.  *ret_body is
 * malloc'ed and NUL-terminated.  Returns 0, -ETIMEDOUT, -ECONNREFUSED,
 * -EHOSTUNREACH (any other transport failure), -EBADMSG (HTTP status),
 * -E2BIG or -ENOMEM, with a one-line message in @err.
 */
int vf_http_post(struct vf_http *h, const char *url, const char *body, size_t len,
                 int64_t deadline_ms, size_t max, char **ret_body, size_t *ret_len,
                 char *err, size_t err_len);

#endif
