/*
 * vmfence - daemon/selfcheck.c: `fence_virtd --check` (see selfcheck.h).
 *
 * Everything here only looks: sockets are bound and closed again at once
 * (never while the port is served: a port in use is explained, not taken),
 * the backend is opened read-only (monitor and list), nothing is written.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LINUX_VM_SOCKETS_H
#include <linux/vm_sockets.h>
#endif

#include "auth.h"
#include "io.h"
#include "listeners/common.h"
#include "log.h"
#include "registry.h"
#include "selfcheck.h"

#define SC_BACKEND_WAIT_MS 5000 /* a backend must answer monitor within this */
#define SC_LIST_MS         5000 /* ... and list within this */
#define SC_SHOW_NAMES      5    /* domain names shown per backend / URI */

enum sc_level {
    SC_OK,
    SC_WARN,
    SC_ERR
};

struct sc {
    FILE *out;
    const struct vf_selfcheck_in *in;
    unsigned int n[3];
    /* what the backend listed (for the groups) */
    struct vf_domain_info *doms;
    size_t n_doms;
    size_t cap_doms;
    bool listed;
    pid_t daemon_pid; /* running fence_virtd of the pid file, 0 if none */
    char daemon_pidfile[PATH_MAX];
};

static void sc_line(struct sc *sc, enum sc_level lvl, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void sc_next(struct sc *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sc_line(struct sc *sc, enum sc_level lvl, const char *what, const char *fmt, ...)
{
    static const char *const names[] = { "ok", "warning", "error" };
    va_list ap;

    sc->n[lvl]++;
    fprintf(sc->out, "%-8s %s: ", names[lvl], what);
    va_start(ap, fmt);
    vfprintf(sc->out, fmt, ap);
    va_end(ap);
    fputc('\n', sc->out);
}

/* "next:" line after a warning or error: what to do about it */
static void
sc_next(struct sc *sc, const char *fmt, ...)
{
    va_list ap;

    fputs("         next: ", sc->out);
    va_start(ap, fmt);
    vfprintf(sc->out, fmt, ap);
    va_end(ap);
    fputc('\n', sc->out);
}

/* ---- who holds a port (/proc) ---------------------------------------------- */

/*
 * Inodes of the sockets in /proc/net/@file ("tcp", "udp6", ...; this network
 * namespace) whose local port is @port; TCP: only listening ones.
 */
static size_t
port_inodes(const char *file, uint16_t port, bool tcp, unsigned long *inodes, size_t max, size_t n)
{
    char path[64];
    char line[512];
    FILE *f = NULL;

    snprintf(path, sizeof(path), "/proc/net/%s", file);
    f = fopen(path, "re");
    if (f == NULL) {
        return n;
    }
    while (fgets(line, sizeof(line), f) != NULL && n < max) {
        char local[64];
        unsigned int lport = 0;
        unsigned int st = 0;
        unsigned long inode = 0;

        if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*u %*d %lu", local, &lport,
                   &st, &inode) != 4) {
            continue;
        }
        if (lport != port || inode == 0 || (tcp && st != 0x0A)) {
            continue;
        }
        inodes[n++] = inode;
    }
    fclose(f);
    return n;
}

/* The process holding socket @inode: its pid (0 if none found) and name. */
static pid_t
inode_owner(unsigned long inode, char *comm, size_t comm_len)
{
    char want[64];
    DIR *proc = opendir("/proc");
    struct dirent *de = NULL;
    pid_t found = 0;

    comm[0] = '\0';
    if (proc == NULL) {
        return 0;
    }
    snprintf(want, sizeof(want), "socket:[%lu]", inode);
    while (found == 0 && (de = readdir(proc)) != NULL) {
        char fdpath[300];
        DIR *fds = NULL;
        struct dirent *fe = NULL;

        if (!isdigit((unsigned char)de->d_name[0])) {
            continue;
        }
        snprintf(fdpath, sizeof(fdpath), "/proc/%s/fd", de->d_name);
        fds = opendir(fdpath);
        if (fds == NULL) {
            continue;
        }
        while ((fe = readdir(fds)) != NULL) {
            char lpath[600];
            char target[64];
            ssize_t n = 0;

            if (fe->d_name[0] == '.') {
                continue;
            }
            snprintf(lpath, sizeof(lpath), "%s/%s", fdpath, fe->d_name);
            n = readlink(lpath, target, sizeof(target) - 1);
            if (n <= 0) {
                continue;
            }
            target[n] = '\0';
            if (strcmp(target, want) == 0) {
                found = (pid_t)strtol(de->d_name, NULL, 10);
                break;
            }
        }
        closedir(fds);
    }
    closedir(proc);
    if (found > 0) {
        char cpath[64];
        FILE *f = NULL;

        snprintf(cpath, sizeof(cpath), "/proc/%ld/comm", (long)found);
        f = fopen(cpath, "re");
        if (f != NULL) {
            if (fgets(comm, (int)comm_len, f) == NULL) {
                comm[0] = '\0';
            }
            comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
    }
    return found;
}

/*
 * The pid of the fence_virtd that holds the lock on pid file @path (0 when
 * the file is missing or not locked: nobody runs with it).  Only opens the
 * file read-only and tests the lock.
 */
static pid_t
pidfile_holder(const char *path)
{
    char buf[32];
    ssize_t n = 0;
    pid_t pid = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        return 0;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        (void)flock(fd, LOCK_UN);
        close(fd);
        return 0;
    }
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    pid = (pid_t)strtol(buf, NULL, 10);
    close(fd);
    return pid > 0 ? pid : -1;
}

static void
find_daemon(struct sc *sc)
{
    const char *cands[] = { sc->in->pid_path, "/run/fence_virtd/fence_virtd.pid",
                            "/run/fence_virtd.pid", "/var/run/fence_virtd.pid" };
    size_t n = sc->in->pid_path_given ? 1 : sizeof(cands) / sizeof(cands[0]);

    for (size_t i = 0; i < n; i++) {
        pid_t p = cands[i] != NULL ? pidfile_holder(cands[i]) : 0;

        if (p != 0) {
            sc->daemon_pid = p;
            snprintf(sc->daemon_pidfile, sizeof(sc->daemon_pidfile), "%s", cands[i]);
            return;
        }
    }
}

/*
 * A bind failed with EADDRINUSE: explain who holds @port.  A running
 * fence_virtd (the one of the pid file) serving it is fine.
 */
static void
explain_in_use(struct sc *sc, const char *what, const char *desc, bool tcp, uint16_t port,
               const char *config_key)
{
    unsigned long inodes[32];
    size_t n = 0;
    char comm[64] = "";
    pid_t owner = 0;
    pid_t other_vfd = 0;

    n = port_inodes(tcp ? "tcp" : "udp", port, tcp, inodes, 32, n);
    n = port_inodes(tcp ? "tcp6" : "udp6", port, tcp, inodes, 32, n);
    for (size_t i = 0; i < n; i++) {
        char c[64];
        pid_t p = inode_owner(inodes[i], c, sizeof(c));

        if (p <= 0) {
            continue;
        }
        if (sc->daemon_pid > 0 && p == sc->daemon_pid) {
            sc_line(sc, SC_OK, what,
                    "%s is in use by the running fence_virtd (pid %ld, "
                    "pid file %s): it serves this listener now",
                    desc, (long)p, sc->daemon_pidfile);
            return;
        }
        if (strcmp(c, "fence_virtd") == 0) {
            other_vfd = p;
        }
        if (owner == 0) {
            owner = p;
            snprintf(comm, sizeof(comm), "%s", c);
        }
    }
    if (other_vfd > 0) {
        sc_line(sc, SC_WARN, what,
                "%s is in use by a fence_virtd (pid %ld) that does not "
                "hold the pid file %s",
                desc, (long)other_vfd,
                sc->daemon_pidfile[0] != '\0' ? sc->daemon_pidfile : sc->in->pid_path);
        sc_next(sc, "it was started with another -p or configuration; give --check the same "
                    "-p, or stop that daemon before starting this one");
        return;
    }
    if (owner > 0) {
        sc_line(sc, SC_ERR, what, "%s is in use by another process: pid %ld (%s)", desc,
                (long)owner, comm[0] != '\0' ? comm : "?");
        sc_next(sc,
                "stop that process, or choose another port (%s, and the agents' "
                "-p/ipport)",
                config_key);
        return;
    }
    sc_line(sc, SC_ERR, what, "%s is in use by another process", desc);
    sc_next(sc, "find it with: ss -%slnp 'sport = :%u'; stop it or choose another port (%s)",
            tcp ? "t" : "u", (unsigned int)port, config_key);
}

/* ---- configuration ---------------------------------------------------------- */

static void
check_config(struct sc *sc)
{
    const char *d = sc->in->conf_diag != NULL ? sc->in->conf_diag : "";

    while (*d != '\0') {
        size_t len = strcspn(d, "\n");
        char line[1200];

        snprintf(line, sizeof(line), "%.*s", (int)len, d);
        if (line[0] != '\0') {
            bool err = strstr(line, "error") != NULL;

            sc_line(sc, err ? SC_ERR : SC_WARN, "config", "%s", line);
            if (err) {
                sc_next(sc,
                        "fix %s (fence_virtd --check-config shows the same); see "
                        "fence_virt.conf(5)",
                        sc->in->conf_path);
            }
        }
        d += len;
        d += *d == '\n';
    }
    if (sc->in->conf_errors == 0) {
        char names[300] = "";

        for (size_t i = 0; i < sc->in->n_listeners; i++) {
            size_t l = strlen(names);

            snprintf(names + l, sizeof(names) - l, "%s%s", i > 0 ? "," : "", sc->in->listeners[i]);
        }
        sc_line(sc, SC_OK, "config", "%s: listeners %s, backend %s", sc->in->conf_path, names,
                sc->in->backend != NULL ? sc->in->backend : "?");
    }
}

/* ---- keys ----------------------------------------------------------------------- */

static void
check_key(struct sc *sc, const char *lname, const struct vf_lsettings *s)
{
    char what[64];
    struct stat st;

    snprintf(what, sizeof(what), "key %s", lname);
    if (s->hash == VF_HASH_NONE && s->auth == VF_HASH_NONE) {
        sc_line(sc, SC_WARN, what,
                "hash and auth are \"none\": requests are not "
                "authenticated, anyone on the network can fence");
        sc_next(sc,
                "create a key (dd if=/dev/urandom of=%s bs=512 count=1; chmod 600 %s), "
                "copy it to every guest and set hash/auth to sha256",
                s->key_file, s->key_file);
        return;
    }
    if (s->key == NULL || stat(s->key_file, &st) < 0) {
        /* vf_lsettings_read failed already; the config lines said why */
        sc_line(sc, SC_ERR, what, "%s cannot be loaded", s->key_file);
        sc_next(sc,
                "create it: dd if=/dev/urandom of=%s bs=512 count=1; chmod 600 %s; "
                "then copy it to every guest",
                s->key_file, s->key_file);
        return;
    }
    if ((st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) != 0) {
        sc_line(sc, SC_WARN, what,
                "%s (%zu bytes) is %s%s (mode %04o): whoever reads it can "
                "fence every guest",
                s->key_file, s->key->len,
                (st.st_mode & (S_IROTH | S_IWOTH)) != 0 ? "world" : "group",
                (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ? "-readable/writable" : "-readable",
                (unsigned int)(st.st_mode & 07777));
        sc_next(sc, "chmod 600 %s (and chown root:root)", s->key_file);
        return;
    }
    if (st.st_uid != 0 && geteuid() == 0) {
        sc_line(sc, SC_WARN, what, "%s (%zu bytes, mode %04o) is owned by uid %ld, not root",
                s->key_file, s->key->len, (unsigned int)(st.st_mode & 07777), (long)st.st_uid);
        sc_next(sc, "chown root:root %s", s->key_file);
        return;
    }
    sc_line(sc, SC_OK, what, "%s (%zu bytes, mode %04o, hash >= %s, auth %s)", s->key_file,
            s->key->len, (unsigned int)(st.st_mode & 07777), vf_hash_name(s->hash),
            vf_hash_name(s->auth));
}

/* ---- listeners ------------------------------------------------------------------ */

static void
check_tcp(struct sc *sc, const struct vf_lsettings *s)
{
    const char *addr =
        s->address[0] != '\0' ? s->address : (s->family == AF_INET6 ? "::1" : "127.0.0.1");
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    char desc[300];
    int one = 1;
    int fd = -1;

    if (vf_sockaddr_parse(addr, s->port, &sa, &salen) < 0) {
        sc_line(sc, SC_ERR, "listener tcp", "address '%s' is not a literal IP address", addr);
        sc_next(sc, "set listeners/tcp/address to an address of this host");
        return;
    }
    snprintf(desc, sizeof(desc), "TCP %s%s%s:%u", sa.ss_family == AF_INET6 ? "[" : "", addr,
             sa.ss_family == AF_INET6 ? "]" : "", (unsigned int)s->port);
    fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        sc_line(sc, SC_ERR, "listener tcp", "socket: %s", strerror(errno));
        return;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, salen) == 0) {
        sc_line(sc, SC_OK, "listener tcp", "%s can be bound", desc);
    } else if (errno == EADDRINUSE) {
        explain_in_use(sc, "listener tcp", desc, true, s->port, "listeners/tcp/port");
    } else if (errno == EADDRNOTAVAIL) {
        sc_line(sc, SC_ERR, "listener tcp", "%s: %s is not an address of this host", desc, addr);
        sc_next(sc, "set listeners/tcp/address to one of: ip -br address");
    } else if (errno == EACCES) {
        sc_line(sc, SC_ERR, "listener tcp", "%s: port below 1024 needs privileges", desc);
        sc_next(sc, "use port 1229, or run as root");
    } else {
        sc_line(sc, SC_ERR, "listener tcp", "%s: bind: %s", desc, strerror(errno));
    }
    close(fd);
    if (sa.ss_family == AF_INET ? (ntohl(((struct sockaddr_in *)&sa)->sin_addr.s_addr) >> 24) == 127
                                : IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&sa)->sin6_addr)) {
        sc_line(sc, SC_WARN, "listener tcp",
                "%s is a loopback address: guests cannot reach "
                "it (only a relay or the host itself)",
                addr);
        sc_next(sc, "set listeners/tcp/address to the host's address on the guests' network "
                    "(e.g. the libvirt bridge's, 192.168.122.1)");
    }
}

static void
check_vsock(struct sc *sc, const struct vf_lsettings *s)
{
#ifdef HAVE_LINUX_VM_SOCKETS_H
    struct sockaddr_vm svm;
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        sc_line(sc, SC_ERR, "listener vsock", "AF_VSOCK is not available: %s", strerror(errno));
        sc_next(sc, "load the host module: modprobe vhost_vsock (and give the guests a "
                    "vhost-vsock device)");
        return;
    }
    memset(&svm, 0, sizeof(svm));
    svm.svm_family = AF_VSOCK;
    svm.svm_cid = VMADDR_CID_ANY;
    svm.svm_port = s->port;
    if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) == 0) {
        sc_line(sc, SC_OK, "listener vsock", "vsock port %u can be bound", (unsigned int)s->port);
    } else if (errno == EADDRINUSE) {
        if (sc->daemon_pid > 0) {
            sc_line(sc, SC_OK, "listener vsock",
                    "vsock port %u is in use, presumably by the "
                    "running fence_virtd (pid %ld)",
                    (unsigned int)s->port, (long)sc->daemon_pid);
        } else {
            sc_line(sc, SC_ERR, "listener vsock", "vsock port %u is in use by another process",
                    (unsigned int)s->port);
            sc_next(sc, "ss -xlp --vsock shows which; stop it or change listeners/vsock/port");
        }
    } else {
        sc_line(sc, SC_ERR, "listener vsock", "vsock port %u: bind: %s", (unsigned int)s->port,
                strerror(errno));
        sc_next(sc, "load the host module: modprobe vhost_vsock");
    }
    close(fd);
#else
    (void)s;
    sc_line(sc, SC_ERR, "listener vsock", "this build has no vsock support");
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

static void
check_multicast(struct sc *sc, const struct vf_lsettings *s)
{
    const char *gaddr = s->address[0] != '\0'
                            ? s->address
                            : (s->family == AF_INET6 ? VF_DEFAULT_MCAST_V6 : VF_DEFAULT_MCAST_V4);
    struct sockaddr_storage group;
    socklen_t glen = 0;
    char desc[128];
    char ifname[IF_NAMESIZE + 1] = "";
    char src[INET6_ADDRSTRLEN] = "";
    char addrs[512];
    unsigned int ifindex = 0;
    unsigned int flags = 0;
    int fd = -1;
    int r = 0;

    if (vf_sockaddr_parse(gaddr, s->port, &group, &glen) < 0) {
        sc_line(sc, SC_ERR, "listener multicast", "group '%s' is not a literal address", gaddr);
        return;
    }
    /* the port: bound without SO_REUSEADDR, so a daemon holding it shows */
    snprintf(desc, sizeof(desc), "UDP port %u", (unsigned int)s->port);
    fd = socket(group.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        sc_line(sc, SC_ERR, "listener multicast", "socket: %s", strerror(errno));
        return;
    }
    {
        struct sockaddr_storage any;
        socklen_t alen = 0;

        memset(&any, 0, sizeof(any));
        if (group.ss_family == AF_INET) {
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
            sc_line(sc, SC_OK, "listener multicast", "%s can be bound", desc);
        } else if (errno == EADDRINUSE) {
            explain_in_use(sc, "listener multicast", desc, false, s->port,
                           "listeners/multicast/port");
        } else {
            sc_line(sc, SC_ERR, "listener multicast", "%s: bind: %s", desc, strerror(errno));
        }
    }
    close(fd);

    /* where the group will be received */
    if (s->interface[0] != '\0') {
        ifindex = if_nametoindex(s->interface);
        if (ifindex == 0) {
            sc_line(sc, SC_ERR, "multicast interface", "interface '%s' does not exist",
                    s->interface);
            sc_next(sc, "set listeners/multicast/interface to one of: ip -br link "
                        "(usually the guests' bridge, e.g. virbr0)");
            return;
        }
        snprintf(ifname, sizeof(ifname), "%s", s->interface);
    } else {
        r = group_route(&group, glen, ifname, sizeof(ifname), src, sizeof(src));
        if (r < 0) {
            sc_line(sc, SC_ERR, "multicast route",
                    "no route for %s (%s): the group cannot "
                    "be joined without an interface",
                    gaddr, strerror(-r));
            sc_next(sc,
                    "set listeners/multicast/interface (e.g. virbr0), or add a route: "
                    "ip route add %s dev IFACE",
                    group.ss_family == AF_INET ? "224.0.0.0/4" : "ff00::/8");
            return;
        }
        if (ifname[0] == '\0') {
            sc_line(sc, SC_WARN, "multicast route",
                    "%s routes via source %s on an unknown "
                    "interface",
                    gaddr, src);
            sc_next(sc, "set listeners/multicast/interface to the guests' bridge");
            return;
        }
        ifindex = if_nametoindex(ifname);
        sc_line(sc, SC_OK, "multicast route",
                "%s is routed via %s (source %s); without "
                "listeners/multicast/interface the group is joined there",
                gaddr, ifname, src);
    }
    (void)iface_addrs(ifname, group.ss_family, addrs, sizeof(addrs), &flags);
    if ((flags & IFF_UP) == 0) {
        sc_line(sc, SC_ERR, "multicast interface", "%s (ifindex %u) is down", ifname, ifindex);
        sc_next(sc, "ip link set %s up", ifname);
        return;
    }
    if ((flags & IFF_MULTICAST) == 0) {
        sc_line(sc, SC_ERR, "multicast interface", "%s (ifindex %u) has no MULTICAST flag", ifname,
                ifindex);
        sc_next(sc, "ip link set %s multicast on, or choose the guests' bridge", ifname);
        return;
    }
    if ((flags & IFF_LOOPBACK) != 0) {
        sc_line(sc, SC_WARN, "multicast interface",
                "%s is the loopback interface: only this "
                "host can reach the group there",
                ifname);
        sc_next(sc, "set listeners/multicast/interface to the guests' bridge (e.g. virbr0)");
    }
    /* a test membership on a throw-away socket (port 0) */
    fd = socket(group.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        if (group.ss_family == AF_INET) {
            struct ip_mreqn mr;

            memset(&mr, 0, sizeof(mr));
            mr.imr_multiaddr = ((struct sockaddr_in *)&group)->sin_addr;
            mr.imr_ifindex = (int)ifindex;
            r = setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ? -errno : 0;
        } else {
            struct ipv6_mreq mr;

            memset(&mr, 0, sizeof(mr));
            mr.ipv6mr_multiaddr = ((struct sockaddr_in6 *)&group)->sin6_addr;
            mr.ipv6mr_interface = ifindex;
            r = setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ? -errno : 0;
        }
        close(fd);
    } else {
        r = -errno;
    }
    if (r < 0) {
        sc_line(sc, SC_ERR, "multicast interface", "cannot join %s on %s (ifindex %u): %s", gaddr,
                ifname, ifindex, strerror(-r));
        sc_next(sc, "check the interface (ip link show %s) and the group address", ifname);
        return;
    }
    if (addrs[0] == '\0') {
        sc_line(sc, SC_WARN, "multicast interface",
                "%s joined on %s (ifindex %u), but %s has "
                "no %s address: the call-backs to the guests leave by the routing table",
                gaddr, ifname, ifindex, ifname, group.ss_family == AF_INET ? "IPv4" : "IPv6");
        sc_next(sc,
                "give %s an address on the guests' network, or check ip route get "
                "GUEST-ADDRESS",
                ifname);
        return;
    }
    sc_line(sc, SC_OK, "multicast interface",
            "%s UDP %u will be received on %s (ifindex %u, "
            "addresses %s)",
            gaddr, (unsigned int)s->port, ifname, ifindex, addrs);
}

/* ---- backend and groups ----------------------------------------------------------- */

struct list_ctx {
    struct sc *sc;
    bool keep; /* record for the groups */
    unsigned int n;
    char names[300];
};

static int
list_cb(void *arg, const struct vf_domain_info *dom)
{
    struct list_ctx *lc = arg;
    struct sc *sc = lc->sc;

    if (lc->n < SC_SHOW_NAMES) {
        size_t l = strlen(lc->names);

        snprintf(lc->names + l, sizeof(lc->names) - l, "%s%s", lc->n > 0 ? ", " : "", dom->name);
    } else if (lc->n == SC_SHOW_NAMES) {
        size_t l = strlen(lc->names);

        snprintf(lc->names + l, sizeof(lc->names) - l, ", ...");
    }
    lc->n++;
    if (lc->keep) {
        if (sc->n_doms == sc->cap_doms) {
            size_t cap = sc->cap_doms != 0 ? sc->cap_doms * 2 : 64;
            struct vf_domain_info *d = realloc(sc->doms, cap * sizeof(*d));

            if (d == NULL) {
                return -ENOMEM;
            }
            sc->doms = d;
            sc->cap_doms = cap;
        }
        sc->doms[sc->n_doms++] = *dom;
    }
    return 0;
}

/*
 * Open backend @name with @conf, wait for it to answer (monitor), list.
 * One report line under @what.  Returns 0 when it answered.
 */
static int
probe_backend(struct sc *sc, const char *what, const char *name, const struct vf_conf *conf,
              bool keep, const char *uri)
{
    const struct vf_backend_ops *ops = vf_registry_backend(name);
    const struct vf_host_api *host = vf_registry_host(name);
    struct list_ctx lc;
    void *priv = NULL;
    char err[1024] = "";
    int64_t deadline = vf_now_ms() + SC_BACKEND_WAIT_MS;
    int r = 0;

    memset(&lc, 0, sizeof(lc));
    lc.sc = sc;
    lc.keep = keep;
    if (ops == NULL) {
        sc_line(sc, SC_ERR, what, "unknown backend '%s'", name);
        sc_next(sc, "fence_virtd -l lists the available backends");
        return -ENOENT;
    }
    r = ops->init(host, conf, &priv, err, sizeof(err));
    if (r < 0) {
        sc_line(sc, SC_ERR, what, "cannot start: %s", err[0] != '\0' ? err : strerror(-r));
        sc_next(sc, "fix backends/%s in %s", name, sc->in->conf_path);
        return r;
    }
    /* a backend connects in the background: ask until it answers */
    for (;;) {
        r = ops->monitor != NULL ? ops->monitor(priv, deadline) : 0;
        if (r == 0 || vf_ms_left(deadline) <= 0) {
            break;
        }
        {
            struct timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };

            nanosleep(&ts, NULL);
        }
    }
    if (r == 0) {
        r = ops->list(priv, list_cb, &lc, vf_now_ms() + SC_LIST_MS);
    }
    ops->fini(priv);
    if (r < 0) {
        sc_line(sc, SC_ERR, what, "%s%s%sdid not answer within %d s (%s)", uri != NULL ? "'" : "",
                uri != NULL ? uri : "", uri != NULL ? "' " : "", SC_BACKEND_WAIT_MS / 1000,
                strerror(-r));
        if (strcasecmp(name, "libvirt") == 0) {
            sc_next(sc,
                    "is libvirtd/virtqemud running (systemctl status libvirtd "
                    "virtqemud)? try: virsh -c '%s' list --all",
                    uri != NULL ? uri : "qemu:///system");
        } else if (strcasecmp(name, "cpg") == 0) {
            sc_next(sc, "is corosync running and this node in the cluster (corosync-quorumtool)?");
        } else {
            sc_next(sc, "check that the hypervisor behind backend '%s' runs", name);
        }
        return r;
    }
    if (keep) {
        sc->listed = true;
    }
    if (lc.n == 0) {
        sc_line(sc, SC_WARN, what, "%s%s%sanswers, but lists no domain", uri != NULL ? "'" : "",
                uri != NULL ? uri : "", uri != NULL ? "' " : "");
        sc_next(sc, "requests for any VM will fail: is this the right URI / host?");
        return 0;
    }
    sc_line(sc, SC_OK, what, "%s%s%sanswers: %u domain%s (%s)", uri != NULL ? "'" : "",
            uri != NULL ? uri : "", uri != NULL ? "' " : "", lc.n, lc.n == 1 ? "" : "s", lc.names);
    return 0;
}

static void
check_backend(struct sc *sc)
{
    const struct vf_conf *conf = sc->in->conf;
    const struct vf_conf_node *blk = NULL;
    const char *name = sc->in->backend;
    char what[64];
    unsigned int n_uris = 0;

    if (name == NULL) {
        return;
    }
    snprintf(what, sizeof(what), "backend %s", name);
    if (strcasecmp(name, "libvirt") == 0) {
        blk = vf_conf_block(conf, NULL, "backends/libvirt");
        for (const struct vf_conf_node *n = blk != NULL ? blk->children : NULL; n != NULL;
             n = n->next) {
            n_uris += !n->is_block && strncasecmp(n->name, "uri", 3) == 0;
        }
    }
    if (n_uris <= 1) {
        const char *uri = NULL;

        if (strcasecmp(name, "libvirt") == 0) {
            uri = vf_conf_get(conf, "backends/libvirt/uri", "qemu:///system");
        }
        (void)probe_backend(sc, what, name, conf, true, uri);
        return;
    }
    /* several URIs: the whole backend (what requests see), then each URI alone */
    (void)probe_backend(sc, what, name, conf, true, NULL);
    for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
        struct vf_conf *one = NULL;
        char buf[2048];
        char err[512];
        int len = 0;

        if (n->is_block || strncasecmp(n->name, "uri", 3) != 0 || n->value == NULL) {
            continue;
        }
        if (strpbrk(n->value, "\"\\\n") != NULL) {
            continue;
        }
        len = snprintf(buf, sizeof(buf), "backends {\n\tlibvirt {\n\t\turi = \"%s\";\n\t}\n}\n",
                       n->value);
        if (len <= 0 || (size_t)len >= sizeof(buf) ||
            vf_conf_parse_buffer("--check", buf, (size_t)len, &one, err, sizeof(err)) < 0) {
            continue;
        }
        snprintf(what, sizeof(what), "backend %s %s", name, n->name);
        (void)probe_backend(sc, what, name, one, false, n->value);
        vf_conf_free(one);
    }
}

static bool
domain_known(const struct sc *sc, const char *v)
{
    for (size_t i = 0; i < sc->n_doms; i++) {
        if (strcmp(sc->doms[i].name, v) == 0 || strcasecmp(sc->doms[i].uuid, v) == 0) {
            return true;
        }
    }
    return false;
}

static void
check_groups(struct sc *sc)
{
    const struct vf_conf_node *blk = vf_conf_block(sc->in->conf, NULL, "groups");
    unsigned int n_groups = 0;
    unsigned int n_entries = 0;
    unsigned int unknown = 0;

    if (blk == NULL) {
        sc_line(sc, SC_OK, "groups",
                "none configured: every requester that has the key may "
                "fence every domain");
        return;
    }
    for (const struct vf_conf_node *g = blk->children; g != NULL; g = g->next) {
        const char *gname = NULL;
        char what[128];

        if (!g->is_block || strcasecmp(g->name, "group") != 0) {
            continue;
        }
        n_groups++;
        for (const struct vf_conf_node *e = g->children; e != NULL; e = e->next) {
            if (!e->is_block && strcasecmp(e->name, "name") == 0) {
                gname = e->value;
            }
        }
        snprintf(what, sizeof(what), "group %s", gname != NULL ? gname : "(unnamed)");
        for (const struct vf_conf_node *e = g->children; e != NULL; e = e->next) {
            if (e->is_block || strcasecmp(e->name, "uuid") != 0 || e->value == NULL) {
                continue;
            }
            n_entries++;
            if (!sc->listed || domain_known(sc, e->value)) {
                continue;
            }
            unknown++;
            sc_line(sc, SC_WARN, what, "'%s' (line %u) matches no domain the backend lists",
                    e->value, e->line);
            sc_next(sc, "names compare case-sensitively and UUIDs must be exact: correct it "
                        "(virsh list --all --name / --uuid), or ignore if that VM lives on "
                        "another host");
        }
    }
    if (!sc->listed) {
        sc_line(sc, SC_WARN, "groups",
                "%u group%s, %u domain entr%s not checked: the backend "
                "did not list its domains",
                n_groups, n_groups == 1 ? "" : "s", n_entries, n_entries == 1 ? "y" : "ies");
        return;
    }
    if (unknown == 0) {
        sc_line(sc, SC_OK, "groups",
                "%u group%s; each of the %u domain entr%s matches a "
                "listed domain",
                n_groups, n_groups == 1 ? "" : "s", n_entries, n_entries == 1 ? "y" : "ies");
    }
}

/* ---- firewall reminder ------------------------------------------------------------- */

static void
firewall_notes(struct sc *sc, bool mcast, uint16_t mport, bool tcp, uint16_t tport)
{
    if (!mcast && !tcp) {
        return;
    }
    fprintf(sc->out, "\nPacket filters are not visible from here. If the guests still time "
                     "out, open:\n");
    if (mcast) {
        fprintf(sc->out,
                "  on this host (multicast requests): UDP %u and IGMP, inbound\n"
                "    firewall-cmd --permanent --add-port=%u/udp --add-protocol=igmp && "
                "firewall-cmd --reload\n"
                "    nft add rule inet filter input udp dport %u accept; "
                "nft add rule inet filter input ip protocol igmp accept\n"
                "  on every guest (the host's call-back): TCP %u, inbound from this host\n"
                "    firewall-cmd --permanent --add-port=%u/tcp && firewall-cmd --reload\n"
                "    nft add rule inet filter input tcp dport %u accept\n"
                "  then, on a guest: fence_xvm -o list --diagnose\n",
                (unsigned int)mport, (unsigned int)mport, (unsigned int)mport, (unsigned int)mport,
                (unsigned int)mport, (unsigned int)mport);
    }
    if (tcp) {
        fprintf(sc->out,
                "  on this host (tcp listener): TCP %u, inbound from the guests\n"
                "    firewall-cmd --permanent --add-port=%u/tcp && firewall-cmd --reload\n"
                "    nft add rule inet filter input tcp dport %u accept\n",
                (unsigned int)tport, (unsigned int)tport, (unsigned int)tport);
    }
}

/* ---- the run --------------------------------------------------------------------- */

int
vf_selfcheck_run(const struct vf_selfcheck_in *in, FILE *out)
{
    struct sc sc;
    bool mcast = false, tcp = false;
    uint16_t mport = VF_DEFAULT_PORT, tport = VF_DEFAULT_PORT;

    memset(&sc, 0, sizeof(sc));
    sc.out = out;
    sc.in = in;
    fprintf(out, "fence_virtd --check: %s\n", in->conf_path);
    if (in->parse_error != NULL || in->conf == NULL) {
        sc_line(&sc, SC_ERR, "config", "%s",
                in->parse_error != NULL ? in->parse_error : "cannot be read");
        sc_next(&sc, "fix it, or create one: fence_virtd -c");
        fprintf(out, "\n0 ok, 0 warnings, 1 error\n");
        return 1;
    }
    check_config(&sc);
    find_daemon(&sc);
    if (sc.daemon_pid > 0) {
        sc_line(&sc, SC_OK, "daemon",
                "fence_virtd runs (pid %ld, pid file %s); its ports "
                "are reported as in use by it",
                (long)sc.daemon_pid, sc.daemon_pidfile);
    }
    if (vf_auth_init() < 0) {
        sc_line(&sc, SC_ERR, "crypto", "cannot initialise the crypto library (NSS)");
    }
    for (size_t i = 0; i < in->n_listeners; i++) {
        const char *l = in->listeners[i];
        struct vf_lsettings s;
        char err[1024] = "";
        char what[64];
        bool is_tcp = strcasecmp(l, "tcp") == 0;
        bool is_mcast = strcasecmp(l, "multicast") == 0;
        bool is_vsock = strcasecmp(l, "vsock") == 0;

        snprintf(what, sizeof(what), "listener %s", l);
        if (!is_tcp && !is_mcast && !is_vsock) {
            if (vf_registry_listener(l) != NULL) {
                sc_line(&sc, SC_OK, what, "configured (not probed by --check)");
            }
            continue;
        }
        memset(&s, 0, sizeof(s));
        if (vf_lsettings_read(in->conf, l, &s, err, sizeof(err)) < 0) {
            sc_line(&sc, SC_ERR, what, "%s", err);
            sc_next(&sc, "fix listeners/%s in %s", l, in->conf_path);
            vf_lsettings_done(&s);
            continue;
        }
        check_key(&sc, l, &s);
        if (is_tcp) {
            check_tcp(&sc, &s);
            tcp = true;
            tport = s.port;
        } else if (is_mcast) {
            check_multicast(&sc, &s);
            mcast = true;
            mport = s.port;
        } else {
            check_vsock(&sc, &s);
        }
        vf_lsettings_done(&s);
    }
    check_backend(&sc);
    check_groups(&sc);
    firewall_notes(&sc, mcast, mport, tcp, tport);
    fprintf(out, "\n%u ok, %u warning%s, %u error%s\n", sc.n[SC_OK], sc.n[SC_WARN],
            sc.n[SC_WARN] == 1 ? "" : "s", sc.n[SC_ERR], sc.n[SC_ERR] == 1 ? "" : "s");
    free(sc.doms);
    return sc.n[SC_ERR] > 0 ? 1 : 0;
}
