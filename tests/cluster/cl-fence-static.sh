#!/bin/bash
# vmfence - tests/cluster/cl-fence-static.sh: fence devices with
# pcmk_host_list + pcmk_host_check=static-list (targets are the VM names, so
# Pacemaker passes the target itself as the agent's port), over multicast
# (fence_xvm) and TCP (fence_virt ipaddr=).  A target outside the list must
# be refused by the fencer without touching any VM.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lab.sh"
lab_begin 300

scenario() {
    local d=$1 tag
    tag="static/mcast/$LAB_AGENT-agent/$d-daemon"
    lab_xvm_device xvm pcmk_host_list="vm-n2 vm-n3" pcmk_host_check=static-list &&
    {
        lab_fence_cycle "$tag" mc vm-n2 vm-n2
        lab_expect_fence "$tag: vm-n4 is not in the list" n1 "$LAB_RC_NODEV" \
            stonith_admin --reboot vm-n4 --timeout 15
        lab_expect_state "$tag: unlisted VM untouched" mc vm-n4 on
        lab_expect_state "$tag: other listed VM untouched" mc vm-n3 on
    }
    lab_device_del n1 xvm || vft_fail "$tag: could not delete xvm"
    tag="static/tcp/$LAB_AGENT-agent/$d-daemon"
    lab_tcp_device tcpdev pcmk_host_list="vm-n2,vm-n3" pcmk_host_check=static-list &&
    {
        lab_fence_cycle "$tag" tcp vm-n3 vm-n3
        lab_expect_fence "$tag: vm-n4 is not in the list" n1 "$LAB_RC_NODEV" \
            stonith_admin --fence vm-n4 --timeout 15
        lab_expect_state "$tag: unlisted VM untouched" tcp vm-n4 on
    }
    lab_device_del n1 tcpdev || vft_fail "$tag: could not delete tcpdev"
}

lab_up 1 || { vft_fail "lab up"; lab_finish; }
lab_for_daemons scenario
lab_finish
