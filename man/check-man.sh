#!/bin/bash
# vmfence - man/check-man.sh: every man page must format without a single
# warning, under groff (-ww) and under man-db (--warnings), as Debian's
# lintian does.  Generated pages are taken from the build tree, hand-written
# ones from the source tree.
. "${VF_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib/common.sh"

vft_need_cmd groff man

pages=()
for p in ${VF_MAN_PAGES:-fence_xvm.8 fence_virt.8}; do
    pages+=("$VFT_BUILD/man/$p")
done
for p in ${VF_DIST_MAN_PAGES:-fence_virtd.8 fence_virt.conf.5 ocf_vmfence_fence_virtd.7}; do
    pages+=("$VFT_SRC/man/$p")
done

for page in "${pages[@]}"; do
    name=$(basename "$page")
    if [ ! -s "$page" ]; then
        vft_fail "$name: missing or empty"
        continue
    fi
    groff -ww -z -man "$page" >"$VFT_TMP/w" 2>&1
    if [ -s "$VFT_TMP/w" ]; then
        vft_fail "$name: groff warnings"
        sed 's/^/    /' "$VFT_TMP/w" | head -10
    else
        vft_ok "$name: groff -ww clean"
    fi
    LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
        man --warnings -E UTF-8 -l -Tutf8 -Z "$page" >/dev/null 2>"$VFT_TMP/w"
    if [ -s "$VFT_TMP/w" ]; then
        vft_fail "$name: man --warnings output"
        sed 's/^/    /' "$VFT_TMP/w" | head -10
    else
        vft_ok "$name: man --warnings clean"
    fi
    if grep -q '^\.TH ' "$page" && grep -q '^\.SH NAME' "$page"; then
        vft_ok "$name: has .TH and NAME"
    else
        vft_fail "$name: no .TH or NAME section"
    fi
done

# the generated agent pages list every option of the table
for agent in fence_xvm fence_virt; do
    page="$VFT_BUILD/man/$agent.8"
    [ -s "$page" ] || continue      # already failed above
    if [ ! -x "$VFT_BUILD/metadata/dump-metadata" ]; then
        vft_skip_part "$agent.8: metadata/dump-metadata not built: parameter coverage not checked"
        continue
    fi
    missing=""
    nkeys=0
    for key in $("$VFT_BUILD/metadata/dump-metadata" "$agent" 2>/dev/null \
                 | sed -n 's/.*<parameter name="\([a-z_]*\)".*/\1/p'); do
        nkeys=$((nkeys + 1))
        grep -q "^\.B $key\$" "$page" || missing="$missing $key"
    done
    if [ "$nkeys" = 0 ]; then
        vft_fail "$agent.8: dump-metadata listed no parameter to look for"
    elif [ -z "$missing" ]; then
        vft_ok "$agent.8: documents every parameter ($nkeys)"
    else
        vft_fail "$agent.8: parameters missing:$missing"
    fi
done

vft_finish
