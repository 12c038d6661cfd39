/*
 * vmfence - daemon/workq.c: worker pool + bounded FIFO queue (workq.h).
 *
 * Every queued item is covered by a waiting thread, or push starts a new
 * one; a thread that cannot be started is only fatal for the item when no
 * thread at all is alive to serve the queue later.
 *
 * Idle threads wait on a stack, each on its own condition variable, and
 * push wakes the one that went idle last.  With one shared condition
 * variable the wake-ups went round all idle threads, so after a burst of
 * 64 requests a trickle of a few per second kept all 64 alive (and their
 * stacks and malloc arenas resident) for good; now the threads a trickle
 * does not need stay at the bottom of the stack and leave after idle_ms,
 * and the busy ones keep their caches warm.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "log.h"
#include "timeutil.h"
#include "workq.h"

/* A worker thread's record: made by spawn_locked(), freed by the thread;
 * on the idle stack while it waits (under the queue's mu). */
struct idler {
    struct vf_workq *q;
    pthread_cond_t cv;          /* CLOCK_MONOTONIC */
    bool woken;                 /* push (or stop) took it off the stack */
    struct idler *below;        /* the one that went idle before it */
};

struct vf_workq {
    struct vf_workq_params p;
    pthread_mutex_t mu;
    pthread_cond_t exit_cv;     /* a thread exited (CLOCK_MONOTONIC) */
    struct idler *idle_top;     /* the thread that went idle last */
    struct vf_workq_item *head, *tail;
    unsigned int n_queued;
    unsigned int n_threads;     /* alive */
    unsigned int n_waiting;     /* idle threads not yet woken (on the stack) */
    bool stop;
};

int
vf_workq_new(const struct vf_workq_params *params, struct vf_workq **ret_q)
{
    struct vf_workq *q = NULL;

    if (params->run == NULL || params->expire == NULL || params->max_threads == 0) {
        return -EINVAL;
    }
    q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return -ENOMEM;
    }
    q->p = *params;
    pthread_mutex_init(&q->mu, NULL);
    if (vf_cond_init_monotonic(&q->exit_cv) < 0) {
        pthread_mutex_destroy(&q->mu);
        free(q);
        return -ENOMEM;
    }
    *ret_q = q;
    return 0;
}

/* Take the first queued item (mu held). */
static struct vf_workq_item *
pop_locked(struct vf_workq *q)
{
    struct vf_workq_item *it = q->head;

    if (it != NULL) {
        q->head = it->next;
        if (q->head == NULL) {
            q->tail = NULL;
        }
        it->next = NULL;
        q->n_queued--;
    }
    return it;
}

/* Take the thread that went idle last off the stack and wake it (mu held). */
static void
wake_top_locked(struct vf_workq *q)
{
    struct idler *w = q->idle_top;

    q->idle_top = w->below;
    q->n_waiting--;
    w->woken = true;
    pthread_cond_signal(&w->cv);
}

/* Take @w off the stack wherever it is: it timed out (mu held). */
static void
unstack_locked(struct vf_workq *q, struct idler *w)
{
    struct idler **pp = &q->idle_top;

    while (*pp != NULL && *pp != w) {
        pp = &(*pp)->below;
    }
    if (*pp == w) {
        *pp = w->below;
        q->n_waiting--;
    }
}

/* Idle on the stack until woken or @idle_ms pass (mu held).  \return
 * false: timed out, no longer on the stack */
static bool
idle_locked(struct vf_workq *q, struct idler *w)
{
    struct timespec ts = vf_deadline_timespec(vf_now_ms() + q->p.idle_ms);

    w->woken = false;
    w->below = q->idle_top;
    q->idle_top = w;
    q->n_waiting++;
    while (!w->woken) {
        if (pthread_cond_timedwait(&w->cv, &q->mu, &ts) == ETIMEDOUT && !w->woken) {
            unstack_locked(q, w);
            return false;
        }
    }
    return true;
}

/*
 * Wait for an item (mu held).  \return it, or NULL when this thread should
 * exit (the queue stops, or it idled long enough and enough others are alive)
 */
static struct vf_workq_item *
wait_item_locked(struct vf_workq *q, struct idler *w)
{
    while (q->head == NULL) {
        if (q->stop) {
            return NULL;
        }
        if (!idle_locked(q, w) && q->head == NULL && q->n_threads > q->p.min_threads) {
            return NULL;
        }
    }
    return pop_locked(q);
}

static void *
worker_main(void *arg)
{
    struct idler *w = arg;
    struct vf_workq *q = w->q;
    struct vf_workq_item *it = NULL;

    pthread_mutex_lock(&q->mu);
    while ((it = wait_item_locked(q, w)) != NULL) {
        pthread_mutex_unlock(&q->mu);
        if (vf_now_ms() > it->deadline_ms) {
            q->p.expire(it, q->p.arg);
        } else {
            q->p.run(it, q->p.arg);
        }
        pthread_mutex_lock(&q->mu);
    }
    q->n_threads--;
    pthread_cond_broadcast(&q->exit_cv);
    pthread_mutex_unlock(&q->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    return NULL;
}

/* Start one more thread (mu held).  \return 0 or -errno */
static int
spawn_locked(struct vf_workq *q)
{
    struct idler *w = calloc(1, sizeof(*w));
    pthread_attr_t attr;
    pthread_t tid;
    int r = 0;

    if (w == NULL) {
        return -ENOMEM;
    }
    if (vf_cond_init_monotonic(&w->cv) < 0) {
        free(w);
        return -ENOMEM;
    }
    w->q = q;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (q->p.stack_size > 0) {
        pthread_attr_setstacksize(&attr, q->p.stack_size);
    }
    r = pthread_create(&tid, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        pthread_cond_destroy(&w->cv);
        free(w);
        return -r;
    }
    q->n_threads++;
    return 0;
}

/* Unlink @item, the last one queued (mu held). */
static void
unqueue_last_locked(struct vf_workq *q, struct vf_workq_item *item)
{
    struct vf_workq_item **pp = &q->head;

    q->tail = NULL;
    while (*pp != item) {
        q->tail = *pp;
        pp = &(*pp)->next;
    }
    *pp = NULL;
    q->n_queued--;
}

int
vf_workq_push(struct vf_workq *q, struct vf_workq_item *item)
{
    int r = 0;

    pthread_mutex_lock(&q->mu);
    if (q->stop || q->n_queued >= q->p.max_queued) {
        pthread_mutex_unlock(&q->mu);
        return q->stop ? -ESHUTDOWN : -EAGAIN;
    }
    item->next = NULL;
    if (q->tail != NULL) {
        q->tail->next = item;
    } else {
        q->head = item;
    }
    q->tail = item;
    q->n_queued++;
    if (q->n_queued > q->n_waiting && q->n_threads < q->p.max_threads) {
        r = spawn_locked(q);
        if (r < 0 && q->n_threads == 0) {
            /* no thread at all to serve it: never leave it stranded */
            unqueue_last_locked(q, item);
            pthread_mutex_unlock(&q->mu);
            return r;
        }
        if (r < 0) {
            vf_log(LOG_WARNING, "cannot start another worker thread: %s; request queued",
                   strerror(-r));
        }
    } else if (q->idle_top != NULL) {
        wake_top_locked(q);
    }
    pthread_mutex_unlock(&q->mu);
    return 0;
}

/* Unlink the items at the head whose deadline is before @now, or all of
 * them (@all) (mu held).  \return them as a list */
static struct vf_workq_item *
take_expired_locked(struct vf_workq *q, int64_t now, bool all)
{
    struct vf_workq_item *expired = NULL, **tail = &expired;

    /* one FIFO, one timeout per caller: expired items are at its head */
    while (q->head != NULL && (all || q->head->deadline_ms < now)) {
        struct vf_workq_item *it = pop_locked(q);

        *tail = it;
        tail = &it->next;
    }
    return expired;
}

static void
expire_list(struct vf_workq *q, struct vf_workq_item *list)
{
    while (list != NULL) {
        struct vf_workq_item *it = list;

        list = it->next;
        it->next = NULL;
        q->p.expire(it, q->p.arg);
    }
}

void
vf_workq_reap(struct vf_workq *q)
{
    struct vf_workq_item *expired = NULL;

    pthread_mutex_lock(&q->mu);
    expired = take_expired_locked(q, vf_now_ms(), false);
    pthread_mutex_unlock(&q->mu);
    expire_list(q, expired);
}

/* *@field of @q, read under its lock */
static unsigned int
read_count(struct vf_workq *q, const unsigned int *field)
{
    unsigned int n = 0;

    pthread_mutex_lock(&q->mu);
    n = *field;
    pthread_mutex_unlock(&q->mu);
    return n;
}

unsigned int
vf_workq_queued(struct vf_workq *q)
{
    return read_count(q, &q->n_queued);
}

unsigned int
vf_workq_threads(struct vf_workq *q)
{
    return read_count(q, &q->n_threads);
}

void
vf_workq_set_max_queued(struct vf_workq *q, unsigned int max_queued)
{
    pthread_mutex_lock(&q->mu);
    if (max_queued > 0) {
        q->p.max_queued = max_queued;
    }
    pthread_mutex_unlock(&q->mu);
}

unsigned int
vf_workq_free(struct vf_workq *q, int timeout_ms)
{
    int64_t deadline = vf_now_ms() + timeout_ms;
    struct timespec ts = vf_deadline_timespec(deadline);
    struct vf_workq_item *left = NULL;
    unsigned int alive = 0;

    if (q == NULL) {
        return 0;
    }
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    left = take_expired_locked(q, 0, true);
    while (q->idle_top != NULL) {
        wake_top_locked(q);
    }
    pthread_mutex_unlock(&q->mu);
    expire_list(q, left);
    pthread_mutex_lock(&q->mu);
    while (q->n_threads > 0 && vf_now_ms() < deadline) {
        pthread_cond_timedwait(&q->exit_cv, &q->mu, &ts);
    }
    alive = q->n_threads;
    pthread_mutex_unlock(&q->mu);
    if (alive > 0) {
        vf_dbg(1, "work queue: %u thread(s) still busy, left running", alive);
        return alive;
    }
    pthread_cond_destroy(&q->exit_cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
    return 0;
}
