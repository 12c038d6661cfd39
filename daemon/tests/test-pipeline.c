/*
 * vmfence - daemon/tests/test-pipeline.c: the request pipeline without
 * sockets or hypervisor: admission (signatures, duplicates, replays,
 * call-back fields), the answers, the host list and groups.
 * Scheduling and limits: test-pipeline-limits.c.
 *
 * FAKES (marked as such, in pipeline-fakes.c): a fake backend (three domains
 * in memory) and a fake listener whose connections record the response
 * bytes and host list records instead of writing to a socket.  The
 * pipeline, groups, history and request verification under test are the
 * real ones.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "conftree.h"
#include "groups.h"
#include "io.h"
#include "listener.h"
#include "log.h"
#include "pipeline.h"
#include "tests/pipeline-fakes.h"
#include "vftest.h"
#include "tests/pipeline-checks.h"

/* ---- tests ---------------------------------------------------------------------- */

static void
test_response_mapping(void)
{
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_STATUS, "vm1"), VF_RESP_SUCCESS);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_STATUS, "vm2"), VF_RESP_OFF);
    /* never a false success: unknown domain = FAIL, not OFF */
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_STATUS, "nosuch"), VF_RESP_FAIL);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_OFF, "nosuch"), VF_RESP_FAIL);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_NULL, "vm1"), VF_RESP_FAIL);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_METADATA, ""), VF_RESP_FAIL);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_VALIDATEALL, ""), VF_RESP_FAIL);
    VFT_EQ_INT(run1("10.0.0.1", 77, "vm1"), VF_RESP_FAIL);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_DEVSTATUS, ""), VF_RESP_SUCCESS);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_OFF, "vm3"), VF_RESP_SUCCESS);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_STATUS, "5ca1ab1e-0000-4000-8000-000000000003"),
               VF_RESP_OFF);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_ON, "vm3"), VF_RESP_SUCCESS);
}

/* api->serve (leader/follower listeners): the request runs in the calling
 * thread, so it has ended - answered, closed - when serve returns; the
 * admission is the same (a replay of it is turned away unanswered) */
static void
test_served_in_place(void)
{
    struct pf_conn a;
    struct pf_conn copy;

    VFT_CHECK(pf_api->serve != NULL);
    fc_prepare(&a, "10.0.9.1", VF_CMD_STATUS, "vm1", VF_HASH_SHA256, NULL);
    fc_copy(&copy, &a);
    pf_api->serve(pf_api->ctx, &a.conn);
    VFT_CHECK(a.closed);
    VFT_EQ_INT(a.n_resp, 1);
    VFT_EQ_INT(a.resp[0], VF_RESP_SUCCESS);
    pf_api->serve(pf_api->ctx, &copy.conn);
    VFT_CHECK(copy.closed);
    VFT_EQ_INT(copy.n_resp, 0);
    fc_prepare(&a, "10.0.9.1", VF_CMD_STATUS, "vm2", VF_HASH_SHA256, NULL);
    pf_api->serve(pf_api->ctx, &a.conn);
    VFT_CHECK(a.closed);
    VFT_EQ_INT(a.n_resp, 1);
    VFT_EQ_INT(a.resp[0], VF_RESP_OFF);
}

/*
 * Regression (R2 review): a backend returning a positive value (not the
 * plugin ABI) was mapped to SUCCESS for off/on/reboot and to OFF for status:
 * a fencing "success" for a VM nobody powered off.
 */
static void
test_positive_backend_return_is_failure(void)
{
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_OFF, PF_POSITIVE), VF_RESP_FAIL);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_REBOOT, PF_POSITIVE), VF_RESP_FAIL);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_ON, PF_POSITIVE), VF_RESP_FAIL);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_STATUS, PF_POSITIVE), VF_RESP_FAIL);
}

/*
 * Regression (R2 review): challenge/response was skipped (and the reply
 * written) when a listener configured with auth handed over a connection
 * without a stream (fd -1).  It must fail closed: no backend call, no reply.
 */
static void
test_auth_without_stream_fails_closed(void)
{
    struct pf_conn fc;
    int calls = atomic_load(&pf_calls);

    fc_prepare(&fc, "10.0.0.1", VF_CMD_OFF, "vm3", VF_HASH_SHA256, NULL);
    fc.conn.auth = VF_HASH_SHA256;
    fc.conn.fd = -1;
    fc_submit_wait(&fc);
    VFT_EQ_INT(fc.n_resp, 0);
    VFT_EQ_INT(atomic_load(&pf_calls), calls);
}

static void
test_bad_signatures_dropped(void)
{
    struct vf_key wrong = { .len = 5 };
    struct pf_conn fc;
    int calls = 0;

    memcpy(wrong.data, "wrong", 5);
    calls = atomic_load(&pf_calls);
    fc_prepare(&fc, "10.0.0.1", VF_CMD_OFF, "vm1", VF_HASH_SHA256, &wrong);
    fc_submit_wait(&fc);
    VFT_EQ_INT(fc.n_resp, 0);
    fc_prepare(&fc, "10.0.0.1", VF_CMD_OFF, "vm1", VF_HASH_SHA1, NULL);
    fc_submit_wait(&fc);
    VFT_EQ_INT(fc.n_resp, 0);
    VFT_EQ_INT(atomic_load(&pf_calls), calls);
    fc_prepare(&fc, "10.0.0.1", VF_CMD_STATUS, "vm1", VF_HASH_SHA512, NULL);
    fc_submit_wait(&fc);
    VFT_EQ_INT(fc.n_resp, 1);
}

static void
test_duplicates_dropped(void)
{
    struct pf_conn a;
    struct pf_conn b;
    struct pf_conn c;

    fc_prepare(&a, "10.0.0.1", VF_CMD_STATUS, "vm1", VF_HASH_SHA256, NULL);
    fc_copy(&b, &a);    /* the very same signed bytes (replay) */
    fc_submit_wait(&a);
    fc_submit_wait(&b);
    VFT_EQ_INT(a.n_resp, 1);
    VFT_EQ_INT(b.n_resp, 0);
    /* same seqno from another requester (signed by it: other random
     * bytes) is not a duplicate (D25) ... */
    fc_prepare(&c, "10.0.0.2", VF_CMD_STATUS, "vm1", VF_HASH_SHA256, NULL);
    c.conn.req.seqno = a.conn.req.seqno;
    fc_resign(&c);
    fc_submit_wait(&c);
    VFT_EQ_INT(c.n_resp, 1);
    /* ... but a's very bytes sent by another peer are a replay (issue 13:
     * the dedupe key held the peer, so a replay from elsewhere ran again) */
    fc_copy(&b, &a);
    b.closed = false;
    b.n_resp = 0;
    snprintf(b.conn.identity, sizeof(b.conn.identity), "10.0.0.3");
    fc_submit_wait(&b);
    VFT_EQ_INT(b.n_resp, 0);
}

/*
 * Issue 13: a signed datagram replayed long after the 10 s duplicate
 * window ran again, and each copy made the daemon connect back to the
 * address in it.  The replay cache drops every later copy at admission:
 * no backend call, no connect-back, whatever the time.
 */
static void
test_replay_after_window_dropped(void)
{
    struct pf_conn a;
    static struct pf_conn copies[50];
    int calls = 0, opens = 0;

    fc_prepare_cb(&a, "10.0.5.1", 0, 0, 0);
    for (size_t i = 0; i < sizeof(copies) / sizeof(copies[0]); i++) {
        fc_copy(&copies[i], &a);
        copies[i].open_rc = -ECONNREFUSED;      /* the agent is long gone */
    }
    fc_submit_wait(&a);
    VFT_EQ_INT(a.n_resp, 1);
    calls = atomic_load(&pf_calls);
    opens = atomic_load(&pf_open_calls);
    for (size_t i = 0; i < sizeof(copies) / sizeof(copies[0]); i++) {
        fc_submit_wait(&copies[i]);
        VFT_EQ_INT(copies[i].n_resp, 0);
    }
    VFT_EQ_INT(atomic_load(&pf_calls), calls);
    VFT_EQ_INT(atomic_load(&pf_open_calls), opens);
}

/*
 * Issue 13: fence_xvm's signed multicast datagram sent to a tcp/vsock
 * listener (same key) let a relay use the daemon as a challenge oracle.
 * A stream request must have zeroed call-back fields.
 */
static void
test_stream_callback_fields_refused(void)
{
    struct pf_conn fc;
    int calls = atomic_load(&pf_calls);

    fc_prepare(&fc, "10.0.6.1", VF_CMD_OFF, "vm3", VF_HASH_SHA256, NULL);
    fc.conn.req.family = 2;
    fc.conn.req.addrlen = 4;
    fc.conn.req.port = 1229;
    fc.conn.req.address[0] = 10;
    fc_resign(&fc);
    fc_submit_wait(&fc);
    VFT_EQ_INT(fc.n_resp, 0);
    VFT_EQ_INT(atomic_load(&pf_calls), calls);
    /* each field alone is enough */
    fc_prepare(&fc, "10.0.6.1", VF_CMD_STATUS, "vm1", VF_HASH_SHA256, NULL);
    fc.conn.req.port = 1;
    fc_resign(&fc);
    fc_submit_wait(&fc);
    VFT_EQ_INT(fc.n_resp, 0);
    /* fence_virt's zeroed fields still work */
    VFT_EQ_INT(run1("10.0.6.1", VF_CMD_STATUS, "vm1"), VF_RESP_SUCCESS);
}

/*
 * Issue 13: a copy whose connect-back is refused used to wait up to 2 s
 * for sibling copies, holding its worker; under a flood that was a
 * blackout.  It now ends at once.
 */
static void
test_refused_connect_back_does_not_wait(void)
{
    struct pf_conn sib;
    struct pf_conn a;
    int64_t t0 = 0;

    /* a sibling copy (same seqno/domain/port) that is still connecting */
    fc_prepare_cb(&sib, "192.0.2.7", 0, 1500, -ETIMEDOUT);
    fc_prepare_cb(&a, "10.0.7.1", sib.conn.req.seqno, 0, -ECONNREFUSED);
    pf_api->submit(pf_api->ctx, &sib.conn);
    usleep(50000);
    t0 = vf_now_ms();
    fc_submit_wait(&a);
    fprintf(stderr, "  refused copy ended after %lld ms\n", (long long)(a.done_ms - t0));
    VFT_CHECK(a.done_ms - t0 < 1000);
    VFT_EQ_INT(a.n_resp, 0);
    fc_wait(&sib);
}

/*
 * Regression (R2 review): fence_xvm sends one copy of a request per local
 * interface.  A copy whose call-back address does not answer (connect
 * times out) reserved the dedupe entry, and the reachable copy arriving
 * meanwhile was dropped as a duplicate: fencing failed, round after round.
 */
static void
test_unreachable_copy_does_not_block(void)
{
    struct pf_conn a;
    struct pf_conn b;
    struct pf_conn c;

    fc_prepare_cb(&a, "192.0.2.1", 0, 400, -ETIMEDOUT);
    /* the same request (seqno, domain, port) from the client's other address */
    fc_prepare_cb(&b, "10.0.0.1", a.conn.req.seqno, 0, 0);
    fc_copy(&c, &b);    /* a retransmission of b, submitted after b completed */

    pf_api->submit(pf_api->ctx, &a.conn);
    usleep(50000);
    fc_submit_wait(&b);
    VFT_EQ_INT(b.n_resp, 1);
    VFT_EQ_INT(b.resp[0], VF_RESP_SUCCESS);
    fc_wait(&a);
    VFT_EQ_INT(a.n_resp, 0);
    /* once served, further copies are duplicates: no second call-back */
    c.open_delay_ms = 0;
    fc_submit_wait(&c);
    VFT_EQ_INT(c.n_resp, 0);
}

static void
test_list(void)
{
    struct pf_conn fc;

    fc_prepare(&fc, "10.0.0.1", VF_CMD_HOSTLIST, "", VF_HASH_SHA256, NULL);
    fc_submit_wait(&fc);
    VFT_EQ_INT(fc.n_resp, 2);
    VFT_EQ_INT(fc.resp[0], VF_RESP_HOSTLIST);
    VFT_EQ_INT(fc.resp[1], VF_RESP_SUCCESS);
    VFT_EQ_INT(fc.n_recs, 4);
    VFT_EQ_STR(fc.recs[0].domain, "vm1");
    VFT_EQ_STR(fc.recs[1].uuid, "5ca1ab1e-0000-4000-8000-000000000002");
    VFT_EQ_INT(fc.recs[1].state, VF_STATE_SHUTOFF);
    VFT_CHECK(vf_host_state_is_end(&fc.recs[3]));
}

static void
test_groups(void)
{
    struct vf_conf *conf = NULL;
    struct vf_groups *g = NULL;
    struct vf_backend_inst *be = NULL;
    struct pf_conn fc;
    char err[256];
    static const char text[] =
        "groups { group { ip = \"10.0.0.5\"; uuid = \"vm1\"; } }\n";
    int calls = 0;

    VFT_EQ_INT(vf_conf_parse_buffer("g.conf", text, strlen(text), &conf, err, sizeof(err)), 0);
    VFT_EQ_INT(vf_groups_load(conf, &g, err, sizeof(err)), 0);
    vf_conf_free(conf);
    be = vf_pipeline_get_backend();
    VFT_EQ_INT(vf_pipeline_set_config(g, be), 0);
    vf_backend_inst_unref(be);

    VFT_EQ_INT(run1("10.0.0.5", VF_CMD_STATUS, "vm1"), VF_RESP_SUCCESS);
    VFT_EQ_INT(run1("10.0.0.5", VF_CMD_STATUS, "5ca1ab1e-0000-4000-8000-000000000001"),
               VF_RESP_SUCCESS);
    calls = atomic_load(&pf_calls);
    VFT_EQ_INT(run1("10.0.0.5", VF_CMD_OFF, "vm2"), VF_RESP_PERM);
    VFT_EQ_INT(run1("10.0.0.6", VF_CMD_OFF, "vm1"), VF_RESP_PERM);
    VFT_EQ_INT(atomic_load(&pf_calls), calls);      /* denied before the backend */
    VFT_EQ_INT(run1("10.0.0.6", VF_CMD_DEVSTATUS, ""), VF_RESP_SUCCESS);
    fc_prepare(&fc, "10.0.0.5", VF_CMD_HOSTLIST, "", VF_HASH_SHA256, NULL);
    fc_submit_wait(&fc);
    VFT_EQ_INT(fc.n_recs, 2);
    VFT_EQ_STR(fc.recs[0].domain, "vm1");

    /* back to no groups */
    VFT_EQ_INT(vf_groups_load(NULL, &g, err, sizeof(err)), 0);
    be = vf_pipeline_get_backend();
    VFT_EQ_INT(vf_pipeline_set_config(g, be), 0);
    vf_backend_inst_unref(be);
}

int
main(void)
{
    struct vf_listener_inst *li = pf_test_begin("test-pipeline");

    VFT_RUN(test_response_mapping);
    VFT_RUN(test_served_in_place);
    VFT_RUN(test_positive_backend_return_is_failure);
    VFT_RUN(test_auth_without_stream_fails_closed);
    VFT_RUN(test_bad_signatures_dropped);
    VFT_RUN(test_duplicates_dropped);
    VFT_RUN(test_replay_after_window_dropped);
    VFT_RUN(test_stream_callback_fields_refused);
    VFT_RUN(test_refused_connect_back_does_not_wait);
    VFT_RUN(test_unreachable_copy_does_not_block);
    VFT_RUN(test_list);
    VFT_RUN(test_groups);

    return pf_test_end(li);
}
