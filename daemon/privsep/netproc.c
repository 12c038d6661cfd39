/*
 * vmfence - daemon/privsep/netproc.c: fence_virtd --privsep-net=S,C,T,G,UID,GID, the
 * network process (privsep.h).  Everything that needs root is done first,
 * from the configuration text handed over in memfd T: listener sockets,
 * key files.  Then the sandbox, then READY to the executor on the request
 * pair S.  It serves with the proxy backend, and applies a reload handed
 * over on the control pair C (handover.h) in place: the same listener
 * reload as without privilege separation (listenset.c), with the keys
 * the privileged side staged in its root.  The guest pair G carries the
 * serial listener's per-VM sockets, opened by the privileged side
 * (privsep/guestpair.h); the serial listener takes it from
 * vf_ps_guest_pair().  UID and GID are the sandbox's user, resolved by the
 * privileged side: this process never reads the name service.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "io.h"
#include "log.h"
#include "pipeline.h"
#include "privsep/guestpair.h"
#include "privsep/handover.h"
#include "privsep/privsep.h"
#include "registry.h"
#include "statstamp.h"
#include "virtd.h"

#define TICK_MS 100     /* signals and listener failures are looked at this often */

static bool net_builtin_only;   /* fence_virtd-net (netmain.c) */

/* A conf text from @fd (control pair, hand-over), parsed; failures logged
 * as "@what: ...".  -errno */
static int
net_parse_fd(int fd, struct vf_conf **ret_conf, const char *what)
{
    char err[1024] = "";
    char *text = NULL;
    size_t len = 0;
    int r = vfd_read_fd_text(fd, &text, &len);

    if (r < 0) {
        vf_log(LOG_ERR, "%s: cannot read the configuration handed over: %s", what,
               strerror(-r));
        return r;
    }
    r = vf_conf_parse_buffer(vfd_arg.conf_path, text, len, ret_conf, err, sizeof(err));
    if (r < 0) {
        vf_log(LOG_ERR, "%s: %s", what, err);
    }
    free(text);
    return r;
}

/* Parse the conf text read from @fd into vfd_conf/vfd_rc; groups to @ret_groups. */
static int
net_load(int fd, struct vf_groups **ret_groups)
{
    int r = net_parse_fd(fd, &vfd_conf, "privsep");

    if (r < 0) {
        return r;
    }
    /* fence_virtd-net: its built-ins only (netmain.c); the privileged side
     * runs fence_virtd itself when a module is needed */
    vf_registry_init(net_builtin_only ? NULL : vfd_module_path(vfd_conf));
    if (vfd_check_conf_logged(vfd_conf, &vfd_rc, ret_groups) > 0) {
        return -EINVAL;
    }
    vf_log_set_debug(vfd_arg.debug >= 0 ? vfd_arg.debug : vfd_rc.debug);
    return 0;
}

/* The proxy backend over @sfd (taken over) for the pipeline, with @groups. */
static int
net_pipeline(int sfd, struct vf_groups *groups, struct vf_ps_proxy **ret_px)
{
    struct vf_backend_inst *be = NULL;
    int r = vf_ps_proxy_new(sfd, true, ret_px);

    if (r < 0) {
        *ret_px = NULL;
        vf_groups_free(groups);
        return r;
    }
    be = vf_backend_inst_new(&vf_ps_proxy_ops, *ret_px);
    if (be == NULL) {
        vf_groups_free(groups);
        return -ENOMEM;
    }
    vf_pipeline_set_status_ahead(&vf_ps_proxy_ahead);
    r = vf_pipeline_set_config(groups, be);
    vf_backend_inst_unref(be);
    return r;
}

static int
net_sandbox(uid_t uid, gid_t gid)
{
    struct vf_ps_sandbox sb = {
        .chroot_dir = vfd_rc.ps_chroot,
        .uid = uid,
        .gid = gid,
        .seccomp = true,
    };
    char err[1024] = "";
    int r = 0;

    /* connect to syslog now: /dev/log is outside the chroot */
    openlog(vfd_progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    r = vf_ps_sandbox_enter(&sb, err, sizeof(err));
    if (r < 0) {
        vf_log(LOG_ERR, "%s", err);
    }
    return r;
}

/* One RELOAD from the control pair: the listener reload, in place. */
static int
net_reload(int ctl)
{
    struct vf_conf *conf = NULL;
    struct vf_conf *old = NULL;
    struct vf_groups *groups = NULL;
    struct vf_backend_inst *be = NULL;
    struct vfd_runcfg rc;
    struct vfd_runcfg old_rc;
    FILE *sink = NULL;
    int nfd = -1;
    int ofd = -1;
    int r = vf_ps_ctl_recv_reload(ctl, &nfd, &ofd);

    if (r < 0) {
        return r;
    }
    r = net_parse_fd(nfd, &conf, "reload");
    if (r == 0) {
        r = net_parse_fd(ofd, &old, "reload");
    } else {
        close(ofd);
    }
    if (r == 0 && vfd_check_conf_logged(conf, &rc, &groups) > 0) {
        r = -EINVAL;
    }
    if (r < 0) {
        vf_conf_free(conf);
        vf_conf_free(old);
        return vf_ps_ctl_send_done(ctl, r) < 0 ? -EPIPE : 0;
    }
    sink = fopen("/dev/null", "we");    /* the old text was checked when it was new */
    memset(&old_rc, 0, sizeof(old_rc));
    (void)vfd_read_runcfg(old, &old_rc, sink != NULL ? sink : stderr);
    if (sink != NULL) {
        fclose(sink);
    }
    if (vfd_arg.debug < 0) {
        vf_log_set_debug(rc.debug);
    }
    be = vf_pipeline_get_backend();
    (void)vf_pipeline_set_config(groups, be);
    vf_backend_inst_unref(be);
    vfd_listeners_reload(conf, &rc, old, &old_rc);
    vf_conf_free(old);
    vf_conf_free(vfd_conf);
    vfd_conf = conf;
    vfd_rc = rc;
    r = vfd_listeners_running() == 0 ? VF_PS_CTL_NONE_LEFT : 0;
    vf_log(LOG_INFO, "privsep: network process reloaded in place%s",
           r != 0 ? "; no listener is running" : "");
    return vf_ps_ctl_send_done(ctl, r) < 0 ? -EPIPE : 0;
}

/* Serve until SIGTERM/SIGINT (0) or a failed listener (1). */
static int
net_loop(int ctl, const sigset_t *sigs)
{
    for (;;) {
        struct timespec zero = { 0, 0 };
        struct pollfd p = { .fd = ctl, .events = POLLIN };
        int sig = 0;

        if (poll(&p, ctl >= 0 ? 1 : 0, TICK_MS) > 0 && net_reload(ctl) == -EPIPE) {
            ctl = -1;   /* the privileged side is gone: the proxy ends us */
        }
        sig = sigtimedwait(sigs, NULL, &zero);
        if (sig == SIGTERM || sig == SIGINT) {
            return 0;
        }
        if (vfd_listeners_failed()) {
            vf_log(LOG_ERR, "a listener failed; exiting");
            return 1;
        }
        vf_ps_trim_after_burst(vf_pipeline_workers(), VF_MIN_WORKERS);
    }
}

static void
net_detach_stdio(void)
{
    int fd = vfd_arg.foreground ? -1 : open("/dev/null", O_RDWR | O_CLOEXEC);

    /* the parent detaches once we are ready: so do we */
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
}

static int
net_main(void)
{
    struct vf_groups *groups = NULL;
    struct vf_ps_proxy *px = NULL;
    sigset_t sigs;
    int sfd = -1, cfd = -1, tfd = -1, gfd = -1, mfd = -1;
    long uid = 0, gid = -1;
    int exit_code = 1;
    int r = 0;

    vf_ps_malloc_setup_net();       /* before any thread */
    /* the user's ids come resolved by the privileged process (privsep.h) */
    if (sscanf(vfd_arg.ps_net, "%d,%d,%d,%d,%ld,%ld,%d", &sfd, &cfd, &tfd, &gfd, &uid, &gid,
               &mfd) != 7 ||
        sfd < 3 || cfd < 3 || tfd < 3 || gfd < 3 || uid <= 0 || uid > INT32_MAX || gid < 0 ||
        gid > INT32_MAX || (mfd != -1 && mfd < 3)) {
        fprintf(stderr, "%s: --privsep-net is internal\n", vfd_progname);
        return 1;
    }
    /* the status stamp page, read-only (lib/statstamp.h); without it every
     * status is asked of the executor */
    if (mfd >= 0) {
        r = vf_statstamp_attach(mfd);
        close(mfd);
        if (r < 0) {
            vf_log(LOG_WARNING, "privsep: status stamp page not mapped (%s): every status "
                   "is asked of the executor", strerror(-r));
        }
        r = 0;
    }
    (void)fcntl(sfd, F_SETFD, FD_CLOEXEC);
    (void)fcntl(cfd, F_SETFD, FD_CLOEXEC);
    (void)fcntl(gfd, F_SETFD, FD_CLOEXEC);
    vf_ps_set_guest_pair(gfd);      /* before any listener starts */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (net_load(tfd, &groups) < 0) {
        goto out;
    }
    if (vf_auth_init() < 0 || vf_pipeline_init() < 0) {
        vf_log(LOG_ERR, "privsep: cannot initialise the crypto library or the pipeline");
        goto out;
    }
    r = net_pipeline(sfd, groups, &px);
    groups = NULL;
    if (px != NULL) {
        sfd = -1;       /* the proxy's now */
    }
    if (r < 0) {
        goto out_pipeline;
    }
    /* the listeners, as root (ports below 1024, key files) */
    if (vfd_listeners_start(vfd_conf, &vfd_rc) < 0) {
        goto out_pipeline;
    }
    if (net_sandbox((uid_t)uid, (gid_t)gid) < 0) {
        vfd_listeners_stop(VFD_RELOAD_DRAIN_MS);
        goto out_pipeline;
    }
    if (vf_ps_proxy_ready(px) < 0) {
        vf_log(LOG_ERR, "privsep: cannot reach the executor");
        vfd_listeners_stop(VFD_RELOAD_DRAIN_MS);
        goto out_pipeline;
    }
    vf_log(LOG_INFO, "privsep: network process %ld (%s) serving as uid %ld in '%s', seccomp %s",
           (long)getpid(), net_builtin_only ? VF_PS_NET_NAME : "fence_virtd --privsep-net",
           (long)getuid(), vfd_rc.ps_chroot, vf_ps_sandbox_seccomp_state());
    net_detach_stdio();
    exit_code = net_loop(cfd, &sigs);
    {
        int64_t deadline = vf_now_ms() + VFD_SHUTDOWN_DRAIN_MS;

        vf_pipeline_stop();
        vfd_listeners_stop(VFD_SHUTDOWN_DRAIN_MS);
        if (vf_pipeline_drain(vf_ms_left(deadline)) > 0) {
            _exit(exit_code);
        }
    }
out_pipeline:
    vf_pipeline_fini();
    px = vf_ps_proxy_free(px);
out:
    if (sfd >= 0) {
        close(sfd);
    }
    close(cfd);
    vf_ps_set_guest_pair(-1);
    close(gfd);
    vf_groups_free(groups);
    vf_conf_free(vfd_conf);
    vf_registry_fini();
    free(vfd_arg.conf_path);
    free(vfd_arg.pid_path_abs);
    return exit_code;
}

int
vfd_net_main(void)
{
    return net_main();
}

int
vf_ps_net_main_lean(void)
{
    net_builtin_only = true;
    return net_main();
}
