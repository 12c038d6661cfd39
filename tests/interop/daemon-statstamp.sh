#!/bin/bash
# vmfence - tests/interop/daemon-statstamp.sh: with privilege separation,
# the network process gives a status again from the executor's earlier
# answer while the status stamp holds (lib/statstamp.h,
# daemon/privsep/stampcache.c).  That must never outlive what it stands
# for.  Our fence_virtd (tcp, libvirt backend) on a REAL libvirtd serving
# the test driver (libvirt-lab.md: an unprivileged session daemon in the
# test directory), asked by the REFERENCE agent:
#   - repeated statuses are answered, most of them without the executor
#     (its debug lines count the ones it answered);
#   - a domain destroyed and started with virsh, outside the daemon: the
#     status follows within the event delay (bounded poll), then stays;
#   - off/on through the daemon: the very next status says so, never the
#     state before the operation;
#   - libvirtd killed: statuses fail (never "on") from the first failure on.
# Faked: the hypervisor (libvirt's test driver inside a real libvirtd).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vfd_need "$REF_AGENT"
vft_need_root
vft_need_cmd /usr/sbin/libvirtd setpriv virsh

D="$VFT_TMP"
vft_libvirtd_prepare "$D/lvd"
if ! vft_libvirtd_start; then
    sed 's/^/    libvirtd: /' "$D/lvd/libvirtd.log" | tail -20
    vft_skip "libvirtd does not start here"
fi
vft_ok "libvirtd (pid $VFT_LVD_PID) serves the test driver"
VFD_URI=$VFT_LVD_URI
KEY="$D/key"; vft_gen_key "$KEY" 512
PORT=$(vfd_free_port) || vft_skip "no free port"
vfd_write_conf "$D/d.conf" "$(vfd_tcp_block "$PORT" "$KEY")"
sed -i "s|^\tbackend = \"libvirt\";|\tbackend = \"libvirt\";\n\tprivsep = \"yes\";\n\tprivsep_chroot = \"$D/empty\";|" \
    "$D/d.conf"
vfd_start DPID "$D/d.conf" || { vft_fail "daemon start"; vft_finish; }
vft_ok "fence_virtd started with privilege separation (pid $DPID)"

lv() { timeout 20 virsh -q -c "$VFD_URI" "$@"; }
ref() { timeout 30 "$REF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" "$@"; }
# st: the status of "test" as the reference agent's exit code (0 on, 2 off, 1 failed)
st() { ref -o status -n test >/dev/null 2>&1; echo $?; }
# executor_answers: the statuses of "test" the executor answered so far
executor_answers() { grep -c "privsep: status 'test' for" "$VFD_LOG"; }
# poll_until RC: status until it is RC (at most 100 x 50 ms); prints the tries, 0 if never
poll_until() {
    local i
    for i in $(seq 1 100); do
        [ "$(st)" = "$1" ] && { echo "$i"; return 0; }
        sleep 0.05
    done
    echo 0
}
# all_are RC N: N statuses in a row, each RC
all_are() {
    local i
    for i in $(seq 1 "$2"); do [ "$(st)" = "$1" ] || return 1; done
}

# ---- repeated statuses: most never reach the executor -------------------------------
vft_check "status of a running domain: on" [ "$(st)" = 0 ]
e0=$(executor_answers)
all_ok=true
for _ in $(seq 1 20); do [ "$(st)" = 0 ] || all_ok=false; done
e1=$(executor_answers)
vft_check "20 statuses: all on" $all_ok
vft_check "the executor answered the first ($e0 so far: its lines are counted)" [ "$e0" -ge 1 ]
vft_check "the executor answered $((e1 - e0)) of 20 (the network process the rest)" \
    [ $((e1 - e0)) -lt 15 ]

# ---- changed outside the daemon: the status follows ------------------------------------
lv destroy test >/dev/null
n=$(poll_until 2)
vft_check "virsh destroy: status off after $n tries" [ "$n" -gt 0 ]
vft_check "... and stays off (10 statuses)" all_are 2 10
lv start test >/dev/null
n=$(poll_until 0)
vft_check "virsh start: status on after $n tries" [ "$n" -gt 0 ]
vft_check "... and stays on (10 statuses)" all_are 0 10

# ---- off/on through the daemon: the next status says so at once ------------------------
for round in 1 2 3; do
    all_are 0 3 >/dev/null        # stamped answers in the network process
    vft_expect_rc "round $round: off through the daemon" 0 ref -o off -n test
    vft_check "round $round: the next status is off" [ "$(st)" = 2 ]
    vft_expect_rc "round $round: on through the daemon" 0 ref -o on -n test
    vft_check "round $round: the next status is on" [ "$(st)" = 0 ]
done

# ---- libvirtd gone: failures, never "on" once one failed ---------------------------------
all_are 0 3 >/dev/null
kill -KILL "$VFT_LVD_PID"
wait "$VFT_LVD_PID" 2>/dev/null
n=$(poll_until 1)
vft_check "libvirtd killed: status fails after $n tries" [ "$n" -gt 0 ]
vft_check "... and keeps failing (5 statuses)" all_are 1 5
vfd_stop "$DPID"
vft_finish
