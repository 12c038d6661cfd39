#!/bin/bash
# vmfence - tests/interop/daemon-notify.sh: fence_virtd's systemd
# notifications (Type=notify) without a running systemd: the test owns the
# NOTIFY_SOCKET (an AF_UNIX datagram socket read by notify-reader.py, which
# also checks that the TCP port answers the moment READY=1 arrives) and
# starts our daemon with it: READY=1 only once the listener is bound and the
# backend answered, STATUS= lines, RELOADING=1 ... READY=1 around SIGHUP
# (also for a reload that fails), STOPPING=1 at SIGTERM, and nothing breaks
# when NOTIFY_SOCKET is unset or names no socket.  Loopback only; the
# hypervisor is the libvirt test driver.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vfd_need python3
READER="$(dirname "$0")/notify-reader.py"

vft_testdriver_xml "$VFT_TMP/node.xml" vm1:running vm2:off vm3:running
VFD_URI="test://$VFT_TMP/node.xml"
KEY="$VFT_TMP/key"; vft_gen_key "$KEY" 512
PORT=$(vfd_free_port) || vft_skip "no free port"
vfd_write_conf "$VFT_TMP/d.conf" "$(vfd_tcp_block "$PORT" "$KEY")"

# reader_start NAME: a NOTIFY_SOCKET at $VFT_TMP/NAME.sock, messages in $NOUT
reader_start() {
    NSOCK="$VFT_TMP/$1.sock"; NOUT="$VFT_TMP/$1.out"
    : >"$NOUT"
    vft_bg RPID python3 "$READER" "$NSOCK" "$NOUT" 120 "127.0.0.1:$PORT"
    for _ in $(seq 1 50); do grep -q LISTENING "$NOUT" && return 0; sleep 0.1; done
    return 1
}
# has PATTERN [SECONDS]: wait until the notifications match (grep -E)
has() {
    local i
    for i in $(seq 1 $((${2:-5} * 10))); do
        grep -Eq -- "$1" "$NOUT" && return 0
        sleep 0.1
    done
    return 1
}
# line_of PATTERN [NTH]: line number of the NTH match (default 1), 0 if none
line_of() { grep -En -- "$1" "$NOUT" | sed -n "${2:-1}p" | cut -d: -f1 | grep . || echo 0; }

# ---- start, ready, status -------------------------------------------------------
reader_start main || { vft_fail "notify reader did not start"; vft_finish; }
NOTIFY_SOCKET="$NSOCK" vfd_start DPID "$VFT_TMP/d.conf" || { vft_fail "daemon start"; vft_finish; }
vft_check "READY=1 sent" has '^[0-9]+ READY=1$'
vft_check "the listener answered the moment READY=1 arrived" has 'PROBE=bound'
vft_check "no READY=1 before the port was bound" \
    test "$(grep -c 'PROBE=refused' "$NOUT")" = 0
vft_check "STATUS= names listener, backend and domain count" \
    has "STATUS=serving tcp; libvirt: 3 domains"
vft_check "MAINPID= is the daemon's pid" has "MAINPID=$DPID\$"
if [ -x "$VF_AGENT" ]; then
    vfd_expect_out "serves requests" 0 "Status: ON" \
        timeout 30 "$VF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" -o status -n vm1
fi

# ---- SIGHUP: RELOADING=1, then READY=1 ------------------------------------------
kill -HUP "$DPID"
vft_check "RELOADING=1 on SIGHUP" has '^[0-9]+ RELOADING=1$'
vft_check "RELOADING=1 carries MONOTONIC_USEC" has 'MONOTONIC_USEC=[0-9]+$'
vft_check "READY=1 again after the reload" has '^[0-9]+ READY=1$' 5
r=$(line_of '^[0-9]+ RELOADING=1$'); s=$(line_of '^[0-9]+ READY=1$' 2)
vft_check "second READY=1 follows RELOADING=1 (lines $r < $s)" test "$r" -gt 0 -a "$s" -gt "$r"

# a reload that fails: READY=1 with the error in STATUS=, still serving
cp "$VFT_TMP/d.conf" "$VFT_TMP/d.conf.good"
echo 'fence_virtd { listener = "tcp"; backend = "nosuchbackend"; }' >"$VFT_TMP/d.conf"
kill -HUP "$DPID"
vft_check "failed reload: RELOADING=1 then READY=1 with the error in STATUS=" \
    has 'STATUS=reload failed: .*has errors.*previous configuration'
r=$(line_of '^[0-9]+ RELOADING=1$' 2); s=$(line_of '^[0-9]+ READY=1$' 3)
vft_check "failed reload: READY=1 follows the second RELOADING=1" test "$r" -gt 0 -a "$s" -gt "$r"
if [ -x "$VF_AGENT" ]; then
    vfd_expect_out "still serves after the failed reload" 0 "Status: ON" \
        timeout 30 "$VF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" -o status -n vm1
fi
cp "$VFT_TMP/d.conf.good" "$VFT_TMP/d.conf"

# ---- SIGTERM: STOPPING=1 -----------------------------------------------------------
vfd_stop "$DPID"
vft_check "STOPPING=1 at SIGTERM" has '^[0-9]+ STOPPING=1$'
vft_check "log says stopped" vfd_log_has "fence_virtd stopped"
vft_kill_pid "$RPID"

# ---- backend down: STATUS says so, no READY=1 yet ------------------------------------
reader_start down || { vft_fail "notify reader did not start"; vft_finish; }
VFD_URI="test://$VFT_TMP/no-such-node.xml"
vfd_write_conf "$VFT_TMP/down.conf" "$(vfd_tcp_block "$PORT" "$KEY")"
VFD_URI="test://$VFT_TMP/node.xml"
if NOTIFY_SOCKET="$NSOCK" vfd_start DPID "$VFT_TMP/down.conf"; then
    vft_check "backend down: STATUS= says unreachable, retrying" \
        has 'STATUS=serving tcp; backend libvirt unreachable.*retrying'
    sleep 2
    vft_check "backend down: no READY=1 within 3 s (waits up to 30 s for the backend)" \
        test "$(grep -c ' READY=1$' "$NOUT")" = 0
    vfd_stop "$DPID"
    vft_check "backend down: STOPPING=1 at SIGTERM" has '^[0-9]+ STOPPING=1$'
else
    vft_fail "daemon with an unreachable backend did not start"
fi
vft_kill_pid "$RPID"

# ---- without NOTIFY_SOCKET, and with one that names nothing: no change -------------
for mode in unset dangling; do
    if [ $mode = unset ]; then
        unset NOTIFY_SOCKET
        vfd_start DPID "$VFT_TMP/d.conf"
    else
        NOTIFY_SOCKET="$VFT_TMP/nobody-listens.sock" vfd_start DPID "$VFT_TMP/d.conf"
    fi || { vft_fail "NOTIFY_SOCKET $mode: daemon start"; continue; }
    vft_ok "NOTIFY_SOCKET $mode: starts"
    if [ -x "$VF_AGENT" ]; then
        vfd_expect_out "NOTIFY_SOCKET $mode: serves" 0 "Status: ON" \
            timeout 30 "$VF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" -o status -n vm3
    fi
    kill -HUP "$DPID"
    vft_check "NOTIFY_SOCKET $mode: reload works" vfd_log_has "reload complete"
    kill -TERM "$DPID"
    rc=0; wait "$DPID" || rc=$?
    vft_check "NOTIFY_SOCKET $mode: clean stop (rc $rc)" test "$rc" = 0
done

vft_finish
