/*
 * vmfence - daemon/hostlist.c: the host list reply (hostlist.h).
 *
 * The domains are collected first (the backend's list runs under its own
 * deadline), then streamed: each record has a deadline of its own, and the
 * whole stream one more, so a slow reader cannot hold a worker for
 * records x record timeout.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "hostlist.h"
#include "io.h"
#include "log.h"

#define VF_LIST_TRIM_DOMAINS 1000   /* lists this long give memory back (malloc_trim) */

struct list_ctx {
    const struct vf_groups *groups;
    const char *identity;
    struct vf_host_state *recs;
    size_t n;
    size_t cap;
    bool overflow;
};

static int
list_cb(void *arg, const struct vf_domain_info *dom)
{
    struct list_ctx *lc = arg;
    struct vf_host_state *recs = NULL, *hs = NULL;

    if (!vf_groups_allowed(lc->groups, lc->identity, NULL, dom->name, dom->uuid)) {
        return 0;
    }
    if (lc->n == VF_MAX_LIST_DOMAINS) {
        lc->overflow = true;
        return 0;
    }
    recs = vf_array_reserve(lc->recs, lc->n + 1, &lc->cap, sizeof(*recs), 16);
    if (recs == NULL) {
        return -ENOMEM;
    }
    lc->recs = recs;
    hs = &recs[lc->n++];
    memset(hs, 0, sizeof(*hs));
    /* 63 characters at most so that the wire field keeps a terminator (D16) */
    memcpy(hs->domain, dom->name, strnlen(dom->name, VF_DOMAIN_FIELD - 1));
    memcpy(hs->uuid, dom->uuid, strnlen(dom->uuid, sizeof(dom->uuid) - 1));
    hs->state = (uint8_t)dom->state;
    return 0;
}

/* deadline of one host list record, never past the stream's */
static int64_t
record_deadline(int64_t stream_end)
{
    int64_t d = vf_now_ms() + VF_RECORD_TIMEOUT_MS;

    return d < stream_end ? d : stream_end;
}

/* Send the records of @lc and the stream's end.  \return 0 or -errno */
static int
send_list(struct vf_conn *c, const struct list_ctx *lc, int reply_timeout_ms)
{
    /* each record has its own deadline, and the whole stream one more, so a
     * slow reader cannot hold a worker for records x record timeout */
    int64_t stream_end = vf_now_ms() + VF_LIST_STREAM_TIMEOUT_MS;
    struct vf_host_state end;
    int r = 0;

    r = c->ops->send_response(c, VF_RESP_HOSTLIST, vf_now_ms() + reply_timeout_ms);
    for (size_t i = 0; r == 0 && i < lc->n; i++) {
        r = c->ops->send_host_state(c, &lc->recs[i], record_deadline(stream_end));
    }
    memset(&end, 0, sizeof(end));
    if (r == 0) {
        r = c->ops->send_host_state(c, &end, record_deadline(stream_end));
    }
    if (r == 0) {
        r = c->ops->send_response(c, VF_RESP_SUCCESS, vf_now_ms() + reply_timeout_ms);
    }
    return r;
}

void
vf_hostlist_serve(const struct vf_hostlist_req *hl, char *res, size_t res_len)
{
    struct vf_conn *c = hl->conn;
    struct list_ctx lc = { .groups = hl->groups, .identity = c->identity };
    int r = 0;

    if (c->ops->send_host_state == NULL) {
        (void)c->ops->send_response(c, VF_RESP_FAIL, vf_now_ms() + hl->reply_timeout_ms);
        snprintf(res, res_len, "fail (listener cannot send lists)");
        return;
    }
    r = hl->be->list(hl->be_priv, list_cb, &lc, hl->list_deadline_ms);
    if (r < 0) {
        free(lc.recs);
        (void)c->ops->send_response(c, VF_RESP_FAIL, vf_now_ms() + hl->reply_timeout_ms);
        snprintf(res, res_len, "fail (backend: %s)", strerror(-r));
        return;
    }
    if (lc.overflow) {
        vf_log(LOG_WARNING, "request %llu: more than %d domains, list truncated",
               (unsigned long long)hl->id, VF_MAX_LIST_DOMAINS);
    }
    r = send_list(c, &lc, hl->reply_timeout_ms);
    free(lc.recs);
    if (lc.n >= VF_LIST_TRIM_DOMAINS) {
        /* a large list went through several threads' malloc arenas (the
         * backend's call thread, this worker); glibc keeps what they freed,
         * so a host with 10,000 domains grew by megabytes per concurrent
         * list and never shrank.  Giving it back costs far less than the
         * list itself. */
        (void)malloc_trim(0);
    }
    if (r < 0) {
        snprintf(res, res_len, "list of %zu domains, send failed: %s", lc.n, strerror(-r));
    } else {
        snprintf(res, res_len, "list of %zu domains", lc.n);
    }
}
