/*
 * vmfence - daemon/listeners/tcp.c: the "tcp" listener (fence_virt -T).
 *
 * Binds listeners/tcp/address (default 127.0.0.1, or ::1 with family
 * ipv6) on port (default 1229) and collects 176-byte signed requests with
 * the shared stream loop (common.c).  ACL identity = the peer's numeric IP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "io.h"
#include "log.h"

#define TCP_BACKLOG 1024   /* bursts of connections wait in the kernel, not in SYN retransmits */


static void
tcp_describe(int fd, const struct sockaddr *sa, socklen_t len, char *identity,
             size_t id_len, char *peer, size_t peer_len)
{
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];
    int one = 1;

    /* the daemon writes its answer and its challenge back to back: without
     * this, Nagle holds the second until the client ACKs the first */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(identity, id_len, "unknown");
        snprintf(peer, peer_len, "unknown peer");
        return;
    }
    /* IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d */
    if (strncmp(host, "::ffff:", 7) == 0 && strchr(host + 7, ':') == NULL) {
        memmove(host, host + 7, strlen(host + 7) + 1);
    }
    snprintf(identity, id_len, "%s", host);
    if (strchr(host, ':') != NULL) {
        snprintf(peer, peer_len, "[%s]:%s", host, serv);
    } else {
        snprintf(peer, peer_len, "%s:%s", host, serv);
    }
}

static int
tcp_init(const struct vf_conf *conf, const struct vf_daemon_api *api, void **ret_priv,
         char *err, size_t err_len)
{
    struct vf_stream_priv *priv = calloc(1, sizeof(*priv));
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    const char *addr = NULL;
    char astr[300];
    int one = 1;
    int r = 0;

    if (priv == NULL) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    priv->fd = -1;
    r = vf_lsettings_read(conf, "tcp", &priv->s, err, err_len);
    if (r < 0) {
        goto fail;
    }
    addr = priv->s.address[0] != '\0' ? priv->s.address :
           (priv->s.family == AF_INET6 ? "::1" : "127.0.0.1");
    r = vf_sockaddr_parse(addr, priv->s.port, &sa, &salen);
    if (r < 0) {
        snprintf(err, err_len, "listener 'tcp': address '%s' is not a literal IP address", addr);
        goto fail;
    }
    if (priv->s.family_set && sa.ss_family != priv->s.family) {
        snprintf(err, err_len, "listener 'tcp': address '%s' does not match family '%s'",
                 addr, priv->s.family == AF_INET6 ? "ipv6" : "ipv4");
        r = -EINVAL;
        goto fail;
    }
    priv->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (priv->fd < 0) {
        r = -errno;
        snprintf(err, err_len, "listener 'tcp': socket: %s", strerror(errno));
        goto fail;
    }
    (void)setsockopt(priv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    vf_sockaddr_str((struct sockaddr *)&sa, salen, astr, sizeof(astr), 1);
    if (bind(priv->fd, (struct sockaddr *)&sa, salen) < 0) {
        r = -errno;
        snprintf(err, err_len, "listener 'tcp': cannot bind %s: %s", astr, strerror(errno));
        goto fail;
    }
    if (listen(priv->fd, TCP_BACKLOG) < 0) {
        r = -errno;
        snprintf(err, err_len, "listener 'tcp': listen on %s: %s", astr, strerror(errno));
        goto fail;
    }
    vf_stream_priv_ready(priv, "tcp", api, tcp_describe);
    vf_log(LOG_INFO, "listener tcp: listening on %s (hash >= %s, auth %s)", astr,
           vf_hash_name(priv->s.hash), vf_hash_name(priv->s.auth));
    *ret_priv = priv;
    return 0;
fail:
    vf_stream_priv_fini(priv);
    return r;
}

static const struct vf_listener_ops tcp_ops = {
    .schema = &vf_schema_tcp,
    .name = "tcp",
    .version = PACKAGE_VERSION,
    .init = tcp_init,
    .run = vf_stream_priv_run,
    .fini = vf_stream_priv_fini,
};

VF_PLUGIN_DEFINE(tcp, &tcp_ops, NULL);
