/*
 * vmfence - daemon/listener.h: listener instances and their threads.
 *
 * Owns one running listener each: the plugin's private state, the thread
 * that runs ops->run(), the daemon API handed to ops->init() (its context
 * pointer is the instance), and the count of connections the instance
 * submitted that the pipeline has not finished yet.  There is no cap on the
 * number of instances.
 *
 * What the daemon guarantees to, and expects from, listeners (complements
 * plugin.h):
 *  - api->submit(api->ctx, conn) may be called from any thread of the
 *    listener; it never blocks; the pipeline owns the connection afterwards
 *    and always ends with conn->ops->close().
 *  - api->stopping(api->ctx) turns true on shutdown and when a SIGHUP
 *    reload restarts that instance (its listeners/<name> block or key file
 *    changed); run() must then return within about 500 ms, and should
 *    release its sockets before returning (the new instance may bind the
 *    same port before the old fini() runs).
 *  - fini() may be deferred until the last connection the instance
 *    submitted has been closed, so conn->key and conn->ops may point into
 *    the instance.
 *  - init() must copy what it needs from the vf_conf: the daemon frees a
 *    configuration when a reload replaces it.  The same holds for backends
 *    (init and reload).
 */
#ifndef VF_LISTENER_H
#define VF_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include "plugin.h"

struct vf_listener_inst;

/* init() the listener with @conf and start its run() thread.  -errno and a
 * message in @err on failure. */
int vf_listener_start(const struct vf_listener_ops *ops, const struct vf_conf *conf,
                      struct vf_listener_inst **ret_li, char *err, size_t err_len);
/* Ask the listener to stop (its run() returns within ~500 ms). */
void vf_listener_request_stop(struct vf_listener_inst *li);
/*
 * Stop, join, wait up to @drain_ms for requests it submitted, then fini().
 * If requests are still running, the instance is orphaned: fini() is
 * deferred to the end of the last one (their connections may reference the
 * instance).  NULL-tolerant.
 */
void vf_listener_stop(struct vf_listener_inst *li, int drain_ms);
/* true when run() returned although no stop was requested */
bool vf_listener_failed(const struct vf_listener_inst *li);
const char *vf_listener_name(const struct vf_listener_inst *li);

#endif
