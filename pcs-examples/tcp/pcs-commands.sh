#!/bin/sh
# pcs-examples/tcp: fence_virt over TCP to the host's fence_virtd.
# From a guest:  fence_virt -T 192.168.122.1 -p 1229 -k /etc/cluster/fence_xvm.key -o list
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
    ipaddr=192.168.122.1 ipport=1229 \
    key_file=/etc/cluster/fence_xvm.key hash=sha256 auth=sha256 timeout=10
