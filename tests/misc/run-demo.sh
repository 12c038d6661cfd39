#!/bin/bash
# vmfence - tests/misc/run-demo.sh: THE demo command (scripts/demo.sh) must
# work.  It runs against the build tree's fence_virtd and fence_virt
# (VF_DEMO_DAEMON/VF_DEMO_AGENT, so it neither installs packages nor
# rebuilds): daemon on 127.0.0.1, libvirt test driver, list/status/off/on/
# reboot, wrong key refused, unknown VM is a failure.  No fakes besides the
# test-driver hypervisor.
. "${VF_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/common.sh"

[ -x "$VF_DAEMON" ] || vft_skip "fence_virtd not built"
[ -x "$VF_AGENT" ] || vft_skip "fence_virt not built"
vft_need_cmd ss stdbuf

rc=0
VF_DEMO_DAEMON=$VF_DAEMON VF_DEMO_AGENT=$VF_AGENT \
    timeout 120 bash "$VFT_SRC/scripts/demo.sh" --no-setup >"$VFT_TMP/demo.out" 2>&1 </dev/null || rc=$?
if [ "$rc" = 0 ]; then vft_ok "demo.sh exits 0"; else vft_fail "demo.sh exits $rc"; fi
vft_check "demo reports success" grep -q 'demo: all steps gave the expected result' "$VFT_TMP/demo.out"
vft_check "demo shows node2 off in the list" grep -Eq '^ +node2 +[0-9a-f-]{36} off$' "$VFT_TMP/demo.out"
vft_check "demo stopped the daemon on SIGTERM" grep -q 'stopped on SIGTERM' "$VFT_TMP/demo.out"
n=$(grep -c -- '-> exit .*as expected' "$VFT_TMP/demo.out")
vft_check "every agent step as expected ($n)" test "$n" -ge 11
tmpd=$(sed -n 's|.*key: *\(/tmp/vmfence-demo\.[A-Za-z0-9]*\)/.*|\1|p' "$VFT_TMP/demo.out" | head -n 1)
vft_check "demo removed its temporary directory ('$tmpd')" test -n "$tmpd" -a ! -e "$tmpd"
[ "$VFT_FAIL" = 0 ] || sed 's/^/    demo: /' "$VFT_TMP/demo.out" | tail -40
vft_finish
