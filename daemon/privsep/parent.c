/*
 * vmfence - daemon/privsep/parent.c: the privileged process's handle of
 * its network process (privsep.h): start it (re-executed with
 * --privsep-net, two socketpairs and the configuration text as a memfd),
 * serve it with the executor, hand it a reload in place (handover.h),
 * notice at once when it is gone, stop it.  With a listener that needs
 * host-side sockets (VF_LF_HOST_FDS: serial), also that listener's host
 * side, which opens the per-VM sockets here and passes them over the
 * guest pair (privsep/guestpair.h, listeners/serial-host.h).
 *
 * The main thread alone calls these; the executor's reader thread only
 * sets the two flags and wakes the main loop with SIGUSR1.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "listeners/serial-host.h"
#include "log.h"
#include "pipeline.h"
#include "privsep/handover.h"
#include "privsep/privsep.h"
#include "registry.h"
#include "statstamp.h"
#include "timeutil.h"
#include "virtd.h"

#define START_WAIT_MS 60000     /* listeners bound, sandbox entered */
#define RELOAD_WAIT_MS 60000    /* changed listeners drained and restarted */

static struct {
    pid_t pid;                  /* 0: none */
    int ctl;                    /* the control pair (handover.h), -1: none */
    int gp;                     /* the guest pair (guestpair.h), -1: none */
    struct vf_sl_host *slh;     /* the serial listener's host side, NULL: none */
    char *sl_fp;                /* the settings it runs with */
    struct vf_ps_exec *ex;
    atomic_bool ready;          /* READY received */
    atomic_bool eof;            /* its request pair ended */
    int status;                 /* its wait status once reaped */
    char *conf_text;            /* the configuration it runs (as in the file) */
    size_t conf_len;
    char chroot_dir[512];       /* its root and user, as started (a reload may */
    char user[64];              /* name others, applied at the next start) */
    uid_t uid;                  /* the user, resolved here at the start: the */
    gid_t gid;                  /* network process never reads the name service */
    int prog_fd;                /* fence_virtd-net, opened until started; -1: none */
    bool lean;                  /* fence_virtd-net runs it (else /proc/self/exe) */
    char prog[VF_PS_NET_PATH_MAX];  /* the program, for the log */
    int stamp_fd;               /* the status stamp page (lib/statstamp.h), -1: none */
    bool stamp_tried;
} psn = { .ctl = -1, .gp = -1, .prog_fd = -1, .stamp_fd = -1 };

static void
psn_ready_cb(void *cb_arg)
{
    (void)cb_arg;
    atomic_store(&psn.ready, true);
    (void)kill(getpid(), SIGUSR1);      /* wake the main loop */
}

static void
psn_eof_cb(void *cb_arg)
{
    (void)cb_arg;
    atomic_store(&psn.eof, true);
    (void)kill(getpid(), SIGUSR1);
}

/* Reap the network process if it ended; true when it did. */
static bool
psn_reap(void)
{
    int st = 0;

    if (psn.pid > 0 && waitpid(psn.pid, &st, WNOHANG) == psn.pid) {
        psn.status = st;
        psn.pid = 0;
        return true;
    }
    return false;
}

static void
psn_kill(void)
{
    if (psn.pid > 0) {
        (void)kill(psn.pid, SIGKILL);
        (void)waitpid(psn.pid, &psn.status, 0);
        psn.pid = 0;
    }
}

static void
describe_status(int st, char *buf, size_t len)
{
    if (WIFEXITED(st)) {
        snprintf(buf, len, "exit status %d", WEXITSTATUS(st));
    } else if (WIFSIGNALED(st)) {
        snprintf(buf, len, "killed by signal %d (%s)%s", WTERMSIG(st), strsignal(WTERMSIG(st)),
                 WTERMSIG(st) == SIGSYS ? ": a system call outside the seccomp filter" : "");
    } else {
        snprintf(buf, len, "status 0x%x", (unsigned int)st);
    }
}

extern char **environ;

/*
 * The network process's environment: ours, but in a sanitizer build with
 * ASAN_OPTIONS ending in detect_leaks=0, as LeakSanitizer's check at exit
 * needs /proc, which its root lacks (it would end with "LeakSanitizer has
 * encountered a fatal error" instead).  Built before fork (malloc'd;
 * NULL: use ours).
 */
static char **
psn_child_env(void)
{
#ifdef VF_SAN_BUILD
    static const char add[] = "detect_leaks=0";
    const char *cur = getenv("ASAN_OPTIONS");
    size_t n = 0;
    size_t k = 0;
    char **env = NULL;

    while (environ[n] != NULL) {
        n++;
    }
    env = calloc(n + 2, sizeof(*env));
    if (env == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0) {
            env[k++] = environ[i];
        }
    }
    if (asprintf(&env[k], "ASAN_OPTIONS=%s%s%s", cur != NULL ? cur : "",
                 cur != NULL && cur[0] != '\0' ? ":" : "", add) < 0) {
        free(env);
        return NULL;
    }
    return env;
#else
    return NULL;
#endif
}

static void
psn_env_free(char **env)
{
    size_t n = 0;

    if (env == NULL) {
        return;
    }
    while (env[n] != NULL) {
        n++;
    }
    free(env[n - 1]);       /* the one string built here, last */
    free(env);
}

static void
psn_close_program(void)
{
    if (psn.prog_fd >= 0) {
        close(psn.prog_fd);
        psn.prog_fd = -1;
    }
}

/* The status stamp page, shared once for every network process to come
 * (lib/statstamp.h); -1 without one: statuses then always ask. */
static int
psn_stamp_fd(void)
{
    int r = 0;

    if (!psn.stamp_tried) {
        psn.stamp_tried = true;
        r = vf_statstamp_share(&psn.stamp_fd);
        if (r < 0) {
            vf_log(LOG_WARNING, "privsep: no status stamp page (%s): every status is asked "
                   "of the executor", strerror(-r));
        }
    }
    return psn.stamp_fd;
}

/* fork + exec fence_virtd-net or /proc/self/exe with
 * --privsep-net=SOCK,CTL,CONF,GUEST,UID,GID,STAMP; 0 or -errno */
static int
psn_exec(int sfd, int cfd, int tfd, int gfd, bool stdio_detached)
{
    int mfd = psn_stamp_fd();
    char fdarg[96];
    char dbg[16];
    char *argv[12];
    char **env = NULL;
    int argc = 0;
    pid_t pid = 0;
    int r = 0;

    snprintf(fdarg, sizeof(fdarg), "--privsep-net=%d,%d,%d,%d,%ld,%ld,%d", sfd, cfd, tfd, gfd,
             (long)psn.uid, (long)psn.gid, mfd);
    snprintf(dbg, sizeof(dbg), "%d", vfd_arg.debug);
    /* ps: "fence_virtd-net --privsep-net=..." or "fence_virtd --privsep-net=..." */
    argv[argc++] = psn.prog_fd >= 0 ? (char *)VF_PS_NET_NAME : (char *)vfd_progname;
    argv[argc++] = fdarg;
    if (psn.prog_fd >= 0) {
        argv[argc++] = (char *)"--privsep-version=" PACKAGE_VERSION;
    }
    argv[argc++] = (char *)"-f";
    argv[argc++] = vfd_arg.conf_path;
    if (vfd_arg.debug >= 0) {
        argv[argc++] = (char *)"-d";
        argv[argc++] = dbg;
    }
    /* -F: when detached, "keep stdio" (it is /dev/null already) */
    if (stdio_detached || vfd_arg.foreground || vfd_rc.foreground) {
        argv[argc++] = (char *)"-F";
    }
    argv[argc] = NULL;
    env = psn_child_env();
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        r = -errno;
        psn_env_free(env);
        psn_close_program();
        return r;
    }
    if (pid == 0) {
        /* only async-signal-safe calls until exec */
        (void)fcntl(sfd, F_SETFD, 0);
        (void)fcntl(cfd, F_SETFD, 0);
        (void)fcntl(tfd, F_SETFD, 0);
        (void)fcntl(gfd, F_SETFD, 0);
        if (mfd >= 0) {
            (void)fcntl(mfd, F_SETFD, 0);
        }
        /* env is NULL unless a sanitizer build adds to it */
        // cppcheck-suppress knownConditionTrueFalse
        char **envp = env != NULL ? env : environ;

        if (psn.prog_fd >= 0) {
            fexecve(psn.prog_fd, argv, envp);
        } else {
            execve("/proc/self/exe", argv, envp);
        }
        _exit(127);
    }
    psn_env_free(env);
    psn_close_program();
    psn.pid = pid;
    return 0;
}

/* Wait until READY; 0, VFD_EXIT_NO_LISTENER, -EINTR, -ECHILD. */
static int
psn_wait_ready(const sigset_t *sigs)
{
    int64_t until = vf_now_ms() + START_WAIT_MS;

    while (!atomic_load(&psn.ready)) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };
        int sig = sigtimedwait(sigs, NULL, &ts);
        char why[128] = "did not get ready in time";
        int64_t grace = vf_now_ms() + 2000;

        if (sig == SIGTERM || sig == SIGINT) {
            return -EINTR;
        }
        if (!psn_reap() && !atomic_load(&psn.eof) && vf_now_ms() < until) {
            continue;
        }
        /* its socketpair ended first: give it a moment to exit, for its status */
        while (psn.pid > 0 && atomic_load(&psn.eof) && vf_now_ms() < grace && !psn_reap()) {
            vf_sleep_ms(20);
        }
        if (psn.pid > 0) {
            psn_kill();
        } else {
            describe_status(psn.status, why, sizeof(why));
        }
        psn.ex = vf_ps_exec_stop(psn.ex, 0);
        vf_log(LOG_ERR, "privsep: the network process failed to start (%s)", why);
        return WIFEXITED(psn.status) && WEXITSTATUS(psn.status) == VFD_EXIT_NO_LISTENER ?
               VFD_EXIT_NO_LISTENER : -ECHILD;
    }
    return 0;
}

/* "uri\npath\nmode" of listeners/serial in @conf, or NULL when @rc has no
 * listener that needs host-side sockets (malloc'd) */
static char *
psn_host_settings(const struct vf_conf *conf, const struct vfd_runcfg *rc)
{
    char *fp = NULL;

    for (size_t i = 0; i < rc->n_listeners; i++) {
        if ((vf_registry_listener_flags(rc->listeners[i]) & VF_LF_HOST_FDS) != 0) {
            if (asprintf(&fp, "%s\n%s\n%s", vf_conf_get(conf, "listeners/serial/uri", ""),
                         vf_conf_get(conf, "listeners/serial/path", ""),
                         vf_conf_get(conf, "listeners/serial/mode", "")) < 0) {
                fp = NULL;
            }
            return fp != NULL ? fp : strdup("");
        }
    }
    return NULL;
}

/*
 * The serial listener's host side as @conf asks: started, kept (same
 * settings), restarted (new settings; the network process's listener gets
 * the new set at once) or stopped.  0 or -errno (logged).
 */
static int
psn_host_apply(const struct vf_conf *conf, const struct vfd_runcfg *rc)
{
    char *fp = psn_host_settings(conf, rc);
    char err[512] = "";
    bool resync = false;
    int r = 0;

    if (psn.slh != NULL && fp != NULL && psn.sl_fp != NULL && strcmp(fp, psn.sl_fp) == 0) {
        free(fp);
        return 0;
    }
    if (psn.slh != NULL) {
        resync = vf_sl_host_stop(psn.slh);
        psn.slh = NULL;
    }
    free(psn.sl_fp);
    psn.sl_fp = fp;
    if (fp == NULL) {
        return 0;
    }
    r = vf_sl_host_start(conf, psn.gp, resync, &psn.slh, err, sizeof(err));
    if (r < 0) {
        vf_log(LOG_ERR, "privsep: %s", err);
        free(psn.sl_fp);
        psn.sl_fp = NULL;
    }
    return r;
}

int
vfd_psn_start(const char *text, size_t len, struct vf_groups *exec_groups,
              const sigset_t *sigs, bool stdio_detached)
{
    int sv[2] = { -1, -1 };
    int cv[2] = { -1, -1 };
    int gv[2] = { -1, -1 };
    int tfd = -1;
    char err[512];
    int r = 0;

    psn.conf_text = malloc(len + 1);
    if (psn.conf_text == NULL) {
        vf_groups_free(exec_groups);
        return -ENOMEM;
    }
    memcpy(psn.conf_text, text, len);
    psn.conf_text[len] = '\0';
    psn.conf_len = len;
    snprintf(psn.chroot_dir, sizeof(psn.chroot_dir), "%s", vfd_rc.ps_chroot);
    snprintf(psn.user, sizeof(psn.user), "%s", vfd_rc.ps_user);
    r = vf_ps_sandbox_user(psn.user, &psn.uid, &psn.gid, NULL, err, sizeof(err));
    if (r < 0) {
        vf_log(LOG_ERR, "%s", err);
        goto fail;
    }
    psn_close_program();
    psn.prog_fd = vf_ps_net_program_open(&vfd_rc, psn.prog, sizeof(psn.prog));
    psn.lean = psn.prog_fd >= 0;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cv) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, gv) < 0) {
        r = -errno;
        goto fail;
    }
    psn.gp = gv[0];
    gv[0] = -1;
    /* the guest sockets are opened here from now on; sent once asked */
    r = psn_host_apply(vfd_conf, &vfd_rc);
    tfd = r < 0 ? r : vf_ps_text_fd(text, len);
    r = tfd < 0 ? tfd : psn_exec(sv[1], cv[1], tfd, gv[1], stdio_detached);
    if (r < 0) {
        goto fail;
    }
    close(sv[1]);
    close(cv[1]);
    close(gv[1]);
    close(tfd);
    psn.ctl = cv[0];
    atomic_store(&psn.ready, false);
    atomic_store(&psn.eof, false);
    r = vf_ps_exec_start(sv[0], vf_pipeline_get_backend(), exec_groups,
                         &(struct vf_ps_exec_cbs){ .ready = psn_ready_cb, .eof = psn_eof_cb },
                         &psn.ex);
    if (r < 0) {
        psn_kill();
        return r;
    }
    return psn_wait_ready(sigs);
fail:
    psn_close_program();
    vf_groups_free(exec_groups);
    for (int i = 0; i < 2; i++) {
        if (sv[i] >= 0) {
            close(sv[i]);
        }
        if (cv[i] >= 0) {
            close(cv[i]);
        }
        if (gv[i] >= 0) {
            close(gv[i]);
        }
    }
    if (tfd >= 0) {
        close(tfd);
    }
    return r;
}

/* @text parsed, its listeners' keys staged, written out to a memfd */
static int
staged_text_fd(const char *text, size_t len, uid_t uid, gid_t gid)
{
    struct vf_conf *conf = NULL;
    struct vfd_runcfg rc;
    char err[1024];
    char *out = NULL;
    size_t out_len = 0;
    FILE *mem = NULL;
    FILE *sink = fopen("/dev/null", "we");
    int r = vf_conf_parse_buffer(vfd_arg.conf_path, text, len, &conf, err, sizeof(err));

    if (r < 0) {
        vf_log(LOG_ERR, "privsep: %s", err);
        goto out;
    }
    (void)vfd_read_runcfg(conf, &rc, sink != NULL ? sink : stderr);
    /* only keyed listeners read a key (serial's key_file is unused) */
    for (size_t i = rc.n_listeners; i > 0; i--) {
        if ((vf_registry_listener_flags(rc.listeners[i - 1]) & VF_LF_KEYED) == 0) {
            memmove(rc.listeners[i - 1], rc.listeners[i],
                    (rc.n_listeners - i) * sizeof(rc.listeners[0]));
            rc.n_listeners--;
        }
    }
    r = vf_ps_keys_stage(conf, rc.listeners, rc.n_listeners, psn.chroot_dir, uid, gid,
                         err, sizeof(err));
    if (r < 0) {
        vf_log(LOG_ERR, "%s", err);
        goto out;
    }
    mem = open_memstream(&out, &out_len);
    r = mem == NULL ? -ENOMEM : vf_conf_write(conf, mem);
    if (mem != NULL && fclose(mem) != 0 && r == 0) {
        r = -EIO;
    }
    if (r == 0) {
        r = vf_ps_text_fd(out, out_len);
    }
out:
    if (sink != NULL) {
        fclose(sink);
    }
    free(out);
    vf_conf_free(conf);
    return r;
}

/*
 * The serial listener's host side as the new text @text asks (logged).
 * false when fence_virtd-net runs the network process and @text needs
 * fence_virtd itself (logged; nothing changed).
 */
static bool
psn_host_reload(const char *text, size_t len)
{
    struct vf_conf *conf = NULL;
    struct vfd_runcfg rc;
    char err[1024];
    FILE *sink = NULL;

    if (vf_conf_parse_buffer(vfd_arg.conf_path, text, len, &conf, err, sizeof(err)) < 0) {
        return true;    /* reported by the network process's own parse */
    }
    sink = fopen("/dev/null", "we");
    (void)vfd_read_runcfg(conf, &rc, sink != NULL ? sink : stderr);
    if (sink != NULL) {
        fclose(sink);
    }
    if (psn.lean && !vf_ps_net_program_fits(&rc, err, sizeof(err))) {
        vf_log(LOG_ERR, "reload: %s, which runs the network process (%s): restart "
               "fence_virtd to apply this configuration", err, psn.prog);
        vf_conf_free(conf);
        return false;
    }
    (void)psn_host_apply(conf, &rc);
    vf_conf_free(conf);
    return true;
}

int
vfd_psn_reload(const char *text, size_t len, struct vf_groups *exec_groups)
{
    const char *user = NULL;
    char err[512];
    uid_t uid = 0;
    gid_t gid = 0;
    int nfd = -1;
    int ofd = -1;
    int result = 0;
    int r = 0;

    /* the executor first: it re-checks with the new groups from now on */
    (void)vf_ps_exec_set_config(psn.ex, vf_pipeline_get_backend(), exec_groups);
    /* then the guest sockets: a restarted serial listener there asks the new host side */
    if (!psn_host_reload(text, len)) {
        return 0;       /* not applied: the listeners keep their settings */
    }
    r = vf_ps_sandbox_user(psn.user, &uid, &gid, &user, err, sizeof(err));
    if (r < 0) {
        vf_log(LOG_ERR, "reload: %s", err);
        return -1;
    }
    nfd = staged_text_fd(text, len, uid, gid);
    ofd = staged_text_fd(psn.conf_text, psn.conf_len, uid, gid);
    if (nfd < 0 || ofd < 0) {
        /* nothing was sent: the network process keeps its configuration */
        result = nfd < 0 ? nfd : ofd;
    } else {
        r = vf_ps_ctl_send_reload(psn.ctl, nfd, ofd);
        if (r == 0) {
            r = vf_ps_ctl_recv_done(psn.ctl, RELOAD_WAIT_MS, &result);
        }
    }
    vf_ps_keys_unstage(psn.chroot_dir);
    if (nfd >= 0) {
        close(nfd);
    }
    if (ofd >= 0) {
        close(ofd);
    }
    if (r < 0 || result < 0) {
        /* sent and not answered: a network process that cannot take a reload
         * is stopped (-1); not applied: its listeners keep their settings */
        vf_log(LOG_ERR, "reload: the network process did not apply the configuration (%s)%s",
               strerror(r < 0 ? -r : -result), r < 0 ? "" : "; its listeners keep theirs");
        return r < 0 ? -1 : 0;
    }
    if (result == VF_PS_CTL_NONE_LEFT) {
        return -1;
    }
    free(psn.conf_text);
    psn.conf_text = malloc(len + 1);
    if (psn.conf_text != NULL) {
        memcpy(psn.conf_text, text, len);
        psn.conf_text[len] = '\0';
    }
    psn.conf_len = psn.conf_text != NULL ? len : 0;
    return 0;
}

bool
vfd_psn_gone(char *why, size_t why_len)
{
    if (!psn_reap() && !atomic_load(&psn.eof)) {
        return false;
    }
    snprintf(why, why_len, "its connection ended");
    if (psn.pid == 0) {
        describe_status(psn.status, why, why_len);
    }
    return true;
}

/* Stop the network process (SIGTERM: it drains its requests), bounded. */
void
vfd_psn_stop(int drain_ms)
{
    int64_t until = vf_now_ms() + drain_ms + 5000;

    vf_ps_exec_expect_end(psn.ex);
    if (psn.pid > 0) {
        (void)kill(psn.pid, SIGTERM);
    }
    /* while the network process drains (its copies of the guest sockets
     * answer its running requests): the host side's bounded wait for a
     * libvirt call that hangs overlaps with it */
    (void)vf_sl_host_stop(psn.slh);
    psn.slh = NULL;
    free(psn.sl_fp);
    psn.sl_fp = NULL;
    if (psn.pid > 0) {
        while (psn.pid > 0 && !psn_reap()) {
            if (vf_now_ms() >= until) {
                vf_log(LOG_WARNING, "privsep: network process %ld did not stop; killing it",
                       (long)psn.pid);
                psn_kill();
                break;
            }
            vf_sleep_ms(20);
        }
    }
    psn.ex = vf_ps_exec_stop(psn.ex, VFD_RELOAD_DRAIN_MS);
    if (psn.ctl >= 0) {
        close(psn.ctl);
        psn.ctl = -1;
    }
    if (psn.gp >= 0) {
        close(psn.gp);
        psn.gp = -1;
    }
    free(psn.conf_text);
    psn.conf_text = NULL;
}

struct vf_groups *
vfd_exec_groups(const struct vf_conf *conf)
{
    struct vf_groups *g = NULL;
    char err[512];

    return vf_groups_load(conf, &g, err, sizeof(err)) == 0 ? g : NULL;
}
