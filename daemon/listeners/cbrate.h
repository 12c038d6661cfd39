/*
 * vmfence - daemon/listeners/cbrate.h: connect-back rate limit per destination.
 *
 * The multicast listener connects back to the address written in each
 * request.  Whoever can make it do that often (a key holder, or copies the
 * replay cache has not seen) would turn the daemon into a reflector aimed
 * at one guest.  Each destination address gets a token bucket: a burst of
 * VF_CBRATE_BURST connect-backs, refilled at VF_CBRATE_PER_SEC per second.
 * fence_xvm needs one connect-back per request and round (a round is 2 s
 * by default), so legitimate traffic, even several agents of one node at
 * once, stays far below it.
 *
 * The table has a fixed number of destinations (least recently used one
 * replaced), so memory is bounded; it is thread-safe (workers call it).
 */
#ifndef VF_CBRATE_H
#define VF_CBRATE_H

#include <stdbool.h>
#include <stdint.h>

#define VF_CBRATE_BURST    8
#define VF_CBRATE_PER_SEC  2
#define VF_CBRATE_SLOTS    256

struct vf_cbrate;

struct vf_cbrate *vf_cbrate_new(void);
/* NULL-tolerant; returns NULL. */
struct vf_cbrate *vf_cbrate_free(struct vf_cbrate *cr);
/*
 * May we connect back to @dest (address text, no port) at @now_ms?  Takes a
 * token when yes.  A NULL @cr allows everything.
 */
bool vf_cbrate_allow(struct vf_cbrate *cr, const char *dest, int64_t now_ms);

#endif
