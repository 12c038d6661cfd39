/*
 * vmfence - daemon/pipeline.h: request pipeline, workers and listener threads.
 *
 * What the daemon guarantees to, and expects from, plugins (complements
 * plugin.h):
 *  - api->submit() may be called from any thread of a listener; it never
 *    blocks; the pipeline owns the connection afterwards and always ends
 *    with conn->ops->close().
 *  - api->stopping() belongs to one listener instance: it turns true on
 *    shutdown and when a SIGHUP reload restarts that listener (its
 *    listeners/<name> block or key file changed); run() must then return
 *    within about 500 ms, and should release its sockets before returning
 *    (the new instance may bind the same port before the old fini() runs).
 *  - fini() may be deferred until the last connection the instance
 *    submitted has been closed, so conn->key and conn->ops may point into
 *    the instance.
 *  - init() must copy what it needs from the vf_conf: the daemon frees a
 *    configuration when a reload replaces it.  The same holds for backends
 *    (init and reload).
 */
#ifndef VF_PIPELINE_H
#define VF_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include "plugin.h"
#include "groups.h"

#define VF_MAX_WORKERS        64     /* requests served at once (pool threads) */
#define VF_MAX_QUEUED       1024     /* more wait in a FIFO queue; beyond it, refused */
#define VF_QUEUE_TIMEOUT_MS  5000    /* a queued request not started by then is dropped */
#define VF_MIN_WORKERS         4     /* idle pool threads kept ... */
#define VF_WORKER_IDLE_MS  30000     /* ... the others exit after this long idle */
#define VF_MAX_LISTENERS      16     /* listener instances alive at once */
#define VF_MAX_PER_REQUESTER   8     /* requests one requester identity may have
                                      * queued or running (fairshare.h) ... */
#define VF_NEWCOMER_RESERVE   64     /* ... and the last places of the capacity
                                      * only go to requesters with none */

/* Deadlines of the pipeline steps (ms) */
#define VF_OPEN_TIMEOUT_MS     5000  /* multicast connect-back */
#define VF_AUTH_TIMEOUT_MS    10000  /* each half of challenge/response */
#define VF_LOOKUP_TIMEOUT_MS   5000
#define VF_OP_TIMEOUT_MS      30000
#define VF_REBOOT_TIMEOUT_MS  60000
#define VF_REPLY_TIMEOUT_MS    5000
#define VF_RECORD_TIMEOUT_MS   2000  /* per host list record */
#define VF_LIST_STREAM_TIMEOUT_MS 30000 /* a whole host list stream */
#define VF_MAX_LIST_DOMAINS   10000

/* A backend instance shared by the requests that use it (refcounted; the
 * last reference calls ops->fini). */
struct vf_backend_inst;

struct vf_backend_inst *vf_backend_inst_new(const struct vf_backend_ops *ops, void *priv);
void vf_backend_inst_unref(struct vf_backend_inst *be);
const struct vf_backend_ops *vf_backend_inst_ops(const struct vf_backend_inst *be);
void *vf_backend_inst_priv(const struct vf_backend_inst *be);

int vf_pipeline_init(void);
/* Free what is left (after a complete drain). */
void vf_pipeline_fini(void);

/*
 * Configuration used by requests submitted from now on: takes ownership of
 * @groups and one reference to @be.  Requests already running keep the
 * configuration they started with.
 */
int vf_pipeline_set_config(struct vf_groups *groups, struct vf_backend_inst *be);
/* Current backend instance with a new reference (NULL if none). */
struct vf_backend_inst *vf_pipeline_get_backend(void);

/* Refuse new requests from now on (shutdown). */
void vf_pipeline_stop(void);
bool vf_pipeline_stopping(void);
/* Wait up to @timeout_ms for running and queued requests; returns how many remain. */
unsigned int vf_pipeline_drain(int timeout_ms);
/* Number of requests currently running or queued. */
unsigned int vf_pipeline_active(void);
/*
 * Tests: change the queue bound and the queue timeout (defaults
 * VF_MAX_QUEUED, VF_QUEUE_TIMEOUT_MS); 0 keeps the current value.
 */
void vf_pipeline_set_queue_limits(unsigned int max_queued, int queue_timeout_ms);

/* ---- listener instances ---------------------------------------------- */

struct vf_listener_inst;

/* init() the listener with @conf and start its run() thread.  -errno and a
 * message in @err on failure. */
int vf_listener_start(const struct vf_listener_ops *ops, const struct vf_conf *conf,
                      struct vf_listener_inst **ret_li, char *err, size_t err_len);
/* Ask the listener to stop (its run() returns within ~500 ms). */
void vf_listener_request_stop(struct vf_listener_inst *li);
/*
 * Stop, join, wait up to @drain_ms for requests it submitted, then fini().
 * If requests are still running, fini() is deferred to the end of the last
 * one (their connections may reference the instance).  NULL-tolerant.
 */
void vf_listener_stop(struct vf_listener_inst *li, int drain_ms);
/* true when run() returned although no stop was requested */
bool vf_listener_failed(const struct vf_listener_inst *li);
const char *vf_listener_name(const struct vf_listener_inst *li);

#endif
