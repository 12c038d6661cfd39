/*
 * vmfence - lib/fa-common.c: the options every fence-agents style agent
 * has (action, plug/port, credentials, timeouts, verbosity ...), their
 * values and their checks.  Names, getopt letters, long options, aliases
 * and defaults are those of the fence-agents library, so that existing
 * stonith configurations keep working.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fa-run.h"
#include "io.h"

#define SCRIPT_MAX_OUTPUT 4096u
#define SCRIPT_TIMEOUT_MS 30000

/*
 * One row a common option vf_fa_opt_<name>: stdin key <name>, getopt letter
 * (0: none), long option, argument name (NULL: a flag), type
 * (VF_OPT_<type>), id (VF_FA_ID_<id>), then the description and any other
 * field (.def, .obsoletes, .flags ...).
 */
#define OPT_(name, l, lo, arg, t, num, ...) \
    const struct vf_opt vf_fa_opt_##name = { \
        .key = #name, .letter = l, .longopt = lo, .arg_name = arg, \
        .type = VF_OPT_##t, .id = num, .shortdesc = __VA_ARGS__ }
#define OPT(name, l, lo, arg, t, i, ...) \
    OPT_(name, l, lo, arg, t, VF_FA_ID_##i, __VA_ARGS__)
/* a deprecated name kept as an alias of the current option (string value) */
#define ALIAS(name, l, lo, arg, i, text) \
    OPT_(name, l, lo, arg, STRING, VF_FA_ID_##i, text, .deprecated = true, \
         .flags = VF_OPT_F_ALIAS)
#define SEC(name, lo, d, i, text) \
    OPT_(name, 0, lo, "seconds", SECOND, VF_FA_ID_##i, text, .def = d)
#define SEPARATOR(name, l, lo, i, text) \
    OPT_(name, l, lo, "char", STRING, VF_FA_ID_##i, text, .def = ",")

OPT(action, 'o', "action", "action", STRING, ACTION,
    "Fencing action: on, off, reboot, status, list, list-status, monitor, "
    "metadata, manpage or validate-all", .def = "reboot");
ALIAS(login, 'l', "username", "name", USERNAME,
      "Login name (deprecated, use username)");
ALIAS(passwd, 'p', "password", "password", PASSWORD,
      "Login password (deprecated, use password)");
ALIAS(passwd_script, 'S', "password-script", "script", PASSWORD_SCRIPT,
      "Script that prints the password (deprecated, use password_script)");
OPT(password, 'p', "password", "password", STRING, PASSWORD,
    "Login password (prefer password_script: command lines are visible to "
    "every local user)", .obsoletes = "passwd");
OPT(password_script, 'S', "password-script", "script", STRING, PASSWORD_SCRIPT,
    "Script run with /bin/sh whose first output line is the password",
    .obsoletes = "passwd_script");
OPT(plug, 'n', "plug", "id", STRING, PLUG, "Name or UUID of the virtual machine",
    .obsoletes = "port", .need_for = VF_FA_NEED_POWER);
ALIAS(port, 'n', "plug", "id", PLUG,
      "Name or UUID of the virtual machine (deprecated, use plug)");
OPT(username, 'l', "username", "name", STRING, USERNAME, "Login name",
    .obsoletes = "login");
OPT(quiet, 'q', "quiet", NULL, BOOL, QUIET,
    "No messages on standard error (the debug file and syslog are not "
    "affected)");
OPT(verbose, 'v', "verbose", NULL, BOOL, VERBOSE,
    "Verbose output on standard error; each -v on the command line adds a "
    "level");
OPT(verbose_level, 0, "verbose-level", "level", INTEGER, VERBOSE_LEVEL,
    "Level of verbose output (default: the number of -v, or 1 for verbose=1 "
    "on standard input)", .mixed = "--verbose-level");
ALIAS(debug, 'D', "debug-file", "debugfile", DEBUG_FILE,
      "Append debug output to this file (deprecated, use debug_file)");
OPT(debug_file, 'D', "debug-file", "debugfile", STRING, DEBUG_FILE,
    "Append debug output to this file", .obsoletes = "debug");
OPT(version, 'V', "version", NULL, BOOL, VERSION, "Print the version and exit",
    .flags = VF_OPT_F_BUILTIN);
OPT(help, 'h', "help", NULL, BOOL, HELP, "Print the options and exit",
    .flags = VF_OPT_F_BUILTIN);
SEPARATOR(plug_separator, 0, "plug-separator", PLUG_SEPARATOR,
          "Separator between several plugs in plug");
SEPARATOR(separator, 'C', "separator", SEPARATOR,
          "Separator of the fields printed by list and list-status");
SEC(delay, "delay", "0", DELAY, "Wait this many seconds before off or reboot");
OPT(disable_timeout, 0, "disable-timeout", "true/false", STRING, DISABLE_TIMEOUT,
    "Ignore power_timeout (default: true when run by Pacemaker's fencer); the "
    "power change is still confirmed within 120 seconds");
SEC(login_timeout, "login-timeout", "5", LOGIN_TIMEOUT,
    "Seconds allowed for connecting to the device");
SEC(power_timeout, "power-timeout", "20", POWER_TIMEOUT,
    "Seconds allowed for a power change, confirmation included (0: 120)");
SEC(power_wait, "power-wait", "0", POWER_WAIT,
    "Seconds to wait after a power change before checking it");
SEC(shell_timeout, "shell-timeout", "3", SHELL_TIMEOUT,
    "Seconds allowed for each request after login (added to login_timeout)");
SEC(stonith_status_sleep, "stonith-status-sleep", "1", STONITH_STATUS_SLEEP,
    "Seconds between status checks while confirming a power change");
OPT(retry_on, 0, "retry-on", "attempts", INTEGER, RETRY_ON,
    "Extra attempts of on when it is not confirmed in time", .def = "1");

const struct vf_fa_action vf_fa_power_actions[] = {
    { .name = "on", .automatic = "0" }, { .name = "off" }, { .name = "reboot" },
    { .name = "status" }, { .name = "list" }, { .name = "list-status" },
    { .name = "monitor" }, { .name = "metadata" }, { .name = "manpage" },
    { .name = "validate-all" }, { .name = NULL },
};

static const char *const act_names[] = {
    [VF_FA_ON] = "on", [VF_FA_OFF] = "off", [VF_FA_REBOOT] = "reboot",
    [VF_FA_STATUS] = "status", [VF_FA_MONITOR] = "monitor", [VF_FA_LIST] = "list",
    [VF_FA_LIST_STATUS] = "list-status", [VF_FA_METADATA] = "metadata",
    [VF_FA_MANPAGE] = "manpage", [VF_FA_VALIDATE_ALL] = "validate-all",
};

const char *
vf_fa_act_name(enum vf_fa_act act)
{
    return (size_t)act < sizeof(act_names) / sizeof(act_names[0]) ? act_names[act] : "?";
}

void
vf_fa_common_init(struct vf_fa_common *c, const char *progname)
{
    *c = (struct vf_fa_common){
        .progname = progname, .action = VF_FA_REBOOT, .login_timeout = 5,
        .power_timeout = 20, .shell_timeout = 3, .stonith_status_sleep = 1,
        .retry_on = 1,
    };
    c->separator = strdup(",");
    c->plug_separator = strdup(",");
}

static void
free_secret(char **s)
{
    if (*s != NULL) {
        explicit_bzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void
vf_fa_common_done(struct vf_fa_common *c)
{
    if (c == NULL) {
        return;
    }
    free(c->plug);
    free(c->username);
    free_secret(&c->password);
    free(c->password_script);
    free(c->debug_file);
    free(c->separator);
    free(c->plug_separator);
    vf_strv_free(&c->problems, &c->n_problems);
    vf_strv_free(&c->unknown, &c->n_unknown);
    if (c->debug != NULL) {
        fclose(c->debug);
    }
    *c = (struct vf_fa_common){ .progname = c->progname };
}

void
vf_fa_common_problem(struct vf_fa_common *c, const char *msg)
{
    (void)vf_strv_add(&c->problems, &c->n_problems, msg);
}

int
vf_fa_common_unknown(struct vf_fa_common *c, const char *key)
{
    for (size_t i = 0; i < c->n_unknown; i++) {
        if (strcasecmp(c->unknown[i], key) == 0) {
            return 0;
        }
    }
    return vf_strv_add(&c->unknown, &c->n_unknown, key);
}

static int
parse_action(const char *val, enum vf_fa_act *ret)
{
    for (size_t i = 0; i < sizeof(act_names) / sizeof(act_names[0]); i++) {
        if (strcasecmp(val, act_names[i]) == 0) {
            *ret = (enum vf_fa_act)i;
            return 0;
        }
    }
    /* fence-agents' old names */
    if (strcasecmp(val, "enable") == 0) {
        *ret = VF_FA_ON;
    } else if (strcasecmp(val, "disable") == 0) {
        *ret = VF_FA_OFF;
    } else {
        return -EINVAL;
    }
    return 0;
}

/*
 * Where the value of a common option goes, by id: a field of struct
 * vf_fa_common and how it is read.  Ids without a slot are handled by
 * vf_fa_common_apply() itself (action, the flags) or are not values
 * (version, help).
 */
enum slot_kind { SLOT_NONE, SLOT_STRING, SLOT_SECRET, SLOT_SECONDS, SLOT_COUNT };

struct slot {
    enum slot_kind kind;
    size_t off;                 /* offsetof(struct vf_fa_common, field) */
};

#define SLOT(k, field) { .kind = SLOT_##k, .off = offsetof(struct vf_fa_common, field) }
static const struct slot slots[VF_FA_ID_RETRY_ON + 1] = {
    [VF_FA_ID_PLUG] = SLOT(STRING, plug),
    [VF_FA_ID_USERNAME] = SLOT(STRING, username),
    [VF_FA_ID_PASSWORD] = SLOT(SECRET, password),
    [VF_FA_ID_PASSWORD_SCRIPT] = SLOT(STRING, password_script),
    [VF_FA_ID_DEBUG_FILE] = SLOT(STRING, debug_file),
    [VF_FA_ID_SEPARATOR] = SLOT(STRING, separator),
    [VF_FA_ID_PLUG_SEPARATOR] = SLOT(STRING, plug_separator),
    [VF_FA_ID_DELAY] = SLOT(SECONDS, delay),
    [VF_FA_ID_LOGIN_TIMEOUT] = SLOT(SECONDS, login_timeout),
    [VF_FA_ID_POWER_TIMEOUT] = SLOT(SECONDS, power_timeout),
    [VF_FA_ID_POWER_WAIT] = SLOT(SECONDS, power_wait),
    [VF_FA_ID_SHELL_TIMEOUT] = SLOT(SECONDS, shell_timeout),
    [VF_FA_ID_STONITH_STATUS_SLEEP] = SLOT(SECONDS, stonith_status_sleep),
    [VF_FA_ID_RETRY_ON] = SLOT(COUNT, retry_on),
};
#undef SLOT

/* store @val in the slot @s of @c */
static int
set_slot(struct vf_fa_common *c, const struct slot *s, const char *val,
         const char *name, char *msg, size_t len)
{
    void *field = (char *)c + s->off;
    unsigned long max = s->kind == SLOT_SECONDS ? VF_FA_MAX_SECONDS : 100, n = 0;
    int r;

    if (s->kind == SLOT_SECONDS || s->kind == SLOT_COUNT) {
        if (vf_parse_uint(val, false, 0, max, &n) < 0) {
            snprintf(msg, len, "invalid value '%s' for %s: expected %s0-%lu", val,
                     name, s->kind == SLOT_SECONDS ? "seconds, " : "", max);
            return -EINVAL;
        }
        *(unsigned int *)field = (unsigned int)n;
        return 0;
    }
    if (s->kind == SLOT_SECRET) {
        free_secret(field);
    }
    r = vf_set_str(field, val);
    if (r < 0) {
        snprintf(msg, len, "%s: out of memory", name);
    }
    return r;
}

static int
apply_flag(struct vf_fa_common *c, int id, const char *val, enum vf_fa_src src,
           const char *name, char *msg, size_t len)
{
    unsigned long n = 0;
    bool b = false;

    if (id == VF_FA_ID_VERBOSE_LEVEL) {
        if (vf_parse_uint(val, false, 0, 99, &n) < 0) {
            snprintf(msg, len, "invalid value '%s' for %s: expected 0-99", val, name);
            return -EINVAL;
        }
        c->verbose = (unsigned int)n;
        return 0;
    }
    if (src == VF_FA_ARGV) {
        b = true;
    } else if (vf_parse_bool(val, &b) < 0) {
        snprintf(msg, len, "invalid value '%s' for %s: expected a boolean", val, name);
        return -EINVAL;
    }
    if (id == VF_FA_ID_QUIET) {
        c->quiet = b;
    } else if (id == VF_FA_ID_DISABLE_TIMEOUT) {
        c->disable_timeout = b;
    } else if (src == VF_FA_ARGV) {
        c->verbose += c->verbose < 99 ? 1 : 0;
    } else {
        c->verbose = b ? (c->verbose > 0 ? c->verbose : 1) : 0;
    }
    return 0;
}

static void
mark_seen(struct vf_fa_common *c, int id)
{
    for (unsigned int i = 0; i < c->n_seen; i++) {
        if (c->seen[i] == id) {
            return;
        }
    }
    if (c->n_seen < sizeof(c->seen) / sizeof(c->seen[0])) {
        c->seen[c->n_seen++] = id;
    }
}

/**
 * \brief Store the value of a common option (see fa-run.h).
 * \return 0, -ENOENT (not a common option), -EINVAL, -ENOMEM
 */
int
vf_fa_common_apply(struct vf_fa_common *c, const struct vf_opt *o, const char *val,
                   enum vf_fa_src src, const char *name, char *msg, size_t len)
{
    if (o->id > 0) {
        mark_seen(c, o->id);    /* the agent's own options too */
    }
    if (o->id <= 0 || o->id >= VF_FA_ID_AGENT) {
        return -ENOENT;
    }
    switch (o->id) {
    case VF_FA_ID_ACTION:
        if (parse_action(val, &c->action) < 0) {
            snprintf(msg, len, "invalid value '%s' for %s: expected on, off, reboot, "
                     "status, list, list-status, monitor, metadata, manpage or "
                     "validate-all", val, name);
            return -EINVAL;
        }
        return 0;
    case VF_FA_ID_QUIET:
    case VF_FA_ID_VERBOSE:
    case VF_FA_ID_VERBOSE_LEVEL:
    case VF_FA_ID_DISABLE_TIMEOUT:
        return apply_flag(c, o->id, val, src, name, msg, len);
    default:
        break;
    }
    if ((size_t)o->id >= sizeof(slots) / sizeof(slots[0])
        || slots[o->id].kind == SLOT_NONE) {
        return -ENOENT;
    }
    return set_slot(c, &slots[o->id], val, name, msg, len);
}

/* read the script's output until EOF, @max bytes or the deadline */
static int
read_script(int fd, char *buf, size_t max, size_t *ret_len)
{
    int64_t deadline = vf_now_ms() + SCRIPT_TIMEOUT_MS;
    size_t len = 0;

    while (len < max) {
        ssize_t got;
        int r = vf_wait_readable(fd, deadline);

        if (r < 0) {
            return r;
        }
        got = read(fd, buf + len, max - len);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            return -errno;
        }
        if (got == 0) {
            break;
        }
        len += (size_t)got;
    }
    *ret_len = len;
    return 0;
}

/**
 * \brief Run password_script and keep the first line of its output as the
 *        password (see fa-run.h).  The output is never logged.
 * \return 0, -ETIMEDOUT, -EIO (the script failed), -ENOMEM
 */
int
vf_fa_run_password_script(struct vf_fa_common *c, char *err, size_t err_len)
{
    char *buf = NULL;
    size_t len = 0;
    int fds[2] = { -1, -1 };
    pid_t pid = -1;
    int status = 0, r;

    buf = calloc(1, SCRIPT_MAX_OUTPUT + 1);
    if (buf == NULL || pipe2(fds, O_CLOEXEC) < 0) {
        r = buf == NULL ? -ENOMEM : -errno;
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        r = -errno;
        goto out;
    }
    if (pid == 0) {
        (void)dup2(fds[1], STDOUT_FILENO);
        execl("/bin/sh", "sh", "-c", c->password_script, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    fds[1] = -1;
    r = read_script(fds[0], buf, SCRIPT_MAX_OUTPUT, &len);
    if (r < 0) {
        (void)kill(pid, SIGKILL);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        r = -EIO;
    }
    if (r < 0) {
        snprintf(err, err_len, "password_script failed: %s",
                 r == -EIO ? "non-zero exit status" : strerror(-r));
        goto out;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    free_secret(&c->password);
    c->password = strdup(buf);
    r = c->password != NULL ? 0 : -ENOMEM;

 out:
    if (buf != NULL) {
        explicit_bzero(buf, SCRIPT_MAX_OUTPUT);
        free(buf);
    }
    if (fds[0] >= 0) {
        close(fds[0]);
    }
    if (fds[1] >= 0) {
        close(fds[1]);
    }
    return r;
}

void
vf_fa_debug(const struct vf_fa_common *c, unsigned int level, const char *fmt, ...)
{
    va_list ap;

    if (c->verbose >= level && !c->quiet) {
        fprintf(stderr, "%s: ", c->progname);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    if (c->debug != NULL) {
        va_start(ap, fmt);
        vfprintf(c->debug, fmt, ap);
        va_end(ap);
        fputc('\n', c->debug);
        fflush(c->debug);
    }
}
