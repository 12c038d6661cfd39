/*
 * vmfence - daemon/listeners/vsock.c: the "vsock" listener (fence_virt -S).
 *
 * AF_VSOCK stream socket bound to VMADDR_CID_ANY:port (default 1229),
 * a backlog of 1024 (the reference used 1, D30); requests are collected by the
 * shared stream loop (common.c).  ACL identity = the peer CID in decimal,
 * so group "ip" entries hold CIDs (ip = "3";).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "io.h"
#include "log.h"
#include "stream-plugin.h"

#ifdef HAVE_LINUX_VM_SOCKETS_H
#include <linux/vm_sockets.h>


static void
vsock_describe(int fd, const struct sockaddr *sa, socklen_t len, char *identity,
               size_t id_len, char *peer, size_t peer_len)
{
    struct sockaddr_vm svm;
    socklen_t slen = sizeof(svm);

    memset(&svm, 0, sizeof(svm));
    if (sa != NULL && sa->sa_family == AF_VSOCK && len >= sizeof(svm)) {
        memcpy(&svm, sa, sizeof(svm));
    } else if (getpeername(fd, (struct sockaddr *)&svm, &slen) < 0 ||
               svm.svm_family != AF_VSOCK) {
        snprintf(identity, id_len, "unknown");
        snprintf(peer, peer_len, "unknown vsock peer");
        return;
    }
    snprintf(identity, id_len, "%u", svm.svm_cid);
    snprintf(peer, peer_len, "cid %u port %u", svm.svm_cid, svm.svm_port);
}

/* VMADDR_CID_ANY and listeners/vsock/port */
static int
vsock_address(const struct vf_lsettings *s, struct sockaddr_storage *sa, socklen_t *salen,
              char *text, size_t text_len, char *err, size_t err_len)
{
    struct sockaddr_vm svm = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
                               .svm_port = s->port };

    (void)err;
    (void)err_len;
    memcpy(sa, &svm, sizeof(svm));
    *salen = sizeof(svm);
    snprintf(text, text_len, "port %u", (unsigned int)s->port);
    return 0;
}

VF_STREAM_LISTENER(vsock, &vf_schema_vsock, " (is the vsock module loaded?)", vsock_describe,
                   vsock_address);

#else /* !HAVE_LINUX_VM_SOCKETS_H: no vsock listener on this platform */
typedef int vf_vsock_unavailable;
#endif
