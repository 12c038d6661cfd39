#!/bin/sh
# pcs-examples/pcmk-host-map: the cluster node names (web1.example.com ...)
# differ from the libvirt domain names (web-vm-1 ...).  pcmk_host_map tells
# Pacemaker which VM to fence for which node; it then passes the VM name to
# the agent as port=.  The host side is any of the other examples
# (here: multicast/fence_virt.conf).
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
    pcmk_host_map="web1.example.com:web-vm-1;web2.example.com:web-vm-2;web3.example.com:web-vm-3" \
    pcmk_host_check=static-list
