/*
 * vmfence - daemon/dlock.h: per-target shared/exclusive locks.
 *
 * Owns the serialisation of operations on one VM.  A lock is named by a
 * key (the pipeline uses "uuid:<uuid>" or "name:<name>") and exists only
 * while somebody holds or waits for it.  Power operations take it
 * exclusively, statuses shared: statuses of one target run together, but
 * never beside a power operation on it, so a status reports the state
 * before or after an operation, never a half-done reboot.  Waiting
 * exclusive holders have priority, so a stream of statuses cannot starve
 * an off.  Each lock has condition variables of its own: a release wakes
 * only the waiters of that target.
 */
#ifndef VF_DLOCK_H
#define VF_DLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct vf_dlocks;       /* a table of locks */
struct vf_dlock;        /* one held lock */

/* \return a new, empty table, or NULL (out of memory) */
struct vf_dlocks *vf_dlocks_new(void);
/* Free @t (NULL-tolerant); no lock of it may be held or waited for. */
void vf_dlocks_free(struct vf_dlocks *t);

/*
 * Take the lock @key of @t, shared (@shared) or exclusive, waiting at most
 * until @deadline_ms (vf_now_ms() clock).  A waiter that times out still
 * takes the lock if it became free meanwhile.
 * \return the held lock, or NULL (timed out, out of memory)
 */
struct vf_dlock *vf_dlock_acquire(struct vf_dlocks *t, const char *key, bool shared,
                                  int64_t deadline_ms);
/* Release a lock vf_dlock_acquire() returned (NULL-tolerant). */
void vf_dlock_release(struct vf_dlock *d);

#endif
