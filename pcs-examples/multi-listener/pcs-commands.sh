#!/bin/sh
# pcs-examples/multi-listener: the guests may use either transport; here
# the TCP one (the multicast listener serves a legacy cluster).  TCP uses
# port 1230 because fence_xvm itself listens on TCP 1229 inside the guests.
# The TCP listener has its own key (fence_virt.conf explains why): these
# guests get /etc/cluster/fence_virt_tcp.key, not the multicast key.
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

pcs stonith create fence-kvm-tcp fence_virt \
    ipaddr=192.168.122.1 ipport=1230 key_file=/etc/cluster/fence_virt_tcp.key
