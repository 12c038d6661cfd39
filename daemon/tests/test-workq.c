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
};

static atomic_int total_runs;

static void
job_run(struct vf_workq_item *item, void *arg)
{
    struct job *j = (struct job *)item;

    (void)arg;
    j->ran_on = pthread_self();
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

/*
 * A burst starts BURST threads; then one item at a time, each waiting for
 * the previous: the thread that went idle last takes each one, so they all
 * run on one thread, and the others, never woken, leave after idle_ms
 * while the trickle goes on.
 */
static void
test_trickle_keeps_one_thread(void)
{
    struct vf_workq *q = new_queue(1, 300);
    static struct job burst[BURST];
    struct job trickle;
    pthread_t first = 0;
    bool same = true;
    int64_t end = 0;

    for (int i = 0; i < BURST; i++) {
        push(q, &burst[i], 50);     /* all busy at once: BURST threads */
    }
    wait_done(burst, BURST);
    VFT_EQ_INT(vf_workq_threads(q), BURST);
    /* about 1.2 s of trickle: four times the idle timeout */
    end = vf_now_ms() + 1200;
    for (int n = 0; n < 400 && vf_now_ms() < end; n++) {
        push(q, &trickle, 0);
        wait_done(&trickle, 1);
        if (n == 0) {
            first = trickle.ran_on;
        } else if (!pthread_equal(first, trickle.ran_on)) {
            same = false;
        }
        usleep(2000);
    }
    VFT_CHECK(same);
    /* the idle ones left although an item came every few milliseconds */
    VFT_CHECK(vf_workq_threads(q) <= 2);
    VFT_EQ_INT(vf_workq_free(q, 2000), 0);
}

/* Freeing the queue wakes and ends its idle threads (none left running). */
static void
test_free_ends_idle_threads(void)
{
    struct vf_workq *q = new_queue(BURST, 60000);
    static struct job burst[BURST];

    for (int i = 0; i < BURST; i++) {
        push(q, &burst[i], 20);
    }
    wait_done(burst, BURST);
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
