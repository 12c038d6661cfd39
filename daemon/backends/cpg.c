/*
 * vmfence - daemon/backends/cpg.c: the "cpg" backend of fence_virtd.
 *
 * Routes fencing requests cluster-wide over a corosync CPG group to the
 * fence_virtd that runs the domain.  Every host runs fence_virtd with this
 * backend; each one manages its own domains through libvirt and tells the
 * group which domains it has.  The pieces are listed in cpg-int.h.
 *
 * Configuration (block backends/cpg):
 *   uri, uri1, ...     libvirt URIs of THIS host (default qemu:///system)
 *   name_mode          "name" (default: a target is a name, or a UUID) or
 *                      "uuid" (targets must be UUIDs); fence_virtd/name_mode
 *                      is read as the legacy location
 *   group              CPG group name (default "vmfence")
 *   reply_timeout      seconds to wait for the owner's reply (default 10)
 *   reboot_powers_on   passed to the local libvirt code (see libvirt.c)
 *   fence_history      "pacemaker" (default) or "none": who confirms that a
 *                      host which left the group was fenced (cpg-confirm.c)
 *
 * Protocol: vmfence's own versioned messages (backends/cpg-wire.h) in the
 * group "vmfence".  Rolling upgrade from fence-virt 4.x: decided NOT to
 * speak the reference's cpg messages (raw host-order structs of
 * protocol.md 2.10 in group "fence-agents"): they carry no deadline, and a
 * reference daemon answers "success" for any VM it does not know, which in
 * a mixed cluster includes every VM that a vmfence host runs, so mixing the
 * two would turn a false fencing success into the normal case.  The
 * reference daemons of a cluster are therefore replaced all at once (stop
 * the fence_virtd clone, upgrade every host, start it; the VMs keep
 * running, only guest fencing pauses).  A reference daemon that is still
 * running is detected (its group's members, listed without joining it,
 * and its messages if it shares our group) and logged as such
 * (cpg-group.c).
 *
 * Local domain access reuses the libvirt backend through its plugin ABI
 * (the host API's "libvirt" backend ops) with a synthesised
 * backends/libvirt block holding this block's URIs, so local operations
 * have exactly the libvirt backend's semantics: off confirmed, unknown
 * domain -ENOENT (also for status), reconnect in the background.
 *
 * Design (differences from the reference, reference-defects.md):
 *  - Threads: one owns the CPG handle (cpg-group.c); one keeps this host's
 *    domain table and announces it (cpg-table.c): from libvirt lifecycle
 *    events when the libvirt backend offers watch (a change is broadcast
 *    at once), else by listing every 2 s; always after a membership change
 *    (resync).  Receivers REPLACE the sender's previous list (stale
 *    entries disappear, D9); nothing grows per broadcast (D8).
 *  - While not joined, every request and monitor answer -EHOSTDOWN (a host
 *    that cannot see the cluster cannot know whether a domain runs
 *    elsewhere).
 *  - A request goes to the owner only; every wait is bounded by
 *    min(request deadline, reply_timeout) (no hang: D7) (cpg-route.c).
 *  - "Off" needs every place asked live (cpg_confirm, issue 13), every
 *    member announced, local libvirt reachable if this host may have the
 *    domain, and, for a domain whose owner left the group, the host
 *    cluster's fencer recording that host fenced since it left (cpg-confirm.c).
 *    The reference's "highest node id answers success" for unknown VMs is
 *    a false fencing success (D5/D13): here an unknown domain is -ENOENT.
 *  - A name that designates different domains (different UUIDs) on
 *    different hosts is refused (-ENOTUNIQ) instead of "first reply wins".
 *    The same UUID on several hosts (shared definitions, migration in
 *    flight): off powers off every copy, status is ON if any copy runs,
 *    on/reboot act on one copy chosen identically on every host.
 *  - The list has every domain known cluster-wide, each UUID once, sorted
 *    by name; no crash on hosts without domains (D6).
 *  - Pending requests: a fixed table (CPG_MAX_PENDING); remote requests
 *    served by this host: at most CPG_MAX_SERVE threads at once, beyond
 *    that the requester gets -EBUSY at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "condwait.h"
#include "backends/cpg-int.h"
#include "backends/cpg-schema.h"

/* ---- the ops table (the plugin, VF_PLUGIN_DEFINE at the end) ----------- */

static const struct vf_backend_ops cpg_ops = {
    VF_OPS_IDENTITY(&cpg_schema, CPG_NAME),     /* cpg-schema.h */
    .init = cpg_init,               /* this file */
    .fini = cpg_fini,
    .reload = cpg_reload,
    .lookup = cpg_op_lookup,        /* cpg-ops.c */
    .off = cpg_op_off,
    .on = cpg_op_on,
    .reboot = cpg_op_reboot,
    .status = cpg_op_status,
    .list = cpg_op_list,
    .monitor = cpg_op_monitor,
};

/* ---- init / fini / reload ----------------------------------------------- */

/* the backends/cpg block into a zeroed @c (cpg_conf_done() it after) */
static int
cpg_conf_load(const struct vf_conf *conf, struct cpg_conf *c, char *err, size_t err_len)
{
    memset(c, 0, sizeof(*c));
    return cpg_conf_read(conf, c, err, err_len);
}

/* @err: the local libvirt backend's error @lerr, or strerror(@r) */
static void
cpg_lv_error(char *err, size_t err_len, const char *lerr, int r)
{
    snprintf(err, err_len, "cpg backend: local libvirt: %s", lerr[0] != '\0' ? lerr : strerror(-r));
}

int
cpg_init(const struct vf_host_api *host, const struct vf_conf *conf, void **ret_priv,
         char *err, size_t err_len)
{
    struct cpg_be *be = NULL;
    struct cpg_conf c;
    char lerr[768] = "";
    int r;

    r = cpg_conf_load(conf, &c, err, err_len);
    if (r < 0) {
        return r;
    }
    be = calloc(1, sizeof(*be));
    if (be == NULL) {
        snprintf(err, err_len, "cpg backend: out of memory");
        r = -ENOMEM;
        goto fail;
    }
    pthread_mutex_init(&be->lock, NULL);
    pthread_mutex_init(&be->send_lock, NULL);
    vf_cond_init_monotonic(&be->cond);
    snprintf(be->group, sizeof(be->group), "%s", c.group);
    be->uuid_mode = c.uuid_mode;
    be->reply_timeout_ms = c.reply_timeout_ms;
    be->fence_history = c.fence_history;
    if (getrandom(&be->next_id, sizeof(be->next_id), GRND_NONBLOCK) != (ssize_t)sizeof(be->next_id)) {
        be->next_id = ((uint64_t)getpid() << 32) ^ (uint64_t)vf_now_ms();
    }

    be->lv = host->find_backend(host->ctx, "libvirt");
    if (be->lv == NULL) {
        snprintf(err, err_len, "cpg backend: the libvirt backend (needed for local domains) is not available");
        r = -ENOENT;
        goto fail;
    }
    r = be->lv->init(host, c.lv_conf, &be->lv_priv, lerr, sizeof(lerr));
    if (r < 0) {
        cpg_lv_error(err, err_len, lerr, r);
        be->lv_priv = NULL;
        goto fail;
    }
    r = cpg_fencer_open(be, conf, err, err_len);
    if (r < 0) {
        goto fail;
    }
    (void)cpg_watch_start(be);      /* without events: periodic listing */
    r = -pthread_create(&be->cpg_thread, NULL, cpg_thread_main, be);
    if (r < 0) {
        snprintf(err, err_len, "cpg backend: cannot start the CPG thread: %s", strerror(-r));
        goto fail;
    }
    be->cpg_running = true;
    r = -pthread_create(&be->refresh_thread, NULL, cpg_refresh_main, be);
    if (r < 0) {
        snprintf(err, err_len, "cpg backend: cannot start the refresh thread: %s", strerror(-r));
        goto fail;
    }
    be->refresh_running = true;
    vf_log(LOG_INFO, "cpg backend: group '%s', name_mode %s, reply_timeout %d s, fence_history %s",
           be->group, be->uuid_mode ? "uuid" : "name", be->reply_timeout_ms / 1000,
           be->fence_history == CPG_FH_PACEMAKER ? "pacemaker" : "none");
    cpg_conf_done(&c);
    *ret_priv = be;
    return 0;
fail:
    cpg_conf_done(&c);
    cpg_fini(be);
    return r;
}

void
cpg_fini(void *priv)
{
    struct cpg_be *be = priv;
    struct timespec ts;
    int serving;

    if (be == NULL) {
        return;
    }
    if (be->lv != NULL && be->lv_priv != NULL) {
        cpg_watch_stop(be);         /* no event callback after this */
    }
    vf_cond_set_flag(&be->cond, &be->lock, &be->stopping);
    if (be->refresh_running) {
        pthread_join(be->refresh_thread, NULL);
    }
    if (be->cpg_running) {
        pthread_join(be->cpg_thread, NULL);     /* leaves the group, fails pending requests */
    }
    /* serving threads end by their own deadlines (at most CPG_MAX_SERVE_MS,
     * whatever timeout the requester asked for) */
    pthread_mutex_lock(&be->lock);
    ts = vf_deadline_timespec(vf_now_ms() + CPG_MAX_SERVE_MS + 1000);
    while (be->serving > 0) {
        if (pthread_cond_timedwait(&be->cond, &be->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    if (be->serving > 0) {
        vf_log(LOG_ERR, "cpg backend: %d request(s) of other members still running at shutdown",
               be->serving);
    }
    serving = be->serving;
    cpg_forget_locked(be);
    pthread_mutex_unlock(&be->lock);
    if (serving > 0) {
        return;     /* leak rather than free what running threads still use */
    }
    if (be->lv != NULL && be->lv_priv != NULL) {
        be->lv->fini(be->lv_priv);
    }
    cpg_fencer_close(be);
    free(be->local);
    free(be->lost);
    pthread_cond_destroy(&be->cond);
    pthread_mutex_destroy(&be->send_lock);
    pthread_mutex_destroy(&be->lock);
    free(be);
}

/*
 * SIGHUP: name_mode, reply_timeout and the libvirt URIs change in place;
 * a different CPG group or fence_history needs a restart (refused, old
 * configuration kept).
 */
int
cpg_reload(void *priv, const struct vf_conf *conf, char *err, size_t err_len)
{
    struct cpg_be *be = priv;
    struct cpg_conf c;
    char lerr[768] = "";
    int r = cpg_conf_load(conf, &c, err, err_len);

    if (r < 0) {
        return r;
    }
    if (strcmp(c.group, be->group) != 0) {
        snprintf(err, err_len, "cpg backend: changing 'group' from '%s' to '%s' needs a restart",
                 be->group, c.group);
        r = -EINVAL;
        goto out;
    }
    if (c.fence_history != be->fence_history) {
        snprintf(err, err_len, "cpg backend: changing 'fence_history' needs a restart");
        r = -EINVAL;
        goto out;
    }
    if (be->lv->reload != NULL) {
        r = be->lv->reload(be->lv_priv, c.lv_conf, lerr, sizeof(lerr));
        if (r < 0) {
            cpg_lv_error(err, err_len, lerr, r);
            goto out;
        }
    }
    pthread_mutex_lock(&be->lock);
    be->uuid_mode = c.uuid_mode;
    be->reply_timeout_ms = c.reply_timeout_ms;
    be->need_broadcast = true;
    be->need_list = true;
    pthread_cond_broadcast(&be->cond);
    pthread_mutex_unlock(&be->lock);
out:
    cpg_conf_done(&c);
    return r;
}

VF_PLUGIN_DEFINE(cpg, NULL, &cpg_ops);
