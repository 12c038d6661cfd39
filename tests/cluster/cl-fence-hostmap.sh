#!/bin/bash
# vmfence - tests/cluster/cl-fence-hostmap.sh: one fence device with
# pcmk_host_map in a real corosync+Pacemaker node, fencing over multicast
# (fence_xvm) and over TCP (fence_virt ipaddr=), driven by stonith_admin and
# pcs.  Asserts the domain state as the daemon reports it (reference agent
# as observer) and the fencer's history.  Runs once per daemon in
# LAB_DAEMON_LIST (ours and the reference by default).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lab.sh"
lab_begin 300

scenario() {
    local d=$1 tag
    tag="hostmap/mcast/$LAB_AGENT-agent/$d-daemon"
    lab_xvm_device xvm pcmk_host_map="n1:vm-n1;n2:vm-n2;n3:vm-n3" &&
    {
        vft_expect_rc "$tag: stonith_admin --list n2 names xvm" 0 lab_nsx n1 stonith_admin --list n2
        grep -qw xvm "$VFT_OUT" && vft_ok "$tag: xvm can fence n2" || vft_fail "$tag: xvm cannot fence n2"
        lab_fence_cycle "$tag" mc n2 vm-n2
        lab_expect_state "$tag: vm-n3 untouched" mc vm-n3 on
    }
    lab_device_del n1 xvm || vft_fail "$tag: could not delete xvm"
    tag="hostmap/tcp/$LAB_AGENT-agent/$d-daemon"
    lab_tcp_device tcpdev pcmk_host_map="n1:vm-n1;n2:vm-n2;n3:vm-n3" &&
        lab_fence_cycle "$tag" tcp n2 vm-n2
    lab_device_del n1 tcpdev || vft_fail "$tag: could not delete tcpdev"
}

lab_up 1 || { vft_fail "lab up"; lab_finish; }
lab_for_daemons scenario
lab_finish
