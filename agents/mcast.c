/*
 * vmfence - agents/mcast.c: the multicast transport (fence_xvm), protocol.md 2.5.
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
 *    call-backs are closed, and tcp.c's vf_stream_finish answers the
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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "io.h"
#include "log.h"
#include "transport.h"

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
    if (max > 0) {
        out = calloc(max, sizeof(*out));
        if (out == NULL) {
            freeifaddrs(ifs);
            return -ENOMEM;
        }
    }
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

/* A call-back connection that has our challenge and owes us the answer. */
struct cb_conn {
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
struct cb_set {
    struct cb_conn conn[VF_AGENT_CB_PENDING];
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

static void
cb_set_init(struct cb_set *set)
{
    memset(set, 0, sizeof(*set));
    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        set->conn[i].fd = -1;
    }
    set->winner = -1;
    set->sniff_fd = -1;
}

/*
 * --diagnose: a packet socket that sees IP packets as they arrive, before
 * netfilter, to notice the host's TCP SYN to our call-back port even when a
 * firewall on this node drops it.  Needs CAP_NET_RAW; without it the
 * diagnosis says what it cannot tell apart.
 */
static void
sniff_open(struct cb_set *set, int family, uint16_t port)
{
    int proto = family == AF_INET6 ? ETH_P_IPV6 : ETH_P_IP;

    set->sniff_port = port;
    set->sniff_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                           (int)htons((uint16_t)proto));
    set->sniff_err = set->sniff_fd < 0 ? errno : 0;
}

/* Read what the packet socket has: count SYNs (without ACK) to our port. */
static void
sniff_read(struct cb_set *set)
{
    for (int i = 0; i < 512; i++) {
        uint8_t p[128];
        struct sockaddr_ll sll;
        socklen_t sl = sizeof(sll);
        const uint8_t *tcp = NULL;
        size_t hl = 0;
        char from[INET6_ADDRSTRLEN] = "";
        ssize_t n = recvfrom(set->sniff_fd, p, sizeof(p), 0, (struct sockaddr *)&sll, &sl);

        if (n < 0) {
            return;
        }
        if (sll.sll_pkttype == PACKET_OUTGOING) {
            continue;
        }
        if (n >= 20 && (p[0] >> 4) == 4) {
            hl = (size_t)(p[0] & 0x0f) * 4;
            if (p[9] != IPPROTO_TCP || (((p[6] & 0x1f) << 8) | p[7]) != 0 ||
                (size_t)n < hl + 14) {
                continue;
            }
            inet_ntop(AF_INET, p + 12, from, sizeof(from));
        } else if (n >= 40 && (p[0] >> 4) == 6) {
            hl = 40;
            if (p[6] != IPPROTO_TCP || (size_t)n < hl + 14) {
                continue;
            }
            inet_ntop(AF_INET6, p + 8, from, sizeof(from));
        } else {
            continue;
        }
        tcp = p + hl;
        if (((tcp[2] << 8) | tcp[3]) != set->sniff_port || (tcp[13] & 0x12) != 0x02) {
            continue;
        }
        if (set->n_syn++ == 0) {
            snprintf(set->syn_from, sizeof(set->syn_from), "%s", from);
        }
    }
}

static unsigned int
cb_failed(const struct cb_set *set)
{
    return set->n_wrong + set->n_closed + set->n_stalled + set->n_evicted;
}

static size_t
cb_pending(const struct cb_set *set)
{
    size_t n = 0;

    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        n += set->conn[i].fd >= 0;
    }
    return n;
}

/* Close a pending call-back that failed: count it under @counter, log why. */
static void
cb_drop(struct cb_set *set, struct cb_conn *c, const char *reason, unsigned int *counter)
{
    (*counter)++;
    vf_dbg(1, "call-back from %s ignored: %s (%u failed so far)", c->who, reason,
           cb_failed(set));
    snprintf(set->last, sizeof(set->last), "%s", c->who);
    c->fd = vf_close(c->fd);
}

/* Close every pending call-back without counting it (a winner was found). */
static void
cb_close_all(struct cb_set *set)
{
    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        set->conn[i].fd = vf_close(set->conn[i].fd);
    }
}

/* How many pending call-backs come from the address of @c. */
static size_t
cb_same_peer(const struct cb_set *set, const struct cb_conn *c)
{
    size_t n = 0;

    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        n += set->conn[i].fd >= 0 && strcmp(set->conn[i].peer, c->peer) == 0;
    }
    return n;
}

/*
 * The slot for a new call-back: a free one, else one is evicted: the
 * oldest of the address with the most pending call-backs, so that a flood
 * from one address pushes out its own connections rather than a
 * fence_virtd's that is about to answer.
 */
static struct cb_conn *
cb_slot(struct cb_set *set)
{
    struct cb_conn *victim = NULL;
    size_t victim_n = 0;

    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        struct cb_conn *c = &set->conn[i];
        size_t n;

        if (c->fd < 0) {
            return c;
        }
        n = cb_same_peer(set, c);
        if (victim == NULL || n > victim_n || (n == victim_n && c->serial < victim->serial)) {
            victim = c;
            victim_n = n;
        }
    }
    cb_drop(set, victim, "too many pending call-backs, dropped the oldest of the busiest "
            "address", &set->n_evicted);
    return victim;
}

/*
 * Take the call-back @fd (non-blocking) from @ss: send it our challenge and
 * add it to the pending set.  With auth none there is no challenge, and
 * the first call-back wins at once.  Takes ownership of @fd.
 * \return 0 (also when the call-back was dropped); a negative errno when no
 *         challenge can be made at all (res->msg set)
 */
static int
cb_add(const struct vf_xport *x, struct cb_set *set, int fd,
       const struct sockaddr_storage *ss, socklen_t sl, struct vf_result *res)
{
    enum vf_hash alg = (enum vf_hash)x->args->auth;
    uint8_t challenge[VF_CHALLENGE_SIZE];
    struct cb_conn *c;
    ssize_t n;
    int rc;

    if (alg == VF_HASH_NONE) {
        /* auth none: nothing tells a fence_virtd from anything else that
         * connects, so the first call-back decides, as it always has.
         * This is a limit of the unauthenticated protocol, not of this
         * code; only the challenge (-C) protects the call-back. */
        set->winner = fd;
        vf_sockaddr_str((const struct sockaddr *)ss, sl, set->winner_peer,
                        sizeof(set->winner_peer), 0);
        return 0;
    }

    c = cb_slot(set);
    c->fd = fd;
    c->serial = set->next_serial++;
    c->deadline_ms = vf_now_ms() + VF_AGENT_CB_ANSWER_MS;
    c->got = 0;
    vf_sockaddr_str((const struct sockaddr *)ss, sl, c->peer, sizeof(c->peer), 0);
    vf_sockaddr_str((const struct sockaddr *)ss, sl, c->who, sizeof(c->who), 1);

    rc = vf_auth_challenge_new(alg, x->key != NULL ? x->key->data : NULL,
                               x->key != NULL ? x->key->len : 0, challenge, c->expect);
    if (rc < 0) {
        vf_result_msg(res, "cannot make the %s challenge for the call-back: %s",
                      vf_hash_name(alg), strerror(-rc));
        c->fd = vf_close(c->fd);
        return rc;
    }
    vf_dbg(2, "call-back from %s: sent our challenge", c->who);
    /* 64 bytes into the empty send buffer of a new connection: one send
     * suffices, and anything else means the peer is unusable */
    n = send(c->fd, challenge, sizeof(challenge), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n != (ssize_t)sizeof(challenge)) {
        cb_drop(set, c, "could not send our challenge", &set->n_closed);
    }
    return 0;
}

/*
 * Accept the queued call-backs on @lfd (at most VF_AGENT_CB_PENDING per
 * call, so one burst cannot starve the pending ones).
 * \return 0; a negative errno with res->msg set when accepting fails for
 *         good or no challenge can be made
 */
static int
cb_accept(const struct vf_xport *x, struct cb_set *set, int lfd, uint16_t cb_port,
          struct vf_result *res)
{
    for (size_t i = 0; i < VF_AGENT_CB_PENDING && set->winner < 0; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd, rc;

        fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 0;
            }
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            rc = -errno;
            vf_result_msg(res, "waiting for the call-back on TCP port %u failed: %s",
                          cb_port, strerror(-rc));
            return rc;
        }
        set->n_accepted++;
        rc = cb_add(x, set, fd, &ss, sl, res);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* Read what a pending call-back sent of its answer; judge it when complete. */
static void
cb_read(struct cb_set *set, struct cb_conn *c)
{
    ssize_t n;

    n = recv(c->fd, c->answer + c->got, sizeof(c->answer) - c->got, MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return;
        }
        cb_drop(set, c, "connection failed before answering our challenge", &set->n_closed);
        return;
    }
    if (n == 0) {
        cb_drop(set, c, "closed the connection before answering our challenge",
                &set->n_closed);
        return;
    }
    c->got += (size_t)n;
    if (c->got < sizeof(c->answer)) {
        return;
    }
    if (!vf_auth_answer_ok(c->answer, c->expect)) {
        cb_drop(set, c, "wrong answer to our challenge (other key or auth, or not a "
                "fence_virtd)", &set->n_wrong);
        return;
    }
    vf_dbg(1, "call-back from %s passed our challenge", c->who);
    set->winner = c->fd;
    snprintf(set->winner_peer, sizeof(set->winner_peer), "%s", c->peer);
    c->fd = -1;
}

/*
 * One wait of the call-back loop, until @until_ms at most: poll the
 * listener (when @lfd >= 0) and every pending call-back, read answers,
 * drop call-backs past their own deadline, accept new ones.  Stops early
 * when a call-back passed (set->winner).
 * \return 0; a negative errno with res->msg set for a failure that ends
 *         the whole request
 */
static int
cb_wait(const struct vf_xport *x, struct cb_set *set, int lfd, uint16_t cb_port,
        int64_t until_ms, struct vf_result *res)
{
    struct pollfd pfd[VF_AGENT_CB_PENDING + 2];
    struct cb_conn *owner[VF_AGENT_CB_PENDING + 2];
    int64_t wake = until_ms;
    nfds_t n = 0;
    nfds_t sniff = (nfds_t)-1;
    int rc;

    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        struct cb_conn *c = &set->conn[i];

        if (c->fd < 0) {
            continue;
        }
        if (vf_ms_left(c->deadline_ms) <= 0) {
            cb_drop(set, c, "no answer to our challenge in time", &set->n_stalled);
            continue;
        }
        if (c->deadline_ms < wake) {
            wake = c->deadline_ms;
        }
        pfd[n].fd = c->fd;
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        owner[n++] = c;
    }
    if (lfd >= 0) {
        pfd[n].fd = lfd;
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        owner[n++] = NULL;
    }
    if (n == 0) {
        return 0;
    }
    if (set->sniff_fd >= 0) {
        sniff = n;
        pfd[n].fd = set->sniff_fd;
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        owner[n++] = NULL;
    }
    rc = poll(pfd, n, vf_ms_left(wake));
    if (rc < 0) {
        if (errno == EINTR) {
            return 0;
        }
        rc = -errno;
        vf_result_msg(res, "waiting for the call-back on TCP port %u failed: %s", cb_port,
                      strerror(-rc));
        return rc;
    }
    /* the pending ones first: a call-back already challenged is not
     * evicted by newcomers before its answer is read */
    for (nfds_t i = 0; i < n && set->winner < 0; i++) {
        if (owner[i] != NULL && pfd[i].revents != 0) {
            cb_read(set, owner[i]);
        }
    }
    if (sniff != (nfds_t)-1 && pfd[sniff].revents != 0) {
        sniff_read(set);
    }
    for (nfds_t i = 0; i < n && set->winner < 0; i++) {
        if (owner[i] == NULL && i != sniff && pfd[i].revents != 0) {
            return cb_accept(x, set, lfd, cb_port, res);
        }
    }
    return 0;
}

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

/* What --diagnose saw, step by step (see the top of this file). */
struct diag_state {
    const char *gaddr;
    const char *tried;          /* "10.0.0.2 (eth0), ..." */
    unsigned int sent;
    int send_err;
    bool finished;              /* the exchange on the winning call-back ran */
    int finish_rc;
    char local[INET6_ADDRSTRLEN];   /* our end of the call-back = our identity on the host */
};

static void
diagnose(const struct vf_xport *x, const struct cb_set *cbs, const struct diag_state *d,
         const struct vf_result *r0, struct vf_result *res)
{
    const struct vf_args *args = x->args;
    unsigned int cb_port = args->callback_port != 0 ? args->callback_port : args->port;
    const char *target = x->req->domain[0] != '\0' ? x->req->domain : "";

    (void)r0;
    res->diag[0] = '\0';
    diag_add(res, "diagnosis (%s --diagnose):", args->progname);
    if (d->sent == 0) {
        diag_add(res, "  1. request: NOT SENT: no datagram could be sent to %s UDP %u via %s "
                 "(%s)", d->gaddr, args->port, d->tried[0] != '\0' ? d->tried : "(none)",
                 strerror(d->send_err < 0 ? -d->send_err : ENETUNREACH));
        diag_add(res, "     next: check this node's addresses and multicast route "
                 "(ip -br address; ip route get %s), or choose the interface with -I",
                 d->gaddr);
        return;
    }
    diag_add(res, "  1. request: sent %u signed datagram(s) (%s) to %s UDP %u from %s",
             d->sent, vf_hash_name(args->hash), d->gaddr, args->port, d->tried);
    if (cbs->winner_peer[0] != '\0' || d->finished) {
        if (args->auth == VF_HASH_NONE) {
            diag_add(res, "  2. call-back: fence_virtd at %s connected to TCP port %u "
                     "(auth none: not verified)", cbs->winner_peer, cb_port);
        } else {
            diag_add(res, "  2. call-back: fence_virtd at %s connected to TCP port %u and "
                     "answered our %s challenge correctly: the key matches",
                     cbs->winner_peer, cb_port, vf_hash_name(args->auth));
        }
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
        return;
    }
    if (cbs->n_wrong > 0) {
        diag_add(res, "  2. call-back: KEY MISMATCH: %u connection(s) to TCP port %u (last "
                 "from %s) answered our %s challenge wrongly", cbs->n_wrong, cb_port,
                 cbs->last, vf_hash_name(args->auth));
        diag_add(res, "     next: copy the host's key file to %s on this node (the same "
                 "bytes), and use the same auth (-C) as listeners/multicast/auth",
                 args->key_file);
        return;
    }
    if (cbs->n_accepted > 0) {
        diag_add(res, "  2. call-back: %u connection(s) to TCP port %u (last from %s) closed "
                 "or stalled before answering our challenge: the key or the auth algorithm "
                 "differ, or something other than fence_virtd connects to this port",
                 cbs->n_accepted, cb_port, cbs->last);
        diag_add(res, "     next: compare key_file and auth (-C %s) with the host's "
                 "listeners/multicast block", vf_hash_name(args->auth));
        return;
    }
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

int
vf_xport_mcast(const struct vf_xport *x, struct vf_result *res)
{
    const struct vf_args *args = x->args;
    struct local_addr *addrs = NULL;
    struct sockaddr_storage group;
    socklen_t group_len = 0;
    const char *gaddr;
    char tried[512];
    struct cb_set cbs;
    size_t n_addrs = 0, n_dropped = 0, used;
    unsigned int rounds, retrans, round;
    uint16_t cb_port;
    int64_t start, deadline, round_end, grace_end;
    int family;
    int lfd = -1, cfd = -1;
    unsigned int sent = 0;
    int send_err = 0;
    bool waited = false;
    struct diag_state ds;
    int rc;

    memset(&ds, 0, sizeof(ds));
    tried[0] = '\0';
    cb_set_init(&cbs);
    family = args->family;
    gaddr = args->mcast_addr;
    if (family != AF_INET && family != AF_INET6) {
        family = (gaddr != NULL && strchr(gaddr, ':') != NULL) ? AF_INET6 : AF_INET;
    }
    if (gaddr == NULL) {
        gaddr = family == AF_INET6 ? VF_DEFAULT_MCAST_V6 : VF_DEFAULT_MCAST_V4;
    }
    cb_port = args->callback_port != 0 ? args->callback_port : args->port;
    retrans = args->retrans > 0 ? args->retrans : 1;
    rounds = args->timeout * 10 / retrans;
    if (rounds == 0) {
        rounds = 1;
    }

    rc = vf_sockaddr_parse(gaddr, args->port, &group, &group_len);
    if (rc < 0 || (int)group.ss_family != family) {
        vf_result_msg(res, "multicast_address '%s' is not a literal %s address", gaddr,
                      family == AF_INET6 ? "IPv6" : "IPv4");
        return rc < 0 ? rc : -EINVAL;
    }

    rc = collect_addrs(family, args->interface, &addrs, &n_addrs, &n_dropped);
    if (rc < 0) {
        vf_result_msg(res, "cannot list the local addresses: %s", strerror(-rc));
        return rc;
    }
    if (n_dropped > 0) {
        vf_log(LOG_WARNING, "sending from the first %zu local %s addresses only, "
               "%zu more ignored; use -I to choose the interface", n_addrs,
               family == AF_INET6 ? "IPv6" : "IPv4", n_dropped);
    }
    if (n_addrs == 0) {
        if (args->interface != NULL) {
            vf_result_msg(res, "interface '%s' has no usable %s address", args->interface,
                          family == AF_INET6 ? "IPv6" : "IPv4");
        } else {
            vf_result_msg(res, "this node has no usable %s address to send from",
                          family == AF_INET6 ? "IPv6" : "IPv4");
        }
        rc = -EADDRNOTAVAIL;
        goto out;
    }
    /* "10.0.0.1 (eth0), 127.0.0.1 (lo)" for the messages */
    tried[0] = '\0';
    used = 0;
    for (size_t i = 0; i < n_addrs && used < sizeof(tried); i++) {
        int w = snprintf(tried + used, sizeof(tried) - used, "%s%s (%s)", i > 0 ? ", " : "",
                         addrs[i].text, addrs[i].ifname);
        if (w < 0) {
            break;
        }
        used += (size_t)w;
    }

    start = vf_now_ms();
    deadline = start + (int64_t)args->timeout * 1000;
    rc = open_listener(family, cb_port, deadline, &lfd, &waited);
    if (rc == -EADDRINUSE) {
        vf_result_msg(res, "TCP port %u for the call-back stayed in use for %u s (another "
                      "fence_xvm running on this node?)", cb_port, args->timeout);
        goto out;
    }
    if (rc < 0) {
        vf_result_msg(res, "cannot listen on TCP port %u for the call-back: %s", cb_port,
                      strerror(-rc));
        goto out;
    }
    if (waited) {
        vf_dbg(1, "call-back port %u is free after %.1f s", cb_port,
               (double)(vf_now_ms() - start) / 1000.0);
    }
    if (args->diagnose) {
        sniff_open(&cbs, family, cb_port);
        ds.gaddr = gaddr;
        ds.tried = tried;
    }

    /* Rounds of datagrams, and between them the call-backs: the listener
     * stays open while rounds are still sent.  The rounds end at the
     * overall deadline too (time spent waiting for a busy call-back port
     * counts), but at least one round is always sent.  The loop is bounded
     * in time: every pass either sends one of the @rounds rounds or waits
     * in cb_wait() until the end of the current round at most. */
    round = 0;
    round_end = 0;
    while (cbs.winner < 0) {
        bool more = round < rounds && (round == 0 || vf_ms_left(deadline) > 0);

        if (more && vf_ms_left(round_end) <= 0) {
            for (size_t i = 0; i < n_addrs; i++) {
                vf_dbg(1, "Sending to %s via %s", gaddr, addrs[i].text);
                rc = send_one(x, &addrs[i], &group, group_len, cb_port);
                if (rc < 0) {
                    vf_dbg(1, "sending via %s (%s) failed: %s", addrs[i].text,
                           addrs[i].ifname, strerror(-rc));
                    send_err = rc;
                    continue;
                }
                sent++;
            }
            round++;
            round_end = vf_now_ms() + (int64_t)retrans * 100;
            if (round_end > deadline && round > 1) {
                round_end = deadline;
            }
        } else if (!more && vf_ms_left(round_end) <= 0) {
            break;
        }
        rc = cb_wait(x, &cbs, lfd, cb_port, round_end, res);
        if (rc < 0) {
            goto out;
        }
    }
    lfd = vf_close(lfd);
    /* a call-back accepted just before the end may still answer, but no
     * new ones are accepted and the pending ones get at most
     * VF_AGENT_CB_GRACE_MS more (a fence_virtd answers in milliseconds);
     * every pass ends by that deadline */
    grace_end = vf_now_ms() + VF_AGENT_CB_GRACE_MS;
    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        if (cbs.conn[i].fd >= 0 && cbs.conn[i].deadline_ms > grace_end) {
            cbs.conn[i].deadline_ms = grace_end;
        }
    }
    while (cbs.winner < 0 && cb_pending(&cbs) > 0) {
        rc = cb_wait(x, &cbs, -1, cb_port, grace_end, res);
        if (rc < 0) {
            goto out;
        }
    }
    cfd = cbs.winner;
    cbs.winner = -1;
    cb_close_all(&cbs);
    if (cfd < 0 && sent == 0) {
        rc = send_err < 0 ? send_err : -ENETUNREACH;
        vf_result_msg(res, "could not send any request to %s UDP port %u via %s: %s",
                      gaddr, args->port, tried, strerror(-rc));
        goto out;
    }
    if (cfd < 0 && cb_failed(&cbs) > 0) {
        rc = cbs.n_wrong > 0 ? -EACCES : -ETIMEDOUT;
        vf_result_msg(res, "Timed out waiting for response\n"
                      "authentication failed: %u call-back(s) to TCP port %u did not pass "
                      "our %s challenge within %u s (%u wrong answer(s), %u closed, "
                      "%u stalled, %u dropped as excess; last from %s) and none did; the "
                      "key_file or hash/auth differ between this node and the host, or "
                      "something other than fence_virtd connects to TCP port %u on this "
                      "node", cb_failed(&cbs), cb_port, vf_hash_name(args->auth),
                      args->timeout, cbs.n_wrong, cbs.n_closed, cbs.n_stalled,
                      cbs.n_evicted, cbs.last, cb_port);
        goto out;
    }
    if (cfd < 0) {
        rc = -ETIMEDOUT;
        vf_result_msg(res, "Timed out waiting for response\n"
                      "no fence_virtd called back within %u s: sent %u request(s) to %s "
                      "UDP port %u via %s; check that fence_virtd runs a multicast listener "
                      "on this network, that key_file and hash match the host's, and that "
                      "the host can connect to TCP port %u on this node",
                      args->timeout, sent, gaddr, args->port, tried, cb_port);
        goto out;
    }
    if (cb_failed(&cbs) > 0) {
        vf_dbg(1, "call-back from %s passed our challenge after %u failed one(s)",
               cbs.winner_peer, cb_failed(&cbs));
    } else {
        vf_dbg(1, "call-back from %s", cbs.winner_peer);
    }

    /* the authenticated exchange gets the full timeout again; our
     * challenge is done, the daemon's challenge and the answer remain */
    rc = vf_stream_finish(x, cfd, cbs.winner_peer,
                          vf_now_ms() + (int64_t)args->timeout * 1000, res);
    if (args->diagnose) {
        struct sockaddr_storage me;
        socklen_t ml = sizeof(me);

        ds.finished = true;
        ds.finish_rc = rc;
        if (getsockname(cfd, (struct sockaddr *)&me, &ml) == 0) {
            vf_sockaddr_str((struct sockaddr *)&me, ml, ds.local, sizeof(ds.local), 0);
        }
    }

out:
    if (args->diagnose && ds.gaddr != NULL) {
        ds.sent = sent;
        ds.send_err = send_err;
        diagnose(x, &cbs, &ds, res, res);
    }
    cbs.sniff_fd = vf_close(cbs.sniff_fd);
    cb_close_all(&cbs);
    vf_close(cbs.winner);
    vf_close(cfd);
    vf_close(lfd);
    free(addrs);
    return rc;
}
