/*
 * vmfence - agents/xport-tcp.c: the TCP transport (fence_virt -T addr -p port) and
 * the authenticated stream exchange shared with vsock and the multicast
 * call-back (protocol.md 2.4, 2.6, 2.7).
 *
 * Client order on every authenticated stream: send the signed request
 * (TCP/vsock only), challenge the daemon, answer the daemon's challenge,
 * then read one response byte or a host list.  Every step is bounded by the
 * one deadline of the exchange (-t timeout).  The exchange is two steps
 * (challenge, then the rest) because the multicast call-back challenges
 * every connection itself and runs only the rest on the one that passed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "io.h"
#include "log.h"
#include "transport.h"

void
vf_result_msg(struct vf_result *res, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
    va_end(ap);
}

int64_t
vf_xport_bound(const struct vf_args *args, int64_t start_ms, int bound_ms)
{
    int64_t deadline = start_ms + (int64_t)args->timeout * 1000;

    return start_ms + bound_ms < deadline ? start_ms + bound_ms : deadline;
}

static const uint8_t *
key_data(const struct vf_xport *x)
{
    return x->key != NULL ? x->key->data : NULL;
}

static size_t
key_len(const struct vf_xport *x)
{
    return x->key != NULL ? x->key->len : 0;
}

/*
 * Read host_state records until the terminator, hand each to the callback,
 * then wait briefly for the trailing response byte (ignored, as the
 * reference client does: libvirt sends 0, cpg sends 1).
 */
int
vf_read_hostlist(const struct vf_xport *x, int fd, int64_t deadline_ms,
                 const char *peer, size_t trailer_len, struct vf_result *res)
{
    uint8_t rec[VF_HOST_STATE_SIZE];
    struct vf_host_state hs;
    uint8_t last[VF_SERIAL_RESP_SIZE];
    int64_t final_deadline;
    int rc;

    res->hostlist = true;
    for (;;) {
        rc = vf_read_full(fd, rec, sizeof(rec), deadline_ms);
        if (rc == -ETIMEDOUT) {
            vf_result_msg(res, "timed out after %u s reading the host list from %s",
                          x->args->timeout, peer);
            return rc;
        }
        if (rc < 0) {
            vf_result_msg(res, "host list from %s ended early: %s", peer,
                          rc == -ECONNRESET ? "connection closed" : strerror(-rc));
            return rc;
        }
        rc = vf_host_state_decode(rec, sizeof(rec), &hs);
        if (rc < 0) {
            vf_result_msg(res, "malformed host list record from %s", peer);
            return rc;
        }
        if (vf_host_state_is_end(&hs)) {
            break;
        }
        if (res->n_hosts >= VF_AGENT_MAX_HOSTS) {
            vf_result_msg(res, "host list from %s has more than %d entries; giving up",
                          peer, VF_AGENT_MAX_HOSTS);
            return -E2BIG;
        }
        res->n_hosts++;
        if (x->on_host != NULL && x->on_host(&hs, x->userdata) != 0) {
            break;
        }
    }

    final_deadline = vf_now_ms() + VF_AGENT_FINAL_BYTE_MS;
    if (final_deadline > deadline_ms) {
        final_deadline = deadline_ms;
    }
    if (trailer_len > sizeof(last)) {
        trailer_len = sizeof(last);
    }
    if (trailer_len > 0 && vf_read_full(fd, last, trailer_len, final_deadline) == 0) {
        vf_dbg(1, "host list from %s ended with response %u (ignored)", peer,
               last[trailer_len - 1]);
    }
    return 0;
}

/**
 * \brief Record the response byte; a 253 byte starts a host list, which is
 *        read only when we asked for one.
 * \return 0, or a negative errno with res->msg set (-EBADMSG for a host
 *         list answering a non-list request: it must not count as success)
 */
int
vf_handle_answer(const struct vf_xport *x, int fd, uint8_t byte, int64_t deadline_ms,
                 const char *peer, size_t trailer_len, struct vf_result *res)
{
    const char *action = x->args->action != NULL ? x->args->action : "?";

    res->resp = byte;
    if (byte != VF_RESP_HOSTLIST) {
        return 0;
    }
    if (x->req->request != VF_CMD_HOSTLIST) {
        vf_result_msg(res, "fence_virtd at %s answered the '%s' request with a host list "
                      "(response %u); the outcome is unknown, treating it as a failure",
                      peer, action, byte);
        return -EBADMSG;
    }
    return vf_read_hostlist(x, fd, deadline_ms, peer, trailer_len, res);
}

static bool
is_closed(int rc)
{
    return rc == -ECONNRESET || rc == -EPIPE;
}

/*
 * What to say when one step of the exchange fails, in three cases: the
 * daemon closed the connection ("<closed_pre>fence_virtd at PEER closed the
 * connection <closed_post>"), the deadline passed ("timed out after N s
 * waiting for <timeout_pre>fence_virtd at PEER<timeout_post>"), anything
 * else ("<failed_pre>fence_virtd at PEER failed: ERROR").
 */
struct step_msgs {
    const char *closed_pre;
    const char *closed_post;
    const char *timeout_pre;
    const char *timeout_post;
    const char *failed_pre;
};

#define CHECK_KEY "check that key_file and hash/auth match the host's"

/* the three steps after the request: closed_pre, closed_post, timeout_pre,
 * timeout_post, failed_pre (see struct step_msgs) */
static const struct step_msgs msgs_challenge = {
    "authentication failed: ", "(it rejected the request or the challenge); " CHECK_KEY,
    "", " to answer our challenge; " CHECK_KEY, "challenge to ",
};
static const struct step_msgs msgs_respond = {
    "authentication failed: ", "before challenging us; " CHECK_KEY,
    "the challenge of ", "; " CHECK_KEY, "answering the challenge of ",
};
static const struct step_msgs msgs_answer = {
    "", "without an answer; authentication failed? " CHECK_KEY,
    "the answer of ", "", "reading the answer of ",
};

/* Put the message for step failure @rc into res->msg; \return @rc */
static int
step_failed(const struct vf_xport *x, int rc, const char *peer, const struct step_msgs *m,
            struct vf_result *res)
{
    if (is_closed(rc)) {
        vf_result_msg(res, "%sfence_virtd at %s closed the connection %s", m->closed_pre,
                      peer, m->closed_post);
    } else if (rc == -ETIMEDOUT) {
        vf_result_msg(res, "timed out after %u s waiting for %sfence_virtd at %s%s",
                      x->args->timeout, m->timeout_pre, peer, m->timeout_post);
    } else {
        vf_result_msg(res, "%sfence_virtd at %s failed: %s", m->failed_pre, peer,
                      strerror(-rc));
    }
    return rc;
}

/**
 * \brief First step of the client's exchange: challenge the daemon on @fd
 *        (nothing to do with auth none).
 * \return 0 when the daemon answered correctly; a negative errno with
 *         res->msg set (-EACCES: wrong answer)
 */
static int
stream_challenge(const struct vf_xport *x, int fd, const char *peer,
                 int64_t deadline_ms, struct vf_result *res)
{
    const struct vf_args *args = x->args;
    int rc;

    rc = vf_auth_challenge(fd, args->auth, key_data(x), key_len(x), deadline_ms);
    if (rc == -EACCES) {
        vf_result_msg(res, "authentication failed: fence_virtd at %s gave a wrong answer "
                      "to our %s challenge; " CHECK_KEY, peer, vf_hash_name(args->auth));
        return rc;
    }
    return rc < 0 ? step_failed(x, rc, peer, &msgs_challenge, res) : 0;
}

/**
 * \brief The rest of the client's exchange, once the daemon passed our
 *        challenge: answer the daemon's challenge, then read the response
 *        byte or host list.
 * \return 0 when the daemon answered (res->resp set); a negative errno
 *         with res->msg set
 */
int
vf_stream_finish(const struct vf_xport *x, int fd, const char *peer,
                 int64_t deadline_ms, struct vf_result *res)
{
    const struct vf_args *args = x->args;
    uint8_t byte;
    int rc;

    rc = vf_auth_respond(fd, args->auth, key_data(x), key_len(x), deadline_ms);
    if (rc < 0) {
        return step_failed(x, rc, peer, &msgs_respond, res);
    }
    rc = vf_read_full(fd, &byte, 1, deadline_ms);
    if (rc < 0) {
        return step_failed(x, rc, peer, &msgs_answer, res);
    }
    vf_dbg(1, "fence_virtd at %s answered %u", peer, byte);
    return vf_handle_answer(x, fd, byte, deadline_ms, peer, 1, res);
}

int
vf_stream_exchange(const struct vf_xport *x, int fd, const char *peer,
                   int64_t deadline_ms, struct vf_result *res)
{
    int rc;

    rc = stream_challenge(x, fd, peer, deadline_ms, res);
    if (rc < 0) {
        return rc;
    }
    return vf_stream_finish(x, fd, peer, deadline_ms, res);
}

/**
 * \brief The tcp/vsock client flow (protocol.md 2.6, 2.8): signed request
 *        without call-back address, bounded connect, request, exchange.
 * \return 0 when the daemon answered; negative errno with res->msg set
 */
int
vf_stream_request(const struct vf_xport *x, const struct sockaddr *sa, socklen_t sa_len,
                  const char *peer, struct vf_result *res)
{
    const struct vf_args *args = x->args;
    struct vf_req *req = x->req;
    uint8_t wire[VF_REQ_SIZE];
    int64_t start, deadline, conn_deadline;
    int fd = -1;
    int rc;

    /* TCP and vsock requests carry no call-back address */
    req->addrlen = 0;
    req->port = 0;
    req->family = 0;
    memset(req->address, 0, sizeof(req->address));
    rc = vf_req_sign(req, key_data(x), key_len(x), wire);
    if (rc < 0) {
        vf_result_msg(res, "cannot sign the request: %s", strerror(-rc));
        goto out;
    }

    start = vf_now_ms();
    conn_deadline = vf_xport_bound(args, start, VF_AGENT_CONNECT_MS);
    vf_dbg(1, "connecting to fence_virtd at %s", peer);
    rc = vf_connect(sa, sa_len, conn_deadline, &fd);
    if (rc == -ECONNREFUSED || rc == -ECONNRESET) {
        vf_result_msg(res, "no fence_virtd listening at %s (connection refused)", peer);
        goto out;
    }
    if (rc == -ETIMEDOUT) {
        vf_result_msg(res, "connecting to fence_virtd at %s timed out after %.1f s",
                      peer, (double)(conn_deadline - start) / 1000.0);
        goto out;
    }
    if (rc == -EAFNOSUPPORT || rc == -ENODEV) {
        vf_result_msg(res, "cannot reach fence_virtd at %s: this transport is not "
                      "available on this machine (%s); for vsock load the vsock "
                      "transport module, or use another transport", peer, strerror(-rc));
        goto out;
    }
    if (rc < 0) {
        vf_result_msg(res, "unable to connect to fence_virtd at %s: %s", peer, strerror(-rc));
        goto out;
    }

    /* the exchange gets the full timeout after the connection is made */
    deadline = vf_now_ms() + (int64_t)args->timeout * 1000;
    rc = vf_write_full(fd, wire, sizeof(wire), deadline);
    if (rc < 0) {
        vf_result_msg(res, "sending the request to fence_virtd at %s failed: %s", peer,
                      is_closed(rc) ? "connection closed" : strerror(-rc));
        goto out;
    }
    rc = vf_stream_exchange(x, fd, peer, deadline, res);

out:
    vf_close(fd);
    return rc;
}

int
vf_xport_tcp(const struct vf_xport *x, struct vf_result *res)
{
    const struct vf_args *args = x->args;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    char peer[128];
    int rc;

    if (strchr(args->ipaddr, ':') != NULL) {
        snprintf(peer, sizeof(peer), "[%s]:%u", args->ipaddr, args->port);
    } else {
        snprintf(peer, sizeof(peer), "%s:%u", args->ipaddr, args->port);
    }
    rc = vf_sockaddr_parse(args->ipaddr, args->port, &ss, &sl);
    if (rc < 0) {
        vf_result_msg(res, "ipaddr '%s' is not a literal IPv4 or IPv6 address", args->ipaddr);
        return rc;
    }
    return vf_stream_request(x, (const struct sockaddr *)&ss, sl, peer, res);
}
