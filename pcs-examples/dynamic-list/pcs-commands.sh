#!/bin/sh
# pcs-examples/dynamic-list: Pacemaker runs "fence_xvm -o list" and fences a
# node if its name is one of the listed VM names (or UUIDs).  Works only
# when the node names equal the domain names; otherwise use pcmk_host_map
# (../pcmk-host-map).  With access groups on the host, "list" shows only the
# VMs this guest may fence, so the device covers exactly those nodes.
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

pcs stonith create fence-kvm fence_xvm \
    key_file=/etc/cluster/fence_xvm.key \
    pcmk_host_check=dynamic-list
