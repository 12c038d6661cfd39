/*
 * vmfence - lib/fa.h: the fence-agent framework shared by every agent.
 *
 * An agent describes itself once (struct vf_fa_agent): its option table
 * (struct vf_opt, in metadata order), stdin-only keys, actions and texts.
 * From that description the framework generates
 *   - argv parsing (getopt string and long options)      lib/fa-parse.c
 *   - stdin key=value parsing (bounded in size and time)   lib/fa-parse.c
 *   - --help                                               lib/fa-help.c
 *   - the metadata XML and the man page option list        lib/metadata.c
 * and, for agents of the fence-agents family (fence_xenapi), it offers
 *   - the common fence-agents options and their values     lib/fa-common.c
 *   - action dispatch with power-change confirmation
 *     polling bounded by a deadline, and the exit codes    lib/fa-run.c
 * fence_xvm / fence_virt (lib/opts.c, lib/opts-table.c) use the generated
 * parsing, help, metadata and man page; their actions go to fence_virtd,
 * which confirms the power change itself, so they do not use fa-run.c.
 */
#ifndef VF_FA_H
#define VF_FA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum vf_opt_type {
    VF_OPT_BOOL,
    VF_OPT_STRING,
    VF_OPT_INTEGER,
    VF_OPT_SELECT,
    VF_OPT_SECOND,              /* integer seconds; metadata type "second" */
};

/* struct vf_opt.flags */
#define VF_OPT_F_OPTIONAL_ARG 0x1u  /* getopt "x::": value only when attached */
#define VF_OPT_F_ALIAS        0x2u  /* another name of an earlier entry: listed in
                                     * the metadata, its letter/long option is
                                     * not registered a second time */
#define VF_OPT_F_BUILTIN      0x4u  /* help/version: handled by the parser itself,
                                     * listed in the metadata only */
#define VF_OPT_F_COUNT        0x8u  /* bool counted on argv (-v -v = 2) */

/* One parameter of an agent. */
struct vf_opt {
    const char *key;            /* stdin / metadata name */
    char letter;                /* getopt letter, 0 if none */
    const char *arg_name;       /* "address" etc., NULL for bool */
    enum vf_opt_type type;
    const char *def;            /* default shown in metadata/help, NULL = none */
    unsigned int agents;        /* fence_xvm/fence_virt: which binary has it */
    bool required;
    bool deprecated;
    const char *obsoletes;      /* name this option obsoletes */
    const char *shortdesc;
    const char *const *choices; /* for VF_OPT_SELECT, NULL-terminated */
    /* framework fields (zero for the fence_virt table) */
    int id;                     /* agent's own number, handed back to apply() */
    const char *longopt;        /* long option without "--" (long_getopt agents) */
    unsigned int flags;         /* VF_OPT_F_* */
    unsigned int need_for;      /* fa-run.h: VF_FA_NEED(action) bits that need a value */
    const char *mixed;          /* metadata getopt text, when not the generated one */
};

/* A stdin key that is not a parameter of its own. */
struct vf_fa_key {
    const char *key;
    const struct vf_opt *opt;   /* alias of this option, NULL = accepted and ignored */
    const char *help_label;     /* --help: first column (NULL = key), */
    const char *help;           /* --help: text (NULL = no line) */
    const char *man;            /* man page: roff paragraph after ".TP" (NULL = none) */
};

struct vf_fa_action {
    const char *name;
    const char *automatic;      /* value of automatic="", NULL = no attribute */
};

enum vf_fa_src {
    VF_FA_ARGV,
    VF_FA_STDIN,
};

struct vf_fa_agent {
    const char *name;                   /* "fence_xenapi" */
    const char *shortdesc;
    const char *longdesc;
    const char *vendor_url;
    const struct vf_opt *const *opts;   /* metadata order, NULL-terminated */
    const struct vf_fa_key *extra_keys; /* terminated by .key == NULL; may be NULL */
    const struct vf_fa_action *actions; /* terminated by .name == NULL */
    /*
     * false: the fence_virt style: long options are the stdin keys
     *        (--plug=vm) and the metadata getopt is "-n";
     * true:  the fence-agents style: long options from .longopt
     *        (--session-url) and the metadata getopt "-s, --session-url=[url]".
     */
    bool long_getopt;
    const char *help_intro;             /* --help: the paragraph after "Usage" */
    const char *help_outro;             /* --help: last lines, may be NULL */

    /*
     * Store one value.  @name names the option for messages ("-p (ipport)",
     * "'ipport'").  A bad value: a message in @msg, return -EINVAL.
     */
    int (*apply)(void *ctx, const struct vf_opt *o, const char *val,
                 enum vf_fa_src src, const char *name, char *msg, size_t msg_len);
    /* stdin: record a problem / an unknown key (once per key) */
    void (*problem)(void *ctx, const char *msg);
    int (*unknown)(void *ctx, const char *key);
    /* argv: extra words after an unexpected argument, may be NULL */
    const char *(*unexpected_hint)(int argc, char **argv, int optind);
};

/* ---- lib/fa-parse.c --------------------------------------------------- */

/*
 * Parse argv against the agent's table.  -h/-?/--help set *ret_help,
 * -V/--version *ret_version (and parsing stops).  An unknown option, a
 * missing or bad value: -EINVAL with a one-line message (no program name)
 * in @msg.
 */
int vf_fa_parse_argv(const struct vf_fa_agent *a, void *ctx, int argc, char **argv,
                     bool *ret_help, bool *ret_version, char *msg, size_t msg_len);

/*
 * Parse key=value lines from memory: '#' and blank lines skipped, blanks
 * around keys and values stripped, keys case-insensitive, the last of a
 * repeated key wins.  Bad values and bad lines go to a->problem(), unknown
 * keys to a->unknown().  Returns 0, -E2BIG (input over VF_FA_STDIN_MAX),
 * or the first error of a callback (-ENOMEM).
 */
int vf_fa_parse_buffer(const struct vf_fa_agent *a, void *ctx, const char *buf,
                       size_t len);

#define VF_FA_STDIN_MAX_LINE   4096u
#define VF_FA_STDIN_MAX        (1024u * 1024u)
#define VF_FA_STDIN_TIMEOUT_MS 60000u

/*
 * Read all of @in (at most VF_FA_STDIN_MAX + 1 bytes; a pipe not closed
 * within VF_FA_STDIN_TIMEOUT_MS fails with -ETIMEDOUT; terminals and memory
 * streams are read without a deadline).  *ret_buf is malloc'ed.
 */
int vf_fa_read_input(FILE *in, char **ret_buf, size_t *ret_len);

/* The getopt string built from the table ("+:" ... "hV"), malloc'ed. */
char *vf_fa_getopt_string(const struct vf_fa_agent *a);

/* ---- lib/fa-help.c ---------------------------------------------------- */
void vf_fa_print_help(const struct vf_fa_agent *a, FILE *out);

/* ---- lib/metadata.c --------------------------------------------------- */
/* The <resource-agent> metadata XML.  0, -ENOMEM or -EIO. */
int vf_fa_metadata_write(const struct vf_fa_agent *a, FILE *out);
/* The OPTIONS and STDIN PARAMETERS sections (roff).  0 or -EIO. */
int vf_fa_manopts_write(const struct vf_fa_agent *a, FILE *out);

/* ---- lib/fa-util.c: checked value parsers shared by the agents -------- */
/* decimal (or 0x hex when @allow_hex) covering all of @s, within [min,max] */
int vf_parse_uint(const char *s, bool allow_hex, unsigned long min,
                  unsigned long max, unsigned long *ret);
/* NULL/""/1/yes/true/on/y => true; 0/no/false/off/n => false */
int vf_parse_bool(const char *s, bool *ret);
/* replace *dst by a copy of @val (NULL clears); -ENOMEM leaves *dst */
int vf_set_str(char **dst, const char *val);
/* append a copy of @s to a NULL-terminated vector */
int vf_strv_add(char ***v, size_t *n, const char *s);
void vf_strv_free(char ***v, size_t *n);

#endif
