#!/bin/bash
# vmfence - bench/cpg-bench.sh: the cpg backend on three hosts with 1,000 VMs:
# (a) the latency of a status request for a VM on another host (routed over
# CPG to its owner) against one for a VM on the host asked, and (b) the time
# from a libvirt event on one host to the new location being known on the
# other hosts.  See bench/README.md ("cpg: routed requests and location
# updates").  Not part of make check.
#
# Usage: bench/cpg-bench.sh [--rounds R] [--vms N] [--build DIR] [--out FILE]
#   --rounds  rounds (default 3); every figure is the median over them, with
#             the smallest and largest round
#   --vms     VMs in the whole cluster, spread over the three hosts (default 1000)
#   --build   the build tree (default: $VF_BENCH_BUILD, else <root>/normal)
#   --out     write the table there too (default: <build>/bench/cpg-results.md)
# Environment:
#   VF_BENCH_BUILD, VF_BUILD_ROOT   as for run-bench.sh
#   BENCH_N        loadgen requests per latency figure and round (default 200)
#   BENCH_AGENT_N  fence_virt processes per latency figure and round (default 10)
#   BENCH_CPG_CONF extra statements for fence_virtd { } (e.g. 'privsep = "no";')
#   BENCH_KEEP     keep the work directory (logs, each poll's exit codes: rR.*.trace)
# Needs: root, corosync, corosync-cpgtool, libvirtd, virsh, setpriv, nsenter,
# unshare, ip; a build tree with daemon/fence_virtd (cpg backend),
# agents/fence_virt and bench/loadgen.
#
# The bed (all names carry this shell's PID; nothing runs in, or sends to,
# the machine's own network namespace):
#   vmf-cpgb-sw-PID    bridge br0
#   vmf-cpgb-nI-PID    eth0 10.214.77.I/24 (I = 1..3); corosync (knet, no
#                      Pacemaker), a libvirtd, our fence_virtd (cpg backend,
#                      tcp listener on 127.0.0.1:1230, fence_history = "none")
# Each node has a pinned mount namespace with a private /run, /etc/corosync,
# /var/lib/corosync and /dev/shm (corosync's IPC; as tests/interop/cpg-cluster.sh).
# Each host's hypervisor is a libvirtd of its own serving the libvirt test
# driver (test:///default, unprivileged, session mode; docs: libvirt-lab.md),
# so that virsh can change a host's domains and libvirt raises the lifecycle
# events the cpg backend learns locations from, exactly as on a real host.
# A "keeper" virsh holds one connection per libvirtd open (test:///default
# keeps its state only while a connection is open).
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/tests/lib/nslab.sh"
BUILD=${VF_BENCH_BUILD:-${VF_BUILD_ROOT:-$SRC/_build}/normal}
ROUNDS=${BENCH_ROUNDS:-3}
VMS=1000
N=${BENCH_N:-200}
AGENT_N=${BENCH_AGENT_N:-10}
OUT=
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) ROUNDS=$2; shift ;;
    --vms) VMS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --build) BUILD=$(cd "$2" && pwd) || exit 2; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "cpg-bench.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
OUT=${OUT:-$BUILD/bench/cpg-results.md}

DAEMON=$BUILD/daemon/fence_virtd
AGENT=$BUILD/agents/fence_virt
LOADGEN=$BUILD/bench/loadgen
LIBVIRTD=/usr/sbin/libvirtd
PORT=1230
NET=10.214.77
LV_UID=65534

die() { echo "cpg-bench.sh: $*" >&2; exit 1; }
log() { echo "[cpg-bench] $*" >&2; }
[ "$(id -u)" = 0 ] || die "needs root (namespaces, corosync)"
for c in corosync corosync-cpgtool virsh setpriv nsenter unshare ip "$LIBVIRTD"; do
    command -v "$c" >/dev/null 2>&1 || die "needs $c"
done
[ -x "$DAEMON" ] || die "no fence_virtd in $BUILD"
"$DAEMON" -l 2>/dev/null | grep -qw cpg || die "$DAEMON was built without the cpg backend"
[ -x "$AGENT" ] || die "no agents/fence_virt in $BUILD"
if [ ! -x "$LOADGEN" ]; then
    make -C "$BUILD/lib" >/dev/null && make -C "$BUILD/bench" loadgen >/dev/null ||
        die "cannot build bench/loadgen"
fi
case "$ROUNDS" in ''|*[!0-9]*|0) die "--rounds wants a positive number" ;; esac
case "$VMS" in ''|*[!0-9]*|0|1|2) die "--vms wants a number of at least 3" ;; esac
[ "$VMS" -le 9999 ] || die "--vms: at most 9999"

TMP=$(mktemp -d /tmp/vmfence-cpgb.XXXXXX)
chmod 755 "$TMP"                        # libvirtd runs as uid $LV_UID
PINS=$TMP/pins
KEY=$TMP/key
SW=vmf-cpgb-sw-$$
NS=("" "vmf-cpgb-n1-$$" "vmf-cpgb-n2-$$" "vmf-cpgb-n3-$$")
PIDS=()                                 # corosync, fence_virtd, keepers
LV_PIDS=()                              # libvirtd
KEEP_FDS=()

# ---- cleanup: by PID, then whatever is left inside our namespaces -----------------
stop_pids() {   # PID...: TERM, up to 5 s, then KILL
    local p i alive
    for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
    for i in $(seq 1 50); do
        alive=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in "$@"; do kill -KILL "$p" 2>/dev/null; done
}
cleanup() {
    local i fd ns
    [ ${#PIDS[@]} -gt 0 ] && stop_pids "${PIDS[@]}"
    for fd in "${KEEP_FDS[@]}"; do exec {fd}>&-; done
    [ ${#LV_PIDS[@]} -gt 0 ] && stop_pids "${LV_PIDS[@]}"
    for ns in "${NS[@]:1}" "$SW"; do
        # shellcheck disable=SC2046
        [ -e "/run/netns/$ns" ] && stop_pids $(ip netns pids "$ns" 2>/dev/null) 2>/dev/null
    done
    for i in 1 2 3; do umount "$PINS/n$i.mnt" 2>/dev/null; done
    umount "$PINS" 2>/dev/null
    for ns in "${NS[@]:1}" "$SW"; do ip netns del "$ns" 2>/dev/null; done
    if [ -n "${BENCH_KEEP:-}" ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- small helpers -------------------------------------------------------------------
now_us() { echo "${EPOCHREALTIME/./}"; }
uri_of() { echo "test+unix:///default?socket=$TMP/n$1/lv/run/libvirt/libvirt-sock"; }
vm_name() { printf 'vm%04d' "$1"; }
vm_uuid() { printf '0be1c4a1-0000-4000-8000-%012d' "$1"; }
# the host (1..3) VM number I starts on: three blocks
home_of() { echo $(( ($1 - 1) * 3 / VMS + 1 )); }
first_of() { local i; for ((i = 1; i <= VMS; i++)); do (( (i - 1) * 3 / VMS + 1 == $1 )) && { echo "$i"; return; }; done; }
# nsx I CMD...: CMD in node I's network and mount namespaces
nsx() { local i=$1; shift; nsenter --net="/run/netns/${NS[$i]}" --mount="$PINS/n$i.mnt" "$@"; }
# agent I ARGS...: our fence_virt against node I's daemon
agent() { local i=$1; shift; ip netns exec "${NS[$i]}" "$AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" -t 10 "$@"; }
lv() { local i=$1; shift; virsh -q -c "$(uri_of "$i")" "$@"; }
# stats: numbers on stdin -> "median min max" (formatted), or "n/a n/a n/a"
stats() {
    sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) { print "n/a n/a n/a"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'
}
kv() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }   # kv KEY < "k=v k=v"

# ---- the bed ---------------------------------------------------------------------------
head -c 512 /dev/urandom >"$KEY"; chmod 600 "$KEY"
mkdir -p "$PINS"
mount --bind "$PINS" "$PINS" && mount --make-private "$PINS" || die "cannot make a private mount for the pins"
nslab_switch "$SW" || die "cannot create network namespaces"

node_setup() {   # I: namespaces, corosync.conf, fence_virt.conf
    local i=$1 ns=${NS[$1]} D=$TMP/n$1
    nslab_attach "$SW" "$ns" "p-n$i" "$NET.$i/24" || die "cannot create network namespace $ns"
    mkdir -p "$D/lv/home" "$D/lv/run" "$D/xml"
    chown -R "$LV_UID:$LV_UID" "$D/lv"
    nslab_corosync_mounts "$PINS/n$i.mnt" "$D" 256m || die "cannot set up the mount namespace of node $i"
    nslab_corosync_conf "vmfcpgb$$" "$D/corosync.log" "n1=$NET.1" "n2=$NET.2" "n3=$NET.3" \
        >"$D/etc/corosync.conf"
    nslab_cpg_conf "$D/fence_virt.conf" "$(uri_of "$i")" "$PORT" "$KEY" \
        "fence_virtd:${BENCH_CPG_CONF:-}" 'cpg:fence_history = "none";'
}

# lv_start I: node I's libvirtd (its netns; unprivileged), a keeper connection,
# then its block of VMs defined and started (test:///default's own "test" removed)
lv_start() {
    local i=$1 D=$TMP/n$1 k fd n
    nsenter --net="/run/netns/${NS[$i]}" env HOME="$D/lv/home" XDG_RUNTIME_DIR="$D/lv/run" \
        setpriv --reuid="$LV_UID" --regid="$LV_UID" --clear-groups "$LIBVIRTD" >"$D/libvirtd.log" 2>&1 &
    LV_PIDS+=("$!")
    for _ in $(seq 1 100); do [ -S "$D/lv/run/libvirt/libvirt-sock" ] && break; sleep 0.1; done
    [ -S "$D/lv/run/libvirt/libvirt-sock" ] || { tail -5 "$D/libvirtd.log" >&2; die "libvirtd of n$i did not start"; }
    mkfifo "$D/keep"
    exec {fd}<>"$D/keep"
    KEEP_FDS+=("$fd")
    virsh -q -c "$(uri_of "$i")" <"$D/keep" >/dev/null 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 1 50); do lv "$i" list --all >/dev/null 2>&1 && break; sleep 0.1; done
    { echo "destroy test"; echo "undefine test"
      for k in $(seq 1 "$VMS"); do
          (( (k - 1) * 3 / VMS + 1 == i )) || continue
          n=$(vm_name "$k")
          printf '<domain type="test"><name>%s</name><uuid>%s</uuid><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>\n' \
              "$n" "$(vm_uuid "$k")" >"$D/xml/$n.xml"
          echo "define $D/xml/$n.xml"; echo "start $n"
      done; } >"$D/populate.virsh"
    timeout 300 virsh -q -c "$(uri_of "$i")" <"$D/populate.virsh" >"$D/populate.log" 2>&1
    log "n$i: libvirtd pid ${LV_PIDS[-1]}, $(lv "$i" list --name | grep -c .) VMs running"
}

log "bed: 3 hosts, $VMS VMs, build $BUILD, tmp $TMP"
for i in 1 2 3; do node_setup "$i"; done
for i in 1 2 3; do lv_start "$i"; done
for i in 1 2 3; do
    nsenter --net="/run/netns/${NS[$i]}" --mount="$PINS/n$i.mnt" \
        corosync -f -c /etc/corosync/corosync.conf >"$TMP/n$i/corosync.out" 2>&1 &
    PIDS+=("$!")
done
for i in 1 2 3; do
    ok=0
    for _ in $(seq 1 150); do nsx "$i" corosync-cpgtool >/dev/null 2>&1 && { ok=1; break; }; sleep 0.1; done
    [ "$ok" = 1 ] || { tail -5 "$TMP/n$i/corosync.log" >&2; die "corosync of n$i does not answer"; }
done
T_START=$(now_us)
for i in 1 2 3; do
    nsenter --net="/run/netns/${NS[$i]}" --mount="$PINS/n$i.mnt" \
        "$DAEMON" -F -f "$TMP/n$i/fence_virt.conf" -p "$TMP/n$i/fvd.pid" >"$TMP/n$i/fvd.log" 2>&1 &
    PIDS+=("$!")
done
# every host lists every VM (all three joined and announced); bounded: 180 s
declare -A T_ALL=()
for _ in $(seq 1 720); do
    for i in 1 2 3; do
        [ -n "${T_ALL[$i]:-}" ] && continue
        [ "$(agent "$i" -o list 2>/dev/null | grep -c '^vm[0-9]')" = "$VMS" ] && T_ALL[$i]=$(now_us)
    done
    [ ${#T_ALL[@]} = 3 ] && break
    sleep 0.25
done
[ ${#T_ALL[@]} = 3 ] || { tail -20 "$TMP/n1/fvd.log" >&2; die "the hosts never all listed $VMS VMs"; }
T_CONV_MS=$(( ($(printf '%s\n' "${T_ALL[@]}" | sort -n | tail -1) - T_START) / 1000 ))
log "every host lists $VMS VMs ($T_CONV_MS ms after the daemons were started)"

LOCAL_VM=$(vm_name "$(first_of 1)")
ROUTED_VM=$(vm_name "$(first_of 2)")
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- (a) latency: local against routed ---------------------------------------------------
# loadgen_p50 VM: p50 (ms) of N status requests to n1's daemon, one client
loadgen_p50() {
    local line
    line=$(ip netns exec "${NS[1]}" timeout 120 "$LOADGEN" -a 127.0.0.1 -p "$PORT" -k "$KEY" \
           -o status -n "$1" -c 1 -N "$N" -t 10 2>/dev/null)
    [ "$(echo "$line" | kv err)" = 0 ] || { log "loadgen $1: $line"; return 1; }
    echo "$line" | kv p50_ms
}
# agent_median VM: median wall time (ms) of AGENT_N fence_virt -o status on n1
agent_median() {
    local k t0 t1
    for k in $(seq 1 "$AGENT_N"); do
        t0=$(now_us)
        agent 1 -o status -n "$1" >/dev/null 2>&1 || { log "fence_virt status $1 failed"; continue; }
        t1=$(now_us)
        echo "$(( t1 - t0 ))" | awk '{printf "%.3f\n", $1 / 1000}'
    done | stats | cut -d' ' -f1
}
list_p50() {
    ip netns exec "${NS[1]}" timeout 120 "$LOADGEN" -a 127.0.0.1 -p "$PORT" -k "$KEY" \
        -o list -c 1 -N 20 -t 30 2>/dev/null | kv p50_ms
}

# ---- (b) a VM moves from n2 to n3: when do the others route to n3? ------------------------
# poll I WANT-RC OUTFILE VM: until node I answers status VM with WANT-RC (0 on,
# 1 failure/unknown, 2 off); the time (us) in OUTFILE, the number of polls in
# OUTFILE.n, every poll's time and exit code in OUTFILE.trace; bounded:
# 3000 polls and 30 s
poll() {
    local i=$1 want=$2 f=$3 vm=$4 k rc end t
    t=$(now_us)
    end=$(( t + 30000000 ))
    echo "$t start" >"$f.trace"
    for k in $(seq 1 3000); do
        agent "$i" -o status -n "$vm" >/dev/null 2>&1
        rc=$?
        t=$(now_us)
        echo "$t $rc" >>"$f.trace"
        if [ "$rc" = "$want" ]; then echo "$t" >"$f"; echo "$k" >"$f.n"; return 0; fi
        [ "$t" -lt "$end" ] || break
    done
    echo "$k" >"$f.n"
    return 1
}
# step R NAME HOST-A HOST-B WANT-RC VM VIRSH-HOST VIRSH-COMMANDS: start a poller
# on each of two hosts, run one virsh process on VIRSH-HOST, wait for both;
# $TMP/rR.NAME<host>.ms = poller's time - the moment virsh returned (ms)
step() {
    local r=$1 name=$2 ha=$3 hb=$4 want=$5 vm=$6 vh=$7 cmds=$8 pa pb t0 t1 h f
    f=$TMP/r$r.$name
    poll "$ha" "$want" "$f$ha" "$vm" & pa=$!
    poll "$hb" "$want" "$f$hb" "$vm" & pb=$!
    sleep 0.3
    t0=$(now_us)
    lv "$vh" "$cmds" >/dev/null || log "round $r: virsh on n$vh failed: $cmds"
    t1=$(now_us)
    wait "$pa" "$pb"
    echo $(( t1 - t0 )) >"$f.virsh"
    for h in "$ha" "$hb"; do
        [ -s "$f$h" ] && echo $(( $(cat "$f$h") - t1 )) >"$f$h.ms"
    done
}
# move_round R VMNUM: the VM (running on n2) is removed there, then defined
# on n3 (a cold move: the test driver cannot migrate) and started there
move_round() {
    local r=$1 vm
    vm=$(vm_name "$2")
    step "$r" gone 1 3 1 "$vm" 2 "destroy $vm; undefine $vm"
    step "$r" new 1 2 2 "$vm" 3 "define $TMP/n2/xml/$vm.xml"
    step "$r" run 1 2 0 "$vm" 3 "start $vm"
}

declare -A V=()     # V[name]="value value ..." over the rounds
add() { V[$1]="${V[$1]:-} $2"; }
add conv "$T_CONV_MS"
MOVE_BASE=$(( $(first_of 2) + 1 ))
for r in $(seq 1 "$ROUNDS"); do
    log "round $r/$ROUNDS"
    if v=$(loadgen_p50 "$LOCAL_VM"); then add lg_local "$v"; fi
    if v=$(loadgen_p50 "$ROUTED_VM"); then add lg_routed "$v"; fi
    add ag_local "$(agent_median "$LOCAL_VM")"
    add ag_routed "$(agent_median "$ROUTED_VM")"
    add list "$(list_p50)"
    mv_vm=$(( MOVE_BASE + r - 1 ))
    [ "$(home_of "$mv_vm")" = 2 ] || die "too few VMs on n2 for $ROUNDS rounds"
    move_round "$r" "$mv_vm"
    for k in gone1 gone3 new1 new2 run1 run2; do
        if [ -s "$TMP/r$r.$k.ms" ]; then
            add "$k" "$(awk '{printf "%.1f\n", $1 / 1000}' "$TMP/r$r.$k.ms")"
            add "${k}_poll" "$(awk 'NR > 1 && p {printf "%.2f\n", ($1 - p) / 1000} {p = $1}' "$TMP/r$r.$k.trace" | stats | cut -d' ' -f1)"
        else
            add "$k" 999999; log "round $r: $k not reached within 30 s (counted as 999999 ms)"
        fi
    done
    add virsh_def "$(awk '{printf "%.1f\n", $1 / 1000}' "$TMP/r$r.new.virsh")"
done
grep -q "routed to node 3" "$TMP/n1/fvd.log" && ROUTE_SEEN="yes" || ROUTE_SEEN="NO"
grep -q "privilege separation on" "$TMP/n1/fvd.log" && PRIVSEP="on" || PRIVSEP="off"

row() {   # LABEL KEY UNIT
    local s
    s=$(printf '%s\n' ${V[$2]:-} | grep -v '^$' | stats)
    # shellcheck disable=SC2086
    printf '| %s | %s | %s | %s | %s |\n' "$1" $s "$3"
}
diff_rows() {   # the routed cost per round: routed - local
    local a b out=""
    read -r -a a <<<"${V[lg_local]:-}"; read -r -a b <<<"${V[lg_routed]:-}"
    for k in "${!a[@]}"; do [ -n "${b[$k]:-}" ] && out+=" $(awk -v x="${a[$k]}" -v y="${b[$k]}" 'BEGIN {printf "%.3f", y - x}')"; done
    V[lg_diff]=$out
}
diff_rows
{
    echo "## cpg: 3 hosts, $VMS VMs, $ROUNDS rounds, privilege separation $PRIVSEP ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $LOAD0 -> $(cut -d' ' -f1-3 /proc/loadavg))"
    echo
    echo "| measurement | median | min | max | unit |"
    echo "|---|---|---|---|---|"
    row "status, VM on the host asked (loadgen p50 of $N)" lg_local ms
    row "status, VM on another host, routed over CPG (loadgen p50 of $N)" lg_routed ms
    row "routed minus local (per round)" lg_diff ms
    row "status, VM on the host asked (fence_virt process, median of $AGENT_N)" ag_local ms
    row "status, routed (fence_virt process, median of $AGENT_N)" ag_routed ms
    row "list of all $VMS VMs from one host (loadgen p50 of 20)" list ms
    row "**VM defined on n3 -> n1 knows it is on n3** (status answers OFF from n3)" new1 ms
    row "**VM defined on n3 -> n2 knows it is on n3**" new2 ms
    row "n1's poll interval then (median spacing of its fence_virt status polls)" new1_poll ms
    row "virsh define on n3 (the process, connect to exit)" virsh_def ms
    row "VM destroyed + undefined on n2 -> n1 answers 'unknown'" gone1 ms
    row "VM destroyed + undefined on n2 -> n3 answers 'unknown'" gone3 ms
    row "VM started on n3 -> n1 answers ON (routed live, location known)" run1 ms
    row "start-up: daemons started -> every host lists all $VMS VMs (once, polled every 0.25 s)" conv ms
    echo
    echo "Local VM $LOCAL_VM (n1), routed VM $ROUTED_VM (n2). Each round moves another VM (from vm$(printf %04d "$MOVE_BASE") on) from n2 to n3 as a cold move, one virsh process per step, each step waited out before the next, so every step is one burst of libvirt events: destroy + undefine on n2, define on n3, start on n3. Times count from the moment that virsh process returned (the event fired during it); a host counts as knowing when a status request to its fence_virtd answers as expected, polled back to back with fence_virt processes (one poll of resolution, see the polls row; a negative figure: answered before the virsh process had exited). n1's log shows requests routed to node 3: $ROUTE_SEEN."
} | tee "$OUT"
log "written to $OUT"
