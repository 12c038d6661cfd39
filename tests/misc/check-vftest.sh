#!/bin/bash
# vmfence - tests/misc/check-vftest.sh: the test helpers cannot let a test
# pass that checked nothing.
#  * lib/tests/vftest.h: a program that ran no check exits 1; one whose every
#    part was skipped (VFT_SKIP_PART) exits 77; a VFT_RUN function that
#    neither checked nor skipped fails; VFT_SKIP_ALL after a failed check
#    exits 1, not 77; a passing program exits 0.
#  * tests/lib/common.sh: vft_finish with no vft_ok/vft_fail exits 1; with
#    only vft_skip_part exits 77; vft_skip_part prints the "SKIP part:" line
#    scripts/run-tests.sh counts.
# Nothing is faked: tiny C programs and shell scripts built in a temporary
# directory use the real headers and helpers.
. "${VF_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/common.sh"

CC=${CC:-cc}
vft_need_cmd "$CC"

# cprog NAME BODY: compile a test program whose main() is BODY
cprog() {
    cat >"$VFT_TMP/$1.c" <<EOF
#include "vftest.h"
static void t_checks(void) { VFT_CHECK(1); VFT_EQ_INT(2, 2); VFT_EQ_STR("a", "a"); }
static void t_nothing(void) { }
static void t_skips(void) { VFT_SKIP_PART("no %s here", "input"); }
static void t_fails(void) { VFT_EQ_INT(1, 2); }
int main(void) { $2 }
EOF
    "$CC" -std=gnu11 -Wall -Wextra -Werror -Wno-unused-function -I "$VFT_SRC/lib/tests" \
        -o "$VFT_TMP/$1" "$VFT_TMP/$1.c"
}

c_case() {  # DESC RC ERR-REGEX BODY
    local d=$1 rc=$2 re=$3 body=$4 n=c$((++NC))
    if ! cprog "$n" "$body" 2>"$VFT_TMP/cc.err"; then
        vft_fail "$d: does not compile"; sed 's/^/    /' "$VFT_TMP/cc.err" | head; return
    fi
    vft_expect_err "$d" "$rc" "$re" "$VFT_TMP/$n"
}
NC=0
c_case "vftest: no check at all fails" 1 "no check ran" "VFT_EXIT();"
c_case "vftest: a VFT_RUN function that checks nothing fails" 1 "t_nothing: ran no check" \
    "VFT_RUN(t_checks); VFT_RUN(t_nothing); VFT_EXIT();"
c_case "vftest: every part skipped is 77" 77 "SKIP part: .*no input here" \
    "VFT_RUN(t_skips); VFT_EXIT();"
c_case "vftest: checks plus a skipped part pass" 0 "SKIP part: .*no input here" \
    "VFT_RUN(t_checks); VFT_RUN(t_skips); VFT_EXIT();"
c_case "vftest: a failed check fails" 1 "t_fails" "VFT_RUN(t_checks); VFT_RUN(t_fails); VFT_EXIT();"
c_case "vftest: VFT_SKIP_ALL skips" 77 "SKIP: no fixtures" 'VFT_SKIP_ALL("no %s", "fixtures");'
c_case "vftest: VFT_SKIP_ALL after a failure fails" 1 "SKIP: no fixtures" \
    'VFT_RUN(t_fails); VFT_SKIP_ALL("no %s", "fixtures");'
c_case "vftest: checks pass" 0 "3 checks passed" "VFT_RUN(t_checks); VFT_EXIT();"

sh_case() {  # DESC RC OUT-REGEX BODY
    local d=$1 rc=$2 re=$3 body=$4 f="$VFT_TMP/s$((++NS)).sh"
    printf '. "%s/tests/lib/common.sh"\n%s\n' "$VFT_SRC" "$body" >"$f"
    vft_expect_out "$d" "$rc" "$re" env -u VF_UNIT_ONLY bash "$f"
}
NS=0
sh_case "common.sh: vft_finish with no check fails" 1 "no check was recorded" "vft_finish"
sh_case "common.sh: only skipped parts is 77" 77 "^SKIP part: s[0-9]*: no socat here" \
    "vft_skip_part 'no socat here'; vft_finish"
sh_case "common.sh: a check plus a skipped part passes" 0 "1 passed, 0 failed, 1 part\\(s\\) skipped" \
    "vft_ok one; vft_skip_part 'no socat here'; vft_finish"
sh_case "common.sh: a failure fails" 1 "1 passed, 1 failed" "vft_ok one; vft_fail two; vft_finish"
sh_case "common.sh: vft_skip is 77" 77 "^SKIP: s[0-9]*: needs x" "vft_skip 'needs x'"

vft_finish
