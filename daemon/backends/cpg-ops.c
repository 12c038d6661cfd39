/*
 * vmfence - daemon/backends/cpg-ops.c: the cpg backend's operations.
 *
 * Each operation routes the target (cpg-route.c), asks the copies live,
 * confirms with every other member before anything that means "off"
 * (cpg-confirm.c), and, for a domain whose owner left the group, needs the
 * host cluster's fencer to confirm that host fenced since it left.
 * A domain that nobody owns and nobody lost is -ENOENT for every
 * operation: never a success for off/reboot of an unknown domain.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "array.h"
#include "backends/cpg-int.h"

int
cpg_op_lookup(void *priv, const char *target, unsigned int flags,
              struct vf_domain_info *ret_dom, int64_t deadline_ms)
{
    struct cpg_be *be = priv;
    struct cpg_route rt;
    int r;

    r = cpg_route(be, target, &flags, deadline_ms, &rt);
    if (r < 0) {
        return r;
    }
    if (rt.n > 0) {
        *ret_dom = cpg_primary(&rt)->info;
        return 0;
    }
    memset(ret_dom, 0, sizeof(*ret_dom));          /* only known as lost: state unknown */
    snprintf(ret_dom->name, sizeof(ret_dom->name), "%s", rt.lost.name);
    snprintf(ret_dom->uuid, sizeof(ret_dom->uuid), "%s", rt.lost.uuid);
    ret_dom->state = VF_STATE_NOSTATE;
    return 0;
}

/*
 * off: every known copy is powered off by its owner, then every other
 * member confirms live that it does not run the domain (a copy found there
 * is powered off too).  Success needs all of it: a place that could not be
 * asked (rt.incomplete) or a member that did not confirm makes off fail,
 * even after killing every copy it could reach; a lost owner needs its
 * host's fencing recorded since it left.
 */
int
cpg_op_off(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct cpg_be *be = priv;
    struct cpg_route rt;
    bool on = false;
    size_t i, n_known;
    int r, cr, first = 0;

    r = cpg_route(be, target, &flags, deadline_ms, &rt);
    if (r < 0) {
        return r;
    }
    /* every copy must be off: one running copy is enough to corrupt shared storage */
    for (i = 0; i < rt.n; i++) {
        r = cpg_exec(be, &rt.c[i], VF_CMD_OFF, deadline_ms, &on);
        if (r < 0 && first == 0) {
            first = r;
        }
    }
    n_known = rt.n;
    cr = cpg_confirm(be, &rt, target, deadline_ms);
    for (i = n_known; i < rt.n; i++) {
        r = cpg_exec(be, &rt.c[i], VF_CMD_OFF, deadline_ms, &on);
        if (r < 0 && first == 0) {
            first = r;
        }
    }
    if (first == 0) {
        first = cr;
    }
    if (rt.incomplete) {
        vf_log(LOG_ERR, "cpg backend: off of '%s' NOT confirmed: a host that may have it could "
               "not be asked", target);
        return -EHOSTDOWN;
    }
    if (first == 0) {
        first = cpg_lost_confirm(be, &rt, target, VF_CMD_OFF, deadline_ms);
    }
    return first;
}

/* Route @target and ask every known copy live.  \return the routing error
 * (the operation stops there), else 0 with *@ret_live = cpg_live()'s result
 * (0, or the first copy that could not be asked) and *@ret_on (a copy runs) */
static int
cpg_route_live(struct cpg_be *be, const char *target, unsigned int flags, int64_t deadline_ms,
               struct cpg_route *rt, bool *ret_on, int *ret_live)
{
    int r;

    *ret_on = false;
    r = cpg_route(be, target, &flags, deadline_ms, rt);
    if (r < 0) {
        return r;
    }
    *ret_live = cpg_live(be, rt, deadline_ms, ret_on);
    return 0;
}

/*
 * Before an on or a status that found no running copy: every other member
 * confirms live that it does not run @target (cpg_confirm), then a lost
 * owner's host must be confirmed fenced for @op (cpg_lost_confirm).
 * \return 0 when both confirmed, else the first error; *@ret_found: a
 * member that had not listed @target runs it (nothing more is asked then)
 */
static int
cpg_confirm_none(struct cpg_be *be, struct cpg_route *rt, const char *target, int op,
                 int64_t deadline_ms, bool *ret_found)
{
    size_t n_known = rt->n;
    int r;

    r = cpg_confirm(be, rt, target, deadline_ms);
    *ret_found = rt->n > n_known;
    if (r < 0 || *ret_found) {
        return r;
    }
    return cpg_lost_confirm(be, rt, target, op, deadline_ms);
}

/*
 * on: a copy already running (live, anywhere) is success.  Starting one
 * needs every place asked (a copy elsewhere plus a new one would corrupt
 * shared storage), and a lost owner's host confirmed fenced.
 */
int
cpg_op_on(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct cpg_be *be = priv;
    struct cpg_route rt;
    bool on, found = false;
    int r, rr;

    rr = cpg_route_live(be, target, flags, deadline_ms, &rt, &on, &r);
    if (rr < 0 || on) {
        return rr;                  /* unroutable, or already running: success */
    }
    if (r == 0 && rt.incomplete) {
        r = -EHOSTDOWN;
    }
    if (r == 0) {
        r = cpg_confirm_none(be, &rt, target, VF_CMD_ON, deadline_ms, &found);
    }
    if (found) {
        return 0;                   /* it runs on a member that had not listed it */
    }
    if (r < 0) {
        vf_log(LOG_ERR, "cpg backend: not starting '%s': a host that may run it could not be asked",
               target);
        return r;
    }
    if (rt.n == 0) {
        vf_log(LOG_ERR, "cpg backend: cannot start '%s': it was defined only on node %u, which "
               "left the group", target, (unsigned int)rt.lost.nodeid);
        return -EHOSTDOWN;
    }
    return cpg_exec(be, cpg_primary(&rt), VF_CMD_ON, deadline_ms, &on);
}

/* Some place could not be asked: power off every running copy that can be
 * reached (live, or announced if unknown), start nothing. */
static int
cpg_reboot_abort(struct cpg_be *be, struct cpg_route *rt, const char *target, int r,
                 int64_t deadline_ms)
{
    bool on = false;
    size_t i;

    for (i = 0; i < rt->n; i++) {
        if (cpg_dom_active(rt->c[i].info.state)) {
            (void)cpg_exec(be, &rt->c[i], VF_CMD_OFF, deadline_ms, &on);
        }
    }
    vf_log(LOG_ERR, "cpg backend: reboot of '%s' NOT confirmed: a host that may have it could "
           "not be asked; reachable running copies were powered off, none was started", target);
    return rt->incomplete ? -EHOSTDOWN : r;
}

/*
 * reboot: live state of every copy, then (when every place answered, and a
 * lost owner's host is confirmed fenced) the other running copies are
 * powered off and one copy (cpg_primary) is rebooted by its owner.  A
 * domain known only from a fenced lost owner is off: reboot-as-off success.
 */
int
cpg_op_reboot(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct cpg_be *be = priv;
    struct cpg_route rt;
    const struct cpg_cand *p;
    bool on;
    size_t i;
    int r, rr;

    rr = cpg_route_live(be, target, flags, deadline_ms, &rt, &on, &r);
    if (rr < 0) {
        return rr;
    }
    if (r < 0 && !rt.incomplete) {
        return r;                   /* the state of a copy is unknown: touch nothing */
    }
    if (r == 0 && !rt.incomplete) {
        r = cpg_confirm(be, &rt, target, deadline_ms);
    }
    if (r == 0 && !rt.incomplete) {
        r = cpg_lost_confirm(be, &rt, target, VF_CMD_REBOOT, deadline_ms);
    }
    if (r < 0 || rt.incomplete) {
        return cpg_reboot_abort(be, &rt, target, r, deadline_ms);
    }
    if (rt.n == 0) {
        vf_log(LOG_NOTICE, "cpg backend: reboot of '%s': off with its fenced host, node %u; "
               "not started (reboot as off)", target, (unsigned int)rt.lost.nodeid);
        return 0;
    }
    p = cpg_primary(&rt);
    /* other running copies are powered off first, so that one copy remains */
    for (i = 0; i < rt.n; i++) {
        if (&rt.c[i] != p && cpg_dom_active(rt.c[i].info.state)) {
            r = cpg_exec(be, &rt.c[i], VF_CMD_OFF, deadline_ms, &on);
            if (r < 0) {
                return r;
            }
        }
    }
    return cpg_exec(be, p, VF_CMD_REBOOT, deadline_ms, &on);
}

/*
 * status: ON if any copy is on (live); OFF only if every known copy
 * answered OFF, every place was asked, every other member confirmed live
 * that it does not run the domain, and a lost owner's host is fenced.
 */
int
cpg_op_status(void *priv, const char *target, unsigned int flags, bool *ret_on,
              int64_t deadline_ms)
{
    struct cpg_be *be = priv;
    struct cpg_route rt;
    bool on;
    int r, rr;

    rr = cpg_route_live(be, target, flags, deadline_ms, &rt, &on, &r);
    if (rr < 0) {
        return rr;
    }
    if (on) {
        *ret_on = true;             /* a copy runs: ON whatever the others said */
        return 0;
    }
    if (r < 0) {
        return r;
    }
    if (rt.incomplete) {
        vf_log(LOG_ERR, "cpg backend: '%s' is off where it could be checked, but a host that "
               "may have it could not be asked; status unknown", target);
        return -EHOSTDOWN;
    }
    r = cpg_confirm_none(be, &rt, target, VF_CMD_STATUS, deadline_ms, &on);
    if (r < 0 && !on) {
        return r;
    }
    *ret_on = on;                   /* on: found on a member that had not listed it */
    return 0;
}

struct cpg_listacc {
    struct vf_domain_info *all;
    size_t n;
    size_t cap;
};

static int
cpg_listacc_add(struct cpg_listacc *a, const struct vf_domain_info *d)
{
    struct vf_domain_info *na = NULL;
    size_t i;

    for (i = 0; i < a->n; i++) {
        if (d->uuid[0] != '\0' && strcasecmp(a->all[i].uuid, d->uuid) == 0) {
            return 0;           /* each domain once */
        }
    }
    na = vf_array_reserve(a->all, a->n + 1, &a->cap, sizeof(*na), 32);
    if (na == NULL) {
        return -ENOMEM;
    }
    a->all = na;
    a->all[a->n++] = *d;
    return 0;
}

static int
cpg_listacc_cb(void *arg, const struct vf_domain_info *dom)
{
    return cpg_listacc_add(arg, dom);
}

/* be->lock held: domains of lost members (state unknown: NOSTATE), so that a
 * guest cluster's dynamic list still offers them (their fencing waits for
 * the host's) */
static int
cpg_listacc_lost_locked(const struct cpg_be *be, struct cpg_listacc *acc)
{
    struct vf_domain_info info;
    size_t i;

    for (i = 0; i < be->n_lost; i++) {
        memset(&info, 0, sizeof(info));
        snprintf(info.name, sizeof(info.name), "%s", be->lost[i].name);
        snprintf(info.uuid, sizeof(info.uuid), "%s", be->lost[i].uuid);
        info.state = VF_STATE_NOSTATE;
        if (cpg_listacc_add(acc, &info) < 0) {
            return -ENOMEM;
        }
    }
    return 0;
}

/*
 * list: the local domains (live) plus every member's last announced list,
 * and the lost ones, each UUID once (the local copy wins), sorted by name.  If local libvirt
 * is down the remote domains are still listed (warning logged).
 */
int
cpg_op_list(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms)
{
    struct cpg_be *be = priv;
    struct cpg_listacc acc = { 0 };
    struct vf_domain_info info;
    size_t i, j, n_remote = 0;
    int r, r2;

    pthread_mutex_lock(&be->lock);
    if (!be->joined) {
        pthread_mutex_unlock(&be->lock);
        vf_log(LOG_ERR, "cpg backend: not joined to group '%s'; cannot list the cluster's domains",
               be->group);
        return -EHOSTDOWN;
    }
    pthread_mutex_unlock(&be->lock);
    r = be->lv->list(be->lv_priv, cpg_listacc_cb, &acc, deadline_ms);
    if (r == -ENOMEM) {
        goto out;
    }
    if (r < 0) {
        vf_log(LOG_WARNING, "cpg backend: local domains missing from the list: %s", strerror(-r));
    }
    pthread_mutex_lock(&be->lock);
    for (i = 0; i < be->n_owners; i++) {
        for (j = 0; j < be->owners[i].n_doms; j++) {
            cpg_info_from_wire(&info, &be->owners[i].doms[j]);
            if (cpg_listacc_add(&acc, &info) < 0) {
                pthread_mutex_unlock(&be->lock);
                r = -ENOMEM;
                goto out;
            }
            n_remote++;
        }
    }
    r2 = cpg_listacc_lost_locked(be, &acc);
    pthread_mutex_unlock(&be->lock);
    if (r2 < 0) {
        r = r2;
        goto out;
    }
    if (r < 0 && n_remote == 0) {
        goto out;
    }
    if (acc.n > 1) {
        qsort(acc.all, acc.n, sizeof(*acc.all), vf_domain_info_cmp);
    }
    for (i = 0; i < acc.n; i++) {
        r = cb(arg, &acc.all[i]);
        if (r < 0) {
            goto out;
        }
    }
    r = 0;
out:
    free(acc.all);
    return r;
}

int
cpg_op_monitor(void *priv, int64_t deadline_ms)
{
    struct cpg_be *be = priv;
    bool joined;
    int r;

    pthread_mutex_lock(&be->lock);
    joined = be->joined;
    pthread_mutex_unlock(&be->lock);
    if (!joined) {
        vf_log(LOG_ERR, "cpg backend: monitor: not joined to group '%s'", be->group);
        return -EHOSTDOWN;
    }
    r = be->lv->monitor != NULL ? be->lv->monitor(be->lv_priv, deadline_ms) : 0;
    return r < 0 ? -EHOSTDOWN : 0;
}
