/*
 * vmfence - daemon/replay.h: the replay cache (signed requests run at most once).
 *
 * Every signed request carries 6 random bytes and a digest over the key and
 * all its other bytes, and fence_xvm/fence_virt sign every packet they send
 * afresh.  So two byte-identical signed requests are never two legitimate
 * requests: the second is a copy somebody captured and sent again.  The
 * 10-second duplicate window (history.h) cannot stop such a replay: it
 * forgets, and a replay sent 11 s later ran again (and made the daemon
 * connect back to the victim each time).
 *
 * A request is known by its hash type and the first 16 bytes of its digest
 * (the digest covers every other byte, so two verified requests with the
 * same digest are the same request).  This cache remembers that of every
 * request that passed verification, shared by all listeners, for as long
 * as its bounded memory lasts (VF_REPLAY_ENTRIES; with the request rates of a cluster, hours),
 * so an identical request is dropped at once, before any worker or
 * connect-back is spent on it, whatever became of the first copy.
 *
 * Unsigned requests (hash "none") have no digest and are not covered:
 * anyone can forge them anyway.  The cache is filled only with verified
 * requests, so nobody without the key can push entries out of it.
 */
#ifndef VF_REPLAY_H
#define VF_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include "wire.h"

#define VF_REPLAY_ENTRIES 32768     /* remembered requests (24 bytes each) */

struct vf_replay;

/* A cache for @entries requests (rounded up to a power of two, >= 8). */
struct vf_replay *vf_replay_new(unsigned int entries);
/* NULL-tolerant; returns NULL. */
struct vf_replay *vf_replay_free(struct vf_replay *rc);

/*
 * Has the signed request @req been recorded already?  Cheap enough for a
 * listener thread; @req need not be verified yet (an unverified copy that
 * matches is dropped either way: it is a replay or a forgery).
 * \return true when seen; false when new, or when @req is unsigned
 */
bool vf_replay_seen(struct vf_replay *rc, const struct vf_req *req);

/*
 * Record the VERIFIED signed request @req at @now_ms, atomically with the
 * check.
 * \return 0 when recorded (first copy), -EALREADY when it was recorded
 *         before (a replay: drop it), -EINVAL when @req is unsigned
 * \param[out] ret_first_ms  when the first copy was seen (on -EALREADY; may be NULL)
 */
int vf_replay_record(struct vf_replay *rc, const struct vf_req *req, int64_t now_ms,
                     int64_t *ret_first_ms);

/* Requests remembered now (tests, statistics). */
unsigned int vf_replay_count(struct vf_replay *rc);

#endif
