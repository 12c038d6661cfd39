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

/*
 * The table.  Metadata order is not the table order: see meta_xvm[] and
 * meta_virt[] below.  No parameter is required="1": list, monitor and
 * metadata need no target, and Pacemaker supplies plug/port itself (the
 * reference marked plug and port required, D23).
 */
const struct vf_opt vf__opt_table[OPT__MAX] = {
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
        .type = VF_OPT_INTEGER, .agents = AGENT_VIRT, .flags = VF_OPT_F_OPTIONAL_ARG,
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
    [OPT_DIAGNOSE] = {
        .key = "diagnose", .letter = 0, .type = VF_OPT_BOOL,
        .def = "0", .agents = AGENT_XVM,
        .shortdesc = "Report on stderr which step of the request succeeded or "
                     "failed (request sent, call-back attempted and arrived, "
                     "key, answer) and what to check; e.g. "
                     "fence_xvm -o list --diagnose",
    },
};

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
