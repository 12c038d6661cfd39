#!/bin/bash
# vmfence - bench/xenapi-bench.sh: whole-process wall and CPU time of
# `fence_xenapi -o status` (and -o list), vmfence's C agent against Debian's
# reference agent (fence-agents, Python), in the same run, against the same
# fake XAPI pool on 127.0.0.1.
#
# The hypervisor is FAKED (tests/xenapi/fake-xapi.py): no XenServer can run
# here.  Both agents talk to the same fake instance over plain http, so the
# server's share is the same for both; what differs is the agent process:
# start-up (interpreter or dynamic linking), option parsing, the XML-RPC
# calls, and exit.  Rounds alternate between the two agents so that drift of
# the machine's load hits both alike.  Not part of make check; not a test:
# it prints figures, it asserts nothing.
#
# Usage: bench/xenapi-bench.sh [--build DIR] [--rounds N]
#   --build   the build tree holding agents/fence_xenapi (default:
#             $VF_BENCH_BUILD, else $VF_BUILD_ROOT/normal, else _build/normal)
#   --rounds  alternating rounds per action (default 20)
# Needs: /usr/sbin/fence_xenapi (Debian package fence-agents), python3.

set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VF_BENCH_BUILD:-${VF_BUILD_ROOT:-$SRC/_build}/normal}
ROUNDS=20
while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "xenapi-bench: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
case "$ROUNDS" in ''|*[!0-9]*) echo "xenapi-bench: --rounds needs a number" >&2; exit 2 ;; esac
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 1000 ] || { echo "xenapi-bench: --rounds 1-1000" >&2; exit 2; }

OURS=$BUILD/agents/fence_xenapi
REF=/usr/sbin/fence_xenapi
FAKE=$SRC/tests/xenapi/fake-xapi.py
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
for f in "$OURS" "$REF"; do
    [ -x "$f" ] || { echo "xenapi-bench: $f not found (build the tree / install fence-agents)" >&2; exit 2; }
done

TMP=$(mktemp -d /tmp/vf-xbench.XXXXXX)
FPID=
cleanup() {
    [ -n "$FPID" ] && kill "$FPID" 2>/dev/null && wait "$FPID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

PASS=bench-pw
echo '{}' >"$TMP/ctl"
"$PY" "$FAKE" serve --bind 127.0.0.1 --port-file "$TMP/port" --state "$TMP/state" \
    --control "$TMP/ctl" --log "$TMP/log" --username root --password "$PASS" \
    --lifetime 900 </dev/null >>"$TMP/log" 2>&1 &
FPID=$!
for _ in $(seq 1 100); do
    [ -s "$TMP/port" ] && break
    sleep 0.05
done
[ -s "$TMP/port" ] || { echo "xenapi-bench: the fake XAPI did not start" >&2; tail -5 "$TMP/log" >&2; exit 1; }
URL="http://127.0.0.1:$(cat "$TMP/port")"

# The measurement: python3 runs the agents (alternating, ROUNDS each per
# action) and takes each process's wall time (monotonic clock around
# spawn..exit) and CPU time (user + system from wait4's rusage: microseconds,
# where GNU time rounds to 10 ms).  A run that fails (exit not 0, or not 0/2
# for status) is left out and counted.
"$PY" - "$ROUNDS" "$URL" "$PASS" "$REF" "$OURS" <<'PYEOF'
import os, statistics, subprocess, sys, time
rounds, url, pw, ref, ours = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]

def one(agent, action):
    argv = [agent, "-s", url, "-l", "root", "-p", pw, "-n", "vm1", "-o", action]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    ok = p.returncode == 0 or (action == "status" and p.returncode == 2)
    return (wall, ru.ru_utime + ru.ru_stime) if ok else None

print("| action | reference wall ms | vmfence wall ms | wall ratio | reference CPU ms | vmfence CPU ms | CPU ratio |")
print("|---|---|---|---|---|---|---|")
for action in ("status", "list"):
    res = {"ref": [], "ours": []}
    fails = 0
    for _ in range(rounds):
        for who, agent in (("ref", ref), ("ours", ours)):
            r = one(agent, action)
            if r is None:
                fails += 1
            else:
                res[who].append(r)
    def med(who, i):
        v = [x[i] * 1000.0 for x in res[who]]
        return statistics.median(v) if v else float("nan")
    rw, ow, rc, oc = med("ref", 0), med("ours", 0), med("ref", 1), med("ours", 1)
    ratio = lambda a, b: "%.1fx" % (a / b) if b > 0 else "n/a"
    print("| %s | %.1f | %.1f | %s | %.1f | %.1f | %s |" % (action, rw, ow, ratio(rw, ow), rc, oc, ratio(rc, oc)))
    if fails:
        print("(%s: %d failed runs left out)" % (action, fails))
PYEOF
echo "medians of $ROUNDS alternating rounds; ratio = reference / vmfence (higher is better for vmfence)"
