/*
 * vmfence - daemon/listeners/stream-accept.c: the accepting half of the
 * stream listeners' loop (stream.c has the design): accept connections,
 * read their requests, park a connection in a pending slot while its
 * request is incomplete (at most VF_STREAM_PENDING_MAX, the oldest idle one
 * evicted for a newcomer, each closed after VF_STREAM_REQ_TIMEOUT_MS), back
 * off when accept() runs out of descriptors.  Every step is non-blocking.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "io.h"
#include "log.h"
#include "stream-int.h"

void
vf_stream_pending_drop(struct pending *p, const char *listener, const char *why)
{
    vf_dbg(1, "listener %s: %s: %s, closed", listener, p->peer, why);
    vf_close(p->fd);
    p->fd = -1;
}

/* Free slot @p (mu held; its fd closed or moved): its events go stale. */
static void
slot_free_locked(struct lf *lf, struct pending *p)
{
    p->fd = -1;
    p->busy = false;
    p->gen++;
    if (--lf->npend == 0 && !lf->paused) {
        lf->due = INT64_MAX;    /* nothing due: no kicks, no sweeps */
    }
}

/* Read what @p's peer sent so far.  \return 1 complete, 0 more to come,
 * -1 dropped (closed) */
static int
pending_recv(struct lf *lf, struct pending *p)
{
    ssize_t got = recv(p->fd, p->buf + p->have, VF_REQ_SIZE - p->have, MSG_DONTWAIT);

    if (got > 0) {
        p->have += (size_t)got;
        return p->have == VF_REQ_SIZE ? 1 : 0;
    }
    if (got == 0) {
        vf_stream_pending_drop(p, lf->sl->name, "peer closed before a complete request");
        return -1;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        vf_stream_pending_drop(p, lf->sl->name, strerror(errno));
        return -1;
    }
    return 0;
}

/* Index of the pending connection to evict (all slots in use): among those
 * no thread handles, the one accepted first among those that sent nothing
 * yet, else the oldest.  -1 if every slot is busy. */
static int
oldest_pending(const struct pending *pend)
{
    int oldest = -1;

    for (int i = 0; i < VF_STREAM_PENDING_MAX; i++) {
        bool idle_i = pend[i].have == 0;
        bool idle_o = oldest >= 0 && pend[oldest].have == 0;

        if (pend[i].busy) {
            continue;
        }
        if (oldest < 0 || (idle_i && !idle_o) ||
            (idle_i == idle_o && pend[i].deadline < pend[oldest].deadline)) {
            oldest = i;
        }
    }
    return oldest;
}

/* A free pending slot for a new connection (mu held), evicting the oldest
 * idle one when all are in use.  -1 if none. */
static int
pending_slot_locked(struct lf *lf)
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
    if (slot < 0) {
        return -1;
    }
    if (vf_now_ms() - lf->last_warn > 5000) {
        vf_log(LOG_WARNING, "listener %s: %d connections waiting for their request; "
               "closing the oldest (%s) for a new one", lf->sl->name,
               VF_STREAM_PENDING_MAX, pend[slot].peer);
        lf->last_warn = vf_now_ms();
    }
    vf_stream_pending_drop(&pend[slot], lf->sl->name, "evicted by a newer connection");
    slot_free_locked(lf, &pend[slot]);
    return slot;
}

/* Park the incomplete request @in (fresh from accept) in a slot, armed. */
static void
park(struct lf *lf, struct pending *in)
{
    struct pending *p = NULL;
    int slot = 0;
    int r = 0;

    pthread_mutex_lock(&lf->mu);
    slot = pending_slot_locked(lf);
    if (slot < 0) {
        pthread_mutex_unlock(&lf->mu);
        vf_stream_pending_drop(in, lf->sl->name, "no pending slot");
        return;
    }
    p = &lf->pend[slot];
    in->gen = p->gen;
    in->busy = false;
    *p = *in;
    lf->npend++;
    /* this thread goes back to epoll_wait() with a timeout for it;
     * vf_stream_deliver() kicks another one when it leaves the loop to serve */
    lf->due = p->deadline < lf->due ? p->deadline : lf->due;
    r = vf_stream_arm(lf, EPOLL_CTL_ADD, p->fd, (uint64_t)p->gen << 32 | (TAG_SLOT0 + (unsigned)slot));
    if (r < 0) {
        vf_stream_pending_drop(p, lf->sl->name, strerror(-r));
        slot_free_locked(lf, p);
    }
    pthread_mutex_unlock(&lf->mu);
}

/* accept() failed with @err (mu held): back off (lfd left unarmed until
 * pause_until), or \return true to re-arm lfd now */
static bool
accept_failed_locked(struct lf *lf, int err)
{
    int64_t pause = 100;

    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED ||
        err == EPROTO) {
        return true;
    }
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        if (vf_now_ms() - lf->last_warn > 5000) {
            vf_log(LOG_WARNING, "listener %s: accept failed: %s; backing off",
                   lf->sl->name, strerror(err));
            lf->last_warn = vf_now_ms();
        }
        pause = 200;
    } else {
        vf_log(LOG_WARNING, "listener %s: accept failed: %s", lf->sl->name, strerror(err));
    }
    lf->paused = true;
    lf->pause_until = vf_now_ms() + pause;
    lf->due = lf->pause_until < lf->due ? lf->pause_until : lf->due;
    return false;
}

/* Arm lfd again: the next connection goes to whichever thread waits. */
static void
rearm_listen(struct lf *lf)
{
    int r = vf_stream_arm(lf, EPOLL_CTL_MOD, lf->sl->lfd, TAG_LISTEN);

    if (r < 0) {
        vf_log(LOG_ERR, "listener %s: epoll: %s", lf->sl->name, strerror(-r));
        pthread_mutex_lock(&lf->mu);
        lf->rc = r;
        vf_stream_stop_locked(lf);
        pthread_mutex_unlock(&lf->mu);
    }
}

/* Accept one connection and read its request.  \return 1 to serve it in
 * place in @mine, 0 to accept the next one, -1 when accept() failed (lfd
 * re-armed, or left unarmed for a back-off) */
static int
accept_one(struct lf *lf, struct vf_conn *mine, bool may_serve)
{
    const struct vf_stream_listener *sl = lf->sl;
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);
    struct pending p;
    /* blocking mode, as the pipeline expects; reads here use MSG_DONTWAIT */
    int fd = accept4(sl->lfd, (struct sockaddr *)&ss, &slen, SOCK_CLOEXEC);
    int err = errno;
    bool rearm = true;
    int r = 0;

    if (fd < 0) {
        pthread_mutex_lock(&lf->mu);
        rearm = accept_failed_locked(lf, err);
        pthread_mutex_unlock(&lf->mu);
        if (rearm) {
            rearm_listen(lf);
        }
        return -1;
    }
    p.fd = fd;
    p.have = 0;
    p.deadline = vf_now_ms() + VF_STREAM_REQ_TIMEOUT_MS;
    sl->describe(fd, (struct sockaddr *)&ss, slen, p.identity, sizeof(p.identity), p.peer,
                 sizeof(p.peer));
    /* a client sends its request right after connecting: usually it is
     * there already, so no extra round is needed */
    r = pending_recv(lf, &p);
    if (r > 0 && vf_stream_deliver(lf, &p, mine, may_serve)) {
        rearm_listen(lf);       /* before serving: another thread accepts */
        return 1;
    }
    if (r == 0) {
        park(lf, &p);
    }
    return 0;
}

/*
 * lfd is readable (and disarmed: one-shot): accept until a request is to
 * be served in place or nothing is left, then re-arm lfd.  Requests that go
 * to the workers are accepted in a batch, one epoll round for all.
 * \return true to serve a request in place in @mine
 */
bool
vf_stream_on_listen(struct lf *lf, struct vf_conn *mine, bool may_serve)
{
    for (int n = 0; n < VF_STREAM_PENDING_MAX; n++) {
        int r = accept_one(lf, mine, may_serve);

        if (r != 0) {
            return r > 0;
        }
    }
    rearm_listen(lf);
    return false;
}

/* Pending slot @slot (use @gen) is readable.  \return true to serve its
 * request in place in @mine */
bool
vf_stream_on_pending(struct lf *lf, unsigned int slot, uint32_t gen, struct vf_conn *mine,
           bool may_serve)
{
    struct pending *p = &lf->pend[slot];
    bool serve = false;
    int r = 0;

    pthread_mutex_lock(&lf->mu);
    if (p->fd < 0 || p->gen != gen || p->busy) {
        pthread_mutex_unlock(&lf->mu);  /* closed (deadline, eviction) meanwhile */
        return false;
    }
    p->busy = true;
    pthread_mutex_unlock(&lf->mu);
    /* busy: nobody else touches the slot */
    r = pending_recv(lf, p);
    if (r > 0) {
        serve = vf_stream_deliver(lf, p, mine, may_serve);
    }
    pthread_mutex_lock(&lf->mu);
    if (r == 0) {
        r = vf_stream_arm(lf, EPOLL_CTL_MOD, p->fd, (uint64_t)gen << 32 | (TAG_SLOT0 + slot));
        if (r < 0) {
            vf_stream_pending_drop(p, lf->sl->name, strerror(-r));
        }
    }
    if (p->fd < 0) {
        slot_free_locked(lf, p);
    } else {
        p->busy = false;
    }
    pthread_mutex_unlock(&lf->mu);
    return serve;
}

/* Close the pending connections past their deadline and end an accept
 * pause when due (mu held).  \return the timeout of the next wait */
int
vf_stream_sweep_locked(struct lf *lf, int max_ms)
{
    int64_t now = vf_now_ms();
    int64_t due = INT64_MAX;
    int r = 0;

    if (now < lf->due) {
        return lf->due - now < max_ms ? (int)(lf->due - now) : max_ms;
    }
    for (int i = 0; i < VF_STREAM_PENDING_MAX; i++) {
        struct pending *p = &lf->pend[i];

        if (p->fd < 0) {
            continue;
        }
        if (p->deadline > now) {
            due = p->deadline < due ? p->deadline : due;
        } else if (p->busy) {
            due = now + 10 < due ? now + 10 : due;    /* its thread is on it */
        } else {
            vf_stream_pending_drop(p, lf->sl->name, "request not received within 1 s");
            slot_free_locked(lf, p);
        }
    }
    if (lf->paused && now >= lf->pause_until) {
        lf->paused = false;
        if ((r = vf_stream_arm(lf, EPOLL_CTL_MOD, lf->sl->lfd, TAG_LISTEN)) < 0) {
            vf_log(LOG_ERR, "listener %s: epoll: %s", lf->sl->name, strerror(-r));
            lf->rc = r;
            vf_stream_stop_locked(lf);
        }
    } else if (lf->paused && lf->pause_until < due) {
        due = lf->pause_until;
    }
    lf->due = due;
    return due - now < max_ms ? (int)(due - now) : max_ms;
}

