#!/bin/bash
# vmfence - bench/run-bench.sh: the reference fence_virtd and vmfence's
# fence_virtd side by side, on the same libvirt test-driver hypervisor, with
# the same clients, over the tcp listener on 127.0.0.1 (different ports).
# See bench/README.md for what each number means.  Not part of make check.
#
# Usage: bench/run-bench.sh [--quick] [--rounds R] [--build DIR] [--out FILE]
#   --quick   fewer samples and shorter runs, one round (about 2 minutes)
#   --rounds  alternating rounds (reference, vmfence, ceiling; the next round
#             vmfence first), every figure the median over them (default 3)
#   --build   the build tree to measure (default: $VF_BENCH_BUILD, else <root>/normal)
#   --out     write the results table there too (default: <build>/bench/results.md)
# Environment:
#   VF_BENCH_BUILD the build tree (same as --build)
#   VF_BUILD_ROOT  build trees (default <repo>/_build); uses <root>/normal
#   BENCH_N        samples for latency medians (default 30)
#   BENCH_SECS     seconds per throughput run (default 3)
#   BENCH_CPU_N    status requests per CPU-per-request figure (default 10000: the
#                  kernel counts CPU time in 10 ms ticks, 2000 requests moved in 5 us steps)
#   BENCH_SIZES    hypervisor sizes for list latency (default "10 1000 10000")
#   BENCH_ROUNDS   rounds (same as --rounds)
#   BENCH_OURS_CONF  extra statements for vmfence's fence_virtd { } block
#                  (e.g. 'privsep = "no";' to measure without privilege separation)
# Needs: the reference packages (fence-virtd, fence-virt), a build tree with
# bench/loadgen and bench/responder (make -C <build>/bench).  Without our daemon built,
# its column shows n/a.

set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/lib.sh"
BUILD=${VF_BENCH_BUILD:-${VF_BUILD_ROOT:-$SRC/_build}/normal}
N=${BENCH_N:-30}
SECS=${BENCH_SECS:-3}
CPU_N=${BENCH_CPU_N:-10000}
SIZES=${BENCH_SIZES:-10 1000 10000}
ROUNDS=${BENCH_ROUNDS:-3}
OUT=
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) N=${BENCH_N:-10}; SECS=${BENCH_SECS:-1}; CPU_N=${BENCH_CPU_N:-2000}; SIZES=${BENCH_SIZES:-10 1000}; ROUNDS=${BENCH_ROUNDS:-1} ;;
    --rounds) ROUNDS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --build) BUILD=$(cd "$2" && pwd) || exit 2; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "run-bench.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
OUT=${OUT:-$BUILD/bench/results.md}

REF_DAEMON=/usr/sbin/fence_virtd
REF_MODULES=/usr/lib/x86_64-linux-gnu/fence-virt
AGENT=/usr/sbin/fence_virt
OUR_DAEMON=$BUILD/daemon/fence_virtd
LOADGEN=$BUILD/bench/loadgen
RESPONDER=$BUILD/bench/responder

die() { echo "run-bench.sh: $*" >&2; exit 1; }
log() { echo "[bench] $*" >&2; }
[ -x "$REF_DAEMON" ] || die "reference daemon $REF_DAEMON missing (package fence-virtd)"
[ -x "$AGENT" ] || die "reference agent $AGENT missing (package fence-virt)"
if [ ! -x "$LOADGEN" ] || [ ! -x "$RESPONDER" ]; then
    [ -f "$BUILD/Makefile" ] || die "no build tree in $BUILD (run scripts/run-tests.sh --quick or configure there)"
    make -C "$BUILD/lib" >/dev/null && make -C "$BUILD/bench" loadgen responder >/dev/null ||
        die "cannot build bench/loadgen and bench/responder"
fi
case "$ROUNDS" in ''|*[!0-9]*|0) die "--rounds wants a positive number" ;; esac

bench_work vmfence-bench

# hv_xml N: a test-driver hypervisor with domains dom00001..domN (all running)
hv_xml() {
    local n=$1 f="$TMP/hv-$1.xml"
    [ -f "$f" ] && { echo "$f"; return; }
    awk -v n="$n" 'BEGIN {
        print "<node>"
        for (i = 1; i <= n; i++) {
            printf "<domain type=\"test\"><name>dom%05d</name><uuid>0be1c4a1-0000-4000-8000-%012d</uuid>", i, i
            print "<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
        }
        print "</node>"
    }' >"$f"
    echo "$f"
}

# start_daemon IMPL HVFILE: start the daemon, set PORT and DPID; 1 on failure
start_daemon() {
    local impl=$1 hv=$2 bin modline=""
    PORT=$(free_port) || return 1
    if [ "$impl" = ref ]; then
        bin=$REF_DAEMON
        modline="module_path = \"$REF_MODULES\";"
    else
        bin=$OUR_DAEMON
        modline=${BENCH_OURS_CONF:-}
    fi
    cat >"$TMP/$impl.conf" <<EOF
fence_virtd { listener = "tcp"; backend = "libvirt"; $modline }
listeners { tcp { address = "127.0.0.1"; port = "$PORT"; key_file = "$TMP/key"; } }
backends { libvirt { uri = "test://$hv"; } }
EOF
    chmod 600 "$TMP/$impl.conf"
    stdbuf -oL -eL "$bin" -F -f "$TMP/$impl.conf" -p "$TMP/$impl.pid" >"$TMP/$impl.log" 2>&1 &
    DPID=$!
    # listening, and connected to the hypervisor: the reference connects
    # before it listens; vmfence listens after 2 s at most and connects in the
    # background (a 10,000-domain test driver file can take longer to load on
    # a busy machine), so wait for its "connected" line too
    for _ in $(seq 1 600); do
        kill -0 "$DPID" 2>/dev/null || { DPID=; tail -5 "$TMP/$impl.log" >&2; return 1; }
        if ss -Hltn "sport = :$PORT" | grep -q . &&
            { [ "$impl" = ref ] || grep -q "libvirt: connected to" "$TMP/$impl.log"; }; then
            return 0
        fi
        sleep 0.1
    done
    stop_daemon
    return 1
}

# agent_median COUNT ARGS...: median wall time (ms) of the reference agent
agent_median() {
    local count=$1 i t0 t1; shift
    for i in $(seq 1 "$count"); do
        t0=$(date +%s%N)
        timeout 60 "$AGENT" -T 127.0.0.1 -p "$PORT" -k "$TMP/key" "$@" >/dev/null 2>&1 || { echo fail; return; }
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | sort -n | awk '/fail/ { f = 1 } { v[NR] = $1 } END {
        if (f || NR == 0) print "fail"; else printf "%.2f\n", v[int((NR + 1) / 2)] / 1000 }'
}

# lg ARGS...: run loadgen against the current daemon, print its key=value line.
# -s: every client is a guest of its own (source 127.0.0.2, .3, ...), as on a
# real host; vmfence limits what one requester may have in flight, so 64
# clients from one address would measure that limit, not the daemon.
lg() {
    timeout 120 "$LOADGEN" -a 127.0.0.1 -p "$PORT" -k "$TMP/key" -t 10 -s "$@" 2>/dev/null | tail -1
}
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# the daemon's processes: PID and its children (with privilege separation
# fence_virtd is two processes; both count)
daemon_pids() { echo "$1"; pgrep -P "$1" 2>/dev/null; }
cpu_ticks() {
    local p
    for p in $(daemon_pids "$1"); do cat "/proc/$p/stat" 2>/dev/null; done |
        awk '{ t += $14 + $15 } END { if (NR) print t }'
}
rss_kb() {
    local p
    for p in $(daemon_pids "$1"); do cat "/proc/$p/status" 2>/dev/null; done |
        awk '/^VmRSS:/ { t += $2; n++ } END { if (n) print t }'
}
# pss_kb PID: the summed proportional set size (Pss: each page shared by
# several processes counted once in all, split between them), which, unlike
# the summed VmRSS, does not count twice what the two processes share
pss_kb() {
    local p f
    for p in $(daemon_pids "$1"); do
        f=/proc/$p/smaps_rollup
        [ -r "$f" ] || f=/proc/$p/smaps
        cat "$f" 2>/dev/null
    done | awk '/^Pss:/ { t += $2; n++ } END { if (n) print t }'
}

# cpu_per_request C: the daemon's CPU time (utime+stime) per status request
# over CPU_N requests from C clients, in microseconds
cpu_per_request() {
    local t0 t1 line
    t0=$(cpu_ticks "$DPID")
    line=$(lg -o status -n dom00001 -c "$1" -N "$CPU_N")
    t1=$(cpu_ticks "$DPID")
    [ -n "$t0" ] && [ -n "$t1" ] || { echo n/a; return; }
    # clock ticks -> microseconds per request
    awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$(kv ok "$line")" \
        'BEGIN { if (n > 0) printf "%.1f", d * 1e6 / hz / n; else print "n/a" }'
}

declare -A R    # this round: R[IMPL.metric]
declare -A RR   # every round: RR[IMPL.metric#ROUND]
# bench_impl IMPL: every measurement for one daemon, into R[IMPL.metric]
bench_impl() {
    local impl=$1 size hv line c t0 t1 n
    for size in $SIZES; do
        hv=$(hv_xml "$size")
        if ! start_daemon "$impl" "$hv"; then
            log "$impl: daemon did not start with $size domains"
            continue
        fi
        log "$impl: $size domains, port $PORT, pid $DPID"
        n=$N
        [ "$size" -ge 1000 ] && n=$(( N / 3 > 3 ? N / 3 : 3 ))
        [ "$size" -ge 10000 ] && n=3
        R[$impl.list_$size]=$(agent_median "$n" -o list)
        line=$(lg -o list -N "$n")
        R[$impl.listp_$size]=$(kv p50_ms "$line")
        if [ "$size" = "$(echo $SIZES | cut -d' ' -f1)" ]; then
            R[$impl.status_agent]=$(agent_median "$N" -o status -n dom00001)
            line=$(lg -o status -n dom00001 -N $((N * 10)))
            R[$impl.status_proto]=$(kv p50_ms "$line")
            for c in 1 4 16 64; do
                line=$(lg -o status -n dom00001 -c "$c" -d "$SECS")
                log "$impl: $c clients: $line"
                R[$impl.rps_$c]=$(kv rps "$line")
                R[$impl.p50_$c]=$(kv p50_ms "$line")
                R[$impl.p99_$c]=$(kv p99_ms "$line")
                R[$impl.p99all_$c]=$(kv p99all_ms "$line")
                R[$impl.err_$c]=$(kv err "$line")
            done
            # 64 clients sending at the same moment, burst after burst
            line=$(lg -o status -n dom00001 -c 64 -S -d "$SECS")
            log "$impl: 64 clients in bursts: $line"
            R[$impl.rps_b64]=$(kv rps "$line")
            R[$impl.p50_b64]=$(kv p50_ms "$line")
            R[$impl.p99_b64]=$(kv p99_ms "$line")
            R[$impl.p99all_b64]=$(kv p99all_ms "$line")
            R[$impl.err_b64]=$(kv err "$line")
            line=$(lg -o status -n dom00001 -N 5 -i 5)
            R[$impl.idle5]=$(kv p50_ms "$line")
            line=$(lg -o status -n dom00001 -N 10 -b dom00002)
            R[$impl.reboot_p50]=$(kv p50_ms "$line")
            R[$impl.reboot_max]=$(kv max_ms "$line")
            R[$impl.cpu_us]=$(cpu_per_request 4)
            R[$impl.cpu1_us]=$(cpu_per_request 1)
            R[$impl.rss_kb]=$(rss_kb "$DPID")
            R[$impl.pss_kb]=$(pss_kb "$DPID")
        fi
        if [ "$size" = "$(echo $SIZES | awk '{ print $NF }')" ]; then
            R[$impl.rss_kb_big]=$(rss_kb "$DPID")
            R[$impl.pss_kb_big]=$(pss_kb "$DPID")
        fi
        stop_daemon
    done
}

# bench_ceiling: the do-nothing responder (bench/responder.c: the protocol's
# hashing and nothing else) under the same clients, into R[ceil.metric]
bench_ceiling() {
    local c line
    PORT=$(free_port) || return
    "$RESPONDER" -a 127.0.0.1 -p "$PORT" -k "$TMP/key" >"$TMP/responder.log" 2>&1 &
    DPID=$!
    for _ in $(seq 1 50); do ss -Hltn "sport = :$PORT" | grep -q . && break; sleep 0.1; done
    log "ceiling: do-nothing responder, port $PORT, pid $DPID"
    line=$(lg -o status -n dom00001 -N $((N * 10)))
    R[ceil.status_proto]=$(kv p50_ms "$line")
    for c in 1 4 16 64; do
        line=$(lg -o status -n dom00001 -c "$c" -d "$SECS")
        log "ceiling: $c clients: $line"
        R[ceil.rps_$c]=$(kv rps "$line")
        R[ceil.p50_$c]=$(kv p50_ms "$line")
    done
    line=$(lg -o status -n dom00001 -c 64 -S -d "$SECS")
    R[ceil.rps_b64]=$(kv rps "$line")
    R[ceil.cpu_us]=$(cpu_per_request 4)
    R[ceil.cpu1_us]=$(cpu_per_request 1)
    stop_daemon
}

# keep_round IMPL ROUND: this round's R[IMPL.*] into RR
keep_round() {
    local k
    for k in "${!R[@]}"; do
        case "$k" in "$1".*) RR[$k#$2]=${R[$k]}; unset "R[$k]" ;; esac
    done
}

# median_rounds: R[IMPL.metric] = median over the rounds ("fail" and "n/a"
# count as the worst value of the metric: above every number)
median_rounds() {
    local k base
    declare -A seen=()
    for k in "${!RR[@]}"; do
        base=${k%#*}
        [ -n "${seen[$base]:-}" ] && continue
        seen[$base]=1
        # "sortkey value" lines, sorted, the middle one's value
        R[$base]=$(for r in $(seq 1 "$ROUNDS"); do echo "${RR[$base#$r]:-n/a}"; done |
            awk '{ print (($1 ~ /^[0-9.]+$/) ? $1 : "9e99"), $1 }' | sort -g |
            awk '{ v[NR] = $2 } END { print v[int((NR + 1) / 2)] }')
    done
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
[ -x "$OUR_DAEMON" ] || log "vmfence's daemon not built ($OUR_DAEMON): its column is n/a"
for round in $(seq 1 "$ROUNDS"); do
    log "round $round of $ROUNDS (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
    if [ $((round % 2)) = 1 ] || [ ! -x "$OUR_DAEMON" ]; then
        bench_impl ref; keep_round ref "$round"
        [ -x "$OUR_DAEMON" ] && { bench_impl ours; keep_round ours "$round"; }
    else
        bench_impl ours; keep_round ours "$round"
        bench_impl ref; keep_round ref "$round"
    fi
    bench_ceiling; keep_round ceil "$round"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
median_rounds

# row LABEL KEY BETTER(lower|higher): both daemons, their ratio, and where
# the do-nothing responder was measured too, its figure and how close
# vmfence comes to it (for throughput vmfence/ceiling, else ceiling/vmfence)
row() {
    local label=$1 key=$2 better=$3 a b c ratio toceil
    a=${R[ref.$key]:-n/a}
    b=${R[ours.$key]:-n/a}
    c=${R[ceil.$key]:--}
    ratio=$(awk -v a="$a" -v b="$b" -v w="$better" 'BEGIN {
        if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || a + 0 == 0 || b + 0 == 0) { print "n/a"; exit }
        r = (w == "lower") ? a / b : b / a
        printf "%.2fx %s\n", r, (r >= 1 ? "better" : "worse") }')
    toceil=$(awk -v c="$c" -v b="$b" -v w="$better" 'BEGIN {
        if (c !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || c + 0 == 0 || b + 0 == 0) { print "-"; exit }
        printf "%.0f%%\n", 100 * ((w == "lower") ? c / b : b / c) }')
    printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$a" "$b" "$ratio" "$c" "$toceil"
}

# target LABEL KEY BETTER FACTOR: vmfence must be FACTOR times better than
# the reference ("fail" = more than 1 % of the requests failed: worst)
target() {
    local label=$1 key=$2 better=$3 factor=$4 a b
    a=${R[ref.$key]:-n/a}
    b=${R[ours.$key]:-n/a}
    awk -v a="$a" -v b="$b" -v w="$better" -v f="$factor" -v l="$label" 'BEGIN {
        num = "^[0-9.]+$"
        if (b == "fail" || b == "n/a" || a == "n/a") { printf "| %s | ref %s, vmfence %s | not measurable |\n", l, a, b; exit }
        if (a == "fail") { printf "| %s | ref fail (>1%% failed), vmfence %s | met (the reference fails) |\n", l, b; exit }
        if (a !~ num || b !~ num || a + 0 == 0 || b + 0 == 0) { printf "| %s | ref %s, vmfence %s | n/a |\n", l, a, b; exit }
        r = (w == "lower") ? a / b : b / a
        printf "| %s | ref %s, vmfence %s: %.2fx | %s |\n", l, a, b, r,
               (r >= f ? "met" : sprintf("MISSED (%.1f%% of the goal)", 100 * r / f)) }'
}

# absolute LABEL KEY LIMIT_MS: vmfence's value must be below the limit
absolute() {
    local label=$1 key=$2 limit=$3 b
    b=${R[ours.$key]:-n/a}
    awk -v b="$b" -v m="$limit" -v l="$label" -v a="${R[ref.$key]:-n/a}" 'BEGIN {
        if (b !~ /^[0-9.]+$/) { printf "| %s | vmfence %s | not measured |\n", l, b; exit }
        printf "| %s | vmfence %s ms (reference %s) | %s |\n", l, b, a,
               (b + 0 < m + 0 ? "met" : sprintf("MISSED by %.1f ms", b - m)) }'
}

{
    echo "# fence_virtd benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPU(s)"
    echo
    echo "reference: $REF_DAEMON ($(dpkg-query -W -f='${Version}' fence-virtd 2>/dev/null)); vmfence: $OUR_DAEMON"
    echo "tcp listener on 127.0.0.1, libvirt test driver, sha256 hash + auth; N=$N, ${SECS}s per throughput run."
    [ -n "${BENCH_OURS_CONF:-}" ] && echo "vmfence's fence_virtd block also has: ${BENCH_OURS_CONF}"
    echo "$ROUNDS alternating round(s), every figure the median over them; load average $LOAD_START at the start, $LOAD_END at the end."
    echo "vmfence vs reference: latency, memory, CPU: reference/vmfence; throughput: vmfence/reference (same rounds)."
    echo "ceiling: bench/responder, a do-nothing responder (the protocol's hashing, no hypervisor); vmfence of ceiling: how close vmfence comes to it."
    echo
    echo "| measurement | reference | vmfence | vmfence vs reference | ceiling | vmfence of ceiling |"
    echo "|---|---|---|---|---|---|"
    row "status, fence_virt process, median ms" status_agent lower
    row "status, protocol only (loadgen), median ms" status_proto lower
    for s in $SIZES; do
        row "list of $s domains, fence_virt, median ms" "list_$s" lower
        row "list of $s domains, protocol only (loadgen), median ms" "listp_$s" lower
    done
    for c in 1 4 16 64; do
        row "status throughput, $c clients, req/s" "rps_$c" higher
        row "status p50, $c clients, ms" "p50_$c" lower
        row "status p99 (answered requests), $c clients, ms" "p99_$c" lower
        row "status p99 (all requests, failed = slowest), $c clients, ms" "p99all_$c" lower
        row "failed requests, $c clients" "err_$c" lower
    done
    row "status throughput, 64 clients in bursts, req/s" rps_b64 higher
    row "status p50, 64 clients in bursts, ms" p50_b64 lower
    row "status p99 (answered requests), 64 clients in bursts, ms" p99_b64 lower
    row "status p99 (all requests, failed = slowest), 64 clients in bursts, ms" p99all_b64 lower
    row "failed requests, 64 clients in bursts" err_b64 lower
    row "status behind 5 idle connections, median ms" idle5 lower
    row "status during another VM's reboot, median ms" reboot_p50 lower
    row "status during another VM's reboot, max ms" reboot_max lower
    row "daemon CPU per status request (4 clients), us" cpu_us lower
    row "daemon CPU per status request (1 client), us" cpu1_us lower
    row "daemon RSS, 10-domain host, kB" rss_kb lower
    row "daemon RSS, largest host, kB" rss_kb_big lower
    row "daemon PSS (shared pages split), 10-domain host, kB" pss_kb lower
    row "daemon PSS (shared pages split), largest host, kB" pss_kb_big lower
    echo
    echo "Targets of the issue (vmfence vs the reference, same run):"
    echo
    echo "| target | measured | verdict |"
    echo "|---|---|---|"
    target ">= 10x throughput, 64 clients" rps_64 higher 10
    target ">= 10x throughput, 64 clients in bursts" rps_b64 higher 10
    target "p99 <= 1/20, 64 clients (answered requests)" p99_64 lower 20
    target "p99 <= 1/20, 64 clients (all requests)" p99all_64 lower 20
    target "p99 <= 1/20, 64 clients in bursts (answered requests)" p99_b64 lower 20
    target "p99 <= 1/20, 64 clients in bursts (all requests)" p99all_b64 lower 20
    target "memory <= reference, summed RSS, 10-domain host" rss_kb lower 1
    target "memory <= reference, summed RSS, largest host" rss_kb_big lower 1
    target "memory <= reference, summed PSS, 10-domain host" pss_kb lower 1
    target "memory <= reference, summed PSS, largest host" pss_kb_big lower 1
    absolute "status behind 5 idle connections < 5 ms" idle5 5
    absolute "list of 10000 domains < 50 ms (fence_virt process)" list_10000 50
    absolute "list of 10000 domains < 50 ms (protocol only, loadgen)" listp_10000 50
} >"$TMP/results.md"
mkdir -p "$(dirname "$OUT")" 2>/dev/null
cp "$TMP/results.md" "$OUT" 2>/dev/null && log "results written to $OUT"
cat "$TMP/results.md"
