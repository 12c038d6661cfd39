/*
 * vmfence - lib/condwait.h: a bool guarded by a mutex, waited for on a
 * condition variable until a deadline.
 *
 * The hand-shake of a thread and the one that stops it (or of a job and
 * its caller): one side sets the flag under the lock and wakes every
 * waiter, the other waits for it, bounded by an absolute CLOCK_MONOTONIC
 * deadline (timeutil.h), and then reads what it found.  Header-only, so
 * that plugins use it without linking anything of lib/.
 */
#ifndef VF_CONDWAIT_H
#define VF_CONDWAIT_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

/*
 * With @lock held: wait on @cond (vf_cond_init_monotonic) until *@flag is
 * true or @ts (vf_deadline_timespec) passes.  @lock is held again on return.
 * \return *@flag
 */
static inline bool
vf_cond_wait_flag(pthread_cond_t *cond, pthread_mutex_t *lock, const bool *flag,
                  const struct timespec *ts)
{
    while (!*flag) {
        if (pthread_cond_timedwait(cond, lock, ts) == ETIMEDOUT) {
            break;
        }
    }
    return *flag;
}

/* Set *@flag under @lock (not held by the caller) and wake every waiter on @cond. */
static inline void
vf_cond_set_flag(pthread_cond_t *cond, pthread_mutex_t *lock, bool *flag)
{
    pthread_mutex_lock(lock);
    *flag = true;
    pthread_cond_broadcast(cond);
    pthread_mutex_unlock(lock);
}

#endif
