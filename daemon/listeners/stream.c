/*
 * vmfence - daemon/listeners/stream.c: the accept loop of the stream
 * listeners (tcp, vsock), run by a few threads sharing one epoll set;
 * accepting and the pending connections are in stream-accept.c.
 *
 * Why one shared epoll set
 * ------------------------
 * The listening socket and the connections that have not sent their whole
 * request yet (at most VF_STREAM_PENDING_MAX, 1 s each: idle or stalled
 * peers never hold a thread) are in one epoll set, each armed one-shot, and
 * every server thread of the listener waits in epoll_wait() on it for one
 * event at a time.  The kernel wakes exactly one idle thread per event and
 * no other thread is told about it: nobody hands a leadership on, so a
 * request costs one thread wake-up, not two (and no futex).  A thread that
 * got the listening socket accepts and reads the request itself, which a
 * client sends right after connecting: usually it is there already (else
 * the connection is parked in a pending slot, armed for reading).  It
 * re-arms the listening socket before it serves a request in place, so
 * another thread takes the next connection; requests that go to the
 * workers are accepted in a batch, one epoll round for all.
 *
 * A complete request is served in place (api->serve) by the thread that
 * read it while another thread of the group stays in the loop (one is
 * started when needed; at most VF_STREAM_SERVERS threads, so at most
 * VF_STREAM_SERVERS - 1 requests in place at a time): the request never waits
 * for another thread to be scheduled and no job or connection object is
 * allocated.  Otherwise it goes to the worker queue (api->submit), so a
 * slow backend or a stalled peer in the middle of a handshake never delays
 * the others.
 *
 * Pending slots are guarded by the group's mutex; a slot whose event a
 * thread is handling is "busy" (the deadline sweep and the eviction skip
 * it), and each use of a slot has a generation carried in its epoll event,
 * so an event that was already taken for a connection since closed is
 * ignored.
 *
 * Lifetimes
 * ---------
 * The group's state (struct lf) is refcounted by the threads that use it.
 * The listener's run() thread only starts the first server thread and
 * waits for the stop; on stop it wakes the waiting threads (an eventfd in
 * the set), waits until no thread is left in the loop (they leave at once:
 * every step there is non-blocking), closes what is pending and returns.
 * Server threads serving in place finish their request (bounded by its
 * deadlines) and exit; the listener's fini() waits for them to leave
 * serve() or exit (not for the thread calling fini() itself, which happens
 * when the daemon ends an orphaned listener from its last request), so
 * priv and the daemon's api stay valid for as long as a server thread may
 * use them.  A request handed to serve() after the daemon stopped the
 * listener instance is turned away by the daemon at once.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "io.h"
#include "log.h"
#include "stream-int.h"
#include "timeutil.h"

#define SERVER_STACK_SIZE (2u * 1024 * 1024)
#define ALONE_WAIT_MS 500       /* run()'s own loop checks api->stopping this often */
#define IDLE_WAIT_MS 5000       /* server threads: the eventfd tells them to stop */

/* A connection with its request is a struct vf_conn: malloc'ed when
 * submitted, on the serving thread's stack when served in place. */
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

static void *server_main(void *arg);

/* the group a server thread belongs to (fini() may run in one of them) */
static __thread struct lf *tl_group;

static void
lf_free(struct lf *lf)
{
    vf_close(lf->epfd);
    vf_close(lf->wakefd);
    vf_close(lf->kickfd);
    pthread_cond_destroy(&lf->state_cv);
    VF_LOCKED_FREE(lf, struct lf, mu);
}

/* Drop a reference (mu held by nobody). */
static void
lf_unref(struct lf *lf)
{
    bool last = false;

    pthread_mutex_lock(&lf->mu);
    last = --lf->refs == 0;
    pthread_mutex_unlock(&lf->mu);
    if (last) {
        lf_free(lf);
    }
}

/* Stop the group (mu held): the loop's threads leave at their next step. */
void
vf_stream_stop_locked(struct lf *lf)
{
    uint64_t one = 1;

    if (!atomic_load(&lf->stop)) {
        atomic_store(&lf->stop, true);
        /* level-triggered and never read: every epoll_wait() returns */
        if (write(lf->wakefd, &one, sizeof(one)) < 0) {
            vf_dbg(1, "listener %s: eventfd: %s", lf->sl->name, strerror(errno));
        }
    }
    pthread_cond_broadcast(&lf->state_cv);
}

/* Start one more server thread (mu held).  \return 0 or -errno */
static int
spawn_locked(struct lf *lf)
{
    pthread_attr_t attr;
    pthread_t tid;
    int r = 0;

    if (lf->threads >= VF_STREAM_SERVERS || atomic_load(&lf->stop)) {
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
    lf->looping++;
    lf->refs++;
    return 0;
}

/*
 * Fill @c from the complete request of @p (the fd moves to @c, accepted in
 * blocking mode as the pipeline expects).  \return 0, or -EBADMSG
 * (undecodable: @p dropped)
 */
static int
conn_fill(const struct vf_stream_listener *sl, struct pending *p, struct vf_conn *c)
{
    memset(c, 0, sizeof(*c));
    if (vf_req_decode(p->buf, VF_REQ_SIZE, &c->req) < 0) {
        vf_stream_pending_drop(p, sl->name, "undecodable request");
        return -EBADMSG;
    }
    vf_conn_init_signed(c, sl->settings, sl->name);
    memcpy(c->raw, p->buf, VF_REQ_SIZE);
    memcpy(c->identity, p->identity, sizeof(c->identity));
    memcpy(c->peer, p->peer, sizeof(c->peer));
    c->fd = p->fd;
    p->fd = -1;
    return 0;
}

/*
 * @p's request is complete: \return true to serve it in place in @mine
 * (the caller left the loop: counted as serving), or submit it.
 */
bool
vf_stream_deliver(struct lf *lf, struct pending *p, struct vf_conn *mine, bool may_serve)
{
    const struct vf_stream_listener *sl = lf->sl;
    struct vf_conn *sc = NULL;
    bool here = false;
    bool kick = false;

    if (conn_fill(sl, p, mine) < 0) {
        return false;
    }
    if (may_serve) {
        pthread_mutex_lock(&lf->mu);
        /* another thread stays in the loop: a waiting one, or one started now */
        here = lf->serving + 1 < VF_STREAM_SERVERS &&
               (lf->looping > 1 || spawn_locked(lf) == 0);
        if (here) {
            lf->looping--;
            lf->serving++;
            /* the others' epoll_wait() timeouts may not cover what is due */
            kick = lf->npend > 0 || lf->paused;
        }
        pthread_mutex_unlock(&lf->mu);
    }
    if (kick && write(lf->kickfd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0) {
        vf_dbg(1, "listener %s: eventfd: %s", sl->name, strerror(errno));
    }
    if (here) {
        mine->ops = &inplace_ops;
        return true;
    }
    sc = malloc(sizeof(*sc));
    if (sc == NULL) {
        vf_dbg(1, "listener %s: %s: out of memory, closed", sl->name, mine->peer);
        vf_close(mine->fd);
        return false;
    }
    *sc = *mine;
    sc->ops = &heap_ops;
    sl->api->submit(sl->api->ctx, sc);
    return false;
}

/* Another thread left the loop to serve: recompute the timeout. */
static void
on_kick(struct lf *lf)
{
    uint64_t n = 0;
    int r = 0;

    if (read(lf->kickfd, &n, sizeof(n)) < 0 && errno != EAGAIN) {
        vf_dbg(1, "listener %s: eventfd: %s", lf->sl->name, strerror(errno));
    }
    if ((r = vf_stream_arm(lf, EPOLL_CTL_MOD, lf->kickfd, TAG_KICK)) < 0) {
        vf_log(LOG_WARNING, "listener %s: epoll: %s", lf->sl->name, strerror(-r));
    }
}

/* true once the loop must be left */
static bool
lf_stopping(struct lf *lf)
{
    return atomic_load(&lf->stop) || lf->sl->api->stopping(lf->sl->api->ctx);
}

/*
 * The event loop: wait for one event at a time and handle it, until a
 * request is there to serve in place (\return true, in *@mine; the caller
 * counted as serving) or the group stops (\return false).  @may_serve is
 * false for run()'s own loop (everything submitted).
 */
static bool
loop(struct lf *lf, struct vf_conn *mine, bool may_serve)
{
    int max_ms = may_serve ? IDLE_WAIT_MS : ALONE_WAIT_MS;

    while (!lf_stopping(lf)) {
        struct epoll_event ev;
        uint32_t tag = 0;
        int timeout = 0;
        int n = 0;

        pthread_mutex_lock(&lf->mu);
        timeout = vf_stream_sweep_locked(lf, max_ms);
        pthread_mutex_unlock(&lf->mu);
        n = epoll_wait(lf->epfd, &ev, 1, timeout < 1 ? 1 : timeout);
        if (n < 0 && errno != EINTR) {
            int err = errno;

            vf_log(LOG_ERR, "listener %s: epoll_wait failed: %s", lf->sl->name,
                   strerror(err));
            pthread_mutex_lock(&lf->mu);
            lf->rc = -err;
            vf_stream_stop_locked(lf);
            pthread_mutex_unlock(&lf->mu);
            break;
        }
        if (n <= 0) {
            continue;
        }
        tag = (uint32_t)ev.data.u64;
        if (tag == TAG_LISTEN) {
            if (vf_stream_on_listen(lf, mine, may_serve)) {
                return true;
            }
        } else if (tag == TAG_KICK) {
            on_kick(lf);
        } else if (tag >= TAG_SLOT0 && tag - TAG_SLOT0 < VF_STREAM_PENDING_MAX) {
            if (vf_stream_on_pending(lf, tag - TAG_SLOT0, (uint32_t)(ev.data.u64 >> 32), mine,
                           may_serve)) {
                return true;
            }
        }
    }
    return false;
}

/* Leave the loop for good (mu held). */
static void
leave_loop_locked(struct lf *lf)
{
    lf->looping--;
    if (atomic_load(&lf->stop)) {
        pthread_cond_broadcast(&lf->state_cv);  /* run() waits for looping == 0 */
    }
}

/* A server thread: handle events, serve in place, again. */
static void *
server_main(void *arg)
{
    struct lf *lf = arg;
    struct vf_conn mine;

    tl_group = lf;
    for (;;) {
        if (!loop(lf, &mine, true)) {
            pthread_mutex_lock(&lf->mu);
            leave_loop_locked(lf);
            break;
        }
        /* the daemon turns it away at once if the instance was stopped
         * meanwhile; priv stays valid until this thread left (fini) */
        lf->sl->api->serve(lf->sl->api->ctx, &mine);
        pthread_mutex_lock(&lf->mu);
        lf->serving--;
        if (atomic_load(&lf->stop)) {
            break;
        }
        lf->looping++;
        pthread_mutex_unlock(&lf->mu);
    }
    lf->threads--;
    pthread_cond_broadcast(&lf->state_cv);
    pthread_mutex_unlock(&lf->mu);
    tl_group = NULL;
    lf_unref(lf);
    return NULL;
}

static struct lf *
lf_new(const struct vf_stream_listener *sl)
{
    struct lf *lf = calloc(1, sizeof(*lf));

    if (lf == NULL) {
        return NULL;
    }
    lf->epfd = -1;
    lf->wakefd = -1;
    lf->kickfd = -1;
    if (vf_cond_init_monotonic(&lf->state_cv) < 0) {
        free(lf);
        return NULL;
    }
    pthread_mutex_init(&lf->mu, NULL);
    lf->sl = sl;
    lf->refs = 1;
    lf->in_place = sl->api->serve != NULL;
    lf->due = INT64_MAX;
    atomic_init(&lf->stop, false);
    for (int i = 0; i < VF_STREAM_PENDING_MAX; i++) {
        lf->pend[i].fd = -1;
    }
    lf->epfd = epoll_create1(EPOLL_CLOEXEC);
    lf->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    lf->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (lf->epfd < 0 || lf->wakefd < 0 || lf->kickfd < 0 ||
        vf_stream_arm(lf, EPOLL_CTL_ADD, sl->lfd, TAG_LISTEN) < 0 ||
        vf_stream_arm(lf, EPOLL_CTL_ADD, lf->kickfd, TAG_KICK) < 0 ||
        epoll_ctl(lf->epfd, EPOLL_CTL_ADD, lf->wakefd,
                  &(struct epoll_event){ .events = EPOLLIN, .data.u64 = TAG_WAKE }) < 0) {
        vf_log(LOG_ERR, "listener %s: epoll: %s", sl->name, strerror(errno));
        lf_free(lf);
        return NULL;
    }
    return lf;
}

/* Stop the group and wait until no thread is left in the loop. */
static void
lf_stop_loop(struct lf *lf)
{
    pthread_mutex_lock(&lf->mu);
    vf_stream_stop_locked(lf);
    while (lf->looping > 0) {
        pthread_cond_wait(&lf->state_cv, &lf->mu);
    }
    pthread_mutex_unlock(&lf->mu);
}

/*
 * run() of a stream listener: start the group, wait for the stop, then for
 * the loop's threads to leave it.  \return 0 or -errno
 */
static int
stream_run(struct vf_stream_priv *priv)
{
    struct lf *lf = priv->lf;
    struct vf_conn tmp;         /* run()'s own loop submits every request */
    int r = 0;

    pthread_mutex_lock(&lf->mu);
    r = lf->in_place ? spawn_locked(lf) : -EOPNOTSUPP;
    if (r < 0) {
        lf->looping++;          /* the old single-threaded loop: submit all */
    }
    pthread_mutex_unlock(&lf->mu);
    if (r < 0) {
        (void)loop(lf, &tmp, false);
        pthread_mutex_lock(&lf->mu);
        leave_loop_locked(lf);
        pthread_mutex_unlock(&lf->mu);
    } else {
        pthread_mutex_lock(&lf->mu);
        while (!atomic_load(&lf->stop)) {
            struct timespec ts = vf_deadline_timespec(vf_now_ms() + 500);

            pthread_mutex_unlock(&lf->mu);
            if (lf->sl->api->stopping(lf->sl->api->ctx)) {
                pthread_mutex_lock(&lf->mu);
                break;
            }
            pthread_mutex_lock(&lf->mu);
            if (!atomic_load(&lf->stop)) {
                pthread_cond_timedwait(&lf->state_cv, &lf->mu, &ts);
            }
        }
        pthread_mutex_unlock(&lf->mu);
    }
    lf_stop_loop(lf);
    pthread_mutex_lock(&lf->mu);
    for (int i = 0; i < VF_STREAM_PENDING_MAX; i++) {
        lf->pend[i].fd = vf_close(lf->pend[i].fd);
    }
    r = lf->rc;
    pthread_mutex_unlock(&lf->mu);
    return r;
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
    vf_stream_stop_locked(lf);
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
    if (sa->ss_family == AF_INET || sa->ss_family == AF_INET6) {
        /* accepted connections inherit it: no setsockopt() per request */
        (void)setsockopt(priv->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
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
