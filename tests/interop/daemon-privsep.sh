#!/bin/bash
# vmfence - tests/interop/daemon-privsep.sh: privilege separation of OUR
# fence_virtd (tcp listener, libvirt backend on the libvirt test driver).
# The request path through both processes with the REFERENCE agent and
# ours; the network process's credentials, root, no_new_privs and seccomp
# mode read from /proc; kill -9 of either process ends the other within a
# second, and no request is answered "success" meanwhile.  The seccomp
# filter is in ENFORCE mode (a call outside it kills the process, which
# this test would see).  Loopback only; nothing is faked but the
# hypervisor.  A SIGHUP is applied in place in the running network process
# (the keys staged in its root for the reload, then removed); SIGSEGV of
# the network process ends the pair.  privsep is on by default; the
# config below still says so, and the last case runs privsep = "no".
# With tcp the network process runs the lean program fence_virtd-net,
# which maps no libvirt (/proc/PID/maps); with serial it is fence_virtd
# itself, the reason logged; a reload to serial from the lean program is
# refused until a restart.
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
running() { kill -0 "$1" 2>/dev/null; }
# ms_until_gone CHECK PID: poll "CHECK PID" (true while PID lives) up to 30
# times, 50 ms apart; prints the milliseconds until it failed (or gave up)
ms_until_gone() {
    local t0 i
    t0=$(date +%s%N)
    for i in $(seq 1 30); do "$1" "$2" || break; sleep 0.05; done
    echo $(( ($(date +%s%N) - t0) / 1000000 ))
}
# restart_pair DESC: the daemon started again (else the test ends), its
# network process in NPID, answering a status request
restart_pair() {
    vfd_start DPID "$VFT_TMP/d.conf" || { vft_fail "daemon restart"; vft_finish; }
    NPID=$(net_pid "$DPID")
    vfd_expect_out "$1: status vm1" 0 "Status: ON" ref -o status -n vm1
}

write_conf
vfd_start DPID "$VFT_TMP/d.conf" || { vft_fail "daemon start"; vft_finish; }
vft_check "started with privilege separation" grep -q "privilege separation on" "$VFD_LOG"
NPID=$(net_pid "$DPID")
[ -n "$NPID" ] && vft_ok "network process exists (pid $NPID)" || { vft_fail "no network process"; vft_finish; }

# ---- tcp only: the lean program fence_virtd-net, which maps no libvirt -------------
# heavy: the libraries the lean program must not map (the privileged one maps libvirt:
# the same pattern finds it there, so the check can see what it looks for)
HEAVY='/lib(virt|xml2|gnutls|cpg|corosync|stonithd|crmcommon|systemd)[^/]*\.so'
heavy_libs() { grep -oE "$HEAVY" "/proc/$1/maps" 2>/dev/null | sort -u | tr '\n' ' '; }
[ -x "$(dirname "$VF_DAEMON")/fence_virtd-net" ] || vft_fail "fence_virtd-net not built beside fence_virtd"
# a fence_virtd-net of another version than the fence_virtd starting it: named, refused
vm_out=$("$(dirname "$VF_DAEMON")/fence_virtd-net" --privsep-net=3,4,5,6 --privsep-version=0.0.0-other \
    -f /nonexistent.conf 2>&1); vm_rc=$?
[ "$vm_rc" -eq 1 ] && grep -q 'started by fence_virtd 0.0.0-other: both come from the same package' \
    <<<"$vm_out" && vft_ok "fence_virtd-net refuses another version, naming both" || \
    vft_fail "fence_virtd-net with another version: rc $vm_rc, '$vm_out'"
# the internal command line without the user's ids: refused, nothing started
vm_out=$("$(dirname "$VF_DAEMON")/fence_virtd-net" --privsep-net=3,4,5,6 \
    --privsep-version="$("$VF_DAEMON" --version 2>&1 | awk '{ print $2; exit }')" \
    -f /nonexistent.conf 2>&1 3</dev/null 4</dev/null 5</dev/null 6</dev/null); vm_rc=$?
[ "$vm_rc" -ne 0 ] && grep -q -- '--privsep-net is internal' <<<"$vm_out" && \
    vft_ok "fence_virtd-net refuses --privsep-net without the user's ids" || \
    vft_fail "fence_virtd-net without the user's ids: rc $vm_rc, '$vm_out'"
comm=$(cat "/proc/$NPID/comm" 2>/dev/null)
[ "$comm" = fence_virtd-net ] && vft_ok "tcp: the network process runs fence_virtd-net" || \
    vft_fail "tcp: the network process runs '$comm'"
vft_check "tcp: the log names the program and why" \
    grep -q "network process runs .*/fence_virtd-net (the configured listeners" "$VFD_LOG"
ps -o args= -p "$NPID" | grep -q '^fence_virtd-net --privsep-net=' && \
    vft_ok "tcp: ps shows fence_virtd-net --privsep-net" || vft_fail "tcp: ps shows '$(ps -o args= -p "$NPID")'"
[ -n "$(heavy_libs "$DPID")" ] && vft_ok "the privileged process maps $(heavy_libs "$DPID")" || \
    vft_fail "no libvirt found in the privileged process's maps: the check below sees nothing"
# Pacemaker's libraries come only with the cpg fencer module (fencer-pacemaker.so),
# which a libvirt backend never loads: not even the privileged process maps them
pcmk=$(grep -oE '/lib(stonithd|crmcommon|crmservice|quorum)[^/]*\.so' "/proc/$DPID/maps" | sort -u | tr '\n' ' ')
[ -z "$pcmk" ] && vft_ok "the privileged process maps no Pacemaker library" || \
    vft_fail "the privileged process maps $pcmk"
libs=$(heavy_libs "$NPID")
[ -z "$libs" ] && vft_ok "tcp: the network process maps no libvirt, libxml2, gnutls, corosync, libsystemd" || \
    vft_fail "tcp: the network process maps $libs"

# ---- the request path through both processes -----------------------------------
vfd_expect_out "ref: status vm1" 0 "Status: ON" ref -o status -n vm1
vfd_expect_out "ref: off vm1" 0 "" ref -o off -n vm1
vfd_expect_out "ref: status vm1 off" 2 "Status: OFF" ref -o status -n vm1
vfd_expect_out "ref: on vm1" 0 "" ref -o on -n vm1
vfd_expect_out "ref: list" 0 "^vm2 " ref -o list
# only the network process hashes: the privileged one never loads NSS at all, neither
# its softoken nor libnss3 and NSPR (loaded on first use, lib/nss-dl.c); the network
# process has them after these requests: the patterns see what they look for
softokn() { grep -c 'libsoftokn3' "/proc/$1/maps" 2>/dev/null; }
nss3() { grep -cE '/lib(nss3|nspr4)\.so' "/proc/$1/maps" 2>/dev/null; }
[ "$(softokn "$NPID")" -gt 0 ] && [ "$(softokn "$DPID")" -eq 0 ] && \
    vft_ok "only the network process loaded NSS's softoken" || \
    vft_fail "softoken mappings: network process $(softokn "$NPID"), privileged $(softokn "$DPID")"
[ "$(nss3 "$NPID")" -gt 0 ] && [ "$(nss3 "$DPID")" -eq 0 ] && \
    vft_ok "the privileged process maps neither libnss3 nor NSPR" || \
    vft_fail "libnss3/NSPR mappings: network process $(nss3 "$NPID"), privileged $(nss3 "$DPID")"
# the user comes resolved by the privileged process: the network process never reads
# the name service, so it loads no NSS module (libnss_systemd, _sss, _ldap...), and it
# runs as the user the privileged one named
nssmods=$(grep -oE '/libnss_[a-z0-9]+[^/]*\.so[^ ]*' "/proc/$NPID/maps" 2>/dev/null | sort -u | tr '\n' ' ')
[ -z "$nssmods" ] && vft_ok "the network process loaded no name-service module" || \
    vft_fail "the network process loaded $nssmods"
want_uid=$(id -u vmfence 2>/dev/null || id -u nobody)
net_uid=$(awk '/^Uid:/ { print $2 }' "/proc/$NPID/status" 2>/dev/null)
[ -n "$want_uid" ] && [ "$net_uid" = "$want_uid" ] && \
    vft_ok "the network process runs as uid $net_uid (resolved by the privileged process)" || \
    vft_fail "the network process runs as uid '$net_uid', expected '$want_uid'"
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

# the executor re-checks the groups with the identity of the request (-d 2 logs it)
vft_check "executor got the requester identity" \
    grep -q "privsep: off 'vm1' for '127\.0\.0\.1'" "$VFD_LOG"

# ---- SIGHUP: applied in place by the running network process ---------------------
KEY2="$VFT_TMP/key2"; vft_gen_key "$KEY2" 256
KEY_SAVED="$KEY"; KEY="$KEY2"; write_conf
kill -HUP "$DPID"
vft_check "reload complete" vfd_log_has "reload complete" 20
vft_check "reloaded in place" grep -q "network process reloaded in place" "$VFD_LOG"
[ "$(net_pid "$DPID")" = "$NPID" ] && vft_ok "same network process after SIGHUP" || \
    vft_fail "network process replaced: $(net_pid "$DPID") != $NPID"
vft_check "listener restarted with the new key" grep -q "listener 'tcp' restarted with its new settings" "$VFD_LOG"
vfd_expect_out "after SIGHUP: new key works" 0 "Status: ON" ref -o status -n vm1
vft_expect_rc "after SIGHUP: old key refused" 1 timeout 30 "$REF_AGENT" -T 127.0.0.1 -p "$PORT" \
    -k "$KEY_SAVED" -o status -n vm1 -t 5
[ -z "$(ls -A "$ROOTDIR")" ] && vft_ok "chroot directory empty after the reload" || \
    vft_fail "chroot not empty after the reload: $(ls -A "$ROOTDIR")"
[ "$(awk '/^Uid:/ {print $2}' "$st")" = "$want" ] && vft_ok "still unprivileged after SIGHUP" || \
    vft_fail "uid after SIGHUP"
if grep -q "seccomp on" "$VFD_LOG"; then
    [ "$(awk '/^Seccomp:/ {print $2}' "$st")" = 2 ] && vft_ok "still Seccomp 2 after SIGHUP" || \
        vft_fail "seccomp after SIGHUP"
fi
n0=$(grep -c "reload complete" "$VFD_LOG")
kill -HUP "$DPID"
for i in $(seq 1 100); do [ "$(grep -c 'reload complete' "$VFD_LOG")" -gt "$n0" ] && break; sleep 0.1; done
vft_check "idle SIGHUP: unchanged listener kept running" \
    grep -q "listener 'tcp' unchanged, kept running" "$VFD_LOG"
vfd_expect_out "after an idle SIGHUP: still served" 0 "Status: ON" ref -o status -n vm1

# a reload that needs a listener fence_virtd-net lacks is not applied (a restart is)
serial_conf() {  # FILE: tcp and serial
    write_conf
    sed -e 's|^\tlistener = "tcp";|\tlistener = "tcp,serial";|' \
        -e "s|^listeners {|listeners {\n\tserial {\n\t\turi = \"$VFD_URI\";\n\t\tpath = \"$VFT_TMP/sock\";\n\t}|" \
        "$VFT_TMP/d.conf" >"$1"
    mkdir -p "$VFT_TMP/sock"
}
serial_conf "$VFT_TMP/s.conf"
cp "$VFT_TMP/d.conf" "$VFT_TMP/d-tcp.conf"
cp "$VFT_TMP/s.conf" "$VFT_TMP/d.conf"
kill -HUP "$DPID"
vft_check "reload to serial: refused, saying a restart applies it" \
    vfd_log_has "listener 'serial' is not built into fence_virtd-net, which runs the network process" 20
vfd_expect_out "reload to serial refused: tcp still served" 0 "Status: ON" ref -o status -n vm1
[ "$(net_pid "$DPID")" = "$NPID" ] && vft_ok "reload to serial refused: same network process" || \
    vft_fail "reload to serial: network process replaced"
cp "$VFT_TMP/d-tcp.conf" "$VFT_TMP/d.conf"
KEY="$KEY_SAVED"; write_conf

# ---- kill -9 of the network process: the executor exits at once, non-zero ------
kill -KILL "$NPID"
dt=$(ms_until_gone running "$DPID")
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
restart_pair restarted
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null
dt=$(ms_until_gone alive "$NPID")
alive "$NPID" && { vft_fail "network process outlived the executor"; kill -KILL "$NPID"; } || \
    { [ "$dt" -lt 1000 ] && vft_ok "network process exited ${dt} ms after the executor" || \
      vft_fail "network process took ${dt} ms"; }
vft_check "network process logged why" grep -q "the executor is gone" "$VFD_LOG"
vft_expect_rc "no success from a half-dead pair" 1 ref -o off -n vm1 -t 2

# ---- SIGSEGV of the network process: the pair ends, nothing answered wrongly -----
restart_pair "restarted again"
kill -SEGV "$NPID"
for i in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$DPID" 2>/dev/null; then
    vft_fail "executor still running after SIGSEGV of the network process"
else
    rc=0; wait "$DPID" || rc=$?
    [ "$rc" != 0 ] && vft_ok "SIGSEGV: executor exit status $rc" || vft_fail "SIGSEGV: executor exit 0"
fi
alive "$NPID" && vft_fail "SIGSEGV: network process still there" || vft_ok "SIGSEGV: network process gone"
vft_check "SIGSEGV: logged" grep -q "network process is gone" "$VFD_LOG"
vft_expect_rc "SIGSEGV: no success from the dead pair" 1 ref -o off -n vm1 -t 2

# ---- without CAP_SYS_CHROOT (as under a unit's CapabilityBoundingSet=) -----------
# the default falls back to one process, saying why; privsep = "yes" fails
if command -v setpriv >/dev/null; then
    write_conf
    sed '/^\tprivsep = "yes";/d' "$VFT_TMP/d.conf" >"$VFT_TMP/dflt.conf"
    SAVED_WRAP=("${VFD_WRAP[@]}")
    VFD_WRAP=(setpriv --bounding-set -sys_chroot "${SAVED_WRAP[@]}")
    if vfd_start DPID "$VFT_TMP/dflt.conf"; then
        [ -z "$(net_pid "$DPID")" ] && vft_ok "no CAP_SYS_CHROOT, default: one process" || \
            vft_fail "no CAP_SYS_CHROOT, default: a network process was started"
        vft_check "no CAP_SYS_CHROOT, default: logged why" grep -q "lacks CAP_SYS_CHROOT" "$VFD_LOG"
        vfd_expect_out "no CAP_SYS_CHROOT, default: serves" 0 "Status: ON" ref -o status -n vm1
        vfd_stop "$DPID"
    else
        vft_fail "no CAP_SYS_CHROOT, default: did not start"
    fi
    vft_expect_rc "no CAP_SYS_CHROOT, privsep = yes: refuses to start" 1 \
        timeout 30 setpriv --bounding-set -sys_chroot "$VF_DAEMON" -F -f "$VFT_TMP/d.conf" \
        -p "$VFT_TMP/nocap.pid"
    grep -q "cannot be honoured" "$VFT_ERR" && vft_ok "privsep = yes: says why" || \
        vft_fail "privsep = yes without CAP_SYS_CHROOT: $(tail -2 "$VFT_ERR")"
    VFD_WRAP=("${SAVED_WRAP[@]}")
else
    vft_skip_part "setpriv missing: the no-CAP_SYS_CHROOT cases not run"
fi

# ---- serial, which fence_virtd-net lacks: fence_virtd itself, saying why ------------
serial_conf "$VFT_TMP/s.conf"
if vfd_start DPID "$VFT_TMP/s.conf"; then
    NPID=$(net_pid "$DPID")
    comm=$(cat "/proc/$NPID/comm" 2>/dev/null)
    [ -n "$NPID" ] && [ "$comm" != fence_virtd-net ] && \
        vft_ok "serial: the network process is fence_virtd itself ('$comm')" || \
        vft_fail "serial: network process '$NPID' runs '$comm'"
    vft_check "serial: the log says why" \
        grep -q "runs fence_virtd itself (--privsep-net): listener 'serial' is not built into fence_virtd-net" \
        "$VFD_LOG"
    [ -n "$(heavy_libs "$NPID")" ] && vft_ok "serial: the network process maps libvirt" || \
        vft_fail "serial: no libvirt in the full network process's maps"
    vfd_expect_out "serial: status over tcp" 0 "Status: ON" ref -o status -n vm1
    vfd_stop "$DPID"
else
    vft_fail "tcp + serial: did not start"
fi

# ---- privsep = "no" ------------------------------------------------------------------
write_conf
sed -i 's|^\tprivsep = "yes";|\tprivsep = "no";|' "$VFT_TMP/d.conf"
vfd_start DPID "$VFT_TMP/d.conf" || { vft_fail "privsep=no start"; vft_finish; }
[ -z "$(net_pid "$DPID")" ] && vft_ok "privsep = no: one process" || vft_fail "privsep = no: child found"
vfd_expect_out "privsep = no: status vm1" 0 "Status: ON" ref -o status -n vm1
vfd_stop "$DPID"
vft_finish
