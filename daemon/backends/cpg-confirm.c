/*
 * vmfence - daemon/backends/cpg-confirm.c: what it takes to say "off".
 *
 * 1. Every other member, asked live (cpg_confirm): the announced lists can
 *    be up to a broadcast old, and a domain migrated or started elsewhere
 *    within that window is missing from them (issue 13).
 * 2. For a domain whose owner left the group ("owner lost at T"), the host
 *    cluster's fencer (cpg_lost_confirm): only a fencing of that host
 *    recorded as completed at or after T makes the domain off.  Until it
 *    is recorded the request waits, within its deadline, asking again
 *    every CPG_FENCE_POLL_MS, then fails with a log line that says what it
 *    waited for.  No fencer reachable, no quorum, or fence_history =
 *    "none": a failure at once, never a success on a guess.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backends/cpg-int.h"

/* be->lock held: the STATUS calls to every member that announced its domains
 * and is not a candidate. \return the number of such members */
static size_t
cpg_confirm_calls_locked(struct cpg_be *be, const struct cpg_route *rt,
                         const struct vf_domain_info *ref, struct cpg_call *calls, size_t *ret_n)
{
    size_t i, j, n = 0, n_members = 0;
    bool cand;

    for (i = 0; i < be->n_owners; i++) {
        const struct cpg_owner *o = &be->owners[i];

        if (!o->have_state) {
            continue;
        }
        for (j = 0, cand = false; j < rt->n && !cand; j++) {
            cand = !rt->c[j].local && rt->c[j].nodeid == o->nodeid && rt->c[j].pid == o->pid;
        }
        if (cand) {
            continue;
        }
        n_members++;
        if (n < CPG_MAX_CONFIRM) {
            cpg_call_for(&calls[n++], o->nodeid, o->pid, VF_CMD_STATUS, ref);
        }
    }
    *ret_n = n;
    return n_members;
}

/* A member answered that the domain runs there: append it to @rt. */
static int
cpg_confirm_add(struct cpg_route *rt, const struct cpg_call *call,
                const struct vf_domain_info *ref, const char *target)
{
    vf_log(LOG_WARNING, "cpg backend: '%s' (%s) runs on node %u, which did not list it (yet)",
           ref->name, ref->uuid, (unsigned int)call->nodeid);
    if (rt->n == CPG_MAX_CANDIDATES) {
        vf_log(LOG_ERR, "cpg backend: '%s' is on more than %d hosts; cannot act on node %u",
               target, CPG_MAX_CANDIDATES, (unsigned int)call->nodeid);
        return -ENOSPC;
    }
    memset(&rt->c[rt->n], 0, sizeof(rt->c[rt->n]));
    rt->c[rt->n].nodeid = call->nodeid;
    rt->c[rt->n].pid = call->pid;
    rt->c[rt->n].info = *ref;
    rt->c[rt->n].info.state = VF_STATE_RUNNING;
    rt->n++;
    return 0;
}

/**
 * Confirm "not running anywhere else" with the members' LIVE state: every
 * other member that has announced its domains and is not a candidate is
 * asked, all at once (one reply_timeout bounds the round, within
 * @deadline_ms), for the status of the domain by UUID.  A member where it
 * runs is appended to @rt as a running candidate, for the caller to act
 * on.  (Members that never announced already make @rt incomplete.)
 *
 * \return 0 (every member answered), or the first error of a member that
 *         did not (-ETIMEDOUT, -EHOSTDOWN, -EBUSY, ...); -ENOSPC when a
 *         running copy cannot be added, -EHOSTDOWN when there are more than
 *         CPG_MAX_CONFIRM members to ask
 */
int
cpg_confirm(struct cpg_be *be, struct cpg_route *rt, const char *target, int64_t deadline_ms)
{
    struct cpg_call calls[CPG_MAX_CONFIRM];
    struct vf_domain_info ref;
    size_t i, n = 0, n_members;
    int r, first = 0;

    memset(&ref, 0, sizeof(ref));
    if (rt->n > 0) {
        ref = rt->c[0].info;
    } else {
        snprintf(ref.name, sizeof(ref.name), "%s", rt->lost.name);
        snprintf(ref.uuid, sizeof(ref.uuid), "%s", rt->lost.uuid);
    }
    pthread_mutex_lock(&be->lock);
    n_members = cpg_confirm_calls_locked(be, rt, &ref, calls, &n);
    pthread_mutex_unlock(&be->lock);
    if (n_members > n) {
        vf_log(LOG_ERR, "cpg backend: '%s': %zu other members to ask, at most %d at once; not confirmed",
               target, n_members, CPG_MAX_CONFIRM);
        return -EHOSTDOWN;
    }
    if (n == 0) {
        return 0;
    }
    vf_dbg(1, "cpg backend: '%s' (%s): confirming with %zu other member(s) that it does not run there",
           ref.name, ref.uuid, n);
    (void)cpg_call_all(be, calls, n, deadline_ms);
    for (i = 0; i < n; i++) {
        r = calls[i].result;
        if (r == -ENOENT || (r == 0 && !calls[i].on)) {
            continue;               /* not there, or defined and shut off there */
        }
        if (r == 0) {
            r = cpg_confirm_add(rt, &calls[i], &ref, target);
        }
        if (r < 0 && first == 0) {
            first = r;
        }
    }
    if (first < 0) {
        vf_log(LOG_ERR, "cpg backend: '%s': a member could not confirm that it does not run the "
               "domain (%s)", target, strerror(-first));
    }
    return first;
}

/* ---- the host cluster's fencer --------------------------------------------------- */

/* the seam: the production fencer (cpg-fence.c) or a test's fake */
void
cpg_set_fencer(struct cpg_be *be, const struct cpg_fencer *f)
{
    pthread_mutex_lock(&be->lock);
    if (f != NULL) {
        be->fencer = *f;
    } else {
        memset(&be->fencer, 0, sizeof(be->fencer));
    }
    pthread_mutex_unlock(&be->lock);
}


static void
cpg_fmt_time(time_t t, char *buf, size_t len)
{
    struct tm tm;

    if (localtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S %z", &tm) == 0) {
        snprintf(buf, len, "%lld", (long long)t);
    }
}

/* One question to the fencer. \return 0 (fenced, logged), -ENOENT (not yet),
 * -EHOSTDOWN (fencer unreachable or no quorum: @why says which) */
static int
cpg_lost_ask(struct cpg_be *be, const struct cpg_lost *l, int64_t deadline_ms,
             char *why, size_t why_len)
{
    struct cpg_fencer f;
    struct cpg_fence_rec rec;
    char when[64], lost[64];
    int r;

    pthread_mutex_lock(&be->lock);
    f = be->fencer;
    pthread_mutex_unlock(&be->lock);
    if (f.quorate == NULL || f.fenced_since == NULL) {
        snprintf(why, why_len, "no fencer of the host cluster is reachable (no fencer module loaded: "
                 "see the start-up log)");
        return -EHOSTDOWN;
    }
    r = f.quorate(f.ctx, deadline_ms);
    if (r != 1) {
        snprintf(why, why_len, r == 0 ? "the host cluster has no quorum" :
                 "the quorum of the host cluster cannot be read (%s)", strerror(-r));
        return -EHOSTDOWN;
    }
    memset(&rec, 0, sizeof(rec));
    r = f.fenced_since(f.ctx, l->nodeid, l->lost_at, &rec, deadline_ms);
    cpg_fmt_time(l->lost_at, lost, sizeof(lost));
    if (r == -ENOENT) {
        snprintf(why, why_len, "waiting for the host cluster to fence node %u (left the group at "
                 "%s): no fencing of it recorded since", (unsigned int)l->nodeid, lost);
        return -ENOENT;
    }
    if (r < 0) {
        snprintf(why, why_len, "the host cluster's fencer cannot be asked about node %u (%s)",
                 (unsigned int)l->nodeid, strerror(-r));
        return -EHOSTDOWN;
    }
    cpg_fmt_time(rec.completed, when, sizeof(when));
    vf_log(LOG_NOTICE, "cpg backend: '%s' (%s) is off: its host, node %u, left the group at %s and "
           "was fenced at %s (fencer record: action %s, executed by %s, requested by %s on %s)",
           l->name, l->uuid, (unsigned int)l->nodeid, lost, when,
           rec.action[0] != '\0' ? rec.action : "?", rec.delegate[0] != '\0' ? rec.delegate : "?",
           rec.client[0] != '\0' ? rec.client : "?", rec.origin[0] != '\0' ? rec.origin : "?");
    return 0;
}

/**
 * The domain of @rt was on a member that left: is that member's host
 * confirmed fenced since?  Waits for it within @deadline_ms.
 * \return 0 (no lost owner, or fenced), -ETIMEDOUT (not fenced in time),
 *         -EHOSTDOWN (fence_history = none, no fencer, no quorum)
 */
int
cpg_lost_confirm(struct cpg_be *be, const struct cpg_route *rt, const char *target, int op,
                 int64_t deadline_ms)
{
    char why[256] = "";
    int64_t left;
    int r, n;

    if (!rt->has_lost) {
        return 0;
    }
    if (be->fence_history == CPG_FH_NONE) {
        vf_log(LOG_ERR, "cpg backend: %s of '%s' failed: it was on node %u, which left the group; "
               "with fence_history = \"none\" its fencing cannot be confirmed", cpg_op_name(op),
               target, (unsigned int)rt->lost.nodeid);
        return -EHOSTDOWN;
    }
    for (n = 0;; n++) {
        r = cpg_lost_ask(be, &rt->lost, deadline_ms, why, sizeof(why));
        if (r == 0) {
            return 0;
        }
        if (r != -ENOENT) {
            break;                  /* no fencer, no quorum: a failure now, not a guess later */
        }
        if (n == 0) {
            vf_log(LOG_WARNING, "cpg backend: %s of '%s': %s; waiting up to %d ms", cpg_op_name(op),
                   target, why, vf_ms_left(deadline_ms));
        }
        /* ask again only with time for a full question left: one cut short
         * by the deadline would fail as "fencer unreachable" and hide what
         * the request waited for */
        left = vf_ms_left(deadline_ms) - CPG_FENCE_ASK_MIN_MS;
        if (left <= 0) {
            break;
        }
        vf_sleep_ms(left < CPG_FENCE_POLL_MS ? left : CPG_FENCE_POLL_MS);
    }
    vf_log(LOG_ERR, "cpg backend: %s of '%s' (%s) failed: %s", cpg_op_name(op), target,
           rt->lost.uuid, why);
    return r == -ENOENT ? -ETIMEDOUT : r;
}
