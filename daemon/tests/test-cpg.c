/*
 * vmfence - daemon/tests/test-cpg.c: unit tests of the cpg backend
 * (daemon/backends/cpg*.c, linked; internals through backends/cpg-int.h):
 * configuration, joining the group, this host's broadcasts, the other
 * members' lists and routing to them, local operations, names that are
 * unknown, ambiguous or on two hosts, "off" that must be confirmed live,
 * served requests, reload, the reference-daemon watch and libvirt events.
 * A host that leaves the group is test-cpg-hostloss.c.
 *
 * libcpg, libvirt and the host cluster's fencer are FAKED (cpg-fakes.h says
 * how and why); the real two-node test with corosync is
 * tests/interop/cpg-cluster.sh.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpg-fakes.h"
#include "vftest.h"

static struct cpg_be *be;

/* @text parsed as "t.conf" (checked); NULL when it did not parse */
static struct vf_conf *
conf_of(const char *text)
{
    struct vf_conf *conf = NULL;
    char err[512] = "";

    VFT_EQ_INT(vf_conf_parse_buffer("t.conf", text, strlen(text), &conf, err, sizeof(err)), 0);
    return conf;
}

/* ct_start() of the usual configuration into be (checked); whether it started */
static bool
start_be(void)
{
    VFT_EQ_INT(ct_start(CT_CONF_TEXT, &be), 0);
    VFT_CHECK(be != NULL);
    return be != NULL;
}

/* cpg_op_status() of @target (by name) here, within 2 s: 1 on, 0 off, or -errno */
static int
power_of(const char *target)
{
    bool on = false;
    int r = cpg_op_status(be, target, 0, &on, dl(2000));

    return r < 0 ? r : on;
}

static void
test_join_and_config(void)
{
    VFT_CHECK(ct_wait_monitor(be, 0));
    VFT_EQ_STR(fl_uri, "test:///fake");
    VFT_EQ_STR(be->group, "t-grp");
    VFT_EQ_INT(be->reply_timeout_ms, 1000);
    VFT_CHECK(!be->uuid_mode);
    VFT_EQ_INT(be->my_pid, f_mypid);
}

static void
test_bad_config(void)
{
    static const char *const bad[] = {
        "backends { cpg { name_mode = \"label\"; } }\n",
        "backends { cpg { reply_timeout = \"0\"; } }\n",
        "backends { cpg { reply_timeout = \"x\"; } }\n",
        "backends { cpg { fence_history = \"maybe\"; } }\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vf_conf *conf = conf_of(bad[i]);
        char err[512] = "";
        void *priv = NULL;

        VFT_CHECK(cpg_init(&fake_host, conf, &priv, err, sizeof(err)) < 0);
        VFT_CHECK(strstr(err, "t.conf:1") != NULL);
        vf_conf_free(conf);
    }
}

/* this host announces its two domains */
static void
test_local_broadcast(void)
{
    VFT_CHECK(ct_wait_state_n(2, 3000));
}

static void
test_remote_routing(void)
{
    struct vf_cpgw_dom d[2];
    struct vf_domain_info info;
    bool on = false;

    mkdom(&d[0], "g2-a", U_G2A, VF_STATE_RUNNING);
    mkdom(&d[1], "web", U_WEB2, VF_STATE_RUNNING);
    peer_announce(d, 2, 1);
    VFT_CHECK(ct_wait_known(be, "g2-a", true));

    VFT_EQ_INT(cpg_op_lookup(be, "g2-a", 0, &info, dl(2000)), 0);
    VFT_EQ_STR(info.uuid, U_G2A);
    peer_mode = PEER_ANSWER;
    peer_result = 0;
    peer_on = true;
    VFT_EQ_INT(cpg_op_status(be, "g2-a", 0, &on, dl(5000)), 0);
    VFT_CHECK(on);
    /* routed by the resolved UUID, with a timeout below reply_timeout */
    VFT_EQ_STR(peer_last.target, U_G2A);
    VFT_EQ_INT(peer_last.flags, VF_CPGW_REQ_BY_UUID);
    VFT_EQ_INT(peer_last.op, VF_CMD_STATUS);
    VFT_CHECK(peer_last.timeout_ms > 0 && peer_last.timeout_ms < 1000);
    peer_on = false;
    VFT_EQ_INT(cpg_op_status(be, U_G2A, VF_BE_BY_UUID, &on, dl(5000)), 0);
    VFT_CHECK(!on);
    VFT_EQ_INT(cpg_op_off(be, "g2-a", 0, dl(5000)), 0);
    VFT_EQ_INT(peer_last.op, VF_CMD_OFF);
    VFT_EQ_INT(cpg_op_reboot(be, "g2-a", 0, dl(5000)), 0);
    VFT_EQ_INT(peer_last.op, VF_CMD_REBOOT);
    peer_result = -ENOENT; /* the owner no longer has it */
    VFT_EQ_INT(cpg_op_off(be, "g2-a", 0, dl(5000)), -ENOENT);
    peer_result = 0;
    /* a short request deadline bounds the wait too */
    peer_mode = PEER_SILENT;
    VFT_EQ_INT(cpg_op_off(be, "g2-a", 0, dl(200)), -ETIMEDOUT);
    peer_mode = PEER_ANSWER;
}

static void
test_local_ops(void)
{
    VFT_EQ_INT(power_of("h1-a"), 1);
    VFT_EQ_INT(cpg_op_off(be, "h1-a", 0, dl(2000)), 0);
    VFT_EQ_INT(power_of("h1-a"), 0);
    VFT_EQ_INT(cpg_op_on(be, U_H1A, 0, dl(2000)), 0);
    VFT_EQ_INT(power_of("h1-a"), 1);
}

static void
test_unknown_never_success(void)
{
    struct vf_domain_info info;
    int before = peer_requests;

    VFT_EQ_INT(cpg_op_lookup(be, "no-such", 0, &info, dl(2000)), -ENOENT);
    VFT_EQ_INT(power_of("no-such"), -ENOENT);
    VFT_EQ_INT(cpg_op_off(be, "no-such", 0, dl(2000)), -ENOENT);
    VFT_EQ_INT(cpg_op_reboot(be, "no-such", 0, dl(2000)), -ENOENT);
    VFT_EQ_INT(cpg_op_on(be, U_NONE, 0, dl(2000)), -ENOENT);
    VFT_EQ_INT(cpg_op_off(be, "", 0, dl(2000)), -ENOENT);
    VFT_EQ_INT(peer_requests, before); /* nobody was asked */
    /* local libvirt down and the name unknown elsewhere: cannot tell */
    fl_down = true;
    VFT_EQ_INT(cpg_op_off(be, "no-such", 0, dl(2000)), -EHOSTDOWN);
    fl_down = false;
}

static void
test_ambiguous_name(void)
{
    bool on = false;

    /* "web" is U_WEB1 here and U_WEB2 on the peer: refused, the UUID works */
    VFT_EQ_INT(cpg_op_off(be, "web", 0, dl(2000)), -ENOTUNIQ);
    VFT_EQ_INT(cpg_op_status(be, U_WEB2, 0, &on, dl(5000)), 0);
    VFT_EQ_STR(peer_last.target, U_WEB2);
}

static void
test_list(void)
{
    struct ct_list o;

    memset(&o, 0, sizeof(o));
    VFT_EQ_INT(cpg_op_list(be, ct_list_cb, &o, dl(2000)), 0);
    VFT_EQ_INT(o.n, 4);
    VFT_EQ_STR(o.names[0], "g2-a");
    VFT_EQ_STR(o.names[1], "h1-a");
    VFT_EQ_STR(o.names[2], "web");
    VFT_EQ_STR(o.names[3], "web");
    VFT_CHECK(strcmp(o.uuids[2], o.uuids[3]) != 0);
}

static void
test_same_uuid_on_two_hosts(void)
{
    struct vf_cpgw_dom d[2];
    struct ct_list o;
    int offs = fl_offs, reqs = peer_requests;

    /* the peer now also defines h1-a (same UUID, running there) */
    mkdom(&d[0], "g2-a", U_G2A, VF_STATE_RUNNING);
    mkdom(&d[1], "h1-a", U_H1A, VF_STATE_RUNNING);
    peer_announce(d, 2, 2);
    VFT_CHECK(ct_wait_known(be, U_WEB2, false)); /* "web" left the peer's list */
    memset(&o, 0, sizeof(o));
    VFT_EQ_INT(cpg_op_list(be, ct_list_cb, &o, dl(2000)), 0);
    VFT_EQ_INT(o.n, 3); /* g2-a, h1-a once, web */
    /* off powers off every copy */
    VFT_EQ_INT(cpg_op_off(be, "h1-a", 0, dl(5000)), 0);
    VFT_EQ_INT(fl_offs, offs + 1);
    VFT_EQ_INT(peer_requests, reqs + 1);
    VFT_EQ_INT(peer_last.op, VF_CMD_OFF);
    /* one copy failing makes off fail */
    peer_result = -EIO;
    VFT_EQ_INT(cpg_op_off(be, "h1-a", 0, dl(5000)), -EIO);
    peer_result = 0;
    VFT_EQ_INT(cpg_op_on(be, "h1-a", 0, dl(5000)), 0);
}

/*
 * Local libvirt down (R3 review): h1-a is RUNNING here (shared definition,
 * also defined shut off on the peer).  This host cannot ask its own
 * libvirt, and its last list had h1-a, so the peer's "off" must not become
 * status OFF nor an off success (before the fix: OFF / success while the
 * local copy kept running).  Killing the peer's running copy is not a
 * success either (issue 13; before: success, with the local copy still
 * running).  A domain this host never had is still routed.
 */
static void
test_local_down_never_off(void)
{
    struct vf_cpgw_dom d[2];
    bool on = true;
    int reqs;

    mkdom(&d[0], "g2-a", U_G2A, VF_STATE_RUNNING);
    mkdom(&d[1], "h1-a", U_H1A, VF_STATE_SHUTOFF);
    peer_announce(d, 2, 77);
    VFT_CHECK(ct_wait_gen(be, 77));
    fl_set("h1-a", 0, VF_STATE_RUNNING, NULL);
    peer_mode = PEER_ANSWER;
    peer_result = 0;
    peer_on = false; /* the peer's copy is off */
    fl_down = true;
    VFT_EQ_INT(cpg_op_status(be, U_H1A, 0, &on, dl(5000)), -EHOSTDOWN);
    VFT_EQ_INT(cpg_op_off(be, "h1-a", 0, dl(5000)), -EHOSTDOWN);
    VFT_EQ_INT(cpg_op_reboot(be, "h1-a", 0, dl(5000)), -EHOSTDOWN);
    VFT_EQ_INT(cpg_op_on(be, "h1-a", 0, dl(5000)), -EHOSTDOWN);
    /* the peer's copy running: off kills it, but the local copy may run */
    peer_on = true;
    reqs = peer_requests;
    VFT_EQ_INT(cpg_op_off(be, "h1-a", 0, dl(5000)), -EHOSTDOWN);
    VFT_EQ_INT(peer_requests, reqs + 1);
    VFT_EQ_INT(peer_last.op, VF_CMD_OFF);
    /* g2-a never was here: routed to the peer as usual */
    peer_on = false;
    reqs = peer_requests;
    VFT_EQ_INT(cpg_op_status(be, "g2-a", 0, &on, dl(5000)), 0);
    VFT_CHECK(!on);
    VFT_EQ_INT(peer_requests, reqs + 1);
    fl_down = false;
    peer_on = true;
}

/*
 * Issue 13: the peer's announced list is stale.  h1-a is shut off here
 * (its persistent definition), and it RUNS on the peer, which has not
 * announced it yet (migrated there less than a list refresh ago).  The
 * lists only say where to ask: before claiming OFF, every other member is
 * asked live.  Before the fix: status OFF, off "already off" = success
 * without touching the running copy, on started a second copy here.
 */
static void
test_stale_off_not_trusted(void)
{
    struct vf_cpgw_dom d;
    bool on = false;
    int reqs, offs;

    mkdom(&d, "g2-a", U_G2A, VF_STATE_RUNNING);
    peer_announce(&d, 1, 90); /* the peer's list: no h1-a */
    VFT_CHECK(ct_wait_gen(be, 90));
    fl_down = false;
    fl_set("h1-a", 0, VF_STATE_SHUTOFF, NULL);
    peer_mode = PEER_ANSWER;
    peer_result = 0;
    pthread_mutex_lock(&fq_lock);
    mkdom(&peer_hidden, "h1-a", U_H1A, VF_STATE_RUNNING);
    peer_hidden_reqs = 0;
    pthread_mutex_unlock(&fq_lock);

    /* status: the live answer of the peer wins over its list */
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(5000)), 0);
    VFT_CHECK(on);
    VFT_EQ_STR(peer_last.target, U_H1A);
    VFT_EQ_INT(peer_last.flags, VF_CPGW_REQ_BY_UUID);
    /* on: it runs there, so nothing is started here */
    VFT_EQ_INT(cpg_op_on(be, "h1-a", 0, dl(5000)), 0);
    VFT_EQ_INT(fdoms[0].state, VF_STATE_SHUTOFF);
    /* off: the copy on the peer is powered off, then off is true */
    offs = fl_offs;
    VFT_EQ_INT(cpg_op_off(be, "h1-a", 0, dl(5000)), 0);
    pthread_mutex_lock(&fq_lock);
    VFT_EQ_INT(peer_hidden.state, VF_STATE_SHUTOFF);
    pthread_mutex_unlock(&fq_lock);
    VFT_EQ_INT(fl_offs, offs + 1); /* the local copy was asked too */
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(5000)), 0);
    VFT_CHECK(!on); /* confirmed live everywhere */

    /* the peer cannot confirm: never OFF, never an off success */
    peer_mode = PEER_SILENT;
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(5000)), -ETIMEDOUT);
    VFT_EQ_INT(cpg_op_off(be, "h1-a", 0, dl(5000)), -ETIMEDOUT);
    VFT_EQ_INT(cpg_op_reboot(be, "h1-a", 0, dl(5000)), -ETIMEDOUT);
    VFT_EQ_INT(cpg_op_on(be, "h1-a", 0, dl(5000)), -ETIMEDOUT);
    VFT_EQ_INT(fdoms[0].state, VF_STATE_SHUTOFF); /* not started */
    /* bounded by the request deadline, not only by reply_timeout */
    {
        int64_t t0 = vf_now_ms();

        VFT_EQ_INT(cpg_op_off(be, "h1-a", 0, dl(300)), -ETIMEDOUT);
        VFT_CHECK(vf_now_ms() - t0 < 900);
    }
    peer_mode = PEER_ANSWER;

    /* reboot with the copy running on the peer: one copy remains */
    pthread_mutex_lock(&fq_lock);
    peer_hidden.state = VF_STATE_RUNNING;
    pthread_mutex_unlock(&fq_lock);
    reqs = peer_requests;
    VFT_EQ_INT(cpg_op_reboot(be, "h1-a", 0, dl(5000)), 0);
    VFT_CHECK(peer_requests > reqs);
    pthread_mutex_lock(&fq_lock);
    VFT_CHECK(peer_hidden.state == VF_STATE_RUNNING || fdoms[0].state == VF_STATE_RUNNING);
    VFT_CHECK(peer_hidden.state != VF_STATE_RUNNING || fdoms[0].state == VF_STATE_SHUTOFF);
    memset(&peer_hidden, 0, sizeof(peer_hidden));
    pthread_mutex_unlock(&fq_lock);
    /* not on the peer at all (its libvirt says "no such domain"): off is certain */
    VFT_EQ_INT(cpg_op_off(be, "h1-a", 0, dl(5000)), 0);
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(5000)), 0);
    VFT_CHECK(!on);
    fl_set("h1-a", 0, VF_STATE_RUNNING, NULL);
}

/*
 * A REQUEST from another member asking for a 600 s timeout (R3 review):
 * the local operation is bounded by 60 s, so fini never waits 10 minutes
 * for a serving thread (before the fix: deadline = now + 600 s).
 */
static void
test_served_deadline_capped(void)
{
    struct vf_cpgw_request rq;
    uint8_t buf[512];
    size_t len = 0;
    int64_t got = 0;
    int i;

    memset(&rq, 0, sizeof(rq));
    rq.id = 4242;
    rq.nodeid = 1;
    pthread_mutex_lock(&be->lock);
    rq.pid = be->my_pid;
    pthread_mutex_unlock(&be->lock);
    rq.op = VF_CMD_STATUS;
    rq.flags = VF_CPGW_REQ_BY_UUID;
    rq.timeout_ms = VF_CPGW_MAX_TIMEOUT_MS;
    snprintf(rq.target, sizeof(rq.target), "%s", U_H1A);
    pthread_mutex_lock(&fl_lock);
    fl_status_deadline = 0;
    pthread_mutex_unlock(&fl_lock);
    VFT_EQ_INT(vf_cpgw_encode_request(&rq, buf, sizeof(buf), &len), 0);
    fq_deliver(PEER_NODE, PEER_PID, buf, len);
    for (i = 0; i < 300 && got == 0; i++) {
        pthread_mutex_lock(&fl_lock);
        got = fl_status_deadline;
        pthread_mutex_unlock(&fl_lock);
        if (got == 0) {
            vf_sleep_ms(10);
        }
    }
    VFT_CHECK(got != 0);
    VFT_CHECK(got - vf_now_ms() <= 61000);
}

static void
test_stale_entries_replaced(void)
{
    struct vf_cpgw_dom d;
    size_t i;

    /* 500 broadcasts: the peer's entry is replaced, nothing accumulates (D8) */
    for (i = 0; i < 500; i++) {
        mkdom(&d, "g2-a", U_G2A, (i % 2) != 0 ? VF_STATE_RUNNING : VF_STATE_SHUTOFF);
        peer_announce(&d, 1, (uint32_t)(10 + i));
    }
    mkdom(&d, "g2-z", U_WEB2, VF_STATE_RUNNING);
    peer_announce(&d, 1, 1000);
    VFT_CHECK(ct_wait_known(be, "g2-z", true));
    VFT_CHECK(ct_wait_known(be, "g2-a", false)); /* gone with the new list (D9) */
    pthread_mutex_lock(&be->lock);
    VFT_EQ_INT(be->n_owners, 1);
    VFT_EQ_INT(be->owners[0].n_doms, 1);
    pthread_mutex_unlock(&be->lock);
    /* garbage from the peer is dropped */
    fq_deliver(PEER_NODE, PEER_PID, (const uint8_t *)"garbage!garbage!", 16);
    VFT_CHECK(ct_wait_known(be, "g2-z", true));
}

static void
test_uuid_mode_reload(void)
{
    static const char *const t1 = "backends { cpg { uri = \"test:///fake\"; reply_timeout = \"2\"; "
                                  "group = \"t-grp\"; name_mode = \"uuid\"; } }\n";
    static const char *const t2 = "backends { cpg { group = \"other\"; } }\n";
    struct vf_conf *conf = NULL;
    char err[512];
    bool on = false;

    conf = conf_of(t1);
    VFT_EQ_INT(cpg_reload(be, conf, err, sizeof(err)), 0);
    vf_conf_free(conf);
    VFT_CHECK(be->uuid_mode);
    VFT_EQ_INT(be->reply_timeout_ms, 2000);
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(2000)), -ENOENT);
    VFT_EQ_INT(cpg_op_status(be, U_H1A, 0, &on, dl(2000)), 0);
    conf = conf_of(t2);
    err[0] = '\0';
    VFT_EQ_INT(cpg_reload(be, conf, err, sizeof(err)), -EINVAL);
    VFT_CHECK(strstr(err, "restart") != NULL);
    vf_conf_free(conf);
}

/* Issue 10 item 2: two hosts claiming one domain pick the same copy, in any order */
static void
test_primary_deterministic(void)
{
    static const size_t perms[][3] = { { 0, 1, 2 }, { 2, 1, 0 }, { 1, 2, 0 }, { 2, 0, 1 } };
    struct cpg_route rt;
    size_t p, i;

    for (p = 0; p < sizeof(perms) / sizeof(perms[0]); p++) {
        memset(&rt, 0, sizeof(rt));
        for (i = 0; i < 3; i++) {
            struct cpg_cand *c = &rt.c[perms[p][i]];

            c->nodeid = (uint32_t)(3 - i); /* nodes 3, 2, 1 */
            c->pid = 100;
            c->info.state = i == 2 ? VF_STATE_SHUTOFF : VF_STATE_RUNNING;
        }
        rt.n = 3;
        VFT_EQ_INT(cpg_primary(&rt)->nodeid, 2); /* lowest running, not node 1 (off) */
    }
    for (i = 0; i < 3; i++) {
        rt.c[i].info.state = VF_STATE_RUNNING; /* all running: the lowest node */
    }
    VFT_EQ_INT(cpg_primary(&rt)->nodeid, 1);
}

/* Issue 10 item 5: a fence-virt daemon in its own group (listed, not joined),
 * and one that sends its raw messages into ours, are detected */
static void
test_reference_detected(void)
{
    uint8_t ref[156];

    VFT_CHECK(ct_wait_ref_seen(be, 1));
    pthread_mutex_lock(&be->lock);
    VFT_EQ_INT(be->ref_seen[0], 7);
    pthread_mutex_unlock(&be->lock);
    memset(ref, 0, sizeof(ref)); /* type 0 = REQUEST, host order */
    snprintf((char *)ref + 16, 128, "some-vm");
    fq_deliver(3, 333, ref, sizeof(ref));
    VFT_CHECK(ct_wait_ref_seen(be, 2));
    pthread_mutex_lock(&be->lock);
    VFT_EQ_INT(be->ref_seen[1], 3);
    pthread_mutex_unlock(&be->lock);
}

/*
 * Issue 10 item 1: with libvirt lifecycle events, a change is announced at
 * once (well within a second) and requests cause no listing at all.
 */
static void
test_events(void)
{
    bool on = false;
    int64_t t0;
    int lists, states, i;

    struct vf_cpgw_dom d;

    VFT_CHECK(ct_wait_state_n(2, 3000)); /* the first announcement (listing) */
    pthread_mutex_lock(&be->lock);
    VFT_CHECK(be->watching);
    pthread_mutex_unlock(&be->lock);
    mkdom(&d, "g2-a", U_G2A, VF_STATE_RUNNING);
    peer_announce(&d, 1, 5);
    VFT_CHECK(ct_wait_gen(be, 5));
    fl_set("h1-a", 0, VF_STATE_RUNNING, NULL);
    pthread_mutex_lock(&fl_lock);
    lists = fl_lists;
    pthread_mutex_unlock(&fl_lock);
    /* a domain defined and started here */
    t0 = vf_now_ms();
    fl_event("ev-1", U_NONE, VF_STATE_RUNNING, false);
    VFT_CHECK(ct_wait_state_n(3, 1000));
    VFT_CHECK(vf_now_ms() - t0 < 1000);
    /* no refresh storm: requests do not list */
    for (i = 0; i < 20; i++) {
        VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(2000)), 0);
    }
    /* a state change that is no change is not announced again */
    pthread_mutex_lock(&fq_lock);
    states = f_states_sent;
    pthread_mutex_unlock(&fq_lock);
    fl_event("ev-1", U_NONE, VF_STATE_RUNNING, false);
    vf_sleep_ms(300);
    pthread_mutex_lock(&fq_lock);
    VFT_EQ_INT(f_states_sent, states);
    pthread_mutex_unlock(&fq_lock);
    /* migrated away (gone here): announced at once too */
    t0 = vf_now_ms();
    fl_event("ev-1", U_NONE, VF_STATE_SHUTOFF, true);
    VFT_CHECK(ct_wait_state_n(2, 1000));
    VFT_CHECK(vf_now_ms() - t0 < 1000);
    pthread_mutex_lock(&fl_lock);
    VFT_EQ_INT(fl_lists, lists);
    pthread_mutex_unlock(&fl_lock);
    /* a resync after a membership change comes from the table, not a listing */
    pthread_mutex_lock(&fq_lock);
    states = f_states_sent;
    pthread_mutex_unlock(&fq_lock);
    fq_confchg(true, false, false);
    for (i = 0; i < 100; i++) {
        pthread_mutex_lock(&fq_lock);
        bool more = f_states_sent > states;
        pthread_mutex_unlock(&fq_lock);
        if (more) {
            break;
        }
        vf_sleep_ms(10);
    }
    VFT_CHECK(i < 100);
    pthread_mutex_lock(&fl_lock);
    VFT_EQ_INT(fl_lists, lists);
    pthread_mutex_unlock(&fl_lock);
}

int
main(void)
{
    if (ct_begin("test-cpg") < 0) {
        return 1;
    }
    f_ref_node = 7; /* a fence-virt daemon in "fence-agents" */
    VFT_RUN(test_bad_config);
    if (!start_be()) {
        return 1;
    }
    VFT_RUN(test_join_and_config);
    VFT_RUN(test_local_broadcast);
    VFT_RUN(test_remote_routing);
    VFT_RUN(test_local_ops);
    VFT_RUN(test_unknown_never_success);
    VFT_RUN(test_ambiguous_name);
    VFT_RUN(test_list);
    VFT_RUN(test_same_uuid_on_two_hosts);
    VFT_RUN(test_local_down_never_off);
    VFT_RUN(test_stale_off_not_trusted);
    VFT_RUN(test_served_deadline_capped);
    VFT_RUN(test_stale_entries_replaced);
    VFT_RUN(test_uuid_mode_reload);
    VFT_RUN(test_primary_deterministic);
    VFT_RUN(test_reference_detected);
    cpg_fini(be);
    /* the same backend over a libvirt backend with lifecycle events */
    fl_with_watch = true;
    pthread_mutex_lock(&fq_lock);
    f_states_sent = 0;
    pthread_mutex_unlock(&fq_lock);
    if (!start_be()) {
        return 1;
    }
    VFT_RUN(test_events);
    cpg_fini(be);
    VFT_EQ_INT(fl_unwatches, 1);
    fq_teardown();
    VFT_EXIT();
}
