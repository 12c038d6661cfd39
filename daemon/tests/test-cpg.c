/*
 * vmfence - daemon/tests/test-cpg.c: unit tests of the cpg backend
 * (daemon/backends/cpg*.c, linked; internals through backends/cpg-int.h).
 *
 * Faked, and why:
 *  - libcpg: the cpg_* functions below replace the library (this program is
 *    not linked with -lcpg).  They simulate a group with this process
 *    (nodeid 1) and one other member "peer" (nodeid 2, pid 222); messages
 *    go through an in-memory queue and a pipe whose read end is the "CPG
 *    fd", so the backend's own CPG thread dispatches them as with corosync.
 *    The peer answers REQUESTs addressed to it from cpg_mcast_joined()
 *    according to peer_mode (answer, stay silent, ...): a request for a
 *    domain in the list it announced last gets peer_result / peer_on; any
 *    other target is answered from its "hidden" domain (one it runs but
 *    has not announced yet, as right after a migration), else -ENOENT,
 *    as the peer's libvirt would.
 *    corosync reports this process with a pid other than getpid() (as in a
 *    PID namespace), so the backend must learn its CPG identity.
 *  - libvirt: the host API's find_backend("libvirt") returns fake ops over a small
 *    in-memory domain table, so the local side needs no hypervisor.
 * The real two-node test with corosync is tests/interop/cpg-cluster.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "backends/cpg-int.h"
#include "vftest.h"

#define PEER_NODE 2u
#define PEER_PID  222u
#define U_H1A   "5ca1ab1e-0000-4000-8001-000000000001"
#define U_WEB1  "5ca1ab1e-0000-4000-8001-000000000002"
#define U_G2A   "5ca1ab1e-0000-4000-8002-000000000001"
#define U_WEB2  "5ca1ab1e-0000-4000-8002-000000000002"
#define U_NONE  "5ca1ab1e-0000-4000-8009-000000000009"

/* ---- fake libcpg --------------------------------------------------------- */

struct fq_item {
    struct fq_item *next;
    bool confchg;
    uint32_t nodeid, pid;
    uint8_t *buf;
    size_t len;
    struct cpg_address members[4], left[4], joined[4];
    size_t n_members, n_left, n_joined;
};

enum peer_mode { PEER_ANSWER, PEER_SILENT };

static pthread_mutex_t fq_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fq_item *fq_head, **fq_tail = &fq_head;
static int fq_pipe[2] = { -1, -1 };
static cpg_callbacks_t *f_cbs;
static void *f_ctx;
static bool f_valid;
/* the pid corosync reports for this process: deliberately not getpid(), as
 * with fence_virtd in its own PID namespace (the backend must learn it) */
static uint32_t f_mypid;
static bool f_fail_init;
static bool f_fail_dispatch;
static int f_inits;
/* peer behaviour and observations (fq_lock) */
static enum peer_mode peer_mode = PEER_ANSWER;
static int peer_result;
static bool peer_on = true;
static int peer_requests;
static struct vf_cpgw_request peer_last;
static int my_states;
static size_t my_last_state_n;
/* the peer's last announced list, and a domain it runs without having
 * announced it (peer_hidden.uuid[0] == '\0': none) */
static struct vf_cpgw_dom peer_ann[8];
static size_t peer_n_ann;
static struct vf_cpgw_dom peer_hidden;
static int peer_hidden_reqs;

/* fq_lock held: does @d match the REQUEST target? */
static bool
peer_matches(const struct vf_cpgw_dom *d, const struct vf_cpgw_request *rq)
{
    if ((rq->flags & VF_CPGW_REQ_BY_UUID) == 0 && strcmp(d->name, rq->target) == 0) {
        return true;
    }
    return d->uuid[0] != '\0' && strcasecmp(d->uuid, rq->target) == 0;
}

/* fq_lock held: the answer of the peer to a request for a domain it did not announce */
static void
peer_answer_unlisted(const struct vf_cpgw_request *rq, struct vf_cpgw_reply *rep)
{
    rep->result = -ENOENT;
    rep->on = false;
    if (peer_hidden.uuid[0] == '\0' || !peer_matches(&peer_hidden, rq)) {
        return;
    }
    peer_hidden_reqs++;
    rep->result = 0;
    if (rq->op == VF_CMD_OFF) {
        peer_hidden.state = VF_STATE_SHUTOFF;
    } else if (rq->op == VF_CMD_ON || rq->op == VF_CMD_REBOOT) {
        peer_hidden.state = VF_STATE_RUNNING;
    }
    rep->on = peer_hidden.state != VF_STATE_SHUTOFF;
}

static void
fq_push(struct fq_item *it)
{
    char c = 'x';

    pthread_mutex_lock(&fq_lock);
    it->next = NULL;
    *fq_tail = it;
    fq_tail = &it->next;
    pthread_mutex_unlock(&fq_lock);
    if (write(fq_pipe[1], &c, 1) != 1) {
        fprintf(stderr, "fake cpg: pipe write failed\n");
    }
}

static void
fq_deliver(uint32_t nodeid, uint32_t pid, const uint8_t *buf, size_t len)
{
    struct fq_item *it = calloc(1, sizeof(*it));

    if (it == NULL) {
        abort();
    }
    it->nodeid = nodeid;
    it->pid = pid;
    it->buf = malloc(len > 0 ? len : 1);
    if (it->buf == NULL) {
        abort();
    }
    memcpy(it->buf, buf, len);
    it->len = len;
    fq_push(it);
}

static struct cpg_address
addr(uint32_t nodeid, uint32_t pid)
{
    struct cpg_address a = { .nodeid = nodeid, .pid = pid, .reason = 0 };

    return a;
}

/* membership: me (+ the peer when @with_peer); @peer_left: the peer left */
static void
fq_confchg(bool with_peer, bool peer_left, bool me_joined)
{
    struct fq_item *it = calloc(1, sizeof(*it));

    if (it == NULL) {
        abort();
    }
    it->confchg = true;
    it->members[it->n_members++] = addr(1, f_mypid);
    if (with_peer) {
        it->members[it->n_members++] = addr(PEER_NODE, PEER_PID);
    }
    if (peer_left) {
        it->left[it->n_left++] = addr(PEER_NODE, PEER_PID);
    }
    if (me_joined) {
        it->joined[it->n_joined++] = addr(1, f_mypid);
    }
    fq_push(it);
}

cs_error_t
cpg_initialize(cpg_handle_t *handle, cpg_callbacks_t *callbacks)
{
    pthread_mutex_lock(&fq_lock);
    f_inits++;
    if (f_fail_init) {
        pthread_mutex_unlock(&fq_lock);
        return CS_ERR_LIBRARY;
    }
    f_cbs = callbacks;
    f_valid = true;
    pthread_mutex_unlock(&fq_lock);
    *handle = 0x1234;
    return CS_OK;
}

cs_error_t
cpg_finalize(cpg_handle_t handle)
{
    (void)handle;
    pthread_mutex_lock(&fq_lock);
    f_valid = false;
    pthread_mutex_unlock(&fq_lock);
    return CS_OK;
}

cs_error_t
cpg_fd_get(cpg_handle_t handle, int *fd)
{
    (void)handle;
    *fd = fq_pipe[0];
    return CS_OK;
}

cs_error_t
cpg_context_get(cpg_handle_t handle, void **context)
{
    (void)handle;
    *context = f_ctx;
    return CS_OK;
}

cs_error_t
cpg_context_set(cpg_handle_t handle, void *context)
{
    (void)handle;
    f_ctx = context;
    return CS_OK;
}

cs_error_t
cpg_local_get(cpg_handle_t handle, unsigned int *local_nodeid)
{
    (void)handle;
    *local_nodeid = 1;
    return CS_OK;
}

cs_error_t
cpg_join(cpg_handle_t handle, const struct cpg_name *group)
{
    (void)handle;
    (void)group;
    fq_confchg(true, false, true);
    return CS_OK;
}

cs_error_t
cpg_leave(cpg_handle_t handle, const struct cpg_name *group)
{
    (void)handle;
    (void)group;
    return CS_OK;
}

/* members of fence-virt's group "fence-agents" (a reference daemon), listed by
 * cpg_iteration_*: f_ref_node 0 = none */
static uint32_t f_ref_node;
static int f_iter_pos;

cs_error_t
cpg_iteration_initialize(cpg_handle_t handle, cpg_iteration_type_t type,
                         const struct cpg_name *group, cpg_iteration_handle_t *ret)
{
    (void)handle;
    (void)type;
    pthread_mutex_lock(&fq_lock);
    f_iter_pos = group != NULL && group->length == 12 &&
                 memcmp(group->value, "fence-agents", 12) == 0 && f_ref_node != 0 ? 0 : 1;
    pthread_mutex_unlock(&fq_lock);
    *ret = 0x77;
    return CS_OK;
}

cs_error_t
cpg_iteration_next(cpg_iteration_handle_t it, struct cpg_iteration_description_t *d)
{
    cs_error_t e = CS_ERR_NO_SECTIONS;

    (void)it;
    pthread_mutex_lock(&fq_lock);
    if (f_iter_pos == 0) {
        memset(d, 0, sizeof(*d));
        d->nodeid = f_ref_node;
        d->pid = 4444;
        f_iter_pos = 1;
        e = CS_OK;
    }
    pthread_mutex_unlock(&fq_lock);
    return e;
}

cs_error_t
cpg_iteration_finalize(cpg_iteration_handle_t it)
{
    (void)it;
    return CS_OK;
}

cs_error_t
cpg_dispatch(cpg_handle_t handle, cs_dispatch_flags_t dispatch_types)
{
    struct fq_item *it;
    char drain[64];

    (void)dispatch_types;
    while (read(fq_pipe[0], drain, sizeof(drain)) > 0) {
    }
    pthread_mutex_lock(&fq_lock);
    if (f_fail_dispatch) {
        f_fail_dispatch = false;
        pthread_mutex_unlock(&fq_lock);
        return CS_ERR_BAD_HANDLE;
    }
    pthread_mutex_unlock(&fq_lock);
    for (;;) {
        pthread_mutex_lock(&fq_lock);
        it = fq_head;
        if (it != NULL) {
            fq_head = it->next;
            if (fq_head == NULL) {
                fq_tail = &fq_head;
            }
        }
        pthread_mutex_unlock(&fq_lock);
        if (it == NULL) {
            break;
        }
        if (it->confchg) {
            f_cbs->cpg_confchg_fn(handle, NULL, it->members, it->n_members, it->left, it->n_left,
                                  it->joined, it->n_joined);
        } else {
            f_cbs->cpg_deliver_fn(handle, NULL, it->nodeid, it->pid, it->buf, it->len);
        }
        free(it->buf);
        free(it);
    }
    return CS_OK;
}

/* Loop the message back (CPG delivers to the sender too) and let the peer react. */
cs_error_t
cpg_mcast_joined(cpg_handle_t handle, cpg_guarantee_t guarantee,
                 const struct iovec *iov, unsigned int iov_len)
{
    struct vf_cpgw_msg m;
    struct vf_cpgw_reply rep;
    uint8_t out[64];
    size_t len = 0;
    bool answer = false;

    (void)handle;
    (void)guarantee;
    if (iov_len != 1) {
        return CS_ERR_INVALID_PARAM;
    }
    pthread_mutex_lock(&fq_lock);
    if (!f_valid) {
        pthread_mutex_unlock(&fq_lock);
        return CS_ERR_BAD_HANDLE;
    }
    pthread_mutex_unlock(&fq_lock);
    fq_deliver(1, f_mypid, iov->iov_base, iov->iov_len);
    memset(&m, 0, sizeof(m));
    if (vf_cpgw_decode(iov->iov_base, iov->iov_len, &m) < 0) {
        return CS_OK;
    }
    pthread_mutex_lock(&fq_lock);
    if (m.type == VF_CPGW_STATE) {
        my_states++;
        my_last_state_n = m.n_doms;
    } else if (m.type == VF_CPGW_REQUEST && m.req.nodeid == PEER_NODE && m.req.pid == PEER_PID) {
        peer_requests++;
        peer_last = m.req;
        if (peer_mode == PEER_ANSWER) {
            size_t i;

            memset(&rep, 0, sizeof(rep));
            rep.id = m.req.id;
            rep.nodeid = 1;
            rep.pid = f_mypid;
            rep.result = peer_result;
            rep.on = peer_on;
            for (i = 0; i < peer_n_ann && !peer_matches(&peer_ann[i], &m.req); i++) {
            }
            if (i == peer_n_ann) {
                peer_answer_unlisted(&m.req, &rep);
            }
            answer = vf_cpgw_encode_reply(&rep, out, sizeof(out), &len) == 0;
        }
    }
    pthread_mutex_unlock(&fq_lock);
    vf_cpgw_msg_done(&m);
    if (answer) {
        fq_deliver(PEER_NODE, PEER_PID, out, len);
    }
    return CS_OK;
}

/* ---- fake libvirt backend -------------------------------------------------- */

struct fdom {
    const char *name;
    const char *uuid;
    int state;
};

static pthread_mutex_t fl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fdom fdoms[] = {
    { "h1-a", U_H1A, VF_STATE_RUNNING },
    { "web", U_WEB1, VF_STATE_SHUTOFF },
};
static bool fl_down;
static char fl_uri[256];
static int fl_offs;
static int64_t fl_status_deadline;     /* deadline of the last status call */

static int
fl_find(const char *target, unsigned int flags)
{
    size_t i;

    for (i = 0; i < sizeof(fdoms) / sizeof(fdoms[0]); i++) {
        if (((flags & VF_BE_BY_UUID) == 0 && strcmp(fdoms[i].name, target) == 0) ||
            strcasecmp(fdoms[i].uuid, target) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int
fl_init(const struct vf_host_api *host, const struct vf_conf *conf, void **ret_priv,
        char *err, size_t err_len)
{
    (void)host;
    (void)err;
    (void)err_len;
    snprintf(fl_uri, sizeof(fl_uri), "%s", vf_conf_get(conf, "backends/libvirt/uri", "(none)"));
    *ret_priv = &fdoms;
    return 0;
}

static void
fl_fini(void *priv)
{
    (void)priv;
}

static int
fl_lookup(void *priv, const char *target, unsigned int flags, struct vf_domain_info *ret,
          int64_t deadline_ms)
{
    int i, r = 0;

    (void)priv;
    (void)deadline_ms;
    pthread_mutex_lock(&fl_lock);
    i = fl_find(target, flags);
    if (fl_down) {
        r = -EHOSTDOWN;
    } else if (i < 0) {
        r = -ENOENT;
    } else {
        memset(ret, 0, sizeof(*ret));
        snprintf(ret->name, sizeof(ret->name), "%s", fdoms[i].name);
        snprintf(ret->uuid, sizeof(ret->uuid), "%s", fdoms[i].uuid);
        ret->state = fdoms[i].state;
        ret->persistent = true;
    }
    pthread_mutex_unlock(&fl_lock);
    return r;
}

static int
fl_set(const char *target, unsigned int flags, int state, bool *ret_on)
{
    int i, r = 0;

    pthread_mutex_lock(&fl_lock);
    i = fl_find(target, flags);
    if (fl_down) {
        r = -EHOSTDOWN;
    } else if (i < 0) {
        r = -ENOENT;
    } else if (ret_on != NULL) {
        *ret_on = fdoms[i].state != VF_STATE_SHUTOFF;
    } else {
        if (state == VF_STATE_SHUTOFF) {
            fl_offs++;
        }
        fdoms[i].state = state;
    }
    pthread_mutex_unlock(&fl_lock);
    return r;
}

static int
fl_off(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    (void)priv;
    (void)deadline_ms;
    return fl_set(target, flags, VF_STATE_SHUTOFF, NULL);
}

static int
fl_on(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    (void)priv;
    (void)deadline_ms;
    return fl_set(target, flags, VF_STATE_RUNNING, NULL);
}

static int
fl_status(void *priv, const char *target, unsigned int flags, bool *ret_on, int64_t deadline_ms)
{
    (void)priv;
    pthread_mutex_lock(&fl_lock);
    fl_status_deadline = deadline_ms;
    pthread_mutex_unlock(&fl_lock);
    return fl_set(target, flags, 0, ret_on);
}

static int
fl_list(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms)
{
    struct vf_domain_info info;
    size_t i;
    int r = 0;

    (void)priv;
    (void)deadline_ms;
    pthread_mutex_lock(&fl_lock);
    if (fl_down) {
        pthread_mutex_unlock(&fl_lock);
        return -EHOSTDOWN;
    }
    for (i = 0; i < sizeof(fdoms) / sizeof(fdoms[0]) && r == 0; i++) {
        memset(&info, 0, sizeof(info));
        snprintf(info.name, sizeof(info.name), "%s", fdoms[i].name);
        snprintf(info.uuid, sizeof(info.uuid), "%s", fdoms[i].uuid);
        info.state = fdoms[i].state;
        r = cb(arg, &info);
    }
    pthread_mutex_unlock(&fl_lock);
    return r;
}

static int
fl_monitor(void *priv, int64_t deadline_ms)
{
    (void)priv;
    (void)deadline_ms;
    return fl_down ? -EHOSTDOWN : 0;
}

static const struct vf_backend_ops fl_ops = {
    .name = "libvirt", .version = "fake", .init = fl_init, .fini = fl_fini,
    .lookup = fl_lookup, .off = fl_off, .on = fl_on, .reboot = fl_on,
    .status = fl_status, .list = fl_list, .monitor = fl_monitor,
};

/* the same fake with lifecycle events (the watch op): the test fires them */
static vf_domain_event_cb fl_watch_cb;
static void *fl_watch_arg;
static int fl_unwatches;
static bool fl_with_watch;         /* find_backend returns fl_ops_watch */

static int
fl_watch(void *priv, vf_domain_event_cb cb, void *arg)
{
    (void)priv;
    pthread_mutex_lock(&fl_lock);
    fl_watch_cb = cb;
    fl_watch_arg = arg;
    pthread_mutex_unlock(&fl_lock);
    return 0;
}

static void
fl_unwatch(void *priv, vf_domain_event_cb cb, void *arg)
{
    (void)priv;
    pthread_mutex_lock(&fl_lock);
    if (cb == fl_watch_cb && arg == fl_watch_arg) {
        fl_watch_cb = NULL;
        fl_unwatches++;
    }
    pthread_mutex_unlock(&fl_lock);
}

static int fl_lists;

static int
fl_list_counted(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms)
{
    pthread_mutex_lock(&fl_lock);
    fl_lists++;
    pthread_mutex_unlock(&fl_lock);
    return fl_list(priv, cb, arg, deadline_ms);
}

static const struct vf_backend_ops fl_ops_watch = {
    .name = "libvirt", .version = "fake", .init = fl_init, .fini = fl_fini,
    .lookup = fl_lookup, .off = fl_off, .on = fl_on, .reboot = fl_on,
    .status = fl_status, .list = fl_list_counted, .monitor = fl_monitor,
    .watch = fl_watch, .unwatch = fl_unwatch,
};

/* fire one lifecycle event as the libvirt backend would */
static void
fl_event(const char *name, const char *uuid, int state, bool gone)
{
    struct vf_domain_info info;
    vf_domain_event_cb cb;
    void *arg;

    memset(&info, 0, sizeof(info));
    snprintf(info.name, sizeof(info.name), "%s", name);
    snprintf(info.uuid, sizeof(info.uuid), "%s", uuid);
    info.state = state;
    info.persistent = true;
    pthread_mutex_lock(&fl_lock);
    cb = fl_watch_cb;
    arg = fl_watch_arg;
    pthread_mutex_unlock(&fl_lock);
    if (cb != NULL) {
        cb(arg, &info, gone);
    }
}

static const struct vf_backend_ops *
fake_find_backend(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "libvirt") != 0) {
        return NULL;
    }
    return fl_with_watch ? &fl_ops_watch : &fl_ops;
}

/* ---- fake fencer (the host cluster's, through cpg_set_fencer) ------------- */

static pthread_mutex_t ff_lock = PTHREAD_MUTEX_INITIALIZER;
static int ff_quorate = 1;          /* 1, 0, or a negative errno */
static int ff_error;                /* fenced_since fails with it (0: answers) */
static time_t ff_completed;         /* the node's last fencing (0: none) */
static int ff_calls;
static uint32_t ff_last_node;

static int
ff_quorate_fn(void *ctx, int64_t deadline_ms)
{
    int q;

    (void)ctx;
    (void)deadline_ms;
    pthread_mutex_lock(&ff_lock);
    q = ff_quorate;
    pthread_mutex_unlock(&ff_lock);
    return q;
}

static int
ff_fenced_since(void *ctx, uint32_t nodeid, time_t since, struct cpg_fence_rec *ret,
                int64_t deadline_ms)
{
    int r = -ENOENT;

    (void)ctx;
    (void)deadline_ms;
    pthread_mutex_lock(&ff_lock);
    ff_calls++;
    ff_last_node = nodeid;
    if (ff_error != 0) {
        r = ff_error;
    } else if (ff_completed != 0 && ff_completed >= since) {
        memset(ret, 0, sizeof(*ret));
        ret->completed = ff_completed;
        snprintf(ret->action, sizeof(ret->action), "reboot");
        snprintf(ret->delegate, sizeof(ret->delegate), "host3");
        snprintf(ret->origin, sizeof(ret->origin), "host1");
        snprintf(ret->client, sizeof(ret->client), "pacemaker-controld.1234");
        r = 0;
    }
    pthread_mutex_unlock(&ff_lock);
    return r;
}

static const struct cpg_fencer fake_fencer = {
    .quorate = ff_quorate_fn, .fenced_since = ff_fenced_since, .ctx = NULL,
};

static void
ff_set(int quorate, int error, time_t completed)
{
    pthread_mutex_lock(&ff_lock);
    ff_quorate = quorate;
    ff_error = error;
    ff_completed = completed;
    pthread_mutex_unlock(&ff_lock);
}

static void __attribute__((format(printf, 3, 4)))
fake_host_log(void *ctx, int prio, const char *fmt, ...)
{
    va_list ap;

    (void)ctx;
    va_start(ap, fmt);
    vf_logv(prio, fmt, ap);
    va_end(ap);
}

/* FAKE host API: the daemon's registry knows only the fake libvirt */
static const struct vf_host_api fake_host = {
    .find_backend = fake_find_backend, .log = fake_host_log,
};

/* ---- helpers ---------------------------------------------------------------- */

static void
inject_state(const struct vf_cpgw_dom *doms, size_t n, uint32_t gen)
{
    uint8_t buf[4096];
    size_t len = 0;

    pthread_mutex_lock(&fq_lock);
    peer_n_ann = n < 8 ? n : 8;
    memcpy(peer_ann, doms, peer_n_ann * sizeof(*doms));
    pthread_mutex_unlock(&fq_lock);
    if (vf_cpgw_encode_state(gen, doms, n, buf, sizeof(buf), &len) == 0) {
        fq_deliver(PEER_NODE, PEER_PID, buf, len);
    }
}

static void
mkdom(struct vf_cpgw_dom *d, const char *name, const char *uuid, int state)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
    d->state = (uint8_t)state;
}

static int64_t
dl(int ms)
{
    return vf_now_ms() + ms;
}

/* wait (bounded) until the backend knows @target (remote state processed) */
static bool
wait_known(struct cpg_be *be, const char *target, bool want)
{
    struct vf_domain_info info;
    int i;

    for (i = 0; i < 300; i++) {
        bool known = cpg_op_lookup(be, target, 0, &info, dl(1000)) == 0;

        if (known == want) {
            return true;
        }
        vf_sleep_ms(10);
    }
    return false;
}

static bool
wait_monitor(struct cpg_be *be, int want)
{
    int i;

    for (i = 0; i < 100; i++) {
        if (cpg_op_monitor(be, dl(1000)) == want) {
            return true;
        }
        vf_sleep_ms(50);
    }
    return false;
}

struct list_out {
    char names[16][256];
    char uuids[16][40];
    size_t n;
};

static int
list_cb(void *arg, const struct vf_domain_info *d)
{
    struct list_out *o = arg;

    if (o->n < 16) {
        snprintf(o->names[o->n], sizeof(o->names[0]), "%s", d->name);
        snprintf(o->uuids[o->n], sizeof(o->uuids[0]), "%s", d->uuid);
        o->n++;
    }
    return 0;
}

static struct cpg_be *
start(const char *text)
{
    struct vf_conf *conf = NULL;
    char err[512];
    void *priv = NULL;
    int r;

    r = vf_conf_parse_buffer("test.conf", text, strlen(text), &conf, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (r < 0) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    err[0] = '\0';
    r = cpg_init(&fake_host, conf, &priv, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (r < 0) {
        fprintf(stderr, "init: %s\n", err);
    }
    vf_conf_free(conf);
    return priv;
}

static const char *const conf_text =
    "backends { cpg { uri = \"test:///fake\"; reply_timeout = \"1\"; group = \"t-grp\"; } }\n";

/* ---- tests ----------------------------------------------------------------- */

static struct cpg_be *be;

static void
test_join_and_config(void)
{
    VFT_CHECK(wait_monitor(be, 0));
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
    struct vf_conf *conf = NULL;
    char err[512];
    void *priv = NULL;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        VFT_EQ_INT(vf_conf_parse_buffer("bad.conf", bad[i], strlen(bad[i]), &conf, err, sizeof(err)), 0);
        err[0] = '\0';
        VFT_CHECK(cpg_init(&fake_host, conf, &priv, err, sizeof(err)) < 0);
        VFT_CHECK(strstr(err, "bad.conf:1") != NULL);
        vf_conf_free(conf);
        conf = NULL;
    }
}

static void
test_local_broadcast(void)
{
    int i;

    for (i = 0; i < 300; i++) {
        pthread_mutex_lock(&fq_lock);
        bool seen = my_states > 0 && my_last_state_n == 2;
        pthread_mutex_unlock(&fq_lock);
        if (seen) {
            break;
        }
        vf_sleep_ms(10);
    }
    VFT_CHECK(i < 300);
}

static void
test_remote_routing(void)
{
    struct vf_cpgw_dom d[2];
    struct vf_domain_info info;
    bool on = false;

    mkdom(&d[0], "g2-a", U_G2A, VF_STATE_RUNNING);
    mkdom(&d[1], "web", U_WEB2, VF_STATE_RUNNING);
    inject_state(d, 2, 1);
    VFT_CHECK(wait_known(be, "g2-a", true));

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
    peer_result = -ENOENT;      /* the owner no longer has it */
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
    bool on = true;

    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(2000)), 0);
    VFT_CHECK(on);
    VFT_EQ_INT(cpg_op_off(be, "h1-a", 0, dl(2000)), 0);
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(2000)), 0);
    VFT_CHECK(!on);
    VFT_EQ_INT(cpg_op_on(be, U_H1A, 0, dl(2000)), 0);
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(2000)), 0);
    VFT_CHECK(on);
}

static void
test_unknown_never_success(void)
{
    struct vf_domain_info info;
    int before = peer_requests;
    bool on = true;

    VFT_EQ_INT(cpg_op_lookup(be, "no-such", 0, &info, dl(2000)), -ENOENT);
    VFT_EQ_INT(cpg_op_status(be, "no-such", 0, &on, dl(2000)), -ENOENT);
    VFT_EQ_INT(cpg_op_off(be, "no-such", 0, dl(2000)), -ENOENT);
    VFT_EQ_INT(cpg_op_reboot(be, "no-such", 0, dl(2000)), -ENOENT);
    VFT_EQ_INT(cpg_op_on(be, U_NONE, 0, dl(2000)), -ENOENT);
    VFT_EQ_INT(cpg_op_off(be, "", 0, dl(2000)), -ENOENT);
    VFT_EQ_INT(peer_requests, before);      /* nobody was asked */
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
    struct list_out o;

    memset(&o, 0, sizeof(o));
    VFT_EQ_INT(cpg_op_list(be, list_cb, &o, dl(2000)), 0);
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
    struct list_out o;
    int offs = fl_offs, reqs = peer_requests;

    /* the peer now also defines h1-a (same UUID, running there) */
    mkdom(&d[0], "g2-a", U_G2A, VF_STATE_RUNNING);
    mkdom(&d[1], "h1-a", U_H1A, VF_STATE_RUNNING);
    inject_state(d, 2, 2);
    VFT_CHECK(wait_known(be, U_WEB2, false));       /* "web" left the peer's list */
    memset(&o, 0, sizeof(o));
    VFT_EQ_INT(cpg_op_list(be, list_cb, &o, dl(2000)), 0);
    VFT_EQ_INT(o.n, 3);                             /* g2-a, h1-a once, web */
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

/* wait (bounded) until the peer's announcement @gen has been processed */
static bool
wait_gen(uint32_t gen)
{
    bool seen = false;
    int i;

    for (i = 0; i < 300 && !seen; i++) {
        pthread_mutex_lock(&be->lock);
        seen = be->n_owners == 1 && be->owners[0].have_state && be->owners[0].generation == gen;
        pthread_mutex_unlock(&be->lock);
        if (!seen) {
            vf_sleep_ms(10);
        }
    }
    return seen;
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
    inject_state(d, 2, 77);
    VFT_CHECK(wait_gen(77));
    fl_set("h1-a", 0, VF_STATE_RUNNING, NULL);
    peer_mode = PEER_ANSWER;
    peer_result = 0;
    peer_on = false;                /* the peer's copy is off */
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
    inject_state(&d, 1, 90);                    /* the peer's list: no h1-a */
    VFT_CHECK(wait_gen(90));
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
    VFT_EQ_INT(fl_offs, offs + 1);                  /* the local copy was asked too */
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(5000)), 0);
    VFT_CHECK(!on);                                 /* confirmed live everywhere */

    /* the peer cannot confirm: never OFF, never an off success */
    peer_mode = PEER_SILENT;
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(5000)), -ETIMEDOUT);
    VFT_EQ_INT(cpg_op_off(be, "h1-a", 0, dl(5000)), -ETIMEDOUT);
    VFT_EQ_INT(cpg_op_reboot(be, "h1-a", 0, dl(5000)), -ETIMEDOUT);
    VFT_EQ_INT(cpg_op_on(be, "h1-a", 0, dl(5000)), -ETIMEDOUT);
    VFT_EQ_INT(fdoms[0].state, VF_STATE_SHUTOFF);   /* not started */
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
        inject_state(&d, 1, (uint32_t)(10 + i));
    }
    mkdom(&d, "g2-z", U_WEB2, VF_STATE_RUNNING);
    inject_state(&d, 1, 1000);
    VFT_CHECK(wait_known(be, "g2-z", true));
    VFT_CHECK(wait_known(be, "g2-a", false));       /* gone with the new list (D9) */
    pthread_mutex_lock(&be->lock);
    VFT_EQ_INT(be->n_owners, 1);
    VFT_EQ_INT(be->owners[0].n_doms, 1);
    pthread_mutex_unlock(&be->lock);
    /* garbage from the peer is dropped */
    fq_deliver(PEER_NODE, PEER_PID, (const uint8_t *)"garbage!garbage!", 16);
    VFT_CHECK(wait_known(be, "g2-z", true));
}

/* wait (bounded) until @n requests wait for replies */
static bool
wait_pending(int n)
{
    int i, j, used;

    for (i = 0; i < 500; i++) {
        used = 0;
        pthread_mutex_lock(&be->lock);
        for (j = 0; j < CPG_MAX_PENDING; j++) {
            used += be->pending[j].used ? 1 : 0;
        }
        pthread_mutex_unlock(&be->lock);
        if (used == n) {
            return true;
        }
        vf_sleep_ms(10);
    }
    return false;
}

/* wait (bounded) until the backend sees @n other members */
static bool
wait_owners(size_t n)
{
    size_t cur;
    int i;

    for (i = 0; i < 500; i++) {
        pthread_mutex_lock(&be->lock);
        cur = be->n_owners;
        pthread_mutex_unlock(&be->lock);
        if (cur == n) {
            return true;
        }
        vf_sleep_ms(10);
    }
    return false;
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
    VFT_CHECK(wait_pending(1));
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
    struct list_out o;
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
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(1500)), -ETIMEDOUT);
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
    VFT_EQ_INT(cpg_op_list(be, list_cb, &o, dl(2000)), 0);
    for (i = 0; i < o.n && strcmp(o.names[i], "g2-z") != 0; i++) {
    }
    VFT_CHECK(i < o.n);                 /* still offered to dynamic lists */

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

static void
test_unannounced_member(void)
{
    /* the peer is back but has not announced anything yet */
    fq_confchg(true, false, false);
    VFT_CHECK(wait_owners(1));
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(2000)), -EHOSTDOWN);
}

/* Issue 10 item 4: the lost host rejoins and announces: its lost entries
 * disappear and its domains are routed to it again. */
static void
test_rejoin(void)
{
    struct vf_cpgw_dom d;

    mkdom(&d, "g2-z", U_WEB2, VF_STATE_RUNNING);
    inject_state(&d, 1, 1500);
    VFT_CHECK(wait_gen(1500));
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
    fq_confchg(true, false, false);         /* makes the fd readable */
    VFT_CHECK(wait_monitor(be, -EHOSTDOWN));
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(2000)), -EHOSTDOWN);
    VFT_EQ_INT(cpg_op_list(be, list_cb, &(struct list_out){ .n = 0 }, dl(2000)), -EHOSTDOWN);
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
    VFT_CHECK(wait_monitor(be, 0));
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
        inject_state(&d, 1, 2000);
        VFT_CHECK(wait_gen(2000));
    }
    on = true;
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(2000)), 0);
    VFT_CHECK(!on);
    /* libvirt down: monitor fails */
    fl_down = true;
    VFT_EQ_INT(cpg_op_monitor(be, dl(1000)), -EHOSTDOWN);
    fl_down = false;
}

static void
test_uuid_mode_reload(void)
{
    static const char *const t1 =
        "backends { cpg { uri = \"test:///fake\"; reply_timeout = \"2\"; group = \"t-grp\"; name_mode = \"uuid\"; } }\n";
    static const char *const t2 = "backends { cpg { group = \"other\"; } }\n";
    struct vf_conf *conf = NULL;
    char err[512];
    bool on = false;

    VFT_EQ_INT(vf_conf_parse_buffer("r.conf", t1, strlen(t1), &conf, err, sizeof(err)), 0);
    VFT_EQ_INT(cpg_reload(be, conf, err, sizeof(err)), 0);
    vf_conf_free(conf);
    VFT_CHECK(be->uuid_mode);
    VFT_EQ_INT(be->reply_timeout_ms, 2000);
    VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(2000)), -ENOENT);
    VFT_EQ_INT(cpg_op_status(be, U_H1A, 0, &on, dl(2000)), 0);
    VFT_EQ_INT(vf_conf_parse_buffer("r.conf", t2, strlen(t2), &conf, err, sizeof(err)), 0);
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

            c->nodeid = (uint32_t)(3 - i);          /* nodes 3, 2, 1 */
            c->pid = 100;
            c->info.state = i == 2 ? VF_STATE_SHUTOFF : VF_STATE_RUNNING;
        }
        rt.n = 3;
        VFT_EQ_INT(cpg_primary(&rt)->nodeid, 2);    /* lowest running, not node 1 (off) */
    }
    for (i = 0; i < 3; i++) {
        rt.c[i].info.state = VF_STATE_RUNNING;      /* all running: the lowest node */
    }
    VFT_EQ_INT(cpg_primary(&rt)->nodeid, 1);
}

static bool
wait_ref_seen(size_t n)
{
    size_t cur = 0;
    int i;

    for (i = 0; i < 300; i++) {
        pthread_mutex_lock(&be->lock);
        cur = be->n_ref_seen;
        pthread_mutex_unlock(&be->lock);
        if (cur >= n) {
            return true;
        }
        vf_sleep_ms(10);
    }
    return false;
}

/* Issue 10 item 5: a fence-virt daemon in its own group (listed, not joined),
 * and one that sends its raw messages into ours, are detected */
static void
test_reference_detected(void)
{
    uint8_t ref[156];

    VFT_CHECK(wait_ref_seen(1));
    pthread_mutex_lock(&be->lock);
    VFT_EQ_INT(be->ref_seen[0], 7);
    pthread_mutex_unlock(&be->lock);
    memset(ref, 0, sizeof(ref));            /* type 0 = REQUEST, host order */
    snprintf((char *)ref + 16, 128, "some-vm");
    fq_deliver(3, 333, ref, sizeof(ref));
    VFT_CHECK(wait_ref_seen(2));
    pthread_mutex_lock(&be->lock);
    VFT_EQ_INT(be->ref_seen[1], 3);
    pthread_mutex_unlock(&be->lock);
}

static bool
wait_state_n(size_t n, int max_ms)
{
    int64_t until = vf_now_ms() + max_ms;
    bool seen = false;

    while (!seen && vf_now_ms() < until) {
        pthread_mutex_lock(&fq_lock);
        seen = my_states > 0 && my_last_state_n == n;
        pthread_mutex_unlock(&fq_lock);
        if (!seen) {
            vf_sleep_ms(5);
        }
    }
    return seen;
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

    VFT_CHECK(wait_state_n(2, 3000));       /* the first announcement (listing) */
    pthread_mutex_lock(&be->lock);
    VFT_CHECK(be->watching);
    pthread_mutex_unlock(&be->lock);
    mkdom(&d, "g2-a", U_G2A, VF_STATE_RUNNING);
    inject_state(&d, 1, 5);
    VFT_CHECK(wait_gen(5));
    fl_set("h1-a", 0, VF_STATE_RUNNING, NULL);
    pthread_mutex_lock(&fl_lock);
    lists = fl_lists;
    pthread_mutex_unlock(&fl_lock);
    /* a domain defined and started here */
    t0 = vf_now_ms();
    fl_event("ev-1", U_NONE, VF_STATE_RUNNING, false);
    VFT_CHECK(wait_state_n(3, 1000));
    VFT_CHECK(vf_now_ms() - t0 < 1000);
    /* no refresh storm: requests do not list */
    for (i = 0; i < 20; i++) {
        VFT_EQ_INT(cpg_op_status(be, "h1-a", 0, &on, dl(2000)), 0);
    }
    /* a state change that is no change is not announced again */
    pthread_mutex_lock(&fq_lock);
    states = my_states;
    pthread_mutex_unlock(&fq_lock);
    fl_event("ev-1", U_NONE, VF_STATE_RUNNING, false);
    vf_sleep_ms(300);
    pthread_mutex_lock(&fq_lock);
    VFT_EQ_INT(my_states, states);
    pthread_mutex_unlock(&fq_lock);
    /* migrated away (gone here): announced at once too */
    t0 = vf_now_ms();
    fl_event("ev-1", U_NONE, VF_STATE_SHUTOFF, true);
    VFT_CHECK(wait_state_n(2, 1000));
    VFT_CHECK(vf_now_ms() - t0 < 1000);
    pthread_mutex_lock(&fl_lock);
    VFT_EQ_INT(fl_lists, lists);
    pthread_mutex_unlock(&fl_lock);
    /* a resync after a membership change comes from the table, not a listing */
    pthread_mutex_lock(&fq_lock);
    states = my_states;
    pthread_mutex_unlock(&fq_lock);
    fq_confchg(true, false, false);
    for (i = 0; i < 100; i++) {
        pthread_mutex_lock(&fq_lock);
        bool more = my_states > states;
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
    struct fq_item *it;

    vf_log_init("test-cpg", VF_LOG_STDERR, getenv("VFT_DEBUG") != NULL ? 2 : 0);
    f_mypid = (uint32_t)getpid() + 100000u;
    f_ref_node = 7;                 /* a fence-virt daemon in "fence-agents" */
    if (pipe2(fq_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        perror("pipe2");
        return 1;
    }
    VFT_RUN(test_bad_config);
    be = start(conf_text);
    if (be == NULL) {
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
    VFT_RUN(test_timeout_and_leave);
    VFT_RUN(test_host_loss);
    VFT_RUN(test_unannounced_member);
    VFT_RUN(test_rejoin);
    VFT_RUN(test_lost_corosync);
    VFT_RUN(test_uuid_mode_reload);
    VFT_RUN(test_primary_deterministic);
    VFT_RUN(test_reference_detected);
    cpg_fini(be);
    /* the same backend over a libvirt backend with lifecycle events */
    fl_with_watch = true;
    pthread_mutex_lock(&fq_lock);
    my_states = 0;
    pthread_mutex_unlock(&fq_lock);
    be = start(conf_text);
    if (be == NULL) {
        return 1;
    }
    VFT_RUN(test_events);
    cpg_fini(be);
    VFT_EQ_INT(fl_unwatches, 1);
    while ((it = fq_head) != NULL) {
        fq_head = it->next;
        free(it->buf);
        free(it);
    }
    close(fq_pipe[0]);
    close(fq_pipe[1]);
    VFT_EXIT();
}
