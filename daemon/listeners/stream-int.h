/*
 * vmfence - daemon/listeners/stream-int.h: what the two halves of the
 * stream listeners' loop share: stream.c (the server threads, serving in
 * place or submitting, the listener ops) and stream-accept.c (accepting,
 * reading requests, the pending slots and their deadlines).  Not for other
 * listeners.
 */
#ifndef VF_STREAM_INT_H
#define VF_STREAM_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "common.h"

#define VF_STREAM_SERVERS 4     /* threads per listener; all but one may serve in place */

/* epoll tags: the low 32 bits of an event's data (a slot's generation above) */
#define TAG_LISTEN 0u
#define TAG_WAKE 1u
#define TAG_KICK 2u
#define TAG_SLOT0 3u

struct pending {
    int fd;
    bool busy;                  /* a thread handles its event (mu) */
    uint32_t gen;               /* bumped on each use of the slot */
    size_t have;
    int64_t deadline;
    uint8_t buf[VF_REQ_SIZE];
    char identity[128];
    char peer[128];
};

/* The server threads of one listener instance. */
struct lf {
    const struct vf_stream_listener *sl;
    int epfd;                   /* lfd, wakefd and the pending connections */
    int wakefd;                 /* eventfd, readable once the group stops */
    int kickfd;                 /* eventfd: a waiting thread recomputes its timeout */
    pthread_mutex_t mu;
    pthread_cond_t state_cv;    /* run()/fini(): a thread left the loop or exited, stop */
    atomic_bool stop;           /* set under mu: leave */
    bool in_place;              /* serve in place (api->serve is there) */
    unsigned int threads;       /* server threads alive */
    unsigned int looping;       /* threads in the event loop (run()'s own included) */
    unsigned int serving;       /* server threads serving in place */
    unsigned int refs;          /* run() + server threads */
    int rc;                     /* the loop's error, for run() */
    /* guarded by mu */
    struct pending pend[VF_STREAM_PENDING_MAX];
    unsigned int npend;         /* slots in use */
    int64_t due;                /* next pending deadline or end of an accept pause */
    bool paused;                /* lfd not armed: accept backs off until pause_until */
    int64_t pause_until;
    int64_t last_warn;
};

/* Arm @fd (one-shot, readable) with @tag: EPOLL_CTL_ADD or _MOD.  0 or -errno */
static inline int
vf_stream_arm(struct lf *lf, int op, int fd, uint64_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = tag };

    return epoll_ctl(lf->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

/* stream.c: stop the group (mu held): the loop's threads leave at their next step */
void vf_stream_stop_locked(struct lf *lf);
/* stream.c: @p's request is complete: \return true to serve it in place in
 * @mine (the caller left the loop: counted as serving), or it is submitted */
bool vf_stream_deliver(struct lf *lf, struct pending *p, struct vf_conn *mine,
                       bool may_serve);

/* stream-accept.c */
void vf_stream_pending_drop(struct pending *p, const char *listener, const char *why);
bool vf_stream_on_listen(struct lf *lf, struct vf_conn *mine, bool may_serve);
bool vf_stream_on_pending(struct lf *lf, unsigned int slot, uint32_t gen,
                          struct vf_conn *mine, bool may_serve);
int vf_stream_sweep_locked(struct lf *lf, int max_ms);

#endif
