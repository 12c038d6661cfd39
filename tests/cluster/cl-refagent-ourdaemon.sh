#!/bin/bash
# vmfence - tests/cluster/cl-refagent-ourdaemon.sh: the remaining cross
# combination: the reference agent (fence_xvm/fence_virt from fence-virt)
# in the Pacemaker nodes against OUR fence_virtd, through the host-map
# scenario (multicast and TCP).  The other scripts run our agent against
# both daemons.  Skips when our daemon is not built.
VFT_SELF_DIR=$(dirname "$0")
if [ ! -x "${VF_TOP_BUILDDIR:-$VFT_SELF_DIR/../..}/daemon/fence_virtd" ]; then
    echo "SKIP: cl-refagent-ourdaemon: our daemon is not built"
    exit 77
fi
VF_LAB_NAME=cl-refagent-ourdaemon VF_LAB_AGENT=ref VF_LAB_DAEMON=ours VF_LAB_DAEMONS=ours exec "$SHELL" "$VFT_SELF_DIR/cl-fence-hostmap.sh"
