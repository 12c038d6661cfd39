#!/bin/bash
# vmfence - tests/cluster/cl-cpg-hostkill.sh: host cluster (hostlab.sh), a
# host killed hard and fenced by the host cluster.
#
# The host agent is held (hl_gate hold) so that the host cluster's fencing
# of h2 is in progress but not recorded.  Then:
#   - a request for a VM of h2 waits for that record ("waiting for the host
#     cluster to fence node 2" in the daemon's log) and fails when its
#     deadline passes (never a success);
#   - a request started while the fencing is held, and the fencing then let
#     through: the request succeeds once the fencer has recorded h2 fenced;
#   - after the record: status OFF, off and reboot (as off) succeed at once,
#     on fails (the VM was defined only on the dead host), with the log line
#     naming the host, the time and the fencer's record.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/hostlab.sh"

hl_begin 300

hl_expect "status vm-2a before" 0 ours tcp h1 status vm-2a
hl_gate hold
hl_kill_host h2
if hl_wait_record START h2 60; then
    vft_ok "the host cluster started fencing h2 ($(($(date +%s) - HL_SCEN_T0))s after the scenario began)"
else
    vft_fail "the host cluster did not start fencing h2 within 60 s"
fi

# R1: status while the fencing is held: waits, then fails
t0=$(date +%s)
( hl_ask ours tcp h1 status "$(hl_uuid vm-2a)" 45; echo "$HL_RC" >"$HL_R/r1.rc" ) &
r1=$!
if hl_wait_log h1 "status of '$(hl_uuid vm-2a)': waiting for the host cluster to fence node 2" 10; then
    vft_ok "h1 logs that the request waits for the host cluster to fence node 2"
else
    vft_fail "h1 does not log what the request waits for"
fi
wait "$r1"
dt=$(($(date +%s) - t0))
if [ "$(cat "$HL_R/r1.rc")" = 1 ]; then
    vft_ok "status of vm-2a while h2's fencing is not recorded fails (rc 1, ${dt}s)"
else
    vft_fail "status of vm-2a while h2's fencing is not recorded: rc $(cat "$HL_R/r1.rc"), expected 1"
fi
grep -q "status of '$(hl_uuid vm-2a)' ($(hl_uuid vm-2a)) failed: waiting for the host cluster to fence node 2" \
    "$HL_R/h1/fvd.log" && vft_ok "the failure names what it waited for" ||
    vft_fail "the failure does not say what it waited for"
grep -Eq '^DONE [0-9]+ (off|reboot) h2$' "$HL_STATE/record" &&
    vft_fail "h2's fencing completed while held" || vft_ok "h2's fencing still held"

# R2: off while held, then the fencing goes through: success after the record
t0=$(date +%s)
( hl_ask ours mc - off "$(hl_uuid vm-2b)" 45; echo "$HL_RC" >"$HL_R/r2.rc" ) &
r2=$!
sleep 3
hl_gate release
if hl_wait_record DONE h2 30; then vft_ok "the host cluster fenced h2"; else vft_fail "h2 not fenced"; fi
tdone=$(awk '$1 == "DONE" && $4 == "h2" { print $2; exit }' "$HL_STATE/record")
wait "$r2"
t2=$(date +%s)
if [ "$(cat "$HL_R/r2.rc")" = 0 ]; then
    vft_ok "off of vm-2b, asked before h2's fencing was recorded, succeeds after it ($((t2 - t0))s)"
else
    vft_fail "off of vm-2b waiting for h2's fencing: rc $(cat "$HL_R/r2.rc"), expected 0"
fi
if [ -n "$tdone" ] && [ "$t2" -ge "$tdone" ]; then
    vft_ok "the success came after the fencing (agent done at $tdone, answer at $t2)"
else
    vft_fail "the success came before the fencing was done ($tdone / $t2)"
fi
hist=$(hl_nsx h1 timeout 10 stonith_admin --history h2 2>&1)
echo "$hist" | grep -qi 'successful' && vft_ok "h1's fencer recorded h2 fenced" ||
    vft_fail "h1's fencer has no successful fencing of h2: $hist"

# after the record: at once
hl_expect "status vm-2a after h2 was fenced: off" 2 ours tcp h1 status vm-2a
hl_expect "status vm-2a via h3 (multicast, reference agent): off" 2 ref mc - status vm-2a
hl_expect "reboot vm-2a (as off) after h2 was fenced" 0 ours tcp h3 reboot vm-2a
hl_expect "off vm-2c (was shut off) after h2 was fenced" 0 ref tcp h1 off vm-2c
hl_expect "on vm-2a fails: defined only on the dead host" 1 ours tcp h1 on vm-2a
hl_expect "VMs of the live hosts still work: status vm-3a" 0 ours tcp h1 status vm-3a
grep -q "'vm-2a' ($(hl_uuid vm-2a)) is off: its host, node 2, left the group at .* was fenced at .*(fencer record: action" \
    "$HL_R/h1/fvd.log" && vft_ok "h1 logs the fencer's record for vm-2a" ||
    vft_fail "h1 does not log the fencer's record"
hl_finish
