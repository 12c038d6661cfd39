/*
 * vmfence - daemon/pipeline.h: admission of requests, and the configuration
 * they run under.
 *
 * Owns the road from a listener's submit() to a worker: the configuration
 * "generations" (groups + backend instance), the admission of each
 * connection (replay cache, global capacity, per-requester fair share),
 * the worker queue (workq.h) that serves admitted requests with the steps
 * of request.h, and the end of every connection (close, then the
 * submitter's done callback).  Listener instances (listener.h) submit
 * through vf_pipeline_submit().
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
#define VF_WORKER_IDLE_MS   1000     /* ... the others exit after this long idle */
#define VF_MAX_PER_REQUESTER   8     /* requests one requester identity may have
                                      * queued or running (fairshare.h) ... */
#define VF_NEWCOMER_RESERVE   64     /* ... and the last places of the capacity
                                      * only go to requesters with none */

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
/* Worker threads alive (busy or idle). */
unsigned int vf_pipeline_workers(void);
/* Statuses asked ahead through @ahead (request.h) when the backend is its
 * (NULL: never).  Before the first request. */
struct vf_status_ahead;
void vf_pipeline_set_status_ahead(const struct vf_status_ahead *ahead);
/* Current backend instance with a new reference (NULL if none). */
struct vf_backend_inst *vf_pipeline_get_backend(void);

/*
 * Hand over @conn (NULL: nothing happens).  Never blocks on backend work:
 * the request is admitted and queued, or refused.  Either way the pipeline
 * owns @conn from now on, ends it with conn->ops->close(), and then calls
 * @done(@done_arg) (if @done is not NULL), exactly once.
 */
void vf_pipeline_submit(struct vf_conn *conn, void (*done)(void *arg), void *done_arg);

/*
 * Like vf_pipeline_submit(), but a request that is admitted is served in
 * the calling thread (no queue, no allocation); returns once it has ended
 * and @done has been called.  Same admission, so the same bounds: a caller
 * must keep other threads accepting meanwhile (listeners/common.c).
 */
void vf_pipeline_serve(struct vf_conn *conn, void (*done)(void *arg), void *done_arg);

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

#endif
