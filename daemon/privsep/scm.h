/*
 * vmfence - daemon/privsep/scm.h: one datagram with descriptors
 * (SCM_RIGHTS) on a socket pair, for the control pair (handover.c) and the
 * guest pair (guestpair.c); one datagram sent by a deadline, for the
 * request pair (proxy.c, executor.c).
 */
#ifndef VF_PS_SCM_H
#define VF_PS_SCM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#define VF_PS_SCM_MAX_FDS 4u    /* descriptors one datagram may carry or take */
#define VF_PS_SEND_MANY_MAX 32  /* datagrams per sendmmsg() (vf_ps_send_many) */

/*
 * sendmsg() of @len bytes of @buf with @nfds (<= VF_PS_SCM_MAX_FDS)
 * descriptors of @fds (NULL when 0), flags MSG_NOSIGNAL | @flags, once
 * (EINTR included).  \return the bytes sent or -errno
 */
ssize_t vf_ps_scm_send(int fd, const void *buf, size_t len, const int *fds, size_t nfds,
                       int flags);

/*
 * recvmsg() without blocking (again on EINTR) of one datagram into @buf
 * (@cap bytes) with room for @max_fds (<= VF_PS_SCM_MAX_FDS) descriptors,
 * close-on-exec, into @fds; *@ret_nfds is how many, *@ret_trunc true when
 * the datagram or its descriptors did not fit (a surplus the kernel did
 * not pass is closed by it).  \return the bytes received (0: the peer
 * closed) or -errno
 */
ssize_t vf_ps_scm_recv(int fd, void *buf, size_t cap, int *fds, size_t max_fds,
                       size_t *ret_nfds, bool *ret_trunc);

/* Send @n datagrams of @len bytes each, laid out back to back in @bufs,
 * in order, with as few sendmmsg() calls as the socket allows; waits for
 * room as vf_ps_send_by() does.  0, -ETIMEDOUT, -EPIPE. */
int vf_ps_send_many(int fd, const uint8_t *bufs, size_t n, size_t len, int64_t deadline_ms);
/*
 * send() of one datagram of @len bytes without blocking, again (polling
 * at most 100 ms at a time) while the socket buffer is full, until
 * @deadline_ms or, checked after each wait, *@stop (NULL: none) is true.
 * \return 0, -ETIMEDOUT, -ECANCELED (*@stop) or -EPIPE (the peer is gone
 * or the datagram was refused)
 */
int vf_ps_send_by(int fd, const void *buf, size_t len, int64_t deadline_ms,
                  const atomic_bool *stop);

#endif
