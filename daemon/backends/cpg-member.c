/*
 * vmfence - daemon/backends/cpg-member.c: the cpg backend's membership.
 *
 * Who is in the group (corosync's configuration changes), the domain list
 * each other member announced last (a STATE replaces the previous one
 * wholesale: what the owner no longer has disappears, nothing grows per
 * broadcast), and the domains of members that left.
 *
 * Host loss: when a member leaves, the domains it announced are kept as
 * "lost at T" (wall clock of the membership change), so that a request for
 * one is answered from the host cluster's fencer (cpg-lost.c) instead of
 * "unknown".  The table is bounded (CPG_MAX_LOST, oldest forgotten first:
 * forgetting only makes a domain unknown, a failure).  Entries of a node
 * disappear when that node announces its domains again (rejoin: its list
 * is authoritative again) and are replaced when it is lost again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "backends/cpg-int.h"

struct cpg_owner *
cpg_owner_find_locked(struct cpg_be *be, uint32_t nodeid, uint32_t pid)
{
    size_t i;

    for (i = 0; i < be->n_owners; i++) {
        if (be->owners[i].nodeid == nodeid && be->owners[i].pid == pid) {
            return &be->owners[i];
        }
    }
    return NULL;
}

/* ---- lost domains ---------------------------------------------------------- */

/* be->lock held: drop every lost entry of @nodeid */
static void
cpg_lost_drop_node_locked(struct cpg_be *be, uint32_t nodeid)
{
    size_t i, k = 0, dropped = 0;

    for (i = 0; i < be->n_lost; i++) {
        if (be->lost[i].nodeid == nodeid) {
            dropped++;
            continue;
        }
        be->lost[k++] = be->lost[i];
    }
    be->n_lost = k;
    if (dropped > 0) {
        vf_log(LOG_NOTICE, "cpg backend: node %u announces its domains again; %zu lost "
               "domain(s) of it forgotten", (unsigned int)nodeid, dropped);
    }
}

/* be->lock held: remember @d as lost with its owner @nodeid at @when */
static void
cpg_lost_add_locked(struct cpg_be *be, uint32_t nodeid, const struct vf_cpgw_dom *d, time_t when)
{
    struct cpg_lost *l;
    size_t i;

    for (i = 0; i < be->n_lost; i++) {
        if (be->lost[i].nodeid == nodeid && strcasecmp(be->lost[i].uuid, d->uuid) == 0) {
            break;
        }
    }
    if (i == be->n_lost) {
        if (be->lost == NULL) {
            be->lost = calloc(CPG_MAX_LOST, sizeof(*be->lost));
            if (be->lost == NULL) {
                vf_log(LOG_ERR, "cpg backend: out of memory; '%s' of lost node %u is forgotten",
                       d->name, (unsigned int)nodeid);
                return;
            }
        }
        if (be->n_lost == CPG_MAX_LOST) {
            vf_log(LOG_WARNING, "cpg backend: more than %d lost domains; forgetting '%s' of node %u",
                   CPG_MAX_LOST, be->lost[0].name, (unsigned int)be->lost[0].nodeid);
            memmove(&be->lost[0], &be->lost[1], (CPG_MAX_LOST - 1) * sizeof(*be->lost));
            be->n_lost--;
        }
        i = be->n_lost++;
    }
    l = &be->lost[i];
    memset(l, 0, sizeof(*l));
    snprintf(l->name, sizeof(l->name), "%s", d->name);
    snprintf(l->uuid, sizeof(l->uuid), "%s", d->uuid);
    l->nodeid = nodeid;
    l->lost_at = when;
    l->was_on = cpg_dom_active(d->state);
}

/* be->lock held: member @o left: its domains become lost */
static void
cpg_owner_lost_locked(struct cpg_be *be, const struct cpg_owner *o, time_t when)
{
    size_t i;

    for (i = 0; i < o->n_doms; i++) {
        cpg_lost_add_locked(be, o->nodeid, &o->doms[i], when);
    }
    vf_log(LOG_WARNING, "cpg backend: node %u pid %u left group '%s' with %zu domain(s); they are "
           "\"owner lost at %lld\" until the host cluster records its fencing or it rejoins",
           (unsigned int)o->nodeid, (unsigned int)o->pid, be->group, o->n_doms,
           (long long)when);
}

const struct cpg_lost *
cpg_lost_find_locked(const struct cpg_be *be, const char *target, bool by_uuid, bool is_uuid)
{
    size_t i;

    /* newest first: a domain lost twice is decided by its last owner */
    for (i = be->n_lost; i-- > 0;) {
        const struct cpg_lost *l = &be->lost[i];

        if ((!by_uuid && strcmp(l->name, target) == 0) ||
            (is_uuid && strcasecmp(l->uuid, target) == 0)) {
            return l;
        }
    }
    return NULL;
}

/* ---- announcements ----------------------------------------------------------- */

/* be->lock held: a STATE from @nodeid/@pid (takes m->doms) */
void
cpg_state_locked(struct cpg_be *be, uint32_t nodeid, uint32_t pid, struct vf_cpgw_msg *m)
{
    struct cpg_owner *o;

    if (nodeid == be->my_nodeid && pid == be->my_pid) {
        return;
    }
    o = cpg_owner_find_locked(be, nodeid, pid);
    if (o == NULL) {
        vf_dbg(1, "cpg backend: domain list from non-member node %u pid %u ignored",
               (unsigned int)nodeid, (unsigned int)pid);
        return;
    }
    cpg_lost_drop_node_locked(be, nodeid);
    /* wholesale replacement: what the owner no longer has disappears */
    free(o->doms);
    o->doms = m->doms;
    o->n_doms = m->n_doms;
    o->generation = m->generation;
    o->have_state = true;
    m->doms = NULL;
    m->n_doms = 0;
    pthread_cond_broadcast(&be->cond);
    vf_dbg(1, "cpg backend: node %u pid %u has %zu domain(s) (generation %u)",
           (unsigned int)nodeid, (unsigned int)pid, o->n_doms, (unsigned int)o->generation);
}

/* ---- configuration changes --------------------------------------------------- */

/*
 * corosync names members by the pid IT sees (SO_PEERCRED), which differs
 * from getpid() when fence_virtd runs in another PID namespace.  At the
 * first membership change after joining: if no member has our getpid(),
 * the only joined member with our nodeid is us.
 */
static void
cpg_learn_pid_locked(struct cpg_be *be, const struct cpg_address *members, size_t n_members,
                     const struct cpg_address *joined, size_t n_joined)
{
    size_t i, n_mine = 0;
    uint32_t pid = 0;

    if (be->pid_known) {
        return;
    }
    for (i = 0; i < n_members; i++) {
        if (members[i].nodeid == be->my_nodeid && members[i].pid == be->my_pid) {
            be->pid_known = true;
            return;
        }
    }
    for (i = 0; i < n_joined; i++) {
        if (joined[i].nodeid == be->my_nodeid) {
            n_mine++;
            pid = joined[i].pid;
        }
    }
    if (n_mine == 1) {
        vf_log(LOG_NOTICE, "cpg backend: corosync sees this process as pid %u (pid %ld here; PID namespace?)",
               (unsigned int)pid, (long)getpid());
        be->my_pid = pid;
        be->pid_known = true;
    }
}

/* be->lock held: the new owner table for @members (moving known lists);
 * \return whether this process is a member; the table is NULL on ENOMEM */
static bool
cpg_owners_rebuild_locked(struct cpg_be *be, const struct cpg_address *members,
                          size_t n_members, struct cpg_owner *nw, size_t *ret_n)
{
    struct cpg_owner *o;
    bool me_member = false;
    size_t i, n_new = 0;

    for (i = 0; i < n_members; i++) {
        if (members[i].nodeid == be->my_nodeid && members[i].pid == be->my_pid) {
            me_member = true;
            continue;
        }
        if (nw == NULL) {
            continue;
        }
        o = cpg_owner_find_locked(be, members[i].nodeid, members[i].pid);
        if (o != NULL) {
            nw[n_new] = *o;
            o->doms = NULL;         /* moved */
            o->n_doms = 0;
        } else {
            nw[n_new].nodeid = members[i].nodeid;
            nw[n_new].pid = members[i].pid;
        }
        n_new++;
    }
    *ret_n = n_new;
    return me_member;
}

/* be->lock held: @left members: their domains become lost, their requests fail */
static void
cpg_members_left_locked(struct cpg_be *be, const struct cpg_address *left, size_t n_left)
{
    time_t now = time(NULL);
    size_t i, j;

    for (i = 0; i < n_left; i++) {
        const struct cpg_owner *o = cpg_owner_find_locked(be, left[i].nodeid, left[i].pid);

        if (o != NULL && o->have_state) {
            cpg_owner_lost_locked(be, o, now);
        } else {
            vf_log(LOG_NOTICE, "cpg backend: node %u pid %u left group '%s'",
                   (unsigned int)left[i].nodeid, (unsigned int)left[i].pid, be->group);
        }
        /* requests waiting on a member that left will never be answered */
        for (j = 0; j < CPG_MAX_PENDING; j++) {
            struct cpg_pending *p = &be->pending[j];

            if (p->used && !p->done && p->nodeid == left[i].nodeid && p->pid == left[i].pid) {
                p->done = true;
                p->result = -EHOSTDOWN;
            }
        }
    }
}

void
cpg_confchg(cpg_handle_t handle, const struct cpg_name *group,
            const struct cpg_address *members, size_t n_members,
            const struct cpg_address *left, size_t n_left,
            const struct cpg_address *joined, size_t n_joined)
{
    struct cpg_be *be = NULL;
    struct cpg_owner *nw;
    size_t i, n_new = 0;
    bool me_member;

    (void)group;
    if (cpg_context_get(handle, (void **)&be) != CS_OK || be == NULL) {
        return;
    }
    nw = calloc(n_members > 0 ? n_members : 1, sizeof(*nw));
    pthread_mutex_lock(&be->lock);
    cpg_learn_pid_locked(be, members, n_members, joined, n_joined);
    cpg_members_left_locked(be, left, n_left);
    me_member = cpg_owners_rebuild_locked(be, members, n_members, nw, &n_new);
    if (nw == NULL) {
        vf_log(LOG_ERR, "cpg backend: out of memory on a membership change; forgetting all remote domains");
    }
    for (i = 0; i < be->n_owners; i++) {
        free(be->owners[i].doms);
    }
    free(be->owners);
    be->owners = nw;
    be->n_owners = nw != NULL ? n_new : 0;
    for (i = 0; i < n_joined; i++) {
        vf_log(LOG_INFO, "cpg backend: node %u pid %u joined group '%s'",
               (unsigned int)joined[i].nodeid, (unsigned int)joined[i].pid, be->group);
    }
    if (me_member && !be->joined) {
        vf_log(LOG_NOTICE, "cpg backend: joined group '%s' as node %u (%zu member(s))",
               be->group, (unsigned int)be->my_nodeid, n_members);
    }
    be->joined = me_member;
    /* resync: everyone announces its complete list after every change */
    be->need_broadcast = true;
    pthread_cond_broadcast(&be->cond);
    pthread_mutex_unlock(&be->lock);
}

/* Forget everything learned from the group (connection lost or closing).
 * Lost domains stay: they are not known anywhere else either. */
void
cpg_forget_locked(struct cpg_be *be)
{
    size_t i;

    for (i = 0; i < be->n_owners; i++) {
        free(be->owners[i].doms);
    }
    free(be->owners);
    be->owners = NULL;
    be->n_owners = 0;
    be->joined = false;
    for (i = 0; i < CPG_MAX_PENDING; i++) {
        if (be->pending[i].used && !be->pending[i].done) {
            be->pending[i].done = true;
            be->pending[i].result = -EHOSTDOWN;
        }
    }
    pthread_cond_broadcast(&be->cond);
}
