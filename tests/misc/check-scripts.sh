#!/bin/bash
# vmfence - tests/misc/check-scripts.sh: the project's commands
# (scripts/setup-debian.sh, scripts/run-tests.sh, scripts/demo.sh, .ci/run,
# bench/run-bench.sh) parse, answer --help, reject unknown options, and
# setup-debian.sh does the right thing on both paths:
#  * everything installed: exits 0 without calling apt-get;
#  * a package missing: keeps the policy-rc.d guard, runs apt-get update, then
#    apt-get install -y --no-install-recommends with exactly the missing package.
# Faked for the second case (no package may really be installed by a test):
# dpkg-query, apt-get and id are shell stubs first in PATH.
. "${VF_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/common.sh"

S=$VFT_SRC
for f in scripts/setup-debian.sh scripts/run-tests.sh scripts/demo.sh .ci/run bench/run-bench.sh; do
    vft_check "$f: bash -n" bash -n "$S/$f"
done
for f in ocf/fence_virtd.in; do
    vft_check "$f: sh -n" sh -n "$S/$f"
done
vft_expect_rc "setup-debian.sh --help" 0 bash "$S/scripts/setup-debian.sh" --help
vft_expect_rc "setup-debian.sh rejects unknown options" 1 bash "$S/scripts/setup-debian.sh" --bogus
vft_expect_rc "run-tests.sh --help" 0 bash "$S/scripts/run-tests.sh" --help
vft_expect_rc "run-tests.sh rejects unknown options" 2 bash "$S/scripts/run-tests.sh" --bogus
vft_expect_rc "demo.sh --help" 0 bash "$S/scripts/demo.sh" --help
vft_expect_rc "run-bench.sh --help" 0 bash "$S/bench/run-bench.sh" --help
vft_check ".ci/run execs scripts/run-tests.sh" grep -q 'exec bash scripts/run-tests.sh' "$S/.ci/run"

# --- setup-debian.sh, all installed: no apt-get --------------------------------------
stub=$VFT_TMP/stub
mkdir -p "$stub"
cat >"$stub/apt-get" <<'STUB'
#!/bin/sh
echo "apt-get $*" >>"$VFT_STUB_LOG"
case "$1" in install) touch "$VFT_STUB_STATE" ;; esac
exit 0
STUB
cat >"$stub/id" <<'STUB'
#!/bin/sh
echo 0
STUB
chmod +x "$stub/apt-get" "$stub/id"
export VFT_STUB_LOG=$VFT_TMP/apt.log VFT_STUB_STATE=$VFT_TMP/installed
if bash "$S/scripts/setup-debian.sh" >/dev/null 2>&1; then
    : >"$VFT_STUB_LOG"
    vft_expect_rc "setup-debian.sh with everything installed" 0 \
        env PATH="$stub:$PATH" bash "$S/scripts/setup-debian.sh"
    vft_check "... did not call apt-get" test ! -s "$VFT_STUB_LOG"
else
    vft_skip_part "packages missing on this machine: 'all installed' path not checked"
fi

# --- one package missing (stub dpkg-query: socat missing until "installed") -----
if [ -x /usr/sbin/policy-rc.d ]; then
    cat >"$stub/dpkg-query" <<'STUB'
#!/bin/sh
for a; do p=$a; done
if [ "$p" = socat ] && [ ! -e "$VFT_STUB_STATE" ]; then exit 1; fi
printf 'ii '
STUB
    chmod +x "$stub/dpkg-query"
    : >"$VFT_STUB_LOG"
    rm -f "$VFT_STUB_STATE"
    vft_expect_rc "setup-debian.sh installs a missing package" 0 \
        env PATH="$stub:$PATH" bash "$S/scripts/setup-debian.sh"
    vft_check "... kept the existing policy-rc.d" grep -q 'keeping existing /usr/sbin/policy-rc.d' "$VFT_OUT"
    vft_check "... ran apt-get update first" sh -c "head -n 1 '$VFT_STUB_LOG' | grep -q '^apt-get update'"
    vft_check "... installed exactly socat, no recommends" \
        grep -qx 'apt-get install -y -q --no-install-recommends socat' "$VFT_STUB_LOG"
    rm -f "$VFT_STUB_STATE"
    cat >"$stub/apt-get" <<'STUB'
#!/bin/sh
exit 100
STUB
    vft_expect_rc "setup-debian.sh fails when apt-get fails" 1 \
        env PATH="$stub:$PATH" bash "$S/scripts/setup-debian.sh"
    vft_check "... with a clear message" grep -q 'ERROR: apt-get' "$VFT_ERR"
else
    vft_skip_part "no /usr/sbin/policy-rc.d here: the install path is not exercised (it would create one)"
fi

vft_finish
