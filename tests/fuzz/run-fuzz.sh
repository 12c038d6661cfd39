#!/bin/bash
# vmfence - tests/fuzz/run-fuzz.sh: build and run every libFuzzer target.
#
# For each tests/fuzz/fuzz-NAME.c the header lines
#     // VF_FUZZ_SOURCES: lib/wire.c lib/auth.c ...   (relative to the source top)
#     // VF_FUZZ_PKGS: nss libxml-2.0                   (pkg-config modules, optional)
# say what to link.  The target is compiled with clang and
# -fsanitize=fuzzer,address,undefined against the build tree's config.h and
# run for VF_FUZZ_SECONDS (default 20) over a scratch copy of
# tests/fuzz/corpus/NAME/ (the source tree stays untouched: distcheck makes
# it read-only).  Any crash, leak, sanitizer report or timeout (-timeout=5)
# fails the target.  Skips (77) when clang or libFuzzer is missing.
#
# Knobs: VF_FUZZ_SECONDS=N, VF_FUZZ_TARGETS="wire stdin" (subset),
#        VF_FUZZ_CC=clang-14, VF_FUZZ_KEEP=1 (keep binaries and crash
#        artifacts in $VF_TOP_BUILDDIR/tests/fuzz/ for reproduction; by
#        default everything lives in a temp dir removed at exit, so that
#        make distcheck finds no stray files).
#
# Reproduce a failure:  VF_FUZZ_KEEP=1 make -C tests check TESTS=fuzz/run-fuzz.sh
#                       then  tests/fuzz/fuzz-NAME tests/fuzz/NAME-crash-<hash>

. "$(dirname "$0")/../lib/common.sh"

seconds=${VF_FUZZ_SECONDS:-20}
cc=${VF_FUZZ_CC:-clang}
fuzz_src="$VFT_SRC/tests/fuzz"

command -v "$cc" >/dev/null 2>&1 || vft_skip "no $cc"
[ -f "$VFT_BUILD/config.h" ] || vft_skip "no config.h in build dir '$VFT_BUILD' (set VF_TOP_BUILDDIR)"
case $seconds in ''|*[!0-9]*) vft_skip "VF_FUZZ_SECONDS='$seconds' is not a number" ;; esac

# is libFuzzer usable?
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
    >"$VFT_TMP/probe.c"
"$cc" -fsanitize=fuzzer,address,undefined "$VFT_TMP/probe.c" -o "$VFT_TMP/probe" \
    >"$VFT_TMP/probe.log" 2>&1 || vft_skip "$cc cannot build libFuzzer targets: $(head -1 "$VFT_TMP/probe.log")"

if [ -n "${VF_FUZZ_KEEP:-}" ]; then
    outdir="$VFT_BUILD/tests/fuzz"
else
    outdir="$VFT_TMP/bin"
fi
mkdir -p "$outdir"

# header_field FILE KEY: value of "// KEY: value" in the first 40 lines
header_field() {
    head -n 40 "$1" | sed -n "s|^[/* ]*$2:[[:space:]]*||p" | head -n 1
}

# the sanitizers' own environment from AM_TESTS_ENVIRONMENT is fine; make
# sure UBSan findings abort even when run by hand
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

ran=0
for src in "$fuzz_src"/fuzz-*.c; do
    [ -f "$src" ] || continue
    name=$(basename "$src" .c)
    name=${name#fuzz-}
    if [ -n "${VF_FUZZ_TARGETS:-}" ]; then
        case " $VF_FUZZ_TARGETS " in *" $name "*) ;; *) continue ;; esac
    fi
    ran=$((ran + 1))

    sources=$(header_field "$src" VF_FUZZ_SOURCES)
    pkgs=$(header_field "$src" VF_FUZZ_PKGS)
    srcs=()
    for s in $sources; do srcs+=("$VFT_SRC/$s"); done
    pkgflags=""
    if [ -n "$pkgs" ]; then
        # shellcheck disable=SC2086
        if ! pkgflags=$(pkg-config --cflags --libs $pkgs 2>"$VFT_TMP/pkg.log"); then
            vft_fail "fuzz-$name: pkg-config '$pkgs' failed: $(head -1 "$VFT_TMP/pkg.log")"
            continue
        fi
    fi

    bin="$outdir/fuzz-$name"
    # shellcheck disable=SC2086
    if ! "$cc" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
            -I "$VFT_SRC/lib" -I "$VFT_SRC/daemon" -I "$VFT_BUILD" \
            -include "$VFT_BUILD/config.h" -DVF_FUZZING=1 \
            "$src" "${srcs[@]}" $pkgflags -lpthread -o "$bin" \
            >"$VFT_TMP/cc-$name.log" 2>&1; then
        vft_fail "fuzz-$name: build failed"
        sed 's/^/    cc: /' "$VFT_TMP/cc-$name.log" | head -30
        continue
    fi

    # scratch corpus: the seeds plus whatever this run finds
    corpus="$VFT_TMP/corpus-$name"
    mkdir -p "$corpus"
    if [ -d "$fuzz_src/corpus/$name" ]; then
        cp -R "$fuzz_src/corpus/$name/." "$corpus/"
        chmod -R u+w "$corpus"
    fi
    log="$VFT_TMP/run-$name.log"
    rc=0
    # the outer timeout is only a safety net against a wedged fuzzer
    timeout -k 5 $((seconds + 60)) "$bin" -max_total_time="$seconds" -timeout=5 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$outdir/$name-" "$corpus" >"$log" 2>&1 || rc=$?
    if [ "$rc" = 0 ]; then
        execs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -1)
        vft_ok "fuzz-$name: ${seconds}s, ${execs:-?} runs, no crash"
    else
        vft_fail "fuzz-$name: fuzzer exited $rc"
        grep -E 'ERROR|SUMMARY|assertion failed|runtime error|Test unit written|artifact' "$log" \
            | head -20 | sed 's/^/    /'
        tail -n 15 "$log" | sed 's/^/    log: /'
        if [ -z "${VF_FUZZ_KEEP:-}" ]; then
            # keep the reproducer even without VF_FUZZ_KEEP
            for a in "$outdir/$name"-*; do
                [ -f "$a" ] || continue
                mkdir -p "$VFT_BUILD/tests/fuzz"
                cp "$a" "$VFT_BUILD/tests/fuzz/" && echo "    reproducer: $VFT_BUILD/tests/fuzz/$(basename "$a")"
            done
        fi
    fi
done

[ "$ran" -gt 0 ] || vft_skip "no fuzz targets selected"
vft_finish
