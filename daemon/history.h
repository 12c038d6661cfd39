/*
 * vmfence - daemon/history.h: bounded duplicate-request table (dedupe).
 *
 * Absorbs retransmissions (fence_xvm repeats the same seqno every retrans
 * tenths of a second, once per local interface) without letting different
 * requesters drop each other's requests: the key includes the listener,
 * the requester identity (where meaningful) and, for signed requests, the
 * random bytes (see pipeline.c for what each listener contributes).
 */
#ifndef VF_HISTORY_H
#define VF_HISTORY_H

#include <stdbool.h>
#include <stdint.h>
#include "wire.h"

#define VF_HISTORY_CAP        1024
#define VF_HISTORY_WINDOW_MS  10000

struct vf_history_key {
    char listener[32];
    char identity[128];          /* "" when not part of the key */
    uint8_t request;
    uint32_t seqno;
    char domain[VF_DOMAIN_FIELD + 1];   /* compared case-insensitively */
    uint8_t random[VF_RANDOM_FIELD];    /* zero when not part of the key */
    uint16_t port;               /* multicast call-back port, 0 otherwise */
};

struct vf_history;

struct vf_history *vf_history_new(unsigned int cap, int64_t window_ms);
struct vf_history *vf_history_free(struct vf_history *h);

/*
 * Atomically check for a duplicate and reserve an entry for @key.
 * Returns 0 and a token in *ret_token, -EEXIST when an equal key is in
 * progress or completed less than window_ms before @now_ms, -ENOSPC when the
 * table is full of in-progress entries.
 */
int vf_history_reserve(struct vf_history *h, const struct vf_history_key *key,
                       int64_t now_ms, uint64_t *ret_token);
/*
 * Connect-back transports (multicast): fence_xvm sends one copy of a request
 * per local interface, and a copy whose call-back address is unreachable
 * must not hold up the others while its connect times out.  A tentative
 * reservation is blocked by live confirmed or completed entries like
 * vf_history_reserve(), but neither blocks nor is blocked by other tentative
 * ones.  Once the reply channel is authenticated, vf_history_confirm() turns
 * it into a normal in-progress entry: -EEXIST (entry released) when another
 * copy was confirmed first or completed within the window.
 */
int vf_history_reserve_tentative(struct vf_history *h, const struct vf_history_key *key,
                                 int64_t now_ms, uint64_t *ret_token);
int vf_history_confirm(struct vf_history *h, uint64_t token, int64_t now_ms);
/*
 * The tentative copy @token has its reply channel open: the client accepted
 * it, so sibling copies that the client then refuses are explained.
 */
void vf_history_opened(struct vf_history *h, uint64_t token);
/*
 * The other copies of @token's request: 1 when one was confirmed (or has
 * completed within the window, or has its reply channel open), 0 when
 * others are still tentative, -1 when there are none (or @token is unknown).
 */
int vf_history_siblings(struct vf_history *h, uint64_t token, int64_t now_ms);
/* The request finished (any result): keep it for the window from @now_ms. */
void vf_history_complete(struct vf_history *h, uint64_t token, int64_t now_ms);
/* The request never really ran (call-back/auth failed): forget it. */
void vf_history_release(struct vf_history *h, uint64_t token);
/* Number of live entries (tests). */
unsigned int vf_history_count(struct vf_history *h, int64_t now_ms);

#endif
