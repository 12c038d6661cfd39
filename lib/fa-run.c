/*
 * vmfence - lib/fa-run.c: the main program of a fence-agents style agent:
 * options, the local actions (help, version, metadata, manpage,
 * validate-all) and the power actions with confirmation polling bounded by
 * a deadline.  Output lines and exit codes are those of fence-agents:
 * "Status: ON" (0) / "Status: OFF" (2), "Success: Powered OFF" ...,
 * every failure exits 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fa-run.h"
#include "io.h"

struct run {
    const struct vf_fa_agent *a;
    struct vf_fa_common *c;
    const struct vf_fa_ops *ops;
    void *ctx;
    bool connected;
};

__attribute__((format(printf, 2, 3)))
static void
failed(const struct run *run, const char *fmt, ...)
{
    va_list ap;

    if (run->c->quiet) {
        return;
    }
    fputs("Failed: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *
op_error(const struct run *run, int r)
{
    const char *e = run->ops->error != NULL ? run->ops->error(run->ctx) : NULL;

    return e != NULL && e[0] != '\0' ? e : strerror(-r);
}

/* sleep until @ms have passed or @deadline_ms, whichever is first */
static void
sleep_ms(int64_t ms, int64_t deadline_ms)
{
    int64_t end = vf_now_ms() + ms;

    if (deadline_ms > 0 && end > deadline_ms) {
        end = deadline_ms;
    }
    for (int64_t now = vf_now_ms(); now < end; now = vf_now_ms()) {
        struct timespec ts = { .tv_sec = (time_t)((end - now) / 1000),
                               .tv_nsec = (long)((end - now) % 1000) * 1000000L };

        (void)nanosleep(&ts, NULL);
    }
}

/* the window for one power change and its confirmation */
static int64_t
power_deadline(const struct vf_fa_common *c)
{
    unsigned int s = c->power_timeout;

    if (s == 0 || c->disable_timeout) {
        s = VF_FA_POWER_TIMEOUT_CAP;
    }
    return vf_now_ms() + (int64_t)s * 1000;
}

/* the deadline of one ordinary request */
static int64_t
call_deadline(const struct vf_fa_common *c)
{
    return vf_now_ms() + ((int64_t)c->login_timeout + c->shell_timeout) * 1000;
}

/*
 * Ask for @want, then poll until the device reports it.  -ETIMEDOUT when
 * not confirmed in time; any error of the device fails at once.
 */
static int
set_and_confirm(struct run *run, enum vf_fa_power want)
{
    const struct vf_fa_common *c = run->c;
    int64_t deadline = power_deadline(c);
    enum vf_fa_power st = want == VF_FA_POWER_ON ? VF_FA_POWER_OFF : VF_FA_POWER_ON;
    int r;

    r = run->ops->set_power(run->ctx, c->plug, want, deadline);
    if (r < 0) {
        return r;
    }
    sleep_ms((int64_t)c->power_wait * 1000, deadline);
    for (;;) {
        r = run->ops->get_power(run->ctx, c->plug, deadline, &st);
        if (r < 0) {
            return r;
        }
        if (st == want) {
            return 0;
        }
        if (vf_now_ms() >= deadline) {
            return -ETIMEDOUT;
        }
        vf_fa_debug(c, 2, "%s: not yet %s", c->plug, want == VF_FA_POWER_ON ? "on" : "off");
        sleep_ms(c->stonith_status_sleep > 0 ? (int64_t)c->stonith_status_sleep * 1000
                                             : 200, deadline);
    }
}

static int
power_on(struct run *run, unsigned int attempts)
{
    int r = -ETIMEDOUT;

    for (unsigned int i = 0; i < attempts && r == -ETIMEDOUT; i++) {
        r = set_and_confirm(run, VF_FA_POWER_ON);
    }
    return r;
}

static int
print_list_line(void *data, const char *id, const char *alias, enum vf_fa_power st)
{
    const struct run *run = data;
    const char *sep = run->c->separator != NULL ? run->c->separator : ",";

    if (run->c->action == VF_FA_LIST) {
        printf("%s%s%s\n", id, sep, alias);
    } else if (run->c->action == VF_FA_LIST_STATUS) {
        printf("%s%s%s%s%s\n", id, sep, alias, sep, st == VF_FA_POWER_ON ? "ON" : "OFF");
    }
    return 0;
}

/* status, on, off, reboot once connected; returns the exit code */
static int
power_action(struct run *run)
{
    struct vf_fa_common *c = run->c;
    enum vf_fa_power st = VF_FA_POWER_OFF;
    int r;

    r = run->ops->get_power(run->ctx, c->plug, call_deadline(c), &st);
    if (r < 0) {
        failed(run, "cannot get the power state of '%s': %s", c->plug, op_error(run, r));
        return 1;
    }
    if (c->action == VF_FA_STATUS) {
        printf("Status: %s\n", st == VF_FA_POWER_ON ? "ON" : "OFF");
        return st == VF_FA_POWER_ON ? 0 : 2;
    }
    if ((c->action == VF_FA_ON && st == VF_FA_POWER_ON)
        || (c->action == VF_FA_OFF && st == VF_FA_POWER_OFF)) {
        printf("Success: Already %s\n", st == VF_FA_POWER_ON ? "ON" : "OFF");
        return 0;
    }
    if (c->action == VF_FA_OFF || (c->action == VF_FA_REBOOT && st == VF_FA_POWER_ON)) {
        r = set_and_confirm(run, VF_FA_POWER_OFF);
        if (r < 0) {
            failed(run, "power off of '%s': %s", c->plug,
                   r == -ETIMEDOUT ? "timed out waiting to power OFF" : op_error(run, r));
            return 1;
        }
        if (c->action == VF_FA_OFF) {
            printf("Success: Powered OFF\n");
            return 0;
        }
    }
    r = power_on(run, c->action == VF_FA_ON ? 1 + c->retry_on
                                            : (c->retry_on > 0 ? c->retry_on : 1));
    if (c->action == VF_FA_ON) {
        if (r < 0) {
            failed(run, "power on of '%s': %s", c->plug,
                   r == -ETIMEDOUT ? "timed out waiting to power ON" : op_error(run, r));
            return 1;
        }
        printf("Success: Powered ON\n");
        return 0;
    }
    /* reboot: the machine is off, so fencing succeeded even if on fails */
    if (r < 0 && !c->quiet) {
        fprintf(stderr, "%s: warning: '%s' is off but did not power on again: %s\n",
                c->progname, c->plug, r == -ETIMEDOUT ? "timed out" : op_error(run, r));
    }
    printf("Success: Rebooted\n");
    return 0;
}

static int
connected_action(struct run *run)
{
    struct vf_fa_common *c = run->c;
    int r;

    switch (c->action) {
    case VF_FA_LIST:
    case VF_FA_LIST_STATUS:
    case VF_FA_MONITOR:
        r = run->ops->list(run->ctx, call_deadline(c), print_list_line, run);
        if (r < 0) {
            failed(run, "cannot list the virtual machines: %s", op_error(run, r));
            return 1;
        }
        return 0;
    default:
        return power_action(run);
    }
}

/* ---- the main program ------------------------------------------------- */

static bool
seen(const struct vf_fa_common *c, int id)
{
    for (unsigned int i = 0; i < c->n_seen; i++) {
        if (c->seen[i] == id) {
            return true;
        }
    }
    return false;
}

/* options the action needs but did not get: problems */
static void
check_needed(const struct vf_fa_agent *a, struct vf_fa_common *c, enum vf_fa_act act)
{
    for (size_t i = 0; a->opts[i] != NULL; i++) {
        const struct vf_opt *o = a->opts[i];
        char msg[160];

        /* validate-all: everything a device action needs (required="1") */
        bool needed = (o->need_for & VF_FA_NEED(act)) != 0
                      || (act == VF_FA_VALIDATE_ALL && o->required);

        if ((o->flags & VF_OPT_F_ALIAS) != 0 || !needed || seen(c, o->id)) {
            continue;
        }
        snprintf(msg, sizeof(msg), "%s is needed for action '%s'%s%s%s", o->key,
                 vf_fa_act_name(act), o->letter != 0 ? " (-" : "",
                 o->letter != 0 ? (char[]){ o->letter, '\0' } : "",
                 o->letter != 0 ? ")" : "");
        vf_fa_common_problem(c, msg);
    }
}

static int
parse(const struct vf_fa_agent *a, struct vf_fa_common *c, void *ctx, int argc,
      char **argv, bool *ret_help, bool *ret_version)
{
    char msg[512] = "";
    char *buf = NULL;
    size_t len = 0;
    int r;

    *ret_help = false;
    *ret_version = false;
    if (argc > 1) {
        r = vf_fa_parse_argv(a, ctx, argc, argv, ret_help, ret_version, msg, sizeof(msg));
        if (r < 0) {
            fprintf(stderr, "%s: %s\n", c->progname, msg[0] != '\0' ? msg : strerror(-r));
        }
        return r;
    }
    r = vf_fa_read_input(stdin, &buf, &len);
    if (r == 0) {
        r = vf_fa_parse_buffer(a, ctx, buf, len);
    }
    if (buf != NULL) {
        explicit_bzero(buf, len);    /* it may hold the password */
        free(buf);
    }
    if (r < 0) {
        fprintf(stderr, "%s: cannot read the parameters on standard input: %s\n",
                c->progname, r == -E2BIG ? "more than 1 MiB" : strerror(-r));
    }
    return r;
}

static int
write_manpage(const struct vf_fa_agent *a)
{
    printf(".TH %s 8 \"\" \"vmfence %s\" \"System Manager's Manual\"\n"
           ".SH NAME\n%s \\- %s\n.SH SYNOPSIS\n.B %s\n[\\fIOPTION\\fR]...\n"
           ".SH DESCRIPTION\n", a->name, PACKAGE_VERSION, a->name, a->shortdesc, a->name);
    for (const char *p = a->longdesc; *p != '\0'; p++) {
        if (*p == '-' || *p == '\\') {
            putchar('\\');
        }
        putchar(*p == '\\' ? 'e' : *p);
    }
    putchar('\n');
    return vf_fa_manopts_write(a, stdout);
}

/* the local actions; -1 when the action needs the device */
static int
local_action(const struct vf_fa_agent *a, struct run *run)
{
    struct vf_fa_common *c = run->c;
    char err[512] = "";
    int bad = 0;

    switch (c->action) {
    case VF_FA_METADATA:
        return vf_fa_metadata_write(a, stdout) < 0 ? 1 : 0;
    case VF_FA_MANPAGE:
        return write_manpage(a) < 0 ? 1 : 0;
    case VF_FA_VALIDATE_ALL:
        for (size_t i = 0; i < c->n_problems; i++) {
            fprintf(stderr, "%s: %s\n", c->progname, c->problems[i]);
            bad++;
        }
        for (size_t i = 0; i < c->n_unknown; i++) {
            fprintf(stderr, "%s: unknown parameter '%s'\n", c->progname, c->unknown[i]);
            bad++;
        }
        if (bad == 0 && run->ops->validate != NULL
            && run->ops->validate(run->ctx, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s: %s\n", c->progname, err);
            bad++;
        }
        return bad == 0 ? 0 : 1;
    default:
        return -1;
    }
}

static void
pacemaker_defaults(struct vf_fa_common *c)
{
    const char *svc = secure_getenv("PCMK_service");

    /* as fence-agents: under Pacemaker's fencer power_timeout is not used
     * (the fencer has its own timeout); our confirmation stays bounded */
    if (!seen(c, VF_FA_ID_DISABLE_TIMEOUT) && svc != NULL
        && (strcmp(svc, "pacemaker-fenced") == 0 || strcmp(svc, "stonith-ng") == 0)) {
        c->disable_timeout = true;
    }
}

/* everything after a successful parse; returns the exit code */
static int
run_action(struct run *run)
{
    struct vf_fa_common *c = run->c;
    char err[512] = "";
    int ret, r;

    for (size_t i = 0; i < c->n_unknown && !c->quiet; i++) {
        fprintf(stderr, "%s: warning: ignoring unknown parameter '%s'\n", c->progname,
                c->unknown[i]);
    }
    if (c->n_problems > 0) {
        for (size_t i = 0; i < c->n_problems; i++) {
            fprintf(stderr, "%s: %s\n", c->progname, c->problems[i]);
        }
        return 1;
    }
    if (c->password_script != NULL && vf_fa_run_password_script(c, err, sizeof(err)) < 0) {
        failed(run, "%s", err);
        return 1;
    }
    if (run->ops->validate != NULL && run->ops->validate(run->ctx, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", c->progname, err);
        return 1;
    }
    if (c->delay > 0 && (c->action == VF_FA_OFF || c->action == VF_FA_REBOOT)) {
        vf_fa_debug(c, 1, "delay %u s before fencing", c->delay);
        sleep_ms((int64_t)c->delay * 1000, 0);
    }
    r = run->ops->connect(run->ctx, vf_now_ms() + ((int64_t)c->login_timeout
                                                   + c->shell_timeout) * 1000);
    if (r < 0) {
        failed(run, "cannot log in: %s", op_error(run, r));
        return 1;
    }
    run->connected = true;
    ret = connected_action(run);
    fflush(stdout);
    return ret;
}

/**
 * \brief The whole agent (see fa-run.h).
 * \return the process exit code
 */
int
vf_fa_main(const struct vf_fa_agent *a, struct vf_fa_common *c,
           const struct vf_fa_ops *ops, void *ctx, int argc, char **argv)
{
    struct run run = { .a = a, .c = c, .ops = ops, .ctx = ctx };
    bool help = false, version = false;
    int ret = 1;

    if (parse(a, c, ctx, argc, argv, &help, &version) < 0) {
        goto out;
    }
    if (help || version) {
        if (help) {
            vf_fa_print_help(a, stdout);
        } else {
            printf("%s %s\n", c->progname, PACKAGE_VERSION);
        }
        ret = 0;
        goto out;
    }
    pacemaker_defaults(c);
    check_needed(a, c, c->action);
    if (c->debug_file != NULL) {
        c->debug = fopen(c->debug_file, "ae");
        if (c->debug == NULL && !c->quiet) {
            fprintf(stderr, "%s: warning: cannot open debug_file '%s': %s, ignoring\n",
                    c->progname, c->debug_file, strerror(errno));
        }
    }
    ret = local_action(a, &run);
    if (ret < 0) {
        ret = run_action(&run);
    }

 out:
    if (run.connected && ops->disconnect != NULL) {
        ops->disconnect(ctx);
    }
    if (fflush(stdout) != 0 && ret == 0) {
        ret = 1;
    }
    return ret;
}
