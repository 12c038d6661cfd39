/*
 * vmfence - daemon/privsep/handover.h: what the privileged process hands
 * its running network process at a reload (SIGHUP), on a second
 * SOCK_SEQPACKET socketpair of its own (the "control" pair), apart from
 * the executor's request pair (msg.h) so that the request path and its
 * fuzzed decoder stay as they are.
 *
 *   privileged -> network  RELOAD: 8 bytes ("VFPR", u32 version) and, as
 *                          SCM_RIGHTS, two memfds: the new configuration
 *                          text and the running one, both with every
 *                          listener's key_file pointing at a copy of the
 *                          key staged inside the network process's root;
 *   network -> privileged  DONE: 8 bytes ("VFPD", i32 result): 0 reloaded,
 *                          1 no listener left, -errno not applied.
 *
 * Keys: the network process is chrooted and cannot open the key files
 * named in the configuration, so for the reload the privileged side copies
 * each listener's key file into <chroot>/keys/ (owned by the network
 * process's user, mode 0400) and removes the copies as soon as the
 * network process answered.  Listening sockets: the network process binds
 * its new or changed listeners itself, unprivileged (every default port is
 * above 1023); a listener moved to a port below 1024 fails to bind and
 * keeps its previous settings (logged); a restart applies it.
 */
#ifndef VF_PRIVSEP_HANDOVER_H
#define VF_PRIVSEP_HANDOVER_H

#include <stddef.h>
#include <sys/types.h>
#include "conftree.h"

#define VF_PS_CTL_VERSION       1
#define VF_PS_CTL_RELOAD_MAGIC  0x56465052u   /* "VFPR" */
#define VF_PS_CTL_DONE_MAGIC    0x56465044u   /* "VFPD" */
#define VF_PS_CTL_NONE_LEFT     1

/* privileged side */
int vf_ps_ctl_send_reload(int fd, int text_fd, int old_text_fd);
/* wait up to @timeout_ms for DONE; 0 (*ret_result set) or -errno
 * (-EPIPE: the network process is gone, -ETIMEDOUT, -EBADMSG) */
int vf_ps_ctl_recv_done(int fd, int timeout_ms, int *ret_result);

/* network side: one RELOAD (0, the two fds set), -EPIPE at EOF, -EBADMSG */
int vf_ps_ctl_recv_reload(int fd, int *ret_text_fd, int *ret_old_text_fd);
int vf_ps_ctl_send_done(int fd, int result);

/*
 * Copy the key file of every listener named in @listeners into
 * @chroot_dir/keys/ (owner @uid/@gid, 0400) and point that listener's
 * key_file in @conf at the copy as the network process sees it.  A key
 * file that cannot be read is left as it is (the network process then
 * reports it).  Returns 0 or -errno with a message in @err.
 */
int vf_ps_keys_stage(struct vf_conf *conf, char (*listeners)[32], size_t n_listeners,
                     const char *chroot_dir, uid_t uid, gid_t gid, char *err, size_t err_len);
/* Remove every staged copy and the keys/ directory. */
void vf_ps_keys_unstage(const char *chroot_dir);

/* A memfd holding @text, at offset 0 (0+ fd or -errno). */
int vf_ps_text_fd(const char *text, size_t len);

#endif
