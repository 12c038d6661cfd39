/*
 * vmfence - lib/opts-table.c: the option table of fence_xvm and fence_virt
 * and the texts of their metadata.
 *
 * The table is the single description of every option of the two binaries:
 * getopt letter, stdin key, type, default, which binary has it and what it
 * means.  The framework (lib/fa.h) generates argv and stdin parsing, --help,
 * the metadata XML and the man page option list from it; lib/opts.c gives
 * the values their meaning.
 */
#include "opts-private.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char *const hash_choices[] = { "none", "sha1", "sha256", "sha512", NULL };
static const char *const family_choices[] = { "auto", "ipv4", "ipv6", NULL };
#define HASH_TEXT "none, sha1, sha256 or sha512"

/*
 * The table, one row an option: id (OPT_<id>), stdin key, getopt letter (0:
 * none), argument name (NULL: a flag), type (VF_OPT_<type>), default (NULL:
 * none), binaries (AGENT_<agents>), then the description and any other
 * field (.choices, .obsoletes, .deprecated, .flags).  Metadata order is not
 * the table order: see meta_xvm[] and meta_virt[] below.  No parameter is
 * required="1": list, monitor and metadata need no target, and Pacemaker
 * supplies plug/port itself (the reference marked plug and port required,
 * D23).
 */
#define ROW(id, k, l, arg, t, d, ag, ...) \
    [OPT_##id] = { .key = k, .letter = l, .arg_name = arg, .type = VF_OPT_##t, \
                   .def = d, .agents = AGENT_##ag, .shortdesc = __VA_ARGS__ }
#define TARGET_TEXT "Name or UUID of the virtual machine to act on"
#define TARGET_DEPRECATED TARGET_TEXT " (deprecated, use plug)", .deprecated = true

const struct vf_opt vf__opt_table[OPT__MAX] = {
    ROW(DEBUG, "debug", 'd', NULL, BOOL, NULL, BOTH,
        "Debug level: on stdin a number sets it (no value adds one); "
        "each -d on the command line adds one"),
    ROW(IP_FAMILY, "ip_family", 'i', "family", SELECT, "auto", XVM,
        "IP family of the multicast group: auto (taken from the address), "
        "ipv4 or ipv6", .choices = family_choices),
    ROW(MCAST_ADDR, "multicast_address", 'a', "address", STRING, NULL, XVM,
        "Multicast group the request is sent to (default " VF_DEFAULT_MCAST_V4
        " for IPv4, " VF_DEFAULT_MCAST_V6 " for IPv6)"),
    ROW(IPPORT, "ipport", 'p', "port", INTEGER, STR(VF_DEFAULT_PORT), BOTH,
        "Port of the host daemon for multicast, TCP, vmchannel and vsock "
        "(1-65535)"),
    ROW(RETRANS, "retrans", 'r', "tenths", INTEGER, "20", XVM,
        "Interval between multicast retransmissions, in tenths of a second"),
    ROW(AUTH, "auth", 'C', "algorithm", SELECT, "sha256", BOTH,
        "Challenge/response algorithm: " HASH_TEXT, .choices = hash_choices),
    ROW(HASH, "hash", 'c', "algorithm", SELECT, "sha256", BOTH,
        "Hash used to sign the request: " HASH_TEXT, .choices = hash_choices),
    ROW(KEY_FILE, "key_file", 'k', "file", STRING, VF_DEFAULT_KEY_FILE, BOTH,
        "File holding the key shared with the host daemon"),
    ROW(PLUG, "plug", 'n', "vm", STRING, NULL, BOTH, TARGET_TEXT,
        .obsoletes = "port"),
    ROW(PORT, "port", 'H', "vm", STRING, NULL, BOTH, TARGET_DEPRECATED),
    ROW(USE_UUID, "use_uuid", 'u', NULL, BOOL, "0", XVM,
        "Mark the target as a UUID in the request (kept for old hosts; "
        "fence_virtd recognises UUIDs by itself)"),
    ROW(ACTION, "action", 'o', "action", STRING, "reboot", BOTH,
        "Action: null, on, off, reboot, status, monitor, list, list-status, "
        "metadata or validate-all"),
    ROW(TIMEOUT, "timeout", 't', "seconds", INTEGER, "30", BOTH,
        "Seconds to wait for the host daemon (greater than 0)"),
    ROW(DELAY, "delay", 'w', "seconds", INTEGER, "0", BOTH,
        "Seconds to wait before contacting the host daemon (not applied to "
        "status, monitor or list)"),
    ROW(SERIAL_DEVICE, "serial_device", 'D', "device", STRING, NULL, VIRT,
        "Serial device to reach the host through (e.g. " VF_DEFAULT_SERIAL_DEV
        "); when unset, the vmchannel address is used"),
    ROW(SERIAL_PARAMS, "serial_params", 'P', "params", STRING,
        VF_DEFAULT_SERIAL_PARAMS, VIRT,
        "Serial line settings: speed (2400, 9600, 19200, 38400, 57600 or "
        "115200)[,data bits (5-8) parity (N, E, O) stop bits (1, 2)]"),
    ROW(CHANNEL_ADDR, "channel_address", 'A', "address", STRING,
        VF_DEFAULT_CHANNEL_ADDR, VIRT,
        "Address of the vmchannel (guestfwd) connection to the host"),
    ROW(IPADDR, "ipaddr", 'T', "address", STRING, NULL, VIRT,
        "IPv4 or IPv6 address of a host daemon TCP listener; setting it "
        "selects TCP"),
    ROW(VSOCK, "vsock", 'S', "cid", INTEGER, NULL, VIRT,
        "vsock CID of the host daemon (2 = the host, which is also what -S "
        "without a value means); setting it selects vsock",
        .flags = VF_OPT_F_OPTIONAL_ARG),
    ROW(DOMAIN, "domain", 0, "vm", STRING, NULL, BOTH, TARGET_DEPRECATED),
    ROW(INTERFACE, "interface", 'I', "interface", STRING, NULL, XVM,
        "Send the multicast request only through this network interface "
        "(default: all interfaces)"),
    ROW(CALLBACK_PORT, "callback_port", 'L', "port", INTEGER, NULL, XVM,
        "TCP port on which to wait for the host's call-back (1-65535; "
        "default: the ipport value)"),
    ROW(DIAGNOSE, "diagnose", 0, NULL, BOOL, "0", XVM,
        "Report on stderr which step of the request succeeded or failed "
        "(request sent, call-back attempted and arrived, key, answer) and "
        "what to check; e.g. fence_xvm -o list --diagnose"),
};
#undef ROW

/*
 * Metadata order: the reference getopt-string order (fence_xvm
 * "di:a:p:r:C:c:k:M:n:H:uo:t:?hVw:", fence_virt
 * "dD:P:A:p:M:n:H:o:t:?hVT:S::C:c:k:w:", options without a stdin name
 * skipped), then the stdin-only "domain", then options new in vmfence, so
 * the parameter list stays a superset of the reference one.
 */
#define T(id) (&vf__opt_table[(id)])
const struct vf_opt *const vf__meta_xvm[] = {
    T(OPT_DEBUG), T(OPT_IP_FAMILY), T(OPT_MCAST_ADDR), T(OPT_IPPORT),
    T(OPT_RETRANS), T(OPT_AUTH), T(OPT_HASH), T(OPT_KEY_FILE), T(OPT_PLUG),
    T(OPT_PORT), T(OPT_USE_UUID), T(OPT_ACTION), T(OPT_TIMEOUT), T(OPT_DELAY),
    T(OPT_DOMAIN),
    T(OPT_INTERFACE), T(OPT_CALLBACK_PORT), T(OPT_DIAGNOSE),
    NULL,
};
const struct vf_opt *const vf__meta_virt[] = {
    T(OPT_DEBUG), T(OPT_SERIAL_DEVICE), T(OPT_SERIAL_PARAMS),
    T(OPT_CHANNEL_ADDR), T(OPT_IPPORT), T(OPT_PLUG), T(OPT_PORT),
    T(OPT_ACTION), T(OPT_TIMEOUT), T(OPT_IPADDR), T(OPT_VSOCK), T(OPT_AUTH),
    T(OPT_HASH), T(OPT_KEY_FILE), T(OPT_DELAY),
    T(OPT_DOMAIN),
    NULL,
};
#undef T

/* stdin keys that are not parameters of their own */
const struct vf_fa_key vf__extra_keys[] = {
    { .key = "option", .opt = &vf__opt_table[OPT_ACTION],
      .help = "Deprecated alias of action",
      .man = ".B option\nDeprecated alias of \\fBaction\\fR.\n" },
    /* Pacemaker always passes nodename; it is not a target */
    { .key = "nodename", .help_label = "nodename, agent, self",
      .help = "Accepted and ignored (nodename is not used as the target)",
      .man = ".B nodename\\fR, \\fBagent\\fR, \\fBself\nAccepted and ignored. "
             "\\fBnodename\\fR is never used as the target.\n" },
    { .key = "agent" },
    { .key = "self" },
    { .key = NULL },
};

/* actions in the order the reference lists them */
const struct vf_fa_action vf__actions[] = {
    { .name = "null" }, { .name = "on" }, { .name = "off" }, { .name = "reboot" },
    { .name = "metadata" }, { .name = "status" }, { .name = "monitor" },
    { .name = "list" }, { .name = "list-status" }, { .name = "validate-all" },
    { .name = NULL },
};

const char vf__longdesc_xvm[] =
    "fence_xvm is a power fencing agent for virtual machines. It "
    "sends a signed request to the fence_virtd daemons on the hosts "
    "over IP multicast and waits for the host running the virtual "
    "machine to call back over TCP.\n\n"
    "NOTE: the reboot action does not power on a virtual machine "
    "that is powered off.";

const char vf__longdesc_virt[] =
    "fence_virt is a power fencing agent for virtual machines. It "
    "sends its request to the fence_virtd daemon on the host over a "
    "vmchannel (guestfwd) connection, a serial device, TCP or vsock.\n\n"
    "NOTE: the reboot action does not power on a virtual machine that "
    "is powered off.";
