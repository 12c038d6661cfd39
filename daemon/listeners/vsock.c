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

#ifdef HAVE_LINUX_VM_SOCKETS_H
#include <linux/vm_sockets.h>

#define VSOCK_BACKLOG 1024  /* bursts wait in the kernel, not in retransmits */


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

static int
vsock_init(const struct vf_conf *conf, const struct vf_daemon_api *api, void **ret_priv,
           char *err, size_t err_len)
{
    struct vf_stream_priv *priv = calloc(1, sizeof(*priv));
    struct sockaddr_vm svm;
    int r = 0;

    if (priv == NULL) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    priv->fd = -1;
    r = vf_lsettings_read(conf, "vsock", &priv->s, err, err_len);
    if (r < 0) {
        goto fail;
    }
    priv->fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (priv->fd < 0) {
        r = -errno;
        snprintf(err, err_len, "listener 'vsock': socket(AF_VSOCK): %s (is the vsock "
                 "module loaded?)", strerror(errno));
        goto fail;
    }
    memset(&svm, 0, sizeof(svm));
    svm.svm_family = AF_VSOCK;
    svm.svm_cid = VMADDR_CID_ANY;
    svm.svm_port = priv->s.port;
    if (bind(priv->fd, (struct sockaddr *)&svm, sizeof(svm)) < 0) {
        r = -errno;
        snprintf(err, err_len, "listener 'vsock': cannot bind port %u: %s",
                 (unsigned int)priv->s.port, strerror(errno));
        goto fail;
    }
    if (listen(priv->fd, VSOCK_BACKLOG) < 0) {
        r = -errno;
        snprintf(err, err_len, "listener 'vsock': listen: %s", strerror(errno));
        goto fail;
    }
    vf_stream_priv_ready(priv, "vsock", api, vsock_describe);
    vf_log(LOG_INFO, "listener vsock: listening on port %u (hash >= %s, auth %s)",
           (unsigned int)priv->s.port, vf_hash_name(priv->s.hash), vf_hash_name(priv->s.auth));
    *ret_priv = priv;
    return 0;
fail:
    vf_stream_priv_fini(priv);
    return r;
}

static const struct vf_listener_ops vsock_ops = {
    .schema = &vf_schema_vsock,
    .name = "vsock",
    .version = PACKAGE_VERSION,
    .init = vsock_init,
    .run = vf_stream_priv_run,
    .fini = vf_stream_priv_fini,
};

VF_PLUGIN_DEFINE(vsock, &vsock_ops, NULL);

#else /* !HAVE_LINUX_VM_SOCKETS_H: no vsock listener on this platform */
typedef int vf_vsock_unavailable;
#endif
