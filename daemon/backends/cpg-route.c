/*
 * vmfence - daemon/backends/cpg-route.c: where a domain lives, and asking
 * the members that have it.
 *
 * The announced lists only say WHERE to ask; no answer is taken from them.
 * A request for a domain owned by another member goes to that member only
 * (REQUEST addressed to nodeid+pid, target = the domain's UUID); the
 * requester waits on a condition variable with a predicate and a deadline
 * of min(request deadline, reply_timeout) -> -ETIMEDOUT; if the owner
 * leaves meanwhile: -EHOSTDOWN.
 *
 * Before anything that means "off here and everywhere", every other member
 * that announced its domains is asked live, all at once and within the
 * request's deadline, whether the domain (by UUID) runs there
 * (cpg_confirm).  A member that does not answer in time makes the request
 * fail: never "off" on stale data (issue 13).
 *
 * Two hosts claiming one domain (a migration in flight, or a shared
 * definition): every decision uses the live state of each copy, and the
 * copy acted on (cpg_primary) is chosen the same way on every host: a
 * running copy before a stopped one, then the lowest (nodeid, pid).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backends/cpg-int.h"

bool
cpg_dom_active(int state)
{
    return state != VF_STATE_SHUTOFF;
}

void
cpg_info_from_wire(struct vf_domain_info *info, const struct vf_cpgw_dom *d)
{
    memset(info, 0, sizeof(*info));
    snprintf(info->name, sizeof(info->name), "%s", d->name);
    snprintf(info->uuid, sizeof(info->uuid), "%s", d->uuid);
    info->state = d->state;
    info->persistent = d->persistent;
}

bool
cpg_matches(const struct vf_cpgw_dom *d, const char *target, bool by_uuid, bool target_is_uuid)
{
    if (!by_uuid && strcmp(d->name, target) == 0) {
        return true;
    }
    return target_is_uuid && strcasecmp(d->uuid, target) == 0;
}

/* ---- finding the places -------------------------------------------------------- */

struct cpg_find {
    const char *target;
    bool by_uuid;
    bool is_uuid;
    bool local_down;            /* local libvirt could not be asked */
    bool local_unknown;         /* ... and this host may have the domain */
    bool unknown;               /* a member has not announced its domains */
    int lr;                     /* local lookup result */
};

/* Checks before routing; sets VF_BE_BY_UUID in name_mode uuid. */
static int
cpg_route_check(struct cpg_be *be, const char *target, unsigned int *flags,
                int64_t deadline_ms)
{
    bool uuid_mode;

    if (target == NULL || target[0] == '\0') {
        return -ENOENT;
    }
    if (vf_ms_left(deadline_ms) <= 0) {
        return -ETIMEDOUT;
    }
    if ((*flags & ~(unsigned int)VF_BE_BY_UUID) != 0) {
        return -EINVAL;
    }
    pthread_mutex_lock(&be->lock);
    uuid_mode = be->uuid_mode;
    if (!be->joined) {
        pthread_mutex_unlock(&be->lock);
        vf_log(LOG_ERR, "cpg backend: not joined to group '%s' (corosync unreachable?); cannot serve '%s'",
               be->group, target);
        return -EHOSTDOWN;
    }
    pthread_mutex_unlock(&be->lock);
    if (uuid_mode) {
        if (!vf_cpgw_uuid_valid(target)) {
            vf_log(LOG_ERR, "cpg backend: name_mode = uuid, but '%s' is not a UUID", target);
            return -ENOENT;
        }
        *flags |= VF_BE_BY_UUID;
    }
    return 0;
}

/* be->lock held: the members whose list has the domain, and the lost entry */
static void
cpg_route_remote_locked(struct cpg_be *be, struct cpg_find *f, struct cpg_route *rt)
{
    const struct cpg_lost *l;
    size_t i, j;

    if (f->local_down) {
        /* libvirt cannot be asked here: the domains this host listed last
         * (a domain cannot start here while libvirt is down) tell whether a
         * copy may be here */
        f->local_unknown = !be->local_ever;
        for (j = 0; !f->local_unknown && j < be->n_local; j++) {
            f->local_unknown = cpg_matches(&be->local[j], f->target, f->by_uuid, f->is_uuid);
        }
    }
    for (i = 0; i < be->n_owners; i++) {
        const struct cpg_owner *o = &be->owners[i];

        if (!o->have_state) {
            f->unknown = true;
            continue;
        }
        for (j = 0; j < o->n_doms; j++) {
            if (!cpg_matches(&o->doms[j], f->target, f->by_uuid, f->is_uuid)) {
                continue;
            }
            if (rt->n == CPG_MAX_CANDIDATES) {
                vf_log(LOG_WARNING, "cpg backend: '%s' is known on more than %d hosts; ignoring the rest",
                       f->target, CPG_MAX_CANDIDATES);
                break;
            }
            rt->c[rt->n].nodeid = o->nodeid;
            rt->c[rt->n].pid = o->pid;
            cpg_info_from_wire(&rt->c[rt->n].info, &o->doms[j]);
            rt->n++;
            break;
        }
    }
    l = cpg_lost_find_locked(be, f->target, f->by_uuid, f->is_uuid);
    if (l != NULL) {
        rt->has_lost = true;
        rt->lost = *l;
    }
}

/* After collecting: nobody, ambiguous, or incomplete? */
static int
cpg_route_finish(struct cpg_be *be, const struct cpg_find *f, struct cpg_route *rt)
{
    const char *uuid0 = rt->n > 0 ? rt->c[0].info.uuid : rt->lost.uuid;
    size_t i;

    if (rt->n == 0 && f->local_down) {
        return f->lr;
    }
    if (rt->n == 0 && !rt->has_lost) {
        if (f->unknown) {
            vf_log(LOG_ERR, "cpg backend: '%s' is not known, but some members have not announced their domains yet",
                   f->target);
            return -EHOSTDOWN;
        }
        vf_log(LOG_WARNING, "cpg backend: no host in group '%s' has domain '%s'", be->group, f->target);
        return -ENOENT;
    }
    for (i = 1; i <= rt->n; i++) {
        const char *u = i < rt->n ? rt->c[i].info.uuid : rt->lost.uuid;

        if ((i < rt->n || rt->has_lost) && strcasecmp(u, uuid0) != 0) {
            vf_log(LOG_ERR, "cpg backend: '%s' designates different domains (%s, %s); use the UUID",
                   f->target, uuid0, u);
            return -ENOTUNIQ;
        }
    }
    if (rt->n > 1) {
        vf_log(LOG_WARNING, "cpg backend: domain '%s' (%s) is claimed by %zu hosts",
               rt->c[0].info.name, rt->c[0].info.uuid, rt->n);
    }
    rt->incomplete = f->unknown || f->local_unknown;
    if (rt->incomplete) {
        vf_log(LOG_WARNING, "cpg backend: '%s': %s; it is only off if a known copy was on",
               f->target, f->local_unknown ? "local libvirt is down and may have a copy" :
               "some members have not announced their domains yet");
    }
    return 0;
}

/**
 * Find every place where @target lives: this host (live libvirt lookup),
 * the members whose last list has it, and a member that left with it.
 *
 * \return 0 (at least one candidate, or rt->has_lost), -ENOENT (nobody has
 *         it), -EHOSTDOWN (not joined, or some place could not be asked),
 *         -ENOTUNIQ (the name designates different domains), other errors
 *         of the local lookup
 */
int
cpg_route(struct cpg_be *be, const char *target, unsigned int *flags, int64_t deadline_ms,
          struct cpg_route *rt)
{
    struct vf_domain_info linfo;
    struct cpg_find f;
    int64_t ldl;
    int r;

    memset(rt, 0, sizeof(*rt));
    r = cpg_route_check(be, target, flags, deadline_ms);
    if (r < 0) {
        return r;
    }
    memset(&f, 0, sizeof(f));
    f.target = target;
    f.is_uuid = vf_cpgw_uuid_valid(target);
    f.by_uuid = (*flags & VF_BE_BY_UUID) != 0;
    ldl = vf_now_ms() + CPG_LOCAL_LOOKUP_MS;
    memset(&linfo, 0, sizeof(linfo));
    f.lr = be->lv->lookup(be->lv_priv, target, *flags, &linfo,
                          ldl < deadline_ms ? ldl : deadline_ms);
    f.local_down = f.lr < 0 && f.lr != -ENOENT;
    pthread_mutex_lock(&be->lock);
    if (f.lr == 0) {
        rt->c[0].local = true;
        rt->c[0].nodeid = be->my_nodeid;
        rt->c[0].pid = be->my_pid;
        rt->c[0].info = linfo;
        rt->n = 1;
    }
    cpg_route_remote_locked(be, &f, rt);
    pthread_mutex_unlock(&be->lock);
    return cpg_route_finish(be, &f, rt);
}

static bool
cpg_cand_before(const struct cpg_cand *a, const struct cpg_cand *b)
{
    bool ra = cpg_dom_active(a->info.state), rb = cpg_dom_active(b->info.state);

    if (ra != rb) {
        return ra;
    }
    if (a->nodeid != b->nodeid) {
        return a->nodeid < b->nodeid;
    }
    return a->pid < b->pid;
}

/* The candidate to act on, the same on every host: running before stopped,
 * then the lowest (nodeid, pid).  rt->n must be > 0. */
const struct cpg_cand *
cpg_primary(const struct cpg_route *rt)
{
    const struct cpg_cand *best = &rt->c[0];
    size_t i;

    for (i = 1; i < rt->n; i++) {
        if (cpg_cand_before(&rt->c[i], best)) {
            best = &rt->c[i];
        }
    }
    return best;
}

/* ---- asking members -------------------------------------------------------------- */

/* Reserve @n pending slots. \return 0, -EHOSTDOWN (not joined), -EBUSY */
static int
cpg_pending_reserve(struct cpg_be *be, struct cpg_call *calls, size_t n)
{
    size_t i, k, n_free = 0;

    pthread_mutex_lock(&be->lock);
    if (!be->joined) {
        pthread_mutex_unlock(&be->lock);
        return -EHOSTDOWN;
    }
    for (i = 0; i < CPG_MAX_PENDING; i++) {
        n_free += be->pending[i].used ? 0 : 1;
    }
    if (n_free < n) {
        pthread_mutex_unlock(&be->lock);
        vf_log(LOG_ERR, "cpg backend: the reply table is full; refusing %s of '%s' (%zu request(s))",
               cpg_op_name(calls[0].op), calls[0].label, n);
        return -EBUSY;
    }
    for (i = 0, k = 0; k < n; i++) {
        struct cpg_pending *p = &be->pending[i];

        if (p->used) {
            continue;
        }
        memset(p, 0, sizeof(*p));
        p->used = true;
        p->id = be->next_id++;
        p->nodeid = calls[k].nodeid;
        p->pid = calls[k].pid;
        calls[k].slot = i;
        k++;
    }
    pthread_mutex_unlock(&be->lock);
    return 0;
}

/* Send one call's REQUEST; a send failure completes its slot with the error. */
static void
cpg_call_send(struct cpg_be *be, struct cpg_call *call, int64_t budget, int64_t margin)
{
    uint8_t buf[VF_CPGW_HDR_SIZE + VF_CPGW_REQUEST_FIXED + VF_CPGW_NAME_MAX];
    struct vf_cpgw_request rq;
    size_t len = 0;
    int r;

    memset(&rq, 0, sizeof(rq));
    rq.nodeid = call->nodeid;
    rq.pid = call->pid;
    rq.op = (uint8_t)call->op;
    rq.timeout_ms = (uint32_t)(budget - margin > 0 ? budget - margin : 1);
    rq.flags = call->by_uuid ? VF_CPGW_REQ_BY_UUID : 0;
    snprintf(rq.target, sizeof(rq.target), "%s", call->target);
    pthread_mutex_lock(&be->lock);
    rq.id = be->pending[call->slot].id;
    pthread_mutex_unlock(&be->lock);
    vf_log(LOG_INFO, "cpg backend: %s of '%s' (%s) is routed to node %u (waiting up to %lld ms)",
           cpg_op_name(call->op), call->label, call->target,
           (unsigned int)call->nodeid, (long long)budget);
    r = vf_cpgw_encode_request(&rq, buf, sizeof(buf), &len);
    if (r == 0) {
        r = cpg_send(be, buf, len);
    }
    if (r < 0) {
        pthread_mutex_lock(&be->lock);
        if (!be->pending[call->slot].done) {
            be->pending[call->slot].done = true;
            be->pending[call->slot].result = r;
        }
        pthread_mutex_unlock(&be->lock);
    }
}

/* Wait for every call until @wait_until, collect and release the slots. */
static void
cpg_call_wait(struct cpg_be *be, struct cpg_call *calls, size_t n, int64_t wait_until)
{
    struct timespec ts = vf_deadline_timespec(wait_until);
    size_t k, n_done;

    pthread_mutex_lock(&be->lock);
    for (;;) {
        for (k = 0, n_done = 0; k < n; k++) {
            n_done += be->pending[calls[k].slot].done ? 1 : 0;
        }
        if (n_done == n ||
            pthread_cond_timedwait(&be->cond, &be->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    for (k = 0; k < n; k++) {
        struct cpg_pending *p = &be->pending[calls[k].slot];

        calls[k].result = p->done ? p->result : -ETIMEDOUT;
        calls[k].on = p->done && p->on;
        memset(p, 0, sizeof(*p));
    }
    pthread_mutex_unlock(&be->lock);
}

static void
cpg_call_log(const struct cpg_call *calls, size_t n, int64_t budget)
{
    size_t k;

    for (k = 0; k < n; k++) {
        if (calls[k].result == -ETIMEDOUT) {
            vf_log(LOG_ERR, "cpg backend: no reply from node %u for %s of '%s' within %lld ms",
                   (unsigned int)calls[k].nodeid, cpg_op_name(calls[k].op), calls[k].label,
                   (long long)budget);
        } else if (calls[k].result < 0 &&
                   !(calls[k].result == -ENOENT && calls[k].op == VF_CMD_STATUS)) {
            vf_log(LOG_ERR, "cpg backend: %s of '%s' on node %u failed: %s",
                   cpg_op_name(calls[k].op), calls[k].label, (unsigned int)calls[k].nodeid,
                   strerror(-calls[k].result));
        }
    }
}

/**
 * Send every call of @calls (to different members, or the same one) at
 * once and wait for all the answers until min(@deadline_ms, now +
 * reply_timeout): one reply_timeout bounds the whole batch.
 * \return 0 (each call's own result in calls[i].result), -ETIMEDOUT (no
 *         time left), -EHOSTDOWN (not joined), -EBUSY (the pending table
 *         cannot hold the batch); on error every result is that error
 */
int
cpg_call_all(struct cpg_be *be, struct cpg_call *calls, size_t n, int64_t deadline_ms)
{
    int64_t now = vf_now_ms(), wait_until, budget, margin;
    size_t k;
    int r, reply_ms;

    pthread_mutex_lock(&be->lock);
    reply_ms = be->reply_timeout_ms;
    pthread_mutex_unlock(&be->lock);
    wait_until = now + reply_ms < deadline_ms ? now + reply_ms : deadline_ms;
    budget = wait_until - now;
    r = budget <= 0 ? -ETIMEDOUT : cpg_pending_reserve(be, calls, n);
    if (r < 0) {
        for (k = 0; k < n; k++) {
            calls[k].result = r;
            calls[k].on = false;
        }
        return r;
    }
    /* the owner must finish a little before we stop waiting */
    margin = budget / 10 < 500 ? budget / 10 : 500;
    for (k = 0; k < n; k++) {
        cpg_call_send(be, &calls[k], budget, margin);
    }
    cpg_call_wait(be, calls, n, wait_until);
    cpg_call_log(calls, n, budget);
    return 0;
}

void
cpg_call_for(struct cpg_call *call, uint32_t nodeid, uint32_t pid, int op,
             const struct vf_domain_info *ref)
{
    memset(call, 0, sizeof(*call));
    call->nodeid = nodeid;
    call->pid = pid;
    call->op = op;
    call->label = ref->name;
    call->by_uuid = ref->uuid[0] != '\0';
    snprintf(call->target, sizeof(call->target), "%s", call->by_uuid ? ref->uuid : ref->name);
}

/* Run @op on one candidate, locally or through its owner. */
int
cpg_exec(struct cpg_be *be, const struct cpg_cand *cand, int op, int64_t deadline_ms,
         bool *ret_on)
{
    const char *t = cand->info.uuid[0] != '\0' ? cand->info.uuid : cand->info.name;
    unsigned int f = cand->info.uuid[0] != '\0' ? VF_BE_BY_UUID : 0;
    struct cpg_call call;

    if (!cand->local) {
        cpg_call_for(&call, cand->nodeid, cand->pid, op, &cand->info);
        (void)cpg_call_all(be, &call, 1, deadline_ms);
        if (call.result == 0) {
            *ret_on = call.on;
        }
        return call.result;
    }
    switch (op) {
    case VF_CMD_OFF:
        return be->lv->off(be->lv_priv, t, f, deadline_ms);
    case VF_CMD_ON:
        return be->lv->on(be->lv_priv, t, f, deadline_ms);
    case VF_CMD_REBOOT:
        return be->lv->reboot(be->lv_priv, t, f, deadline_ms);
    case VF_CMD_STATUS:
        return be->lv->status(be->lv_priv, t, f, ret_on, deadline_ms);
    default:
        return -EOPNOTSUPP;
    }
}

/**
 * Live state of every known copy (candidate): each one's owner is asked
 * (status), and the candidate's state is replaced by the answer
 * (running / shut off), so that no decision below uses an announced state.
 * \return 0, or the first error of a copy that could not be asked (its
 *         state is then left as announced); *@ret_on: some copy is on
 */
int
cpg_live(struct cpg_be *be, struct cpg_route *rt, int64_t deadline_ms, bool *ret_on)
{
    size_t i;
    int r, first = 0;

    *ret_on = false;
    for (i = 0; i < rt->n; i++) {
        bool on = false;

        r = cpg_exec(be, &rt->c[i], VF_CMD_STATUS, deadline_ms, &on);
        if (r == 0) {
            rt->c[i].info.state = on ? VF_STATE_RUNNING : VF_STATE_SHUTOFF;
            *ret_on = *ret_on || on;
        } else if (r == -ENOENT) {
            rt->c[i].info.state = VF_STATE_SHUTOFF;     /* gone there since the list */
        } else if (first == 0) {
            first = r;
        }
    }
    return first;
}
