/*
 * vmfence - lib/io.h: sockets with deadlines.
 *
 * Every deadline is an absolute CLOCK_MONOTONIC time in milliseconds
 * (vf_now_ms() + timeout).  Every fd is created O_CLOEXEC.  Functions return
 * 0 or a negative errno; -ETIMEDOUT when the deadline passes, -ECONNRESET
 * when the peer closes before all bytes arrived.
 */
#ifndef VF_IO_H
#define VF_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

int64_t vf_now_ms(void);
/* remaining ms until @deadline_ms, clamped to [0, INT_MAX] */
int vf_ms_left(int64_t deadline_ms);

/* Parse a literal IPv4/IPv6 address (no DNS) with a port. -EINVAL if not a literal. */
int vf_sockaddr_parse(const char *addr, uint16_t port,
                      struct sockaddr_storage *ret_sa, socklen_t *ret_len);
/* "ip" or "[ip6]:port" style text for logs */
const char *vf_sockaddr_str(const struct sockaddr *sa, socklen_t len,
                            char *buf, size_t buf_len, int with_port);

/* Non-blocking connect bounded by the deadline; returns a blocking-mode fd. */
int vf_connect(const struct sockaddr *sa, socklen_t len, int64_t deadline_ms,
               int *ret_fd);
int vf_connect_tcp(const char *addr, uint16_t port, int64_t deadline_ms,
                   int *ret_fd);

int vf_read_full(int fd, void *buf, size_t len, int64_t deadline_ms);
int vf_write_full(int fd, const void *buf, size_t len, int64_t deadline_ms);
/* Wait until @fd is readable (POLLIN) or the deadline passes. */
int vf_wait_readable(int fd, int64_t deadline_ms);

/*
 * The calling thread's busy-poll budget, in microseconds (0, the default:
 * none; at most VF_IO_SPIN_MAX_US): a socket read of vf_read_full() that
 * would block first retries recv() for up to that long before it sleeps in
 * poll().  For a daemon thread that serves the only request in flight on a
 * machine with a CPU to spare: a peer's answer due within microseconds
 * then costs no sleep and wake-up.  The deadline still bounds it.
 */
#define VF_IO_SPIN_MAX_US 200
void vf_io_set_spin(unsigned int us);

/*
 * May fence_virtd, running as root, trust the file or directory @st (of
 * @path) with code: neither group- nor other-writable, and owned by root
 * or by this process's user.  0, or -EPERM with the reason (naming @path)
 * in @why.  The type (regular file, directory) is the caller's to check.
 */
struct stat;
int vf_stat_trusted(const struct stat *st, const char *path, char *why, size_t why_len);

/* close() that keeps errno and tolerates -1; returns -1 for p = vf_close(p) */
int vf_close(int fd);

#endif
