#!/bin/bash
# vmfence - tests/xenapi/ref-vs-fake.sh: validates the FAKE XAPI
# (tests/xenapi/fake-xapi.py) with Debian's reference agent
# /usr/sbin/fence_xenapi (package fence-agents), so that the fake that our
# agent is tested against demonstrably speaks what a real client expects.
#
# What is faked and why: the XenServer/XCP-ng pool is fake-xapi.py on
# loopback, because no Xen host can run here.  The reference agent is real
# and unmodified.
#
# Asserted: for every action where the reference is right (metadata,
# validate-all, status ON/OFF incl. Paused/Suspended, on, off, reboot, list,
# monitor; by argv and by stdin with both key spellings, by name and by
# UUID) its exit code and output, and the VM states and calls the fake saw.
# Its known defects are checked as FACTS (so a change to the fake that
# makes the reference behave differently, i.e. less like real XAPI, fails
# here): it never logs out and sends no originator; HOST_IS_SLAVE makes it
# fail; list-status prints UNKNOWN; a snapshot or template sharing a VM's
# name gives MULTIPLE_VMS_FOUND; HOST_OFFLINE on a power call is printed and
# then polled until power_timeout (forever under pacemaker-fenced, so the
# reference always runs under `timeout` here); no socket timeout (a hung
# server hangs it); no TLS options (--ssl-insecure is refused, the test CA
# works only through SSL_CERT_FILE).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/xenapi-lib.sh"
vft_need_cmd python3 timeout xmllint
[ -x "$XA_REF" ] || vft_skip "reference agent $XA_REF not installed (package fence-agents)"

xa_start a || { vft_fail "fake XAPI starts"; vft_finish; }
vft_ok "fake XAPI listening on 127.0.0.1:$(xa_port a)"
URL=http://127.0.0.1:$(xa_port a)
# the credentials of a stdin file, with the reference's old key names and the current ones
OLD_KEYS=("session_url=$URL" "login=$XA_USER" "passwd=$XA_PASS")
NEW_KEYS=("session_url=$URL" "username=$XA_USER" "password=$XA_PASS")
ref() { timeout 30 "$XA_REF" "$@"; }
refa() { ref -s "$URL" -l "$XA_USER" -p "$XA_PASS" "$@"; }
S=$VFT_TMP/stdin

# --- no network: metadata, validate-all ------------------------------------
vft_expect_out "ref -o metadata" 0 '<resource-agent name="fence_xenapi"' ref -o metadata &&
    xmllint --noout "$VFT_OUT" 2>/dev/null && vft_ok "metadata is well-formed XML" ||
    vft_fail "metadata is not well-formed"
for p in session_url login passwd port plug username password; do
    grep -q "<parameter name=\"$p\"" "$VFT_OUT" && vft_ok "metadata has $p" ||
        vft_fail "metadata lacks $p"
done
xa_stdin_file "$S" action=metadata
vft_expect_out "ref stdin action=metadata" 0 '<resource-agent name="fence_xenapi"' \
    xa_with_stdin "$S" ref
vft_expect_rc "ref -o validate-all (complete)" 0 refa -n vm1 -o validate-all
vft_expect_rc "ref -o validate-all (no plug)" 1 ref -s "$URL" -o validate-all
xa_expect_count "metadata/validate-all never connect" a requests 0

# --- status ---------------------------------------------------------------------
vft_expect_out "status vm1 (Running)" 0 '^Status: ON$' refa -n vm1 -o status
vft_expect_out "status vm-off (Halted)" 2 '^Status: OFF$' refa -n vm-off -o status
vft_expect_out "status vm-paused (Paused = ON)" 0 '^Status: ON$' refa -n vm-paused -o status
vft_expect_out "status vm-suspended (Suspended = ON)" 0 '^Status: ON$' refa -n vm-suspended -o status
vft_expect_out "status by UUID" 2 '^Status: OFF$' refa -n "$(xa_uuid 3)" -o status
vft_expect_out "status by upper-case UUID" 0 '^Status: ON$' \
    refa -n "$(xa_uuid 1 | tr a-f A-F)" -o status
xa_expect_count "UUID plug uses VM.get_by_uuid" a calls 2 VM.get_by_uuid
xa_stdin_aliases vft_expect_out ref

# --- off / on / reboot ---------------------------------------------------------
vft_expect_out "off vm2" 0 '^Success: Powered OFF$' refa -n vm2 -o off
xa_expect_power "after off" a vm2 Halted
xa_expect_count "off" a calls 1 VM.hard_shutdown
vft_expect_out "off vm2 again" 0 '^Success: Already OFF$' refa -n vm2 -o off
xa_expect_count "no second hard_shutdown" a calls 1 VM.hard_shutdown
vft_expect_out "on vm2" 0 '^Success: Powered ON$' refa -n vm2 -o on
xa_expect_power "after on" a vm2 Running
if xa_q a calls | grep -q '^VM.start \["OpaqueRef:[^"]*", false, true\] -> Success$'; then
    vft_ok "VM.start(vm, false, true) with XML-RPC booleans"
else
    vft_fail "VM.start arguments: $(xa_q a calls | grep VM.start)"
fi
vft_expect_out "on vm2 again" 0 '^Success: Already ON$' refa -n vm2 -o on
vft_expect_out "reboot vm1" 0 '^Success: Rebooted$' refa -n vm1 -o reboot
xa_expect_power "after reboot" a vm1 Running
xa_expect_count "reboot = off + on" a calls 2 VM.hard_shutdown
xa_expect_count "reboot = off + on" a calls 2 VM.start
xa_expect_count "hard_reboot is dead code in the reference" a calls 0 VM.hard_reboot
vft_expect_out "reboot of a halted VM (vm-off) turns it on" 0 '^Success: Rebooted$' \
    refa -n vm-off -o reboot
xa_expect_power "after reboot of a halted VM" a vm-off Running
xa_ctl a power:vm-off=Halted
# by stdin
xa_ctl a power:vm3=Running
xa_stdin_cycle vft_expect_out ref vm3 "${OLD_KEYS[*]} port=vm3" \
    "${OLD_KEYS[*]} port=$(xa_uuid 14)" "${NEW_KEYS[*]} plug=vm3"
xa_ctl a power:vm3=Halted
# the reference's power calls are the ones XAPI accepts: no failure seen
if xa_q a calls | grep -E '^VM\.(hard_shutdown|start) ' | grep -qv -- '-> Success$'; then
    vft_fail "a power call of the reference failed in the fake"
    xa_q a calls | grep -E '^VM\.(hard_shutdown|start) ' | sed 's/^/    /'
else
    vft_ok "every power call of the reference succeeded in the fake"
fi

# --- list / monitor -------------------------------------------------------------
want_list() {
    local n
    for n in 1 2 3 4 5 6 7 8 10 14; do
        printf '%s,%s\n' "$(xa_uuid $n)" "$("$XA_PY" -c "
import json,sys; print(json.load(open(sys.argv[1]))['vms'][sys.argv[2]]['name'])" \
            "$VFT_TMP/xa-a.state" "$(xa_uuid $n)")"
    done | sort
}
want_list >"$VFT_TMP/want.list"
vft_expect_rc "list" 0 refa -o list
if sort "$VFT_OUT" | cmp -s - "$VFT_TMP/want.list"; then
    vft_ok "list: uuid,name of the 10 real VMs (no template, snapshot, control domain)"
else
    vft_fail "list output differs"; diff <(sort "$VFT_OUT") "$VFT_TMP/want.list" | head | sed 's/^/    /'
fi
vft_expect_rc "list with -C ';'" 0 refa -o list -C ';'
grep -qx "$(xa_uuid 1);vm1" "$VFT_OUT" && vft_ok "separator honoured" || vft_fail "separator"
xa_stdin_file "$S" action=list "${OLD_KEYS[@]}"
vft_expect_rc "stdin list" 0 xa_with_stdin "$S" ref
sort "$VFT_OUT" | cmp -s - "$VFT_TMP/want.list" && vft_ok "stdin list output" ||
    vft_fail "stdin list output differs"
c0=$(xa_q a calls VM.get_all)
vft_expect_rc "monitor" 0 refa -o monitor
xa_expect_count "monitor lists (VM.get_all)" a calls $((c0 + 1)) VM.get_all
xa_stdin_file "$S" action=monitor "${OLD_KEYS[@]}"
vft_expect_rc "stdin monitor" 0 xa_with_stdin "$S" ref

# --- errors where the reference is right -------------------------------------------
vft_expect_out "unknown VM name" 1 'NAME_INVALID' refa -n no-such-vm -o status
vft_expect_out "unknown VM UUID" 1 'UUID_INVALID' refa -n "$(xa_uuid 99)" -o status
vft_expect_out "two real VMs named dup" 1 'MULTIPLE_VMS_FOUND' refa -n dup -o status
vft_expect_err "a template only (tmpl-debian)" 1 'plug status' refa -n tmpl-debian -o off
vft_expect_err "the control domain" 1 'plug status' \
    refa -n "Control domain on host: xcp-fake1" -o off
xa_expect_power "template untouched" a "$(xa_uuid 12)" Halted
xa_expect_power "control domain untouched" a "$(xa_uuid 13)" Running
lf=$(xa_q a login_failures)
vft_expect_out "wrong password" 1 "SESSION_AUTHENTICATION_FAILED" \
    ref -s "$URL" -l "$XA_USER" -p wrong-pw -n vm1 -o status
xa_expect_count "wrong password" a login_failures $((lf + 1))
vft_expect_rc "connection refused" 1 ref -s "http://127.0.0.1:1" -l root -p x -n vm1 -o status
xa_ctl a session_max_calls=1
vft_expect_out "expired session: XenAPI.py logs in again on SESSION_INVALID" 0 '^Status: ON$' \
    refa -n vm1 -o status
xa_ctl a session_max_calls=0
if xa_q a calls | grep -q -- '-> SESSION_INVALID$'; then vft_ok "the fake answered SESSION_INVALID"
else vft_fail "no SESSION_INVALID seen"; fi

# --- slow power change: the reference polls until the state changes -------------
xa_ctl a power_delay=2
t0=$(xa_now)
vft_expect_out "off with a power change 2 s after the call" 0 '^Success: Powered OFF$' \
    refa -n vm2 -o off --power-timeout 10
dt=$(xa_since "$t0")
xa_lt 1.9 "$dt" && vft_ok "it waited for the change (${dt}s)" || vft_fail "returned after ${dt}s"
xa_ctl a power_delay=0
xa_expect_power "after the slow off" a vm2 Halted
xa_ctl a power:vm2=Running

# --- defects, checked as facts ---------------------------------------------------
li=$(xa_q a logins); lo=$(xa_q a logouts)
if [ "$li" -ge 20 ] && [ "$lo" = 0 ]; then
    vft_ok "FACT: the reference never logs out ($li logins, $lo logouts)"
else
    vft_fail "expected many logins and no logout: $li logins, $lo logouts"
fi
if [ -z "$(xa_q a originators | sort -u)" ]; then
    vft_ok "FACT: the reference sends no originator (2-argument login)"
else
    vft_fail "originators: $(xa_q a originators | sort -u | tr '\n' ' ')"
fi
vft_expect_rc "FACT: list-status" 0 refa -o list-status
if grep -q ',UNKNOWN$' "$VFT_OUT" && ! grep -Eq ',(ON|OFF)$' "$VFT_OUT"; then
    vft_ok "FACT: list-status prints UNKNOWN for every VM"
else
    vft_fail "list-status: $(head -3 "$VFT_OUT" | tr '\n' ' ')"
fi
vft_expect_out "FACT: a VM plus its snapshot named web" 1 'MULTIPLE_VMS_FOUND' refa -n web -o status
vft_expect_out "FACT: a VM plus a template named db" 1 'MULTIPLE_VMS_FOUND' refa -n db -o status
vft_expect_rc "FACT: --ssl-insecure is not an option" 1 refa -n vm1 -o status --ssl-insecure

# HOST_OFFLINE: printed, ignored, polled until power_timeout
xa_ctl a power_fail=HOST_OFFLINE
t0=$(xa_now)
vft_expect_out "FACT: off with HOST_OFFLINE fails only after power_timeout" 1 'HOST_OFFLINE' \
    refa -n vm1 -o off --power-timeout 2
dt=$(xa_since "$t0")
xa_lt 1.9 "$dt" && vft_ok "FACT: it polled ${dt}s despite the error" || vft_fail "ended after ${dt}s"
rc=0
PCMK_service=pacemaker-fenced timeout 3 "$XA_REF" -s "$URL" -l "$XA_USER" -p "$XA_PASS" -n vm1 \
    -o off >/dev/null 2>&1 </dev/null || rc=$?
[ "$rc" = 124 ] && vft_ok "FACT: under pacemaker-fenced it polls forever (killed by timeout 3)" ||
    vft_fail "under pacemaker-fenced: rc $rc, expected the timeout's 124"
xa_ctl a power_fail=
xa_expect_power "HOST_OFFLINE left the VM alone" a vm1 Running

# HOST_IS_SLAVE: a pool member on 127.0.0.1, the master on 127.0.0.2 (same port)
if xa_pair master "--bind 127.0.0.2" slave "--bind 127.0.0.1 --slave-of 127.0.0.2"; then
    vft_expect_out "FACT: HOST_IS_SLAVE is not followed" 1 "HOST_IS_SLAVE.*127\.0\.0\.2" \
        ref -s "http://127.0.0.1:$(xa_port slave)" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status
    xa_expect_count "the member refused the login" slave slave_refusals 1
    xa_expect_count "the master was never asked" master requests 0
    xa_stop slave; xa_stop master
else
    vft_fail "master/slave fakes start"
fi

# no socket timeout: a server that never answers hangs the reference
xa_ctl a mode=hang
rc=0
timeout 2 "$XA_REF" -s "$URL" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status --login-timeout 1 \
    --shell-timeout 1 >/dev/null 2>&1 </dev/null || rc=$?
[ "$rc" = 124 ] && vft_ok "FACT: a hung server hangs it despite --login-timeout 1 (killed at 2 s)" ||
    vft_fail "hung server: rc $rc, expected 124"
xa_ctl a mode=html500
vft_expect_rc "HTTP 500 with HTML: a failure" 1 refa -n vm1 -o status
grep -qi "500" "$VFT_OUT" "$VFT_ERR" && vft_ok "the 500 is reported" || vft_fail "500 not reported"
xa_ctl a mode=normal

# --- TLS with a test CA -------------------------------------------------------------
if command -v openssl >/dev/null 2>&1 && xa_gen_ca "$VFT_TMP/ca"; then
    if xa_start tls --tls-cert "$VFT_TMP/ca/srv.pem" --tls-key "$VFT_TMP/ca/srv.key"; then
        TURL=https://127.0.0.1:$(xa_port tls)
        vft_expect_out "https without the CA: certificate not trusted" 1 'CERTIFICATE_VERIFY_FAILED' \
            ref -s "$TURL" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status
        vft_expect_out "https with SSL_CERT_FILE=test CA" 0 '^Status: ON$' \
            env SSL_CERT_FILE="$VFT_TMP/ca/ca.pem" timeout 30 "$XA_REF" -s "$TURL" -l "$XA_USER" \
            -p "$XA_PASS" -n vm1 -o status
        vft_expect_out "https off with the test CA" 0 '^Success: Powered OFF$' \
            env SSL_CERT_FILE="$VFT_TMP/ca/ca.pem" timeout 30 "$XA_REF" -s "$TURL" -l "$XA_USER" \
            -p "$XA_PASS" -n vm1 -o off
        xa_expect_power "https off" tls vm1 Halted
        xa_stop tls
    else
        vft_fail "https fake starts"
    fi
    if xa_start wrong --tls-cert "$VFT_TMP/ca/wrong.pem" --tls-key "$VFT_TMP/ca/wrong.key"; then
        vft_expect_out "https, trusted CA, certificate for another host name" 1 'CERTIFICATE_VERIFY_FAILED' \
            env SSL_CERT_FILE="$VFT_TMP/ca/ca.pem" timeout 30 "$XA_REF" \
            -s "https://127.0.0.1:$(xa_port wrong)" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status
        xa_stop wrong
    fi
else
    vft_log "openssl missing or failed: TLS part skipped"
    cat "$VFT_TMP/ca/openssl.log" 2>/dev/null | tail -3 >&2
fi

# --- the wire format itself, with a raw HTTP client ----------------------------------
# (things the reference's xmlrpclib does not tell apart but a C decoder must
# handle: untyped strings, booleans, int64 as strings, empty structs/arrays,
# HTML on a malformed request, error parameters)
"$XA_PY" - "$(xa_port a)" "$XA_USER" "$XA_PASS" >"$VFT_TMP/wire.res" 2>&1 <<'PY'
import http.client, re, sys
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def post(body, path="/"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", path, body, {"Content-Type": "text/xml"})
    r = c.getresponse()
    return r.status, r.getheader("Content-Type"), r.read().decode()
def call(method, *params, path="/"):
    ps = "".join("<param><value>%s</value></param>" % p for p in params)
    return post("<?xml version='1.0'?><methodCall><methodName>%s</methodName><params>%s"
                "</params></methodCall>" % (method, ps), path)
def check(desc, cond):
    print(("OK " if cond else "FAIL ") + desc)
st, ct, b = call("session.login_with_password", user, pw, "1.1", "wire-test")
check("POST / answers 200 text/xml", st == 200 and ct.startswith("text/xml"))
check("Status is an untyped string", "<name>Status</name><value>Success</value>" in b)
m = re.search(r"<name>Value</name><value>(OpaqueRef:[^<]+)</value>", b)
check("the session ref is an untyped string", m is not None)
check("no <string> tag anywhere", "<string>" not in b)
s = m.group(1) if m else "x"
st, ct, b = call("VM.get_by_name_label", "<string>%s</string>" % s, "vm1", path="/RPC2")
check("POST /RPC2 too; typed <string> arguments accepted", st == 200 and "OpaqueRef:" in b)
vm = re.search(r"<value>(OpaqueRef:[^<]+)</value>", b).group(1)
st, ct, b = call("VM.get_record", s, vm)
check("booleans as <boolean>", "<name>is_a_template</name><value><boolean>0</boolean></value>" in b)
check("int64 as an untyped decimal string", "<name>memory_static_max</name><value>1073741824</value>" in b)
check("an empty map as <struct></struct>", "<name>other_config</name><value><struct></struct></value>" in b)
check("an empty set as an empty <array>", "<name>tags</name><value><array><data></data></array></value>" in b)
check("datetimes as <dateTime.iso8601>", "<dateTime.iso8601>" in b)
st, ct, b = call("VM.start", s, vm, "<boolean>0</boolean>", "<boolean>1</boolean>")
check("VM.start of a running VM: VM_BAD_POWER_STATE [vm, halted, running]",
      "<value>VM_BAD_POWER_STATE</value><value>%s</value><value>halted</value><value>running</value>" % vm in b)
st, ct, b = call("VM.hard_shutdown", s, vm)
st, ct, b = call("VM.hard_shutdown", s, vm)
check("hard_shutdown of a halted VM: VM_BAD_POWER_STATE [vm, running, halted]",
      "<value>VM_BAD_POWER_STATE</value><value>%s</value><value>running</value><value>halted</value>" % vm in b)
st, ct, b = call("VM.start", s, vm, "<boolean>0</boolean>", "<boolean>1</boolean>")
check("VM.start of the halted VM succeeds, Value is an empty string",
      "<value>Success</value>" in b and "<name>Value</name><value></value>" in b)
st, ct, b = call("VM.start", s, vm, "false", "true")
check("VM.start with strings instead of booleans is refused", "FIELD_TYPE_ERROR" in b)
st, ct, b = call("VM.get_record", s)
check("wrong parameter count: MESSAGE_PARAMETER_COUNT_MISMATCH",
      "MESSAGE_PARAMETER_COUNT_MISMATCH" in b)
st, ct, b = call("VM.no_such_call", s, vm)
check("unknown method: MESSAGE_METHOD_UNKNOWN", "MESSAGE_METHOD_UNKNOWN" in b)
st, ct, b = call("VM.get_record", s, "OpaqueRef:bogus")
check("bad ref: HANDLE_INVALID", "HANDLE_INVALID" in b)
st, ct, b = call("VM.get_all", "OpaqueRef:not-a-session")
check("bad session: SESSION_INVALID [ref]",
      "<value>SESSION_INVALID</value><value>OpaqueRef:not-a-session</value>" in b)
st, ct, b = call("session.login_with_password", user)
check("login with one argument: MESSAGE_PARAMETER_COUNT_MISMATCH", "MESSAGE_PARAMETER_COUNT_MISMATCH" in b)
st, ct, b = call("session.logout", s)
check("logout", "<value>Success</value>" in b)
st, ct, b = call("session.logout", s)
check("a second logout: SESSION_INVALID", "SESSION_INVALID" in b)
st, ct, b = post("this is not XML-RPC")
check("a malformed request: HTTP 500 with HTML", st == 500 and ct.startswith("text/html") and "<html>" in b)
PY
while read -r res desc; do
    case $res in OK) vft_ok "wire: $desc" ;; *) vft_fail "wire: $res $desc" ;; esac
done <"$VFT_TMP/wire.res"
grep -qx wire-test <(xa_q a originators) && vft_ok "wire: the 4-argument login's originator is recorded" ||
    vft_fail "wire: originator not recorded"

# wire details the reference relies on (xmlrpclib posts to /RPC2)
if xa_q a paths | grep -qx /RPC2; then vft_ok "the reference posts to /RPC2"
else vft_fail "paths: $(xa_q a paths | sort -u | tr '\n' ' ')"; fi
vft_finish
