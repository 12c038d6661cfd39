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
#include "stream-plugin.h"


static void
tcp_describe(int fd, const struct sockaddr *sa, socklen_t len, char *identity,
             size_t id_len, char *peer, size_t peer_len)
{
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];

    /* TCP_NODELAY (the daemon writes its answer and its challenge back to
     * back: Nagle would hold the second until the client ACKs the first) is
     * set on the listening socket, and accepted connections inherit it */
    (void)fd;
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

/* listeners/tcp/address (default by family) and port */
static int
tcp_address(const struct vf_lsettings *s, struct sockaddr_storage *sa, socklen_t *salen,
            char *text, size_t text_len, char *err, size_t err_len)
{
    const char *addr = s->address[0] != '\0' ? s->address :
                       (s->family == AF_INET6 ? "::1" : "127.0.0.1");

    if (vf_sockaddr_parse(addr, s->port, sa, salen) < 0) {
        snprintf(err, err_len, "listener 'tcp': address '%s' is not a literal IP address", addr);
        return -EINVAL;
    }
    if (s->family_set && sa->ss_family != s->family) {
        snprintf(err, err_len, "listener 'tcp': address '%s' does not match family '%s'",
                 addr, s->family == AF_INET6 ? "ipv6" : "ipv4");
        return -EINVAL;
    }
    vf_sockaddr_str((struct sockaddr *)sa, *salen, text, text_len, 1);
    return 0;
}

VF_STREAM_LISTENER(tcp, &vf_schema_tcp, "", tcp_describe, tcp_address);
