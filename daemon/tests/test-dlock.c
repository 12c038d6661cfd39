/*
 * vmfence - daemon/tests/test-dlock.c: per-target shared/exclusive locks.
 *
 * Each case holds locks from the main thread and tries others from helper
 * threads with short deadlines; "blocked" means acquire returned NULL at
 * its deadline, "taken" that it returned the lock.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dlock.h"
#include "io.h"
#include "timeutil.h"
#include "vftest.h"

#define SHORT_MS 150
#define LONG_MS 5000

static struct vf_dlocks *t;

struct attempt {
    const char *key;
    bool shared;
    int wait_ms;
    bool taken;
    int64_t took_ms;            /* when it was taken (vf_now_ms) */
    pthread_t tid;
};

static void *
attempt_main(void *arg)
{
    struct attempt *a = arg;
    struct vf_dlock *d = vf_dlock_acquire(t, a->key, a->shared, vf_now_ms() + a->wait_ms);

    a->taken = d != NULL;
    a->took_ms = vf_now_ms();
    vf_dlock_release(d);
    return NULL;
}

static void
attempt_start(struct attempt *a, const char *key, bool shared, int wait_ms)
{
    a->key = key;
    a->shared = shared;
    a->wait_ms = wait_ms;
    a->taken = false;
    pthread_create(&a->tid, NULL, attempt_main, a);
}

/* Try @key from another thread, waiting at most @wait_ms.  \return taken */
static bool
try_from_thread(const char *key, bool shared, int wait_ms)
{
    struct attempt a;

    attempt_start(&a, key, shared, wait_ms);
    pthread_join(a.tid, NULL);
    return a.taken;
}

static void
test_exclusive(void)
{
    struct vf_dlock *d = vf_dlock_acquire(t, "uuid:a", false, vf_now_ms() + SHORT_MS);

    VFT_CHECK(d != NULL);
    VFT_CHECK(!try_from_thread("uuid:a", false, SHORT_MS));
    VFT_CHECK(!try_from_thread("uuid:a", true, SHORT_MS));
    VFT_CHECK(try_from_thread("uuid:b", false, SHORT_MS));     /* another target */
    vf_dlock_release(d);
    VFT_CHECK(try_from_thread("uuid:a", false, SHORT_MS));
}

static void
test_shared(void)
{
    struct vf_dlock *s1 = vf_dlock_acquire(t, "name:vm", true, vf_now_ms() + SHORT_MS);
    struct vf_dlock *s2 = vf_dlock_acquire(t, "name:vm", true, vf_now_ms() + SHORT_MS);

    VFT_CHECK(s1 != NULL);
    VFT_CHECK(s2 != NULL);
    VFT_CHECK(try_from_thread("name:vm", true, SHORT_MS));
    VFT_CHECK(!try_from_thread("name:vm", false, SHORT_MS));  /* statuses run */
    vf_dlock_release(s1);
    VFT_CHECK(!try_from_thread("name:vm", false, SHORT_MS));  /* one still runs */
    vf_dlock_release(s2);
    VFT_CHECK(try_from_thread("name:vm", false, SHORT_MS));
}

/* A waiting exclusive holder goes before shared ones that come after it. */
static void
test_exclusive_first(void)
{
    struct vf_dlock *s1 = vf_dlock_acquire(t, "k", true, vf_now_ms() + SHORT_MS);
    struct attempt w;
    int64_t released = 0;

    VFT_CHECK(s1 != NULL);
    attempt_start(&w, "k", false, LONG_MS);
    vf_sleep_ms(50);            /* w is waiting now */
    VFT_CHECK(!try_from_thread("k", true, SHORT_MS));
    released = vf_now_ms();
    vf_dlock_release(s1);
    pthread_join(w.tid, NULL);
    VFT_CHECK(w.taken);
    VFT_CHECK(w.took_ms >= released);
}

/* An exclusive waiter that gives up lets the shared ones it held back go. */
static void
test_timed_out_waiter_lets_shared_go(void)
{
    struct vf_dlock *s1 = vf_dlock_acquire(t, "k", true, vf_now_ms() + SHORT_MS);
    struct attempt w, r;

    VFT_CHECK(s1 != NULL);
    attempt_start(&w, "k", false, 200);
    vf_sleep_ms(50);
    attempt_start(&r, "k", true, LONG_MS);
    pthread_join(w.tid, NULL);
    pthread_join(r.tid, NULL);
    VFT_CHECK(!w.taken);
    VFT_CHECK(r.taken);         /* while s1 is still held */
    vf_dlock_release(s1);
}

/* A released exclusive hold wakes every shared waiter. */
static void
test_release_wakes_shared(void)
{
    struct vf_dlock *x = vf_dlock_acquire(t, "k", false, vf_now_ms() + SHORT_MS);
    struct attempt r[3];

    VFT_CHECK(x != NULL);
    for (int i = 0; i < 3; i++) {
        attempt_start(&r[i], "k", true, LONG_MS);
    }
    vf_sleep_ms(50);
    vf_dlock_release(x);
    for (int i = 0; i < 3; i++) {
        pthread_join(r[i].tid, NULL);
        VFT_CHECK(r[i].taken);
    }
    vf_dlock_release(NULL);     /* NULL-tolerant */
}

int
main(void)
{
    t = vf_dlocks_new();
    VFT_CHECK(t != NULL);
    if (t == NULL) {
        VFT_EXIT();
    }
    VFT_RUN(test_exclusive);
    VFT_RUN(test_shared);
    VFT_RUN(test_exclusive_first);
    VFT_RUN(test_timed_out_waiter_lets_shared_go);
    VFT_RUN(test_release_wakes_shared);
    vf_dlocks_free(t);
    VFT_EXIT();
}
