/*
 * vmfence - daemon/tests/test-cpg-hostloss.c: unit tests of the cpg
 * backend (daemon/backends/cpg*.c, linked; internals through
 * backends/cpg-int.h) when a host leaves the group: a silent owner, an
 * owner that leaves while asked, its domains "owner lost" until the host
 * cluster's fencer (and quorum) says the host was fenced after it left,
 * the host rejoining, and corosync itself lost and back.
 * Routing between live members is test-cpg.c.
 *
 * libcpg, libvirt and the host cluster's fencer are FAKED (cpg-fakes.h says
 * how and why); the real tests with corosync and pacemaker are
 * tests/interop/cpg-cluster.sh and tests/cluster/cl-cpg-hostkill.sh.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpg-fakes.h"
#include "vftest.h"

static struct cpg_be *be;

/*
 * Where test-cpg.c's routing tests leave the group: both members joined,
 * the peer announced g2-z (U_WEB2, "web" on this host), running there.
 */
static void
test_peer_announced(void)
{
    struct vf_cpgw_dom d;

    VFT_CHECK(ct_wait_monitor(be, 0));
    mkdom(&d, "g2-z", U_WEB2, VF_STATE_RUNNING);
    peer_announce(&d, 1, 1000);
    VFT_CHECK(ct_wait_gen(be, 1000));
    VFT_CHECK(ct_wait_known(be, "g2-z", true));
    pthread_mutex_lock(&be->lock);
    VFT_EQ_INT(be->n_lost, 0);
    pthread_mutex_unlock(&be->lock);
}

struct bg_call {
    int r;
    int64_t ms;
};

static void *
bg_status(void *arg)
{
    struct bg_call *c = arg;
    int64_t t0 = vf_now_ms();
    bool on = false;

    c->r = cpg_op_status(be, "g2-z", 0, &on, dl(10000));
    c->ms = vf_now_ms() - t0;
    return NULL;
}

static void
test_timeout_and_leave(void)
{
    struct bg_call c = { 0, 0 };
    int64_t t0;
    bool on = false;
    pthread_t t;
    int r;

    /* owner alive but silent: bounded by reply_timeout (1 s), no hang (D7) */
    peer_mode = PEER_SILENT;
    t0 = vf_now_ms();
    r = cpg_op_status(be, "g2-z", 0, &on, dl(10000));
    VFT_EQ_INT(r, -ETIMEDOUT);
    VFT_CHECK(vf_now_ms() - t0 >= 900 && vf_now_ms() - t0 < 3000);
    /* the owner leaves while we wait: -EHOSTDOWN at once */
    VFT_EQ_INT(pthread_create(&t, NULL, bg_status, &c), 0);
    VFT_CHECK(ct_wait_pending(be, 1));
    fq_confchg(false, true, false);
    pthread_join(t, NULL);
    VFT_EQ_INT(c.r, -EHOSTDOWN);
    VFT_CHECK(c.ms < 900);
    peer_mode = PEER_ANSWER;
    /* its domains are "owner lost": without a fencer, never a success */
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(2000)), -EHOSTDOWN);
    VFT_EQ_INT(cpg_op_reboot(be, "g2-z", 0, dl(2000)), -EHOSTDOWN);
    VFT_EQ_INT(cpg_op_status(be, "g2-z", 0, &on, dl(2000)), -EHOSTDOWN);
    pthread_mutex_lock(&be->lock);
    VFT_EQ_INT(be->n_owners, 0);
    VFT_EQ_INT(be->n_lost, 1);
    VFT_EQ_INT(be->lost[0].nodeid, PEER_NODE);
    VFT_EQ_STR(be->lost[0].uuid, U_WEB2);
    pthread_mutex_unlock(&be->lock);
}

struct bg_fence {
    int delay_ms;
    time_t completed;
};

static void *
bg_fence_later(void *arg)
{
    struct bg_fence *f = arg;

    vf_sleep_ms(f->delay_ms);
    ff_set(1, 0, f->completed);
    return NULL;
}

/*
 * Issue 10 item 3: the peer left with g2-z ("owner lost at T").  Only a
 * fencing of node 2 recorded at or after T makes it off; until then the
 * request waits within its deadline and fails; no quorum, no fencer or
 * fence_history = none: failure, never success.
 */
static void
test_host_loss(void)
{
    struct vf_domain_info info;
    struct ct_list o;
    struct bg_fence bf;
    pthread_t t;
    time_t lost_at;
    int64_t t0, ms;
    bool on = true;
    size_t i;
    int calls;

    pthread_mutex_lock(&be->lock);
    lost_at = be->n_lost > 0 ? be->lost[0].lost_at : 0;
    pthread_mutex_unlock(&be->lock);
    VFT_CHECK(lost_at != 0);
    cpg_set_fencer(be, &fake_fencer);

    /* not fenced (yet): waits until the deadline, asking again, then fails */
    ff_set(1, 0, 0);
    calls = ff_calls;
    t0 = vf_now_ms();
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(2500)), -ETIMEDOUT);
    ms = vf_now_ms() - t0;
    VFT_CHECK(ms >= 1000 && ms < 2500);
    VFT_CHECK(ff_calls >= calls + 2);
    VFT_EQ_INT(ff_last_node, PEER_NODE);
    VFT_EQ_INT(cpg_op_status(be, U_WEB2, VF_BE_BY_UUID, &on, dl(500)), -ETIMEDOUT);
    VFT_EQ_INT(cpg_op_reboot(be, "g2-z", 0, dl(500)), -ETIMEDOUT);
    /* a fencing before the host left does not count */
    ff_set(1, 0, lost_at - 60);
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(500)), -ETIMEDOUT);
    /* fenced, but no quorum / no fencer reachable: failure */
    ff_set(0, 0, lost_at + 1);
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(500)), -EHOSTDOWN);
    ff_set(-ENOTCONN, 0, lost_at + 1);
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(500)), -EHOSTDOWN);
    ff_set(1, -EHOSTDOWN, lost_at + 1);
    VFT_EQ_INT(cpg_op_status(be, "g2-z", 0, &on, dl(500)), -EHOSTDOWN);
    cpg_set_fencer(be, NULL);
    ff_set(1, 0, lost_at + 1);
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(500)), -EHOSTDOWN);
    cpg_set_fencer(be, &fake_fencer);
    /* fence_history = none: never off, and no waiting */
    pthread_mutex_lock(&be->lock);
    be->fence_history = CPG_FH_NONE;
    pthread_mutex_unlock(&be->lock);
    t0 = vf_now_ms();
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(3000)), -EHOSTDOWN);
    VFT_CHECK(vf_now_ms() - t0 < 500);
    pthread_mutex_lock(&be->lock);
    be->fence_history = CPG_FH_PACEMAKER;
    pthread_mutex_unlock(&be->lock);

    /* fenced after it left: off, status OFF, reboot as off; on cannot start it */
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(2000)), 0);
    on = true;
    VFT_EQ_INT(cpg_op_status(be, "g2-z", 0, &on, dl(2000)), 0);
    VFT_CHECK(!on);
    VFT_EQ_INT(cpg_op_reboot(be, U_WEB2, 0, dl(2000)), 0);
    VFT_EQ_INT(cpg_op_on(be, "g2-z", 0, dl(2000)), -EHOSTDOWN);
    VFT_EQ_INT(cpg_op_lookup(be, "g2-z", 0, &info, dl(2000)), 0);
    VFT_EQ_STR(info.uuid, U_WEB2);
    memset(&o, 0, sizeof(o));
    VFT_EQ_INT(cpg_op_list(be, ct_list_cb, &o, dl(2000)), 0);
    for (i = 0; i < o.n && strcmp(o.names[i], "g2-z") != 0; i++) {
    }
    VFT_CHECK(i < o.n); /* still offered to dynamic lists */

    /* the fencing is recorded while the request waits: it completes then */
    ff_set(1, 0, 0);
    bf.delay_ms = 300;
    bf.completed = lost_at + 2;
    VFT_EQ_INT(pthread_create(&t, NULL, bg_fence_later, &bf), 0);
    t0 = vf_now_ms();
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(5000)), 0);
    VFT_CHECK(vf_now_ms() - t0 < 2500);
    pthread_join(t, NULL);
}

/*
 * A request that waited for the host cluster's fencer until its deadline
 * fails as "not fenced (yet)" (-ETIMEDOUT), never as "fencer unreachable":
 * no question is asked with less time left than the fencer needs (found by
 * tests/cluster/cl-cpg-hostkill.sh: the last question, cut short by the
 * deadline, turned the failure into "the host cluster's fencer cannot be
 * asked about node 2 (Connection timed out)").
 */
static void
test_host_loss_wait_reason(void)
{
    int64_t t0, ms;
    bool on = true;

    cpg_set_fencer(be, &fake_fencer);
    ff_set(1, 0, 0);
    pthread_mutex_lock(&ff_lock);
    ff_whole_seconds = true;
    pthread_mutex_unlock(&ff_lock);
    t0 = vf_now_ms();
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(2500)), -ETIMEDOUT);
    ms = vf_now_ms() - t0;
    VFT_CHECK(ms >= 1000 && ms < 2500);
    VFT_EQ_INT(cpg_op_status(be, "g2-z", 0, &on, dl(3700)), -ETIMEDOUT);
    pthread_mutex_lock(&ff_lock);
    ff_whole_seconds = false;
    pthread_mutex_unlock(&ff_lock);
}

static void
test_unannounced_member(void)
{
    /* the peer is back but has not announced anything yet */
    fq_confchg(true, false, false);
    VFT_CHECK(ct_wait_owners(be, 1));
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(2000)), -EHOSTDOWN);
}

/* Issue 10 item 4: the lost host rejoins and announces: its lost entries
 * disappear and its domains are routed to it again. */
static void
test_rejoin(void)
{
    struct vf_cpgw_dom d;

    mkdom(&d, "g2-z", U_WEB2, VF_STATE_RUNNING);
    peer_announce(&d, 1, 1500);
    VFT_CHECK(ct_wait_gen(be, 1500));
    pthread_mutex_lock(&be->lock);
    VFT_EQ_INT(be->n_lost, 0);
    pthread_mutex_unlock(&be->lock);
    peer_mode = PEER_ANSWER;
    peer_result = 0;
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(3000)), 0);
    VFT_EQ_INT(peer_last.op, VF_CMD_OFF);
    VFT_EQ_STR(peer_last.target, U_WEB2);
}

static void
test_lost_corosync(void)
{
    bool on = false, failed = false;
    int inits, i;

    pthread_mutex_lock(&fq_lock);
    f_fail_init = true;
    f_fail_dispatch = true;
    inits = f_inits;
    pthread_mutex_unlock(&fq_lock);
    fq_confchg(true, false, false); /* makes the fd readable */
    VFT_CHECK(ct_wait_monitor(be, -EHOSTDOWN));
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(2000)), -EHOSTDOWN);
    VFT_EQ_INT(cpg_op_list(be, ct_list_cb, &(struct ct_list){ .n = 0 }, dl(2000)), -EHOSTDOWN);
    /* at least one reconnect attempt failed; then corosync is back and the
     * CPG thread reconnects by itself */
    for (i = 0; i < 300; i++) {
        pthread_mutex_lock(&fq_lock);
        failed = f_inits > inits;
        pthread_mutex_unlock(&fq_lock);
        if (failed) {
            break;
        }
        vf_sleep_ms(10);
    }
    VFT_CHECK(failed);
    pthread_mutex_lock(&fq_lock);
    f_fail_init = false;
    pthread_mutex_unlock(&fq_lock);
    VFT_CHECK(ct_wait_monitor(be, 0));
    pthread_mutex_lock(&fq_lock);
    VFT_CHECK(f_inits > inits + 1);
    pthread_mutex_unlock(&fq_lock);
    /* the peer is a member again but has not announced: h1-a is off here,
     * and nobody knows about the peer, so OFF cannot be claimed (R3) */
    fl_set("h1-a", 0, VF_STATE_SHUTOFF, NULL);
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(2000)), -EHOSTDOWN);
    {
        struct vf_cpgw_dom d;

        mkdom(&d, "g2-z", U_WEB2, VF_STATE_RUNNING);
        peer_announce(&d, 1, 2000);
        VFT_CHECK(ct_wait_gen(be, 2000));
    }
    on = true;
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(2000)), 0);
    VFT_CHECK(!on);
    /* libvirt down: monitor fails */
    fl_down = true;
    VFT_EQ_INT(cpg_op_monitor(be, dl(1000)), -EHOSTDOWN);
    fl_down = false;
}

int
main(void)
{
    if (ct_begin("test-cpg-hostloss") < 0) {
        return 1;
    }
    VFT_EQ_INT(ct_start(CT_CONF_TEXT, &be), 0);
    VFT_CHECK(be != NULL);
    if (be == NULL) {
        return 1;
    }
    VFT_RUN(test_peer_announced);
    VFT_RUN(test_timeout_and_leave);
    VFT_RUN(test_host_loss_wait_reason);
    VFT_RUN(test_host_loss);
    VFT_RUN(test_unannounced_member);
    VFT_RUN(test_rejoin);
    VFT_RUN(test_lost_corosync);
    cpg_fini(be);
    fq_teardown();
    VFT_EXIT();
}
