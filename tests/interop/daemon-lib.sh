#!/bin/bash
# vmfence - tests/interop/daemon-lib.sh: helpers for the fence_virtd tests
# (daemon-*.sh).  Source after tests/lib/common.sh.

# vfd_need: skip unless our daemon is built and we may run it
vfd_need() {
    [ -x "$VF_DAEMON" ] || vft_skip "fence_virtd not built"
    vft_need_cmd "$@"
}

# vfd_ns_bed TAG IFTAG NET KEYSIZE DOMAIN...: hypervisor and guest
# namespaces (vft_ns_pair), the test driver with DOMAIN... (VFD_URI; see
# vft_testdriver_xml) and a key KEY of KEYSIZE bytes
vfd_ns_bed() {
    vft_ns_pair "$1" "$2" "$3"
    KEY="$VFT_TMP/key"; vft_gen_key "$KEY" "$4"
    shift 4
    vft_testdriver_xml "$VFT_TMP/node.xml" "$@"
    VFD_URI="test://$VFT_TMP/node.xml"
}

# vfd_write_conf FILE LISTENER-BLOCKS [EXTRA]: fence_virtd config with the
# libvirt backend on $VFD_URI; LISTENER-BLOCKS is the text inside listeners { }
# $VFD_LISTENER names the listener(s) (default tcp)
vfd_write_conf() {
    local f=$1 blocks=$2 extra=${3:-}
    cat >"$f" <<EOC
fence_virtd {
	listener = "${VFD_LISTENER:-tcp}";
	backend = "libvirt";
}
listeners {
$blocks
}
backends {
	libvirt {
		uri = "$VFD_URI";
	}
}
$extra
EOC
}

# vfd_tcp_block PORT KEY [HASH] [AUTH]
vfd_tcp_block() {
    printf '\ttcp {\n\t\taddress = "127.0.0.1";\n\t\tport = "%s";\n\t\tkey_file = "%s";\n\t\thash = "%s";\n\t\tauth = "%s";\n\t}\n' \
        "$1" "$2" "${3:-sha256}" "${4:-sha256}"
}

# VF_DAEMON_WRAPPER: a command line (split on blanks) that vfd_start puts in
# front of the daemon, e.g. "valgrind --log-file=..." (tests/valgrind/
# memcheck.sh); with it, starting and stopping may take longer
VFD_WRAP=()
VFD_SLOW=1
if [ -n "${VF_DAEMON_WRAPPER:-}" ]; then
    read -r -a VFD_WRAP <<<"$VF_DAEMON_WRAPPER"
    VFD_SLOW=6
fi

# vfd_start VAR CONF [NETNS] [ARGS...]: start our fence_virtd in the
# foreground (own pid file), wait until it logs "started"; log in $VFD_LOG
vfd_start() {
    local var=$1 conf=$2 ns=${3:-} i pid
    shift 3 2>/dev/null || shift $#
    local pre=()
    [ -n "$ns" ] && pre=(ip netns exec "$ns")
    VFD_LOG="$VFT_TMP/vfd.$RANDOM.log"
    "${pre[@]}" "${VFD_WRAP[@]}" "$VF_DAEMON" -F -d 2 -f "$conf" -p "$VFT_TMP/vfd.$RANDOM.pid" "$@" \
        >"$VFD_LOG" 2>&1 &
    pid=$!
    printf -v "$var" '%s' "$pid"
    vft_on_exit "vft_kill_pid $pid"
    for i in $(seq 1 $((100 * VFD_SLOW))); do
        grep -q ' started (pid' "$VFD_LOG" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    vft_log "fence_virtd did not start:"; sed 's/^/    /' "$VFD_LOG" >&2
    return 1
}

# vfd_stop PID: SIGTERM and wait (bounded: 5 s, 30 s under a wrapper), then KILL
vfd_stop() {
    local pid=$1 i
    if kill -TERM "$pid" 2>/dev/null; then
        for i in $(seq 1 $((50 * VFD_SLOW))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# vfd_log_has PATTERN [SECONDS]: wait until the daemon log matches
vfd_log_has() {
    local pat=$1 secs=${2:-3} i
    for i in $(seq 1 $((secs * 10))); do
        grep -q -- "$pat" "$VFD_LOG" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# vfd_expect_out DESC RC PATTERN CMD...: exit code and stdout pattern
vfd_expect_out() {
    local d=$1 want=$2 pat=$3; shift 3
    if vft_expect_rc "$d" "$want" "$@"; then
        if [ -n "$pat" ] && ! grep -q -- "$pat" "$VFT_OUT"; then
            vft_fail "$d: output lacks '$pat'"; sed 's/^/    out: /' "$VFT_OUT" | head
        fi
    fi
}

# vfd_expect_cycle NAMEOPT CMD...: the power cycle every listener test runs
# through the agent command CMD (domain named with NAMEOPT, -n or -H):
# status of the running vm1 and the shut-off vm2, then off, on and reboot of
# vm1, each followed by its status
vfd_expect_cycle() {
    local o=$1
    shift
    vfd_expect_out "status vm1 (running)" 0 "Status: ON" "$@" -o status "$o" vm1
    vfd_expect_out "status vm2 (off)" 2 "Status: OFF" "$@" -o status "$o" vm2
    vfd_expect_out "off vm1" 0 "" "$@" -o off "$o" vm1
    vfd_expect_out "status vm1 after off" 2 "Status: OFF" "$@" -o status "$o" vm1
    vfd_expect_out "on vm1" 0 "" "$@" -o on "$o" vm1
    vfd_expect_out "status vm1 after on" 0 "Status: ON" "$@" -o status "$o" vm1
    vfd_expect_out "reboot vm1" 0 "" "$@" -o reboot "$o" vm1
    vfd_expect_out "status vm1 after reboot" 0 "Status: ON" "$@" -o status "$o" vm1
}

# vfd_free_port: a loopback TCP port below the ephemeral range (32768+) that
# no socket uses at all (vft_free_port only looks at listeners, and an
# outgoing connection's local port also makes bind() fail)
vfd_free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((12000 + RANDOM % 20000))
        ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
    done
    return 1
}
