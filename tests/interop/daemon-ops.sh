#!/bin/bash
# vmfence - tests/interop/daemon-ops.sh: fence_virtd operations: pid file
# conflicts (D22), stale pid files, --check-config, daemon mode with its
# readiness report, SIGHUP reload (key, groups, invalid config kept out),
# SIGTERM.  Client: the REFERENCE fence_virt -T on loopback; hypervisor: the
# libvirt test driver.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vfd_need "$REF_AGENT"

vft_testdriver_xml "$VFT_TMP/node.xml" vm1:running
VFD_URI="test://$VFT_TMP/node.xml"
KEY1="$VFT_TMP/key1"; vft_gen_key "$KEY1" 128
KEY2="$VFT_TMP/key2"; vft_gen_key "$KEY2" 128
PORT=$(vfd_free_port) || vft_skip "no free port"
PORT2=$(vfd_free_port) || vft_skip "no free port"
CONF="$VFT_TMP/o.conf"
st() { timeout 30 "$REF_AGENT" -T 127.0.0.1 -p "$1" -k "$2" -o status -n vm1; }

# ---- --check-config ----------------------------------------------------------------
vfd_write_conf "$CONF" "$(vfd_tcp_block "$PORT" "$KEY1")"
vfd_expect_out "--check-config on a good file" 0 "configuration OK" \
    "$VF_DAEMON" --check-config -f "$CONF"
vfd_write_conf "$VFT_TMP/nokey.conf" "$(vfd_tcp_block "$PORT" "$VFT_TMP/absent.key")"
vft_expect_rc "--check-config: missing key file" 1 "$VF_DAEMON" --check-config -f "$VFT_TMP/nokey.conf"
grep -q "absent.key" "$VFT_ERR" && vft_ok "names the key file" || vft_fail "names the key file"
printf 'fence_virtd {\n\tlistener = "tcp"\n}\n' >"$VFT_TMP/syntax.conf"
vft_expect_rc "--check-config: syntax error" 1 "$VF_DAEMON" --check-config -f "$VFT_TMP/syntax.conf"
grep -q "syntax.conf:[23]" "$VFT_ERR" && vft_ok "syntax error names file:line" || \
    { vft_fail "syntax error names file:line"; cat "$VFT_ERR"; }
vfd_write_conf "$VFT_TMP/unk.conf" "$(vfd_tcp_block "$PORT" "$KEY1")"
sed -i 's/listener = "tcp"/listener = "tcp,bogus"/' "$VFT_TMP/unk.conf"
vft_expect_rc "--check-config: unknown listener in a list" 1 "$VF_DAEMON" --check-config -f "$VFT_TMP/unk.conf"
vfd_expect_out "-l lists plugins with versions (D2)" 0 "tcp .*[0-9]" "$VF_DAEMON" -l -f "$CONF"

# ---- pid file: live instance => clear error; stale file => replaced ---------------------
PIDF="$VFT_TMP/run.pid"
VFD_LOG="$VFT_TMP/a.log"
"$VF_DAEMON" -F -d 1 -f "$CONF" -p "$PIDF" >"$VFD_LOG" 2>&1 &
APID=$!; vft_on_exit "vft_kill_pid $APID"
vfd_log_has " started (pid" 10 || vft_fail "first instance did not start"
vfd_write_conf "$VFT_TMP/o2.conf" "$(vfd_tcp_block "$PORT2" "$KEY1")"
vft_expect_rc "second instance on the same pid file refused" 1 \
    timeout 10 "$VF_DAEMON" -F -f "$VFT_TMP/o2.conf" -p "$PIDF"
grep -q "already running as pid $APID" "$VFT_ERR" && grep -q "run.pid" "$VFT_ERR" && \
    vft_ok "error names the pid and the file" || { vft_fail "pid conflict message"; cat "$VFT_ERR"; }
[ "$(cat "$PIDF")" = "$APID" ] && vft_ok "pid file holds the pid" || vft_fail "pid file content"

# ---- SIGHUP: new key for new requests ----------------------------------------------------
vfd_expect_out "key1 works" 0 "Status: ON" st "$PORT" "$KEY1"
vfd_write_conf "$CONF" "$(vfd_tcp_block "$PORT" "$KEY2")"
kill -HUP "$APID"
vft_check "reload logged" vfd_log_has "reload complete" 10
vfd_expect_out "after SIGHUP: old key refused" 1 "" st "$PORT" "$KEY1"
vfd_expect_out "after SIGHUP: new key works" 0 "Status: ON" st "$PORT" "$KEY2"
# a reload that does not touch the listener keeps it running (no gap for clients)
kill -HUP "$APID"
vft_check "unchanged listener kept running" vfd_log_has "listener 'tcp' unchanged, kept running" 10
vfd_expect_out "after an idle SIGHUP: still served" 0 "Status: ON" st "$PORT" "$KEY2"
# an invalid file is not applied
printf 'fence_virtd { listener = "tcp"; \n' >"$CONF"
kill -HUP "$APID"
vft_check "invalid reload logged" vfd_log_has "keeping the running configuration" 10
vfd_expect_out "after a bad SIGHUP: previous config still serves" 0 "Status: ON" st "$PORT" "$KEY2"
# groups are reloaded too
vfd_write_conf "$CONF" "$(vfd_tcp_block "$PORT" "$KEY2")" 'groups { group { ip = "127.0.0.2"; uuid = "vm1"; } }'
kill -HUP "$APID"
sleep 0.2
for i in $(seq 1 50); do [ "$(grep -c 'reload complete' "$VFD_LOG")" -ge 3 ] && break; sleep 0.1; done
vfd_expect_out "after SIGHUP with groups: denied" 3 "" st "$PORT" "$KEY2"

# ---- SIGTERM: the request in flight is finished first ---------------------------------------
vfd_write_conf "$CONF" "$(vfd_tcp_block "$PORT" "$KEY2")"
kill -HUP "$APID"
for i in $(seq 1 50); do [ "$(grep -c 'reload complete' "$VFD_LOG")" -ge 4 ] && break; sleep 0.1; done
if command -v python3 >/dev/null; then
    python3 "$VFT_SRC/tests/interop/daemon-hostile.py" "$PORT" "$KEY2" slowauth vm1 \
        >"$VFT_TMP/slow.out" 2>&1 &
    SPID=$!
    sleep 0.7
    kill -TERM "$APID"
    wait "$SPID"
    grep -q "in-flight=0" "$VFT_TMP/slow.out" && vft_ok "in-flight request answered during shutdown" || \
        { vft_fail "in-flight request: $(cat "$VFT_TMP/slow.out")"; }
else
    vft_skip_part "python3 missing: in-flight request during SIGTERM not checked"
    kill -TERM "$APID"
fi
rc=0; for i in $(seq 1 100); do kill -0 "$APID" 2>/dev/null || break; sleep 0.1; done
wait "$APID" || rc=$?
[ "$rc" = 0 ] && vft_ok "SIGTERM: exit 0" || vft_fail "SIGTERM: exit $rc"
[ ! -e "$PIDF" ] && vft_ok "pid file removed" || vft_fail "pid file left behind"
vft_check "stop logged" grep -q "fence_virtd stopped" "$VFD_LOG"

# stale pid file (no lock held) is replaced
echo 999999 >"$PIDF"
vfd_write_conf "$CONF" "$(vfd_tcp_block "$PORT" "$KEY1")"
VFD_LOG="$VFT_TMP/b.log"
"$VF_DAEMON" -F -d 1 -f "$CONF" -p "$PIDF" >"$VFD_LOG" 2>&1 &
BPID=$!; vft_on_exit "vft_kill_pid $BPID"
vft_check "stale pid file: starts" vfd_log_has " started (pid" 10
[ "$(cat "$PIDF" 2>/dev/null)" = "$BPID" ] && vft_ok "stale pid file replaced" || vft_fail "stale pid file"
vfd_stop "$BPID"

# ---- a reload that leaves no listener stops gracefully (R2 review) --------------------------
# The new configuration names only a vsock listener whose port another
# process holds, so nothing is listening afterwards.  The daemon used to
# exit() after a 2 s drain, cutting off the request in flight (its client
# pauses 4 s in the challenge) and running exit handlers under the worker
# threads; it must drain like a SIGTERM, then exit 1.
if command -v python3 >/dev/null && python3 -c 'import socket; socket.AF_VSOCK' 2>/dev/null; then
    VPORT=$((20000 + RANDOM % 20000))
    python3 -c 'import socket,sys,time
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.bind((0xFFFFFFFF, int(sys.argv[1]))); s.listen(1); print("held", flush=True); time.sleep(15)' \
        "$VPORT" >"$VFT_TMP/vhold.out" 2>&1 &
    VHPID=$!; vft_on_exit "vft_kill_pid $VHPID"
    for i in $(seq 1 30); do grep -q held "$VFT_TMP/vhold.out" && break; sleep 0.1; done
    if grep -q held "$VFT_TMP/vhold.out"; then
        CCONF="$VFT_TMP/c.conf"
        vfd_write_conf "$CCONF" "$(vfd_tcp_block "$PORT" "$KEY1")"
        VFD_LOG="$VFT_TMP/c.log"
        "$VF_DAEMON" -F -d 1 -f "$CCONF" -p "$VFT_TMP/c.pid" >"$VFD_LOG" 2>&1 &
        CPID=$!; vft_on_exit "vft_kill_pid $CPID"
        vfd_log_has " started (pid" 10 || vft_fail "reload-stop: daemon start"
        python3 "$VFT_SRC/tests/interop/daemon-hostile.py" "$PORT" "$KEY1" slowauth vm1 4 \
            >"$VFT_TMP/slow2.out" 2>&1 &
        SPID=$!
        sleep 0.5
        VFD_LISTENER=vsock vfd_write_conf "$CCONF" "$(printf '\tvsock {\n\t\tport = "%s";\n\t\tkey_file = "%s";\n\t}\n' "$VPORT" "$KEY1")"
        kill -HUP "$CPID"
        wait "$SPID"
        grep -q "in-flight=0" "$VFT_TMP/slow2.out" && \
            vft_ok "reload leaving no listener: in-flight request still answered" || \
            vft_fail "reload leaving no listener: in-flight request: $(cat "$VFT_TMP/slow2.out")"
        rc=0; for i in $(seq 1 100); do kill -0 "$CPID" 2>/dev/null || break; sleep 0.1; done
        wait "$CPID" || rc=$?
        [ "$rc" = 1 ] && vft_ok "reload leaving no listener: exit 1" || vft_fail "reload leaving no listener: exit $rc"
        vft_check "reload leaving no listener: logged" grep -q "no listener is running" "$VFD_LOG"
        [ ! -e "$VFT_TMP/c.pid" ] && vft_ok "reload leaving no listener: pid file removed" || \
            vft_fail "reload leaving no listener: pid file left behind"
    else
        vft_skip_part "cannot hold a vsock port: reload-leaving-no-listener case not run"
    fi
    vft_kill_pid "$VHPID"
else
    vft_skip_part "python3 without AF_VSOCK: reload-leaving-no-listener case not run"
fi

# ---- daemon mode: readiness, then detached ---------------------------------------------------
PIDD="$VFT_TMP/daemon.pid"
vft_expect_rc "daemon mode: parent exits 0 once serving" 0 timeout 20 "$VF_DAEMON" -f "$CONF" -p "$PIDD"
DPID=$(cat "$PIDD" 2>/dev/null)
if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
    vft_on_exit "vft_kill_pid $DPID"
    vft_ok "daemon running as $DPID"
    vfd_expect_out "daemon mode serves" 0 "Status: ON" st "$PORT" "$KEY1"
    # a second daemon on the same port fails visibly with exit 1
    vft_expect_rc "daemon mode: start error reported" 1 timeout 20 "$VF_DAEMON" -f "$CONF" -p "$VFT_TMP/other.pid"
    grep -q "cannot bind" "$VFT_ERR" && vft_ok "start error visible on stderr" || \
        { vft_fail "start error visible"; cat "$VFT_ERR"; }
    kill -TERM "$DPID"
    for i in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$DPID" 2>/dev/null && vft_fail "daemon did not stop" || vft_ok "daemon stopped on SIGTERM"
else
    vft_fail "daemon mode: no running daemon"
fi
vft_finish
