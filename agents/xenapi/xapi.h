/*
 * vmfence - agents/xenapi/xapi.h: a XAPI session: login (with the
 * HOST_IS_SLAVE redirect to the pool master), calls with the XAPI
 * Status/Value/ErrorDescription envelope, logout.
 */
#ifndef VF_XENAPI_XAPI_H
#define VF_XENAPI_XAPI_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "xmlrpc.h"

#define VF_XAPI_MAX_REDIRECTS 3u
#define VF_XAPI_ORIGINATOR "vmfence"

struct vf_xapi {
    struct vf_http *http;
    char *url;                  /* endpoint in use (after redirects) */
    char *session;              /* session ref, NULL when logged out */
    char **error;               /* ErrorDescription of the last failure */
    size_t n_error;
    char msg[768];              /* the last error, one line */
};

/* @session_url as the user gave it; 0, -EINVAL (bad URL), -ENOMEM */
int vf_xapi_init(struct vf_xapi *x, const char *session_url, const struct vf_http_conf *conf);
void vf_xapi_done(struct vf_xapi *x);

/* the endpoint for a session_url: "/RPC2" added when it has no path */
int vf_xapi_endpoint(const char *session_url, char **ret_url);
/* the same scheme and port as @url on host @addr (IPv6 in brackets) */
int vf_xapi_redirect_url(const char *url, const char *addr, char **ret_url);

/*
 * session.login_with_password(user, password, "1.1", originator),
 * following HOST_IS_SLAVE at most VF_XAPI_MAX_REDIRECTS times.
 */
int vf_xapi_login(struct vf_xapi *x, const char *user, const char *password,
                  int64_t deadline_ms);
/* session.logout; never fails (errors are only remembered); no-op if logged out */
void vf_xapi_logout(struct vf_xapi *x, int64_t deadline_ms);

/*
 * Call @method with the session ref first and then @params.  On
 * Status=Failure: -EREMOTEIO, x->error holds ErrorDescription and x->msg
 * "XAPI error CODE 'param' ...".  Transport and decoding errors: negative
 * errno with x->msg.  *ret_resp is the decoded document (free it), *ret_value
 * points into it.
 */
int vf_xapi_call(struct vf_xapi *x, const char *method, const struct vf_xr_param *params,
                 size_t n, int64_t deadline_ms, struct vf_xr_value **ret_resp,
                 const struct vf_xr_value **ret_value);

/* the first ErrorDescription entry of the last failure is @code */
bool vf_xapi_failed_with(const struct vf_xapi *x, const char *code);

#endif
