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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
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
};

static void
cb_set_init(struct cb_set *set)
{
    memset(set, 0, sizeof(*set));
    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        set->conn[i].fd = -1;
    }
    set->winner = -1;
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
    struct pollfd pfd[VF_AGENT_CB_PENDING + 1];
    struct cb_conn *owner[VF_AGENT_CB_PENDING + 1];
    int64_t wake = until_ms;
    nfds_t n = 0;
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
    for (nfds_t i = 0; i < n && set->winner < 0; i++) {
        if (owner[i] == NULL && pfd[i].revents != 0) {
            return cb_accept(x, set, lfd, cb_port, res);
        }
    }
    return 0;
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
    int rc;

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

out:
    cb_close_all(&cbs);
    vf_close(cbs.winner);
    vf_close(cfd);
    vf_close(lfd);
    free(addrs);
    return rc;
}
