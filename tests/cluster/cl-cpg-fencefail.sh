#!/bin/bash
# vmfence - tests/cluster/cl-cpg-fencefail.sh: host cluster (hostlab.sh), a
# host killed while host fencing fails.
#
# The host agent fails every fencing (hl_gate fail); h2 is killed hard.  The
# host cluster tries to fence h2, fails again and again, and gives up
# (stonith-max-attempts).  Requests for h2's VMs (status, off, reboot; TCP
# and multicast, our agents and the reference ones, in parallel) wait for a
# fencing record that never comes and fail: never a success, never "off";
# still after the host cluster gave up.  Then the switch is repaired
# (hl_gate succeed) and the administrator fences h2 by hand (stonith_admin
# --reboot): requests succeed after that record.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/hostlab.sh"

hl_begin 300

hl_gate fail
hl_kill_host h2
if hl_wait_record FAILED h2 60; then
    vft_ok "the host cluster's fencing of h2 failed ($(($(date +%s) - HL_SCEN_T0))s)"
else
    vft_fail "no failed fencing of h2 within 60 s"
fi

# four requests at once, each waits until its deadline and fails
t0=$(date +%s)
( hl_ask ours tcp h1 status "$(hl_uuid vm-2a)" 45; echo "$HL_RC" >"$HL_R/r1.rc" ) & p1=$!
( hl_ask ref mc - off "$(hl_uuid vm-2b)" 45; echo "$HL_RC" >"$HL_R/r2.rc" ) & p2=$!
( hl_ask ours tcp h3 reboot "$(hl_uuid vm-2c)" 45; echo "$HL_RC" >"$HL_R/r3.rc" ) & p3=$!
( hl_ask ref tcp h1 off "$(hl_uuid vm-g2)" 45; echo "$HL_RC" >"$HL_R/r4.rc" ) & p4=$!
wait "$p1" "$p2" "$p3" "$p4"
dt=$(($(date +%s) - t0))
for r in "1 status vm-2a (tcp h1, ours)" "2 off vm-2b (multicast, reference)" \
    "3 reboot vm-2c (tcp h3, ours)" "4 off vm-g2 (tcp h1, reference)"; do
    rc=$(cat "$HL_R/r${r%% *}.rc")
    if [ "$rc" = 1 ]; then vft_ok "${r#* } while h2's fencing fails: fails (rc 1)"; else
        vft_fail "${r#* } while h2's fencing fails: rc $rc, expected 1"; fi
done
vft_log "the four failing requests took ${dt}s"
nf=$(grep -c '^FAILED [0-9]* [a-z]* h2$' "$HL_STATE/record")
if [ "$nf" -ge 2 ] && ! grep -q '^DONE [0-9]* [a-z]* h2$' "$HL_STATE/record"; then
    vft_ok "the host cluster kept trying ($nf failed fencings of h2, none done)"
else
    vft_fail "expected repeated failed fencings and none done: $(tr '\n' ';' <"$HL_STATE/record")"
fi
grep -q "failed: waiting for the host cluster to fence node 2" "$HL_R/h1/fvd.log" &&
    vft_ok "h1 logged what the failed request waited for" || vft_fail "no waiting reason in h1's log"

# the host cluster gives up (stonith-max-attempts): the VMs stay unconfirmed
if hl_wait_log_pcmk h1 "Too many failures .* to fence h2, giving up" 60; then
    vft_ok "the host cluster gave up fencing h2"
else
    vft_log "the host cluster did not give up within 60 s"
fi
hl_expect "status vm-2a still fails after the host cluster gave up" 1 ours mc - status vm-2a 45
if grep -h "result=success" "$HL_R"/h[13]/fvd.log |
    grep -Eq "$(hl_uuid vm-2a)|$(hl_uuid vm-2b)|$(hl_uuid vm-2c)|$(hl_uuid vm-g2)"; then
    vft_fail "a request for a VM of the unfenced h2 succeeded"
else
    vft_ok "no request for a VM of the unfenced h2 succeeded"
fi

# the switch is repaired and the administrator fences h2 (the controller
# does not retry after giving up): requests succeed after the record
hl_gate succeed
if hl_nsx h1 timeout 90 stonith_admin --reboot h2 --timeout 60 >"$HL_R/manual.out" 2>&1 &&
    hl_wait_record DONE h2 10; then
    vft_ok "the administrator's stonith_admin --reboot h2 fenced h2 ($(($(date +%s) - HL_SCEN_T0))s)"
    hl_expect "then off vm-2b succeeds" 0 ref mc - off vm-2b 45
    hl_expect "and status vm-2a is off" 2 ours tcp h1 status vm-2a 45
else
    vft_fail "stonith_admin --reboot h2 did not fence h2: $(tail -2 "$HL_R/manual.out")"
fi
hl_finish
