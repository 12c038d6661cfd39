/*
 * vmfence - daemon/privsep/guestpair.h: the third socketpair of privilege
 * separation, the "guest pair", for the serial listener's per-VM sockets.
 *
 * Those sockets are found and opened through libvirt, which only the
 * privileged process has.  Its side of the serial listener (the host
 * side, listeners/serial-host.c) watches the domains, connects to each
 * guest socket, keeps that socket (to see it hang up) and passes it to the
 * network process with a fixed-size GUEST message (msg.h: UUID, name,
 * path, mode, generation; the descriptor as SCM_RIGHTS); GONE when it
 * closes it.  The network process's serial listener ("fds from the
 * privileged side" mode) asks for the whole set with SYNC when it starts;
 * the answer is RESET followed by one GUEST per socket.  Nothing else
 * travels on the pair; the network process never talks to libvirt.
 *
 * One SOCK_SEQPACKET datagram per message (never split or merged);
 * descriptors arrive close-on-exec; a datagram of the wrong size, a
 * message that does not decode, a GUEST without exactly one socket or any
 * other kind with a descriptor is refused (-EBADMSG) and whatever came
 * with it closed.
 */
#ifndef VF_PRIVSEP_GUESTPAIR_H
#define VF_PRIVSEP_GUESTPAIR_H

#include "privsep/msg.h"

/* Send @gm (with @fd as SCM_RIGHTS when GUEST), waiting up to @timeout_ms
 * for room.  0 or -errno (-EPIPE: the peer is gone, -ETIMEDOUT). */
int vf_ps_gp_send(int pair, const struct vf_ps_guest *gm, int fd, int timeout_ms);
/* One message, without waiting: 0 (*ret_fd: the socket of a GUEST, else
 * -1), -EAGAIN (none), -EPIPE (the peer is gone), -EBADMSG, -errno. */
int vf_ps_gp_recv(int pair, struct vf_ps_guest *ret_gm, int *ret_fd);

/* The network process: its end of the guest pair (-1: not privilege
 * separated).  Set once at start-up, before any listener starts. */
void vf_ps_set_guest_pair(int fd);
int vf_ps_guest_pair(void);

#endif
