#!/bin/bash
# vmfence - tests/cluster/cl-failures.sh: fencing that must fail, and the
# fencer must record a failure, never a false success: unknown VM, wrong key
# (multicast and TCP), a daemon too slow to answer (SIGSTOP by PID for the
# duration, then SIGCONT: a late daemon must not act on the abandoned
# request either), and the daemon down (fencing fails, the device's
# monitor fails both through stonith_admin -Q and as the cluster's
# recurring monitor operation; after the daemon is back and the resource is
# cleaned up, fencing works again).  Devices for the fencing failures are
# registered straight with the fencer (stonith_admin -R, cts-fencing style,
# no recurring monitor to interfere); the monitor check uses a CIB resource
# with a 3 s monitor.
#
# Both agents' monitor actions contact the daemon (a request with the
# monitor code), so "daemon down => monitor fails" is asserted for both.
# What the monitor cannot show with the reference daemon is a broken
# hypervisor connection: its libvirt backend answers monitor without
# probing libvirt.  That case is not covered here (the libvirt test driver
# cannot be broken from outside the daemon).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lab.sh"
lab_begin 420

reg() {   # reg ID AGENT OPTS...: register a device with the fencer
    local id=$1 a=$2 o args=()
    shift 2
    for o in "$@"; do args+=(-o "$o"); done
    vft_expect_rc "register $id ($a) with stonith_admin -R" 0 \
        lab_nsx n1 timeout 30 stonith_admin -R "$id" -a "$a" "${args[@]}"
}
common_mc() { echo "multicast_address=$LAB_MCAST ipport=$LAB_MPORT timeout=5 pcmk_reboot_retries=1 pcmk_off_retries=1 pcmk_monitor_retries=1"; }
common_tcp() { echo "ipaddr=$LAB_HV_IP ipport=$LAB_TPORT timeout=5 pcmk_reboot_retries=1 pcmk_off_retries=1 pcmk_monitor_retries=1"; }

# wait_monitor_failure ID SECONDS: crm_mon reports a failed operation of ID
# (the recurring monitor, or the start of the recovery that follows it,
# whichever is the newest) and ID is not running
wait_monitor_failure() { lab_poll "$2" monitor_failed "$1"; }
monitor_failed() {
    local x
    x=$(lab_nsx n1 timeout 10 crm_mon -1 --output-as=xml 2>/dev/null)
    echo "$x" | grep -Eq "<failure op_key=\"${1}_(monitor|start)_" || return 1
    echo "$x" | grep -q "<resource id=\"$1\".*role=\"Started\"" && return 1
    echo "$x" | grep -Eo "<failure op_key=\"${1}_[a-z]+_[0-9]+\"[^>]*" | head -1 | cut -c1-160
}

scenario() {
    local d=$1
    local tag="failures/$LAB_AGENT-agent/$d-daemon"
    # shellcheck disable=SC2046
    reg mc fence_xvm key_file="$LAB_KEY" $(common_mc) "pcmk_host_map=n2:vm-n2;n5:vm-nosuch"
    # shellcheck disable=SC2046
    reg tcp fence_virt key_file="$LAB_KEY" $(common_tcp) "pcmk_host_map=t2:vm-n2;t5:vm-nosuch"
    # shellcheck disable=SC2046
    reg badmc fence_xvm key_file="$LAB_R/wrong.key" $(common_mc) "pcmk_host_map=b3:vm-n3"
    # shellcheck disable=SC2046
    reg badtcp fence_virt key_file="$LAB_R/wrong.key" $(common_tcp) "pcmk_host_map=c3:vm-n3"

    # the same devices do work (so the failures below mean something)
    lab_expect_fence "$tag: sanity reboot n2 (mcast)" n1 0 stonith_admin --reboot n2 --timeout 30
    lab_expect_hist "$tag: sanity" n1 n2 reboot success
    lab_expect_fence "$tag: sanity reboot t2 (tcp)" n1 0 stonith_admin --reboot t2 --timeout 30

    # unknown VM: the daemon answers "failed"
    lab_expect_fence_fail "$tag: off of an unknown VM (mcast)" n1 stonith_admin --fence n5 --timeout 30
    lab_expect_no_success "$tag: unknown VM (mcast)" n1 n5
    lab_expect_fence_fail "$tag: reboot of an unknown VM (tcp)" n1 stonith_admin --reboot t5 --timeout 30
    lab_expect_no_success "$tag: unknown VM (tcp)" n1 t5

    # wrong key: the daemon drops the request / the challenge fails
    lab_expect_fence_fail "$tag: wrong key (mcast)" n1 stonith_admin --fence b3 --timeout 30
    lab_expect_no_success "$tag: wrong key (mcast)" n1 b3
    lab_expect_state "$tag: wrong key left the VM alone" mc vm-n3 on
    lab_expect_fence_fail "$tag: wrong key (tcp)" n1 stonith_admin --fence c3 --timeout 30
    lab_expect_no_success "$tag: wrong key (tcp)" n1 c3
    lab_expect_state "$tag: wrong key left the VM alone" tcp vm-n3 on

    # a daemon too slow to answer: stopped for the duration of the request
    lab_daemon_signal STOP
    lab_expect_fence_fail "$tag: daemon stopped (mcast)" n1 stonith_admin --fence n2 --timeout 30
    lab_expect_no_success "$tag: daemon stopped (mcast)" n1 n2
    lab_expect_fence_fail "$tag: daemon stopped (tcp)" n1 stonith_admin --fence t2 --timeout 30
    lab_expect_no_success "$tag: daemon stopped (tcp)" n1 t2
    lab_daemon_signal CONT
    sleep 2
    lab_expect_state "$tag: the late daemon did not act on abandoned requests" mc vm-n2 on
    lab_expect_state "$tag: the late daemon did not act on abandoned requests" tcp vm-n2 on

    # daemon down: fencing and monitor fail; the cluster's monitor notices
    local mon="mon-$d"
    lab_device n1 "$mon" fence_xvm key_file="$LAB_KEY" multicast_address="$LAB_MCAST" \
        ipport="$LAB_MPORT" timeout=3 pcmk_host_list=n9 op monitor interval=3s
    vft_expect_rc "$tag: monitor (-Q) with the daemon up" 0 \
        lab_nsx n1 timeout 30 stonith_admin -Q mc --timeout 10
    lab_daemon_stop
    lab_expect_fence_fail "$tag: daemon down (mcast)" n1 stonith_admin --reboot n2 --timeout 30
    lab_expect_no_success "$tag: daemon down (mcast)" n1 n2
    lab_expect_fence_fail "$tag: daemon down (tcp)" n1 stonith_admin --reboot t2 --timeout 30
    lab_expect_no_success "$tag: daemon down (tcp)" n1 t2
    lab_expect_fence_fail "$tag: monitor (-Q) with the daemon down (mcast)" n1 \
        stonith_admin -Q mc --timeout 10
    lab_expect_fence_fail "$tag: monitor (-Q) with the daemon down (tcp)" n1 \
        stonith_admin -Q tcp --timeout 10
    local f
    if f=$(wait_monitor_failure "$mon" 30); then
        vft_ok "$tag: the cluster's monitor of '$mon' failed and it is stopped (${f#<failure })"
    else
        vft_fail "$tag: no failed monitor of '$mon' within 30 s"
        lab_nsx n1 crm_mon -1 2>&1 | tail -8 | sed 's/^/    crm_mon: /'
    fi
    local fc
    fc=$(lab_nsx n1 timeout 10 crm_attribute -t status -N n1 -n "fail-count-$mon#monitor_3000" -G -q 2>/dev/null)
    if [ -n "$fc" ] && [ "$fc" != 0 ]; then
        vft_ok "$tag: the recurring monitor (3 s) of '$mon' counted failures ($fc)"
    else
        vft_fail "$tag: no fail-count for the recurring monitor of '$mon' ('$fc')"
    fi
    # recovery
    lab_daemon_start "$d" || vft_fail "$tag: daemon restart"
    lab_nsx n1 timeout 30 crm_resource --cleanup --resource "$mon" >/dev/null 2>&1
    lab_expect_fence "$tag: after restart, reboot n2 works again" n1 0 stonith_admin --reboot n2 --timeout 30
    lab_expect_hist "$tag: after restart" n1 n2 reboot success
    # removing the resource is clean-up, not a verdict on the agent: each
    # round uses its own resource id, so a slow removal cannot leak into the
    # next round; say so when it happens
    lab_device_del n1 "$mon" || echo "# note: $tag: '$mon' still listed by the fencer after 30 s"
    for dev in mc tcp badmc badtcp; do lab_nsx n1 timeout 10 stonith_admin -D "$dev" >/dev/null 2>&1; done
}

lab_up 1 || { vft_fail "lab up"; lab_finish; }
vft_gen_key "$LAB_R/wrong.key" 512
lab_for_daemons scenario
lab_finish
