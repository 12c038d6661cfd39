#!/bin/bash
# vmfence - scripts/run-tests.sh: THE test command (CI runs it through .ci/run).
#
# Phases, each step bounded by `timeout` and by an overall time budget:
#   setup     scripts/setup-debian.sh (packages, policy-rc.d guard), autoreconf -fi
#   normal    _build/normal: configure --enable-fatal-warnings, make, the Debian
#             packages (tests/packaging/build-debs.sh, VF_PKG_DIR), make check
#             (every directory; tests/ with VF_TESTS_JOBS jobs, default 1,
#             because the cluster test bed is heavy and uses host-wide state)
#   tooling   in _build/normal: make cppcheck (one result), make memcheck
#             (valgrind over the unit tests and tests/interop/daemon-tcp.sh:
#             one result per program), make check-format (informational,
#             not counted)
#   distcheck make distcheck in _build/normal with VF_UNIT_ONLY=1 (the interop,
#             cluster and fuzz scripts skip there: they already ran above)
#   asan      _build/asan: configure --with-sanitizers=asan,ubsan, make, unit
#             tests of every directory plus tests/interop/* (no cluster, no fuzz:
#             the fuzzers are built with ASan anyway)
# Results come from the automake .trs files (and, for distcheck and memcheck,
# from the PASS:/FAIL: lines they print); a "SKIP part:" line in the log of a
# passing test (a part that could not run here, tests/lib/common.sh
# vft_skip_part, lib/tests/vftest.h VFT_SKIP_PART) counts as one more skipped
# result.  A build step that fails counts as one
# failed test, so the total is never silently green.  The last line printed is
# exactly "N passed, N failed, N skipped"; the exit status is 0 only when
# nothing failed.
#
# Usage: scripts/run-tests.sh [--quick] [--no-setup] [--verbose]
#   --quick     normal and tooling phases only (no distcheck, no ASan)
#   --no-setup  do not run setup-debian.sh (packages known to be present)
#   --verbose   also stream every step's output (it always goes to a log file)
# Environment:
#   VF_BUILD_ROOT   where the build trees go (default: <repo>/_build)
#   VF_JOBS         make -j for builds and unit-test directories (default 2)
#   VF_TESTS_JOBS   make -j for the tests/ directory (default 1)
#   VF_TEST_BUDGET  seconds for the whole run (default 5100 = 85 min)

set -u
umask 022

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_ROOT=${VF_BUILD_ROOT:-$SRC/_build}
JOBS=${VF_JOBS:-2}
TESTS_JOBS=${VF_TESTS_JOBS:-1}
BUDGET=${VF_TEST_BUDGET:-5100}
QUICK=0
SETUP=1
VERBOSE=0

while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --no-setup) SETUP=0 ;;
    --verbose|-v) VERBOSE=1 ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "run-tests.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

START=$(date +%s)
DEADLINE=$((START + BUDGET))
LOGDIR=$BUILD_ROOT/logs
mkdir -p "$LOGDIR" || { echo "run-tests.sh: cannot create '$LOGDIR'" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
# one run per build root at a time (two would rebuild each other's trees)
exec 9>"$BUILD_ROOT/.run-tests.lock"
if ! flock -n 9; then
    echo "run-tests.sh: another run is using $BUILD_ROOT (set VF_BUILD_ROOT to use another)" >&2
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi
: >"$LOGDIR/timing.txt"
: >"$LOGDIR/results.txt"

PASS=0
FAIL=0
SKIP=0
FAILED_NAMES=()

now() { date +%s; }
say() { echo "==> $*"; }

# count_result PHASE RESULT NAME: add one result to the totals
count_result() {
    local phase=$1 res=$2 name=$3
    case "$res" in
    PASS|XFAIL) PASS=$((PASS + 1)) ;;
    SKIP) SKIP=$((SKIP + 1)) ;;
    *) FAIL=$((FAIL + 1)); FAILED_NAMES+=("[$phase] $name ($res)") ;;
    esac
    echo "$phase $res $name" >>"$LOGDIR/results.txt"
}

# show_tail FILE [LINES]: print the end of a log, indented
show_tail() {
    local f=$1 n=${2:-60}
    [ -f "$f" ] || return 0
    echo "---- last $n lines of $f"
    tail -n "$n" "$f" | sed 's/^/    /'
    echo "----"
}

# step PHASE NAME CAP CMD...: run CMD with a timeout of min(CAP, time left),
# output to $LOGDIR/PHASE-NAME.log.  Returns CMD's status (124 = timed out).
step() {
    local phase=$1 name=$2 cap=$3; shift 3
    local log="$LOGDIR/$phase-$name.log" left t0 t1 rc=0 limit
    left=$((DEADLINE - $(now)))
    limit=$cap
    [ "$left" -lt "$limit" ] && limit=$left
    if [ "$limit" -lt 10 ]; then
        echo "time budget exhausted before this step" >"$log"
        say "[$phase] $name: NOT RUN, time budget (${BUDGET}s) exhausted"
        return 124
    fi
    t0=$(now)
    if [ "$VERBOSE" = 1 ]; then
        timeout -k 30 "$limit" "$@" </dev/null 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
    else
        timeout -k 30 "$limit" "$@" </dev/null >"$log" 2>&1 || rc=$?
    fi
    t1=$(now)
    printf '%-10s %-28s %5ss rc=%s\n' "$phase" "$name" $((t1 - t0)) "$rc" >>"$LOGDIR/timing.txt"
    if [ "$rc" = 0 ]; then
        say "[$phase] $name: ok ($((t1 - t0)) s)"
    else
        [ "$rc" = 124 ] && echo "run-tests.sh: TIMED OUT after ${limit}s" >>"$log"
        say "[$phase] $name: FAILED rc=$rc ($((t1 - t0)) s), log $log"
        show_tail "$log" 40
    fi
    return "$rc"
}

# build_step PHASE NAME CAP CMD...: a step whose failure counts as one failed test
build_step() {
    local phase=$1 name=$2
    if step "$@"; then return 0; fi
    count_result "$phase" FAIL "build step '$name'"
    return 1
}

# phase_time PHASE T0: record a phase's total time
phase_time() {
    printf '%-10s %-28s %5ss\n' "$1" "(phase total)" $(($(now) - $2)) >>"$LOGDIR/timing.txt"
}

# count_skipped_parts PHASE NAME LOG: one SKIP result per "SKIP part:" line of
# a passing test's log (the parts of it that did not run here)
count_skipped_parts() {
    local phase=$1 name=$2 log=$3 line
    [ -f "$log" ] || return 0
    while IFS= read -r line; do
        count_result "$phase" SKIP "$name: ${line#SKIP part: }"
    done < <(grep -a '^SKIP part: ' "$log" | LC_ALL=C sort -u)
}

# collect_trs PHASE DIR MARKER: count the results of every .trs under DIR
# newer than MARKER (so stale results of earlier runs are ignored); print the
# logs of the failures.  Returns the number of failing results.
collect_trs() {
    local phase=$1 dir=$2 marker=$3 trs res name nfail=0
    while IFS= read -r trs; do
        name=${dir##*/}/${trs#"$dir"/}
        name=${name%.trs}
        while IFS= read -r res; do
            count_result "$phase" "$res" "$name"
            case "$res" in
            PASS|XFAIL) count_skipped_parts "$phase" "$name" "${trs%.trs}.log" ;;
            SKIP) ;;
            *) nfail=$((nfail + 1))
               say "[$phase] FAILED test: $name ($res)"
               show_tail "${trs%.trs}.log" 60 ;;
            esac
        done < <(sed -n 's/^:test-result: *\([A-Z]*\).*/\1/p' "$trs")
    done < <(find "$dir" -path "$dir/vmfence-*" -prune -o -name '*.trs' -newer "$marker" -print | sort)
    return "$nfail"
}

# make_var BUILDDIR SUBDIR VAR [VAR=VALUE...]: value of a make variable in a
# generated Makefile (with optional command-line overrides)
make_var() {
    local b=$1 d=$2 v=$3; shift 3
    printf 'vf-print-var:\n\t@echo $(%s)\n' "$v" |
        make -s --no-print-directory -C "$b/$d" -f Makefile -f - vf-print-var "$@" 2>/dev/null
}

# check_dirs PHASE BUILDDIR MODE: run `make check` in every top-level SUBDIR.
# MODE "all": every test; MODE "asan": unit tests everywhere, but in tests/
# only the interop suites.
check_dirs() {
    local phase=$1 b=$2 mode=$3 d j rc nf marker tests t sel
    marker="$b/.vf-check-marker"
    touch "$marker"
    sleep 1   # .trs files of this run must be strictly newer than the marker
    for d in $(make_var "$b" . SUBDIRS); do
        [ "$d" = . ] && continue
        [ "$d" = bench ] && continue    # benchmarks are not tests
        j=$JOBS
        sel=()
        if [ "$d" = tests ]; then
            j=$TESTS_JOBS
            if [ "$mode" = asan ]; then
                tests=""
                for t in $(make_var "$b" tests TESTS); do
                    case "$t" in interop/*) tests="$tests $t" ;; esac
                done
                sel=("TESTS=${tests# }")
            fi
        fi
        # build the check programs first, so a compile error is a build failure;
        # after one, still run the tests that did build (make -k on the logs)
        rc=0
        if build_step "$phase" "check-build-$d" 1800 make -C "$b/$d" -j"$JOBS" -k check TESTS=; then
            step "$phase" "check-$d" 2400 env AM_COLOR_TESTS=no \
                make -C "$b/$d" -j"$j" -k check "${sel[@]}" || rc=$?
        else
            for t in $(make_var "$b" "$d" TEST_LOGS "${sel[@]}") test-suite.log; do
                rm -f "$b/$d/$t" "$b/$d/${t%.log}.trs"
            done
            step "$phase" "check-$d" 2400 env AM_COLOR_TESTS=no \
                make -C "$b/$d" -j"$j" -k test-suite.log "${sel[@]}" || rc=$?
        fi
        nf=0
        collect_trs "$phase" "$b/$d" "$marker" || nf=$?
        if [ "$rc" != 0 ] && [ "$nf" = 0 ]; then
            # make failed but no test reported a failure (harness error, timeout)
            count_result "$phase" ERROR "make check in $d (rc $rc)"
        fi
    done
}

# phase_setup: packages and autoreconf
phase_setup() {
    local t0; t0=$(now)
    if [ "$SETUP" = 1 ]; then
        build_step setup setup-debian 1500 "$SRC/scripts/setup-debian.sh"
    fi
    build_step setup autoreconf 600 autoreconf -fi "$SRC"
    local rc=$?
    phase_time setup "$t0"
    return $rc
}

# phase_build PHASE DIR CONFIGURE-ARGS...: configure and make in DIR.
# Fails only when configure fails: after a failed (make -k) build the tests of
# the directories that did build still run.
phase_build() {
    local phase=$1 b=$2; shift 2
    mkdir -p "$b"
    build_step "$phase" configure 600 sh -c 'cd "$1" && shift && exec "$@"' sh "$b" \
        "$SRC/configure" "$@" || return 1
    build_step "$phase" make 2400 make -C "$b" -j"$JOBS" -k || true
}

phase_normal() {
    local t0; t0=$(now)
    local b=$BUILD_ROOT/normal
    if phase_build normal "$b" --enable-fatal-warnings; then
        phase_packages
        check_dirs normal "$b" all
    fi
    phase_time normal "$t0"
}

# phase_packages: the Debian packages (dpkg-buildpackage -us -uc -b on a copy
# of the tree, without their own unit tests: make check runs those), once;
# tests/packaging/ (lintian, the install test) then take them from
# VF_PKG_DIR.  A failed build counts as one failed test.
phase_packages() {
    local out=$BUILD_ROOT/debs
    rm -rf "$out"
    if step normal build-debs 900 env DEB_BUILD_OPTIONS=nocheck \
        "$SRC/tests/packaging/build-debs.sh" "$SRC" "$out"; then
        count_result normal PASS build-debs
        export VF_PKG_DIR=$out
    else
        count_result normal FAIL "build-debs (log $LOGDIR/normal-build-debs.log)"
    fi
}

# count_lines PHASE LOG: count the automake-style "PASS: NAME" / "FAIL: NAME"
# / "SKIP: NAME" lines of a step's log; sets LINES_COUNTED to how many
LINES_COUNTED=0
count_lines() {
    local phase=$1 log=$2 line res name n=0
    while IFS= read -r line; do
        res=${line%%:*}
        name=${line#*: }
        name=${name%% *}
        count_result "$phase" "$res" "$name"
        n=$((n + 1))
    done < <(grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR): ' "$log")
    LINES_COUNTED=$n
}

# phase_tooling: cppcheck, valgrind memcheck, clang-format (informational),
# in the normal build tree
phase_tooling() {
    local t0 b=$BUILD_ROOT/normal rc n log
    t0=$(now)
    if [ ! -f "$b/Makefile" ]; then
        count_result tooling FAIL "tooling (no configured tree)"
        return
    fi
    # cppcheck: one result
    if ! command -v cppcheck >/dev/null 2>&1; then
        say "[tooling] cppcheck not installed: skipped"
        count_result tooling SKIP "cppcheck (not installed)"
    elif step tooling cppcheck 900 make -C "$b" cppcheck; then
        count_result tooling PASS cppcheck
    else
        count_result tooling FAIL "cppcheck (log $LOGDIR/tooling-cppcheck.log)"
    fi
    # memcheck: one result per program
    rc=0
    step tooling memcheck 1800 make -C "$b" memcheck || rc=$?
    log="$LOGDIR/tooling-memcheck.log"
    count_lines tooling "$log"
    n=$LINES_COUNTED
    if [ "$n" = 0 ]; then
        count_result tooling FAIL "memcheck (rc $rc, no result; log $log)"
    elif [ "$rc" != 0 ] && ! grep -q '^FAIL: ' "$log"; then
        count_result tooling ERROR "memcheck (rc $rc; log $log)"
    fi
    say "[tooling] memcheck: $n results"
    # clang-format: informational, not a test result
    step tooling check-format 300 make -s -C "$b" check-format >/dev/null || true
    grep 'files differ from' "$LOGDIR/tooling-check-format.log" | sed 's/^/==> [tooling] /'
    phase_time tooling "$t0"
}

phase_distcheck() {
    local t0 b=$BUILD_ROOT/normal rc=0 log line res name marker
    t0=$(now)
    if [ ! -f "$b/Makefile" ]; then
        count_result distcheck FAIL "make distcheck (no configured tree)"
        return
    fi
    # a read-only leftover of an earlier failed distcheck would break this one
    for d in "$b"/vmfence-*/; do
        [ -d "$d" ] && chmod -R u+w "$d" && rm -rf "$d"
    done
    marker="$b/.vf-distcheck-marker"
    touch "$marker"
    step distcheck distcheck 2700 env VF_UNIT_ONLY=1 AM_COLOR_TESTS=no \
        make -C "$b" distcheck DISTCHECK_CONFIGURE_FLAGS="--enable-fatal-warnings" || rc=$?
    log="$LOGDIR/distcheck-distcheck.log"
    # the distcheck tree is deleted on success: count the harness's result lines
    local n
    count_lines distcheck "$log"
    n=$LINES_COUNTED
    if [ "$rc" != 0 ]; then
        # left behind on failure: show the failing tests' logs
        while IFS= read -r trs; do
            grep -qE '^:test-result: (FAIL|ERROR|XPASS)' "$trs" && show_tail "${trs%.trs}.log" 60
        done < <(find "$b" -path "$b/vmfence-*" -name '*.trs' -newer "$marker" 2>/dev/null)
        count_result distcheck FAIL "make distcheck (rc $rc)"
    fi
    say "[distcheck] $n test results"
    phase_time distcheck "$t0"
}

phase_asan() {
    local t0; t0=$(now)
    local b=$BUILD_ROOT/asan
    if phase_build asan "$b" --with-sanitizers=asan,ubsan --enable-fatal-warnings; then
        VF_FUZZ_SECONDS=${VF_FUZZ_SECONDS:-5} check_dirs asan "$b" asan
    fi
    phase_time asan "$t0"
}

say "vmfence test run: source $SRC, builds in $BUILD_ROOT, budget ${BUDGET}s$([ "$QUICK" = 1 ] && echo ', quick')"
say "host: $(uname -srm), $(nproc) CPU(s), $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown OS}"), uid $(id -u)$([ -n "${CI:-}" ] && echo ', CI')"
if phase_setup; then
    phase_normal
    phase_tooling
    if [ "$QUICK" = 0 ]; then
        phase_distcheck
        phase_asan
    fi
fi
printf '%-10s %-28s %5ss\n' total "(whole run)" $(($(now) - START)) >>"$LOGDIR/timing.txt"

echo
say "timing (also in $LOGDIR/timing.txt)"
sed 's/^/    /' "$LOGDIR/timing.txt"
echo
say "results per phase (details in $LOGDIR/results.txt)"
awk '{ k = $1; if ($2 == "PASS" || $2 == "XFAIL") p[k]++; else if ($2 == "SKIP") s[k]++; else f[k]++; seen[k] = 1 }
     END { for (k in seen) printf "    %-10s %d passed, %d failed, %d skipped\n", k, p[k], f[k], s[k] }' \
    "$LOGDIR/results.txt" | sort
if [ "${#FAILED_NAMES[@]}" -gt 0 ]; then
    echo
    say "failures:"
    printf '    %s\n' "${FAILED_NAMES[@]}"
fi
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" = 0 ]
