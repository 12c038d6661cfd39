/*
 * vmfence - daemon/tests/test-fairshare.c: unit tests of the per-requester
 * in-flight limits.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fairshare.h"
#include "vftest.h"

static void
test_share_per_identity(void)
{
    struct vf_fairshare *fs = vf_fairshare_new(3, 10);
    unsigned int held = 0;

    for (int i = 0; i < 3; i++) {
        VFT_EQ_INT(vf_fairshare_admit(fs, "10.0.0.9", (unsigned int)i, 1000, &held), 0);
    }
    VFT_EQ_INT(vf_fairshare_admit(fs, "10.0.0.9", 3, 1000, &held), -EBUSY);
    VFT_EQ_INT(held, 3);
    /* another guest is not affected */
    VFT_EQ_INT(vf_fairshare_admit(fs, "10.0.0.10", 3, 1000, &held), 0);
    VFT_EQ_INT(vf_fairshare_held(fs, "10.0.0.10"), 1);
    /* one ends: the first guest may send one more */
    vf_fairshare_leave(fs, "10.0.0.9");
    VFT_EQ_INT(vf_fairshare_held(fs, "10.0.0.9"), 2);
    VFT_EQ_INT(vf_fairshare_admit(fs, "10.0.0.9", 3, 1000, &held), 0);
    vf_fairshare_free(fs);
}

/* Near capacity only requesters with nothing in flight get in. */
static void
test_reserve_for_newcomers(void)
{
    struct vf_fairshare *fs = vf_fairshare_new(8, 10);
    unsigned int held = 0;

    VFT_EQ_INT(vf_fairshare_admit(fs, "cid 3", 0, 100, &held), 0);
    VFT_EQ_INT(vf_fairshare_admit(fs, "cid 3", 89, 100, &held), 0);
    VFT_EQ_INT(vf_fairshare_admit(fs, "cid 3", 90, 100, &held), -EBUSY);
    VFT_EQ_INT(held, 2);
    VFT_EQ_INT(vf_fairshare_admit(fs, "cid 4", 90, 100, &held), 0);
    VFT_EQ_INT(vf_fairshare_admit(fs, "cid 5", 99, 100, &held), 0);
    vf_fairshare_free(fs);
}

/* Entries are forgotten at zero; memory follows what is in flight. */
static void
test_forget_at_zero(void)
{
    struct vf_fairshare *fs = vf_fairshare_new(2, 0);
    char id[32];

    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof(id), "guest-%d", i);
        VFT_EQ_INT(vf_fairshare_admit(fs, id, 0, 10, NULL), 0);
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof(id), "guest-%d", i);
        vf_fairshare_leave(fs, id);
        VFT_EQ_INT(vf_fairshare_held(fs, id), 0);
    }
    /* leaving an unknown identity is harmless */
    vf_fairshare_leave(fs, "never-seen");
    VFT_EQ_INT(vf_fairshare_admit(fs, "guest-1", 0, 10, NULL), 0);
    VFT_EQ_INT(vf_fairshare_held(fs, "guest-1"), 1);
    VFT_EQ_INT(vf_fairshare_admit(NULL, "x", 0, 10, NULL), -EINVAL);
    VFT_CHECK(vf_fairshare_free(NULL) == NULL);
    vf_fairshare_free(fs);
}

int
main(void)
{
    VFT_RUN(test_share_per_identity);
    VFT_RUN(test_reserve_for_newcomers);
    VFT_RUN(test_forget_at_zero);
    VFT_EXIT();
}
