/*
 * vmfence - agents/xport-mcast-cb.c: fence_xvm's call-back set (protocol.md
 * 2.5, step 3 in xport-mcast.c).
 *
 * Every connection to the call-back port gets our 64-byte challenge at once
 * and joins a bounded set of pending call-backs, all polled together with
 * the listener.  One that answers wrongly, closes or stalls is dropped and
 * counted, never decides the result; when the set is full the oldest of the
 * busiest address is pushed out.  The first whose answer verifies wins.
 * With --diagnose a packet socket also counts the host's SYNs to the port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "io.h"
#include "log.h"
#include "xport-mcast-int.h"

void
vf_cb_set_init(struct vf_cb_set *set)
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
void
vf_cb_sniff_open(struct vf_cb_set *set, int family, uint16_t port)
{
    int proto = family == AF_INET6 ? ETH_P_IPV6 : ETH_P_IP;

    set->sniff_port = port;
    set->sniff_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                           (int)htons((uint16_t)proto));
    set->sniff_err = set->sniff_fd < 0 ? errno : 0;
}

/* Read what the packet socket has: count SYNs (without ACK) to our port. */
static void
sniff_read(struct vf_cb_set *set)
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

unsigned int
vf_cb_failed(const struct vf_cb_set *set)
{
    return set->n_wrong + set->n_closed + set->n_stalled + set->n_evicted;
}

size_t
vf_cb_pending(const struct vf_cb_set *set)
{
    size_t n = 0;

    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        n += set->conn[i].fd >= 0;
    }
    return n;
}

/* Close a pending call-back that failed: count it under @counter, log why. */
static void
cb_drop(struct vf_cb_set *set, struct vf_cb_conn *c, const char *reason, unsigned int *counter)
{
    (*counter)++;
    vf_dbg(1, "call-back from %s ignored: %s (%u failed so far)", c->who, reason,
           vf_cb_failed(set));
    snprintf(set->last, sizeof(set->last), "%s", c->who);
    c->fd = vf_close(c->fd);
}

/* Close every pending call-back without counting it (a winner was found). */
void
vf_cb_close_all(struct vf_cb_set *set)
{
    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        set->conn[i].fd = vf_close(set->conn[i].fd);
    }
}

/* How many pending call-backs come from the address of @c. */
static size_t
cb_same_peer(const struct vf_cb_set *set, const struct vf_cb_conn *c)
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
static struct vf_cb_conn *
cb_slot(struct vf_cb_set *set)
{
    struct vf_cb_conn *victim = NULL;
    size_t victim_n = 0;

    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        struct vf_cb_conn *c = &set->conn[i];
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
cb_add(const struct vf_xport *x, struct vf_cb_set *set, int fd,
       const struct sockaddr_storage *ss, socklen_t sl, struct vf_result *res)
{
    enum vf_hash alg = (enum vf_hash)x->args->auth;
    uint8_t challenge[VF_CHALLENGE_SIZE];
    struct vf_cb_conn *c;
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
cb_accept(const struct vf_xport *x, struct vf_cb_set *set, int lfd, uint16_t cb_port,
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
cb_read(struct vf_cb_set *set, struct vf_cb_conn *c)
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
int
vf_cb_wait(const struct vf_xport *x, struct vf_cb_set *set, int lfd, uint16_t cb_port,
        int64_t until_ms, struct vf_result *res)
{
    struct pollfd pfd[VF_AGENT_CB_PENDING + 2];
    struct vf_cb_conn *owner[VF_AGENT_CB_PENDING + 2];
    int64_t wake = until_ms;
    nfds_t n = 0;
    nfds_t sniff = (nfds_t)-1;
    int rc;

    for (size_t i = 0; i < VF_AGENT_CB_PENDING; i++) {
        struct vf_cb_conn *c = &set->conn[i];

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
    /* cppcheck-suppress knownConditionTrueFalse ; sniff stays -1 without --diagnose */
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