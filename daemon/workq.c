/*
 * vmfence - daemon/workq.c: worker pool + bounded FIFO queue (workq.h).
 *
 * Every queued item is covered by a waiting thread, or push starts a new
 * one; a thread that cannot be started is only fatal for the item when no
 * thread at all is alive to serve the queue later.
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

struct vf_workq {
    struct vf_workq_params p;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;     /* an item was queued / the queue stops */
    pthread_cond_t exit_cv;     /* a thread exited (CLOCK_MONOTONIC) */
    struct vf_workq_item *head, *tail;
    unsigned int n_queued;
    unsigned int n_threads;     /* alive */
    unsigned int n_waiting;     /* alive and waiting for an item */
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
    if (vf_cond_init_monotonic(&q->work_cv) < 0) {
        goto fail_mu;
    }
    if (vf_cond_init_monotonic(&q->exit_cv) < 0) {
        goto fail_work;
    }
    *ret_q = q;
    return 0;
fail_work:
    pthread_cond_destroy(&q->work_cv);
fail_mu:
    pthread_mutex_destroy(&q->mu);
    free(q);
    return -ENOMEM;
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

/*
 * Wait for an item (mu held).  \return it, or NULL when this thread should
 * exit (the queue stops, or it idled long enough and enough others are alive)
 */
static struct vf_workq_item *
wait_item_locked(struct vf_workq *q)
{
    while (q->head == NULL) {
        struct timespec ts = vf_deadline_timespec(vf_now_ms() + q->p.idle_ms);
        int w = 0;

        if (q->stop) {
            return NULL;
        }
        q->n_waiting++;
        w = pthread_cond_timedwait(&q->work_cv, &q->mu, &ts);
        q->n_waiting--;
        if (w == ETIMEDOUT && q->head == NULL && q->n_threads > q->p.min_threads) {
            return NULL;
        }
    }
    return pop_locked(q);
}

static void *
worker_main(void *arg)
{
    struct vf_workq *q = arg;
    struct vf_workq_item *it = NULL;

    pthread_mutex_lock(&q->mu);
    while ((it = wait_item_locked(q)) != NULL) {
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
    return NULL;
}

/* Start one more thread (mu held).  \return 0 or -errno */
static int
spawn_locked(struct vf_workq *q)
{
    pthread_attr_t attr;
    pthread_t tid;
    int r = 0;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (q->p.stack_size > 0) {
        pthread_attr_setstacksize(&attr, q->p.stack_size);
    }
    r = pthread_create(&tid, &attr, worker_main, q);
    pthread_attr_destroy(&attr);
    if (r != 0) {
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
    bool wake = false;
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
    } else {
        wake = true;
    }
    pthread_mutex_unlock(&q->mu);
    if (wake) {
        /* after unlocking, so the woken thread does not block on mu at
         * once; it re-checks the queue under mu */
        pthread_cond_signal(&q->work_cv);
    }
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

unsigned int
vf_workq_queued(struct vf_workq *q)
{
    unsigned int n = 0;

    pthread_mutex_lock(&q->mu);
    n = q->n_queued;
    pthread_mutex_unlock(&q->mu);
    return n;
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
    pthread_cond_broadcast(&q->work_cv);
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
    pthread_cond_destroy(&q->work_cv);
    pthread_cond_destroy(&q->exit_cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
    return 0;
}
