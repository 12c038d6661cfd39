/*
 * vmfence - agents/xenapi/xenapi-main.c: fence_xenapi, the XenServer / XCP-ng
 * fence agent.
 *
 * Parameters, stdin keys, actions, output lines and exit codes are those
 * of fence-agents' fence_xenapi, plus ssl_insecure and cacert.  The agent
 * logs in (with an originator, following HOST_IS_SLAVE to the pool
 * master), finds the VM by UUID or by name (templates, snapshots and the
 * control domain never count), acts, confirms the new state within a
 * deadline and always logs out (the framework calls disconnect on every
 * path after a successful login).  Everything generic is in lib/fa-run.c.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "fa-run.h"
#include "io.h"
#include "options.h"
#include "xapi.h"

struct xen {
    struct vf_xenapi_opts o;    /* first: the option callbacks get the same pointer */
    struct vf_xapi x;
    bool x_ready;
    char *vm_ref;               /* resolved plug */
    /* the record fetched while resolving a name (fresh: it answers the first
     * power-state question, saving a round trip; any later one asks again) */
    struct vf_xr_value *rec_resp;
    const struct vf_xr_value *rec;
    char msg[1024];
};

/* ---- the VM ----------------------------------------------------------- */

/*
 * A plug that Python's uuid.UUID() accepts (as fence-agents decides):
 * optional "urn:" / "uuid:" prefixes, braces and hyphens around 32 hex
 * digits.  Normalised to the lowercase 8-4-4-4-12 form into @out (37 bytes).
 */
static bool
plug_uuid(const char *plug, char *out)
{
    char hex[33];
    size_t n = 0;
    const char *p = plug, *end;

    if (strncmp(p, "urn:", 4) == 0) {
        p += 4;
    }
    if (strncmp(p, "uuid:", 5) == 0) {
        p += 5;
    }
    while (*p == '{') {
        p++;
    }
    end = p + strlen(p);
    while (end > p && end[-1] == '}') {
        end--;
    }
    for (; p < end; p++) {
        if (*p == '-') {
            continue;
        }
        if (!isxdigit((unsigned char)*p) || n == 32) {
            return false;
        }
        hex[n++] = (char)tolower((unsigned char)*p);
    }
    if (n != 32) {
        return false;
    }
    hex[32] = '\0';
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
    return true;
}

/* a real VM: not a template, not a snapshot, not a control domain */
static bool
is_real_vm(const struct vf_xr_value *rec)
{
    return !vf_xr_member_bool(rec, "is_a_template") && !vf_xr_member_bool(rec, "is_a_snapshot")
           && !vf_xr_member_bool(rec, "is_control_domain");
}

static int
power_of(struct xen *xen, const struct vf_xr_value *rec, enum vf_fa_power *ret)
{
    const char *ps = vf_xr_member_str(rec, "power_state");

    if (ps == NULL) {
        snprintf(xen->msg, sizeof(xen->msg), "VM record without power_state");
        return -EPROTO;
    }
    if (strcasecmp(ps, "Halted") == 0) {
        *ret = VF_FA_POWER_OFF;
    } else if (strcasecmp(ps, "Running") == 0 || strcasecmp(ps, "Paused") == 0
               || strcasecmp(ps, "Suspended") == 0) {
        *ret = VF_FA_POWER_ON;
    } else {
        snprintf(xen->msg, sizeof(xen->msg), "unknown power state '%.40s'", ps);
        return -EPROTO;
    }
    return 0;
}

static int
call(struct xen *xen, const char *method, const char *arg, int64_t deadline,
     struct vf_xr_value **ret_resp, const struct vf_xr_value **ret_val)
{
    const struct vf_xr_param p = { .type = VF_XR_STRING, .s = arg };
    int r;

    vf_fa_debug(&xen->o.c, 1, "%s %s", method, arg != NULL ? arg : "");
    r = vf_xapi_call(&xen->x, method, &p, arg != NULL ? 1 : 0, deadline, ret_resp, ret_val);
    if (r < 0) {
        snprintf(xen->msg, sizeof(xen->msg), "%s", xen->x.msg);
        vf_fa_debug(&xen->o.c, 1, "%s failed: %s", method, xen->x.msg);
    }
    return r;
}

/* VM.get_record of @ref: the document in *ret_resp, the record in *ret_rec */
static int
get_record(struct xen *xen, const char *ref, int64_t deadline, struct vf_xr_value **ret_resp,
           const struct vf_xr_value **ret_rec)
{
    int r = call(xen, "VM.get_record", ref, deadline, ret_resp, ret_rec);

    if (r == 0 && (*ret_rec)->type != VF_XR_STRUCT) {
        snprintf(xen->msg, sizeof(xen->msg), "VM.get_record: not a record");
        *ret_resp = vf_xr_free(*ret_resp);
        return -EPROTO;
    }
    return r;
}

/* by name: exactly one real VM, else an error naming the candidates */
static int
resolve_name(struct xen *xen, const char *name, int64_t deadline)
{
    struct vf_xr_value *refs = NULL, *rec = NULL;
    const struct vf_xr_value *list = NULL, *r1 = NULL;
    char first_uuid[64] = "";
    unsigned int found = 0;
    int r;

    r = call(xen, "VM.get_by_name_label", name, deadline, &refs, &list);
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; list->type == VF_XR_ARRAY && i < list->n && r == 0; i++) {
        const char *ref = vf_xr_str(list->items[i]);

        rec = vf_xr_free(rec);
        r = ref != NULL ? get_record(xen, ref, deadline, &rec, &r1) : -EPROTO;
        if (r < 0 || !is_real_vm(r1)) {
            continue;
        }
        if (++found == 1) {
            snprintf(first_uuid, sizeof(first_uuid), "%s", vf_xr_member_str(r1, "uuid")
                     != NULL ? vf_xr_member_str(r1, "uuid") : "?");
            r = vf_set_str(&xen->vm_ref, ref);
            vf_xr_free(xen->rec_resp);
            xen->rec_resp = rec;        /* kept: r1 points into it */
            xen->rec = r1;
            rec = NULL;
        } else {
            snprintf(xen->msg, sizeof(xen->msg), "several virtual machines are named "
                     "'%.200s' (UUIDs %s and %.40s): use the UUID as plug", name,
                     first_uuid, vf_xr_member_str(r1, "uuid") != NULL
                     ? vf_xr_member_str(r1, "uuid") : "?");
            r = -ENOTUNIQ;
        }
    }
    vf_xr_free(rec);
    vf_xr_free(refs);
    if (r == 0 && found == 0) {
        snprintf(xen->msg, sizeof(xen->msg), "no virtual machine named '%.200s'", name);
        r = -ENOENT;
    }
    if (r < 0) {
        free(xen->vm_ref);
        xen->vm_ref = NULL;
        xen->rec_resp = vf_xr_free(xen->rec_resp);
        xen->rec = NULL;
    }
    return r;
}

static int
resolve(struct xen *xen, const char *plug, int64_t deadline)
{
    struct vf_xr_value *resp = NULL;
    const struct vf_xr_value *val = NULL;
    char uuid[40];
    int r;

    if (xen->vm_ref != NULL) {
        return 0;
    }
    if (!plug_uuid(plug, uuid)) {
        return resolve_name(xen, plug, deadline);
    }
    r = call(xen, "VM.get_by_uuid", uuid, deadline, &resp, &val);
    if (r == -EREMOTEIO && vf_xapi_failed_with(&xen->x, "UUID_INVALID")) {
        snprintf(xen->msg, sizeof(xen->msg), "no virtual machine with UUID %s", uuid);
        r = -ENOENT;
    } else if (r == 0) {
        r = vf_xr_str(val) != NULL ? vf_set_str(&xen->vm_ref, vf_xr_str(val)) : -EPROTO;
    }
    vf_xr_free(resp);
    return r;
}

/* ---- the ops ---------------------------------------------------------- */

static int
x_connect(void *ctx, int64_t deadline)
{
    struct xen *xen = ctx;
    const struct vf_http_conf conf = {
        .cacert = xen->o.cacert, .insecure = xen->o.ssl_insecure,
        .connect_timeout_s = xen->o.c.login_timeout > 0 ? xen->o.c.login_timeout : 5,
    };
    int r;

    r = vf_xapi_init(&xen->x, xen->o.session_url, &conf);
    xen->x_ready = true;
    if (r < 0) {
        snprintf(xen->msg, sizeof(xen->msg), r == -EINVAL
                 ? "session_url '%.300s' is not an http:// or https:// URL"
                 : "out of memory", xen->o.session_url);
        return r;
    }
    vf_fa_debug(&xen->o.c, 1, "session.login_with_password as '%s' at %s", xen->o.c.username,
                xen->x.url);
    r = vf_xapi_login(&xen->x, xen->o.c.username, xen->o.c.password != NULL ? xen->o.c.password
                                                                         : "", deadline);
    if (r < 0) {
        snprintf(xen->msg, sizeof(xen->msg), "%s", xen->x.msg);
    }
    return r;
}

static void
x_disconnect(void *ctx)
{
    struct xen *xen = ctx;
    unsigned int s = xen->o.c.login_timeout > 0 ? xen->o.c.login_timeout : 5;

    vf_fa_debug(&xen->o.c, 1, "session.logout");
    vf_xapi_logout(&xen->x, vf_now_ms() + (int64_t)s * 1000);
}

static int
x_get_power(void *ctx, const char *plug, int64_t deadline, enum vf_fa_power *ret)
{
    struct xen *xen = ctx;
    struct vf_xr_value *resp = NULL;
    const struct vf_xr_value *rec = NULL;
    int r = resolve(xen, plug, deadline);

    if (r == 0 && xen->rec_resp != NULL) {
        resp = xen->rec_resp;           /* fetched by resolve() just now */
        rec = xen->rec;
        xen->rec_resp = NULL;
        xen->rec = NULL;
    } else if (r == 0) {
        r = get_record(xen, xen->vm_ref, deadline, &resp, &rec);
    }
    if (r == 0 && !is_real_vm(rec)) {
        snprintf(xen->msg, sizeof(xen->msg), "'%.200s' is a template, a snapshot or the "
                 "control domain, not a virtual machine", plug);
        r = -EINVAL;
    }
    if (r == 0) {
        r = power_of(xen, rec, ret);
    }
    vf_xr_free(resp);
    return r;
}

static int
x_set_power(void *ctx, const char *plug, enum vf_fa_power want, int64_t deadline)
{
    struct xen *xen = ctx;
    struct vf_xr_value *resp = NULL;
    const struct vf_xr_value *val = NULL;
    const char *method = want == VF_FA_POWER_ON ? "VM.start" : "VM.hard_shutdown";
    const struct vf_xr_param p[] = {
        { .type = VF_XR_STRING, .s = NULL },
        { .type = VF_XR_BOOL, .b = false },   /* start_paused */
        { .type = VF_XR_BOOL, .b = true },    /* force */
    };
    struct vf_xr_param q[3];
    int r = resolve(xen, plug, deadline);

    /* a record from before the change must never confirm it */
    xen->rec_resp = vf_xr_free(xen->rec_resp);
    xen->rec = NULL;
    if (r < 0) {
        return r;
    }
    memcpy(q, p, sizeof(q));
    q[0].s = xen->vm_ref;
    vf_fa_debug(&xen->o.c, 1, "%s %s", method, xen->vm_ref);
    r = vf_xapi_call(&xen->x, method, q, want == VF_FA_POWER_ON ? 3 : 1, deadline, &resp,
                     &val);
    vf_xr_free(resp);
    if (r == -EREMOTEIO && vf_xapi_failed_with(&xen->x, "VM_BAD_POWER_STATE")
        && xen->x.n_error >= 4) {
        /* [vm, expected, actual]: already where we want it is success */
        const char *actual = xen->x.error[3];

        if ((want == VF_FA_POWER_OFF && strcasecmp(actual, "halted") == 0)
            || (want == VF_FA_POWER_ON && strcasecmp(actual, "running") == 0)) {
            vf_fa_debug(&xen->o.c, 1, "%s: already %s", method, actual);
            return 0;
        }
    }
    if (r < 0) {
        snprintf(xen->msg, sizeof(xen->msg), "%s", xen->x.msg);
    }
    return r;
}

static int
x_list(void *ctx, int64_t deadline, vf_fa_list_fn fn, void *data)
{
    struct xen *xen = ctx;
    struct vf_xr_value *resp = NULL;
    const struct vf_xr_value *all = NULL;
    int r = call(xen, "VM.get_all_records", NULL, deadline, &resp, &all);

    for (size_t i = 0; r == 0 && all->type == VF_XR_STRUCT && i < all->n; i++) {
        const struct vf_xr_value *rec = all->items[i];
        enum vf_fa_power st = VF_FA_POWER_OFF;
        const char *uuid = vf_xr_member_str(rec, "uuid");
        const char *name = vf_xr_member_str(rec, "name_label");

        if (!is_real_vm(rec) || uuid == NULL || power_of(xen, rec, &st) < 0) {
            continue;
        }
        r = fn(data, uuid, name != NULL ? name : "", st);
    }
    vf_xr_free(resp);
    return r;
}

static int
x_validate(void *ctx, char *err, size_t err_len)
{
    struct xen *xen = ctx;
    char *url = NULL;
    int r;

    if (xen->o.session_url == NULL) {
        return 0;              /* reported by the table check */
    }
    r = vf_xapi_endpoint(xen->o.session_url, &url);
    free(url);
    if (r == -EINVAL) {
        snprintf(err, err_len, "session_url '%s' is not an http:// or https:// URL",
                 xen->o.session_url);
        return r;
    }
    if (xen->o.c.username == NULL && xen->o.c.action != VF_FA_VALIDATE_ALL) {
        snprintf(err, err_len, "no login name: give username (-l)");
        return -EINVAL;
    }
    return r;
}

static const char *
x_error(void *ctx)
{
    return ((struct xen *)ctx)->msg;
}

static const struct vf_fa_ops ops = {
    .connect = x_connect,
    .disconnect = x_disconnect,
    .get_power = x_get_power,
    .set_power = x_set_power,
    .list = x_list,
    .validate = x_validate,
    .error = x_error,
};

int
main(int argc, char **argv)
{
    struct xen xen = { .vm_ref = NULL };
    int ret;

    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "fence_xenapi: cannot initialise libcurl\n");
        return 1;
    }
    vf_xenapi_opts_init(&xen.o);
    ret = vf_fa_main(vf_xenapi_agent(), &xen.o.c, &ops, &xen, argc, argv);
    if (xen.x_ready) {
        vf_xapi_done(&xen.x);
    }
    free(xen.vm_ref);
    vf_xr_free(xen.rec_resp);
    vf_xenapi_opts_done(&xen.o);
    curl_global_cleanup();
    return ret;
}
