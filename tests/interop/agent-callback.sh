#!/bin/bash
# vmfence - tests/interop/agent-callback.sh: OUR fence_xvm's TCP call-back
# port under attack (security issue 13).  Anything on the guests' network
# can connect to the call-back port; only a peer that passes the agent's
# challenge (so holds the key) may decide the result.
#
# An impostor (agent-callback-impostor.py, in the guest namespace) connects
# to the call-back port as soon as it listens and (a) stalls, (b) answers
# the challenge with 64 wrong bytes and then response byte 0 (SUCCESS), or
# (c) opens many connections.  With a real daemon present (the REFERENCE
# fence_virtd, then ours if built) the agent must still get the real
# answer; with no daemon, the fake SUCCESS must never make it exit 0.
#
# Network: two namespaces this test creates, "hv" (host) and "g" (guest),
# joined by a veth pair; multicast stays inside them.  What is faked:
#  - the hypervisor: libvirt's test driver inside the daemon (no VMs here);
#  - the network delay: the agent sends to UDP port 1230, where a relay in
#    "hv" (the impostor script's "delay" mode) passes every datagram on to
#    the daemon's port 1229 only after 0.7 s.  The daemon therefore calls
#    back 0.7 s late, and the impostor, which connects within milliseconds,
#    is reliably first, as an attacker next to the guest would be.
. "$(dirname "$0")/../lib/common.sh"

vft_need_ref multicast "$VF_AGENT_XVM" ip python3 stdbuf ss

IMP="$VFT_SRC/tests/interop/agent-callback-impostor.py"
vft_ns_pair acb c "10.78.$(($$ % 250))"

KEY=$VFT_TMP/key
vft_gen_key "$KEY" 512
NODE=$VFT_TMP/node.xml
DPID=
IPID=
ILOG=$VFT_TMP/impostor.log
PORT=1230       # the agent's port (relay, and its call-back port)
DPORT=1229      # the daemon's port

# write_conf WITH_MODULE_PATH: a sha256 multicast listener on port 1229
write_conf() {
    local mp=
    [ "$1" = yes ] && mp=$REF_MODULES
    vft_testdriver_xml "$NODE" vm-a vm-b vm-c
    vft_fvd_conf "$VFT_TMP/fvd.conf" multicast "$mp" "test://$NODE" key_file="$KEY" \
        address=225.0.0.12 family=ipv4 port="$DPORT" interface="$VH" hash=sha256 auth=sha256
}
stop_daemon() {
    [ -n "$DPID" ] && vft_kill_pid "$DPID"
    [ -n "$DPID" ] && wait "$DPID" 2>/dev/null
    DPID=
}
start_ref_daemon() {
    stop_daemon
    write_conf yes
    vft_ref_daemon_start DPID "$VFT_TMP/fvd.conf" "$HV"
    vft_wait_udp "$DPORT" 10 "$HV"
}
start_our_daemon() {
    stop_daemon
    write_conf no
    ip netns exec "$HV" "$VF_DAEMON" -F -d 2 -f "$VFT_TMP/fvd.conf" -p "$VFT_TMP/vfd.pid" \
        >>"$VFT_TMP/vfd.log" 2>&1 &
    DPID=$!
    vft_on_exit "vft_kill_pid $DPID"
    vft_wait_udp "$DPORT" 10 "$HV"
}

# the relay that delays the daemon's view of the datagrams (see the header)
ip netns exec "$HV" python3 "$IMP" delay 225.0.0.12 "$PORT" "$NET.1" "$NET.1" "$DPORT" \
    --delay 0.7 --life 55 >"$VFT_TMP/relay.log" 2>&1 &
RPID=$!
vft_on_exit "vft_kill_pid $RPID"
vft_wait_udp "$PORT" 5 "$HV" || vft_fail "the delaying relay did not start"

# impostor MODE [ARGS...]: start it in the guest, connecting to the agent's
# call-back port on 127.0.0.1 as soon as it listens; give it time to start
# its connect loop before the agent runs
impostor() {
    local mode=$1; shift
    stop_impostor
    echo "--- $mode $*" >>"$ILOG"
    ip netns exec "$GU" python3 "$IMP" "$mode" 127.0.0.1 "$PORT" --wait 8 --life 15 "$@" \
        >>"$ILOG" 2>&1 &
    IPID=$!
    vft_on_exit "vft_kill_pid $IPID"
    sleep 0.3
}
stop_impostor() {
    [ -n "$IPID" ] && vft_kill_pid "$IPID"
    [ -n "$IPID" ] && wait "$IPID" 2>/dev/null
    IPID=
}
# the impostor's log since its last start
impostor_last() { sed -n '/^--- /h; /^--- /!H; ${x;p}' "$ILOG"; }
# ... matches PATTERN
impostor_did() { stop_impostor; impostor_last | grep -q -- "$1"; }

# our agent, in the guest namespace only
xvm() { ip netns exec "$GU" timeout 30 "$VF_AGENT_XVM" -k "$KEY" -p "$PORT" -r 10 "$@"; }
state_is() {   # NAME on|off (no impostor)
    local rc=0
    xvm -t 8 -o status -n "$1" >/dev/null 2>&1 || rc=$?
    case $2 in on) [ "$rc" = 0 ] ;; off) [ "$rc" = 2 ] ;; esac
}
show_impostor() { impostor_last | sed 's/^/    /' | tail -12; }

# with_daemon LABEL: the checks against a running daemon (vm-a..vm-c on)
with_daemon() {
    local l=$1
    impostor stall
    vft_expect_out "[$l] (a) stalled impostor first: status vm-a is ON" 0 '^Status: ON$' \
        xvm -t 8 -o status -n vm-a || show_impostor
    impostor_did 'stall: connected' && vft_ok "[$l] (a) the impostor did connect" \
        || { vft_fail "[$l] (a) the impostor never connected"; show_impostor; }

    impostor wrong --repeat 3
    vft_expect_out "[$l] (b) wrong answer + fake SUCCESS first: status vm-a is ON" 0 '^Status: ON$' \
        xvm -t 8 -o status -n vm-a || show_impostor
    impostor_did 'wrong: sent 64 wrong' && vft_ok "[$l] (b) the impostor did answer" \
        || { vft_fail "[$l] (b) the impostor never answered"; show_impostor; }

    impostor many --count 40
    vft_expect_out "[$l] (c) 40 impostor connections first: status vm-a is ON" 0 '^Status: ON$' \
        xvm -t 8 -o status -n vm-a || show_impostor
    impostor_did 'many: first connection' && vft_ok "[$l] (c) the impostor did connect" \
        || { vft_fail "[$l] (c) the impostor never connected"; show_impostor; }

    impostor wrong --repeat 3
    vft_expect_rc "[$l] (b) off vm-b with the impostor first" 0 xvm -t 8 -o off -n vm-b \
        || show_impostor
    stop_impostor
    vft_check "[$l] vm-b is really off (status exits 2)" state_is vm-b off

    impostor stall
    vft_expect_rc "[$l] (a) off vm-c with a stalled impostor" 0 xvm -t 8 -o off -n vm-c \
        || show_impostor
    stop_impostor
    vft_check "[$l] vm-c is really off (status exits 2)" state_is vm-c off
}

if start_ref_daemon; then
    with_daemon ref
else
    vft_fail "reference fence_virtd did not start"; tail -20 "$VFT_TMP/refd.log"
fi
if [ -x "$VF_DAEMON" ]; then
    if start_our_daemon; then
        with_daemon ours
    else
        vft_fail "our fence_virtd did not start"; tail -20 "$VFT_TMP/vfd.log"
    fi
else
    vft_log "our fence_virtd is not built: only the reference daemon was used"
fi

# no daemon at all, only the impostor answering "SUCCESS": never exit 0
stop_daemon
for op in status off; do
    impostor wrong --repeat 5
    t0=$(date +%s)
    vft_expect_err "no daemon, fake SUCCESS only: $op vm-a fails" 1 'authentication failed' \
        xvm -t 3 -o "$op" -n vm-a || show_impostor
    t1=$(date +%s)
    if grep -Eq 'call-back\(s\) to TCP port [0-9]+ did not pass our sha256 challenge' "$VFT_ERR" \
        && grep -q 'wrong answer' "$VFT_ERR"; then
        vft_ok "no daemon ($op): the message counts the call-backs that failed the challenge"
    else
        vft_fail "no daemon ($op): message does not count the failed call-backs: $(head -3 "$VFT_ERR")"
    fi
    [ $((t1 - t0)) -le 9 ] && vft_ok "no daemon ($op): gave up after $((t1 - t0)) s (-t 3)" \
        || vft_fail "no daemon ($op): took $((t1 - t0)) s"
    impostor_did 'wrong: sent 64 wrong' || { vft_fail "no daemon ($op): the impostor never answered"; show_impostor; }
done

vft_finish
