#!/bin/bash
# vmfence - tests/interop/libvirtd-restart.sh: the libvirt backend survives
# libvirtd going away and coming back (reference defect D10 / issue D3).
#
# A real libvirtd serves libvirt's test driver (libvirt-lab.md: unprivileged
# session daemon, own HOME and XDG_RUNTIME_DIR in the test directory); the
# backend connects to it with test+unix:///default?socket=...  A small C
# harness (daemon/tests/libvirt-harness) keeps ONE backend instance for the
# whole run and executes commands we send it.  We check:
#   - requests work; libvirtd is killed by PID; requests now fail with
#     -EHOSTDOWN well before their deadline and never hang;
#   - libvirtd is started again; within 20 s requests succeed again, with no
#     restart of the harness (the backend reconnected by itself);
#   - the same once more with SIGTERM instead of SIGKILL;
#   - libvirtd hung (SIGSTOP): a request returns -ETIMEDOUT at its deadline,
#     the next ones fail at once; after SIGCONT requests succeed again.
# Faked: the hypervisor (libvirt's test driver inside a real libvirtd).
. "$(dirname "$0")/../lib/common.sh"

vft_need_root
vft_need_cmd /usr/sbin/libvirtd setpriv virsh
HARNESS="$VFT_BUILD/daemon/tests/libvirt-harness"
[ -x "$HARNESS" ] || vft_skip "daemon/tests/libvirt-harness not built (make check builds it)"

EHOSTDOWN=-112
D="$VFT_TMP"
vft_libvirtd_prepare "$D"
URI=$VFT_LVD_URI
lvd_stop() {   # lvd_stop SIGNAL
    kill "-$1" "$VFT_LVD_PID" 2>/dev/null
    local i
    for i in $(seq 1 100); do
        kill -0 "$VFT_LVD_PID" 2>/dev/null || break
        sleep 0.05
    done
    wait "$VFT_LVD_PID" 2>/dev/null
    ! kill -0 "$VFT_LVD_PID" 2>/dev/null
}

cat >"$D/fence_virt.conf" <<EOF
backends {
    libvirt {
        uri = "$URI";
    }
}
EOF

if ! vft_libvirtd_start; then
    sed 's/^/    libvirtd: /' "$D/libvirtd.log" | tail -20
    vft_skip "libvirtd does not start here"
fi
vft_ok "libvirtd (pid $VFT_LVD_PID) serves the test driver"

coproc HARN { exec "$HARNESS" "$D/fence_virt.conf" 2>"$D/harness.log"; }
HPID=$HARN_PID
vft_on_exit "vft_kill_pid $HPID"
HIN=${HARN[1]}
HOUT=${HARN[0]}

# h CMD...: send a command, echo the answer line ("TIMEOUT" if none in 30 s)
h() { vft_ask "$HIN" "$HOUT" 30 "$*"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
expect_line() {  # DESC LINE RC [ON]
    local d=$1 l=$2 rc=$3 on=${4:-}
    if [ "$(field rc "$l")" = "$rc" ] && { [ -z "$on" ] || [ "$(field on "$l")" = "$on" ]; }; then
        vft_ok "$d ($l)"
    else
        vft_fail "$d: got '$l', expected rc=$rc${on:+ on=$on}"
    fi
}

read -t 10 -r READY <&"$HOUT" || READY=TIMEOUT
[ "$READY" = ready ] && vft_ok "harness initialised" || vft_fail "harness did not start: $READY"

expect_line "status of a running domain" "$(h status test)" 0 1
expect_line "monitor while connected" "$(h monitor)" 0
expect_line "off through the remote driver" "$(h off test)" 0
expect_line "status after off" "$(h status test)" 0 0
expect_line "on through the remote driver" "$(h on test)" 0
expect_line "status of unknown domain" "$(h status no-such-vm)" -2

# outage_check TAG: every request fails fast with -EHOSTDOWN while libvirtd is down
outage_check() {
    local tag=$1 i l rc ms bad=0 slow=0
    for i in 1 2 3 4 5; do
        l=$(h status test 5000)
        rc=$(field rc "$l"); ms=$(field ms "$l")
        [ "$rc" = "$EHOSTDOWN" ] || bad=$((bad + 1))
        [ -n "$ms" ] && [ "$ms" -lt 2000 ] || slow=$((slow + 1))
        [ "$i" = 1 ] && vft_log "$tag: first request during the outage: $l"
        sleep 0.2
    done
    [ "$bad" = 0 ] && vft_ok "$tag: requests fail with -EHOSTDOWN while libvirtd is down" \
        || vft_fail "$tag: $bad of 5 requests did not fail with -EHOSTDOWN (last: $l)"
    [ "$slow" = 0 ] && vft_ok "$tag: they return well before their 5 s deadline" \
        || vft_fail "$tag: $slow of 5 requests took 2 s or more"
    l=$(h monitor 5000)
    expect_line "$tag: monitor reports the backend broken" "$l" "$EHOSTDOWN"
    l=$(h off test 5000)
    expect_line "$tag: off fails (never a false success)" "$l" "$EHOSTDOWN"
}

# recovery_check TAG: after restart, requests succeed within 20 s
recovery_check() {
    local tag=$1 i l t0 t1
    t0=$(date +%s%N)
    for i in $(seq 1 80); do
        l=$(h status test 2000)
        [ "$(field rc "$l")" = 0 ] && break
        sleep 0.25
    done
    t1=$(date +%s%N)
    expect_line "$tag: status works again without restarting the harness" "$l" 0 1
    vft_log "$tag: recovered after $(( (t1 - t0) / 1000000 )) ms"
    expect_line "$tag: monitor healthy again" "$(h monitor)" 0
    l=$(h list)
    if [ "$(field rc "$l")" = 0 ] && grep -q 'names=test' <<<"$l"; then
        vft_ok "$tag: list works ($l)"
    else
        vft_fail "$tag: list: $l"
    fi
    expect_line "$tag: reboot works" "$(h reboot test)" 0
}

lvd_stop KILL && vft_ok "libvirtd killed (SIGKILL)" || vft_fail "libvirtd did not die"
outage_check "kill"
vft_libvirtd_start && vft_ok "libvirtd restarted (pid $VFT_LVD_PID)" || vft_fail "libvirtd restart"
recovery_check "kill"

lvd_stop TERM && vft_ok "libvirtd stopped (SIGTERM)" || vft_fail "libvirtd did not stop"
outage_check "term"
vft_libvirtd_start && vft_ok "libvirtd restarted (pid $VFT_LVD_PID)" || vft_fail "libvirtd restart"
recovery_check "term"

# a HUNG libvirtd (SIGSTOP: socket alive, no answers).  libvirt calls cannot
# be cancelled; the backend abandons the call at the request deadline and
# fails further requests at once until it returns.
kill -STOP "$VFT_LVD_PID"
l=$(h status test 3000)
ms=$(field ms "$l")
if [ "$(field rc "$l")" = -110 ] && [ -n "$ms" ] && [ "$ms" -ge 2500 ] && [ "$ms" -lt 4500 ]; then
    vft_ok "hung libvirtd: request returns -ETIMEDOUT at its 3 s deadline ($l)"
else
    vft_fail "hung libvirtd: expected rc=-110 after about 3000 ms, got '$l'"
fi
l=$(h status test 3000)
ms=$(field ms "$l")
if [ "$(field rc "$l")" = "$EHOSTDOWN" ] && [ -n "$ms" ] && [ "$ms" -lt 1000 ]; then
    vft_ok "hung libvirtd: the next request fails at once ($l)"
else
    vft_fail "hung libvirtd: expected a fast rc=$EHOSTDOWN, got '$l'"
fi
expect_line "hung libvirtd: monitor reports the backend broken" "$(h monitor 3000)" "$EHOSTDOWN"
kill -CONT "$VFT_LVD_PID"
recovery_check "stop/cont"

echo quit >&"$HIN"
for i in $(seq 1 50); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$HPID" 2>/dev/null; then
    vft_fail "harness did not exit within 5 s of quit (fini hangs?)"
else
    hrc=0
    wait "$HPID" 2>/dev/null || hrc=$?
    if [ "$hrc" = 0 ] && ! grep -q 'Sanitizer\|runtime error' "$D/harness.log"; then
        vft_ok "harness shut down cleanly (exit 0, no sanitizer report)"
    else
        vft_fail "harness exit status $hrc or sanitizer report in its log"
    fi
fi
if grep -q "connection to .* lost" "$D/harness.log" && grep -q "connected to" "$D/harness.log"; then
    vft_ok "backend logged the loss and the reconnect"
else
    vft_fail "expected loss/reconnect log lines"
fi
[ "$VFT_FAIL" = 0 ] || sed 's/^/    harness: /' "$D/harness.log" | tail -40

# ---- the same through fence_virtd and the reference agent over TCP ----------
if [ ! -x "$VF_DAEMON" ] || [ ! -x "$REF_AGENT" ]; then
    vft_skip_part "fence_virtd or the reference fence_virt missing: daemon part not run"
    vft_finish
fi
PORT=$(vft_free_port)
vft_gen_key "$D/key" 256
cat >"$D/daemon.conf" <<EOF
fence_virtd { listener = "tcp"; backend = "libvirt"; module_path = "$D/no-modules"; }
listeners { tcp { key_file = "$D/key"; address = "127.0.0.1"; port = "$PORT"; } }
backends { libvirt { uri = "$URI"; } }
EOF
"$VF_DAEMON" -F -d 1 -f "$D/daemon.conf" -p "$D/fvd.pid" >"$D/daemon.log" 2>&1 &
DPID=$!
vft_on_exit "vft_kill_pid $DPID"
vft_wait_tcp 127.0.0.1 "$PORT" 10 || vft_fail "fence_virtd does not listen on $PORT"
ref() {  # ACTION: run the reference agent, print "rc ms"
    local t0 t1 rc=0
    t0=$(date +%s%N)
    timeout 30 "$REF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$D/key" -o "$1" -n test -t 10 \
        >>"$D/agent.log" 2>&1 || rc=$?
    t1=$(date +%s%N)
    echo "$rc $(( (t1 - t0) / 1000000 ))"
}
set -- $(ref status)
[ "$1" = 0 ] && vft_ok "daemon: reference fence_virt -T status (rc 0, $2 ms)" ||
    vft_fail "daemon: reference status: rc $1"
lvd_stop KILL || vft_fail "libvirtd did not die"
set -- $(ref status)
if [ "$1" = 1 ] && [ "$2" -lt 5000 ]; then
    vft_ok "daemon: libvirtd down -> status fails quickly (rc 1, $2 ms)"
else
    vft_fail "daemon: libvirtd down: rc $1 after $2 ms (expected 1, fast)"
fi
set -- $(ref off)
[ "$1" = 1 ] && vft_ok "daemon: libvirtd down -> off fails, never a false success" ||
    vft_fail "daemon: off with libvirtd down: rc $1"
vft_libvirtd_start || vft_fail "libvirtd restart"
ok=0
for i in $(seq 1 40); do
    set -- $(ref status)
    [ "$1" = 0 ] && { ok=1; break; }
    sleep 0.5
done
[ "$ok" = 1 ] && vft_ok "daemon: status works again after the restart, daemon not restarted" ||
    vft_fail "daemon: no recovery within 20 s (last rc $1)"
kill -0 "$DPID" 2>/dev/null && vft_ok "daemon still running (pid $DPID)" || vft_fail "daemon died"
[ "$VFT_FAIL" = 0 ] || sed 's/^/    daemon: /' "$D/daemon.log" | tail -30
vft_finish
