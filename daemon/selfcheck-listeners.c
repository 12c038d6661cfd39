/*
 * vmfence - daemon/selfcheck-listeners.c: `fence_virtd --check`, the
 * listeners (see selfcheck-int.h): each key file; the tcp and vsock ports;
 * multicast: the port, the interface (by name or by the group's route), its
 * flags and addresses, a test join of the group.  Sockets are bound and
 * closed again at once; a port in use is explained (selfcheck-proc.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LINUX_VM_SOCKETS_H
#include <linux/vm_sockets.h>
#endif

#include "auth.h"
#include "io.h"
#include "selfcheck-int.h"

/* ---- keys ----------------------------------------------------------------------- */

void
vf_sc_check_key(struct vf_sc *sc, const char *lname, const struct vf_lsettings *s)
{
    char what[64];
    struct stat st;

    snprintf(what, sizeof(what), "key %s", lname);
    if (s->hash == VF_HASH_NONE && s->auth == VF_HASH_NONE) {
        vf_sc_line(sc, VF_SC_WARN, what,
                   "hash and auth are \"none\": requests are not "
                   "authenticated, anyone on the network can fence");
        vf_sc_next(sc,
                   "create a key (dd if=/dev/urandom of=%s bs=512 count=1; chmod 600 %s), "
                   "copy it to every guest and set hash/auth to sha256",
                   s->key_file, s->key_file);
        return;
    }
    if (s->key == NULL || stat(s->key_file, &st) < 0) {
        /* vf_lsettings_read failed already; the config lines said why */
        vf_sc_line(sc, VF_SC_ERR, what, "%s cannot be loaded", s->key_file);
        vf_sc_next(sc,
                   "create it: dd if=/dev/urandom of=%s bs=512 count=1; chmod 600 %s; "
                   "then copy it to every guest",
                   s->key_file, s->key_file);
        return;
    }
    if ((st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) != 0) {
        vf_sc_line(sc, VF_SC_WARN, what,
                   "%s (%zu bytes) is %s%s (mode %04o): whoever reads it can "
                   "fence every guest",
                   s->key_file, s->key->len,
                   (st.st_mode & (S_IROTH | S_IWOTH)) != 0 ? "world" : "group",
                   (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ? "-readable/writable" : "-readable",
                   (unsigned int)(st.st_mode & 07777));
        vf_sc_next(sc, "chmod 600 %s (and chown root:root)", s->key_file);
        return;
    }
    if (st.st_uid != 0 && geteuid() == 0) {
        vf_sc_line(sc, VF_SC_WARN, what, "%s (%zu bytes, mode %04o) is owned by uid %ld, not root",
                   s->key_file, s->key->len, (unsigned int)(st.st_mode & 07777), (long)st.st_uid);
        vf_sc_next(sc, "chown root:root %s", s->key_file);
        return;
    }
    vf_sc_line(sc, VF_SC_OK, what, "%s (%zu bytes, mode %04o, hash >= %s, auth %s)", s->key_file,
               s->key->len, (unsigned int)(st.st_mode & 07777), vf_hash_name(s->hash),
               vf_hash_name(s->auth));
}

/* ---- listeners ------------------------------------------------------------------ */

void
vf_sc_check_tcp(struct vf_sc *sc, const struct vf_lsettings *s)
{
    const char *addr =
        s->address[0] != '\0' ? s->address : (s->family == AF_INET6 ? "::1" : "127.0.0.1");
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    char desc[300];
    int one = 1;
    int fd = -1;

    if (vf_sockaddr_parse(addr, s->port, &sa, &salen) < 0) {
        vf_sc_line(sc, VF_SC_ERR, "listener tcp", "address '%s' is not a literal IP address", addr);
        vf_sc_next(sc, "set listeners/tcp/address to an address of this host");
        return;
    }
    snprintf(desc, sizeof(desc), "TCP %s%s%s:%u", sa.ss_family == AF_INET6 ? "[" : "", addr,
             sa.ss_family == AF_INET6 ? "]" : "", (unsigned int)s->port);
    fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        vf_sc_line(sc, VF_SC_ERR, "listener tcp", "socket: %s", strerror(errno));
        return;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, salen) == 0) {
        vf_sc_line(sc, VF_SC_OK, "listener tcp", "%s can be bound", desc);
    } else if (errno == EADDRINUSE) {
        vf_sc_explain_in_use(sc, "listener tcp", desc, true, s->port, "listeners/tcp/port");
    } else if (errno == EADDRNOTAVAIL) {
        vf_sc_line(sc, VF_SC_ERR, "listener tcp", "%s: %s is not an address of this host", desc,
                   addr);
        vf_sc_next(sc, "set listeners/tcp/address to one of: ip -br address");
    } else if (errno == EACCES) {
        vf_sc_line(sc, VF_SC_ERR, "listener tcp", "%s: port below 1024 needs privileges", desc);
        vf_sc_next(sc, "use port 1229, or run as root");
    } else {
        vf_sc_line(sc, VF_SC_ERR, "listener tcp", "%s: bind: %s", desc, strerror(errno));
    }
    close(fd);
    if (sa.ss_family == AF_INET ? (ntohl(((struct sockaddr_in *)&sa)->sin_addr.s_addr) >> 24) == 127
                                : IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&sa)->sin6_addr)) {
        vf_sc_line(sc, VF_SC_WARN, "listener tcp",
                   "%s is a loopback address: guests cannot reach "
                   "it (only a relay or the host itself)",
                   addr);
        vf_sc_next(sc, "set listeners/tcp/address to the host's address on the guests' network "
                       "(e.g. the libvirt bridge's, 192.168.122.1)");
    }
}

void
vf_sc_check_vsock(struct vf_sc *sc, const struct vf_lsettings *s)
{
#ifdef HAVE_LINUX_VM_SOCKETS_H
    struct sockaddr_vm svm;
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        vf_sc_line(sc, VF_SC_ERR, "listener vsock", "AF_VSOCK is not available: %s",
                   strerror(errno));
        vf_sc_next(sc, "load the host module: modprobe vhost_vsock (and give the guests a "
                       "vhost-vsock device)");
        return;
    }
    memset(&svm, 0, sizeof(svm));
    svm.svm_family = AF_VSOCK;
    svm.svm_cid = VMADDR_CID_ANY;
    svm.svm_port = s->port;
    if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) == 0) {
        vf_sc_line(sc, VF_SC_OK, "listener vsock", "vsock port %u can be bound",
                   (unsigned int)s->port);
    } else if (errno == EADDRINUSE) {
        if (sc->daemon_pid > 0) {
            vf_sc_line(sc, VF_SC_OK, "listener vsock",
                       "vsock port %u is in use, presumably by the "
                       "running fence_virtd (pid %ld)",
                       (unsigned int)s->port, (long)sc->daemon_pid);
        } else {
            vf_sc_line(sc, VF_SC_ERR, "listener vsock",
                       "vsock port %u is in use by another process", (unsigned int)s->port);
            vf_sc_next(sc, "ss -xlp --vsock shows which; stop it or change listeners/vsock/port");
        }
    } else {
        vf_sc_line(sc, VF_SC_ERR, "listener vsock", "vsock port %u: bind: %s",
                   (unsigned int)s->port, strerror(errno));
        vf_sc_next(sc, "load the host module: modprobe vhost_vsock");
    }
    close(fd);
#else
    (void)s;
    vf_sc_line(sc, VF_SC_ERR, "listener vsock", "this build has no vsock support");
#endif
}

/* the interface owning local address @a (family @fam), "" if none */
static void
iface_of_addr(int fam, const void *a, char *name, size_t len)
{
    struct ifaddrs *ifs = NULL;

    name[0] = '\0';
    if (getifaddrs(&ifs) < 0) {
        return;
    }
    for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != fam) {
            continue;
        }
        if ((fam == AF_INET && memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, 4) == 0) ||
            (fam == AF_INET6 &&
             memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, a, 16) == 0)) {
            snprintf(name, len, "%s", i->ifa_name);
            break;
        }
    }
    freeifaddrs(ifs);
}

/* "10.0.0.1, fd00::1" of interface @ifname (family @fam), flags in *ret_flags */
static size_t
iface_addrs(const char *ifname, int fam, char *out, size_t len, unsigned int *ret_flags)
{
    struct ifaddrs *ifs = NULL;
    size_t n = 0;

    out[0] = '\0';
    *ret_flags = 0;
    if (getifaddrs(&ifs) < 0) {
        return 0;
    }
    for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
        char t[INET6_ADDRSTRLEN];
        size_t l = strlen(out);

        if (strcmp(i->ifa_name, ifname) != 0) {
            continue;
        }
        *ret_flags |= i->ifa_flags;
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != fam) {
            continue;
        }
        vf_sockaddr_str(i->ifa_addr,
                        fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6),
                        t, sizeof(t), 0);
        snprintf(out + l, len - l, "%s%s", n > 0 ? ", " : "", t);
        n++;
    }
    freeifaddrs(ifs);
    return n;
}

/*
 * The interface the kernel picks for the group when no interface is
 * configured: the route of the group (as `ip route get GROUP`), found with a
 * connected UDP socket.  0 or -errno; the name in @ifname.
 */
static int
group_route(const struct sockaddr_storage *group, socklen_t glen, char *ifname, size_t len,
            char *src, size_t src_len)
{
    struct sockaddr_storage local;
    socklen_t llen = sizeof(local);
    int fd = socket(group->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int r = 0;

    ifname[0] = '\0';
    src[0] = '\0';
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (const struct sockaddr *)group, glen) < 0 ||
        getsockname(fd, (struct sockaddr *)&local, &llen) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    close(fd);
    vf_sockaddr_str((struct sockaddr *)&local, llen, src, src_len, 0);
    if (local.ss_family == AF_INET) {
        iface_of_addr(AF_INET, &((struct sockaddr_in *)&local)->sin_addr, ifname, len);
    } else {
        iface_of_addr(AF_INET6, &((struct sockaddr_in6 *)&local)->sin6_addr, ifname, len);
    }
    return 0;
}

/*
 * The multicast port: bound without SO_REUSEADDR, so a daemon holding it
 * shows.  -1 when no socket could be made (said in a line), else 0.
 */
static int
mcast_check_port(struct vf_sc *sc, const struct vf_lsettings *s, int family)
{
    struct sockaddr_storage any;
    socklen_t alen = 0;
    char desc[128];
    int fd = -1;

    snprintf(desc, sizeof(desc), "UDP port %u", (unsigned int)s->port);
    fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        vf_sc_line(sc, VF_SC_ERR, "listener multicast", "socket: %s", strerror(errno));
        return -1;
    }
    memset(&any, 0, sizeof(any));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&any;

        sin->sin_family = AF_INET;
        sin->sin_port = htons(s->port);
        alen = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&any;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(s->port);
        alen = sizeof(*sin6);
    }
    if (bind(fd, (struct sockaddr *)&any, alen) == 0) {
        vf_sc_line(sc, VF_SC_OK, "listener multicast", "%s can be bound", desc);
    } else if (errno == EADDRINUSE) {
        vf_sc_explain_in_use(sc, "listener multicast", desc, false, s->port,
                             "listeners/multicast/port");
    } else {
        vf_sc_line(sc, VF_SC_ERR, "listener multicast", "%s: bind: %s", desc, strerror(errno));
    }
    close(fd);
    return 0;
}

/*
 * Where the group will be received: the configured interface, or the one
 * the group's route names.  0 with @ifname and *ifindex set, or -1 when a
 * line said why not.
 */
static int
mcast_pick_iface(struct vf_sc *sc, const struct vf_lsettings *s, const char *gaddr,
                 const struct sockaddr_storage *group, socklen_t glen, char *ifname,
                 size_t ifname_len, unsigned int *ifindex)
{
    char src[INET6_ADDRSTRLEN] = "";
    int r = 0;

    if (s->interface[0] != '\0') {
        *ifindex = if_nametoindex(s->interface);
        if (*ifindex == 0) {
            vf_sc_line(sc, VF_SC_ERR, "multicast interface", "interface '%s' does not exist",
                       s->interface);
            vf_sc_next(sc, "set listeners/multicast/interface to one of: ip -br link "
                           "(usually the guests' bridge, e.g. virbr0)");
            return -1;
        }
        snprintf(ifname, ifname_len, "%s", s->interface);
        return 0;
    }
    r = group_route(group, glen, ifname, ifname_len, src, sizeof(src));
    if (r < 0) {
        vf_sc_line(sc, VF_SC_ERR, "multicast route",
                   "no route for %s (%s): the group cannot "
                   "be joined without an interface",
                   gaddr, strerror(-r));
        vf_sc_next(sc,
                   "set listeners/multicast/interface (e.g. virbr0), or add a route: "
                   "ip route add %s dev IFACE",
                   group->ss_family == AF_INET ? "224.0.0.0/4" : "ff00::/8");
        return -1;
    }
    if (ifname[0] == '\0') {
        vf_sc_line(sc, VF_SC_WARN, "multicast route",
                   "%s routes via source %s on an unknown "
                   "interface",
                   gaddr, src);
        vf_sc_next(sc, "set listeners/multicast/interface to the guests' bridge");
        return -1;
    }
    *ifindex = if_nametoindex(ifname);
    vf_sc_line(sc, VF_SC_OK, "multicast route",
               "%s is routed via %s (source %s); without "
               "listeners/multicast/interface the group is joined there",
               gaddr, ifname, src);
    return 0;
}

/* a test membership of @group on @ifindex, on a throw-away socket (port 0) */
static int
mcast_test_join(const struct sockaddr_storage *group, unsigned int ifindex)
{
    int fd = socket(group->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int r = 0;

    if (fd < 0) {
        return -errno;
    }
    if (group->ss_family == AF_INET) {
        struct ip_mreqn mr;

        memset(&mr, 0, sizeof(mr));
        mr.imr_multiaddr = ((const struct sockaddr_in *)group)->sin_addr;
        mr.imr_ifindex = (int)ifindex;
        r = setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ? -errno : 0;
    } else {
        struct ipv6_mreq mr;

        memset(&mr, 0, sizeof(mr));
        mr.ipv6mr_multiaddr = ((const struct sockaddr_in6 *)group)->sin6_addr;
        mr.ipv6mr_interface = ifindex;
        r = setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ? -errno : 0;
    }
    close(fd);
    return r;
}

/* the interface @ifname: up, MULTICAST, not loopback; the group joins there */
static void
mcast_check_iface(struct vf_sc *sc, const struct vf_lsettings *s, const char *gaddr,
                  const struct sockaddr_storage *group, const char *ifname, unsigned int ifindex)
{
    char addrs[512];
    unsigned int flags = 0;
    int r = 0;

    (void)iface_addrs(ifname, group->ss_family, addrs, sizeof(addrs), &flags);
    if ((flags & IFF_UP) == 0) {
        vf_sc_line(sc, VF_SC_ERR, "multicast interface", "%s (ifindex %u) is down", ifname,
                   ifindex);
        vf_sc_next(sc, "ip link set %s up", ifname);
        return;
    }
    if ((flags & IFF_MULTICAST) == 0) {
        vf_sc_line(sc, VF_SC_ERR, "multicast interface", "%s (ifindex %u) has no MULTICAST flag",
                   ifname, ifindex);
        vf_sc_next(sc, "ip link set %s multicast on, or choose the guests' bridge", ifname);
        return;
    }
    if ((flags & IFF_LOOPBACK) != 0) {
        vf_sc_line(sc, VF_SC_WARN, "multicast interface",
                   "%s is the loopback interface: only this "
                   "host can reach the group there",
                   ifname);
        vf_sc_next(sc, "set listeners/multicast/interface to the guests' bridge (e.g. virbr0)");
    }
    r = mcast_test_join(group, ifindex);
    if (r < 0) {
        vf_sc_line(sc, VF_SC_ERR, "multicast interface", "cannot join %s on %s (ifindex %u): %s",
                   gaddr, ifname, ifindex, strerror(-r));
        vf_sc_next(sc, "check the interface (ip link show %s) and the group address", ifname);
        return;
    }
    if (addrs[0] == '\0') {
        vf_sc_line(sc, VF_SC_WARN, "multicast interface",
                   "%s joined on %s (ifindex %u), but %s has "
                   "no %s address: the call-backs to the guests leave by the routing table",
                   gaddr, ifname, ifindex, ifname, group->ss_family == AF_INET ? "IPv4" : "IPv6");
        vf_sc_next(sc,
                   "give %s an address on the guests' network, or check ip route get "
                   "GUEST-ADDRESS",
                   ifname);
        return;
    }
    vf_sc_line(sc, VF_SC_OK, "multicast interface",
               "%s UDP %u will be received on %s (ifindex %u, "
               "addresses %s)",
               gaddr, (unsigned int)s->port, ifname, ifindex, addrs);
}

void
vf_sc_check_multicast(struct vf_sc *sc, const struct vf_lsettings *s)
{
    const char *gaddr = s->address[0] != '\0'
                            ? s->address
                            : (s->family == AF_INET6 ? VF_DEFAULT_MCAST_V6 : VF_DEFAULT_MCAST_V4);
    struct sockaddr_storage group;
    socklen_t glen = 0;
    char ifname[IF_NAMESIZE + 1] = "";
    unsigned int ifindex = 0;

    if (vf_sockaddr_parse(gaddr, s->port, &group, &glen) < 0) {
        vf_sc_line(sc, VF_SC_ERR, "listener multicast", "group '%s' is not a literal address",
                   gaddr);
        return;
    }
    if (mcast_check_port(sc, s, group.ss_family) < 0) {
        return;
    }
    if (mcast_pick_iface(sc, s, gaddr, &group, glen, ifname, sizeof(ifname), &ifindex) < 0) {
        return;
    }
    mcast_check_iface(sc, s, gaddr, &group, ifname, ifindex);
}
