/*
 * vmfence - daemon/tests/test-cbrate.c: unit tests of the connect-back rate
 * limit.  Time is passed explicitly, so nothing here sleeps.
 */
#include <stdio.h>

#include "listeners/cbrate.h"
#include "vftest.h"

static void
test_burst_then_rate(void)
{
    struct vf_cbrate *cr = vf_cbrate_new();
    int allowed = 0;

    /* a flood of 1,000 in one second: the burst plus one second's refill */
    for (int i = 0; i < 1000; i++) {
        allowed += vf_cbrate_allow(cr, "10.0.0.5", 1000 + i);
    }
    VFT_CHECK(allowed >= VF_CBRATE_BURST);
    VFT_CHECK(allowed <= VF_CBRATE_BURST + VF_CBRATE_PER_SEC + 1);
    /* another destination is not affected */
    VFT_CHECK(vf_cbrate_allow(cr, "10.0.0.6", 2000));
    /* fence_xvm's pace (one per 2 s round) is never limited */
    for (int i = 0; i < 100; i++) {
        VFT_CHECK(vf_cbrate_allow(cr, "10.0.0.7", 10000 + (int64_t)i * 2000));
    }
    vf_cbrate_free(cr);
}

/* The table is bounded: many destinations reuse the least recent slots. */
static void
test_bounded_table(void)
{
    struct vf_cbrate *cr = vf_cbrate_new();
    char dest[32];

    for (int i = 0; i < VF_CBRATE_SLOTS * 4; i++) {
        snprintf(dest, sizeof(dest), "10.1.%d.%d", i / 250, i % 250);
        VFT_CHECK(vf_cbrate_allow(cr, dest, 1 + i));
    }
    VFT_CHECK(vf_cbrate_allow(NULL, "x", 1));
    VFT_CHECK(vf_cbrate_free(NULL) == NULL);
    vf_cbrate_free(cr);
}

int
main(void)
{
    VFT_RUN(test_burst_then_rate);
    VFT_RUN(test_bounded_table);
    VFT_EXIT();
}
