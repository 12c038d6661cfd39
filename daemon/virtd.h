/*
 * vmfence - daemon/virtd.h: what fence_virtd's process-level parts share.
 *
 * main.c (options, the named start-up steps, the main loop) is cut along
 * its seams into:
 *   runconf.c    the fence_virtd { } block, the configuration check, texts
 *   lifecycle.c  the pid file, daemonising with a readiness pipe, stdio
 *   listenset.c  the running listener instances and their in-place reload
 *   readiness.c  the backend's start, READY=1 and STATUS= (sd_notify)
 *   reload.c     SIGHUP
 *   privsep/parent.c, privsep/netproc.c, privsep/handover.c
 *                the two processes of privilege separation
 * Nothing here is part of the plugin ABI.
 */
#ifndef VF_VIRTD_H
#define VF_VIRTD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "conftree.h"
#include "groups.h"
#include "plugin.h"

struct vf_backend_inst;

#ifndef VF_CONF_DEFAULT
#define VF_CONF_DEFAULT "/etc/fence_virt.conf"
#endif
#ifndef VF_MODULE_PATH
#define VF_MODULE_PATH "/usr/lib/vmfence"
#endif
#define VF_PIDFILE_DEFAULT "/run/fence_virtd.pid"
#define VFD_MAX_LISTENERS 8
#define VFD_NAME_LEN 32
#define VFD_SHUTDOWN_DRAIN_MS 30000
#define VFD_RELOAD_DRAIN_MS 2000
#define VFD_TEXT_MAX (4 << 20)       /* a configuration text read or handed over */
#define VFD_EXIT_NO_LISTENER 3       /* network process: no listener could start */

extern const char vfd_progname[];

/* the command line */
struct vfd_args {
    char *conf_path;        /* absolute */
    const char *pid_path;   /* as given */
    char *pid_path_abs;
    int debug;              /* -1 = from the config */
    bool foreground;
    bool wait_init;
    bool list;
    bool configure;
    bool check;
    bool selfcheck;
    const char *ps_net;     /* --privsep-net=SOCKFD,CTLFD,CONFFD,GUESTFD (internal) */
};
extern struct vfd_args vfd_arg;

/* what a configuration asks of the process */
struct vfd_runcfg {
    char listeners[VFD_MAX_LISTENERS][VFD_NAME_LEN];
    size_t n_listeners;
    char backend[VFD_NAME_LEN];
    bool foreground;
    bool wait_init;
    int debug;
    bool privsep;
    bool privsep_set;       /* privsep named in the file (else the default) */
    char ps_user[64];       /* "" = vmfence, else nobody */
    char ps_chroot[512];
};

/* the configuration being served (the main thread changes it at a reload) */
extern struct vf_conf *vfd_conf;
extern struct vfd_runcfg vfd_rc;

/* ---- runconf.c --------------------------------------------------------------- */

/*
 * The options both programs take: -F (foreground, into vfd_arg), -d LEVEL
 * (0..99, into vfd_arg) and -f FILE (into *@conf).  Returns 0 when @opt was
 * one of them, -EINVAL for a bad -d argument, -ENOENT for another option.
 */
int vfd_common_opt(int opt, const char *arg, const char **conf);
/* their long forms, for a struct option table (needs <getopt.h>) */
#define VFD_COMMON_LONGOPTS \
    { "foreground", no_argument, NULL, 'F' }, \
    { "debug", required_argument, NULL, 'd' }, \
    { "config", required_argument, NULL, 'f' }
/* Interpret the fence_virtd block; errors go to @diag.  Returns the error count. */
int vfd_read_runcfg(const struct vf_conf *conf, struct vfd_runcfg *rc, FILE *diag);
/*
 * Everything --check-config and a (re)load verify: schema, the fence_virtd
 * block, groups, the network listeners' settings and keys.  Returns the
 * error count; @ret_groups (may be NULL) gets the groups when there is none.
 */
int vfd_check_conf(const struct vf_conf *conf, struct vfd_runcfg *rc,
                   struct vf_groups **ret_groups, FILE *diag);
/* vfd_check_conf with the diagnostics going to the log */
int vfd_check_conf_logged(const struct vf_conf *conf, struct vfd_runcfg *rc,
                          struct vf_groups **ret_groups);
const char *vfd_module_path(const struct vf_conf *conf);
/* true when @rc runs split (privsep on, running as root, sandbox possible) */
bool vfd_privsep_wanted(const struct vfd_runcfg *rc, bool log_why);
/* "multicast,tcp" */
void vfd_listener_names(const struct vfd_runcfg *rc, char *out, size_t len);
/* Read a whole text (at most VFD_TEXT_MAX bytes) from @fd, which is closed.
 * 0 or -errno (-EFBIG when longer); *ret_text is NUL terminated. */
int vfd_read_fd_text(int fd, char **ret_text, size_t *ret_len);
int vfd_read_file_text(const char *path, char **ret_text, size_t *ret_len);

/* ---- lifecycle.c --------------------------------------------------------------- */

int vfd_pidfile_acquire(const char *path);
int vfd_pidfile_write(void);
void vfd_pidfile_release(void);
char *vfd_absolute_path(const char *p);
/* Fork into the background; returns the readiness pipe's write end. */
int vfd_daemonize(void);
/* Tell the waiting parent we serve, then stdio to /dev/null. */
void vfd_detach_stdio(int ready_fd);

/* ---- listenset.c --------------------------------------------------------------- */

/* Start every listener of @rc; all or none.  0 or -errno. */
int vfd_listeners_start(const struct vf_conf *conf, const struct vfd_runcfg *rc);
/*
 * Unchanged listeners keep running, changed ones restart with their new
 * settings (their previous ones, from @old, when that fails), removed ones
 * stop, new ones start.
 */
void vfd_listeners_reload(const struct vf_conf *conf, const struct vfd_runcfg *rc,
                          const struct vf_conf *old, const struct vfd_runcfg *old_rc);
void vfd_listeners_stop(int drain_ms);
size_t vfd_listeners_running(void);
bool vfd_listeners_failed(void);

/* ---- readiness.c --------------------------------------------------------------- */

/* Start backend @name (waiting for it with @wait_init; -EINTR on SIGTERM/SIGINT). */
int vfd_backend_start(const struct vf_conf *conf, const char *name, bool wait_init,
                      const sigset_t *sigs, struct vf_backend_inst **ret_be);
/* READY=1 once the backend answers (at the latest after a while); STATUS= */
void vfd_ready_arm(void);
void vfd_ready_tick(bool force);
/* after a reload: READY=1 again (with what failed, when @failed is not "") */
void vfd_ready_reloaded(const char *failed);

/* ---- reload.c ----------------------------------------------------------------------- */

/*
 * SIGHUP (@split: privsep running): the new configuration for new
 * requests, or the old one kept (the reason in @err).  -1 when no listener
 * is left: the caller stops as for
 * SIGTERM.
 */
int vfd_reload(bool split, char *err, size_t err_len);

/* ---- privsep/parent.c: the privileged side of the network process ------------------- */

/* Start the network process with @text and wait until it serves.  0,
 * VFD_EXIT_NO_LISTENER, -EINTR (SIGTERM meanwhile) or -errno. */
int vfd_psn_start(const char *text, size_t len, struct vf_groups *exec_groups,
                  const sigset_t *sigs, bool stdio_detached);
/* Hand the running network process the new configuration (its keys
 * staged) and wait for it to apply it.  0 (also when it kept its previous
 * settings, logged), or -1 when no listener is left there or it did not
 * answer: the caller stops. */
int vfd_psn_reload(const char *text, size_t len, struct vf_groups *exec_groups);
void vfd_psn_stop(int drain_ms);
/* true once the network process is gone; why in @why */
bool vfd_psn_gone(char *why, size_t why_len);
/* Groups of @conf for the executor's re-check (NULL: none). */
struct vf_groups *vfd_exec_groups(const struct vf_conf *conf);

/* ---- privsep/netproc.c ------------------------------------------------------------- */

/* fence_virtd --privsep-net: the network process.  Returns the exit code. */
int vfd_net_main(void);

#endif
