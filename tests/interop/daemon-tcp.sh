#!/bin/bash
# vmfence - tests/interop/daemon-tcp.sh: OUR fence_virtd (tcp listener,
# libvirt backend on the libvirt test driver, no hypervisor) driven by the
# REFERENCE agent /usr/sbin/fence_virt -T, then by our agent if built.
# Loopback only.  Nothing is faked except the hypervisor (test:///file.xml).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vfd_need "$REF_AGENT"

U1=$(vft_uuid_of 1)
vft_testdriver_xml "$VFT_TMP/node.xml" vm1:running vm2:off vm3:running
VFD_URI="test://$VFT_TMP/node.xml"
KEY="$VFT_TMP/key"; vft_gen_key "$KEY" 512
BADKEY="$VFT_TMP/badkey"; vft_gen_key "$BADKEY" 512
PORT=$(vfd_free_port) || vft_skip "no free port"

ref() { timeout 30 "$REF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" "$@"; }

# ---- every action with the default sha256/sha256 --------------------------
vfd_write_conf "$VFT_TMP/d.conf" "$(vfd_tcp_block "$PORT" "$KEY")"
vfd_start DPID "$VFT_TMP/d.conf" || { vft_fail "daemon start"; vft_finish; }

vfd_expect_cycle -n ref
vfd_expect_out "status by UUID" 0 "Status: ON" ref -o status -n "$U1"
vfd_expect_out "reboot vm2 (off) succeeds" 0 "" ref -o reboot -n vm2
vfd_expect_out "vm2 stays off after reboot" 2 "Status: OFF" ref -o status -n vm2
vfd_expect_out "list" 0 "^vm1 .*$U1 on" ref -o list
if [ "$(grep -c . "$VFT_OUT")" = 3 ] && grep -q '^vm2 .* off$' "$VFT_OUT"; then
    vft_ok "list has 3 domains, vm2 off"
else
    vft_fail "list content"; cat "$VFT_OUT"
fi
vfd_expect_out "list-status" 0 "^vm3 " ref -o list-status
vfd_expect_out "monitor" 0 "" ref -o monitor
vfd_expect_out "null answers fail (reference)" 1 "" ref -o null -n vm1
# never a false success: an unknown domain is a failure, not OFF (D5)
vfd_expect_out "status of unknown domain = 1, not 2" 1 "" ref -o status -n no-such-vm
vfd_expect_out "off of unknown domain = 1" 1 "" ref -o off -n no-such-vm
vfd_expect_out "stronger hash (sha512) accepted" 0 "Status: ON" ref -c sha512 -o status -n vm1
vfd_expect_out "too weak hash (sha1) denied" 1 "" ref -c sha1 -o status -n vm1
vft_check "log names 'hash too weak'" vfd_log_has "hash too weak"
vfd_expect_out "wrong key denied" 1 "" timeout 30 "$REF_AGENT" -T 127.0.0.1 -p "$PORT" \
    -k "$BADKEY" -o off -n vm1
vft_check "log names 'key mismatch'" vfd_log_has "key mismatch"
vfd_expect_out "vm1 still on after the denied off" 0 "Status: ON" ref -o status -n vm1
vfd_expect_out "auth algorithm mismatch denied" 1 "" ref -C sha1 -o off -n vm1
vft_check "audit line for every request" vfd_log_has \
    "request [0-9]* peer=127.0.0.1:[0-9]* listener=tcp action=off target='vm1' result=success duration_ms="

# ---- our agent against our daemon ---------------------------------------------
if [ -x "$VF_AGENT" ]; then
    our() { timeout 30 "$VF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" "$@"; }
    vfd_expect_out "our agent: status" 0 "Status: ON" our -o status -n vm3
    vfd_expect_out "our agent: off" 0 "" our -o off -n vm3
    vfd_expect_out "our agent: status off" 2 "Status: OFF" our -o status -n vm3
    vfd_expect_out "our agent: on" 0 "" our -o on -n vm3
    vfd_expect_out "our agent: list" 0 "^vm3 " our -o list
    vfd_expect_out "our agent: unknown domain" 1 "" our -o status -n no-such-vm
else
    vft_skip_part "our agent not built ($VF_AGENT): our-agent checks not run"
fi
vfd_stop "$DPID"

# ---- an existing config whose module_path holds fence-virt's own modules --------
if [ -d "$REF_MODULES" ]; then
    sed "s|backend = \"libvirt\";|backend = \"libvirt\";\n\tmodule_path = \"$REF_MODULES\";|" \
        "$VFT_TMP/d.conf" >"$VFT_TMP/d-refmod.conf"
    if vfd_start DPID "$VFT_TMP/d-refmod.conf"; then
        vft_ok "starts with module_path = $REF_MODULES"
        vft_check "fence-virt modules skipped" vfd_log_has "not a vmfence plugin"
        vfd_expect_out "serves with the built-in plugins" 0 "Status: ON" ref -o status -n vm1
        vfd_stop "$DPID"
    else
        vft_fail "daemon start with the reference module_path"
    fi
else
    vft_skip_part "$REF_MODULES missing: module_path with fence-virt's modules not checked"
fi

# ---- each hash/auth algorithm --------------------------------------------------
for h in sha1 sha256 sha512; do
    vfd_write_conf "$VFT_TMP/d-$h.conf" "$(vfd_tcp_block "$PORT" "$KEY" "$h" "$h")"
    vfd_start DPID "$VFT_TMP/d-$h.conf" || { vft_fail "daemon start ($h)"; continue; }
    vfd_expect_out "$h: status" 0 "Status: ON" ref -c "$h" -C "$h" -o status -n vm3
    vfd_expect_out "$h: off" 0 "" ref -c "$h" -C "$h" -o off -n vm3
    vfd_expect_out "$h: on" 0 "" ref -c "$h" -C "$h" -o on -n vm3
    vfd_stop "$DPID"
done

# ---- hash none + auth none (explicitly unauthenticated) -------------------------
vfd_write_conf "$VFT_TMP/d-none.conf" "$(vfd_tcp_block "$PORT" "$VFT_TMP/missing.key" none none)"
if vfd_start DPID "$VFT_TMP/d-none.conf"; then
    vfd_expect_out "none/none: status" 0 "Status: ON" ref -c none -C none -o status -n vm1
    vft_check "none/none warns loudly" vfd_log_has "NOT authenticated"
    vfd_stop "$DPID"
else
    vft_fail "daemon start (none)"
fi

# ---- hash and auth are independent (D1) ----------------------------------------
vfd_write_conf "$VFT_TMP/d-d1.conf" "$(vfd_tcp_block "$PORT" "$KEY" sha512 none)"
if vfd_start DPID "$VFT_TMP/d-d1.conf"; then
    vfd_expect_out "hash sha512 + auth none: sha512 request ok" 0 "Status: ON" \
        ref -c sha512 -C none -o status -n vm1
    vfd_expect_out "hash sha512 + auth none: sha256 request denied" 1 "" \
        ref -c sha256 -C none -o status -n vm1
    vfd_stop "$DPID"
else
    vft_fail "daemon start (d1)"
fi

# ---- IPv6 (family ipv6 binds ::1 by default) ----------------------------------------
if ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
    printf -v V6BLOCK '\ttcp {\n\t\tfamily = "ipv6";\n\t\tport = "%s";\n\t\tkey_file = "%s";\n\t}\n' "$PORT" "$KEY"
    vfd_write_conf "$VFT_TMP/d-v6.conf" "$V6BLOCK"
    if vfd_start DPID "$VFT_TMP/d-v6.conf"; then
        vfd_expect_out "IPv6 ::1: status" 0 "Status: ON" \
            timeout 30 "$REF_AGENT" -T ::1 -p "$PORT" -k "$KEY" -o status -n vm1
        vft_check "IPv6 peer logged" vfd_log_has "peer=\[::1\]:"
        vfd_stop "$DPID"
    else
        vft_fail "daemon start (ipv6)"
    fi
else
    vft_skip_part "no ::1 on lo: IPv6 part not run"
fi

# ---- a key readable by others: loud warning, never chmod'ed -----------------------
cp "$KEY" "$VFT_TMP/open.key"; chmod 644 "$VFT_TMP/open.key"
vfd_write_conf "$VFT_TMP/d-open.conf" "$(vfd_tcp_block "$PORT" "$VFT_TMP/open.key")"
vft_expect_rc "key mode 0644: --check-config still passes" 0 \
    "$VF_DAEMON" --check-config -f "$VFT_TMP/d-open.conf"
grep -q "0644" "$VFT_ERR" && vft_ok "warning names the mode" || { vft_fail "mode warning"; cat "$VFT_ERR"; }
[ "$(stat -c %a "$VFT_TMP/open.key")" = 644 ] && vft_ok "key mode not changed" || vft_fail "key mode changed"

# ---- a missing key with hash/auth enabled refuses to start ------------------------
vfd_write_conf "$VFT_TMP/d-nokey.conf" "$(vfd_tcp_block "$PORT" "$VFT_TMP/missing.key")"
vft_expect_rc "missing key file: daemon refuses to start" 1 \
    timeout 10 "$VF_DAEMON" -F -f "$VFT_TMP/d-nokey.conf" -p "$VFT_TMP/nokey.pid"
grep -q "missing.key" "$VFT_ERR" && vft_ok "error names the key file" || \
    { vft_fail "error names the key file"; cat "$VFT_ERR"; }

vft_finish
