/*
 * vmfence - daemon/notify.h: readiness and status notifications to the
 * service manager (systemd's sd_notify protocol, Type=notify).
 *
 * With libsystemd (configure found it, --without-systemd not given) the
 * messages go through sd_notify(); without it, through a small built-in
 * sender of the same datagram protocol, so a Type=notify unit works either
 * way.  Both do nothing when NOTIFY_SOCKET is unset (started by hand, by a
 * test, or by another init system).  Never fails the caller: a lost
 * notification is logged at debug level 1.
 *
 * The daemon sends:
 *   STATUS=...           what it is doing ("serving multicast,tcp; libvirt: 3 domains",
 *                        "backend unreachable, retrying")
 *   READY=1              every listener bound and the backend answered
 *   RELOADING=1          SIGHUP received; READY=1 again once the reload is done
 *   STOPPING=1           shutdown begins
 *   MAINPID=             with READY=1, its own pid
 */
#ifndef VF_NOTIFY_H
#define VF_NOTIFY_H

#include <stdbool.h>

/* true when a service manager listens (NOTIFY_SOCKET is set) */
bool vf_notify_enabled(void);

/* Send "KEY=VALUE\n..." lines (printf format) as one message.  0 or -errno;
 * 0 also when nobody listens. */
int vf_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The common messages. */
void vf_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vf_notify_ready(const char *status);
void vf_notify_reloading(void);
void vf_notify_stopping(void);

#endif
