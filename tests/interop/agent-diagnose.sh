#!/bin/bash
# vmfence - tests/interop/agent-diagnose.sh: `fence_xvm --diagnose` names the
# step that failed, against OUR fence_virtd (multicast listener, libvirt test
# driver), in two network namespaces this test creates (host "hv", guest "g",
# a veth pair, 10.80.N.0/24, multicast routes):
#   - everything works: each step reported, the answer counted;
#   - the host's firewall drops UDP 1229 (nft, else iptables; with neither,
#     a daemon on another port stands in): no call-back, no attempt seen;
#   - the guest's firewall drops TCP 1229 inbound: the host's attempt is seen
#     (packet socket, root) and blamed on this node's firewall; without
#     CAP_NET_RAW the agent says what it cannot tell apart;
#   - a wrong key: with signed requests the daemon drops them silently (the
#     diagnosis lists the key among the causes it cannot tell apart); with
#     hash none the call-back arrives and fails our challenge: key mismatch;
#   - denied by the host's groups: permission denied, with the group entry
#     to add.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vft_need_root
vfd_need ip "$VF_AGENT_XVM"

vfd_ns_bed dia d "10.80.$(($$ % 250 + 1))" 512 vm1:running vm2:off vm3:running
BADKEY="$VFT_TMP/badkey"; vft_gen_key "$BADKEY" 512
VFD_LISTENER=multicast
mcast_block() {   # [PORT] [HASH]
    printf '\tmulticast {\n\t\tkey_file = "%s";\n\t\tinterface = "%s";\n\t\tport = "%s";\n\t\thash = "%s";\n\t}\n' \
        "$KEY" "$VH" "${1:-1229}" "${2:-sha256}"
}
# xvm ARGS...: our fence_xvm in the guest, 3 s timeout, --diagnose
xvm() { ip netns exec "$GU" timeout 40 "$VF_AGENT_XVM" -t 3 --diagnose "$@"; }
# diag_has DESC PATTERN: the diagnosis (stderr) matches (grep -E)
diag_has() {
    if grep -Eq -- "$2" "$VFT_ERR"; then vft_ok "$1"; else
        vft_fail "$1: diagnosis lacks /$2/"; sed 's/^/    err: /' "$VFT_ERR"
    fi
}
diag_lacks() {
    if grep -Eq -- "$2" "$VFT_ERR"; then
        vft_fail "$1: diagnosis has /$2/"; sed 's/^/    err: /' "$VFT_ERR"
    else vft_ok "$1"; fi
}

# firewall TOOL: nft or iptables, whichever works in a namespace
FW=
if command -v nft >/dev/null && ip netns exec "$HV" nft list ruleset >/dev/null 2>&1; then
    FW=nft
elif command -v iptables >/dev/null && ip netns exec "$HV" iptables -L INPUT >/dev/null 2>&1; then
    FW=iptables
fi
# fw_drop NS PROTO PORT: drop inbound PROTO/PORT in namespace NS
fw_drop() {
    case $FW in
    nft)
        ip netns exec "$1" nft add table inet vft &&
        ip netns exec "$1" nft 'add chain inet vft input { type filter hook input priority 0; }' &&
        ip netns exec "$1" nft add rule inet vft input "$2" dport "$3" drop ;;
    iptables) ip netns exec "$1" iptables -I INPUT -p "$2" --dport "$3" -j DROP ;;
    esac
}
fw_flush() {
    case $FW in
    nft) ip netns exec "$1" nft delete table inet vft 2>/dev/null ;;
    iptables) ip netns exec "$1" iptables -F INPUT ;;
    esac
    return 0
}

# ---- everything works -----------------------------------------------------------------
vfd_write_conf "$VFT_TMP/m.conf" "$(mcast_block)"
vfd_start DPID "$VFT_TMP/m.conf" "$HV" || { vft_fail "daemon start"; vft_finish; }
vft_expect_rc "works: list exit 0" 0 xvm -k "$KEY" -o list
diag_has "works: request step with the address it was sent from" \
    "1\. request: sent [0-9]+ signed datagram\(s\) \(sha256\) to 225\.0\.0\.12 UDP 1229 from .*$NET\.2 \($VG\)"
diag_has "works: call-back passed our challenge" \
    "2\. call-back: fence_virtd at $NET\.1 connected to TCP port 1229 and answered our sha256 challenge correctly"
diag_has "works: answer counted" "3\. answer: a list of 3 domain\(s\): every step worked"
vft_expect_rc "works: status exit 0" 0 xvm -k "$KEY" -o status -H vm1
diag_has "works: status answer" "3\. answer: response 0: every step worked"

# ---- the host's firewall drops the request ------------------------------------------------
if [ -n "$FW" ]; then
    fw_drop "$HV" udp 1229 || vft_fail "host firewall rule ($FW)"
    HOSTCASE="host firewall ($FW) drops UDP 1229"
else
    # no packet filter here: a daemon on another port hears nothing either
    vfd_stop "$DPID"
    vfd_write_conf "$VFT_TMP/m2.conf" "$(mcast_block 1239)"
    vfd_start DPID "$VFT_TMP/m2.conf" "$HV" || vft_fail "daemon start (port 1239)"
    HOSTCASE="no nft/iptables: daemon on UDP 1239"
fi
vft_expect_rc "$HOSTCASE: exit 1" 1 xvm -k "$KEY" -o list
diag_has "$HOSTCASE: request was sent" "1\. request: sent [0-9]+ signed datagram"
diag_has "$HOSTCASE: no call-back and no attempt seen" \
    "2\. call-back: NONE: no host even tried to connect to TCP port 1229"
diag_has "$HOSTCASE: host firewall named with the port and IGMP" \
    "the host's firewall drops UDP 1229 or IGMP: on the host, firewall-cmd --permanent --add-port=1229/udp --add-protocol=igmp"
diag_has "$HOSTCASE: points to fence_virtd --check" "run fence_virtd --check"
diag_lacks "$HOSTCASE: guest firewall not blamed" "BLOCKED ON THIS NODE"
if [ -n "$FW" ]; then
    fw_flush "$HV"
else
    vfd_stop "$DPID"
    vfd_start DPID "$VFT_TMP/m.conf" "$HV" || vft_fail "daemon restart"
fi
vft_expect_rc "host firewall removed: works again" 0 xvm -k "$KEY" -o status -H vm1

# ---- the guest's firewall drops the call-back --------------------------------------------------
if [ -n "$FW" ]; then
    fw_drop "$GU" tcp 1229 || vft_fail "guest firewall rule ($FW)"
    vft_expect_rc "guest firewall: exit 1" 1 xvm -k "$KEY" -o list
    diag_has "guest firewall: the host's attempt seen and this node's firewall blamed" \
        "2\. call-back: BLOCKED ON THIS NODE: $NET\.1 tried to connect to TCP port 1229 \([0-9]+ attempt\(s\) seen arriving\)"
    diag_has "guest firewall: next step with the port" \
        "firewall-cmd --permanent --add-port=1229/tcp .*nft add rule inet filter input tcp dport 1229 accept"
    # without CAP_NET_RAW the attempt cannot be seen: say so, list both sides
    if command -v setpriv >/dev/null && ip netns exec "$GU" setpriv --bounding-set=-net_raw true 2>/dev/null; then
        vft_expect_rc "guest firewall, no CAP_NET_RAW: exit 1" 1 ip netns exec "$GU" \
            setpriv --bounding-set=-net_raw timeout 40 "$VF_AGENT_XVM" -t 3 --diagnose -k "$KEY" -o list
        diag_has "guest firewall, no CAP_NET_RAW: says what it cannot tell apart" \
            "2\. call-back: NONE arrived on TCP port 1229 .* either no fence_virtd accepted the request, or it could not connect back"
        diag_has "guest firewall, no CAP_NET_RAW: guest firewall among the causes" \
            "this node's firewall drops TCP 1229 inbound"
    else
        vft_skip_part "setpriv cannot drop CAP_NET_RAW here"
    fi
    fw_flush "$GU"
else
    vft_skip_part "neither nft nor iptables: guest firewall case not run"
fi

# ---- a wrong key ----------------------------------------------------------------------------------
# a fresh daemon: the one above may still retry its blocked call-backs, which
# would now reach the next agent (and fail its challenge: a key mismatch too,
# but not the case tested here)
vfd_stop "$DPID"
vfd_start DPID "$VFT_TMP/m.conf" "$HV" || vft_fail "daemon restart"
vft_expect_rc "wrong key (signed): exit 1" 1 xvm -k "$BADKEY" -o list
diag_has "wrong key (signed): no call-back; the key among the causes" \
    "the key or hash differ: fence_virtd drops a request whose signature does not verify"
vft_check "wrong key (signed): the daemon logged the bad signature" \
    vfd_log_has "key mismatch\|signature\|does not verify\|bad hash\|wrong key"
vfd_stop "$DPID"
vfd_write_conf "$VFT_TMP/nohash.conf" "$(mcast_block 1229 none)"
vfd_start DPID "$VFT_TMP/nohash.conf" "$HV" || vft_fail "daemon start (hash none)"
vft_expect_rc "wrong key (hash none): exit 1" 1 xvm -k "$BADKEY" -c none -o list
diag_has "wrong key (hash none): call-back arrived, key mismatch named" \
    "2\. call-back: KEY MISMATCH: [0-9]+ connection\(s\) to TCP port 1229 \(last from $NET\.1:[0-9]+\) answered our sha256 challenge wrongly"
diag_has "wrong key (hash none): next step names the key file" "next: copy the host's key file to $BADKEY"
vfd_stop "$DPID"

# ---- denied by the host's groups ------------------------------------------------------------------
vfd_write_conf "$VFT_TMP/groups.conf" "$(mcast_block)" "groups {
	group {
		name = \"others\";
		ip = \"10.255.255.9\";
		uuid = \"vm1\";
	}
}"
vfd_start DPID "$VFT_TMP/groups.conf" "$HV" || vft_fail "daemon start (groups)"
vft_expect_rc "groups deny: exit 3" 3 xvm -k "$KEY" -o status -H vm1
diag_has "groups deny: permission denied with our identity" \
    "3\. answer: PERMISSION DENIED by fence_virtd at $NET\.1.* \(identity $NET\.2, the call-back address\) act on 'vm1'"
diag_has "groups deny: the group entry to add" "ip = \"$NET\.2\"; uuid = \"vm1\";"
diag_has "groups deny: key reported as matching" "the key matches"
vfd_stop "$DPID"

vft_finish
