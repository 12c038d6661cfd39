/*
 * vmfence - lib/statstamp.c: the status stamp page (statstamp.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

#include "statstamp.h"

struct vf_stamp_page {
    _Atomic uint64_t gen;               /* 0 is never a stamp */
    _Atomic int64_t trusted_until_ms;
};

#define STAMP_PAGE_SIZE 4096

/* the writer's page (the process-local one until shared) */
static struct vf_stamp_page stamp_local = { .gen = 1 };
static struct vf_stamp_page *_Atomic stamp_w = &stamp_local;
/* the reader's mapping, NULL: none */
static const struct vf_stamp_page *_Atomic stamp_r;

/* F_SEAL_FUTURE_WRITE: Linux 5.1 */
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

int
vf_statstamp_share(int *ret_fd)
{
    struct vf_stamp_page *pg = MAP_FAILED;
    int fd = memfd_create("vmfence-statstamp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    int r = 0;

    *ret_fd = -1;
    if (fd < 0) {
        return -errno;
    }
    if (ftruncate(fd, STAMP_PAGE_SIZE) < 0) {
        r = -errno;
        goto out;
    }
    pg = mmap(NULL, STAMP_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (pg == MAP_FAILED) {
        r = -errno;
        goto out;
    }
    /* no shrinking it under the writer (SIGBUS), no new writable mapping */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE |
              F_SEAL_SEAL) < 0) {
        r = -errno;
        goto out;
    }
    /* later than anything stamped so far; trusted as the local copy was */
    atomic_store(&pg->gen, atomic_load(&stamp_local.gen) + 1);
    atomic_store(&pg->trusted_until_ms, atomic_load(&stamp_local.trusted_until_ms));
    atomic_store(&stamp_w, pg);
    atomic_fetch_add(&stamp_local.gen, 1);
    pg = MAP_FAILED;
    *ret_fd = fd;
    fd = -1;
out:
    if (pg != MAP_FAILED) {
        munmap(pg, STAMP_PAGE_SIZE);
    }
    if (fd >= 0) {
        close(fd);
    }
    return r;
}

void
vf_statstamp_bump(void)
{
    atomic_fetch_add(&atomic_load(&stamp_w)->gen, 1);
}

uint64_t
vf_statstamp_gen(void)
{
    return atomic_load(&atomic_load(&stamp_w)->gen);
}

void
vf_statstamp_trust_until(int64_t until_ms)
{
    atomic_store(&atomic_load(&stamp_w)->trusted_until_ms, until_ms);
}

int
vf_statstamp_attach(int fd)
{
    void *pg = NULL;
    off_t size = lseek(fd, 0, SEEK_END);

    if (size < 0) {
        return -errno;
    }
    if (size < (off_t)sizeof(struct vf_stamp_page) ||
        (fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK) == 0) {
        return -EINVAL;     /* not a sealed page: reading it could fault */
    }
    pg = mmap(NULL, sizeof(struct vf_stamp_page), PROT_READ, MAP_SHARED, fd, 0);
    if (pg == MAP_FAILED) {
        return -errno;
    }
    vf_statstamp_detach();
    atomic_store(&stamp_r, pg);
    return 0;
}

void
vf_statstamp_detach(void)
{
    const struct vf_stamp_page *pg = atomic_exchange(&stamp_r, NULL);

    if (pg != NULL) {
        munmap((void *)pg, sizeof(*pg));
    }
}

bool
vf_statstamp_holds(uint64_t gen, int64_t now_ms)
{
    const struct vf_stamp_page *pg = atomic_load(&stamp_r);

    /* the gen first: a change after this load is a change after the answer */
    return pg != NULL && gen != 0 && atomic_load(&pg->gen) == gen &&
           now_ms <= atomic_load(&pg->trusted_until_ms);
}
