/*
 * vmfence - lib/fa-common.c: the options every fence-agents style agent
 * has (action, plug/port, credentials, timeouts, verbosity ...), their
 * values and their checks.  Names, getopt letters, long options, aliases
 * and defaults are those of the fence-agents library, so that existing
 * stonith configurations keep working.
 */
#include <errno.h>
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

/* a deprecated name kept as an alias of the current option (string value) */
#define ALIAS(k, l, lo, arg, i, text) { .key = k, .letter = l, .longopt = lo, \
    .arg_name = arg, .type = VF_OPT_STRING, .deprecated = true, .flags = VF_OPT_F_ALIAS, \
    .id = i, .shortdesc = text }

#define SEC(k, lo, d, text, i) { .key = k, .longopt = lo, .arg_name = "seconds", \
    .type = VF_OPT_SECOND, .def = d, .shortdesc = text, .id = i }

const struct vf_opt vf_fa_opt_action = {
    .key = "action", .letter = 'o', .longopt = "action", .arg_name = "action",
    .type = VF_OPT_STRING, .def = "reboot", .id = VF_FA_ID_ACTION,
    .shortdesc = "Fencing action: on, off, reboot, status, list, list-status, "
                 "monitor, metadata, manpage or validate-all",
};
const struct vf_opt vf_fa_opt_login =
    ALIAS("login", 'l', "username", "name", VF_FA_ID_USERNAME,
          "Login name (deprecated, use username)");
const struct vf_opt vf_fa_opt_passwd =
    ALIAS("passwd", 'p', "password", "password", VF_FA_ID_PASSWORD,
          "Login password (deprecated, use password)");
const struct vf_opt vf_fa_opt_passwd_script =
    ALIAS("passwd_script", 'S', "password-script", "script", VF_FA_ID_PASSWORD_SCRIPT,
          "Script that prints the password (deprecated, use password_script)");
const struct vf_opt vf_fa_opt_password = {
    .key = "password", .letter = 'p', .longopt = "password", .arg_name = "password",
    .type = VF_OPT_STRING, .obsoletes = "passwd", .id = VF_FA_ID_PASSWORD,
    .shortdesc = "Login password (prefer password_script: command lines are "
                 "visible to every local user)",
};
const struct vf_opt vf_fa_opt_password_script = {
    .key = "password_script", .letter = 'S', .longopt = "password-script",
    .arg_name = "script", .type = VF_OPT_STRING, .obsoletes = "passwd_script",
    .id = VF_FA_ID_PASSWORD_SCRIPT,
    .shortdesc = "Script run with /bin/sh whose first output line is the password",
};
const struct vf_opt vf_fa_opt_plug = {
    .key = "plug", .letter = 'n', .longopt = "plug", .arg_name = "id",
    .type = VF_OPT_STRING, .obsoletes = "port", .id = VF_FA_ID_PLUG,
    .need_for = VF_FA_NEED_POWER,
    .shortdesc = "Name or UUID of the virtual machine",
};
const struct vf_opt vf_fa_opt_port =
    ALIAS("port", 'n', "plug", "id", VF_FA_ID_PLUG,
          "Name or UUID of the virtual machine (deprecated, use plug)");
const struct vf_opt vf_fa_opt_username = {
    .key = "username", .letter = 'l', .longopt = "username", .arg_name = "name",
    .type = VF_OPT_STRING, .obsoletes = "login", .id = VF_FA_ID_USERNAME,
    .shortdesc = "Login name",
};
const struct vf_opt vf_fa_opt_quiet = {
    .key = "quiet", .letter = 'q', .longopt = "quiet", .type = VF_OPT_BOOL,
    .id = VF_FA_ID_QUIET, .shortdesc = "No messages on standard error (the "
                                       "debug file and syslog are not affected)",
};
const struct vf_opt vf_fa_opt_verbose = {
    .key = "verbose", .letter = 'v', .longopt = "verbose", .type = VF_OPT_BOOL,
    .id = VF_FA_ID_VERBOSE, .shortdesc = "Verbose output on standard error; each "
                                         "-v on the command line adds a level",
};
const struct vf_opt vf_fa_opt_verbose_level = {
    .key = "verbose_level", .longopt = "verbose-level", .arg_name = "level",
    .mixed = "--verbose-level", .type = VF_OPT_INTEGER, .id = VF_FA_ID_VERBOSE_LEVEL,
    .shortdesc = "Level of verbose output (default: the number of -v, or 1 "
                 "for verbose=1 on standard input)",
};
const struct vf_opt vf_fa_opt_debug =
    ALIAS("debug", 'D', "debug-file", "debugfile", VF_FA_ID_DEBUG_FILE,
          "Append debug output to this file (deprecated, use debug_file)");
const struct vf_opt vf_fa_opt_debug_file = {
    .key = "debug_file", .letter = 'D', .longopt = "debug-file", .arg_name = "debugfile",
    .type = VF_OPT_STRING, .obsoletes = "debug", .id = VF_FA_ID_DEBUG_FILE,
    .shortdesc = "Append debug output to this file",
};
const struct vf_opt vf_fa_opt_version = {
    .key = "version", .letter = 'V', .longopt = "version", .type = VF_OPT_BOOL,
    .flags = VF_OPT_F_BUILTIN, .id = VF_FA_ID_VERSION,
    .shortdesc = "Print the version and exit",
};
const struct vf_opt vf_fa_opt_help = {
    .key = "help", .letter = 'h', .longopt = "help", .type = VF_OPT_BOOL,
    .flags = VF_OPT_F_BUILTIN, .id = VF_FA_ID_HELP,
    .shortdesc = "Print the options and exit",
};
const struct vf_opt vf_fa_opt_plug_separator = {
    .key = "plug_separator", .longopt = "plug-separator", .arg_name = "char",
    .type = VF_OPT_STRING, .def = ",", .id = VF_FA_ID_PLUG_SEPARATOR,
    .shortdesc = "Separator between several plugs in plug",
};
const struct vf_opt vf_fa_opt_separator = {
    .key = "separator", .letter = 'C', .longopt = "separator", .arg_name = "char",
    .type = VF_OPT_STRING, .def = ",", .id = VF_FA_ID_SEPARATOR,
    .shortdesc = "Separator of the fields printed by list and list-status",
};
const struct vf_opt vf_fa_opt_delay =
    SEC("delay", "delay", "0", "Wait this many seconds before off or reboot",
        VF_FA_ID_DELAY);
const struct vf_opt vf_fa_opt_disable_timeout = {
    .key = "disable_timeout", .longopt = "disable-timeout", .arg_name = "true/false",
    .type = VF_OPT_STRING, .id = VF_FA_ID_DISABLE_TIMEOUT,
    .shortdesc = "Ignore power_timeout (default: true when run by Pacemaker's "
                 "fencer); the power change is still confirmed within "
                 "120 seconds",
};
const struct vf_opt vf_fa_opt_login_timeout =
    SEC("login_timeout", "login-timeout", "5",
        "Seconds allowed for connecting to the device", VF_FA_ID_LOGIN_TIMEOUT);
const struct vf_opt vf_fa_opt_power_timeout =
    SEC("power_timeout", "power-timeout", "20",
        "Seconds allowed for a power change, confirmation included (0: 120)",
        VF_FA_ID_POWER_TIMEOUT);
const struct vf_opt vf_fa_opt_power_wait =
    SEC("power_wait", "power-wait", "0",
        "Seconds to wait after a power change before checking it", VF_FA_ID_POWER_WAIT);
const struct vf_opt vf_fa_opt_shell_timeout =
    SEC("shell_timeout", "shell-timeout", "3",
        "Seconds allowed for each request after login (added to login_timeout)",
        VF_FA_ID_SHELL_TIMEOUT);
const struct vf_opt vf_fa_opt_stonith_status_sleep =
    SEC("stonith_status_sleep", "stonith-status-sleep", "1",
        "Seconds between status checks while confirming a power change",
        VF_FA_ID_STONITH_STATUS_SLEEP);
const struct vf_opt vf_fa_opt_retry_on = {
    .key = "retry_on", .longopt = "retry-on", .arg_name = "attempts",
    .type = VF_OPT_INTEGER, .def = "1", .id = VF_FA_ID_RETRY_ON,
    .shortdesc = "Extra attempts of on when it is not confirmed in time",
};

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

static int
set_seconds(unsigned int *dst, const char *val, const char *name, char *msg, size_t len)
{
    unsigned long n = 0;

    if (vf_parse_uint(val, false, 0, VF_FA_MAX_SECONDS, &n) < 0) {
        snprintf(msg, len, "invalid value '%s' for %s: expected seconds, 0-%u", val,
                 name, VF_FA_MAX_SECONDS);
        return -EINVAL;
    }
    *dst = (unsigned int)n;
    return 0;
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
    char **str = NULL;
    int r;

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
    case VF_FA_ID_DELAY:
        return set_seconds(&c->delay, val, name, msg, len);
    case VF_FA_ID_LOGIN_TIMEOUT:
        return set_seconds(&c->login_timeout, val, name, msg, len);
    case VF_FA_ID_POWER_TIMEOUT:
        return set_seconds(&c->power_timeout, val, name, msg, len);
    case VF_FA_ID_POWER_WAIT:
        return set_seconds(&c->power_wait, val, name, msg, len);
    case VF_FA_ID_SHELL_TIMEOUT:
        return set_seconds(&c->shell_timeout, val, name, msg, len);
    case VF_FA_ID_STONITH_STATUS_SLEEP:
        return set_seconds(&c->stonith_status_sleep, val, name, msg, len);
    case VF_FA_ID_RETRY_ON: {
        unsigned long n = 0;

        if (vf_parse_uint(val, false, 0, 100, &n) < 0) {
            snprintf(msg, len, "invalid value '%s' for %s: expected 0-100", val, name);
            return -EINVAL;
        }
        c->retry_on = (unsigned int)n;
        return 0;
    }
    case VF_FA_ID_PLUG:
        str = &c->plug;
        break;
    case VF_FA_ID_USERNAME:
        str = &c->username;
        break;
    case VF_FA_ID_PASSWORD:
        free_secret(&c->password);
        str = &c->password;
        break;
    case VF_FA_ID_PASSWORD_SCRIPT:
        str = &c->password_script;
        break;
    case VF_FA_ID_DEBUG_FILE:
        str = &c->debug_file;
        break;
    case VF_FA_ID_SEPARATOR:
        str = &c->separator;
        break;
    case VF_FA_ID_PLUG_SEPARATOR:
        str = &c->plug_separator;
        break;
    default:
        return -ENOENT;
    }
    r = vf_set_str(str, val);
    if (r < 0) {
        snprintf(msg, len, "%s: out of memory", name);
    }
    return r;
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
