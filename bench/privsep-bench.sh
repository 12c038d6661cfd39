#!/bin/bash
# vmfence - bench/privsep-bench.sh: the cost of privilege separation's extra
# hop (network process -> executor -> backend and back) per request: status
# requests over the tcp listener on 127.0.0.1, one client and 64 clients
# (each from its own loopback address), against the reference fence_virtd,
# ours with privsep = "yes" (the default) and ours with privsep = "no", on
# the same libvirt test-driver hypervisor.  Rounds alternate the order;
# every figure is the median over the rounds.  Not part of make check.
#
# Usage: bench/privsep-bench.sh [--build DIR] [--rounds R] [--secs S] [--n N]
#   --build   build tree with daemon/fence_virtd and bench/loadgen
#             (default $VF_BENCH_BUILD, else <repo>/_build/normal)
#   --rounds  rounds (default 3)      --secs  seconds per 64-client run (default 3)
#   --n       requests of the one-client latency run (default 2000)
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/lib.sh"
BUILD=${VF_BENCH_BUILD:-$SRC/_build/normal}
ROUNDS=3; SECS=3; N=2000
while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$(cd "$2" && pwd) || exit 2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --secs) SECS=$2; shift ;;
    --n) N=$2; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "privsep-bench.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
REF_DAEMON=/usr/sbin/fence_virtd
REF_MODULES=/usr/lib/x86_64-linux-gnu/fence-virt
OUR_DAEMON=$BUILD/daemon/fence_virtd
LOADGEN=$BUILD/bench/loadgen
die() { echo "privsep-bench.sh: $*" >&2; exit 1; }
[ -x "$OUR_DAEMON" ] || die "no $OUR_DAEMON"
[ -x "$LOADGEN" ] || die "no $LOADGEN (make -C $BUILD/bench loadgen)"
[ "$(id -u)" = 0 ] || die "privilege separation needs root"

BENCH_STOP_TENTHS=100
bench_work vmfence-psbench
printf '<node><domain type="test"><name>dom00001</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain></node>\n' >"$TMP/hv.xml"

# start IMPL: ref | yes | no
start() {
    local impl=$1 bin=$OUR_DAEMON extra=""
    PORT=$((20000 + RANDOM % 12000))
    case "$impl" in
    ref) [ -x "$REF_DAEMON" ] || return 1; bin=$REF_DAEMON; extra="module_path = \"$REF_MODULES\";" ;;
    *) extra="privsep = \"$impl\"; privsep_chroot = \"$TMP/root\";" ;;
    esac
    cat >"$TMP/$impl.conf" <<EOC
fence_virtd { listener = "tcp"; backend = "libvirt"; $extra }
listeners { tcp { address = "127.0.0.1"; port = "$PORT"; key_file = "$TMP/key"; } }
backends { libvirt { uri = "test://$TMP/hv.xml"; } }
EOC
    "$bin" -F -f "$TMP/$impl.conf" -p "$TMP/$impl.pid" >"$TMP/$impl.log" 2>&1 &
    DPID=$!
    for _ in $(seq 1 300); do
        kill -0 "$DPID" 2>/dev/null || { DPID=; tail -3 "$TMP/$impl.log" >&2; return 1; }
        ss -Hltn "sport = :$PORT" | grep -q . && return 0
        sleep 0.1
    done
    stop_daemon; return 1
}
lg() { timeout 120 "$LOADGEN" -a 127.0.0.1 -p "$PORT" -k "$TMP/key" -t 10 -s -o status -n dom00001 "$@" 2>/dev/null | tail -1; }
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "n/a" }'; }

declare -A R
for r in $(seq 1 "$ROUNDS"); do
    order="ref yes no"; [ $((r % 2)) = 0 ] && order="no yes ref"
    for impl in $order; do
        start "$impl" || { echo "[psbench] $impl: did not start" >&2; continue; }
        lg -c 1 -N 200 >/dev/null     # warm up
        one=$(lg -c 1 -N "$N"); many=$(lg -c 64 -d "$SECS")
        echo "[psbench] round $r $impl: 1 client: $one | 64 clients: $many" >&2
        R[$impl.mean1]+=" $(kv mean_ms "$one")"; R[$impl.p50_1]+=" $(kv p50_ms "$one")"
        R[$impl.rps64]+=" $(kv rps "$many")"; R[$impl.p50_64]+=" $(kv p50_ms "$many")"
        R[$impl.p99_64]+=" $(kv p99_ms "$many")"
        stop_daemon
    done
done
printf '| status over tcp, median of %s rounds | reference | privsep = "yes" | privsep = "no" |\n' "$ROUNDS"
printf '|---|---|---|---|\n'
for m in "mean1:1 client, mean ms" "p50_1:1 client, p50 ms" "rps64:64 clients, requests/s" \
         "p50_64:64 clients, p50 ms" "p99_64:64 clients, p99 ms"; do
    k=${m%%:*}
    printf '| %s | %s | %s | %s |\n' "${m#*:}" "$(med <<<"${R[ref.$k]:-}")" \
        "$(med <<<"${R[yes.$k]:-}")" "$(med <<<"${R[no.$k]:-}")"
done
