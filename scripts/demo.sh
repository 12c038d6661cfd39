#!/bin/bash
# vmfence - scripts/demo.sh: THE demo command.  Shows a fencing round trip on
# this machine with no real VMs and no network beyond loopback:
#
#   fence_virt (agent) --TCP 127.0.0.1--> fence_virtd (daemon)
#       --libvirt test driver--> a fake hypervisor (pcs-examples/demo/hypervisor.xml:
#       node1..node3 running, standby shut off)
#
# It installs the build packages if needed (setup-debian.sh --build-only),
# builds in _build/normal (reused when present), writes a key and a
# fence_virt.conf into a temporary directory, starts the daemon in the
# foreground on a free loopback port (1229 when free), lists the VMs, fences
# node2 off and on, reboots it, and shows the state before and after each
# step.  The daemon is stopped by its PID and everything is removed on exit.
# Exit status 0 only when every step gave the expected result.
#
# Usage (as root): scripts/demo.sh [--no-setup]
# Environment (to run the same demo against other binaries, e.g. the
# reference fence-virt packages):
#   VF_DEMO_DAEMON   daemon binary   (default _build/normal/daemon/fence_virtd)
#   VF_DEMO_AGENT    agent binary    (default _build/normal/agents/fence_virt)
#   VF_DEMO_MODULE_PATH  module_path for the daemon (set automatically for
#                    /usr/sbin/fence_virtd, the reference daemon)
#   VF_BUILD_ROOT    build trees (default <repo>/_build)

set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VF_BUILD_ROOT:-$SRC/_build}/normal
SETUP=1
[ "${1:-}" = --no-setup ] && SETUP=0
case "${1:-}" in
-h|--help) sed -n '2,26p' "$0"; exit 0 ;;
esac

if [ -t 1 ]; then B=$'\e[1m'; G=$'\e[32m'; R=$'\e[31m'; N=$'\e[0m'; else B= G= R= N=; fi
title() { echo; echo "${B}== $*${N}"; }
note() { echo "   $*"; }
die() { echo "${R}demo: ERROR: $*${N}" >&2; exit 1; }

FAILS=0
TMP=
DPID=

cleanup() {
    local i
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        kill -TERM "$DPID" 2>/dev/null
        for i in $(seq 1 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
    fi
    [ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- 1. packages and build ---------------------------------------------------
DAEMON=${VF_DEMO_DAEMON:-}
AGENT=${VF_DEMO_AGENT:-}
if [ -z "$DAEMON" ] || [ -z "$AGENT" ]; then
    title "1. Build vmfence"
    if [ "$SETUP" = 1 ]; then
        "$SRC/scripts/setup-debian.sh" --build-only || die "package setup failed"
    fi
    if [ ! -f "$BUILD/Makefile" ]; then
        note "configuring in $BUILD"
        if [ ! -x "$SRC/configure" ]; then
            (cd "$SRC" && autoreconf -fi) >/dev/null 2>&1 || die "autoreconf -fi failed"
        fi
        mkdir -p "$BUILD"
        (cd "$BUILD" && "$SRC/configure" >configure.out 2>&1) ||
            { tail -20 "$BUILD/configure.out"; die "configure failed (see $BUILD/config.log)"; }
    fi
    note "make -C $BUILD"
    make -C "$BUILD" -j2 >"$BUILD/demo-make.out" 2>&1 ||
        { tail -30 "$BUILD/demo-make.out"; die "build failed (full log $BUILD/demo-make.out)"; }
    note "built."
fi
DAEMON=${DAEMON:-$BUILD/daemon/fence_virtd}
AGENT=${AGENT:-$BUILD/agents/fence_virt}
[ -x "$DAEMON" ] || die "daemon '$DAEMON' not found or not executable"
[ -x "$AGENT" ] || die "agent '$AGENT' not found or not executable"
command -v ss >/dev/null 2>&1 || die "ss (iproute2) is needed"

# ---- 2. key, hypervisor, configuration -----------------------------------------
title "2. Prepare a key, a fake hypervisor and fence_virt.conf"
TMP=$(mktemp -d /tmp/vmfence-demo.XXXXXX) || die "mktemp failed"
KEY=$TMP/fence_xvm.key
CONF=$TMP/fence_virt.conf
PIDF=$TMP/fence_virtd.pid
DLOG=$TMP/fence_virtd.log
HV=$TMP/hypervisor.xml
head -c 4096 /dev/urandom >"$KEY" && chmod 600 "$KEY" || die "cannot write the key"
cp "$SRC/pcs-examples/demo/hypervisor.xml" "$HV" || die "cannot copy the hypervisor file"
note "key:        $KEY (4096 random bytes, shared by agent and daemon)"
note "hypervisor: libvirt test driver, test://$HV"

port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
PORT=1229
if port_busy "$PORT"; then
    for _ in $(seq 1 50); do
        PORT=$((20000 + RANDOM % 20000))
        port_busy "$PORT" || break
    done
fi

MODPATH=${VF_DEMO_MODULE_PATH:-}
if [ -z "$MODPATH" ] && [ "$DAEMON" = /usr/sbin/fence_virtd ]; then
    MODPATH=/usr/lib/x86_64-linux-gnu/fence-virt   # the reference daemon's plugins
fi
{
    echo "# written by vmfence scripts/demo.sh"
    echo "fence_virtd {"
    echo "    listener = \"tcp\";"
    echo "    backend = \"libvirt\";"
    [ -n "$MODPATH" ] && echo "    module_path = \"$MODPATH\";"
    echo "}"
    echo "listeners {"
    echo "    tcp {"
    echo "        address = \"127.0.0.1\";"
    echo "        port = \"$PORT\";"
    echo "        family = \"ipv4\";"
    echo "        key_file = \"$KEY\";"
    echo "    }"
    echo "}"
    echo "backends {"
    echo "    libvirt {"
    echo "        uri = \"test://$HV\";"
    echo "    }"
    echo "}"
} >"$CONF"
chmod 600 "$CONF"
sed 's/^/   | /' "$CONF"

# ---- 3. daemon ----------------------------------------------------------------------
title "3. Start the daemon"
note "\$ $DAEMON -F -f $CONF -p $PIDF"
stdbuf -oL -eL "$DAEMON" -F -f "$CONF" -p "$PIDF" >"$DLOG" 2>&1 &
DPID=$!
up=0
for _ in $(seq 1 100); do
    kill -0 "$DPID" 2>/dev/null || break
    if port_busy "$PORT"; then up=1; break; fi
    sleep 0.1
done
if [ "$up" != 1 ]; then
    sed 's/^/   daemon| /' "$DLOG" | tail -20
    die "the daemon did not start listening on 127.0.0.1:$PORT within 10 s"
fi
note "fence_virtd (pid $DPID) listens on 127.0.0.1:$PORT"

# ---- 4. fencing --------------------------------------------------------------------
# fv DESCRIPTION EXPECTED-RC ARGS...: run the agent over TCP and check its exit code
# (EXPECTED-RC "nonzero" accepts any failure)
fv() {
    local what=$1 want=$2; shift 2
    local rc=0 out
    echo
    echo "   ${B}$what${N}"
    echo "   \$ fence_virt -T 127.0.0.1 -p $PORT -k KEY $*"
    out=$(timeout 60 "$AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" "$@" 2>&1 </dev/null) || rc=$?
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/     /'
    if [ "$want" = nonzero ] && [ "$rc" != 0 ]; then
        echo "   ${G}-> exit $rc (a failure, as expected)${N}"
    elif [ "$rc" = "$want" ]; then
        echo "   ${G}-> exit $rc, as expected${N}"
    else
        echo "   ${R}-> exit $rc, expected $want${N}"
        FAILS=$((FAILS + 1))
    fi
}

title "4. Fence node2 and watch its state"
fv "List the VMs the daemon can fence (name, UUID, state):" 0 -o list
fv "Status of node2 before fencing (exit 0 = on):" 0 -o status -n node2
fv "Fence node2: power it off (libvirt destroy):" 0 -o off -n node2
fv "Status of node2 after fencing (exit 2 = off):" 2 -o status -n node2
fv "The list shows node2 off:" 0 -o list
fv "Power node2 back on (unfence):" 0 -o on -n node2
fv "Status of node2 (on again):" 0 -o status -n node2
fv "Reboot node2 (hard power cycle):" 0 -o reboot -n node2
fv "Status of node2 after the reboot:" 0 -o status -n node2
if [ "$DAEMON" = /usr/sbin/fence_virtd ]; then
    # the reference answers OFF for a VM it cannot find (reference-defects D5):
    # a cluster would take that as "fenced"
    fv "A VM that does not exist (the reference daemon wrongly answers OFF):" 2 -o status -n no-such-vm
else
    fv "A VM that does not exist is a failure, not 'off' (fence-virt said OFF):" 1 -o status -n no-such-vm
fi

title "5. A client with the wrong key is refused"
head -c 4096 /dev/urandom >"$TMP/wrong.key"
chmod 600 "$TMP/wrong.key"
echo "   \$ fence_virt -T 127.0.0.1 -p $PORT -k WRONG-KEY -t 3 -o off -n node3"
rc=0
out=$(timeout 30 "$AGENT" -T 127.0.0.1 -p "$PORT" -k "$TMP/wrong.key" -t 3 -o off -n node3 2>&1 </dev/null) || rc=$?
[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/     /'
if [ "$rc" != 0 ]; then echo "   ${G}-> exit $rc: refused, as expected${N}"
else echo "   ${R}-> exit 0: a request with the wrong key was executed${N}"; FAILS=$((FAILS + 1)); fi
fv "node3 is still running:" 0 -o status -n node3

# ---- 6. stop -------------------------------------------------------------------------
title "6. Stop the daemon"
kill -TERM "$DPID" 2>/dev/null
stopped=0
for _ in $(seq 1 50); do
    kill -0 "$DPID" 2>/dev/null || { stopped=1; break; }
    sleep 0.1
done
if [ "$stopped" = 1 ]; then
    wait "$DPID" 2>/dev/null
    note "fence_virtd (pid $DPID) stopped on SIGTERM"
else
    note "${R}fence_virtd did not stop within 5 s of SIGTERM; killing it${N}"
    FAILS=$((FAILS + 1))
fi
DPID=
if [ -s "$DLOG" ]; then
    note "last lines of the daemon's output:"
    tail -n 12 "$DLOG" | sed 's/^/   daemon| /'
fi

echo
if [ "$FAILS" = 0 ]; then
    echo "${G}${B}demo: all steps gave the expected result${N}"
    exit 0
fi
echo "${R}${B}demo: $FAILS step(s) failed${N}"
exit 1
