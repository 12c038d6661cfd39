/*
 * vmfence - lib/tests/test-statstamp.c: the status stamp page
 * (statstamp.h): the writer's bumps and trust window as a reader sees them
 * through its own read-only mapping of the same sealed memfd; what the
 * reader cannot do to the page (map it writable, shrink or grow it); and
 * the pages a reader refuses (not sealed, too small).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io.h"
#include "statstamp.h"
#include "vftest.h"

static int page_fd = -1;

/* Without a page, a reader trusts nothing; the writer still counts. */
static void
test_no_page(void)
{
    uint64_t g = vf_statstamp_gen();

    VFT_CHECK(g != 0);
    vf_statstamp_bump();
    VFT_EQ_INT(vf_statstamp_gen(), g + 1);
    vf_statstamp_trust_until(vf_now_ms() + 60000);
    VFT_CHECK(!vf_statstamp_holds(vf_statstamp_gen(), vf_now_ms()));
}

static void
test_share_and_attach(void)
{
    uint64_t before = vf_statstamp_gen();
    uint64_t g;
    int64_t now = vf_now_ms();

    VFT_EQ_INT(vf_statstamp_share(&page_fd), 0);
    VFT_CHECK(page_fd >= 3);
    VFT_CHECK((fcntl(page_fd, F_GETFD) & FD_CLOEXEC) != 0);
    /* later than anything stamped before, trusted as the local copy was */
    g = vf_statstamp_gen();
    VFT_CHECK(g > before);
    VFT_EQ_INT(vf_statstamp_attach(page_fd), 0);
    VFT_CHECK(!vf_statstamp_holds(before, now));
    VFT_CHECK(vf_statstamp_holds(g, now));
    VFT_CHECK(!vf_statstamp_holds(0, now));         /* 0 is never a stamp */
}

/* Every bump ends every stamp before it; the trust window is the writer's. */
static void
test_bump_and_trust(void)
{
    int64_t now = vf_now_ms();
    uint64_t g = vf_statstamp_gen();

    vf_statstamp_trust_until(now + 1000);
    VFT_CHECK(vf_statstamp_holds(g, now));
    VFT_CHECK(vf_statstamp_holds(g, now + 1000));
    VFT_CHECK(!vf_statstamp_holds(g, now + 1001));   /* the window closed */
    vf_statstamp_bump();
    VFT_CHECK(!vf_statstamp_holds(g, now));
    VFT_CHECK(vf_statstamp_holds(g + 1, now));
    vf_statstamp_trust_until(0);                      /* the cache distrusts itself */
    VFT_CHECK(!vf_statstamp_holds(g + 1, now));
    vf_statstamp_trust_until(now + 1000);
    VFT_CHECK(vf_statstamp_holds(g + 1, now));
}

/* What a hostile reader holding the fd cannot do to the writer's page. */
static void
test_sealed(void)
{
    void *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, page_fd, 0);

    VFT_CHECK(w == MAP_FAILED);                       /* no writable mapping */
    if (w != MAP_FAILED) {
        munmap(w, 4096);
    }
    VFT_CHECK(ftruncate(page_fd, 0) < 0);             /* no SIGBUS for the writer */
    VFT_CHECK(ftruncate(page_fd, 1 << 20) < 0);
    VFT_CHECK(fcntl(page_fd, F_ADD_SEALS, F_SEAL_WRITE) < 0);   /* sealed for good */
}

/* A page that is not sealed, or too small, is refused (reading it could fault). */
static void
test_refused(void)
{
    int fd = memfd_create("plain", MFD_CLOEXEC);
    uint64_t g = vf_statstamp_gen();

    VFT_CHECK(fd >= 0);
    VFT_EQ_INT(ftruncate(fd, 4096), 0);
    VFT_EQ_INT(vf_statstamp_attach(fd), -EINVAL);
    close(fd);
    fd = memfd_create("small", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    VFT_CHECK(fd >= 0);
    VFT_EQ_INT(ftruncate(fd, 4), 0);
    VFT_EQ_INT(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
    VFT_EQ_INT(vf_statstamp_attach(fd), -EINVAL);
    close(fd);
    /* the refusals left the mapping that was there */
    VFT_CHECK(vf_statstamp_holds(g, vf_now_ms()));
    vf_statstamp_detach();
    VFT_CHECK(!vf_statstamp_holds(g, vf_now_ms()));
    vf_statstamp_detach();                            /* twice: a no-op */
}

int
main(void)
{
    VFT_RUN(test_no_page);
    VFT_RUN(test_share_and_attach);
    VFT_RUN(test_bump_and_trust);
    VFT_RUN(test_sealed);
    VFT_RUN(test_refused);
    if (page_fd >= 0) {
        close(page_fd);
    }
    VFT_EXIT();
}
