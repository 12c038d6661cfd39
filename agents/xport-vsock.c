/*
 * vmfence - agents/xport-vsock.c: the vsock transport (fence_virt -S<cid>).
 *
 * Same exchange as TCP (protocol.md 2.8) over AF_VSOCK, through xport-tcp.c's
 * vf_stream_request(); unlike the reference client the connect is bounded
 * by a deadline (D30).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#ifdef HAVE_LINUX_VM_SOCKETS_H
#include <linux/vm_sockets.h>
#endif

#include "transport.h"

int
vf_xport_vsock(const struct vf_xport *x, struct vf_result *res)
{
#ifdef HAVE_LINUX_VM_SOCKETS_H
    const struct vf_args *args = x->args;
    struct sockaddr_vm sa;
    char peer[64];

    snprintf(peer, sizeof(peer), "vsock CID %u port %u", args->vsock_cid, args->port);
    memset(&sa, 0, sizeof(sa));
    sa.svm_family = AF_VSOCK;
    sa.svm_cid = args->vsock_cid;
    sa.svm_port = args->port;
    return vf_stream_request(x, (const struct sockaddr *)&sa, sizeof(sa), peer, res);
#else
    vf_result_msg(res, "this build has no vsock support (linux/vm_sockets.h missing)");
    (void)x;
    return -EAFNOSUPPORT;
#endif
}
