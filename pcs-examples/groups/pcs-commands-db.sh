#!/bin/sh
# pcs-examples/groups: run on the "db" cluster (node names db1, db2 are the
# domain names, so dynamic-list finds them in its filtered list).
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

pcs stonith create fence-db fence_xvm \
    key_file=/etc/cluster/fence_xvm.key pcmk_host_check=dynamic-list
