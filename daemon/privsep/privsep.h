/*
 * vmfence - daemon/privsep/privsep.h: privilege separation of fence_virtd.
 *
 * Two processes joined by one AF_UNIX SOCK_SEQPACKET socketpair carrying
 * the fixed-size messages of msg.h:
 *
 *  - the privileged parent ("executor", the main PID: pid file, signals,
 *    sd_notify, reload) owns the real backend (libvirt, cpg) and serves
 *    requests from the socketpair (executor.c), each in a thread of its
 *    own (at most VF_PS_MAX_INFLIGHT at once), within the request's
 *    deadline, after re-checking the groups for the requester it is told;
 *  - the network process (listeners, wire decoding, verification, dedupe,
 *    challenge/response, groups) re-executed from the parent, which binds
 *    its listeners and reads its keys as root, then drops to an
 *    unprivileged user, chroots into an empty directory and installs
 *    no_new_privs and a seccomp filter (sandbox.c).  In place of the
 *    backend its pipeline gets the proxy backend (proxy.c), whose ops ask
 *    the executor and wait for the answer, multiplexed by request id.
 *
 * Either process exits (non-zero, logged) as soon as the other is gone: a
 * half-dead pair never answers "success" (the proxy fails every call with
 * -EHOSTDOWN).
 */
#ifndef VF_PRIVSEP_H
#define VF_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "groups.h"
#include "pipeline.h"
#include "plugin.h"

#define VF_PS_MAX_INFLIGHT  256     /* executor: requests served at once */
#define VF_PS_ANSWER_SLACK_MS 250   /* proxy: wait this much past a deadline
                                     * for the executor's own answer */
#ifndef VF_PS_CHROOT_DEFAULT
#define VF_PS_CHROOT_DEFAULT "/var/empty/vmfence"
#endif

/* VF_SAN_BUILD: built with AddressSanitizer, which the sandbox (seccomp,
 * the start-up wait) must allow for (parent.c, sandbox.c) */
#if defined(__SANITIZE_ADDRESS__)
#define VF_SAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VF_SAN_BUILD 1
#endif
#endif

/* ---- network side (proxy.c) ---------------------------------------------- */

struct vf_ps_proxy;

/* The proxy backend; its priv is a struct vf_ps_proxy. init/fini unused. */
extern const struct vf_backend_ops vf_ps_proxy_ops;
/* its status asked ahead, while the client authenticates (request.h) */
struct vf_status_ahead;
extern const struct vf_status_ahead vf_ps_proxy_ahead;

/*
 * Serve the proxy over @fd (taken over, made blocking with a receive
 * timeout; closed by vf_ps_proxy_free): the waiting calls read it in
 * turn, a watcher thread waits for the hang-up.  @exit_on_eof: when the
 * executor goes away, log it and _exit(1) at once (the daemon); false:
 * only fail calls (tests).  Returns 0 or -errno.
 */
int vf_ps_proxy_new(int fd, bool exit_on_eof, struct vf_ps_proxy **ret_px);
/* Stop the watcher thread, fail waiting calls, close the socket.  NULL-tolerant. */
struct vf_ps_proxy *vf_ps_proxy_free(struct vf_ps_proxy *px);
/* true once the executor is gone (EOF, a malformed answer, a send error) */
bool vf_ps_proxy_dead(const struct vf_ps_proxy *px);
/* Tell the executor that every listener serves.  0 or -errno. */
int vf_ps_proxy_ready(struct vf_ps_proxy *px);

/* ---- network side: statuses given again while their stamp holds (stampcache.c) ---- */

/* Keep the answer @on to a status of @target (by name) stamped @stamp
 * (lib/statstamp.h; 0: not stamped, nothing kept). */
void vf_ps_stampcache_put(const char *target, bool on, uint64_t stamp);
/* 0 with *@ret_on: the kept answer for @target still holds; -ENOENT: ask */
int vf_ps_stampcache_get(const char *target, bool *ret_on);
/* Forget every kept answer (tests). */
void vf_ps_stampcache_clear(void);

/*
 * The requester on whose behalf the calling thread calls backend ops from
 * now on (thread-local; NULL or "" = unknown), sent with every request for
 * the executor's groups re-check (requester.c).  The request path sets it
 * for each request (request.c, vf_request_serve); unset, the executor has
 * no identity to re-check and skips the re-check.
 */
void vf_ps_set_requester(const char *identity);
/* the calling thread's requester ("" = unknown) */
const char *vf_ps_requester(void);

/* ---- privileged side (executor.c) ------------------------------------------ */

struct vf_ps_exec;

struct vf_ps_exec_cbs {
    void *arg;
    void (*ready)(void *arg);   /* READY received (reader thread) */
    void (*eof)(void *arg);     /* the peer is gone (reader thread) */
};

/*
 * Serve requests from @fd (taken over) with @be and @groups (the caller's
 * reference and ownership are taken over; NULL = none).  Returns 0 or -errno.
 */
int vf_ps_exec_start(int fd, struct vf_backend_inst *be, struct vf_groups *groups,
                     const struct vf_ps_exec_cbs *cbs, struct vf_ps_exec **ret_ex);
/* Backend and groups for requests from now on (same ownership rules). */
int vf_ps_exec_set_config(struct vf_ps_exec *ex, struct vf_backend_inst *be,
                          struct vf_groups *groups);
/* The peer is being stopped: its end of the pair is no error (not logged). */
void vf_ps_exec_expect_end(struct vf_ps_exec *ex);
/*
 * Stop reading, wait up to @drain_ms for running requests, close.  Requests
 * still running then keep what they use (it is freed by the last one).
 * NULL-tolerant.
 */
struct vf_ps_exec *vf_ps_exec_stop(struct vf_ps_exec *ex, int drain_ms);
/* Requests being served. */
unsigned int vf_ps_exec_active(const struct vf_ps_exec *ex);

/* ---- the network process's sandbox (sandbox.c) --------------------------------- */

/* The user comes resolved (vf_ps_sandbox_user() in the privileged process,
 * passed on --privsep-net): the network process never reads the name
 * service, so no NSS module (sssd, LDAP, systemd) is loaded into it and
 * none of them opens a socket there before the chroot. */
struct vf_ps_sandbox {
    const char *chroot_dir;     /* created (0755, root) when missing */
    uid_t uid;                  /* never 0 */
    gid_t gid;
    bool seccomp;               /* install the filter (if built with libseccomp) */
};

/*
 * Drop to the user, chroot, drop every capability, set no_new_privs and
 * install the seccomp filter (all threads).  Call after every listener is
 * bound and every key read.  Returns 0 or -errno with a message in @err.
 */
int vf_ps_sandbox_enter(const struct vf_ps_sandbox *sb, char *err, size_t err_len);
/* Before starting the network process: this process has the capabilities
 * the sandbox needs, and the root directory exists (created) as it must.
 * 0 or -errno with @err. */
int vf_ps_sandbox_prepare(const char *chroot_dir, char *err, size_t err_len);
/* The sandbox's user: @user, or NULL/"" for "vmfence" and else "nobody";
 * never root.  0 (uid, gid, the name used) or -errno with @err. */
int vf_ps_sandbox_user(const char *user, uid_t *ret_uid, gid_t *ret_gid, const char **ret_name,
                       char *err, size_t err_len);
/* "seccomp filter: on|off (why)", for the start-up log line */
const char *vf_ps_sandbox_seccomp_state(void);

/* ---- the network process's program (netmain.c, netproc.c, parent.c) ----------- */

/*
 * fence_virtd-net: the lean network process, linked without libvirt,
 * libxml2, corosync/pacemaker or libsystemd; its listeners are tcp,
 * multicast and vsock (VF_PS_NET_LISTENERS).  parent.c runs it when the
 * configuration needs nothing else, found next to the running fence_virtd
 * (a build tree) or at VF_PS_NET_PROGRAM; else fence_virtd itself with
 * --privsep-net, as before.
 */
#define VF_PS_NET_NAME "fence_virtd-net"
#ifndef VF_PS_NET_PROGRAM
#define VF_PS_NET_PROGRAM "/usr/libexec/vmfence/" VF_PS_NET_NAME
#endif
#define VF_PS_NET_LISTENERS { "tcp", "multicast", "vsock" }
/* the backends whose settings it knows (stand-ins: the executor runs them) */
#ifdef VF_NET_STAND_IN_CPG
#define VF_PS_NET_BACKENDS { "libvirt", "cpg" }
#else
#define VF_PS_NET_BACKENDS { "libvirt" }
#endif
#define VF_PS_NET_PATH_MAX 4128     /* a program's path (PATH_MAX + a name) */
/* fence_virtd-net's main(): vfd_net_main() with its built-in plugins only */
int vf_ps_net_main_lean(void);

struct vfd_runcfg;
/* Can fence_virtd-net serve @rc?  false with the reason in @why. */
bool vf_ps_net_program_fits(const struct vfd_runcfg *rc, char *why, size_t why_len);
/*
 * fence_virtd-net opened for fexecve() (O_CLOEXEC) when it can serve @rc
 * and is found, its path in @path; else -errno and fence_virtd's name in
 * @path.  One info line says which program runs and why (netprog.c).
 */
int vf_ps_net_program_open(const struct vfd_runcfg *rc, char *path, size_t path_len);

/* ---- giving memory back after a large answer (trim.c) ------------------------ */

#define VF_PS_TRIM_MIN_BYTES (1024 * 1024)
/* malloc's settings for either process, first thing in main() */
void vf_ps_malloc_setup(void);
/* and for the network process, before it starts a thread: one arena */
void vf_ps_malloc_setup_net(void);
/* true when an answer of @bytes is worth a trim */
bool vf_ps_trim_wanted(size_t bytes);
/* malloc_trim(0) now (glibc; nothing elsewhere); @why for the debug log */
void vf_ps_trim_now(const char *why);
/* The network process, every tick: @workers threads alive now.  Trims once
 * a burst is over (the surplus workers left, @workers back at @floor). */
void vf_ps_trim_after_burst(unsigned int workers, unsigned int floor);

#endif
