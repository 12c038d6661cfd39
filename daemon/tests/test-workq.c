/*
 * vmfence - daemon/tests/test-workq.c: unit tests of the worker pool
 * (workq.c): every item is run or expired exactly once, a trickle after a
 * burst is served by the thread that went idle last so the others leave
 * after idle_ms, and freeing the queue ends its idle threads.  Real
 * threads, no fakes; waits are bounded (at most a few seconds each).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "vftest.h"
#include "workq.h"

#define BURST 16

struct job {
    struct vf_workq_item it;
    pthread_t ran_on;
    atomic_int runs;
    atomic_int expires;
    int hold_ms;                /* how long run() keeps its thread */
    bool gated;                 /* run() waits for the gate first */
};

static atomic_int total_runs;
static atomic_bool gate_open;   /* gated jobs wait for it (5 s at most) */

static void
job_run(struct vf_workq_item *item, void *arg)
{
    struct job *j = (struct job *)item;

    (void)arg;
    j->ran_on = pthread_self();
    for (int i = 0; j->gated && !atomic_load(&gate_open) && i < 5000; i++) {
        usleep(1000);
    }
    if (j->hold_ms > 0) {
        usleep((useconds_t)j->hold_ms * 1000);
    }
    atomic_fetch_add(&j->runs, 1);
    atomic_fetch_add(&total_runs, 1);
}

static void
job_expire(struct vf_workq_item *item, void *arg)
{
    struct job *j = (struct job *)item;

    (void)arg;
    atomic_fetch_add(&j->expires, 1);
}

static struct vf_workq *
new_queue(unsigned int min_threads, int idle_ms)
{
    struct vf_workq_params p = {
        .max_threads = BURST, .min_threads = min_threads, .idle_ms = idle_ms,
        .max_queued = 4 * BURST, .run = job_run, .expire = job_expire,
    };
    struct vf_workq *q = NULL;

    VFT_EQ_INT(vf_workq_new(&p, &q), 0);
    return q;
}

/* Wait until every job of @jobs ran or expired (bounded: 5 s). */
static void
wait_done(struct job *jobs, int n)
{
    int64_t end = vf_now_ms() + 5000;
    int done = 0;

    while (vf_now_ms() < end) {
        done = 0;
        for (int i = 0; i < n; i++) {
            done += atomic_load(&jobs[i].runs) + atomic_load(&jobs[i].expires);
        }
        if (done >= n) {
            break;
        }
        usleep(1000);
    }
    VFT_EQ_INT(done, n);
}

/* Push @j with a deadline far ahead. */
static void
push(struct vf_workq *q, struct job *j, int hold_ms)
{
    memset(j, 0, sizeof(*j));
    j->hold_ms = hold_ms;
    j->it.deadline_ms = vf_now_ms() + 10000;
    VFT_EQ_INT(vf_workq_push(q, &j->it), 0);
}

/* @n jobs that all hold a thread at once (gated until every one is
 * queued, so each needs a thread of its own, however slow the machine) */
static void
push_burst(struct vf_workq *q, struct job *jobs, int n)
{
    atomic_store(&gate_open, false);
    for (int i = 0; i < n; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].gated = true;
        jobs[i].it.deadline_ms = vf_now_ms() + 10000;
        VFT_EQ_INT(vf_workq_push(q, &jobs[i].it), 0);
    }
    atomic_store(&gate_open, true);
    wait_done(jobs, n);
}

static void
test_every_item_runs_once(void)
{
    struct vf_workq *q = new_queue(2, 5000);
    static struct job jobs[3 * BURST];

    for (int i = 0; i < 3 * BURST; i++) {
        push(q, &jobs[i], i % 3);
    }
    wait_done(jobs, 3 * BURST);
    for (int i = 0; i < 3 * BURST; i++) {
        VFT_EQ_INT(atomic_load(&jobs[i].runs), 1);
        VFT_EQ_INT(atomic_load(&jobs[i].expires), 0);
    }
    VFT_CHECK(vf_workq_threads(q) <= BURST);
    VFT_EQ_INT(vf_workq_free(q, 2000), 0);
}

/* @t into @seen (@n of them so far, at most BURST) if new; \return the count */
static int
note_thread(pthread_t *seen, int n, pthread_t t)
{
    for (int i = 0; i < n; i++) {
        if (pthread_equal(seen[i], t)) {
            return n;
        }
    }
    if (n < BURST) {
        seen[n++] = t;
    }
    return n;
}

/*
 * A burst starts BURST threads; then one item at a time, each waiting for
 * the previous: the thread that went idle last takes each one, so the
 * trickle runs on one thread (two when the next item comes before the last
 * thread is back on the stack: a slow machine, valgrind), and the others,
 * never woken, leave after idle_ms while the trickle goes on.  With one
 * shared condition variable the wake-ups went round all BURST threads.
 */
static void
test_trickle_keeps_one_thread(void)
{
    struct vf_workq *q = new_queue(1, 300);
    static struct job burst[BURST];
    struct job trickle;
    pthread_t seen[BURST];
    int distinct = 0;
    int64_t end = 0;

    push_burst(q, burst, BURST);
    VFT_EQ_INT(vf_workq_threads(q), BURST);
    /* about 1.5 s of trickle: five times the idle timeout */
    end = vf_now_ms() + 1500;
    for (int n = 0; n < 500 && vf_now_ms() < end; n++) {
        push(q, &trickle, 0);
        wait_done(&trickle, 1);
        distinct = note_thread(seen, distinct, trickle.ran_on);
        usleep(2000);
    }
    VFT_CHECK(distinct >= 1 && distinct <= 3);
    /* the idle ones left although an item came every few milliseconds */
    VFT_CHECK(vf_workq_threads(q) <= 3);
    VFT_EQ_INT(vf_workq_free(q, 2000), 0);
}

/* Freeing the queue wakes and ends its idle threads (none left running). */
static void
test_free_ends_idle_threads(void)
{
    struct vf_workq *q = new_queue(BURST, 60000);
    static struct job burst[BURST];

    push_burst(q, burst, BURST);
    VFT_EQ_INT(vf_workq_threads(q), BURST);
    VFT_EQ_INT(vf_workq_free(q, 3000), 0);
}

/* An item whose deadline passed before a thread took it is expired, not run. */
static void
test_late_item_expires(void)
{
    struct vf_workq_params p = {
        .max_threads = 1, .min_threads = 1, .idle_ms = 5000,
        .max_queued = 4, .run = job_run, .expire = job_expire,
    };
    struct vf_workq *q = NULL;
    static struct job slow, late;

    VFT_EQ_INT(vf_workq_new(&p, &q), 0);
    push(q, &slow, 200);            /* the one thread is busy for 200 ms */
    memset(&late, 0, sizeof(late));
    late.it.deadline_ms = vf_now_ms() + 50;
    VFT_EQ_INT(vf_workq_push(q, &late.it), 0);
    wait_done(&late, 1);
    VFT_EQ_INT(atomic_load(&late.runs), 0);
    VFT_EQ_INT(atomic_load(&late.expires), 1);
    VFT_EQ_INT(vf_workq_free(q, 2000), 0);
}

int
main(void)
{
    VFT_RUN(test_every_item_runs_once);
    VFT_RUN(test_trickle_keeps_one_thread);
    VFT_RUN(test_free_ends_idle_threads);
    VFT_RUN(test_late_item_expires);
    VFT_CHECK(atomic_load(&total_runs) > 0);
    VFT_EXIT();
}
