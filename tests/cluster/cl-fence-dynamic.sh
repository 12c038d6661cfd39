#!/bin/bash
# vmfence - tests/cluster/cl-fence-dynamic.sh: pcmk_host_check=dynamic-list:
# the fencer learns the targets from the agent's "list" output (domains
# named like the nodes: n1..n4), over multicast and TCP.  A name the daemon
# does not list is refused without running an off/reboot.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lab.sh"
lab_begin 300

# the targets the fencer got from the agent's list action
check_targets() {
    local tag=$1 id=$2 n
    if vft_expect_rc "$tag: stonith_admin --list-targets $id" 0 \
        lab_nsx n1 timeout 30 stonith_admin --list-targets "$id" --timeout 20; then
        for n in n1 n2 n3 n4 vm-n2; do
            if grep -qx "$n" "$VFT_OUT"; then vft_ok "$tag: target $n listed"
            else vft_fail "$tag: target $n missing"; sed 's/^/    out: /' "$VFT_OUT" | head; fi
        done
    fi
    vft_expect_rc "$tag: stonith_admin --list n2 (devices for n2)" 0 \
        lab_nsx n1 timeout 30 stonith_admin --list n2 --timeout 20
    grep -qw "$id" "$VFT_OUT" && vft_ok "$tag: $id can fence n2" || vft_fail "$tag: $id cannot fence n2"
}

scenario() {
    local d=$1 tag
    tag="dynamic/mcast/$LAB_AGENT-agent/$d-daemon"
    lab_xvm_device xvm pcmk_host_check=dynamic-list &&
    {
        check_targets "$tag" xvm
        lab_fence_cycle "$tag" mc n2 n2
        lab_expect_fence "$tag: unlisted name" n1 "$LAB_RC_NODEV" \
            stonith_admin --reboot nosuch --timeout 15
        lab_expect_state "$tag: n3 untouched" mc n3 on
    }
    lab_device_del n1 xvm || vft_fail "$tag: could not delete xvm"
    tag="dynamic/tcp/$LAB_AGENT-agent/$d-daemon"
    lab_tcp_device tcpdev pcmk_host_check=dynamic-list &&
    {
        check_targets "$tag" tcpdev
        lab_fence_cycle "$tag" tcp n3 n3
    }
    lab_device_del n1 tcpdev || vft_fail "$tag: could not delete tcpdev"
}

lab_up 1 || { vft_fail "lab up"; lab_finish; }
lab_for_daemons scenario
lab_finish
