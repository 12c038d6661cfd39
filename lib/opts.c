/*
 * vmfence - lib/opts.c: the agents' option table and its parsers.
 *
 * The table below is the single description of every agent option: getopt
 * letter, stdin key, type, default, which binary has it and what it means.
 * argv parsing (getopt string and long options are built from it), stdin
 * key=value parsing, --help, the metadata XML and the man page option list
 * (metadata.c) are all generated from it.
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
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "io.h"
#include "opts.h"

#define AGENT_XVM   (1u << VF_AGENT_XVM)
#define AGENT_VIRT  (1u << VF_AGENT_VIRT)
#define AGENT_BOTH  (AGENT_XVM | AGENT_VIRT)

#define STDIN_MAX_LINE   4096u
#define STDIN_MAX_TOTAL  (1024u * 1024u)
#define STDIN_TIMEOUT_MS 60000u
#define MAX_TIMEOUT      86400u
#define MAX_DELAY        86400u
#define MAX_RETRANS      6000u
#define MAX_DEBUG        99u
#define VSOCK_CID_MIN    2u
#define VSOCK_CID_MAX    0xfffffffeu
#define VSOCK_CID_HOST   2u

#define STR_(x) #x
#define STR(x) STR_(x)

/* option ids: index into opt_table[] */
enum opt_id {
    OPT_DEBUG,
    OPT_IP_FAMILY,
    OPT_MCAST_ADDR,
    OPT_IPPORT,
    OPT_RETRANS,
    OPT_AUTH,
    OPT_HASH,
    OPT_KEY_FILE,
    OPT_PLUG,
    OPT_PORT,
    OPT_USE_UUID,
    OPT_ACTION,
    OPT_TIMEOUT,
    OPT_DELAY,
    OPT_SERIAL_DEVICE,
    OPT_SERIAL_PARAMS,
    OPT_CHANNEL_ADDR,
    OPT_IPADDR,
    OPT_VSOCK,
    OPT_DOMAIN,
    OPT_INTERFACE,
    OPT_CALLBACK_PORT,
    OPT__MAX,
};

static const char *const hash_choices[] = { "none", "sha1", "sha256", "sha512", NULL };
static const char *const family_choices[] = { "auto", "ipv4", "ipv6", NULL };

/*
 * The table.  Metadata order is not the table order: see meta_xvm[] and
 * meta_virt[] below.  No parameter is required="1": list, monitor and
 * metadata need no target, and Pacemaker supplies plug/port itself (the
 * reference marked plug and port required, D23).
 */
static const struct vf_opt opt_table[OPT__MAX] = {
    [OPT_DEBUG] = {
        .key = "debug", .letter = 'd', .type = VF_OPT_BOOL, .agents = AGENT_BOTH,
        .shortdesc = "Debug level: on stdin a number sets it (no value adds one); "
                     "each -d on the command line adds one",
    },
    [OPT_IP_FAMILY] = {
        .key = "ip_family", .letter = 'i', .arg_name = "family",
        .type = VF_OPT_SELECT, .def = "auto", .agents = AGENT_XVM,
        .choices = family_choices,
        .shortdesc = "IP family of the multicast group: auto (taken from the "
                     "address), ipv4 or ipv6",
    },
    [OPT_MCAST_ADDR] = {
        .key = "multicast_address", .letter = 'a', .arg_name = "address",
        .type = VF_OPT_STRING, .agents = AGENT_XVM,
        .shortdesc = "Multicast group the request is sent to (default "
                     VF_DEFAULT_MCAST_V4 " for IPv4, " VF_DEFAULT_MCAST_V6
                     " for IPv6)",
    },
    [OPT_IPPORT] = {
        .key = "ipport", .letter = 'p', .arg_name = "port",
        .type = VF_OPT_INTEGER, .def = STR(VF_DEFAULT_PORT), .agents = AGENT_BOTH,
        .shortdesc = "Port of the host daemon for multicast, TCP, vmchannel "
                     "and vsock (1-65535)",
    },
    [OPT_RETRANS] = {
        .key = "retrans", .letter = 'r', .arg_name = "tenths",
        .type = VF_OPT_INTEGER, .def = "20", .agents = AGENT_XVM,
        .shortdesc = "Interval between multicast retransmissions, in tenths "
                     "of a second",
    },
    [OPT_AUTH] = {
        .key = "auth", .letter = 'C', .arg_name = "algorithm",
        .type = VF_OPT_SELECT, .def = "sha256", .agents = AGENT_BOTH,
        .choices = hash_choices,
        .shortdesc = "Challenge/response algorithm: none, sha1, sha256 or sha512",
    },
    [OPT_HASH] = {
        .key = "hash", .letter = 'c', .arg_name = "algorithm",
        .type = VF_OPT_SELECT, .def = "sha256", .agents = AGENT_BOTH,
        .choices = hash_choices,
        .shortdesc = "Hash used to sign the request: none, sha1, sha256 or sha512",
    },
    [OPT_KEY_FILE] = {
        .key = "key_file", .letter = 'k', .arg_name = "file",
        .type = VF_OPT_STRING, .def = VF_DEFAULT_KEY_FILE, .agents = AGENT_BOTH,
        .shortdesc = "File holding the key shared with the host daemon",
    },
    [OPT_PLUG] = {
        .key = "plug", .letter = 'n', .arg_name = "vm",
        .type = VF_OPT_STRING, .agents = AGENT_BOTH, .obsoletes = "port",
        .shortdesc = "Name or UUID of the virtual machine to act on",
    },
    [OPT_PORT] = {
        .key = "port", .letter = 'H', .arg_name = "vm",
        .type = VF_OPT_STRING, .agents = AGENT_BOTH, .deprecated = true,
        .shortdesc = "Name or UUID of the virtual machine to act on "
                     "(deprecated, use plug)",
    },
    [OPT_USE_UUID] = {
        .key = "use_uuid", .letter = 'u', .type = VF_OPT_BOOL,
        .def = "0", .agents = AGENT_XVM,
        .shortdesc = "Mark the target as a UUID in the request (kept for old "
                     "hosts; fence_virtd recognises UUIDs by itself)",
    },
    [OPT_ACTION] = {
        .key = "action", .letter = 'o', .arg_name = "action",
        .type = VF_OPT_STRING, .def = "reboot", .agents = AGENT_BOTH,
        .shortdesc = "Action: null, on, off, reboot, status, monitor, list, "
                     "list-status, metadata or validate-all",
    },
    [OPT_TIMEOUT] = {
        .key = "timeout", .letter = 't', .arg_name = "seconds",
        .type = VF_OPT_INTEGER, .def = "30", .agents = AGENT_BOTH,
        .shortdesc = "Seconds to wait for the host daemon (greater than 0)",
    },
    [OPT_DELAY] = {
        .key = "delay", .letter = 'w', .arg_name = "seconds",
        .type = VF_OPT_INTEGER, .def = "0", .agents = AGENT_BOTH,
        .shortdesc = "Seconds to wait before contacting the host daemon (not "
                     "applied to status, monitor or list)",
    },
    [OPT_SERIAL_DEVICE] = {
        .key = "serial_device", .letter = 'D', .arg_name = "device",
        .type = VF_OPT_STRING, .agents = AGENT_VIRT,
        .shortdesc = "Serial device to reach the host through (e.g. "
                     VF_DEFAULT_SERIAL_DEV "); when unset, the vmchannel "
                     "address is used",
    },
    [OPT_SERIAL_PARAMS] = {
        .key = "serial_params", .letter = 'P', .arg_name = "params",
        .type = VF_OPT_STRING, .def = VF_DEFAULT_SERIAL_PARAMS, .agents = AGENT_VIRT,
        .shortdesc = "Serial line settings: speed (2400, 9600, 19200, 38400, "
                     "57600 or 115200)[,data bits (5-8) parity (N, E, O) stop "
                     "bits (1, 2)]",
    },
    [OPT_CHANNEL_ADDR] = {
        .key = "channel_address", .letter = 'A', .arg_name = "address",
        .type = VF_OPT_STRING, .def = VF_DEFAULT_CHANNEL_ADDR, .agents = AGENT_VIRT,
        .shortdesc = "Address of the vmchannel (guestfwd) connection to the host",
    },
    [OPT_IPADDR] = {
        .key = "ipaddr", .letter = 'T', .arg_name = "address",
        .type = VF_OPT_STRING, .agents = AGENT_VIRT,
        .shortdesc = "IPv4 or IPv6 address of a host daemon TCP listener; "
                     "setting it selects TCP",
    },
    [OPT_VSOCK] = {
        .key = "vsock", .letter = 'S', .arg_name = "cid",
        .type = VF_OPT_INTEGER, .agents = AGENT_VIRT,
        .shortdesc = "vsock CID of the host daemon (2 = the host, which is "
                     "also what -S without a value means); setting it "
                     "selects vsock",
    },
    [OPT_DOMAIN] = {
        .key = "domain", .letter = 0, .arg_name = "vm",
        .type = VF_OPT_STRING, .agents = AGENT_BOTH, .deprecated = true,
        .shortdesc = "Name or UUID of the virtual machine to act on "
                     "(deprecated, use plug)",
    },
    [OPT_INTERFACE] = {
        .key = "interface", .letter = 'I', .arg_name = "interface",
        .type = VF_OPT_STRING, .agents = AGENT_XVM,
        .shortdesc = "Send the multicast request only through this network "
                     "interface (default: all interfaces)",
    },
    [OPT_CALLBACK_PORT] = {
        .key = "callback_port", .letter = 'L', .arg_name = "port",
        .type = VF_OPT_INTEGER, .agents = AGENT_XVM,
        .shortdesc = "TCP port on which to wait for the host's call-back "
                     "(1-65535; default: the ipport value)",
    },
};

/*
 * Metadata order: the reference getopt-string order (fence_xvm
 * "di:a:p:r:C:c:k:M:n:H:uo:t:?hVw:", fence_virt
 * "dD:P:A:p:M:n:H:o:t:?hVT:S::C:c:k:w:", options without a stdin name
 * skipped), then the stdin-only "domain", then options new in vmfence, so
 * the parameter list stays a superset of the reference one.
 */
#define T(id) (&opt_table[(id)])
static const struct vf_opt *const meta_xvm[] = {
    T(OPT_DEBUG), T(OPT_IP_FAMILY), T(OPT_MCAST_ADDR), T(OPT_IPPORT),
    T(OPT_RETRANS), T(OPT_AUTH), T(OPT_HASH), T(OPT_KEY_FILE), T(OPT_PLUG),
    T(OPT_PORT), T(OPT_USE_UUID), T(OPT_ACTION), T(OPT_TIMEOUT), T(OPT_DELAY),
    T(OPT_DOMAIN),
    T(OPT_INTERFACE), T(OPT_CALLBACK_PORT),
    NULL,
};
static const struct vf_opt *const meta_virt[] = {
    T(OPT_DEBUG), T(OPT_SERIAL_DEVICE), T(OPT_SERIAL_PARAMS),
    T(OPT_CHANNEL_ADDR), T(OPT_IPPORT), T(OPT_PLUG), T(OPT_PORT),
    T(OPT_ACTION), T(OPT_TIMEOUT), T(OPT_IPADDR), T(OPT_VSOCK), T(OPT_AUTH),
    T(OPT_HASH), T(OPT_KEY_FILE), T(OPT_DELAY),
    T(OPT_DOMAIN),
    NULL,
};
#undef T

/* stdin keys that are not parameters of their own */
static const struct {
    const char *key;
    int id;                     /* alias of this option, or -1 = ignored */
} stdin_extra[] = {
    { "option", OPT_ACTION },   /* deprecated alias of action */
    { "nodename", -1 },         /* Pacemaker always passes it; not a target */
    { "agent", -1 },
    { "self", -1 },
};

static const char *const target_keys[] = { "plug", "port", "domain" };

/* where a value came from: changes debug semantics and message wording */
enum opt_source {
    SRC_ARGV,
    SRC_STDIN,
};

/* per-call target bookkeeping: one value per target key, compared at the end */
struct target_state {
    char *val[3];              /* plug, port, domain */
};

/* ------------------------------------------------------------------------- */

const struct vf_opt *const *
vf_opts_for(enum vf_agent_kind kind)
{
    return kind == VF_AGENT_XVM ? meta_xvm : meta_virt;
}

/* table index of an entry */
static int
opt_id_of(const struct vf_opt *o)
{
    return (int)(o - opt_table);
}

static bool
opt_for_agent(int id, enum vf_agent_kind kind)
{
    return (opt_table[id].agents & (1u << kind)) != 0;
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
        if (strcasecmp(opt_table[id].key, key) == 0 && !opt_for_agent(id, kind)
            && opt_for_agent(id, other)) {
            return other == VF_AGENT_XVM ? "valid only for fence_xvm"
                                         : "valid only for fence_virt";
        }
    }
    return NULL;
}

/* ---- small helpers -------------------------------------------------------- */

static void
set_str(char **dst, const char *val)
{
    char *copy = NULL;

    if (val != NULL) {
        copy = strdup(val);
    }
    free(*dst);
    *dst = copy;
}

static int
strv_add(char ***v, size_t *n, const char *s)
{
    char **nv;
    char *copy;

    copy = strdup(s);
    if (copy == NULL) {
        return -ENOMEM;
    }
    nv = realloc(*v, (*n + 2) * sizeof(**v));
    if (nv == NULL) {
        free(copy);
        return -ENOMEM;
    }
    nv[*n] = copy;
    nv[*n + 1] = NULL;
    *v = nv;
    (*n)++;
    return 0;
}

static void
strv_free(char ***v, size_t *n)
{
    if (*v != NULL) {
        for (size_t i = 0; i < *n; i++) {
            free((*v)[i]);
        }
        free(*v);
    }
    *v = NULL;
    *n = 0;
}

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

/*
 * Parse an unsigned decimal number (or 0x hex when @allow_hex) covering the
 * whole string, within [min, max].
 */
static int
parse_uint(const char *s, bool allow_hex, unsigned long min, unsigned long max,
           unsigned long *ret)
{
    unsigned long v;
    char *end = NULL;
    int base = 10;

    if (s == NULL || *s == '\0') {
        return -EINVAL;
    }
    if (allow_hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    /* strtoul accepts blanks and a sign: refuse them */
    if (!(base == 10 ? isdigit((unsigned char)*s) : isxdigit((unsigned char)*s))) {
        return -EINVAL;
    }
    errno = 0;
    v = strtoul(s, &end, base);
    if (errno != 0 || end == s || *end != '\0') {
        return -EINVAL;
    }
    if (v < min || v > max) {
        return -ERANGE;
    }
    *ret = v;
    return 0;
}

/* boolean text: NULL/""/1/yes/true/on => true, 0/no/false/off => false */
static int
parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = { "1", "yes", "true", "on", "y" };
    static const char *const no[] = { "0", "no", "false", "off", "n" };

    if (s == NULL || *s == '\0') {
        *ret = true;
        return 0;
    }
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* AF_INET / AF_INET6 of a literal address, or -EINVAL */
static int
addr_family(const char *s, bool *ret_multicast)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (s == NULL) {
        return -EINVAL;
    }
    if (inet_pton(AF_INET, s, &a4) == 1) {
        if (ret_multicast != NULL) {
            *ret_multicast = IN_MULTICAST(ntohl(a4.s_addr));
        }
        return AF_INET;
    }
    if (inet_pton(AF_INET6, s, &a6) == 1) {
        if (ret_multicast != NULL) {
            *ret_multicast = IN6_IS_ADDR_MULTICAST(&a6);
        }
        return AF_INET6;
    }
    return -EINVAL;
}

/**
 * \brief Parse serial_params "SPEED[,BPS]": SPEED one of 2400, 9600, 19200,
 *        38400, 57600, 115200 (empty = 9600); BPS data bits 5-8, parity
 *        N/E/O (either case), stop bits 1/2 (default 8N1), e.g. "115200,8N1".
 *        The one grammar behind option validation and agents/serial.c.
 * \param[out] ret  filled on success only (may be NULL to validate)
 * \return 0 or -EINVAL
 */
int
vf_serial_params_parse(const char *s, struct vf_serial_params *ret)
{
    static const unsigned long speeds[] = { 2400, 9600, 19200, 38400, 57600, 115200 };
    struct vf_serial_params p = { .baud = 9600, .data_bits = 8, .parity = 'N',
                                  .stop_bits = 1 };
    const char *comma;
    size_t n;

    if (s == NULL) {
        return -EINVAL;
    }
    comma = strchr(s, ',');
    n = comma != NULL ? (size_t)(comma - s) : strlen(s);
    if (n > 0) {
        char buf[8];
        unsigned long v = 0;
        bool found = false;

        if (n >= sizeof(buf)) {
            return -EINVAL;
        }
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (parse_uint(buf, false, 0, ULONG_MAX, &v) < 0) {
            return -EINVAL;
        }
        for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++) {
            found = found || speeds[i] == v;
        }
        if (!found) {
            return -EINVAL;
        }
        p.baud = v;
    }
    if (comma != NULL) {
        const char *b = comma + 1;

        if (strlen(b) != 3 || b[0] < '5' || b[0] > '8' || strchr("NnEeOo", b[1]) == NULL
            || (b[2] != '1' && b[2] != '2')) {
            return -EINVAL;
        }
        p.data_bits = (unsigned int)(b[0] - '0');
        p.parity = (char)toupper((unsigned char)b[1]);
        p.stop_bits = (unsigned int)(b[2] - '0');
    }
    if (ret != NULL) {
        *ret = p;
    }
    return 0;
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

void
vf_args_done(struct vf_args *args)
{
    if (args == NULL) {
        return;
    }
    free(args->mcast_addr);
    free(args->ipaddr);
    free(args->channel_address);
    free(args->interface);
    free(args->key_file);
    free(args->serial_device);
    free(args->serial_params);
    free(args->action);
    free(args->domain);
    strv_free(&args->problems, &args->n_problems);
    strv_free(&args->unknown, &args->n_unknown);
    memset(args, 0, sizeof(*args));
}

/* ---- applying one value --------------------------------------------------- */

/*
 * Apply @val to option @id.  On a bad value, write a message naming the
 * option (@name: "-p" or "'ipport'") into @msg and return -EINVAL.
 */
static int
apply_opt(struct vf_args *args, int id, const char *val, enum opt_source src,
          struct target_state *ts, const char *name, char *msg, size_t msg_len)
{
    const struct vf_opt *o = &opt_table[id];
    unsigned long n = 0;
    bool b = false;

    /* options that need a value */
    if (o->type != VF_OPT_BOOL && id != OPT_VSOCK && (val == NULL || *val == '\0')) {
        snprintf(msg, msg_len, "%s needs a value", name);
        return -EINVAL;
    }

    switch (id) {
    case OPT_DEBUG:
        if (src == SRC_ARGV || val == NULL || *val == '\0') {
            if (args->debug < (int)MAX_DEBUG) {
                args->debug++;
            }
            return 0;
        }
        if (parse_uint(val, false, 0, MAX_DEBUG, &n) == 0) {
            args->debug = (int)n;
            return 0;
        }
        if (parse_bool(val, &b) == 0) {
            args->debug = b ? 1 : 0;
            return 0;
        }
        snprintf(msg, msg_len, "invalid value '%s' for %s: expected a "
                 "number 0-%u or a boolean", val, name, MAX_DEBUG);
        return -EINVAL;

    case OPT_IP_FAMILY:
        if (strcasecmp(val, "auto") == 0) {
            args->family = AF_UNSPEC;
        } else if (strcasecmp(val, "ipv4") == 0) {
            args->family = AF_INET;
        } else if (strcasecmp(val, "ipv6") == 0) {
            args->family = AF_INET6;
        } else {
            snprintf(msg, msg_len, "invalid value '%s' for %s: "
                     "expected auto, ipv4 or ipv6", val, name);
            return -EINVAL;
        }
        return 0;

    case OPT_MCAST_ADDR:
        if (addr_family(val, &b) < 0 || !b) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: "
                     "expected an IPv4 or IPv6 multicast address", val, name);
            return -EINVAL;
        }
        set_str(&args->mcast_addr, val);
        return 0;

    case OPT_IPADDR:
        if (addr_family(val, NULL) < 0) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: expected "
                     "a literal IPv4 or IPv6 address", val, name);
            return -EINVAL;
        }
        set_str(&args->ipaddr, val);
        return 0;

    case OPT_CHANNEL_ADDR:
        if (addr_family(val, NULL) < 0) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: "
                     "expected a literal IPv4 or IPv6 address", val, name);
            return -EINVAL;
        }
        set_str(&args->channel_address, val);
        return 0;

    case OPT_VSOCK:
        if (val == NULL || *val == '\0') {
            args->vsock_cid = VSOCK_CID_HOST;
            return 0;
        }
        if (parse_uint(val, true, VSOCK_CID_MIN, VSOCK_CID_MAX, &n) < 0) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: the CID "
                     "must be 2-4294967294 (2 = the host)", val, name);
            return -EINVAL;
        }
        args->vsock_cid = (uint32_t)n;
        return 0;

    case OPT_IPPORT:
    case OPT_CALLBACK_PORT:
        if (parse_uint(val, false, 1, 65535, &n) < 0) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: expected a "
                     "port number 1-65535", val, name);
            return -EINVAL;
        }
        if (id == OPT_IPPORT) {
            args->port = (uint16_t)n;
        } else {
            args->callback_port = (uint16_t)n;
        }
        return 0;

    case OPT_INTERFACE:
        if (strlen(val) >= IF_NAMESIZE || strchr(val, '/') != NULL
            || strpbrk(val, " \t") != NULL) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: not "
                     "a network interface name", val, name);
            return -EINVAL;
        }
        set_str(&args->interface, val);
        return 0;

    case OPT_RETRANS:
        if (parse_uint(val, false, 1, MAX_RETRANS, &n) < 0) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: expected "
                     "tenths of a second, 1-%u", val, name, MAX_RETRANS);
            return -EINVAL;
        }
        args->retrans = (unsigned int)n;
        return 0;

    case OPT_HASH:
    case OPT_AUTH: {
        enum vf_hash h;

        if (vf_hash_from_string(val, &h) < 0) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: expected "
                     "none, sha1, sha256 or sha512", val, name);
            return -EINVAL;
        }
        if (id == OPT_HASH) {
            args->hash = h;
        } else {
            args->auth = h;
        }
        return 0;
    }

    case OPT_KEY_FILE:
        set_str(&args->key_file, val);
        args->key_file_set = true;
        return 0;

    case OPT_SERIAL_DEVICE:
        set_str(&args->serial_device, val);
        return 0;

    case OPT_SERIAL_PARAMS:
        if (vf_serial_params_parse(val, NULL) < 0) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: "
                     "expected SPEED[,BPS] with SPEED 2400, 9600, 19200, 38400, "
                     "57600 or 115200 and BPS like 8N1", val, name);
            return -EINVAL;
        }
        set_str(&args->serial_params, val);
        return 0;

    case OPT_ACTION: {
        enum vf_cmd cmd;

        if (vf_cmd_from_action(val, &cmd) < 0) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: expected "
                     "null, on, off, reboot, status, monitor, list, list-status, "
                     "metadata or validate-all", val, name);
            return -EINVAL;
        }
        set_str(&args->action, val);
        args->cmd = cmd;
        return 0;
    }

    case OPT_PLUG:
    case OPT_PORT:
    case OPT_DOMAIN: {
        size_t idx = id == OPT_PLUG ? 0 : id == OPT_PORT ? 1 : 2;

        if (strlen(val) > VF_DOMAIN_MAX) {
            snprintf(msg, msg_len, "value of %s is %zu bytes long; the wire "
                     "format allows at most " STR(VF_DOMAIN_MAX) " bytes",
                     name, strlen(val));
            return -EINVAL;
        }
        set_str(&ts->val[idx], val);
        return 0;
    }

    case OPT_USE_UUID:
        if (parse_bool(val, &b) < 0) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: "
                     "expected a boolean", val, name);
            return -EINVAL;
        }
        args->use_uuid = b;
        return 0;

    case OPT_TIMEOUT:
        if (parse_uint(val, false, 1, MAX_TIMEOUT, &n) < 0) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: expected "
                     "seconds, 1-%u", val, name, MAX_TIMEOUT);
            return -EINVAL;
        }
        args->timeout = (unsigned int)n;
        return 0;

    case OPT_DELAY:
        if (parse_uint(val, false, 0, MAX_DELAY, &n) < 0) {
            snprintf(msg, msg_len, "invalid value '%s' for %s: expected "
                     "seconds, 0-%u", val, name, MAX_DELAY);
            return -EINVAL;
        }
        args->delay = (unsigned int)n;
        return 0;

    default:
        break;
    }
    snprintf(msg, msg_len, "internal error: option %s not handled", name);
    return -EINVAL;
}

/*
 * Merge the target values collected under plug/port/domain into
 * args->domain.  Equal values under several names are fine; different ones
 * are an error (message in @msg).
 */
static int
target_merge(struct vf_args *args, struct target_state *ts, bool argv_names,
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

static int
id_from_letter(enum vf_agent_kind kind, int c)
{
    const struct vf_opt *const *o = vf_opts_for(kind);

    for (size_t i = 0; o[i] != NULL; i++) {
        if (o[i]->letter != 0 && o[i]->letter == c) {
            return opt_id_of(o[i]);
        }
    }
    return -1;
}

const char *
vf_opts_getopt_string(enum vf_agent_kind kind)
{
    /* "+:" + up to 3 chars per option + "h?V" */
    static char buf[2][2 + 3 * OPT__MAX + 4];
    char *p = buf[kind == VF_AGENT_XVM ? 0 : 1];
    const struct vf_opt *const *o = vf_opts_for(kind);
    size_t len = 0;

    p[len++] = '+';   /* stop at the first non-option: no argv permutation */
    p[len++] = ':';   /* report missing arguments as ':' */
    for (size_t i = 0; o[i] != NULL; i++) {
        if (o[i]->letter == 0) {
            continue;
        }
        p[len++] = o[i]->letter;
        if (opt_id_of(o[i]) == OPT_VSOCK) {
            p[len++] = ':';
            p[len++] = ':';
        } else if (o[i]->type != VF_OPT_BOOL) {
            p[len++] = ':';
        }
    }
    /* "-?" is left out on purpose: it arrives as an unknown option with
     * optopt '?', which cannot be confused with a real unknown option */
    p[len++] = 'h';
    p[len++] = 'V';
    p[len] = '\0';
    return p;
}

#define LONGOPT_BASE 0x100
#define LONGOPT_HELP (LONGOPT_BASE + OPT__MAX)
#define LONGOPT_VERSION (LONGOPT_BASE + OPT__MAX + 1)

int
vf_args_parse_argv(struct vf_args *args, int argc, char **argv,
                   bool *ret_help, bool *ret_version, char *err, size_t err_len)
{
    struct option longopts[OPT__MAX + 3];
    struct target_state ts = { { NULL } };
    const char *optstring;
    char msg[512];
    size_t nl = 0;
    int c, r = 0;

    if (ret_help != NULL) {
        *ret_help = false;
    }
    if (ret_version != NULL) {
        *ret_version = false;
    }
    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
    msg[0] = '\0';

    /* long options: the stdin keys of this binary, plus help and version */
    for (const struct vf_opt *const *o = vf_opts_for(args->kind); *o != NULL; o++) {
        int id = opt_id_of(*o);

        longopts[nl].name = (*o)->key;
        longopts[nl].has_arg = id == OPT_VSOCK ? optional_argument
            : (*o)->type == VF_OPT_BOOL ? no_argument : required_argument;
        longopts[nl].flag = NULL;
        longopts[nl].val = LONGOPT_BASE + id;
        nl++;
    }
    longopts[nl++] = (struct option){ "help", no_argument, NULL, LONGOPT_HELP };
    longopts[nl++] = (struct option){ "version", no_argument, NULL, LONGOPT_VERSION };
    longopts[nl] = (struct option){ NULL, 0, NULL, 0 };

    optstring = vf_opts_getopt_string(args->kind);
    opterr = 0;
    optind = 0;      /* glibc: full re-initialisation (parse may run twice) */
    for (;;) {
        char name[64];
        int id = -1;
        int longidx = -1;

        optopt = 0;
        c = getopt_long(argc, argv, optstring, longopts, &longidx);
        if (c == -1) {
            break;
        }
        if (c == 'h' || c == LONGOPT_HELP) {
            if (ret_help != NULL) {
                *ret_help = true;
            }
            goto out;
        }
        if (c == 'V' || c == LONGOPT_VERSION) {
            if (ret_version != NULL) {
                *ret_version = true;
            }
            goto out;
        }
        if (c == '?') {
            if (optopt == '?') {
                /* "-?" itself */
                if (ret_help != NULL) {
                    *ret_help = true;
                }
                goto out;
            }
            if (optopt != 0) {
                snprintf(msg, sizeof(msg), "unknown option '-%c'", optopt);
            } else {
                snprintf(msg, sizeof(msg), "unknown option '%s'",
                         optind > 0 && optind <= argc ? argv[optind - 1] : "?");
            }
            r = -EINVAL;
            goto out;
        }
        if (c == ':') {
            if (optopt != 0 && optopt < LONGOPT_BASE) {
                snprintf(msg, sizeof(msg), "option '-%c' requires an argument", optopt);
            } else {
                snprintf(msg, sizeof(msg), "option '%s' requires an argument",
                         optind > 0 && optind <= argc ? argv[optind - 1] : "?");
            }
            r = -EINVAL;
            goto out;
        }
        if (c >= LONGOPT_BASE && c < LONGOPT_BASE + OPT__MAX) {
            id = c - LONGOPT_BASE;
            snprintf(name, sizeof(name), "--%s", opt_table[id].key);
        } else {
            id = id_from_letter(args->kind, c);
            snprintf(name, sizeof(name), "-%c (%s)", c,
                     id >= 0 ? opt_table[id].key : "?");
        }
        if (id < 0) {
            snprintf(msg, sizeof(msg), "unknown option '-%c'", c);
            r = -EINVAL;
            goto out;
        }
        r = apply_opt(args, id, optarg, SRC_ARGV, &ts, name, msg, sizeof(msg));
        if (r < 0) {
            goto out;
        }
    }
    if (optind < argc) {
        snprintf(msg, sizeof(msg), "unexpected argument '%s'%s", argv[optind],
                 args->kind == VF_AGENT_VIRT && optind > 1
                     && strcmp(argv[optind - 1], "-S") == 0
                     ? " (a vsock CID must be attached: -S<cid>)" : "");
        r = -EINVAL;
        goto out;
    }
    r = target_merge(args, &ts, true, msg, sizeof(msg));

 out:
    for (int i = 0; i < 3; i++) {
        free(ts.val[i]);
    }
    if (r < 0 && err != NULL && err_len > 0) {
        snprintf(err, err_len, "%s: %s", args->progname, msg);
    }
    return r;
}

/* ---- stdin ---------------------------------------------------------------- */

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* find the stdin key: option id (>= 0), -1 ignored, -2 unknown */
static int
id_from_key(enum vf_agent_kind kind, const char *key)
{
    for (int id = 0; id < OPT__MAX; id++) {
        if (opt_for_agent(id, kind) && strcasecmp(opt_table[id].key, key) == 0) {
            return id;
        }
    }
    for (size_t i = 0; i < sizeof(stdin_extra) / sizeof(stdin_extra[0]); i++) {
        if (strcasecmp(stdin_extra[i].key, key) == 0) {
            return stdin_extra[i].id;
        }
    }
    return -2;
}

/* handle one line (NUL-terminated, no newline); @line is modified */
static int
parse_line(struct vf_args *args, struct target_state *ts, char *line,
           unsigned int lineno)
{
    char *key, *val = NULL, *eq, *end;
    char name[80], msg[512];
    int id;

    /* strip leading and trailing blanks */
    while (is_blank(*line)) {
        line++;
    }
    end = line + strlen(line);
    while (end > line && is_blank(end[-1])) {
        *--end = '\0';
    }
    if (*line == '\0' || *line == '#') {
        return 0;
    }
    key = line;
    eq = strchr(line, '=');
    if (eq != NULL) {
        *eq = '\0';
        val = eq + 1;
        while (is_blank(*val)) {
            val++;
        }
        end = eq;
        while (end > key && is_blank(end[-1])) {
            *--end = '\0';
        }
    }
    if (*key == '\0') {
        add_problem(args, "line %u: missing key before '='", lineno);
        return 0;
    }
    id = id_from_key(args->kind, key);
    if (id == -1) {
        return 0;               /* nodename, agent, self */
    }
    if (id == -2) {
        /* unknown (or for the other binary); once per key */
        for (size_t i = 0; i < args->n_unknown; i++) {
            if (strcasecmp(args->unknown[i], key) == 0) {
                return 0;
            }
        }
        return strv_add(&args->unknown, &args->n_unknown, key);
    }
    snprintf(name, sizeof(name), "'%s'", key);
    if (apply_opt(args, id, val, SRC_STDIN, ts, name, msg, sizeof(msg)) < 0) {
        add_problem(args, "line %u: %s", lineno, msg);
    }
    return 0;
}

int
vf_args_parse_buffer(struct vf_args *args, const char *buf, size_t len,
                     char *err, size_t err_len)
{
    struct target_state ts = { { NULL } };
    char *line = NULL;
    char msg[512];
    unsigned int lineno = 0;
    size_t pos = 0;
    int r = 0;

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
    line = malloc(STDIN_MAX_LINE + 1);
    if (line == NULL) {
        return -ENOMEM;
    }
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t llen = nl != NULL ? (size_t)(nl - (buf + pos)) : len - pos;

        lineno++;
        if (llen > STDIN_MAX_LINE) {
            add_problem(args, "line %u is longer than %u bytes; ignored",
                        lineno, STDIN_MAX_LINE);
        } else if (memchr(buf + pos, '\0', llen) != NULL) {
            add_problem(args, "line %u contains a NUL byte; ignored", lineno);
        } else {
            memcpy(line, buf + pos, llen);
            line[llen] = '\0';
            r = parse_line(args, &ts, line, lineno);
            if (r < 0) {
                break;
            }
        }
        pos += llen + (nl != NULL ? 1 : 0);
    }
    if (r == 0) {
        msg[0] = '\0';
        if (target_merge(args, &ts, false, msg, sizeof(msg)) < 0) {
            add_problem(args, "%s", msg);
        }
    } else if (err != NULL && err_len > 0) {
        snprintf(err, err_len, "%s: cannot parse standard input: %s",
                 args->progname, strerror(-r));
    }
    for (int i = 0; i < 3; i++) {
        free(ts.val[i]);
    }
    free(line);
    return r;
}

/*
 * Read at most @max bytes from the file descriptor of @in with an overall
 * deadline (a cluster manager writes its parameters and closes the pipe at
 * once; a writer that keeps the pipe open must not hang the agent forever).
 * Terminals are read without a deadline: a person is typing.
 * \return bytes read, or a negative errno (-ETIMEDOUT, -EIO)
 */
static ssize_t
read_bounded(FILE *in, char *buf, size_t max)
{
    int64_t deadline = vf_now_ms() + STDIN_TIMEOUT_MS;
    size_t len = 0;
    int fd = fileno(in);

    if (fd < 0 || isatty(fd)) {
        /* memory streams (tests) and terminals: plain stdio */
        while (len < max) {
            size_t got = fread(buf + len, 1, max - len, in);

            if (got == 0) {
                break;
            }
            len += got;
        }
        return ferror(in) ? -EIO : (ssize_t)len;
    }
    while (len < max) {
        ssize_t got;
        int r;

        r = vf_wait_readable(fd, deadline);
        if (r < 0) {
            return r;
        }
        got = read(fd, buf + len, max - len);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return -errno;
        }
        if (got == 0) {
            break;
        }
        len += (size_t)got;
    }
    return (ssize_t)len;
}

int
vf_args_parse_stdin(struct vf_args *args, FILE *in, char *err, size_t err_len)
{
    char *buf = NULL;
    ssize_t len;
    int r;

    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
    /* one byte more than allowed tells "too large" from "exactly the limit" */
    buf = malloc(STDIN_MAX_TOTAL + 1);
    if (buf == NULL) {
        return -ENOMEM;
    }
    len = read_bounded(in, buf, STDIN_MAX_TOTAL + 1);
    if (len < 0) {
        r = (int)len;
        if (err != NULL && err_len > 0) {
            if (r == -ETIMEDOUT) {
                snprintf(err, err_len, "%s: standard input not closed within %u "
                         "seconds", args->progname, STDIN_TIMEOUT_MS / 1000);
            } else {
                snprintf(err, err_len, "%s: cannot read standard input: %s",
                         args->progname, strerror(-r));
            }
        }
        goto out;
    }
    r = vf_args_parse_buffer(args, buf, (size_t)len, err, err_len);
 out:
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
        if (args->vsock_cid >= VSOCK_CID_MIN) {
            args->transport = VF_XPORT_VSOCK;
        }
    }

    /* address family */
    if (args->transport == VF_XPORT_MCAST) {
        if (args->mcast_addr != NULL) {
            fam = addr_family(args->mcast_addr, NULL);
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
        fam = addr_family(args->ipaddr, NULL);
        if (fam < 0) {
            add_problem(args, "invalid ipaddr '%s'", args->ipaddr);
        } else {
            args->family = fam;
        }
    } else if (args->transport == VF_XPORT_VMCHANNEL && args->channel_address != NULL) {
        fam = addr_family(args->channel_address, NULL);
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
    const struct vf_opt *const *opts = vf_opts_for(args->kind);
    const char *prog = args->progname;

    fprintf(out, "Usage: %s [OPTION]...\n", prog);
    fprintf(out, "       %s < FILE     (key=value lines on standard input, "
            "used when no option is given)\n\n", prog);
    fprintf(out, "Fence a virtual machine through the fence_virtd host daemon "
            "(%s).\n\n",
            args->kind == VF_AGENT_XVM ? "multicast"
                                       : "vmchannel, serial, TCP or vsock");
    fprintf(out, "  %-16s %-18s %s\n", "Option", "stdin key", "Description");
    for (size_t i = 0; opts[i] != NULL; i++) {
        const struct vf_opt *o = opts[i];
        char flag[48];

        if (o->letter == 0) {
            snprintf(flag, sizeof(flag), "(stdin only)");
        } else if (o->arg_name == NULL) {
            snprintf(flag, sizeof(flag), "-%c", o->letter);
        } else if (o->letter == 'S') {
            snprintf(flag, sizeof(flag), "-S[<%s>]", o->arg_name);
        } else {
            snprintf(flag, sizeof(flag), "-%c <%s>", o->letter, o->arg_name);
        }
        fprintf(out, "  %-16s %-18s %s", flag, o->key, o->shortdesc);
        if (o->def != NULL && o->type != VF_OPT_BOOL) {
            fprintf(out, " [default: %s]", o->def);
        }
        fputc('\n', out);
    }
    fprintf(out, "  %-16s %-18s %s\n", "", "option", "Deprecated alias of action");
    fprintf(out, "  %-16s %-18s %s\n", "", "nodename, agent, self",
            "Accepted and ignored (nodename is not used as the target)");
    fprintf(out, "  %-16s %-18s %s\n", "-h, -?", "", "Show this help and exit");
    fprintf(out, "  %-16s %-18s %s\n", "-V", "", "Show the version and exit");
    fprintf(out, "\nEvery stdin key also works as a long option, e.g. --%s=<value>.\n",
            "plug");
    if (args->kind == VF_AGENT_VIRT) {
        fprintf(out, "The vsock CID must be attached to -S (-S3); -S alone means "
                "CID 2 (the host).\n");
    }
}
