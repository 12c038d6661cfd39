#!/bin/sh
# pcs-examples/vsock: fence_virt over vsock to the host (CID 2).
# From a guest:  fence_virt -S2 -p 1229 -k /etc/cluster/fence_xvm.key -o list
# (the CID must be attached to -S: "-S 2" means the default CID)
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

pcs stonith create fence-kvm-vsock fence_virt \
    vsock=2 ipport=1229 key_file=/etc/cluster/fence_xvm.key timeout=10
