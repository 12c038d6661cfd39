#!/bin/sh
# pcs-examples/static-list: one device per node (the classic setup guides'
# layout).  Each device fences exactly one VM (port=) for exactly one node
# (pcmk_host_list=); Pacemaker never asks the agent for a list.
# port= is marked deprecated in the metadata (plug is its new name) but a
# fixed plug would clash with the port= Pacemaker adds, so keep port= here,
# or use one device with pcmk_host_map (see ../pcmk-host-map).
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

for n in 2 3 4; do
    pcs stonith create fence-node$n fence_xvm \
        key_file=/etc/cluster/fence_xvm.key port=centos8-$n \
        pcmk_host_list=centos8-$n.example.com pcmk_host_check=static-list
done
