/*
 * vmfence - agents/xenapi/options.c: the option table of fence_xenapi (the
 * common fence-agents options of lib/fa-common.c in the reference agent's
 * metadata order, then session_url, ssl_insecure and cacert) and what its
 * own options mean.  Linked into the agent, metadata/dump-metadata and
 * man/gen-manpage, so the metadata and the man page come from this table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

enum {
    ID_SESSION_URL = VF_FA_ID_AGENT,
    ID_SSL_INSECURE,
    ID_CACERT,
};

static const struct vf_opt opt_session_url = {
    .key = "session_url", .letter = 's', .longopt = "session-url", .arg_name = "url",
    .mixed = "-s, --session-url", .type = VF_OPT_STRING, .required = true,
    .id = ID_SESSION_URL, .need_for = VF_FA_NEED_CONNECT,
    .shortdesc = "URL of the XenServer / XCP-ng host (https://host or "
                 "http://host[:port][/path]); a pool member redirects to the master",
};
static const struct vf_opt opt_ssl_insecure = {
    .key = "ssl_insecure", .longopt = "ssl-insecure", .type = VF_OPT_BOOL,
    .id = ID_SSL_INSECURE,
    .shortdesc = "Do not verify the host's TLS certificate and name (prefer cacert)",
};
static const struct vf_opt opt_cacert = {
    .key = "cacert", .longopt = "cacert", .arg_name = "file", .type = VF_OPT_STRING,
    .id = ID_CACERT,
    .shortdesc = "CA certificate file (PEM) to verify the host with instead of "
                 "the system's CAs",
};

/* metadata order: the reference's, then ours */
static const struct vf_opt *const opts[] = {
    &vf_fa_opt_action, &vf_fa_opt_login, &vf_fa_opt_passwd, &vf_fa_opt_passwd_script,
    &vf_fa_opt_password, &vf_fa_opt_password_script, &vf_fa_opt_plug, &vf_fa_opt_port,
    &opt_session_url, &vf_fa_opt_username, &vf_fa_opt_quiet, &vf_fa_opt_verbose,
    &vf_fa_opt_verbose_level, &vf_fa_opt_debug, &vf_fa_opt_debug_file,
    &vf_fa_opt_version, &vf_fa_opt_help, &vf_fa_opt_plug_separator,
    &vf_fa_opt_separator, &vf_fa_opt_delay, &vf_fa_opt_disable_timeout,
    &vf_fa_opt_login_timeout, &vf_fa_opt_power_timeout, &vf_fa_opt_power_wait,
    &vf_fa_opt_shell_timeout, &vf_fa_opt_stonith_status_sleep, &vf_fa_opt_retry_on,
    &opt_ssl_insecure, &opt_cacert,
    NULL,
};

static const struct vf_fa_key extra_keys[] = {
    { .key = "nodename", .help_label = "nodename, agent",
      .help = "Accepted and ignored (Pacemaker passes them)",
      .man = ".B nodename\\fR, \\fBagent\n"
             "Accepted and ignored. \\fBnodename\\fR is never used as the target.\n" },
    { .key = "agent" },
    { .key = NULL },
};


static int
x_apply(void *ctx, const struct vf_opt *o, const char *val, enum vf_fa_src src,
        const char *name, char *msg, size_t msg_len)
{
    struct vf_xenapi_opts *xen = ctx;
    int r = vf_fa_common_apply(&xen->c, o, val, src, name, msg, msg_len);

    if (r != -ENOENT) {
        return r;
    }
    switch (o->id) {
    case ID_SESSION_URL:
        return vf_set_str(&xen->session_url, val);
    case ID_CACERT:
        return vf_set_str(&xen->cacert, val);
    case ID_SSL_INSECURE:
        if (src == VF_FA_STDIN && vf_parse_bool(val, &xen->ssl_insecure) < 0) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: expected a boolean",
                     val, name);
            return -EINVAL;
        }
        xen->ssl_insecure = src == VF_FA_ARGV ? true : xen->ssl_insecure;
        return 0;
    default:
        snprintf(msg, msg_len, "internal error: option %s not handled", name);
        return -EINVAL;
    }
}

static void
x_problem(void *ctx, const char *msg)
{
    vf_fa_common_problem(&((struct vf_xenapi_opts *)ctx)->c, msg);
}

static int
x_unknown(void *ctx, const char *key)
{
    return vf_fa_common_unknown(&((struct vf_xenapi_opts *)ctx)->c, key);
}

static const struct vf_fa_agent agent = {
    .name = "fence_xenapi",
    .shortdesc = "Fence agent for XenServer and XCP-ng over XenAPI",
    .longdesc = "fence_xenapi fences virtual machines of a XenServer or XCP-ng pool "
                "through XenAPI (XML-RPC over HTTPS): it logs in to the host given "
                "by session_url (following a pool member to the pool master), "
                "finds the virtual machine by UUID or by name, powers it off or "
                "on with VM.hard_shutdown and VM.start, confirms the new power "
                "state, and logs out. This is vmfence's implementation; it accepts "
                "the parameters of the fence-agents agent of the same name.",
    .vendor_url = "https://xcp-ng.org",
    .opts = opts,
    .extra_keys = extra_keys,
    .actions = vf_fa_power_actions,
    .long_getopt = true,
    .help_intro = "Fence a XenServer / XCP-ng virtual machine through XenAPI.",
    .apply = x_apply,
    .problem = x_problem,
    .unknown = x_unknown,
};

const struct vf_fa_agent *
vf_xenapi_agent(void)
{
    return &agent;
}

void
vf_xenapi_opts_init(struct vf_xenapi_opts *o)
{
    *o = (struct vf_xenapi_opts){ .session_url = NULL };
    vf_fa_common_init(&o->c, "fence_xenapi");
}

void
vf_xenapi_opts_done(struct vf_xenapi_opts *o)
{
    if (o != NULL) {
        free(o->session_url);
        free(o->cacert);
        vf_fa_common_done(&o->c);
    }
}
