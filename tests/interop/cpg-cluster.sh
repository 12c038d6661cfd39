#!/bin/bash
# vmfence - tests/interop/cpg-cluster.sh: our fence_virtd with the "cpg"
# backend on a real two-node corosync cluster built from namespaces.
#
# Layout (all names carry this shell's PID, nothing touches the host netns):
#   vft-cpg-sw-PID   bridge br0                          ("the switch")
#   vft-cpg-n1-PID   eth0 10.213.91.1/24, corosync (nodeid 1), our fence_virtd
#   vft-cpg-n2-PID   eth0 10.213.91.2/24, corosync (nodeid 2), our fence_virtd
# Each node also has a pinned mount namespace with a private /run,
# /etc/corosync, /var/lib/corosync and a tmpfs on /dev/shm: corosync refuses
# a second instance per /run, and libqb IPC between corosync and its clients
# needs a shared /dev/shm and netns (abstract sockets) -- see cluster-lab.md.
# Processes of a node are run with nsenter --net --mount.
#
# Faked: the hypervisors.  Each fence_virtd uses the libvirt test driver
# (test:///FILE) with its own domains gI-a (running) and gI-b (shut off) and
# UUIDs that differ per node.  The test driver keeps state per connection,
# so every state change is observed through the daemons.
#
# The client is the reference agent /usr/sbin/fence_virt in TCP mode
# (-T 127.0.0.1 -p 1230) inside n1, so requests for g2-* are routed through
# CPG to n2's daemon.  Checks: status/off/on/reboot of a remote and a local
# domain, list shows all four once, unknown domains fail (exit 1, never 0 or
# 2), after n2's daemon is killed requests for g2-a fail at once (owner lost,
# no Pacemaker fencer to confirm its host fenced), after n1's
# corosync is killed monitor and requests fail on n1.
#
# Skips (77) without root, corosync, nsenter/unshare, the reference agent or
# a fence_virtd built with the cpg backend.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/nslab.sh"

vft_need_root
vft_need_cmd corosync corosync-cpgtool nsenter unshare ip "$REF_AGENT"
[ -x "$VF_DAEMON" ] || vft_skip "fence_virtd not built ($VF_DAEMON)"
"$VF_DAEMON" -l 2>/dev/null | grep -qw cpg || vft_skip "fence_virtd was built without the cpg backend"

SW=vft-cpg-sw-$$
N1=vft-cpg-n1-$$
N2=vft-cpg-n2-$$
NET=10.213.91
PORT=1230
KEY=$VFT_TMP/key
PINS=$VFT_TMP/pins
PIDS=()

uuid_of() { printf '5ca1ab1e-0000-4000-800%d-%012d' "$1" "$2"; }

# domains_xml FILE NODE: gNODE-a running, gNODE-b shut off
domains_xml() {
    local f=$1 n=$2
    cat >"$f" <<EOX
<node>
  <domain type="test" xmlns:test="http://libvirt.org/schemas/domain/test/1.0">
    <name>g$n-a</name><uuid>$(uuid_of "$n" 1)</uuid>
    <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>
  </domain>
  <domain type="test" xmlns:test="http://libvirt.org/schemas/domain/test/1.0">
    <name>g$n-b</name><uuid>$(uuid_of "$n" 2)</uuid>
    <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
</node>
EOX
}

# nsx I CMD...: run CMD in node I's network and mount namespaces
nsx() {
    local i=$1; shift
    nsenter --net="/run/netns/vft-cpg-n$i-$$" --mount="$PINS/n$i.mnt" "$@"
}

# stop everything we started, in parallel, bounded; then unpin and delete
stop_all() {
    local p i
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for i in $(seq 1 60); do
        local alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    PIDS=()
}
cleanup_ns() {
    local ns
    for ns in "$N1" "$N2" "$SW"; do vft_netns_pids_kill "$ns"; done
    umount "$PINS/n1.mnt" 2>/dev/null
    umount "$PINS/n2.mnt" 2>/dev/null
    umount "$PINS" 2>/dev/null
    for ns in "$N1" "$N2" "$SW"; do ip netns del "$ns" 2>/dev/null; done
}
vft_on_exit cleanup_ns
vft_on_exit stop_all

# ---- namespaces -------------------------------------------------------------
vft_gen_key "$KEY" 256
mkdir -p "$PINS"
mount --bind "$PINS" "$PINS" && mount --make-private "$PINS" || vft_skip "cannot make a private mount for the namespace pins"
nslab_switch "$SW" || vft_skip "cannot create network namespace '$SW'"
for i in 1 2; do
    nslab_attach "$SW" "vft-cpg-n$i-$$" "p-n$i" "$NET.$i/24" ||
        vft_skip "cannot create network namespace 'vft-cpg-n$i-$$'"
    D=$VFT_TMP/n$i
    nslab_corosync_mounts "$PINS/n$i.mnt" "$D" 512m || vft_skip "cannot set up the mount namespace of node $i"
    nslab_corosync_conf "vftcpg$$" "$D/corosync.log" "n1=$NET.1" "n2=$NET.2" >"$D/etc/corosync.conf"
    domains_xml "$D/domains.xml" "$i"
    nslab_cpg_conf "$D/fence_virt.conf" "test://$D/domains.xml" "$PORT" "$KEY"
done

# ---- corosync ---------------------------------------------------------------
for i in 1 2; do
    # nsenter directly (not through a shell function) so that $! is corosync itself
    nsenter --net="/run/netns/vft-cpg-n$i-$$" --mount="$PINS/n$i.mnt" \
        corosync -f -c /etc/corosync/corosync.conf >"$VFT_TMP/n$i/corosync.out" 2>&1 &
    eval "COROSYNC_$i=$!"
    PIDS+=("$!")
done
for i in 1 2; do
    ok=0
    for _ in $(seq 1 100); do
        if nsx "$i" corosync-cpgtool >/dev/null 2>&1; then ok=1; break; fi
        sleep 0.1
    done
    if [ "$ok" = 1 ]; then
        vft_ok "corosync of n$i answers"
    else
        vft_fail "corosync of n$i does not answer"
        sed 's/^/    /' "$VFT_TMP/n$i/corosync.out" "$VFT_TMP/n$i/corosync.log" 2>/dev/null | tail -20
        vft_finish
    fi
done

# ---- our fence_virtd, one per node --------------------------------------------
for i in 1 2; do
    nsenter --net="/run/netns/vft-cpg-n$i-$$" --mount="$PINS/n$i.mnt" \
        "$VF_DAEMON" -F -d 2 -f "$VFT_TMP/n$i/fence_virt.conf" -p "$VFT_TMP/n$i/fvd.pid" \
        >"$VFT_TMP/n$i/fvd.log" 2>&1 &
    eval "FVD_$i=$!"
    PIDS+=("$!")
done
for i in 1 2; do
    if vft_wait_tcp 127.0.0.1 "$PORT" 10 "vft-cpg-n$i-$$"; then
        vft_ok "fence_virtd of n$i listens on 127.0.0.1:$PORT"
    else
        vft_fail "fence_virtd of n$i did not start"
        sed 's/^/    /' "$VFT_TMP/n$i/fvd.log" | tail -20
        vft_finish
    fi
done

# agent I ARGS...: the reference fence_virt in node I's netns
agent() {
    local i=$1; shift
    ip netns exec "vft-cpg-n$i-$$" timeout 40 "$REF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" -t 20 "$@"
}

# wait until n1 sees all four domains (both daemons joined and announced)
seen=0
for _ in $(seq 1 60); do
    out=$(agent 1 -o list 2>/dev/null)
    if [ "$(printf '%s\n' "$out" | grep -c '^g[12]-[ab] ')" = 4 ]; then seen=1; break; fi
    sleep 0.25
done
[ "$seen" = 1 ] || { vft_log "n1 never listed 4 domains; last list:"; printf '%s\n' "$out" >&2; }

# ---- list ---------------------------------------------------------------------
for i in 1 2; do
    if vft_expect_rc "list from n$i" 0 agent "$i" -o list; then
        names=$(awk '{print $1}' "$VFT_OUT" | tr '\n' ' ')
        if [ "$names" = "g1-a g1-b g2-a g2-b " ]; then
            vft_ok "list from n$i: all four domains, sorted, each once"
        else
            vft_fail "list from n$i: got '$names'"
            sed 's/^/    out: /' "$VFT_OUT"
        fi
        if grep -q "^g2-a .*$(uuid_of 2 1) on" "$VFT_OUT" && grep -q "^g1-b .*$(uuid_of 1 2) off" "$VFT_OUT"; then
            vft_ok "list from n$i: names, UUIDs and states"
        else
            vft_fail "list from n$i: wrong UUID/state"; sed 's/^/    out: /' "$VFT_OUT"
        fi
    fi
done
vft_expect_rc "monitor on n1" 0 agent 1 -o monitor

# ---- remote domain g2-a (routed to n2) and local g1-a ---------------------------
for d in g2-a g1-a; do
    vft_expect_rc "status $d (running)" 0 agent 1 -o status -n "$d"
    vft_expect_rc "off $d" 0 agent 1 -o off -n "$d"
    vft_expect_rc "status $d after off" 2 agent 1 -o status -n "$d"
    vft_expect_rc "off $d again (already off)" 0 agent 1 -o off -n "$d"
    vft_expect_rc "on $d" 0 agent 1 -o on -n "$d"
    vft_expect_rc "status $d after on" 0 agent 1 -o status -n "$d"
    vft_expect_rc "reboot $d" 0 agent 1 -o reboot -n "$d"
    vft_expect_rc "status $d after reboot" 0 agent 1 -o status -n "$d"
done
vft_expect_rc "status g2-b (remote, shut off)" 2 agent 1 -o status -n g2-b
vft_expect_rc "status of g2-a by UUID" 0 agent 1 -o status -n "$(uuid_of 2 1)"
vft_expect_rc "status g1-b from n2 (routed to n1)" 2 agent 2 -o status -n g1-b
if grep -q "node 1 asks for" "$VFT_TMP/n2/fvd.log" && grep -q "routed to node 2" "$VFT_TMP/n1/fvd.log"; then
    vft_ok "requests for g2-a went through CPG to n2's daemon"
else
    vft_fail "no trace of CPG routing in the daemon logs"
    grep -i cpg "$VFT_TMP/n1/fvd.log" "$VFT_TMP/n2/fvd.log" | tail -10 | sed 's/^/    /'
fi

# ---- unknown domains: failure, never success or "off" -----------------------------
for op in status off reboot on; do
    vft_expect_rc "$op of an unknown domain fails" 1 agent 1 -o "$op" -n no-such-vm
done

# ---- n2's daemon hangs (SIGSTOP): still a CPG member, but never answers -----------
# The reference waits forever here (D7); we must fail after reply_timeout (5 s).
kill -STOP "$FVD_2"
t0=$(date +%s)
vft_expect_rc "off g2-a while n2's daemon hangs fails" 1 agent 1 -o off -n g2-a
t1=$(date +%s)
if [ $((t1 - t0)) -ge 4 ] && [ $((t1 - t0)) -le 15 ]; then
    vft_ok "it failed after about reply_timeout ($((t1 - t0)) s)"
else
    vft_fail "it took $((t1 - t0)) s (expected about 5)"
fi
grep -q "no reply from node 2" "$VFT_TMP/n1/fvd.log" && vft_ok "n1 logged the missing reply" ||
    vft_fail "n1 did not log the missing reply"
kill -CONT "$FVD_2"
# n2 now runs the stale request; its late reply must be ignored, and n1 must work again
sleep 0.5
vft_expect_rc "status g2-a after n2's daemon resumed" 2 agent 1 -o status -n g2-a
vft_expect_rc "on g2-a after n2's daemon resumed" 0 agent 1 -o on -n g2-a

# ---- n2's daemon dies: its domains are "owner lost"; only the host cluster's ------
# fencer could confirm them off (issue 10), and this cluster runs no Pacemaker:
# every request for them fails at once, never a success
kill -TERM "$FVD_2" 2>/dev/null
for _ in $(seq 1 50); do kill -0 "$FVD_2" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$FVD_2" 2>/dev/null
t0=$(date +%s)
vft_expect_rc "status g2-a after n2's daemon died fails" 1 agent 1 -o status -n g2-a
vft_expect_rc "off g2-a after n2's daemon died fails (no false success)" 1 agent 1 -o off -n g2-a
vft_expect_rc "reboot g2-a after n2's daemon died fails" 1 agent 1 -o reboot -n g2-a
t1=$(date +%s)
if [ $((t1 - t0)) -le 30 ]; then vft_ok "those failures took $((t1 - t0)) s (bounded)"; else vft_fail "failures took $((t1 - t0)) s"; fi
vft_expect_rc "local g1-a still works on n1" 0 agent 1 -o status -n g1-a
grep -q "node 2 pid [0-9]* left group .* with 2 domain(s)" "$VFT_TMP/n1/fvd.log" &&
    vft_ok "n1 logged n2's domains as lost" || vft_fail "n1 did not log n2's domains as lost"
grep -Eq "of 'g2-a' \([0-9a-f-]+\) failed: .*(fencer|quorum)" "$VFT_TMP/n1/fvd.log" &&
    vft_ok "n1 logged why: no fencer / quorum to confirm node 2 fenced" ||
    vft_fail "n1 did not log the fencer reason"
# still offered to a guest cluster's dynamic list (its fencing waits for the host's)
if agent 1 -o list 2>/dev/null | grep -q '^g2-a'; then
    vft_ok "n2's lost domains stay in n1's list"
else
    vft_fail "n2's lost domains left n1's list"
fi

# ---- n1's corosync dies: n1 cannot know the cluster any more ---------------------
kill -KILL "$COROSYNC_1" 2>/dev/null
wait "$COROSYNC_1" 2>/dev/null
lost=0
for _ in $(seq 1 50); do
    grep -q "lost the connection to corosync" "$VFT_TMP/n1/fvd.log" && { lost=1; break; }
    sleep 0.1
done
[ "$lost" = 1 ] && vft_ok "n1's daemon noticed that corosync is gone" || vft_fail "n1's daemon did not notice the corosync loss"
vft_expect_rc "monitor on n1 without corosync fails" 1 agent 1 -o monitor
vft_expect_rc "status g1-a on n1 without corosync fails" 1 agent 1 -o status -n g1-a
if kill -0 "$FVD_1" 2>/dev/null; then vft_ok "n1's daemon keeps running"; else vft_fail "n1's daemon exited"; fi

# ---- corosync comes back: n1's daemon reconnects and rejoins by itself ------------
nsx 1 sh -c 'rm -f /dev/shm/qb-*' 2>/dev/null
nsenter --net="/run/netns/$N1" --mount="$PINS/n1.mnt" \
    corosync -f -c /etc/corosync/corosync.conf >>"$VFT_TMP/n1/corosync.out" 2>&1 &
PIDS+=("$!")
back=0
for _ in $(seq 1 150); do
    [ "$(grep -c "cpg backend: joined group 'vmfence'" "$VFT_TMP/n1/fvd.log")" -ge 2 ] && { back=1; break; }
    sleep 0.1
done
[ "$back" = 1 ] && vft_ok "n1's daemon rejoined after corosync restarted" ||
    vft_fail "n1's daemon did not rejoin within 15 s"
vft_expect_rc "monitor on n1 after the rejoin" 0 agent 1 -o monitor
vft_expect_rc "status g1-a on n1 after the rejoin" 0 agent 1 -o status -n g1-a

if [ "$VFT_FAIL" -gt 0 ]; then
    for i in 1 2; do
        echo "    --- n$i fence_virtd log (tail)"
        tail -n 25 "$VFT_TMP/n$i/fvd.log" | sed 's/^/    /'
    done
fi
stop_all
vft_finish
