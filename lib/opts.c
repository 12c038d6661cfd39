/*
 * vmfence - lib/opts.c: what the options of fence_xvm and fence_virt mean.
 *
 * The table itself is in opts-table.c; parsing argv and stdin, --help, the
 * metadata XML and the man page option list are generated from it by the
 * fence-agent framework (lib/fa.h).  What each value means (its check and
 * the field it sets) is in opts-values.c; this file merges the target
 * names, runs the parsers and derives the transport.
 *
 * Compatibility notes (protocol.md 4.2/4.3, reference-defects.md D3, D10,
 * D23), and where vmfence deliberately differs from fence-virt:
 *  - an unknown command-line option is an error (fence-virt printed the
 *    help and exited 0); -M is no longer in the getopt strings;
 *  - stdin values keep inner blanks ("port=my vm" is "my vm"), blanks
 *    around '=' are allowed, lines may be up to 4096 bytes (longer lines
 *    are reported, never split);
 *  - giving the target under two names (plug/port/domain, or -n/-H) is
 *    accepted when the values are equal, an error when they differ; the
 *    same key repeated simply overrides ("last one wins");
 *  - "-S" takes its optional CID only when attached ("-S3"); "-S 3" is
 *    getopt's behaviour for optional arguments: CID 2 and a stray
 *    argument '3', which is reported as an error;
 *  - metadata defaults are the defaults actually used (no default for
 *    ipaddr, vsock, serial_device).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "fa.h"
#include "opts-private.h"

#define STDIN_MAX_TOTAL  VF_FA_STDIN_MAX
#define STDIN_TIMEOUT_MS VF_FA_STDIN_TIMEOUT_MS

static const char *const target_keys[] = { "plug", "port", "domain" };

/* ------------------------------------------------------------------------- */

const struct vf_opt *const *
vf_opts_for(enum vf_agent_kind kind)
{
    return kind == VF_AGENT_XVM ? vf__meta_xvm : vf__meta_virt;
}

/* table index of an entry */
static int
opt_id_of(const struct vf_opt *o)
{
    return (int)(o - vf__opt_table);
}

static bool
opt_for_agent(int id, enum vf_agent_kind kind)
{
    return (vf__opt_table[id].agents & (1u << kind)) != 0;
}

static const char *
agent_name(enum vf_agent_kind kind)
{
    return kind == VF_AGENT_XVM ? "fence_xvm" : "fence_virt";
}

enum vf_agent_kind
vf_agent_kind_from_argv0(const char *argv0)
{
    const char *base;
    size_t len;

    if (argv0 == NULL) {
        return VF_AGENT_VIRT;
    }
    base = strrchr(argv0, '/');
    base = base != NULL ? base + 1 : argv0;
    len = strlen(base);
    if (len >= 3 && strcmp(base + len - 3, "xvm") == 0) {
        return VF_AGENT_XVM;
    }
    return VF_AGENT_VIRT;
}

const char *
vf_opts_other_agent_hint(enum vf_agent_kind kind, const char *key)
{
    enum vf_agent_kind other = kind == VF_AGENT_XVM ? VF_AGENT_VIRT : VF_AGENT_XVM;

    if (key == NULL) {
        return NULL;
    }
    for (int id = 0; id < OPT__MAX; id++) {
        if (strcasecmp(vf__opt_table[id].key, key) == 0 && !opt_for_agent(id, kind)
            && opt_for_agent(id, other)) {
            return other == VF_AGENT_XVM ? "valid only for fence_xvm"
                                         : "valid only for fence_virt";
        }
    }
    return NULL;
}

/* ---- small helpers -------------------------------------------------------- */

#define strv_add vf_strv_add
#define strv_free vf_strv_free

__attribute__((format(printf, 2, 3)))
static void
add_problem(struct vf_args *args, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* on ENOMEM the problem is lost but n_problems must still count it */
    if (strv_add(&args->problems, &args->n_problems, buf) < 0) {
        args->n_problems++;
    }
}

/* ---- init / done ---------------------------------------------------------- */

void
vf_args_init(struct vf_args *args, enum vf_agent_kind kind, const char *progname)
{
    memset(args, 0, sizeof(*args));
    args->kind = kind;
    args->progname = progname != NULL ? progname : agent_name(kind);
    args->family = AF_UNSPEC;
    args->port = VF_DEFAULT_PORT;
    args->retrans = 20;
    args->hash = VF_HASH_SHA256;
    args->auth = VF_HASH_SHA256;
    args->key_file = strdup(VF_DEFAULT_KEY_FILE);
    args->serial_params = strdup(VF_DEFAULT_SERIAL_PARAMS);
    args->channel_address = strdup(VF_DEFAULT_CHANNEL_ADDR);
    args->action = strdup("reboot");
    args->cmd = VF_CMD_REBOOT;
    args->timeout = 30;
    args->delay = 0;
    args->transport = kind == VF_AGENT_XVM ? VF_XPORT_MCAST : VF_XPORT_VMCHANNEL;
}

/* free the strings struct vf_args owns */
static void
args_free_strings(struct vf_args *args)
{
    char **strs[] = {
        &args->mcast_addr, &args->ipaddr, &args->channel_address, &args->interface,
        &args->key_file, &args->serial_device, &args->serial_params, &args->action,
        &args->domain,
    };

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(strs[i][0]);
    }
}

void
vf_args_done(struct vf_args *args)
{
    if (args == NULL) {
        return;
    }
    args_free_strings(args);
    strv_free(&args->problems, &args->n_problems);
    strv_free(&args->unknown, &args->n_unknown);
    memset(args, 0, sizeof(*args));
}

/*
 * Merge the target values collected under plug/port/domain into
 * args->domain.  Equal values under several names are fine; different ones
 * are an error (message in @msg).
 */
static int
target_merge(struct vf_args *args, struct vf__target_state *ts, bool argv_names,
             char *msg, size_t msg_len)
{
    static const char *const argv_names_v[] = { "-n", "-H", "domain" };
    int first = -1;
    int r = 0;

    for (int i = 0; i < 3; i++) {
        if (ts->val[i] == NULL) {
            continue;
        }
        if (first < 0) {
            first = i;
        } else if (strcmp(ts->val[i], ts->val[first]) != 0 && r == 0) {
            snprintf(msg, msg_len, "target may not be specified more than once: "
                     "%s '%s' and %s '%s' differ",
                     argv_names ? argv_names_v[first] : target_keys[first],
                     ts->val[first],
                     argv_names ? argv_names_v[i] : target_keys[i], ts->val[i]);
            r = -EINVAL;
        }
    }
    /* on a conflict keep the first (plug, then port, then domain) so that
     * only the conflict is reported, not also a missing target */
    if (first >= 0) {
        free(args->domain);
        args->domain = ts->val[first];
        ts->val[first] = NULL;
    }
    for (int i = 0; i < 3; i++) {
        free(ts->val[i]);
        ts->val[i] = NULL;
    }
    return r;
}

/* ---- argv ----------------------------------------------------------------- */

/* ---- the framework's view of the two binaries ------------------------------ */

struct parse_ctx {
    struct vf_args *args;
    struct vf__target_state ts;
};

static void
target_state_done(struct vf__target_state *ts)
{
    for (int i = 0; i < 3; i++) {
        free(ts->val[i]);
        ts->val[i] = NULL;
    }
}

static int
cb_apply(void *ctx, const struct vf_opt *o, const char *val, enum vf_fa_src src,
         const char *name, char *msg, size_t msg_len)
{
    struct parse_ctx *c = ctx;

    return vf__opts_apply(c->args, opt_id_of(o), val, src, &c->ts, name, msg, msg_len);
}

static void
cb_problem(void *ctx, const char *msg)
{
    add_problem(((struct parse_ctx *)ctx)->args, "%s", msg);
}

/* unknown (or for the other binary); recorded once per key */
static int
cb_unknown(void *ctx, const char *key)
{
    struct vf_args *args = ((struct parse_ctx *)ctx)->args;

    for (size_t i = 0; i < args->n_unknown; i++) {
        if (strcasecmp(args->unknown[i], key) == 0) {
            return 0;
        }
    }
    return strv_add(&args->unknown, &args->n_unknown, key);
}

static const char *
virt_unexpected_hint(int argc, char **argv, int optind)
{
    if (optind > 1 && optind <= argc && strcmp(argv[optind - 1], "-S") == 0) {
        return " (a vsock CID must be attached: -S<cid>)";
    }
    return NULL;
}

/* the framework's view of binary @n: what the two share, and their own */
#define AGENT(n, ld, o) \
    .name = (n), .longdesc = (ld), .opts = (o), \
    .shortdesc = "Fence agent for virtual machines", \
    .vendor_url = "https://libvirt.org", \
    .extra_keys = vf__extra_keys, .actions = vf__actions, \
    .apply = cb_apply, .problem = cb_problem, .unknown = cb_unknown

static const struct vf_fa_agent agent_xvm = {
    AGENT("fence_xvm", vf__longdesc_xvm, vf__meta_xvm),
    .help_intro = "Fence a virtual machine through the fence_virtd host daemon "
                  "(multicast).",
};

static const struct vf_fa_agent agent_virt = {
    AGENT("fence_virt", vf__longdesc_virt, vf__meta_virt),
    .help_intro = "Fence a virtual machine through the fence_virtd host daemon "
                  "(vmchannel, serial, TCP or vsock).",
    .help_outro = "The vsock CID must be attached to -S (-S3); -S alone means "
                  "CID 2 (the host).\n",
    .unexpected_hint = virt_unexpected_hint,
};

const struct vf_fa_agent *
vf_agent_def(enum vf_agent_kind kind)
{
    return kind == VF_AGENT_XVM ? &agent_xvm : &agent_virt;
}

/* ---- argv ----------------------------------------------------------------- */

const char *
vf_opts_getopt_string(enum vf_agent_kind kind)
{
    /* "+:" + up to 3 chars per option + "hV" */
    static char buf[2][2 + 3 * OPT__MAX + 3];
    char *p = buf[kind == VF_AGENT_XVM ? 0 : 1];
    char *s = vf_fa_getopt_string(vf_agent_def(kind));

    snprintf(p, sizeof(buf[0]), "%s", s != NULL ? s : "");
    free(s);
    return p;
}

int
vf_args_parse_argv(struct vf_args *args, int argc, char **argv,
                   bool *ret_help, bool *ret_version, char *err, size_t err_len)
{
    struct parse_ctx c = { .args = args };
    bool help = false, version = false;
    char msg[512] = "";
    int r;

    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
    r = vf_fa_parse_argv(vf_agent_def(args->kind), &c, argc, argv, &help, &version,
                         msg, sizeof(msg));
    if (r == 0 && !help && !version) {
        r = target_merge(args, &c.ts, true, msg, sizeof(msg));
    }
    target_state_done(&c.ts);
    if (ret_help != NULL) {
        *ret_help = help;
    }
    if (ret_version != NULL) {
        *ret_version = version;
    }
    if (r < 0 && err != NULL && err_len > 0) {
        snprintf(err, err_len, "%s: %s", args->progname,
                 msg[0] != '\0' ? msg : strerror(-r));
    }
    return r;
}

/* ---- stdin ---------------------------------------------------------------- */

int
vf_args_parse_buffer(struct vf_args *args, const char *buf, size_t len,
                     char *err, size_t err_len)
{
    struct parse_ctx c = { .args = args };
    char msg[512];
    int r;

    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
    if (len > STDIN_MAX_TOTAL) {
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len, "%s: standard input is larger than %u bytes",
                     args->progname, STDIN_MAX_TOTAL);
        }
        return -E2BIG;
    }
    if (len > 0 && buf == NULL) {
        return -EINVAL;
    }
    r = vf_fa_parse_buffer(vf_agent_def(args->kind), &c, buf, len);
    if (r == 0) {
        msg[0] = '\0';
        if (target_merge(args, &c.ts, false, msg, sizeof(msg)) < 0) {
            add_problem(args, "%s", msg);
        }
    } else if (err != NULL && err_len > 0) {
        snprintf(err, err_len, "%s: cannot parse standard input: %s",
                 args->progname, strerror(-r));
    }
    target_state_done(&c.ts);
    return r;
}

int
vf_args_parse_stdin(struct vf_args *args, FILE *in, char *err, size_t err_len)
{
    char *buf = NULL;
    size_t len = 0;
    int r;

    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
    r = vf_fa_read_input(in, &buf, &len);
    if (r < 0) {
        if (err != NULL && err_len > 0) {
            if (r == -ETIMEDOUT) {
                snprintf(err, err_len, "%s: standard input not closed within %u "
                         "seconds", args->progname, STDIN_TIMEOUT_MS / 1000);
            } else {
                snprintf(err, err_len, "%s: cannot read standard input: %s",
                         args->progname, strerror(-r));
            }
        }
        return r;
    }
    r = vf_args_parse_buffer(args, buf, len, err, err_len);
    free(buf);
    return r;
}

/* ---- finish --------------------------------------------------------------- */

static bool
cmd_needs_target(enum vf_cmd cmd)
{
    switch (cmd) {
    case VF_CMD_DEVSTATUS:
    case VF_CMD_HOSTLIST:
    case VF_CMD_METADATA:
        return false;
    default:
        return true;
    }
}

int
vf_args_finish(struct vf_args *args)
{
    enum vf_cmd cmd = VF_CMD_REBOOT;
    int fam;

    /* action (already validated when it was set; re-check for safety) */
    if (args->action != NULL) {
        if (vf_cmd_from_action(args->action, &cmd) < 0) {
            add_problem(args, "unknown action '%s'", args->action);
        } else {
            args->cmd = cmd;
        }
    } else {
        args->cmd = VF_CMD_REBOOT;
    }

    /* transport (protocol.md 4.1) */
    if (args->kind == VF_AGENT_XVM) {
        args->transport = VF_XPORT_MCAST;
    } else {
        args->transport = args->serial_device != NULL ? VF_XPORT_SERIAL
                                                      : VF_XPORT_VMCHANNEL;
        if (args->ipaddr != NULL) {
            args->transport = VF_XPORT_TCP;
        }
        if (args->vsock_cid >= VF__VSOCK_CID_MIN) {
            args->transport = VF_XPORT_VSOCK;
        }
    }

    /* address family */
    if (args->transport == VF_XPORT_MCAST) {
        if (args->mcast_addr != NULL) {
            fam = vf__addr_family(args->mcast_addr, NULL);
            if (fam < 0) {
                add_problem(args, "invalid multicast_address '%s'", args->mcast_addr);
            } else if (args->family == AF_UNSPEC) {
                args->family = fam;
            } else if (args->family != fam) {
                add_problem(args, "multicast_address '%s' is not an %s address "
                            "(ip_family)", args->mcast_addr,
                            args->family == AF_INET ? "IPv4" : "IPv6");
            }
        } else {
            if (args->family == AF_UNSPEC) {
                args->family = AF_INET;
            }
            args->mcast_addr = strdup(args->family == AF_INET6 ? VF_DEFAULT_MCAST_V6
                                                               : VF_DEFAULT_MCAST_V4);
        }
    } else if (args->transport == VF_XPORT_TCP) {
        fam = vf__addr_family(args->ipaddr, NULL);
        if (fam < 0) {
            add_problem(args, "invalid ipaddr '%s'", args->ipaddr);
        } else {
            args->family = fam;
        }
    } else if (args->transport == VF_XPORT_VMCHANNEL && args->channel_address != NULL) {
        fam = vf__addr_family(args->channel_address, NULL);
        if (fam > 0) {
            args->family = fam;
        }
    }

    /* target */
    if (cmd_needs_target(args->cmd) && args->domain == NULL) {
        add_problem(args, "no target given (plug, port or domain; -n on the "
                    "command line) for action '%s'",
                    args->action != NULL ? args->action : "reboot");
    }

    return args->n_problems > 0 ? -EINVAL : 0;
}

/* ---- help ----------------------------------------------------------------- */

void
vf_args_print_help(const struct vf_args *args, FILE *out)
{
    vf_fa_print_help(vf_agent_def(args->kind), out);
}
