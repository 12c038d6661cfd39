/*
 * vmfence - lib/opts.h: the agents' option table and parsers.
 *
 * One table (opts-table.c) describes every option: getopt letter, stdin
 * key, aliases, type, default, which binary has it, description.  From it
 * the fence-agent framework (fa.h) generates argv parsing, stdin key=value
 * parsing, --help, the metadata XML (metadata.c) and the man page option
 * list; opts.c gives the values their meaning and runs validate-all's
 * checks.
 */
#ifndef VF_OPTS_H
#define VF_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "fa.h"
#include "wire.h"

enum vf_agent_kind {
    VF_AGENT_XVM = 0,     /* fence_xvm: multicast */
    VF_AGENT_VIRT = 1,    /* fence_virt: serial / vmchannel / tcp / vsock */
};

enum vf_transport {
    VF_XPORT_MCAST = 0,
    VF_XPORT_TCP,
    VF_XPORT_VSOCK,
    VF_XPORT_SERIAL,      /* real serial device (-D) */
    VF_XPORT_VMCHANNEL,   /* TCP to channel_address (fence_virt default) */
};

/* Parsed agent options; filled with defaults by vf_args_init(). */
struct vf_args {
    enum vf_agent_kind kind;
    const char *progname;          /* "fence_xvm" / "fence_virt" */
    int debug;
    int family;                    /* AF_UNSPEC (auto), AF_INET, AF_INET6 */
    char *mcast_addr;              /* NULL = default for family */
    char *ipaddr;                  /* set => TCP mode (fence_virt) */
    uint32_t vsock_cid;            /* 0 = unset; >= 2 => vsock mode */
    char *channel_address;
    uint16_t port;                 /* ipport, 1229 */
    uint16_t callback_port;        /* 0 = same as port (multicast call-back listener) */
    char *interface;               /* multicast: only send via this interface (NULL = all) */
    unsigned int retrans;          /* tenths of a second */
    enum vf_hash hash;
    enum vf_hash auth;
    char *key_file;
    bool key_file_set;             /* explicitly given */
    char *serial_device;           /* set => real serial mode */
    char *serial_params;
    char *action;                  /* as given (for messages) */
    enum vf_cmd cmd;
    char *domain;                  /* target, NULL if none */
    bool use_uuid;
    unsigned int timeout;          /* seconds */
    unsigned int delay;            /* seconds */
    bool diagnose;                 /* fence_xvm: report which step failed (xport-mcast*.c) */
    enum vf_transport transport;   /* derived by vf_args_finish() */

    /* problems found while parsing (validate-all reports all of them) */
    char **problems;
    size_t n_problems;
    /* unknown stdin keys (warned about once; errors for validate-all) */
    char **unknown;
    size_t n_unknown;
};

void vf_args_init(struct vf_args *args, enum vf_agent_kind kind,
                  const char *progname);
void vf_args_done(struct vf_args *args);

/* argv[0] basename "fence_xvm" (or any name ending in "xvm") => XVM */
enum vf_agent_kind vf_agent_kind_from_argv0(const char *argv0);

/*
 * Parse argv.  Unknown options and bad values are errors: -EINVAL with a
 * one-line message (naming the option) in @err.  -h/-? sets *ret_help,
 * -V sets *ret_version.
 */
int vf_args_parse_argv(struct vf_args *args, int argc, char **argv,
                       bool *ret_help, bool *ret_version,
                       char *err, size_t err_len);

/*
 * Parse key=value lines from @in (bounded: lines up to 4096 bytes, at most
 * 1 MiB in total).  Whole values including inner spaces; surrounding blanks
 * and a trailing CR are stripped; '#' lines and blank lines skipped; last
 * duplicate wins; keys case-insensitive.  Unknown keys are collected in
 * args->unknown; bad values in args->problems.  Returns 0, or -EINVAL /
 * -E2BIG for unreadable input.
 */
int vf_args_parse_stdin(struct vf_args *args, FILE *in,
                        char *err, size_t err_len);
/* Same, from a memory buffer (used by the fuzzer and unit tests). */
int vf_args_parse_buffer(struct vf_args *args, const char *buf, size_t len,
                         char *err, size_t err_len);

/*
 * Final checks and derivation (transport, family, target presence).
 * Problems are appended to args->problems; returns -EINVAL if any.
 */
int vf_args_finish(struct vf_args *args);

/* Help text for this binary (option table, argv and stdin names). */
void vf_args_print_help(const struct vf_args *args, FILE *out);

/* ---- the table, for metadata.c and the man page generator ---------------- */
/* (struct vf_opt and enum vf_opt_type are in fa.h) */

/* Options of one binary in metadata order (NULL-terminated array of pointers). */
const struct vf_opt *const *vf_opts_for(enum vf_agent_kind kind);
/* The framework description of one binary (lib/fa.h). */
const struct vf_fa_agent *vf_agent_def(enum vf_agent_kind kind);

/* ---- additions by the option-table owner (H2) ----------------------------- */
/*
 * For an unknown stdin key that is a parameter of the other binary (e.g.
 * "ipaddr" given to fence_xvm): "valid only for fence_virt"; else NULL.
 * Static string.
 */
const char *vf_opts_other_agent_hint(enum vf_agent_kind kind, const char *key);
/* The getopt string built from the table (static storage, for tests/docs). */
const char *vf_opts_getopt_string(enum vf_agent_kind kind);
/* ---- additions by reviewer R1 -------------------------------------------- */
/* serial_params "SPEED[,BPS]", e.g. "115200,8N1" (see opts.c) */
struct vf_serial_params {
    unsigned long baud;            /* 2400, 9600, 19200, 38400, 57600, 115200 */
    unsigned int data_bits;        /* 5-8 */
    char parity;                   /* 'N', 'E' or 'O' */
    unsigned int stop_bits;        /* 1 or 2 */
};
int vf_serial_params_parse(const char *s, struct vf_serial_params *ret);

/*
 * Notes on the functions above (implementation details of opts.c):
 *  - vf_args_parse_argv: every stdin key is also a long option (--plug=vm);
 *    the message in @err starts with "<progname>: ".  Same target under
 *    -n and -H is accepted, different values are an error.
 *  - vf_args_parse_stdin: a pipe or file that is not closed within 60 s
 *    gives -ETIMEDOUT (terminals are read without a deadline); read errors
 *    -EIO; allocation failure -ENOMEM.
 *  - problems[] entries carry no program name ("line 3: invalid value ...").
 *  - vf_args_finish fills mcast_addr with the family's default group.
 */

#endif
