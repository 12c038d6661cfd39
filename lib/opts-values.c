/*
 * vmfence - lib/opts-values.c: what each option of fence_xvm and fence_virt
 * means: the check its value must pass (with the message naming the
 * option when it does not) and the field of struct vf_args it sets.  One
 * small function per kind of value, chosen by option id from a table;
 * lib/opts.c runs the parsers and calls vf__opts_apply() for every value.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "fa.h"
#include "opts-private.h"

#define MAX_TIMEOUT      86400u
#define MAX_DELAY        86400u
#define MAX_RETRANS      6000u
#define MAX_DEBUG        99u
#define VSOCK_CID_MAX    0xfffffffeu
#define VSOCK_CID_HOST   2u

#define STR_(x) #x
#define STR(x) STR_(x)

#define parse_uint vf_parse_uint
#define parse_bool vf_parse_bool

/* on ENOMEM the option is left unset, as before */
static void
set_str(char **dst, const char *val)
{
    if (vf_set_str(dst, val) < 0) {
        free(*dst);
        *dst = NULL;
    }
}

/* AF_INET / AF_INET6 of a literal address, or -EINVAL */
int
vf__addr_family(const char *s, bool *ret_multicast)
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
 *        The one grammar behind option validation and agents/xport-serial.c.
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

/* ---- applying one value --------------------------------------------------- */

/* One value to apply: what, from where, and where a refusal is written. */
struct apply {
    struct vf_args *args;
    int id;                    /* option id (enum opt_id) */
    const char *val;           /* NULL or "" only for options without a value */
    enum vf_fa_src src;
    struct vf__target_state *ts;
    const char *name;          /* "-p" or "'ipport'", for the message */
    char *msg;
    size_t msg_len;
};

/* Refuse the value: "invalid value 'V' for NAME: <expected>"; \return -EINVAL */
__attribute__((format(printf, 2, 3)))
static int
bad_value(const struct apply *a, const char *expected_fmt, ...)
{
    char expected[256];
    va_list ap;

    va_start(ap, expected_fmt);
    vsnprintf(expected, sizeof(expected), expected_fmt, ap);
    va_end(ap);
    snprintf(a->msg, a->msg_len, "invalid value '%s' for %s: %s", a->val, a->name, expected);
    return -EINVAL;
}

/* A whole number in [lo, hi] (no leading '+' or '-'); refused with @expected_fmt. */
#define RANGE(a, lo, hi, ret, ...) \
    (parse_uint((a)->val, false, (lo), (hi), (ret)) < 0 ? bad_value((a), __VA_ARGS__) : 0)

static int
apply_debug(const struct apply *a)
{
    unsigned long n = 0;
    bool b = false;

    if (a->src == VF_FA_ARGV || a->val == NULL || *a->val == '\0') {
        if (a->args->debug < (int)MAX_DEBUG) {
            a->args->debug++;
        }
        return 0;
    }
    if (parse_uint(a->val, false, 0, MAX_DEBUG, &n) == 0) {
        a->args->debug = (int)n;
        return 0;
    }
    if (parse_bool(a->val, &b) == 0) {
        a->args->debug = b ? 1 : 0;
        return 0;
    }
    return bad_value(a, "expected a number 0-%u or a boolean", MAX_DEBUG);
}

static int
apply_ip_family(const struct apply *a)
{
    static const struct { const char *name; int family; } fams[] = {
        { "auto", AF_UNSPEC }, { "ipv4", AF_INET }, { "ipv6", AF_INET6 },
    };

    for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
        if (strcasecmp(a->val, fams[i].name) == 0) {
            a->args->family = fams[i].family;
            return 0;
        }
    }
    return bad_value(a, "expected auto, ipv4 or ipv6");
}

static int
apply_mcast_addr(const struct apply *a)
{
    bool mcast = false;

    if (vf__addr_family(a->val, &mcast) < 0 || !mcast) {
        return bad_value(a, "expected an IPv4 or IPv6 multicast address");
    }
    set_str(&a->args->mcast_addr, a->val);
    return 0;
}

/* ipaddr and channel_address: any literal address */
static int
apply_literal_addr(const struct apply *a)
{
    if (vf__addr_family(a->val, NULL) < 0) {
        return bad_value(a, "expected a literal IPv4 or IPv6 address");
    }
    set_str(a->id == OPT_IPADDR ? &a->args->ipaddr : &a->args->channel_address, a->val);
    return 0;
}

static int
apply_vsock(const struct apply *a)
{
    unsigned long n = 0;

    if (a->val == NULL || *a->val == '\0') {
        a->args->vsock_cid = VSOCK_CID_HOST;
        return 0;
    }
    if (parse_uint(a->val, true, VF__VSOCK_CID_MIN, VSOCK_CID_MAX, &n) < 0) {
        return bad_value(a, "the CID must be 2-4294967294 (2 = the host)");
    }
    a->args->vsock_cid = (uint32_t)n;
    return 0;
}

/* ipport and callback_port */
static int
apply_port(const struct apply *a)
{
    unsigned long n = 0;
    int rc = RANGE(a, 1, 65535, &n, "expected a port number 1-65535");

    if (rc == 0) {
        *(a->id == OPT_IPPORT ? &a->args->port : &a->args->callback_port) = (uint16_t)n;
    }
    return rc;
}

static int
apply_interface(const struct apply *a)
{
    if (strlen(a->val) >= IF_NAMESIZE || strchr(a->val, '/') != NULL
        || strpbrk(a->val, " \t") != NULL) {
        return bad_value(a, "not a network interface name");
    }
    set_str(&a->args->interface, a->val);
    return 0;
}

/* retrans, timeout and delay: counts of tenths of a second or seconds */
static int
apply_count(const struct apply *a)
{
    unsigned long n = 0;
    int rc;

    switch (a->id) {
    case OPT_RETRANS:
        rc = RANGE(a, 1, MAX_RETRANS, &n, "expected tenths of a second, 1-%u", MAX_RETRANS);
        a->args->retrans = rc == 0 ? (unsigned int)n : a->args->retrans;
        return rc;
    case OPT_TIMEOUT:
        rc = RANGE(a, 1, MAX_TIMEOUT, &n, "expected seconds, 1-%u", MAX_TIMEOUT);
        a->args->timeout = rc == 0 ? (unsigned int)n : a->args->timeout;
        return rc;
    default:
        rc = RANGE(a, 0, MAX_DELAY, &n, "expected seconds, 0-%u", MAX_DELAY);
        a->args->delay = rc == 0 ? (unsigned int)n : a->args->delay;
        return rc;
    }
}

/* hash and auth */
static int
apply_hash(const struct apply *a)
{
    enum vf_hash h;

    if (vf_hash_from_string(a->val, &h) < 0) {
        return bad_value(a, "expected none, sha1, sha256 or sha512");
    }
    *(a->id == OPT_HASH ? &a->args->hash : &a->args->auth) = h;
    return 0;
}

static int
apply_key_file(const struct apply *a)
{
    set_str(&a->args->key_file, a->val);
    a->args->key_file_set = true;
    return 0;
}

static int
apply_serial_device(const struct apply *a)
{
    set_str(&a->args->serial_device, a->val);
    return 0;
}

static int
apply_serial_params(const struct apply *a)
{
    if (vf_serial_params_parse(a->val, NULL) < 0) {
        return bad_value(a, "expected SPEED[,BPS] with SPEED 2400, 9600, 19200, 38400, "
                         "57600 or 115200 and BPS like 8N1");
    }
    set_str(&a->args->serial_params, a->val);
    return 0;
}

static int
apply_action(const struct apply *a)
{
    enum vf_cmd cmd;

    if (vf_cmd_from_action(a->val, &cmd) < 0) {
        return bad_value(a, "expected null, on, off, reboot, status, monitor, list, "
                         "list-status, metadata or validate-all");
    }
    set_str(&a->args->action, a->val);
    a->args->cmd = cmd;
    return 0;
}

/* plug, port and domain: collected, merged by target_merge() */
static int
apply_target(const struct apply *a)
{
    size_t idx = a->id == OPT_PLUG ? 0 : a->id == OPT_PORT ? 1 : 2;

    if (strlen(a->val) > VF_DOMAIN_MAX) {
        snprintf(a->msg, a->msg_len, "value of %s is %zu bytes long; the wire "
                 "format allows at most " STR(VF_DOMAIN_MAX) " bytes",
                 a->name, strlen(a->val));
        return -EINVAL;
    }
    set_str(&a->ts->val[idx], a->val);
    return 0;
}

/* use_uuid and diagnose */
static int
apply_flag(const struct apply *a)
{
    bool b = false;

    if (parse_bool(a->val, &b) < 0) {
        return bad_value(a, "expected a boolean");
    }
    *(a->id == OPT_USE_UUID ? &a->args->use_uuid : &a->args->diagnose) = b;
    return 0;
}

/* What each option's value means, by option id. */
static int (*const appliers[OPT__MAX])(const struct apply *a) = {
    [OPT_DEBUG] = apply_debug,
    [OPT_IP_FAMILY] = apply_ip_family,
    [OPT_MCAST_ADDR] = apply_mcast_addr,
    [OPT_IPPORT] = apply_port,
    [OPT_RETRANS] = apply_count,
    [OPT_AUTH] = apply_hash,
    [OPT_HASH] = apply_hash,
    [OPT_KEY_FILE] = apply_key_file,
    [OPT_PLUG] = apply_target,
    [OPT_PORT] = apply_target,
    [OPT_USE_UUID] = apply_flag,
    [OPT_ACTION] = apply_action,
    [OPT_TIMEOUT] = apply_count,
    [OPT_DELAY] = apply_count,
    [OPT_SERIAL_DEVICE] = apply_serial_device,
    [OPT_SERIAL_PARAMS] = apply_serial_params,
    [OPT_CHANNEL_ADDR] = apply_literal_addr,
    [OPT_IPADDR] = apply_literal_addr,
    [OPT_VSOCK] = apply_vsock,
    [OPT_DOMAIN] = apply_target,
    [OPT_INTERFACE] = apply_interface,
    [OPT_CALLBACK_PORT] = apply_port,
    [OPT_DIAGNOSE] = apply_flag,
};

/*
 * Apply @val to option @id.  On a bad value, write a message naming the
 * option (@name: "-p" or "'ipport'") into @msg and return -EINVAL.
 * Options that need a value never see an empty one: the framework
 * refused it already.
 */
int
vf__opts_apply(struct vf_args *args, int id, const char *val, enum vf_fa_src src,
          struct vf__target_state *ts, const char *name, char *msg, size_t msg_len)
{
    const struct apply a = { .args = args, .id = id, .val = val, .src = src, .ts = ts,
                             .name = name, .msg = msg, .msg_len = msg_len };

    if (id < 0 || id >= OPT__MAX || appliers[id] == NULL) {
        snprintf(msg, msg_len, "internal error: option %s not handled", name);
        return -EINVAL;
    }
    return appliers[id](&a);
}
