#!/bin/bash
# vmfence - daemon/tests/cpg-fencer-deps.sh: only the fencer module links
# Pacemaker's and corosync's fencing libraries.
#
# fence_virtd (and the cpg backend as a module, cpg.so) must not have a
# DT_NEEDED on libstonithd, libcrmcommon, libcrmservice or libquorum: they
# are mapped only when a cpg backend with fence_history = "pacemaker" loads
# fencer-pacemaker.so (backends/cpg-fence.c).  The module needs libstonithd
# and libquorum, exports one symbol (vf_cpg_fencer_ops), and does not
# contain the string "vf_plugin", so the plugin registry's directory scan
# (plugin.c) never dlopen()s it.  Run by make check when the module is built.
set -u
B=${VF_TOP_BUILDDIR:-.}/daemon
command -v readelf >/dev/null || { echo "SKIP: readelf not found"; exit 77; }
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
HEAVY='libstonithd|libcrmcommon|libcrmservice|libquorum'

for f in "$B/fence_virtd" "$B/backends/.libs/cpg.so"; do
    if [ ! -f "$f" ]; then bad "$f not built"; continue; fi
    n=$(needed "$f" | grep -E "$HEAVY" | tr '\n' ' ')
    [ -z "$n" ] && ok "$f does not link $HEAVY" || bad "$f links $n"
done
M=$B/.libs/fencer-pacemaker.so
if [ -f "$M" ]; then
    n=$(needed "$M")
    echo "$n" | grep -q '^libstonithd' && echo "$n" | grep -q '^libquorum' &&
        ok "the module links libstonithd and libquorum" ||
        bad "the module's DT_NEEDED: $(echo "$n" | tr '\n' ' ')"
    syms=$(readelf --dyn-syms -W "$M" | awk '$5 == "GLOBAL" && $7 != "UND" && $8 !~ /^_(init|fini)$/ {print $8}' |
        sort -u | tr '\n' ' ')
    [ "$syms" = "vf_cpg_fencer_ops " ] && ok "the module exports vf_cpg_fencer_ops only" ||
        bad "the module exports: $syms"
    grep -q vf_plugin "$M" && bad "the module contains 'vf_plugin': the registry scan would load it" ||
        ok "the module does not contain 'vf_plugin' (never loaded as a plugin)"
else
    bad "$M not built"
fi
echo "$pass passed, $fail failed"
[ "$pass" -gt 0 ] && [ "$fail" -eq 0 ]
