/*
 * vmfence - agents/xenapi/xapi.c: XAPI sessions over XML-RPC (see xapi.h).
 *
 * The password goes into exactly one request body, which is wiped after
 * the call; it is never logged or printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "fa.h"
#include "log.h"
#include "xapi.h"

int
vf_xapi_endpoint(const char *session_url, char **ret_url)
{
    const char *rest = session_url != NULL ? strstr(session_url, "://") : NULL;
    size_t len;
    char *u;

    if (rest == NULL || rest[3] == '\0'
        || (strncasecmp(session_url, "http://", 7) != 0
            && strncasecmp(session_url, "https://", 8) != 0)) {
        return -EINVAL;
    }
    len = strlen(session_url);
    /* as Python's xmlrpc client: no path at all means /RPC2 */
    if (strchr(rest + 3, '/') == NULL) {
        u = malloc(len + sizeof("/RPC2"));
        if (u != NULL) {
            snprintf(u, len + sizeof("/RPC2"), "%s/RPC2", session_url);
        }
    } else {
        u = strdup(session_url);
    }
    if (u == NULL) {
        return -ENOMEM;
    }
    *ret_url = u;
    return 0;
}

int
vf_xapi_redirect_url(const char *url, const char *addr, char **ret_url)
{
    CURLU *u = curl_url();
    char *host = NULL, *out = NULL;
    size_t alen;
    int r = -EINVAL;

    if (u == NULL || addr == NULL) {
        r = u == NULL ? -ENOMEM : -EINVAL;
        goto out;
    }
    alen = strlen(addr);
    if (alen == 0 || alen > 255 || strpbrk(addr, "/?#@ \t\r\n") != NULL) {
        goto out;
    }
    host = malloc(alen + 3);
    if (host == NULL) {
        r = -ENOMEM;
        goto out;
    }
    if (strchr(addr, ':') != NULL && addr[0] != '[') {
        snprintf(host, alen + 3, "[%s]", addr);   /* bare IPv6 */
    } else {
        snprintf(host, alen + 3, "%s", addr);
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK
        || curl_url_set(u, CURLUPART_HOST, host, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) {
        goto out;
    }
    *ret_url = strdup(out);
    r = *ret_url != NULL ? 0 : -ENOMEM;

 out:
    curl_free(out);
    free(host);
    curl_url_cleanup(u);
    return r;
}

int
vf_xapi_init(struct vf_xapi *x, const char *session_url, const struct vf_http_conf *conf)
{
    int r;

    *x = (struct vf_xapi){ .http = NULL };
    r = vf_xapi_endpoint(session_url, &x->url);
    if (r < 0) {
        return r;
    }
    x->http = vf_http_new(conf);
    return x->http != NULL ? 0 : -ENOMEM;
}

static void
clear_error(struct vf_xapi *x)
{
    vf_strv_free(&x->error, &x->n_error);
}

void
vf_xapi_done(struct vf_xapi *x)
{
    if (x == NULL) {
        return;
    }
    x->http = vf_http_free(x->http);
    free(x->url);
    free(x->session);
    clear_error(x);
    *x = (struct vf_xapi){ .http = NULL };
}

bool
vf_xapi_failed_with(const struct vf_xapi *x, const char *code)
{
    return x->n_error > 0 && strcmp(x->error[0], code) == 0;
}

/* ErrorDescription into x->error and x->msg */
static int
take_failure(struct vf_xapi *x, const struct vf_xr_value *desc)
{
    size_t off;

    clear_error(x);
    if (desc == NULL || desc->type != VF_XR_ARRAY || desc->n == 0) {
        vf_msgf(x->msg, sizeof(x->msg), "XAPI call failed without an error description");
        return -EREMOTEIO;
    }
    vf_msgf(x->msg, sizeof(x->msg), "XAPI error");
    for (size_t i = 0; i < desc->n && i < 8; i++) {
        const char *s = vf_xr_str(desc->items[i]);

        if (vf_strv_add(&x->error, &x->n_error, s != NULL ? s : "") < 0) {
            return -ENOMEM;
        }
        off = strlen(x->msg);
        snprintf(x->msg + off, sizeof(x->msg) - off, i == 0 ? " %.100s" : " '%.100s'",
                 s != NULL ? s : "?");
    }
    return -EREMOTEIO;
}

/* one request; the body is wiped afterwards (it may hold the password) */
static int
post(struct vf_xapi *x, const char *method, const struct vf_xr_param *p, size_t n,
     int64_t deadline_ms, struct vf_xr_value **ret_resp)
{
    char *body = NULL, *reply = NULL;
    size_t len = 0, rlen = 0;
    char err[512] = "";
    int r;

    r = vf_xr_encode_call(method, p, n, &body, &len);
    if (r < 0) {
        vf_msgf(x->msg, sizeof(x->msg), "cannot encode %s", method);
        return r;
    }
    r = vf_http_post(x->http, x->url, body, len, deadline_ms, VF_XR_MAX_RESPONSE, &reply,
                     &rlen, err, sizeof(err));
    explicit_bzero(body, len);
    free(body);
    if (r < 0) {
        vf_msgf(x->msg, sizeof(x->msg), "%s: %s (%s)", method, err, x->url);
        return r;
    }
    r = vf_xr_decode_response(reply, rlen, ret_resp, err, sizeof(err));
    free(reply);
    if (r < 0) {
        vf_msgf(x->msg, sizeof(x->msg), "%s: bad response from %s: %s", method, x->url, err);
    }
    return r;
}

/* unwrap {Status, Value | ErrorDescription} */
static int
envelope(struct vf_xapi *x, const char *method, const struct vf_xr_value *resp,
         const struct vf_xr_value **ret_value)
{
    const char *status = vf_xr_member_str(resp, "Status");

    if (status != NULL && strcmp(status, "Success") == 0
        && vf_xr_member(resp, "Value") != NULL) {
        *ret_value = vf_xr_member(resp, "Value");
        return 0;
    }
    if (status != NULL && strcmp(status, "Failure") == 0) {
        return take_failure(x, vf_xr_member(resp, "ErrorDescription"));
    }
    vf_msgf(x->msg, sizeof(x->msg), "%s: response without a XAPI status", method);
    return -EPROTO;
}

static int
call_raw(struct vf_xapi *x, const char *method, const struct vf_xr_param *p, size_t n,
         int64_t deadline_ms, struct vf_xr_value **ret_resp,
         const struct vf_xr_value **ret_value)
{
    struct vf_xr_value *resp = NULL;
    int r;

    clear_error(x);
    r = post(x, method, p, n, deadline_ms, &resp);
    if (r == 0) {
        r = envelope(x, method, resp, ret_value);
    }
    if (r < 0) {
        vf_xr_free(resp);
        return r;
    }
    *ret_resp = resp;
    return 0;
}

int
vf_xapi_call(struct vf_xapi *x, const char *method, const struct vf_xr_param *params,
             size_t n, int64_t deadline_ms, struct vf_xr_value **ret_resp,
             const struct vf_xr_value **ret_value)
{
    struct vf_xr_param p[8];

    if (x->session == NULL || n >= sizeof(p) / sizeof(p[0])) {
        vf_msgf(x->msg, sizeof(x->msg), "%s: not logged in", method);
        return -ENOTCONN;
    }
    p[0] = (struct vf_xr_param){ .type = VF_XR_STRING, .s = x->session };
    for (size_t i = 0; i < n; i++) {
        p[i + 1] = params[i];
    }
    return call_raw(x, method, p, n + 1, deadline_ms, ret_resp, ret_value);
}

int
vf_xapi_login(struct vf_xapi *x, const char *user, const char *password,
              int64_t deadline_ms)
{
    const struct vf_xr_param p[] = {
        { .type = VF_XR_STRING, .s = user },
        { .type = VF_XR_STRING, .s = password },
        { .type = VF_XR_STRING, .s = "1.1" },
        { .type = VF_XR_STRING, .s = VF_XAPI_ORIGINATOR },
    };
    char *seen[VF_XAPI_MAX_REDIRECTS + 1] = { NULL };
    unsigned int hops = 0;
    int r;

    seen[0] = strdup(x->url);
    for (;;) {
        struct vf_xr_value *resp = NULL;
        const struct vf_xr_value *val = NULL;
        char *next = NULL;

        r = call_raw(x, "session.login_with_password", p, 4, deadline_ms, &resp, &val);
        if (r == 0) {
            r = vf_xr_str(val) != NULL ? vf_set_str(&x->session, vf_xr_str(val)) : -EPROTO;
            if (r == -EPROTO) {
                vf_msgf(x->msg, sizeof(x->msg), "login: the session reference is not a string");
            }
            vf_xr_free(resp);
            break;
        }
        if (!vf_xapi_failed_with(x, "HOST_IS_SLAVE") || x->n_error < 2) {
            break;
        }
        if (hops == VF_XAPI_MAX_REDIRECTS) {
            vf_msgf(x->msg, sizeof(x->msg),
                    "login: more than %u HOST_IS_SLAVE redirects (last: '%.100s')",
                    VF_XAPI_MAX_REDIRECTS, x->error[1]);
            r = -ELOOP;
            break;
        }
        r = vf_xapi_redirect_url(x->url, x->error[1], &next);
        if (r < 0) {
            vf_msgf(x->msg, sizeof(x->msg),
                    "login: HOST_IS_SLAVE names an unusable master '%.100s'", x->error[1]);
            break;
        }
        for (unsigned int i = 0; i <= hops && r == 0; i++) {
            if (seen[i] != NULL && strcmp(seen[i], next) == 0) {
                vf_msgf(x->msg, sizeof(x->msg),
                        "login: HOST_IS_SLAVE redirect loop at '%.200s'", next);
                r = -ELOOP;
            }
        }
        if (r < 0) {
            free(next);
            break;
        }
        free(x->url);
        x->url = next;
        seen[++hops] = strdup(next);
    }
    for (unsigned int i = 0; i <= VF_XAPI_MAX_REDIRECTS; i++) {
        free(seen[i]);
    }
    return r;
}

void
vf_xapi_logout(struct vf_xapi *x, int64_t deadline_ms)
{
    struct vf_xr_value *resp = NULL;
    const struct vf_xr_value *val = NULL;
    char keep[sizeof(x->msg)];

    if (x->session == NULL) {
        return;
    }
    /* keep the error that matters, the one before the logout */
    memcpy(keep, x->msg, sizeof(keep));
    (void)vf_xapi_call(x, "session.logout", NULL, 0, deadline_ms, &resp, &val);
    vf_xr_free(resp);
    memcpy(x->msg, keep, sizeof(keep));
    free(x->session);
    x->session = NULL;
}
