/*
 * vmfence - daemon/tests/test-history.c: unit tests of the dedupe table.
 * Time is passed explicitly, so nothing here sleeps.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "history.h"
#include "vftest.h"

static struct vf_history_key
mk(const char *listener, const char *id, uint8_t req, uint32_t seq, const char *dom)
{
    struct vf_history_key k;

    memset(&k, 0, sizeof(k));
    snprintf(k.listener, sizeof(k.listener), "%s", listener);
    snprintf(k.identity, sizeof(k.identity), "%s", id);
    k.request = req;
    k.seqno = seq;
    snprintf(k.domain, sizeof(k.domain), "%s", dom);
    return k;
}

/* a new table (16 entries, 10 s window) in which @k is reserved at @now
 * (checked), its ticket in *@t */
static struct vf_history *
with_reserved(const struct vf_history_key *k, uint64_t now, uint64_t *t)
{
    struct vf_history *h = vf_history_new(16, 10000);

    VFT_EQ_INT(vf_history_reserve(h, k, now, t), 0);
    return h;
}

/* reserve seqnos 0 to @n - 1 from tcp "a" at time 0 (checked), their
 * tickets in @t */
static void
reserve_seqs(struct vf_history *h, uint32_t n, uint64_t *t)
{
    for (uint32_t i = 0; i < n; i++) {
        struct vf_history_key k = mk("tcp", "a", 1, i, "x");

        VFT_EQ_INT(vf_history_reserve(h, &k, 0, &t[i]), 0);
    }
}

static void
test_duplicate_within_window(void)
{
    struct vf_history_key k = mk("tcp", "10.0.0.1", 1, 42, "vm1");
    struct vf_history_key k_case = mk("tcp", "10.0.0.1", 1, 42, "VM1");
    uint64_t t = 0;
    struct vf_history *h = with_reserved(&k, 1000, &t);

    /* in progress: a retransmission is a duplicate */
    VFT_EQ_INT(vf_history_reserve(h, &k, 1001, &t), -EEXIST);
    vf_history_complete(h, t, 2000);
    /* domain compares case-insensitively */
    VFT_EQ_INT(vf_history_reserve(h, &k_case, 5000, &t), -EEXIST);
    VFT_EQ_INT(vf_history_reserve(h, &k, 11999, &t), -EEXIST);
    /* 10 s after completion it runs again (not a replay defence) */
    VFT_EQ_INT(vf_history_reserve(h, &k, 12000, &t), 0);
    vf_history_free(h);
}

static void
test_different_clients_do_not_collide(void)
{
    struct vf_history *h = vf_history_new(16, 10000);
    struct vf_history_key a = mk("tcp", "10.0.0.1", 1, 42, "vm1");
    struct vf_history_key b = mk("tcp", "10.0.0.2", 1, 42, "vm1");
    struct vf_history_key c = mk("vsock", "10.0.0.1", 1, 42, "vm1");
    struct vf_history_key d = a;
    uint64_t t = 0;

    d.random[0] = 1;
    VFT_EQ_INT(vf_history_reserve(h, &a, 0, &t), 0);
    VFT_EQ_INT(vf_history_reserve(h, &b, 0, &t), 0);   /* other requester (D25) */
    VFT_EQ_INT(vf_history_reserve(h, &c, 0, &t), 0);   /* other listener */
    VFT_EQ_INT(vf_history_reserve(h, &d, 0, &t), 0);   /* other random bytes */
    VFT_EQ_INT(vf_history_count(h, 0), 4);
    vf_history_free(h);
}

static void
test_release_forgets(void)
{
    struct vf_history_key k = mk("multicast", "", 4, 7, "x");
    uint64_t t = 0;
    struct vf_history *h = with_reserved(&k, 0, &t);

    vf_history_release(h, t);
    VFT_EQ_INT(vf_history_reserve(h, &k, 1, &t), 0);
    vf_history_free(h);
}

static void
test_bounded(void)
{
    struct vf_history *h = vf_history_new(4, 10000);
    uint64_t t[6];

    reserve_seqs(h, 4, t);
    {
        struct vf_history_key k = mk("tcp", "a", 1, 99, "x");

        /* all four in progress: nothing can be evicted */
        VFT_EQ_INT(vf_history_reserve(h, &k, 0, &t[4]), -ENOSPC);
        vf_history_complete(h, t[1], 5);
        vf_history_complete(h, t[2], 3);
        /* the oldest completed (seqno 2) is evicted */
        VFT_EQ_INT(vf_history_reserve(h, &k, 6, &t[4]), 0);
    }
    {
        struct vf_history_key k2 = mk("tcp", "a", 1, 2, "x");
        struct vf_history_key k1 = mk("tcp", "a", 1, 1, "x");

        VFT_EQ_INT(vf_history_reserve(h, &k1, 7, &t[5]), -EEXIST);
        vf_history_complete(h, t[0], 7);
        VFT_EQ_INT(vf_history_reserve(h, &k2, 8, &t[5]), 0);
    }
    VFT_EQ_INT(vf_history_count(h, 8), 4);
    vf_history_free(h);
}

/*
 * Regression (R2 review): copies of one multicast request (one per client
 * interface) reserved the same entry, so a copy whose call-back hung for
 * 5 s made the daemon drop the reachable copies, round after round.
 */
static void
test_tentative_copies(void)
{
    struct vf_history *h = vf_history_new(16, 10000);
    struct vf_history_key k = mk("multicast", "", 2, 7, "vm1");
    uint64_t ta = 0;
    uint64_t tb = 0;
    uint64_t tc = 0;

    VFT_EQ_INT(vf_history_reserve_tentative(h, &k, 1000, &ta), 0);
    /* a second copy is not blocked by the first, unconfirmed one */
    VFT_EQ_INT(vf_history_reserve_tentative(h, &k, 1001, &tb), 0);
    VFT_CHECK(ta != tb);
    VFT_EQ_INT(vf_history_siblings(h, ta, 1050), 0);     /* b still tentative */
    /* b reached the client (its connect-back is open): a's refused
     * connect-back is explained at once, with no wait */
    vf_history_opened(h, tb);
    VFT_EQ_INT(vf_history_siblings(h, ta, 1060), 1);
    VFT_EQ_INT(vf_history_siblings(h, tb, 1060), 0);     /* a has not */
    /* b authenticates first: it is the request now */
    VFT_EQ_INT(vf_history_confirm(h, tb, 1100), 0);
    VFT_EQ_INT(vf_history_siblings(h, ta, 1150), 1);     /* a was superseded */
    VFT_EQ_INT(vf_history_siblings(h, tb, 1150), 0);
    /* a late a is a duplicate, and its entry is gone */
    VFT_EQ_INT(vf_history_confirm(h, ta, 1200), -EEXIST);
    VFT_EQ_INT(vf_history_count(h, 1200), 1);
    /* further copies are blocked while b runs and for the window after */
    VFT_EQ_INT(vf_history_reserve_tentative(h, &k, 1300, &tc), -EEXIST);
    VFT_EQ_INT(vf_history_reserve(h, &k, 1300, &tc), -EEXIST);
    vf_history_complete(h, tb, 2000);
    VFT_EQ_INT(vf_history_reserve_tentative(h, &k, 11999, &tc), -EEXIST);
    VFT_EQ_INT(vf_history_reserve_tentative(h, &k, 12000, &tc), 0);
    VFT_EQ_INT(vf_history_siblings(h, tc, 12000), -1);   /* alone */
    /* a released tentative copy leaves nothing behind */
    vf_history_release(h, tc);
    VFT_EQ_INT(vf_history_count(h, 12001), 0);
    vf_history_free(h);
}

int
main(void)
{
    VFT_CHECK(vf_history_new(0, 1) == NULL);
    VFT_RUN(test_duplicate_within_window);
    VFT_RUN(test_different_clients_do_not_collide);
    VFT_RUN(test_release_forgets);
    VFT_RUN(test_bounded);
    VFT_RUN(test_tentative_copies);
    VFT_EXIT();
}
