/*
 * vmfence - daemon/privsep/trim.c: how the two processes give memory back
 * (privsep.h).
 *
 * glibc's malloc keeps freed memory for reuse, and by default raises its
 * mmap threshold to the size of the largest block freed: after one list
 * answer for a host with thousands of domains (arrays of megabytes, grown
 * by realloc in a worker thread), later large blocks come from the
 * threads' arenas, whose tops malloc_trim() does not shrink, so each
 * process kept the peak for its whole life.  A fixed threshold keeps large
 * blocks in mappings of their own, unmapped when freed.  After a large
 * list the executor also trims (the backend's copy is freed by then); the
 * network process's list answer trims in hostlist.c.
 */
#include <stddef.h>
#include <stdlib.h>     /* __GLIBC__ */
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "log.h"
#include "privsep/privsep.h"

#define MMAP_THRESHOLD (256 * 1024)     /* blocks this large get their own mapping */

void
vf_ps_malloc_setup(void)
{
#ifdef __GLIBC__
    /* fixed (not raised by what is freed); also fixes the trim threshold */
    (void)mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
#endif
}

/*
 * glibc gives threads arenas of their own (up to 8 per CPU), and an arena
 * is never freed: after a burst of 64 clients the network process kept
 * about a megabyte of them, for its worker threads' few small blocks (a
 * connection record on the worker path; nothing per request in place).
 * One arena's lock costs nothing worth measuring at these rates.
 */
void
vf_ps_malloc_setup_net(void)
{
#ifdef __GLIBC__
    (void)mallopt(M_ARENA_MAX, 1);
#endif
}

bool
vf_ps_trim_wanted(size_t bytes)
{
    return bytes >= VF_PS_TRIM_MIN_BYTES;
}

void
vf_ps_trim_now(const char *why)
{
#ifdef __GLIBC__
    int released = malloc_trim(0);

    vf_dbg(2, "privsep: memory trimmed after %s%s", why, released ? "" : " (nothing released)");
#else
    (void)why;
#endif
}

/*
 * A burst leaves memory behind in the heap: the blocks the surplus worker
 * threads used and cached (glibc's per-thread caches go back to the arena
 * when a thread exits, where they stay).  Once those threads have left,
 * hand the free pages back, once per burst: about 350 kB after 64 clients.
 */
void
vf_ps_trim_after_burst(unsigned int workers, unsigned int floor)
{
    static unsigned int peak;   /* the main loop's thread only */

    if (workers > peak) {
        peak = workers;
    } else if (peak > floor && workers <= floor) {
        peak = workers;
        vf_ps_trim_now("a burst of requests");
    }
}
