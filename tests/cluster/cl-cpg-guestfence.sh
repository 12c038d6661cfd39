#!/bin/bash
# vmfence - tests/cluster/cl-cpg-guestfence.sh: host cluster (hostlab.sh)
# plus a two-node guest cluster (g1 on vm-g1 on h1, g2 on vm-g2 on h2).
#
# h2 dies with g2's VM on it (both killed hard; the host agent is held).
# The guest cluster's own Pacemaker fences g2 through fence_xvm (our agent,
# multicast) and fence_virtd's cpg backend: while the host cluster has not
# recorded h2 fenced, every attempt fails (no false success); once the
# fencing of h2 goes through, the guest cluster's fencing of g2 completes,
# after the host fencing.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/hostlab.sh"

hl_begin 330
hl_guests_up || { vft_fail "guest cluster did not come up"; hl_finish; }

hl_gate hold
hl_kill_host g2
hl_kill_host h2
tk=$(date +%s)
hl_wait_record START h2 60 && vft_ok "the host cluster is fencing h2 (held)" ||
    vft_fail "the host cluster did not start fencing h2"
# the guest cluster's first attempt: waits ~30 s in the daemon, then fails
fails=0
for _ in $(seq 1 120); do
    fails=$(hl_nsx g1 timeout 10 stonith_admin --output-as=xml --verbose --history g2 2>/dev/null |
        xmllint --xpath "count(//fence_event[@status='failed'])" - 2>/dev/null || echo 0)
    [ "${fails%.*}" -ge 1 ] 2>/dev/null && break
    sleep 0.5
done
if [ "${fails%.*}" -ge 1 ] 2>/dev/null; then
    vft_ok "the guest cluster's fencing of g2 failed while h2's fencing was held ($(($(date +%s) - tk))s after the kill)"
else
    vft_fail "no failed guest fencing attempt of g2 within 60 s"
fi
ok=$(hl_nsx g1 timeout 10 stonith_admin --output-as=xml --verbose --history g2 2>/dev/null |
    xmllint --xpath "count(//fence_event[@status='success'])" - 2>/dev/null || echo 0)
[ "${ok%.*}" = 0 ] && vft_ok "no successful guest fencing of g2 before h2 is fenced" ||
    vft_fail "the guest cluster fenced g2 before its host was fenced"

hl_gate release
hl_wait_record DONE h2 30 && vft_ok "the host cluster fenced h2" || vft_fail "h2 not fenced after release"
tdone=$(awk '$1 == "DONE" && $4 == "h2" { print $2; exit }' "$HL_STATE/record")
done_g=0
for _ in $(seq 1 180); do
    out=$(hl_nsx g1 timeout 10 stonith_admin --output-as=xml --verbose --history g2 2>/dev/null)
    ok=$(echo "$out" | xmllint --xpath "count(//fence_event[@status='success'])" - 2>/dev/null || echo 0)
    [ "${ok%.*}" -ge 1 ] 2>/dev/null && { done_g=1; break; }
    sleep 0.5
done
if [ "$done_g" = 1 ]; then
    tg=$(date +%s)
    vft_ok "the guest cluster's fencing of g2 completed ($((tg - tk))s after the kill, $((tg - tdone))s after h2's fencing)"
    comp=$(echo "$out" | xmllint --xpath "string((//fence_event[@status='success'])[1]/@completed)" - 2>/dev/null)
    vft_log "guest fencing record: $(echo "$out" | grep "status=\"success\"" | head -1)"
    tc=$(date -d "$comp" +%s 2>/dev/null || echo 0)
    if [ "$tc" -ge "$tdone" ]; then
        vft_ok "g2's fencing completed after h2's ($comp)"
    else
        vft_fail "g2's fencing completed at '$comp', before h2's fencing ($tdone)"
    fi
else
    vft_fail "the guest cluster did not complete fencing g2 within 90 s after h2 was fenced"
fi
if hl_nsx g1 timeout 10 crm_mon -1 2>/dev/null | grep -Eq 'OFFLINE: \[ g2 \]'; then
    vft_ok "g1 sees g2 cleanly offline"
else
    vft_fail "g1 does not show g2 offline: $(hl_nsx g1 timeout 10 crm_mon -1 2>&1 | grep -i g2 | head -3 | tr '\n' ';')"
fi
hl_finish
