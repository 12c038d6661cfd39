/*
 * vmfence - daemon/backends/cpg-table.c: this host's domain table and its
 * broadcasts.
 *
 * With libvirt lifecycle events (the libvirt backend's optional watch op):
 * every event (define, undefine, start, stop, crash, migrate in or out)
 * updates the table at once and wakes the refresh thread, which broadcasts
 * the complete list at once (changes within CPG_COALESCE_MS go out
 * together).  The table is listed once at start, when an event arrived
 * while a listing ran, and every CPG_RESCAN_MS as a safety net: no refresh
 * storm, whatever the request rate.
 * Without events (watch is NULL or fails): listed every CPG_REFRESH_MS, as
 * before.
 * Either way the complete list is broadcast after every membership change
 * (a resync: a joining host learns everything, and receivers replace the
 * sender's previous list), and every CPG_REBROADCAST_MS.  The table is
 * bounded by VF_CPGW_MAX_DOMAINS.  While libvirt cannot be listed nothing
 * is broadcast: the others keep the last list, and a request routed here
 * is answered -EHOSTDOWN by the local libvirt code.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "array.h"
#include "backends/cpg-int.h"

/* changes this close together are announced in one broadcast */
#define CPG_COALESCE_MS 100

struct cpg_collect {
    struct vf_cpgw_dom *doms;
    size_t n;
    size_t cap;
    size_t skipped;
};

static bool
cpg_dom_announceable(const struct vf_domain_info *dom)
{
    return dom->name[0] != '\0' && strlen(dom->name) <= VF_CPGW_NAME_MAX &&
           vf_cpgw_uuid_valid(dom->uuid);
}

static void
cpg_dom_to_wire(struct vf_cpgw_dom *d, const struct vf_domain_info *dom)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%s", dom->name);
    snprintf(d->uuid, sizeof(d->uuid), "%s", dom->uuid);
    d->state = (uint8_t)(dom->state >= 0 && dom->state <= VF_STATE_PMSUSPENDED ?
                         dom->state : VF_STATE_NOSTATE);
    d->persistent = dom->persistent;
}

static int
cpg_collect_cb(void *arg, const struct vf_domain_info *dom)
{
    struct cpg_collect *c = arg;
    struct vf_cpgw_dom *nd = NULL;

    if (!cpg_dom_announceable(dom) || c->n >= VF_CPGW_MAX_DOMAINS) {
        c->skipped++;
        return 0;
    }
    nd = vf_array_reserve(c->doms, c->n + 1, &c->cap, sizeof(*nd), 16);
    if (nd == NULL) {
        return -ENOMEM;
    }
    c->doms = nd;
    cpg_dom_to_wire(&c->doms[c->n++], dom);
    return 0;
}

static bool
cpg_doms_equal(const struct vf_cpgw_dom *a, size_t na, const struct vf_cpgw_dom *b, size_t nb)
{
    size_t i;

    if (na != nb) {
        return false;
    }
    for (i = 0; i < na; i++) {
        if (strcmp(a[i].name, b[i].name) != 0 || strcmp(a[i].uuid, b[i].uuid) != 0 ||
            a[i].state != b[i].state || a[i].persistent != b[i].persistent) {
            return false;
        }
    }
    return true;
}

/* ---- events ---------------------------------------------------------------- */

/* be->lock held: apply one event to the table. \return true if it changed */
static bool
cpg_table_apply_locked(struct cpg_be *be, const struct vf_domain_info *dom, bool gone)
{
    struct vf_cpgw_dom d, *nl;
    size_t i;

    for (i = 0; i < be->n_local; i++) {
        if (strcasecmp(be->local[i].uuid, dom->uuid) == 0) {
            break;
        }
    }
    if (gone) {
        if (i == be->n_local) {
            return false;
        }
        memmove(&be->local[i], &be->local[i + 1], (be->n_local - i - 1) * sizeof(*be->local));
        be->n_local--;
        return true;
    }
    cpg_dom_to_wire(&d, dom);
    if (i < be->n_local) {
        if (cpg_doms_equal(&be->local[i], 1, &d, 1)) {
            return false;
        }
        be->local[i] = d;
        return true;
    }
    if (be->n_local >= VF_CPGW_MAX_DOMAINS) {
        vf_log(LOG_WARNING, "cpg backend: more than %d local domains; '%s' is not announced",
               VF_CPGW_MAX_DOMAINS, dom->name);
        return false;
    }
    nl = realloc(be->local, (be->n_local + 1) * sizeof(*nl));
    if (nl == NULL) {
        be->need_list = true;       /* the next listing catches up */
        return false;
    }
    be->local = nl;
    be->local[be->n_local++] = d;
    return true;
}

/* The watch callback (a libvirt backend thread): must not block for long. */
void
cpg_domain_event(void *arg, const struct vf_domain_info *dom, bool gone)
{
    struct cpg_be *be = arg;
    bool changed;

    if (dom == NULL || !cpg_dom_announceable(dom)) {
        return;
    }
    pthread_mutex_lock(&be->lock);
    be->events++;
    changed = cpg_table_apply_locked(be, dom, gone);
    if (changed) {
        be->need_broadcast = true;
        pthread_cond_broadcast(&be->cond);
    }
    pthread_mutex_unlock(&be->lock);
    vf_dbg(1, "cpg backend: event: '%s' (%s) %s%s", dom->name, dom->uuid,
           gone ? "gone" : "state ", gone ? "" : (cpg_dom_active(dom->state) ? "on" : "off"));
}

int
cpg_watch_start(struct cpg_be *be)
{
    int r;

    if (be->lv->watch == NULL) {
        vf_log(LOG_INFO, "cpg backend: no libvirt lifecycle events; listing local domains every %d ms",
               CPG_REFRESH_MS);
        return -EOPNOTSUPP;
    }
    r = be->lv->watch(be->lv_priv, cpg_domain_event, be);
    if (r < 0) {
        vf_log(LOG_WARNING, "cpg backend: cannot watch libvirt lifecycle events (%s); listing "
               "local domains every %d ms", strerror(-r), CPG_REFRESH_MS);
        return r;
    }
    pthread_mutex_lock(&be->lock);
    be->watching = true;
    pthread_mutex_unlock(&be->lock);
    vf_log(LOG_INFO, "cpg backend: following libvirt lifecycle events");
    return 0;
}

void
cpg_watch_stop(struct cpg_be *be)
{
    bool watching;

    pthread_mutex_lock(&be->lock);
    watching = be->watching;
    be->watching = false;
    pthread_mutex_unlock(&be->lock);
    if (watching && be->lv->unwatch != NULL) {
        be->lv->unwatch(be->lv_priv, cpg_domain_event, be);
    }
}

/* ---- listing and broadcasting -------------------------------------------------- */

/* List the local domains into the table (unless an event raced the listing). */
static void
cpg_list_local(struct cpg_be *be)
{
    struct cpg_collect c = { 0 };
    uint64_t events;
    int r;

    pthread_mutex_lock(&be->lock);
    events = be->events;
    be->need_list = false;
    pthread_mutex_unlock(&be->lock);
    r = be->lv->list(be->lv_priv, cpg_collect_cb, &c, vf_now_ms() + CPG_LOCAL_LOOKUP_MS);
    pthread_mutex_lock(&be->lock);
    be->last_list_ms = vf_now_ms();
    if (r < 0) {
        if (be->local_valid) {
            vf_log(LOG_WARNING, "cpg backend: cannot list local domains: %s", strerror(-r));
        }
        be->local_valid = false;
    } else if (be->watching && be->events != events) {
        be->need_list = true;       /* an event came in meanwhile: list again */
    } else {
        if (c.skipped > 0) {
            vf_dbg(1, "cpg backend: %zu local domain(s) not announced (no UUID, name too long, "
                   "or more than %d)", c.skipped, VF_CPGW_MAX_DOMAINS);
        }
        if (!be->local_valid || !cpg_doms_equal(be->local, be->n_local, c.doms, c.n)) {
            be->need_broadcast = true;
        }
        free(be->local);
        be->local = c.doms;
        be->n_local = c.n;
        be->local_valid = true;
        be->local_ever = true;
        c.doms = NULL;
    }
    pthread_mutex_unlock(&be->lock);
    free(c.doms);
}

/* be->lock held: encode the table if a broadcast is due. \return buffer or NULL */
static uint8_t *
cpg_state_due_locked(struct cpg_be *be, size_t *ret_len)
{
    int64_t now = vf_now_ms();
    uint8_t *buf;
    size_t size;

    if (!be->joined || !be->local_valid ||
        (!be->need_broadcast && now - be->last_broadcast_ms < CPG_REBROADCAST_MS)) {
        return NULL;
    }
    size = vf_cpgw_state_size(be->local, be->n_local);
    buf = size > 0 ? malloc(size) : NULL;
    if (buf == NULL ||
        vf_cpgw_encode_state(++be->generation, be->local, be->n_local, buf, size, ret_len) < 0) {
        free(buf);
        return NULL;
    }
    be->need_broadcast = false;
    be->last_broadcast_ms = now;
    vf_dbg(2, "cpg backend: announcing %zu local domain(s) (generation %u)",
           be->n_local, (unsigned int)be->generation);
    return buf;
}

static void
cpg_broadcast_due(struct cpg_be *be)
{
    uint8_t *buf;
    size_t len = 0;

    pthread_mutex_lock(&be->lock);
    buf = cpg_state_due_locked(be, &len);
    pthread_mutex_unlock(&be->lock);
    if (buf == NULL) {
        return;
    }
    if (cpg_send(be, buf, len) < 0) {
        pthread_mutex_lock(&be->lock);
        be->need_broadcast = true;      /* retry next round */
        pthread_mutex_unlock(&be->lock);
    }
    free(buf);
}

/* be->lock held: must the table be listed now? */
static bool
cpg_list_due_locked(const struct cpg_be *be)
{
    return !be->watching || be->need_list || !be->local_valid ||
           vf_now_ms() - be->last_list_ms >= CPG_RESCAN_MS;
}

void *
cpg_refresh_main(void *arg)
{
    struct cpg_be *be = arg;
    struct timespec ts;
    bool list;

    for (;;) {
        pthread_mutex_lock(&be->lock);
        list = cpg_list_due_locked(be);
        pthread_mutex_unlock(&be->lock);
        if (list) {
            cpg_list_local(be);
        }
        cpg_broadcast_due(be);
        vf_sleep_ms(CPG_COALESCE_MS);       /* events of a burst go out together */
        pthread_mutex_lock(&be->lock);
        ts = vf_deadline_timespec(vf_now_ms() + CPG_REFRESH_MS);
        while (!be->stopping && !(be->need_broadcast && be->joined && be->local_valid) &&
               !be->need_list) {
            if (pthread_cond_timedwait(&be->cond, &be->lock, &ts) == ETIMEDOUT) {
                break;
            }
        }
        if (be->stopping) {
            pthread_mutex_unlock(&be->lock);
            break;
        }
        pthread_mutex_unlock(&be->lock);
    }
    return NULL;
}
