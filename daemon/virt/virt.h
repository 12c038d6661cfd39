/*
 * vmfence - daemon/virt/virt.h: the one owner of libvirt's process-wide state.
 *
 * libvirt has state that belongs to the process, not to a user: the event
 * loop (one implementation may be registered, and one thread must run it
 * for keepalive, close callbacks and domain events), the error handler,
 * and, per connection, the one close callback.  This owner holds them, so
 * the libvirt backend (and cpg through it) and the serial listener share
 * them by reference instead of each registering its own:
 *
 *  - the event loop thread runs while at least one handle is open;
 *  - one connection per URI, shared by every handle opened on that URI:
 *    keepalive (5 s, 3 probes), the close callback, and a thread of its own
 *    that opens it and, once it is lost (libvirtd restart, keepalive
 *    timeout, a user reporting it dead), reopens it with a backoff of
 *    0.5 s doubling to 10 s.  A hung virConnectOpen blocks only that
 *    URI's thread; closing the last handle waits for it until a deadline,
 *    then leaves it behind.
 *
 * Users never wait for a reconnect: vf_virt_get() returns the connection
 * or NULL at once.  Each handle may be told when its URI comes up and when
 * it goes down (called from the URI's thread, never with a lock of the
 * owner held; a callback must not block and must not open or close a
 * handle; once vf_virt_close() has returned, no callback runs for it).
 */
#ifndef VF_VIRT_H
#define VF_VIRT_H

#include <stdint.h>

#include <libvirt/libvirt.h>

struct vf_virt_conn;

struct vf_virt_events {
    /* The URI is connected (again); @conn is valid during the call. */
    void (*up)(void *arg, virConnectPtr conn);
    /* The connection @conn was lost (it is still valid during the call). */
    void (*down)(void *arg, virConnectPtr conn);
};

/*
 * A handle on @uri (opened in the background; see vf_virt_wait_first).
 * @ev may be NULL.  \return 0, -ENOMEM, -EIO (libvirt cannot be
 * initialised), or -errno (no thread)
 */
int vf_virt_open(const char *uri, const struct vf_virt_events *ev, void *arg,
                 struct vf_virt_conn **ret_c);

/*
 * Release @c (NULL-tolerant).  The last handle of a URI closes its
 * connection, waiting for that URI's thread at most until @deadline_ms
 * (a vf_now_ms() time); the last handle of all stops the event loop.
 */
void vf_virt_close(struct vf_virt_conn *c, int64_t deadline_ms);

/* The URI of @c. */
const char *vf_virt_uri(const struct vf_virt_conn *c);

/* A new reference to the live connection (virConnectClose it), or NULL. */
virConnectPtr vf_virt_get(struct vf_virt_conn *c);

/*
 * Wait until the first attempt to connect @c's URI has finished, at most
 * until @deadline_ms.  \return 0 (connected), -EHOSTDOWN, -ETIMEDOUT
 */
int vf_virt_wait_first(struct vf_virt_conn *c, int64_t deadline_ms);

/*
 * A call on @conn found it dead (an RPC error, virConnectIsAlive() == 0):
 * mark it so, wherever it is shared; its URI's thread reconnects.  @why
 * goes into the log line.  A connection that is no longer current is
 * ignored.
 */
void vf_virt_failed(virConnectPtr conn, const char *why);

/* The message of this thread's last libvirt error, never NULL. */
const char *vf_virt_error_text(void);

#endif
