/*
 * vmfence - daemon/listeners/stream.c: the accept loop of the stream
 * listeners (tcp, vsock), run by a few threads as leader and followers.
 *
 * Why leader/follower
 * -------------------
 * One thread at a time, the leader, polls the listening socket and the
 * connections that have not sent their whole request yet (at most
 * VF_STREAM_PENDING_MAX, 1 s each: idle or stalled peers never hold a
 * thread).  When a request is complete and another thread of the group is
 * waiting (or one more can be started), the leader hands the leadership to
 * it and serves the request itself, in place (api->serve): the request
 * never waits for another thread to be scheduled, and no job or connection
 * object is allocated.  Otherwise (every thread of the group busy serving,
 * or more than one request completed in the same round) the request goes
 * to the worker queue as before (api->submit), so a slow backend or a
 * stalled peer in the middle of a handshake never delays the others: at
 * most VF_STREAM_SERVERS requests run in place, all other ones in workers.
 *
 * Lifetimes
 * ---------
 * The group's state (struct lf) is refcounted by the threads that use it.
 * The listener's run() thread only starts the first server thread and
 * waits for the stop; on stop it waits until nobody leads (at most one
 * poll round, 500 ms), closes what is pending and returns.  Server threads
 * serving in place finish their request (bounded by its deadlines) and
 * exit; the listener's fini() waits for them to leave serve() or exit (not
 * for the thread calling fini() itself, which happens when the daemon ends
 * an orphaned listener from its last request), so priv and the daemon's
 * api stay valid for as long as a server thread may use them.  A request
 * handed to serve() after the daemon stopped the listener instance is
 * turned away by the daemon at once.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "io.h"
#include "log.h"
#include "timeutil.h"

#define VF_STREAM_SERVERS 4     /* threads per listener that serve in place */
#define SERVER_STACK_SIZE (2u * 1024 * 1024)

/* A connection with its request; on the heap when queued, else on the
 * serving thread's stack. */
struct stream_conn {
    struct vf_conn conn;        /* first: the pipeline sees this */
};

static const struct vf_conn_ops heap_ops = {
    .send_response = vf_conn_fd_send_response,
    .send_host_state = vf_conn_fd_send_host_state,
    .close = vf_conn_fd_close,
};

/* close() of a connection served in place: its memory is the caller's */
static void
inplace_close(struct vf_conn *c)
{
    vf_close(c->fd);
    c->fd = -1;
    free(c->priv);      /* host list write buffer */
    c->priv = NULL;
}

static const struct vf_conn_ops inplace_ops = {
    .send_response = vf_conn_fd_send_response,
    .send_host_state = vf_conn_fd_send_host_state,
    .close = inplace_close,
};

struct pending {
    int fd;
    size_t have;
    int64_t deadline;
    uint8_t buf[VF_REQ_SIZE];
    char identity[128];
    char peer[128];
};

/* The leader/follower group of one listener instance. */
struct lf {
    const struct vf_stream_listener *sl;
    pthread_mutex_t mu;
    pthread_cond_t lead_cv;     /* followers: the leadership is free, or stop */
    pthread_cond_t state_cv;    /* run()/fini(): nobody leads, a thread left, stop */
    bool led;                   /* a thread leads (polls lfd and pend) */
    bool stop;                  /* run() is done: leave */
    bool in_place;              /* serve in place (api->serve is there) */
    unsigned int threads;       /* server threads alive */
    unsigned int idle;          /* ... waiting for the leadership */
    unsigned int refs;          /* run() + server threads */
    int rc;                     /* the loop's error, for run() */
    /* owned by the leader */
    struct pending pend[VF_STREAM_PENDING_MAX];
    int64_t accept_pause_until;
    int64_t last_warn;
};

/* What the leader collects in one round. */
struct round {
    struct stream_conn *mine;   /* the slot for a request served in place */
    bool have;                  /* ... filled */
};

static void *server_main(void *arg);

/* the group a server thread belongs to (fini() may run in one of them) */
static __thread struct lf *tl_group;

/* Drop a reference (mu held by nobody). */
static void
lf_unref(struct lf *lf)
{
    bool last = false;

    pthread_mutex_lock(&lf->mu);
    last = --lf->refs == 0;
    pthread_mutex_unlock(&lf->mu);
    if (last) {
        pthread_cond_destroy(&lf->lead_cv);
        pthread_cond_destroy(&lf->state_cv);
        pthread_mutex_destroy(&lf->mu);
        free(lf);
    }
}

/* Start one more server thread (mu held).  \return 0 or -errno */
static int
spawn_locked(struct lf *lf)
{
    pthread_attr_t attr;
    pthread_t tid;
    int r = 0;

    if (lf->threads >= VF_STREAM_SERVERS || lf->stop) {
        return -EAGAIN;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, SERVER_STACK_SIZE);
    r = pthread_create(&tid, &attr, server_main, lf);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        return -r;
    }
    lf->threads++;
    lf->refs++;
    return 0;
}

/* true when another thread will take the leadership if this one serves a
 * request in place (a waiting one, or one started now) */
static bool
can_pass_on(struct lf *lf)
{
    bool ok = false;

    if (!lf->in_place) {
        return false;
    }
    pthread_mutex_lock(&lf->mu);
    ok = lf->idle > 0 || spawn_locked(lf) == 0;
    pthread_mutex_unlock(&lf->mu);
    return ok;
}

static void
pending_drop(struct pending *p, const char *listener, const char *why)
{
    vf_dbg(1, "listener %s: %s: %s, closed", listener, p->peer, why);
    vf_close(p->fd);
    p->fd = -1;
}

/* Fill @c from the complete request of @p (the fd moves to @c).
 * \return 0, or -EBADMSG (undecodable: @p dropped) */
static int
conn_fill(const struct vf_stream_listener *sl, struct pending *p, struct vf_conn *c)
{
    if (vf_req_decode(p->buf, VF_REQ_SIZE, &c->req) < 0) {
        pending_drop(p, sl->name, "undecodable request");
        return -EBADMSG;
    }
    vf_conn_init_signed(c, sl->settings, sl->name);
    memcpy(c->raw, p->buf, VF_REQ_SIZE);
    snprintf(c->identity, sizeof(c->identity), "%s", p->identity);
    snprintf(c->peer, sizeof(c->peer), "%s", p->peer);
    /* accepted in blocking mode (the loop reads with MSG_DONTWAIT) */
    c->fd = p->fd;
    p->fd = -1;
    return 0;
}

/* @p's request is complete: keep it to serve in place, or submit it. */
static void
pending_complete(struct lf *lf, struct round *rd, struct pending *p)
{
    const struct vf_stream_listener *sl = lf->sl;
    struct stream_conn *sc = NULL;

    if (!rd->have && can_pass_on(lf)) {
        memset(rd->mine, 0, sizeof(*rd->mine));
        if (conn_fill(sl, p, &rd->mine->conn) == 0) {
            rd->mine->conn.ops = &inplace_ops;
            rd->have = true;
        }
        return;
    }
    sc = calloc(1, sizeof(*sc));
    if (sc == NULL) {
        pending_drop(p, sl->name, "out of memory");
        return;
    }
    if (conn_fill(sl, p, &sc->conn) < 0) {
        free(sc);
        return;
    }
    sc->conn.ops = &heap_ops;
    sl->api->submit(sl->api->ctx, &sc->conn);
}

/* Read what @p's peer sent so far; deliver once the request is complete. */
static void
pending_read(struct lf *lf, struct round *rd, struct pending *p)
{
    ssize_t got = recv(p->fd, p->buf + p->have, VF_REQ_SIZE - p->have, MSG_DONTWAIT);

    if (got > 0) {
        p->have += (size_t)got;
        if (p->have == VF_REQ_SIZE) {
            pending_complete(lf, rd, p);
        }
    } else if (got == 0) {
        pending_drop(p, lf->sl->name, "peer closed before a complete request");
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        pending_drop(p, lf->sl->name, strerror(errno));
    }
}

/* Index of the pending connection to evict (all slots in use): the one
 * accepted first among those that sent nothing yet, else the oldest. */
static int
oldest_pending(const struct pending *pend)
{
    int oldest = 0;

    for (int i = 1; i < VF_STREAM_PENDING_MAX; i++) {
        bool idle_i = pend[i].have == 0;
        bool idle_o = pend[oldest].have == 0;

        if ((idle_i && !idle_o) ||
            (idle_i == idle_o && pend[i].deadline < pend[oldest].deadline)) {
            oldest = i;
        }
    }
    return oldest;
}

/* A free pending slot for a new connection, evicting the oldest idle one
 * when all are in use. */
static int
pending_slot(struct lf *lf)
{
    struct pending *pend = lf->pend;
    int slot = 0;

    for (int i = 0; i < VF_STREAM_PENDING_MAX; i++) {
        if (pend[i].fd < 0) {
            return i;
        }
    }
    /*
     * Full of peers that connected but sent nothing: close the oldest
     * rather than refuse the newcomer.  Refusing let 64 idle connections,
     * renewed every second, lock every legitimate client out; a legitimate
     * client sends its request at once, so it gets through while idlers
     * rotate.
     */
    slot = oldest_pending(pend);
    if (vf_now_ms() - lf->last_warn > 5000) {
        vf_log(LOG_WARNING, "listener %s: %d connections waiting for their request; "
               "closing the oldest (%s) for a new one", lf->sl->name,
               VF_STREAM_PENDING_MAX, pend[slot].peer);
        lf->last_warn = vf_now_ms();
    }
    pending_drop(&pend[slot], lf->sl->name, "evicted by a newer connection");
    return slot;
}

/* accept() failed with @err: \return true to keep accepting this round */
static bool
accept_failed(struct lf *lf, int err)
{
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED ||
        err == EPROTO) {
        return false;
    }
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        if (vf_now_ms() - lf->last_warn > 5000) {
            vf_log(LOG_WARNING, "listener %s: accept failed: %s; backing off",
                   lf->sl->name, strerror(err));
            lf->last_warn = vf_now_ms();
        }
        lf->accept_pause_until = vf_now_ms() + 200;
        return false;
    }
    vf_log(LOG_WARNING, "listener %s: accept failed: %s", lf->sl->name, strerror(err));
    lf->accept_pause_until = vf_now_ms() + 100;
    return false;
}

/* Accept what is waiting (bounded per round) and read each request. */
static void
accept_all(struct lf *lf, struct round *rd)
{
    const struct vf_stream_listener *sl = lf->sl;

    for (int round = 0; round < VF_STREAM_PENDING_MAX; round++) {
        struct sockaddr_storage ss;
        socklen_t slen = sizeof(ss);
        /* blocking mode, as the pipeline expects; reads here use MSG_DONTWAIT */
        int fd = accept4(sl->lfd, (struct sockaddr *)&ss, &slen, SOCK_CLOEXEC);
        struct pending *p = NULL;

        if (fd < 0) {
            (void)accept_failed(lf, errno);
            return;
        }
        p = &lf->pend[pending_slot(lf)];
        memset(p, 0, sizeof(*p));
        p->fd = fd;
        p->deadline = vf_now_ms() + VF_STREAM_REQ_TIMEOUT_MS;
        sl->describe(fd, (struct sockaddr *)&ss, slen, p->identity, sizeof(p->identity),
                     p->peer, sizeof(p->peer));
        /* a client sends its request right after connecting: usually it is
         * there already, so no extra poll round is needed */
        pending_read(lf, rd, p);
    }
}

/*
 * One round of the leader: poll the listening socket and the pending
 * connections (at most 500 ms), read, accept.  \return 0, or -errno when
 * poll() failed for good
 */
static int
lead_round(struct lf *lf, struct round *rd)
{
    struct pollfd pfd[VF_STREAM_PENDING_MAX + 1];
    int map[VF_STREAM_PENDING_MAX + 1];
    int64_t now = vf_now_ms();
    int timeout = 500;
    nfds_t n = 0;
    int pr = 0;

    if (now >= lf->accept_pause_until) {
        pfd[n].fd = lf->sl->lfd;
        pfd[n].events = POLLIN;
        map[n++] = -1;
    } else if (lf->accept_pause_until - now < timeout) {
        timeout = (int)(lf->accept_pause_until - now);
    }
    for (int i = 0; i < VF_STREAM_PENDING_MAX; i++) {
        struct pending *p = &lf->pend[i];

        if (p->fd < 0) {
            continue;
        }
        if (p->deadline <= now) {
            pending_drop(p, lf->sl->name, "request not received within 1 s");
            continue;
        }
        if (p->deadline - now < timeout) {
            timeout = (int)(p->deadline - now);
        }
        pfd[n].fd = p->fd;
        pfd[n].events = POLLIN;
        map[n++] = i;
    }
    pr = poll(pfd, n, timeout < 1 ? 1 : timeout);
    if (pr < 0) {
        if (errno == EINTR) {
            return 0;
        }
        vf_log(LOG_ERR, "listener %s: poll failed: %s", lf->sl->name, strerror(errno));
        return -errno;
    }
    for (nfds_t k = 0; k < n && pr > 0; k++) {
        if (pfd[k].revents != 0 && map[k] >= 0) {
            pending_read(lf, rd, &lf->pend[map[k]]);
        }
    }
    if (n > 0 && map[0] == -1 && (pfd[0].revents & POLLIN) != 0) {
        accept_all(lf, rd);
    }
    return 0;
}

/* true once the group must stop leading (mu not held) */
static bool
lf_stopping(struct lf *lf)
{
    bool stop = false;

    pthread_mutex_lock(&lf->mu);
    stop = lf->stop;
    pthread_mutex_unlock(&lf->mu);
    return stop || lf->sl->api->stopping(lf->sl->api->ctx);
}

/*
 * Lead until a request is there to serve in place (\return true, in
 * *@mine), or the group stops or poll fails (\return false, rc set).
 */
static bool
lead(struct lf *lf, struct stream_conn *mine)
{
    struct round rd = { .mine = mine, .have = false };

    while (!lf_stopping(lf)) {
        int r = lead_round(lf, &rd);

        if (r < 0) {
            lf->rc = r;
            return false;
        }
        if (rd.have) {
            return true;
        }
    }
    return false;
}

/* A server thread: wait for the leadership, lead, serve in place, again. */
static void *
server_main(void *arg)
{
    struct lf *lf = arg;
    struct stream_conn mine;
    bool serve = false;

    tl_group = lf;
    pthread_mutex_lock(&lf->mu);
    for (;;) {
        while (lf->led && !lf->stop) {
            lf->idle++;
            pthread_cond_wait(&lf->lead_cv, &lf->mu);
            lf->idle--;
        }
        if (lf->stop) {
            break;
        }
        lf->led = true;
        pthread_mutex_unlock(&lf->mu);
        serve = lead(lf, &mine);
        pthread_mutex_lock(&lf->mu);
        lf->led = false;
        if (lf->stop || !serve) {
            /* run() waits for the leader to leave once it stopped the
             * group; no wake-up for it on every request otherwise */
            pthread_cond_broadcast(&lf->state_cv);
        }
        if (!serve) {
            lf->stop = true;            /* stopping, or poll failed */
            pthread_cond_broadcast(&lf->lead_cv);
            break;
        }
        pthread_cond_signal(&lf->lead_cv);  /* a follower takes over */
        pthread_mutex_unlock(&lf->mu);
        /* the daemon turns it away at once if the instance was stopped
         * meanwhile; priv stays valid until this thread left (fini) */
        lf->sl->api->serve(lf->sl->api->ctx, &mine.conn);
        pthread_mutex_lock(&lf->mu);
    }
    lf->threads--;
    pthread_cond_broadcast(&lf->state_cv);
    pthread_mutex_unlock(&lf->mu);
    tl_group = NULL;
    lf_unref(lf);
    return NULL;
}

/* The old single-threaded loop: lead in run()'s thread, submit everything
 * (no api->serve, or no server thread could be started). */
static int
lead_alone(struct lf *lf)
{
    struct round rd = { .mine = NULL, .have = true };   /* never in place */

    while (!lf_stopping(lf)) {
        int r = lead_round(lf, &rd);

        if (r < 0) {
            return r;
        }
    }
    return 0;
}

static struct lf *
lf_new(const struct vf_stream_listener *sl)
{
    struct lf *lf = calloc(1, sizeof(*lf));

    if (lf == NULL || vf_cond_init_monotonic(&lf->state_cv) < 0) {
        free(lf);
        return NULL;
    }
    if (pthread_cond_init(&lf->lead_cv, NULL) != 0) {
        pthread_cond_destroy(&lf->state_cv);
        free(lf);
        return NULL;
    }
    pthread_mutex_init(&lf->mu, NULL);
    lf->sl = sl;
    lf->refs = 1;
    lf->in_place = sl->api->serve != NULL;
    for (int i = 0; i < VF_STREAM_PENDING_MAX; i++) {
        lf->pend[i].fd = -1;
    }
    return lf;
}

/*
 * run() of a stream listener: start the group, wait for the stop, then for
 * the leader to leave (one poll round at most).  \return 0 or -errno
 */
static int
stream_run(struct vf_stream_priv *priv)
{
    struct lf *lf = priv->lf;
    int rc = 0;
    int r = 0;

    pthread_mutex_lock(&lf->mu);
    r = lf->in_place ? spawn_locked(lf) : -EOPNOTSUPP;
    pthread_mutex_unlock(&lf->mu);
    if (r < 0) {
        rc = lead_alone(lf);
    } else {
        pthread_mutex_lock(&lf->mu);
        while (!lf->stop) {
            struct timespec ts = vf_deadline_timespec(vf_now_ms() + 500);

            pthread_mutex_unlock(&lf->mu);
            if (lf->sl->api->stopping(lf->sl->api->ctx)) {
                pthread_mutex_lock(&lf->mu);
                break;
            }
            pthread_mutex_lock(&lf->mu);
            if (!lf->stop) {
                pthread_cond_timedwait(&lf->state_cv, &lf->mu, &ts);
            }
        }
        lf->stop = true;
        pthread_cond_broadcast(&lf->lead_cv);
        while (lf->led) {
            pthread_cond_wait(&lf->state_cv, &lf->mu);
        }
        rc = lf->rc;
        pthread_mutex_unlock(&lf->mu);
    }
    for (int i = 0; i < VF_STREAM_PENDING_MAX; i++) {
        lf->pend[i].fd = vf_close(lf->pend[i].fd);
    }
    return rc;
}

int
vf_stream_priv_run(void *p)
{
    struct vf_stream_priv *priv = p;
    int r = 0;

    priv->lf = lf_new(&priv->sl);
    if (priv->lf == NULL) {
        return -ENOMEM;
    }
    r = stream_run(priv);
    /* release the port now: a reload may bind it again before fini() */
    priv->fd = vf_close(priv->fd);
    return r;
}

/* Wait until no server thread but the caller is left in @lf. */
static void
lf_wait_threads(struct lf *lf)
{
    pthread_mutex_lock(&lf->mu);
    lf->stop = true;
    pthread_cond_broadcast(&lf->lead_cv);
    /* the caller may be a server thread: the daemon ends an orphaned
     * listener from its last request's done callback */
    while (lf->threads > (tl_group == lf ? 1u : 0u)) {
        pthread_cond_wait(&lf->state_cv, &lf->mu);
    }
    pthread_mutex_unlock(&lf->mu);
}

void
vf_stream_priv_fini(void *p)
{
    struct vf_stream_priv *priv = p;

    if (priv == NULL) {
        return;
    }
    if (priv->lf != NULL) {
        /* server threads may still use priv (settings, api) until they
         * leave serve(); the last one frees the group */
        lf_wait_threads(priv->lf);
        lf_unref(priv->lf);
        priv->lf = NULL;
    }
    vf_close(priv->fd);
    vf_lsettings_done(&priv->s);
    free(priv);
}

/* socket(), bind() to @sa, listen(): priv->fd, or -errno with @err set */
static int
stream_listen(struct vf_stream_priv *priv, const struct vf_stream_kind *kind,
              const struct sockaddr_storage *sa, socklen_t salen, const char *where,
              char *err, size_t err_len)
{
    int one = 1;
    int r = 0;

    priv->fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (priv->fd < 0) {
        r = -errno;
        snprintf(err, err_len, "listener '%s': socket: %s%s", kind->name, strerror(-r),
                 kind->socket_hint);
        return r;
    }
    (void)setsockopt(priv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(priv->fd, (const struct sockaddr *)sa, salen) < 0) {
        r = -errno;
        snprintf(err, err_len, "listener '%s': cannot bind %s: %s", kind->name, where,
                 strerror(-r));
    } else if (listen(priv->fd, VF_STREAM_BACKLOG) < 0) {
        r = -errno;
        snprintf(err, err_len, "listener '%s': listen on %s: %s", kind->name, where,
                 strerror(-r));
    }
    return r;
}

int
vf_stream_priv_init(const struct vf_stream_kind *kind, const struct vf_conf *conf,
                    const struct vf_daemon_api *api, void **ret_priv, char *err,
                    size_t err_len)
{
    struct vf_stream_priv *priv = calloc(1, sizeof(*priv));
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    char where[300];
    int r = 0;

    if (priv == NULL) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    priv->fd = -1;
    memset(&sa, 0, sizeof(sa));
    r = vf_lsettings_read(conf, kind->name, &priv->s, err, err_len);
    if (r == 0) {
        r = kind->address(&priv->s, &sa, &salen, where, sizeof(where), err, err_len);
    }
    if (r == 0) {
        r = stream_listen(priv, kind, &sa, salen, where, err, err_len);
    }
    if (r < 0) {
        vf_stream_priv_fini(priv);
        return r;
    }
    priv->sl.name = kind->name;
    priv->sl.lfd = priv->fd;
    priv->sl.api = api;
    priv->sl.settings = &priv->s;
    priv->sl.describe = kind->describe;
    vf_log(LOG_INFO, "listener %s: listening on %s (hash >= %s, auth %s)", kind->name, where,
           vf_hash_name(priv->s.hash), vf_hash_name(priv->s.auth));
    *ret_priv = priv;
    return 0;
}
