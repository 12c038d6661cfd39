#!/bin/sh
# pcs-examples/groups: run on the "web" cluster.  The same key works for
# both clusters; the host's groups keep them apart (pcs-commands-db.sh is
# the "db" cluster's half).
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

pcs stonith create fence-web fence_xvm \
    key_file=/etc/cluster/fence_xvm.key pcmk_host_check=dynamic-list
