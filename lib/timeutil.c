/*
 * vmfence - lib/timeutil.c: monotonic condition variables, deadlines, sleep.
 */
#include <errno.h>

#include "timeutil.h"

int
vf_cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    int r = 0;

    r = pthread_condattr_init(&ca);
    if (r != 0) {
        return -r;
    }
    r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (r == 0) {
        r = pthread_cond_init(cv, &ca);
    }
    pthread_condattr_destroy(&ca);
    return -r;
}

struct timespec
vf_deadline_timespec(int64_t deadline_ms)
{
    struct timespec ts;

    if (deadline_ms < 0) {
        deadline_ms = 0;
    }
    ts.tv_sec = (time_t)(deadline_ms / 1000);
    ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
    return ts;
}

void
vf_sleep_ms(int64_t ms)
{
    struct timespec ts;

    if (ms <= 0) {
        return;
    }
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        continue;
    }
}
