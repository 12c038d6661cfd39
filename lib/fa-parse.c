/*
 * vmfence - lib/fa-parse.c: argv and stdin parsing generated from an agent's
 * option table (struct vf_fa_agent, lib/fa.h).
 *
 * argv: the getopt string and the long options are built from the table;
 * an unknown option, a missing value or a stray argument is an error (one
 * line, naming the option).  stdin: key=value lines, bounded in line length,
 * total size and time; bad values and unknown keys are collected through
 * the agent's callbacks, so that validate-all can report all of them.
 * What a value means is up to the agent (its apply() callback).
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fa.h"
#include "io.h"

#define LONGOPT_BASE 0x100

static size_t
n_opts(const struct vf_fa_agent *a)
{
    size_t n = 0;

    while (a->opts[n] != NULL) {
        n++;
    }
    return n;
}

/* registered on the command line (letter and long option)? */
static bool
on_argv(const struct vf_opt *o)
{
    return (o->flags & (VF_OPT_F_ALIAS | VF_OPT_F_BUILTIN)) == 0;
}

static const char *
long_name(const struct vf_fa_agent *a, const struct vf_opt *o)
{
    return a->long_getopt ? o->longopt : o->key;
}

char *
vf_fa_getopt_string(const struct vf_fa_agent *a)
{
    size_t n = n_opts(a);
    char *p = malloc(2 + 3 * n + 3);
    size_t len = 0;

    if (p == NULL) {
        return NULL;
    }
    p[len++] = '+';   /* stop at the first non-option: no argv permutation */
    p[len++] = ':';   /* report missing arguments as ':' */
    for (size_t i = 0; i < n; i++) {
        const struct vf_opt *o = a->opts[i];

        if (o->letter == 0 || !on_argv(o)) {
            continue;
        }
        p[len++] = o->letter;
        if ((o->flags & VF_OPT_F_OPTIONAL_ARG) != 0) {
            p[len++] = ':';
            p[len++] = ':';
        } else if (o->type != VF_OPT_BOOL) {
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

/* table index of the option with getopt letter @c, or -1 */
static int
index_of_letter(const struct vf_fa_agent *a, int c)
{
    for (size_t i = 0; a->opts[i] != NULL; i++) {
        if (a->opts[i]->letter != 0 && a->opts[i]->letter == c && on_argv(a->opts[i])) {
            return (int)i;
        }
    }
    return -1;
}

static struct option *
build_longopts(const struct vf_fa_agent *a)
{
    size_t n = n_opts(a), nl = 0;
    struct option *lo = calloc(n + 3, sizeof(*lo));

    if (lo == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const struct vf_opt *o = a->opts[i];

        if (!on_argv(o) || long_name(a, o) == NULL) {
            continue;
        }
        lo[nl].name = long_name(a, o);
        lo[nl].has_arg = (o->flags & VF_OPT_F_OPTIONAL_ARG) != 0 ? optional_argument
            : o->type == VF_OPT_BOOL ? no_argument : required_argument;
        lo[nl].val = LONGOPT_BASE + (int)i;
        nl++;
    }
    lo[nl++] = (struct option){ "help", no_argument, NULL, 'h' };
    lo[nl++] = (struct option){ "version", no_argument, NULL, 'V' };
    lo[nl] = (struct option){ NULL, 0, NULL, 0 };
    return lo;
}

/* message for getopt's '?' and ':' returns; returns 1 for "-?" (help) */
static int
getopt_error(int c, int argc, char **argv, char *msg, size_t msg_len)
{
    const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

    if (c == '?') {
        if (optopt == '?') {
            return 1;
        }
        if (optopt != 0 && optopt < LONGOPT_BASE) {
            snprintf(msg, msg_len, "unknown option '-%c'", optopt);
        } else {
            snprintf(msg, msg_len, "unknown option '%s'", word);
        }
    } else if (optopt != 0 && optopt < LONGOPT_BASE) {
        snprintf(msg, msg_len, "option '-%c' requires an argument", optopt);
    } else {
        snprintf(msg, msg_len, "option '%s' requires an argument", word);
    }
    return 0;
}

/**
 * \brief Parse argv (see fa.h).
 * \return 0, -EINVAL (message in @msg) or -ENOMEM
 */
int
vf_fa_parse_argv(const struct vf_fa_agent *a, void *ctx, int argc, char **argv,
                 bool *ret_help, bool *ret_version, char *msg, size_t msg_len)
{
    struct option *longopts = NULL;
    char *optstring = NULL;
    int c, r = 0;

    *ret_help = false;
    *ret_version = false;
    msg[0] = '\0';
    longopts = build_longopts(a);
    optstring = vf_fa_getopt_string(a);
    if (longopts == NULL || optstring == NULL) {
        r = -ENOMEM;
        goto out;
    }
    opterr = 0;
    optind = 0;      /* glibc: full re-initialisation (parse may run twice) */
    for (;;) {
        char name[80];
        const struct vf_opt *o;
        int idx;

        optopt = 0;
        c = getopt_long(argc, argv, optstring, longopts, NULL);
        if (c == -1) {
            break;
        }
        if (c == 'h') {
            *ret_help = true;
            goto out;
        }
        if (c == 'V') {
            *ret_version = true;
            goto out;
        }
        if (c == '?' || c == ':') {
            if (getopt_error(c, argc, argv, msg, msg_len) == 1) {
                *ret_help = true;
                goto out;
            }
            r = -EINVAL;
            goto out;
        }
        if (c >= LONGOPT_BASE) {
            idx = c - LONGOPT_BASE;
            snprintf(name, sizeof(name), "--%s", long_name(a, a->opts[idx]));
        } else {
            idx = index_of_letter(a, c);
            if (idx < 0) {
                snprintf(msg, msg_len, "unknown option '-%c'", c);
                r = -EINVAL;
                goto out;
            }
            snprintf(name, sizeof(name), "-%c (%s)", c, a->opts[idx]->key);
        }
        o = a->opts[idx];
        if (o->type != VF_OPT_BOOL && (o->flags & VF_OPT_F_OPTIONAL_ARG) == 0
            && (optarg == NULL || *optarg == '\0')) {
            snprintf(msg, msg_len, "%s needs a value", name);
            r = -EINVAL;
            goto out;
        }
        r = a->apply(ctx, o, optarg, VF_FA_ARGV, name, msg, msg_len);
        if (r < 0) {
            goto out;
        }
    }
    if (optind < argc) {
        const char *hint = a->unexpected_hint != NULL
            ? a->unexpected_hint(argc, argv, optind) : NULL;

        snprintf(msg, msg_len, "unexpected argument '%s'%s", argv[optind],
                 hint != NULL ? hint : "");
        r = -EINVAL;
    }

 out:
    free(longopts);
    free(optstring);
    return r;
}

/* ---- stdin ------------------------------------------------------------ */

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* the option of stdin key @key; *ret_known false for an unknown key */
static const struct vf_opt *
opt_of_key(const struct vf_fa_agent *a, const char *key, bool *ret_known)
{
    *ret_known = true;
    for (size_t i = 0; a->opts[i] != NULL; i++) {
        if ((a->opts[i]->flags & VF_OPT_F_BUILTIN) == 0
            && strcasecmp(a->opts[i]->key, key) == 0) {
            return a->opts[i];
        }
    }
    for (const struct vf_fa_key *k = a->extra_keys; k != NULL && k->key != NULL; k++) {
        if (strcasecmp(k->key, key) == 0) {
            return k->opt;
        }
    }
    *ret_known = false;
    return NULL;
}

__attribute__((format(printf, 3, 4)))
static void
problem(const struct vf_fa_agent *a, void *ctx, const char *fmt, ...)
{
    char buf[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    a->problem(ctx, buf);
}

/* handle one line (NUL-terminated, no newline); @line is modified */
static int
parse_line(const struct vf_fa_agent *a, void *ctx, char *line, unsigned int lineno)
{
    const struct vf_opt *o;
    char *key, *val = NULL, *eq, *end;
    char name[80], msg[512];
    bool known;

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
        problem(a, ctx, "line %u: missing key before '='", lineno);
        return 0;
    }
    o = opt_of_key(a, key, &known);
    if (!known) {
        return a->unknown(ctx, key);
    }
    if (o == NULL) {
        return 0;               /* accepted and ignored */
    }
    snprintf(name, sizeof(name), "'%s'", key);
    msg[0] = '\0';
    if (o->type != VF_OPT_BOOL && (o->flags & VF_OPT_F_OPTIONAL_ARG) == 0
        && (val == NULL || *val == '\0')) {
        problem(a, ctx, "line %u: %s needs a value", lineno, name);
        return 0;
    }
    if (a->apply(ctx, o, val, VF_FA_STDIN, name, msg, sizeof(msg)) < 0) {
        problem(a, ctx, "line %u: %s", lineno, msg);
    }
    return 0;
}

int
vf_fa_parse_buffer(const struct vf_fa_agent *a, void *ctx, const char *buf, size_t len)
{
    char *line = NULL;
    unsigned int lineno = 0;
    size_t pos = 0;
    int r = 0;

    if (len > VF_FA_STDIN_MAX) {
        return -E2BIG;
    }
    if (len > 0 && buf == NULL) {
        return -EINVAL;
    }
    line = malloc(VF_FA_STDIN_MAX_LINE + 1);
    if (line == NULL) {
        return -ENOMEM;
    }
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t llen = nl != NULL ? (size_t)(nl - (buf + pos)) : len - pos;

        lineno++;
        if (llen > VF_FA_STDIN_MAX_LINE) {
            problem(a, ctx, "line %u is longer than %u bytes; ignored", lineno,
                    VF_FA_STDIN_MAX_LINE);
        } else if (memchr(buf + pos, '\0', llen) != NULL) {
            problem(a, ctx, "line %u contains a NUL byte; ignored", lineno);
        } else {
            memcpy(line, buf + pos, llen);
            line[llen] = '\0';
            r = parse_line(a, ctx, line, lineno);
            if (r < 0) {
                break;
            }
        }
        pos += llen + (nl != NULL ? 1 : 0);
    }
    free(line);
    return r;
}

/*
 * Read at most @max bytes from @in with an overall deadline (a cluster
 * manager writes its parameters and closes the pipe at once; a writer that
 * keeps the pipe open must not hang the agent forever).  Terminals are read
 * without a deadline: a person is typing.
 */
static ssize_t
read_bounded(FILE *in, char *buf, size_t max)
{
    int64_t deadline = vf_now_ms() + VF_FA_STDIN_TIMEOUT_MS;
    size_t len = 0;
    int fd = fileno(in);

    if (fd < 0 || isatty(fd)) {
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

/**
 * \brief Read the whole standard input (see fa.h).
 * \return 0, -ENOMEM, -ETIMEDOUT, -EIO
 */
int
vf_fa_read_input(FILE *in, char **ret_buf, size_t *ret_len)
{
    /* one byte more than allowed tells "too large" from "exactly the limit" */
    char *buf = malloc(VF_FA_STDIN_MAX + 1);
    ssize_t len;

    if (buf == NULL) {
        return -ENOMEM;
    }
    len = read_bounded(in, buf, VF_FA_STDIN_MAX + 1);
    if (len < 0) {
        free(buf);
        return (int)len;
    }
    *ret_buf = buf;
    *ret_len = (size_t)len;
    return 0;
}
