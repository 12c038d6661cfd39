#!/bin/bash
# vmfence - tests/interop/agent-mcast.sh: OUR fence_xvm (multicast) against
# the REFERENCE fence_virtd multicast listener.
#
# Network: two namespaces this test creates, "hv" (host) and "g" (guest),
# joined by a veth pair with 10.77.N.1/24 and 10.77.N.2/24 and a multicast
# route in both.  All multicast stays inside them; nothing runs in the
# machine's own namespace.  Only the hypervisor is faked (libvirt's test
# driver inside the reference daemon).
. "$(dirname "$0")/../lib/common.sh"

vft_need_ref multicast "$VF_AGENT_XVM" ip stdbuf ss

vft_ns_pair agt a "10.77.$(($$ % 250))"

vft_key_pair 512
NODE=$VFT_TMP/node.xml
DPID=
UA=$(vft_uuid_of 1)

start_daemon() {
    local h=$1 fam=${2:-ipv4} group=${3:-225.0.0.12}
    [ -n "$DPID" ] && vft_kill_pid "$DPID"
    DPID=
    vft_testdriver_xml "$NODE" vm-a vm-b:off "vm c" vm-d
    vft_fvd_conf "$VFT_TMP/fvd.conf" multicast "$REF_MODULES" "test://$NODE" key_file="$KEY" \
        address="$group" family="$fam" port=1229 interface="$VH" hash="$h" auth="$h"
    vft_ref_daemon_start DPID "$VFT_TMP/fvd.conf" "$HV"
    vft_wait_udp 1229 10 "$HV"
}

# in the guest namespace only
xvm() { ip netns exec "$GU" "$VF_AGENT_XVM" -k "$KEY" -t 10 "$@"; }
ref_xvm() { ip netns exec "$GU" "$REF_AGENT_XVM" -k "$KEY" -t 10 "$@"; }

expect() { vft_expect_out "$@"; }
expect_err() { vft_expect_err "$@"; }
state() {
    local rc=0
    xvm -c "$3" -C "$3" -o status -n "$1" >/dev/null 2>&1 || rc=$?
    case $2 in on) [ "$rc" = 0 ] ;; off) [ "$rc" = 2 ] ;; esac
}
# round_state NAME WANT: state with the hash of this round ($h)
round_state() { state "$1" "$2" "$h"; }

for h in sha1 sha256 sha512; do
    if ! start_daemon "$h"; then
        vft_fail "[$h] reference fence_virtd did not start"; tail -20 "$VFT_TMP/refd.log"
        continue
    fi
    A=(-c "$h" -C "$h")
    expect "[$h] status vm-a" 0 '^Status: ON$' xvm "${A[@]}" -o status -n vm-a
    expect "[$h] status vm-b (off)" 2 '^Status: OFF$' xvm "${A[@]}" -o status -n vm-b
    expect "[$h] list" 0 "^vm-a +$UA on$" xvm "${A[@]}" -o list
    expect "[$h] list-status" 0 "^vm-b +$(vft_uuid_of 2) off$" xvm "${A[@]}" -o list-status
    expect "[$h] monitor" 0 '' xvm "${A[@]}" -o monitor
    expect_err "[$h] null" 1 'Operation failed' xvm "${A[@]}" -o null -n vm-a
    vft_agent_cycle "[$h]" vm-a round_state xvm "${A[@]}"
    expect "[$h] on vm-b" 0 '' xvm "${A[@]}" -o on -n vm-b
    vft_check "[$h] vm-b on" state vm-b on "$h"
    expect "[$h] -u with a UUID target" 0 '^Status: ON$' xvm "${A[@]}" -u -o status -n "$UA"
    expect "[$h] off by UUID with -u" 0 '' xvm "${A[@]}" -u -o off -n "$(vft_uuid_of 4)"
    vft_check "[$h] vm-d off" state vm-d off "$h"
    expect "[$h] unknown domain: reference answers OFF (D5)" 2 '^Status: OFF$' \
        xvm "${A[@]}" -o status -n no-such-vm
    expect_err "[$h] off of unknown domain fails" 1 'Operation failed' xvm "${A[@]}" -o off -n no-such-vm
done

# the rest against a sha256 daemon
start_daemon sha256 || vft_fail "reference fence_virtd did not start"

expect "only via the veth interface (-I)" 0 '^Status: ON$' xvm -I "$VG" -o status -n vm-a
expect "call-back on another TCP port (-L 4123)" 0 '^Status: ON$' xvm -L 4123 -o status -n vm-a
# Review R1: more local addresses than fence_xvm used to consider (64): 70
# extra ones on lo, which come before the veth in the address dump, must
# not hide the veth address (before the fix: timeout, exit 1)
for i in $(seq 1 70); do ip -n "$GU" addr add "127.0.9.$i/32" dev lo; done
expect "71 addresses on lo ahead of the veth address" 0 '^Status: ON$' xvm -t 5 -o status -n vm-a
for i in $(seq 1 70); do ip -n "$GU" addr del "127.0.9.$i/32" dev lo; done

vft_expect_rc "stdin interface, Pacemaker style" 0 bash -c \
    "printf 'key_file=$KEY\naction=status\nport=vm-a\nnodename=x\n' | ip netns exec $GU $VF_AGENT_XVM"
expect_err "challenge algorithm mismatch (sha512 vs sha256)" 1 'authentication failed' \
    xvm -C sha512 -o status -n vm-a

# wrong key: the daemon drops the packets ("Key mismatch"): timeout, naming the key
t0=$(date +%s)
expect_err "wrong key: timeout with a diagnosis" 1 'key' \
    ip netns exec "$GU" "$VF_AGENT_XVM" -k "$KEY2" -t 3 -r 10 -o status -n vm-a
t1=$(date +%s)
[ $((t1 - t0)) -le 6 ] && vft_ok "wrong key gives up within the timeout ($((t1 - t0)) s)" \
    || vft_fail "wrong key took $((t1 - t0)) s"

# two concurrent runs: the second waits for the call-back port
rc1=0; rc2=0
ip netns exec "$GU" "$VF_AGENT_XVM" -k "$KEY" -t 10 -o status -n vm-a >"$VFT_TMP/c1.out" 2>&1 &
p1=$!
ip netns exec "$GU" "$VF_AGENT_XVM" -k "$KEY" -t 10 -o status -n vm-b >"$VFT_TMP/c2.out" 2>&1 &
p2=$!
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
if [ "$rc1" = 0 ] && [ "$rc2" = 2 ] && grep -q "Status: ON" "$VFT_TMP/c1.out" \
    && grep -q "Status: OFF" "$VFT_TMP/c2.out"; then
    vft_ok "two concurrent fence_xvm runs both succeed"
else
    vft_fail "concurrent runs: rc $rc1/$rc2"; cat "$VFT_TMP/c1.out" "$VFT_TMP/c2.out" | head
fi
# ... and a second one while the port is held by something else for a second
ip netns exec "$GU" python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 1229)); s.listen(1); time.sleep(1.5)' &
hp=$!
vft_wait_tcp 0.0.0.0 1229 5 "$GU" || vft_fail "port holder did not start"
t0=$(date +%s%N)
expect "port busy for 1.5 s: waits, then succeeds" 0 '^Status: ON$' xvm -o status -n vm-a
t1=$(date +%s%N)
wait "$hp" 2>/dev/null
[ $(((t1 - t0) / 1000000)) -ge 900 ] && vft_ok "it did wait for the port" || vft_fail "did not wait ($(((t1 - t0) / 1000000)) ms)"

# side by side with the reference fence_xvm
for req in "-o status -n vm-a" "-o status -n vm-b" "-o list" "-o null -n vm-a" "-o monitor"; do
    # shellcheck disable=SC2086
    vft_same_as_ref "fence_xvm $req" xvm ref_xvm $req
done

# IPv6 multicast (ff05::3:1) with global addresses on the veth pair
ip -n "$HV" addr add fd77:$(($$ % 9999))::1/64 dev "$VH" nodad
ip -n "$GU" addr add fd77:$(($$ % 9999))::2/64 dev "$VG" nodad
if start_daemon sha256 ipv6 ff05::3:1; then
    expect "[ipv6] status vm-a (-i ipv6)" 0 '^Status: ON$' xvm -i ipv6 -o status -n vm-a
    expect "[ipv6] list (-a ff05::3:1)" 0 "^vm-a +$UA on$" xvm -a ff05::3:1 -o list
    expect "[ipv6] off vm-a" 0 '' xvm -i ipv6 -o off -n vm-a
    expect "[ipv6] vm-a is off" 2 '^Status: OFF$' xvm -i ipv6 -o status -n vm-a
    vft_same_as_ref "[ipv6] fence_xvm list" xvm ref_xvm -i ipv6 -o list
else
    vft_fail "[ipv6] reference fence_virtd did not start"
fi

# no daemon: the timeout message says what was tried
vft_kill_pid "$DPID"
DPID=
t0=$(date +%s)
if expect_err "no daemon: timeout" 1 'Timed out waiting for response' \
    ip netns exec "$GU" "$VF_AGENT_XVM" -k "$KEY" -t 3 -r 10 -o status -n vm-a; then
    if grep -q "225.0.0.12" "$VFT_ERR" && grep -q "1229" "$VFT_ERR" && grep -q "$VG" "$VFT_ERR" \
        && grep -q "$NET.2" "$VFT_ERR" && grep -q "3 s" "$VFT_ERR"; then
        vft_ok "timeout message names group, port, interface, address and timeout"
    else
        vft_fail "timeout message lacks detail: $(cat "$VFT_ERR")"
    fi
fi
t1=$(date +%s)
[ $((t1 - t0)) -le 6 ] && vft_ok "gave up after about 3 s ($((t1 - t0)) s)" || vft_fail "took $((t1 - t0)) s"

vft_finish
