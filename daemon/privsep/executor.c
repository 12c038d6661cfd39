/*
 * vmfence - daemon/privsep/executor.c: the privileged side of the
 * socketpair (privsep.h).
 *
 * One reader thread decodes each datagram (msg.c; anything malformed ends
 * the connection: the peer is then treated as gone) and queues each
 * request to a pool of threads (workq.c: a few kept warm, so a request
 * does not pay for a thread start), at most VF_PS_MAX_INFLIGHT at once
 * (beyond: -EBUSY at once).  A status the backend answers from what it
 * already knows (VF_BC_STATUS_NOWAIT: the libvirt backend's lifecycle
 * cache) is answered by the reader itself, when no groups re-check needs a
 * backend call and the answer goes out without waiting: no pool wake-up on
 * the everyday path (answer_inline()).  The request thread re-checks the groups for the requester it
 * was told (defence in depth against a logic error in the network
 * process; a compromised one can lie about the requester, which is why the
 * network process runs in a sandbox), runs the backend op with the
 * request's deadline and sends the bounded answer.  Backend and groups are
 * a refcounted generation, replaced on reload.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "hostlist.h"
#include "io.h"
#include "log.h"
#include "privsep/msg.h"
#include "privsep/privsep.h"
#include "privsep/scm.h"
#include "statstamp.h"
#include "timeutil.h"
#include "workq.h"

#define POOL_WARM 4             /* threads kept idle */
#define POOL_IDLE_MS 1000       /* the others exit after this long idle (workq.h) */
#define EXEC_SNDBUF (1 << 20)   /* bytes queued to the network process (set_sndbuf) */
#define POOL_EXIT_WAIT_MS 1000  /* stop: for the idle threads to exit */

struct gen {
    atomic_int refs;
    struct vf_backend_inst *be;
    struct vf_groups *groups;
};

struct vf_ps_exec {
    atomic_int refs;            /* the owner + every request thread */
    int fd;
    struct vf_ps_exec_cbs cbs;
    pthread_t reader;
    pthread_mutex_t lock;
    pthread_cond_t idle_cv;
    struct gen *gen;            /* guarded by lock */
    unsigned int active;        /* guarded by lock */
    atomic_bool stopping;
    struct vf_workq *pool;      /* request threads; the reader pushes */
};

struct job {
    struct vf_workq_item item;  /* first: the pool's */
    struct vf_ps_exec *ex;
    struct gen *gen;
    struct vf_ps_req rq;
    int64_t deadline_ms;
};

static struct gen *
gen_unref(struct gen *g)
{
    if (g != NULL && atomic_fetch_sub(&g->refs, 1) == 1) {
        vf_backend_inst_unref(g->be);
        vf_groups_free(g->groups);
        free(g);
    }
    return NULL;
}

static void
exec_unref(struct vf_ps_exec *ex)
{
    if (atomic_fetch_sub(&ex->refs, 1) == 1) {
        gen_unref(ex->gen);
        close(ex->fd);
        pthread_cond_destroy(&ex->idle_cv);
        VF_LOCKED_FREE(ex, struct vf_ps_exec, lock);
    }
}

/* Send one answer by @deadline_ms: 0 or -errno. */
static int
send_ans(struct vf_ps_exec *ex, const struct vf_ps_ans *an, int64_t deadline_ms)
{
    uint8_t buf[VF_PS_ANS_SIZE];
    int r = vf_ps_ans_encode(an, buf, sizeof(buf));

    return r == 0 ? vf_ps_send_by(ex->fd, buf, sizeof(buf), deadline_ms, NULL) : r;
}

/* The RESULT of request @id; a status answered from the lifecycle cache
 * carries its @stamp (lib/statstamp.h; 0: none). */
static int
send_result_stamped(struct vf_ps_exec *ex, uint64_t id, int result, bool on, uint64_t stamp,
                    const struct vf_domain_info *dom, int64_t deadline_ms)
{
    struct vf_ps_ans an = { .kind = VF_PS_KIND_RESULT, .id = id, .on = on };

    /* 0 or -errno only: a backend's positive value is a failure (request.c) */
    an.result = result > 0 ? -EIO : result < -4095 ? -EIO : result;
    an.stamp = an.result == 0 ? stamp : 0;
    if (dom != NULL && an.result == 0) {
        an.dom = *dom;
        an.dom.name[sizeof(an.dom.name) - 1] = '\0';
        an.dom.uuid[sizeof(an.dom.uuid) - 1] = '\0';
    }
    /* the network process gives up VF_PS_ANSWER_SLACK_MS after the deadline */
    return send_ans(ex, &an, deadline_ms + VF_PS_ANSWER_SLACK_MS);
}

static int
send_result(struct vf_ps_exec *ex, uint64_t id, int result, bool on,
            const struct vf_domain_info *dom, int64_t deadline_ms)
{
    return send_result_stamped(ex, id, result, on, 0, dom, deadline_ms);
}

/* ---- list ------------------------------------------------------------------ */

/* DOMAIN answers go out VF_PS_SEND_MANY_MAX at a time (one sendmmsg(), and
 * the network process takes them with one recvmmsg()) */
struct list_ctx {
    struct vf_ps_exec *ex;
    const struct job *job;
    size_t n;
    int err;
    uint8_t *batch;             /* encoded, not yet sent; NULL: send one by one */
    size_t queued;
};

/* Send what is queued in @lc. */
static int
list_flush(struct list_ctx *lc)
{
    int r = 0;

    if (lc->queued > 0 && lc->err == 0) {
        r = vf_ps_send_many(lc->ex->fd, lc->batch, lc->queued, VF_PS_ANS_SIZE,
                            lc->job->deadline_ms);
        if (r < 0) {
            lc->err = r;
        }
    }
    lc->queued = 0;
    return r;
}

static int
list_cb(void *arg, const struct vf_domain_info *dom)
{
    struct list_ctx *lc = arg;
    const struct job *j = lc->job;
    struct vf_ps_ans an = { .kind = VF_PS_KIND_DOMAIN, .id = j->rq.id };
    int r = 0;

    if (j->rq.identity[0] != '\0' &&
        !vf_groups_allowed(j->gen->groups, j->rq.identity, NULL, dom->name, dom->uuid)) {
        return 0;
    }
    if (lc->n == VF_MAX_LIST_DOMAINS || lc->err < 0) {
        return 0;
    }
    an.dom = *dom;
    an.dom.name[sizeof(an.dom.name) - 1] = '\0';
    an.dom.uuid[sizeof(an.dom.uuid) - 1] = '\0';
    if (an.dom.state < 0 || an.dom.state > VF_STATE_PMSUSPENDED) {
        an.dom.state = VF_STATE_NOSTATE;
    }
    if (lc->batch == NULL) {
        r = send_ans(lc->ex, &an, j->deadline_ms);
    } else {
        r = vf_ps_ans_encode(&an, lc->batch + lc->queued * VF_PS_ANS_SIZE, VF_PS_ANS_SIZE);
        if (r == 0 && ++lc->queued == VF_PS_SEND_MANY_MAX) {
            r = list_flush(lc);
        }
    }
    if (r < 0) {
        lc->err = r;
        return r;
    }
    lc->n++;
    return 0;
}

/* ---- one request ------------------------------------------------------------- */

/*
 * Defence in depth: may the requester act on the target?  With no
 * requester given (the network process could not say) the check is
 * skipped: the network process decided.  0 or -EPERM / a lookup error.
 */
static int
recheck_groups(const struct job *j, const struct vf_backend_ops *ops, void *priv)
{
    struct vf_domain_info dom;
    int r = 0;

    if (j->rq.identity[0] == '\0' || !vf_groups_active(j->gen->groups) ||
        j->rq.op < VF_PS_OP_OFF || j->rq.op > VF_PS_OP_STATUS) {
        return 0;
    }
    memset(&dom, 0, sizeof(dom));
    r = ops->lookup(priv, j->rq.target, j->rq.flags, &dom, j->deadline_ms);
    if (vf_groups_allowed(j->gen->groups, j->rq.identity, j->rq.target,
                          r == 0 ? dom.name : NULL, r == 0 ? dom.uuid : NULL)) {
        return 0;
    }
    if (r < 0 && r != -ENOENT) {
        return r;
    }
    vf_log(LOG_WARNING, "privsep: refused %s of '%s' for '%s': the groups do not allow it "
           "(the network process asked anyway)", vf_ps_op_name(j->rq.op), j->rq.target,
           j->rq.identity);
    return -EPERM;
}

/* A queued job has been answered: release it and its count. */
static void
job_done(struct job *j)
{
    struct vf_ps_exec *ex = j->ex;

    gen_unref(j->gen);
    free(j);
    pthread_mutex_lock(&ex->lock);
    if (--ex->active == 0) {
        pthread_cond_broadcast(&ex->idle_cv);
    }
    pthread_mutex_unlock(&ex->lock);
    exec_unref(ex);
}

static void
job_main(struct vf_workq_item *item, void *arg)
{
    struct job *j = (struct job *)item;
    struct vf_ps_exec *ex = j->ex;
    const struct vf_backend_ops *ops = vf_backend_inst_ops(j->gen->be);
    void *priv = vf_backend_inst_priv(j->gen->be);
    struct vf_domain_info dom;
    const char *t = j->rq.target;
    unsigned int fl = j->rq.flags;
    int64_t dl = j->deadline_ms;
    bool on = false;
    bool trim = false;
    int r = 0;

    memset(&dom, 0, sizeof(dom));
    vf_ps_set_requester(j->rq.identity);
    r = ops == NULL ? -EHOSTDOWN : recheck_groups(j, ops, priv);
    if (r == 0) {
        switch (j->rq.op) {
        case VF_PS_OP_LOOKUP: r = ops->lookup(priv, t, fl, &dom, dl); break;
        case VF_PS_OP_OFF: r = ops->off(priv, t, fl, dl); break;
        case VF_PS_OP_ON: r = ops->on(priv, t, fl, dl); break;
        case VF_PS_OP_REBOOT: r = ops->reboot(priv, t, fl, dl); break;
        case VF_PS_OP_STATUS: r = ops->status(priv, t, fl, &on, dl); break;
        case VF_PS_OP_MONITOR: r = ops->monitor != NULL ? ops->monitor(priv, dl) : 0; break;
        case VF_PS_OP_LIST: {
            struct list_ctx lc = {
                .ex = ex, .job = j, .batch = malloc(VF_PS_SEND_MANY_MAX * VF_PS_ANS_SIZE),
            };

            r = ops->list(priv, list_cb, &lc, dl);
            (void)list_flush(&lc);      /* the DOMAIN answers before the RESULT */
            free(lc.batch);
            if (r == 0 && lc.err < 0) {
                r = lc.err;
            }
            trim = vf_ps_trim_wanted(lc.n * sizeof(struct vf_domain_info));
            break;
        }
        default: r = -EINVAL; break;
        }
    }
    vf_dbg(2, "privsep: %s '%s' for '%s': %d", vf_ps_op_name(j->rq.op), t, j->rq.identity, r);
    (void)send_result(ex, j->rq.id, r, on, j->rq.op == VF_PS_OP_LOOKUP ? &dom : NULL, dl);
    job_done(j);
    if (trim) {
        vf_ps_trim_now("a large list");     /* answered; the backend's copy is freed */
    }
}

/* No thread took the job before its deadline: answer so, never run it. */
static void
job_expire(struct vf_workq_item *item, void *arg)
{
    struct job *j = (struct job *)item;

    (void)arg;
    (void)send_result(j->ex, j->rq.id, -ETIMEDOUT, false, NULL, vf_now_ms() + 1000);
    job_done(j);
}

/*
 * A status that the backend answers from what it already knows (the libvirt
 * backend's lifecycle cache: VF_BC_STATUS_NOWAIT) is answered here, on the
 * reader thread, with no hand-off to the pool: one thread wake-up less per
 * request.  Only when the groups re-check needs no backend call (no groups,
 * or no requester given), and only if the answer goes out without waiting
 * (the reader must never block).  \return true if answered; false: queue it
 * (the pool asks again, with the request's deadline).
 */
static bool
answer_inline(struct vf_ps_exec *ex, const struct vf_ps_req *rq, int64_t deadline_ms)
{
    const struct vf_backend_ops *ops = NULL;
    struct gen *g = NULL;
    bool on = false, done = false;
    uint64_t stamp = 0;
    int r = 0;

    if (rq->op != VF_PS_OP_STATUS) {
        return false;
    }
    pthread_mutex_lock(&ex->lock);
    g = ex->gen;
    atomic_fetch_add(&g->refs, 1);
    pthread_mutex_unlock(&ex->lock);
    ops = vf_backend_inst_ops(g->be);
    if (ops != NULL && ops->schema != NULL &&
        (ops->schema->flags & VF_BC_STATUS_NOWAIT) != 0 &&
        (rq->identity[0] == '\0' || !vf_groups_active(g->groups))) {
        vf_ps_set_requester(rq->identity);
        /* a status by name is stamped with the gen read before asking: a
         * change from then on bumps it (lib/statstamp.h) */
        if ((ops->schema->flags & VF_BC_STATUS_STAMPED) != 0 && rq->flags == 0) {
            stamp = vf_statstamp_gen();
        }
        /* rq->flags holds at most VF_BE_BY_UUID (vf_ps_req_decode refuses the rest) */
        r = ops->status(vf_backend_inst_priv(g->be), rq->target, rq->flags | VF_BE_NOWAIT,
                        &on, deadline_ms);
        /* a deadline already past: one try at sending, no wait */
        done = r != -EWOULDBLOCK &&
               send_result_stamped(ex, rq->id, r, on, stamp, NULL, 0) == 0;
        if (done) {
            vf_dbg(2, "privsep: status '%s' for '%s': %d (answered by the reader)",
                   rq->target, rq->identity, r);
        }
    }
    gen_unref(g);
    return done;
}

/* Queue @rq to the pool, or answer at once (busy, out of memory). */
static void
start_job(struct vf_ps_exec *ex, const struct vf_ps_req *rq)
{
    struct job *j = NULL;
    int64_t now = vf_now_ms();
    int r = 0;

    /*
     * The caller gave up at sent_ms + timeout_ms: a request read later (this
     * process was stopped or slow) must not run after its caller was told it
     * failed.  A sender's clock ahead of ours gains it nothing (capped at
     * now + timeout_ms).
     */
    if (rq->sent_ms + (int64_t)rq->timeout_ms <= now) {
        vf_log(LOG_WARNING, "privsep executor: request %llu (%s '%s') expired %lld ms before "
               "it was read: not run", (unsigned long long)rq->id, vf_ps_op_name(rq->op),
               rq->target, (long long)(now - rq->sent_ms - (int64_t)rq->timeout_ms));
        (void)send_result(ex, rq->id, -ETIMEDOUT, false, NULL, now + 1000);
        return;
    }
    if (answer_inline(ex, rq, rq->sent_ms + (int64_t)rq->timeout_ms)) {
        return;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        (void)send_result(ex, rq->id, -ENOMEM, false, NULL, vf_now_ms() + 1000);
        return;
    }
    j->ex = ex;
    j->rq = *rq;
    j->deadline_ms = now + rq->timeout_ms;
    if (rq->sent_ms + (int64_t)rq->timeout_ms < j->deadline_ms) {
        j->deadline_ms = rq->sent_ms + rq->timeout_ms;
    }
    pthread_mutex_lock(&ex->lock);
    if (ex->active >= VF_PS_MAX_INFLIGHT) {
        pthread_mutex_unlock(&ex->lock);
        free(j);
        (void)send_result(ex, rq->id, -EBUSY, false, NULL, vf_now_ms() + 1000);
        return;
    }
    j->gen = ex->gen;
    atomic_fetch_add(&j->gen->refs, 1);
    ex->active++;
    atomic_fetch_add(&ex->refs, 1);
    pthread_mutex_unlock(&ex->lock);

    j->item.deadline_ms = j->deadline_ms;
    r = vf_workq_push(ex->pool, &j->item);
    if (r != 0) {
        (void)send_result(ex, rq->id, r, false, NULL, vf_now_ms() + 1000);
        gen_unref(j->gen);
        free(j);
        pthread_mutex_lock(&ex->lock);
        ex->active--;
        pthread_mutex_unlock(&ex->lock);
        atomic_fetch_sub(&ex->refs, 1);
    }
}

static void *
reader_main(void *arg)
{
    struct vf_ps_exec *ex = arg;
    uint8_t buf[VF_PS_REQ_SIZE + 1];
    const char *why = "end of the socketpair";

    for (;;) {
        struct vf_ps_req rq;
        ssize_t n = recv(ex->fd, buf, sizeof(buf), MSG_TRUNC);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            why = n == 0 ? why : strerror(errno);
            break;
        }
        if (vf_ps_req_decode(buf, (size_t)n, &rq) < 0) {
            /* never act on a message that is not exactly right */
            why = "malformed request";
            break;
        }
        if (rq.op == VF_PS_OP_READY) {
            if (ex->cbs.ready != NULL) {
                ex->cbs.ready(ex->cbs.arg);
            }
            continue;
        }
        start_job(ex, &rq);
    }
    if (!atomic_load(&ex->stopping)) {
        vf_log(LOG_ERR, "privsep: network process connection ended (%s)", why);
        (void)shutdown(ex->fd, SHUT_RDWR);
        if (ex->cbs.eof != NULL) {
            ex->cbs.eof(ex->cbs.arg);
        }
    }
    return NULL;
}

/* Room for a large list's records in the socket (a unix socket counts them
 * against the sender): the executor's thread then rarely waits for the
 * network process to read.  Root may go past net.core.wmem_max; without
 * that, whatever the system allows. */
static void
set_sndbuf(int fd)
{
    int sz = EXEC_SNDBUF;

    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0) {
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    }
}

int
vf_ps_exec_start(int fd, struct vf_backend_inst *be, struct vf_groups *groups,
                 const struct vf_ps_exec_cbs *cbs, struct vf_ps_exec **ret_ex)
{
    struct vf_ps_exec *ex = calloc(1, sizeof(*ex));
    int r = 0;

    if (ex == NULL) {
        vf_groups_free(groups);
        return -ENOMEM;
    }
    atomic_init(&ex->refs, 1);
    atomic_init(&ex->stopping, false);
    ex->fd = fd;
    set_sndbuf(fd);
    if (cbs != NULL) {
        ex->cbs = *cbs;
    }
    pthread_mutex_init(&ex->lock, NULL);
    vf_cond_init_monotonic(&ex->idle_cv);
    r = vf_ps_exec_set_config(ex, be, groups);
    if (r == 0) {
        struct vf_workq_params pp = {
            .max_threads = VF_PS_MAX_INFLIGHT, .min_threads = POOL_WARM,
            .idle_ms = POOL_IDLE_MS, .max_queued = VF_PS_MAX_INFLIGHT,
            .run = job_main, .expire = job_expire, .arg = ex,
        };

        r = vf_workq_new(&pp, &ex->pool);
    }
    if (r == 0) {
        r = -pthread_create(&ex->reader, NULL, reader_main, ex);
    }
    if (r < 0) {
        (void)vf_workq_free(ex->pool, POOL_EXIT_WAIT_MS);
        ex->fd = -1;
        exec_unref(ex);
        return r;
    }
    *ret_ex = ex;
    return 0;
}

int
vf_ps_exec_set_config(struct vf_ps_exec *ex, struct vf_backend_inst *be,
                      struct vf_groups *groups)
{
    struct gen *g = calloc(1, sizeof(*g));
    struct gen *old = NULL;

    if (g == NULL) {
        vf_groups_free(groups);
        return -ENOMEM;
    }
    atomic_init(&g->refs, 1);
    g->be = be;
    g->groups = groups;
    pthread_mutex_lock(&ex->lock);
    old = ex->gen;
    ex->gen = g;
    pthread_mutex_unlock(&ex->lock);
    vf_statstamp_bump();        /* nothing stamped before a reload holds after it */
    gen_unref(old);
    return 0;
}

unsigned int
vf_ps_exec_active(const struct vf_ps_exec *ex)
{
    unsigned int n = 0;

    pthread_mutex_lock((pthread_mutex_t *)&ex->lock);
    n = ex->active;
    pthread_mutex_unlock((pthread_mutex_t *)&ex->lock);
    return n;
}

void
vf_ps_exec_expect_end(struct vf_ps_exec *ex)
{
    if (ex != NULL) {
        atomic_store(&ex->stopping, true);
    }
}

struct vf_ps_exec *
vf_ps_exec_stop(struct vf_ps_exec *ex, int drain_ms)
{
    int64_t deadline = vf_now_ms() + drain_ms;

    if (ex == NULL) {
        return NULL;
    }
    atomic_store(&ex->stopping, true);
    (void)shutdown(ex->fd, SHUT_RDWR);
    pthread_join(ex->reader, NULL);
    pthread_mutex_lock(&ex->lock);
    while (ex->active > 0) {
        struct timespec ts = vf_deadline_timespec(deadline);

        if (pthread_cond_timedwait(&ex->idle_cv, &ex->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    if (ex->active > 0) {
        vf_log(LOG_WARNING, "privsep: %u backend operation%s still running", ex->active,
               ex->active == 1 ? "" : "s");
    }
    pthread_mutex_unlock(&ex->lock);
    /* the reader is gone: nothing pushes; idle threads exit at once, busy
     * ones (past the drain) keep the pool */
    (void)vf_workq_free(ex->pool, POOL_EXIT_WAIT_MS);
    ex->pool = NULL;
    exec_unref(ex);
    return NULL;
}
