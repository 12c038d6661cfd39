#!/bin/bash
# vmfence - tests/interop/agent-tcp.sh: OUR fence_virt -T against the
# REFERENCE fence_virtd (tcp listener, libvirt backend on the libvirt test
# driver; nothing is faked except the hypervisor, which is libvirt's
# in-memory test driver).  Every action with sha1/sha256/sha512, the domain
# state checked through the daemon after each action, wrong key, weak hash,
# unknown domain, no daemon, and a side-by-side comparison with the
# reference fence_virt.  Loopback only.
. "$(dirname "$0")/../lib/common.sh"

vft_need_ref tcp "$VF_AGENT" stdbuf ss

vft_key_pair 256
NODE=$VFT_TMP/node.xml
DPID=
PORT=

UA=$(vft_uuid_of 1)
UB=$(vft_uuid_of 2)
UC=$(vft_uuid_of 3)
UD=$(vft_uuid_of 4)

# start_daemon HASH: fresh reference daemon (fresh test-driver state) on a new port.
# D1: the reference tcp listener stores its "auth" setting into the minimum
# *hash* and keeps the challenge/response algorithm at sha256 whatever is
# configured.  So both keys are set equal, and our agent always answers
# with -C sha256 while -c follows HASH.
start_daemon() {
    local h=$1 attempt i
    for attempt in 1 2 3; do
        [ -n "$DPID" ] && vft_kill_pid "$DPID"
        DPID=
        vft_testdriver_xml "$NODE" vm-a vm-b:off "vm c" vm-d
        PORT=$(vft_free_port) || return 1
        vft_fvd_conf "$VFT_TMP/fvd.conf" tcp "$REF_MODULES" "test://$NODE" key_file="$KEY" \
            address=127.0.0.1 family=ipv4 port="$PORT" hash="$h" auth="$h"
        vft_ref_daemon_start DPID "$VFT_TMP/fvd.conf"
        # the port may be taken meanwhile (e.g. as another socket's ephemeral
        # port): if the daemon dies, try another one
        for i in $(seq 1 100); do
            ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q . && return 0
            kill -0 "$DPID" 2>/dev/null || break
            sleep 0.1
        done
        vft_log "reference daemon did not listen on port $PORT (attempt $attempt)"
    done
    return 1
}

# agent ARGS...: our agent against the current daemon
agent() { "$VF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" -t 10 "$@"; }
ref_agent() { "$REF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" -t 10 "$@"; }

# expect DESC RC STDOUT-REGEX CMD...
expect() { vft_expect_out "$@"; }
expect_err() { vft_expect_err "$@"; }

# state NAME WANT(on|off): check through the daemon with our agent
state() {
    local n=$1 want=$2 h=$3 rc=0
    agent -c "$h" -C sha256 -o status -n "$n" >/dev/null 2>&1 || rc=$?
    case $want in
        on) [ "$rc" = 0 ] ;;
        off) [ "$rc" = 2 ] ;;
    esac
}
# round_state NAME WANT: state with the hash of this round ($h)
round_state() { state "$1" "$2" "$h"; }

list_line() { printf '%-32s %s %s\n' "$1" "$2" "$3"; }

for h in sha1 sha256 sha512; do
    if ! start_daemon "$h"; then
        vft_fail "[$h] reference fence_virtd did not start"
        tail -20 "$VFT_TMP/refd.log"
        continue
    fi
    A=(-c "$h" -C sha256)
    expect "[$h] status of running vm-a" 0 '^Status: ON$' agent "${A[@]}" -o status -n vm-a
    expect "[$h] status of shut-off vm-b" 2 '^Status: OFF$' agent "${A[@]}" -o status -n vm-b
    expect "[$h] status by UUID" 0 '^Status: ON$' agent "${A[@]}" -o status -n "$UA"

    if expect "[$h] list" 0 'vm-a' agent "${A[@]}" -o list; then
        {
            list_line "vm c" "$UC" on
            list_line vm-a "$UA" on
            list_line vm-b "$UB" off
            list_line vm-d "$UD" on
        } >"$VFT_TMP/list.want"
        if cmp -s "$VFT_OUT" "$VFT_TMP/list.want"; then
            vft_ok "[$h] list output is exactly the reference format"
        else
            vft_fail "[$h] list output differs"; diff "$VFT_TMP/list.want" "$VFT_OUT" | head
        fi
    fi
    expect "[$h] list-status" 0 'vm-b +5ca1ab1e-0000-4000-8000-000000000002 off' \
        agent "${A[@]}" -o list-status
    expect "[$h] monitor" 0 '' agent "${A[@]}" -o monitor
    expect_err "[$h] null answers failure" 1 'Operation failed' agent "${A[@]}" -o null -n vm-a

    vft_agent_cycle "[$h]" vm-a round_state agent "${A[@]}"
    expect "[$h] off vm-a once more" 0 '' agent "${A[@]}" -o off -n vm-a
    expect "[$h] off vm-a again (already off)" 0 '' agent "${A[@]}" -o off -n vm-a
    vft_check "[$h] vm-a is off after off" state vm-a off "$h"
    expect "[$h] on vm-a again" 0 '' agent "${A[@]}" -o on -n vm-a
    expect "[$h] reboot of shut-off vm-b succeeds" 0 '' agent "${A[@]}" -o reboot -n vm-b
    vft_check "[$h] vm-b stays off after reboot (reference semantics)" state vm-b off "$h"
    expect "[$h] on vm-b" 0 '' agent "${A[@]}" -o on -n vm-b
    vft_check "[$h] vm-b is on" state vm-b on "$h"
    expect "[$h] off 'vm c' (name with a blank)" 0 '' agent "${A[@]}" -o off -n "vm c"
    expect "[$h] list shows 'vm c' off" 0 "^vm c +$UC off$" agent "${A[@]}" -o list
    expect "[$h] off by UUID" 0 '' agent "${A[@]}" -o off -n "$UD"
    vft_check "[$h] vm-d is off" state vm-d off "$h"
    # default action (reboot) via stdin, the Pacemaker way
    vft_expect_rc "[$h] stdin: reboot vm-a (default action)" 0 \
        bash -c "printf 'ipaddr=127.0.0.1\nipport=$PORT\nkey_file=$KEY\nhash=$h\nauth=sha256\nplug=vm-a\nnodename=n1\n' | '$VF_AGENT'"
    vft_check "[$h] vm-a is on after stdin reboot" state vm-a on "$h"

    # reference defect D5: status of an unknown domain answers OFF (2)
    expect "[$h] status of unknown domain: reference daemon answers OFF (D5)" 2 '^Status: OFF$' \
        agent "${A[@]}" -o status -n no-such-vm
    expect_err "[$h] off of unknown domain fails" 1 'Operation failed' \
        agent "${A[@]}" -o off -n no-such-vm

    # authentication failures
    t0=$(date +%s)
    expect_err "[$h] wrong key: authentication failure" 1 'authentication failed' \
        "$VF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY2" -t 5 "${A[@]}" -o status -n vm-a
    t1=$(date +%s)
    if [ $((t1 - t0)) -le 7 ]; then vft_ok "[$h] wrong key fails within the timeout ($((t1 - t0)) s)"
    else vft_fail "[$h] wrong key took $((t1 - t0)) s (timeout 5)"; fi
    if [ "$h" != sha1 ]; then
        expect_err "[$h] weaker hash than the daemon's minimum is rejected" 1 \
            'authentication failed|check that key_file' agent -c sha1 -C "$h" -t 5 -o status -n vm-a
    fi
    expect_err "[$h] mismatched challenge algorithm (sha512 vs the daemon's sha256)" 1 \
        'authentication failed' agent -c "$h" -C sha512 -t 5 -o status -n vm-a

    # side by side with the reference agent (stdout+stderr combined, exit code)
    for req in "-o status -n vm-a" "-o status -n vm-b" "-o list" "-o null -n vm-a" \
               "-o off -n no-such-vm" "-o monitor"; do
        # shellcheck disable=SC2086
        vft_same_as_ref "[$h] fence_virt $req" agent ref_agent "${A[@]}" $req
    done
done

# daemon minimum hash none (D1: challenge still sha256): unsigned requests
start_daemon none && {
    expect "[none] unsigned request (-c none) accepted" 0 '^Status: ON$' \
        agent -c none -C sha256 -o status -n vm-a
    expect "[none] off with an unsigned request" 0 '' agent -c none -C sha256 -o off -n vm-a
    vft_check "[none] vm-a is off" state vm-a off none
}

# Review R1: a FAKE daemon (python, loopback, hash and auth none so it needs
# no key) that reads the 176-byte request and answers with raw bytes: a host
# list answering "off" must fail (it used to exit 0), and a list stream cut
# off before the terminator must fail with a message.
fake_daemon() {   # fake_daemon HEX-ANSWER: sets FPID, FPORT
    : >"$VFT_TMP/fake.port"
    python3 - "$1" >"$VFT_TMP/fake.port" 2>"$VFT_TMP/fake.err" <<'PY' &
import socket, sys
ans = bytes.fromhex(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0)); s.listen(1); s.settimeout(15)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); c.settimeout(10)
req = b""
while len(req) < 176:
    b = c.recv(176 - len(req))
    if not b:
        break
    req += b
sys.stderr.write("fake: request %d bytes cmd %d\n" % (len(req), req[0] if req else -1))
c.sendall(ans); c.close()
PY
    FPID=$!
    vft_on_exit "vft_kill_pid $FPID"
    local i
    for i in $(seq 1 50); do [ -s "$VFT_TMP/fake.port" ] && break; sleep 0.1; done
    FPORT=$(head -1 "$VFT_TMP/fake.port")
}
REC=$(printf 'vm-a' | od -An -tx1 | tr -d ' \n')$(printf '%0248d' 0)01$(printf '%02d' 0)
ZERO=$(printf '%0260d' 0)
if command -v python3 >/dev/null 2>&1; then
    fake_daemon "fd${REC}${ZERO}00"
    expect_err "[fake] off answered with a host list fails" 1 \
        "answered the 'off' request with a host list" \
        "$VF_AGENT" -T 127.0.0.1 -p "$FPORT" -c none -C none -t 5 -o off -n vm-a
    grep -q "request 176 bytes cmd 1" "$VFT_TMP/fake.err" && vft_ok "[fake] off request received" \
        || vft_fail "[fake] off request: $(cat "$VFT_TMP/fake.err")"
    fake_daemon "fd${REC}"
    expect_err "[fake] list cut off before the terminator fails" 1 \
        'host list from 127.0.0.1:[0-9]+ ended early: connection closed' \
        "$VF_AGENT" -T 127.0.0.1 -p "$FPORT" -c none -C none -t 5 -o list
    fake_daemon "fd${REC}${ZERO}00"
    expect "[fake] complete list" 0 '^vm-a +.* on$' \
        "$VF_AGENT" -T 127.0.0.1 -p "$FPORT" -c none -C none -t 5 -o list
else
    vft_skip_part "python3 missing: fake daemon tests not run"
fi

# no daemon at all: connection refused, named
[ -n "$DPID" ] && vft_kill_pid "$DPID"
DPID=
FREE=$(vft_free_port)
expect_err "no daemon: connection refused message" 1 "no fence_virtd listening at 127.0.0.1:$FREE" \
    "$VF_AGENT" -T 127.0.0.1 -p "$FREE" -k "$KEY" -o status -n vm-a
expect_err "no daemon (IPv6 loopback)" 1 "no fence_virtd listening at \[::1\]:$FREE" \
    "$VF_AGENT" -T ::1 -p "$FREE" -k "$KEY" -o status -n vm-a

vft_finish
