#!/bin/bash
# vmfence - tests/cluster/cl-standalone.sh: the light mode, cts-fencing
# style: one node namespace with a private corosync and
# "pacemaker-fenced --stand-alone-w-cpg" (no pacemakerd, CIB or
# controller), devices registered straight with the fencer
# (stonith_admin -R id -a agent -o key=value), fencing over multicast and
# TCP with the agent and daemon under test, exit codes and the fencer's
# history asserted, the daemon-side state observed with the reference agent.
# Also: fencing while the multicast call-back port is briefly held by
# another process on the node (needs socat; skipped without it).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lab.sh"
lab_begin 180

scenario() {
    local d=$1
    local tag="standalone/$LAB_AGENT-agent/$d-daemon" t via vm
    vft_expect_rc "$tag: -R mc (fence_xvm)" 0 lab_nsx n1 timeout 20 stonith_admin -R mc -a fence_xvm \
        -o key_file="$LAB_KEY" -o multicast_address="$LAB_MCAST" -o ipport="$LAB_MPORT" \
        -o timeout=5 -o "pcmk_host_map=n2:vm-n2;n3:vm-n3"
    vft_expect_rc "$tag: -R tcp (fence_virt)" 0 lab_nsx n1 timeout 20 stonith_admin -R tcp -a fence_virt \
        -o key_file="$LAB_KEY" -o ipaddr="$LAB_HV_IP" -o ipport="$LAB_TPORT" -o timeout=5 \
        -o "pcmk_host_map=t2:vm-n2;t3:vm-n3"
    vft_expect_rc "$tag: -L" 0 lab_nsx n1 stonith_admin -L
    grep -qx mc "$VFT_OUT" && grep -qx tcp "$VFT_OUT" && vft_ok "$tag: both devices listed" ||
        vft_fail "$tag: devices: $(tr '\n' ' ' <"$VFT_OUT")"
    for t in n2 t2; do
        case $t in n*) via=mc ;; *) via=tcp ;; esac
        vm="vm-n2"
        lab_expect_fence "$tag: reboot $t" n1 0 stonith_admin --reboot "$t" --timeout 20
        lab_expect_hist "$tag: reboot $t" n1 "$t" reboot success
        lab_expect_state "$tag: after reboot" "$via" "$vm" on
        lab_expect_fence "$tag: off $t" n1 0 stonith_admin --fence "$t" --timeout 20
        lab_expect_hist "$tag: off $t" n1 "$t" off success
        lab_expect_state "$tag: after off" "$via" "$vm" off
        lab_expect_fence "$tag: on $t" n1 0 stonith_admin --unfence "$t" --timeout 20
        lab_expect_hist "$tag: on $t" n1 "$t" on success
        lab_expect_state "$tag: after on" "$via" "$vm" on
    done
    lab_expect_state "$tag: vm-n3 untouched" mc vm-n3 on
    # the multicast call-back port is busy for 2 s (as while another
    # fence_xvm on this node, e.g. a monitor, holds it): fencing must still
    # succeed within its timeout (protocol.md 4.7)
    if command -v socat >/dev/null 2>&1; then
        local sp
        (exec nsenter --net="/run/netns/$(lab_ns n1)" -- socat TCP-LISTEN:"$LAB_MPORT",reuseaddr,fork \
            /dev/null) >/dev/null 2>&1 </dev/null &
        sp=$!
        disown "$sp"
        vft_wait_tcp 0.0.0.0 "$LAB_MPORT" 5 "$(lab_ns n1)" || true
        (sleep 2; kill "$sp" 2>/dev/null) >/dev/null 2>&1 </dev/null &
        lab_expect_fence "$tag: off n3 while port $LAB_MPORT is busy for 2 s" n1 0 \
            stonith_admin --fence n3 --timeout 20
        kill "$sp" 2>/dev/null
        lab_expect_hist "$tag: off n3 (busy port)" n1 n3 off success
        lab_expect_state "$tag: after off with a busy port" mc vm-n3 off
    else
        vft_skip_part "$tag: socat missing: fencing while the call-back port is busy not checked"
    fi
    vft_expect_rc "$tag: -D mc" 0 lab_nsx n1 timeout 20 stonith_admin -D mc
    lab_expect_fence "$tag: no device left for n2" n1 "$LAB_RC_NODEV" stonith_admin --reboot n2 --timeout 10
    lab_nsx n1 timeout 20 stonith_admin -D tcp >/dev/null 2>&1
}

lab_up 1 nocluster || { vft_fail "lab up"; lab_finish; }
lab_check_agent n1
LAB_NODES=(n1)
lab_fencer_start n1 || { vft_fail "stand-alone fencer"; lab_finish; }
vft_ok "stand-alone fencer up"
lab_for_daemons scenario
lab_finish
