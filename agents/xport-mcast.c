/*
 * vmfence - agents/xport-mcast.c: the multicast transport (fence_xvm), protocol.md 2.5.
 *
 * 1. Listen on TCP *:callback_port for the daemon's call-back.  If another
 *    fence_xvm on this node holds the port (Pacemaker monitor + fence), wait
 *    and retry until the timeout instead of failing.
 * 2. timeout*10/retrans rounds (ending at the overall timeout): for every
 *    local address of the family (or only those of -I interface) send one
 *    signed request over a fresh UDP socket bound to that interface,
 *    carrying that address as call-back address; same seqno on every
 *    packet.  Then wait retrans/10 s for a connection.
 * 3. While rounds are still sent, keep accepting call-backs: each one gets
 *    our 64-byte challenge at once and joins a bounded set of pending
 *    call-backs, all polled together with the listener.  A call-back that
 *    answers wrongly, closes or stalls is dropped and never decides the
 *    result (anything on the guests' network can connect to this port).
 *    The first one whose answer verifies wins: the listener and the other
 *    call-backs are closed, and xport-tcp.c's vf_stream_finish answers the
 *    daemon's challenge and reads the answer on it.
 *
 * --diagnose (diagnose=1) adds a report of what each step saw (res->diag):
 * the datagrams sent and from which addresses, whether a call-back arrived,
 * passed our challenge, and what the host answered.  One thing the protocol
 * cannot tell: a request that no fence_virtd heard (host firewall, group,
 * interface) and one that fence_virtd dropped (its key differs: it drops
 * wrongly signed requests without a word) look the same from here.  What
 * can be told apart is whether the host TRIED to call back: a packet socket
 * (root only) sees the host's TCP SYN to the call-back port before this
 * node's firewall drops it, so "the host called but this guest's firewall
 * dropped it" is named as such.
 *
 * This file: the local addresses, the call-back listener, the datagrams and
 * the rounds.  The call-back set is in xport-mcast-cb.c, the --diagnose
 * report in xport-mcast-diag.c (behind xport-mcast-int.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "io.h"
#include "log.h"
#include "xport-mcast-int.h"

/* local addresses a request is sent from: a bound, but far above what a
 * guest has (the reference read one netlink datagram and silently lost the
 * rest, D26; a limit of 64 here lost the cluster network behind many
 * addresses on lo or other interfaces) */
#define MCAST_MAX_ADDRS     4096
#define BIND_RETRY_MS       150

struct local_addr {
    int family;
    union {
        struct in_addr v4;
        struct in6_addr v6;
    } a;
    unsigned int ifindex;
    char ifname[IF_NAMESIZE];
    char text[INET6_ADDRSTRLEN];
};

static bool
skip_v6(const struct in6_addr *a)
{
    /* loopback ::1 and link-local fe80::/10 cannot carry the call-back */
    return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a);
}

/* An address of @family on an interface that is up (and is @ifname if set). */
static bool
addr_usable(const struct ifaddrs *ifa, int family, const char *ifname)
{
    if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != family) {
        return false;
    }
    if ((ifa->ifa_flags & IFF_UP) == 0) {
        return false;
    }
    if (ifname != NULL && strcmp(ifname, ifa->ifa_name) != 0) {
        return false;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 sin6;

        memcpy(&sin6, ifa->ifa_addr, sizeof(sin6));
        return !skip_v6(&sin6.sin6_addr);
    }
    return true;
}

/*
 * Collect the local addresses of @family (only of @ifname when set) into a
 * new array *ret_addrs (free() it), at most MCAST_MAX_ADDRS; *ret_dropped
 * counts the ones beyond that limit.
 */
static int
collect_addrs(int family, const char *ifname, struct local_addr **ret_addrs, size_t *ret_n,
              size_t *ret_dropped)
{
    struct ifaddrs *ifs = NULL, *ifa;
    struct local_addr *out = NULL;
    size_t n = 0, total = 0, max;

    if (getifaddrs(&ifs) < 0) {
        return -errno;
    }
    for (ifa = ifs; ifa != NULL; ifa = ifa->ifa_next) {
        if (addr_usable(ifa, family, ifname)) {
            total++;
        }
    }
    max = total < MCAST_MAX_ADDRS ? total : MCAST_MAX_ADDRS;
    /* cppcheck-suppress knownConditionTrueFalse ; getifaddrs() fills the list (not modelled) */
    if (max > 0) {
        out = calloc(max, sizeof(*out));
        if (out == NULL) {
            freeifaddrs(ifs);
            return -ENOMEM;
        }
    }
    /* cppcheck-suppress knownConditionTrueFalse ; as above: max can be > 0 */
    for (ifa = ifs; ifa != NULL && n < max; ifa = ifa->ifa_next) {
        struct local_addr *la = &out[n];

        if (!addr_usable(ifa, family, ifname)) {
            continue;
        }
        memset(la, 0, sizeof(*la));
        la->family = family;
        if (family == AF_INET) {
            struct sockaddr_in sin;

            memcpy(&sin, ifa->ifa_addr, sizeof(sin));
            la->a.v4 = sin.sin_addr;
        } else {
            struct sockaddr_in6 sin6;

            memcpy(&sin6, ifa->ifa_addr, sizeof(sin6));
            la->a.v6 = sin6.sin6_addr;
        }
        la->ifindex = if_nametoindex(ifa->ifa_name);
        snprintf(la->ifname, sizeof(la->ifname), "%s", ifa->ifa_name);
        inet_ntop(family, &la->a, la->text, sizeof(la->text));
        n++;
    }
    freeifaddrs(ifs);
    *ret_addrs = out;
    *ret_n = n;
    *ret_dropped = total - n;
    return 0;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/*
 * Bind the call-back listener, retrying while the port is in use until
 * @deadline_ms.  Returns the listening fd in *ret_fd.
 */
static int
open_listener(int family, uint16_t port, int64_t deadline_ms, int *ret_fd, bool *ret_waited)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int one = 1;
    int fd = -1;
    int rc;

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons(port);
        sl = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_any;
        sin6->sin6_port = htons(port);
        sl = sizeof(*sin6);
    }

    *ret_waited = false;
    for (;;) {
        fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            return -errno;
        }
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
            rc = -errno;
            goto fail;
        }
        if (bind(fd, (struct sockaddr *)&ss, sl) == 0 && listen(fd, 10) == 0) {
            break;
        }
        rc = -errno;
        fd = vf_close(fd);
        if (rc != -EADDRINUSE) {
            return rc;
        }
        if (vf_ms_left(deadline_ms) <= 0) {
            return -EADDRINUSE;
        }
        if (!*ret_waited) {
            vf_dbg(1, "call-back port %u is busy (another fence_xvm?); waiting", port);
        }
        *ret_waited = true;
        sleep_ms(vf_ms_left(deadline_ms) < BIND_RETRY_MS ? vf_ms_left(deadline_ms) :
                 BIND_RETRY_MS);
    }
    *ret_fd = fd;
    return 0;

fail:
    vf_close(fd);
    return rc;
}

/* Send one signed request to the group via local address @la. */
static int
send_one(const struct vf_xport *x, const struct local_addr *la,
         const struct sockaddr_storage *group, socklen_t group_len, uint16_t cb_port)
{
    struct vf_req *req = x->req;
    uint8_t wire[VF_REQ_SIZE];
    int ttl = VF_MCAST_TTL;
    int fd, rc;

    memset(req->address, 0, sizeof(req->address));
    if (la->family == AF_INET) {
        memcpy(req->address, &la->a.v4, sizeof(la->a.v4));
        req->addrlen = sizeof(la->a.v4);
        req->family = VF_WIRE_AF_INET;
    } else {
        memcpy(req->address, &la->a.v6, sizeof(la->a.v6));
        req->addrlen = sizeof(la->a.v6);
        req->family = VF_WIRE_AF_INET6;
    }
    req->port = cb_port;
    rc = vf_req_sign(req, x->key != NULL ? x->key->data : NULL,
                     x->key != NULL ? x->key->len : 0, wire);
    if (rc < 0) {
        return rc;
    }

    fd = socket(la->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (la->family == AF_INET) {
        struct ip_mreqn mreq;

        memset(&mreq, 0, sizeof(mreq));
        mreq.imr_address = la->a.v4;
        mreq.imr_ifindex = (int)la->ifindex;
        if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq)) < 0 ||
            setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) < 0) {
            rc = -errno;
            goto out;
        }
    } else {
        int ifindex = (int)la->ifindex;

        if ((ifindex > 0 &&
             setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex)) < 0) ||
            setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof(ttl)) < 0) {
            rc = -errno;
            goto out;
        }
    }
    if (sendto(fd, wire, sizeof(wire), 0, (const struct sockaddr *)group, group_len) < 0) {
        rc = -errno;
        goto out;
    }
    rc = 0;

out:
    vf_close(fd);
    return rc;
}

/* One fence_xvm request: where it goes, from where, and what became of it. */
struct mcast_run {
    int family;
    const char *gaddr;
    struct sockaddr_storage group;
    socklen_t group_len;
    uint16_t cb_port;
    unsigned int retrans;           /* tenths of a second between rounds */
    unsigned int rounds;
    struct local_addr *addrs;
    size_t n_addrs;
    char tried[512];                /* "10.0.0.1 (eth0), 127.0.0.1 (lo)" */
    int64_t deadline;
    unsigned int sent;              /* datagrams sent */
    int send_err;                   /* the last send's error */
    struct vf_cb_set cbs;
    struct vf_mcast_diag diag;
};

/* The group, family, call-back port and rounds from the options. */
static int
run_plan(const struct vf_args *args, struct mcast_run *r, struct vf_result *res)
{
    int rc;

    r->family = args->family;
    r->gaddr = args->mcast_addr;
    if (r->family != AF_INET && r->family != AF_INET6) {
        r->family = (r->gaddr != NULL && strchr(r->gaddr, ':') != NULL) ? AF_INET6 : AF_INET;
    }
    if (r->gaddr == NULL) {
        r->gaddr = r->family == AF_INET6 ? VF_DEFAULT_MCAST_V6 : VF_DEFAULT_MCAST_V4;
    }
    r->cb_port = args->callback_port != 0 ? args->callback_port : args->port;
    r->retrans = args->retrans > 0 ? args->retrans : 1;
    r->rounds = args->timeout * 10 / r->retrans;
    if (r->rounds == 0) {
        r->rounds = 1;
    }
    rc = vf_sockaddr_parse(r->gaddr, args->port, &r->group, &r->group_len);
    if (rc < 0 || (int)r->group.ss_family != r->family) {
        vf_result_msg(res, "multicast_address '%s' is not a literal %s address", r->gaddr,
                      r->family == AF_INET6 ? "IPv6" : "IPv4");
        return rc < 0 ? rc : -EINVAL;
    }
    return 0;
}

/* The local addresses to send from, and their list for the messages. */
static int
run_addrs(const struct vf_args *args, struct mcast_run *r, struct vf_result *res)
{
    const char *fam = r->family == AF_INET6 ? "IPv6" : "IPv4";
    size_t n_dropped = 0, used = 0;
    int rc;

    rc = collect_addrs(r->family, args->interface, &r->addrs, &r->n_addrs, &n_dropped);
    if (rc < 0) {
        vf_result_msg(res, "cannot list the local addresses: %s", strerror(-rc));
        return rc;
    }
    if (n_dropped > 0) {
        vf_log(LOG_WARNING, "sending from the first %zu local %s addresses only, "
               "%zu more ignored; use -I to choose the interface", r->n_addrs, fam, n_dropped);
    }
    if (r->n_addrs == 0) {
        if (args->interface != NULL) {
            vf_result_msg(res, "interface '%s' has no usable %s address", args->interface,
                          fam);
        } else {
            vf_result_msg(res, "this node has no usable %s address to send from", fam);
        }
        return -EADDRNOTAVAIL;
    }
    r->tried[0] = '\0';
    for (size_t i = 0; i < r->n_addrs && used < sizeof(r->tried); i++) {
        int w = snprintf(r->tried + used, sizeof(r->tried) - used, "%s%s (%s)",
                         i > 0 ? ", " : "", r->addrs[i].text, r->addrs[i].ifname);
        if (w < 0) {
            break;
        }
        used += (size_t)w;
    }
    return 0;
}

/* Listen for the call-back (waiting while another fence_xvm holds the port). */
static int
run_listen(const struct vf_args *args, struct mcast_run *r, int *ret_lfd,
           struct vf_result *res)
{
    int64_t start = vf_now_ms();
    bool waited = false;
    int rc;

    r->deadline = start + (int64_t)args->timeout * 1000;
    rc = open_listener(r->family, r->cb_port, r->deadline, ret_lfd, &waited);
    if (rc == -EADDRINUSE) {
        vf_result_msg(res, "TCP port %u for the call-back stayed in use for %u s (another "
                      "fence_xvm running on this node?)", r->cb_port, args->timeout);
        return rc;
    }
    if (rc < 0) {
        vf_result_msg(res, "cannot listen on TCP port %u for the call-back: %s", r->cb_port,
                      strerror(-rc));
        return rc;
    }
    if (waited) {
        vf_dbg(1, "call-back port %u is free after %.1f s", r->cb_port,
               (double)(vf_now_ms() - start) / 1000.0);
    }
    return 0;
}

/* One round: a datagram from every local address. */
static void
send_round(const struct vf_xport *x, struct mcast_run *r)
{
    for (size_t i = 0; i < r->n_addrs; i++) {
        int rc;

        vf_dbg(1, "Sending to %s via %s", r->gaddr, r->addrs[i].text);
        rc = send_one(x, &r->addrs[i], &r->group, r->group_len, r->cb_port);
        if (rc < 0) {
            vf_dbg(1, "sending via %s (%s) failed: %s", r->addrs[i].text,
                   r->addrs[i].ifname, strerror(-rc));
            r->send_err = rc;
            continue;
        }
        r->sent++;
    }
}

/*
 * Rounds of datagrams, and between them the call-backs: the listener stays
 * open while rounds are still sent.  The rounds end at the overall deadline
 * too (time spent waiting for a busy call-back port counts), but at least
 * one round is always sent.  The loop is bounded in time: every pass either
 * sends one of the rounds or waits in vf_cb_wait() until the end of the
 * current round at most.
 */
static int
run_rounds(const struct vf_xport *x, struct mcast_run *r, int lfd, struct vf_result *res)
{
    unsigned int round = 0;
    int64_t round_end = 0;

    while (r->cbs.winner < 0) {
        bool more = round < r->rounds && (round == 0 || vf_ms_left(r->deadline) > 0);
        int rc;

        if (more && vf_ms_left(round_end) <= 0) {
            send_round(x, r);
            round++;
            round_end = vf_now_ms() + (int64_t)r->retrans * 100;
            if (round_end > r->deadline && round > 1) {
                round_end = r->deadline;
            }
        } else if (!more && vf_ms_left(round_end) <= 0) {
            break;
        }
        rc = vf_cb_wait(x, &r->cbs, lfd, r->cb_port, round_end, res);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/*
 * After the listener closed: a call-back accepted just before the end may
 * still answer, but the pending ones get at most VF_AGENT_CB_GRACE_MS more
 * (a fence_virtd answers in milliseconds); every pass ends by then.
 */
static int
run_grace(const struct vf_xport *x, struct mcast_run *r, struct vf_result *res)
{
    int64_t grace_end = vf_now_ms() + VF_AGENT_CB_GRACE_MS;

    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        if (r->cbs.conn[i].fd >= 0 && r->cbs.conn[i].deadline_ms > grace_end) {
            r->cbs.conn[i].deadline_ms = grace_end;
        }
    }
    while (r->cbs.winner < 0 && vf_cb_pending(&r->cbs) > 0) {
        int rc = vf_cb_wait(x, &r->cbs, -1, r->cb_port, grace_end, res);

        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* No call-back passed: say why (nothing sent, all failed, none came). */
static int
run_no_winner(const struct vf_args *args, const struct mcast_run *r, struct vf_result *res)
{
    const struct vf_cb_set *cbs = &r->cbs;
    int rc;

    if (r->sent == 0) {
        rc = r->send_err < 0 ? r->send_err : -ENETUNREACH;
        vf_result_msg(res, "could not send any request to %s UDP port %u via %s: %s",
                      r->gaddr, args->port, r->tried, strerror(-rc));
        return rc;
    }
    if (vf_cb_failed(cbs) > 0) {
        vf_result_msg(res, "Timed out waiting for response\n"
                      "authentication failed: %u call-back(s) to TCP port %u did not pass "
                      "our %s challenge within %u s (%u wrong answer(s), %u closed, "
                      "%u stalled, %u dropped as excess; last from %s) and none did; the "
                      "key_file or hash/auth differ between this node and the host, or "
                      "something other than fence_virtd connects to TCP port %u on this "
                      "node", vf_cb_failed(cbs), r->cb_port, vf_hash_name(args->auth),
                      args->timeout, cbs->n_wrong, cbs->n_closed, cbs->n_stalled,
                      cbs->n_evicted, cbs->last, r->cb_port);
        return cbs->n_wrong > 0 ? -EACCES : -ETIMEDOUT;
    }
    vf_result_msg(res, "Timed out waiting for response\n"
                  "no fence_virtd called back within %u s: sent %u request(s) to %s "
                  "UDP port %u via %s; check that fence_virtd runs a multicast listener "
                  "on this network, that key_file and hash match the host's, and that "
                  "the host can connect to TCP port %u on this node",
                  args->timeout, r->sent, r->gaddr, args->port, r->tried, r->cb_port);
    return -ETIMEDOUT;
}

/*
 * The call-back @cfd passed our challenge: the authenticated exchange gets
 * the full timeout again (the daemon's challenge and the answer remain).
 */
static int
run_finish(const struct vf_xport *x, struct mcast_run *r, int cfd, struct vf_result *res)
{
    const struct vf_args *args = x->args;
    int rc;

    if (vf_cb_failed(&r->cbs) > 0) {
        vf_dbg(1, "call-back from %s passed our challenge after %u failed one(s)",
               r->cbs.winner_peer, vf_cb_failed(&r->cbs));
    } else {
        vf_dbg(1, "call-back from %s", r->cbs.winner_peer);
    }
    rc = vf_stream_finish(x, cfd, r->cbs.winner_peer,
                          vf_now_ms() + (int64_t)args->timeout * 1000, res);
    if (args->diagnose) {
        struct sockaddr_storage me;
        socklen_t ml = sizeof(me);

        r->diag.finished = true;
        r->diag.finish_rc = rc;
        if (getsockname(cfd, (struct sockaddr *)&me, &ml) == 0) {
            vf_sockaddr_str((struct sockaddr *)&me, ml, r->diag.local, sizeof(r->diag.local),
                            0);
        }
    }
    return rc;
}

int
vf_xport_mcast(const struct vf_xport *x, struct vf_result *res)
{
    const struct vf_args *args = x->args;
    struct mcast_run r;
    int lfd = -1, cfd = -1;
    int rc;

    memset(&r, 0, sizeof(r));
    vf_cb_set_init(&r.cbs);
    rc = run_plan(args, &r, res);
    if (rc < 0) {
        return rc;
    }
    rc = run_addrs(args, &r, res);
    if (rc < 0) {
        goto out;
    }
    rc = run_listen(args, &r, &lfd, res);
    if (rc < 0) {
        goto out;
    }
    if (args->diagnose) {
        vf_cb_sniff_open(&r.cbs, r.family, r.cb_port);
        r.diag.gaddr = r.gaddr;
        r.diag.tried = r.tried;
    }
    rc = run_rounds(x, &r, lfd, res);
    if (rc < 0) {
        goto out;
    }
    lfd = vf_close(lfd);
    rc = run_grace(x, &r, res);
    if (rc < 0) {
        goto out;
    }
    cfd = r.cbs.winner;
    r.cbs.winner = -1;
    vf_cb_close_all(&r.cbs);
    if (cfd < 0) {
        rc = run_no_winner(args, &r, res);
        goto out;
    }
    rc = run_finish(x, &r, cfd, res);

out:
    if (args->diagnose && r.diag.gaddr != NULL) {
        r.diag.sent = r.sent;
        r.diag.send_err = r.send_err;
        vf_mcast_diagnose(x, &r.cbs, &r.diag, res);
    }
    r.cbs.sniff_fd = vf_close(r.cbs.sniff_fd);
    vf_cb_close_all(&r.cbs);
    vf_close(r.cbs.winner);
    vf_close(cfd);
    vf_close(lfd);
    free(r.addrs);
    return rc;
}
