/*
 * vmfence - agents/xport-mcast-int.h: private to the multicast transport
 * (xport-mcast.c, the call-back set in xport-mcast-cb.c and the --diagnose
 * report in xport-mcast-diag.c).  Not for the other transports.
 */
#ifndef VF_AGENT_XPORT_MCAST_INT_H
#define VF_AGENT_XPORT_MCAST_INT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "transport.h"

/* A call-back connection that has our challenge and owes us the answer. */
struct vf_cb_conn {
    int fd;                             /* -1: free slot */
    uint64_t serial;                    /* accept order: the lowest is the oldest */
    int64_t deadline_ms;                /* answer complete by then, or dropped */
    size_t got;                         /* answer bytes received so far */
    uint8_t answer[VF_DIGEST_MAX];
    uint8_t expect[VF_DIGEST_MAX];
    char peer[INET6_ADDRSTRLEN + 16];   /* address, for the exchange's messages */
    char who[INET6_ADDRSTRLEN + 24];    /* address and port, for the debug log */
};

/* The pending call-backs and what became of the ones that were dropped. */
struct vf_cb_set {
    struct vf_cb_conn conn[VF_AGENT_CB_PENDING];
    uint64_t next_serial;
    unsigned int n_wrong;               /* answered, but wrongly */
    unsigned int n_closed;              /* closed (or failed) before answering */
    unsigned int n_stalled;             /* no full answer within VF_AGENT_CB_ANSWER_MS */
    unsigned int n_evicted;             /* pushed out by newer ones (set full) */
    char last[INET6_ADDRSTRLEN + 24];   /* the last one dropped */
    int winner;                         /* fd of the call-back that passed, or -1 */
    char winner_peer[INET6_ADDRSTRLEN + 16];
    /* --diagnose */
    unsigned int n_accepted;            /* call-back connections accepted */
    int sniff_fd;                       /* packet socket watching for SYNs, -1 if none */
    int sniff_err;                      /* why there is none (errno), 0 if not asked */
    uint16_t sniff_port;
    unsigned int n_syn;                 /* SYNs to the call-back port seen arriving */
    char syn_from[INET6_ADDRSTRLEN];    /* the first one's source */
};

/* What --diagnose saw, step by step (xport-mcast.c fills it). */
struct vf_mcast_diag {
    const char *gaddr;
    const char *tried;          /* "10.0.0.2 (eth0), ..." */
    unsigned int sent;
    int send_err;
    bool finished;              /* the exchange on the winning call-back ran */
    int finish_rc;
    char local[INET6_ADDRSTRLEN];   /* our end of the call-back = our identity on the host */
};

/* ---- the call-back set (xport-mcast-cb.c) ---------------------------------- */

/* An empty set: no pending call-back, no winner, no packet socket. */
void vf_cb_set_init(struct vf_cb_set *set);

/*
 * --diagnose: open a packet socket that sees the host's TCP SYNs to @port
 * before this node's firewall (needs CAP_NET_RAW; set->sniff_err says why
 * there is none).
 */
void vf_cb_sniff_open(struct vf_cb_set *set, int family, uint16_t port);

/* Call-backs dropped so far (wrong, closed, stalled, evicted). */
unsigned int vf_cb_failed(const struct vf_cb_set *set);

/* Call-backs that have our challenge and have not answered yet. */
size_t vf_cb_pending(const struct vf_cb_set *set);

/* Close every pending call-back without counting it (a winner was found). */
void vf_cb_close_all(struct vf_cb_set *set);

/*
 * One wait, until @until_ms at most: poll the listener @lfd (when >= 0) and
 * every pending call-back, read answers, drop call-backs past their own
 * deadline, accept and challenge new ones.  Stops early when a call-back
 * passed (set->winner).
 * \return 0; a negative errno with res->msg set for a failure that ends
 *         the whole request
 */
int vf_cb_wait(const struct vf_xport *x, struct vf_cb_set *set, int lfd, uint16_t cb_port,
               int64_t until_ms, struct vf_result *res);

/* ---- --diagnose (xport-mcast-diag.c) --------------------------------------- */

/* Write the step-by-step report of @cbs and @d into res->diag. */
void vf_mcast_diagnose(const struct vf_xport *x, const struct vf_cb_set *cbs,
                       const struct vf_mcast_diag *d, struct vf_result *res);

#endif
