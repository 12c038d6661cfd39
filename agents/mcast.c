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
 * 3. Accept one connection, close the listener, challenge, respond, read
 *    the answer (tcp.c's vf_stream_exchange).
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

/* Wait for one connection on @lfd until @deadline_ms. */
static int
accept_one(int lfd, int64_t deadline_ms, int *ret_fd, char *peer, size_t peer_len)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, rc;

    for (;;) {
        rc = vf_wait_readable(lfd, deadline_ms);
        if (rc < 0) {
            return rc;
        }
        sl = sizeof(ss);
        fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (fd >= 0) {
            vf_sockaddr_str((struct sockaddr *)&ss, sl, peer, peer_len, 0);
            *ret_fd = fd;
            return 0;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
            errno != ECONNABORTED) {
            return -errno;
        }
    }
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
    char peer[INET6_ADDRSTRLEN + 16];
    size_t n_addrs = 0, n_dropped = 0, used;
    unsigned int rounds, retrans, round;
    uint16_t cb_port;
    int64_t start, deadline;
    int family;
    int lfd = -1, cfd = -1;
    unsigned int sent = 0;
    int send_err = 0;
    bool waited = false;
    int rc;

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

    cfd = -1;
    /* the rounds end at the overall deadline too (time spent waiting for a
     * busy call-back port counts), but at least one round is always sent */
    for (round = 0; round < rounds && cfd < 0; round++) {
        int64_t round_end;

        if (round > 0 && vf_ms_left(deadline) <= 0) {
            break;
        }
        for (size_t i = 0; i < n_addrs; i++) {
            vf_dbg(1, "Sending to %s via %s", gaddr, addrs[i].text);
            rc = send_one(x, &addrs[i], &group, group_len, cb_port);
            if (rc < 0) {
                vf_dbg(1, "sending via %s (%s) failed: %s", addrs[i].text, addrs[i].ifname,
                       strerror(-rc));
                send_err = rc;
                continue;
            }
            sent++;
        }
        round_end = vf_now_ms() + (int64_t)retrans * 100;
        if (round_end > deadline && round > 0) {
            round_end = deadline;
        }
        rc = accept_one(lfd, round_end, &cfd, peer, sizeof(peer));
        if (rc < 0 && rc != -ETIMEDOUT) {
            vf_result_msg(res, "waiting for the call-back on TCP port %u failed: %s",
                          cb_port, strerror(-rc));
            goto out;
        }
    }
    lfd = vf_close(lfd);
    if (cfd < 0 && sent == 0) {
        rc = send_err < 0 ? send_err : -ENETUNREACH;
        vf_result_msg(res, "could not send any request to %s UDP port %u via %s: %s",
                      gaddr, args->port, tried, strerror(-rc));
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
    vf_dbg(1, "call-back from %s", peer);

    /* the authenticated exchange gets the full timeout again */
    rc = vf_stream_exchange(x, cfd, peer, vf_now_ms() + (int64_t)args->timeout * 1000, res);

out:
    vf_close(cfd);
    vf_close(lfd);
    free(addrs);
    return rc;
}
