#!/bin/bash
# vmfence - bench/lib.sh: what the single-host bench scripts share (sourced
# by run-bench.sh, agent-bench.sh and privsep-bench.sh): the work directory
# and its key, the daemon under measurement stopped by PID on exit, a free
# loopback port.

# bench_work PREFIX: TMP, a fresh directory /tmp/PREFIX.XXXXXX removed on
# exit (after stop_daemon), holding a 4096-byte key $TMP/key; DPID empty
bench_work() {
    TMP=$(mktemp -d "/tmp/$1.XXXXXX")
    DPID=
    trap 'stop_daemon; rm -rf "$TMP"' EXIT
    trap 'exit 1' INT TERM
    head -c 4096 /dev/urandom >"$TMP/key"
    chmod 600 "$TMP/key"
}

# stop_daemon: TERM the daemon DPID, up to BENCH_STOP_TENTHS tenths of a
# second (default 50) for it to exit, then KILL; DPID empty again
stop_daemon() {
    [ -n "$DPID" ] || return 0
    kill -TERM "$DPID" 2>/dev/null
    for _ in $(seq 1 "${BENCH_STOP_TENTHS:-50}"); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    DPID=
}

# free_port: a port below the ephemeral range (loadgen leaves thousands of
# TIME_WAIT sockets there, and the reference daemon binds without SO_REUSEADDR)
. "$(dirname "${BASH_SOURCE[0]}")/../tests/lib/tools.sh"
free_port() { vft_free_port; }
