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
 *   ask ahead     a status by name, no groups: sent to the backend now
 *                 when it can take it so (struct vf_status_ahead below)
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

#include <stdbool.h>
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

/*
 * A status asked of the backend ahead of its turn: a status by name with no
 * groups to check is sent to the backend before the client authenticates,
 * and its answer taken in the execute step (per-target lock held, as
 * always), so the backend's round trip overlaps the two challenge round
 * trips.  Only the privilege-separation proxy has it (privsep/proxy.c: the
 * executor's answer waits in the socketpair, no thread wakes for it).  The
 * answer is used only when no power operation started or ended in this
 * process since it was asked (else it is dropped and asked again), and
 * none was running then.  A request that fails to authenticate drops it:
 * a status, which changes nothing, is all that an unauthenticated peer
 * (who still needs a request signed with the key, never seen before) can
 * cause to be asked.
 *
 * peek, when set, answers such a status from what this process already
 * knows, with no round trip (privsep/stampcache.c: an answer the executor
 * gave from its lifecycle cache, while nothing that cache answers from has
 * changed).  A status peek answers is not asked ahead; peek is asked again
 * in the execute step (lock held), and only that answer counts.
 */
struct vf_ahead;
struct vf_status_ahead {
    const struct vf_backend_ops *be;    /* the backend whose calls these are */
    /* send it; 0 (then exactly one end or drop) or -errno */
    int (*begin)(void *be_priv, const char *target, unsigned int flags, int64_t deadline_ms,
                 struct vf_ahead **ret);
    /* its answer, as status() gives it (waits until the deadline given to begin) */
    int (*end)(void *be_priv, struct vf_ahead *a, bool *ret_on);
    /* forget it: its answer is dropped when it comes */
    void (*drop)(void *be_priv, struct vf_ahead *a);
    /* optional: 0 with *ret_on if known here and now, else -ENOENT */
    int (*peek)(void *be_priv, const char *target, unsigned int flags, bool *ret_on);
};

/* The daemon-wide tables every request consults (shared, thread-safe). */
struct vf_request_env {
    struct vf_history *history;
    struct vf_replay *replay;
    struct vf_dlocks *locks;
    const struct vf_status_ahead *ahead;    /* NULL: statuses are asked in turn */
    /* busy-poll budget (lib/io.h vf_io_set_spin) for the client's answers
     * while no other request authenticates; 0: never (one CPU) */
    unsigned int spin_us;
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
