#!/bin/bash
# vmfence - ocf/check-ocf.sh: tests of the OCF resource agent
# ocf:vmfence:fence_virtd (ocf/fence_virtd.in).
#
#  * meta-data is valid against resource-agents' ra-api-1.dtd and the OCF
#    RELAX NG schemas of pacemaker/pcs (whichever are installed);
#  * methods/usage/unknown-action/validate-all exit codes;
#  * monitor ignores a pid file naming a live process that is not fence_virtd;
#  * ocf-tester (resource-agents) drives start/monitor/stop/... against a real
#    daemon: vmfence's daemon when it is built (VF_TOP_BUILDDIR/daemon/fence_virtd),
#    else the reference /usr/sbin/fence_virtd.  The daemon listens with the
#    tcp listener on a free 127.0.0.1 port and uses the libvirt test driver
#    (no real hypervisor: that is the only fake here).
# Skips (77) without xmllint or ocf-shellfuncs.  Everything started is
# stopped by PID.

. "${VF_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib/common.sh"

RA="$VFT_BUILD/ocf/fence_virtd"
[ -x "$RA" ] || RA="$(cd "$(dirname "$0")" && pwd)/fence_virtd"
[ -x "$RA" ] || vft_skip "agent not built ($RA)"
vft_need_cmd xmllint
[ -r /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ] || vft_skip "resource-agents (ocf-shellfuncs) not installed"

export OCF_ROOT=/usr/lib/ocf
export OCF_RESOURCE_INSTANCE=vftest$$

# ---- meta-data ------------------------------------------------------------------
vft_expect_rc "meta-data" 0 "$RA" meta-data
cp "$VFT_OUT" "$VFT_TMP/meta.xml"
# xml_ok ARGS...: xmllint quietly, its messages shown only on failure (the
# DOCTYPE names ra-api-1.dtd relative to the file, hence "failed to load" noise)
xml_ok() {
    if xmllint --noout "$@" >"$VFT_TMP/xmllint.out" 2>&1; then return 0; fi
    sed 's/^/    xmllint: /' "$VFT_TMP/xmllint.out" | head -20
    return 1
}
vft_check "meta-data is well-formed XML" xml_ok "$VFT_TMP/meta.xml"
if [ -r /usr/share/resource-agents/ra-api-1.dtd ]; then
    vft_check "meta-data valid against ra-api-1.dtd" \
        xml_ok --dtdvalid /usr/share/resource-agents/ra-api-1.dtd "$VFT_TMP/meta.xml"
else
    vft_skip_part "/usr/share/resource-agents/ra-api-1.dtd missing: DTD validation not run"
fi
nrng=0
for rng in /usr/share/pacemaker/ocf-1.0.rng /usr/share/pcs/data/ocf-1.0.rng \
           /usr/share/resource-agents/metadata.rng; do
    [ -r "$rng" ] || continue
    nrng=$((nrng + 1))
    vft_check "meta-data valid against $rng" xml_ok --relaxng "$rng" "$VFT_TMP/meta.xml"
done
[ "$nrng" -gt 0 ] || vft_skip_part "no OCF RELAX NG schema installed: RELAX NG validation not run"
for a in start stop monitor meta-data validate-all; do
    vft_check "meta-data advertises action $a" grep -q "<action name=\"$a\"" "$VFT_TMP/meta.xml"
done
for p in config pidfile binary args; do
    vft_check "meta-data has parameter $p" grep -q "<parameter name=\"$p\"" "$VFT_TMP/meta.xml"
done
vft_check "no unsubstituted @VARIABLES@" sh -c "! grep -q '@[a-zA-Z]*@' '$RA'"

# ---- simple actions -----------------------------------------------------------------
vft_expect_rc "methods" 0 "$RA" methods
vft_expect_rc "usage" 0 "$RA" usage
vft_expect_rc "unknown action is OCF_ERR_UNIMPLEMENTED" 3 "$RA" frobnicate
vft_expect_rc "no action is OCF_ERR_UNIMPLEMENTED" 3 "$RA"
OCF_RESKEY_binary=/nonexistent/fence_virtd OCF_RESKEY_config=/etc/hostname \
    vft_expect_rc "validate-all: missing binary is OCF_ERR_INSTALLED" 5 "$RA" validate-all
OCF_RESKEY_binary=/bin/true OCF_RESKEY_config="$VFT_TMP/no-such.conf" \
    vft_expect_rc "validate-all: missing config is OCF_ERR_CONFIGURED" 6 "$RA" validate-all
OCF_RESKEY_binary=/bin/true OCF_RESKEY_config=/etc/hostname OCF_RESKEY_pidfile=relative.pid \
    vft_expect_rc "validate-all: relative pidfile is OCF_ERR_CONFIGURED" 6 "$RA" validate-all
OCF_RESKEY_binary=/bin/true OCF_RESKEY_config=/etc/hostname OCF_RESKEY_args="-d 1 -F" \
    vft_expect_rc "validate-all: -F in args is OCF_ERR_CONFIGURED" 6 "$RA" validate-all
OCF_RESKEY_pidfile="$VFT_TMP/none.pid" \
    vft_expect_rc "monitor without pid file is OCF_NOT_RUNNING" 7 "$RA" monitor
# a pid file naming a live process that is not fence_virtd (our own shell)
echo $$ >"$VFT_TMP/other.pid"
OCF_RESKEY_pidfile="$VFT_TMP/other.pid" OCF_RESKEY_binary=/bin/true \
    vft_expect_rc "monitor: pid of another program is OCF_NOT_RUNNING" 7 "$RA" monitor
OCF_RESKEY_pidfile="$VFT_TMP/other.pid" OCF_RESKEY_binary=/bin/true \
    vft_expect_rc "stop: pid of another program is left alone" 0 "$RA" stop
vft_check "stop did not signal the other program" kill -0 $$

# ---- a real daemon ------------------------------------------------------------------
DAEMON=$REF_DAEMON
MODPATH=$REF_MODULES
if [ -x "$VF_DAEMON" ]; then
    DAEMON=$VF_DAEMON
    MODPATH=
fi
[ -x "$DAEMON" ] || { vft_skip_part "no fence_virtd to run: the real-daemon part not run"; vft_finish; }
vft_log "daemon under test: $DAEMON"

PORT=$(vft_free_port) || { vft_fail "no free port"; vft_finish; }
vft_gen_key "$VFT_TMP/key"
vft_testdriver_xml "$VFT_TMP/hv.xml" vm1 vm2:off
CONF=$VFT_TMP/fence_virt.conf
{
    echo 'fence_virtd {'
    echo '    listener = "tcp";'
    echo '    backend = "libvirt";'
    [ -n "$MODPATH" ] && echo "    module_path = \"$MODPATH\";"
    echo '}'
    echo "listeners { tcp { address = \"127.0.0.1\"; port = \"$PORT\"; key_file = \"$VFT_TMP/key\"; } }"
    echo "backends { libvirt { uri = \"test://$VFT_TMP/hv.xml\"; } }"
} >"$CONF"
chmod 600 "$CONF"
PIDF=$VFT_TMP/ra.pid
# whatever happens, the daemon started through the agent is stopped by its pid
vft_on_exit "[ -s '$PIDF' ] && vft_kill_pid \"\$(cat '$PIDF')\""

export OCF_RESKEY_config=$CONF OCF_RESKEY_pidfile=$PIDF OCF_RESKEY_binary=$DAEMON
vft_expect_rc "validate-all with a good configuration" 0 "$RA" validate-all
vft_expect_rc "monitor before start" 7 "$RA" monitor
vft_expect_rc "start" 0 "$RA" start
vft_check "daemon listens on 127.0.0.1:$PORT" vft_wait_tcp 127.0.0.1 "$PORT" 10
vft_expect_rc "monitor after start" 0 "$RA" monitor
pid=$(cat "$PIDF" 2>/dev/null)
vft_expect_rc "start again is a no-op" 0 "$RA" start
vft_check "same daemon after the second start" test "$(cat "$PIDF" 2>/dev/null)" = "$pid"
if [ -x "$REF_AGENT" ]; then
    vft_expect_rc "the daemon answers a status request" 0 \
        timeout 20 "$REF_AGENT" -T 127.0.0.1 -p "$PORT" -k "$VFT_TMP/key" -t 5 -o status -n vm1
else
    vft_skip_part "reference $REF_AGENT missing: status request to the started daemon not sent"
fi
if [ "$DAEMON" = "$VF_DAEMON" ]; then
    # vmfence's daemon reports start-up errors in its exit status (the port is
    # taken by the first instance): start must fail at once, not time out
    t0=$(date +%s)
    OCF_RESKEY_pidfile="$VFT_TMP/second.pid" \
        vft_expect_rc "start of a second instance on the same port fails" 1 "$RA" start
    vft_check "... within 10 s" test $(($(date +%s) - t0)) -le 10
    vft_on_exit "[ -s '$VFT_TMP/second.pid' ] && vft_kill_pid \"\$(cat '$VFT_TMP/second.pid')\""
    vft_expect_rc "the first instance still runs" 0 "$RA" monitor
fi
vft_expect_rc "stop" 0 "$RA" stop
vft_check "daemon process gone after stop" sh -c "! kill -0 '$pid' 2>/dev/null"
vft_expect_rc "monitor after stop" 7 "$RA" monitor
vft_expect_rc "stop again" 0 "$RA" stop
# a daemon that died leaves a stale pid file: monitor says not running, start recovers
vft_expect_rc "start (for crash test)" 0 "$RA" start
pid=$(cat "$PIDF" 2>/dev/null)
[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
vft_expect_rc "monitor after the daemon was killed" 7 "$RA" monitor
vft_expect_rc "start after a crash" 0 "$RA" start
vft_expect_rc "stop after restart" 0 "$RA" stop

if [ -x /usr/sbin/ocf-tester ]; then
    # ocf-tester runs every advertised action in the OCF-mandated order
    vft_expect_rc "ocf-tester" 0 timeout 120 /usr/sbin/ocf-tester -n "$OCF_RESOURCE_INSTANCE" \
        -o config="$CONF" -o pidfile="$PIDF" -o binary="$DAEMON" "$RA" ||
        sed 's/^/    tester: /' "$VFT_OUT" | tail -30
else
    vft_skip_part "ocf-tester not installed (package resource-agents): that part not run"
fi
vft_check "nothing left running after ocf-tester" sh -c "! [ -s '$PIDF' ] || ! kill -0 \"\$(cat '$PIDF')\" 2>/dev/null"

vft_finish
