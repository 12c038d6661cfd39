/*
 * vmfence - tests/shim/vsock-shim.c: LD_PRELOAD shim that fakes AF_VSOCK
 * stream sockets with AF_UNIX sockets, for testing vsock clients and
 * listeners on a kernel without a vsock loopback transport.
 *
 * FAKE, for tests only.  Every socket(AF_VSOCK, SOCK_STREAM) becomes an
 * AF_UNIX stream socket; bind/connect to vsock port P use the path
 * $VFT_VSOCK_DIR/port-P (the CID is ignored: every process under the shim
 * talks to every other one).  Addresses reported back (accept,
 * getpeername, getsockname) are sockaddr_vm: the accepting side sees the
 * peer CID from $VFT_VSOCK_PEER_CID (default 3, "the guest"), the
 * connecting side sees CID 2 (the host).  setsockopt at level AF_VSOCK is
 * accepted and ignored.  Works with both our agent and the reference
 * fence_virtd (vsock.so).  Built without sanitizers; an ASan-built program
 * needs ASAN_OPTIONS=verify_asan_link_order=0 to run under it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#define SHIM_MAX_FD 4096

enum shim_role {
    ROLE_NONE = 0,
    ROLE_SOCKET,     /* created, not yet bound or connected */
    ROLE_LISTEN,     /* bound (server side) */
    ROLE_ACCEPTED,   /* accepted connection: the peer is the guest */
    ROLE_CONNECTED,  /* connected client: the peer is the host */
};

static unsigned char shim_role[SHIM_MAX_FD];
static unsigned int shim_port[SHIM_MAX_FD];

/* exported interposers: declared here for -Wmissing-prototypes */
int socket(int domain, int type, int protocol);
int bind(int fd, const struct sockaddr *sa, socklen_t len);
int connect(int fd, const struct sockaddr *sa, socklen_t len);
int accept(int fd, struct sockaddr *sa, socklen_t *len);
int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
int getpeername(int fd, struct sockaddr *sa, socklen_t *len);
int getsockname(int fd, struct sockaddr *sa, socklen_t *len);
int setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int close(int fd);

#define REAL(name, ret, ...) \
    static ret (*real_##name)(__VA_ARGS__); \
    static ret (*get_##name(void))(__VA_ARGS__) \
    { \
        if (real_##name == NULL) { \
            *(void **)&real_##name = dlsym(RTLD_NEXT, #name); \
        } \
        return real_##name; \
    }

REAL(socket, int, int, int, int)
REAL(bind, int, int, const struct sockaddr *, socklen_t)
REAL(connect, int, int, const struct sockaddr *, socklen_t)
REAL(accept4, int, int, struct sockaddr *, socklen_t *, int)
REAL(getpeername, int, int, struct sockaddr *, socklen_t *)
REAL(getsockname, int, int, struct sockaddr *, socklen_t *)
REAL(setsockopt, int, int, int, int, const void *, socklen_t)
REAL(close, int, int)

static bool
is_vsock(int fd)
{
    return fd >= 0 && fd < SHIM_MAX_FD && shim_role[fd] != ROLE_NONE;
}

static unsigned int
peer_cid(void)
{
    const char *s = getenv("VFT_VSOCK_PEER_CID");
    unsigned long v;
    char *end = NULL;

    if (s == NULL || *s == '\0') {
        return 3;
    }
    v = strtoul(s, &end, 10);
    return (end != NULL && *end == '\0' && v <= UINT32_MAX) ? (unsigned int)v : 3;
}

static int
vsock_path(unsigned int port, struct sockaddr_un *sun)
{
    const char *dir = getenv("VFT_VSOCK_DIR");
    int n;

    if (dir == NULL || *dir == '\0') {
        dir = "/tmp";
    }
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/port-%u", dir, port);
    if (n < 0 || (size_t)n >= sizeof(sun->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static void
fill_vm(struct sockaddr *sa, socklen_t *len, unsigned int cid, unsigned int port)
{
    struct sockaddr_vm vm;
    socklen_t n;

    if (sa == NULL || len == NULL) {
        return;
    }
    memset(&vm, 0, sizeof(vm));
    vm.svm_family = AF_VSOCK;
    vm.svm_cid = cid;
    vm.svm_port = port;
    n = *len < sizeof(vm) ? *len : (socklen_t)sizeof(vm);
    memcpy(sa, &vm, n);
    *len = sizeof(vm);
}

int
socket(int domain, int type, int protocol)
{
    int fd;

    if (domain != AF_VSOCK) {
        return get_socket()(domain, type, protocol);
    }
    fd = get_socket()(AF_UNIX, type, 0);
    if (fd >= 0 && fd < SHIM_MAX_FD) {
        shim_role[fd] = ROLE_SOCKET;
        shim_port[fd] = 0;
    }
    return fd;
}

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    struct sockaddr_vm vm;
    struct sockaddr_un sun;

    if (!is_vsock(fd) || sa == NULL || sa->sa_family != AF_VSOCK || len < sizeof(vm)) {
        return get_bind()(fd, sa, len);
    }
    memcpy(&vm, sa, sizeof(vm));
    if (vsock_path(vm.svm_port, &sun) < 0) {
        return -1;
    }
    unlink(sun.sun_path);
    if (get_bind()(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        return -1;
    }
    shim_role[fd] = ROLE_LISTEN;
    shim_port[fd] = vm.svm_port;
    return 0;
}

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    struct sockaddr_vm vm;
    struct sockaddr_un sun;
    int rc;

    if (!is_vsock(fd) || sa == NULL || sa->sa_family != AF_VSOCK || len < sizeof(vm)) {
        return get_connect()(fd, sa, len);
    }
    memcpy(&vm, sa, sizeof(vm));
    if (vsock_path(vm.svm_port, &sun) < 0) {
        return -1;
    }
    rc = get_connect()(fd, (struct sockaddr *)&sun, sizeof(sun));
    if (rc == 0 || errno == EINPROGRESS || errno == EAGAIN) {
        shim_role[fd] = ROLE_CONNECTED;
        shim_port[fd] = vm.svm_port;
    }
    if (rc < 0 && errno == ENOENT) {
        errno = ECONNREFUSED;     /* nobody bound that port: what vsock says */
    }
    return rc;
}

int
accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    int nfd;

    if (!is_vsock(fd)) {
        return get_accept4()(fd, sa, len, flags);
    }
    nfd = get_accept4()(fd, NULL, NULL, flags);
    if (nfd >= 0 && nfd < SHIM_MAX_FD) {
        shim_role[nfd] = ROLE_ACCEPTED;
        shim_port[nfd] = shim_port[fd];
        fill_vm(sa, len, peer_cid(), 1024 + (unsigned int)nfd);
    }
    return nfd;
}

int
accept(int fd, struct sockaddr *sa, socklen_t *len)
{
    return accept4(fd, sa, len, 0);
}

int
getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
    if (!is_vsock(fd)) {
        return get_getpeername()(fd, sa, len);
    }
    switch (shim_role[fd]) {
    case ROLE_ACCEPTED:
        fill_vm(sa, len, peer_cid(), 1024 + (unsigned int)fd);
        return 0;
    case ROLE_CONNECTED:
        fill_vm(sa, len, VMADDR_CID_HOST, shim_port[fd]);
        return 0;
    default:
        errno = ENOTCONN;
        return -1;
    }
}

int
getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
    if (!is_vsock(fd)) {
        return get_getsockname()(fd, sa, len);
    }
    if (shim_role[fd] == ROLE_CONNECTED) {
        fill_vm(sa, len, peer_cid(), 1024 + (unsigned int)fd);
    } else {
        fill_vm(sa, len, VMADDR_CID_HOST, shim_port[fd]);
    }
    return 0;
}

int
setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    if (is_vsock(fd) && level == AF_VSOCK) {
        return 0;
    }
    return get_setsockopt()(fd, level, name, val, len);
}

int
close(int fd)
{
    if (fd >= 0 && fd < SHIM_MAX_FD) {
        shim_role[fd] = ROLE_NONE;
    }
    return get_close()(fd);
}
