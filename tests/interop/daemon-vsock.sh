#!/bin/bash
# vmfence - tests/interop/daemon-vsock.sh: OUR fence_virtd vsock listener
# with the REFERENCE fence_virt -S.  This kernel has AF_VSOCK but no loopback
# transport, so both run under tests/shim/vsock-shim.so, an LD_PRELOAD FAKE
# mapping AF_VSOCK stream sockets onto AF_UNIX sockets in $VFT_VSOCK_DIR; the
# daemon sees the requester CID from $VFT_VSOCK_PEER_CID (default 3).  The
# hypervisor is the libvirt test driver.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vfd_need "$REF_AGENT"
SHIM=$VFT_BUILD/tests/shim/.libs/vsock-shim.so
[ -f "$SHIM" ] || vft_skip "vsock shim not built ($SHIM)"
export VFT_VSOCK_DIR=$VFT_TMP/vsock
mkdir -p "$VFT_VSOCK_DIR"
# an ASan-built daemon needs this to run with a preloaded shim
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

vft_testdriver_xml "$VFT_TMP/node.xml" vm1:running vm2:off
VFD_URI="test://$VFT_TMP/node.xml"
KEY="$VFT_TMP/key"; vft_gen_key "$KEY" 256
PORT=$((20000 + RANDOM % 20000))
VFD_LISTENER=vsock
vblock() { printf '\tvsock {\n\t\tport = "%s";\n\t\tkey_file = "%s";\n\t\thash = "%s";\n\t\tauth = "%s";\n\t}\n' \
    "$PORT" "$KEY" "${1:-sha256}" "${2:-sha256}"; }
ref() { LD_PRELOAD=$SHIM timeout 30 "$REF_AGENT" -S -p "$PORT" -k "$KEY" "$@"; }
start() { LD_PRELOAD=$SHIM vfd_start "$@"; }

vfd_write_conf "$VFT_TMP/v.conf" "$(vblock)"
start DPID "$VFT_TMP/v.conf" || { vft_fail "daemon start"; vft_finish; }
vfd_expect_cycle -n ref
vfd_expect_out "list" 0 "^vm2 .* off" ref -o list
vfd_expect_out "monitor" 0 "" ref -o monitor
vfd_expect_out "unknown domain = 1" 1 "" ref -o status -n nosuch
vfd_expect_out "too weak hash refused" 1 "" ref -c sha1 -o status -n vm1
vft_check "identity is the CID" vfd_log_has "peer=cid 3 "
vfd_stop "$DPID"

for h in sha1 sha512; do
    vfd_write_conf "$VFT_TMP/v-$h.conf" "$(vblock "$h" "$h")"
    start DPID "$VFT_TMP/v-$h.conf" || { vft_fail "daemon start ($h)"; continue; }
    vfd_expect_out "$h: status" 0 "Status: ON" ref -c "$h" -C "$h" -o status -n vm1
    vfd_stop "$DPID"
done

# groups: ip entries hold CIDs
vfd_write_conf "$VFT_TMP/g.conf" "$(vblock)" 'groups { group { ip = "3"; uuid = "vm1"; } }'
start DPID "$VFT_TMP/g.conf" || { vft_fail "daemon start (groups)"; vft_finish; }
vfd_expect_out "CID 3 may fence vm1" 0 "Status: ON" ref -o status -n vm1
vfd_expect_out "CID 3 may not fence vm2" 3 "" ref -o status -n vm2
vfd_stop "$DPID"
VFT_VSOCK_PEER_CID=4 start DPID "$VFT_TMP/g.conf" || { vft_fail "daemon start (cid 4)"; vft_finish; }
vfd_expect_out "CID 4 outside the group" 3 "" ref -o status -n vm1
vfd_stop "$DPID"

# several listeners in one daemon: listener = "tcp,vsock" (vmfence extension)
TPORT=$(vfd_free_port) || vft_skip "no free port"
VFD_LISTENER="tcp,vsock" vfd_write_conf "$VFT_TMP/multi.conf" "$(vblock)
$(vfd_tcp_block "$TPORT" "$KEY")"
start DPID "$VFT_TMP/multi.conf" || { vft_fail "daemon start (tcp,vsock)"; vft_finish; }
vfd_expect_out "tcp,vsock: request over vsock" 0 "Status: ON" ref -o status -n vm1
vfd_expect_out "tcp,vsock: request over tcp" 0 "Status: ON" \
    timeout 30 "$REF_AGENT" -T 127.0.0.1 -p "$TPORT" -k "$KEY" -o status -n vm1
vfd_expect_out "tcp,vsock: off over tcp, status over vsock" 0 "" \
    timeout 30 "$REF_AGENT" -T 127.0.0.1 -p "$TPORT" -k "$KEY" -o off -n vm1
vfd_expect_out "tcp,vsock: shared backend state" 2 "Status: OFF" ref -o status -n vm1
vfd_stop "$DPID"

if [ -x "$VF_AGENT" ]; then
    vfd_write_conf "$VFT_TMP/v.conf" "$(vblock)"
    start DPID "$VFT_TMP/v.conf" || vft_fail "daemon start (ours)"
    our() { LD_PRELOAD=$SHIM timeout 30 "$VF_AGENT" -S -p "$PORT" -k "$KEY" "$@"; }
    vfd_expect_out "our agent: status" 0 "Status: ON" our -o status -n vm1
    vfd_expect_out "our agent: list" 0 "^vm1 " our -o list
    vfd_stop "$DPID"
else
    vft_skip_part "our agent not built ($VF_AGENT): our-agent checks not run"
fi
vft_finish
