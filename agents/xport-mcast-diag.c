/*
 * vmfence - agents/xport-mcast-diag.c: fence_xvm --diagnose, the report of
 * what each step of the multicast exchange saw (see xport-mcast.c): 1. the
 * request datagrams, 2. the call-back and our challenge, 3. the exchange and
 * the answer.  The report names the first step that failed and what to
 * check next; it is built from counters only, never from a guess.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xport-mcast-int.h"

/* append one line to res->diag */
static void diag_add(struct vf_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
diag_add(struct vf_result *res, const char *fmt, ...)
{
    size_t used = strlen(res->diag);
    va_list ap;

    if (used + 2 >= sizeof(res->diag)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(res->diag + used, sizeof(res->diag) - used - 1, fmt, ap);
    va_end(ap);
    used = strlen(res->diag);
    res->diag[used++] = '\n';
    res->diag[used] = '\0';
}

/* 1. no datagram left this node */
static void
diag_not_sent(const struct vf_args *args, const struct vf_mcast_diag *d, struct vf_result *res)
{
    diag_add(res, "  1. request: NOT SENT: no datagram could be sent to %s UDP %u via %s "
             "(%s)", d->gaddr, args->port, d->tried[0] != '\0' ? d->tried : "(none)",
             strerror(d->send_err < 0 ? -d->send_err : ENETUNREACH));
    diag_add(res, "     next: check this node's addresses and multicast route "
             "(ip -br address; ip route get %s), or choose the interface with -I",
             d->gaddr);
}

/* 3. what the host answered on the call-back that passed our challenge */
static void
diag_answer(const struct vf_xport *x, const struct vf_cb_set *cbs,
            const struct vf_mcast_diag *d, struct vf_result *res)
{
    const struct vf_args *args = x->args;
    const char *target = x->req->domain[0] != '\0' ? x->req->domain : "";

    if (d->finish_rc < 0) {
        diag_add(res, "  3. exchange: FAILED: %s", res->msg);
        diag_add(res, "     next: the host did not accept our answer to its challenge or "
                 "stopped: compare auth (-C, now %s) with listeners/multicast/auth on "
                 "the host, and read fence_virtd's log", vf_hash_name(args->auth));
        return;
    }
    switch (res->resp) {
    case VF_RESP_PERM:
        diag_add(res, "  3. answer: PERMISSION DENIED by fence_virtd at %s: its groups "
                 "do not let this node (identity %s, the call-back address) act on "
                 "'%s'", cbs->winner_peer, d->local, target);
        diag_add(res, "     next: on the host, add to a group in fence_virt.conf: "
                 "ip = \"%s\"; uuid = \"%s\"; then systemctl reload fence_virtd "
                 "(fence_virtd --check lists the groups)", d->local,
                 target[0] != '\0' ? target : "VM");
        break;
    case VF_RESP_FAIL:
        diag_add(res, "  3. answer: operation failed on the host (unknown domain, or the "
                 "hypervisor refused); fence_virtd's log names the reason");
        break;
    default:
        if (res->hostlist) {
            diag_add(res, "  3. answer: a list of %zu domain(s): every step worked",
                     res->n_hosts);
        } else {
            diag_add(res, "  3. answer: response %d: every step worked", res->resp);
        }
        break;
    }
}

/* 2. a call-back passed (or auth none took the first), then 3. */
static void
diag_called_back(const struct vf_xport *x, const struct vf_cb_set *cbs,
                 const struct vf_mcast_diag *d, unsigned int cb_port, struct vf_result *res)
{
    const struct vf_args *args = x->args;

    if (args->auth == VF_HASH_NONE) {
        diag_add(res, "  2. call-back: fence_virtd at %s connected to TCP port %u "
                 "(auth none: not verified)", cbs->winner_peer, cb_port);
    } else {
        diag_add(res, "  2. call-back: fence_virtd at %s connected to TCP port %u and "
                 "answered our %s challenge correctly: the key matches",
                 cbs->winner_peer, cb_port, vf_hash_name(args->auth));
    }
    diag_answer(x, cbs, d, res);
}

/* 2. call-backs arrived but none passed: \return false when none arrived */
static bool
diag_failed_callbacks(const struct vf_args *args, const struct vf_cb_set *cbs,
                      unsigned int cb_port, struct vf_result *res)
{
    if (cbs->n_wrong > 0) {
        diag_add(res, "  2. call-back: KEY MISMATCH: %u connection(s) to TCP port %u (last "
                 "from %s) answered our %s challenge wrongly", cbs->n_wrong, cb_port,
                 cbs->last, vf_hash_name(args->auth));
        diag_add(res, "     next: copy the host's key file to %s on this node (the same "
                 "bytes), and use the same auth (-C) as listeners/multicast/auth",
                 args->key_file);
        return true;
    }
    if (cbs->n_accepted > 0) {
        diag_add(res, "  2. call-back: %u connection(s) to TCP port %u (last from %s) closed "
                 "or stalled before answering our challenge: the key or the auth algorithm "
                 "differ, or something other than fence_virtd connects to this port",
                 cbs->n_accepted, cb_port, cbs->last);
        diag_add(res, "     next: compare key_file and auth (-C %s) with the host's "
                 "listeners/multicast block", vf_hash_name(args->auth));
        return true;
    }
    return false;
}

/* 2. no call-back at all: blocked here (seen by the packet socket), or the causes */
static void
diag_no_callback(const struct vf_args *args, const struct vf_cb_set *cbs,
                 const struct vf_mcast_diag *d, unsigned int cb_port, struct vf_result *res)
{
    if (cbs->sniff_fd >= 0 && cbs->n_syn > 0) {
        diag_add(res, "  2. call-back: BLOCKED ON THIS NODE: %s tried to connect to TCP "
                 "port %u (%u attempt(s) seen arriving) but no connection was accepted: "
                 "this node's firewall drops the host's call-back", cbs->syn_from, cb_port,
                 cbs->n_syn);
        diag_add(res, "     next: open TCP %u inbound (from the host) on this node: "
                 "firewall-cmd --permanent --add-port=%u/tcp && firewall-cmd --reload; or: "
                 "nft add rule inet filter input tcp dport %u accept", cb_port, cb_port,
                 cb_port);
        return;
    }
    if (cbs->sniff_fd >= 0) {
        diag_add(res, "  2. call-back: NONE: no host even tried to connect to TCP port %u "
                 "within %u s, so no fence_virtd accepted the request. From this node the "
                 "causes below cannot be told apart:", cb_port, args->timeout);
    } else {
        diag_add(res, "  2. call-back: NONE arrived on TCP port %u within %u s: either no "
                 "fence_virtd accepted the request, or it could not connect back to this "
                 "node's TCP port %u (run --diagnose as root: it then sees whether the host "
                 "tried). Possible causes:", cb_port, args->timeout, cb_port);
        diag_add(res, "     - this node's firewall drops TCP %u inbound: firewall-cmd "
                 "--permanent --add-port=%u/tcp; nft add rule inet filter input tcp dport %u "
                 "accept", cb_port, cb_port, cb_port);
    }
    diag_add(res, "     - the host's firewall drops UDP %u or IGMP: on the host, "
             "firewall-cmd --permanent --add-port=%u/udp --add-protocol=igmp; nft add rule "
             "inet filter input udp dport %u accept", args->port, args->port, args->port);
    diag_add(res, "     - fence_virtd listens on another group, port or interface than %s UDP "
             "%u on the network of %s", d->gaddr, args->port, d->tried);
    diag_add(res, "     - the key or hash differ: fence_virtd drops a request whose signature "
             "does not verify (its log says so), without any answer");
    diag_add(res, "     - no fence_virtd runs with a multicast listener");
    diag_add(res, "     next: on the host, run fence_virtd --check and look in its log for "
             "requests from %s", d->tried);
}

void
vf_mcast_diagnose(const struct vf_xport *x, const struct vf_cb_set *cbs,
                  const struct vf_mcast_diag *d, struct vf_result *res)
{
    const struct vf_args *args = x->args;
    unsigned int cb_port = args->callback_port != 0 ? args->callback_port : args->port;

    res->diag[0] = '\0';
    diag_add(res, "diagnosis (%s --diagnose):", args->progname);
    if (d->sent == 0) {
        diag_not_sent(args, d, res);
        return;
    }
    diag_add(res, "  1. request: sent %u signed datagram(s) (%s) to %s UDP %u from %s",
             d->sent, vf_hash_name(args->hash), d->gaddr, args->port, d->tried);
    if (cbs->winner_peer[0] != '\0' || d->finished) {
        diag_called_back(x, cbs, d, cb_port, res);
        return;
    }
    if (diag_failed_callbacks(args, cbs, cb_port, res)) {
        return;
    }
    diag_no_callback(args, cbs, d, cb_port, res);
}
