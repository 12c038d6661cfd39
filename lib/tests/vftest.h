/*
 * vmfence - lib/tests/vftest.h: tiny assertion helpers for unit tests.
 * A test program exits 0 (pass), 1 (fail) or 77 (skip), automake style.
 */
#ifndef VF_TEST_H
#define VF_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vft_failures;

#define VFT_CHECK(cond) do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            vft_failures++; \
        } \
    } while (0)

#define VFT_EQ_INT(a, b) do { \
        long long vft_a_ = (long long)(a), vft_b_ = (long long)(b); \
        if (vft_a_ != vft_b_) { \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
                    __FILE__, __LINE__, #a, vft_a_, #b, vft_b_); \
            vft_failures++; \
        } \
    } while (0)

#define VFT_EQ_STR(a, b) do { \
        const char *vft_a_ = (a), *vft_b_ = (b); \
        if (vft_a_ == NULL || vft_b_ == NULL || strcmp(vft_a_, vft_b_) != 0) { \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
                    __FILE__, __LINE__, #a, vft_a_ ? vft_a_ : "(null)", \
                    vft_b_ ? vft_b_ : "(null)"); \
            vft_failures++; \
        } \
    } while (0)

#define VFT_RUN(fn) do { \
        int vft_before_ = vft_failures; \
        fn(); \
        fprintf(stderr, "%s %s\n", vft_failures == vft_before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

#define VFT_EXIT() return vft_failures == 0 ? 0 : 1

#endif
