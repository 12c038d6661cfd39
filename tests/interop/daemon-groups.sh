#!/bin/bash
# vmfence - tests/interop/daemon-groups.sh: the groups ACL of OUR fence_virtd
# (tcp listener, libvirt test driver) with the REFERENCE fence_virt -T.
# The requester is always 127.0.0.1; "outside the group" is modelled by
# groups that list another address (127.0.0.2).  Loopback only.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vfd_need "$REF_AGENT"

U1=$(vft_uuid_of 1); U2=$(vft_uuid_of 2)
# VM1 (4th domain) differs from vm1 only in case: libvirt names are
# case-sensitive, so a group naming vm1 must not grant VM1
vft_testdriver_xml "$VFT_TMP/node.xml" vm1:running vm2:running vm3:off VM1:running
VFD_URI="test://$VFT_TMP/node.xml"
KEY="$VFT_TMP/key"; vft_gen_key "$KEY" 256
PORT=$(vfd_free_port) || vft_skip "no free port"
ref() { timeout 30 "$REF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" "$@"; }
BLOCK=$(vfd_tcp_block "$PORT" "$KEY")

# ---- group naming vm1 by NAME only; vm3 by UUID only ----------------------------
vfd_write_conf "$VFT_TMP/g.conf" "$BLOCK" "groups {
	group {
		name = \"mine\";
		ip = \"127.0.0.1\";
		uuid = \"vm1\";
		uuid = \"$(vft_uuid_of 3)\";
	}
	group {
		name = \"theirs\";
		ip = \"127.0.0.2\";
		uuid = \"vm2\";
	}
}"
vfd_start DPID "$VFT_TMP/g.conf" || { vft_fail "daemon start"; vft_finish; }
vfd_expect_out "name-only group: request by name" 0 "Status: ON" ref -o status -n vm1
vfd_expect_out "name-only group: request by UUID (D29)" 0 "Status: ON" ref -o status -n "$U1"
vfd_expect_out "uuid-only group: request by name" 2 "Status: OFF" ref -o status -n vm3
vfd_expect_out "other group's VM: permission denied" 3 "" ref -o off -n vm2
vfd_expect_out "other group's VM by UUID: denied" 3 "" ref -o status -n "$U2"
vfd_expect_out "unknown VM: denied before the backend" 3 "" ref -o status -n nosuch
vfd_expect_out "list filtered" 0 "^vm1 " ref -o list
if grep -q '^vm2 ' "$VFT_OUT"; then vft_fail "list shows vm2"; else vft_ok "list hides vm2"; fi
grep -q '^vm3 ' "$VFT_OUT" && vft_ok "list shows vm3 (UUID entry)" || vft_fail "list lacks vm3"
grep -q '^VM1 ' "$VFT_OUT" && vft_fail "list shows VM1 (case-folded match)" || \
    vft_ok "list hides VM1"
vfd_expect_out "other VM differing only in case: off denied" 3 "" ref -o off -n VM1
vft_check "VM1 denial logged before the backend" vfd_log_has "target='VM1' result=perm"
vfd_expect_out "monitor is not subject to groups" 0 "" ref -o monitor
vft_check "denial logged as perm" vfd_log_has "target='vm2' result=perm"
vfd_stop "$DPID"

# ---- requester in no group --------------------------------------------------------
vfd_write_conf "$VFT_TMP/g2.conf" "$BLOCK" "groups {
	group {
		ip = \"127.0.0.2\";
		uuid = \"vm1\";
	}
}"
vfd_start DPID "$VFT_TMP/g2.conf" || { vft_fail "daemon start (g2)"; vft_finish; }
vfd_expect_out "outsider: status denied (exit 3)" 3 "" ref -o status -n vm1
vfd_expect_out "outsider: off denied (exit 3)" 3 "" ref -o off -n vm1
vfd_expect_out "outsider: list is empty" 0 "" ref -o list
if [ -s "$VFT_OUT" ]; then vft_fail "outsider list not empty"; cat "$VFT_OUT"; else vft_ok "outsider list empty"; fi
vfd_stop "$DPID"

# ---- a malformed group is a configuration error, never dropped (D33) ----------------
vfd_write_conf "$VFT_TMP/bad.conf" "$BLOCK" "groups {
	group {
		ip = \"127.0.0.2\";
		uuid = \"vm1\";
	}
	group {
		name = \"placeholder\";
	}
}"
LINE=$(grep -n 'name = "placeholder"' "$VFT_TMP/bad.conf" | cut -d: -f1)
LINE=$((LINE - 1))
vft_expect_rc "malformed group: daemon refuses to start" 1 \
    timeout 10 "$VF_DAEMON" -F -f "$VFT_TMP/bad.conf" -p "$VFT_TMP/bad.pid"
grep -q "bad.conf:$LINE" "$VFT_ERR" && vft_ok "message names file:line ($LINE)" || \
    { vft_fail "message names file:line $LINE"; cat "$VFT_ERR"; }
vft_expect_rc "malformed group: --check-config fails" 1 \
    "$VF_DAEMON" --check-config -f "$VFT_TMP/bad.conf"
grep -q "bad.conf:$LINE" "$VFT_ERR" && vft_ok "--check-config names file:line" || \
    { vft_fail "--check-config names file:line"; cat "$VFT_ERR"; }

vft_finish
