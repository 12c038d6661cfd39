/*
 * vmfence - daemon/tests/test-pipeline-limits.c: the request pipeline's
 * scheduling and limits without sockets or hypervisor: per-target locks,
 * concurrency, the fair share per requester, the worker cap and queue,
 * listener instances stopped while their requests run, and rate-limited
 * refusal logs.  Admission and answers: test-pipeline.c.
 *
 * FAKES (marked as such, in pipeline-fakes.c): a fake backend (three domains
 * in memory, with an optional delay per operation so that concurrency can
 * be observed) and a fake listener whose connections record the response
 * bytes instead of writing to a socket.  The pipeline under test is the
 * real one.  Timing bounds are generous: the machine may be loaded.
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

/*
 * Issue 13: one requester (a serial guest that stops reading, a key holder
 * that never answers its challenge) could hold every worker.  It gets
 * VF_MAX_PER_REQUESTER places; another guest is served at once.
 */
static void
test_fair_share(void)
{
    enum { N = VF_MAX_PER_REQUESTER + 12 };
    static struct pf_conn hog[N];
    int refused = 0;
    int64_t t0 = 0;
    int resp = 0;

    atomic_store(&pf_vm1_delay_ms, 800);
    for (int i = 0; i < N; i++) {
        fc_send(&hog[i], "10.0.8.1", VF_CMD_STATUS, "vm1");
    }
    t0 = vf_now_ms();
    resp = run1("10.0.8.2", VF_CMD_STATUS, "vm2");
    fprintf(stderr, "  other guest answered after %lld ms\n", (long long)(vf_now_ms() - t0));
    VFT_EQ_INT(resp, VF_RESP_OFF);
    VFT_CHECK(vf_now_ms() - t0 < 500);
    for (int i = 0; i < N; i++) {
        fc_wait(&hog[i]);
        refused += hog[i].n_resp == 0;
    }
    atomic_store(&pf_vm1_delay_ms, 0);
    VFT_EQ_INT(refused, N - VF_MAX_PER_REQUESTER);
    /* its share is back once they ended */
    VFT_EQ_INT(run1("10.0.8.1", VF_CMD_STATUS, "vm1"), VF_RESP_SUCCESS);
}

/*
 * Issue 13: a listener stopped by a reload while its requests still ran
 * kept its slot until they ended; reloads while a backend hung used up the
 * 16 slots.  ABI 2 has no slots (the API has a context pointer) and no
 * cap: start and stop twice as many instances as there were slots, each
 * leaving a slow request behind.
 */
static void
test_listener_slots_survive_reloads(void)
{
    enum { N = 16 * 2 };
    static struct pf_conn fc[N];
    const struct vf_daemon_api *saved = pf_api;
    char err[256];

    atomic_store(&pf_vm1_delay_ms, 600);
    for (int i = 0; i < N; i++) {
        struct vf_listener_inst *li = NULL;
        char id[32];

        pf_api = NULL;
        err[0] = '\0';
        VFT_EQ_INT(vf_listener_start(&pf_listener, NULL, &li, err, sizeof(err)), 0);
        if (li == NULL) {
            fprintf(stderr, "  start %d: %s\n", i, err);
            break;
        }
        snprintf(id, sizeof(id), "10.0.9.%d", i);
        fc_send(&fc[i], id, VF_CMD_STATUS, "vm1");
        vf_listener_stop(li, 0);      /* its request still runs: orphaned */
    }
    pf_api = saved;
    for (int i = 0; i < N; i++) {
        fc_wait(&fc[i]);
        VFT_EQ_INT(fc[i].n_resp, 1);
    }
    atomic_store(&pf_vm1_delay_ms, 0);
}

/* every operation on vm1 made to take @delay_ms, the count of those running
 * at once reset, and @n requests @cmd on vm1 submitted at once (from
 * 10.0.0.1).  \return when they were submitted */
static int64_t
vm1_burst(struct pf_conn *fc, int n, uint8_t cmd, int delay_ms)
{
    int64_t t0 = 0;

    atomic_store(&pf_vm1_delay_ms, delay_ms);
    atomic_store(&pf_max_same, 0);
    t0 = vf_now_ms();
    for (int i = 0; i < n; i++) {
        fc_send(&fc[i], "10.0.0.1", cmd, "vm1");
    }
    return t0;
}

/* wait for the @n requests of @fc, each answered SUCCESS (checked) */
static void
wait_all_success(struct pf_conn *fc, int n)
{
    for (int i = 0; i < n; i++) {
        fc_wait(&fc[i]);
        VFT_EQ_INT(fc[i].resp[0], VF_RESP_SUCCESS);
    }
}

static void
test_concurrency(void)
{
    struct pf_conn slow[3];
    struct pf_conn fast;
    int64_t t0 = vm1_burst(slow, 3, VF_CMD_REBOOT, 600);

    /* another domain is not held up by the three operations on vm1 */
    fc_prepare(&fast, "10.0.0.9", VF_CMD_STATUS, "vm2", VF_HASH_SHA256, NULL);
    fc_submit_wait(&fast);
    VFT_CHECK(fast.done_ms - t0 < 500);
    wait_all_success(slow, 3);
    /* the three operations on vm1 ran one after the other */
    VFT_EQ_INT(atomic_load(&pf_max_same), 1);
    VFT_CHECK(vf_now_ms() - t0 >= 1750);
    atomic_store(&pf_vm1_delay_ms, 0);
}

/*
 * Per-target lock modes: statuses of one target run together (shared),
 * a power operation excludes statuses and other power operations of its
 * target, and a status submitted while a reboot runs waits for it.
 */
static void
test_status_shared(void)
{
    struct pf_conn st[3];
    struct pf_conn rb;
    struct pf_conn after;
    int64_t t0 = vm1_burst(st, 3, VF_CMD_STATUS, 300);

    wait_all_success(st, 3);
    /* together: about 300 ms, not 900 */
    VFT_CHECK(vf_now_ms() - t0 < 800);
    VFT_CHECK(atomic_load(&pf_max_same) >= 2);

    /* a status behind a reboot waits for it; they never overlap */
    atomic_store(&pf_max_same, 0);
    t0 = vf_now_ms();
    fc_send(&rb, "10.0.0.1", VF_CMD_REBOOT, "vm1");
    usleep(100 * 1000);
    fc_send(&after, "10.0.0.1", VF_CMD_STATUS, "vm1");
    fc_wait(&rb);
    fc_wait(&after);
    VFT_EQ_INT(rb.resp[0], VF_RESP_SUCCESS);
    VFT_EQ_INT(after.resp[0], VF_RESP_SUCCESS);
    VFT_CHECK(after.done_ms >= rb.done_ms);
    VFT_CHECK(after.done_ms - t0 >= 550);
    VFT_EQ_INT(atomic_load(&pf_max_same), 1);

    /* an off submitted while statuses run waits for them, and statuses
     * submitted after the off wait for it (power operations first) */
    atomic_store(&pf_max_same, 0);
    fc_send(&st[0], "10.0.0.1", VF_CMD_STATUS, "vm1");
    usleep(100 * 1000);
    fc_send(&rb, "10.0.0.1", VF_CMD_OFF, "vm1");
    usleep(50 * 1000);
    fc_send(&st[1], "10.0.0.1", VF_CMD_STATUS, "vm1");
    fc_wait(&st[0]);
    fc_wait(&rb);
    fc_wait(&st[1]);
    VFT_EQ_INT(st[0].resp[0], VF_RESP_SUCCESS);     /* on, before the off */
    VFT_EQ_INT(rb.resp[0], VF_RESP_SUCCESS);
    VFT_EQ_INT(st[1].resp[0], VF_RESP_OFF);         /* after the off */
    VFT_CHECK(rb.done_ms >= st[0].done_ms);
    VFT_CHECK(st[1].done_ms >= rb.done_ms);
    VFT_EQ_INT(atomic_load(&pf_max_same), 1);
    atomic_store(&pf_vm1_delay_ms, 0);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_ON, "vm1"), VF_RESP_SUCCESS);
}

/* a status by name skips the lookup and locks the name; a power operation
 * requested by UUID locks the name it resolves to as well, so the two still
 * never overlap (the backend counts calls on vm1 running at once) */
static void
test_status_by_name_vs_power_by_uuid(void)
{
    struct pf_conn off;
    struct pf_conn st;

    atomic_store(&pf_vm1_delay_ms, 300);
    atomic_store(&pf_max_same, 0);
    fc_prepare(&off, "10.0.0.1", VF_CMD_OFF, "5ca1ab1e-0000-4000-8000-000000000001",
               VF_HASH_SHA256, NULL);
    off.conn.req.flags = VF_RF_UUID;
    fc_resign(&off);
    pf_api->submit(pf_api->ctx, &off.conn);
    usleep(100 * 1000);
    fc_send(&st, "10.0.0.1", VF_CMD_STATUS, "vm1");
    fc_wait(&off);
    fc_wait(&st);
    VFT_EQ_INT(off.resp[0], VF_RESP_SUCCESS);
    VFT_EQ_INT(st.resp[0], VF_RESP_OFF);            /* after the off, never during */
    VFT_EQ_INT(atomic_load(&pf_max_same), 1);
    atomic_store(&pf_vm1_delay_ms, 0);
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_ON, "vm1"), VF_RESP_SUCCESS);
}

/* the queue bounded to @qmax requests waiting @timeout_ms at most, and every
 * backend call taking @delay_ms */
static void
limits_set(int qmax, int timeout_ms, int delay_ms)
{
    vf_pipeline_set_queue_limits(qmax, timeout_ms);
    atomic_store(&pf_delay_ms, delay_ms);
}

/* back to the default limits and no delay */
static void
limits_reset(void)
{
    limits_set(VF_MAX_QUEUED, VF_QUEUE_TIMEOUT_MS, 0);
}

/*
 * Submit @n status requests at once, from 10.@net.(i / 200).(i % 200) for
 * ghost-@tag-i (distinct unknown targets: the per-target lock does not
 * serialise them), and wait for every one.  \return how many were answered
 */
static int
flood_distinct(struct pf_conn *fc, int n, int net, const char *tag)
{
    int answered = 0;

    for (int i = 0; i < n; i++) {
        char id[32];
        char dom[32];

        snprintf(id, sizeof(id), "10.%d.%d.%d", net, i / 200, i % 200);
        snprintf(dom, sizeof(dom), "ghost-%s-%d", tag, i);
        fc_send(&fc[i], id, VF_CMD_STATUS, dom);
    }
    for (int i = 0; i < n; i++) {
        fc_wait(&fc[i]);
        answered += fc[i].n_resp != 0;
    }
    return answered;
}

/* flood_distinct() under limits_set(@qmax, @timeout_ms, @delay_ms), then back
 * to the defaults, where vm1's status is answered again (checked).
 * \return how many of the flood were answered */
static int
flood_limited(struct pf_conn *fc, int n, int net, int qmax, int timeout_ms, int delay_ms)
{
    int answered = 0;

    limits_set(qmax, timeout_ms, delay_ms);
    answered = flood_distinct(fc, n, net, "lim");
    limits_reset();
    VFT_EQ_INT(run1("10.0.0.1", VF_CMD_STATUS, "vm1"), VF_RESP_SUCCESS);
    return answered;
}

/*
 * Beyond VF_MAX_WORKERS running requests, requests wait in a bounded FIFO
 * queue (the worker cap used to close them at once); beyond the queue
 * bound they are refused.  The bound is lowered to 16 for the test.
 */
static void
test_worker_cap(void)
{
    enum { QMAX = 16, N = VF_MAX_WORKERS + QMAX + 6 };
    static struct pf_conn fc[N];
    int answered = flood_limited(fc, N, 1, QMAX, 5000, 100);

    fprintf(stderr, "  %d answered, %d refused\n", answered, N - answered);
    VFT_CHECK(N - answered >= 1);
    VFT_CHECK(N - answered <= 6);
    VFT_CHECK(answered >= VF_MAX_WORKERS + QMAX);
}

/*
 * A queued request has its own deadline: one that no worker took in time
 * is closed unanswered, not served late.  Queue timeout lowered to 100 ms
 * while every worker is busy for 400 ms.
 */
static void
test_queue_timeout(void)
{
    enum { QN = 8, N = VF_MAX_WORKERS + QN };
    static struct pf_conn fc[N];
    int answered = flood_limited(fc, N, 3, VF_MAX_QUEUED, 100, 400);

    fprintf(stderr, "  %d answered, %d dropped at their queue deadline\n", answered,
            N - answered);
    VFT_CHECK(N - answered >= 1);
    VFT_CHECK(answered >= VF_MAX_WORKERS);
}

/*
 * Regression (R2 review): every refused request (worker cap reached) wrote
 * one warning, so a datagram flood became a log flood.  The refusals are
 * now rate limited like the other drops.  stderr is captured in a file.
 */
static void
test_refusals_rate_limited(void)
{
    enum { QMAX = 16, N = VF_MAX_WORKERS + QMAX + 200 };
    static struct pf_conn fc[N];
    char path[] = "/tmp/vft-pipeline-log.XXXXXX";
    int tmp = mkstemp(path);
    int saved = dup(STDERR_FILENO);
    char buf[65536];
    ssize_t len = 0;
    int lines = 0;

    VFT_CHECK(tmp >= 0 && saved >= 0);
    if (tmp < 0 || saved < 0) {
        return;
    }
    unlink(path);
    fflush(stderr);
    dup2(tmp, STDERR_FILENO);
    limits_set(QMAX, 5000, 300);
    flood_distinct(fc, N, 2, "refuse");
    limits_reset();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    len = pread(tmp, buf, sizeof(buf) - 1, 0);
    close(tmp);
    buf[len > 0 ? len : 0] = '\0';
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save)) {
        if (strstr(l, "refused") != NULL) {
            lines++;
        } else {
            fprintf(stderr, "%s\n", l);    /* anything else (failures) stays visible */
        }
    }
    fprintf(stderr, "  %d refusal lines logged for %d refused requests\n", lines,
            N - VF_MAX_WORKERS - QMAX);
    VFT_CHECK(lines >= 1);
    VFT_CHECK(lines <= 2 * 20 + 2);
}

int
main(void)
{
    struct vf_listener_inst *li = pf_test_begin("test-pipeline-limits");

    VFT_RUN(test_fair_share);
    VFT_RUN(test_listener_slots_survive_reloads);
    VFT_RUN(test_concurrency);
    VFT_RUN(test_status_shared);
    VFT_RUN(test_status_by_name_vs_power_by_uuid);
    VFT_RUN(test_worker_cap);
    VFT_RUN(test_queue_timeout);
    VFT_RUN(test_refusals_rate_limited);

    return pf_test_end(li);
}
