/*
 * vmfence - daemon/privsep/scm.c: one datagram with descriptors (scm.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "io.h"
#include "privsep/scm.h"

union scm_ctl {
    struct cmsghdr h;
    char b[CMSG_SPACE(VF_PS_SCM_MAX_FDS * sizeof(int))];
};

static void
scm_msg_init(struct msghdr *mh, struct iovec *iov, void *buf, size_t len)
{
    memset(mh, 0, sizeof(*mh));
    iov->iov_base = buf;
    iov->iov_len = len;
    mh->msg_iov = iov;
    mh->msg_iovlen = 1;
}

ssize_t
vf_ps_scm_send(int fd, const void *buf, size_t len, const int *fds, size_t nfds, int flags)
{
    union scm_ctl ctl;
    struct iovec iov;
    struct msghdr mh;
    ssize_t n = 0;

    if (nfds > VF_PS_SCM_MAX_FDS || (nfds > 0 && fds == NULL)) {
        return -EINVAL;
    }
    scm_msg_init(&mh, &iov, (void *)buf, len);
    if (nfds > 0) {
        /* the one header, at the start of the control buffer */
        memset(&ctl, 0, sizeof(ctl));
        ctl.h.cmsg_level = SOL_SOCKET;
        ctl.h.cmsg_type = SCM_RIGHTS;
        ctl.h.cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(&ctl.h), fds, nfds * sizeof(int));
        mh.msg_control = ctl.b;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    }
    n = sendmsg(fd, &mh, MSG_NOSIGNAL | flags);
    return n < 0 ? -errno : n;
}

ssize_t
vf_ps_scm_recv(int fd, void *buf, size_t cap, int *fds, size_t max_fds, size_t *ret_nfds,
               bool *ret_trunc)
{
    union scm_ctl ctl;
    struct iovec iov;
    struct msghdr mh;
    size_t got = 0;
    ssize_t n = 0;

    *ret_nfds = 0;
    *ret_trunc = false;
    if (max_fds > VF_PS_SCM_MAX_FDS) {
        return -EINVAL;
    }
    scm_msg_init(&mh, &iov, buf, cap);
    memset(&ctl, 0, sizeof(ctl));
    mh.msg_control = ctl.b;
    mh.msg_controllen = CMSG_SPACE(max_fds * sizeof(int));
    do {
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -errno;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len >= CMSG_LEN(0)) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

            for (size_t i = 0; i < k && got < max_fds; i++) {
                memcpy(&fds[got++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            }
        }
    }
    *ret_nfds = got;
    *ret_trunc = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
    return n;
}

int
vf_ps_send_by(int fd, const void *buf, size_t len, int64_t deadline_ms, const atomic_bool *stop)
{
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        int left = 0;

        if (n == (ssize_t)len) {
            return 0;
        }
        if (n >= 0 || (errno != EAGAIN && errno != EINTR)) {
            return -EPIPE;
        }
        left = vf_ms_left(deadline_ms);
        if (left <= 0) {
            return -ETIMEDOUT;
        }
        (void)poll(&pfd, 1, left > 100 ? 100 : left);
        if (stop != NULL && atomic_load(stop)) {
            return -ECANCELED;
        }
    }
}

int
vf_ps_send_many(int fd, const uint8_t *bufs, size_t n, size_t len, int64_t deadline_ms)
{
    struct mmsghdr mm[VF_PS_SEND_MANY_MAX];
    struct iovec iov[VF_PS_SEND_MANY_MAX];
    size_t done = 0;

    while (done < n) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        unsigned int k = 0;
        int sent = 0;
        int left = 0;

        memset(mm, 0, sizeof(mm));
        for (; k < VF_PS_SEND_MANY_MAX && done + k < n; k++) {
            iov[k].iov_base = (void *)(bufs + (done + k) * len);
            iov[k].iov_len = len;
            mm[k].msg_hdr.msg_iov = &iov[k];
            mm[k].msg_hdr.msg_iovlen = 1;
        }
        sent = sendmmsg(fd, mm, k, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent > 0) {
            done += (size_t)sent;
            continue;
        }
        if (sent == 0 || (errno != EAGAIN && errno != EINTR)) {
            return -EPIPE;
        }
        left = vf_ms_left(deadline_ms);
        if (left <= 0) {
            return -ETIMEDOUT;
        }
        (void)poll(&pfd, 1, left > 100 ? 100 : left);
    }
    return 0;
}
