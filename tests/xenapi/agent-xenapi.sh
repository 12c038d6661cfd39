#!/bin/bash
# vmfence - tests/xenapi/agent-xenapi.sh: our fence_xenapi against a FAKE
# XAPI pool (tests/xenapi/fake-xapi.py), and side by side with Debian's
# reference agent on the same fake.
#
# What is faked and why: XenServer/XCP-ng cannot run here, so the pool is
# fake-xapi.py on loopback addresses (127.0.0.1-4, ::1); it is validated
# against the reference agent by ref-vs-fake.sh.  TLS uses a throwaway CA
# made with the openssl CLI.  Nothing else is faked: our agent is the built
# binary, the reference is /usr/sbin/fence_xenapi.
#
# Asserted:
#  * every action by argv and by stdin (both key spellings), by name and
#    UUID; Paused/Suspended = ON; list = one VM.get_all_records, same lines
#    as the reference; list-status prints ON/OFF; VM.start(vm, false, true);
#    never VM.power_state_reset; an originator on every login;
#  * after EVERY run: logins == logouts and no session left open (failures
#    included); wrong password (no session, nothing to log out); unknown VM;
#    HOST_OFFLINE fails at once with the code in the message (also under
#    pacemaker-fenced); a call that hangs still ends and logs out;
#  * HOST_IS_SLAVE redirect to the master (IPv4, IPv6 in brackets, https);
#    a redirect loop fails after at most 3 redirects;
#  * TLS: --cacert (and stdin cacert=) accepted, no CA refused (not
#    trusted), a certificate for another host name refused, --ssl-insecure
#    (and stdin ssl_insecure=1) accepted;
#  * a hung server: -o status --login-timeout 2 --shell-timeout 2 exits 1 in
#    < 10 s; HTTP 500 with HTML: exit 1 with a clear message;
#  * two real VMs with one name: an error naming both UUIDs; templates,
#    snapshots and the control domain are never chosen or touched;
#  * slow power changes are waited for, and a power_timeout is honoured;
#  * the password never appears in the output, also with -v / --verbose and
#    in the --debug-file;
#  * side by side with the reference (fresh fakes, same initial states):
#    same exit code, same stdout and same final VM state for every action
#    where the reference is right.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/xenapi-lib.sh"
vft_need_cmd python3 timeout xmllint
[ -x "$VF_AGENT_XENAPI" ] ||
    vft_skip "our fence_xenapi is not built ($VF_AGENT_XENAPI; set VF_AGENT_XENAPI)"
echo "# agent under test: $VF_AGENT_XENAPI"

xa_start a || { vft_fail "fake XAPI starts"; vft_finish; }
URL=http://127.0.0.1:$(xa_port a)
# the credentials of a stdin file, with the reference's old key names and the current ones
OLD_KEYS=("session_url=$URL" "login=$XA_USER" "passwd=$XA_PASS")
NEW_KEYS=("session_url=$URL" "username=$XA_USER" "password=$XA_PASS")
S=$VFT_TMP/stdin
ours() { timeout 30 "$VF_AGENT_XENAPI" "$@"; }
oursa() { ours -s "$URL" -l "$XA_USER" -p "$XA_PASS" "$@"; }
ref() { timeout 30 "$XA_REF" "$@"; }
# the initial power states of the fake pool
INIT="power:vm1=Running power:vm2=Running power:vm-off=Halted power:vm-paused=Paused
power:vm-suspended=Suspended power:vm3=Halted power:web=Running power:db=Running"

# chk DESC RC REGEX CMD...: exit code RC, REGEX (case-insensitive, empty =
# anything) in stdout+stderr, then: sessions balanced on fake "a", no
# password in the output
chk() {
    local d=$1 rc=$2 re=$3
    shift 3
    if vft_expect_rc "$d" "$rc" "$@" && [ -n "$re" ]; then
        if cat "$VFT_OUT" "$VFT_ERR" | grep -Eiq -- "$re"; then
            vft_ok "$d: output matches /$re/"
        else
            vft_fail "$d: output does not match /$re/"
            sed 's/^/    out: /' "$VFT_OUT" | head -5; sed 's/^/    err: /' "$VFT_ERR" | head -5
        fi
    fi
    cp "$VFT_OUT" "$VFT_TMP/last.out"; cp "$VFT_ERR" "$VFT_TMP/last.err"
    xa_expect_balanced "$d" a
    xa_pw_leak "$d" "$VFT_TMP/last.out" "$VFT_TMP/last.err"
}
# took DESC T0 MAX: the last run ended less than MAX s after T0
took() {
    local dt
    dt=$(xa_since "$2")
    if xa_lt "$dt" "$3"; then vft_ok "$1: ended after ${dt}s (< $3 s)"; else
        vft_fail "$1: took ${dt}s (limit $3 s)"; fi
}

# a server that accepts and never answers: run in the background now (it
# takes its timeouts' worth of seconds), checked in the failures part
xa_start hang --mode hang || vft_fail "hang fake starts"
(
    t0=$(xa_now); rc=0
    timeout 30 "$VF_AGENT_XENAPI" -s "http://127.0.0.1:$(xa_port hang)" -l "$XA_USER" -p "$XA_PASS" \
        -n vm1 -o status --login-timeout 2 --shell-timeout 2 >"$VFT_TMP/hang.out" 2>&1 </dev/null || rc=$?
    echo "$rc $(xa_since "$t0")" >"$VFT_TMP/hang.res"
) &
HANG_JOB=$!

# --- metadata / validate-all ------------------------------------------------------
vft_expect_out "-o metadata" 0 '<resource-agent name="fence_xenapi"' ours -o metadata
cp "$VFT_OUT" "$VFT_TMP/our-meta.xml"
xmllint --noout "$VFT_TMP/our-meta.xml" 2>/dev/null && vft_ok "metadata is well-formed" ||
    vft_fail "metadata is not well-formed"
pnames() { xmllint --xpath '//parameters/parameter/@name' "$1" 2>/dev/null |
    sed 's/ *name="\([^"]*\)"/\1\n/g' | grep -v '^$' | sort -u; }
if [ -x "$XA_REF" ] && ref -o metadata >"$VFT_TMP/ref-meta.xml" 2>/dev/null; then
    missing=$(comm -23 <(pnames "$VFT_TMP/ref-meta.xml") <(pnames "$VFT_TMP/our-meta.xml") | tr '\n' ' ')
    [ -z "$missing" ] && vft_ok "metadata: every reference parameter present" ||
        vft_fail "metadata lacks reference parameters: $missing"
fi
for p in ssl_insecure cacert; do
    pnames "$VFT_TMP/our-meta.xml" | grep -qx "$p" && vft_ok "metadata has $p" ||
        vft_fail "metadata lacks $p"
done
xa_stdin_file "$S" action=metadata
vft_expect_out "stdin action=metadata" 0 '<resource-agent name="fence_xenapi"' xa_with_stdin "$S" ours
vft_expect_rc "-o validate-all (complete)" 0 oursa -n vm1 -o validate-all
# validate-all without a plug (as Pacemaker validates a device, whose plug
# comes from the host map later): the reference refuses; not asserted
rc=0; ours -s "$URL" -l root -p x -o validate-all >/dev/null 2>&1 </dev/null || rc=$?
echo "# note: -o validate-all without a plug: exit $rc (the reference: 1)"

# --- status --------------------------------------------------------------------
chk "status vm1 (Running)" 0 '^Status: ON$' oursa -n vm1 -o status
chk "status vm-off (Halted)" 2 '^Status: OFF$' oursa -n vm-off -o status
chk "status vm-paused (Paused = ON)" 0 '^Status: ON$' oursa -n vm-paused -o status
chk "status vm-suspended (Suspended = ON)" 0 '^Status: ON$' oursa -n vm-suspended -o status
c0=$(xa_q a calls VM.get_by_uuid)
chk "status by UUID" 2 '^Status: OFF$' oursa -n "$(xa_uuid 3)" -o status
chk "status by upper-case UUID" 0 '^Status: ON$' oursa -n "$(xa_uuid 1 | tr a-f A-F)" -o status
xa_expect_count "a UUID plug uses VM.get_by_uuid" a calls $((c0 + 2)) VM.get_by_uuid
chk "long options" 0 '^Status: ON$' ours --session-url "$URL" --username "$XA_USER" \
    --password "$XA_PASS" --plug vm1 --action status
xa_stdin_aliases chk ours
if xa_q a originators | grep -q .; then
    vft_ok "logins carry an originator ($(xa_q a originators | sort -u | head -1))"
else
    vft_fail "no originator sent"
fi
if xa_q a originators | grep -qvx '.\+'; then vft_fail "a login without originator"; fi

# --- off / on / reboot --------------------------------------------------------------
chk "off vm2" 0 '^Success: Powered OFF$' oursa -n vm2 -o off
xa_expect_power "after off" a vm2 Halted
chk "off vm2 again (already off)" 0 '' oursa -n vm2 -o off
xa_expect_power "still off" a vm2 Halted
chk "on vm2" 0 '^Success: Powered ON$' oursa -n vm2 -o on
xa_expect_power "after on" a vm2 Running
if xa_q a calls | grep '^VM.start ' | grep -qv '^VM.start \["OpaqueRef:[^"]*", false, true\]'; then
    vft_fail "VM.start arguments: $(xa_q a calls | grep '^VM.start ' | head -2)"
else
    xa_q a calls | grep -q '^VM.start ' && vft_ok "VM.start(vm, false, true)" || vft_fail "no VM.start"
fi
chk "on vm2 again (already on)" 0 '' oursa -n vm2 -o on
xa_expect_power "still on" a vm2 Running
r0=$(xa_q a reboots vm1)
chk "reboot vm1" 0 '^Success: Rebooted$' oursa -n vm1 -o reboot
xa_expect_power "after reboot" a vm1 Running
chk "reboot vm-off (halted)" 0 '^Success: Rebooted$' oursa -n vm-off -o reboot
xa_expect_power "reboot of a halted VM (as the reference)" a vm-off Running
chk "off vm-paused" 0 '^Success: Powered OFF$' oursa -n vm-paused -o off
xa_expect_power "paused VM off" a vm-paused Halted
chk "off vm-suspended" 0 '^Success: Powered OFF$' oursa -n vm-suspended -o off
xa_expect_power "suspended VM off" a vm-suspended Halted
xa_ctl a $INIT
xa_stdin_cycle chk ours vm1 "${OLD_KEYS[*]} port=vm1" "${NEW_KEYS[*]} plug=$(xa_uuid 1)" \
    "${OLD_KEYS[*]} port=vm1"
xa_expect_count "never VM.power_state_reset" a calls 0 VM.power_state_reset

# --- list / list-status / monitor ----------------------------------------------------
ga0=$(xa_q a calls VM.get_all_records); gr0=$(xa_q a calls VM.get_record)
chk "list" 0 "^$(xa_uuid 1),vm1\$" oursa -o list
sort "$VFT_TMP/last.out" >"$VFT_TMP/our.list"
xa_expect_count "list: one VM.get_all_records" a calls $((ga0 + 1)) VM.get_all_records
xa_expect_count "list: no VM.get_record per VM" a calls "$gr0" VM.get_record
n=$(grep -c . "$VFT_TMP/our.list")
[ "$n" = 10 ] && vft_ok "list: 10 real VMs" || vft_fail "list: $n lines"
if grep -Eq "^($(xa_uuid 9)|$(xa_uuid 11)|$(xa_uuid 12)|$(xa_uuid 13))," "$VFT_TMP/our.list"; then
    vft_fail "list shows a template, snapshot or the control domain"
else
    vft_ok "list: no template, snapshot or control domain"
fi
chk "list -C ';'" 0 "^$(xa_uuid 1);vm1\$" oursa -o list -C ';'
xa_stdin_file "$S" action=list "${OLD_KEYS[@]}"
chk "stdin list" 0 "^$(xa_uuid 2),vm2\$" xa_with_stdin "$S" ours
chk "list-status" 0 "^$(xa_uuid 1),vm1,ON\$" oursa -o list-status
for spec in 3:vm-off:OFF 4:vm-paused:ON 5:vm-suspended:ON 7:dup:OFF; do
    IFS=: read -r i nm st <<<"$spec"
    grep -qx "$(xa_uuid "$i"),$nm,$st" "$VFT_TMP/last.out" && vft_ok "list-status: $nm $st" ||
        vft_fail "list-status: no line '$(xa_uuid "$i"),$nm,$st'"
done
grep -q UNKNOWN "$VFT_TMP/last.out" && vft_fail "list-status prints UNKNOWN" ||
    vft_ok "list-status: no UNKNOWN"
xa_stdin_file "$S" action=list-status "${NEW_KEYS[@]}"
chk "stdin list-status" 0 "^$(xa_uuid 3),vm-off,OFF\$" xa_with_stdin "$S" ours
xa_stdin_file "$S" action=validate-all "${OLD_KEYS[@]}" port=vm1
vft_expect_rc "stdin validate-all" 0 xa_with_stdin "$S" ours
chk "monitor" 0 '' oursa -o monitor
xa_stdin_file "$S" action=monitor "${OLD_KEYS[@]}"
chk "stdin monitor" 0 '' xa_with_stdin "$S" ours

# --- names: duplicates, templates, snapshots, control domain ----------------------------
chk "two real VMs named dup: error naming both UUIDs" 1 "$(xa_uuid 6)" oursa -n dup -o off
grep -q "$(xa_uuid 7)" "$VFT_TMP/last.out" "$VFT_TMP/last.err" &&
    vft_ok "dup: the second UUID is named too" || vft_fail "dup: second UUID missing"
xa_expect_power "dup untouched" a "$(xa_uuid 6)" Running
chk "web = a VM + its snapshot: the VM is chosen" 0 '^Status: ON$' oursa -n web -o status
chk "off web" 0 '' oursa -n web -o off
xa_expect_power "off web hit the VM" a "$(xa_uuid 8)" Halted
xa_expect_power "the snapshot untouched" a "$(xa_uuid 9)" Halted
chk "db = a VM + a template: off hits the VM" 0 '' oursa -n db -o off
xa_expect_power "off db" a "$(xa_uuid 10)" Halted
chk "a template only" 1 '' oursa -n tmpl-debian -o off
chk "the control domain by name" 1 '' oursa -n "Control domain on host: xcp-fake1" -o off
chk "the control domain by UUID" 1 '' oursa -n "$(xa_uuid 13)" -o off
chk "a snapshot by UUID" 1 '' oursa -n "$(xa_uuid 9)" -o off
xa_expect_power "control domain untouched" a "$(xa_uuid 13)" Running
if xa_q a calls | grep -E '^VM\.(hard_shutdown|start|hard_reboot|clean_shutdown) ' |
    grep -Eq -- '-> (VM_IS_TEMPLATE|OPERATION_NOT_ALLOWED)$'; then
    vft_fail "a power call was sent to a template or the control domain"
else
    vft_ok "no power call to a template, snapshot or the control domain"
fi
xa_ctl a $INIT

# --- failures -------------------------------------------------------------------------
li=$(xa_q a logins); lf=$(xa_q a login_failures)
chk "wrong password" 1 'SESSION_AUTHENTICATION_FAILED|authenticat|login|password' \
    ours -s "$URL" -l "$XA_USER" -p wrong-pw -n vm1 -o status
xa_expect_count "wrong password: no session" a logins "$li"
xa_expect_count "wrong password: refused" a login_failures $((lf + 1))
chk "unknown VM name: the message names it" 1 'no-such-vm' oursa -n no-such-vm -o off
chk "unknown VM UUID: the message names it" 1 "$(xa_uuid 99)" oursa -n "$(xa_uuid 99)" -o status
t0=$(xa_now)
chk "connection refused" 1 '' ours -s "http://127.0.0.1:1" -l root -p "$XA_PASS" -n vm1 -o status
took "connection refused" "$t0" 5

xa_ctl a power_fail=HOST_OFFLINE
t0=$(xa_now)
chk "off with HOST_OFFLINE fails at once" 1 'HOST_OFFLINE' oursa -n vm1 -o off
took "HOST_OFFLINE (power_timeout 20)" "$t0" 5
t0=$(xa_now)
chk "on with HOST_OFFLINE fails at once" 1 'HOST_OFFLINE' oursa -n vm-off -o on
took "HOST_OFFLINE on" "$t0" 5
t0=$(xa_now)
vft_expect_rc "reboot with HOST_OFFLINE under pacemaker-fenced" 1 \
    env PCMK_service=pacemaker-fenced timeout 30 "$VF_AGENT_XENAPI" -s "$URL" -l "$XA_USER" \
    -p "$XA_PASS" -n vm1 -o reboot
took "HOST_OFFLINE under pacemaker-fenced (no endless polling)" "$t0" 5
xa_expect_balanced "HOST_OFFLINE under pacemaker-fenced" a
xa_ctl a power_fail=
xa_expect_power "HOST_OFFLINE: vm1 untouched" a vm1 Running
xa_expect_count "never VM.power_state_reset" a calls 0 VM.power_state_reset

# slow power changes
xa_ctl a power_delay=1.5
t0=$(xa_now)
chk "off, state changes 1.5 s after the call" 0 '^Success: Powered OFF$' oursa -n vm2 -o off
dt=$(xa_since "$t0")
xa_lt 1.4 "$dt" && vft_ok "it waited for the change (${dt}s)" || vft_fail "returned after ${dt}s"
xa_expect_power "slow off" a vm2 Halted
xa_ctl a power_delay=3 power:vm2=Running
t0=$(xa_now)
chk "off with --power-timeout 1, change after 3 s: timed out" 1 '' oursa -n vm2 -o off --power-timeout 1
took "power_timeout 1" "$t0" 3
# let the pending change land before the next scenario
for i in $(seq 1 40); do [ "$(xa_q a power vm2)" = Halted ] && break; sleep 0.1; done
xa_ctl a power_delay=0 power:vm2=Running
xa_ctl a power_call_delay=1
chk "off, the call itself takes 1 s" 0 '^Success: Powered OFF$' oursa -n vm2 -o off
xa_ctl a power_call_delay=0 power:vm2=Running

# a call that never returns: the agent gives up and still logs out
xa_ctl a 'hang_methods=["VM.hard_shutdown"]'
t0=$(xa_now)
chk "hard_shutdown never answers (--shell-timeout 1 --power-timeout 3)" 1 '' \
    oursa -n vm2 -o off --shell-timeout 1 --power-timeout 3 --login-timeout 1
took "hung power call" "$t0" 10
xa_ctl a 'hang_methods=[]'
# an expired session (SESSION_INVALID after one call): a clean failure or
# a bounded number of new logins, never a hang or a login loop
xa_ctl a session_max_calls=1
li=$(xa_q a logins)
t0=$(xa_now)
rc=0
ours -s "$URL" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status >"$VFT_TMP/last.out" 2>&1 </dev/null || rc=$?
{ [ "$rc" = 0 ] || [ "$rc" = 1 ]; } && vft_ok "session expires after one call: exit $rc" ||
    vft_fail "session expires after one call: exit $rc"
took "expired session" "$t0" 10
n=$(( $(xa_q a logins) - li ))
[ "$n" -ge 1 ] && [ "$n" -le 4 ] && vft_ok "expired session: $n login(s)" ||
    vft_fail "expired session: $n logins"
xa_ctl a session_max_calls=0 expire reset

# hung server (started in the background at the top; its result here)
wait "$HANG_JOB"
read -r hrc hdt <"$VFT_TMP/hang.res"
[ "$hrc" = 1 ] && vft_ok "hung server: -o status --login-timeout 2 --shell-timeout 2: exit 1" ||
    vft_fail "hung server: exit $hrc, expected 1"
xa_lt "$hdt" 10 && vft_ok "hung server: ended after ${hdt}s (< 10 s)" ||
    vft_fail "hung server: took ${hdt}s (limit 10 s)"
xa_pw_leak "hung server" "$VFT_TMP/hang.out"
xa_stop hang
# HTTP 500 with an HTML page
xa_ctl a mode=html500
t0=$(xa_now)
chk "HTTP 500 with HTML: a clear error" 1 '500|HTML|HTTP' oursa -n vm1 -o status
took "HTTP 500" "$t0" 5
xa_ctl a mode=normal

# --- password never in the output --------------------------------------------------------
chk "status -v" 0 '^Status: ON$' oursa -n vm1 -o status -v
chk "off --verbose" 0 '' oursa -n vm2 -o off --verbose
chk "on -v -v -v --verbose-level=9" 0 '' oursa -n vm2 -o on -v -v -v --verbose-level=9
chk "list -v -v -v" 0 '' oursa -o list -v -v -v
chk "wrong password -v" 1 '' ours -s "$URL" -l "$XA_USER" -p "$XA_PASS-nope" -n vm1 -o status -v
grep -qF -- "$XA_PASS-nope" "$VFT_TMP/last.out" "$VFT_TMP/last.err" &&
    vft_fail "the wrong password is printed" || vft_ok "the wrong password is not printed"
xa_stdin_file "$S" action=status "${OLD_KEYS[@]}" port=vm1 \
    verbose=1 "debug_file=$VFT_TMP/debug.log"
chk "stdin verbose=1 debug_file=" 0 '^Status: ON$' xa_with_stdin "$S" ours
[ -f "$VFT_TMP/debug.log" ] && xa_pw_leak "debug file" "$VFT_TMP/debug.log"
vft_expect_rc "-h" 0 ours -h
vft_expect_rc "-V" 0 ours -V
xa_ctl a $INIT

# --- pool master redirect (HOST_IS_SLAVE) ------------------------------------------------
# a member on 127.0.0.1:P whose master is 127.0.0.2 (same port, as in a pool)
if xa_pair master "--bind 127.0.0.2" member "--bind 127.0.0.1 --slave-of 127.0.0.2"; then
    MURL=http://127.0.0.1:$(xa_port member)
    vft_expect_out "HOST_IS_SLAVE: status via the member" 0 '^Status: ON$' \
        ours -s "$MURL" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status
    xa_expect_count "the member refused once" member slave_refusals 1
    xa_expect_balanced "the master" master
    xa_expect_count "the master was logged in" master logins 1
    vft_expect_out "HOST_IS_SLAVE: off via the member" 0 '^Success: Powered OFF$' \
        ours -s "$MURL" -l "$XA_USER" -p "$XA_PASS" -n vm2 -o off
    xa_expect_power "off reached the master" master vm2 Halted
    xa_expect_power "not the member" member vm2 Running
    xa_expect_balanced "the master after off" master
    xa_expect_count "the member never gave a session" member logins 0
    xa_stop member; xa_stop master
else
    vft_fail "master/member fakes start"
fi
# IPv6: the member names its master "::1"; the agent must use http://[::1]:P
if "$XA_PY" -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    if xa_pair master6 "--bind ::1" member6 "--bind 127.0.0.1 --slave-of ::1"; then
        vft_expect_out "HOST_IS_SLAVE [::1]: redirect to an IPv6 master" 0 '^Status: ON$' \
            ours -s "http://127.0.0.1:$(xa_port member6)" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status
        xa_expect_balanced "the IPv6 master" master6
        xa_expect_count "the IPv6 master was logged in" master6 logins 1
        xa_stop member6; xa_stop master6
    else
        vft_fail "IPv6 fakes start"
    fi
else
    xa_skip_part "no IPv6 on loopback: IPv6 redirect not tested"
fi
# a loop: 127.0.0.3 says the master is 127.0.0.4, which says 127.0.0.3
if xa_pair loopa "--bind 127.0.0.3 --slave-of 127.0.0.4" loopb "--bind 127.0.0.4 --slave-of 127.0.0.3"; then
    t0=$(xa_now)
    vft_expect_rc "redirect loop fails" 1 \
        ours -s "http://127.0.0.3:$(xa_port loopa)" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status
    took "redirect loop" "$t0" 10
    n=$(( $(xa_q loopa slave_refusals) + $(xa_q loopb slave_refusals) ))
    if [ "$n" -ge 2 ] && [ "$n" -le 4 ]; then
        vft_ok "redirect loop: $n logins tried (the first + at most 3 redirects)"
    else
        vft_fail "redirect loop: $n logins tried, expected 2..4"
    fi
    xa_stop loopa; xa_stop loopb
else
    vft_fail "loop fakes start"
fi

# --- TLS --------------------------------------------------------------------------------
if ! command -v openssl >/dev/null 2>&1; then
    xa_skip_part "openssl CLI missing: TLS not tested"
elif ! xa_gen_ca "$VFT_TMP/ca"; then
    vft_fail "test CA"; tail -5 "$VFT_TMP/ca/openssl.log"
else
    CA=$VFT_TMP/ca/ca.pem
    if xa_start tls --tls-cert "$VFT_TMP/ca/srv.pem" --tls-key "$VFT_TMP/ca/srv.key"; then
        TURL=https://127.0.0.1:$(xa_port tls)
        vft_expect_out "https --cacert test CA" 0 '^Status: ON$' \
            ours -s "$TURL" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status --cacert "$CA"
        vft_expect_rc "https without the CA: not trusted" 1 \
            ours -s "$TURL" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status
        cat "$VFT_OUT" "$VFT_ERR" | grep -Eiq 'certif|verif|trust|SSL|TLS' &&
            vft_ok "the message names the certificate problem" ||
            vft_fail "no certificate message: $(cat "$VFT_OUT" "$VFT_ERR" | head -2 | tr '\n' ' ')"
        xa_expect_count "no login without trust" tls logins 1
        vft_expect_out "https --ssl-insecure" 0 '^Status: ON$' \
            ours -s "$TURL" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status --ssl-insecure
        xa_stdin_file "$S" action=off "session_url=$TURL" "login=$XA_USER" "passwd=$XA_PASS" \
            port=vm1 "cacert=$CA"
        vft_expect_out "stdin cacert=" 0 '^Success: Powered OFF$' xa_with_stdin "$S" ours
        xa_expect_power "https off" tls vm1 Halted
        xa_stdin_file "$S" action=on "session_url=$TURL" "login=$XA_USER" "passwd=$XA_PASS" \
            port=vm1 ssl_insecure=1
        vft_expect_out "stdin ssl_insecure=1" 0 '^Success: Powered ON$' xa_with_stdin "$S" ours
        xa_expect_balanced "https" tls
        xa_stop tls
    else
        vft_fail "https fake starts"
    fi
    if xa_start wrong --tls-cert "$VFT_TMP/ca/wrong.pem" --tls-key "$VFT_TMP/ca/wrong.key"; then
        WURL=https://127.0.0.1:$(xa_port wrong)
        vft_expect_rc "trusted CA, certificate for another host name: refused" 1 \
            ours -s "$WURL" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status --cacert "$CA"
        vft_expect_out "same with --ssl-insecure" 0 '^Status: ON$' \
            ours -s "$WURL" -l "$XA_USER" -p "$XA_PASS" -n vm1 -o status --ssl-insecure
        xa_stop wrong
    fi
    # redirect over https keeps the scheme and the port
    tls="--tls-cert $VFT_TMP/ca/srv.pem --tls-key $VFT_TMP/ca/srv.key"
    if xa_pair tmaster "--bind 127.0.0.2 $tls" tmember "--bind 127.0.0.1 --slave-of 127.0.0.2 $tls"; then
        vft_expect_out "https HOST_IS_SLAVE redirect with --cacert" 0 '^Status: ON$' \
            ours -s "https://127.0.0.1:$(xa_port tmember)" -l "$XA_USER" -p "$XA_PASS" -n vm1 \
            -o status --cacert "$CA"
        xa_expect_balanced "https master" tmaster
        xa_stop tmember; xa_stop tmaster
    else
        vft_fail "https master/member fakes start"
    fi
fi

# --- side by side with the reference ------------------------------------------------------
if [ ! -x "$XA_REF" ]; then
    xa_skip_part "no reference $XA_REF: side-by-side part skipped"
elif xa_start r && xa_start o; then
    RURL=http://127.0.0.1:$(xa_port r)
    OURL=http://127.0.0.1:$(xa_port o)
    # sbs ACTION PLUG [ARGS...]: both agents from the same initial state
    sbs() {
        local act=$1 plug=$2 rr=0 ro=0 sr so
        shift 2
        local pa=()
        [ -n "$plug" ] && pa=(-n "$plug")
        # both fakes reset and both agents run at the same time (each on
        # its own fake) to keep the script short
        xa_ctl r $INIT & local w=$!
        xa_ctl o $INIT
        wait "$w"
        (
            timeout 60 "$XA_REF" -s "$RURL" -l "$XA_USER" -p "$XA_PASS" "${pa[@]}" -o "$act" "$@" \
                >"$VFT_TMP/r.out" 2>/dev/null </dev/null
            echo $? >"$VFT_TMP/r.rc"
        ) &
        w=$!
        timeout 30 "$VF_AGENT_XENAPI" -s "$OURL" -l "$XA_USER" -p "$XA_PASS" "${pa[@]}" -o "$act" "$@" \
            >"$VFT_TMP/o.out" 2>"$VFT_TMP/o.err" </dev/null || ro=$?
        wait "$w"
        rr=$(cat "$VFT_TMP/r.rc")
        local tag="side by side: -o $act${plug:+ -n $plug} $*"
        [ "$rr" = "$ro" ] && vft_ok "$tag: exit $ro (both)" ||
            { vft_fail "$tag: reference exit $rr, ours $ro"; sed 's/^/    err: /' "$VFT_TMP/o.err" | head -3; }
        if [ "$rr" = 0 ] || [ "$rr" = 2 ]; then
            if sort "$VFT_TMP/r.out" | cmp -s - <(sort "$VFT_TMP/o.out"); then
                vft_ok "$tag: same output"
            else
                vft_fail "$tag: output differs"
                diff <(sort "$VFT_TMP/r.out") <(sort "$VFT_TMP/o.out") | head -6 | sed 's/^/    /'
            fi
        fi
        if [ -n "$plug" ]; then
            sr=$(xa_q r power "$plug"); so=$(xa_q o power "$plug")
            [ "$sr" = "$so" ] && vft_ok "$tag: same VM state ($so)" ||
                vft_fail "$tag: VM state reference $sr, ours $so"
        fi
    }
    sbs status vm1
    sbs status vm-off
    sbs status vm-suspended
    sbs off vm-paused
    sbs off vm-off
    sbs on "$(xa_uuid 14)"
    sbs on vm1
    sbs reboot vm1
    sbs reboot vm-off
    sbs list "" -C ';'
    sbs monitor ""
    sbs validate-all vm1
    sbs status no-such-vm
    sbs off "$(xa_uuid 98)"
    sbs status dup
    sbs off tmpl-debian
    xa_expect_balanced "side by side: ours" o
    xa_stop r; xa_stop o
else
    vft_fail "side-by-side fakes start"
fi
vft_finish
