/*
 * vmfence - daemon/pipeline.c: what happens to a request, and on which thread.
 *
 * Design
 * ------
 * Each listener runs in a thread of its own (vf_listener_start) and only
 * deals with its sockets: it hands every complete request to api->submit()
 * as a struct vf_conn.  submit() never blocks: it appends the request to a
 * FIFO queue served by a pool of reusable worker threads (at most
 * VF_MAX_WORKERS; started on demand, idle ones beyond VF_MIN_WORKERS exit
 * after VF_WORKER_IDLE_MS).  At most VF_MAX_QUEUED requests wait; beyond
 * that the connection is closed at once (logged, rate limited), so a flood
 * costs the attacker, not the requesters already queued.  Each queued
 * request has its own deadline (VF_QUEUE_TIMEOUT_MS): one that no worker
 * took by then is dropped (closed) instead of being served late.  A slow or
 * hostile peer therefore only ever holds one worker, and every step of a
 * worker is bounded by a deadline:
 *
 *   a. verify the signed request (min hash, key)         conn->is_signed only
 *      a stream (tcp, vsock) request with call-back fields is refused;
 *      record it in the replay cache (a copy is never served twice)
 *   b. dedupe (history.c), reserve the entry              10 s window
 *      (connect-back copies tentatively, confirmed after d, so that a copy
 *      with an unreachable call-back address cannot hold up the others)
 *   c. conn->ops->open (multicast connect-back)           5 s
 *   d. challenge/response: respond, then challenge        10 s per half
 *   e. groups ACL (name and UUID both resolved)           on/off/reboot/status
 *   f. serialise per target (resolved UUID or name;       shares the op deadline
 *      statuses of one target share the lock, power operations are exclusive)
 *   g. backend operation                                  30 s, reboot 60 s
 *   h. response / host list, audit line, history record
 *
 * Deadlines are passed to the backend, which must honour them (a thread
 * cannot be cancelled safely); a backend that overruns holds only the
 * worker of that request and the lock of that one target.
 *
 * Listener threads get their daemon API through one of VF_MAX_LISTENERS
 * fixed "slots" (the API functions take no context argument), so the
 * pipeline knows which listener instance each connection belongs to and
 * can drain it before a reload finalises the instance.  A job keeps a
 * pointer to its instance, so a stopped instance gives its slot back at
 * once even while its requests still run.
 *
 * Admission (slot_submit, in the listener's thread) drops copies of signed
 * requests the replay cache knows (replay.h), then refuses beyond the
 * global capacity and beyond a requester's fair share (fairshare.h).
 *
 * Configuration (groups + backend instance) is an immutable refcounted
 * "generation": a request takes a reference when it is submitted, so a
 * SIGHUP reload switches new requests to the new configuration while
 * running ones finish with the old one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "fairshare.h"
#include "history.h"
#include "io.h"
#include "log.h"
#include "pipeline.h"
#include "replay.h"

#define WORKER_STACK_SIZE (2u * 1024 * 1024)

/* ---- backend instances and generations ---------------------------------- */

struct vf_backend_inst {
    const struct vf_backend_ops *ops;
    void *priv;
    atomic_uint refs;
};

struct vf_backend_inst *
vf_backend_inst_new(const struct vf_backend_ops *ops, void *priv)
{
    struct vf_backend_inst *be = calloc(1, sizeof(*be));

    if (be == NULL) {
        return NULL;
    }
    be->ops = ops;
    be->priv = priv;
    atomic_init(&be->refs, 1);
    return be;
}

static struct vf_backend_inst *
be_ref(struct vf_backend_inst *be)
{
    if (be != NULL) {
        atomic_fetch_add(&be->refs, 1);
    }
    return be;
}

void
vf_backend_inst_unref(struct vf_backend_inst *be)
{
    if (be == NULL) {
        return;
    }
    if (atomic_fetch_sub(&be->refs, 1) == 1) {
        be->ops->fini(be->priv);
        free(be);
    }
}

const struct vf_backend_ops *
vf_backend_inst_ops(const struct vf_backend_inst *be)
{
    return be == NULL ? NULL : be->ops;
}

void *
vf_backend_inst_priv(const struct vf_backend_inst *be)
{
    return be == NULL ? NULL : be->priv;
}

struct gen {
    atomic_uint refs;
    struct vf_groups *groups;
    struct vf_backend_inst *be;
};

static void
gen_unref(struct gen *g)
{
    if (g == NULL) {
        return;
    }
    if (atomic_fetch_sub(&g->refs, 1) == 1) {
        vf_groups_free(g->groups);
        vf_backend_inst_unref(g->be);
        free(g);
    }
}

/* ---- global state --------------------------------------------------------- */

struct vf_listener_inst {
    const struct vf_listener_ops *ops;
    void *priv;
    int slot;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool run_done;
    int run_rc;
    unsigned int inflight;      /* under mu */
    bool orphaned;              /* under mu: stopped with requests running;
                                 * the last one finalises the instance */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cv;  /* signalled when a request ends (CLOCK_MONOTONIC) */
static struct gen *current_gen;
static struct vf_history *history;
static struct vf_replay *replay;        /* signed requests run at most once */
static struct vf_fairshare *fairshare;  /* per-requester in-flight counts, under mu */
static unsigned int active_requests;    /* queued + running, under mu */

/* worker pool, under mu */
struct job;
static pthread_cond_t work_cv;          /* a job was queued / the pool stops */
static struct job *q_head, *q_tail;     /* FIFO of requests waiting for a worker */
static unsigned int n_queued;
static unsigned int n_threads;          /* pool threads alive */
static unsigned int n_waiting;          /* pool threads waiting for a job */
static bool pool_stop;
static unsigned int max_queued = VF_MAX_QUEUED;
static int queue_timeout_ms = VF_QUEUE_TIMEOUT_MS;
static atomic_bool stopping;
static atomic_uint_fast64_t request_counter;
static struct vf_listener_inst *slots[VF_MAX_LISTENERS];

/*
 * Per-target locks.  Power operations (off, on, reboot) take the lock of
 * their target exclusively; status takes it shared: statuses of one VM may
 * run together, but never while a power operation on it runs, and a power
 * operation never starts while a status of it runs (so status reports the
 * state before or after an operation, never a half-done reboot).  Waiting
 * power operations have priority: a stream of statuses cannot starve an
 * off.  Each lock has its own condition variables, so a release wakes only
 * waiters of that target (a shared broadcast woke every waiter of every
 * target: with 64 requests on one VM, a storm of context switches).
 */
struct dlock {
    char key[128];
    unsigned int users;         /* holders and waiters */
    unsigned int readers;       /* status holders */
    unsigned int w_waiting;     /* power operations waiting */
    bool writer;                /* a power operation holds it */
    pthread_cond_t rcv;         /* statuses wait here (CLOCK_MONOTONIC) */
    pthread_cond_t wcv;         /* power operations wait here */
    struct dlock *next;
};
static pthread_mutex_t dl_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dlock *dlocks;

static void
init_mono_cond(pthread_cond_t *cv)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

static void
deadline_ts(int64_t deadline_ms, struct timespec *ts)
{
    ts->tv_sec = (time_t)(deadline_ms / 1000);
    ts->tv_nsec = (long)((deadline_ms % 1000) * 1000000);
}

int
vf_pipeline_init(void)
{
    init_mono_cond(&idle_cv);
    init_mono_cond(&work_cv);
    pthread_mutex_lock(&mu);
    pool_stop = false;
    pthread_mutex_unlock(&mu);
    history = vf_history_new(VF_HISTORY_CAP, VF_HISTORY_WINDOW_MS);
    replay = vf_replay_new(VF_REPLAY_ENTRIES);
    fairshare = vf_fairshare_new(VF_MAX_PER_REQUESTER, VF_NEWCOMER_RESERVE);
    if (history == NULL || replay == NULL || fairshare == NULL) {
        history = vf_history_free(history);
        replay = vf_replay_free(replay);
        fairshare = vf_fairshare_free(fairshare);
        return -ENOMEM;
    }
    atomic_store(&stopping, false);
    return 0;
}

void
vf_pipeline_fini(void)
{
    struct gen *g = NULL;

    int64_t deadline = vf_now_ms() + 2000;
    struct timespec ts;

    deadline_ts(deadline, &ts);
    pthread_mutex_lock(&mu);
    g = current_gen;
    current_gen = NULL;
    /* idle pool threads exit; busy ones (after a failed drain) finish first */
    pool_stop = true;
    pthread_cond_broadcast(&work_cv);
    while (n_threads > 0 && active_requests == 0 && vf_now_ms() < deadline) {
        pthread_cond_timedwait(&idle_cv, &mu, &ts);
    }
    pthread_mutex_unlock(&mu);
    gen_unref(g);
    if (vf_pipeline_active() == 0) {
        history = vf_history_free(history);
        replay = vf_replay_free(replay);
        fairshare = vf_fairshare_free(fairshare);
    }
}

void
vf_pipeline_set_queue_limits(unsigned int max_q, int timeout_ms)
{
    pthread_mutex_lock(&mu);
    if (max_q > 0) {
        max_queued = max_q;
    }
    if (timeout_ms > 0) {
        queue_timeout_ms = timeout_ms;
    }
    pthread_mutex_unlock(&mu);
}

int
vf_pipeline_set_config(struct vf_groups *groups, struct vf_backend_inst *be)
{
    struct gen *g = calloc(1, sizeof(*g));
    struct gen *old = NULL;

    if (g == NULL) {
        return -ENOMEM;
    }
    atomic_init(&g->refs, 1);
    g->groups = groups;
    g->be = be_ref(be);
    pthread_mutex_lock(&mu);
    old = current_gen;
    current_gen = g;
    pthread_mutex_unlock(&mu);
    gen_unref(old);
    return 0;
}

struct vf_backend_inst *
vf_pipeline_get_backend(void)
{
    struct vf_backend_inst *be = NULL;

    pthread_mutex_lock(&mu);
    if (current_gen != NULL) {
        be = be_ref(current_gen->be);
    }
    pthread_mutex_unlock(&mu);
    return be;
}

void
vf_pipeline_stop(void)
{
    atomic_store(&stopping, true);
}

bool
vf_pipeline_stopping(void)
{
    return atomic_load(&stopping);
}

unsigned int
vf_pipeline_active(void)
{
    unsigned int n = 0;

    pthread_mutex_lock(&mu);
    n = active_requests;
    pthread_mutex_unlock(&mu);
    return n;
}

unsigned int
vf_pipeline_drain(int timeout_ms)
{
    int64_t deadline = vf_now_ms() + timeout_ms;
    struct timespec ts;
    unsigned int n = 0;

    deadline_ts(deadline, &ts);
    pthread_mutex_lock(&mu);
    while (active_requests > 0 && vf_now_ms() < deadline) {
        pthread_cond_timedwait(&idle_cv, &mu, &ts);
    }
    n = active_requests;
    pthread_mutex_unlock(&mu);
    return n;
}

/* ---- per-target serialisation --------------------------------------------- */

/* Drop one user of @d (dl_mu held); the last one unlinks and frees it. */
static void
dlock_put_locked(struct dlock *d)
{
    struct dlock **pp = &dlocks;

    if (--d->users > 0) {
        return;
    }
    while (*pp != d) {
        pp = &(*pp)->next;
    }
    *pp = d->next;
    pthread_cond_destroy(&d->rcv);
    pthread_cond_destroy(&d->wcv);
    free(d);
}

/*
 * Lock @key, shared (@shared: status) or exclusive, waiting at most until
 * @deadline_ms.  \return the lock, or NULL (timed out, out of memory)
 */
static struct dlock *
dlock_acquire(const char *key, bool shared, int64_t deadline_ms)
{
    struct dlock *d = NULL;
    struct timespec ts;
    bool busy = false;

    deadline_ts(deadline_ms, &ts);
    pthread_mutex_lock(&dl_mu);
    for (d = dlocks; d != NULL; d = d->next) {
        if (strcmp(d->key, key) == 0) {
            break;
        }
    }
    if (d == NULL) {
        d = calloc(1, sizeof(*d));
        if (d == NULL) {
            pthread_mutex_unlock(&dl_mu);
            return NULL;
        }
        snprintf(d->key, sizeof(d->key), "%s", key);
        init_mono_cond(&d->rcv);
        init_mono_cond(&d->wcv);
        d->next = dlocks;
        dlocks = d;
    }
    d->users++;
    if (shared) {
        /* whoever wakes re-checks under dl_mu; a timed-out waiter still
         * takes the lock if it became free */
        while ((busy = d->writer || d->w_waiting > 0)) {
            if (pthread_cond_timedwait(&d->rcv, &dl_mu, &ts) == ETIMEDOUT &&
                (busy = d->writer || d->w_waiting > 0)) {
                break;
            }
        }
        if (!busy) {
            d->readers++;
        }
    } else {
        d->w_waiting++;
        while ((busy = d->writer || d->readers > 0)) {
            if (pthread_cond_timedwait(&d->wcv, &dl_mu, &ts) == ETIMEDOUT &&
                (busy = d->writer || d->readers > 0)) {
                break;
            }
        }
        d->w_waiting--;
        if (!busy) {
            d->writer = true;
        } else if (d->w_waiting == 0 && !d->writer) {
            /* statuses held back only by this waiter may go now */
            pthread_cond_broadcast(&d->rcv);
        }
    }
    if (busy) {
        /* timed out: give up our interest */
        dlock_put_locked(d);
        d = NULL;
    }
    pthread_mutex_unlock(&dl_mu);
    return d;
}

static void
dlock_release(struct dlock *d)
{
    if (d == NULL) {
        return;
    }
    pthread_mutex_lock(&dl_mu);
    if (d->writer) {
        d->writer = false;
        if (d->w_waiting > 0) {
            pthread_cond_signal(&d->wcv);       /* power operations first */
        } else if (d->users > 1) {
            pthread_cond_broadcast(&d->rcv);
        }
    } else if (d->readers > 0 && --d->readers == 0 && d->w_waiting > 0) {
        pthread_cond_signal(&d->wcv);
    }
    dlock_put_locked(d);
    pthread_mutex_unlock(&dl_mu);
}

/* ---- one request ------------------------------------------------------------ */

#define DROP_LOG_PER_SEC 20

/*
 * Rate limit for the log lines of dropped requests (bad hash, wrong key,
 * failed authentication), so that a flood of garbage cannot flood the log:
 * at most DROP_LOG_PER_SEC per second, then one summary line.
 */
static bool
drop_log_allowed(void)
{
    static pthread_mutex_t rl_mu = PTHREAD_MUTEX_INITIALIZER;
    static int64_t rl_sec;
    static unsigned int rl_count;
    static unsigned int rl_suppressed;
    int64_t sec = vf_now_ms() / 1000;
    bool ok = false;

    pthread_mutex_lock(&rl_mu);
    if (sec != rl_sec) {
        if (rl_suppressed > 0) {
            vf_log(LOG_WARNING, "%u more dropped requests not logged (rate limit)",
                   rl_suppressed);
        }
        rl_sec = sec;
        rl_count = 0;
        rl_suppressed = 0;
    }
    if (rl_count < DROP_LOG_PER_SEC) {
        rl_count++;
        ok = true;
    } else {
        rl_suppressed++;
    }
    pthread_mutex_unlock(&rl_mu);
    return ok;
}

#define SIBLING_WAIT_MS 2000

/*
 * A connect-back copy (@token, tentative) failed to open or authenticate.
 * That is expected when another copy of the same request got through: the
 * client accepts one call-back and closes its listener, so the others are
 * refused or cut off.  Wait (bounded) for the other copies' verdict: true
 * when one of them was served, so this failure is not worth a warning.
 */
static bool
copy_superseded(uint64_t token)
{
    int64_t until = vf_now_ms() + SIBLING_WAIT_MS;

    for (;;) {
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        int s = vf_history_siblings(history, token, vf_now_ms());

        if (s > 0) {
            return true;
        }
        if (s < 0 || vf_now_ms() >= until) {
            return false;
        }
        nanosleep(&ts, NULL);
    }
}

struct job {
    struct vf_conn *conn;
    struct gen *gen;
    struct vf_listener_inst *li;    /* the instance that submitted it (NULL in tests) */
    bool fair_counted;              /* counted in fairshare under conn->identity */
    uint64_t id;
    int64_t start_ms;
    int64_t queue_deadline_ms;  /* dropped if no worker took it by then */
    struct job *next;           /* queue link, under mu */
};

/* Printable copy of untrusted text for log lines. */
static void
sanitize(const char *in, char *out, size_t out_len)
{
    size_t j = 0;

    for (size_t i = 0; in != NULL && in[i] != '\0' && j + 1 < out_len; i++) {
        unsigned char c = (unsigned char)in[i];

        out[j++] = (c < 0x20 || c >= 0x7f || c == '\'') ? '?' : (char)c;
    }
    if (out_len > 0) {
        out[j] = '\0';
    }
}

/* true when any call-back field (multicast only) of @req is set */
static bool
has_callback_fields(const struct vf_req *req)
{
    for (size_t i = 0; i < sizeof(req->address); i++) {
        if (req->address[i] != 0) {
            return true;
        }
    }
    return req->addrlen != 0 || req->port != 0 || req->family != 0;
}

static const char *
verify_reason(int r)
{
    switch (r) {
    case -EPERM: return "hash too weak";
    case -EBADMSG: return "key mismatch";
    case -ENOKEY: return "no key loaded";
    case -EPROTO: return "unknown hash type";
    default: return "invalid request";
    }
}

struct list_ctx {
    const struct vf_groups *groups;
    const char *identity;
    struct vf_host_state *recs;
    size_t n;
    size_t cap;
    bool overflow;
};

static int
list_cb(void *arg, const struct vf_domain_info *dom)
{
    struct list_ctx *lc = arg;
    struct vf_host_state *hs = NULL;

    if (!vf_groups_allowed(lc->groups, lc->identity, NULL, dom->name, dom->uuid)) {
        return 0;
    }
    if (lc->n == VF_MAX_LIST_DOMAINS) {
        lc->overflow = true;
        return 0;
    }
    if (lc->n == lc->cap) {
        size_t ncap = lc->cap == 0 ? 16 : lc->cap * 2;
        struct vf_host_state *nr = realloc(lc->recs, ncap * sizeof(*nr));

        if (nr == NULL) {
            return -ENOMEM;
        }
        lc->recs = nr;
        lc->cap = ncap;
    }
    hs = &lc->recs[lc->n++];
    memset(hs, 0, sizeof(*hs));
    /* 63 characters at most so that the wire field keeps a terminator (D16) */
    memcpy(hs->domain, dom->name, strnlen(dom->name, VF_DOMAIN_FIELD - 1));
    memcpy(hs->uuid, dom->uuid, strnlen(dom->uuid, sizeof(dom->uuid) - 1));
    hs->state = (uint8_t)dom->state;
    return 0;
}

/* Run a host list.  Returns the result text for the audit line. */
/* deadline of one host list record, never past the stream's */
static int64_t
record_deadline(int64_t stream_end)
{
    int64_t d = vf_now_ms() + VF_RECORD_TIMEOUT_MS;

    return d < stream_end ? d : stream_end;
}

static const char *
do_hostlist(struct job *j, const struct vf_backend_inst *be, char *res, size_t res_len)
{
    struct vf_conn *c = j->conn;
    struct list_ctx lc = { .groups = j->gen->groups, .identity = c->identity };
    struct vf_host_state end;
    int64_t stream_end;
    int r = 0;

    if (c->ops->send_host_state == NULL) {
        (void)c->ops->send_response(c, VF_RESP_FAIL, vf_now_ms() + VF_REPLY_TIMEOUT_MS);
        return "fail (listener cannot send lists)";
    }
    r = be->ops->list(be->priv, list_cb, &lc, vf_now_ms() + VF_OP_TIMEOUT_MS);
    if (r < 0) {
        free(lc.recs);
        (void)c->ops->send_response(c, VF_RESP_FAIL, vf_now_ms() + VF_REPLY_TIMEOUT_MS);
        snprintf(res, res_len, "fail (backend: %s)", strerror(-r));
        return res;
    }
    if (lc.overflow) {
        vf_log(LOG_WARNING, "request %llu: more than %d domains, list truncated",
               (unsigned long long)j->id, VF_MAX_LIST_DOMAINS);
    }
    /* each record has its own deadline, and the whole stream one more, so a
     * slow reader cannot hold a worker for records x record timeout */
    stream_end = vf_now_ms() + VF_LIST_STREAM_TIMEOUT_MS;
    r = c->ops->send_response(c, VF_RESP_HOSTLIST, vf_now_ms() + VF_REPLY_TIMEOUT_MS);
    for (size_t i = 0; r == 0 && i < lc.n; i++) {
        r = c->ops->send_host_state(c, &lc.recs[i], record_deadline(stream_end));
    }
    memset(&end, 0, sizeof(end));
    if (r == 0) {
        r = c->ops->send_host_state(c, &end, record_deadline(stream_end));
    }
    if (r == 0) {
        r = c->ops->send_response(c, VF_RESP_SUCCESS, vf_now_ms() + VF_REPLY_TIMEOUT_MS);
    }
    free(lc.recs);
    if (r < 0) {
        snprintf(res, res_len, "list of %zu domains, send failed: %s", lc.n, strerror(-r));
    } else {
        snprintf(res, res_len, "list of %zu domains", lc.n);
    }
    return res;
}

/*
 * Steps e-g for on/off/reboot/status: ACL, per-target lock, backend call.
 * Returns the response byte; @res receives the audit result text.
 */
static uint8_t
do_power_op(struct job *j, const struct vf_backend_inst *be, char *res, size_t res_len)
{
    struct vf_conn *c = j->conn;
    const char *target = c->req.domain;
    struct vf_domain_info dom;
    bool resolved = false;
    unsigned int flags = (c->req.flags & VF_RF_UUID) != 0 ? VF_BE_BY_UUID : 0;
    int64_t deadline = vf_now_ms() +
        (c->req.request == VF_CMD_REBOOT ? VF_REBOOT_TIMEOUT_MS : VF_OP_TIMEOUT_MS);
    char lockkey[128];
    struct dlock *dl = NULL;
    bool on = false;
    int r = 0;
    uint8_t resp = VF_RESP_FAIL;

    if (target[0] == '\0') {
        snprintf(res, res_len, "fail (no target)");
        return VF_RESP_FAIL;
    }
    memset(&dom, 0, sizeof(dom));
    r = be->ops->lookup(be->priv, target, flags, &dom, vf_now_ms() + VF_LOOKUP_TIMEOUT_MS);
    resolved = r == 0;
    if (!vf_groups_allowed(j->gen->groups, c->identity, target,
                           resolved ? dom.name : NULL, resolved ? dom.uuid : NULL)) {
        if (!resolved && r != -ENOENT) {
            /* could not resolve name <-> UUID: fail, but do not claim "denied" */
            snprintf(res, res_len, "fail (groups need the target resolved; lookup: %s)",
                     strerror(-r));
            return VF_RESP_FAIL;
        }
        snprintf(res, res_len, "perm (groups)");
        return VF_RESP_PERM;
    }
    if (resolved && dom.uuid[0] != '\0') {
        snprintf(lockkey, sizeof(lockkey), "uuid:%s", dom.uuid);
    } else {
        snprintf(lockkey, sizeof(lockkey), "name:%s", target);
    }
    for (char *p = lockkey; *p != '\0'; p++) {
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
    }
    dl = dlock_acquire(lockkey, c->req.request == VF_CMD_STATUS, deadline);
    if (dl == NULL) {
        snprintf(res, res_len, "fail (another operation on the target did not finish in time)");
        return VF_RESP_FAIL;
    }
    switch (c->req.request) {
    case VF_CMD_OFF:
        r = be->ops->off(be->priv, target, flags, deadline);
        break;
    case VF_CMD_ON:
        r = be->ops->on(be->priv, target, flags, deadline);
        break;
    case VF_CMD_REBOOT:
        r = be->ops->reboot(be->priv, target, flags, deadline);
        break;
    default:
        r = be->ops->status(be->priv, target, flags, &on, deadline);
        break;
    }
    dlock_release(dl);
    if (r > 0) {
        /* Not the plugin ABI (0 or -errno): a backend answering a fence-virt
         * style 1 ("fail") must never become SUCCESS, nor OFF for status. */
        snprintf(res, res_len, "fail (backend returned %d, not 0 or -errno)", r);
        return VF_RESP_FAIL;
    }
    if (r < 0) {
        /* Never a false success: an unknown domain is a failure, also for status (D5). */
        snprintf(res, res_len, "fail (%s)", r == -ENOENT ? "no such domain" : strerror(-r));
        return VF_RESP_FAIL;
    }
    if (c->req.request == VF_CMD_STATUS) {
        resp = on ? VF_RESP_SUCCESS : VF_RESP_OFF;
        snprintf(res, res_len, "%s", on ? "on" : "off");
    } else {
        resp = VF_RESP_SUCCESS;
        snprintf(res, res_len, "success");
    }
    return resp;
}

static void
fill_history_key(const struct vf_conn *c, struct vf_history_key *k)
{
    memset(k, 0, sizeof(*k));
    snprintf(k->listener, sizeof(k->listener), "%s", c->listener != NULL ? c->listener : "?");
    k->request = c->req.request;
    k->seqno = c->req.seqno;
    snprintf(k->domain, sizeof(k->domain), "%s", c->req.domain);
    if (c->ops->open != NULL) {
        /*
         * Connect-back transports (multicast): the client sends one copy per
         * local interface, each with its own source address and random
         * bytes, and repeats them; all copies must collapse into one
         * request, so only request, seqno, domain and call-back port count.
         */
        k->port = c->req.port;
    } else {
        snprintf(k->identity, sizeof(k->identity), "%s", c->identity);
        if (c->is_signed) {
            memcpy(k->random, c->req.random, sizeof(k->random));
        }
    }
}

static void
finish_job(struct job *j)
{
    struct vf_listener_inst *li = j->li;
    struct vf_listener_inst *orphan = NULL;

    if (j->fair_counted) {
        /* before close(): the identity lives in the connection */
        pthread_mutex_lock(&mu);
        vf_fairshare_leave(fairshare, j->conn->identity);
        pthread_mutex_unlock(&mu);
    }
    j->conn->ops->close(j->conn);
    gen_unref(j->gen);
    pthread_mutex_lock(&mu);
    if (li != NULL && li->inflight > 0) {
        li->inflight--;
        if (li->inflight == 0 && li->orphaned) {
            orphan = li;        /* stopped already: its slot is free */
        }
    }
    active_requests--;
    pthread_cond_broadcast(&idle_cv);
    pthread_mutex_unlock(&mu);
    if (orphan != NULL) {
        orphan->ops->fini(orphan->priv);
        free(orphan);
    }
    free(j);
}

/* Serve one request (steps a-h), then finish it. */
static void
run_job(struct job *j)
{
    struct vf_conn *c = j->conn;
    const struct vf_backend_inst *be = j->gen->be;
    const uint8_t *key = c->key != NULL ? c->key->data : NULL;
    size_t key_len = c->key != NULL ? c->key->len : 0;
    struct vf_history_key hk;
    uint64_t token = 0;
    int64_t first_ms = 0;
    bool reserved = false, open_failed = false;
    const char *action = vf_cmd_name(c->req.request);
    char target[VF_DOMAIN_FIELD * 2];
    char peer[sizeof(c->peer)];
    char resbuf[256];
    const char *result = resbuf;
    int prio = LOG_NOTICE;
    uint8_t resp = VF_RESP_FAIL;
    int r = 0;

    sanitize(c->req.domain, target, sizeof(target));
    sanitize(c->peer, peer, sizeof(peer));
    if (action == NULL) {
        action = "unknown";
    }
    resbuf[0] = '\0';

    /* a. signature */
    if (c->is_signed) {
        r = vf_req_verify(c->raw, c->min_hash, key, key_len);
        if (r < 0) {
            snprintf(resbuf, sizeof(resbuf), "dropped (%s: request %s, listener requires %s)",
                     verify_reason(r), vf_hash_name(c->req.hashtype) != NULL ?
                     vf_hash_name(c->req.hashtype) : "invalid",
                     vf_hash_name(c->min_hash) != NULL ? vf_hash_name(c->min_hash) : "?");
            prio = LOG_WARNING;
            goto out;
        }
        if (c->ops->open == NULL && has_callback_fields(&c->req)) {
            /* fence_virt sends zeroed call-back fields over tcp/vsock; a
             * request that has them is a multicast datagram somebody took
             * off the network: answering its challenge would make us the
             * oracle that tells a relay how to fool the agent */
            snprintf(resbuf, sizeof(resbuf), "dropped (call-back fields set: family %u, "
                     "addrlen %u, port %u; a stream request has none: a multicast request "
                     "replayed on a stream listener?)", (unsigned int)c->req.family,
                     (unsigned int)c->req.addrlen, (unsigned int)c->req.port);
            prio = LOG_WARNING;
            goto out;
        }
        r = vf_replay_record(replay, &c->req, vf_now_ms(), &first_ms);
        if (r == -EALREADY) {
            snprintf(resbuf, sizeof(resbuf), "dropped (replay: identical signed request "
                     "first received %lld ms ago)", (long long)(vf_now_ms() - first_ms));
            prio = LOG_WARNING;
            goto out;
        }
    }

    /* b. dedupe; connect-back copies only tentatively until authenticated */
    fill_history_key(c, &hk);
    r = c->ops->open != NULL ? vf_history_reserve_tentative(history, &hk, vf_now_ms(), &token) :
        vf_history_reserve(history, &hk, vf_now_ms(), &token);
    if (r == -EEXIST) {
        vf_dbg(1, "request %llu from %s via %s: duplicate of a request seen within %d s, dropped",
               (unsigned long long)j->id, peer, c->listener, VF_HISTORY_WINDOW_MS / 1000);
        result = NULL;
        goto out;
    } else if (r < 0) {
        snprintf(resbuf, sizeof(resbuf), "dropped (history table full)");
        prio = LOG_WARNING;
        goto out;
    }
    reserved = true;

    /* c. reply channel */
    if (c->ops->open != NULL) {
        r = c->ops->open(c, vf_now_ms() + VF_OPEN_TIMEOUT_MS);
        if (r < 0) {
            snprintf(resbuf, sizeof(resbuf), "dropped (connect-back %s)",
                     r == -EAGAIN ? "rate limited for this address" : strerror(-r));
            prio = LOG_WARNING;
            open_failed = true;
            goto out_copy_failed;
        }
    }

    /* d. mutual authentication: the daemon answers first, then challenges */
    if (c->auth != VF_HASH_NONE) {
        /* fail closed: a reply channel without a stream cannot be
         * authenticated, so it gets no answer at all */
        if (c->fd < 0) {
            snprintf(resbuf, sizeof(resbuf), "dropped (auth '%s' configured but the "
                     "listener gave no stream to authenticate on)",
                     vf_hash_name(c->auth) != NULL ? vf_hash_name(c->auth) : "?");
            prio = LOG_WARNING;
            goto out_release;
        }
        if (key == NULL) {
            snprintf(resbuf, sizeof(resbuf), "dropped (auth configured but no key loaded)");
            prio = LOG_WARNING;
            goto out_release;
        }
        r = vf_auth_respond(c->fd, c->auth, key, key_len, vf_now_ms() + VF_AUTH_TIMEOUT_MS);
        if (r == 0) {
            r = vf_auth_challenge(c->fd, c->auth, key, key_len,
                                  vf_now_ms() + VF_AUTH_TIMEOUT_MS);
        }
        if (r < 0) {
            snprintf(resbuf, sizeof(resbuf), "dropped (authentication failed: %s)",
                     r == -EACCES ? "wrong answer to the challenge" : strerror(-r));
            prio = LOG_WARNING;
            goto out_copy_failed;
        }
    }

    /* the reply channel works: from now on this copy is the request */
    if (c->ops->open != NULL && vf_history_confirm(history, token, vf_now_ms()) < 0) {
        reserved = false;       /* confirm released the entry */
        vf_dbg(1, "request %llu from %s via %s: duplicate of a request served first through "
               "another client address, dropped", (unsigned long long)j->id, peer, c->listener);
        result = NULL;
        goto out;
    }

    /* e-g. policy and backend */
    if (be == NULL) {
        resp = VF_RESP_FAIL;
        snprintf(resbuf, sizeof(resbuf), "fail (no backend)");
    } else {
        switch (c->req.request) {
        case VF_CMD_OFF:
        case VF_CMD_ON:
        case VF_CMD_REBOOT:
        case VF_CMD_STATUS:
            resp = do_power_op(j, be, resbuf, sizeof(resbuf));
            break;
        case VF_CMD_DEVSTATUS:
            prio = LOG_INFO;
            r = be->ops->monitor != NULL ?
                be->ops->monitor(be->priv, vf_now_ms() + VF_OP_TIMEOUT_MS) : 0;
            resp = r == 0 ? VF_RESP_SUCCESS : VF_RESP_FAIL;
            snprintf(resbuf, sizeof(resbuf), "%s", r == 0 ? "success" : "fail (backend unhealthy)");
            break;
        case VF_CMD_HOSTLIST:
            prio = LOG_INFO;
            result = do_hostlist(j, be, resbuf, sizeof(resbuf));
            goto out_complete;
        case VF_CMD_NULL:
            resp = VF_RESP_FAIL;     /* reference behaviour: null answers 1 */
            snprintf(resbuf, sizeof(resbuf), "fail (null request)");
            break;
        default:                     /* metadata, validate-all, unknown */
            resp = VF_RESP_FAIL;
            snprintf(resbuf, sizeof(resbuf), "fail (command %u not served)",
                     (unsigned int)c->req.request);
            break;
        }
    }

    /* h. reply */
    r = c->ops->send_response(c, resp, vf_now_ms() + VF_REPLY_TIMEOUT_MS);
    if (r < 0) {
        size_t l = strlen(resbuf);

        snprintf(resbuf + l, sizeof(resbuf) - l, ", reply not delivered: %s", strerror(-r));
    }
    if (resp == VF_RESP_PERM) {
        prio = LOG_WARNING;
    }

out_complete:
    vf_history_complete(history, token, vf_now_ms());
    reserved = false;
out_copy_failed:
    /* a copy whose connect-back failed does not wait for its siblings: a
     * replayed or forged call-back address must not hold a worker */
    if (reserved && c->ops->open != NULL &&
        (open_failed ? vf_history_siblings(history, token, vf_now_ms()) > 0 :
         copy_superseded(token))) {
        vf_dbg(1, "request %llu from %s via %s: %s: duplicate of a request served through "
               "another client address", (unsigned long long)j->id, peer, c->listener, resbuf);
        result = NULL;
    }
out_release:
    if (reserved) {
        vf_history_release(history, token);
    }
out:
    if (result != NULL && strncmp(result, "dropped", 7) == 0 && !drop_log_allowed()) {
        result = NULL;
    }
    if (result != NULL) {
        vf_log(prio, "request %llu peer=%s listener=%s action=%s target='%s' result=%s "
               "duration_ms=%lld", (unsigned long long)j->id, peer,
               c->listener != NULL ? c->listener : "?", action, target, result,
               (long long)(vf_now_ms() - j->start_ms));
    }
    finish_job(j);
}

/* A queued request that no worker took before its deadline: closed unserved. */
static void
drop_expired(struct job *j)
{
    char peer[sizeof(j->conn->peer)];

    if (drop_log_allowed()) {
        sanitize(j->conn->peer, peer, sizeof(peer));
        vf_log(LOG_WARNING, "request %llu from %s via %s dropped: no worker free within %d ms",
               (unsigned long long)j->id, peer,
               j->conn->listener != NULL ? j->conn->listener : "?", queue_timeout_ms);
    }
    finish_job(j);
}

/* Take the first queued job (mu held). */
static struct job *
queue_pop_locked(void)
{
    struct job *j = q_head;

    if (j != NULL) {
        q_head = j->next;
        if (q_head == NULL) {
            q_tail = NULL;
        }
        j->next = NULL;
        n_queued--;
    }
    return j;
}

/*
 * A pool thread: serve queued requests in order; exit when the pool stops,
 * or after VF_WORKER_IDLE_MS without work while more than VF_MIN_WORKERS
 * threads are alive.
 */
static void *
pool_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        struct job *j = NULL;

        while (q_head == NULL) {
            struct timespec ts;
            int w = 0;

            if (pool_stop) {
                goto out;
            }
            deadline_ts(vf_now_ms() + VF_WORKER_IDLE_MS, &ts);
            n_waiting++;
            w = pthread_cond_timedwait(&work_cv, &mu, &ts);
            n_waiting--;
            if (w == ETIMEDOUT && q_head == NULL && n_threads > VF_MIN_WORKERS) {
                goto out;
            }
        }
        j = queue_pop_locked();
        pthread_mutex_unlock(&mu);
        if (vf_now_ms() > j->queue_deadline_ms) {
            drop_expired(j);
        } else {
            run_job(j);
        }
        pthread_mutex_lock(&mu);
    }
out:
    n_threads--;
    pthread_cond_broadcast(&idle_cv);
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* Start one more pool thread (mu held).  \return 0 or -errno */
static int
pool_spawn_locked(void)
{
    pthread_attr_t attr;
    pthread_t tid;
    int r = 0;

    /* the signal mask is inherited from the (listener) thread that submits */
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
    r = pthread_create(&tid, &attr, pool_main, NULL);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        return -r;
    }
    n_threads++;
    return 0;
}

/* ---- submission through listener slots ---------------------------------- */

static void
slot_submit(int slot, struct vf_conn *conn)
{
    struct job *j = NULL;
    struct job *expired = NULL, **exp_tail = &expired;
    char peer[sizeof(conn->peer)];
    int64_t now = vf_now_ms();
    bool refuse = false, busy = false, unfair = false, wake = false;
    unsigned int running = 0, queued = 0, held = 0;
    int r = 0;

    if (conn == NULL) {
        return;
    }
    /* a copy of a signed request that already ran (or runs): no worker,
     * no queue place, no connect-back for it (replay.h) */
    if (conn->is_signed && vf_replay_seen(replay, &conn->req)) {
        if (drop_log_allowed()) {
            sanitize(conn->peer, peer, sizeof(peer));
            vf_log(LOG_WARNING, "request from %s via %s dropped: replay of a signed request "
                   "received before (identical bytes)", peer,
                   conn->listener != NULL ? conn->listener : "?");
        }
        conn->ops->close(conn);
        return;
    }
    j = calloc(1, sizeof(*j));
    pthread_mutex_lock(&mu);
    /* the queue is FIFO with one timeout: expired requests are at its head */
    while (q_head != NULL && q_head->queue_deadline_ms < now) {
        struct job *e = queue_pop_locked();

        *exp_tail = e;
        exp_tail = &e->next;
    }
    if (j == NULL || atomic_load(&stopping) || current_gen == NULL) {
        refuse = true;
    } else if (active_requests >= VF_MAX_WORKERS + max_queued) {
        refuse = busy = true;
        running = active_requests - n_queued;
        queued = n_queued;
    } else if ((r = vf_fairshare_admit(fairshare, conn->identity, active_requests,
                                       VF_MAX_WORKERS + max_queued, &held)) < 0) {
        refuse = true;
        unfair = r == -EBUSY;
    }
    if (refuse) {
        pthread_mutex_unlock(&mu);
        free(j);
        sanitize(conn->peer, peer, sizeof(peer));
        if (busy) {
            /* a flood reaches this path once per datagram/connection: rate limited */
            if (drop_log_allowed()) {
                vf_log(LOG_WARNING, "request from %s via %s refused: %u requests running "
                       "and %u queued", peer, conn->listener != NULL ? conn->listener : "?",
                       running, queued);
            }
        } else if (unfair) {
            if (drop_log_allowed()) {
                char ident[sizeof(conn->identity)];

                sanitize(conn->identity, ident, sizeof(ident));
                vf_log(LOG_WARNING, "request from %s via %s refused: requester '%s' has %u "
                       "requests in flight (at most %d each, fewer when the daemon is busy)",
                       peer, conn->listener != NULL ? conn->listener : "?", ident, held,
                       VF_MAX_PER_REQUESTER);
            }
        } else {
            vf_dbg(1, "request from %s via %s refused: %s", peer,
                   conn->listener != NULL ? conn->listener : "?",
                   j == NULL || r == -ENOMEM ? "out of memory" : "shutting down");
        }
        conn->ops->close(conn);
        goto out;
    }
    active_requests++;
    j->fair_counted = true;
    j->li = slot >= 0 ? slots[slot] : NULL;
    if (j->li != NULL) {
        j->li->inflight++;
    }
    j->gen = current_gen;
    atomic_fetch_add(&j->gen->refs, 1);
    j->conn = conn;
    j->id = atomic_fetch_add(&request_counter, 1) + 1;
    j->start_ms = conn->accepted_ms > 0 ? conn->accepted_ms : now;
    j->queue_deadline_ms = now + queue_timeout_ms;
    if (q_tail != NULL) {
        q_tail->next = j;
    } else {
        q_head = j;
    }
    q_tail = j;
    n_queued++;
    /* every queued job is covered by a waiting thread, or a new one starts */
    if (n_queued > n_waiting && n_threads < VF_MAX_WORKERS) {
        r = pool_spawn_locked();
        if (r < 0 && n_threads == 0) {
            /* no thread at all to serve it: undo, never leave it stranded */
            struct job **pp = &q_head;

            while (*pp != j) {
                pp = &(*pp)->next;
            }
            *pp = NULL;
            q_tail = q_head == NULL ? NULL : q_tail;
            for (struct job *t = q_head; t != NULL; t = t->next) {
                q_tail = t;
            }
            n_queued--;
            pthread_mutex_unlock(&mu);
            vf_log(LOG_ERR, "cannot start a worker thread: %s; request dropped", strerror(-r));
            finish_job(j);
            goto out;
        } else if (r < 0) {
            vf_log(LOG_WARNING, "cannot start another worker thread: %s; request queued",
                   strerror(-r));
        }
    } else {
        wake = true;
    }
    pthread_mutex_unlock(&mu);
    if (wake) {
        /* after unlocking, so the woken thread does not block on mu at
         * once; it re-checks the queue under mu */
        pthread_cond_signal(&work_cv);
    }
out:
    while (expired != NULL) {
        struct job *e = expired;

        expired = e->next;
        drop_expired(e);
    }
}

static bool
slot_stopping(int slot)
{
    /* slots[] changes under mu; a listener's own threads only read its slot
     * while it is registered, so an atomic read without the lock suffices */
    const struct vf_listener_inst *li = __atomic_load_n(&slots[slot], __ATOMIC_ACQUIRE);

    return atomic_load(&stopping) || li == NULL || atomic_load(&li->stop);
}

#define SLOT_FUNCS(n) \
    static void submit_##n(struct vf_conn *c) { slot_submit(n, c); } \
    static bool stopping_##n(void) { return slot_stopping(n); }
SLOT_FUNCS(0) SLOT_FUNCS(1) SLOT_FUNCS(2) SLOT_FUNCS(3)
SLOT_FUNCS(4) SLOT_FUNCS(5) SLOT_FUNCS(6) SLOT_FUNCS(7)
SLOT_FUNCS(8) SLOT_FUNCS(9) SLOT_FUNCS(10) SLOT_FUNCS(11)
SLOT_FUNCS(12) SLOT_FUNCS(13) SLOT_FUNCS(14) SLOT_FUNCS(15)
#define SLOT_API(n) { submit_##n, stopping_##n }
static const struct vf_daemon_api slot_api[VF_MAX_LISTENERS] = {
    SLOT_API(0), SLOT_API(1), SLOT_API(2), SLOT_API(3),
    SLOT_API(4), SLOT_API(5), SLOT_API(6), SLOT_API(7),
    SLOT_API(8), SLOT_API(9), SLOT_API(10), SLOT_API(11),
    SLOT_API(12), SLOT_API(13), SLOT_API(14), SLOT_API(15),
};

static void *
listener_main(void *arg)
{
    struct vf_listener_inst *li = arg;

    li->run_rc = li->ops->run(li->priv);
    atomic_store(&li->run_done, true);
    if (!atomic_load(&li->stop) && !atomic_load(&stopping)) {
        vf_log(LOG_ERR, "listener '%s' stopped unexpectedly (%s)", li->ops->name,
               li->run_rc < 0 ? strerror(-li->run_rc) : "no error reported");
    }
    return NULL;
}

int
vf_listener_start(const struct vf_listener_ops *ops, const struct vf_conf *conf,
                  struct vf_listener_inst **ret_li, char *err, size_t err_len)
{
    struct vf_listener_inst *li = NULL;
    int slot = -1;
    int r = 0;

    li = calloc(1, sizeof(*li));
    if (li == NULL) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    li->ops = ops;
    atomic_init(&li->stop, false);
    atomic_init(&li->run_done, false);
    pthread_mutex_lock(&mu);
    for (int i = 0; i < VF_MAX_LISTENERS; i++) {
        if (slots[i] == NULL) {
            slot = i;
            slots[i] = li;
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    if (slot < 0) {
        snprintf(err, err_len, "listener '%s': too many listener instances", ops->name);
        free(li);
        return -EMFILE;
    }
    li->slot = slot;
    if (err_len > 0) {
        err[0] = '\0';
    }
    r = ops->init(conf, &slot_api[slot], &li->priv, err, err_len);
    if (r < 0) {
        if (err_len > 0 && err[0] == '\0') {
            snprintf(err, err_len, "listener '%s': initialisation failed: %s",
                     ops->name, strerror(-r));
        }
        goto fail;
    }
    r = pthread_create(&li->thread, NULL, listener_main, li);
    if (r != 0) {
        snprintf(err, err_len, "listener '%s': cannot start thread: %s", ops->name, strerror(r));
        ops->fini(li->priv);
        r = -r;
        goto fail;
    }
    li->thread_started = true;
    *ret_li = li;
    return 0;
fail:
    pthread_mutex_lock(&mu);
    slots[slot] = NULL;
    pthread_mutex_unlock(&mu);
    free(li);
    return r;
}

void
vf_listener_request_stop(struct vf_listener_inst *li)
{
    if (li != NULL) {
        atomic_store(&li->stop, true);
    }
}

void
vf_listener_stop(struct vf_listener_inst *li, int drain_ms)
{
    int64_t deadline = 0;
    struct timespec ts;
    bool drained = false;

    if (li == NULL) {
        return;
    }
    atomic_store(&li->stop, true);
    if (li->thread_started) {
        pthread_join(li->thread, NULL);
        li->thread_started = false;
    }
    deadline = vf_now_ms() + drain_ms;
    deadline_ts(deadline, &ts);
    pthread_mutex_lock(&mu);
    while (li->inflight > 0 && vf_now_ms() < deadline) {
        pthread_cond_timedwait(&idle_cv, &mu, &ts);
    }
    drained = li->inflight == 0;
    /* its thread is joined, so nothing calls this slot's API any more: the
     * slot is free now even if requests still run (they know their
     * instance), so reloads while a backend hangs cannot use up the slots */
    slots[li->slot] = NULL;
    if (!drained) {
        li->orphaned = true;    /* the last request finalises it */
    }
    pthread_mutex_unlock(&mu);
    if (!drained) {
        vf_dbg(1, "listener '%s': requests still running; finalised when they end",
               li->ops->name);
        return;
    }
    li->ops->fini(li->priv);
    free(li);
}

bool
vf_listener_failed(const struct vf_listener_inst *li)
{
    return li != NULL && atomic_load(&li->run_done) && !atomic_load(&li->stop) &&
           !atomic_load(&stopping);
}

const char *
vf_listener_name(const struct vf_listener_inst *li)
{
    return li == NULL ? "?" : li->ops->name;
}
