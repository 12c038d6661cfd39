/*
 * vmfence - daemon/tests/test-privsep.c: the privsep messages (msg.c) and
 * the proxy backend against the executor over a real socketpair, with a
 * FAKE backend (three domains in memory, no libvirt); the guest pair's
 * messages and descriptors (guestpair.c) over a real socketpair.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conftree.h"
#include "groups.h"
#include "io.h"
#include "log.h"
#include "pipeline.h"
#include "privsep/guestpair.h"
#include "privsep/handover.h"
#include "privsep/msg.h"
#include "privsep/privsep.h"
#include "privsep/scm.h"
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
    const struct vf_domain_info *dom = fake_find(t);

    (void)p; (void)f; (void)d;
    if (dom == NULL) {
        return -ENOENT;
    }
    *on = dom->state == VF_STATE_RUNNING;
    return 0;
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

/* a small fixed-seed generator for the mutation tests (reproducible) */
static unsigned int
next_rand(unsigned int *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fffu;
}

/* ---- messages ---------------------------------------------------------------- */

static void
test_msg_roundtrip(void)
{
    struct vf_ps_req rq = { .op = VF_PS_OP_OFF, .id = 0x0102030405060708ull,
                            .flags = VF_BE_BY_UUID, .timeout_ms = 30000, .sent_ms = 77 };
    struct vf_ps_req rq2;
    struct vf_ps_ans an = { .kind = VF_PS_KIND_RESULT, .id = 7, .result = -ENOENT, .on = true };
    struct vf_ps_ans an2;
    uint8_t b[VF_PS_REQ_SIZE];
    uint8_t a[VF_PS_ANS_SIZE];

    snprintf(rq.target, sizeof(rq.target), "%s", "vm1");
    snprintf(rq.identity, sizeof(rq.identity), "%s", "10.0.0.5");
    VFT_EQ_INT(vf_ps_req_encode(&rq, b, sizeof(b)), 0);
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), 0);
    VFT_EQ_INT(rq2.op, VF_PS_OP_OFF);
    VFT_CHECK(rq2.id == rq.id);
    VFT_EQ_STR(rq2.target, "vm1");
    VFT_EQ_STR(rq2.identity, "10.0.0.5");
    VFT_EQ_INT(rq2.timeout_ms, 30000);
    VFT_CHECK(rq2.sent_ms == 77);
    /* size, magic, version, op, flags, timeout, NUL inside, padding */
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b) - 1, &rq2), -EBADMSG);
    b[0] ^= 1;
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    b[0] ^= 1;
    b[5] = VF_PS_VERSION + 1;
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    b[5] = VF_PS_VERSION;
    b[7] = 99;
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    b[7] = VF_PS_OP_OFF;
    b[19] = 2;
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    b[19] = 1;
    b[27] = 0;  /* target "v\0" + len 3 */
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    b[27] = 'm';
    b[200] = 'x';
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    b[200] = 0;
    b[20] = b[21] = b[22] = b[23] = 0;
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    b[23] = 1;
    memset(b + sizeof(b) - 8, 0, 8);    /* sent_ms 0 */
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    b[sizeof(b) - 8] = 0x80;            /* sent_ms < 0 */
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    /* encode refuses what decode would refuse */
    rq.target[0] = '\0';
    VFT_EQ_INT(vf_ps_req_encode(&rq, b, sizeof(b)), -EINVAL);
    rq.op = VF_PS_OP_LIST;
    rq.flags = 0;
    VFT_EQ_INT(vf_ps_req_encode(&rq, b, sizeof(b)), 0);
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), 0);

    snprintf(an.dom.name, sizeof(an.dom.name), "%s", "vm2");
    VFT_EQ_INT(vf_ps_ans_encode(&an, a, sizeof(a)), 0);
    VFT_EQ_INT(vf_ps_ans_decode(a, sizeof(a), &an2), 0);
    VFT_EQ_INT(an2.result, -ENOENT);
    VFT_CHECK(an2.on);
    an.result = 1;              /* positive results do not exist */
    VFT_EQ_INT(vf_ps_ans_encode(&an, a, sizeof(a)), -EINVAL);
    a[16] = 0; a[17] = 0; a[18] = 0; a[19] = 1;
    VFT_EQ_INT(vf_ps_ans_decode(a, sizeof(a), &an2), -EBADMSG);
    a[19] = 0;
    a[20] = 2;                  /* "on" is a bit */
    VFT_EQ_INT(vf_ps_ans_decode(a, sizeof(a), &an2), -EBADMSG);
}

/* ---- proxy <-> executor ------------------------------------------------------ */

static struct vf_ps_exec *ex;
static struct vf_ps_proxy *px;

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
    be = vf_backend_inst_new(&fake_ops, NULL);
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
    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    VFT_EQ_INT(vf_ps_proxy_new(sv[1], false, &px), 0);
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
    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    VFT_EQ_INT(vf_ps_proxy_new(sv[1], false, &px), 0);
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
    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    VFT_EQ_INT(vf_ps_proxy_new(sv[1], false, &px), 0);
    {
        uint8_t junk[VF_PS_ANS_SIZE];

        memset(junk, 0, sizeof(junk));
        VFT_CHECK(send(sv[0], junk, sizeof(junk), 0) == (ssize_t)sizeof(junk));
        VFT_EQ_INT(o->off(px, "vm1", 0, vf_now_ms() + 2000), -EHOSTDOWN);
    }
    close(sv[0]);
    px = vf_ps_proxy_free(px);
}

static void
test_hostile_request(void)
{
    int sv[2];
    int before = fake_offs;
    uint8_t b[VF_PS_REQ_SIZE];
    struct vf_ps_req rq = { .op = VF_PS_OP_OFF, .id = 1, .timeout_ms = 1000, .sent_ms = 1 };
    char c = 0;

    /* a malformed request ends the connection and is never acted upon */
    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    VFT_EQ_INT(vf_ps_exec_start(sv[0], vf_backend_inst_new(&fake_ops, NULL), NULL, NULL, &ex), 0);
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

    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    VFT_EQ_INT(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    VFT_EQ_INT(vf_ps_exec_start(sv[0], vf_backend_inst_new(&fake_ops, NULL), NULL, NULL, &ex), 0);
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
        for (int k = 1 + next_rand(&seed) % 4; k > 0; k--) {
            b[next_rand(&seed) % sizeof(good)] ^= (uint8_t)(1 + next_rand(&seed) % 255);
        }
        if (i % 10 == 0) {
            len = 1 + (size_t)(next_rand(&seed) % ((int)sizeof(b) - 1));
        }
        if (vf_ps_req_decode(b, len, &out) == 0) {
            continue;   /* still well-formed: the executor may act on what it says */
        }
        refused++;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
            vf_ps_exec_start(sv[0], vf_backend_inst_new(&fake_ops, NULL), NULL, NULL, &ex) < 0) {
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

/* ---- the guest pair (guestpair.c): the serial listener's sockets ------------- */

static void
test_guest_msg(void)
{
    struct vf_ps_guest gm = { .kind = VF_PS_G_GUEST, .gen = 7, .mode = 1 };
    struct vf_ps_guest g2;
    uint8_t b[VF_PS_GUEST_SIZE];
    unsigned int seed = 777;
    int refused = 0;

    snprintf(gm.uuid, sizeof(gm.uuid), "%s", fake_doms[0].uuid);
    snprintf(gm.name, sizeof(gm.name), "vm1");
    snprintf(gm.path, sizeof(gm.path), "/run/vm1.sock");
    VFT_EQ_INT(vf_ps_guest_encode(&gm, b, sizeof(b)), 0);
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b), &g2), 0);
    VFT_EQ_INT(g2.kind, VF_PS_G_GUEST);
    VFT_EQ_INT(g2.gen, 7);
    VFT_EQ_INT(g2.mode, 1);
    VFT_EQ_STR(g2.uuid, fake_doms[0].uuid);
    VFT_EQ_STR(g2.name, "vm1");
    VFT_EQ_STR(g2.path, "/run/vm1.sock");
    /* size, version, kind, mode, a UUID out of form, padding, relative path */
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b) - 1, &g2), -EBADMSG);
    b[5] ^= 3;
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b), &g2), -EBADMSG);
    b[5] ^= 3;
    b[7] = 9;
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b), &g2), -EBADMSG);
    b[7] = VF_PS_G_GUEST;
    b[13] = 2;
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b), &g2), -EBADMSG);
    b[13] = 1;
    b[16 + 8] = 'x';            /* a dash's place */
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b), &g2), -EBADMSG);
    b[16 + 8] = '-';
    b[VF_PS_GUEST_SIZE - 1] = 'x';
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b), &g2), -EBADMSG);
    b[VF_PS_GUEST_SIZE - 1] = 0;
    b[311] = 'r';
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b), &g2), -EBADMSG);
    b[311] = '/';
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b), &g2), 0);
    /* encode refuses what decode would refuse */
    gm.path[0] = 'r';
    VFT_EQ_INT(vf_ps_guest_encode(&gm, b, sizeof(b)), -EINVAL);
    gm = (struct vf_ps_guest){ .kind = VF_PS_G_SYNC, .gen = 1 };
    VFT_EQ_INT(vf_ps_guest_encode(&gm, b, sizeof(b)), -EINVAL);     /* SYNC carries zeros */
    gm.gen = 0;
    VFT_EQ_INT(vf_ps_guest_encode(&gm, b, sizeof(b)), 0);
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b), &g2), 0);
    VFT_EQ_INT(g2.kind, VF_PS_G_SYNC);
    /* flipped bytes: whatever still decodes re-encodes to the same bytes */
    for (int i = 0; i < 2000; i++) {
        uint8_t f[VF_PS_GUEST_SIZE], o[VF_PS_GUEST_SIZE];

        memcpy(f, b, sizeof(f));
        f[next_rand(&seed) % sizeof(f)] ^= (uint8_t)(1 + next_rand(&seed) % 255);
        if (vf_ps_guest_decode(f, sizeof(f), &g2) < 0) {
            refused++;
        } else if (vf_ps_guest_encode(&g2, o, sizeof(o)) != 0 || memcmp(o, f, sizeof(f)) != 0) {
            VFT_CHECK(!"a decoded message re-encodes differently");
        }
    }
    VFT_CHECK(refused > 1900);
}

static void
test_guest_pair(void)
{
    struct vf_ps_guest gm = { .kind = VF_PS_G_GUEST, .gen = 1 };
    struct vf_ps_guest got;
    uint8_t b[VF_PS_GUEST_SIZE];
    int gp[2], s[2], fd = -1;
    struct stat st;

    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, gp), 0);
    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
    snprintf(gm.uuid, sizeof(gm.uuid), "%s", fake_doms[1].uuid);
    snprintf(gm.name, sizeof(gm.name), "vm2");
    snprintf(gm.path, sizeof(gm.path), "/run/vm2.sock");
    VFT_EQ_INT(vf_ps_gp_recv(gp[1], &got, &fd), -EAGAIN);
    /* a GUEST travels with its socket, a GONE without */
    VFT_EQ_INT(vf_ps_gp_send(gp[0], &gm, -1, 100), -EINVAL);
    VFT_EQ_INT(vf_ps_gp_send(gp[0], &gm, s[0], 100), 0);
    VFT_EQ_INT(vf_ps_gp_recv(gp[1], &got, &fd), 0);
    VFT_CHECK(fd >= 0 && fd != s[0] && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode));
    VFT_CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    VFT_EQ_STR(got.name, "vm2");
    VFT_EQ_INT(write(fd, "x", 1), 1);       /* the same connection */
    {
        char c = 0;

        VFT_CHECK(read(s[1], &c, 1) == 1 && c == 'x');
    }
    close(fd);
    gm.kind = VF_PS_G_GONE;
    VFT_EQ_INT(vf_ps_gp_send(gp[0], &gm, s[0], 100), -EINVAL);
    VFT_EQ_INT(vf_ps_gp_send(gp[0], &gm, -1, 100), 0);
    VFT_EQ_INT(vf_ps_gp_recv(gp[1], &got, &fd), 0);
    VFT_CHECK(got.kind == VF_PS_G_GONE && fd == -1);
    /* hostile datagrams: a GONE with a descriptor, a GUEST without, a
     * GUEST with a non-socket, junk: refused, descriptors closed */
    {
        struct vf_ps_guest bad = gm;
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        struct msghdr mh = { 0 };
        struct iovec iov = { .iov_base = b, .iov_len = sizeof(b) };
        union {
            struct cmsghdr h;
            char c[CMSG_SPACE(sizeof(int))];
        } cm;
        int fds_before = 0, fds_after = 0;

        memset(&cm, 0, sizeof(cm));
        for (int i = 0; i < 3; i++) {
            int send_fd = i == 1 ? -1 : i == 0 ? s[0] : devnull;

            bad.kind = i == 0 ? VF_PS_G_GONE : VF_PS_G_GUEST;
            VFT_EQ_INT(vf_ps_guest_encode(&bad, b, sizeof(b)), 0);
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            mh.msg_control = send_fd >= 0 ? cm.c : NULL;
            mh.msg_controllen = send_fd >= 0 ? sizeof(cm.c) : 0;
            if (send_fd >= 0) {
                cm.h.cmsg_level = SOL_SOCKET;
                cm.h.cmsg_type = SCM_RIGHTS;
                cm.h.cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(&cm.h), &send_fd, sizeof(int));
            }
            VFT_EQ_INT(sendmsg(gp[0], &mh, 0), (ssize_t)sizeof(b));
            fds_before = dup(0);
            close(fds_before);
            VFT_EQ_INT(vf_ps_gp_recv(gp[1], &got, &fd), -EBADMSG);
            VFT_EQ_INT(fd, -1);
            fds_after = dup(0);     /* the lowest free descriptor: none leaked */
            close(fds_after);
            VFT_EQ_INT(fds_after, fds_before);
        }
        VFT_EQ_INT(send(gp[0], "VFPGjunk", 8, 0), 8);
        VFT_EQ_INT(vf_ps_gp_recv(gp[1], &got, &fd), -EBADMSG);
        close(devnull);
    }
    /* the peer gone */
    close(gp[0]);
    VFT_EQ_INT(vf_ps_gp_recv(gp[1], &got, &fd), -EPIPE);
    gm.kind = VF_PS_G_SYNC;
    gm.gen = 0;
    gm.uuid[0] = gm.name[0] = gm.path[0] = '\0';
    VFT_EQ_INT(vf_ps_gp_send(gp[1], &gm, -1, 100), -EPIPE);
    close(gp[1]);
    close(s[0]);
    close(s[1]);
}

/* ---- the control pair and staged keys of an in-place reload (handover.c) ---- */

static void
test_handover_ctl(void)
{
    int sv[2];
    int t1 = vf_ps_text_fd("a", 1);
    int t2 = vf_ps_text_fd("bb", 2);
    int n1 = -1, n2 = -1;
    int res = 7;
    char buf[4] = "";
    uint8_t bad[8] = { 'V', 'F', 'P', 'D', 0, 0, 0, 5 };

    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    VFT_CHECK(t1 >= 0 && t2 >= 0);
    VFT_EQ_INT(vf_ps_ctl_send_reload(sv[0], t1, t2), 0);
    VFT_EQ_INT(vf_ps_ctl_recv_reload(sv[1], &n1, &n2), 0);
    VFT_CHECK(n1 >= 0 && n2 >= 0 && n1 != t1);
    VFT_CHECK(n2 >= 0 && pread(n2, buf, sizeof(buf), 0) == 2 && strncmp(buf, "bb", 2) == 0);
    VFT_EQ_INT(vf_ps_ctl_send_done(sv[1], VF_PS_CTL_NONE_LEFT), 0);
    VFT_EQ_INT(vf_ps_ctl_recv_done(sv[0], 1000, &res), 0);
    VFT_EQ_INT(res, VF_PS_CTL_NONE_LEFT);
    /* from the unprivileged side: an unknown result or a wrong size is refused */
    VFT_CHECK(send(sv[1], bad, sizeof(bad), 0) == (ssize_t)sizeof(bad));
    VFT_EQ_INT(vf_ps_ctl_recv_done(sv[0], 1000, &res), -EBADMSG);
    VFT_CHECK(send(sv[1], bad, 5, 0) == 5);
    VFT_EQ_INT(vf_ps_ctl_recv_done(sv[0], 1000, &res), -EBADMSG);
    VFT_EQ_INT(vf_ps_ctl_recv_done(sv[0], 100, &res), -ETIMEDOUT);
    /* a RELOAD without its descriptors is refused */
    VFT_CHECK(send(sv[0], "VFPR\0\0\0\1", 8, 0) == 8);
    VFT_EQ_INT(vf_ps_ctl_recv_reload(sv[1], &n1, &n2), -EBADMSG);
    /* ... and so is one with a descriptor too many (privsep/scm.c) */
    {
        const int three[3] = { t1, t2, t1 };

        VFT_EQ_INT((int)vf_ps_scm_send(sv[0], "VFPR\0\0\0\1", 8, three, 3, 0), 8);
        VFT_EQ_INT(vf_ps_ctl_recv_reload(sv[1], &n1, &n2), -EBADMSG);
    }
    close(sv[0]);
    VFT_EQ_INT(vf_ps_ctl_recv_reload(sv[1], &n1, &n2), -EPIPE);
    close(sv[1]);
    close(t1);
    close(t2);
}

static void
test_handover_keys(void)
{
    char root[] = "/tmp/test-privsep-root.XXXXXX";
    char key[300];
    char staged[400];
    char conf_text[800];
    char names[2][32] = { "tcp", "multicast" };
    struct vf_conf *conf = NULL;
    char err[512] = "";
    const char *v = NULL;
    struct stat st;
    int fd = -1;

    VFT_CHECK(mkdtemp(root) != NULL);
    snprintf(key, sizeof(key), "%s.key", root);
    fd = open(key, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    VFT_CHECK(fd >= 0 && write(fd, "secret", 6) == 6);
    if (fd >= 0) {
        close(fd);
    }
    /* tcp names its key; multicast has no block (the default key: absent here) */
    snprintf(conf_text, sizeof(conf_text), "fence_virtd { listener = \"tcp\"; }\n"
             "listeners { tcp { port = \"1229\"; key_file = \"%s\"; } }\n", key);
    VFT_EQ_INT(vf_conf_parse_buffer("t.conf", conf_text, strlen(conf_text), &conf, err,
                                    sizeof(err)), 0);
    VFT_EQ_INT(vf_ps_keys_stage(conf, names, 1, root, getuid(), getgid(), err, sizeof(err)), 0);
    v = vf_conf_get(conf, "listeners/tcp/key_file", "");
    VFT_CHECK(strncmp(v, "/keys/k", 7) == 0);
    VFT_EQ_STR(vf_conf_get(conf, "listeners/tcp/port", ""), "1229");
    snprintf(staged, sizeof(staged), "%s%s", root, v);
    VFT_EQ_INT(stat(staged, &st), 0);
    VFT_EQ_INT((int)(st.st_mode & 0777), 0400);
    VFT_EQ_INT((int)st.st_size, 6);
    /* a listener without a block gets one, pointing at its staged key */
    VFT_EQ_INT(vf_ps_keys_stage(conf, names + 1, 1, root, getuid(), getgid(), err,
                                sizeof(err)), 0);
    vf_ps_keys_unstage(root);
    VFT_CHECK(stat(staged, &st) < 0 && errno == ENOENT);
    VFT_EQ_INT(rmdir(root), 0);         /* empty again */
    unlink(key);
    vf_conf_free(conf);
}

int
main(void)
{
    vf_log_init("test-privsep", VF_LOG_STDERR, 0);
    VFT_RUN(test_msg_roundtrip);
    VFT_RUN(test_proxy_ops);
    VFT_RUN(test_proxy_concurrent);
    VFT_RUN(test_proxy_turns);
    VFT_RUN(test_groups_recheck);
    VFT_RUN(test_dead_executor);
    VFT_RUN(test_hostile_request);
    VFT_RUN(test_expired_request);
    VFT_RUN(test_fuzzed_requests);
    VFT_RUN(test_guest_msg);
    VFT_RUN(test_guest_pair);
    VFT_RUN(test_handover_ctl);
    VFT_RUN(test_handover_keys);
    return vft_exit_status();
}
