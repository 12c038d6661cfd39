/*
 * vmfence - daemon/pipeline.c: admission of requests, and the configuration
 * they run under (pipeline.h).
 *
 * The road of a request
 * ---------------------
 * Each listener instance runs in a thread of its own (listener.c) and only
 * deals with its sockets: it hands every complete request to
 * vf_pipeline_submit() as a struct vf_conn.  Admission, in the listener's
 * thread, never blocks:
 *   - a copy of a signed request the replay cache knows is dropped
 *     (replay.h): no worker, no queue place, no connect-back for it;
 *   - beyond VF_MAX_WORKERS running plus max_queued waiting requests, the
 *     connection is closed at once (logged, rate limited), so a flood costs
 *     the attacker, not the requesters already queued;
 *   - beyond a requester's fair share (fairshare.h) likewise.
 * An admitted request joins the worker queue (workq.h): at most
 * VF_MAX_WORKERS threads, started on demand, idle ones beyond
 * VF_MIN_WORKERS exit after VF_WORKER_IDLE_MS.  A queued request that no
 * worker took within VF_QUEUE_TIMEOUT_MS is dropped (closed) instead of
 * being served late.  A worker serves it with the steps of request.c, each
 * bounded by a deadline, so a slow or hostile peer only ever holds one
 * worker; then finish_job() ends it.
 * A stream listener that keeps another thread accepting (leader/follower,
 * listeners/common.c) uses vf_pipeline_serve() instead: same admission,
 * but the request runs in the listener's thread, its job on that thread's
 * stack: no hand-off to a worker, no allocation, in the common case.
 *
 * Configuration (groups + backend instance) is an immutable refcounted
 * "generation": a request takes a reference when it is admitted, so a
 * SIGHUP reload switches new requests to the new configuration while
 * running ones finish with the old one.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fairshare.h"
#include "io.h"
#include "log.h"
#include "pipeline.h"
#include "reqlog.h"
#include "request.h"
#include "timeutil.h"
#include "workq.h"

/* a client answers a challenge within tens of microseconds on loopback */
#define VF_REQUEST_SPIN_US 50
#define WORKER_STACK_SIZE (2u * 1024 * 1024)
#define FINI_WAIT_MS 2000

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

/* ---- state ------------------------------------------------------------------ */

/* An admitted request: queued, then served. */
struct job {
    struct vf_workq_item item;  /* the queue's link and deadline */
    struct vf_request rq;
    struct gen *gen;
    void (*done)(void *arg);
    void *done_arg;
    bool heap;                  /* queued (calloc'ed), not served in place */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cv;  /* signalled when a request ends (CLOCK_MONOTONIC) */
static pthread_once_t idle_cv_once = PTHREAD_ONCE_INIT;
static struct gen *current_gen;                 /* under mu */
static struct vf_fairshare *fairshare;          /* per-requester counts, under mu */
static unsigned int active_requests;            /* queued + running, under mu */
static unsigned int max_queued = VF_MAX_QUEUED; /* under mu */
static int queue_timeout_ms = VF_QUEUE_TIMEOUT_MS;      /* under mu */
static struct vf_request_env env;               /* history, replay cache, locks */
static struct vf_workq *workq;
static atomic_bool stopping;
static atomic_uint_fast64_t request_counter;

static void
idle_cv_init(void)
{
    (void)vf_cond_init_monotonic(&idle_cv);
}

/* ---- the end of a request ------------------------------------------------- */

/* Close the connection, give back what admission took, tell the submitter. */
static void
finish_job(struct job *j)
{
    pthread_mutex_lock(&mu);
    /* before close(): the identity lives in the connection */
    vf_fairshare_leave(fairshare, j->rq.conn->identity);
    pthread_mutex_unlock(&mu);
    j->rq.conn->ops->close(j->rq.conn);
    gen_unref(j->gen);
    pthread_mutex_lock(&mu);
    active_requests--;
    pthread_cond_broadcast(&idle_cv);
    pthread_mutex_unlock(&mu);
    if (j->done != NULL) {
        j->done(j->done_arg);
    }
    if (j->heap) {
        free(j);
    }
}

/* workq run: a worker took the job in time. */
static void
job_run(struct vf_workq_item *item, void *arg)
{
    struct job *j = (struct job *)((char *)item - offsetof(struct job, item));

    (void)arg;
    vf_request_serve(&env, &j->rq);
    finish_job(j);
}

/* workq expire: no worker took the job before its deadline; closed unserved. */
static void
job_expire(struct vf_workq_item *item, void *arg)
{
    struct job *j = (struct job *)((char *)item - offsetof(struct job, item));
    const struct vf_conn *c = j->rq.conn;
    char peer[sizeof(c->peer)];
    int timeout_ms = 0;

    (void)arg;
    if (vf_reqlog_drop_allowed()) {
        pthread_mutex_lock(&mu);
        timeout_ms = queue_timeout_ms;
        pthread_mutex_unlock(&mu);
        vf_reqlog_sanitize(c->peer, peer, sizeof(peer));
        vf_log(LOG_WARNING, "request %llu from %s via %s dropped: no worker free within %d ms",
               (unsigned long long)j->rq.id, peer, c->listener != NULL ? c->listener : "?",
               timeout_ms);
    }
    finish_job(j);
}

/* ---- init / fini / configuration ----------------------------------------- */

/* The request's busy-poll budget (request.h): only with a CPU to spare
 * for the client, whose answer it waits for. */
static unsigned int
spin_budget_us(void)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) < 0 || CPU_COUNT(&set) < 2) {
        return 0;
    }
    return VF_REQUEST_SPIN_US;
}

int
vf_pipeline_init(void)
{
    struct vf_workq_params wp = {
        .max_threads = VF_MAX_WORKERS, .min_threads = VF_MIN_WORKERS,
        .idle_ms = VF_WORKER_IDLE_MS, .max_queued = VF_MAX_WORKERS + VF_MAX_QUEUED,
        .stack_size = WORKER_STACK_SIZE, .run = job_run, .expire = job_expire,
    };

    pthread_once(&idle_cv_once, idle_cv_init);
    env.history = vf_history_new(VF_HISTORY_CAP, VF_HISTORY_WINDOW_MS);
    env.replay = vf_replay_new(VF_REPLAY_ENTRIES);
    env.locks = vf_dlocks_new();
    fairshare = vf_fairshare_new(VF_MAX_PER_REQUESTER, VF_NEWCOMER_RESERVE);
    pthread_mutex_lock(&mu);
    wp.max_queued = VF_MAX_WORKERS + max_queued;
    pthread_mutex_unlock(&mu);
    if (env.history == NULL || env.replay == NULL || env.locks == NULL || fairshare == NULL ||
        vf_workq_new(&wp, &workq) < 0) {
        env.history = vf_history_free(env.history);
        env.replay = vf_replay_free(env.replay);
        vf_dlocks_free(env.locks);
        env.locks = NULL;
        fairshare = vf_fairshare_free(fairshare);
        return -ENOMEM;
    }
    env.spin_us = spin_budget_us();
    atomic_store(&stopping, false);
    return 0;
}

void
vf_pipeline_fini(void)
{
    struct gen *g = NULL;
    unsigned int active = 0;

    pthread_mutex_lock(&mu);
    g = current_gen;
    current_gen = NULL;
    active = active_requests;
    pthread_mutex_unlock(&mu);
    /* idle pool threads exit; busy ones (after a failed drain) finish first */
    (void)vf_workq_free(workq, active == 0 ? FINI_WAIT_MS : 0);
    workq = NULL;
    gen_unref(g);
    if (vf_pipeline_active() == 0) {
        env.history = vf_history_free(env.history);
        env.replay = vf_replay_free(env.replay);
        vf_dlocks_free(env.locks);
        env.locks = NULL;
        fairshare = vf_fairshare_free(fairshare);
    }
}

void
vf_pipeline_set_queue_limits(unsigned int max_q, int timeout_ms)
{
    pthread_mutex_lock(&mu);
    if (max_q > 0) {
        max_queued = max_q;
        if (workq != NULL) {
            vf_workq_set_max_queued(workq, VF_MAX_WORKERS + max_q);
        }
    }
    if (timeout_ms > 0) {
        queue_timeout_ms = timeout_ms;
    }
    pthread_mutex_unlock(&mu);
}

unsigned int
vf_pipeline_workers(void)
{
    unsigned int n = 0;

    pthread_mutex_lock(&mu);
    if (workq != NULL) {
        n = vf_workq_threads(workq);
    }
    pthread_mutex_unlock(&mu);
    return n;
}

void
vf_pipeline_set_status_ahead(const struct vf_status_ahead *ahead)
{
    env.ahead = ahead;
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
    struct timespec ts = vf_deadline_timespec(deadline);
    unsigned int n = 0;

    pthread_mutex_lock(&mu);
    while (active_requests > 0 && vf_now_ms() < deadline) {
        pthread_cond_timedwait(&idle_cv, &mu, &ts);
    }
    n = active_requests;
    pthread_mutex_unlock(&mu);
    return n;
}

/* ---- admission ------------------------------------------------------------ */

/* Why admission refused a connection, for its log line. */
struct refusal {
    int reason;                 /* -EBUSY full, -EUSERS unfair, other: quiet */
    unsigned int running;
    unsigned int queued;
    unsigned int held;          /* the requester's requests in flight */
};

static void
log_refusal(const struct vf_conn *conn, const struct refusal *why)
{
    const char *via = conn->listener != NULL ? conn->listener : "?";
    char peer[sizeof(conn->peer)];
    char ident[sizeof(conn->identity)];

    vf_reqlog_sanitize(conn->peer, peer, sizeof(peer));
    if (why->reason == -EBUSY) {
        /* a flood reaches this path once per datagram/connection: rate limited */
        if (vf_reqlog_drop_allowed()) {
            vf_log(LOG_WARNING, "request from %s via %s refused: %u requests running "
                   "and %u queued", peer, via, why->running, why->queued);
        }
    } else if (why->reason == -EUSERS) {
        if (vf_reqlog_drop_allowed()) {
            vf_reqlog_sanitize(conn->identity, ident, sizeof(ident));
            vf_log(LOG_WARNING, "request from %s via %s refused: requester '%s' has %u "
                   "requests in flight (at most %d each, fewer when the daemon is busy)",
                   peer, via, ident, why->held, VF_MAX_PER_REQUESTER);
        }
    } else {
        vf_dbg(1, "request from %s via %s refused: %s", peer, via,
               why->reason == -ENOMEM ? "out of memory" : "shutting down");
    }
}

/* A copy of a signed request that already ran (or runs)?  Logged. */
static bool
is_replay(const struct vf_conn *conn)
{
    char peer[sizeof(conn->peer)];

    if (!conn->is_signed || !vf_replay_seen(env.replay, &conn->req)) {
        return false;
    }
    if (vf_reqlog_drop_allowed()) {
        vf_reqlog_sanitize(conn->peer, peer, sizeof(peer));
        vf_log(LOG_WARNING, "request from %s via %s dropped: replay of a signed request "
               "received before (identical bytes)", peer,
               conn->listener != NULL ? conn->listener : "?");
    }
    return true;
}

/*
 * Admit @j (its connection set) under the current configuration (mu held):
 * count it, take a reference to the generation.  \return 0, or -errno with
 * @why filled in
 */
static int
admit_locked(struct job *j, int64_t now, struct refusal *why)
{
    const struct vf_conn *conn = j->rq.conn;
    unsigned int capacity = VF_MAX_WORKERS + max_queued;
    int r = 0;

    if (atomic_load(&stopping) || current_gen == NULL) {
        return why->reason = -ESHUTDOWN;
    }
    if (active_requests >= capacity) {
        why->queued = vf_workq_queued(workq);
        why->running = active_requests - why->queued;
        return why->reason = -EBUSY;
    }
    r = vf_fairshare_admit(fairshare, conn->identity, active_requests, capacity, &why->held);
    if (r < 0) {
        return why->reason = r == -EBUSY ? -EUSERS : r;
    }
    active_requests++;
    j->gen = current_gen;
    atomic_fetch_add(&j->gen->refs, 1);
    j->rq.groups = j->gen->groups;
    j->rq.be = vf_backend_inst_ops(j->gen->be);
    j->rq.be_priv = vf_backend_inst_priv(j->gen->be);
    j->rq.id = atomic_fetch_add(&request_counter, 1) + 1;
    j->rq.start_ms = conn->accepted_ms > 0 ? conn->accepted_ms : now;
    j->item.deadline_ms = now + queue_timeout_ms;
    return 0;
}

/* End a connection that was never admitted. */
static void
turn_away(struct vf_conn *conn, void (*done)(void *arg), void *done_arg)
{
    conn->ops->close(conn);
    if (done != NULL) {
        done(done_arg);
    }
}

/*
 * Admission of @conn into @j (zeroed by the caller), shared by both ways
 * of serving.  \return true when admitted; false when @conn was turned
 * away (closed, done called)
 */
static bool
admit(struct job *j, struct vf_conn *conn, void (*done)(void *arg), void *done_arg)
{
    struct refusal why = { .reason = -ENOMEM };
    int r = -ESHUTDOWN;

    if (is_replay(conn)) {
        turn_away(conn, done, done_arg);
        return false;
    }
    if (workq != NULL) {
        vf_workq_reap(workq);   /* expired requests at the queue's head go first */
    }
    j->rq.conn = conn;
    j->done = done;
    j->done_arg = done_arg;
    pthread_mutex_lock(&mu);
    r = workq == NULL ? -ESHUTDOWN : admit_locked(j, vf_now_ms(), &why);
    pthread_mutex_unlock(&mu);
    if (r < 0) {
        why.reason = r == -ESHUTDOWN ? r : why.reason;
        log_refusal(conn, &why);
        turn_away(conn, done, done_arg);
        return false;
    }
    return true;
}

void
vf_pipeline_submit(struct vf_conn *conn, void (*done)(void *arg), void *done_arg)
{
    struct job *j = NULL;
    int r = 0;

    if (conn == NULL) {
        return;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        struct refusal why = { .reason = -ENOMEM };

        log_refusal(conn, &why);
        turn_away(conn, done, done_arg);
        return;
    }
    j->heap = true;
    if (!admit(j, conn, done, done_arg)) {
        free(j);
        return;
    }
    r = vf_workq_push(workq, &j->item);
    if (r < 0) {
        /* queued requests are bounded by admission; this is no thread at all */
        vf_log(LOG_ERR, "cannot start a worker thread: %s; request dropped", strerror(-r));
        finish_job(j);
    }
}

void
vf_pipeline_serve(struct vf_conn *conn, void (*done)(void *arg), void *done_arg)
{
    /* the job lives on the caller's stack: no allocation, no queue, no
     * other thread; admission (and so every bound) is the same as queued */
    struct job j;

    if (conn == NULL) {
        return;
    }
    memset(&j, 0, sizeof(j));
    if (admit(&j, conn, done, done_arg)) {
        vf_request_serve(&env, &j.rq);
        finish_job(&j);
    }
}
