#!/bin/bash
# vmfence - tests/cluster/cl-fence-partition.sh: controller-initiated
# fencing in a real two-node cluster (corosync two_node).  n2's link is cut;
# n1's Pacemaker (scheduler -> controller -> fencer) must fence n2 through
# the fence_xvm device (agent under test) and the daemon under test, with
# stonith-action=off so that the effect is visible: vm-n2 is then off as the
# daemon reports it, n1's history shows "off of n2 successful" requested by
# pacemaker-controld, and n2 is OFFLINE in n1's view.  Then n2 is restarted
# (processes killed, link restored, corosync+pacemaker started again) for
# the next daemon of LAB_DAEMON_LIST.  Faked: n2's "VM" going off does not
# stop n2's namespace; the test kills n2 itself afterwards.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lab.sh"
lab_begin 300

# n2_online: n1 sees n2 online (restart n2 first if it is not)
n2_online() {
    if lab_nsx n1 timeout 5 crm_mon -1 2>/dev/null | grep 'Online:' | grep -qw n2; then
        return 0
    fi
    lab_node_stop n2
    lab_nsx n2 sh -c 'rm -f /dev/shm/qb-* /var/lib/pacemaker/cib/* /run/corosync.pid' 2>/dev/null
    ip -n "$(lab_ns n2)" link set eth0 up
    lab_node_start n2
    lab_wait_online 60
}

# wait_fenced SECONDS: n1's history shows a successful fencing of n2
wait_fenced() { lab_poll "$1" n2_fenced; }
n2_fenced() {
    local out
    out=$(lab_nsx n1 timeout 10 stonith_admin --output-as=xml --verbose --history n2 2>/dev/null)
    echo "$out" | grep -q '<fence_event[^>]*status="success"' || return 1
    echo "$out" | grep -o '<fence_event[^>]*status="success"[^>]*' | head -1
}

scenario() {
    local d=$1
    local tag="partition/$LAB_AGENT-agent/$d-daemon" ev t0
    if n2_online; then vft_ok "$tag: n1 and n2 online"; else vft_fail "$tag: n2 not online"; return; fi
    lab_expect_state "$tag: before" mc vm-n2 on
    lab_history_clean n1
    t0=$(date +%s)
    ip -n "$(lab_ns n2)" link set eth0 down
    if ev=$(wait_fenced 60); then
        vft_ok "$tag: n1 fenced n2 after the link cut ($(($(date +%s) - t0))s)"
        case $ev in
        *'action="off"'*'client="pacemaker-controld'*) vft_ok "$tag: off requested by pacemaker-controld" ;;
        *) vft_fail "$tag: unexpected event: $ev" ;;
        esac
    else
        vft_fail "$tag: n2 not fenced within 60 s"
        lab_dump
    fi
    lab_expect_state "$tag: n2's VM" mc vm-n2 off
    lab_expect_state "$tag: n1's VM untouched" mc vm-n1 on
    if lab_nsx n1 timeout 5 crm_mon -1 2>/dev/null | grep -Eq 'OFFLINE: \[ n2 \]'; then
        vft_ok "$tag: n1 sees n2 OFFLINE"
    else
        vft_fail "$tag: n2 not OFFLINE in n1's view"
    fi
}

lab_up 2 || { vft_fail "lab up"; lab_finish; }
vft_expect_rc "stonith-action=off" 0 \
    lab_nsx n1 timeout 20 crm_attribute -t crm_config -n stonith-action -v off
lab_xvm_device xvm pcmk_host_map="n1:vm-n1;n2:vm-n2" ||
    lab_finish
lab_wait_device n2 xvm 20 && vft_ok "n2's fencer has xvm too" || vft_fail "n2's fencer lacks xvm"
lab_for_daemons scenario
lab_finish
