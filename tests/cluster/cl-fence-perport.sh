#!/bin/bash
# vmfence - tests/cluster/cl-fence-perport.sh: one device per node, the VM
# given explicitly with port= (the setup guides' style:
# "pcs stonith create fence-n2 fence_xvm port=vm-n2 pcmk_host_list=n2"), so
# Pacemaker passes port=<VM> and nodename=<node> and no mapped target.  n2
# is fenced over multicast, n3 over TCP, both devices configured at once;
# each fencing must touch only its own VM.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lab.sh"
lab_begin 300

scenario() {
    local d=$1
    local tag="perport/$LAB_AGENT-agent/$d-daemon"
    lab_xvm_device fence-n2 port=vm-n2 pcmk_host_list=n2 &&
    lab_tcp_device fence-n3 port=vm-n3 pcmk_host_list=n3 &&
    {
        vft_expect_rc "$tag: devices for n2" 0 lab_nsx n1 stonith_admin --list n2
        if grep -qw fence-n2 "$VFT_OUT" && ! grep -qw fence-n3 "$VFT_OUT"; then
            vft_ok "$tag: only fence-n2 fences n2"
        else
            vft_fail "$tag: wrong devices for n2: $(tr '\n' ' ' <"$VFT_OUT")"
        fi
        lab_fence_cycle "$tag/n2" mc n2 vm-n2
        lab_expect_state "$tag: n3's VM untouched" tcp vm-n3 on
        lab_expect_state "$tag: n3's VM untouched" mc vm-n3 on
        lab_fence_cycle "$tag/n3" tcp n3 vm-n3
        lab_expect_state "$tag: n2's VM untouched" mc vm-n2 on
        lab_expect_fence "$tag: n4 has no device" n1 "$LAB_RC_NODEV" \
            stonith_admin --reboot n4 --timeout 15
    }
    lab_device_del n1 fence-n2 || vft_fail "$tag: could not delete fence-n2"
    lab_device_del n1 fence-n3 || vft_fail "$tag: could not delete fence-n3"
}

lab_up 1 || { vft_fail "lab up"; lab_finish; }
lab_for_daemons scenario
lab_finish
