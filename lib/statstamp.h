/*
 * vmfence - lib/statstamp.h: the status stamp, one shared page that tells
 * fence_virtd's network process whether a status the privileged process
 * answered from its lifecycle cache still holds.
 *
 * The privileged process owns the page and is its only writer:
 *  - gen: bumped (inside the cache's lock) by every change of what the
 *    cache answers: a domain marked, a lookup stored, a resync, the cache
 *    made invalid, created or freed, a libvirt call abandoned as hung;
 *  - trusted_until_ms: CLOCK_MONOTONIC ms until which the cache trusts
 *    itself (a libvirt call answered within its freshness window); 0: not.
 * A status the cache answered is stamped with the gen read before it was
 * asked; the network process may give the same answer again, to the same
 * target string, while the gen is still that stamp and the trust window
 * is open: nothing the cache answers from has changed since (any change
 * bumps), and the time rule is the cache's own.
 *
 * The page is a sealed memfd (it cannot shrink, grow or be mapped
 * writable again) that the network process maps read-only; the privileged
 * process never reads it back for a decision, so a hostile network
 * process can at worst fool itself.  Without a page (no privilege
 * separation) the same calls work on a process-local copy.
 *
 * Functions return 0 or a negative errno.
 */
#ifndef VF_STATSTAMP_H
#define VF_STATSTAMP_H

#include <stdbool.h>
#include <stdint.h>

/* ---- the privileged process (the writer) ---- */

/* Move the stamp into a new sealed memfd page; its fd (O_CLOEXEC) in
 * *@ret_fd for the network process.  Call once, before it starts. */
int vf_statstamp_share(int *ret_fd);
/* What the cache answers changed. */
void vf_statstamp_bump(void);
/* The gen now: stamp an answer with the value read before asking. */
uint64_t vf_statstamp_gen(void);
/* The cache trusts itself until @until_ms (0: not at all). */
void vf_statstamp_trust_until(int64_t until_ms);

/* ---- the network process (a reader) ---- */

/* Map the page of @fd read-only (the fd may be closed afterwards). */
int vf_statstamp_attach(int fd);
/* Unmap it (NULL-tolerant in spirit: a no-op without one). */
void vf_statstamp_detach(void);
/* true if an answer stamped @gen still holds at @now_ms: a page is
 * attached, nothing changed since @gen and the trust window is open */
bool vf_statstamp_holds(uint64_t gen, int64_t now_ms);

#endif
