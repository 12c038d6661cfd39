#!/bin/bash
# vmfence - tests/interop/daemon-privsep.sh: privilege separation of OUR
# fence_virtd (tcp listener, libvirt backend on the libvirt test driver).
# The request path through both processes with the REFERENCE agent and
# ours; the network process's credentials, root, no_new_privs and seccomp
# mode read from /proc; kill -9 of either process ends the other within a
# second, and no request is answered "success" meanwhile.  The seccomp
# filter is in ENFORCE mode (a call outside it kills the process, which
# this test would see).  Loopback only; nothing is faked but the
# hypervisor.  privsep is opt-in in this release (privsep = "yes" below);
# the other daemon tests run with the default, one process.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vfd_need "$REF_AGENT"
[ "$(id -u)" = 0 ] || vft_skip "needs root"

vft_testdriver_xml "$VFT_TMP/node.xml" vm1:running vm2:off vm3:running
VFD_URI="test://$VFT_TMP/node.xml"
KEY="$VFT_TMP/key"; vft_gen_key "$KEY" 512
PORT=$(vfd_free_port) || vft_skip "no free port"
ROOTDIR="$VFT_TMP/empty"

ref() { timeout 30 "$REF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" "$@"; }
our() { timeout 30 "$VF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" "$@"; }

write_conf() {
    vfd_write_conf "$VFT_TMP/d.conf" "$(vfd_tcp_block "$PORT" "$KEY")"
    sed -i "s|^\tbackend = \"libvirt\";|\tbackend = \"libvirt\";\n\tprivsep = \"yes\";\n\tprivsep_chroot = \"$ROOTDIR\";|" \
        "$VFT_TMP/d.conf"
}

# alive and not a zombie (an orphan waits for its reaper, which may be slow)
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# the network process: the child of the daemon run with --privsep-net
net_pid() { pgrep -P "$1" -f -- '--privsep-net' | head -1; }

write_conf
vfd_start DPID "$VFT_TMP/d.conf" || { vft_fail "daemon start"; vft_finish; }
vft_check "started with privilege separation" grep -q "privilege separation on" "$VFD_LOG"
NPID=$(net_pid "$DPID")
[ -n "$NPID" ] && vft_ok "network process exists (pid $NPID)" || { vft_fail "no network process"; vft_finish; }

# ---- the request path through both processes -----------------------------------
vfd_expect_out "ref: status vm1" 0 "Status: ON" ref -o status -n vm1
vfd_expect_out "ref: off vm1" 0 "" ref -o off -n vm1
vfd_expect_out "ref: status vm1 off" 2 "Status: OFF" ref -o status -n vm1
vfd_expect_out "ref: on vm1" 0 "" ref -o on -n vm1
vfd_expect_out "ref: list" 0 "^vm2 " ref -o list
vfd_expect_out "ref: unknown domain fails" 1 "" ref -o off -n nosuchvm
if [ -x "$VF_AGENT" ]; then
    vfd_expect_out "our: status vm1" 0 "Status: ON" our -o status -n vm1
    vfd_expect_out "our: off vm3" 0 "" our -o off -n vm3
    vfd_expect_out "our: status vm3 off" 2 "Status: OFF" our -o status -n vm3
    vfd_expect_out "our: on vm3" 0 "" our -o on -n vm3
    vfd_expect_out "our: list" 0 "vm3" our -o list
fi

# ---- the network process has no privileges -----------------------------------
st="/proc/$NPID/status"
uid=$(awk '/^Uid:/ {print $2 ":" $3 ":" $4 ":" $5}' "$st")
want=$(id -u vmfence 2>/dev/null || id -u nobody)
[ "$uid" = "$want:$want:$want:$want" ] && vft_ok "network process uid $want" || vft_fail "uid $uid"
gid=$(awk '/^Gid:/ {print $2}' "$st")
[ "$gid" != 0 ] && vft_ok "network process gid $gid" || vft_fail "gid 0"
for c in CapInh CapPrm CapEff CapAmb; do
    v=$(awk -v k="$c:" '$1 == k {print $2}' "$st")
    [ "$v" = 0000000000000000 ] && vft_ok "$c empty" || vft_fail "$c = $v"
done
[ "$(awk '/^NoNewPrivs:/ {print $2}' "$st")" = 1 ] && vft_ok "NoNewPrivs 1" || vft_fail "NoNewPrivs"
sc=$(awk '/^Seccomp:/ {print $2}' "$st")
if grep -q "seccomp on" "$VFD_LOG"; then
    [ "$sc" = 2 ] && vft_ok "Seccomp 2 (filter)" || vft_fail "Seccomp = $sc"
else
    vft_log "seccomp filter not built in: $(grep -o 'seccomp [a-z].*' "$VFD_LOG" | head -1)"
fi
root=$(readlink "/proc/$NPID/root")
[ "$root" = "$ROOTDIR" ] && vft_ok "chroot $ROOTDIR" || vft_fail "root is '$root'"
[ -z "$(ls -A "$ROOTDIR")" ] && vft_ok "chroot directory empty" || vft_fail "chroot not empty"
[ "$(awk '/^Uid:/ {print $2}' "/proc/$DPID/status")" = 0 ] && vft_ok "executor stays root" || \
    vft_fail "executor uid"
# every request above went through the filter in ENFORCE mode
kill -0 "$NPID" 2>/dev/null && vft_ok "network process alive after every request" || \
    vft_fail "network process died: $(tail -3 "$VFD_LOG")"

# ---- kill -9 of the network process: the executor exits at once, non-zero ------
kill -KILL "$NPID"
t0=$(date +%s%N)
for i in $(seq 1 30); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
dt=$(( ($(date +%s%N) - t0) / 1000000 ))
if kill -0 "$DPID" 2>/dev/null; then
    vft_fail "executor still running after the network process died"
else
    [ "$dt" -lt 1000 ] && vft_ok "executor exited ${dt} ms after the network process" || \
        vft_fail "executor took ${dt} ms"
fi
rc=0; wait "$DPID" || rc=$?
[ "$rc" != 0 ] && vft_ok "executor exit status $rc" || vft_fail "executor exit 0"
vft_check "executor logged why" grep -q "network process is gone" "$VFD_LOG"
vft_expect_rc "no answer from a dead pair" 1 ref -o off -n vm1 -t 2

# ---- kill -9 of the executor: the network process exits at once ----------------
vfd_start DPID "$VFT_TMP/d.conf" || { vft_fail "daemon restart"; vft_finish; }
NPID=$(net_pid "$DPID")
vfd_expect_out "restarted: status vm1" 0 "Status: ON" ref -o status -n vm1
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null
t0=$(date +%s%N)
for i in $(seq 1 30); do alive "$NPID" || break; sleep 0.05; done
dt=$(( ($(date +%s%N) - t0) / 1000000 ))
alive "$NPID" && { vft_fail "network process outlived the executor"; kill -KILL "$NPID"; } || \
    { [ "$dt" -lt 1000 ] && vft_ok "network process exited ${dt} ms after the executor" || \
      vft_fail "network process took ${dt} ms"; }
vft_check "network process logged why" grep -q "the executor is gone" "$VFD_LOG"
vft_expect_rc "no success from a half-dead pair" 1 ref -o off -n vm1 -t 2

# ---- privsep = "no" ------------------------------------------------------------------
write_conf
sed -i 's|^\tprivsep = "yes";|\tprivsep = "no";|' "$VFT_TMP/d.conf"
vfd_start DPID "$VFT_TMP/d.conf" || { vft_fail "privsep=no start"; vft_finish; }
[ -z "$(net_pid "$DPID")" ] && vft_ok "privsep = no: one process" || vft_fail "privsep = no: child found"
vfd_expect_out "privsep = no: status vm1" 0 "Status: ON" ref -o status -n vm1
vfd_stop "$DPID"
vft_finish
