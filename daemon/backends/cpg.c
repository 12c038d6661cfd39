/*
 * vmfence - daemon/backends/cpg.c: the "cpg" backend of fence_virtd.
 *
 * Routes fencing requests cluster-wide over a corosync CPG group to the
 * fence_virtd that runs the domain.  Every host runs fence_virtd with this
 * backend; each one manages its own domains through libvirt and tells the
 * group which domains it has.
 *
 * Configuration (block backends/cpg):
 *   uri, uri1, ...     libvirt URIs of THIS host (default qemu:///system)
 *   name_mode          "name" (default: a target is a name, or a UUID) or
 *                      "uuid" (targets must be UUIDs); fence_virtd/name_mode
 *                      is read as the legacy location
 *   group              CPG group name (default "vmfence")
 *   reply_timeout      seconds to wait for the owner's reply (default 10)
 *   reboot_powers_on   passed to the local libvirt code (see libvirt.c)
 *
 * Protocol: vmfence's own versioned messages (backends/cpg-wire.h) in the
 * group "vmfence".  It does NOT interoperate with the reference cpg.so
 * (raw structs of protocol.md 2.10 in group "fence-agents"); mixing vmfence
 * and fence-virt daemons in one cluster is not supported in this version.
 *
 * Local domain access reuses the libvirt backend through its plugin ABI
 * (the registry's "libvirt" backend ops) with a synthesised
 * backends/libvirt block holding this block's URIs, so local operations
 * have exactly the libvirt backend's semantics: off confirmed, unknown
 * domain -ENOENT (also for status), reconnect in the background.
 *
 * Design (differences from the reference, reference-defects.md):
 *  - One thread owns the CPG handle: it connects, joins, stores the handle
 *    and only then dispatches (no handle race as in the reference's
 *    cpg_start).  It polls the CPG fd with a 500 ms tick, so it notices
 *    shutdown, and reconnects in the background with a backoff when
 *    corosync goes away.  While not joined, every request and monitor
 *    answer -EHOSTDOWN (a host that cannot see the cluster cannot know
 *    whether a domain runs elsewhere).
 *  - A refresh thread lists the local domains every 2 s (and at once after
 *    every membership change) and broadcasts the whole list when it changed,
 *    after a membership change, and every 30 s.  Receivers REPLACE the
 *    sender's previous list (stale entries disappear, D9) and drop it when
 *    the sender leaves.  Nothing grows per broadcast (D8).
 *  - A request for a domain owned by another member goes to that member
 *    only (REQUEST addressed to nodeid+pid, target = the domain's UUID);
 *    the requester waits on a condition variable with a predicate and a
 *    deadline of min(request deadline, reply_timeout) (no lost wakeup, no
 *    hang: D7) -> -ETIMEDOUT.  If the owner leaves meanwhile: -EHOSTDOWN.
 *  - The lists only say WHERE to ask; no answer is taken from them.  Every
 *    decision uses the live state reported by the owners (cpg_live), and
 *    a list can be up to CPG_REFRESH_MS (+ delivery) old: a domain
 *    migrated or started elsewhere within that window is missing from
 *    it.  So before anything that means "off here and everywhere" (off
 *    success, status OFF, reboot, on's "may I start it"), every other
 *    member that announced its domains is asked live, all at once and
 *    within the request's deadline, whether the domain (by UUID) runs
 *    there (cpg_confirm); a copy found running is acted on (off), counted
 *    as on (status, on), or powered off (reboot).  A member that does not
 *    answer in time makes the request fail (-ETIMEDOUT / -EHOSTDOWN):
 *    never "off" on stale data (security issue 13).
 *  - Success also needs every place that may hold a copy to be asked: a
 *    member that has not announced its domains, or local libvirt down
 *    while this host had the domain, makes off, reboot and status OFF
 *    -EHOSTDOWN, even after killing every copy that could be reached (those
 *    kills are kept; reboot then starts nothing).  on succeeds if a copy
 *    is live on, and otherwise refuses to start one (-EHOSTDOWN).
 *    Not covered: a member that joins the group during the request.
 *  - A domain that nobody owns is -ENOENT for every operation.  Never a
 *    success for off/reboot of an unknown domain (the reference's "highest
 *    node id answers success" is a false fencing success, D5/D13).
 *    Confirming that a domain died with its departed host would need
 *    Pacemaker's fence history (stonith_api_time()); that is future work.
 *  - A name that designates different domains (different UUIDs) on
 *    different hosts is refused (-ENOTUNIQ) instead of "first reply wins".
 *    The same UUID on several hosts (shared definitions): off powers off
 *    every copy, status is ON if any copy runs, on/reboot act on one copy
 *    (a running one if any).
 *  - The list has every domain known cluster-wide, each UUID once, sorted
 *    by name; no crash on hosts without domains (D6).
 *  - Pending requests: a fixed table (CPG_MAX_PENDING); remote requests
 *    served by this host: at most CPG_MAX_SERVE threads at once, beyond
 *    that the requester gets -EBUSY at once.
 *
 * Locking: be->lock protects membership, remote lists, the local snapshot,
 * the pending table and counters.  be->send_lock protects the CPG handle
 * for sending and finalising.  No libvirt or CPG call is made with be->lock
 * held; be->send_lock is never taken while be->lock is held.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <corosync/cpg.h>

#include "config.h"
#include "io.h"
#include "log.h"
#include "plugin.h"
#include "backends/cpg-wire.h"

#define CPG_NAME               "cpg"
#define CPG_CONF_BLOCK         "backends/cpg"
#define CPG_DEFAULT_GROUP      "vmfence"
#define CPG_DEFAULT_URI        "qemu:///system"
#define CPG_MAX_PENDING        64
#define CPG_MAX_SERVE          16
#define CPG_MAX_CANDIDATES     8
/* most other members asked at once to confirm "not running here" (cpg_confirm) */
#define CPG_MAX_CONFIRM        (CPG_MAX_PENDING / 2)
#define CPG_REFRESH_MS         2000
#define CPG_REBROADCAST_MS     30000
#define CPG_TICK_MS            500
#define CPG_BACKOFF_MIN_MS     500
#define CPG_BACKOFF_MAX_MS     5000
#define CPG_TRY_AGAIN_MAX      50
#define CPG_TRY_AGAIN_SLEEP_MS 20
#define CPG_LOCAL_LOOKUP_MS    5000
/* Longest a request of another member may run here (the longest local
 * operation, a reboot, gets 60 s from the pipeline); the requester's
 * timeout is capped to it, and fini waits at most this long for them. */
#define CPG_MAX_SERVE_MS       60000

/* Another member of the group and the domains it last announced. */
struct cpg_owner {
    uint32_t nodeid;
    uint32_t pid;
    bool have_state;
    uint32_t generation;
    struct vf_cpgw_dom *doms;
    size_t n_doms;
};

/* One request of ours waiting for a REPLY. */
struct cpg_pending {
    bool used;
    bool done;
    uint64_t id;
    uint32_t nodeid;            /* the member that must answer */
    uint32_t pid;
    int result;
    bool on;
};

struct cpg_conf {
    struct vf_conf *lv_conf;    /* synthesised backends/libvirt block */
    char group[CPG_MAX_NAME_LENGTH];
    bool uuid_mode;
    int reply_timeout_ms;
};

struct cpg_be {
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* replies, serve count, refresh wake-ups */
    const struct vf_backend_ops *lv;
    void *lv_priv;
    char group[CPG_MAX_NAME_LENGTH];
    bool uuid_mode;
    int reply_timeout_ms;

    /* be->lock */
    bool stopping;
    bool joined;
    uint32_t my_nodeid;
    uint32_t my_pid;            /* as corosync sees it (see cpg_confchg) */
    bool pid_known;
    struct cpg_owner *owners;
    size_t n_owners;
    struct cpg_pending pending[CPG_MAX_PENDING];
    uint64_t next_id;
    struct vf_cpgw_dom *local;
    size_t n_local;
    bool local_valid;
    bool local_ever;            /* local has been listed at least once */
    bool need_broadcast;
    uint32_t generation;
    int64_t last_broadcast_ms;
    int serving;

    /* be->send_lock */
    pthread_mutex_t send_lock;
    cpg_handle_t handle;
    bool handle_valid;

    pthread_t cpg_thread;
    pthread_t refresh_thread;
    bool cpg_running;
    bool refresh_running;
};

/* A place where a domain lives: this host or another member. */
struct cpg_cand {
    bool local;
    uint32_t nodeid;
    uint32_t pid;
    struct vf_domain_info info;
};

struct cpg_route {
    struct cpg_cand c[CPG_MAX_CANDIDATES];
    size_t n;
    /* some place could not be asked (a member that has not announced its
     * domains, or local libvirt down while this host had the domain or has
     * never listed its domains): a copy there may run, so "off" cannot be
     * claimed from the known copies alone */
    bool incomplete;
};

/* ---- small helpers ------------------------------------------------------ */

static void
cpg_sleep_ms(int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static struct timespec
cpg_abstime(int64_t deadline_ms)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(deadline_ms / 1000);
    ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
    return ts;
}

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

static const char *
cpg_op_name(int op)
{
    const char *s = vf_cmd_name(op);

    return s != NULL ? s : "?";
}

static bool
cpg_dom_active(int state)
{
    return state != VF_STATE_SHUTOFF;
}

/* ---- configuration ------------------------------------------------------ */

static struct vf_conf_node *
cpg_node_new(const char *name, const char *value, bool is_block, unsigned int line)
{
    struct vf_conf_node *n = calloc(1, sizeof(*n));

    if (n == NULL) {
        return NULL;
    }
    n->name = strdup(name);
    n->value = value != NULL ? strdup(value) : NULL;
    n->is_block = is_block;
    n->line = line;
    if (n->name == NULL || (value != NULL && n->value == NULL)) {
        free(n->name);
        free(n->value);
        free(n);
        return NULL;
    }
    return n;
}

static void
cpg_node_free(struct vf_conf_node *n)
{
    while (n != NULL) {
        struct vf_conf_node *next = n->next;

        cpg_node_free(n->children);
        free(n->name);
        free(n->value);
        free(n);
        n = next;
    }
}

static void
cpg_lvconf_free(struct vf_conf *c)
{
    if (c == NULL) {
        return;
    }
    cpg_node_free(c->root);
    free(c->path);
    free(c);
}

static bool
cpg_is_uri_key(const char *name)
{
    const char *p;

    if (strncasecmp(name, "uri", 3) != 0) {
        return false;
    }
    for (p = name + 3; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    return true;
}

/**
 * Build an in-memory configuration "backends { libvirt { uri...; } }" from
 * the uri* and reboot_powers_on keys of backends/cpg, for the local
 * libvirt code.  No text is re-parsed, so any value survives unchanged.
 */
static int
cpg_make_lvconf(const struct vf_conf *conf, const struct vf_conf_node *blk,
                struct vf_conf **ret)
{
    struct vf_conf *c = calloc(1, sizeof(*c));
    struct vf_conf_node *backends, *lvb, **tail;
    const struct vf_conf_node *n;
    bool have_uri = false;

    if (c == NULL) {
        return -ENOMEM;
    }
    c->path = strdup(conf != NULL && conf->path != NULL ? conf->path : "(cpg)");
    c->root = cpg_node_new("", NULL, true, 0);
    if (c->path == NULL || c->root == NULL) {
        goto nomem;
    }
    backends = cpg_node_new("backends", NULL, true, blk != NULL ? blk->line : 0);
    if (backends == NULL) {
        goto nomem;
    }
    c->root->children = backends;
    lvb = cpg_node_new("libvirt", NULL, true, blk != NULL ? blk->line : 0);
    if (lvb == NULL) {
        goto nomem;
    }
    backends->children = lvb;
    tail = &lvb->children;
    for (n = blk != NULL ? blk->children : NULL; n != NULL; n = n->next) {
        struct vf_conf_node *cp;

        if (n->is_block || (!cpg_is_uri_key(n->name) &&
                            strcasecmp(n->name, "reboot_powers_on") != 0)) {
            continue;
        }
        if (strcasecmp(n->name, "uri") == 0) {
            have_uri = true;
        }
        cp = cpg_node_new(n->name, n->value != NULL ? n->value : "", false, n->line);
        if (cp == NULL) {
            goto nomem;
        }
        cp->col = n->col;
        *tail = cp;
        tail = &cp->next;
    }
    if (!have_uri) {
        struct vf_conf_node *cp = cpg_node_new("uri", CPG_DEFAULT_URI, false, 0);

        if (cp == NULL) {
            goto nomem;
        }
        vf_log(LOG_INFO, "cpg backend: no '" CPG_CONF_BLOCK "/uri' configured, using '%s'",
               CPG_DEFAULT_URI);
        *tail = cp;
    }
    *ret = c;
    return 0;
nomem:
    cpg_lvconf_free(c);
    return -ENOMEM;
}

static void
cpg_conf_done(struct cpg_conf *c)
{
    cpg_lvconf_free(c->lv_conf);
    c->lv_conf = NULL;
}

/**
 * Read backends/cpg (see the top of the file).
 * \return 0, -EINVAL with "FILE:LINE: ..." in @err, -ENOMEM
 */
static int
cpg_conf_read(const struct vf_conf *conf, struct cpg_conf *ret, char *err, size_t err_len)
{
    struct cpg_conf c;
    const struct vf_conf_node *blk = NULL, *n = NULL;
    const char *v;
    char where[256];
    unsigned long secs = 10;
    int r;

    memset(&c, 0, sizeof(c));
    if (conf != NULL) {
        blk = vf_conf_block(conf, NULL, CPG_CONF_BLOCK);
        n = vf_conf_key(conf, NULL, CPG_CONF_BLOCK "/name_mode");
        if (n == NULL) {
            n = vf_conf_key(conf, NULL, "fence_virtd/name_mode");
        }
    }
    v = n != NULL && n->value != NULL ? n->value : "name";
    if (strcasecmp(v, "uuid") == 0) {
        c.uuid_mode = true;
    } else if (strcasecmp(v, "name") != 0) {
        snprintf(err, err_len, "%s: key 'name_mode': '%s' is not 'name' or 'uuid'",
                 vf_conf_where(conf, n, where, sizeof(where)), v);
        return -EINVAL;
    }
    n = conf != NULL ? vf_conf_key(conf, NULL, CPG_CONF_BLOCK "/group") : NULL;
    v = n != NULL && n->value != NULL ? n->value : CPG_DEFAULT_GROUP;
    if (v[0] == '\0' || strlen(v) >= sizeof(c.group)) {
        snprintf(err, err_len, "%s: key 'group': the CPG group name must have 1 to %zu characters",
                 vf_conf_where(conf, n, where, sizeof(where)), sizeof(c.group) - 1);
        return -EINVAL;
    }
    snprintf(c.group, sizeof(c.group), "%s", v);
    if (conf != NULL) {
        r = vf_conf_get_uint(conf, CPG_CONF_BLOCK "/reply_timeout", 1, 600, 10, &secs,
                             err, err_len);
        if (r < 0) {
            return r;
        }
    }
    c.reply_timeout_ms = (int)secs * 1000;
    r = cpg_make_lvconf(conf, blk, &c.lv_conf);
    if (r < 0) {
        snprintf(err, err_len, "cpg backend: out of memory");
        return r;
    }
    *ret = c;
    return 0;
}

/* ---- sending ------------------------------------------------------------ */

/**
 * Multicast one message to the group (agreed order).  CS_ERR_TRY_AGAIN is
 * retried CPG_TRY_AGAIN_MAX times, 20 ms apart.
 * \return 0, -EHOSTDOWN (no handle / corosync error), -EMSGSIZE
 */
static int
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
        cpg_sleep_ms(CPG_TRY_AGAIN_SLEEP_MS);
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
static void
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

/* ---- CPG callbacks (run in the CPG thread) ------------------------------- */

static struct cpg_owner *
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

static void
cpg_deliver(cpg_handle_t handle, const struct cpg_name *group, uint32_t nodeid,
            uint32_t pid, void *msg, size_t msg_len)
{
    struct cpg_be *be = NULL;
    struct vf_cpgw_msg m;
    struct cpg_owner *o;
    bool from_me;
    size_t i;
    int r;

    (void)group;
    if (cpg_context_get(handle, (void **)&be) != CS_OK || be == NULL) {
        return;
    }
    memset(&m, 0, sizeof(m));
    r = vf_cpgw_decode(msg, msg_len, &m);
    if (r < 0) {
        vf_log(LOG_WARNING, "cpg backend: dropping a malformed %zu-byte message from node %u pid %u: %s",
               msg_len, (unsigned int)nodeid, (unsigned int)pid, strerror(-r));
        return;
    }
    pthread_mutex_lock(&be->lock);
    from_me = nodeid == be->my_nodeid && pid == be->my_pid;
    switch (m.type) {
    case VF_CPGW_STATE:
        if (from_me) {
            break;
        }
        o = cpg_owner_find_locked(be, nodeid, pid);
        if (o == NULL) {
            vf_dbg(1, "cpg backend: domain list from non-member node %u pid %u ignored",
                   (unsigned int)nodeid, (unsigned int)pid);
            break;
        }
        /* wholesale replacement: what the owner no longer has disappears */
        free(o->doms);
        o->doms = m.doms;
        o->n_doms = m.n_doms;
        o->generation = m.generation;
        o->have_state = true;
        m.doms = NULL;
        m.n_doms = 0;
        vf_dbg(1, "cpg backend: node %u pid %u has %zu domain(s) (generation %u)",
               (unsigned int)nodeid, (unsigned int)pid, o->n_doms, (unsigned int)o->generation);
        break;
    case VF_CPGW_REQUEST:
        if (m.req.nodeid == be->my_nodeid && m.req.pid == be->my_pid) {
            pthread_mutex_unlock(&be->lock);
            cpg_handle_request(be, &m.req, nodeid, pid);
            pthread_mutex_lock(&be->lock);
        }
        break;
    case VF_CPGW_REPLY:
        if (m.rep.nodeid != be->my_nodeid || m.rep.pid != be->my_pid) {
            break;
        }
        for (i = 0; i < CPG_MAX_PENDING; i++) {
            struct cpg_pending *p = &be->pending[i];

            if (p->used && !p->done && p->id == m.rep.id && p->nodeid == nodeid && p->pid == pid) {
                p->done = true;
                p->result = m.rep.result;
                p->on = m.rep.on;
                pthread_cond_broadcast(&be->cond);
                break;
            }
        }
        if (i == CPG_MAX_PENDING) {
            vf_dbg(1, "cpg backend: late or unknown reply %llu from node %u ignored",
                   (unsigned long long)m.rep.id, (unsigned int)nodeid);
        }
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&be->lock);
    vf_cpgw_msg_done(&m);
}

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

static void
cpg_confchg(cpg_handle_t handle, const struct cpg_name *group,
            const struct cpg_address *members, size_t n_members,
            const struct cpg_address *left, size_t n_left,
            const struct cpg_address *joined, size_t n_joined)
{
    struct cpg_be *be = NULL;
    struct cpg_owner *nw, *o;
    size_t i, j, n_new = 0;
    bool me_member = false;

    (void)group;
    if (cpg_context_get(handle, (void **)&be) != CS_OK || be == NULL) {
        return;
    }
    nw = calloc(n_members > 0 ? n_members : 1, sizeof(*nw));
    pthread_mutex_lock(&be->lock);
    cpg_learn_pid_locked(be, members, n_members, joined, n_joined);
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
    if (nw == NULL) {
        vf_log(LOG_ERR, "cpg backend: out of memory on a membership change; forgetting all remote domains");
    }
    for (i = 0; i < be->n_owners; i++) {
        free(be->owners[i].doms);
    }
    free(be->owners);
    be->owners = nw;
    be->n_owners = nw != NULL ? n_new : 0;
    /* requests waiting on a member that left will never be answered */
    for (i = 0; i < n_left; i++) {
        vf_log(LOG_NOTICE, "cpg backend: node %u pid %u left group '%s'; its domains are forgotten",
               (unsigned int)left[i].nodeid, (unsigned int)left[i].pid, be->group);
        for (j = 0; j < CPG_MAX_PENDING; j++) {
            struct cpg_pending *p = &be->pending[j];

            if (p->used && !p->done && p->nodeid == left[i].nodeid && p->pid == left[i].pid) {
                p->done = true;
                p->result = -EHOSTDOWN;
            }
        }
    }
    for (i = 0; i < n_joined; i++) {
        vf_log(LOG_INFO, "cpg backend: node %u pid %u joined group '%s'",
               (unsigned int)joined[i].nodeid, (unsigned int)joined[i].pid, be->group);
    }
    if (me_member && !be->joined) {
        vf_log(LOG_NOTICE, "cpg backend: joined group '%s' as node %u (%zu member(s))",
               be->group, (unsigned int)be->my_nodeid, n_members);
    }
    be->joined = me_member;
    be->need_broadcast = true;
    pthread_cond_broadcast(&be->cond);
    pthread_mutex_unlock(&be->lock);
}

/* ---- the CPG thread ----------------------------------------------------- */

/* Forget everything learned from the group (connection lost or closing). */
static void
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
    struct cpg_name name;
    cpg_handle_t h = 0;
    unsigned int nodeid = 0;
    cs_error_t e;
    int fd = -1, tries;

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
    memset(&name, 0, sizeof(name));
    name.length = (uint32_t)strlen(be->group);
    memcpy(name.value, be->group, name.length);
    for (tries = 0; tries < CPG_TRY_AGAIN_MAX; tries++) {
        e = cpg_join(h, &name);
        if (e != CS_ERR_TRY_AGAIN) {
            break;
        }
        cpg_sleep_ms(CPG_TRY_AGAIN_SLEEP_MS * 5);
    }
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

static void *
cpg_thread_main(void *arg)
{
    struct cpg_be *be = arg;
    struct pollfd pfd;
    struct timespec ts;
    char why[256];
    int fd = -1, backoff = CPG_BACKOFF_MIN_MS, r;
    unsigned int failures = 0;
    cs_error_t e;
    cpg_handle_t h = 0;
    bool connected = false;

    for (;;) {
        pthread_mutex_lock(&be->lock);
        if (be->stopping) {
            pthread_mutex_unlock(&be->lock);
            break;
        }
        pthread_mutex_unlock(&be->lock);
        if (!connected) {
            why[0] = '\0';
            r = cpg_connect(be, &h, &fd, why, sizeof(why));
            if (r == 0) {
                connected = true;
                backoff = CPG_BACKOFF_MIN_MS;
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
            pthread_mutex_lock(&be->lock);
            ts = cpg_abstime(vf_now_ms() + backoff);
            while (!be->stopping) {
                if (pthread_cond_timedwait(&be->cond, &be->lock, &ts) == ETIMEDOUT) {
                    break;
                }
            }
            pthread_mutex_unlock(&be->lock);
            backoff = backoff * 2 > CPG_BACKOFF_MAX_MS ? CPG_BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        r = poll(&pfd, 1, CPG_TICK_MS);
        if (r < 0 && errno != EINTR) {
            vf_log(LOG_ERR, "cpg backend: poll: %s", strerror(errno));
            cpg_sleep_ms(CPG_TICK_MS);
            continue;
        }
        if (r <= 0) {
            continue;
        }
        e = cpg_dispatch(h, CS_DISPATCH_ALL);
        if (e == CS_OK || e == CS_ERR_TRY_AGAIN) {
            continue;
        }
        cpg_disconnect(be, false);
        vf_log(LOG_ERR, "cpg backend: lost the connection to corosync (%s); requests fail until it is back",
               cpg_err_text(e));
        connected = false;
        fd = -1;
    }
    if (connected) {
        cpg_disconnect(be, true);
    }
    return NULL;
}

/* ---- the refresh thread: local domain list and broadcasts ---------------- */

struct cpg_collect {
    struct vf_cpgw_dom *doms;
    size_t n;
    size_t cap;
    size_t skipped;
};

static int
cpg_collect_cb(void *arg, const struct vf_domain_info *dom)
{
    struct cpg_collect *c = arg;
    struct vf_cpgw_dom *d;

    if (dom->name[0] == '\0' || strlen(dom->name) > VF_CPGW_NAME_MAX ||
        !vf_cpgw_uuid_valid(dom->uuid) || c->n >= VF_CPGW_MAX_DOMAINS) {
        c->skipped++;
        return 0;
    }
    if (c->n == c->cap) {
        size_t ncap = c->cap == 0 ? 16 : c->cap * 2;
        struct vf_cpgw_dom *nd = realloc(c->doms, ncap * sizeof(*nd));

        if (nd == NULL) {
            return -ENOMEM;
        }
        c->doms = nd;
        c->cap = ncap;
    }
    d = &c->doms[c->n++];
    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%s", dom->name);
    snprintf(d->uuid, sizeof(d->uuid), "%s", dom->uuid);
    d->state = (uint8_t)(dom->state >= 0 && dom->state <= VF_STATE_PMSUSPENDED ?
                         dom->state : VF_STATE_NOSTATE);
    d->persistent = dom->persistent;
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

/**
 * One refresh round: list local domains; broadcast them if they changed,
 * after a membership change, or every CPG_REBROADCAST_MS.  While libvirt
 * is down nothing is broadcast: the others keep the last list, and a
 * request routed here is answered -EHOSTDOWN by the local libvirt code.
 */
static void
cpg_refresh_once(struct cpg_be *be)
{
    struct cpg_collect c = { 0 };
    uint8_t *buf = NULL;
    size_t size, len = 0, n_sent = 0;
    bool changed, send = false;
    uint32_t gen = 0;
    int r;

    r = be->lv->list(be->lv_priv, cpg_collect_cb, &c, vf_now_ms() + CPG_LOCAL_LOOKUP_MS);
    pthread_mutex_lock(&be->lock);
    if (r < 0) {
        if (be->local_valid) {
            vf_log(LOG_WARNING, "cpg backend: cannot list local domains: %s", strerror(-r));
        }
        be->local_valid = false;
        pthread_mutex_unlock(&be->lock);
        free(c.doms);
        return;
    }
    if (c.skipped > 0) {
        vf_dbg(1, "cpg backend: %zu local domain(s) not announced (no UUID, name too long, or more than %d)",
               c.skipped, VF_CPGW_MAX_DOMAINS);
    }
    changed = !be->local_valid || !cpg_doms_equal(be->local, be->n_local, c.doms, c.n);
    free(be->local);
    be->local = c.doms;
    be->n_local = c.n;
    be->local_valid = true;
    be->local_ever = true;
    c.doms = NULL;
    if (be->joined && (changed || be->need_broadcast ||
                       vf_now_ms() - be->last_broadcast_ms >= CPG_REBROADCAST_MS)) {
        size = vf_cpgw_state_size(be->local, be->n_local);
        buf = size > 0 ? malloc(size) : NULL;
        gen = ++be->generation;
        if (buf != NULL &&
            vf_cpgw_encode_state(gen, be->local, be->n_local, buf, size, &len) == 0) {
            send = true;
            n_sent = be->n_local;
            be->need_broadcast = false;
            be->last_broadcast_ms = vf_now_ms();
        }
    }
    pthread_mutex_unlock(&be->lock);
    if (send) {
        vf_dbg(changed ? 1 : 2, "cpg backend: announcing %zu local domain(s) (generation %u)",
               n_sent, (unsigned int)gen);
        if (cpg_send(be, buf, len) < 0) {
            pthread_mutex_lock(&be->lock);
            be->need_broadcast = true;      /* retry next round */
            pthread_mutex_unlock(&be->lock);
        }
    }
    free(buf);
}

static void *
cpg_refresh_main(void *arg)
{
    struct cpg_be *be = arg;
    struct timespec ts;

    for (;;) {
        cpg_refresh_once(be);
        pthread_mutex_lock(&be->lock);
        ts = cpg_abstime(vf_now_ms() + CPG_REFRESH_MS);
        while (!be->stopping && !(be->need_broadcast && be->joined)) {
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

/* ---- routing ------------------------------------------------------------ */

static void
cpg_info_from_wire(struct vf_domain_info *info, const struct vf_cpgw_dom *d)
{
    memset(info, 0, sizeof(*info));
    snprintf(info->name, sizeof(info->name), "%s", d->name);
    snprintf(info->uuid, sizeof(info->uuid), "%s", d->uuid);
    info->state = d->state;
    info->persistent = d->persistent;
}

static bool
cpg_matches(const struct vf_cpgw_dom *d, const char *target, bool by_uuid, bool target_is_uuid)
{
    if (!by_uuid && strcmp(d->name, target) == 0) {
        return true;
    }
    return target_is_uuid && strcasecmp(d->uuid, target) == 0;
}

/**
 * Find every place where @target lives: this host (live libvirt lookup) and
 * the members whose last list has it.
 *
 * \return 0 (at least one candidate), -ENOENT (nobody has it), -EHOSTDOWN
 *         (not joined, or some place could not be asked), -ENOTUNIQ (the name
 *         designates different domains), other errors of the local lookup
 */
static int
cpg_route(struct cpg_be *be, const char *target, unsigned int *flags, int64_t deadline_ms,
          struct cpg_route *rt)
{
    struct vf_domain_info linfo;
    bool by_uuid, is_uuid, unknown = false, local_down, local_unknown = false, uuid_mode;
    int64_t ldl;
    int lr;
    size_t i, j;

    memset(rt, 0, sizeof(*rt));
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
    if (!be->joined) {
        pthread_mutex_unlock(&be->lock);
        vf_log(LOG_ERR, "cpg backend: not joined to group '%s' (corosync unreachable?); cannot serve '%s'",
               be->group, target);
        return -EHOSTDOWN;
    }
    uuid_mode = be->uuid_mode;
    pthread_mutex_unlock(&be->lock);
    is_uuid = vf_cpgw_uuid_valid(target);
    if (uuid_mode) {
        if (!is_uuid) {
            vf_log(LOG_ERR, "cpg backend: name_mode = uuid, but '%s' is not a UUID", target);
            return -ENOENT;
        }
        *flags |= VF_BE_BY_UUID;
    }
    by_uuid = (*flags & VF_BE_BY_UUID) != 0;

    ldl = vf_now_ms() + CPG_LOCAL_LOOKUP_MS;
    memset(&linfo, 0, sizeof(linfo));
    lr = be->lv->lookup(be->lv_priv, target, *flags, &linfo, ldl < deadline_ms ? ldl : deadline_ms);
    local_down = lr < 0 && lr != -ENOENT;
    if (lr == 0) {
        rt->c[0].local = true;
        rt->c[0].info = linfo;
        rt->n = 1;
    }
    pthread_mutex_lock(&be->lock);
    if (local_down) {
        /* libvirt cannot be asked here: the domains this host listed last
         * (a domain cannot start here while libvirt is down) tell whether a
         * copy may be here */
        local_unknown = !be->local_ever;
        for (j = 0; !local_unknown && j < be->n_local; j++) {
            local_unknown = cpg_matches(&be->local[j], target, by_uuid, is_uuid);
        }
    }
    for (i = 0; i < be->n_owners; i++) {
        const struct cpg_owner *o = &be->owners[i];

        if (!o->have_state) {
            unknown = true;
            continue;
        }
        for (j = 0; j < o->n_doms; j++) {
            if (!cpg_matches(&o->doms[j], target, by_uuid, is_uuid)) {
                continue;
            }
            if (rt->n == CPG_MAX_CANDIDATES) {
                vf_log(LOG_WARNING, "cpg backend: '%s' is known on more than %d hosts; ignoring the rest",
                       target, CPG_MAX_CANDIDATES);
                break;
            }
            rt->c[rt->n].nodeid = o->nodeid;
            rt->c[rt->n].pid = o->pid;
            cpg_info_from_wire(&rt->c[rt->n].info, &o->doms[j]);
            rt->n++;
            break;
        }
    }
    pthread_mutex_unlock(&be->lock);
    if (rt->n == 0) {
        if (local_down) {
            return lr;
        }
        if (unknown) {
            vf_log(LOG_ERR, "cpg backend: '%s' is not known, but some members have not announced their domains yet",
                   target);
            return -EHOSTDOWN;
        }
        vf_log(LOG_WARNING, "cpg backend: no host in group '%s' has domain '%s'", be->group, target);
        return -ENOENT;
    }
    for (i = 1; i < rt->n; i++) {
        if (strcasecmp(rt->c[i].info.uuid, rt->c[0].info.uuid) != 0) {
            vf_log(LOG_ERR, "cpg backend: '%s' designates different domains (%s, %s); use the UUID",
                   target, rt->c[0].info.uuid, rt->c[i].info.uuid);
            return -ENOTUNIQ;
        }
    }
    if (rt->n > 1) {
        vf_log(LOG_WARNING, "cpg backend: domain '%s' (%s) is defined on %zu hosts",
               rt->c[0].info.name, rt->c[0].info.uuid, rt->n);
    }
    rt->incomplete = unknown || local_unknown;
    if (rt->incomplete) {
        vf_log(LOG_WARNING, "cpg backend: '%s': %s; it is only off if a known copy was on",
               target, local_unknown ? "local libvirt is down and may have a copy" :
               "some members have not announced their domains yet");
    }
    return 0;
}

/* The candidate to act on: a running copy (local first), else local, else the first. */
static const struct cpg_cand *
cpg_primary(const struct cpg_route *rt)
{
    size_t i;

    for (i = 0; i < rt->n; i++) {
        if (cpg_dom_active(rt->c[i].info.state)) {
            return &rt->c[i];
        }
    }
    return &rt->c[0];
}

/* One REQUEST to one member, and its answer. */
struct cpg_call {
    uint32_t nodeid;
    uint32_t pid;
    int op;
    char target[VF_CPGW_NAME_MAX + 1];
    bool by_uuid;
    const char *label;          /* domain name for logs */
    size_t slot;                /* index in be->pending while waiting */
    int result;                 /* the member's result, -ETIMEDOUT, -EHOSTDOWN, -EBUSY */
    bool on;
};

/**
 * Send every call of @calls (to different members, or the same one) at
 * once and wait for all the answers until min(@deadline_ms, now +
 * reply_timeout): one reply_timeout bounds the whole batch.
 * \return 0 (each call's own result in calls[i].result), -ETIMEDOUT (no
 *         time left), -EHOSTDOWN (not joined), -EBUSY (the pending table
 *         cannot hold the batch); on error every result is that error
 */
static int
cpg_call_all(struct cpg_be *be, struct cpg_call *calls, size_t n, int64_t deadline_ms)
{
    struct vf_cpgw_request rq;
    uint8_t buf[VF_CPGW_HDR_SIZE + VF_CPGW_REQUEST_FIXED + VF_CPGW_NAME_MAX];
    struct timespec ts;
    int64_t now = vf_now_ms(), wait_until, budget, margin;
    size_t len, i, k, n_free = 0, n_done;
    int r = 0, reply_ms;

    pthread_mutex_lock(&be->lock);
    reply_ms = be->reply_timeout_ms;
    pthread_mutex_unlock(&be->lock);
    wait_until = now + reply_ms;
    if (deadline_ms < wait_until) {
        wait_until = deadline_ms;
    }
    budget = wait_until - now;
    if (budget <= 0) {
        r = -ETIMEDOUT;
        goto fail;
    }
    /* the owner must finish a little before we stop waiting */
    margin = budget / 10 < 500 ? budget / 10 : 500;

    pthread_mutex_lock(&be->lock);
    if (!be->joined) {
        pthread_mutex_unlock(&be->lock);
        r = -EHOSTDOWN;
        goto fail;
    }
    for (i = 0; i < CPG_MAX_PENDING; i++) {
        n_free += be->pending[i].used ? 0 : 1;
    }
    if (n_free < n) {
        pthread_mutex_unlock(&be->lock);
        vf_log(LOG_ERR, "cpg backend: the reply table is full; refusing %s of '%s' (%zu request(s))",
               cpg_op_name(calls[0].op), calls[0].label, n);
        r = -EBUSY;
        goto fail;
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

    for (k = 0; k < n; k++) {
        memset(&rq, 0, sizeof(rq));
        rq.nodeid = calls[k].nodeid;
        rq.pid = calls[k].pid;
        rq.op = (uint8_t)calls[k].op;
        rq.timeout_ms = (uint32_t)(budget - margin > 0 ? budget - margin : 1);
        rq.flags = calls[k].by_uuid ? VF_CPGW_REQ_BY_UUID : 0;
        snprintf(rq.target, sizeof(rq.target), "%s", calls[k].target);
        pthread_mutex_lock(&be->lock);
        rq.id = be->pending[calls[k].slot].id;
        pthread_mutex_unlock(&be->lock);
        vf_log(LOG_INFO, "cpg backend: %s of '%s' (%s) is routed to node %u (waiting up to %lld ms)",
               cpg_op_name(calls[k].op), calls[k].label, calls[k].target,
               (unsigned int)calls[k].nodeid, (long long)budget);
        len = 0;
        r = vf_cpgw_encode_request(&rq, buf, sizeof(buf), &len);
        if (r == 0) {
            r = cpg_send(be, buf, len);
        }
        if (r < 0) {
            pthread_mutex_lock(&be->lock);
            if (!be->pending[calls[k].slot].done) {
                be->pending[calls[k].slot].done = true;
                be->pending[calls[k].slot].result = r;
            }
            pthread_mutex_unlock(&be->lock);
        }
    }

    pthread_mutex_lock(&be->lock);
    ts = cpg_abstime(wait_until);
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
    return 0;
fail:
    for (k = 0; k < n; k++) {
        calls[k].result = r;
        calls[k].on = false;
    }
    return r;
}

/**
 * Ask member @cand to run @op on its domain and wait for the answer until
 * min(@deadline_ms, now + reply_timeout).
 * \return the owner's result, -ETIMEDOUT, -EHOSTDOWN, -EBUSY (table full)
 */
static int
cpg_remote(struct cpg_be *be, const struct cpg_cand *cand, int op, int64_t deadline_ms,
           bool *ret_on)
{
    struct cpg_call call;

    memset(&call, 0, sizeof(call));
    call.nodeid = cand->nodeid;
    call.pid = cand->pid;
    call.op = op;
    call.label = cand->info.name;
    call.by_uuid = cand->info.uuid[0] != '\0';
    snprintf(call.target, sizeof(call.target), "%s",
             call.by_uuid ? cand->info.uuid : cand->info.name);
    (void)cpg_call_all(be, &call, 1, deadline_ms);
    if (call.result == 0) {
        *ret_on = call.on;
    }
    return call.result;
}

/* Run @op on one candidate, locally or through its owner. */
static int
cpg_exec(struct cpg_be *be, const struct cpg_cand *cand, int op, int64_t deadline_ms,
         bool *ret_on)
{
    const char *t = cand->info.uuid[0] != '\0' ? cand->info.uuid : cand->info.name;
    unsigned int f = cand->info.uuid[0] != '\0' ? VF_BE_BY_UUID : 0;

    if (!cand->local) {
        return cpg_remote(be, cand, op, deadline_ms, ret_on);
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
static int
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

/**
 * Confirm "not running anywhere else" with the members' LIVE state.  The
 * candidates come from lists announced up to CPG_REFRESH_MS (plus delivery)
 * ago: a domain migrated or started on another host within that window is
 * missing from them, and an "already off" from the known owners would be a
 * false fencing success.  So every other member that has announced its
 * domains and is not a candidate is asked, all at once (one reply_timeout
 * bounds the round, within @deadline_ms), for the status of the domain by
 * UUID.  A member where it runs is appended to @rt as a running candidate,
 * for the caller to act on.  (Members that never announced already make
 * @rt incomplete.)
 *
 * \return 0 (every member answered), or the first error of a member that
 *         did not (-ETIMEDOUT, -EHOSTDOWN, -EBUSY, ...); -ENOSPC when a
 *         running copy cannot be added, -EHOSTDOWN when there are more than
 *         CPG_MAX_CONFIRM members to ask
 */
static int
cpg_confirm(struct cpg_be *be, struct cpg_route *rt, const char *target, int64_t deadline_ms)
{
    struct cpg_call calls[CPG_MAX_CONFIRM];
    const struct vf_domain_info *ref = &rt->c[0].info;
    size_t i, j, n = 0, n_members = 0;
    bool cand;
    int r, first = 0;

    pthread_mutex_lock(&be->lock);
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
        if (n == CPG_MAX_CONFIRM) {
            continue;
        }
        memset(&calls[n], 0, sizeof(calls[n]));
        calls[n].nodeid = o->nodeid;
        calls[n].pid = o->pid;
        calls[n].op = VF_CMD_STATUS;
        calls[n].label = ref->name;
        calls[n].by_uuid = ref->uuid[0] != '\0';
        snprintf(calls[n].target, sizeof(calls[n].target), "%s",
                 calls[n].by_uuid ? ref->uuid : ref->name);
        n++;
    }
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
           ref->name, ref->uuid, n);
    (void)cpg_call_all(be, calls, n, deadline_ms);
    for (i = 0; i < n; i++) {
        r = calls[i].result;
        if (r == -ENOENT || (r == 0 && !calls[i].on)) {
            continue;               /* not there, or defined and shut off there */
        }
        if (r < 0) {
            if (first == 0) {
                first = r;
            }
            continue;
        }
        vf_log(LOG_WARNING, "cpg backend: '%s' (%s) runs on node %u, which did not list it (yet)",
               ref->name, ref->uuid, (unsigned int)calls[i].nodeid);
        if (rt->n == CPG_MAX_CANDIDATES) {
            vf_log(LOG_ERR, "cpg backend: '%s' is on more than %d hosts; cannot act on node %u",
                   target, CPG_MAX_CANDIDATES, (unsigned int)calls[i].nodeid);
            if (first == 0) {
                first = -ENOSPC;
            }
            continue;
        }
        memset(&rt->c[rt->n], 0, sizeof(rt->c[rt->n]));
        rt->c[rt->n].nodeid = calls[i].nodeid;
        rt->c[rt->n].pid = calls[i].pid;
        rt->c[rt->n].info = *ref;
        rt->c[rt->n].info.state = VF_STATE_RUNNING;
        rt->n++;
    }
    if (first < 0) {
        vf_log(LOG_ERR, "cpg backend: '%s': a member could not confirm that it does not run the "
               "domain (%s)", target, strerror(-first));
    }
    return first;
}

/* ---- backend ops -------------------------------------------------------- */

static int
cpg_op_lookup(void *priv, const char *target, unsigned int flags,
              struct vf_domain_info *ret_dom, int64_t deadline_ms)
{
    struct cpg_be *be = priv;
    struct cpg_route rt;
    int r;

    r = cpg_route(be, target, &flags, deadline_ms, &rt);
    if (r == 0) {
        *ret_dom = cpg_primary(&rt)->info;
    }
    return r;
}

/*
 * off: every known copy is powered off by its owner, then every other
 * member confirms live that it does not run the domain (a copy found there
 * is powered off too).  Success needs all of it: a place that could not be
 * asked (rt.incomplete) or a member that did not confirm makes off fail,
 * even after killing every copy it could reach.
 */
static int
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
    return first;
}

/*
 * on: a copy already running (live, anywhere) is success.  Starting one
 * needs every place asked: a copy elsewhere plus a new one would corrupt
 * shared storage.
 */
static int
cpg_op_on(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct cpg_be *be = priv;
    struct cpg_route rt;
    bool on = false;
    size_t n_known;
    int r;

    r = cpg_route(be, target, &flags, deadline_ms, &rt);
    if (r < 0) {
        return r;
    }
    r = cpg_live(be, &rt, deadline_ms, &on);
    if (on) {
        return 0;
    }
    if (r == 0 && rt.incomplete) {
        r = -EHOSTDOWN;
    }
    if (r == 0) {
        n_known = rt.n;
        r = cpg_confirm(be, &rt, target, deadline_ms);
        if (rt.n > n_known) {
            return 0;               /* it runs on a member that had not listed it */
        }
    }
    if (r < 0) {
        vf_log(LOG_ERR, "cpg backend: not starting '%s': a host that may run it could not be asked",
               target);
        return r;
    }
    return cpg_exec(be, cpg_primary(&rt), VF_CMD_ON, deadline_ms, &on);
}

/*
 * reboot: live state of every copy, then (when every place answered) the
 * other running copies are powered off and one copy is rebooted by its
 * owner.  When some place could not be asked, every running copy that can
 * be reached is powered off, nothing is started, and reboot fails.
 */
static int
cpg_op_reboot(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct cpg_be *be = priv;
    struct cpg_route rt;
    const struct cpg_cand *p;
    bool on = false;
    size_t i;
    int r;

    r = cpg_route(be, target, &flags, deadline_ms, &rt);
    if (r < 0) {
        return r;
    }
    r = cpg_live(be, &rt, deadline_ms, &on);
    if (r < 0 && !rt.incomplete) {
        return r;                   /* the state of a copy is unknown: touch nothing */
    }
    if (r == 0 && !rt.incomplete) {
        r = cpg_confirm(be, &rt, target, deadline_ms);
    }
    if (r < 0 || rt.incomplete) {
        for (i = 0; i < rt.n; i++) {
            if (cpg_dom_active(rt.c[i].info.state)) {     /* live, or announced if unknown */
                (void)cpg_exec(be, &rt.c[i], VF_CMD_OFF, deadline_ms, &on);
            }
        }
        vf_log(LOG_ERR, "cpg backend: reboot of '%s' NOT confirmed: a host that may have it could "
               "not be asked; reachable running copies were powered off, none was started", target);
        return rt.incomplete ? -EHOSTDOWN : r;
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
 * answered OFF, every place was asked and every other member confirmed
 * live that it does not run the domain.
 */
static int
cpg_op_status(void *priv, const char *target, unsigned int flags, bool *ret_on,
              int64_t deadline_ms)
{
    struct cpg_be *be = priv;
    struct cpg_route rt;
    bool on = false;
    size_t n_known;
    int r;

    r = cpg_route(be, target, &flags, deadline_ms, &rt);
    if (r < 0) {
        return r;
    }
    r = cpg_live(be, &rt, deadline_ms, &on);
    if (on) {
        *ret_on = true;
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
    n_known = rt.n;
    r = cpg_confirm(be, &rt, target, deadline_ms);
    if (rt.n > n_known) {
        *ret_on = true;
        return 0;
    }
    if (r < 0) {
        return r;
    }
    *ret_on = false;
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
    size_t i;

    for (i = 0; i < a->n; i++) {
        if (d->uuid[0] != '\0' && strcasecmp(a->all[i].uuid, d->uuid) == 0) {
            return 0;           /* each domain once */
        }
    }
    if (a->n == a->cap) {
        size_t ncap = a->cap == 0 ? 32 : a->cap * 2;
        struct vf_domain_info *na = realloc(a->all, ncap * sizeof(*na));

        if (na == NULL) {
            return -ENOMEM;
        }
        a->all = na;
        a->cap = ncap;
    }
    a->all[a->n++] = *d;
    return 0;
}

static int
cpg_listacc_cb(void *arg, const struct vf_domain_info *dom)
{
    return cpg_listacc_add(arg, dom);
}

static int
cpg_info_cmp(const void *a, const void *b)
{
    const struct vf_domain_info *x = a, *y = b;
    int c = strcasecmp(x->name, y->name);

    if (c == 0) {
        c = strcmp(x->name, y->name);
    }
    if (c == 0) {
        c = strcmp(x->uuid, y->uuid);
    }
    return c;
}

/*
 * list: the local domains (live) plus every member's last announced list,
 * each UUID once (the local copy wins), sorted by name.  If local libvirt
 * is down the remote domains are still listed (warning logged).
 */
static int
cpg_op_list(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms)
{
    struct cpg_be *be = priv;
    struct cpg_listacc acc = { 0 };
    struct vf_domain_info info;
    size_t i, j, n_remote = 0;
    int r;

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
    pthread_mutex_unlock(&be->lock);
    if (r < 0 && n_remote == 0) {
        goto out;
    }
    if (acc.n > 1) {
        qsort(acc.all, acc.n, sizeof(*acc.all), cpg_info_cmp);
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

static int
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

/* ---- init / fini / reload ----------------------------------------------- */

static void cpg_fini(void *priv);

static int
cpg_init(const struct vf_host_api *host, const struct vf_conf *conf, void **ret_priv,
         char *err, size_t err_len)
{
    struct cpg_be *be = NULL;
    struct cpg_conf c;
    pthread_condattr_t ca;
    char lerr[768];
    int r;

    memset(&c, 0, sizeof(c));
    r = cpg_conf_read(conf, &c, err, err_len);
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
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&be->cond, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(be->group, sizeof(be->group), "%s", c.group);
    be->uuid_mode = c.uuid_mode;
    be->reply_timeout_ms = c.reply_timeout_ms;
    if (getrandom(&be->next_id, sizeof(be->next_id), GRND_NONBLOCK) != (ssize_t)sizeof(be->next_id)) {
        be->next_id = ((uint64_t)getpid() << 32) ^ (uint64_t)vf_now_ms();
    }

    be->lv = host->find_backend(host->ctx, "libvirt");
    if (be->lv == NULL) {
        snprintf(err, err_len, "cpg backend: the libvirt backend (needed for local domains) is not available");
        r = -ENOENT;
        goto fail;
    }
    lerr[0] = '\0';
    r = be->lv->init(host, c.lv_conf, &be->lv_priv, lerr, sizeof(lerr));
    if (r < 0) {
        snprintf(err, err_len, "cpg backend: local libvirt: %s", lerr[0] != '\0' ? lerr : strerror(-r));
        be->lv_priv = NULL;
        goto fail;
    }
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
    vf_log(LOG_INFO, "cpg backend: group '%s', name_mode %s, reply_timeout %d s",
           be->group, be->uuid_mode ? "uuid" : "name", be->reply_timeout_ms / 1000);
    cpg_conf_done(&c);
    *ret_priv = be;
    return 0;
fail:
    cpg_conf_done(&c);
    cpg_fini(be);
    return r;
}

static void
cpg_fini(void *priv)
{
    struct cpg_be *be = priv;
    struct timespec ts;
    int serving;

    if (be == NULL) {
        return;
    }
    pthread_mutex_lock(&be->lock);
    be->stopping = true;
    pthread_cond_broadcast(&be->cond);
    pthread_mutex_unlock(&be->lock);
    if (be->refresh_running) {
        pthread_join(be->refresh_thread, NULL);
    }
    if (be->cpg_running) {
        pthread_join(be->cpg_thread, NULL);     /* leaves the group, fails pending requests */
    }
    /* serving threads end by their own deadlines (at most CPG_MAX_SERVE_MS,
     * whatever timeout the requester asked for) */
    pthread_mutex_lock(&be->lock);
    ts = cpg_abstime(vf_now_ms() + CPG_MAX_SERVE_MS + 1000);
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
    free(be->local);
    pthread_cond_destroy(&be->cond);
    pthread_mutex_destroy(&be->send_lock);
    pthread_mutex_destroy(&be->lock);
    free(be);
}

/*
 * SIGHUP: name_mode, reply_timeout and the libvirt URIs change in place;
 * a different CPG group needs a restart (refused, old configuration kept).
 */
static int
cpg_reload(void *priv, const struct vf_conf *conf, char *err, size_t err_len)
{
    struct cpg_be *be = priv;
    struct cpg_conf c;
    char lerr[768];
    int r;

    memset(&c, 0, sizeof(c));
    r = cpg_conf_read(conf, &c, err, err_len);
    if (r < 0) {
        return r;
    }
    if (strcmp(c.group, be->group) != 0) {
        snprintf(err, err_len, "cpg backend: changing 'group' from '%s' to '%s' needs a restart",
                 be->group, c.group);
        r = -EINVAL;
        goto out;
    }
    if (be->lv->reload != NULL) {
        lerr[0] = '\0';
        r = be->lv->reload(be->lv_priv, c.lv_conf, lerr, sizeof(lerr));
        if (r < 0) {
            snprintf(err, err_len, "cpg backend: local libvirt: %s",
                     lerr[0] != '\0' ? lerr : strerror(-r));
            goto out;
        }
    }
    pthread_mutex_lock(&be->lock);
    be->uuid_mode = c.uuid_mode;
    be->reply_timeout_ms = c.reply_timeout_ms;
    be->need_broadcast = true;
    pthread_cond_broadcast(&be->cond);
    pthread_mutex_unlock(&be->lock);
out:
    cpg_conf_done(&c);
    return r;
}

static const struct vf_backend_ops cpg_ops = {
    .name = CPG_NAME,
    .version = PACKAGE_VERSION,
    .init = cpg_init,
    .fini = cpg_fini,
    .lookup = cpg_op_lookup,
    .off = cpg_op_off,
    .on = cpg_op_on,
    .reboot = cpg_op_reboot,
    .status = cpg_op_status,
    .list = cpg_op_list,
    .monitor = cpg_op_monitor,
    .reload = cpg_reload,
};

VF_PLUGIN_DEFINE(cpg, NULL, &cpg_ops);
