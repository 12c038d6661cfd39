#!/bin/sh
# pcs-examples/host-cluster: run on the HOST cluster.  fence_virtd runs on
# every host as a clone of the OCF agent shipped by vmfence
# (ocf:vmfence:fence_virtd, installed to /usr/lib/ocf/resource.d/vmfence).
# The host cluster itself needs real fencing (IPMI, a PDU, ...): the cpg
# backend trusts corosync membership, and with fence_history = "pacemaker"
# (fence_virt.conf) the VMs of a host that died are reported off only once
# this cluster's fencer has recorded that host fenced.  Create a stonith
# device per host with the agent of your hardware before this clone.
# corosync.conf is the matching corosync configuration for three hosts.
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

pcs resource create fence-virtd ocf:vmfence:fence_virtd \
    config=/etc/fence_virt.conf op monitor interval=10s clone
