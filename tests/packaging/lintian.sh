#!/bin/bash
# vmfence - tests/packaging/lintian.sh: lintian --pedantic on the packages in
# VF_PKG_DIR (their .changes: the .debs and the .buildinfo) must print
# nothing: no error, warning, info, pedantic or experimental tag. Overrides
# live in debian/*.lintian-overrides, each with the reason in a comment.
# Skipped without VF_PKG_DIR (build-debs.sh makes one) or without lintian.
if [ -n "${VF_UNIT_ONLY:-}" ]; then
    echo "SKIP: lintian: VF_UNIT_ONLY is set"
    exit 77
fi
. "$(dirname "$0")/../lib/common.sh"

vft_need_cmd lintian
[ -n "${VF_PKG_DIR:-}" ] || vft_skip "VF_PKG_DIR not set (tests/packaging/build-debs.sh SRC DIR builds the packages)"
changes=$(ls -1 "$VF_PKG_DIR"/vmfence_*.changes 2>/dev/null | sort -V | tail -1)
[ -n "$changes" ] || vft_skip "no vmfence_*.changes in $VF_PKG_DIR"

rc=0
timeout 300 lintian --pedantic --display-info --display-experimental --fail-on error,warning,info,pedantic \
    "$changes" >"$VFT_TMP/lintian.log" 2>&1 || rc=$?
# lintian warns when run as root; that line is not about the packages
grep -v '^running with root privileges' "$VFT_TMP/lintian.log" >"$VFT_TMP/tags.log" || true
if [ "$rc" = 0 ] && [ ! -s "$VFT_TMP/tags.log" ]; then
    vft_ok "lintian --pedantic $(basename "$changes"): no tags"
else
    vft_fail "lintian --pedantic $(basename "$changes") (rc $rc)"; sed 's/^/    /' "$VFT_TMP/tags.log"
fi
# every override must carry its reason
for f in "$VFT_SRC"/debian/*.lintian-overrides; do
    [ -e "$f" ] || continue
    vft_check "$(basename "$f"): every override follows a comment" awk '
        /^#/ { c = 1; next } /^[[:space:]]*$/ { next }
        { if (!c) { print FILENAME ": " NR ": no comment: " $0; bad = 1 } c = 0 }
        END { exit bad }' "$f"
done
vft_finish
