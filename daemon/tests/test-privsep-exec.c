/*
 * vmfence - daemon/tests/test-privsep-exec.c: the proxy backend against the
 * executor over a real socketpair, with a FAKE backend (three domains in
 * memory, no libvirt: the executor's real backends need a hypervisor).
 * The message formats alone are tested in test-privsep-msg.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conftree.h"
#include "groups.h"
#include "io.h"
#include "log.h"
#include "pipeline.h"
#include "privsep/msg.h"
#include "privsep/privsep.h"
#include "request.h"
#include "statstamp.h"
#include "vftest.h"

/* ---- fake backend ---------------------------------------------------------- */

static const struct vf_domain_info fake_doms[] = {
    { "vm1", "11111111-1111-1111-1111-111111111111", VF_STATE_RUNNING, true },
    { "vm2", "22222222-2222-2222-2222-222222222222", VF_STATE_SHUTOFF, true },
    { "vm3", "33333333-3333-3333-3333-333333333333", VF_STATE_RUNNING, false },
};
static int fake_offs;

static const struct vf_domain_info *
fake_find(const char *t)
{
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(fake_doms[i].name, t) == 0 || strcasecmp(fake_doms[i].uuid, t) == 0) {
            return &fake_doms[i];
        }
    }
    return NULL;
}

static int
fk_lookup(void *p, const char *t, unsigned int f, struct vf_domain_info *ret, int64_t d)
{
    const struct vf_domain_info *dom = fake_find(t);

    (void)p; (void)f; (void)d;
    if (dom == NULL) {
        return -ENOENT;
    }
    *ret = *dom;
    return 0;
}

static int
fk_off(void *p, const char *t, unsigned int f, int64_t d)
{
    (void)p; (void)f; (void)d;
    if (strcmp(t, "slow") == 0) {
        while (vf_now_ms() < d + 1000) {
            usleep(10000);      /* a backend that overruns its deadline */
        }
        return 0;
    }
    if (fake_find(t) == NULL) {
        return -ENOENT;
    }
    __atomic_add_fetch(&fake_offs, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static int
fk_on(void *p, const char *t, unsigned int f, int64_t d)
{
    (void)p; (void)f; (void)d;
    return fake_find(t) != NULL ? 0 : -ENOENT;
}

static int
fk_reboot(void *p, const char *t, unsigned int f, int64_t d)
{
    (void)p; (void)f; (void)d;
    (void)t;
    return 1;                   /* not the ABI: must never become success */
}

static int
fk_status(void *p, const char *t, unsigned int f, bool *on, int64_t d)
{
    struct vf_domain_info dom;
    int r = 0;

    if ((f & VF_BE_NOWAIT) != 0) {
        return -EINVAL;         /* no VF_BC_STATUS_NOWAIT here: never asked that way */
    }
    r = fk_lookup(p, t, f, &dom, d);
    if (r == 0) {
        *on = dom.state == VF_STATE_RUNNING;
    }
    return r;
}

static int
fk_list(void *p, vf_domain_cb cb, void *arg, int64_t d)
{
    (void)p; (void)d;
    for (size_t i = 0; i < 3; i++) {
        int r = cb(arg, &fake_doms[i]);

        if (r < 0) {
            return r;
        }
    }
    return 0;
}

static int
fk_init(const struct vf_host_api *h, const struct vf_conf *c, void **ret, char *e, size_t l)
{
    (void)h; (void)c; (void)e; (void)l;
    *ret = NULL;
    return 0;
}

static void
fk_fini(void *p)
{
    (void)p;
}

static const struct vf_backend_ops fake_ops = {
    .name = "fake", .version = "1", .init = fk_init, .fini = fk_fini, .lookup = fk_lookup,
    .off = fk_off, .on = fk_on, .reboot = fk_reboot, .status = fk_status, .list = fk_list,
};


/* ---- fixtures: the proxy and the executor ------------------------------------ */

static struct vf_ps_exec *ex;
static struct vf_ps_proxy *px;
static const struct vf_backend_ops *pair_ops = &fake_ops;     /* pair_up()'s backend */

static int
pair_up(const char *conf_text)
{
    struct vf_conf *conf = NULL;
    struct vf_groups *g = NULL;
    struct vf_backend_inst *be = NULL;
    char err[256];
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        return -errno;
    }
    if (conf_text != NULL) {
        if (vf_conf_parse_buffer("test.conf", conf_text, strlen(conf_text), &conf, err,
                                 sizeof(err)) < 0 ||
            vf_groups_load(conf, &g, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            vf_conf_free(conf);
            return -EINVAL;
        }
        vf_conf_free(conf);
    }
    be = vf_backend_inst_new(pair_ops, NULL);
    if (vf_ps_exec_start(sv[0], be, g, NULL, &ex) < 0) {
        return -EIO;
    }
    return vf_ps_proxy_new(sv[1], false, &px);
}

static void
pair_down(void)
{
    px = vf_ps_proxy_free(px);
    ex = vf_ps_exec_stop(ex, 3000);
}

/* an executor alone (the FAKE backend, no groups) on sv[0] of a new
 * socketpair: the test writes raw requests on sv[1].  0 or -errno */
static int
exec_alone(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        return -errno;
    }
    return vf_ps_exec_start(sv[0], vf_backend_inst_new(&fake_ops, NULL), NULL, NULL, &ex);
}

/* a proxy alone on sv[1] of a new socketpair: the test plays the executor
 * on sv[0].  0 or -errno */
static int
proxy_alone(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        return -errno;
    }
    return vf_ps_proxy_new(sv[1], false, &px);
}

/* ---- tests: the proxy in front of a running executor ------------------------- */

static int
count_cb(void *arg, const struct vf_domain_info *dom)
{
    (void)dom;
    (*(int *)arg)++;
    return 0;
}

static void
test_proxy_ops(void)
{
    const struct vf_backend_ops *o = &vf_ps_proxy_ops;
    struct vf_domain_info dom;
    int64_t d = vf_now_ms() + 5000;
    bool on = false;
    int n = 0;

    VFT_EQ_INT(pair_up(NULL), 0);
    VFT_EQ_INT(o->lookup(px, "vm2", 0, &dom, d), 0);
    VFT_EQ_STR(dom.uuid, "22222222-2222-2222-2222-222222222222");
    VFT_EQ_INT(o->lookup(px, "nope", 0, &dom, d), -ENOENT);
    VFT_EQ_INT(o->status(px, "vm1", 0, &on, d), 0);
    VFT_CHECK(on);
    VFT_EQ_INT(o->status(px, "vm2", 0, &on, d), 0);
    VFT_CHECK(!on);
    VFT_EQ_INT(o->off(px, "vm1", 0, d), 0);
    VFT_EQ_INT(o->on(px, "nope", 0, d), -ENOENT);
    /* a backend's positive value never becomes a success */
    VFT_EQ_INT(o->reboot(px, "vm1", 0, d), -EIO);
    VFT_EQ_INT(o->list(px, count_cb, &n, d), 0);
    VFT_EQ_INT(n, 3);
    VFT_EQ_INT(o->monitor(px, d), 0);
    /* the executor's backend overruns: the caller gets a timeout, not success */
    VFT_EQ_INT(o->off(px, "slow", 0, vf_now_ms() + 200), -ETIMEDOUT);
    pair_down();
}

struct par {
    int ok;
};

static void *
par_main(void *arg)
{
    struct par *p = arg;

    for (int i = 0; i < 50; i++) {
        bool on = false;

        if (vf_ps_proxy_ops.status(px, i % 2 ? "vm1" : "vm2", 0, &on,
                                   vf_now_ms() + 5000) == 0 && on == (i % 2 == 1)) {
            p->ok++;
        }
    }
    return NULL;
}

static void
test_proxy_concurrent(void)
{
    pthread_t th[16];
    struct par ps[16];
    int total = 0;

    VFT_EQ_INT(pair_up(NULL), 0);
    for (int i = 0; i < 16; i++) {
        ps[i].ok = 0;
        pthread_create(&th[i], NULL, par_main, &ps[i]);
    }
    for (int i = 0; i < 16; i++) {
        pthread_join(th[i], NULL);
        total += ps[i].ok;
    }
    VFT_EQ_INT(total, 16 * 50);
    pair_down();
}

static void *
slow_main(void *arg)
{
    *(int *)arg = vf_ps_proxy_ops.off(px, "slow", 0, vf_now_ms() + 300);
    return NULL;
}

/*
 * Leader/follower on the proxy's socket: a call whose backend hangs (and
 * most likely holds the read turn, having started first) never delays the
 * answers of the others; when it gives up it passes the turn on, and its
 * late answer (sent about 1.3 s after it started) is dropped, not taken
 * for another call's.
 */
static void
test_proxy_turns(void)
{
    pthread_t th;
    int slow_r = 1;
    int ok = 0;
    int n = 0;

    VFT_EQ_INT(pair_up(NULL), 0);
    VFT_EQ_INT(pthread_create(&th, NULL, slow_main, &slow_r), 0);
    usleep(50000);              /* not a check: lets the slow call go first */
    for (int64_t end = vf_now_ms() + 1800; n < 200 && vf_now_ms() < end; n++) {
        bool on = false;

        if (vf_ps_proxy_ops.status(px, n % 2 ? "vm1" : "vm2", 0, &on,
                                   vf_now_ms() + 5000) == 0 && on == (n % 2 == 1)) {
            ok++;
        }
        usleep(10000);
    }
    pthread_join(th, NULL);
    VFT_EQ_INT(slow_r, -ETIMEDOUT);
    VFT_CHECK(n > 0);
    VFT_EQ_INT(ok, n);
    pair_down();
}

static void
test_groups_recheck(void)
{
    const struct vf_backend_ops *o = &vf_ps_proxy_ops;
    int64_t d = vf_now_ms() + 5000;
    int before = fake_offs;
    int n = 0;

    VFT_EQ_INT(pair_up("groups { group { ip = \"10.0.0.5\"; uuid = \"vm1\"; } }\n"), 0);
    vf_ps_set_requester("10.0.0.5");
    VFT_EQ_INT(o->off(px, "vm1", 0, d), 0);
    VFT_EQ_INT(o->off(px, "vm2", 0, d), -EPERM);
    VFT_EQ_INT(o->list(px, count_cb, &n, d), 0);
    VFT_EQ_INT(n, 1);
    vf_ps_set_requester("10.0.0.6");
    VFT_EQ_INT(o->off(px, "vm1", 0, d), -EPERM);
    VFT_EQ_INT(fake_offs, before + 1);
    /* unknown requester: best effort, the network process decided */
    vf_ps_set_requester(NULL);
    VFT_EQ_INT(o->off(px, "vm2", 0, d), 0);
    pair_down();
}

static void
test_dead_executor(void)
{
    const struct vf_backend_ops *o = &vf_ps_proxy_ops;
    struct vf_domain_info dom;
    bool on = false;
    int n = 0;
    int sv[2];

    /* the executor end closed: every op fails with -EHOSTDOWN, never success */
    VFT_EQ_INT(proxy_alone(sv), 0);
    close(sv[0]);
    for (int i = 0; i < 100 && !vf_ps_proxy_dead(px); i++) {
        usleep(10000);
    }
    VFT_CHECK(vf_ps_proxy_dead(px));
    VFT_EQ_INT(o->off(px, "vm1", 0, vf_now_ms() + 1000), -EHOSTDOWN);
    VFT_EQ_INT(o->status(px, "vm1", 0, &on, vf_now_ms() + 1000), -EHOSTDOWN);
    VFT_EQ_INT(o->lookup(px, "vm1", 0, &dom, vf_now_ms() + 1000), -EHOSTDOWN);
    VFT_EQ_INT(o->list(px, count_cb, &n, vf_now_ms() + 1000), -EHOSTDOWN);
    VFT_EQ_INT(n, 0);
    px = vf_ps_proxy_free(px);

    /* the executor dies while a call waits: the call fails at once */
    VFT_EQ_INT(proxy_alone(sv), 0);
    {
        int64_t t0 = vf_now_ms();
        pid_t pid = fork();

        if (pid == 0) {
            usleep(200000);
            _exit(0);           /* holds sv[0] until then */
        }
        close(sv[0]);
        VFT_EQ_INT(o->off(px, "vm1", 0, vf_now_ms() + 5000), -EHOSTDOWN);
        VFT_CHECK(vf_now_ms() - t0 < 2000);
        waitpid(pid, NULL, 0);
    }
    px = vf_ps_proxy_free(px);

    /* a hostile answer (malformed) marks the executor dead: no success */
    VFT_EQ_INT(proxy_alone(sv), 0);
    {
        uint8_t junk[VF_PS_ANS_SIZE];

        memset(junk, 0, sizeof(junk));
        VFT_CHECK(send(sv[0], junk, sizeof(junk), 0) == (ssize_t)sizeof(junk));
        VFT_EQ_INT(o->off(px, "vm1", 0, vf_now_ms() + 2000), -EHOSTDOWN);
    }
    close(sv[0]);
    px = vf_ps_proxy_free(px);
}

/*
 * ---- tests: the executor alone, fed raw requests (exec_alone()) -------------
 * New executor tests go at the end of this section (just before main()), and
 * at the end of main()'s list.
 */

static void
test_hostile_request(void)
{
    int sv[2];
    int before = fake_offs;
    uint8_t b[VF_PS_REQ_SIZE];
    struct vf_ps_req rq = { .op = VF_PS_OP_OFF, .id = 1, .timeout_ms = 1000, .sent_ms = 1 };
    char c = 0;

    /* a malformed request ends the connection and is never acted upon */
    VFT_EQ_INT(exec_alone(sv), 0);
    snprintf(rq.target, sizeof(rq.target), "vm1");
    VFT_EQ_INT(vf_ps_req_encode(&rq, b, sizeof(b)), 0);
    b[300] = 'x';               /* identity padding */
    VFT_CHECK(send(sv[1], b, sizeof(b), 0) == (ssize_t)sizeof(b));
    VFT_CHECK(recv(sv[1], &c, 1, 0) == 0);      /* closed on us */
    VFT_EQ_INT(fake_offs, before);
    close(sv[1]);
    ex = vf_ps_exec_stop(ex, 1000);
}

/*
 * A request that waited in the socket past its deadline (the executor was
 * stopped: SIGSTOP of the main PID) is answered -ETIMEDOUT and never run;
 * one sent just now runs.
 */
static void
test_expired_request(void)
{
    int sv[2];
    int before = fake_offs;
    uint8_t b[VF_PS_REQ_SIZE];
    uint8_t a[VF_PS_ANS_SIZE];
    struct vf_ps_ans an;
    struct vf_ps_req rq = { .op = VF_PS_OP_OFF, .id = 5, .timeout_ms = 1000 };
    struct timeval tv = { .tv_sec = 5 };

    VFT_EQ_INT(exec_alone(sv), 0);
    VFT_EQ_INT(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    snprintf(rq.target, sizeof(rq.target), "vm1");
    rq.sent_ms = vf_now_ms() - 1500;       /* its caller gave up 500 ms ago */
    VFT_EQ_INT(vf_ps_req_encode(&rq, b, sizeof(b)), 0);
    VFT_CHECK(send(sv[1], b, sizeof(b), 0) == (ssize_t)sizeof(b));
    VFT_CHECK(recv(sv[1], a, sizeof(a), 0) == (ssize_t)sizeof(a));
    VFT_EQ_INT(vf_ps_ans_decode(a, sizeof(a), &an), 0);
    VFT_CHECK(an.id == 5);
    VFT_EQ_INT(an.result, -ETIMEDOUT);
    VFT_EQ_INT(fake_offs, before);
    rq.id = 6;
    rq.sent_ms = vf_now_ms();
    VFT_EQ_INT(vf_ps_req_encode(&rq, b, sizeof(b)), 0);
    VFT_CHECK(send(sv[1], b, sizeof(b), 0) == (ssize_t)sizeof(b));
    VFT_CHECK(recv(sv[1], a, sizeof(a), 0) == (ssize_t)sizeof(a));
    VFT_EQ_INT(vf_ps_ans_decode(a, sizeof(a), &an), 0);
    VFT_CHECK(an.id == 6);
    VFT_EQ_INT(an.result, 0);
    VFT_EQ_INT(fake_offs, before + 1);
    close(sv[1]);
    ex = vf_ps_exec_stop(ex, 1000);
}

/*
 * Mutated OFF requests (a fixed seed, bounded count): whatever the decoder
 * refuses, the executor never acts on, and it ends the connection.
 */
static void
test_fuzzed_requests(void)
{
    struct vf_ps_req rq = { .op = VF_PS_OP_OFF, .id = 9, .timeout_ms = 1000, .sent_ms = 1 };
    uint8_t good[VF_PS_REQ_SIZE];
    unsigned int seed = 12345;
    int refused = 0;

    snprintf(rq.target, sizeof(rq.target), "vm1");
    VFT_EQ_INT(vf_ps_req_encode(&rq, good, sizeof(good)), 0);
    for (int i = 0; i < 300; i++) {
        uint8_t b[VF_PS_REQ_SIZE + 8] = { 0 };
        struct vf_ps_req out;
        size_t len = sizeof(good);
        int sv[2];
        int before = fake_offs;
        char c = 0;

        memcpy(b, good, sizeof(good));
        for (int k = 1 + vft_rand(&seed) % 4; k > 0; k--) {
            b[vft_rand(&seed) % sizeof(good)] ^= (uint8_t)(1 + vft_rand(&seed) % 255);
        }
        if (i % 10 == 0) {
            len = 1 + (size_t)(vft_rand(&seed) % ((int)sizeof(b) - 1));
        }
        if (vf_ps_req_decode(b, len, &out) == 0) {
            continue;   /* still well-formed: the executor may act on what it says */
        }
        refused++;
        if (exec_alone(sv) < 0) {
            VFT_CHECK(!"executor start");
            break;
        }
        /* refused: the connection ends unanswered and nothing was done */
        VFT_CHECK(send(sv[1], b, len, 0) == (ssize_t)len && recv(sv[1], &c, 1, 0) == 0 &&
                  fake_offs == before);
        close(sv[1]);
        ex = vf_ps_exec_stop(ex, 1000);
    }
    VFT_CHECK(refused > 200);
}

/* ---- a backend that answers some statuses without waiting ------------------- */

struct nw_call {
    unsigned int flags;
    pthread_t thread;
};
static struct nw_call nw_calls[16];
static int nw_n;

/* VF_BC_STATUS_NOWAIT: "vm2" is not known without a call (-EWOULDBLOCK) */
static int
nw_status(void *p, const char *t, unsigned int f, bool *on, int64_t d)
{
    int i = __atomic_fetch_add(&nw_n, 1, __ATOMIC_SEQ_CST);

    if (i < 16) {
        nw_calls[i].flags = f;
        nw_calls[i].thread = pthread_self();
    }
    if ((f & VF_BE_NOWAIT) != 0 && strcmp(t, "vm2") == 0) {
        return -EWOULDBLOCK;
    }
    return fk_status(p, t, f & ~(unsigned int)VF_BE_NOWAIT, on, d);
}

static const struct vf_setting nw_settings[] = { { .key = NULL } };
static const struct vf_schema nw_schema = {
    .settings = nw_settings, .flags = VF_BC_STATUS_NOWAIT,
};
static const struct vf_backend_ops nowait_ops = {
    .name = "fake-nowait", .version = "1", .init = fk_init, .fini = fk_fini,
    .lookup = fk_lookup, .off = fk_off, .on = fk_on, .reboot = fk_reboot,
    .status = nw_status, .list = fk_list, .schema = &nw_schema,
};

/*
 * A status the backend can answer at once is answered by the executor's
 * reader (VF_BE_NOWAIT, no pool thread); one it cannot is asked again on a
 * pool thread without the flag; with groups to re-check for a known
 * requester the executor never asks that way (the re-check is a lookup).
 */
static void
test_status_inline(void)
{
    const struct vf_backend_ops *o = &vf_ps_proxy_ops;
    int64_t d = vf_now_ms() + 5000;
    bool on = false;

    pair_ops = &nowait_ops;
    nw_n = 0;
    VFT_EQ_INT(pair_up(NULL), 0);
    VFT_EQ_INT(o->status(px, "vm1", 0, &on, d), 0);
    VFT_CHECK(on);
    VFT_EQ_INT(nw_n, 1);
    VFT_CHECK((nw_calls[0].flags & VF_BE_NOWAIT) != 0);
    VFT_EQ_INT(o->status(px, "vm2", VF_BE_BY_UUID, &on, d), 0);
    VFT_CHECK(!on);
    VFT_EQ_INT(nw_n, 3);
    VFT_EQ_INT(nw_calls[1].flags, VF_BE_BY_UUID | VF_BE_NOWAIT);
    VFT_EQ_INT(nw_calls[2].flags, VF_BE_BY_UUID);
    VFT_CHECK(pthread_equal(nw_calls[0].thread, nw_calls[1].thread));  /* the reader */
    VFT_CHECK(!pthread_equal(nw_calls[1].thread, nw_calls[2].thread)); /* a pool thread */
    VFT_EQ_INT(o->status(px, "nope", 0, &on, d), -ENOENT);
    VFT_EQ_INT(nw_n, 4);
    pair_down();

    nw_n = 0;
    VFT_EQ_INT(pair_up("groups { group { ip = \"10.0.0.5\"; uuid = \"vm1\"; } }\n"), 0);
    vf_ps_set_requester("10.0.0.5");
    VFT_EQ_INT(o->status(px, "vm1", 0, &on, d), 0);
    VFT_EQ_INT(o->status(px, "vm2", 0, &on, d), -EPERM);
    VFT_EQ_INT(nw_n, 1);
    VFT_EQ_INT(nw_calls[0].flags, 0);
    vf_ps_set_requester(NULL);
    pair_down();
    pair_ops = &fake_ops;

    /* a backend without the capability is never asked that way */
    VFT_EQ_INT(pair_up(NULL), 0);
    VFT_EQ_INT(o->status(px, "vm2", 0, &on, d), 0);
    VFT_CHECK(!on);
    pair_down();
}

/* ---- a large list: its records go VF_PS_SEND_MANY_MAX to a datagram batch ------- */

#define BIG_N 5000
static int big_fail_at = -1;    /* the backend fails after this many records; -1: never */

static int
big_list(void *p, vf_domain_cb cb, void *arg, int64_t d)
{
    (void)p; (void)d;
    for (int i = 0; i < BIG_N; i++) {
        struct vf_domain_info dom = { .state = i % 2 ? VF_STATE_RUNNING : VF_STATE_SHUTOFF };
        int r = 0;

        if (i == big_fail_at) {
            return -EIO;
        }
        snprintf(dom.name, sizeof(dom.name), "vm%05d", i);
        snprintf(dom.uuid, sizeof(dom.uuid), "00000000-0000-4000-8000-%012d", i);
        r = cb(arg, &dom);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

static const struct vf_backend_ops big_ops = {
    .name = "fake-big", .version = "1", .init = fk_init, .fini = fk_fini, .lookup = fk_lookup,
    .off = fk_off, .on = fk_on, .reboot = fk_reboot, .status = fk_status, .list = big_list,
};

struct big_seen {
    int n;
    int wrong;                  /* out of order or not as sent */
};

static int
big_cb(void *arg, const struct vf_domain_info *dom)
{
    struct big_seen *b = arg;
    char name[16];
    char uuid[40];

    snprintf(name, sizeof(name), "vm%05d", b->n);
    snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012d", b->n);
    if (strcmp(dom->name, name) != 0 || strcmp(dom->uuid, uuid) != 0 ||
        dom->state != (b->n % 2 ? VF_STATE_RUNNING : VF_STATE_SHUTOFF)) {
        b->wrong++;
    }
    b->n++;
    return 0;
}

struct big_par {
    int ok;
    int calls;
};

static void *
big_status_main(void *arg)
{
    struct big_par *p = arg;

    for (int64_t end = vf_now_ms() + 3000; p->calls < 200 && vf_now_ms() < end; p->calls++) {
        bool on = false;

        if (vf_ps_proxy_ops.status(px, "vm1", 0, &on, vf_now_ms() + 5000) == 0 && on) {
            p->ok++;
        }
    }
    return NULL;
}

/*
 * 5,000 records (157 batches of sendmmsg/recvmmsg): all of them, in order,
 * then the result; statuses asked meanwhile are answered in between; a
 * backend failing half way fails the list (no record is passed on).
 */
static void
test_big_list(void)
{
    const struct vf_backend_ops *o = &vf_ps_proxy_ops;
    struct big_par sp = { 0, 0 };
    struct big_seen b = { 0, 0 };
    pthread_t th;

    pair_ops = &big_ops;
    big_fail_at = -1;
    VFT_EQ_INT(pair_up(NULL), 0);
    VFT_EQ_INT(pthread_create(&th, NULL, big_status_main, &sp), 0);
    for (int round = 0; round < 3; round++) {
        b.n = b.wrong = 0;
        VFT_EQ_INT(o->list(px, big_cb, &b, vf_now_ms() + 10000), 0);
        VFT_EQ_INT(b.n, BIG_N);
        VFT_EQ_INT(b.wrong, 0);
    }
    pthread_join(th, NULL);
    VFT_CHECK(sp.calls > 0);
    VFT_EQ_INT(sp.ok, sp.calls);
    big_fail_at = 1000;
    b.n = b.wrong = 0;
    VFT_EQ_INT(o->list(px, big_cb, &b, vf_now_ms() + 10000), -EIO);
    VFT_EQ_INT(b.n, 0);
    big_fail_at = -1;
    pair_down();
    pair_ops = &fake_ops;
}

/* ---- statuses given again while their stamp holds (stampcache.c) ------------- */

static const struct vf_schema st_schema = {
    .settings = nw_settings, .flags = VF_BC_STATUS_NOWAIT | VF_BC_STATUS_STAMPED,
};
static const struct vf_backend_ops stamped_ops = {
    .name = "fake-stamped", .version = "1", .init = fk_init, .fini = fk_fini,
    .lookup = fk_lookup, .off = fk_off, .on = fk_on, .reboot = fk_reboot,
    .status = nw_status, .list = fk_list, .schema = &st_schema,
};

/*
 * The test is both processes: the stamp page is shared (the executor's
 * side) and mapped read-only (the network process's).  A status by name
 * that the executor's reader answered from a stamped backend is given
 * again by peek with no call at all, until a bump or a closed trust
 * window; nothing else is kept: a status by UUID, one the pool answered,
 * a failed one, one from a backend that does not stamp.
 */
static void
test_status_stamped(void)
{
    const struct vf_status_ahead *a = &vf_ps_proxy_ahead;
    const struct vf_backend_ops *o = &vf_ps_proxy_ops;
    int64_t d = vf_now_ms() + 5000;
    struct vf_ahead *t = NULL;
    bool on = false;
    int fd = -1;

    VFT_EQ_INT(vf_statstamp_share(&fd), 0);
    VFT_EQ_INT(vf_statstamp_attach(fd), 0);
    close(fd);
    vf_statstamp_trust_until(vf_now_ms() + 60000);
    vf_ps_stampcache_clear();
    VFT_CHECK(a->peek != NULL);
    pair_ops = &stamped_ops;
    nw_n = 0;
    VFT_EQ_INT(pair_up(NULL), 0);
    VFT_EQ_INT(a->peek(px, "vm1", 0, &on), -ENOENT);
    VFT_EQ_INT(o->status(px, "vm1", 0, &on, d), 0);
    VFT_CHECK(on);
    VFT_EQ_INT(nw_n, 1);
    on = false;
    VFT_EQ_INT(a->peek(px, "vm1", 0, &on), 0);
    VFT_CHECK(on);
    VFT_EQ_INT(a->peek(px, "vm1", VF_BE_BY_UUID, &on), -ENOENT);
    VFT_EQ_INT(a->peek(px, "VM1", 0, &on), -ENOENT);    /* the exact string only */
    VFT_EQ_INT(nw_n, 1);
    /* any change the cache saw ends it; asked again, it is kept again */
    vf_statstamp_bump();
    VFT_EQ_INT(a->peek(px, "vm1", 0, &on), -ENOENT);
    VFT_EQ_INT(a->begin(px, "vm1", 0, d, &t), 0);       /* asked ahead, the same */
    VFT_EQ_INT(a->end(px, t, &on), 0);
    VFT_EQ_INT(a->peek(px, "vm1", 0, &on), 0);
    VFT_CHECK(on);
    /* the cache's trust window closed (no recent libvirt answer, a hung call) */
    vf_statstamp_trust_until(0);
    VFT_EQ_INT(a->peek(px, "vm1", 0, &on), -ENOENT);
    vf_statstamp_trust_until(vf_now_ms() + 60000);
    VFT_EQ_INT(a->peek(px, "vm1", 0, &on), 0);
    /* not kept: answered by the pool, by UUID, failed */
    VFT_EQ_INT(o->status(px, "vm2", 0, &on, d), 0);
    VFT_CHECK(!on);
    VFT_EQ_INT(a->peek(px, "vm2", 0, &on), -ENOENT);
    VFT_EQ_INT(o->status(px, "33333333-3333-3333-3333-333333333333", VF_BE_BY_UUID, &on, d), 0);
    VFT_CHECK(on);
    VFT_EQ_INT(a->peek(px, "33333333-3333-3333-3333-333333333333", 0, &on), -ENOENT);
    VFT_EQ_INT(o->status(px, "nope", 0, &on, d), -ENOENT);
    VFT_EQ_INT(a->peek(px, "nope", 0, &on), -ENOENT);
    pair_down();
    /* a backend that does not stamp: nothing kept */
    vf_ps_stampcache_clear();
    pair_ops = &nowait_ops;
    VFT_EQ_INT(pair_up(NULL), 0);
    VFT_EQ_INT(o->status(px, "vm1", 0, &on, d), 0);
    VFT_EQ_INT(a->peek(px, "vm1", 0, &on), -ENOENT);
    pair_down();
    pair_ops = &fake_ops;
    vf_statstamp_detach();
    vf_ps_stampcache_clear();
}

/* ---- a status asked ahead (request.h) --------------------------------------- */

struct ahead_par {
    int ok;
    int calls;
};

static void *
ahead_par_main(void *arg)
{
    struct ahead_par *p = arg;

    for (int64_t end = vf_now_ms() + 1500; p->calls < 300 && vf_now_ms() < end; p->calls++) {
        bool on = false;

        /* 2 s: a turn passed to a thread that does not wait would leave this
         * call without a reader until its deadline (-ETIMEDOUT) */
        if (vf_ps_proxy_ops.status(px, p->calls % 2 ? "vm1" : "vm2", 0, &on,
                                   vf_now_ms() + 2000) == 0 && on == (p->calls % 2 == 1)) {
            p->ok++;
        }
    }
    return NULL;
}

/*
 * Asked ahead: the answers are the status's; a dropped one's late answer
 * is never taken for another call's; and while tickets wait unclaimed (their
 * threads busy elsewhere, as while a client authenticates) the other calls
 * keep being answered: the read turn goes only to a waiting call.
 */
static void
test_status_ahead(void)
{
    const struct vf_status_ahead *a = &vf_ps_proxy_ahead;
    struct vf_ahead *t1 = NULL, *t2 = NULL, *t3 = NULL;
    int64_t d = vf_now_ms() + 5000;
    pthread_t th[2];
    struct ahead_par ps[2] = { { 0, 0 }, { 0, 0 } };
    bool on = false;
    int held = 0;

    VFT_EQ_INT(pair_up(NULL), 0);
    VFT_CHECK(a->be == &vf_ps_proxy_ops);
    VFT_EQ_INT(a->begin(px, "vm1", 0, d, &t1), 0);
    VFT_EQ_INT(a->begin(px, "vm2", 0, d, &t2), 0);
    VFT_EQ_INT(a->begin(px, "nope", 0, d, &t3), 0);
    usleep(20000);              /* not a check: the answers are in the socket */
    VFT_EQ_INT(a->end(px, t2, &on), 0);
    VFT_CHECK(!on);
    VFT_EQ_INT(a->end(px, t3, &on), -ENOENT);
    VFT_EQ_INT(a->end(px, t1, &on), 0);
    VFT_CHECK(on);
    /* dropped at once, and after its answer came: later calls get their own */
    VFT_EQ_INT(a->begin(px, "vm1", 0, d, &t1), 0);
    a->drop(px, t1);
    VFT_EQ_INT(a->begin(px, "vm1", 0, d, &t1), 0);
    usleep(20000);
    a->drop(px, t1);
    for (int i = 0; i < 20; i++) {
        VFT_EQ_INT(vf_ps_proxy_ops.status(px, i % 2 ? "vm1" : "vm2", 0, &on, d), 0);
        VFT_CHECK(on == (i % 2 == 1));
    }
    /* unclaimed tickets, newest first in the proxy's list, while two
     * threads make calls: every call answered */
    for (int i = 0; i < 2; i++) {
        VFT_EQ_INT(pthread_create(&th[i], NULL, ahead_par_main, &ps[i]), 0);
    }
    for (int64_t end = vf_now_ms() + 1200; held < 100 && vf_now_ms() < end; held++) {
        VFT_EQ_INT(a->begin(px, "vm1", 0, vf_now_ms() + 5000, &t1), 0);
        usleep(10000);          /* held unclaimed while the others call */
        if (held % 2 == 0) {
            VFT_EQ_INT(a->end(px, t1, &on), 0);
            VFT_CHECK(on);
        } else {
            a->drop(px, t1);
        }
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        VFT_CHECK(ps[i].calls > 0);
        VFT_EQ_INT(ps[i].ok, ps[i].calls);
    }
    VFT_CHECK(held > 0);
    pair_down();
}

struct turn_call {
    const char *target;
    int r;
    bool on;
};

static void *
turn_call_main(void *arg)
{
    struct turn_call *c = arg;

    c->r = vf_ps_proxy_ops.status(px, c->target, 0, &c->on, vf_now_ms() + 1500);
    return NULL;
}

/* As the executor on @fd: read one request (bounded wait).  0 or -1 */
static int
fake_exec_read(int fd, struct vf_ps_req *rq)
{
    uint8_t buf[VF_PS_REQ_SIZE];
    struct timeval tv = { .tv_sec = 2 };
    ssize_t n = 0;

    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    n = recv(fd, buf, sizeof(buf), 0);
    return n == (ssize_t)sizeof(buf) && vf_ps_req_decode(buf, sizeof(buf), rq) == 0 ? 0 : -1;
}

/* As the executor on @fd: the RESULT of @id, "on". */
static void
fake_exec_answer(int fd, uint64_t id)
{
    struct vf_ps_ans an = { .kind = VF_PS_KIND_RESULT, .id = id, .result = 0, .on = true };
    uint8_t buf[VF_PS_ANS_SIZE];

    VFT_EQ_INT(vf_ps_ans_encode(&an, buf, sizeof(buf)), 0);
    VFT_CHECK(send(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
}

/*
 * The read turn never goes to a ticket asked ahead: call A holds the turn,
 * call B waits for it, a ticket T (the newest: first in the proxy's list)
 * is unclaimed.  A's answer comes; A passes the turn on: to B, which must
 * then read its own answer when it comes (handed to T, the turn was lost
 * and B waited until its deadline).  The test plays the executor.
 */
static void
test_ahead_turn(void)
{
    struct turn_call ca = { "vmA", 1, false }, cb = { "vmB", 1, false };
    struct vf_ps_req ra, rb, rt;
    struct vf_ahead *t = NULL;
    pthread_t tha, thb;
    int sv[2];

    VFT_EQ_INT(proxy_alone(sv), 0);
    VFT_EQ_INT(pthread_create(&tha, NULL, turn_call_main, &ca), 0);
    VFT_EQ_INT(fake_exec_read(sv[0], &ra), 0);      /* A sent: it holds the turn */
    VFT_EQ_INT(pthread_create(&thb, NULL, turn_call_main, &cb), 0);
    VFT_EQ_INT(fake_exec_read(sv[0], &rb), 0);      /* B sent: it waits */
    usleep(50000);              /* not a check: B is in its wait by now */
    VFT_EQ_INT(vf_ps_proxy_ahead.begin(px, "vmT", 0, vf_now_ms() + 5000, &t), 0);
    VFT_EQ_INT(fake_exec_read(sv[0], &rt), 0);
    VFT_EQ_STR(ra.target, "vmA");
    VFT_EQ_STR(rb.target, "vmB");
    fake_exec_answer(sv[0], ra.id);
    pthread_join(tha, NULL);
    VFT_EQ_INT(ca.r, 0);
    usleep(100000);             /* B holds the turn now (or nobody does) */
    fake_exec_answer(sv[0], rb.id);
    pthread_join(thb, NULL);
    VFT_EQ_INT(cb.r, 0);
    VFT_CHECK(cb.on);
    fake_exec_answer(sv[0], rt.id);
    VFT_EQ_INT(vf_ps_proxy_ahead.end(px, t, &cb.on), 0);
    close(sv[0]);
    px = vf_ps_proxy_free(px);
}

int
main(void)
{
    vf_log_init("test-privsep-exec", VF_LOG_STDERR, 0);
    /* the proxy in front of a running executor */
    VFT_RUN(test_proxy_ops);
    VFT_RUN(test_proxy_concurrent);
    VFT_RUN(test_proxy_turns);
    VFT_RUN(test_groups_recheck);
    VFT_RUN(test_status_inline);
    VFT_RUN(test_status_ahead);
    VFT_RUN(test_status_stamped);
    VFT_RUN(test_big_list);
    VFT_RUN(test_ahead_turn);
    VFT_RUN(test_dead_executor);
    /* the executor alone, fed raw requests; new executor tests at the end */
    VFT_RUN(test_hostile_request);
    VFT_RUN(test_expired_request);
    VFT_RUN(test_fuzzed_requests);
    return vft_exit_status();
}
