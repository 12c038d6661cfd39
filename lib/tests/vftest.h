/*
 * vmfence - lib/tests/vftest.h: tiny assertion helpers for unit tests.
 * A test program exits 0 (pass), 1 (fail) or 77 (skip), automake style.
 *
 * Every VFT_CHECK / VFT_EQ_* counts as one check.  VFT_EXIT() fails a
 * program that ran no check at all (a test that checked nothing did not
 * pass), and exits 77 when it ran none because every part was skipped; a
 * VFT_RUN function that neither checked nor skipped anything fails.
 * A part that cannot run here (a missing input, a missing privilege) is
 * reported with VFT_SKIP_PART("reason", ...): it prints a "SKIP part:" line
 * (scripts/run-tests.sh counts those as skipped results) instead of
 * returning silently.  VFT_SKIP_ALL("reason", ...) skips the whole program.
 */
#ifndef VF_TEST_H
#define VF_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vft_failures;
static int vft_checks;
static int vft_skipped_parts;

#define VFT_CHECK(cond) do { \
        vft_checks++; \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            vft_failures++; \
        } \
    } while (0)

#define VFT_EQ_INT(a, b) do { \
        long long vft_a_ = (long long)(a), vft_b_ = (long long)(b); \
        vft_checks++; \
        if (vft_a_ != vft_b_) { \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
                    __FILE__, __LINE__, #a, vft_a_, #b, vft_b_); \
            vft_failures++; \
        } \
    } while (0)

#define VFT_EQ_STR(a, b) do { \
        const char *vft_a_ = (a), *vft_b_ = (b); \
        vft_checks++; \
        if (vft_a_ == NULL || vft_b_ == NULL || strcmp(vft_a_, vft_b_) != 0) { \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
                    __FILE__, __LINE__, #a, vft_a_ ? vft_a_ : "(null)", \
                    vft_b_ ? vft_b_ : "(null)"); \
            vft_failures++; \
        } \
    } while (0)

/* VFT_SKIP_PART(fmt, ...): this part of the test did not run here; say why */
#define VFT_SKIP_PART(...) do { \
        vft_skipped_parts++; \
        fprintf(stderr, "SKIP part: %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__); \
        fputc('\n', stderr); \
    } while (0)

/* VFT_SKIP_ALL(fmt, ...): nothing (more) of this program can run here: exit
 * 77, or 1 when a check already failed (a skip never hides a failure) */
#define VFT_SKIP_ALL(...) do { \
        fprintf(stderr, "SKIP: "); \
        fprintf(stderr, __VA_ARGS__); \
        fputc('\n', stderr); \
        exit(vft_failures != 0 ? 1 : 77); \
    } while (0)

/* VFT_RUN(fn): run one test function; one that neither checked nor skipped
 * anything fails (it would otherwise pass without testing) */
#define VFT_RUN(fn) do { \
        int vft_before_ = vft_failures; \
        int vft_checks_before_ = vft_checks; \
        int vft_skips_before_ = vft_skipped_parts; \
        fn(); \
        if (vft_checks == vft_checks_before_ && vft_skipped_parts == vft_skips_before_) { \
            fprintf(stderr, "%s: ran no check and skipped nothing\n", #fn); \
            vft_failures++; \
        } \
        fprintf(stderr, "%s %s (%d checks)\n", \
                vft_failures != vft_before_ ? "FAIL" : \
                vft_checks == vft_checks_before_ ? "skip" : "ok  ", \
                #fn, vft_checks - vft_checks_before_); \
    } while (0)

/* vft_exit_status: 1 on a failure or when no check ran at all (77 when that
 * is because every part was skipped), else 0 */
static inline int
vft_exit_status(void)
{
    if (vft_failures != 0) {
        fprintf(stderr, "FAIL: %d failure(s), %d checks\n", vft_failures, vft_checks);
        return 1;
    }
    if (vft_checks == 0) {
        if (vft_skipped_parts > 0) {
            fprintf(stderr, "SKIP: every part (%d) was skipped, no check ran\n",
                    vft_skipped_parts);
            return 77;
        }
        fprintf(stderr, "FAIL: no check ran (a test that checks nothing does not pass)\n");
        return 1;
    }
    fprintf(stderr, "%d checks passed%s\n", vft_checks,
            vft_skipped_parts > 0 ? ", some parts skipped (see SKIP part lines)" : "");
    return 0;
}

#define VFT_EXIT() return vft_exit_status()

/* vft_rand: a small fixed-seed generator (0..32767) for mutation tests, so
 * that a failing run can be reproduced */
static inline unsigned int
vft_rand(unsigned int *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fffu;
}

#endif
