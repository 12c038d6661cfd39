/*
 * vmfence - daemon/backends/cpg-group.c: the cpg backend's CPG handle.
 *
 * One thread owns the handle: it connects, joins, publishes the handle for
 * senders and only then dispatches; it polls the CPG fd with a 500 ms tick
 * (so it notices shutdown) and reconnects with a backoff when corosync goes
 * away.  Messages are dispatched here: STATE to the membership table
 * (cpg-member.c), REQUEST to a serving thread of its own (bounded), REPLY
 * to the request waiting for it (cpg-route.c's pending table).
 *
 * It also watches for fence-virt 4.x daemons (group "fence-agents", or
 * "fence-virt" before fence-agents) with cpg_iteration: they do not speak
 * this protocol, cannot see vmfence's group, and answer "success" for VMs
 * they do not know, so they are logged loudly (see cpg.c, rolling upgrade).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "condwait.h"
#include "backends/cpg-int.h"

static const char *
cpg_err_text(cs_error_t e)
{
    switch (e) {
    case CS_OK: return "ok";
    case CS_ERR_LIBRARY: return "cannot reach corosync";
    case CS_ERR_TRY_AGAIN: return "try again";
    case CS_ERR_BAD_HANDLE: return "bad handle";
    case CS_ERR_ACCESS: return "access denied";
    case CS_ERR_NO_MEMORY: return "no memory";
    case CS_ERR_EXIST: return "already joined";
    case CS_ERR_NOT_EXIST: return "not joined";
    case CS_ERR_INVALID_PARAM: return "invalid parameter";
    case CS_ERR_TOO_BIG: return "message too big";
    default: return "corosync error";
    }
}

const char *
cpg_op_name(int op)
{
    const char *s = vf_cmd_name(op);

    return s != NULL ? s : "?";
}

/* ---- sending ------------------------------------------------------------ */

/**
 * Multicast one message to the group (agreed order).  CS_ERR_TRY_AGAIN is
 * retried CPG_TRY_AGAIN_MAX times, 20 ms apart.
 * \return 0, -EHOSTDOWN (no handle / corosync error), -EMSGSIZE
 */
int
cpg_send(struct cpg_be *be, const uint8_t *buf, size_t len)
{
    struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
    cs_error_t e = CS_ERR_LIBRARY;
    int tries;

    pthread_mutex_lock(&be->send_lock);
    for (tries = 0; tries < CPG_TRY_AGAIN_MAX && be->handle_valid; tries++) {
        e = cpg_mcast_joined(be->handle, CPG_TYPE_AGREED, &iov, 1);
        if (e != CS_ERR_TRY_AGAIN) {
            break;
        }
        pthread_mutex_unlock(&be->send_lock);
        vf_sleep_ms(CPG_TRY_AGAIN_SLEEP_MS);
        pthread_mutex_lock(&be->send_lock);
    }
    pthread_mutex_unlock(&be->send_lock);
    if (e == CS_OK) {
        return 0;
    }
    vf_log(LOG_WARNING, "cpg backend: sending %zu bytes to group '%s' failed: %s",
           len, be->group, cpg_err_text(e));
    return e == CS_ERR_TOO_BIG ? -EMSGSIZE : -EHOSTDOWN;
}

static void
cpg_send_reply(struct cpg_be *be, uint64_t id, uint32_t nodeid, uint32_t pid,
               int result, bool on)
{
    struct vf_cpgw_reply rep;
    uint8_t buf[VF_CPGW_HDR_SIZE + VF_CPGW_REPLY_SIZE];
    size_t len = 0;

    memset(&rep, 0, sizeof(rep));
    rep.id = id;
    rep.nodeid = nodeid;
    rep.pid = pid;
    rep.result = result > 0 || result < -4095 ? -EIO : result;
    rep.on = on;
    if (vf_cpgw_encode_reply(&rep, buf, sizeof(buf), &len) == 0) {
        (void)cpg_send(be, buf, len);
    }
}

/* ---- serving requests of other members ---------------------------------- */

struct cpg_job {
    struct cpg_be *be;
    struct vf_cpgw_request req;
    uint32_t from_nodeid;
    uint32_t from_pid;
};

static void *
cpg_serve_main(void *arg)
{
    struct cpg_job *job = arg;
    struct cpg_be *be = job->be;
    const struct vf_cpgw_request *rq = &job->req;
    unsigned int flags = (rq->flags & VF_CPGW_REQ_BY_UUID) != 0 ? VF_BE_BY_UUID : 0;
    int64_t deadline = vf_now_ms() +
        (rq->timeout_ms < CPG_MAX_SERVE_MS ? (int64_t)rq->timeout_ms : CPG_MAX_SERVE_MS);
    bool on = false;
    int r;

    vf_log(LOG_INFO, "cpg backend: node %u asks for %s of '%s'", (unsigned int)job->from_nodeid,
           cpg_op_name(rq->op), rq->target);
    switch (rq->op) {
    case VF_CMD_OFF:
        r = be->lv->off(be->lv_priv, rq->target, flags, deadline);
        break;
    case VF_CMD_ON:
        r = be->lv->on(be->lv_priv, rq->target, flags, deadline);
        break;
    case VF_CMD_REBOOT:
        r = be->lv->reboot(be->lv_priv, rq->target, flags, deadline);
        break;
    case VF_CMD_STATUS:
        r = be->lv->status(be->lv_priv, rq->target, flags, &on, deadline);
        break;
    default:
        r = -EOPNOTSUPP;
        break;
    }
    vf_log(r == 0 ? LOG_INFO : LOG_WARNING, "cpg backend: %s of '%s' for node %u: %s",
           cpg_op_name(rq->op), rq->target, (unsigned int)job->from_nodeid,
           r == 0 ? (rq->op == VF_CMD_STATUS ? (on ? "on" : "off") : "done") : strerror(-r));
    cpg_send_reply(be, rq->id, job->from_nodeid, job->from_pid, r, on);
    pthread_mutex_lock(&be->lock);
    be->serving--;
    pthread_cond_broadcast(&be->cond);
    pthread_mutex_unlock(&be->lock);
    free(job);
    return NULL;
}

/* A REQUEST addressed to us: run it in a thread of its own (bounded). */
void
cpg_handle_request(struct cpg_be *be, const struct vf_cpgw_request *rq,
                   uint32_t nodeid, uint32_t pid)
{
    struct cpg_job *job;
    pthread_attr_t attr;
    pthread_t t;
    bool busy;
    int r;

    pthread_mutex_lock(&be->lock);
    busy = be->stopping || be->serving >= CPG_MAX_SERVE;
    if (!busy) {
        be->serving++;
    }
    pthread_mutex_unlock(&be->lock);
    if (busy) {
        vf_log(LOG_WARNING, "cpg backend: too many requests from the group; refusing %s of '%s' from node %u",
               cpg_op_name(rq->op), rq->target, (unsigned int)nodeid);
        cpg_send_reply(be, rq->id, nodeid, pid, -EBUSY, false);
        return;
    }
    job = calloc(1, sizeof(*job));
    r = -ENOMEM;
    if (job != NULL) {
        job->be = be;
        job->req = *rq;
        job->from_nodeid = nodeid;
        job->from_pid = pid;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = -pthread_create(&t, &attr, cpg_serve_main, job);
        pthread_attr_destroy(&attr);
    }
    if (r < 0) {
        free(job);
        pthread_mutex_lock(&be->lock);
        be->serving--;
        pthread_cond_broadcast(&be->cond);
        pthread_mutex_unlock(&be->lock);
        cpg_send_reply(be, rq->id, nodeid, pid, -EAGAIN, false);
    }
}

/* ---- fence-virt 4.x daemons ------------------------------------------------ */

/* be->lock held: first report of a reference daemon on @nodeid? */
static bool
cpg_ref_first_locked(struct cpg_be *be, uint32_t nodeid)
{
    size_t i;

    for (i = 0; i < be->n_ref_seen; i++) {
        if (be->ref_seen[i] == nodeid) {
            return false;
        }
    }
    if (be->n_ref_seen < sizeof(be->ref_seen) / sizeof(be->ref_seen[0])) {
        be->ref_seen[be->n_ref_seen++] = nodeid;
    }
    return true;
}

static void
cpg_ref_report(struct cpg_be *be, uint32_t nodeid, uint32_t pid, const char *group)
{
    bool first;

    pthread_mutex_lock(&be->lock);
    first = cpg_ref_first_locked(be, nodeid);
    pthread_mutex_unlock(&be->lock);
    if (!first) {
        return;
    }
    vf_log(LOG_ERR, "cpg backend: a fence-virt (reference) fence_virtd runs on node %u (pid %u, "
           "CPG group '%s'); it does not speak vmfence's protocol, cannot see group '%s', and "
           "answers success for VMs it does not know: stop it on every host (see fence_virt.conf(5), "
           "cpg backend, rolling upgrade)", (unsigned int)nodeid, (unsigned int)pid, group,
           be->group);
}

/*
 * List the members of fence-virt's CPG groups (without joining them: a
 * member that never answers would block the reference's requests forever).
 */
void
cpg_check_reference(struct cpg_be *be, cpg_handle_t h)
{
    static const char *const groups[] = { "fence-agents", "fence-virt" };
    struct cpg_iteration_description_t d;
    cpg_iteration_handle_t it;
    struct cpg_name name;
    size_t g;
    int n;

    for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        if (strcmp(groups[g], be->group) == 0) {
            continue;           /* our own group: seen by message (cpg_deliver) */
        }
        memset(&name, 0, sizeof(name));
        name.length = (uint32_t)strlen(groups[g]);
        memcpy(name.value, groups[g], name.length);
        if (cpg_iteration_initialize(h, CPG_ITERATION_ONE_GROUP, &name, &it) != CS_OK) {
            continue;
        }
        for (n = 0; n < 64 && cpg_iteration_next(it, &d) == CS_OK; n++) {
            cpg_ref_report(be, d.nodeid, d.pid, groups[g]);
        }
        (void)cpg_iteration_finalize(it);
    }
}

/* ---- CPG callbacks (run in the CPG thread) ------------------------------- */

/* be->lock held: a REPLY to one of our requests */
static void
cpg_reply_locked(struct cpg_be *be, const struct vf_cpgw_reply *rep, uint32_t nodeid,
                 uint32_t pid)
{
    size_t i;

    if (rep->nodeid != be->my_nodeid || rep->pid != be->my_pid) {
        return;
    }
    for (i = 0; i < CPG_MAX_PENDING; i++) {
        struct cpg_pending *p = &be->pending[i];

        if (p->used && !p->done && p->id == rep->id && p->nodeid == nodeid && p->pid == pid) {
            p->done = true;
            p->result = rep->result;
            p->on = rep->on;
            pthread_cond_broadcast(&be->cond);
            return;
        }
    }
    vf_dbg(1, "cpg backend: late or unknown reply %llu from node %u ignored",
           (unsigned long long)rep->id, (unsigned int)nodeid);
}

/* fence-virt 4.x's messages: a 16-byte header (type 0..2) and a 140-byte body */
static bool
cpg_looks_reference(const uint8_t *msg, size_t len)
{
    uint32_t type;

    if (len != 16 + 140) {
        return false;
    }
    memcpy(&type, msg, sizeof(type));
    return type <= 2;
}

static void
cpg_deliver(cpg_handle_t handle, const struct cpg_name *group, uint32_t nodeid,
            uint32_t pid, void *msg, size_t msg_len)
{
    struct cpg_be *be = NULL;
    struct vf_cpgw_msg m;
    int r;

    (void)group;
    if (cpg_context_get(handle, (void **)&be) != CS_OK || be == NULL) {
        return;
    }
    memset(&m, 0, sizeof(m));
    r = vf_cpgw_decode(msg, msg_len, &m);
    if (r < 0) {
        if (r == -EPROTO && cpg_looks_reference(msg, msg_len)) {
            cpg_ref_report(be, nodeid, pid, be->group);
            return;
        }
        vf_log(LOG_WARNING, "cpg backend: dropping a malformed %zu-byte message from node %u pid %u: %s",
               msg_len, (unsigned int)nodeid, (unsigned int)pid, strerror(-r));
        return;
    }
    pthread_mutex_lock(&be->lock);
    switch (m.type) {
    case VF_CPGW_STATE:
        cpg_state_locked(be, nodeid, pid, &m);
        break;
    case VF_CPGW_REQUEST:
        if (m.req.nodeid == be->my_nodeid && m.req.pid == be->my_pid) {
            pthread_mutex_unlock(&be->lock);
            cpg_handle_request(be, &m.req, nodeid, pid);
            pthread_mutex_lock(&be->lock);
        }
        break;
    case VF_CPGW_REPLY:
        cpg_reply_locked(be, &m.rep, nodeid, pid);
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&be->lock);
    vf_cpgw_msg_done(&m);
}

/* ---- the CPG thread ----------------------------------------------------- */

static void
cpg_disconnect(struct cpg_be *be, bool leave)
{
    struct cpg_name name;
    cpg_handle_t h;
    bool valid;

    /* first stop serving (monitor and requests fail from here on) */
    pthread_mutex_lock(&be->lock);
    cpg_forget_locked(be);
    pthread_mutex_unlock(&be->lock);
    pthread_mutex_lock(&be->send_lock);
    h = be->handle;
    valid = be->handle_valid;
    be->handle_valid = false;
    if (valid) {
        if (leave) {
            memset(&name, 0, sizeof(name));
            name.length = (uint32_t)strlen(be->group);
            memcpy(name.value, be->group, name.length);
            (void)cpg_leave(h, &name);
        }
        (void)cpg_finalize(h);
    }
    pthread_mutex_unlock(&be->send_lock);
}

static cs_error_t
cpg_join_retry(cpg_handle_t h, const char *group)
{
    struct cpg_name name;
    cs_error_t e = CS_ERR_TRY_AGAIN;
    int tries;

    memset(&name, 0, sizeof(name));
    name.length = (uint32_t)strlen(group);
    memcpy(name.value, group, name.length);
    for (tries = 0; tries < CPG_TRY_AGAIN_MAX; tries++) {
        e = cpg_join(h, &name);
        if (e != CS_ERR_TRY_AGAIN) {
            break;
        }
        vf_sleep_ms(CPG_TRY_AGAIN_SLEEP_MS * 5);
    }
    return e;
}

/**
 * Connect to corosync and join the group; the handle is published (under
 * send_lock, for senders) before this thread dispatches anything.  The CPG
 * thread keeps its own copy in *@ret_h: it is the only one that replaces or
 * finalises the handle, so it never waits for send_lock to dispatch.
 * \return 0 and the fd in *ret_fd, or a negative errno (reason in @why)
 */
static int
cpg_connect(struct cpg_be *be, cpg_handle_t *ret_h, int *ret_fd, char *why, size_t why_len)
{
    static cpg_callbacks_t cbs = { .cpg_deliver_fn = cpg_deliver, .cpg_confchg_fn = cpg_confchg };
    cpg_handle_t h = 0;
    unsigned int nodeid = 0;
    cs_error_t e;
    int fd = -1;

    e = cpg_initialize(&h, &cbs);
    if (e != CS_OK) {
        snprintf(why, why_len, "cpg_initialize: %s (%d)", cpg_err_text(e), (int)e);
        return -EHOSTDOWN;
    }
    if (cpg_context_set(h, be) != CS_OK || cpg_fd_get(h, &fd) != CS_OK) {
        snprintf(why, why_len, "cannot set up the CPG handle");
        goto fail;
    }
    e = cpg_local_get(h, &nodeid);
    if (e != CS_OK) {
        snprintf(why, why_len, "cpg_local_get: %s (%d)", cpg_err_text(e), (int)e);
        goto fail;
    }
    pthread_mutex_lock(&be->lock);
    be->my_nodeid = nodeid;
    be->my_pid = (uint32_t)getpid();
    be->pid_known = false;
    pthread_mutex_unlock(&be->lock);
    e = cpg_join_retry(h, be->group);
    if (e != CS_OK) {
        snprintf(why, why_len, "cpg_join('%s'): %s (%d)", be->group, cpg_err_text(e), (int)e);
        goto fail;
    }
    pthread_mutex_lock(&be->send_lock);
    be->handle = h;
    be->handle_valid = true;
    pthread_mutex_unlock(&be->send_lock);
    *ret_h = h;
    *ret_fd = fd;
    return 0;
fail:
    (void)cpg_finalize(h);
    return -EHOSTDOWN;
}

/* Wait @ms or until stopping. \return true when stopping */
static bool
cpg_wait_stopping(struct cpg_be *be, int ms)
{
    struct timespec ts = vf_deadline_timespec(vf_now_ms() + ms);
    bool stopping;

    pthread_mutex_lock(&be->lock);
    stopping = vf_cond_wait_flag(&be->cond, &be->lock, &be->stopping, &ts);
    pthread_mutex_unlock(&be->lock);
    return stopping;
}

/* Connected: wait for the fd, dispatch. \return false when the connection is lost */
static bool
cpg_dispatch_once(struct cpg_be *be, cpg_handle_t h, int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN, .revents = 0 };
    cs_error_t e;
    int r;

    r = poll(&pfd, 1, CPG_TICK_MS);
    if (r < 0 && errno != EINTR) {
        vf_log(LOG_ERR, "cpg backend: poll: %s", strerror(errno));
        vf_sleep_ms(CPG_TICK_MS);
        return true;
    }
    if (r <= 0) {
        return true;
    }
    e = cpg_dispatch(h, CS_DISPATCH_ALL);
    if (e == CS_OK || e == CS_ERR_TRY_AGAIN) {
        return true;
    }
    cpg_disconnect(be, false);
    vf_log(LOG_ERR, "cpg backend: lost the connection to corosync (%s); requests fail until it is back",
           cpg_err_text(e));
    return false;
}

void *
cpg_thread_main(void *arg)
{
    struct cpg_be *be = arg;
    char why[256];
    int fd = -1, backoff = CPG_BACKOFF_MIN_MS;
    unsigned int failures = 0;
    int64_t next_refscan = 0;
    cpg_handle_t h = 0;
    bool connected = false;

    for (;;) {
        pthread_mutex_lock(&be->lock);
        if (be->stopping) {
            pthread_mutex_unlock(&be->lock);
            break;
        }
        pthread_mutex_unlock(&be->lock);
        if (connected) {
            if (vf_now_ms() >= next_refscan) {
                pthread_mutex_lock(&be->send_lock);
                cpg_check_reference(be, h);
                pthread_mutex_unlock(&be->send_lock);
                next_refscan = vf_now_ms() + CPG_REFSCAN_MS;
            }
            connected = cpg_dispatch_once(be, h, fd);
            continue;
        }
        why[0] = '\0';
        if (cpg_connect(be, &h, &fd, why, sizeof(why)) == 0) {
            connected = true;
            backoff = CPG_BACKOFF_MIN_MS;
            next_refscan = 0;
            vf_log(failures > 0 ? LOG_NOTICE : LOG_INFO,
                   "cpg backend: connected to corosync, joining group '%s'", be->group);
            failures = 0;
            continue;
        }
        if (failures++ == 0) {
            vf_log(LOG_WARNING, "cpg backend: %s; retrying in the background", why);
        } else {
            vf_dbg(1, "cpg backend: retry %u: %s", failures, why);
        }
        (void)cpg_wait_stopping(be, backoff);
        backoff = backoff * 2 > CPG_BACKOFF_MAX_MS ? CPG_BACKOFF_MAX_MS : backoff * 2;
    }
    if (connected) {
        cpg_disconnect(be, true);
    }
    return NULL;
}
