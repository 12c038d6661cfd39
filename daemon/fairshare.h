/*
 * vmfence - daemon/fairshare.h: per-requester in-flight limits.
 *
 * The worker pool and its queue are shared by every guest.  Without a
 * per-requester bound one guest could hold all of them: a serial guest that
 * sends frames with new sequence numbers and stops reading holds a worker
 * for the reply timeout each, a key holder that never answers its
 * challenge holds one for the authentication timeout.  Admission therefore
 * counts the requests each requester identity (the listener's ACL identity:
 * source IP, vsock CID, serial domain UUID, multicast call-back address)
 * has queued or running:
 *
 *  - at most @per_identity_max at once;
 *  - the last @reserve places of the pipeline's capacity only go to
 *    requesters with nothing in flight, so a newcomer (the node that must
 *    fence now) always finds a place while others are busy.
 *
 * Not thread-safe: the pipeline calls it under its own lock.  Memory is
 * bounded by the number of requests in flight (an identity with none is
 * forgotten).
 */
#ifndef VF_FAIRSHARE_H
#define VF_FAIRSHARE_H

#include <stdbool.h>

struct vf_fairshare;

struct vf_fairshare *vf_fairshare_new(unsigned int per_identity_max, unsigned int reserve);
/* NULL-tolerant; returns NULL. */
struct vf_fairshare *vf_fairshare_free(struct vf_fairshare *fs);

/*
 * Admit one more request of @identity while @active of @capacity places are
 * taken.  \return 0 (counted: call vf_fairshare_leave() when it ends),
 * -EBUSY when @identity holds its share (*ret_held tells how many it has),
 * -ENOMEM
 */
int vf_fairshare_admit(struct vf_fairshare *fs, const char *identity, unsigned int active,
                       unsigned int capacity, unsigned int *ret_held);
/* One request of @identity ended. */
void vf_fairshare_leave(struct vf_fairshare *fs, const char *identity);
/* Requests @identity has in flight (tests). */
unsigned int vf_fairshare_held(const struct vf_fairshare *fs, const char *identity);

#endif
