#!/bin/bash
# vmfence - tests/cluster/cl-cpg-routed.sh: host cluster (hostlab.sh), routed
# requests.  From the guest namespace, status/off/on/reboot of a VM on each
# host, sent to every host over TCP (fence_virt -T hostI) and by multicast
# (fence_xvm: every host hears it, one answers), with our agents and the
# reference ones.  Each request that reaches a host not running the VM is
# routed over CPG to its owner; the state is checked through another host.
# Also: list from each host (every domain once), an unknown UUID fails.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/hostlab.sh"

hl_begin 300

# each VM vm-Ia (on host I) through each host J
for i in 1 2 3; do
    vm=vm-${i}a
    for j in 1 2 3; do
        via=tcp; agent=ours
        [ "$j" = 2 ] && agent=ref
        hl_expect "status $vm (on h$i) via h$j ($agent, tcp)" 0 "$agent" tcp "h$j" status "$vm"
    done
    j=$((i % 3 + 1))
    hl_expect "off $vm via h$j (tcp)" 0 ours tcp "h$j" off "$vm"
    hl_expect "status $vm after off, via h$(( (i + 1) % 3 + 1 ))" 2 ours tcp "h$(( (i + 1) % 3 + 1 ))" status "$vm"
    hl_expect "on $vm via multicast (our fence_xvm)" 0 ours mc - on "$vm"
    hl_expect "status $vm after on, via h$j" 0 ref tcp "h$j" status "$vm"
    hl_expect "reboot $vm via multicast (reference fence_xvm)" 0 ref mc - reboot "$vm"
    hl_expect "status $vm after reboot" 0 ours mc - status "$vm"
done
hl_expect "status vm-2c (shut off on h2) via h1" 2 ours tcp h1 status vm-2c
hl_expect "reboot vm-2c (shut off) via h3: stays off" 0 ours tcp h3 reboot vm-2c
hl_expect "status vm-2c still off" 2 ours mc - status vm-2c
hl_expect "off of an unknown VM fails" 1 ours tcp h1 off no-such-vm
hl_expect "status of an unknown VM fails" 1 ref mc - status no-such-vm
for j in 1 2 3; do
    hl_ask ours tcp "h$j" list "" 10
    n=$(grep -c '^vm-' "$HL_R/ask.out")
    u=$(awk '/^vm-/ {print $2}' "$HL_R/ask.out" | sort -u | wc -l)
    if [ "$HL_RC" = 0 ] && [ "$n" = 11 ] && [ "$u" = 11 ]; then
        vft_ok "list via h$j: 11 domains, each once"
    else
        vft_fail "list via h$j: rc $HL_RC, $n lines, $u UUIDs"
    fi
done
if grep -q "routed to node 2" "$HL_R/h1/fvd.log" && grep -q "routed to node 1" "$HL_R/h3/fvd.log"; then
    vft_ok "requests were routed over CPG to the owners"
else
    vft_fail "no routing in the daemons' logs"
fi
if grep -q 'cpg backend:.*fence_history pacemaker' "$HL_R/h1/fvd.log"; then
    vft_ok "the hosts run the example's cpg configuration (fence_history pacemaker)"
else
    vft_fail "h1's daemon does not report fence_history pacemaker"
fi
hl_finish
