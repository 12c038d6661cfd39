/*
 * vmfence - daemon/privsep/proxy.c: the proxy backend of the network
 * process (privsep.h).
 *
 * Each op encodes one request (msg.h) with a fresh id, sends it on the
 * socketpair and waits, until its deadline (plus VF_PS_ANSWER_SLACK_MS for
 * the executor's own verdict), for the RESULT with that id.  One reader
 * thread receives every answer and hands it to the waiting call; the
 * records of a list are collected (at most VF_MAX_LIST_DOMAINS) and
 * passed to the caller's callback in the caller's thread.  A dead executor
 * fails every call, waiting or new, with -EHOSTDOWN: never a success.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostlist.h"
#include "io.h"
#include "log.h"
#include "privsep/msg.h"
#include "privsep/privsep.h"
#include "timeutil.h"

struct pending {
    struct pending *next;
    uint64_t id;
    uint16_t op;
    bool done;
    int result;
    bool on;
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
    pthread_t reader;
    bool reader_started;
    pthread_mutex_t lock;
    struct pending *pending;         /* guarded by lock */
    uint64_t next_id;                /* guarded by lock */
    atomic_bool dead;
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

/* Hand answer @an to its call; false when it breaks the protocol. */
static bool
dispatch(struct vf_ps_proxy *px, const struct vf_ps_ans *an)
{
    struct pending *p = NULL;
    bool ok = true;

    pthread_mutex_lock(&px->lock);
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
        p->dom = an->dom;
        pthread_cond_signal(&p->cv);
    }
out:
    pthread_mutex_unlock(&px->lock);
    return ok;
}

static void *
reader_main(void *arg)
{
    struct vf_ps_proxy *px = arg;
    uint8_t buf[VF_PS_ANS_SIZE + 1];

    for (;;) {
        struct vf_ps_ans an;
        ssize_t n = recv(px->fd, buf, sizeof(buf), MSG_TRUNC);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n == 0 || (n < 0 && atomic_load(&px->dead))) {
            set_dead(px, "end of the socketpair");
            break;
        }
        if (n < 0) {
            set_dead(px, strerror(errno));
            break;
        }
        if (vf_ps_ans_decode(buf, (size_t)n, &an) < 0 || !dispatch(px, &an)) {
            set_dead(px, "malformed answer");
            break;
        }
    }
    return NULL;
}

int
vf_ps_proxy_new(int fd, bool exit_on_eof, struct vf_ps_proxy **ret_px)
{
    struct vf_ps_proxy *px = calloc(1, sizeof(*px));
    int r = 0;

    if (px == NULL) {
        return -ENOMEM;
    }
    px->fd = fd;
    px->exit_on_eof = exit_on_eof;
    px->next_id = 1;
    atomic_init(&px->dead, false);
    pthread_mutex_init(&px->lock, NULL);
    r = pthread_create(&px->reader, NULL, reader_main, px);
    if (r != 0) {
        pthread_mutex_destroy(&px->lock);
        free(px);
        return -r;
    }
    px->reader_started = true;
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
    if (px->reader_started) {
        pthread_join(px->reader, NULL);
    }
    close(px->fd);
    pthread_mutex_destroy(&px->lock);
    free(px);
    return NULL;
}

/* Send one message by @deadline_ms.  0, -ETIMEDOUT or -EHOSTDOWN. */
static int
send_msg(struct vf_ps_proxy *px, const uint8_t *buf, size_t len, int64_t deadline_ms)
{
    for (;;) {
        struct pollfd pfd = { .fd = px->fd, .events = POLLOUT };
        ssize_t n = send(px->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        int left = 0;

        if (n == (ssize_t)len) {
            return 0;
        }
        if (n >= 0 || (errno != EAGAIN && errno != EINTR)) {
            return -EHOSTDOWN;
        }
        left = vf_ms_left(deadline_ms);
        if (left <= 0) {
            return -ETIMEDOUT;
        }
        (void)poll(&pfd, 1, left > 100 ? 100 : left);
        if (atomic_load(&px->dead)) {
            return -EHOSTDOWN;
        }
    }
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
 * One round trip: @op on @target by @deadline_ms.  On return (0 or the
 * executor's -errno, -ETIMEDOUT, -EHOSTDOWN) @p holds the answer; the
 * caller frees p->recs.
 */
static int
call(struct vf_ps_proxy *px, uint16_t op, const char *target, unsigned int flags,
     int64_t deadline_ms, struct pending *p)
{
    struct vf_ps_req rq;
    uint8_t buf[VF_PS_REQ_SIZE];
    int64_t wait_until = deadline_ms + VF_PS_ANSWER_SLACK_MS;
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
    pthread_mutex_lock(&px->lock);
    while (r == 0 && !p->done && !atomic_load(&px->dead)) {
        struct timespec ts = vf_deadline_timespec(wait_until);

        if (pthread_cond_timedwait(&p->cv, &px->lock, &ts) == ETIMEDOUT && !p->done) {
            r = -ETIMEDOUT;
        }
    }
    if (r == 0) {
        r = p->done ? p->result : -EHOSTDOWN;
        if (r == 0 && p->nomem) {
            r = -ENOMEM;
        }
    }
    p->done = true;             /* late list records are dropped */
    unlink_pending(px, p);
    pthread_mutex_unlock(&px->lock);
    pthread_cond_destroy(&p->cv);
    if (r < 0) {
        free(p->recs);
        p->recs = NULL;
        p->n = 0;
    }
    return r;
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

static int
px_lookup(void *priv, const char *target, unsigned int flags, struct vf_domain_info *ret_dom,
          int64_t deadline_ms)
{
    struct pending p;
    int r = call(priv, VF_PS_OP_LOOKUP, target, flags, deadline_ms, &p);

    if (r == 0) {
        *ret_dom = p.dom;
    }
    return r;
}

static int
px_off(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct pending p;

    return call(priv, VF_PS_OP_OFF, target, flags, deadline_ms, &p);
}

static int
px_on(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct pending p;

    return call(priv, VF_PS_OP_ON, target, flags, deadline_ms, &p);
}

static int
px_reboot(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct pending p;

    return call(priv, VF_PS_OP_REBOOT, target, flags, deadline_ms, &p);
}

static int
px_status(void *priv, const char *target, unsigned int flags, bool *ret_on,
          int64_t deadline_ms)
{
    struct pending p;
    int r = call(priv, VF_PS_OP_STATUS, target, flags, deadline_ms, &p);

    if (r == 0) {
        *ret_on = p.on;
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

const struct vf_backend_ops vf_ps_proxy_ops = {
    .name = "privsep-proxy", .version = PACKAGE_VERSION,
    .init = px_init, .fini = px_fini, .lookup = px_lookup, .off = px_off, .on = px_on,
    .reboot = px_reboot, .status = px_status, .list = px_list, .monitor = px_monitor,
};
