/*
 * vmfence - daemon/hostlist.h: the host list reply.
 *
 * Owns the answer to a hostlist request: the domains of the backend that
 * the requester may see (groups ACL, at most VF_MAX_LIST_DOMAINS), sent as
 * the HOSTLIST response, one record each, the all-zero terminator and the
 * final SUCCESS.
 */
#ifndef VF_HOSTLIST_H
#define VF_HOSTLIST_H

#include <stddef.h>
#include <stdint.h>
#include "groups.h"
#include "plugin.h"

#define VF_RECORD_TIMEOUT_MS   2000  /* per host list record */
#define VF_LIST_STREAM_TIMEOUT_MS 30000 /* a whole host list stream */
#define VF_MAX_LIST_DOMAINS   10000

/* A host list request and its deadlines. */
struct vf_hostlist_req {
    uint64_t id;                /* for log lines */
    struct vf_conn *conn;
    const struct vf_groups *groups;
    const struct vf_backend_ops *be;
    void *be_priv;
    int64_t list_deadline_ms;   /* of the backend's list() */
    int reply_timeout_ms;       /* of each response byte */
};

/*
 * List the backend's domains for the requester and send them through the
 * connection; the audit result text goes into @res.  A listener that cannot
 * send lists, or a backend that fails, gets a FAIL response.
 */
void vf_hostlist_serve(const struct vf_hostlist_req *hl, char *res, size_t res_len);

#endif
