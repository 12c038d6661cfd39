#!/bin/bash
# vmfence - agents/tests/agent-libs.sh: what the agent process loads.
#
# Every fence_xvm/fence_virt run pays for the libraries it loads (issue 9
# item 4, bench/README.md "The agent process").  The agent needs freebl
# (digests, agents/agent-digest.c) and libc; NSS and NSPR are not linked
# (--as-needed), and libxml2 not at all: `-o metadata` prints the XML
# lib/metadata.c wrote with libxml2 at build time (agents/agent-metadata.h),
# so the agent has no code that loads libxml2 (lib/xml-dl.c).  Checked here:
# the DT_NEEDED entries of the binary (readelf), its symbol table (no
# xml-dl.c, no lib/metadata.c), the libraries a validate-all and a metadata
# run of each name really open (LD_DEBUG=files), and that metadata is still
# written when the libxml2 soname leads to a library without the writer
# (libc.so.6 behind a symbolic link named after it, through
# LD_LIBRARY_PATH: nothing is faked).
. "${VF_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/common.sh"

AGENT=${VF_TEST_AGENT:-$VFT_BUILD/agents/fence_virt}
AGENT_XVM=${VF_TEST_AGENT_XVM:-$VFT_BUILD/agents/fence_xvm}
[ -x "$AGENT" ] && [ -e "$AGENT_XVM" ] || { echo "FAIL: $AGENT not built"; exit 1; }
vft_need_cmd readelf
SONAME=$(sed -n 's/^#define VF_XML_SONAME "\(.*\)"$/\1/p' "$VFT_BUILD/config.h")
[ -n "$SONAME" ] || { echo "FAIL: no VF_XML_SONAME in $VFT_BUILD/config.h"; exit 1; }

# DT_NEEDED: libc and freebl; none of NSS, NSPR, libxml2 or what it brings
needed=$(LC_ALL=C readelf -d "$AGENT" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
echo "$AGENT needs: $(echo $needed)"
vft_check "DT_NEEDED has libc" grep -qx 'libc\.so\.[0-9]*' <<<"$needed"
vft_check "DT_NEEDED has libfreebl3" grep -qx 'libfreebl3\.so' <<<"$needed"
for lib in "$SONAME" libnss3.so libnssutil3.so libsmime3.so libssl3.so libnspr4.so \
           libplc4.so libplds4.so libicuuc.so libstdc++.so; do
    vft_check "DT_NEEDED has no ${lib%%.so*}" \
        bash -c '! grep -q "^${1//./\\.}" <<<"$2"' _ "$lib" "$needed"
done

# the symbol table: the metadata blobs, and none of lib/xml-dl.c or the
# runtime writer (a stripped binary has no table: then not checked)
syms=$(LC_ALL=C readelf -Ws "$AGENT" | awk '$8 != "" { print $8 }')
if grep -qx 'main' <<<"$syms"; then
    for sym in vf_agent_metadata_xvm vf_agent_metadata_virt; do
        vft_check "build-time metadata $sym in the agent" grep -qx "$sym" <<<"$syms"
    done
    for sym in vf_xml_api vf_xml_api_load vf_metadata_write vf_fa_metadata_write; do
        vft_check "no $sym in the agent" bash -c '! grep -qx "$1" <<<"$2"' _ "$sym" "$syms"
    done
else
    vft_skip_part "$AGENT has no symbol table (stripped?): xml-dl.c absence not checked"
fi

# what runs open (LD_DEBUG=files): freebl, as the proof that the check sees
# the loaded libraries, and never libxml2
vft_gen_key "$VFT_TMP/key"
opened() { grep -qE "file=[^ ]*${2//./\\.} +\[0\]; +(dynamically loaded|needed) by" "$1"; }
LD_DEBUG=files LD_DEBUG_OUTPUT="$VFT_TMP/ld.validate" \
    "$AGENT_XVM" -o validate-all -n vm-a -k "$VFT_TMP/key" >/dev/null 2>&1
cat "$VFT_TMP"/ld.validate.* >"$VFT_TMP/ld.validate" 2>/dev/null
vft_check "validate-all ran under LD_DEBUG" grep -q 'calling init:' "$VFT_TMP/ld.validate"
vft_check "validate-all: LD_DEBUG shows libfreebl3 loaded" opened "$VFT_TMP/ld.validate" \
    libfreebl3.so
vft_check "validate-all does not load $SONAME" bash -c '! grep -q "$1" "$2"' _ \
    "$SONAME" "$VFT_TMP/ld.validate"
for bin in "$AGENT_XVM" "$AGENT"; do
    name=$(basename "$bin")
    rm -f "$VFT_TMP"/ld.metadata*
    vft_expect_out "$name -o metadata" 0 "^<resource-agent name=\"$name\" " \
        env LD_DEBUG=files LD_DEBUG_OUTPUT="$VFT_TMP/ld.metadata" "$bin" -o metadata
    vft_check "$name metadata ends with </resource-agent>" grep -qx '</resource-agent>' \
        "$VFT_OUT"
    cat "$VFT_TMP"/ld.metadata.* >"$VFT_TMP/ld.metadata" 2>/dev/null
    vft_check "$name metadata: LD_DEBUG shows libfreebl3 loaded" opened \
        "$VFT_TMP/ld.metadata" libfreebl3.so
    vft_check "$name metadata does not load $SONAME" bash -c '! grep -q "$1" "$2"' _ \
        "$SONAME" "$VFT_TMP/ld.metadata"
done

# a libxml2 soname that leads to a library without the writer changes
# nothing: the same XML, exit 0 (the agent never asks for libxml2)
libc=$(LC_ALL=C ldd "$AGENT" | sed -n 's/^[[:space:]]*libc\.so\.[0-9]* => \([^ ]*\) .*/\1/p')
if [ -n "$libc" ] && [ -e "$libc" ]; then
    mkdir "$VFT_TMP/lib"
    ln -s "$libc" "$VFT_TMP/lib/$SONAME"
    "$AGENT" -o metadata >"$VFT_TMP/meta.ref" 2>/dev/null
    vft_expect_out "metadata without a usable $SONAME" 0 '^</resource-agent>$' \
        env LD_LIBRARY_PATH="$VFT_TMP/lib" "$AGENT" -o metadata
    vft_check "the same XML as with libxml2 installed" cmp -s "$VFT_OUT" "$VFT_TMP/meta.ref"
    vft_check "nothing on stderr then" test ! -s "$VFT_ERR"
else
    vft_skip_part "libc's path not found with ldd: the broken-libxml2 case is not run"
fi
vft_finish
