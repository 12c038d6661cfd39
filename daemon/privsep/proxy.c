/*
 * vmfence - daemon/privsep/proxy.c: the proxy backend of the network
 * process (privsep.h).
 *
 * Each op encodes one request (msg.h) with a fresh id, sends it on the
 * socketpair and waits, until its deadline (plus VF_PS_ANSWER_SLACK_MS for
 * the executor's own verdict), for the RESULT with that id.
 *
 * Leader/follower: the waiting calls take turns to read the socket.  The
 * one holding the read turn receives every answer and hands each to its
 * call (its own answer costs no thread wake-up); when it leaves it passes
 * the turn to another waiting call.  Each receive waits at most
 * RECV_SLICE_MS, so the turn always comes back within that.  The records of
 * a list are collected (at most VF_MAX_LIST_DOMAINS) and passed to the
 * caller's callback in the caller's thread.  A status may be asked ahead
 * (vf_ps_proxy_ahead, request.h): sent at once, its answer awaited later;
 * until then its thread is busy elsewhere, so the turn is only ever passed
 * to a call whose thread waits for it.  A watcher thread sleeps in
 * poll() for the hang-up only (data does not wake it); on a hang-up it
 * takes the turn, hands out the answers already queued and marks the
 * executor dead (a malformed answer is seen by the next reader: it too
 * marks the executor dead).  A dead executor fails every call, waiting or
 * new, with -EHOSTDOWN: never a success.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "hostlist.h"
#include "io.h"
#include "log.h"
#include "privsep/msg.h"
#include "privsep/privsep.h"
#include "privsep/scm.h"
#include "request.h"
#include "timeutil.h"

#define RECV_SLICE_MS 50        /* one blocking receive waits at most this */
#define RECV_BATCH VF_PS_SEND_MANY_MAX  /* answers taken by one recvmmsg() */

/* Answers received at once, not yet decoded (a list's records come
 * VF_PS_SEND_MANY_MAX to a sendmmsg()) */
struct rbatch {
    uint8_t buf[RECV_BATCH][VF_PS_ANS_SIZE + 1];
    unsigned int len[RECV_BATCH];
    unsigned int n;
    bool eof;                   /* the pair ended after these */
};

struct pending {
    struct pending *next;
    uint64_t id;
    uint16_t op;
    bool waiting;                    /* its thread waits on cv for its answer or the turn */
    int64_t deadline_ms;             /* the op's; the answer is awaited a slack longer */
    bool done;
    int result;
    bool on;
    uint64_t stamp;                  /* STATUS: the answer's (msg.h), 0: none */
    const char *target;              /* a status asked ahead: its target (the caller's) */
    unsigned int flags;              /* ... and flags */
    struct vf_domain_info dom;
    struct vf_domain_info *recs;     /* LIST */
    size_t n;
    size_t cap;
    bool overflow;
    bool nomem;
    pthread_cond_t cv;
};

struct vf_ps_proxy {
    int fd;
    bool exit_on_eof;
    pthread_t watcher;
    bool watcher_started;
    pthread_mutex_t lock;
    pthread_cond_t turn_cv;          /* the watcher waits here for the turn */
    struct pending *pending;         /* guarded by lock */
    uint64_t next_id;                /* guarded by lock */
    bool reading;                    /* guarded by lock: the read turn is taken */
    bool watcher_wants;              /* guarded by lock: the pair hung up */
    atomic_bool dead;
    struct rbatch rb;                /* used by the read turn's holder only */
};

bool
vf_ps_proxy_dead(const struct vf_ps_proxy *px)
{
    return px == NULL || atomic_load(&px->dead);
}

/* Mark the executor gone and wake every waiting call.  Caller holds no lock. */
static void
set_dead(struct vf_ps_proxy *px, const char *why)
{
    bool was = atomic_exchange(&px->dead, true);

    pthread_mutex_lock(&px->lock);
    for (struct pending *p = px->pending; p != NULL; p = p->next) {
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&px->lock);
    if (!was && why != NULL) {
        if (px->exit_on_eof) {
            vf_log(LOG_CRIT, "privsep: the executor is gone (%s); exiting", why);
            _exit(1);
        }
        vf_log(LOG_ERR, "privsep: the executor is gone (%s)", why);
    }
}

static struct pending *
find_pending(struct vf_ps_proxy *px, uint64_t id)
{
    for (struct pending *p = px->pending; p != NULL; p = p->next) {
        if (p->id == id) {
            return p;
        }
    }
    return NULL;
}

/* Hand answer @an to its call (lock held); false when it breaks the protocol. */
static bool
dispatch_locked(struct vf_ps_proxy *px, const struct vf_ps_ans *an)
{
    struct pending *p = NULL;
    bool ok = true;

    p = find_pending(px, an->id);
    if (p == NULL || p->done) {
        /* a call that gave up (deadline) and left: drop its late answer */
        ok = an->id < px->next_id;
    } else if (an->kind == VF_PS_KIND_DOMAIN) {
        if (p->op != VF_PS_OP_LIST) {
            ok = false;
        } else if (p->n == VF_MAX_LIST_DOMAINS) {
            p->overflow = true;
        } else {
            if (p->n == p->cap) {
                size_t ncap = p->cap == 0 ? 64 : p->cap * 2;
                struct vf_domain_info *nr = NULL;

                if (ncap > VF_MAX_LIST_DOMAINS) {
                    ncap = VF_MAX_LIST_DOMAINS;
                }
                nr = realloc(p->recs, ncap * sizeof(*nr));
                if (nr == NULL) {
                    p->nomem = true;
                    goto out;
                }
                p->recs = nr;
                p->cap = ncap;
            }
            p->recs[p->n++] = an->dom;
        }
    } else {
        p->done = true;
        p->result = an->result;
        p->on = an->on;
        p->stamp = an->stamp;
        p->dom = an->dom;
        pthread_cond_signal(&p->cv);
    }
out:
    return ok;
}

/*
 * With the read turn held: receive the answers waiting, at least one,
 * waiting until @until_ms at most (and RECV_SLICE_MS at most: the socket's
 * receive timeout).  1 with @rb filled, 0 nothing yet, -errno when the
 * pair is broken (@why says how).
 */
static int
recv_batch(struct vf_ps_proxy *px, int64_t until_ms, struct rbatch *rb, const char **why)
{
    struct mmsghdr mm[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    int left = vf_ms_left(until_ms);
    int flags = MSG_TRUNC | MSG_WAITFORONE;
    int n = 0;

    if (left < RECV_SLICE_MS) {
        struct pollfd pfd = { .fd = px->fd, .events = POLLIN };

        if (left > 0 && poll(&pfd, 1, left) == 0) {
            return 0;
        }
        flags |= MSG_DONTWAIT;
    }
    memset(mm, 0, sizeof(mm));
    for (unsigned int i = 0; i < RECV_BATCH; i++) {
        iov[i].iov_base = rb->buf[i];
        iov[i].iov_len = sizeof(rb->buf[i]);
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    n = recvmmsg(px->fd, mm, RECV_BATCH, flags, NULL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return 0;
    }
    if (n <= 0 || mm[0].msg_len == 0) {
        int err = n == 0 || (n > 0 && mm[0].msg_len == 0) ? EPIPE : errno;

        *why = err == EPIPE ? "end of the socketpair" : strerror(err);
        return -err;
    }
    rb->n = 0;
    rb->eof = false;
    for (int i = 0; i < n && !rb->eof; i++) {
        if (mm[i].msg_len == 0) {
            rb->eof = true;     /* the answers before it are still taken */
        } else {
            /* a datagram too long shows its whole length (MSG_TRUNC): refused */
            rb->len[rb->n++] = (mm[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 ? 0 : mm[i].msg_len;
        }
    }
    return 1;
}

/* The turn is free (lock held): give it to the watcher or a waiting call. */
static void
pass_turn_locked(struct vf_ps_proxy *px)
{
    if (px->reading) {
        return;
    }
    if (px->watcher_wants) {
        pthread_cond_signal(&px->turn_cv);
        return;
    }
    /* only to a call whose thread waits: one asked ahead (vf_ps_proxy_ahead)
     * may be busy elsewhere for seconds, and a turn passed to it would be lost */
    for (struct pending *p = px->pending; p != NULL; p = p->next) {
        if (!p->done && p->waiting) {
            pthread_cond_signal(&p->cv);
            return;
        }
    }
}

/*
 * Read with the turn (lock held, turn free) until @until_ms or until @p is
 * answered (@p NULL: until the socket is drained and ended).  Returns with
 * the lock held and the turn free; false when the pair broke (@why set).
 */
static bool
read_turn_locked(struct vf_ps_proxy *px, struct pending *p, int64_t until_ms, const char **why)
{
    int k = 0;

    px->reading = true;
    do {
        struct rbatch *rb = &px->rb;

        pthread_mutex_unlock(&px->lock);
        k = recv_batch(px, until_ms, rb, why);
        pthread_mutex_lock(&px->lock);
        for (unsigned int i = 0; k == 1 && i < rb->n; i++) {
            struct vf_ps_ans an;

            if (vf_ps_ans_decode(rb->buf[i], rb->len[i], &an) < 0 ||
                !dispatch_locked(px, &an)) {
                *why = "malformed answer";
                k = -EPROTO;
            }
        }
        if (k == 1 && rb->eof) {
            *why = "end of the socketpair";
            k = -EPIPE;
        }
    } while (k == 1 && (p == NULL || !p->done));
    px->reading = false;
    return k >= 0;
}

/* Sleeps until the pair hangs up (data does not wake poll() without POLLIN). */
static void *
watcher_main(void *arg)
{
    struct vf_ps_proxy *px = arg;
    const char *why = "end of the socketpair";

    for (;;) {
        struct pollfd pfd = { .fd = px->fd, .events = POLLRDHUP };
        int k = poll(&pfd, 1, -1);

        if (k < 0 && errno != EINTR) {
            why = "poll error";
            break;
        }
        if (k > 0 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) != 0) {
            break;
        }
    }
    /* hand out what is queued, then fail the rest; the reading call, if
     * any, returns the turn within RECV_SLICE_MS (at once after a hang-up) */
    pthread_mutex_lock(&px->lock);
    px->watcher_wants = true;
    while (px->reading) {
        pthread_cond_wait(&px->turn_cv, &px->lock);
    }
    (void)read_turn_locked(px, NULL, vf_now_ms() + 1000, &why);
    pthread_mutex_unlock(&px->lock);
    set_dead(px, why);
    return NULL;
}

int
vf_ps_proxy_new(int fd, bool exit_on_eof, struct vf_ps_proxy **ret_px)
{
    struct vf_ps_proxy *px = calloc(1, sizeof(*px));
    struct timeval slice = { .tv_sec = 0, .tv_usec = RECV_SLICE_MS * 1000 };
    int fl = 0;
    int r = 0;

    if (px == NULL) {
        return -ENOMEM;
    }
    px->fd = fd;
    px->exit_on_eof = exit_on_eof;
    px->next_id = 1;
    atomic_init(&px->dead, false);
    /* the turn's receive blocks, RECV_SLICE_MS at most: never a busy loop */
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || ((fl & O_NONBLOCK) != 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof(slice)) < 0) {
        r = -errno;
        free(px);
        return r;
    }
    pthread_mutex_init(&px->lock, NULL);
    vf_cond_init_monotonic(&px->turn_cv);
    r = pthread_create(&px->watcher, NULL, watcher_main, px);
    if (r != 0) {
        pthread_cond_destroy(&px->turn_cv);
        pthread_mutex_destroy(&px->lock);
        free(px);
        return -r;
    }
    px->watcher_started = true;
    *ret_px = px;
    return 0;
}

struct vf_ps_proxy *
vf_ps_proxy_free(struct vf_ps_proxy *px)
{
    if (px == NULL) {
        return NULL;
    }
    px->exit_on_eof = false;
    atomic_store(&px->dead, true);
    (void)shutdown(px->fd, SHUT_RDWR);
    if (px->watcher_started) {
        pthread_join(px->watcher, NULL);
    }
    close(px->fd);
    pthread_cond_destroy(&px->turn_cv);
    pthread_mutex_destroy(&px->lock);
    free(px);
    return NULL;
}

/* Send one message by @deadline_ms.  0, -ETIMEDOUT or -EHOSTDOWN. */
static int
send_msg(struct vf_ps_proxy *px, const uint8_t *buf, size_t len, int64_t deadline_ms)
{
    int r = vf_ps_send_by(px->fd, buf, len, deadline_ms, &px->dead);

    return r == -ETIMEDOUT || r == 0 ? r : -EHOSTDOWN;
}

static void
unlink_pending(struct vf_ps_proxy *px, struct pending *p)
{
    for (struct pending **pp = &px->pending; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
}

/*
 * The first half of a round trip: @p registered and @op on @target sent.
 * \return 0 (call_wait() or forget_locked() must follow) or -errno (@p is
 * not registered)
 */
static int
call_send(struct vf_ps_proxy *px, uint16_t op, const char *target, unsigned int flags,
          int64_t deadline_ms, struct pending *p)
{
    struct vf_ps_req rq;
    uint8_t buf[VF_PS_REQ_SIZE];
    int64_t left = deadline_ms - vf_now_ms();
    int r = 0;

    memset(p, 0, sizeof(*p));
    if (px == NULL || atomic_load(&px->dead)) {
        return -EHOSTDOWN;
    }
    if (left <= 0) {
        return -ETIMEDOUT;
    }
    memset(&rq, 0, sizeof(rq));
    rq.op = op;
    rq.flags = flags & VF_BE_BY_UUID;
    rq.timeout_ms = (uint32_t)(left > VF_PS_MAX_TIMEOUT_MS ? VF_PS_MAX_TIMEOUT_MS : left);
    rq.sent_ms = vf_now_ms();
    if (target != NULL) {
        if (strlen(target) > VF_PS_TARGET_MAX) {
            return -ENAMETOOLONG;
        }
        snprintf(rq.target, sizeof(rq.target), "%s", target);
    }
    snprintf(rq.identity, sizeof(rq.identity), "%s", vf_ps_requester());
    p->op = op;
    p->deadline_ms = deadline_ms;
    vf_cond_init_monotonic(&p->cv);
    pthread_mutex_lock(&px->lock);
    rq.id = p->id = px->next_id++;
    p->next = px->pending;
    px->pending = p;
    pthread_mutex_unlock(&px->lock);

    r = vf_ps_req_encode(&rq, buf, sizeof(buf));
    if (r == 0) {
        r = send_msg(px, buf, sizeof(buf), deadline_ms);
    }
    if (r < 0) {
        pthread_mutex_lock(&px->lock);
        unlink_pending(px, p);
        pthread_mutex_unlock(&px->lock);
        pthread_cond_destroy(&p->cv);
    }
    return r;
}

/* Unregister @p (lock held): its answer, if it comes, is dropped. */
static void
forget_locked(struct vf_ps_proxy *px, struct pending *p)
{
    p->done = true;             /* late list records are dropped */
    unlink_pending(px, p);
    pass_turn_locked(px);
}

/*
 * The second half: wait for @p's answer (until its deadline and the
 * slack), reading for everyone while the turn is free.  On return (0 or
 * the executor's -errno, -ETIMEDOUT, -EHOSTDOWN) @p holds the answer and
 * is unregistered; the caller frees p->recs.
 */
static int
call_wait(struct vf_ps_proxy *px, struct pending *p)
{
    int64_t wait_until = p->deadline_ms + VF_PS_ANSWER_SLACK_MS;
    int r = 0;

    pthread_mutex_lock(&px->lock);
    while (!p->done && !atomic_load(&px->dead)) {
        struct timespec ts = vf_deadline_timespec(wait_until);
        const char *why = NULL;

        if (!px->reading && !px->watcher_wants) {
            /* the turn is free: read for everyone until this call is answered */
            if (!read_turn_locked(px, p, wait_until, &why)) {
                pthread_mutex_unlock(&px->lock);
                set_dead(px, why);
                pthread_mutex_lock(&px->lock);
            } else if (!p->done && vf_ms_left(wait_until) <= 0) {
                r = -ETIMEDOUT;
            }
            if (px->watcher_wants) {
                pass_turn_locked(px);
            }
        } else {
            int w = 0;

            p->waiting = true;
            w = pthread_cond_timedwait(&p->cv, &px->lock, &ts);
            p->waiting = false;
            if (w == ETIMEDOUT && !p->done) {
                r = -ETIMEDOUT;
            }
        }
        if (r < 0) {
            break;
        }
    }
    if (r == 0) {
        r = p->done ? p->result : -EHOSTDOWN;
        if (r == 0 && p->nomem) {
            r = -ENOMEM;
        }
    }
    forget_locked(px, p);
    pthread_mutex_unlock(&px->lock);
    pthread_cond_destroy(&p->cv);
    if (r < 0) {
        free(p->recs);
        p->recs = NULL;
        p->n = 0;
    }
    return r;
}

/* One round trip: call_send() and call_wait(). */
static int
call(struct vf_ps_proxy *px, uint16_t op, const char *target, unsigned int flags,
     int64_t deadline_ms, struct pending *p)
{
    int r = call_send(px, op, target, flags, deadline_ms, p);

    return r < 0 ? r : call_wait(px, p);
}

int
vf_ps_proxy_ready(struct vf_ps_proxy *px)
{
    struct vf_ps_req rq = { .op = VF_PS_OP_READY, .timeout_ms = 1, .sent_ms = vf_now_ms() };
    uint8_t buf[VF_PS_REQ_SIZE];
    int r = vf_ps_req_encode(&rq, buf, sizeof(buf));

    return r < 0 ? r : send_msg(px, buf, sizeof(buf), vf_now_ms() + 5000);
}

/* ---- the backend ops -------------------------------------------------------- */

static int
px_init(const struct vf_host_api *host, const struct vf_conf *conf, void **ret_priv,
        char *err, size_t err_len)
{
    (void)host;
    (void)conf;
    (void)ret_priv;
    snprintf(err, err_len, "the privsep proxy is not configured by name");
    return -EINVAL;
}

static void
px_fini(void *priv)
{
    (void)priv;                 /* freed by its creator (vf_ps_proxy_free) */
}

/* A round trip whose answer is its result and, on success, the domain
 * (lookup) into @ret_dom or the power state (status) into @ret_on, either
 * NULL when not wanted. */
static int
call_answer(struct vf_ps_proxy *px, uint16_t op, const char *target, unsigned int flags,
            int64_t deadline_ms, struct vf_domain_info *ret_dom, bool *ret_on)
{
    struct pending p;
    int r = call(px, op, target, flags, deadline_ms, &p);

    if (r == 0 && ret_dom != NULL) {
        *ret_dom = p.dom;
    }
    if (r == 0 && ret_on != NULL) {
        *ret_on = p.on;
    }
    return r;
}

static int
px_lookup(void *priv, const char *target, unsigned int flags, struct vf_domain_info *ret_dom,
          int64_t deadline_ms)
{
    return call_answer(priv, VF_PS_OP_LOOKUP, target, flags, deadline_ms, ret_dom, NULL);
}

static int
px_off(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    return call_answer(priv, VF_PS_OP_OFF, target, flags, deadline_ms, NULL, NULL);
}

static int
px_on(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    return call_answer(priv, VF_PS_OP_ON, target, flags, deadline_ms, NULL, NULL);
}

static int
px_reboot(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    return call_answer(priv, VF_PS_OP_REBOOT, target, flags, deadline_ms, NULL, NULL);
}

/* A status answered: keep it if the executor stamped it (a status by name
 * answered from the lifecycle cache: stampcache.c). */
static void
keep_status(const char *target, unsigned int flags, const struct pending *p)
{
    if (flags == 0 && p->result == 0 && p->stamp != 0) {
        vf_ps_stampcache_put(target, p->on, p->stamp);
    }
}

static int
px_status(void *priv, const char *target, unsigned int flags, bool *ret_on,
          int64_t deadline_ms)
{
    struct pending p;
    int r = call(priv, VF_PS_OP_STATUS, target, flags, deadline_ms, &p);

    if (r == 0) {
        *ret_on = p.on;
        keep_status(target, flags, &p);
    }
    return r;
}

static int
px_list(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms)
{
    struct pending p;
    int r = call(priv, VF_PS_OP_LIST, NULL, 0, deadline_ms, &p);

    for (size_t i = 0; r == 0 && i < p.n; i++) {
        r = cb(arg, &p.recs[i]);
    }
    if (p.overflow) {
        vf_log(LOG_WARNING, "privsep: more than %d domains in a list, truncated",
               VF_MAX_LIST_DOMAINS);
    }
    free(p.recs);
    return r;
}

static int
px_monitor(void *priv, int64_t deadline_ms)
{
    struct pending p;

    return call(priv, VF_PS_OP_MONITOR, NULL, 0, deadline_ms, &p);
}

/* ---- a status asked ahead (request.h, struct vf_status_ahead) ------------------ */

static int
px_ahead_begin(void *priv, const char *target, unsigned int flags, int64_t deadline_ms,
               struct vf_ahead **ret)
{
    struct pending *p = malloc(sizeof(*p));
    int r = p != NULL ? call_send(priv, VF_PS_OP_STATUS, target, flags, deadline_ms, p) : -ENOMEM;

    if (r < 0) {
        free(p);
        return r;
    }
    p->target = target;
    p->flags = flags;
    *ret = (struct vf_ahead *)p;
    return 0;
}

static int
px_ahead_end(void *priv, struct vf_ahead *a, bool *ret_on)
{
    struct pending *p = (struct pending *)a;
    int r = call_wait(priv, p);

    if (r == 0) {
        *ret_on = p->on;
        keep_status(p->target, p->flags, p);
    }
    free(p);
    return r;
}

static void
px_ahead_drop(void *priv, struct vf_ahead *a)
{
    struct vf_ps_proxy *px = priv;
    struct pending *p = (struct pending *)a;

    pthread_mutex_lock(&px->lock);
    forget_locked(px, p);
    pthread_mutex_unlock(&px->lock);
    pthread_cond_destroy(&p->cv);
    free(p);
}

/* A status by name the executor answered from its cache, given again while
 * its stamp holds (stampcache.c) */
static int
px_ahead_peek(void *priv, const char *target, unsigned int flags, bool *ret_on)
{
    (void)priv;
    return flags == 0 ? vf_ps_stampcache_get(target, ret_on) : -ENOENT;
}

const struct vf_status_ahead vf_ps_proxy_ahead = {
    .be = &vf_ps_proxy_ops, .begin = px_ahead_begin, .end = px_ahead_end, .drop = px_ahead_drop,
    .peek = px_ahead_peek,
};

const struct vf_backend_ops vf_ps_proxy_ops = {
    .name = "privsep-proxy", .version = PACKAGE_VERSION,
    .init = px_init, .fini = px_fini, .lookup = px_lookup, .off = px_off, .on = px_on,
    .reboot = px_reboot, .status = px_status, .list = px_list, .monitor = px_monitor,
};
