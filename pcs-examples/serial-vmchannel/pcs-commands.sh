#!/bin/sh
# pcs-examples/serial-vmchannel: fence_virt in its default mode (vmchannel:
# TCP to the guestfwd address 10.0.2.179:1229), and the serial-port variant.
# From a guest:  fence_virt -o list                     (vmchannel)
#                fence_virt -D /dev/ttyS1 -o list        (serial)
set -e
# pcs with "-f $CIB" when CIB is set (offline CIB, used by check-examples.sh);
# plain pcs on a live cluster.  PCS_EXTRA_ARGS is appended (e.g. --force).
pcs() {
    if [ -n "${CIB:-}" ]; then
        command pcs -f "$CIB" "$@" ${PCS_EXTRA_ARGS:-}
    else
        command pcs "$@" ${PCS_EXTRA_ARGS:-}
    fi
}

pcs stonith create fence-vmchannel fence_virt \
    channel_address=10.0.2.179 ipport=1229 timeout=10
# serial variant (listeners/serial/mode = "serial"): use this instead
pcs stonith create fence-serial fence_virt \
    serial_device=/dev/ttyS1 serial_params=115200,8N1 timeout=10
