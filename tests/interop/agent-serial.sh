#!/bin/bash
# vmfence - tests/interop/agent-serial.sh: OUR fence_virt over the serial
# framing: vmchannel (TCP to channel_address, the default transport) and a
# real tty (-D, a pty pair).
#
# The peer, tests/shim/serial-peer, is a FAKE standing in for fence_virtd's
# serial listener plus QEMU's chardev: it checks the 74-byte request byte by
# byte (magic, command, flags, NUL-padded domain) and answers from its
# command line (leading garbage, response byte, host list, or silence).
# Loopback and ptys only.
. "$(dirname "$0")/../lib/common.sh"

vft_need_root
PEER=$VFT_BUILD/tests/shim/serial-peer
vft_need_cmd "$VF_AGENT" "$PEER" ss

PPEER=
# start_peer ARGS...: start the fake peer, wait until it printed its first
# line: the TCP port it listens on (-l 0: any free port) into P, or the pty path
start_peer() {
    : >"$VFT_TMP/peer.out"
    : >"$VFT_TMP/peer.err"
    "$PEER" -w 15 "$@" >"$VFT_TMP/peer.out" 2>"$VFT_TMP/peer.err" &
    PPEER=$!
    vft_on_exit "vft_kill_pid $PPEER"
    local i
    for i in $(seq 1 50); do
        if [ -s "$VFT_TMP/peer.out" ]; then
            P=$(head -1 "$VFT_TMP/peer.out")
            return 0
        fi
        sleep 0.1
    done
    return 1
}
# peer_verdict DESC: the peer saw the request it expected
peer_verdict() {
    local rc=0 i
    for i in $(seq 1 50); do kill -0 "$PPEER" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PPEER" 2>/dev/null && vft_kill_pid "$PPEER"
    wait "$PPEER" 2>/dev/null || rc=$?
    if [ "$rc" = 0 ] && grep -q "request OK" "$VFT_TMP/peer.err"; then
        vft_ok "$1: peer got the expected request bytes"
    else
        vft_fail "$1: peer verdict rc $rc"; sed 's/^/    peer: /' "$VFT_TMP/peer.err" | head
    fi
}
expect() { vft_expect_out "$@"; }
expect_err() { vft_expect_err "$@"; }

UA=$(vft_uuid_of 1)
UB=$(vft_uuid_of 2)
LIST="vm-a/$UA/1,vm-b/$UB/5,paused/$(vft_uuid_of 3)/3"
list_want() {
    printf '%-32s %s %s\n' vm-a "$UA" on vm-b "$UB" off paused "$(vft_uuid_of 3)" off
}

# ---- vmchannel (TCP) ---------------------------------------------------------
vmc() { "$VF_AGENT" -A 127.0.0.1 -p "$P" -t 5 "$@"; }

start_peer -l 0 -c 4 -n vm-a -r 0
expect "[vmchannel] status ON" 0 '^Status: ON$' vmc -o status -n vm-a; peer_verdict "[vmchannel] status"
start_peer -l 0 -c 4 -n vm-b -r 2
expect "[vmchannel] status OFF" 2 '^Status: OFF$' vmc -o status -n vm-b; peer_verdict "[vmchannel] status OFF"
start_peer -l 0 -c 1 -n vm-a -r 0 -g 300
expect "[vmchannel] off after 300 bytes of leading garbage" 0 '' vmc -o off -n vm-a
peer_verdict "[vmchannel] off"
start_peer -l 0 -c 3 -n "$UA" -r 0
expect "[vmchannel] on by UUID" 0 '' vmc -o on -n "$UA"; peer_verdict "[vmchannel] on"
start_peer -l 0 -c 2 -n "my vm" -r 0
vft_expect_rc "[vmchannel] stdin: default action reboot, 'port=my vm'" 0 bash -c \
    "printf 'channel_address=127.0.0.1\nipport=$P\nport=my vm\nnodename=n1\n' | '$VF_AGENT'"
peer_verdict "[vmchannel] stdin reboot"
start_peer -l 0 -c 6 -n "" -L "$LIST" -g 7
if expect "[vmchannel] list (after garbage)" 0 '' vmc -o list; then
    if list_want | cmp -s - "$VFT_OUT"; then vft_ok "[vmchannel] list output format"
    else vft_fail "[vmchannel] list output"; list_want | diff - "$VFT_OUT" | head; fi
fi
peer_verdict "[vmchannel] list"
start_peer -l 0 -c 5 -r 0
expect "[vmchannel] monitor" 0 '' vmc -o monitor; peer_verdict "[vmchannel] monitor"
start_peer -l 0 -c 0 -n vm-a -r 1
expect_err "[vmchannel] failure answer" 1 '^Operation failed' vmc -o null -n vm-a; peer_verdict "[vmchannel] null"
start_peer -l 0 -c 1 -n vm-a -r 3
expect_err "[vmchannel] permission denied: exit 3" 3 'Permission denied' vmc -o off -n vm-a
peer_verdict "[vmchannel] perm"
start_peer -l 0 -c 4 -n vm-a -r 7
expect_err "[vmchannel] unknown response 7: exit 7" 7 'Unknown response \(7\)' vmc -o status -n vm-a
peer_verdict "[vmchannel] unknown response"
# peer_got_request DESC: the peer saw the expected request (its own exit
# status is not checked: the agent may stop reading in the middle)
peer_got_request() {
    local i
    for i in $(seq 1 50); do kill -0 "$PPEER" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PPEER" 2>/dev/null && vft_kill_pid "$PPEER"
    wait "$PPEER" 2>/dev/null
    if grep -q "request OK" "$VFT_TMP/peer.err"; then vft_ok "$1: peer got the expected request"
    else vft_fail "$1: peer verdict"; sed 's/^/    peer: /' "$VFT_TMP/peer.err" | head; fi
}
# Review R1: a host list (253) answering anything but a list request used to
# be taken as success (off exited 0, status exited 0 without "Status: ON").
start_peer -l 0 -c 1 -n vm-a -L "$LIST"
expect_err "[vmchannel] off answered with a host list is a failure" 1 \
    "answered the 'off' request with a host list" vmc -o off -n vm-a
[ ! -s "$VFT_OUT" ] && vft_ok "[vmchannel] off + host list: nothing printed" \
    || vft_fail "[vmchannel] off + host list printed: $(head -3 "$VFT_OUT")"
peer_got_request "[vmchannel] off + host list"
start_peer -l 0 -c 4 -n vm-a -L "$LIST"
expect_err "[vmchannel] status answered with a host list is a failure" 1 \
    "answered the 'status' request with a host list" vmc -o status -n vm-a
peer_got_request "[vmchannel] status + host list"
# a list cut off before its terminator record must not exit 0
start_peer -l 0 -c 6 -n "" -L "$LIST" -T
expect_err "[vmchannel] list cut off before the terminator fails" 1 \
    'host list from .* ended early: connection closed' vmc -o list
peer_got_request "[vmchannel] cut-off list"

start_peer -l 0 -c 4 -n vm-a -s
t0=$(date +%s)
expect_err "[vmchannel] silent peer: timeout" 1 'timed out after 2 s' \
    "$VF_AGENT" -A 127.0.0.1 -p "$P" -t 2 -o status -n vm-a
t1=$(date +%s)
[ $((t1 - t0)) -le 4 ] && vft_ok "[vmchannel] silent peer: gave up in $((t1 - t0)) s" \
    || vft_fail "[vmchannel] silent peer took $((t1 - t0)) s"
peer_verdict "[vmchannel] silent"
# P: the port of the silent peer, which has exited: nothing listens there now
expect_err "[vmchannel] nothing listening" 1 'nothing listening at vmchannel 127.0.0.1' \
    "$VF_AGENT" -A 127.0.0.1 -p "$P" -o status -n vm-a
expect "[vmchannel] no key needed (hash/auth unused)" 1 '' \
    "$VF_AGENT" -A 127.0.0.1 -p "$P" -k /nonexistent -o status -n vm-a
grep -q "nothing listening" "$VFT_ERR" && vft_ok "[vmchannel] key file not consulted" \
    || vft_fail "[vmchannel] key file consulted: $(cat "$VFT_ERR")"

# the reference fence_virt against the same fake peer: same output, same exit code
# (this also checks the fake peer against the reference's bytes)
if [ -x "$REF_AGENT" ]; then
    vft_gen_key "$VFT_TMP/key" 32
    for spec in "4 vm-a 0 -o_status_-n_vm-a" "4 vm-b 2 -o_status_-n_vm-b" "1 vm-a 1 -o_off_-n_vm-a" \
                "6 - L -o_list"; do
        read -r c d r req <<<"$spec"
        req=${req//_/ }
        pargs=(-c "$c" -g 5)
        [ "$d" != - ] && pargs+=(-n "$d")
        if [ "$r" = L ]; then pargs+=(-L "$LIST"); else pargs+=(-r "$r"); fi
        rc_o=0; rc_r=0
        start_peer -l 0 "${pargs[@]}"
        # shellcheck disable=SC2086
        "$VF_AGENT" -A 127.0.0.1 -p "$P" -t 5 $req >"$VFT_TMP/ours" 2>&1 || rc_o=$?
        peer_verdict "[vmchannel] ours: $req"
        start_peer -l 0 "${pargs[@]}"
        # shellcheck disable=SC2086
        "$REF_AGENT" -A 127.0.0.1 -p "$P" -k "$VFT_TMP/key" -t 5 $req >"$VFT_TMP/ref" 2>&1 || rc_r=$?
        peer_verdict "[vmchannel] reference: $req"
        vft_same_output "[vmchannel] fence_virt $req" "$rc_o" "$rc_r"
    done
else
    vft_skip_part "reference $REF_AGENT missing: [vmchannel] comparison with it not run"
fi

# ---- serial tty (pty pair) ---------------------------------------------------
pty_peer() {
    start_peer -t "$@" || return 1
    DEV=$(head -1 "$VFT_TMP/peer.out")
    [ -c "$DEV" ]
}
if pty_peer -c 4 -n vm-a -r 0 -g 20; then
    expect "[tty] status ON after garbage" 0 '^Status: ON$' "$VF_AGENT" -D "$DEV" -t 5 -o status -n vm-a
    peer_verdict "[tty] status"
    pty_peer -c 6 -n "" -L "$LIST"
    if expect "[tty] list" 0 '' "$VF_AGENT" -D "$DEV" -P 9600,8N1 -t 5 -o list; then
        if list_want | cmp -s - "$VFT_OUT"; then vft_ok "[tty] list output format"
        else vft_fail "[tty] list output"; list_want | diff - "$VFT_OUT" | head; fi
    fi
    peer_verdict "[tty] list"
    pty_peer -c 1 -n vm-b -r 2
    expect "[tty] off answered OFF" 2 '^Status: OFF$' "$VF_AGENT" -D "$DEV" -P 115200,7E2 -t 5 -o off -n vm-b
    peer_verdict "[tty] off"
    pty_peer -c 4 -n vm-a -s
    t0=$(date +%s)
    expect_err "[tty] silent peer: timeout" 1 "timed out after 2 s.*serial device '$DEV'" \
        "$VF_AGENT" -D "$DEV" -t 2 -o status -n vm-a
    t1=$(date +%s)
    [ $((t1 - t0)) -le 4 ] && vft_ok "[tty] silent peer: gave up in $((t1 - t0)) s" \
        || vft_fail "[tty] silent peer took $((t1 - t0)) s"
    peer_verdict "[tty] silent"
    pty_peer -c 4 -n vm-a -s
    expect_err "[tty] bad serial_params" 1 "'12345,9X1'.*serial_params" \
        "$VF_AGENT" -D "$DEV" -P 12345,9X1 -t 2 -o status -n vm-a
    vft_kill_pid "$PPEER"
else
    vft_fail "[tty] pty peer did not start"; cat "$VFT_TMP/peer.err"
fi
expect_err "[tty] missing device" 1 "cannot open serial device '/dev/vft-no-such-tty'" \
    "$VF_AGENT" -D /dev/vft-no-such-tty -o status -n vm-a
expect_err "[tty] not a tty" 1 "'/dev/null' is not a usable serial device" \
    "$VF_AGENT" -D /dev/null -o status -n vm-a

vft_finish
