#!/bin/bash
# vmfence - tests/xenapi/xenapi-lib.sh: helpers shared by the fence_xenapi
# tests.  Sourced AFTER tests/lib/common.sh.
#
# The hypervisor is FAKED: tests/xenapi/fake-xapi.py plays a XenServer /
# XCP-ng pool (XAPI XML-RPC), because no Xen host can run on a test machine.
# Each fake instance binds one loopback address (127.0.0.x or ::1) and port,
# keeps its counters and VM states in a JSON state file and takes run-time
# changes (failure modes, VM power states) through a control file; see the
# header of fake-xapi.py.  Nothing leaves loopback.

XA_FAKE="$VFT_SRC/tests/xenapi/fake-xapi.py"
# Debian's python3 directly (a python3 wrapper earlier in PATH, such as a
# pyenv shim, costs ~60 ms per call and the tests make hundreds of calls)
XA_PY=${VF_PYTHON:-/usr/bin/python3}
[ -x "$XA_PY" ] || XA_PY=python3
XA_REF=${VF_REF_AGENT_XENAPI:-/usr/sbin/fence_xenapi}
XA_USER=root
XA_PASS=Xen-s3cret-pw
# VM UUIDs of the fake pool (fake-xapi.py DEFAULT_POOL)
xa_uuid() { printf 'a1b2c3d4-0000-4000-8000-0000000000%02d' "$1"; }

# xa_start NAME [fake-xapi options...]: start a fake XAPI instance called
# NAME (default bind 127.0.0.1, a free port unless --port is given), wait
# until it listens; sets XA_PORT_<NAME>, and files $VFT_TMP/xa-NAME.{state,
# ctl,log}.  Registered for cleanup by PID.
xa_start() {
    local name=$1 i pid
    shift
    local d=$VFT_TMP/xa-$name
    rm -f "$d.port"
    echo '{}' >"$d.ctl"
    "$XA_PY" "$XA_FAKE" serve --state "$d.state" --control "$d.ctl" --log "$d.log" \
        --port-file "$d.port" --username "$XA_USER" --password "$XA_PASS" --lifetime 300 \
        "$@" </dev/null >>"$d.log" 2>&1 &
    pid=$!
    vft_on_exit "vft_kill_pid $pid"
    printf -v "XA_PID_$name" '%s' "$pid"
    for i in $(seq 1 100); do
        if [ -s "$d.port" ] && [ -s "$d.state" ]; then
            printf -v "XA_PORT_$name" '%s' "$(cat "$d.port")"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    vft_log "fake XAPI $name did not start:"
    tail -5 "$d.log" >&2
    return 1
}
# xa_stop NAME: stop that instance (by its PID)
xa_stop() {
    local v="XA_PID_$1"
    vft_kill_pid "${!v:-}"
}
# xa_port NAME
xa_port() { local v="XA_PORT_$1"; echo "${!v}"; }
# xa_q NAME WHAT [ARG]: query the instance's state file (fake-xapi.py query;
# the plain counters are read with awk, which is much quicker than python)
xa_q() {
    local n=$1; shift
    case $1 in
    logins|logouts|login_failures|slave_refusals|sessions_open|requests|control_seq)
        [ $# = 1 ] && awk -v k="\"$1\":" '$1 == k { sub(/,$/, "", $2); print $2; exit }' \
            "$VFT_TMP/xa-$n.state" && return 0 ;;
    calls)
        # the state file is indent=1 JSON: one '"method": "X"' line per call
        [ $# = 2 ] && { grep -c "^   \"method\": \"$2\",\?\$" "$VFT_TMP/xa-$n.state"; return 0; } ;;
    power)
        # by UUID, or by the name of a VM that is not a template/snapshot/dom0
        awk -v want="$2" '
            /^  "[0-9a-f-]+": \{$/ { u = $1; gsub(/[":{]/, "", u); k = ""; nm = ""; next }
            /^   "kind": /        { k = $2; gsub(/[",]/, "", k) }
            /^   "name": /        { nm = $0; sub(/^   "name": "/, "", nm); sub(/",?$/, "", nm) }
            /^   "power_state": / { p = $2; gsub(/[",]/, "", p)
                                    if (u == want || (nm == want && k == "vm")) { hit++; res = p } }
            END { print (hit == 1 ? res : "no-such-vm") }' "$VFT_TMP/xa-$n.state"
        return 0 ;;
    esac
    "$XA_PY" "$XA_FAKE" query "$VFT_TMP/xa-$n.state" "$@"
}
# xa_ctl NAME ARGS...: change the instance at run time (fake-xapi.py ctl)
xa_ctl() { local n=$1; shift; "$XA_PY" "$XA_FAKE" ctl "$VFT_TMP/xa-$n.ctl" "$VFT_TMP/xa-$n.state" "$@"; }

# xa_expect_power DESC NAME VM STATE: the fake says VM is in STATE
xa_expect_power() {
    local got
    got=$(xa_q "$2" power "$3")
    if [ "$got" = "$4" ]; then vft_ok "$1: $3 is $got"; return 0; fi
    vft_fail "$1: $3 is $got, expected $4"
    return 1
}
# xa_expect_count DESC NAME WHAT WANT [ARG]: a counter of the fake equals WANT
xa_expect_count() {
    local got
    got=$(xa_q "$2" "$3" ${5:+"$5"})
    if [ "$got" = "$4" ]; then vft_ok "$1: $3${5:+ $5} = $got"; return 0; fi
    vft_fail "$1: $3${5:+ $5} = $got, expected $4"
    return 1
}
# xa_expect_balanced DESC NAME: logins == logouts and no session left open
xa_expect_balanced() {
    local li lo op
    read -r li lo op < <(awk '$1 == "\"logins\":" { a = $2 } $1 == "\"logouts\":" { b = $2 }
        $1 == "\"sessions_open\":" { c = $2 } END { gsub(/,/, "", a); gsub(/,/, "", b);
        gsub(/,/, "", c); print a, b, c }' "$VFT_TMP/xa-$2.state")
    if [ "$li" = "$lo" ] && [ "$op" = 0 ]; then
        vft_ok "$1: logins $li = logouts $lo, 0 sessions open"; return 0
    fi
    vft_fail "$1: logins $li, logouts $lo, $op sessions open"
    return 1
}

# xa_gen_ca DIR: a throwaway CA and two server certificates signed by it,
# made with the openssl CLI: DIR/srv.pem (SAN 127.0.0.1, 127.0.0.2,
# 127.0.0.3, 127.0.0.4, ::1, localhost) and DIR/wrong.pem (SAN only
# DNS:not-this-host.invalid, for the hostname check); keys next to them.
xa_gen_ca() {
    local d=$1
    mkdir -p "$d"
    (
        cd "$d" || exit 1
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout ca.key -out ca.pem -days 2 -subj "/CN=vmfence fake XAPI test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" || exit 1
        for c in srv wrong; do
            if [ $c = srv ]; then
                san="IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,IP:127.0.0.4,IP:::1,DNS:localhost"
            else
                san="DNS:not-this-host.invalid"
            fi
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -keyout $c.key -out $c.csr -subj "/CN=fake-xapi-$c" || exit 1
            printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
                "$san" >$c.ext
            openssl x509 -req -in $c.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                -out $c.pem -days 2 -extfile $c.ext || exit 1
        done
    ) >"$d/openssl.log" 2>&1
}

# xa_pw_leak DESC FILE...: the password appears in none of FILE
xa_pw_leak() {
    local d=$1; shift
    if grep -qF -- "$XA_PASS" "$@" 2>/dev/null; then
        vft_fail "$d: the password appears in the output"
        grep -nF -- "$XA_PASS" "$@" | head -3 | sed 's/^/    /'
        return 1
    fi
    vft_ok "$d: no password in the output"
}

# xa_with_stdin FILE CMD...: run CMD with FILE as its standard input (for
# vft_expect_* which otherwise give the command /dev/null)
xa_with_stdin() { local f=$1; shift; "$@" <"$f"; }
# xa_stdin_file PATH KEY=VALUE...: a fence-agent stdin file, one key a line
xa_stdin_file() { local f=$1; shift; printf '%s\n' "$@" >"$f"; }
# xa_stdin_aliases CHECK AGENT: status from the fake at $URL over stdin
# (AGENT run by xa_with_stdin, checked by CHECK as in xa_stdin_power) with either spelling
# of the credentials and target: login/passwd/port (and nodename) asking
# for vm1, on; username/password/plug asking for vm-off, off
xa_stdin_aliases() {
    local f=$VFT_TMP/stdin.aliases
    xa_stdin_file "$f" action=status "session_url=$URL" "login=$XA_USER" "passwd=$XA_PASS" port=vm1 \
        nodename=node1
    "$1" "stdin status (login/passwd/port)" 0 '^Status: ON$' xa_with_stdin "$f" "$2"
    xa_stdin_file "$f" action=status "session_url=$URL" "username=$XA_USER" "password=$XA_PASS" \
        plug=vm-off
    "$1" "stdin status (username/password/plug)" 2 '^Status: OFF$' xa_with_stdin "$f" "$2"
}

# xa_stdin_power CHECK DESC REGEX AGENT VM STATE KEY=VALUE...: AGENT (a
# command) run with a stdin file of the KEY=VALUE lines must exit 0 with
# output REGEX, as checked by CHECK (called as CHECK DESC RC REGEX CMD...,
# e.g. vft_expect_out), and leave VM in STATE on fake a
xa_stdin_power() {
    local chk=$1 d=$2 re=$3 who=$4 vm=$5 st=$6 f=$VFT_TMP/stdin.power
    shift 6
    xa_stdin_file "$f" "$@"
    "$chk" "$d" 0 "$re" xa_with_stdin "$f" "$who"
    xa_expect_power "$d" a "$vm" "$st"
}

# xa_stdin_cycle CHECK AGENT VM OFF ON REBOOT: off, on and reboot of VM by
# stdin files (xa_stdin_power), each file's lines the words of OFF, ON and
# REBOOT (KEY=VALUE words split on white space, so values without spaces)
# after its action=; VM ends Running on fake a
xa_stdin_cycle() {
    local chk=$1 who=$2 vm=$3
    # shellcheck disable=SC2086 # the key lists are split on purpose
    xa_stdin_power "$chk" "stdin off $vm" '^Success: Powered OFF$' "$who" "$vm" Halted action=off $4
    # shellcheck disable=SC2086
    xa_stdin_power "$chk" "stdin on $vm" '^Success: Powered ON$' "$who" "$vm" Running action=on $5
    # shellcheck disable=SC2086
    xa_stdin_power "$chk" "stdin reboot $vm" '^Success: Rebooted$' "$who" "$vm" Running \
        action=reboot $6
}

# xa_now: seconds since the epoch with decimals; xa_since T0: elapsed
xa_now() { date +%s.%N; }
xa_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
# xa_lt A B: true if A < B (decimals)
xa_lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# xa_skip_part REASON: a part of the script cannot run here
xa_skip_part() {
    if declare -F vft_skip_part >/dev/null; then vft_skip_part "$@"; else echo "SKIP part: $VFT_NAME: $*"; fi
}

# xa_pair N1 "ARGS1" N2 "ARGS2": two instances on the SAME port (a pool:
# a member and its master on two loopback addresses), N1 on a free port,
# N2 on N1's port; retried on another port (3 times) if N2 cannot bind.
# ARGS are split on white space.
xa_pair() {
    local n1=$1 a1=$2 n2=$3 a2=$4 try
    for try in 1 2 3; do
        # shellcheck disable=SC2086
        xa_start "$n1" $a1 || return 1
        # shellcheck disable=SC2086
        xa_start "$n2" $a2 --port "$(xa_port "$n1")" 2>/dev/null && return 0
        xa_stop "$n1"
    done
    return 1
}
