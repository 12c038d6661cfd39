/*
 * vmfence - daemon/backends/libvirt-watch.c: the libvirt backend's watch /
 * unwatch (plugin.h): domain lifecycle events from every URI.
 *
 * While somebody watches, a lifecycle callback
 * (VIR_DOMAIN_EVENT_ID_LIFECYCLE) is registered on the connection of every
 * URI that is up.  The callback runs in libvirt's event loop thread and
 * only queues the domain's UUID; one thread (a work queue of one, so
 * events keep their order) resolves it on every URI as a lookup by UUID
 * does (libvirt-power.c) and tells the watchers: found = its merged
 * state, not found anywhere while every URI answered = gone.  When a URI
 * comes up (again), the registrations are brought in line with the live
 * connections and every domain is reported (a resync), so a watcher never
 * keeps the picture of before a disconnect.
 *
 * The registrations are kept whether or not somebody watches: what the
 * events and resyncs learn also feeds the status cache (libvirt-cache.c),
 * which a URI going down or up, a dropped event or a failed resync makes
 * invalid until the next clean resync.
 *
 * The watchers are called with watch_lock held: once unwatch() has
 * returned, its callback never runs again.  A callback must not block and
 * must not call watch or unwatch.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "io.h"
#include "log.h"
#include "timeutil.h"
#include "workq.h"
#include "libvirt-int.h"

#define LV_WATCH_QUEUED     4096
#define LV_WATCH_ITEM_MS    60000       /* an event not handled by then is dropped */
#define LV_WATCH_CALL_MS    10000       /* a lookup or list for the watchers */
#define LV_WATCH_IDLE_MS    30000
#define LV_WATCH_SYNC_MS    2000        /* watch() waits for its registrations */
#define LV_WATCH_TRIM_DOMAINS 1000      /* resyncs this long give memory back */
#define LV_WATCH_DROP_MS    500         /* fini waits this long for the deregistrations */

struct lv_watcher {
    vf_domain_event_cb cb;
    void *arg;
    struct lv_watcher *next;
};

/* A lifecycle callback registered on one connection (watchq thread only). */
struct lv_evreg {
    char *uri;
    virConnectPtr conn;             /* referenced */
    int id;
};

enum lv_witem_kind {
    LV_W_EVENT,                     /* a domain changed */
    LV_W_SYNC,                      /* registrations follow the connections */
};

struct lv_witem {
    struct vf_workq_item item;      /* first: the queue's */
    struct lv_backend *be;          /* referenced */
    enum lv_witem_kind kind;
    bool resync;                    /* SYNC: report every domain afterwards */
    uint64_t gen;                   /* SYNC: its number (be->sync_queued) */
    char uuid[VIR_UUID_STRING_BUFLEN];     /* EVENT: empty: look @name up (a refresh) */
    char name[256];
};

/* Events may have been lost: resync at the next item; no cached status meanwhile. */
static void
lv_resync_due(struct lv_backend *be)
{
    atomic_store(&be->resync_due, true);
    lv_cache_invalidate(be);
}

/* ---- telling the watchers -------------------------------------------------- */

static void
lv_notify(struct lv_backend *be, const struct vf_domain_info *dom, bool gone)
{
    struct lv_watcher *w;

    if (!atomic_load(&be->watching)) {
        return;
    }
    pthread_mutex_lock(&be->watch_lock);
    for (w = be->watchers; w != NULL; w = w->next) {
        w->cb(w->arg, dom, gone);
    }
    pthread_mutex_unlock(&be->watch_lock);
}

/* Every domain of every URI that is up, to every watcher.  \return 0 or -errno */
static int
lv_watch_resync(struct lv_backend *be)
{
    struct vf_domain_info *all = NULL;
    size_t i, n = 0;
    /* the cache answers with ONE configured URI only: with several, a
     * UUID's copies may have different names there, and a status by name
     * resolves the name (lv_resolve), while the cache merges by UUID */
    bool complete = be->regs_complete && be->n_evregs == 1;
    uint64_t seq = lv_cache_seq(be);
    int r;

    if (!complete && !atomic_load(&be->watching)) {
        return 0;                   /* nobody to tell, and the cache stays invalid */
    }
    r = lv_do_list(be, &all, &n, vf_now_ms() + LV_WATCH_CALL_MS);
    if (r < 0) {
        vf_dbg(1, "libvirt backend: resync for the watchers failed: %s", strerror(-r));
        return r;
    }
    lv_cache_alive(be);
    if (lv_cache_fill(be, seq, all, n, complete) == -EAGAIN) {
        lv_watch_kick(be);          /* a domain changed meanwhile: list again */
    }
    vf_dbg(1, "libvirt backend: resync: %zu domain(s) reported to the watchers", n);
    for (i = 0; i < n; i++) {
        lv_notify(be, &all[i], false);
    }
    free(all);
    if (n >= LV_WATCH_TRIM_DOMAINS) {
        (void)malloc_trim(0);       /* this thread's arena keeps a big list's memory */
    }
    return 0;
}

/* Domain @uuid changed: its state now, or gone.  \return 0 or -errno (unknown) */
static int
lv_watch_event(struct lv_backend *be, const char *uuid, const char *name)
{
    struct vf_domain_info info = { .state = VF_STATE_SHUTOFF };
    uint64_t seq = lv_cache_seq(be);
    bool refresh = uuid[0] == '\0';
    int r = lv_do_lookup(be, refresh ? name : uuid, refresh ? 0 : VF_BE_BY_UUID, &info,
                         vf_now_ms() + LV_WATCH_CALL_MS);

    if (r == 0 || r == -ENOENT) {
        lv_cache_alive(be);
    }
    if (r == 0) {
        lv_cache_put(be, seq, &info, false);
        lv_notify(be, &info, false);
    } else if (refresh) {
        /* a power operation's target, not found by that name: nothing to tell */
        return r == -ENOENT ? 0 : r;
    } else if (r == -ENOENT) {
        lv_copy_name(info.name, sizeof(info.name), name);
        lv_copy_name(info.uuid, sizeof(info.uuid), uuid);
        lv_cache_put(be, seq, &info, true);
        lv_notify(be, &info, true);
        r = 0;
    } else {
        vf_dbg(1, "libvirt backend: event for '%s' (%s) not resolved: %s", name, uuid,
               strerror(-r));
    }
    return r;
}

/* ---- lifecycle registrations --------------------------------------------------- */

static void
lv_event_opaque_free(void *opaque)
{
    lv_be_unref(opaque);
}

static bool lv_watch_push(struct lv_backend *be, enum lv_witem_kind kind, bool resync,
                          const char *uuid, const char *name, uint64_t *ret_gen);

/* Lifecycle callback, run by libvirt's event loop thread: queue the UUID. */
static int
lv_event_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    const char *name = virDomainGetName(dom);

    (void)conn;
    if (virDomainGetUUIDString(dom, uuid) < 0) {
        return 0;
    }
    vf_dbg(2, "libvirt backend: lifecycle event %d/%d for '%s' (%s)", event, detail,
           name != NULL ? name : "?", uuid);
    lv_cache_mark_uuid(opaque, uuid);   /* stale at once, before it is resolved */
    (void)lv_watch_push(opaque, LV_W_EVENT, false, uuid, name != NULL ? name : "", NULL);
    return 0;
}

static void
lv_evreg_drop(struct lv_evreg *g)
{
    (void)virConnectDomainEventDeregisterAny(g->conn, g->id);
    (void)virConnectClose(g->conn);
    free(g->uri);
}

/* Is (@uri, @conn) in @snap (connected)? */
static bool
lv_snap_has(const struct lv_snap *snap, const char *uri, virConnectPtr conn)
{
    size_t i;

    for (i = 0; i < snap->n; i++) {
        if (snap->refs[i].conn == conn && strcmp(snap->refs[i].uri, uri) == 0) {
            return true;
        }
    }
    return false;
}

/* Register on @ref's connection unless done already (watchq thread). */
static void
lv_evreg_add(struct lv_backend *be, const struct lv_ref *ref)
{
    struct lv_evreg *tmp, *g;
    size_t i;

    for (i = 0; i < be->n_evregs; i++) {
        if (be->evregs[i].conn == ref->conn && strcmp(be->evregs[i].uri, ref->uri) == 0) {
            return;
        }
    }
    tmp = realloc(be->evregs, (be->n_evregs + 1) * sizeof(*tmp));
    if (tmp == NULL) {
        return;
    }
    be->evregs = tmp;
    g = &be->evregs[be->n_evregs];
    g->uri = strdup(ref->uri);
    if (g->uri == NULL) {
        return;
    }
    atomic_fetch_add(&be->refs, 1);     /* the registration's, freed by libvirt */
    g->id = virConnectDomainEventRegisterAny(ref->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                             VIR_DOMAIN_EVENT_CALLBACK(lv_event_cb), be,
                                             lv_event_opaque_free);
    if (g->id < 0) {
        atomic_fetch_sub(&be->refs, 1);
        vf_log(LOG_WARNING, "libvirt backend: no domain events from '%s' (%s), ignoring",
               ref->uri, vf_virt_error_text());
        free(g->uri);
        return;
    }
    (void)virConnectRef(ref->conn);
    g->conn = ref->conn;
    be->n_evregs++;
}

/*
 * Bring the registrations in line with the live connections: one on every
 * connected URI while somebody watches, none otherwise (watchq thread).
 */
static void
lv_watch_reconcile(struct lv_backend *be)
{
    struct lv_snap snap = { 0 };
    size_t i, kept = 0;

    be->regs_complete = false;
    if (atomic_load(&be->watch_final)) {
        /* stopping: every registration goes (an empty snapshot), in this
         * thread, so a deregistration stuck on a hung libvirtd costs fini
         * no more than its bounded wait */
    } else if (lv_snap_take(be, &snap) < 0) {
        lv_snap_done(&snap);
        lv_resync_due(be);
        return;
    }
    for (i = 0; i < be->n_evregs; i++) {
        if (lv_snap_has(&snap, be->evregs[i].uri, be->evregs[i].conn)) {
            be->evregs[kept++] = be->evregs[i];
        } else {
            lv_evreg_drop(&be->evregs[i]);
        }
    }
    be->n_evregs = kept;
    for (i = 0; i < snap.n; i++) {
        if (snap.refs[i].conn != NULL) {
            lv_evreg_add(be, &snap.refs[i]);
        }
    }
    be->regs_complete = snap.n > 0 && snap.n_down == 0 && be->n_evregs == snap.n;
    lv_snap_done(&snap);
}

/* ---- the watch queue ------------------------------------------------------------ */

static void
lv_witem_free(struct lv_witem *wi)
{
    lv_be_unref(wi->be);
    free(wi);
}

/* SYNC number @gen has run: wake lv_watch_sync() (the registrations follow it). */
static void
lv_watch_synced(struct lv_backend *be, uint64_t gen)
{
    pthread_mutex_lock(&be->lock);
    be->sync_done = gen;
    pthread_cond_broadcast(&be->watch_cond);
    pthread_mutex_unlock(&be->lock);
}

static void
lv_witem_run(struct vf_workq_item *item, void *arg)
{
    struct lv_witem *wi = (struct lv_witem *)item;
    struct lv_backend *be = wi->be;
    bool resync = wi->resync;

    (void)arg;
    if (wi->kind == LV_W_SYNC) {
        lv_watch_reconcile(be);
    } else if (lv_watch_event(be, wi->uuid, wi->name) < 0) {
        resync = true;              /* unknown now: report everything once it can */
    }
    if (atomic_exchange(&be->resync_due, false)) {
        resync = true;
    }
    if (resync && !atomic_load(&be->watch_final) && lv_watch_resync(be) < 0) {
        lv_resync_due(be);
    }
    if (wi->kind == LV_W_SYNC) {
        lv_watch_synced(be, wi->gen);
    }
    lv_witem_free(wi);
}

/* Not handled in time (or the backend stops): the next item resyncs. */
static void
lv_witem_expire(struct vf_workq_item *item, void *arg)
{
    struct lv_witem *wi = (struct lv_witem *)item;

    (void)arg;
    lv_resync_due(wi->be);
    lv_witem_free(wi);
}

/*
 * Queue an item (nothing once the backend stops).  \return true if queued;
 * a SYNC's number goes to *@ret_gen
 */
static bool
lv_watch_push(struct lv_backend *be, enum lv_witem_kind kind, bool resync, const char *uuid,
              const char *name, uint64_t *ret_gen)
{
    struct lv_witem *wi = calloc(1, sizeof(*wi));
    bool queued = false;

    if (wi == NULL) {
        lv_resync_due(be);
        return false;
    }
    wi->kind = kind;
    wi->resync = resync;
    lv_copy_name(wi->uuid, sizeof(wi->uuid), uuid);
    lv_copy_name(wi->name, sizeof(wi->name), name);
    wi->item.deadline_ms = vf_now_ms() + LV_WATCH_ITEM_MS;
    pthread_mutex_lock(&be->lock);
    if (!be->watch_stop) {
        atomic_fetch_add(&be->refs, 1);
        wi->be = be;
        wi->gen = kind == LV_W_SYNC ? ++be->sync_queued : 0;
        queued = vf_workq_push(be->watchq, &wi->item) == 0;
        if (!queued) {
            atomic_fetch_sub(&be->refs, 1);
            lv_resync_due(be);
        } else if (ret_gen != NULL) {
            *ret_gen = wi->gen;
        }
    }
    pthread_mutex_unlock(&be->lock);
    if (!queued) {
        free(wi);
    }
    return queued;
}

/* A URI of @arg's backend came up: registrations, then a resync. */
static void
lv_uri_up(void *arg, virConnectPtr conn)
{
    struct lv_uri *u = arg;

    (void)conn;
    lv_cache_invalidate(u->be);
    (void)lv_watch_push(u->be, LV_W_SYNC, true, "", "", NULL);
}

/* A URI went down: its registration goes (the resync follows the next up). */
static void
lv_uri_down(void *arg, virConnectPtr conn)
{
    struct lv_uri *u = arg;

    (void)conn;
    lv_cache_invalidate(u->be);     /* at once: its events stopped */
    (void)lv_watch_push(u->be, LV_W_SYNC, false, "", "", NULL);
}

const struct vf_virt_events lv_uri_events = {
    .up = lv_uri_up,
    .down = lv_uri_down,
};

/* ---- the status cache's side ---------------------------------------------------- */

/* After a power operation on @target: look it up again (in order with the events). */
void
lv_watch_refresh(struct lv_backend *be, const char *target)
{
    if (target != NULL && target[0] != '\0') {
        (void)lv_watch_push(be, LV_W_EVENT, false, "", target, NULL);
    }
}

/* Registrations in line with the connections, then a resync (a reload, a raced resync). */
void
lv_watch_kick(struct lv_backend *be)
{
    (void)lv_watch_push(be, LV_W_SYNC, true, "", "", NULL);
}

/* ---- ops ----------------------------------------------------------------------- */

/* Queue a SYNC and wait until it ran (at most until @deadline_ms): registrations follow. */
static void
lv_watch_sync(struct lv_backend *be, int64_t deadline_ms)
{
    struct timespec ts = vf_deadline_timespec(deadline_ms);
    uint64_t gen = 0;

    if (!lv_watch_push(be, LV_W_SYNC, false, "", "", &gen)) {
        return;
    }
    pthread_mutex_lock(&be->lock);
    while (be->sync_done < gen) {
        if (pthread_cond_timedwait(&be->watch_cond, &be->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&be->lock);
}

int
lv_watch(void *priv, vf_domain_event_cb cb, void *arg)
{
    struct lv_backend *be = priv;
    struct lv_watcher *w = calloc(1, sizeof(*w)), **pw;
    bool first;

    if (w == NULL) {
        return -ENOMEM;
    }
    if (cb == NULL) {
        free(w);
        return -EINVAL;
    }
    w->cb = cb;
    w->arg = arg;
    pthread_mutex_lock(&be->watch_lock);
    first = be->watchers == NULL;
    for (pw = &be->watchers; *pw != NULL; pw = &(*pw)->next) {
    }
    *pw = w;
    atomic_store(&be->watching, true);
    pthread_mutex_unlock(&be->watch_lock);
    if (first) {
        lv_watch_sync(be, vf_now_ms() + LV_WATCH_SYNC_MS);
    }
    return 0;
}

void
lv_unwatch(void *priv, vf_domain_event_cb cb, void *arg)
{
    struct lv_backend *be = priv;
    struct lv_watcher **pw, *w = NULL;
    bool last = false;

    pthread_mutex_lock(&be->watch_lock);
    for (pw = &be->watchers; *pw != NULL; pw = &(*pw)->next) {
        if ((*pw)->cb == cb && (*pw)->arg == arg) {
            w = *pw;
            *pw = w->next;
            break;
        }
    }
    if (w != NULL && be->watchers == NULL) {
        atomic_store(&be->watching, false);
        last = true;
    }
    pthread_mutex_unlock(&be->watch_lock);
    free(w);
    if (last) {
        (void)lv_watch_push(be, LV_W_SYNC, false, "", "", NULL);
    }
}

int
lv_watch_init(struct lv_backend *be)
{
    const struct vf_workq_params p = {
        .max_threads = 1,           /* one thread: events stay in order */
        .min_threads = 0,
        .idle_ms = LV_WATCH_IDLE_MS,
        .max_queued = LV_WATCH_QUEUED,
        .run = lv_witem_run,
        .expire = lv_witem_expire,
    };
    int r;

    pthread_mutex_init(&be->watch_lock, NULL);
    r = vf_cond_init_monotonic(&be->watch_cond);
    if (r < 0) {
        pthread_mutex_destroy(&be->watch_lock);
        return r;
    }
    r = vf_workq_new(&p, &be->watchq);
    if (r < 0) {
        pthread_cond_destroy(&be->watch_cond);
        pthread_mutex_destroy(&be->watch_lock);
    }
    return r;
}

/*
 * Stop the watch queue (its thread waited for until @deadline_ms) and
 * drop every registration and watcher.  A thread stuck in a libvirt call
 * keeps its registrations (and its reference to the backend).
 */
void
lv_watch_fini(struct lv_backend *be, int64_t deadline_ms)
{
    struct lv_watcher *w;
    size_t i;

    /* the registrations are dropped by the watch thread (a deregistration
     * is a call to libvirtd, which may hang), waited for LV_WATCH_DROP_MS at
     * most: what a hung libvirtd keeps is only leaked at exit */
    atomic_store(&be->watch_final, true);
    lv_watch_sync(be, deadline_ms < vf_now_ms() + LV_WATCH_DROP_MS ? deadline_ms
                                                                   : vf_now_ms() + LV_WATCH_DROP_MS);
    pthread_mutex_lock(&be->lock);
    be->watch_stop = true;
    pthread_mutex_unlock(&be->lock);
    if (vf_workq_free(be->watchq, lv_fini_wait(deadline_ms)) == 0) {
        for (i = 0; i < be->n_evregs; i++) {
            lv_evreg_drop(&be->evregs[i]);
        }
        free(be->evregs);
        be->evregs = NULL;
        be->n_evregs = 0;
    }
    be->watchq = NULL;
    pthread_mutex_lock(&be->watch_lock);
    while ((w = be->watchers) != NULL) {
        be->watchers = w->next;
        free(w);
    }
    atomic_store(&be->watching, false);
    pthread_mutex_unlock(&be->watch_lock);
}
