#!/bin/bash
# vmfence - tests/interop/daemon-hostile.sh: OUR fence_virtd (tcp listener)
# keeps answering a legitimate REFERENCE fence_virt while hostile peers
# (daemon-hostile.py: 5 idle connections, garbage, truncated requests, a
# wrong key, a slow 1-byte-per-second peer) hammer the same port (D20/D21),
# and drops a replayed signed request within the dedupe window.  Loopback
# only; the hypervisor is the libvirt test driver.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vfd_need "$REF_AGENT" python3

vft_testdriver_xml "$VFT_TMP/node.xml" vm1:running vm2:running
VFD_URI="test://$VFT_TMP/node.xml"
KEY="$VFT_TMP/key"; vft_gen_key "$KEY" 256
PORT=$(vfd_free_port) || vft_skip "no free port"
HOSTILE="$VFT_SRC/tests/interop/daemon-hostile.py"
ref() { timeout 30 "$REF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" "$@"; }

vfd_write_conf "$VFT_TMP/h.conf" "$(vfd_tcp_block "$PORT" "$KEY")"
vfd_start DPID "$VFT_TMP/h.conf" || { vft_fail "daemon start"; vft_finish; }

python3 "$HOSTILE" "$PORT" "$KEY" noise 8 >"$VFT_TMP/noise.out" 2>&1 &
NPID=$!
vft_on_exit "vft_kill_pid $NPID"
sleep 0.5
slow=0
for i in $(seq 1 8); do
    t0=$(date +%s%N)
    vfd_expect_out "legitimate status #$i under attack" 0 "Status: ON" ref -o status -n vm1
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ "$ms" -le 3000 ] || { slow=$((slow + 1)); vft_log "request #$i took $ms ms"; }
    sleep 0.5
done
[ "$slow" = 0 ] && vft_ok "every legitimate request answered within 3 s" || \
    vft_fail "$slow legitimate requests took more than 3 s"
wait "$NPID" 2>/dev/null
grep -q "noise done" "$VFT_TMP/noise.out" && vft_ok "hostile peers ran" || \
    { vft_fail "hostile script"; cat "$VFT_TMP/noise.out"; }
vft_check "daemon still alive" kill -0 "$DPID"
vft_check "wrong-key requests logged" vfd_log_has "key mismatch"
vfd_expect_out "status after the attack" 0 "Status: ON" ref -o status -n vm2

# replay: the same signed bytes twice within 10 s -> executed once
vfd_expect_out "replay script" 0 "" timeout 60 python3 "$HOSTILE" "$PORT" "$KEY" replay vm1
if grep -q "^first=0 second=dropped" "$VFT_OUT"; then
    vft_ok "replayed request dropped ($(cat "$VFT_OUT"))"
else
    vft_fail "replay: $(cat "$VFT_OUT")"
fi

# slowloris: more idle peers than the 64 pending slots, each reopened as soon
# as the daemon closes it.  Refusing newcomers when full locked legitimate
# clients out for as long as the attack lasted; evicting the oldest idler
# lets them through (R2 review).
python3 "$HOSTILE" "$PORT" "$KEY" slowloris 90 6 >"$VFT_TMP/loris.out" 2>&1 &
LPID=$!
vft_on_exit "vft_kill_pid $LPID"
sleep 1
ok=0
for i in 1 2 3; do
    timeout 10 "$REF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" -t 5 -o status -n vm1 \
        >"$VFT_TMP/loris.$i" 2>&1 && ok=$((ok + 1))
    sleep 0.3
done
[ "$ok" -ge 2 ] && vft_ok "legitimate requests served during a slowloris ($ok/3)" || \
    { vft_fail "legitimate requests served during a slowloris ($ok/3)"; cat "$VFT_TMP/loris.1"; }
wait "$LPID" 2>/dev/null
grep -q "slowloris done" "$VFT_TMP/loris.out" && vft_ok "slowloris peers ran ($(cat "$VFT_TMP/loris.out"))" || \
    { vft_fail "slowloris script"; cat "$VFT_TMP/loris.out"; }
vfd_stop "$DPID"

# ---- descriptor exhaustion (D20): accept() fails with EMFILE, the daemon survives -------
PORT=$(vfd_free_port) || vft_skip "no free port"
vfd_write_conf "$VFT_TMP/e.conf" "$(vfd_tcp_block "$PORT" "$KEY")"
VFD_LOG="$VFT_TMP/emfile.log"
( ulimit -n 48; exec "$VF_DAEMON" -F -d 1 -f "$VFT_TMP/e.conf" -p "$VFT_TMP/e.pid" ) >"$VFD_LOG" 2>&1 &
EPID=$!; vft_on_exit "vft_kill_pid $EPID"
if vfd_log_has " started (pid" 10; then
    python3 "$HOSTILE" "$PORT" "$KEY" hold 80 3 >"$VFT_TMP/hold.out" 2>&1 &
    HPID=$!; vft_on_exit "vft_kill_pid $HPID"
    vft_check "EMFILE logged" vfd_log_has "accept failed: Too many open files" 5
    wait "$HPID" 2>/dev/null
    vft_check "daemon survived EMFILE" kill -0 "$EPID"
    vfd_expect_out "served again after the descriptors came back" 0 "Status: ON" ref -o status -n vm1
else
    vft_fail "daemon start (ulimit)"
fi
vfd_stop "$EPID"
vft_finish
