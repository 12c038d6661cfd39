/*
 * vmfence - lib/timeutil.h: monotonic time for threads that wait.
 *
 * Owns the three small pieces every waiting thread needs, so they exist
 * once: a condition variable that times out on CLOCK_MONOTONIC (the clock
 * of vf_now_ms() in io.h, immune to wall-clock jumps), the conversion of an
 * absolute vf_now_ms() deadline into the timespec pthread_cond_timedwait()
 * takes, and a sleep that signals do not cut short.
 */
#ifndef VF_TIMEUTIL_H
#define VF_TIMEUTIL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/*
 * Initialise @cv to time out against CLOCK_MONOTONIC.
 * \return 0 or a negative errno (pthread_cond_init's error)
 */
int vf_cond_init_monotonic(pthread_cond_t *cv);

/* An absolute CLOCK_MONOTONIC deadline in ms (vf_now_ms() + x) as a timespec. */
struct timespec vf_deadline_timespec(int64_t deadline_ms);

/* Sleep @ms milliseconds (nothing for ms <= 0), resuming after signals. */
void vf_sleep_ms(int64_t ms);

#endif
