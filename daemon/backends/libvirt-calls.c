/*
 * vmfence - daemon/backends/libvirt-calls.c: bounded libvirt calls.
 *
 * Every backend operation runs in a thread of the backend's work queue
 * (daemon/workq.h) while the caller waits until the request deadline (plus
 * LV_GRACE_MS for the operation to report its own timeout).  A libvirt
 * call that hangs (libvirtd stopped or wedged, before keepalive closes the
 * connection) therefore costs the caller no more than its deadline: the
 * call is abandoned, the caller gets -ETIMEDOUT, and until the abandoned
 * call returns every new request fails at once with -EHOSTDOWN instead of
 * queueing behind it.  An abandoned off/reboot may still complete later;
 * it was reported as failed, which is the safe direction for fencing.
 *
 * A status the lifecycle events can answer (libvirt-cache.c) makes no call
 * and stays on the caller's thread; off/on/reboot mark their target stale
 * in that cache before and after they run, and have it looked up again.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "condwait.h"
#include "io.h"
#include "log.h"
#include "statstamp.h"
#include "timeutil.h"
#include "workq.h"
#include "libvirt-int.h"

#define LV_GRACE_MS         250
#define LV_CALLS_IDLE_MS    30000
#define LV_CALLS_THREADS    64
#define LV_CALLS_QUEUED     1024

enum lv_op {
    LV_OP_LOOKUP,
    LV_OP_OFF,
    LV_OP_ON,
    LV_OP_REBOOT,
    LV_OP_STATUS,
    LV_OP_LIST,
    LV_OP_MONITOR,
};

struct lv_job {
    struct vf_workq_item item;      /* first: the queue's */
    atomic_int refs;                /* caller + queue */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    bool abandoned;
    struct lv_backend *be;          /* referenced */
    enum lv_op op;
    char *target;
    unsigned int flags;
    int64_t deadline_ms;
    /* results */
    int r;
    bool on;
    struct vf_domain_info info;
    struct vf_domain_info *doms;    /* list result */
    size_t n_doms;
};

static const char *const lv_op_names[] = {
    [LV_OP_LOOKUP] = "lookup", [LV_OP_OFF] = "off", [LV_OP_ON] = "on",
    [LV_OP_REBOOT] = "reboot", [LV_OP_STATUS] = "status", [LV_OP_LIST] = "list",
    [LV_OP_MONITOR] = "monitor",
};

static void
lv_job_unref(struct lv_job *job)
{
    if (job == NULL || atomic_fetch_sub(&job->refs, 1) != 1) {
        return;
    }
    lv_be_unref(job->be);
    pthread_cond_destroy(&job->cond);
    pthread_mutex_destroy(&job->lock);
    free(job->target);
    free(job->doms);
    free(job);
}

/* Is @op a power operation (its target's cached status is stale around it)? */
static bool
lv_op_powers(enum lv_op op)
{
    return op == LV_OP_OFF || op == LV_OP_ON || op == LV_OP_REBOOT;
}

static void
lv_job_exec(struct lv_job *job)
{
    struct lv_backend *be = job->be;

    if (lv_op_powers(job->op)) {
        lv_cache_mark_target(be, job->target);
    }
    switch (job->op) {
    case LV_OP_LOOKUP:
        job->r = lv_do_lookup(be, job->target, job->flags, &job->info, job->deadline_ms);
        break;
    case LV_OP_OFF:
        job->r = lv_do_off(be, job->target, job->flags, job->deadline_ms);
        break;
    case LV_OP_ON:
        job->r = lv_do_on(be, job->target, job->flags, job->deadline_ms);
        break;
    case LV_OP_REBOOT:
        job->r = lv_do_reboot(be, job->target, job->flags, job->deadline_ms);
        break;
    case LV_OP_STATUS:
        job->r = lv_do_status(be, job->target, job->flags, &job->on, job->deadline_ms);
        break;
    case LV_OP_LIST:
        job->r = lv_do_list(be, &job->doms, &job->n_doms, job->deadline_ms);
        break;
    case LV_OP_MONITOR:
        job->r = lv_do_monitor(be, job->deadline_ms);
        break;
    }
    if (job->r == 0 || job->r == -ENOENT) {
        lv_cache_alive(be);
    }
    if (lv_op_powers(job->op)) {
        /* its events may have been resolved before it ended: stale again
         * until a lookup that starts now */
        lv_cache_mark_target(be, job->target);
        lv_watch_refresh(be, job->target);
    }
}

/* Report @job's result to its caller and drop the queue's reference. */
static void
lv_job_finish(struct lv_job *job)
{
    pthread_mutex_lock(&job->lock);
    job->done = true;
    if (job->abandoned) {
        atomic_fetch_sub(&job->be->hung, 1);
        vf_log(LOG_NOTICE, "libvirt backend: an abandoned %s call for '%s' returned (%s)",
               lv_op_names[job->op], job->target != NULL ? job->target : "",
               job->r < 0 ? strerror(-job->r) : "success");
    }
    pthread_mutex_unlock(&job->lock);
    /* after unlocking, so the caller does not wake into a held mutex; the
     * job stays alive until our own reference is dropped below */
    pthread_cond_broadcast(&job->cond);
    lv_job_unref(job);
}

/*
 * The caller's side of lv_job_finish(): wait for @job until its deadline
 * plus grace.  \return its result, or
 * -ETIMEDOUT with *@ret_abandoned set (the queue keeps its reference)
 */
static int
lv_job_wait(struct lv_job *job, bool *ret_abandoned)
{
    struct timespec ts = vf_deadline_timespec(job->deadline_ms + LV_GRACE_MS);

    pthread_mutex_lock(&job->lock);
    if (vf_cond_wait_flag(&job->cond, &job->lock, &job->done, &ts)) {
        pthread_mutex_unlock(&job->lock);
        return job->r;
    }
    job->abandoned = true;
    *ret_abandoned = true;
    atomic_fetch_add(&job->be->hung, 1);
    vf_statstamp_bump();            /* after the count: no stamp outlives it */
    pthread_mutex_unlock(&job->lock);
    vf_log(LOG_ERR, "libvirt backend: %s%s%s%s missed its deadline (libvirt hangs); abandoned",
           lv_op_names[job->op], job->target != NULL ? " of '" : "",
           job->target != NULL ? job->target : "", job->target != NULL ? "'" : "");
    return -ETIMEDOUT;
}

static void
lv_job_run_item(struct vf_workq_item *item, void *arg)
{
    struct lv_job *job = (struct lv_job *)item;

    (void)arg;
    lv_job_exec(job);
    lv_job_finish(job);
}

/* No thread took it before its deadline. */
static void
lv_job_expire_item(struct vf_workq_item *item, void *arg)
{
    struct lv_job *job = (struct lv_job *)item;

    (void)arg;
    job->r = -ETIMEDOUT;
    lv_job_finish(job);
}

int
lv_calls_init(struct lv_backend *be)
{
    const struct vf_workq_params p = {
        .max_threads = LV_CALLS_THREADS,
        .min_threads = 0,
        .idle_ms = LV_CALLS_IDLE_MS,
        .max_queued = LV_CALLS_QUEUED,
        .run = lv_job_run_item,
        .expire = lv_job_expire_item,
    };

    return vf_workq_new(&p, &be->calls);
}

/* Stop the call threads; one busy in a hung call is left behind. */
void
lv_calls_fini(struct lv_backend *be, int64_t deadline_ms)
{
    if (atomic_load(&be->hung) > 0) {
        vf_log(LOG_WARNING, "libvirt backend: %d libvirt call(s) still hanging at shutdown",
               atomic_load(&be->hung));
    }
    (void)vf_workq_free(be->calls, lv_fini_wait(deadline_ms));
    be->calls = NULL;
}

/* A new job (two references: the caller's and the queue's).  \return it or NULL */
static struct lv_job *
lv_job_new(struct lv_backend *be, enum lv_op op, const char *target, unsigned int flags,
           int64_t deadline_ms)
{
    struct lv_job *job = calloc(1, sizeof(*job));

    if (job == NULL) {
        return NULL;
    }
    if (target != NULL && (job->target = strdup(target)) == NULL) {
        free(job);
        return NULL;
    }
    if (vf_cond_init_monotonic(&job->cond) < 0) {
        free(job->target);
        free(job);
        return NULL;
    }
    atomic_init(&job->refs, 2);
    pthread_mutex_init(&job->lock, NULL);
    atomic_fetch_add(&be->refs, 1);
    job->be = be;
    job->op = op;
    job->flags = flags;
    job->deadline_ms = deadline_ms;
    job->item.deadline_ms = deadline_ms;
    return job;
}

/**
 * Run @op in a call thread, waiting at most until @deadline_ms plus a
 * grace period.  On success the results are in *@ret_job (the caller's
 * reference, released with lv_job_unref()).
 *
 * \return the operation's result, -ETIMEDOUT (abandoned), -EHOSTDOWN (an
 *         earlier call still hangs), -ENOMEM
 */
static int
lv_job_run(struct lv_backend *be, enum lv_op op, const char *target, unsigned int flags,
           int64_t deadline_ms, struct lv_job **ret_job)
{
    struct lv_job *job = NULL;
    bool abandoned = false;
    int r;

    *ret_job = NULL;
    if (atomic_load(&be->hung) > 0) {
        vf_log(LOG_ERR, "libvirt backend: a libvirt call still hangs; failing %s%s%s%s at once",
               lv_op_names[op], target != NULL ? " of '" : "", target != NULL ? target : "",
               target != NULL ? "'" : "");
        return -EHOSTDOWN;
    }
    job = lv_job_new(be, op, target, flags, deadline_ms);
    if (job == NULL) {
        return -ENOMEM;
    }
    r = vf_workq_push(be->calls, &job->item);
    if (r < 0) {
        /* no thread: run inline (unbounded, but never worse than before) */
        vf_log(LOG_WARNING, "libvirt backend: cannot queue a libvirt call: %s; calling inline",
               strerror(-r));
        lv_job_exec(job);
        job->done = true;
        atomic_fetch_sub(&job->refs, 1);
        *ret_job = job;
        return job->r;
    }
    r = lv_job_wait(job, &abandoned);
    if (abandoned) {
        lv_job_unref(job);
        return r;
    }
    *ret_job = job;
    return r;
}
/* An operation whose only result is its return value. */
static int
lv_call(struct lv_backend *be, enum lv_op op, const char *target, unsigned int flags,
        int64_t deadline_ms)
{
    struct lv_job *job = NULL;
    int r = lv_job_run(be, op, target, flags, deadline_ms, &job);

    lv_job_unref(job);
    return r;
}

int
lv_lookup(void *priv, const char *target, unsigned int flags,
          struct vf_domain_info *ret_dom, int64_t deadline_ms)
{
    struct lv_job *job = NULL;
    int r = lv_job_run(priv, LV_OP_LOOKUP, target, flags, deadline_ms, &job);

    if (r == 0) {
        *ret_dom = job->info;
    }
    lv_job_unref(job);
    return r;
}

int
lv_off(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    return lv_call(priv, LV_OP_OFF, target, flags, deadline_ms);
}

int
lv_on(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    return lv_call(priv, LV_OP_ON, target, flags, deadline_ms);
}

int
lv_reboot(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    return lv_call(priv, LV_OP_REBOOT, target, flags, deadline_ms);
}

/* status: from the lifecycle events when they can be trusted (libvirt-cache.c), else a call */
int
lv_status(void *priv, const char *target, unsigned int flags, bool *ret_on, int64_t deadline_ms)
{
    struct lv_job *job = NULL;
    int r = lv_cache_status(priv, target, flags, ret_on);

    if (r == 0) {
        vf_dbg(1, "libvirt backend: status of '%s' from lifecycle events: %s", target,
               *ret_on ? "on" : "off");
        return 0;
    }
    if ((flags & VF_BE_NOWAIT) != 0) {
        return -EWOULDBLOCK;
    }
    r = lv_job_run(priv, LV_OP_STATUS, target, flags, deadline_ms, &job);

    if (r == 0) {
        *ret_on = job->on;
    }
    lv_job_unref(job);
    return r;
}

int
lv_list(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms)
{
    struct lv_job *job = NULL;
    size_t i;
    int r = lv_job_run(priv, LV_OP_LIST, NULL, 0, deadline_ms, &job);

    for (i = 0; r == 0 && i < job->n_doms; i++) {
        r = cb(arg, &job->doms[i]);
        if (r > 0) {
            r = 0;
        }
    }
    lv_job_unref(job);
    return r;
}

int
lv_monitor(void *priv, int64_t deadline_ms)
{
    return lv_call(priv, LV_OP_MONITOR, NULL, 0, deadline_ms);
}
