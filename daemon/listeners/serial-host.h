/*
 * vmfence - daemon/listeners/serial-host.h: the serial listener's host side
 * under privilege separation (privsep/guestpair.h), run by the privileged
 * process (privsep/parent.c): it watches the domains of listeners/serial
 * through libvirt, connects to their guest sockets and passes each to the
 * network process over the guest pair; the network process's serial
 * listener serves them.
 */
#ifndef VF_SERIAL_HOST_H
#define VF_SERIAL_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include "conftree.h"

struct vf_sl_host;

/*
 * Start the host side with the listeners/serial settings of @conf,
 * passing sockets over @pair (borrowed: the caller closes it after
 * vf_sl_host_stop).  @resync: the network process's listener already
 * asked (a restart at a reload): it is sent RESET and the new set at once,
 * without waiting for its next SYNC.  Returns 0 or -errno with a message
 * in @err.
 */
int vf_sl_host_start(const struct vf_conf *conf, int pair, bool resync,
                     struct vf_sl_host **ret_h, char *err, size_t err_len);

/* Stop it (bounded: a libvirt call that hangs is left behind) and close
 * every guest socket it holds (the network process keeps its copies until
 * told otherwise).  NULL-tolerant.  Returns true when the network
 * process's listener was taking the sockets (pass it as @resync to the
 * next start). */
bool vf_sl_host_stop(struct vf_sl_host *h);

#endif
