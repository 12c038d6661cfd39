/*
 * vmfence - daemon/tests/test-replay.c: unit tests of the replay cache.
 * Requests are signed with the real NSS code; time is passed explicitly.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "auth.h"
#include "replay.h"
#include "vftest.h"

static const uint8_t key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

/* A freshly signed request (new random bytes every call, as agents do). */
static struct vf_req
signed_req(enum vf_hash h, uint8_t cmd, const char *domain, uint32_t seqno)
{
    struct vf_req req;
    uint8_t wire[VF_REQ_SIZE];

    memset(&req, 0, sizeof(req));
    req.request = cmd;
    req.hashtype = (uint8_t)h;
    req.seqno = seqno;
    snprintf(req.domain, sizeof(req.domain), "%s", domain);
    VFT_EQ_INT(vf_req_sign(&req, key, sizeof(key), wire), 0);
    return req;
}

static void
test_identical_request_runs_once(void)
{
    struct vf_replay *rc = vf_replay_new(64);
    struct vf_req a = signed_req(VF_HASH_SHA256, VF_CMD_OFF, "vm1", 7);
    struct vf_req again = signed_req(VF_HASH_SHA256, VF_CMD_OFF, "vm1", 7);
    int64_t first = 0;

    VFT_CHECK(!vf_replay_seen(rc, &a));
    VFT_EQ_INT(vf_replay_record(rc, &a, 1000, &first), 0);
    VFT_CHECK(vf_replay_seen(rc, &a));
    /* long after any duplicate window: still a replay */
    VFT_EQ_INT(vf_replay_record(rc, &a, 1000 + 3600 * 1000, &first), -EALREADY);
    VFT_EQ_INT(first, 1000);
    /* the same command signed again (retransmission: new random) is new */
    VFT_CHECK(!vf_replay_seen(rc, &again));
    VFT_EQ_INT(vf_replay_record(rc, &again, 2000, NULL), 0);
    VFT_EQ_INT(vf_replay_count(rc), 2);
    vf_replay_free(rc);
}

static void
test_unsigned_not_covered(void)
{
    struct vf_replay *rc = vf_replay_new(64);
    struct vf_req u = signed_req(VF_HASH_NONE, VF_CMD_STATUS, "vm1", 1);

    VFT_EQ_INT(vf_replay_record(rc, &u, 1, NULL), -EINVAL);
    VFT_CHECK(!vf_replay_seen(rc, &u));
    VFT_EQ_INT(vf_replay_count(rc), 0);
    /* NULL-tolerant */
    VFT_CHECK(!vf_replay_seen(NULL, &u));
    VFT_EQ_INT(vf_replay_record(NULL, &u, 1, NULL), -EINVAL);
    VFT_CHECK(vf_replay_free(NULL) == NULL);
    vf_replay_free(rc);
}

/* The same digest under another hash type is another request. */
static void
test_hash_types_apart(void)
{
    struct vf_replay *rc = vf_replay_new(64);
    struct vf_req a = signed_req(VF_HASH_SHA512, VF_CMD_STATUS, "vm1", 1);
    struct vf_req b = a;

    b.hashtype = VF_HASH_SHA256;
    VFT_EQ_INT(vf_replay_record(rc, &a, 1, NULL), 0);
    VFT_CHECK(!vf_replay_seen(rc, &b));
    VFT_EQ_INT(vf_replay_record(rc, &b, 1, NULL), 0);
    vf_replay_free(rc);
}

/* Memory is bounded; the newest requests are the ones remembered. */
static void
test_bounded_keeps_newest(void)
{
    struct vf_replay *rc = vf_replay_new(256);
    struct vf_req last[16];

    for (int i = 0; i < 256 * 10; i++) {
        struct vf_req r = signed_req(VF_HASH_SHA1, VF_CMD_STATUS, "vm", (uint32_t)i);

        VFT_EQ_INT(vf_replay_record(rc, &r, 1 + i, NULL), 0);
        if (i >= 256 * 10 - 16) {
            last[i - (256 * 10 - 16)] = r;
        }
    }
    VFT_EQ_INT(vf_replay_count(rc), 256);
    for (int i = 0; i < 16; i++) {
        VFT_CHECK(vf_replay_seen(rc, &last[i]));
    }
    vf_replay_free(rc);
}

struct race {
    struct vf_replay *rc;
    struct vf_req req;
    atomic_int first;
};

static void *
racer(void *arg)
{
    struct race *ra = arg;

    for (int i = 0; i < 200; i++) {
        if (vf_replay_record(ra->rc, &ra->req, 5, NULL) == 0) {
            atomic_fetch_add(&ra->first, 1);
        }
    }
    return NULL;
}

/* Copies arriving at once on several listeners: exactly one is first. */
static void
test_concurrent_copies_one_first(void)
{
    struct race ra = { .rc = vf_replay_new(64) };
    pthread_t t[4];

    ra.req = signed_req(VF_HASH_SHA256, VF_CMD_REBOOT, "vm9", 9);
    atomic_init(&ra.first, 0);
    for (int i = 0; i < 4; i++) {
        VFT_EQ_INT(pthread_create(&t[i], NULL, racer, &ra), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
    }
    VFT_EQ_INT(atomic_load(&ra.first), 1);
    vf_replay_free(ra.rc);
}

int
main(void)
{
    if (vf_auth_init() < 0) {
        return 77;
    }
    VFT_RUN(test_identical_request_runs_once);
    VFT_RUN(test_unsigned_not_covered);
    VFT_RUN(test_hash_types_apart);
    VFT_RUN(test_bounded_keeps_newest);
    VFT_RUN(test_concurrent_copies_one_first);
    VFT_EXIT();
}
