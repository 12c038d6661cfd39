/*
 * vmfence - daemon/tests/pipeline-fakes.c: FAKES for the pipeline tests
 * (test-pipeline.c, test-pipeline-limits.c), which run the request pipeline
 * without sockets or hypervisor.
 *
 * FAKES (marked as such): a fake backend (three domains in memory, with an
 * optional delay per operation so that concurrency can be observed) and a
 * fake listener whose connections record the response bytes and host list
 * records instead of writing to a socket.  No checks here (vftest.h counts
 * per test program): these functions return results, the tests check them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
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

/* ---- FAKE backend ------------------------------------------------------------ */

struct fdom {
    const char *name;
    const char *uuid;
    bool on;
};
static struct fdom doms[] = {
    { "vm1", "5ca1ab1e-0000-4000-8000-000000000001", true },
    { "vm2", "5ca1ab1e-0000-4000-8000-000000000002", false },
    { "vm3", "5ca1ab1e-0000-4000-8000-000000000003", true },
};
static pthread_mutex_t fb_mu = PTHREAD_MUTEX_INITIALIZER;
atomic_int pf_delay_ms;          /* applied to off/on/reboot/status */
atomic_int pf_vm1_delay_ms;      /* extra, for operations on vm1 only */
atomic_int pf_calls;             /* off/on/reboot/status calls */
atomic_int pf_max_same;   /* max concurrent ops on vm1 */
static atomic_int fb_vm1_active;

static struct fdom *
fb_find(const char *t)
{
    for (size_t i = 0; i < sizeof(doms) / sizeof(doms[0]); i++) {
        if (strcasecmp(doms[i].name, t) == 0 || strcasecmp(doms[i].uuid, t) == 0) {
            return &doms[i];
        }
    }
    return NULL;
}

static int
fb_init(const struct vf_host_api *host, const struct vf_conf *conf, void **ret_priv,
        char *err, size_t err_len)
{
    *ret_priv = NULL;
    return 0;
}

static void
fb_fini(void *priv)
{
}

static int
fb_lookup(void *priv, const char *target, unsigned int flags, struct vf_domain_info *ret,
          int64_t deadline_ms)
{
    struct fdom *d = fb_find(target);

    if (d == NULL) {
        return -ENOENT;
    }
    memset(ret, 0, sizeof(*ret));
    snprintf(ret->name, sizeof(ret->name), "%s", d->name);
    snprintf(ret->uuid, sizeof(ret->uuid), "%s", d->uuid);
    ret->state = d->on ? VF_STATE_RUNNING : VF_STATE_SHUTOFF;
    return 0;
}

/* common part of the power operations: delay, bookkeeping */
static struct fdom *
fb_enter(const char *target)
{
    struct fdom *d = fb_find(target);
    int n = 0;

    atomic_fetch_add(&pf_calls, 1);
    if (d == &doms[0]) {
        n = atomic_fetch_add(&fb_vm1_active, 1) + 1;
        if (n > atomic_load(&pf_max_same)) {
            atomic_store(&pf_max_same, n);
        }
    }
    n = atomic_load(&pf_delay_ms) + (d == &doms[0] ? atomic_load(&pf_vm1_delay_ms) : 0);
    if (n > 0) {
        struct timespec ts = { n / 1000, (n % 1000) * 1000000L };

        nanosleep(&ts, NULL);
    }
    return d;
}

static void
fb_leave(const struct fdom *d)
{
    if (d == &doms[0]) {
        atomic_fetch_sub(&fb_vm1_active, 1);
    }
}

/* the common part of the power operations and status: @ret_on NULL sets
 * the domain to @on, else reads it into *@ret_on */
static int
fb_apply(const char *target, bool on, bool *ret_on)
{
    struct fdom *d = NULL;

    if (strcmp(target, PF_POSITIVE) == 0) {
        atomic_fetch_add(&pf_calls, 1);
        return 1;
    }
    d = fb_enter(target);
    if (d == NULL) {
        return -ENOENT;
    }
    pthread_mutex_lock(&fb_mu);
    if (ret_on != NULL) {
        *ret_on = d->on;
    } else {
        d->on = on;
    }
    pthread_mutex_unlock(&fb_mu);
    fb_leave(d);
    return 0;
}

static int
fb_off(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    return fb_apply(target, false, NULL);
}

static int
fb_on(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    return fb_apply(target, true, NULL);
}

static int
fb_reboot(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    return fb_apply(target, true, NULL);
}

static int
fb_status(void *priv, const char *target, unsigned int flags, bool *ret_on,
          int64_t deadline_ms)
{
    return fb_apply(target, false, ret_on);
}

static int
fb_list(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms)
{
    for (size_t i = 0; i < sizeof(doms) / sizeof(doms[0]); i++) {
        struct vf_domain_info di;
        int r = 0;

        fb_lookup(priv, doms[i].name, 0, &di, deadline_ms);
        r = cb(arg, &di);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

const struct vf_backend_ops pf_backend = {
    .name = "fake", .version = "0", .init = fb_init, .fini = fb_fini,
    .lookup = fb_lookup, .off = fb_off, .on = fb_on, .reboot = fb_reboot,
    .status = fb_status, .list = fb_list,
};

/* ---- FAKE listener and connections ------------------------------------------- */

const struct vf_daemon_api *pf_api;

/* the first instance's API is the one the tests submit through; every
 * instance (test_listener_slots_survive_reloads starts more) polls its own */
static int
fl_init(const struct vf_conf *conf, const struct vf_daemon_api *a, void **ret_priv,
        char *err, size_t err_len)
{
    if (pf_api == NULL) {
        pf_api = a;
    }
    *ret_priv = (void *)a;
    return 0;
}

static int
fl_run(void *priv)
{
    const struct vf_daemon_api *mine = priv;

    while (!mine->stopping(mine->ctx)) {
        usleep(20000);
    }
    return 0;
}

static void
fl_fini(void *priv)
{
}

const struct vf_listener_ops pf_listener = {
    .name = "fake", .version = "0", .init = fl_init, .run = fl_run, .fini = fl_fini,
};

static int
fc_send_response(struct vf_conn *c, uint8_t resp, int64_t deadline_ms)
{
    struct pf_conn *fc = (struct pf_conn *)c;

    pthread_mutex_lock(&fc->mu);
    if (fc->n_resp < 8) {
        fc->resp[fc->n_resp++] = resp;
    }
    pthread_mutex_unlock(&fc->mu);
    return 0;
}

static int
fc_send_hs(struct vf_conn *c, const struct vf_host_state *hs, int64_t deadline_ms)
{
    struct pf_conn *fc = (struct pf_conn *)c;

    pthread_mutex_lock(&fc->mu);
    if (fc->n_recs < 8) {
        fc->recs[fc->n_recs++] = *hs;
    }
    pthread_mutex_unlock(&fc->mu);
    return 0;
}

static void
fc_close(struct vf_conn *c)
{
    struct pf_conn *fc = (struct pf_conn *)c;

    pthread_mutex_lock(&fc->mu);
    fc->closed = true;
    fc->done_ms = vf_now_ms();
    pthread_cond_broadcast(&fc->cv);
    pthread_mutex_unlock(&fc->mu);
}

static const struct vf_conn_ops fconn_ops = {
    .send_response = fc_send_response, .send_host_state = fc_send_hs, .close = fc_close,
};

/* FAKE multicast-style reply channel: sleeps open_delay_ms, returns open_rc */
atomic_int pf_open_calls;           /* FAKE connect-backs attempted */

static int
fc_open(struct vf_conn *c, int64_t deadline_ms)
{
    struct pf_conn *fc = (struct pf_conn *)c;

    atomic_fetch_add(&pf_open_calls, 1);

    if (fc->open_delay_ms > 0) {
        struct timespec ts = { fc->open_delay_ms / 1000, (fc->open_delay_ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
    }
    return fc->open_rc;
}

const struct vf_conn_ops pf_conn_cb_ops = {
    .open = fc_open, .send_response = fc_send_response, .send_host_state = fc_send_hs,
    .close = fc_close,
};

struct vf_key pf_key;
static uint32_t seq = 1000;

int
pf_prepare(struct pf_conn *fc, const char *identity, uint8_t cmd, const char *domain,
           enum vf_hash hash, const struct vf_key *k)
{
    int r = 0;

    memset(fc, 0, sizeof(*fc));
    pthread_mutex_init(&fc->mu, NULL);
    pthread_cond_init(&fc->cv, NULL);
    fc->conn.ops = &fconn_ops;
    fc->conn.listener = "fake";
    snprintf(fc->conn.peer, sizeof(fc->conn.peer), "%s:1", identity);
    snprintf(fc->conn.identity, sizeof(fc->conn.identity), "%s", identity);
    fc->conn.req.request = cmd;
    fc->conn.req.hashtype = hash;
    fc->conn.req.seqno = seq++;
    snprintf(fc->conn.req.domain, sizeof(fc->conn.req.domain), "%s", domain);
    if (k == NULL) {
        k = &pf_key;
    }
    r = vf_req_sign(&fc->conn.req, k->data, k->len, fc->conn.raw);
    fc->conn.is_signed = true;
    fc->conn.min_hash = VF_HASH_SHA256;
    fc->conn.auth = VF_HASH_NONE;
    fc->conn.key = &pf_key;
    fc->conn.fd = -1;
    return r;
}

bool
pf_wait(struct pf_conn *fc)
{
    struct timespec ts;
    bool closed = false;
    int r = 0;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&fc->mu);
    while (!fc->closed && r != ETIMEDOUT) {
        r = pthread_cond_timedwait(&fc->cv, &fc->mu, &ts);
    }
    closed = fc->closed;
    pthread_mutex_unlock(&fc->mu);
    return closed;
}

/* ---- set-up and tear-down of the pipeline under test -------------------------- */

int
pf_start(struct vf_listener_inst **ret_li, char *err, size_t err_len)
{
    struct vf_groups *g = NULL;
    struct vf_backend_inst *be = NULL;
    int r = 0;

    *ret_li = NULL;
    pf_key.len = 32;
    for (size_t i = 0; i < pf_key.len; i++) {
        pf_key.data[i] = (uint8_t)i;
    }
    r = vf_pipeline_init();
    if (r < 0) {
        snprintf(err, err_len, "vf_pipeline_init: %d", r);
        return r;
    }
    r = vf_groups_load(NULL, &g, err, err_len);
    if (r < 0) {
        return r;
    }
    be = vf_backend_inst_new(&pf_backend, NULL);
    r = vf_pipeline_set_config(g, be);
    vf_backend_inst_unref(be);
    if (r < 0) {
        snprintf(err, err_len, "vf_pipeline_set_config: %d", r);
        return r;
    }
    return vf_listener_start(&pf_listener, NULL, ret_li, err, err_len);
}

int
pf_stop(struct vf_listener_inst *li)
{
    int r = 0;

    vf_pipeline_stop();
    vf_listener_stop(li, 5000);
    r = vf_pipeline_drain(5000);
    vf_pipeline_fini();
    return r;
}
