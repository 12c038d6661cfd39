/*
 * vmfence - daemon/workq.h: a pool of worker threads behind a FIFO queue.
 *
 * Owns threads and the queue, nothing else: what an item is and what
 * serving it means belongs to the caller, who embeds a struct
 * vf_workq_item in its own record.  Threads start on demand (at most
 * max_threads); idle ones beyond min_threads exit after idle_ms (the
 * thread that went idle last is the next to work, so threads a light load
 * does not need do go idle that long).  The
 * queue is bounded (max_queued), and every item carries a deadline: an
 * item no thread took by then is handed to the expire callback instead of
 * run, so a backlog is dropped rather than served late.
 *
 * Callbacks run without any lock of the queue held, in a pool thread, or
 * (expire, from vf_workq_reap) in the caller's.  The queue's threads are
 * detached and inherit the signal mask of the thread that pushes.
 */
#ifndef VF_WORKQ_H
#define VF_WORKQ_H

#include <stddef.h>
#include <stdint.h>

struct vf_workq_item {
    int64_t deadline_ms;        /* vf_now_ms() clock; set by the caller before push */
    struct vf_workq_item *next; /* the queue's */
};

typedef void (*vf_workq_fn)(struct vf_workq_item *item, void *arg);

struct vf_workq_params {
    unsigned int max_threads;
    unsigned int min_threads;   /* idle threads kept */
    int idle_ms;                /* the others exit after this long idle */
    unsigned int max_queued;    /* items waiting; push refuses beyond */
    size_t stack_size;          /* 0: the system's default */
    vf_workq_fn run;            /* required: a thread took the item in time */
    vf_workq_fn expire;         /* required: nobody took it before its deadline */
    void *arg;                  /* passed to both */
};

struct vf_workq;

/* \return 0 and the queue in @ret_q, or -ENOMEM / -EINVAL */
int vf_workq_new(const struct vf_workq_params *params, struct vf_workq **ret_q);

/*
 * Queue @item (its deadline set) and make sure a thread will serve it.
 * \return 0 (queued; the queue calls run or expire for it exactly once),
 *         -EAGAIN (max_queued items wait already) or -errno (no thread
 *         could be started and none is alive); on error @item is not queued
 */
int vf_workq_push(struct vf_workq *q, struct vf_workq_item *item);

/* Hand the queued items whose deadline has passed to expire, now. */
void vf_workq_reap(struct vf_workq *q);

/* Items waiting for a thread. */
unsigned int vf_workq_queued(struct vf_workq *q);

/* Threads alive (busy or idle). */
unsigned int vf_workq_threads(struct vf_workq *q);

/* Change the queue bound (0 keeps the current one). */
void vf_workq_set_max_queued(struct vf_workq *q, unsigned int max_queued);

/*
 * Stop: no thread takes new items from now on; wait up to @timeout_ms for
 * the threads to exit, then free the queue (NULL-tolerant).  Items still
 * queued are expired first.  If a thread is still busy after the timeout,
 * the queue stays allocated for it (it exits when its item returns).
 * \return the number of threads still alive
 */
unsigned int vf_workq_free(struct vf_workq *q, int timeout_ms);

#endif
