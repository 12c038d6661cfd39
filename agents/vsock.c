/*
 * vmfence - agents/vsock.c: the vsock transport (fence_virt -S<cid>).
 *
 * Same exchange as TCP (protocol.md 2.8) over AF_VSOCK, but unlike the
 * reference client the connect is bounded by a deadline (D30): non-blocking
 * connect, poll, SO_ERROR.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef HAVE_LINUX_VM_SOCKETS_H
#include <linux/vm_sockets.h>
#endif

#include "auth.h"
#include "io.h"
#include "log.h"
#include "transport.h"

#ifdef HAVE_LINUX_VM_SOCKETS_H
/* Non-blocking connect to @sa bounded by @deadline_ms; *ret_fd is blocking. */
static int
vsock_connect(const struct sockaddr_vm *sa, int64_t deadline_ms, int *ret_fd)
{
    struct pollfd pfd;
    socklen_t len;
    int fd, flags, err, rc;

    fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
        if (errno != EINPROGRESS && errno != EAGAIN && errno != EINTR) {
            rc = -errno;
            goto fail;
        }
        for (;;) {
            pfd.fd = fd;
            pfd.events = POLLOUT;
            pfd.revents = 0;
            rc = poll(&pfd, 1, vf_ms_left(deadline_ms));
            if (rc < 0 && errno == EINTR) {
                continue;
            }
            if (rc < 0) {
                rc = -errno;
                goto fail;
            }
            if (rc == 0) {
                rc = -ETIMEDOUT;
                goto fail;
            }
            break;
        }
        err = 0;
        len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
            rc = -errno;
            goto fail;
        }
        if (err != 0) {
            rc = -err;
            goto fail;
        }
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        rc = -errno;
        goto fail;
    }
    *ret_fd = fd;
    return 0;

fail:
    vf_close(fd);
    return rc;
}
#endif

int
vf_xport_vsock(const struct vf_xport *x, struct vf_result *res)
{
#ifdef HAVE_LINUX_VM_SOCKETS_H
    const struct vf_args *args = x->args;
    struct vf_req *req = x->req;
    struct sockaddr_vm sa;
    uint8_t wire[VF_REQ_SIZE];
    char peer[64];
    int64_t start, deadline, conn_deadline;
    int fd = -1;
    int rc;

    snprintf(peer, sizeof(peer), "vsock CID %u port %u", args->vsock_cid, args->port);
    req->addrlen = 0;
    req->port = 0;
    req->family = 0;
    memset(req->address, 0, sizeof(req->address));
    rc = vf_req_sign(req, x->key != NULL ? x->key->data : NULL,
                     x->key != NULL ? x->key->len : 0, wire);
    if (rc < 0) {
        vf_result_msg(res, "cannot sign the request: %s", strerror(-rc));
        goto out;
    }

    memset(&sa, 0, sizeof(sa));
    sa.svm_family = AF_VSOCK;
    sa.svm_cid = args->vsock_cid;
    sa.svm_port = args->port;

    start = vf_now_ms();
    deadline = start + (int64_t)args->timeout * 1000;
    conn_deadline = start + VF_AGENT_CONNECT_MS;
    if (conn_deadline > deadline) {
        conn_deadline = deadline;
    }
    vf_dbg(1, "connecting to fence_virtd at %s", peer);
    rc = vsock_connect(&sa, conn_deadline, &fd);
    if (rc == -EAFNOSUPPORT || rc == -ENODEV) {
        vf_result_msg(res, "vsock is not available on this machine (%s); load the "
                      "vsock transport module or use another transport", strerror(-rc));
        goto out;
    }
    if (rc == -ECONNREFUSED || rc == -ECONNRESET) {
        vf_result_msg(res, "no fence_virtd listening at %s (connection refused)", peer);
        goto out;
    }
    if (rc == -ETIMEDOUT) {
        vf_result_msg(res, "connecting to fence_virtd at %s timed out after %.1f s", peer,
                      (double)(conn_deadline - start) / 1000.0);
        goto out;
    }
    if (rc < 0) {
        vf_result_msg(res, "unable to connect to fence_virtd at %s: %s", peer, strerror(-rc));
        goto out;
    }

    deadline = vf_now_ms() + (int64_t)args->timeout * 1000;
    rc = vf_write_full(fd, wire, sizeof(wire), deadline);
    if (rc < 0) {
        vf_result_msg(res, "sending the request to fence_virtd at %s failed: %s", peer,
                      strerror(-rc));
        goto out;
    }
    rc = vf_stream_exchange(x, fd, peer, deadline, res);

out:
    vf_close(fd);
    return rc;
#else
    vf_result_msg(res, "this build has no vsock support (linux/vm_sockets.h missing)");
    (void)x;
    return -EAFNOSUPPORT;
#endif
}
