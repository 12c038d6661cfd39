#!/bin/bash
# vmfence - tests/lib/common.sh: helpers shared by the shell tests.
#
# Source it first thing:   . "$(dirname "$0")/../lib/common.sh"
# Conventions: a test script exits 0 (pass), 1 (fail) or 77 (skip).  It
# records sub-checks with vft_ok / vft_fail and ends with vft_finish, which
# prints "NAME: N passed, N failed" and exits accordingly.  Everything a test
# starts is registered for cleanup with vft_on_exit and cleaned by PID and by
# name, never with pkill/killall.  Every wait is bounded.

set -u
VFT_NAME=$(basename "$0" .sh)
VFT_SRC=${VF_TOP_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VFT_BUILD=${VF_TOP_BUILDDIR:-$VFT_SRC}
VFT_PASS=0
# VF_UNIT_ONLY=1 (used by make distcheck) skips the interop, cluster and fuzz
# scripts, which the test command runs separately on the real build.
if [ -n "${VF_UNIT_ONLY:-}" ]; then
    case "$0" in
    *interop/*|*cluster/*|*fuzz/*|*xenapi/*) echo "SKIP: $VFT_NAME: VF_UNIT_ONLY is set"; exit 77 ;;
    esac
fi
VFT_FAIL=0
VFT_CLEANUP=()
VFT_TMP=$(mktemp -d "/tmp/vft-$VFT_NAME.XXXXXX")
chmod 755 "$VFT_TMP"

# our binaries (build tree)
VF_AGENT="$VFT_BUILD/agents/fence_virt"
VF_AGENT_XVM="$VFT_BUILD/agents/fence_xvm"
# fence_xenapi: agents/fence_xenapi or agents/xenapi/fence_xenapi in the
# build tree (whichever exists; VF_AGENT_XENAPI set by the caller wins)
if [ -z "${VF_AGENT_XENAPI:-}" ]; then
    VF_AGENT_XENAPI="$VFT_BUILD/agents/fence_xenapi"
    [ -x "$VF_AGENT_XENAPI" ] || [ ! -x "$VFT_BUILD/agents/xenapi/fence_xenapi" ] ||
        VF_AGENT_XENAPI="$VFT_BUILD/agents/xenapi/fence_xenapi"
fi
VF_DAEMON="$VFT_BUILD/daemon/fence_virtd"
# reference binaries (Debian packages fence-virt / fence-virtd)
REF_AGENT=/usr/sbin/fence_virt
REF_AGENT_XVM=/usr/sbin/fence_xvm
REF_DAEMON=/usr/sbin/fence_virtd
REF_MODULES=/usr/lib/x86_64-linux-gnu/fence-virt

vft_log() { echo "[$VFT_NAME] $*" >&2; }
vft_ok() { VFT_PASS=$((VFT_PASS + 1)); echo "ok   - $*"; }
vft_fail() { VFT_FAIL=$((VFT_FAIL + 1)); echo "FAIL - $*"; }
# vft_check DESC CMD...: pass if CMD exits 0
vft_check() { local d=$1; shift; if "$@"; then vft_ok "$d"; else vft_fail "$d"; fi; }
# vft_expect_rc DESC RC CMD...: run CMD (stdout/stderr to $VFT_OUT/$VFT_ERR), compare exit code
vft_expect_rc() {
    local d=$1 want=$2; shift 2
    local rc=0
    VFT_OUT="$VFT_TMP/out.$$" VFT_ERR="$VFT_TMP/err.$$"
    "$@" >"$VFT_OUT" 2>"$VFT_ERR" </dev/null || rc=$?
    if [ "$rc" = "$want" ]; then vft_ok "$d (rc $rc)"; return 0; fi
    vft_fail "$d: rc $rc, expected $want"
    sed 's/^/    out: /' "$VFT_OUT" | head -20; sed 's/^/    err: /' "$VFT_ERR" | head -20
    return 1
}

# vft_expect_out DESC RC REGEX CMD...: exit code RC and stdout matching REGEX
# (an empty REGEX matches anything)
vft_expect_out() {
    local d=$1 rc=$2 re=$3; shift 3
    vft_expect_rc "$d" "$rc" "$@" || return 1
    if [ -n "$re" ] && ! grep -Eq -- "$re" "$VFT_OUT"; then
        vft_fail "$d: stdout does not match /$re/"
        sed 's/^/    out: /' "$VFT_OUT" | head; sed 's/^/    err: /' "$VFT_ERR" | head
        return 1
    fi
    return 0
}
# vft_expect_err DESC RC REGEX CMD...: exit code RC and stderr matching REGEX
# (case-insensitive)
vft_expect_err() {
    local d=$1 rc=$2 re=$3; shift 3
    vft_expect_rc "$d" "$rc" "$@" || return 1
    if ! grep -Eiq -- "$re" "$VFT_ERR"; then
        vft_fail "$d: stderr does not match /$re/"
        sed 's/^/    err: /' "$VFT_ERR" | head
        return 1
    fi
    return 0
}

vft_skip() { echo "SKIP: $VFT_NAME: $*"; exit 77; }
vft_need_root() { [ "$(id -u)" = 0 ] || vft_skip "needs root"; }
vft_need_cmd() { local c; for c in "$@"; do command -v "$c" >/dev/null 2>&1 || [ -x "$c" ] || vft_skip "needs $c"; done; }

# vft_on_exit CMD: run at exit (LIFO)
vft_on_exit() { VFT_CLEANUP+=("$1"); }
vft_cleanup() {
    local i
    for ((i = ${#VFT_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${VFT_CLEANUP[$i]}" >/dev/null 2>&1 || true
    done
    VFT_CLEANUP=()
    [ -n "${VFT_KEEP_TMP:-}" ] || rm -rf "$VFT_TMP"
}
trap vft_cleanup EXIT
trap 'exit 1' INT TERM

# vft_skip_part REASON: a part of this script cannot run here (a missing
# input, command or kernel feature).  Prints a "SKIP part:" line, which
# scripts/run-tests.sh counts as a skipped result; the rest of the script
# still runs.  A script whose every part skipped exits 77 in vft_finish.
VFT_SKIPPED_PARTS=0
vft_skip_part() { VFT_SKIPPED_PARTS=$((VFT_SKIPPED_PARTS + 1)); echo "SKIP part: $VFT_NAME: $*"; }

# vft_finish: print the totals and exit: 1 on a failure or when no check was
# recorded at all (a test that checked nothing did not pass), 77 when nothing
# was checked because every part skipped, else 0
vft_finish() {
    local skipped=""
    [ "$VFT_SKIPPED_PARTS" -gt 0 ] && skipped=", $VFT_SKIPPED_PARTS part(s) skipped"
    echo "$VFT_NAME: $VFT_PASS passed, $VFT_FAIL failed$skipped"
    [ "$VFT_FAIL" = 0 ] || exit 1
    [ "$VFT_PASS" -gt 0 ] && exit 0
    if [ "$VFT_SKIPPED_PARTS" -gt 0 ]; then
        echo "SKIP: $VFT_NAME: every part skipped, nothing checked"
        exit 77
    fi
    echo "FAIL: $VFT_NAME: no check was recorded (a test that checks nothing does not pass)"
    exit 1
}

# vft_kill_pid PID: TERM, wait up to 5 s, then KILL
vft_kill_pid() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

# vft_bg VAR CMD...: start CMD in background, store pid in VAR, register cleanup
vft_bg() {
    local var=$1; shift
    "$@" &
    local pid=$!
    printf -v "$var" '%s' "$pid"
    vft_on_exit "vft_kill_pid $pid"
}

# vft_gen_key PATH [BYTES]: random key, mode 0600
vft_gen_key() {
    head -c "${2:-4096}" /dev/urandom >"$1"
    chmod 600 "$1"
}

# vft_wait_listen SS_OPTS PORT SECONDS [NETNS]: wait until "ss SS_OPTS"
# shows a socket on PORT (in NETNS)
vft_wait_listen() {
    local opts=$1 port=$2 secs=$3 ns=${4:-} i
    local pre=()
    [ -n "$ns" ] && pre=(ip netns exec "$ns")
    for i in $(seq 1 $((secs * 10))); do
        if "${pre[@]}" ss "$opts" "sport = :$port" 2>/dev/null | grep -q .; then return 0; fi
        sleep 0.1
    done
    return 1
}
# vft_wait_tcp HOST PORT [SECONDS] [NETNS]: wait until something listens
vft_wait_tcp() { vft_wait_listen -Hltn "$2" "${3:-10}" "${4:-}"; }
# vft_wait_udp PORT [SECONDS] [NETNS]
vft_wait_udp() { vft_wait_listen -Hlun "$1" "${2:-10}" "${3:-}"; }

# vft_free_port, vft_fvd_conf: see tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

# vft_testdriver_xml PATH NAME:STATE...  (STATE running|off); UUIDs derived
# from the position: 5ca1ab1e-0000-4000-8000-00000000000N
vft_testdriver_xml() {
    local path=$1; shift
    local n=0 spec name state
    {
        echo "<node>"
        for spec in "$@"; do
            n=$((n + 1))
            name=${spec%%:*}; state=${spec#*:}
            [ "$state" = "$spec" ] && state=running
            printf '  <domain type="test" xmlns:test="http://libvirt.org/schemas/domain/test/1.0">\n'
            printf '    <name>%s</name>\n    <uuid>5ca1ab1e-0000-4000-8000-%012d</uuid>\n' "$name" "$n"
            printf '    <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n'
            [ "$state" = off ] && printf '    <test:runstate>5</test:runstate>\n'
            printf '  </domain>\n'
        done
        echo "</node>"
    } >"$path"
}
vft_uuid_of() { printf '5ca1ab1e-0000-4000-8000-%012d' "$1"; }

# vft_libvirtd_prepare DIR: state for an unprivileged libvirtd (session mode,
# uid 65534, HOME and XDG_RUNTIME_DIR under DIR) serving the test driver; a
# restartable hypervisor connection.  Sets VFT_LVD_SOCK and VFT_LVD_URI.
vft_libvirtd_prepare() {
    VFT_LVD_DIR=$1
    mkdir -p "$1/home" "$1/run" && chown 65534:65534 "$1/home" "$1/run"
    VFT_LVD_SOCK="$1/run/libvirt/libvirt-sock"
    VFT_LVD_URI="test+unix:///default?socket=$VFT_LVD_SOCK"
    VFT_LVD_PID=
}
# vft_libvirtd_start: start that libvirtd (again; log in DIR/libvirtd.log),
# registered for cleanup, and wait up to 10 s until it answers.  Sets
# VFT_LVD_PID (a child of the calling shell, so `wait` works on it).
vft_libvirtd_start() {
    local i
    rm -f "$VFT_LVD_SOCK"
    HOME="$VFT_LVD_DIR/home" XDG_RUNTIME_DIR="$VFT_LVD_DIR/run" \
        setpriv --reuid=65534 --regid=65534 --clear-groups /usr/sbin/libvirtd \
        >>"$VFT_LVD_DIR/libvirtd.log" 2>&1 &
    VFT_LVD_PID=$!
    vft_on_exit "vft_kill_pid $VFT_LVD_PID"
    for i in $(seq 1 100); do
        if [ -S "$VFT_LVD_SOCK" ] &&
            timeout 5 virsh -q -c "$VFT_LVD_URI" version >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# vft_need_ref LISTENER CMD...: skip unless root, the reference fence_virtd
# with its LISTENER and virt plugins, and CMD... are there
vft_need_ref() {
    local l=$1
    shift
    vft_need_root
    vft_need_cmd "$REF_DAEMON" "$@"
    [ -f "$REF_MODULES/$l.so" ] && [ -f "$REF_MODULES/virt.so" ] || vft_skip "reference $l.so/virt.so missing"
}

# vft_key_pair BYTES: KEY and a different KEY2 (key.wrong), BYTES each
vft_key_pair() {
    KEY=$VFT_TMP/key
    KEY2=$VFT_TMP/key.wrong
    vft_gen_key "$KEY" "$1"
    vft_gen_key "$KEY2" "$1"
}

# vft_netns_add NAME: create a network namespace with lo up; removed at exit
vft_netns_add() {
    local ns=$1
    ip netns del "$ns" 2>/dev/null || true
    ip netns add "$ns" || return 1
    vft_on_exit "ip netns del $ns"
    ip -n "$ns" link set lo up
}
# vft_veth_ns HOSTNS GUESTNS HOSTIF GUESTIF NET: two namespaces (removed at
# exit, their processes killed) joined by a veth pair, NET.1/24 on the host
# side and NET.2/24 on the guest side, both up, with a multicast route, so
# multicast stays inside them.  Skips the test when that is impossible.
vft_veth_ns() {
    local hv=$1 gu=$2 vh=$3 vg=$4 net=$5
    vft_netns_add "$hv" || vft_skip "cannot create network namespaces"
    vft_netns_add "$gu" || vft_skip "cannot create network namespaces"
    vft_on_exit "vft_netns_pids_kill $hv; vft_netns_pids_kill $gu"
    ip link add "$vh" type veth peer name "$vg" || vft_skip "cannot create veth"
    ip link set "$vh" netns "$hv"
    ip link set "$vg" netns "$gu"
    ip -n "$hv" addr add "$net.1/24" dev "$vh"
    ip -n "$hv" link set "$vh" up
    ip -n "$gu" addr add "$net.2/24" dev "$vg"
    ip -n "$gu" link set "$vg" up
    ip -n "$hv" route add 224.0.0.0/4 dev "$vh"
    ip -n "$gu" route add 224.0.0.0/4 dev "$vg"
}
# vft_ns_pair TAG IFTAG NET: vft_veth_ns with the names it sets: HV and GU
# (vft-TAG-hv-PID, vft-TAG-g-PID), VH and VG (vfIFTAGh/g + PID), NET
vft_ns_pair() {
    HV=vft-$1-hv-$$; GU=vft-$1-g-$$
    VH=vf$2h$(($$ % 100000)); VG=vf$2g$(($$ % 100000))
    NET=$3
    vft_veth_ns "$HV" "$GU" "$VH" "$VG" "$NET"
}
# vft_netns_pids_kill NAME: kill processes still inside a namespace we created
vft_netns_pids_kill() {
    local p
    for p in $(ip netns pids "$1" 2>/dev/null); do vft_kill_pid "$p"; done
}

# vft_agent_cycle TAG VM STATE CMD...: off, on and reboot of VM through the
# agent command CMD, each exiting 0, and after each "STATE VM off|on" (a
# command checking the domain's state through the daemon) holding
vft_agent_cycle() {
    local t=$1 vm=$2 st=$3
    shift 3
    vft_expect_out "$t off $vm" 0 '' "$@" -o off -n "$vm"
    vft_check "$t $vm off" "$st" "$vm" off
    vft_expect_out "$t on $vm" 0 '' "$@" -o on -n "$vm"
    vft_check "$t $vm on" "$st" "$vm" on
    vft_expect_out "$t reboot $vm" 0 '' "$@" -o reboot -n "$vm"
    vft_check "$t $vm on after reboot" "$st" "$vm" on
}

# vft_same_output DESC RC_OURS RC_REF: our agent's run (exit code RC_OURS,
# stdout and stderr in $VFT_TMP/ours) matches the reference agent's
# (RC_REF, $VFT_TMP/ref)
vft_same_output() {
    if [ "$2" = "$3" ] && cmp -s "$VFT_TMP/ours" "$VFT_TMP/ref"; then
        vft_ok "$1: same as the reference (rc $2)"
        return 0
    fi
    vft_fail "$1: differs from the reference (ours rc $2, ref rc $3)"
    diff "$VFT_TMP/ref" "$VFT_TMP/ours" | head
    return 1
}
# vft_same_as_ref DESC OURS REF ARGS...: the agent commands OURS ARGS and
# REF ARGS give the same exit code and output (vft_same_output)
vft_same_as_ref() {
    local d=$1 ours=$2 ref=$3 rc_o=0 rc_r=0
    shift 3
    "$ours" "$@" >"$VFT_TMP/ours" 2>&1 || rc_o=$?
    "$ref" "$@" >"$VFT_TMP/ref" 2>&1 || rc_r=$?
    vft_same_output "$d" "$rc_o" "$rc_r"
}

# vft_ask IN OUT SECONDS LINE: write LINE to file descriptor IN (a
# coprocess's input) and print the line read back from OUT, or "TIMEOUT"
# when none comes within SECONDS
vft_ask() {
    local l
    echo "$4" >&"$1"
    if ! read -t "$3" -r l <&"$2"; then l=TIMEOUT; fi
    echo "$l"
}

# vft_ref_daemon_start VAR CONF [NETNS]: start the reference fence_virtd in
# the foreground with its own pid file; pid in VAR, log in $VFT_TMP/refd.log
vft_ref_daemon_start() {
    local var=$1 conf=$2 ns=${3:-}
    local pre=()
    [ -n "$ns" ] && pre=(ip netns exec "$ns")
    "${pre[@]}" stdbuf -oL -eL "$REF_DAEMON" -F -d 2 -f "$conf" -p "$VFT_TMP/refd.$RANDOM.pid" \
        >>"$VFT_TMP/refd.log" 2>&1 &
    local pid=$!
    printf -v "$var" '%s' "$pid"
    vft_on_exit "vft_kill_pid $pid"
}
