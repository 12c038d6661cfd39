#!/bin/bash
# vmfence - tests/valgrind/memcheck.sh: valgrind memcheck over the unit tests
# (lib/ and daemon/ TESTS) and over one daemon interop test
# (tests/interop/daemon-tcp.sh with fence_virtd under valgrind through the
# VF_DAEMON_WRAPPER hook of tests/interop/daemon-lib.sh).
#
# A program passes when it passes its own checks AND valgrind reports no
# error: no invalid access, no use of uninitialised memory, no leak
# "definitely" or "indirectly" lost (--errors-for-leak-kinds).  "Still
# reachable" and "possibly lost" memory (library-internal caches of NSS,
# libvirt, libxml2, glibc's dlopen) is not an error.  Suppressions live in
# tests/valgrind/*.supp, each with a comment saying why.
#
# Usage: tests/valgrind/memcheck.sh [--unit] [--daemon] [BUILDDIR]
#   (default: both parts; BUILDDIR default: the current directory, a
#   configured and built tree; `make memcheck` passes its own)
# Prints one automake-style line per program ("PASS: memcheck/NAME",
# "FAIL: ...", "SKIP: ...") and a summary; logs go to BUILDDIR/memcheck/.
# Exit status: 0 when nothing failed, 1 otherwise.
# Environment: VF_MEMCHECK_JOBS (parallel unit tests, default 2),
# VF_MEMCHECK_TIMEOUT (seconds per unit test, default 600).

set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
UNIT=0
DAEMON=0
while [ $# -gt 0 ]; do
    case "$1" in
    --unit) UNIT=1 ;;
    --daemon) DAEMON=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "memcheck.sh: unknown option '$1'" >&2; exit 2 ;;
    *) break ;;
    esac
    shift
done
[ "$UNIT" = 0 ] && [ "$DAEMON" = 0 ] && UNIT=1 && DAEMON=1
BUILD=$(cd "${1:-.}" && pwd) || exit 2
JOBS=${VF_MEMCHECK_JOBS:-2}
TMO=${VF_MEMCHECK_TIMEOUT:-600}
OUT=$BUILD/memcheck
NPASS=0
NFAIL=0
NSKIP=0

if ! command -v valgrind >/dev/null 2>&1; then
    echo "SKIP: memcheck: valgrind is not installed (apt-get install valgrind)"
    exit 0
fi
[ -f "$BUILD/Makefile" ] || { echo "memcheck.sh: '$BUILD' is not a configured build tree" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT"

SUPP=()
for s in "$SRC"/tests/valgrind/*.supp; do
    [ -f "$s" ] && SUPP+=("--suppressions=$s")
done
# --child-silent-after-fork: a forked child (tests fork helpers) reports
# nothing; its exit status is checked by the test itself
VG=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-origins=yes
    --child-silent-after-fork=yes --num-callers=30 --gen-suppressions=all "${SUPP[@]}")

# make_var SUBDIR VAR: value of a make variable in a generated Makefile
make_var() {
    printf 'vf-print-var:\n\t@echo $(%s)\n' "$2" |
        make -s --no-print-directory -C "$BUILD/$1" -f Makefile -f - vf-print-var 2>/dev/null
}

# vg_verdict LOG...: 0 when every valgrind log has a summary with 0 errors;
# else print why and return 1
vg_verdict() {
    local log bad=0 n
    for log in "$@"; do
        if ! grep -q 'ERROR SUMMARY:' "$log"; then
            echo "    $log: no ERROR SUMMARY (the process was killed before valgrind finished)"
            bad=1
            continue
        fi
        n=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
        if [ "${n:-1}" != 0 ]; then
            echo "    $log: $n error(s):"
            grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and|Argument|[0-9,]+ (\(|bytes))' \
                "$log" | head -20 | sed 's/^/      /'
            bad=1
        fi
    done
    return "$bad"
}

# Unit tests whose own verdict depends on speed (they race a fixed delay that
# valgrind's 20-50x slowdown overruns); for them only valgrind's verdict
# counts here; their checks count in the normal and asan phases.
# daemon/tests/test-pipeline-limits.c test_worker_cap submits 86 requests
# against a 100 ms backend delay (pf_delay_ms) and expects some refused;
# under valgrind submitting takes longer than the delay, so none is.
TIMING_SENSITIVE=" daemon/tests/test-pipeline-limits "

# run_unit SUBDIR TEST: one unit test under valgrind; prints its result line
run_unit() {
    local d=$1 t=$2 name log vlog rc=0
    name=$d/$t
    log=$OUT/${name//\//_}.log
    vlog=$OUT/${name//\//_}.vg
    (
        cd "$BUILD/$d" &&
        VF_TOP_SRCDIR=$SRC VF_TOP_BUILDDIR=$BUILD VF_UNDER_VALGRIND=1 \
            timeout -k 10 "$TMO" "${VG[@]}" --log-file="$vlog" "./$t"
    ) >"$log" 2>&1 </dev/null || rc=$?
    if [ "$rc" = 1 ] && [ "${TIMING_SENSITIVE#* "$name" }" != "$TIMING_SENSITIVE" ]; then
        echo "the test's own checks failed under valgrind (exit 1): timing-sensitive," \
            "only valgrind's verdict counts here" >>"$log"
        rc=0
    fi
    if [ "$rc" = 77 ]; then
        echo "SKIP: memcheck/$name"
    elif [ "$rc" = 0 ] && vg_verdict "$vlog" >>"$log"; then
        echo "PASS: memcheck/$name"
    else
        case $rc in
        0) ;;
        99) echo "valgrind reported errors (exit 99)" >>"$log" ;;
        124) echo "TIMED OUT after ${TMO}s" >>"$log" ;;
        *) echo "the test failed (exit $rc)" >>"$log" ;;
        esac
        vg_verdict "$vlog" >>"$log"
        echo "FAIL: memcheck/$name (log $log)"
    fi
}

count() {
    local line
    while IFS= read -r line; do
        echo "$line"
        case "$line" in
        PASS:*) NPASS=$((NPASS + 1)) ;;
        SKIP:*) NSKIP=$((NSKIP + 1)) ;;
        FAIL:*) NFAIL=$((NFAIL + 1))
                f=${line#*(log }; f=${f%%[:)]*}
                [ -f "$f" ] && tail -n 40 "$f" | sed 's/^/    /' ;;
        esac
    done
}

if [ "$UNIT" = 1 ]; then
    list=()
    for d in lib daemon; do
        # build the test programs first (make check TESTS= builds, runs
        # nothing); -k: a program that does not build fails alone (a build
        # failure is also counted by the phase that built the tree)
        make -C "$BUILD/$d" -k -s check TESTS= >"$OUT/build-$d.log" 2>&1 ||
            echo "memcheck.sh: building in $d failed, see $OUT/build-$d.log" >&2
        for t in $(make_var "$d" TESTS); do
            # a shell test (daemon/tests/cpg-fencer-deps.sh) is no program of
            # ours to run under valgrind; the normal and asan phases run it
            case $t in *.sh) continue ;; esac
            if [ -x "$BUILD/$d/$t" ]; then
                list+=("$d/$t")
            else
                count <<<"FAIL: memcheck/$d/$t (log $OUT/build-$d.log: not built)"
            fi
        done
    done
    # JOBS at a time, each writing its result line to its own file
    running=0
    for dt in "${list[@]}"; do
        if [ "$running" -ge "$JOBS" ]; then
            wait -n
            running=$((running - 1))
        fi
        run_unit "${dt%%/*}" "${dt#*/}" >"$OUT/${dt//\//_}.result" &
        running=$((running + 1))
    done
    wait
    for dt in "${list[@]}"; do
        count <"$OUT/${dt//\//_}.result"
    done
fi

if [ "$DAEMON" = 1 ]; then
    # fence_virtd under valgrind in tests/interop/daemon-tcp.sh: every daemon
    # it starts through vfd_start writes its own valgrind log
    t=interop/daemon-tcp.sh
    log=$OUT/daemon-tcp.log
    rc=0
    mkdir -p "$OUT/daemon-tcp"
    (
        cd "$BUILD/tests" &&
        VF_TOP_SRCDIR=$SRC VF_TOP_BUILDDIR=$BUILD VF_UNDER_VALGRIND=1 \
        VF_DAEMON_WRAPPER="${VG[*]} --log-file=$OUT/daemon-tcp/vfd.%p.vg" \
            timeout -k 10 900 bash "$SRC/tests/$t"
    ) >"$log" 2>&1 </dev/null || rc=$?
    vlogs=("$OUT"/daemon-tcp/vfd.*.vg)
    if [ "$rc" = 77 ]; then
        count <<<"SKIP: memcheck/tests/$t"
    elif [ ! -f "${vlogs[0]}" ]; then
        echo "no daemon ran under valgrind (VF_DAEMON_WRAPPER not honoured?)" >>"$log"
        count <<<"FAIL: memcheck/tests/$t (log $log)"
    elif [ "$rc" = 0 ] && vg_verdict "${vlogs[@]}" >>"$log"; then
        echo "${#vlogs[@]} daemon run(s) under valgrind, 0 errors" >>"$log"
        count <<<"PASS: memcheck/tests/$t"
    else
        [ "$rc" = 0 ] || echo "the test failed (exit $rc)" >>"$log"
        vg_verdict "${vlogs[@]}" >>"$log"
        count <<<"FAIL: memcheck/tests/$t (log $log)"
    fi
fi

echo "memcheck: $NPASS passed, $NFAIL failed, $NSKIP skipped (logs in $OUT)"
[ "$NFAIL" = 0 ]
