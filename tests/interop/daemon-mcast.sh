#!/bin/bash
# vmfence - tests/interop/daemon-mcast.sh: OUR fence_virtd's multicast
# listener with the REFERENCE fence_xvm (and ours if built).  Everything runs
# inside two network namespaces this test creates (hypervisor + guest, one
# veth pair, 10.78.N.0/24); multicast never touches the root namespace.
# The hypervisor is the libvirt test driver (test:///file.xml).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vft_need_root
vfd_need ip "$REF_AGENT_XVM"

vfd_ns_bed dmn d "10.78.$(($$ % 250 + 1))" 1024 vm1:running vm2:off vm3:running
U1=$(vft_uuid_of 1)
mcast_block() {   # HASH AUTH [INTERFACE]
    printf '\tmulticast {\n\t\tkey_file = "%s";\n\t\tinterface = "%s";\n\t\thash = "%s";\n\t\tauth = "%s";\n\t}\n' \
        "$KEY" "${3:-$VH}" "$1" "$2"
}
xvm() { ip netns exec "$GU" timeout 40 "$REF_AGENT_XVM" -k "$KEY" -t 10 "$@"; }
VFD_LISTENER=multicast

# ---- every action, minimum hash sha1, auth sha256 -------------------------------
vfd_write_conf "$VFT_TMP/m.conf" "$(mcast_block sha1 sha256)"
vfd_start DPID "$VFT_TMP/m.conf" "$HV" || { vft_fail "daemon start"; vft_finish; }
vfd_expect_cycle -H xvm
vfd_expect_out "status by UUID" 0 "Status: ON" xvm -o status -H "$U1"
vfd_expect_out "list" 0 "^vm2 .* off" xvm -o list
vfd_expect_out "list-status" 0 "^vm1 .*$U1 on" xvm -o list-status
vfd_expect_out "monitor" 0 "" xvm -o monitor
vfd_expect_out "null answers fail" 1 "" xvm -o null -H vm1
vfd_expect_out "unknown domain = 1 (not OFF)" 1 "" xvm -o status -H no-such-vm
for h in sha1 sha256 sha512; do
    vfd_expect_out "request hash $h accepted (minimum sha1)" 0 "Status: ON" \
        xvm -c "$h" -C sha256 -o status -H vm3
done
vft_check "identity is the packet's address" vfd_log_has "peer=$NET.2:1229"
# short and long datagrams are ignored, never parsed (D18)
if command -v python3 >/dev/null; then
    ip netns exec "$GU" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
for n in (100, 175, 177, 400):
    s.sendto(b"\x04\x00" + b"A" * (n - 2), ("225.0.0.12", 1229))
'
    vft_check "100-byte datagram ignored" vfd_log_has "100-byte datagram from"
    vft_check "400-byte datagram ignored" vfd_log_has "400-byte datagram from"
    vfd_expect_out "still serving after odd datagrams" 0 "Status: ON" xvm -o status -H vm1
    # a flood of well-formed but wrongly signed requests is filtered in the
    # listener: no worker thread (no request number) per datagram (R2 review)
    before=$(grep -o 'request [0-9]* peer' "$VFD_LOG" | awk '{print $2}' | sort -n | tail -1)
    ip netns exec "$GU" python3 -c '
import hashlib, os, socket, struct, sys
ip = socket.inet_aton(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
for i in range(300):
    head = struct.pack("<BBBB64s28sH6sII", 4, 2, 4, 0, b"vm1", ip, 1229,
                       os.urandom(6), 500000 + i, 2)
    d = hashlib.sha256(b"not-the-key" + head + b"\0" * 64).digest()
    s.sendto(head + d + b"\0" * 32, ("225.0.0.12", 1229))
' "$NET.2"
    vfd_expect_out "served after a wrong-key flood" 0 "Status: ON" xvm -o status -H vm1
    after=$(grep -o 'request [0-9]* peer' "$VFD_LOG" | awk '{print $2}' | sort -n | tail -1)
    if [ $((after - ${before:-0})) -lt 20 ]; then
        vft_ok "wrong-key flood never reached the workers ($before -> $after)"
    else
        vft_fail "wrong-key flood: $((after - ${before:-0})) requests numbered (one worker each)"
    fi
    vft_check "flood logged by the listener, rate limited" vfd_log_has "more dropped datagrams not logged" 3
    # a correctly signed request from the guest asking to be called back on
    # 127.0.0.1 must not make the daemon connect to its own loopback (R2)
    LP=$((20000 + RANDOM % 20000))
    ip netns exec "$HV" python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4); s.settimeout(0.2)
n = 0; end = time.time() + 3
print("ready", flush=True)
while time.time() < end:
    try:
        c, _ = s.accept(); n += 1; c.close()
    except OSError:
        time.sleep(0.05)
print("accepted=%d" % n, flush=True)' "$LP" >"$VFT_TMP/lo.out" 2>&1 &
    LOPID=$!
    for i in $(seq 1 30); do grep -q ready "$VFT_TMP/lo.out" && break; sleep 0.1; done
    ip netns exec "$GU" python3 -c '
import hashlib, os, socket, struct, sys
key = open(sys.argv[1], "rb").read(4096)
head = struct.pack("<BBBB64s28sH6sII", 4, 2, 4, 0, b"vm1", socket.inet_aton("127.0.0.1"),
                   int(sys.argv[2]), os.urandom(6), 777777, 2)
d = hashlib.sha256(key + head + b"\0" * 64).digest()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
s.sendto(head + d + b"\0" * 32, ("225.0.0.12", 1229))' "$KEY" "$LP"
    wait "$LOPID"
    grep -q "accepted=0" "$VFT_TMP/lo.out" && vft_ok "no call-back to the host's loopback for a remote datagram" || \
        { vft_fail "call-back to the host's loopback: $(cat "$VFT_TMP/lo.out")"; grep -a "127.0.0.1" "$VFD_LOG" | tail -5; }
    vft_check "loopback call-back refused in the log" vfd_log_has "unusable call-back address"
else
    vft_skip_part "python3 missing: odd-datagram, bad-signature flood and loopback call-back checks not run"
fi
vfd_stop "$DPID"

# ---- minimum sha512, auth sha512 ----------------------------------------------------
vfd_write_conf "$VFT_TMP/m2.conf" "$(mcast_block sha512 sha512)"
vfd_start DPID "$VFT_TMP/m2.conf" "$HV" || { vft_fail "daemon start (sha512)"; vft_finish; }
vfd_expect_out "sha512/sha512: status" 0 "Status: ON" xvm -c sha512 -C sha512 -o status -H vm1
vfd_expect_out "sha512/sha512: off" 0 "" xvm -c sha512 -C sha512 -o off -H vm3
vfd_expect_out "sha512/sha512: vm3 off" 2 "" xvm -c sha512 -C sha512 -o status -H vm3
vfd_expect_out "sha256 request too weak: times out" 1 "" \
    ip netns exec "$GU" timeout 20 "$REF_AGENT_XVM" -k "$KEY" -t 3 -c sha256 -C sha512 -o status -H vm1
vft_check "log names 'hash too weak'" vfd_log_has "hash too weak"
vfd_stop "$DPID"

# ---- IPv6: group ff05::3:1 on the same veth (addresses without DAD) -----------------
if ip -n "$HV" addr add fd78:$(($$ % 9000 + 1000))::1/64 dev "$VH" nodad 2>/dev/null &&
   ip -n "$GU" addr add fd78:$(($$ % 9000 + 1000))::2/64 dev "$VG" nodad 2>/dev/null &&
   ip -n "$HV" -6 route add ff05::/16 dev "$VH" 2>/dev/null &&
   ip -n "$GU" -6 route add ff05::/16 dev "$VG" 2>/dev/null; then
    printf -v V6BLOCK '\tmulticast {\n\t\tkey_file = "%s";\n\t\tinterface = "%s";\n\t\tfamily = "ipv6";\n\t}\n' "$KEY" "$VH"
    vfd_write_conf "$VFT_TMP/m6.conf" "$V6BLOCK"
    if vfd_start DPID "$VFT_TMP/m6.conf" "$HV"; then
        vfd_expect_out "IPv6: status" 0 "Status: ON" xvm -i ipv6 -o status -H vm1
        vfd_expect_out "IPv6: off" 0 "" xvm -i ipv6 -o off -H vm3
        vfd_expect_out "IPv6: status off" 2 "Status: OFF" xvm -i ipv6 -o status -H vm3
        vfd_expect_out "IPv6: on" 0 "" xvm -i ipv6 -o on -H vm3
        vft_check "IPv6 identity logged" vfd_log_has "peer=\[fd78:"
        vfd_stop "$DPID"
    else
        vft_fail "daemon start (ipv6)"
    fi
else
    vft_skip_part "no IPv6 in the namespaces: IPv6 part not run"
fi

# ---- our fence_xvm ------------------------------------------------------------------
if [ -x "$VF_AGENT_XVM" ]; then
    vfd_start DPID "$VFT_TMP/m.conf" "$HV" || vft_fail "daemon start (ours)"
    our() { ip netns exec "$GU" timeout 40 "$VF_AGENT_XVM" -k "$KEY" -t 10 "$@"; }
    vfd_expect_out "our fence_xvm: status" 0 "Status: ON" our -o status -H vm1
    vfd_expect_out "our fence_xvm: off" 0 "" our -o off -H vm1
    vfd_expect_out "our fence_xvm: status off" 2 "Status: OFF" our -o status -H vm1
    vfd_expect_out "our fence_xvm: on" 0 "" our -o on -H vm1
    vfd_expect_out "our fence_xvm: list" 0 "^vm1 " our -o list
    vfd_stop "$DPID"
else
    vft_skip_part "our fence_xvm not built ($VF_AGENT_XVM): those checks not run"
fi

# ---- dedupe: a guest with two addresses sends every request twice ----------------------
ip -n "$GU" addr add "$NET.3/24" dev "$VG"
vfd_start DPID "$VFT_TMP/m.conf" "$HV" || vft_fail "daemon start (dedupe)"
vfd_expect_out "two copies: off" 0 "" xvm -o off -H vm1
vfd_expect_out "two copies: on" 0 "" xvm -o on -H vm1
# executed = an audit line for it that is not a dropped copy (a copy whose
# connect-back the client refused may be logged, rate limited, as dropped)
n_off=$(grep "action=off target='vm1'" "$VFD_LOG" | grep -vc "result=dropped")
[ "$n_off" = 1 ] && vft_ok "off executed once" || { vft_fail "off executed $n_off times"; grep request "$VFD_LOG"; }
vft_check "second copy dropped as duplicate" vfd_log_has "duplicate of a request"
vfd_stop "$DPID"

# ---- a copy whose call-back hangs must not hold up the reachable copy (R2 review) --------
# The guest's first address is silently dropped on the way back (routed into
# a veth pair that loops back into the hypervisor namespace, with a static
# neighbour entry no interface answers to), so its copy's call-back connect
# hangs for 5 s.  That copy used to reserve the dedupe entry, and the
# reachable copy arriving meanwhile was dropped as a duplicate, round after
# round, until fence_xvm gave up.
UNR=10.79.$(($$ % 250 + 1)).2
DUM=vfdd$(($$ % 100000))
ip -n "$GU" addr flush dev "$VG"
ip -n "$GU" addr add "$UNR/32" dev "$VG"
ip -n "$GU" addr add "$NET.2/24" dev "$VG"
ip -n "$HV" link add "$DUM" type veth peer name "${DUM}p" && \
    ip -n "$HV" link set "$DUM" up && ip -n "$HV" link set "${DUM}p" up && \
    ip -n "$HV" route add "$UNR/32" dev "$DUM" && \
    ip -n "$HV" neigh replace "$UNR" lladdr 02:00:00:00:00:99 dev "$DUM" nud permanent || \
    vft_fail "cannot build the black hole for $UNR"
ip netns exec "$HV" sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$VH.rp_filter=0"
vfd_start DPID "$VFT_TMP/m.conf" "$HV" || vft_fail "daemon start (unreachable copy)"
for i in 1 2; do
    vfd_expect_out "one call-back address hangs: status #$i" 0 "Status: ON" \
        ip netns exec "$GU" timeout 40 "$REF_AGENT_XVM" -k "$KEY" -t 6 -o status -H vm1
done
vfd_stop "$DPID"

# ---- a nonexistent interface is an error, not "all interfaces" --------------------------
vfd_write_conf "$VFT_TMP/m3.conf" "$(mcast_block sha256 sha256 nosuchif0)"
vft_expect_rc "nonexistent interface refuses to start" 1 \
    ip netns exec "$HV" timeout 10 "$VF_DAEMON" -F -f "$VFT_TMP/m3.conf" -p "$VFT_TMP/m3.pid"
grep -q "nosuchif0" "$VFT_ERR" && vft_ok "error names the interface" || \
    { vft_fail "error names the interface"; cat "$VFT_ERR"; }

vft_finish
