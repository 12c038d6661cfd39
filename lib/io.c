/*
 * vmfence - lib/io.c: sockets and file descriptors with deadlines.
 *
 * Every wait goes through poll() bounded by an absolute CLOCK_MONOTONIC
 * deadline in milliseconds.  Reads and writes work on sockets (MSG_NOSIGNAL,
 * MSG_DONTWAIT) and fall back to read()/write() for ttys and pipes
 * (ENOTSOCK).  Address parsing accepts literals only (no DNS).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LINUX_VM_SOCKETS_H
#include <linux/vm_sockets.h>
#endif

#include "io.h"

int64_t
vf_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
vf_ms_left(int64_t deadline_ms)
{
    int64_t left = deadline_ms - vf_now_ms();

    if (left < 0) {
        return 0;
    }
    if (left > INT_MAX) {
        return INT_MAX;
    }
    return (int)left;
}

/**
 * \brief Parse a numeric IPv4 or IPv6 address ("192.0.2.1", "::1",
 *        "fe80::1%eth0", "[::1]") into a socket address with @port.
 * \return 0, or -EINVAL if @addr is not an address literal
 */
int
vf_sockaddr_parse(const char *addr, uint16_t port,
                  struct sockaddr_storage *ret_sa, socklen_t *ret_len)
{
    char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 4];
    struct addrinfo hints, *res = NULL;
    size_t n;
    int r;

    if (addr == NULL) {
        return -EINVAL;
    }
    n = strlen(addr);
    if (n == 0 || n >= sizeof(tmp)) {
        return -EINVAL;
    }
    /* allow a bracketed IPv6 literal */
    if (addr[0] == '[') {
        if (n < 3 || addr[n - 1] != ']') {
            return -EINVAL;
        }
        memcpy(tmp, addr + 1, n - 2);
        tmp[n - 2] = '\0';
        if (strchr(tmp, ':') == NULL) {
            return -EINVAL;
        }
    } else {
        memcpy(tmp, addr, n + 1);
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    r = getaddrinfo(tmp, NULL, &hints, &res);
    if (r != 0 || res == NULL) {
        if (res != NULL) {
            freeaddrinfo(res);
        }
        return -EINVAL;
    }
    /* getaddrinfo() accepts inet_aton() forms such as "1" or "0x7f.1";
     * insist on dotted quads for IPv4 */
    if (res->ai_family == AF_INET) {
        struct in_addr in;

        if (inet_pton(AF_INET, tmp, &in) != 1) {
            freeaddrinfo(res);
            return -EINVAL;
        }
    }
    if ((res->ai_family != AF_INET && res->ai_family != AF_INET6) ||
        res->ai_addrlen > sizeof(*ret_sa)) {
        freeaddrinfo(res);
        return -EINVAL;
    }
    memset(ret_sa, 0, sizeof(*ret_sa));
    memcpy(ret_sa, res->ai_addr, res->ai_addrlen);
    *ret_len = res->ai_addrlen;
    freeaddrinfo(res);
    if (ret_sa->ss_family == AF_INET) {
        ((struct sockaddr_in *)(void *)ret_sa)->sin_port = htons(port);
    } else {
        ((struct sockaddr_in6 *)(void *)ret_sa)->sin6_port = htons(port);
    }
    return 0;
}

/**
 * \brief Format a socket address for logs: "192.0.2.1", "::1",
 *        "192.0.2.1:1229", "[::1]:1229", a UNIX path, or a vsock CID
 *        (decimal, with ":port").
 * \return @buf (always NUL-terminated when @buf_len > 0)
 */
const char *
vf_sockaddr_str(const struct sockaddr *sa, socklen_t len, char *buf,
                size_t buf_len, int with_port)
{
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];

    if (buf == NULL || buf_len == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (sa == NULL || len < (socklen_t)sizeof(sa_family_t)) {
        snprintf(buf, buf_len, "(none)");
        return buf;
    }
    switch (sa->sa_family) {
    case AF_INET:
    case AF_INET6:
        if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
                        NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
            snprintf(buf, buf_len, "(invalid)");
        } else if (!with_port) {
            snprintf(buf, buf_len, "%s", host);
        } else if (sa->sa_family == AF_INET6) {
            snprintf(buf, buf_len, "[%s]:%s", host, serv);
        } else {
            snprintf(buf, buf_len, "%s:%s", host, serv);
        }
        break;
    case AF_UNIX: {
        const struct sockaddr_un *un = (const void *)sa;
        size_t plen = len > offsetof(struct sockaddr_un, sun_path)
                          ? len - offsetof(struct sockaddr_un, sun_path)
                          : 0;

        if (plen > sizeof(un->sun_path)) {
            plen = sizeof(un->sun_path);
        }
        if (plen == 0 || un->sun_path[0] == '\0') {
            snprintf(buf, buf_len, "(unix)");
        } else {
            snprintf(buf, buf_len, "%.*s", (int)strnlen(un->sun_path, plen),
                     un->sun_path);
        }
        break;
    }
#ifdef HAVE_LINUX_VM_SOCKETS_H
    case AF_VSOCK: {
        const struct sockaddr_vm *vm = (const void *)sa;

        if (len < (socklen_t)sizeof(*vm)) {
            snprintf(buf, buf_len, "(invalid)");
        } else if (with_port) {
            snprintf(buf, buf_len, "%u:%u", vm->svm_cid, vm->svm_port);
        } else {
            snprintf(buf, buf_len, "%u", vm->svm_cid);
        }
        break;
    }
#endif
    default:
        snprintf(buf, buf_len, "(family %d)", (int)sa->sa_family);
        break;
    }
    return buf;
}

/* poll one fd for @events until the deadline; 0, -ETIMEDOUT, -errno */
static int
poll_one(int fd, short events, int64_t deadline_ms, short *ret_revents)
{
    struct pollfd pfd;
    int r;

    if (fd < 0) {
        return -EBADF;    /* poll() would silently ignore it */
    }
    for (;;) {
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        r = poll(&pfd, 1, vf_ms_left(deadline_ms));
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (r == 0) {
            return -ETIMEDOUT;
        }
        if (pfd.revents & POLLNVAL) {
            return -EBADF;
        }
        *ret_revents = pfd.revents;
        return 0;
    }
}

/**
 * \brief Connect a new stream socket to @sa, never waiting past the
 *        deadline.  The socket is created SOCK_CLOEXEC and returned in
 *        blocking mode.
 * \param[out] ret_fd  set on success only
 * \return 0, -ETIMEDOUT, -ECONNREFUSED, ... (negative errno)
 */
int
vf_connect(const struct sockaddr *sa, socklen_t len, int64_t deadline_ms,
           int *ret_fd)
{
    int fd = -1;
    int r = 0;
    int flags;

    if (sa == NULL || ret_fd == NULL) {
        return -EINVAL;
    }
    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, sa, len) < 0) {
        int soerr = 0;
        socklen_t slen = sizeof(soerr);
        short revents = 0;

        if (errno != EINPROGRESS && errno != EINTR) {
            r = -errno;
            goto out;
        }
        r = poll_one(fd, POLLOUT, deadline_ms, &revents);
        if (r < 0) {
            goto out;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0) {
            r = -errno;
            goto out;
        }
        if (soerr != 0) {
            r = -soerr;
            goto out;
        }
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        r = -errno;
        goto out;
    }
    *ret_fd = fd;
    fd = -1;
    r = 0;
out:
    vf_close(fd);
    return r;
}

/** \brief vf_sockaddr_parse() + vf_connect(). */
int
vf_connect_tcp(const char *addr, uint16_t port, int64_t deadline_ms,
               int *ret_fd)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int r;

    r = vf_sockaddr_parse(addr, port, &ss, &len);
    if (r < 0) {
        return r;
    }
    return vf_connect((const struct sockaddr *)&ss, len, deadline_ms, ret_fd);
}

static _Thread_local unsigned int io_spin_us;     /* vf_io_set_spin() */

void
vf_io_set_spin(unsigned int us)
{
    io_spin_us = us < VF_IO_SPIN_MAX_US ? us : VF_IO_SPIN_MAX_US;
}

static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * A socket read would block: retry it for up to the thread's spin budget,
 * never past @deadline_ms.  \return what the last recv() returned (errno
 * EAGAIN when nothing came)
 */
static ssize_t
spin_recv(int fd, uint8_t *buf, size_t want, int64_t deadline_ms)
{
    int64_t until = now_us() + io_spin_us;
    ssize_t n = -1;

    if (until > deadline_ms * 1000) {
        until = deadline_ms * 1000;
    }
    do {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        n = recv(fd, buf, want, MSG_DONTWAIT);
    } while (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && now_us() < until);
    return n;
}

/*
 * Move exactly @len bytes from @fd into @rbuf, or from @wbuf (when not
 * NULL) to @fd, before the deadline: the one loop behind vf_read_full()
 * and vf_write_full().  Sockets use
 * recv()/send() with MSG_DONTWAIT (and MSG_NOSIGNAL); other fds (ttys,
 * pipes) fall back to read()/write() on ENOTSOCK, writes in chunks small
 * enough for a POLLOUT pipe.  On sockets the transfer is tried first and
 * poll() only runs when it would block (one syscall instead of two in the
 * common case; the deadline still bounds every wait).
 */
static int
xfer_full(int fd, uint8_t *rbuf, const uint8_t *wbuf, size_t len, int64_t deadline_ms)
{
    bool writing = wbuf != NULL;
    size_t done = 0;
    bool is_sock = true;
    bool would_block = false;
    bool spun = false;

    if (fd < 0) {
        return -EBADF;
    }
    while (done < len) {
        short revents = 0;
        size_t want = len - done;
        ssize_t n;
        int r;

        if (!is_sock || would_block) {
            r = poll_one(fd, writing ? POLLOUT : POLLIN, deadline_ms, &revents);
            if (r < 0) {
                return r;
            }
        }
        would_block = false;
        if (is_sock) {
            n = writing ? send(fd, wbuf + done, want, MSG_NOSIGNAL | MSG_DONTWAIT)
                        : recv(fd, rbuf + done, want, MSG_DONTWAIT);
            if (n < 0 && errno == ENOTSOCK) {
                is_sock = false;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !writing &&
                io_spin_us > 0 && !spun) {
                spun = true;    /* once per call: then poll() */
                n = spin_recv(fd, rbuf + done, want, deadline_ms);
            }
        } else if (writing) {
            /* small chunks: a POLLOUT pipe has room for at least this
             * much, so a blocking write() does not stall */
            n = write(fd, wbuf + done, want < 512 ? want : 512);
        } else {
            n = read(fd, rbuf + done, want);
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                would_block = true;
                continue;
            }
            if (errno == EINTR) {
                continue;
            }
            return errno == EPIPE ? -ECONNRESET : -errno;
        }
        if (n == 0) {
            /* EOF on a read; a write that moves nothing is treated alike
             * rather than spinning until the deadline */
            return -ECONNRESET;
        }
        done += (size_t)n;
    }
    return 0;
}

/**
 * \brief Read exactly @len bytes before the deadline.
 * \return 0; -ETIMEDOUT; -ECONNRESET if the peer closed first; -errno
 */
int
vf_read_full(int fd, void *buf, size_t len, int64_t deadline_ms)
{
    return xfer_full(fd, buf, NULL, len, deadline_ms);
}

/**
 * \brief Write all @len bytes before the deadline (MSG_NOSIGNAL on
 *        sockets; for pipes the caller must ignore SIGPIPE).
 * \return 0; -ETIMEDOUT; -ECONNRESET if the peer is gone; -errno
 */
int
vf_write_full(int fd, const void *buf, size_t len, int64_t deadline_ms)
{
    return xfer_full(fd, NULL, buf, len, deadline_ms);
}

/** \return 0 when @fd is readable (or at EOF / in error), -ETIMEDOUT,
 *  -EBADF, -errno */
int
vf_wait_readable(int fd, int64_t deadline_ms)
{
    short revents = 0;

    return poll_one(fd, POLLIN, deadline_ms, &revents);
}

int
vf_close(int fd)
{
    if (fd >= 0) {
        int saved = errno;

        close(fd);
        errno = saved;
    }
    return -1;
}

int
vf_stat_trusted(const struct stat *st, const char *path, char *why, size_t why_len)
{
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        snprintf(why, why_len, "'%s' is writable by %s (mode %04o), refused", path,
                 (st->st_mode & S_IWOTH) != 0 ? "others" : "its group",
                 (unsigned int)(st->st_mode & 07777));
        return -EPERM;
    }
    if (st->st_uid != 0 && st->st_uid != geteuid()) {
        snprintf(why, why_len, "'%s' is owned by uid %ld, neither root nor fence_virtd's user, "
                 "refused", path, (long)st->st_uid);
        return -EPERM;
    }
    return 0;
}
