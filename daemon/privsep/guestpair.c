/*
 * vmfence - daemon/privsep/guestpair.c: messages with descriptors on the
 * guest pair (guestpair.h).  The bytes are msg.c's; this file only moves
 * them and the SCM_RIGHTS descriptor, and refuses whatever does not fit.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "privsep/guestpair.h"
#include "privsep/scm.h"

#define GP_MAX_FDS VF_PS_SCM_MAX_FDS   /* room to see (and close) a hostile surplus */

static atomic_int gp_fd = -1;

void
vf_ps_set_guest_pair(int fd)
{
    atomic_store(&gp_fd, fd);
}

int
vf_ps_guest_pair(void)
{
    return atomic_load(&gp_fd);
}

int
vf_ps_gp_send(int pair, const struct vf_ps_guest *gm, int fd, int timeout_ms)
{
    int64_t deadline = vf_now_ms() + timeout_ms;
    uint8_t buf[VF_PS_GUEST_SIZE];
    int r = 0;

    if ((gm->kind == VF_PS_G_GUEST) != (fd >= 0)) {
        return -EINVAL;
    }
    r = vf_ps_guest_encode(gm, buf, sizeof(buf));
    if (r < 0) {
        return r;
    }
    for (;;) {
        struct pollfd p = { .fd = pair, .events = POLLOUT };
        ssize_t n = vf_ps_scm_send(pair, buf, sizeof(buf), fd >= 0 ? &fd : NULL,
                                   fd >= 0 ? 1 : 0, MSG_DONTWAIT);

        if (n == VF_PS_GUEST_SIZE) {
            return 0;
        }
        if (n >= 0) {
            return -EIO;
        }
        if (n == -EINTR) {
            continue;
        }
        if (n != -EAGAIN && n != -EWOULDBLOCK) {
            return n == -ECONNRESET || n == -ENOTCONN ? -EPIPE : (int)n;
        }
        if (vf_ms_left(deadline) <= 0) {
            return -ETIMEDOUT;
        }
        (void)poll(&p, 1, (int)vf_ms_left(deadline));
    }
}

static void
close_all(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        (void)close(fds[i]);
    }
}

int
vf_ps_gp_recv(int pair, struct vf_ps_guest *ret_gm, int *ret_fd)
{
    int fds[GP_MAX_FDS];
    uint8_t buf[VF_PS_GUEST_SIZE + 1];  /* one byte more: a longer datagram is seen */
    size_t got = 0;
    bool trunc = false;
    struct vf_ps_guest gm;
    struct stat st;
    ssize_t n = 0;

    *ret_fd = -1;
    n = vf_ps_scm_recv(pair, buf, sizeof(buf), fds, GP_MAX_FDS, &got, &trunc);
    if (n == 0) {
        return -EPIPE;
    }
    if (n < 0) {
        return n == -ECONNRESET ? -EPIPE : (int)n;
    }
    if (n != VF_PS_GUEST_SIZE || trunc ||
        vf_ps_guest_decode(buf, (size_t)n, &gm) < 0 ||
        got != (gm.kind == VF_PS_G_GUEST ? 1u : 0u) ||
        (got == 1 && (fstat(fds[0], &st) < 0 || !S_ISSOCK(st.st_mode)))) {
        close_all(fds, got);
        return -EBADMSG;
    }
    *ret_gm = gm;
    *ret_fd = got == 1 ? fds[0] : -1;
    return 0;
}
