#!/bin/bash
# vmfence - tests/cluster/cl-cpg-quorum.sh: host cluster (hostlab.sh), loss
# of quorum.
#
# h2 is killed and fenced by the host cluster: its VMs are off (checked).
# Then h3 is killed too: h1 is alone, without quorum (and so nothing fences
# h3).  Every request for a VM of h2 or h3 now fails at once, even for h2
# whose fencing IS recorded: a host without quorum may be the one that is cut
# off, and its view of the fencer's history cannot be trusted.  Never a
# success, never "off".  h1's own VMs are still answered (h1's libvirt is
# asked directly).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/hostlab.sh"

hl_begin 300

hl_kill_fenced h2
hl_expect "status vm-2a after h2 was fenced (quorate): off" 2 ours tcp h1 status vm-2a 45

hl_gate hold
hl_kill_host h3
q=0
for _ in $(seq 1 60); do
    out=$(hl_nsx h1 timeout 5 corosync-quorumtool -s 2>/dev/null)
    echo "$out" | grep -Eq '^Quorate: +No' && { q=1; break; }
    sleep 0.5
done
[ "$q" = 1 ] && vft_ok "h1 is alone and has no quorum" || vft_fail "h1 did not lose quorum within 30 s"
hl_wait_log h1 "node 3 pid [0-9]+ left group" 20 || vft_log "h1's daemon did not log h3 leaving"

hl_expect "status vm-2a (h2 fenced, but no quorum) fails" 1 ours tcp h1 status vm-2a 45
hl_expect "off vm-2b (h2 fenced, but no quorum) fails" 1 ref tcp h1 off vm-2b 45
hl_expect "reboot vm-2a via multicast without quorum fails" 1 ours mc - reboot vm-2a 45
hl_expect "status vm-3a (h3 lost, no quorum) fails" 1 ours tcp h1 status vm-3a 45
hl_expect "off vm-3b (h3 lost, no quorum) fails, multicast, reference agent" 1 ref mc - off vm-3b 45
hl_expect "h1's own VM still answers: status vm-1a" 0 ours tcp h1 status vm-1a 45
grep -q "failed: the host cluster has no quorum" "$HL_R/h1/fvd.log" &&
    vft_ok "h1 logs that the host cluster has no quorum" || vft_fail "no quorum reason in h1's log"
if awk '/left group .vmfence. with/ && /node 3/ { seen = 1 } seen && /result=success/' "$HL_R/h1/fvd.log" |
    grep -Eq "$(hl_uuid vm-2a)|$(hl_uuid vm-2b)|$(hl_uuid vm-3a)|$(hl_uuid vm-3b)"; then
    vft_fail "a request for a VM of h2/h3 succeeded without quorum"
else
    vft_ok "no request for a VM of h2/h3 succeeded without quorum"
fi
grep -Eq '^DONE [0-9]+ [a-z]+ h3$' "$HL_STATE/record" && vft_fail "h3 was fenced without quorum" ||
    vft_ok "nobody fenced h3 (no quorum)"
hl_finish
