#!/bin/bash
# vmfence - tests/interop/sec-relay.sh: security issue 13, attack 1: a guest
# WITHOUT the key makes a victim fence_xvm report a fence that never happened.
#
# The attack (tests/interop/sec-attacker.py relay), with one daemon running
# listener = "multicast,tcp" and both listeners on the SAME key:
#   1. the attacker, in the victim's guest, connects to the victim's
#      call-back port (TCP 1229) the moment fence_xvm listens on it, so the
#      victim accepts the attacker instead of the daemon;
#   2. it sniffs the victim's signed multicast datagram;
#   3. it sends those 176 bytes to the daemon's TCP listener, relays the
#      victim's challenge to the daemon and the daemon's (correct) answer back
#      to the victim, which then trusts the attacker; it challenges the victim,
#      swallows the victim's answer and sends response byte 0 ("success").
# Before the fix: `fence_xvm -o off` exits 0 while the VM is still ON.
# After it: the tcp listener refuses a request whose call-back fields
# (address/port/family) are set, so the attacker never gets the answer, and
# fence_xvm never reports success while the VM is on.
#
# Variant A makes the race deterministic: the daemon's multicast listener
# listens on another UDP port ($MPORT), so it never hears the victim's
# datagram and only the attacker answers the call-back.  Variant B is the
# default set-up (the daemon hears the victim on 1229 and calls back too).
# Last, the REFERENCE fence_xvm/fence_virt still work against our daemon
# over multicast and tcp with separate keys (the recommended set-up).
#
# Network: two namespaces this test creates, "hv" (the host, our
# fence_virtd) and "g" (the guest: victim agent and attacker), one veth pair
# (10.76.N.1/.2) with a multicast route in both; multicast never leaves them.
# Faked: the hypervisor (libvirt test driver, vm1/vm2 running).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vft_need_root
vfd_need ip python3 "$VF_AGENT_XVM" "$VF_AGENT"

ATT="$VFT_SRC/tests/interop/sec-attacker.py"
vfd_ns_bed sec s "10.76.$(($$ % 250 + 1))" 512 vm1:running vm2:running
VFD_LISTENER="multicast,tcp"
TPORT=1230      # the daemon's tcp listener, on the host's veth address

# conf FILE MPORT [MKEY] [TKEY]
conf() {
    local blocks
    printf -v blocks '\tmulticast {\n\t\tkey_file = "%s";\n\t\tinterface = "%s";\n\t\tport = "%s";\n\t}\n\ttcp {\n\t\taddress = "%s";\n\t\tport = "%s";\n\t\tkey_file = "%s";\n\t}\n' \
        "${3:-$KEY}" "$VH" "$2" "$NET.1" "$TPORT" "${4:-$KEY}"
    vfd_write_conf "$1" "$blocks"
}
# our agents, legitimately, in the guest
xvm() { ip netns exec "$GU" timeout 40 "$VF_AGENT_XVM" -k "$KEY" -t 8 "$@"; }
status_rc() { local rc=0; xvm "$@" -o status -n vm1 >/dev/null 2>&1 || rc=$?; echo "$rc"; }

# attack LABEL MPORT: one relay attack on "fence_xvm -o off -n vm1"
attack() {
    local label=$1 mport=$2 apid vrc=0 src i
    ip netns exec "$GU" python3 "$ATT" relay --victim 127.0.0.1:1229 \
        --daemon "$NET.1:$TPORT" --ifaddr "$NET.2" --secs 30 >"$VFT_TMP/att.$label" 2>&1 &
    apid=$!
    vft_on_exit "vft_kill_pid $apid"
    for i in $(seq 1 50); do grep -q '^ready' "$VFT_TMP/att.$label" && break; sleep 0.1; done
    ip netns exec "$GU" timeout 40 "$VF_AGENT_XVM" -k "$KEY" -t 6 -o off -n vm1 \
        >"$VFT_TMP/victim.$label" 2>&1 || vrc=$?
    for i in $(seq 1 100); do kill -0 "$apid" 2>/dev/null || break; sleep 0.1; done
    vft_kill_pid "$apid"; wait "$apid" 2>/dev/null
    src=$(status_rc -p "$mport")
    vft_log "[$label] attacker: $(tr '\n' ';' <"$VFT_TMP/att.$label")"
    vft_log "[$label] victim fence_xvm -o off: rc $vrc: $(tr '\n' ' ' <"$VFT_TMP/victim.$label")"
    vft_log "[$label] status afterwards: rc $src (0 = ON, 2 = OFF)"
    if [ "$vrc" != 0 ] || [ "$src" = 2 ]; then
        vft_ok "[$label] no false success: victim rc $vrc, status afterwards rc $src"
    else
        vft_fail "[$label] victim fence_xvm -o off exited 0 but vm1 is still ON (status rc $src)"
        sed 's/^/    attacker: /' "$VFT_TMP/att.$label"
    fi
    # for the next step: vm1 on again (the variant B fix may really fence it)
    [ "$src" = 2 ] && xvm -p "$mport" -o on -n vm1 >/dev/null 2>&1
    return 0
}

# check_refusal LABEL PATTERN: the tcp listener logged why it refused the
# relayed datagram (a line matching PATTERN, case-insensitive, and "tcp")
check_refusal() {
    local line
    line=$(grep -aiE "$2" "$VFD_LOG" | grep -aiE 'tcp' | head -1)
    if [ -n "$line" ]; then
        vft_ok "[$1] daemon log: tcp request refused ($(echo "$line" | cut -c1-200))"
    else
        vft_fail "[$1] daemon log has no line matching: grep -iE '$2' LOG | grep -iE 'tcp'"
        grep -aiE 'tcp|call|replay' "$VFD_LOG" | tail -5 | sed 's/^/    log: /'
    fi
}

# legit LABEL MPORT: a legitimate fence still works afterwards
legit() {
    vfd_expect_out "[$1] legitimate off" 0 "" xvm -p "$2" -o off -n vm1
    vfd_expect_out "[$1] legitimate status: OFF" 2 "Status: OFF" xvm -p "$2" -o status -n vm1
    vfd_expect_out "[$1] legitimate on" 0 "" xvm -p "$2" -o on -n vm1
    vfd_expect_out "[$1] legitimate status: ON" 0 "Status: ON" xvm -p "$2" -o status -n vm1
}

# ---- variant A: the daemon does not hear the victim (multicast on $MPORT) ----
MPORT=1239
conf "$VFT_TMP/a.conf" "$MPORT"
vfd_start DPID "$VFT_TMP/a.conf" "$HV" || { vft_fail "daemon start (A)"; vft_finish; }
vfd_expect_out "[A] status before the attack" 0 "Status: ON" xvm -p "$MPORT" -o status -n vm1
attack A "$MPORT"
check_refusal A 'call-back'
legit A "$MPORT"
vfd_stop "$DPID"

# ---- variant B: the daemon hears the victim's datagram as well -----------------
conf "$VFT_TMP/b.conf" 1229
vfd_start DPID "$VFT_TMP/b.conf" "$HV" || { vft_fail "daemon start (B)"; vft_finish; }
vfd_expect_out "[B] status before the attack" 0 "Status: ON" xvm -o status -n vm1
attack B 1229
# the daemon heard the victim's datagram too: the tcp copy may be refused as
# a replay of those bytes (replay cache) before its call-back fields count
if grep -q 'daemon-answered\|daemon-refused' "$VFT_TMP/att.B"; then
    check_refusal B 'call-back|replay'
else
    vft_skip_part "[B] the attacker lost the race for the call-back: no tcp relay to check this run"
fi
legit B 1229
vft_check "[B] daemon still alive" kill -0 "$DPID"
vfd_stop "$DPID"

# ---- the legitimate paths with separate keys: REFERENCE agents and ours ----------
KEY2="$VFT_TMP/key.tcp"; vft_gen_key "$KEY2" 512
conf "$VFT_TMP/c.conf" 1229 "$KEY" "$KEY2"
vfd_start DPID "$VFT_TMP/c.conf" "$HV" || { vft_fail "daemon start (separate keys)"; vft_finish; }
if [ -x "$REF_AGENT_XVM" ] && [ -x "$REF_AGENT" ]; then
    rxvm() { ip netns exec "$GU" timeout 40 "$REF_AGENT_XVM" -k "$KEY" -t 8 "$@"; }
    rvirt() { ip netns exec "$GU" timeout 40 "$REF_AGENT" -T "$NET.1" -p "$TPORT" -t 8 "$@"; }
    vfd_expect_out "[keys] reference fence_xvm: status" 0 "Status: ON" rxvm -o status -H vm2
    vfd_expect_out "[keys] reference fence_xvm: off" 0 "" rxvm -o off -H vm2
    vfd_expect_out "[keys] reference fence_virt -T: status OFF" 2 "Status: OFF" \
        rvirt -k "$KEY2" -o status -H vm2
    vfd_expect_out "[keys] reference fence_virt -T: on" 0 "" rvirt -k "$KEY2" -o on -H vm2
    vfd_expect_out "[keys] reference fence_xvm: status ON" 0 "Status: ON" rxvm -o status -H vm2
    vfd_expect_out "[keys] reference fence_xvm: list" 0 "^vm2 " rxvm -o list
    vfd_expect_out "[keys] reference fence_virt -T: list" 0 "^vm1 " rvirt -k "$KEY2" -o list
    vfd_expect_out "[keys] reference fence_virt -T with the multicast key: refused" 1 "" \
        rvirt -k "$KEY" -t 3 -o status -H vm2
else
    vft_skip_part "reference agents not installed: separate-key checks with them not run (ours still are)"
fi
vfd_expect_out "[keys] our fence_xvm: status" 0 "Status: ON" xvm -o status -n vm2
vfd_expect_out "[keys] our fence_virt -T: status" 0 "Status: ON" \
    ip netns exec "$GU" timeout 40 "$VF_AGENT" -T "$NET.1" -p "$TPORT" -k "$KEY2" -t 8 -o status -n vm2
vft_check "[keys] daemon still alive" kill -0 "$DPID"
vfd_stop "$DPID"

vft_finish
