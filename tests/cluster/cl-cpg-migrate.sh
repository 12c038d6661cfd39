#!/bin/bash
# vmfence - tests/cluster/cl-cpg-migrate.sh: host cluster (hostlab.sh with
# HL_LIBVIRTD=1: a libvirtd per host serving the test driver, driven with
# virsh), a VM moved from one host to another and fenced on its new host.
#
#   1. vm-1b runs on h1.  A copy is defined and started on h3 (a migration in
#      flight: two hosts claim it).  h2 learns it from h3's libvirt event
#      (time measured); status is ON, and a reboot acts once: h1's copy (the
#      deterministic primary) is rebooted, h3's powered off, never both
#      started.
#   2. The move completes (started on h3, destroyed and undefined on h1): h2
#      learns it from the events (time measured); off through h2 is routed
#      to h3 and h3's libvirt shows it shut off; h1 has no copy.
# The moves are libvirt's lifecycle events (define, start, destroy,
# undefine) of the test driver; a real live migration gives the same events
# on both hosts.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/hostlab.sh"

HL_LIBVIRTD=1
hl_need
vft_need_cmd virsh setpriv /usr/sbin/libvirtd
nslab_watchdog 300
hl_up || { vft_fail "host cluster bed did not come up"; hl_finish; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_seen HOST FROM_LINE REGEX: HOST's daemon logs REGEX after line FROM_LINE (10 s)
wait_seen() {
    local i
    for i in $(seq 1 200); do
        tail -n +"$(($2 + 1))" "$HL_R/$1/fvd.log" | grep -Eq -- "$3" && return 0
        sleep 0.05
    done
    return 1
}
U=$(hl_uuid vm-1b)

hl_expect "status vm-1b (on h1) via h2" 0 ours tcp h2 status vm-1b
[ "$(hl_vm_state h1 vm-1b)" = running ] && vft_ok "h1's libvirt runs vm-1b" || vft_fail "vm-1b not running on h1"

# 1. a second copy on h3
n=$(wc -l <"$HL_R/h2/fvd.log")
t0=$(now_ms)
hl_vm_define h3 vm-1b
if wait_seen h2 "$n" "node 3 pid [0-9]+ has 4 domain"; then
    vft_ok "h2 knows the copy on h3 $(($(now_ms) - t0)) ms after virsh define+start on h3"
else
    vft_fail "h2 did not learn h3's copy within 10 s"
fi
hl_expect "status vm-1b while h1 and h3 both run it: on" 0 ours tcp h2 status vm-1b
hl_expect "reboot vm-1b while two hosts claim it" 0 ours tcp h2 reboot vm-1b
s1=$(hl_vm_state h1 vm-1b); s3=$(hl_vm_state h3 vm-1b)
if [ "$s1" = running ] && [ "$s3" = "shut off" ]; then
    vft_ok "one copy runs after the reboot (h1: $s1, h3: $s3)"
else
    vft_fail "after the reboot h1: $s1, h3: $s3 (expected running / shut off)"
fi
grep -q "is claimed by 2 hosts" "$HL_R/h2/fvd.log" && vft_ok "h2 logged the two claims" ||
    vft_fail "h2 did not log the two claims"

# 2. the move completes
n=$(wc -l <"$HL_R/h2/fvd.log")
t0=$(now_ms)
hl_virsh h3 start vm-1b >/dev/null
hl_virsh h1 destroy vm-1b >/dev/null
hl_virsh h1 undefine vm-1b >/dev/null
if wait_seen h2 "$n" "node 1 pid [0-9]+ has 3 domain"; then
    vft_ok "h2 knows vm-1b left h1 $(($(now_ms) - t0)) ms after virsh start (h3) + destroy/undefine (h1)"
else
    vft_fail "h2 did not learn that vm-1b left h1 within 10 s"
fi
hl_expect "status vm-1b (now on h3) via h1" 0 ours tcp h1 status vm-1b
n=$(wc -l <"$HL_R/h2/fvd.log")
hl_expect "off vm-1b via h2: fenced on its new host" 0 ref tcp h2 off vm-1b
tail -n +"$((n + 1))" "$HL_R/h2/fvd.log" | grep -q "off of 'vm-1b' ($U) is routed to node 3" &&
    vft_ok "h2 routed the off to node 3" || vft_fail "h2 did not route the off to node 3"
s3=$(hl_vm_state h3 vm-1b); s1=$(hl_vm_state h1 vm-1b)
[ "$s3" = "shut off" ] && vft_ok "h3's libvirt: vm-1b shut off" || vft_fail "h3's libvirt: vm-1b $s3"
[ "$s1" = none ] && vft_ok "h1's libvirt has no vm-1b" || vft_fail "h1's libvirt: vm-1b $s1"
hl_expect "status vm-1b via multicast: off" 2 ours mc - status vm-1b
hl_expect "on vm-1b via h1: started on h3" 0 ours tcp h1 on vm-1b
[ "$(hl_vm_state h3 vm-1b)" = running ] && vft_ok "h3's libvirt runs vm-1b again" ||
    vft_fail "vm-1b not running on h3 after on"
hl_finish
