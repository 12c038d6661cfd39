#!/bin/sh
# pcs-examples/multicast: one fence device for the whole guest cluster.
# The cluster node names are the libvirt domain names, so Pacemaker finds
# each node in the agent's "list" output (pcmk_host_check defaults to
# dynamic-list when no host list or map is given).
#
# Try it first from a guest:   fence_xvm -o list
#                              fence_xvm -o status -n node2
# Offline:  CIB=$(mktemp) && cibadmin --empty >"$CIB" && CIB=$CIB sh pcs-commands.sh
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
    multicast_address=225.0.0.12 ipport=1229 \
    hash=sha256 auth=sha256 timeout=10
pcs property set stonith-enabled=true
