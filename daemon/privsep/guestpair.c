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

#define GP_MAX_FDS 4    /* room to see (and close) a hostile surplus */

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

struct gp_msg {
    uint8_t buf[VF_PS_GUEST_SIZE + 1];      /* one byte more: a longer datagram is seen */
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(GP_MAX_FDS * sizeof(int))];
    } cm;
    struct iovec iov;
    struct msghdr mh;
};

static void
gp_msg_init(struct gp_msg *m, size_t len)
{
    memset(m, 0, sizeof(*m));
    m->iov.iov_base = m->buf;
    m->iov.iov_len = len;
    m->mh.msg_iov = &m->iov;
    m->mh.msg_iovlen = 1;
    m->mh.msg_control = m->cm.b;
    m->mh.msg_controllen = sizeof(m->cm.b);
}

int
vf_ps_gp_send(int pair, const struct vf_ps_guest *gm, int fd, int timeout_ms)
{
    int64_t deadline = vf_now_ms() + timeout_ms;
    struct gp_msg m;
    int r = 0;

    if ((gm->kind == VF_PS_G_GUEST) != (fd >= 0)) {
        return -EINVAL;
    }
    gp_msg_init(&m, VF_PS_GUEST_SIZE);
    r = vf_ps_guest_encode(gm, m.buf, VF_PS_GUEST_SIZE);
    if (r < 0) {
        return r;
    }
    if (fd >= 0) {
        /* the one header, at the start of the control buffer */
        struct cmsghdr *c = &m.cm.h;

        m.mh.msg_controllen = CMSG_SPACE(sizeof(int));
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    } else {
        m.mh.msg_control = NULL;
        m.mh.msg_controllen = 0;
    }
    for (;;) {
        struct pollfd p = { .fd = pair, .events = POLLOUT };
        ssize_t n = sendmsg(pair, &m.mh, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n == VF_PS_GUEST_SIZE) {
            return 0;
        }
        if (n >= 0) {
            return -EIO;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return errno == ECONNRESET || errno == ENOTCONN ? -EPIPE : -errno;
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
    size_t got = 0;
    struct gp_msg m;
    struct vf_ps_guest gm;
    struct stat st;
    ssize_t n = 0;

    *ret_fd = -1;
    gp_msg_init(&m, sizeof(m.buf));
    do {
        n = recvmsg(pair, &m.mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        return -EPIPE;
    }
    if (n < 0) {
        return errno == EWOULDBLOCK ? -EAGAIN : errno == ECONNRESET ? -EPIPE : -errno;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m.mh); c != NULL; c = CMSG_NXTHDR(&m.mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len >= CMSG_LEN(0)) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

            for (size_t i = 0; i < k && got < GP_MAX_FDS; i++) {
                memcpy(&fds[got++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            }
        }
    }
    if (n != VF_PS_GUEST_SIZE || (m.mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
        vf_ps_guest_decode(m.buf, (size_t)n, &gm) < 0 ||
        got != (gm.kind == VF_PS_G_GUEST ? 1u : 0u) ||
        (got == 1 && (fstat(fds[0], &st) < 0 || !S_ISSOCK(st.st_mode)))) {
        close_all(fds, got);
        return -EBADMSG;
    }
    *ret_gm = gm;
    *ret_fd = got == 1 ? fds[0] : -1;
    return 0;
}
