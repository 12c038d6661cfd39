/*
 * vmfence - daemon/request.h: serving one request, step by step.
 *
 * Owns what happens to one admitted request on its worker thread, from
 * the signed bytes to the audit line:
 *
 *   verify        the signature (min hash, key); a stream request with
 *                 call-back fields is refused; the replay cache records it
 *   dedupe        history.c reserves the request (10 s window); connect-back
 *                 copies only tentatively, confirmed once authenticated
 *   open          the reply channel (multicast connect-back)       5 s
 *   authenticate  challenge/response: respond, then challenge   10 s per half
 *   authorise     resolve the target (name and UUID), groups ACL
 *   execute       per-target lock (dlock.h), backend operation  30 s, reboot 60 s
 *   reply         response byte, or the host list (hostlist.h)
 *
 * and one cleanup path that settles the history entry and writes the
 * audit line.  Every step is bounded by a deadline, which the backend must
 * honour (a thread cannot be cancelled safely): a backend that overruns
 * holds only the worker of that request and the lock of that one target.
 *
 * It does not own the connection: the caller closes it afterwards.
 */
#ifndef VF_REQUEST_H
#define VF_REQUEST_H

#include <stdint.h>
#include "dlock.h"
#include "groups.h"
#include "history.h"
#include "plugin.h"
#include "replay.h"

/* Deadlines of the steps (ms) */
#define VF_OPEN_TIMEOUT_MS     5000  /* multicast connect-back */
#define VF_AUTH_TIMEOUT_MS    10000  /* each half of challenge/response */
#define VF_LOOKUP_TIMEOUT_MS   5000
#define VF_OP_TIMEOUT_MS      30000
#define VF_REBOOT_TIMEOUT_MS  60000
#define VF_REPLY_TIMEOUT_MS    5000

/* The daemon-wide tables every request consults (shared, thread-safe). */
struct vf_request_env {
    struct vf_history *history;
    struct vf_replay *replay;
    struct vf_dlocks *locks;
};

/* One admitted request and the configuration it was admitted under. */
struct vf_request {
    uint64_t id;                        /* for log lines */
    int64_t start_ms;                   /* for the audit line's duration */
    struct vf_conn *conn;
    const struct vf_groups *groups;
    const struct vf_backend_ops *be;    /* NULL: no backend configured */
    void *be_priv;
};

/* Serve @rq (every step above) and log its outcome; never closes rq->conn. */
void vf_request_serve(const struct vf_request_env *env, const struct vf_request *rq);

#endif
