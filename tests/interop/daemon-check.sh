#!/bin/bash
# vmfence - tests/interop/daemon-check.sh: `fence_virtd --check`, the host
# self-test, in a network namespace this test creates ("hv", a veth to a
# second namespace "g", 10.79.N.0/24, a multicast route): everything ok;
# the port in use by another process, and by our own running daemon (found
# through its pid file: not an error, and the daemon keeps serving), also
# with privilege separation (privsep = "yes": the sockets belong to the
# daemon's network process, a child; skipped with the reason when privsep
# cannot start here); a world-readable key; an unreachable backend URI
# (alone, and as one of two); a group naming an unknown VM; no route for the
# multicast group.  The hypervisor is the libvirt test driver.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vft_need_root
vfd_need ip python3

HV=vft-chk-hv-$$; GU=vft-chk-g-$$; BARE=vft-chk-b-$$
VH=vfch$(($$ % 100000)); VG=vfcg$(($$ % 100000))
NET=10.79.$(($$ % 250 + 1))
for ns in "$HV" "$GU" "$BARE"; do vft_netns_add "$ns" || vft_skip "cannot create network namespaces"; done
vft_on_exit "vft_netns_pids_kill $HV; vft_netns_pids_kill $GU; vft_netns_pids_kill $BARE"
ip link add "$VH" netns "$HV" type veth peer name "$VG" netns "$GU" || vft_skip "cannot create veth"
ip -n "$HV" addr add "$NET.1/24" dev "$VH"; ip -n "$HV" link set "$VH" up
ip -n "$GU" addr add "$NET.2/24" dev "$VG"; ip -n "$GU" link set "$VG" up
ip -n "$HV" route add 224.0.0.0/4 dev "$VH"

vft_testdriver_xml "$VFT_TMP/node.xml" vm1:running vm2:off vm3:running
VFD_URI="test://$VFT_TMP/node.xml"
KEY="$VFT_TMP/key"; vft_gen_key "$KEY" 512
TKEY="$VFT_TMP/tcp.key"; vft_gen_key "$TKEY" 512
PORT=1229
PIDF="$VFT_TMP/check.pid"

blocks() {   # [TCP-KEY] [MCAST-INTERFACE]
    printf '\tmulticast {\n\t\tkey_file = "%s";\n\t\tinterface = "%s";\n\t}\n' "$KEY" "${2-$VH}"
    printf '\ttcp {\n\t\taddress = "%s.1";\n\t\tport = "%s";\n\t\tkey_file = "%s";\n\t}\n' \
        "$NET" "$PORT" "${1:-$TKEY}"
}
VFD_LISTENER="multicast,tcp"
vfd_write_conf "$VFT_TMP/ok.conf" "$(blocks)"

# check NS CONF [ARGS]: run --check in a namespace; report in $VFT_OUT
check() {
    local ns=$1 conf=$2; shift 2
    ip netns exec "$ns" timeout 60 "$VF_DAEMON" --check -f "$conf" -p "$PIDF" "$@"
}
# out_has DESC PATTERN: the last report matches (grep -E)
out_has() {
    if grep -Eq -- "$2" "$VFT_OUT"; then vft_ok "$1"; else
        vft_fail "$1: report lacks /$2/"; sed 's/^/    out: /' "$VFT_OUT"
    fi
}

# ---- everything ok ------------------------------------------------------------------
vfd_expect_out "ok: exit 0" 0 "" check "$HV" "$VFT_TMP/ok.conf"
out_has "ok: config line" "^ok +config: .*listeners multicast,tcp, backend libvirt"
out_has "ok: key checked" "^ok +key multicast: $KEY \(512 bytes, mode 0600"
out_has "ok: tcp port can be bound" "^ok +listener tcp: TCP $NET.1:$PORT can be bound"
out_has "ok: udp port can be bound" "^ok +listener multicast: UDP port $PORT can be bound"
out_has "ok: multicast interface by name and ifindex, with its address" \
    "^ok +multicast interface: 225.0.0.12 UDP $PORT will be received on $VH \(ifindex [0-9]+, addresses $NET.1\)"
out_has "ok: backend lists the domains" \
    "^ok +backend libvirt: 'test://$VFT_TMP/node.xml' answers: 3 domains \(vm1, vm2, vm3\)"
out_has "ok: firewall next steps for host and guests" \
    "firewall-cmd --permanent --add-port=$PORT/udp --add-protocol=igmp"
out_has "ok: nft example" "nft add rule inet filter input tcp dport $PORT accept"
out_has "ok: summary without warnings or errors" "^[0-9]+ ok, 0 warnings, 0 errors$"
vft_check "ok: --help mentions --check" sh -c "'$VF_DAEMON' --help | grep -q -- '--check '"

# ---- the ports in use by another process ------------------------------------------------
ip netns exec "$HV" python3 -c '
import socket, sys, time
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((sys.argv[1], int(sys.argv[2]))); t.listen(1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", int(sys.argv[2])))
time.sleep(60)' "$NET.1" "$PORT" &
SQUAT=$!; vft_on_exit "vft_kill_pid $SQUAT"
for _ in $(seq 1 50); do ip netns exec "$HV" ss -Hltn "sport = :$PORT" | grep -q . && break; sleep 0.1; done
vfd_expect_out "port in use: exit 1" 1 "" check "$HV" "$VFT_TMP/ok.conf"
out_has "port in use: tcp names the process" \
    "^error +listener tcp: TCP $NET.1:$PORT is in use by another process: pid $SQUAT \(python3\)"
out_has "port in use: udp names the process" \
    "^error +listener multicast: UDP port $PORT is in use by another process: pid $SQUAT"
out_has "port in use: next step" "next: stop that process, or choose another port"
vft_kill_pid "$SQUAT"

# ---- the ports in use by our running daemon: fine, and it keeps serving ---------------------
if vfd_start DPID "$VFT_TMP/ok.conf" "$HV" -p "$PIDF"; then
    vfd_expect_out "running daemon: exit 0" 0 "" check "$HV" "$VFT_TMP/ok.conf"
    out_has "running daemon: found through the pid file" "^ok +daemon: fence_virtd runs \(pid $DPID"
    out_has "running daemon: tcp port served by it" \
        "^ok +listener tcp: .* in use by the running fence_virtd \(pid $DPID"
    out_has "running daemon: udp port served by it" \
        "^ok +listener multicast: .* in use by the running fence_virtd \(pid $DPID"
    if [ -x "$VF_AGENT" ]; then
        vfd_expect_out "running daemon: still serves after --check" 0 "Status: ON" \
            ip netns exec "$GU" timeout 30 "$VF_AGENT" -T "$NET.1" -p "$PORT" -k "$TKEY" \
            -o status -n vm1
    fi
    vft_check "running daemon: still running" kill -0 "$DPID"
    vfd_stop "$DPID"
else
    vft_fail "daemon start"
fi

# ---- the same with privilege separation: the ports belong to the network process ------------
# (fence_virtd --privsep-net, a child of the pid file's process): still the running daemon's
sed "s|^\tbackend = \"libvirt\";|&\n\tprivsep = \"yes\";\n\tprivsep_chroot = \"$VFT_TMP/empty\";|" \
    "$VFT_TMP/ok.conf" >"$VFT_TMP/privsep.conf"
if ! vfd_start DPID "$VFT_TMP/privsep.conf" "$HV" -p "$PIDF"; then
    vft_skip_part "privsep: the daemon does not start with privsep = yes here:" \
        "$(grep -m1 -i 'privsep\|error' "$VFD_LOG" || echo 'no reason logged')"
elif ! NPID=$(pgrep -P "$DPID" -f -- '--privsep-net' | head -1) || [ -z "$NPID" ]; then
    vft_skip_part "privsep: no network process started here:" \
        "$(grep -m1 -i 'privsep\|privilege' "$VFD_LOG" || echo 'no reason logged')"
    vfd_stop "$DPID"
else
    vft_ok "privsep: daemon $DPID runs its network process $NPID"
    vfd_expect_out "privsep: exit 0" 0 "" check "$HV" "$VFT_TMP/privsep.conf"
    out_has "privsep: found through the pid file" "^ok +daemon: fence_virtd runs \(pid $DPID"
    out_has "privsep: tcp port served by its network process" \
        "^ok +listener tcp: TCP $NET.1:$PORT is in use by the running fence_virtd \(pid $DPID, pid file [^)]*\) through its network process \(pid $NPID"
    out_has "privsep: udp port served by its network process" \
        "^ok +listener multicast: UDP port $PORT is in use by the running fence_virtd \(pid $DPID, pid file [^)]*\) through its network process \(pid $NPID"
    out_has "privsep: no warnings, no errors" "^[0-9]+ ok, 0 warnings, 0 errors$"
    if [ -x "$VF_AGENT" ]; then
        vfd_expect_out "privsep: still serves after --check" 0 "Status: ON" \
            ip netns exec "$GU" timeout 30 "$VF_AGENT" -T "$NET.1" -p "$PORT" -k "$TKEY" \
            -o status -n vm1
    fi
    vfd_stop "$DPID"
fi

# ---- a world-readable key: warning with the fix, exit 0 -------------------------------------
cp "$TKEY" "$VFT_TMP/open.key"; chmod 0644 "$VFT_TMP/open.key"
vfd_write_conf "$VFT_TMP/open.conf" "$(blocks "$VFT_TMP/open.key")"
vfd_expect_out "world-readable key: exit 0 (a warning)" 0 "" check "$HV" "$VFT_TMP/open.conf"
out_has "world-readable key: warned" \
    "^warning +key tcp: $VFT_TMP/open.key \(512 bytes\) is world-readable \(mode 0644\)"
out_has "world-readable key: next step" "next: chmod 600 $VFT_TMP/open.key"

# ---- an unreachable backend URI --------------------------------------------------------------
VFD_URI="test://$VFT_TMP/no-such-node.xml"
vfd_write_conf "$VFT_TMP/down.conf" "$(blocks)"
VFD_URI="test://$VFT_TMP/node.xml"
vfd_expect_out "backend down: exit 1" 1 "" check "$HV" "$VFT_TMP/down.conf"
out_has "backend down: error names the URI" \
    "^error +backend libvirt: 'test://$VFT_TMP/no-such-node.xml' did not answer"
out_has "backend down: next step" "next: is libvirtd/virtqemud running"
# two URIs, one down: each checked alone
sed "s|uri = \"test://$VFT_TMP/node.xml\";|&\n\t\turi1 = \"test://$VFT_TMP/no-such-node.xml\";|" \
    "$VFT_TMP/ok.conf" >"$VFT_TMP/two.conf"
vfd_expect_out "one of two URIs down: exit 1" 1 "" check "$HV" "$VFT_TMP/two.conf"
out_has "one of two URIs down: the good URI alone is ok" \
    "^ok +backend libvirt uri: 'test://$VFT_TMP/node.xml' answers: 3 domains"
out_has "one of two URIs down: the bad URI is named" \
    "^error +backend libvirt uri1: 'test://$VFT_TMP/no-such-node.xml' did not answer"

# ---- a group naming an unknown VM -------------------------------------------------------------
vfd_write_conf "$VFT_TMP/groups.conf" "$(blocks)" "groups {
	group {
		name = \"g1\";
		ip = \"$NET.2\";
		uuid = \"vm1\";
		uuid = \"$(vft_uuid_of 3)\";
		uuid = \"ghost\";
	}
}"
vfd_expect_out "unknown VM in a group: exit 0 (a warning)" 0 "" check "$HV" "$VFT_TMP/groups.conf"
out_has "unknown VM in a group: named with its line" \
    "^warning +group g1: 'ghost' \(line [0-9]+\) matches no domain the backend lists"
if grep -q "'vm1'.*matches no domain\|$(vft_uuid_of 3)'.*matches no domain" "$VFT_OUT"; then
    vft_fail "known names/UUIDs reported as unknown"
else
    vft_ok "known name and UUID not reported"
fi

# ---- multicast without interface and without a route ------------------------------------------
VFD_LISTENER=multicast
vfd_write_conf "$VFT_TMP/noroute.conf" \
    "$(printf '\tmulticast {\n\t\tkey_file = "%s";\n\t}\n' "$KEY")"
vfd_expect_out "no multicast route: exit 1" 1 "" check "$BARE" "$VFT_TMP/noroute.conf"
out_has "no multicast route: error" "^error +multicast route: no route for 225.0.0.12"
out_has "no multicast route: next step" "next: set listeners/multicast/interface .* ip route add 224.0.0.0/4 dev IFACE"
# ... and with the route: the interface the kernel picks is named
vfd_expect_out "multicast by route: exit 0" 0 "" check "$HV" "$VFT_TMP/noroute.conf"
out_has "multicast by route: the routed interface is named" \
    "^ok +multicast route: 225.0.0.12 is routed via $VH \(source $NET.1\)"

# ---- a config that does not parse ------------------------------------------------------------
echo 'fence_virtd { listener = ' >"$VFT_TMP/broken.conf"
vfd_expect_out "unparsable config: exit 1" 1 "^error  *config: " check "$HV" "$VFT_TMP/broken.conf"

vft_finish
