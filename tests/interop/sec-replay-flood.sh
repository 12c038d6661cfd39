#!/bin/bash
# vmfence - tests/interop/sec-replay-flood.sh: security issue 13, attack 2:
# a blackout of the multicast listener from ONE replayed datagram.
#
# The attacker (tests/interop/sec-attacker.py capture/flood), in the guest:
#   1. sniffs the signed datagram of a legitimate `fence_xvm -o status`
#      (our agent, call-back port $LPORT via -L, so the call-back address in
#      the datagram is one the attacker can watch), which succeeds;
#   2. waits 11 s, past the daemon's 10 s dedupe window;
#   3. replays those exact 176 bytes about 1,000 times a second for 8 s,
#      while listening on $LPORT itself: it counts the daemon's connect-backs
#      and holds every one open (so each one ties up a daemon worker for the
#      whole authentication timeout, as a real attacker would).
# Meanwhile three legitimate `fence_xvm -o status -t 10` (our agent, own
# call-back ports) must all succeed, and the replays may cause at most 5
# connect-backs.  Before the fix every replay past the window is a new
# request: the connect-backs pile up and the legitimate requests time out.
#
# Network: two namespaces this test creates ("hv" with our fence_virtd,
# "g" with the agents and the attacker), one veth pair (10.75.N.1/.2), a
# multicast route in both; multicast never leaves them.  Faked: the
# hypervisor (libvirt test driver).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vft_need_root
vfd_need ip python3 "$VF_AGENT_XVM"

ATT="$VFT_SRC/tests/interop/sec-attacker.py"
vfd_ns_bed srf r "10.75.$(($$ % 250 + 1))" 512 vm1:running vm2:running
VFD_LISTENER=multicast
LPORT=1301      # call-back port of the captured request, then the attacker's
printf -v BLOCK '\tmulticast {\n\t\tkey_file = "%s";\n\t\tinterface = "%s";\n\t}\n' "$KEY" "$VH"
vfd_write_conf "$VFT_TMP/f.conf" "$BLOCK"
vfd_start DPID "$VFT_TMP/f.conf" "$HV" || { vft_fail "daemon start"; vft_finish; }
xvm() { ip netns exec "$GU" timeout 40 "$VF_AGENT_XVM" -k "$KEY" -t 10 "$@"; }

# ---- 1. capture one legitimate request --------------------------------------------
ip netns exec "$GU" timeout 30 python3 "$ATT" capture --file "$VFT_TMP/dgram" \
    --ifaddr "$NET.2" --cb-addr "$NET.2" --secs 20 >"$VFT_TMP/capture.out" 2>&1 &
CPID=$!
vft_on_exit "vft_kill_pid $CPID"
for i in $(seq 1 50); do grep -q '^ready' "$VFT_TMP/capture.out" && break; sleep 0.1; done
vfd_expect_out "legitimate status (the captured request)" 0 "Status: ON" \
    xvm -L "$LPORT" -o status -n vm1
T_LEGIT=$(date +%s%N)
for i in $(seq 1 50); do kill -0 "$CPID" 2>/dev/null || break; sleep 0.1; done
wait "$CPID" 2>/dev/null
if grep -q "result=captured.*cb=$NET.2:$LPORT" "$VFT_TMP/capture.out"; then
    vft_ok "captured: $(grep result= "$VFT_TMP/capture.out")"
else
    vft_fail "no datagram captured: $(cat "$VFT_TMP/capture.out")"; vft_finish
fi

# ---- 2. wait past the 10 s dedupe window ------------------------------------------
while [ $(( ($(date +%s%N) - T_LEGIT) / 1000000 )) -lt 11000 ]; do sleep 0.2; done

# ---- 3. flood, with legitimate requests during it ---------------------------------
ip netns exec "$GU" timeout 30 python3 "$ATT" flood --file "$VFT_TMP/dgram" \
    --ifaddr "$NET.2" --rate 1000 --secs 8 --count-port "$LPORT" --grace 3 \
    >"$VFT_TMP/flood.out" 2>&1 &
FPID=$!
vft_on_exit "vft_kill_pid $FPID"
for i in $(seq 1 50); do grep -q '^ready' "$VFT_TMP/flood.out" && break; sleep 0.1; done
LPIDS=()
for n in 1 2 3; do
    sleep $((n == 1 ? 1 : 2))
    (
        t0=$(date +%s%N); rc=0
        ip netns exec "$GU" timeout 15 "$VF_AGENT_XVM" -k "$KEY" -t 10 -L $((1310 + n)) \
            -o status -n vm2 >"$VFT_TMP/legit.$n" 2>&1 || rc=$?
        echo "rc=$rc ms=$(( ($(date +%s%N) - t0) / 1000000 ))" >"$VFT_TMP/legit.$n.rc"
    ) &
    LPIDS+=($!)
done
for p in "${LPIDS[@]}"; do wait "$p"; done
for i in $(seq 1 150); do kill -0 "$FPID" 2>/dev/null || break; sleep 0.1; done
wait "$FPID" 2>/dev/null

for n in 1 2 3; do
    res=$(cat "$VFT_TMP/legit.$n.rc" 2>/dev/null)
    if [ "${res%% *}" = rc=0 ] && grep -q "Status: ON" "$VFT_TMP/legit.$n"; then
        vft_ok "legitimate status #$n during the flood ($res)"
    else
        vft_fail "legitimate status #$n during the flood: $res: $(tr '\n' ' ' <"$VFT_TMP/legit.$n" | cut -c1-200)"
    fi
done
sed 's/^/    attacker: /' "$VFT_TMP/flood.out"
cb=$(sed -n 's/^result=done .*connect_backs=\([0-9]*\).*/\1/p' "$VFT_TMP/flood.out")
sent=$(sed -n 's/^result=done sent=\([0-9]*\).*/\1/p' "$VFT_TMP/flood.out")
if [ -z "$cb" ] || [ "${sent:-0}" -lt 4000 ]; then
    vft_fail "flood did not run as planned: $(tr '\n' ';' <"$VFT_TMP/flood.out")"
elif [ "$cb" -le 5 ]; then
    vft_ok "replays of one datagram caused $cb connect-backs (<= 5) out of $sent sent"
else
    vft_fail "replays of one datagram caused $cb connect-backs (> 5) out of $sent sent"
fi
vft_log "daemon log: $(grep -c 'connect-back failed' "$VFD_LOG") 'connect-back failed', $(grep -c 'authentication failed' "$VFD_LOG") 'authentication failed', $(grep -c 'no worker free' "$VFD_LOG") 'no worker free' lines (rate limited)"

# ---- 4. after the flood ------------------------------------------------------------
vft_check "daemon still alive" kill -0 "$DPID"
vfd_expect_out "status after the flood" 0 "Status: ON" xvm -o status -n vm1
vfd_stop "$DPID"
vft_finish
