/*
 * vmfence - lib/tests/test-condwait.c: unit tests for lib/condwait.h
 * (a flag set by another thread is seen; a deadline ends the wait).
 */
#include <pthread.h>
#include <stdbool.h>

#include "condwait.h"
#include "io.h"
#include "timeutil.h"
#include "vftest.h"

struct cw {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool flag;
};

static void *
setter(void *arg)
{
    struct cw *c = arg;

    vf_sleep_ms(20);
    vf_cond_set_flag(&c->cond, &c->lock, &c->flag);
    return NULL;
}

static void
test_wait(void)
{
    struct cw c = { .flag = false };
    struct timespec ts;
    pthread_t t;
    bool seen;

    pthread_mutex_init(&c.lock, NULL);
    VFT_EQ_INT(vf_cond_init_monotonic(&c.cond), 0);

    /* nobody sets it: the (short) deadline ends the wait, false */
    ts = vf_deadline_timespec(vf_now_ms() + 30);
    pthread_mutex_lock(&c.lock);
    seen = vf_cond_wait_flag(&c.cond, &c.lock, &c.flag, &ts);
    pthread_mutex_unlock(&c.lock);
    VFT_CHECK(!seen);

    /* another thread sets it: seen well before the generous deadline */
    VFT_EQ_INT(pthread_create(&t, NULL, setter, &c), 0);
    ts = vf_deadline_timespec(vf_now_ms() + 30000);
    pthread_mutex_lock(&c.lock);
    seen = vf_cond_wait_flag(&c.cond, &c.lock, &c.flag, &ts);
    pthread_mutex_unlock(&c.lock);
    VFT_CHECK(seen);
    pthread_join(t, NULL);

    /* already set: true at once, even past the deadline */
    ts = vf_deadline_timespec(vf_now_ms() - 1000);
    pthread_mutex_lock(&c.lock);
    VFT_CHECK(vf_cond_wait_flag(&c.cond, &c.lock, &c.flag, &ts));
    pthread_mutex_unlock(&c.lock);

    pthread_cond_destroy(&c.cond);
    pthread_mutex_destroy(&c.lock);
}

int
main(void)
{
    VFT_RUN(test_wait);
    VFT_EXIT();
}
