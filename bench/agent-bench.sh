#!/bin/bash
# vmfence - bench/agent-bench.sh: the agent process, ours against the
# reference, in the same run (issue 9 item 4).  What a cluster pays for one
# monitor: fork, exec, dynamic linking, option parsing, key read, NSS, the
# exchange, exit.  See bench/README.md ("The agent process").  Not part of
# make check.
#
# Usage: bench/agent-bench.sh [--rounds R] [--n N] [--build DIR] [--out FILE]
#   --rounds  alternating rounds (the reference first, then ours; the next
#             round ours first), every figure the median over all samples
#             of all rounds (default 3, at least 3 for a claim)
#   --n       samples per case, agent and round (default 40)
#   --build   the build tree to measure (default: $VF_BENCH_BUILD, else
#             <repo>/_build/normal)
#   --out     write the table there too (default: <build>/bench/agent-results.md)
# Cases:
#   status-tcp     fence_virt -T 127.0.0.1 -o status against the reference
#                  fence_virtd (tcp listener, libvirt test driver, sha256
#                  hash and auth, 4 KiB key): both agents talk to the same
#                  daemon, so the difference is the agent's own cost
#   metadata-xvm   fence_xvm -o metadata
#   metadata-virt  fence_virt -o metadata
#   validate-all   fence_xvm -o validate-all -n vm-a -k KEY
# Figures, per case and agent: wall time and CPU time (user + system) of
# the whole process from `perf stat` (one process per sample, median of all
# samples), maximum RSS from GNU time (median).  Ratio = reference / ours
# for time (> 1: ours faster) and ours / reference for RSS (< 1: ours
# smaller).
# Needs: perf, GNU time (/usr/bin/time), readelf (binutils; the DT_NEEDED line),
# the reference packages (fence-virt, fence-virtd), a build tree with
# agents/fence_virt.

set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/lib.sh"
BUILD=${VF_BENCH_BUILD:-${VF_BUILD_ROOT:-$SRC/_build}/normal}
ROUNDS=${BENCH_ROUNDS:-3}
N=${BENCH_N:-40}
OUT=
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) ROUNDS=$2; shift ;;
    --n) N=$2; shift ;;
    --out) OUT=$2; shift ;;
    --build) BUILD=$(cd "$2" && pwd) || exit 2; shift ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "agent-bench.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
OUT=${OUT:-$BUILD/bench/agent-results.md}

REF_DAEMON=/usr/sbin/fence_virtd
REF_MODULES=/usr/lib/x86_64-linux-gnu/fence-virt
REF_VIRT=/usr/sbin/fence_virt
REF_XVM=/usr/sbin/fence_xvm
OUR_VIRT=$BUILD/agents/fence_virt
OUR_XVM=$BUILD/agents/fence_xvm

die() { echo "agent-bench.sh: $*" >&2; exit 1; }
log() { echo "[agent-bench] $*" >&2; }
for f in "$REF_DAEMON" "$REF_VIRT" "$REF_XVM" /usr/bin/time; do
    [ -x "$f" ] || die "$f missing (packages fence-virt, fence-virtd, time)"
done
command -v perf >/dev/null || die "perf missing (package linux-perf)"
[ -x "$OUR_VIRT" ] && [ -e "$OUR_XVM" ] || die "no agents/fence_virt in $BUILD (build it first)"
case "$ROUNDS" in ''|*[!0-9]*|0) die "--rounds wants a positive number" ;; esac
case "$N" in ''|*[!0-9]*|0) die "--n wants a positive number" ;; esac

bench_work vmfence-agent-bench
cat >"$TMP/node.xml" <<'EOF'
<node>
  <domain type="test">
    <name>vm-a</name><uuid>5ca1ab1e-0000-4000-8000-000000000001</uuid>
    <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>
  </domain>
</node>
EOF

# the reference daemon: tcp listener on a free loopback port
PORT=$(free_port) || die "no free TCP port on loopback"
vft_fvd_conf "$TMP/fvd.conf" tcp "$REF_MODULES" "test://$TMP/node.xml" key_file="$TMP/key" \
    address=127.0.0.1 family=ipv4 port="$PORT" hash=sha256 auth=sha256
"$REF_DAEMON" -F -f "$TMP/fvd.conf" -p "$TMP/fvd.pid" >"$TMP/fvd.log" 2>&1 &
DPID=$!
for _ in $(seq 1 100); do
    ss -Hltn "sport = :$PORT" | grep -q . && break
    kill -0 "$DPID" 2>/dev/null || die "the reference daemon exited: $(tail -3 "$TMP/fvd.log")"
    sleep 0.1
done
ss -Hltn "sport = :$PORT" | grep -q . || die "the reference daemon does not listen on $PORT"

CASES="status-tcp metadata-xvm metadata-virt validate-all"
# case_cmd CASE WHO: the command line of one sample
case_cmd() {
    local virt xvm
    if [ "$2" = ref ]; then virt=$REF_VIRT xvm=$REF_XVM; else virt=$OUR_VIRT xvm=$OUR_XVM; fi
    case "$1" in
    status-tcp) echo "$virt -T 127.0.0.1 -p $PORT -k $TMP/key -c sha256 -C sha256 -t 10 -n vm-a -o status" ;;
    metadata-xvm) echo "$xvm -o metadata" ;;
    metadata-virt) echo "$virt -o metadata" ;;
    validate-all) echo "$xvm -o validate-all -n vm-a -k $TMP/key" ;;
    esac
}
# the exit code each case must give (a failing sample is not a measurement)
case_rc() { case "$1" in validate-all|metadata-*|status-tcp) echo 0 ;; esac; }

# sample CASE WHO: one process under perf stat, one under GNU time;
# appends "wall_us cpu_us" to TMP/CASE.WHO.t and "maxrss_kb" to .m
sample() {
    local c=$1 w=$2 cmd rc out
    cmd=$(case_cmd "$c" "$w")
    rc=0
    # shellcheck disable=SC2086
    out=$(perf stat -x, -e task-clock,duration_time -- $cmd 2>&1 >/dev/null) || rc=$?
    if [ "$rc" != "$(case_rc "$c")" ]; then
        log "$c ($w) exited $rc: $(echo "$out" | grep -v ',' | head -2)"
        echo fail >>"$TMP/$c.$w.t"
        return
    fi
    echo "$out" | awk -F, '
        $3 == "task-clock" { cpu = $1 * 1000 }
        $3 == "duration_time" { wall = $1 / 1000 }
        END { printf "%.0f %.0f\n", wall, cpu }' >>"$TMP/$c.$w.t"
    # shellcheck disable=SC2086
    /usr/bin/time -f '%M' -o "$TMP/rss" $cmd >/dev/null 2>&1
    tail -1 "$TMP/rss" >>"$TMP/$c.$w.m"
}

# median FILE COLUMN: median of a column (a "fail" line counts as the worst)
median() {
    awk -v col="$2" '$1 == "fail" { v[NR] = 1e12; next } { v[NR] = $col }
        END { n = asort(v); if (n == 0) { print "n/a"; exit }
              if (n % 2) print v[(n + 1) / 2]; else print (v[n / 2] + v[n / 2 + 1]) / 2 }' "$1"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "reference daemon on 127.0.0.1:$PORT; $ROUNDS round(s) of $N samples per case and agent"
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="ref ours"; else order="ours ref"; fi
    for c in $CASES; do
        for w in $order; do
            for _ in $(seq 1 "$N"); do sample "$c" "$w"; done
        done
    done
    log "round $r done ($order)"
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# opened_by CMD...: the libraries one run loads (LD_DEBUG=files), needed
# or dlopen()ed (libxml2 for the metadata of an agent that writes it then)
opened_by() {
    rm -f "$TMP"/ld.*
    LD_DEBUG=files LD_DEBUG_OUTPUT="$TMP/ld" "$@" >/dev/null 2>&1
    cat "$TMP"/ld.* 2>/dev/null |
        sed -n 's/.*file=\([^ ]*\) *\[0\]; *\(needed\|dynamically loaded\) by.*/\1/p' |
        sort -u | tr '\n' ' '
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b == 0) print "n/a"; else printf "%.2fx", a / b }'; }
ms() { awk -v v="$1" 'BEGIN { if (v == "n/a") print v; else printf "%.2f", v / 1000 }'; }
mb() { awk -v v="$1" 'BEGIN { if (v == "n/a") print v; else printf "%.1f", v / 1024 }'; }
{
    echo "agent process, median of $((ROUNDS * N)) samples per cell ($ROUNDS alternating rounds); $(nproc) CPUs"
    echo "load average at start $LOAD0, at end $LOAD1; $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "DT_NEEDED of ours: $(LC_ALL=C readelf -d "$OUR_VIRT" 2>/dev/null |
        sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | tr '\n' ' ')"
    echo "DT_NEEDED of the reference: $(LC_ALL=C readelf -d "$REF_VIRT" 2>/dev/null |
        sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | tr '\n' ' ')"
    echo "opened by fence_xvm -o metadata, ours: $(opened_by "$OUR_XVM" -o metadata)"
    echo "opened by fence_xvm -o metadata, reference: $(opened_by "$REF_XVM" -o metadata)"
    echo
    echo "| case | wall ms ref | wall ms ours | ratio | CPU ms ref | CPU ms ours | ratio | max RSS MB ref | ours | ours/ref |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for c in $CASES; do
        rw=$(median "$TMP/$c.ref.t" 1); ow=$(median "$TMP/$c.ours.t" 1)
        rc=$(median "$TMP/$c.ref.t" 2); oc=$(median "$TMP/$c.ours.t" 2)
        rm_=$(median "$TMP/$c.ref.m" 1); om=$(median "$TMP/$c.ours.m" 1)
        echo "| $c | $(ms "$rw") | $(ms "$ow") | $(ratio "$rw" "$ow") | $(ms "$rc") | $(ms "$oc") | $(ratio "$rc" "$oc") | $(mb "$rm_") | $(mb "$om") | $(ratio "$om" "$rm_") |"
    done
    echo
    echo "time ratios: reference / ours (above 1.00x: ours is faster); RSS: ours / reference (below 1.00x: ours is smaller)"
} | tee "$TMP/table"
mkdir -p "$(dirname "$OUT")" 2>/dev/null && cp "$TMP/table" "$OUT" && log "table written to $OUT"
exit 0
