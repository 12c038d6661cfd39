/*
 * vmfence - daemon/listeners/multicast.c: the "multicast" listener (fence_xvm).
 *
 * A UDP socket bound to INADDR_ANY:port (in6addr_any for family ipv6) joins
 * the group (listeners/multicast/address, default 225.0.0.12 / ff05::3:1)
 * on the configured interface (a name that does not exist is an error, not
 * "all interfaces").  Only datagrams of exactly 176 bytes are considered
 * (D18), and only correctly signed ones reach the pipeline (a flood costs one
 * hash per datagram, no thread).  The reply channel is a TCP connection back
 * to the address and port written in the (signed) request, opened by the
 * pipeline through
 * conn->ops->open with a deadline.  ACL identity = that address as text
 * (reference semantics).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "cbrate.h"
#include "common.h"
#include "io.h"
#include "log.h"

struct mcast_priv {
    struct vf_lsettings s;
    const struct vf_daemon_api *api;
    int fd;
    unsigned int ifindex;
    struct vf_cbrate *cbrate;           /* connect-backs per destination */
    /* log rate limit for datagrams dropped before the pipeline (run thread only) */
    int64_t rl_sec;
    unsigned int rl_count;
    unsigned int rl_suppressed;
};

#define MCAST_DROP_LOG_PER_SEC 20

struct mcast_conn {
    struct vf_conn conn;                /* first: the pipeline sees this */
    struct sockaddr_storage back;       /* call-back address */
    socklen_t back_len;
    struct vf_cbrate *cbrate;           /* the listener's (lives until the last conn) */
};

static int
mcast_open(struct vf_conn *c, int64_t deadline_ms)
{
    struct mcast_conn *mc = (struct mcast_conn *)c;
    int fd = -1;
    int one = 1;
    int r = 0;

    /* c->identity is the call-back address as text */
    if (!vf_cbrate_allow(mc->cbrate, c->identity, vf_now_ms())) {
        return -EAGAIN;
    }
    r = vf_connect((struct sockaddr *)&mc->back, mc->back_len, deadline_ms, &fd);
    if (r < 0) {
        return r;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    c->fd = fd;
    return 0;
}

static const struct vf_conn_ops mcast_conn_ops = {
    .open = mcast_open,
    .send_response = vf_conn_fd_send_response,
    .send_host_state = vf_conn_fd_send_host_state,
    .close = vf_conn_fd_close,
};

/*
 * Where to call back: the address/port/family fields of the request.  Only
 * consistent combinations are accepted; unspecified and multicast
 * addresses and port 0 are refused.
 */
static int
callback_addr(const struct vf_req *req, unsigned int ifindex, struct mcast_conn *mc)
{
    memset(&mc->back, 0, sizeof(mc->back));
    if (req->port == 0) {
        return -EINVAL;
    }
    if (req->family == VF_WIRE_AF_INET && req->addrlen == 4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&mc->back;

        sin->sin_family = AF_INET;
        sin->sin_port = htons(req->port);
        memcpy(&sin->sin_addr, req->address, 4);
        if (sin->sin_addr.s_addr == htonl(INADDR_ANY) ||
            sin->sin_addr.s_addr == htonl(INADDR_BROADCAST) ||
            IN_MULTICAST(ntohl(sin->sin_addr.s_addr))) {
            return -EINVAL;
        }
        mc->back_len = sizeof(*sin);
        return 0;
    }
    if (req->family == VF_WIRE_AF_INET6 && req->addrlen == 16) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&mc->back;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(req->port);
        memcpy(&sin6->sin6_addr, req->address, 16);
        if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) ||
            IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr)) {
            return -EINVAL;
        }
        if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) {
            sin6->sin6_scope_id = ifindex;
        }
        mc->back_len = sizeof(*sin6);
        return 0;
    }
    return -EAFNOSUPPORT;
}

/* 127.0.0.0/8, ::1 or an IPv4-mapped 127.x address */
static bool
is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

static void
mcast_fini(void *p)
{
    struct mcast_priv *priv = p;

    if (priv == NULL) {
        return;
    }
    vf_close(priv->fd);
    vf_lsettings_done(&priv->s);
    vf_cbrate_free(priv->cbrate);
    free(priv);
}

/* What joining a group takes: the wildcard address of the group's family
 * on our port, and the membership request for the group on our interface. */
struct mcast_join {
    struct sockaddr_storage any;
    socklen_t any_len;
    int level;                          /* IPPROTO_IP / IPPROTO_IPV6 */
    int option;                         /* IP_ / IPV6_ADD_MEMBERSHIP */
    union {
        struct ip_mreqn v4;
        struct ipv6_mreq v6;
    } mr;
    socklen_t mr_len;
};

static void
mcast_join_fill(const struct mcast_priv *priv, const struct sockaddr_storage *group,
                struct mcast_join *j)
{
    memset(j, 0, sizeof(*j));
    if (group->ss_family == AF_INET) {
        struct sockaddr_in *any = (struct sockaddr_in *)&j->any;

        *any = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(priv->s.port),
                                     .sin_addr.s_addr = htonl(INADDR_ANY) };
        j->any_len = sizeof(*any);
        j->mr.v4.imr_multiaddr = ((const struct sockaddr_in *)group)->sin_addr;
        j->mr.v4.imr_address.s_addr = htonl(INADDR_ANY);
        j->mr.v4.imr_ifindex = (int)priv->ifindex;
        j->mr_len = sizeof(j->mr.v4);
        j->level = IPPROTO_IP;
        j->option = IP_ADD_MEMBERSHIP;
    } else {
        struct sockaddr_in6 *any = (struct sockaddr_in6 *)&j->any;

        *any = (struct sockaddr_in6){ .sin6_family = AF_INET6, .sin6_port = htons(priv->s.port),
                                      .sin6_addr = IN6ADDR_ANY_INIT };
        j->any_len = sizeof(*any);
        j->mr.v6 = (struct ipv6_mreq){ .ipv6mr_multiaddr =
                                           ((const struct sockaddr_in6 *)group)->sin6_addr,
                                       .ipv6mr_interface = priv->ifindex };
        j->mr_len = sizeof(j->mr.v6);
        j->level = IPPROTO_IPV6;
        j->option = IPV6_ADD_MEMBERSHIP;
    }
}

/* priv->fd: a UDP socket on our port that joined @group (text @gaddr).
 * 0, or -errno with @err set. */
static int
mcast_bind_join(struct mcast_priv *priv, const struct sockaddr_storage *group,
                const char *gaddr, char *err, size_t err_len)
{
    struct mcast_join j;
    int r = 0;

    priv->fd = socket(group->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (priv->fd < 0) {
        r = -errno;
        snprintf(err, err_len, "listener 'multicast': socket: %s", strerror(-r));
        return r;
    }
    mcast_join_fill(priv, group, &j);
    if (bind(priv->fd, (struct sockaddr *)&j.any, j.any_len) < 0) {
        r = -errno;
        snprintf(err, err_len, "listener 'multicast': cannot bind UDP port %u: %s",
                 (unsigned int)priv->s.port, strerror(-r));
    } else if (setsockopt(priv->fd, j.level, j.option, &j.mr, j.mr_len) < 0) {
        r = -errno;
        snprintf(err, err_len, "listener 'multicast': cannot join %s%s%s: %s", gaddr,
                 priv->ifindex != 0 ? " on " : "", priv->s.interface, strerror(-r));
    }
    return r;
}

static int
mcast_init(const struct vf_conf *conf, const struct vf_daemon_api *api, void **ret_priv,
           char *err, size_t err_len)
{
    struct mcast_priv *priv = calloc(1, sizeof(*priv));
    struct sockaddr_storage group;
    socklen_t glen = 0;
    const char *gaddr = NULL;
    int r = 0;

    if (priv == NULL) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    priv->fd = -1;
    priv->api = api;
    priv->cbrate = vf_cbrate_new();
    if (priv->cbrate == NULL) {
        snprintf(err, err_len, "listener multicast: out of memory");
        mcast_fini(priv);
        return -ENOMEM;
    }
    r = vf_lsettings_read(conf, "multicast", &priv->s, err, err_len);
    if (r < 0) {
        goto fail;
    }
    gaddr = priv->s.address[0] != '\0' ? priv->s.address :
            (priv->s.family == AF_INET6 ? VF_DEFAULT_MCAST_V6 : VF_DEFAULT_MCAST_V4);
    r = vf_sockaddr_parse(gaddr, priv->s.port, &group, &glen);
    if (r < 0 || (priv->s.family_set && group.ss_family != priv->s.family)) {
        snprintf(err, err_len, "listener 'multicast': address '%s' is not a literal %s address",
                 gaddr, priv->s.family == AF_INET6 ? "IPv6" : "IPv4");
        r = -EINVAL;
        goto fail;
    }
    if (priv->s.interface[0] != '\0') {
        priv->ifindex = if_nametoindex(priv->s.interface);
        if (priv->ifindex == 0) {
            snprintf(err, err_len, "listener 'multicast': interface '%s' does not exist",
                     priv->s.interface);
            r = -ENODEV;
            goto fail;
        }
    }
    r = mcast_bind_join(priv, &group, gaddr, err, err_len);
    if (r < 0) {
        goto fail;
    }
    vf_log(LOG_INFO, "listener multicast: group %s port %u%s%s (hash >= %s, auth %s)",
           gaddr, (unsigned int)priv->s.port, priv->ifindex != 0 ? " interface " : "",
           priv->s.interface, vf_hash_name(priv->s.hash), vf_hash_name(priv->s.auth));
    *ret_priv = priv;
    return 0;
fail:
    mcast_fini(priv);
    return r;
}

/* Start a new rate-limit second when it changed, with the summary line of
 * the previous one (called per datagram and on every wake-up of run()). */
static void
drop_log_tick(struct mcast_priv *priv)
{
    int64_t sec = vf_now_ms() / 1000;

    if (sec == priv->rl_sec) {
        return;
    }
    if (priv->rl_suppressed > 0) {
        vf_log(LOG_WARNING, "listener multicast: %u more dropped datagrams not logged "
               "(rate limit)", priv->rl_suppressed);
    }
    priv->rl_sec = sec;
    priv->rl_count = 0;
    priv->rl_suppressed = 0;
}

/* At most MCAST_DROP_LOG_PER_SEC drop lines a second, then one summary. */
static bool
drop_log_allowed(struct mcast_priv *priv)
{
    drop_log_tick(priv);
    if (priv->rl_count < MCAST_DROP_LOG_PER_SEC) {
        priv->rl_count++;
        return true;
    }
    priv->rl_suppressed++;
    return false;
}

static void
handle_datagram(struct mcast_priv *priv, const uint8_t *buf, ssize_t len,
                const struct sockaddr_storage *from, socklen_t from_len)
{
    struct mcast_conn *mc = NULL;
    char src[64];
    char addr[INET6_ADDRSTRLEN];
    int r = 0;

    vf_sockaddr_str((const struct sockaddr *)from, from_len, src, sizeof(src), 1);
    if (len != VF_REQ_SIZE) {
        vf_dbg(1, "listener multicast: %zd-byte datagram from %s ignored (need %d)",
               len, src, VF_REQ_SIZE);
        return;
    }
    mc = calloc(1, sizeof(*mc));
    if (mc == NULL) {
        return;
    }
    vf_conn_init_signed(&mc->conn, &priv->s, "multicast");
    mc->conn.ops = &mcast_conn_ops;
    mc->cbrate = priv->cbrate;
    memcpy(mc->conn.raw, buf, VF_REQ_SIZE);
    /* a datagram from another host cannot ask to be called back on our own
     * loopback (that would aim the connect-back at local services) */
    if (vf_req_decode(buf, VF_REQ_SIZE, &mc->conn.req) < 0 ||
        callback_addr(&mc->conn.req, priv->ifindex, mc) < 0 ||
        (is_loopback(&mc->back) && !is_loopback(from))) {
        vf_dbg(1, "listener multicast: request from %s has an unusable call-back address "
               "(family %u, addrlen %u, port %u), ignored", src,
               (unsigned int)mc->conn.req.family, (unsigned int)mc->conn.req.addrlen,
               (unsigned int)mc->conn.req.port);
        free(mc);
        return;
    }
    /*
     * Check the signature here, in the listener thread (one hash), so that a
     * flood of unsigned or wrongly signed datagrams costs no worker thread
     * each and cannot crowd legitimate requests out of the worker cap.  The
     * pipeline verifies again (it owns the policy); this is only a filter.
     */
    r = vf_req_verify(mc->conn.raw, priv->s.hash, priv->s.key != NULL ? priv->s.key->data : NULL,
                      priv->s.key != NULL ? priv->s.key->len : 0);
    if (r < 0) {
        if (drop_log_allowed(priv)) {
            vf_log(LOG_WARNING, "listener multicast: datagram from %s dropped (%s: request "
                   "hash %u, listener requires %s)", src,
                   r == -EBADMSG ? "key mismatch" : r == -EPERM ? "hash too weak" :
                   r == -ENOKEY ? "no key loaded" : "invalid request",
                   (unsigned int)mc->conn.req.hashtype,
                   vf_hash_name(priv->s.hash) != NULL ? vf_hash_name(priv->s.hash) : "?");
        }
        free(mc);
        return;
    }
    if (mc->back.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&mc->back)->sin_addr, addr, sizeof(addr));
    } else {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&mc->back)->sin6_addr, addr, sizeof(addr));
    }
    snprintf(mc->conn.identity, sizeof(mc->conn.identity), "%s", addr);
    snprintf(mc->conn.peer, sizeof(mc->conn.peer),
             mc->back.ss_family == AF_INET6 ? "[%.45s]:%u (udp %.60s)" : "%.45s:%u (udp %.60s)",
             addr, (unsigned int)mc->conn.req.port, src);
    priv->api->submit(priv->api->ctx, &mc->conn);
}

static int
mcast_run(void *p)
{
    struct mcast_priv *priv = p;
    uint8_t buf[512];
    int rc = 0;

    while (!priv->api->stopping(priv->api->ctx)) {
        struct pollfd pfd = { .fd = priv->fd, .events = POLLIN };
        int pr = poll(&pfd, 1, 500);

        drop_log_tick(priv);

        if (pr < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            vf_log(LOG_ERR, "listener multicast: poll: %s", strerror(errno));
            break;
        }
        /* a bounded number of datagrams per wake-up, then check stopping */
        for (int i = 0; pr > 0 && i < 64; i++) {
            struct sockaddr_storage from;
            socklen_t flen = sizeof(from);
            ssize_t n = recvfrom(priv->fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT,
                                 (struct sockaddr *)&from, &flen);

            if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    vf_log(LOG_WARNING, "listener multicast: recvfrom: %s", strerror(errno));
                }
                break;
            }
            handle_datagram(priv, buf, n, &from, flen);
        }
    }
    /* release the port now: a reload may bind it again before fini() */
    priv->fd = vf_close(priv->fd);
    return rc;
}

VF_LISTENER_PLUGIN(multicast, &vf_schema_multicast, mcast_init, mcast_run, mcast_fini);
