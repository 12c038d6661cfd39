/*
 * vmfence - daemon/tests/test-privsep.c: the privsep messages (msg.c) and
 * the proxy backend against the executor over a real socketpair, with a
 * FAKE backend (three domains in memory, no libvirt).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "groups.h"
#include "io.h"
#include "log.h"
#include "pipeline.h"
#include "privsep/msg.h"
#include "privsep/privsep.h"
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

/* ---- messages ---------------------------------------------------------------- */

static void
test_msg_roundtrip(void)
{
    struct vf_ps_req rq = { .op = VF_PS_OP_OFF, .id = 0x0102030405060708ull,
                            .flags = VF_BE_BY_UUID, .timeout_ms = 30000 };
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
    /* size, magic, version, op, flags, timeout, NUL inside, padding */
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b) - 1, &rq2), -EBADMSG);
    b[0] ^= 1;
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    b[0] ^= 1;
    b[5] = 2;
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    b[5] = 1;
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
    struct vf_ps_req rq = { .op = VF_PS_OP_OFF, .id = 1, .timeout_ms = 1000 };
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

int
main(void)
{
    vf_log_init("test-privsep", VF_LOG_STDERR, 0);
    VFT_RUN(test_msg_roundtrip);
    VFT_RUN(test_proxy_ops);
    VFT_RUN(test_proxy_concurrent);
    VFT_RUN(test_groups_recheck);
    VFT_RUN(test_dead_executor);
    VFT_RUN(test_hostile_request);
    return vft_exit_status();
}
