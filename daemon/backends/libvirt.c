/*
 * vmfence - daemon/backends/libvirt.c: the "libvirt" backend of fence_virtd.
 *
 * Turns on/off/reboot/status/list/monitor for a domain reference (name or
 * UUID) into libvirt calls on one or more connections (config block
 * backends/libvirt: uri, uri1, uri2, ... searched in that order).
 *
 * Design (differences from the reference, see reference-defects.md):
 *  - One virConnectPtr per URI, owned by a background "reconnect" thread.
 *    A private libvirt event loop thread runs so that keepalive (5 s, 3
 *    probes) and the connection close callback work.  When a connection
 *    closes (libvirtd restart, keepalive timeout) it is marked dead and the
 *    reconnect thread retries with a backoff of 0.5 s doubling to 10 s.
 *    Requests never wait for a reconnect: while a URI is down, a request
 *    that needs it fails at once with -EHOSTDOWN (D10 fixed: the reference
 *    loops on sleep(1) inside the request and freezes the daemon).
 *  - init never blocks for long: connection attempts are made by the
 *    reconnect thread; init waits at most LV_INIT_WAIT_MS for the first
 *    round, then succeeds even if libvirt is unreachable.
 *  - Lookup honours RF_UUID (VF_BE_BY_UUID) for UUID targets (a non-UUID
 *    target with the flag is looked up by name, as fence-virt did);
 *    otherwise name first, then
 *    UUID, so that a domain NAMED like a UUID stays addressable (D28).
 *  - off/on/reboot confirm the resulting state by polling (50 ms steps,
 *    bounded by the request deadline) instead of fixed sleeps.
 *  - reboot powers a persistent domain on from its persistent definition
 *    (virDomainCreate); only transient domains are re-created from the XML
 *    saved before the destroy (D31).
 *  - status of an unknown domain is -ENOENT (the pipeline answers FAIL, not
 *    OFF: D5).  The list merges every URI (D4), de-duplicated by UUID (the
 *    entry shows "on" if any copy is on).
 *  - A target is resolved on EVERY URI, not just the first that has it: a
 *    domain defined on several URIs (shared definitions, migration) is
 *    powered off everywhere, and is ON if any copy runs.  A name that
 *    designates different domains (UUIDs) on different URIs is refused
 *    (-ENOTUNIQ).
 *  - Every configured URI must answer (security issue 13: fencing must be
 *    certain, an incomplete answer is a failure).  A URI "answers" when it
 *    is connected and the lookup there succeeded or said "no such domain";
 *    a URI that is down, or whose lookup failed, did not answer, and a copy
 *    of the domain may run there.  Then, per operation:
 *      off     kills every running copy it can reach, and still fails with
 *              -EHOSTDOWN (a success would be a false fencing success);
 *      reboot  the same: reachable running copies are killed, nothing is
 *              started, -EHOSTDOWN;
 *      status  ON if a reachable copy is on (true whatever the other URIs
 *              hold); never OFF: -EHOSTDOWN;
 *      on      success if a reachable copy already runs (the admin asked for
 *              "on" and it is on); starting a copy is refused with
 *              -EHOSTDOWN, since a second copy could run next to one on the
 *              silent URI and corrupt shared storage;
 *      lookup  returns the copy found (name and UUID are certain), with the
 *              state "nostate" instead of "shut off" when no reachable copy
 *              is on (the pipeline uses lookup only for name <-> UUID);
 *      unknown everywhere reachable: -EHOSTDOWN, never -ENOENT.
 *    Each refusal logs the target and the URI(s) that did not answer.
 *
 * Locking rule: be->lock protects only this file's bookkeeping.  No libvirt
 * call that can block or run callbacks is made with it held (the close
 * callback takes it); the only libvirt call made under the lock is
 * virConnectRef, which only increments a reference count.
 *
 * Hung libvirt: a libvirt call on a connection whose daemon hangs (alive
 * socket, no answers) blocks until keepalive declares the connection dead
 * (about 5 s * (3 + 1) = 20 s).  libvirt calls cannot be cancelled, so each
 * operation runs in a worker thread and the request waits only until its
 * deadline: it then fails with -ETIMEDOUT, the call is abandoned (it
 * finishes or fails on its own later), and new requests fail at once with
 * -EHOSTDOWN until it has returned (see "bounded calls" below).
 * What stays unbounded: virConnectOpen of a hung daemon or an unreachable
 * remote URI blocks the reconnect thread (never a request) as long as the
 * transport does; fini waits LV_FINI_WAIT_MS for it, then leaves it behind.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <uuid/uuid.h>

#include "config.h"
#include "io.h"
#include "log.h"
#include "plugin.h"

#define LV_NAME               "libvirt"
#define LV_CONF_BLOCK         "backends/libvirt"
#define LV_DEFAULT_URI        "qemu:///system"
#define LV_MAX_URIS           64
#define LV_POLL_STEP_MS       50
#define LV_BACKOFF_MIN_MS     500
#define LV_BACKOFF_MAX_MS     10000
#define LV_KEEPALIVE_INTERVAL 5
#define LV_KEEPALIVE_COUNT    3
#define LV_INIT_WAIT_MS       2000
#define LV_EVENT_TICK_MS      500
#define LV_IDLE_WAKE_MS       5000
#define LV_FINI_WAIT_MS       2000

/* One configured URI and its connection (owned by the reconnect thread). */
struct lv_uri {
    char *uri;
    virConnectPtr conn;     /* NULL while disconnected */
    bool dead;              /* closed / failed: the reconnect thread replaces it */
    bool tried;             /* at least one connection attempt has finished */
    unsigned int failures;  /* consecutive failed attempts (log throttling) */
    int backoff_ms;
    int64_t next_try_ms;
};

struct lv_backend {
    pthread_mutex_t lock;
    pthread_cond_t cond;            /* wakes the reconnect thread and init */
    struct lv_uri *uris;
    size_t n_uris;
    bool reboot_powers_on;
    bool stopping;
    bool first_round_done;
    bool reconnect_running;
    bool reconnect_done;
    bool event_running;
    pthread_t reconnect_thread;
    pthread_t event_thread;
    atomic_bool event_stop;
    int tick_timer;                 /* keeps the event loop waking up */
    atomic_int refs;                /* fini + pool threads + jobs */
    atomic_int hung;                /* calls abandoned at their deadline, still running */
    /* call pool (see "bounded calls"), under xlock */
    pthread_mutex_t xlock;
    pthread_cond_t xcond;
    struct lv_job *xq_head, *xq_tail;
    unsigned int xn_queued;
    unsigned int xn_waiting;
    unsigned int xn_threads;
    bool xstop;
};

/* A request's private view of the connections (references held). */
struct lv_ref {
    virConnectPtr conn;             /* NULL: this URI is down */
    char *uri;
};

struct lv_snap {
    struct lv_ref *refs;
    size_t n;
    size_t n_down;
    bool reboot_powers_on;
};

/* Parsed configuration. */
struct lv_conf {
    char **uris;
    size_t n_uris;
    bool reboot_powers_on;
};

/* ---- small helpers ------------------------------------------------------ */

static void
lv_sleep_ms(int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* libvirt's default error handler prints to stderr; we log ourselves. */
static void
lv_silent_error(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

static const char *
lv_state_text(int state)
{
    const char *s = vf_state_name(state);

    return s != NULL ? s : "unknown";
}

static void
lv_conf_done(struct lv_conf *c)
{
    size_t i;

    if (c == NULL) {
        return;
    }
    for (i = 0; i < c->n_uris; i++) {
        free(c->uris[i]);
    }
    free(c->uris);
    c->uris = NULL;
    c->n_uris = 0;
}

static int
lv_parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = { "yes", "y", "true", "on", "1" };
    static const char *const no[] = { "no", "n", "false", "off", "0" };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* "uri" -> 0, "uri7" -> 7, anything else -> -1 */
static long
lv_uri_key_index(const char *name)
{
    const char *p;
    long n = 0;

    if (strncasecmp(name, "uri", 3) != 0) {
        return -1;
    }
    p = name + 3;
    if (*p == '\0') {
        return 0;
    }
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || n > 100000) {
            return -1;
        }
        n = n * 10 + (*p - '0');
    }
    return n;
}

/**
 * Read backends/libvirt: uri (default qemu:///system, logged), uri1, uri2,
 * ... (contiguous, at most LV_MAX_URIS in all) and reboot_powers_on.
 *
 * \param[in]  conf  parsed configuration (NULL: all defaults)
 * \param[out] ret   filled on success
 * \return 0, -EINVAL with a message naming file:line in @err, -ENOMEM
 */
static int
lv_conf_read(const struct vf_conf *conf, struct lv_conf *ret, char *err, size_t err_len)
{
    struct lv_conf c = { 0 };
    const struct vf_conf_node *blk = NULL, *n;
    const char *v;
    char where[256], key[32];
    long idx, max_idx = 0;
    int r = 0;

    if (conf != NULL) {
        blk = vf_conf_block(conf, NULL, LV_CONF_BLOCK);
    }
    /* find the highest uriN and reject unknown numbering */
    for (n = blk != NULL ? blk->children : NULL; n != NULL; n = n->next) {
        if (n->is_block) {
            continue;
        }
        idx = lv_uri_key_index(n->name);
        if (idx < 0) {
            continue;
        }
        if (idx > LV_MAX_URIS - 1) {
            snprintf(err, err_len, "%s: key '%s': at most %d libvirt URIs are supported",
                     vf_conf_where(conf, n, where, sizeof(where)), n->name, LV_MAX_URIS);
            r = -EINVAL;
            goto out;
        }
        if (n->value == NULL || n->value[0] == '\0') {
            snprintf(err, err_len, "%s: key '%s': empty libvirt URI",
                     vf_conf_where(conf, n, where, sizeof(where)), n->name);
            r = -EINVAL;
            goto out;
        }
        if (idx > max_idx) {
            max_idx = idx;
        }
    }
    c.uris = calloc((size_t)max_idx + 1, sizeof(*c.uris));
    if (c.uris == NULL) {
        r = -ENOMEM;
        goto out;
    }
    n = blk != NULL ? vf_conf_key(conf, blk, "uri") : NULL;
    v = n != NULL ? n->value : NULL;
    if (v == NULL) {
        vf_log(LOG_INFO, "libvirt backend: no '" LV_CONF_BLOCK "/uri' configured, using '%s'",
               LV_DEFAULT_URI);
        v = LV_DEFAULT_URI;
    }
    c.uris[c.n_uris] = strdup(v);
    if (c.uris[c.n_uris] == NULL) {
        r = -ENOMEM;
        goto out;
    }
    c.n_uris++;
    for (idx = 1; idx <= max_idx; idx++) {
        snprintf(key, sizeof(key), "uri%ld", idx);
        n = vf_conf_key(conf, blk, key);
        if (n == NULL || n->value == NULL) {
            snprintf(key, sizeof(key), "uri%ld", max_idx);
            n = vf_conf_key(conf, blk, key);
            snprintf(err, err_len,
                     "%s: key '%s' is set but 'uri%ld' is missing (numbering must be contiguous)",
                     vf_conf_where(conf, n, where, sizeof(where)), key, idx);
            r = -EINVAL;
            goto out;
        }
        c.uris[c.n_uris] = strdup(n->value);
        if (c.uris[c.n_uris] == NULL) {
            r = -ENOMEM;
            goto out;
        }
        c.n_uris++;
    }
    n = blk != NULL ? vf_conf_key(conf, blk, "reboot_powers_on") : NULL;
    if (n != NULL && n->value != NULL && lv_parse_bool(n->value, &c.reboot_powers_on) < 0) {
        snprintf(err, err_len, "%s: key 'reboot_powers_on': '%s' is not yes or no",
                 vf_conf_where(conf, n, where, sizeof(where)), n->value);
        r = -EINVAL;
        goto out;
    }
    *ret = c;
    c = (struct lv_conf){ 0 };
out:
    lv_conf_done(&c);
    return r;
}

/* ---- connections -------------------------------------------------------- */

static struct lv_uri *
lv_find_uri_locked(struct lv_backend *be, const char *uri)
{
    size_t i;

    for (i = 0; i < be->n_uris; i++) {
        if (be->uris[i].uri != NULL && strcmp(be->uris[i].uri, uri) == 0) {
            return &be->uris[i];
        }
    }
    return NULL;
}

static const char *
lv_close_reason(int reason)
{
    switch (reason) {
    case VIR_CONNECT_CLOSE_REASON_ERROR:
        return "I/O error";
    case VIR_CONNECT_CLOSE_REASON_EOF:
        return "end of file";
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
        return "keepalive timeout";
    case VIR_CONNECT_CLOSE_REASON_CLIENT:
        return "closed by client";
    default:
        return "unknown reason";
    }
}

/* Mark the entry owning @conn dead (idempotent) and wake the reconnect thread. */
static void
lv_mark_dead(struct lv_backend *be, virConnectPtr conn, const char *why)
{
    size_t i;

    pthread_mutex_lock(&be->lock);
    for (i = 0; i < be->n_uris; i++) {
        struct lv_uri *u = &be->uris[i];

        if (u->conn == conn && !u->dead) {
            u->dead = true;
            vf_log(LOG_WARNING,
                   "libvirt backend: connection to '%s' lost (%s); reconnecting in the background",
                   u->uri, why);
            pthread_cond_broadcast(&be->cond);
        }
    }
    pthread_mutex_unlock(&be->lock);
}

/* Close callback, run by the event loop thread. */
static void
lv_close_cb(virConnectPtr conn, int reason, void *opaque)
{
    lv_mark_dead(opaque, conn, lv_close_reason(reason));
}

static void
lv_conn_drop(virConnectPtr conn)
{
    if (conn == NULL) {
        return;
    }
    /* unregister first: no callback may run once we forget the connection */
    (void)virConnectUnregisterCloseCallback(conn, lv_close_cb);
    (void)virConnectClose(conn);
}

/* Connections being closed by a helper thread (lv_drop_bounded). */
struct lv_drop {
    atomic_int refs;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    virConnectPtr *conns;
    size_t n;
};

static void
lv_drop_unref(struct lv_drop *d)
{
    if (atomic_fetch_sub(&d->refs, 1) != 1) {
        return;
    }
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d->conns);
    free(d);
}

static void *
lv_drop_main(void *arg)
{
    struct lv_drop *d = arg;
    size_t i;

    for (i = 0; i < d->n; i++) {
        lv_conn_drop(d->conns[i]);
    }
    pthread_mutex_lock(&d->lock);
    d->done = true;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    lv_drop_unref(d);
    return NULL;
}

/**
 * Close @n connections (taking ownership of the malloc'ed array @conns),
 * waiting at most @wait_ms: closing a remote connection is an RPC, and a
 * hung libvirtd would block it until keepalive gives up.  Left-over closes
 * finish in the background.
 */
static void
lv_drop_bounded(virConnectPtr *conns, size_t n, int wait_ms)
{
    struct lv_drop *d;
    pthread_condattr_t ca;
    pthread_attr_t attr;
    pthread_t th;
    struct timespec ts;
    int64_t until;
    size_t i;
    int r;

    if (n == 0) {
        free(conns);
        return;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        goto inline_drop;
    }
    atomic_init(&d->refs, 2);
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    d->conns = conns;
    d->n = n;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    r = pthread_create(&th, &attr, lv_drop_main, d);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        d->conns = NULL;
        d->n = 0;
        atomic_store(&d->refs, 1);
        lv_drop_unref(d);
        goto inline_drop;
    }
    until = vf_now_ms() + wait_ms;
    ts.tv_sec = (time_t)(until / 1000);
    ts.tv_nsec = (long)(until % 1000) * 1000000L;
    pthread_mutex_lock(&d->lock);
    while (!d->done) {
        if (pthread_cond_timedwait(&d->cond, &d->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    if (!d->done) {
        vf_log(LOG_WARNING,
               "libvirt backend: closing a connection hangs (libvirtd not answering); left behind");
    }
    pthread_mutex_unlock(&d->lock);
    lv_drop_unref(d);
    return;
inline_drop:
    for (i = 0; i < n; i++) {
        lv_conn_drop(conns[i]);
    }
    free(conns);
}

/* Open @uri with keepalive and the close callback.  Reconnect thread only. */
static virConnectPtr
lv_conn_open(struct lv_backend *be, const char *uri, char *why, size_t why_len)
{
    virConnectPtr conn;
    virErrorPtr e;
    int r;

    conn = virConnectOpen(uri);
    if (conn == NULL) {
        e = virGetLastError();
        snprintf(why, why_len, "%s",
                 e != NULL && e->message != NULL ? e->message : "unknown error");
        return NULL;
    }
    r = virConnectSetKeepAlive(conn, LV_KEEPALIVE_INTERVAL, LV_KEEPALIVE_COUNT);
    e = r < 0 ? virGetLastError() : NULL;
    if (r == 1 || (e != NULL && e->code == VIR_ERR_NO_SUPPORT)) {
        vf_dbg(2, "libvirt backend: '%s' does not use keepalive (local driver)", uri);
    } else if (r < 0) {
        vf_log(LOG_WARNING, "libvirt backend: cannot enable keepalive on '%s': %s, ignoring",
               uri, e != NULL && e->message != NULL ? e->message : "unknown error");
    }
    if (virConnectRegisterCloseCallback(conn, lv_close_cb, be, NULL) < 0) {
        e = virGetLastError();
        vf_dbg(1, "libvirt backend: no close callback on '%s': %s", uri,
               e != NULL && e->message != NULL ? e->message : "unknown error");
    }
    return conn;
}

static void lv_be_unref(struct lv_backend *be);

/**
 * The reconnect thread: opens every URI that has no live connection,
 * replaces dead ones, and backs off 0.5 s doubling to 10 s per URI.
 */
static void *
lv_reconnect_main(void *arg)
{
    struct lv_backend *be = arg;
    struct timespec ts;
    char why[512];
    int64_t now, wake;
    bool all_tried, acted;
    size_t i;

    pthread_mutex_lock(&be->lock);
    while (!be->stopping) {
        acted = false;
        now = vf_now_ms();
        for (i = 0; i < be->n_uris && !acted; i++) {
            struct lv_uri *u = &be->uris[i];
            virConnectPtr old, conn;
            char *uri;

            if (u->conn != NULL && u->dead) {
                old = u->conn;
                u->conn = NULL;
                u->dead = false;
                u->backoff_ms = LV_BACKOFF_MIN_MS;
                u->next_try_ms = now;
                pthread_mutex_unlock(&be->lock);
                lv_conn_drop(old);
                pthread_mutex_lock(&be->lock);
                acted = true;
            } else if (u->conn == NULL && now >= u->next_try_ms) {
                uri = strdup(u->uri);
                if (uri == NULL) {
                    u->next_try_ms = now + LV_BACKOFF_MIN_MS;
                    continue;
                }
                pthread_mutex_unlock(&be->lock);
                why[0] = '\0';
                conn = lv_conn_open(be, uri, why, sizeof(why));
                pthread_mutex_lock(&be->lock);
                /* reload may have changed the array while unlocked */
                u = lv_find_uri_locked(be, uri);
                if (u == NULL || u->conn != NULL || be->stopping) {
                    pthread_mutex_unlock(&be->lock);
                    lv_conn_drop(conn);
                    pthread_mutex_lock(&be->lock);
                } else if (conn != NULL) {
                    u->conn = conn;
                    u->dead = false;
                    u->backoff_ms = LV_BACKOFF_MIN_MS;
                    vf_log(u->failures > 0 || u->tried ? LOG_NOTICE : LOG_INFO,
                           "libvirt backend: connected to '%s'", u->uri);
                    u->failures = 0;
                    u->tried = true;
                } else {
                    if (u->failures == 0) {
                        vf_log(LOG_WARNING,
                               "libvirt backend: '%s' unreachable: %s; retrying",
                               u->uri, why);
                    } else {
                        vf_dbg(1, "libvirt backend: retry %u for '%s' failed: %s",
                               u->failures, u->uri, why);
                    }
                    u->failures++;
                    u->tried = true;
                    u->next_try_ms = vf_now_ms() + u->backoff_ms;
                    u->backoff_ms = u->backoff_ms * 2 > LV_BACKOFF_MAX_MS ?
                        LV_BACKOFF_MAX_MS : u->backoff_ms * 2;
                }
                free(uri);
                acted = true;
            }
        }
        if (acted) {
            continue;
        }
        wake = now + LV_IDLE_WAKE_MS;
        all_tried = true;
        for (i = 0; i < be->n_uris; i++) {
            if (be->uris[i].conn == NULL && be->uris[i].next_try_ms < wake) {
                wake = be->uris[i].next_try_ms;
            }
            if (!be->uris[i].tried) {
                all_tried = false;
            }
        }
        if (all_tried && !be->first_round_done) {
            be->first_round_done = true;
            pthread_cond_broadcast(&be->cond);
        }
        ts.tv_sec = (time_t)(wake / 1000);
        ts.tv_nsec = (long)(wake % 1000) * 1000000L;
        (void)pthread_cond_timedwait(&be->cond, &be->lock, &ts);
    }
    be->reconnect_done = true;
    pthread_cond_broadcast(&be->cond);
    pthread_mutex_unlock(&be->lock);
    lv_be_unref(be);
    return NULL;
}

static void
lv_tick(int timer, void *opaque)
{
    (void)timer;
    (void)opaque;
}

/* The libvirt event loop: needed for keepalive and close callbacks. */
static void *
lv_event_main(void *arg)
{
    struct lv_backend *be = arg;

    while (!atomic_load(&be->event_stop)) {
        if (virEventRunDefaultImpl() < 0) {
            lv_sleep_ms(LV_POLL_STEP_MS);
        }
    }
    return NULL;
}

/**
 * Take references to the live connections for one request.
 * \return 0 or -ENOMEM
 */
static int
lv_snap_take(struct lv_backend *be, struct lv_snap *snap)
{
    size_t i;
    int r = 0;

    memset(snap, 0, sizeof(*snap));
    pthread_mutex_lock(&be->lock);
    snap->reboot_powers_on = be->reboot_powers_on;
    snap->refs = calloc(be->n_uris, sizeof(*snap->refs));
    if (snap->refs == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (i = 0; i < be->n_uris; i++) {
        struct lv_uri *u = &be->uris[i];

        snap->refs[i].uri = strdup(u->uri);
        if (snap->refs[i].uri == NULL) {
            r = -ENOMEM;
            goto out;
        }
        snap->n = i + 1;
        if (u->conn != NULL && !u->dead) {
            (void)virConnectRef(u->conn);
            snap->refs[i].conn = u->conn;
        } else {
            snap->n_down++;
        }
    }
out:
    pthread_mutex_unlock(&be->lock);
    return r;
}

static void
lv_snap_done(struct lv_snap *snap)
{
    size_t i;

    for (i = 0; i < snap->n; i++) {
        if (snap->refs[i].conn != NULL) {
            (void)virConnectClose(snap->refs[i].conn);
        }
        free(snap->refs[i].uri);
    }
    free(snap->refs);
    memset(snap, 0, sizeof(*snap));
}

/**
 * Classify the last libvirt error of this thread after a failed call on
 * @ref.  A connection found dead is marked so (the reconnect thread takes
 * over).  The message is copied to @msg for the caller's log line.
 *
 * \return -ENOENT (no such domain), -EHOSTDOWN (connection lost), -EIO
 */
static int
lv_error(struct lv_backend *be, const struct lv_ref *ref, char *msg, size_t msg_len)
{
    virErrorPtr e = virGetLastError();
    int code = e != NULL ? e->code : VIR_ERR_OK;

    snprintf(msg, msg_len, "%s", e != NULL && e->message != NULL ? e->message : "unknown error");
    if (code == VIR_ERR_NO_DOMAIN) {
        return -ENOENT;
    }
    if (code == VIR_ERR_RPC || code == VIR_ERR_NO_CONNECT || code == VIR_ERR_INVALID_CONN ||
        virConnectIsAlive(ref->conn) == 0) {
        lv_mark_dead(be, ref->conn, msg);
        return -EHOSTDOWN;
    }
    return -EIO;
}

/* ---- domains ------------------------------------------------------------ */

/* One resolved domain. */
struct lv_dom {
    virDomainPtr dom;
    const struct lv_ref *ref;
    char name[256];
    char uuid[VIR_UUID_STRING_BUFLEN];
};

static void
lv_dom_done(struct lv_dom *d)
{
    if (d->dom != NULL) {
        (void)virDomainFree(d->dom);
    }
    memset(d, 0, sizeof(*d));
}

static void
lv_copy_name(char *dst, size_t dst_len, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;

    if (n >= dst_len) {
        n = dst_len - 1;
    }
    if (n > 0) {
        memcpy(dst, src, n);
    }
    dst[n] = '\0';
}

/**
 * Current state of @d.  \return 0, -ENOENT (gone), -EHOSTDOWN, -EIO
 */
static int
lv_get_state(struct lv_backend *be, const struct lv_dom *d, int *ret_state)
{
    char msg[512];
    int state = 0, reason = 0, r;

    if (virDomainGetState(d->dom, &state, &reason, 0) < 0) {
        r = lv_error(be, d->ref, msg, sizeof(msg));
        if (r != -ENOENT) {
            vf_log(LOG_ERR, "libvirt backend: cannot get the state of domain '%s' on '%s': %s",
                   d->name, d->ref->uri, msg);
        }
        return r;
    }
    *ret_state = state;
    return 0;
}

/*
 * Every place where a target lives.  A domain may be defined on several
 * URIs (shared definitions for migration: defined everywhere, running on
 * one), so "the first URI that has it" is not enough: a shut-off copy on
 * the first URI must never hide a running copy on the second.
 */
struct lv_match {
    struct lv_dom *d;               /* at most one per URI */
    size_t n;
    bool incomplete;                /* some URI is down or failed: a copy there is unknown */
    uint64_t unanswered;            /* bit i: URI i (snap->refs[i]) did not answer */
};

/* LV_MAX_URIS bits fit in lv_match.unanswered */
_Static_assert(LV_MAX_URIS <= 64, "lv_match.unanswered has 64 bits");

/**
 * The URIs that did not answer for @m, as "'uri', 'uri1'" into @buf
 * (truncated to @len, always terminated).  \return @buf
 */
static const char *
lv_unanswered_text(const struct lv_snap *snap, uint64_t unanswered, char *buf, size_t len)
{
    size_t i, used = 0;
    int w;

    buf[0] = '\0';
    for (i = 0; i < snap->n && i < LV_MAX_URIS && used < len; i++) {
        if ((unanswered & ((uint64_t)1 << i)) == 0) {
            continue;
        }
        w = snprintf(buf + used, len - used, "%s'%s'", used > 0 ? ", " : "", snap->refs[i].uri);
        if (w < 0) {
            break;
        }
        used += (size_t)w;
    }
    return buf;
}

static void
lv_match_done(struct lv_match *m)
{
    size_t i;

    for (i = 0; m->d != NULL && i < m->n; i++) {
        lv_dom_done(&m->d[i]);
    }
    free(m->d);
    memset(m, 0, sizeof(*m));
}

/**
 * Resolve @target on every connection of @snap.  VF_BE_BY_UUID: by UUID
 * only.  Otherwise by name on every URI first, then (only if no URI has
 * that name and @target parses as a UUID) by UUID on every URI.  All
 * matches are kept; they must be one domain (same UUID), else the name is
 * ambiguous.  @m->incomplete tells that some URI could not be asked.
 *
 * \return 0 (m->n >= 1), -ENOENT, -EHOSTDOWN (not found while some URI is
 *         down), -EIO, -ENOTUNIQ (the name designates different domains),
 *         -ENOMEM
 */
static int
lv_resolve(struct lv_backend *be, const struct lv_snap *snap, const char *target,
           unsigned int flags, struct lv_match *m)
{
    unsigned char raw[VIR_UUID_BUFLEN];
    uuid_t u;
    bool is_uuid, hostdown = snap->n_down > 0, failed = false;
    char msg[512], down[1024];
    int pass, r;
    size_t i;

    memset(m, 0, sizeof(*m));
    memset(raw, 0, sizeof(raw));
    if (target == NULL || target[0] == '\0') {
        return -ENOENT;
    }
    is_uuid = uuid_parse(target, u) == 0;
    if ((flags & VF_BE_BY_UUID) != 0 && !is_uuid) {
        /* fence-virt's daemons ignore RF_UUID, so "fence_xvm -u -n NAME"
         * worked against them: keep that working by looking up the name */
        vf_dbg(1, "libvirt backend: '%s' was requested by UUID but is not a UUID; "
               "looking it up by name", target);
        flags &= ~(unsigned int)VF_BE_BY_UUID;
    }
    if (is_uuid) {
        memcpy(raw, u, sizeof(raw));
    }
    m->d = calloc(snap->n > 0 ? snap->n : 1, sizeof(*m->d));
    if (m->d == NULL) {
        return -ENOMEM;
    }
    for (i = 0; i < snap->n; i++) {
        if (snap->refs[i].conn == NULL) {
            m->unanswered |= (uint64_t)1 << i;
        }
    }
    for (pass = (flags & VF_BE_BY_UUID) != 0 ? 1 : 0; pass < 2 && m->n == 0; pass++) {
        if (pass == 1 && !is_uuid) {
            break;
        }
        for (i = 0; i < snap->n; i++) {
            const struct lv_ref *ref = &snap->refs[i];
            struct lv_dom *d = &m->d[m->n];
            virDomainPtr dom;

            if (ref->conn == NULL) {
                continue;
            }
            dom = pass == 0 ? virDomainLookupByName(ref->conn, target) :
                virDomainLookupByUUID(ref->conn, raw);
            if (dom != NULL) {
                d->dom = dom;
                d->ref = ref;
                lv_copy_name(d->name, sizeof(d->name), virDomainGetName(dom));
                if (virDomainGetUUIDString(dom, d->uuid) < 0) {
                    d->uuid[0] = '\0';
                }
                m->n++;
                continue;
            }
            r = lv_error(be, ref, msg, sizeof(msg));
            if (r == -EHOSTDOWN) {
                hostdown = true;
                m->unanswered |= (uint64_t)1 << i;
            } else if (r == -EIO) {
                vf_log(LOG_ERR, "libvirt backend: looking up '%s' on '%s' failed: %s",
                       target, ref->uri, msg);
                failed = true;
                m->unanswered |= (uint64_t)1 << i;
            }
        }
    }
    m->incomplete = hostdown || failed || m->unanswered != 0;
    if (m->n == 0) {
        (void)lv_unanswered_text(snap, m->unanswered, down, sizeof(down));
        lv_match_done(m);
        if (hostdown) {
            vf_log(LOG_ERR,
                   "libvirt backend: '%s' not found, but URI(s) %s did not answer (it may be there)",
                   target, down);
            return -EHOSTDOWN;
        }
        return failed ? -EIO : -ENOENT;
    }
    for (i = 1; i < m->n; i++) {
        if (strcasecmp(m->d[i].uuid, m->d[0].uuid) != 0) {
            vf_log(LOG_ERR,
                   "libvirt backend: '%s' designates different domains (%s on '%s', %s on '%s'); "
                   "use the UUID", target, m->d[0].uuid, m->d[0].ref->uri, m->d[i].uuid,
                   m->d[i].ref->uri);
            lv_match_done(m);
            return -ENOTUNIQ;
        }
    }
    if (m->n > 1) {
        vf_dbg(1, "libvirt backend: domain '%s' (%s) is defined on %zu URIs",
               m->d[0].name, m->d[0].uuid, m->n);
    }
    return 0;
}

/**
 * Poll the state of @d every 50 ms until @want_off ? shut off (or gone) :
 * powered on (running, blocked, paused, pmsuspended), bounded by @deadline_ms.
 * \return 0, -ETIMEDOUT, -EIO (crashed / vanished while starting), -EHOSTDOWN
 */
static int
lv_wait_state(struct lv_backend *be, const struct lv_dom *d, bool want_off, int64_t deadline_ms)
{
    int state = VIR_DOMAIN_NOSTATE, r, left;

    for (;;) {
        r = lv_get_state(be, d, &state);
        if (want_off) {
            if (r == -ENOENT || (r == 0 && state == VIR_DOMAIN_SHUTOFF)) {
                return 0;
            }
        } else if (r == 0) {
            if (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED ||
                state == VIR_DOMAIN_PAUSED || state == VIR_DOMAIN_PMSUSPENDED) {
                return 0;
            }
            if (state == VIR_DOMAIN_CRASHED) {
                vf_log(LOG_ERR, "libvirt backend: domain '%s' on '%s' crashed while starting",
                       d->name, d->ref->uri);
                return -EIO;
            }
        } else if (r == -ENOENT) {
            vf_log(LOG_ERR, "libvirt backend: domain '%s' on '%s' vanished while starting",
                   d->name, d->ref->uri);
            return -EIO;
        }
        if (r < 0 && r != -ENOENT) {
            return r;
        }
        left = vf_ms_left(deadline_ms);
        if (left <= 0) {
            vf_log(LOG_ERR, "libvirt backend: domain '%s' on '%s' is still %s at the deadline",
                   d->name, d->ref->uri, lv_state_text(state));
            return -ETIMEDOUT;
        }
        lv_sleep_ms(left < LV_POLL_STEP_MS ? left : LV_POLL_STEP_MS);
    }
}

/* Common start of every domain operation. */
static int
lv_begin(struct lv_backend *be, const char *target, unsigned int flags, int64_t deadline_ms,
         struct lv_snap *snap, struct lv_match *m)
{
    int r;

    memset(m, 0, sizeof(*m));
    memset(snap, 0, sizeof(*snap));
    if ((flags & ~(unsigned int)VF_BE_BY_UUID) != 0) {
        return -EINVAL;
    }
    if (vf_ms_left(deadline_ms) <= 0) {
        return -ETIMEDOUT;
    }
    r = lv_snap_take(be, snap);
    if (r < 0) {
        return r;
    }
    if (snap->n_down == snap->n) {
        vf_log(LOG_ERR, "libvirt backend: no libvirt connection is up; cannot serve '%s'", target);
        return -EHOSTDOWN;
    }
    return lv_resolve(be, snap, target, flags, m);
}

/* Destroy @d (running or otherwise not shut off) and confirm it is off. */
static int
lv_destroy_confirmed(struct lv_backend *be, const struct lv_dom *d, int64_t deadline_ms)
{
    char msg[512];
    int r, state = VIR_DOMAIN_NOSTATE;

    vf_log(LOG_NOTICE, "libvirt backend: destroying domain '%s' (%s) on '%s'",
           d->name, d->uuid, d->ref->uri);
    if (virDomainDestroy(d->dom) < 0) {
        r = lv_error(be, d->ref, msg, sizeof(msg));
        if (r == -ENOENT) {
            return 0;               /* a transient domain vanished meanwhile */
        }
        if (r == -EIO && lv_get_state(be, d, &state) == 0 && state == VIR_DOMAIN_SHUTOFF) {
            return 0;               /* raced with another power-off */
        }
        vf_log(LOG_ERR, "libvirt backend: destroying domain '%s' on '%s' failed: %s",
               d->name, d->ref->uri, msg);
        return r;
    }
    r = lv_wait_state(be, d, true, deadline_ms);
    if (r == 0) {
        vf_log(LOG_NOTICE, "libvirt backend: domain '%s' (%s) on '%s' is off",
               d->name, d->uuid, d->ref->uri);
    }
    return r;
}

/* Start persistent @d and confirm it runs. */
static int
lv_create_confirmed(struct lv_backend *be, const struct lv_dom *d, int64_t deadline_ms)
{
    char msg[512];
    int r, state = VIR_DOMAIN_NOSTATE;

    vf_log(LOG_NOTICE, "libvirt backend: starting domain '%s' (%s) on '%s'",
           d->name, d->uuid, d->ref->uri);
    if (virDomainCreate(d->dom) < 0) {
        r = lv_error(be, d->ref, msg, sizeof(msg));
        if (r == -EIO && lv_get_state(be, d, &state) == 0 && state != VIR_DOMAIN_SHUTOFF) {
            return 0;               /* raced with another power-on */
        }
        vf_log(LOG_ERR, "libvirt backend: starting domain '%s' on '%s' failed: %s",
               d->name, d->ref->uri, msg);
        return r == -ENOENT ? -EIO : r;
    }
    r = lv_wait_state(be, d, false, deadline_ms);
    if (r == 0) {
        vf_log(LOG_NOTICE, "libvirt backend: domain '%s' (%s) on '%s' is running",
               d->name, d->uuid, d->ref->uri);
    }
    return r;
}

/* ---- backend ops -------------------------------------------------------- */

#define LV_STATE_GONE (-1)          /* the domain vanished after the lookup */
#define LV_STATE_ERR  (-2)          /* its state could not be read */

/**
 * State of every match into @states (LV_STATE_GONE for a copy that
 * vanished meanwhile: a transient domain that stopped).
 * \return 0, or the first error other than "gone"
 */
static int
lv_match_states(struct lv_backend *be, const struct lv_match *m, int *states)
{
    size_t i;
    int r, first = 0;

    for (i = 0; i < m->n; i++) {
        states[i] = VIR_DOMAIN_NOSTATE;
        r = lv_get_state(be, &m->d[i], &states[i]);
        if (r == -ENOENT) {
            states[i] = LV_STATE_GONE;
        } else if (r < 0) {
            states[i] = LV_STATE_ERR;
            if (first == 0) {
                first = r;
            }
        }
    }
    return first;
}

/* known to be powered on (an unreadable state is neither on nor off) */
static bool
lv_state_on(int state)
{
    return state != VIR_DOMAIN_SHUTOFF && state != LV_STATE_GONE && state != LV_STATE_ERR;
}

/* The copy to report or power on: a running one, else a persistent one, else the first. */
static size_t
lv_match_primary(const struct lv_match *m, const int *states, bool want_persistent)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        if (lv_state_on(states[i])) {
            return i;
        }
    }
    for (i = 0; want_persistent && i < m->n; i++) {
        if (states[i] == VIR_DOMAIN_SHUTOFF && virDomainIsPersistent(m->d[i].dom) == 1) {
            return i;
        }
    }
    for (i = 0; i < m->n; i++) {
        if (states[i] != LV_STATE_GONE && states[i] != LV_STATE_ERR) {
            return i;
        }
    }
    for (i = 0; i < m->n; i++) {
        if (states[i] != LV_STATE_GONE) {
            return i;
        }
    }
    return 0;
}

static bool
lv_all_gone(const struct lv_match *m, const int *states)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        if (states[i] != LV_STATE_GONE) {
            return false;
        }
    }
    return true;
}

static int
lv_do_lookup(void *priv, const char *target, unsigned int flags,
          struct vf_domain_info *ret_dom, int64_t deadline_ms)
{
    struct lv_backend *be = priv;
    struct vf_domain_info info;
    struct lv_snap snap;
    struct lv_match m;
    int *states = NULL;
    size_t p;
    int r;

    r = lv_begin(be, target, flags, deadline_ms, &snap, &m);
    if (r < 0) {
        goto out;
    }
    states = calloc(m.n, sizeof(*states));
    if (states == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = lv_match_states(be, &m, states);
    if (lv_all_gone(&m, states)) {
        r = r < 0 ? r : -ENOENT;
        goto out;
    }
    p = lv_match_primary(&m, states, false);
    if (states[p] == LV_STATE_GONE || (r < 0 && !lv_state_on(states[p]))) {
        goto out;
    }
    r = 0;
    memset(&info, 0, sizeof(info));
    lv_copy_name(info.name, sizeof(info.name), m.d[p].name);
    lv_copy_name(info.uuid, sizeof(info.uuid), m.d[p].uuid);
    info.state = states[p];
    if (m.incomplete && !lv_state_on(states[p])) {
        /* off where it could be checked, but a copy may run elsewhere */
        info.state = VIR_DOMAIN_NOSTATE;
    }
    info.persistent = virDomainIsPersistent(m.d[p].dom) == 1;
    *ret_dom = info;
out:
    free(states);
    lv_match_done(&m);
    lv_snap_done(&snap);
    return r;
}

/*
 * off: every copy of the domain (on every URI that has it) is destroyed
 * and confirmed shut off (or gone).  Success needs an answer from EVERY
 * configured URI: with a URI down (or failing), a copy may still run
 * there, so off fails with -EHOSTDOWN even after killing every copy it
 * could reach (those kills are kept: they can only make things safer).
 */
static int
lv_do_off(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct lv_backend *be = priv;
    struct lv_snap snap;
    struct lv_match m;
    int *states = NULL;
    char down[1024];
    bool killed = false;
    size_t i;
    int r, first = 0;

    r = lv_begin(be, target, flags, deadline_ms, &snap, &m);
    if (r < 0) {
        goto out;
    }
    states = calloc(m.n, sizeof(*states));
    if (states == NULL) {
        r = -ENOMEM;
        goto out;
    }
    first = lv_match_states(be, &m, states);
    for (i = 0; i < m.n; i++) {
        if (states[i] == LV_STATE_GONE) {
            continue;               /* transient domain gone: it is off */
        }
        if (states[i] == LV_STATE_ERR) {
            continue;               /* state unknown: off fails with that error */
        }
        if (states[i] == VIR_DOMAIN_SHUTOFF) {
            vf_log(LOG_INFO, "libvirt backend: domain '%s' (%s) on '%s' is already off",
                   m.d[i].name, m.d[i].uuid, m.d[i].ref->uri);
            continue;
        }
        r = lv_destroy_confirmed(be, &m.d[i], deadline_ms);
        if (r < 0 && first == 0) {
            first = r;
        } else if (r == 0) {
            killed = true;
        }
    }
    r = first;
    if (m.incomplete) {
        vf_log(LOG_ERR,
               "libvirt backend: off of '%s' NOT confirmed: URI(s) %s did not answer and may run "
               "a copy (%s where it could be reached)", target,
               lv_unanswered_text(&snap, m.unanswered, down, sizeof(down)),
               killed ? "killed" : "off");
        r = -EHOSTDOWN;
    }
out:
    free(states);
    lv_match_done(&m);
    lv_snap_done(&snap);
    return r;
}

/*
 * on: a copy already running on any URI is success (also with a URI
 * down: the domain IS on, which is what the admin asked for).  Starting a
 * copy needs an answer from every URI: a copy may run on one that did not
 * answer, and a second copy would corrupt shared storage (-EHOSTDOWN).
 */
static int
lv_do_on(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct lv_backend *be = priv;
    struct lv_snap snap;
    struct lv_match m;
    int *states = NULL;
    char down[1024];
    size_t p;
    int r;

    r = lv_begin(be, target, flags, deadline_ms, &snap, &m);
    if (r < 0) {
        goto out;
    }
    states = calloc(m.n, sizeof(*states));
    if (states == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = lv_match_states(be, &m, states);
    p = lv_match_primary(&m, states, true);
    if (lv_state_on(states[p])) {
        vf_log(LOG_INFO, "libvirt backend: domain '%s' (%s) on '%s' is already on (%s)",
               m.d[p].name, m.d[p].uuid, m.d[p].ref->uri, lv_state_text(states[p]));
        r = 0;
        goto out;
    }
    if (r < 0) {
        goto out;
    }
    if (lv_all_gone(&m, states)) {
        r = -ENOENT;
        goto out;
    }
    if (m.incomplete) {
        /* starting it here could run a second copy next to one on a URI that is down */
        vf_log(LOG_ERR, "libvirt backend: not starting '%s': URI(s) %s did not answer (it may run "
               "there)", target, lv_unanswered_text(&snap, m.unanswered, down, sizeof(down)));
        r = -EHOSTDOWN;
        goto out;
    }
    if (virDomainIsPersistent(m.d[p].dom) != 1) {
        vf_log(LOG_ERR,
               "libvirt backend: domain '%s' on '%s' is transient: nothing to start",
               m.d[p].name, m.d[p].ref->uri);
        r = -EOPNOTSUPP;
        goto out;
    }
    r = lv_create_confirmed(be, &m.d[p], deadline_ms);
out:
    free(states);
    lv_match_done(&m);
    lv_snap_done(&snap);
    return r;
}

/*
 * reboot = confirmed off (of every running copy), then on (of one copy).
 *  - A domain that is already off: success without powering it on (the
 *    reference behaviour), unless reboot_powers_on = "yes".
 *  - Persistent domains are started with virDomainCreate, i.e. from their
 *    persistent definition (pending configuration changes apply, as on a
 *    real power cycle).  Transient domains have no definition once
 *    destroyed, so their live XML is saved first and they are re-created
 *    with virDomainCreateXML.
 *  - If the power-on fails after a confirmed off, the reboot still counts
 *    as a successful fence (the domain was killed); the failure is logged
 *    at error level.
 *  - With a URI that did not answer, reboot kills every running copy it
 *    can reach, starts nothing, and fails with -EHOSTDOWN (see off).
 */
static int
lv_do_reboot(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct lv_backend *be = priv;
    struct lv_snap snap;
    struct lv_match m;
    struct lv_dom nd;
    const struct lv_dom *d;
    int *states = NULL;
    char *xml = NULL;
    char msg[512], down[1024];
    bool persistent;
    size_t i, p;
    int r, r_on;

    memset(&nd, 0, sizeof(nd));
    r = lv_begin(be, target, flags, deadline_ms, &snap, &m);
    if (r < 0) {
        goto out;
    }
    states = calloc(m.n, sizeof(*states));
    if (states == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = lv_match_states(be, &m, states);
    if (r < 0) {
        goto out;                   /* unknown state of a copy: touch nothing */
    }
    if (lv_all_gone(&m, states)) {
        r = -ENOENT;
        goto out;
    }
    if (m.incomplete) {
        /* a copy may run on a URI that did not answer: kill what can be
         * reached, start nothing (a second copy could run next to it) */
        for (i = 0; i < m.n; i++) {
            if (lv_state_on(states[i])) {
                (void)lv_destroy_confirmed(be, &m.d[i], deadline_ms);
            }
        }
        vf_log(LOG_ERR,
               "libvirt backend: reboot of '%s' NOT confirmed: URI(s) %s did not answer and may "
               "run a copy; reachable copies are off, none was started", target,
               lv_unanswered_text(&snap, m.unanswered, down, sizeof(down)));
        r = -EHOSTDOWN;
        goto out;
    }
    p = lv_match_primary(&m, states, true);
    d = &m.d[p];
    persistent = virDomainIsPersistent(d->dom) == 1;
    vf_log(LOG_NOTICE, "libvirt backend: rebooting domain '%s' (%s) on '%s'",
           d->name, d->uuid, d->ref->uri);
    if (!lv_state_on(states[p])) {
        if (!snap.reboot_powers_on) {
            vf_log(LOG_INFO,
                   "libvirt backend: '%s' is off; left off (reboot_powers_on = no)",
                   d->name);
            goto out;
        }
        r = persistent ? lv_create_confirmed(be, d, deadline_ms) : -EOPNOTSUPP;
        goto out;
    }
    if (!persistent) {
        xml = virDomainGetXMLDesc(d->dom, VIR_DOMAIN_XML_SECURE);
        if (xml == NULL) {
            xml = virDomainGetXMLDesc(d->dom, 0);
        }
        if (xml == NULL) {
            (void)lv_error(be, d->ref, msg, sizeof(msg));
            vf_log(LOG_ERR,
                   "libvirt backend: no XML of transient '%s' (%s): it will not be restarted",
                   d->name, msg);
        }
    }
    for (i = 0; i < m.n; i++) {
        if (!lv_state_on(states[i])) {
            continue;
        }
        r = lv_destroy_confirmed(be, &m.d[i], deadline_ms);
        if (r < 0) {
            goto out;               /* not confirmed off: no success, no restart */
        }
    }
    if (persistent) {
        r_on = lv_create_confirmed(be, d, deadline_ms);
    } else if (xml != NULL) {
        vf_log(LOG_NOTICE,
               "libvirt backend: re-creating transient domain '%s' on '%s' from its saved XML",
               d->name, d->ref->uri);
        nd.dom = virDomainCreateXML(d->ref->conn, xml, 0);
        nd.ref = d->ref;
        lv_copy_name(nd.name, sizeof(nd.name), d->name);
        lv_copy_name(nd.uuid, sizeof(nd.uuid), d->uuid);
        if (nd.dom == NULL) {
            r_on = lv_error(be, d->ref, msg, sizeof(msg));
            vf_log(LOG_ERR, "libvirt backend: re-creating domain '%s' failed: %s", d->name, msg);
        } else {
            r_on = lv_wait_state(be, &nd, false, deadline_ms);
        }
    } else {
        r_on = -EIO;
    }
    if (r_on < 0) {
        vf_log(LOG_ERR,
               "libvirt backend: '%s' (%s) is off but NOT started again (%s); fenced, so done",
               d->name, d->uuid, strerror(-r_on));
    }
    r = 0;
out:
    free(xml);
    free(states);
    lv_dom_done(&nd);
    lv_match_done(&m);
    lv_snap_done(&snap);
    return r;
}

/*
 * status: shut off => OFF.  Every other state => ON:
 *  running, blocked, paused, pmsuspended, shutdown (in progress) and
 *  nostate are guests that still exist and hold their resources; crashed is
 *  ON as well, because a crashed domain kept by libvirt may still hold its
 *  disk locks until it is destroyed, so the fencer must still issue off.
 * ON if any copy (on any URI) is on; OFF only if every copy is off and
 * every URI could be asked (else -EHOSTDOWN).
 * Unknown domains are -ENOENT (answered FAIL, never OFF: D5).
 */
static int
lv_do_status(void *priv, const char *target, unsigned int flags, bool *ret_on, int64_t deadline_ms)
{
    struct lv_backend *be = priv;
    struct lv_snap snap;
    struct lv_match m;
    int *states = NULL;
    char down[1024];
    size_t p;
    int r;

    r = lv_begin(be, target, flags, deadline_ms, &snap, &m);
    if (r < 0) {
        goto out;
    }
    states = calloc(m.n, sizeof(*states));
    if (states == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = lv_match_states(be, &m, states);
    p = lv_match_primary(&m, states, false);
    if (lv_state_on(states[p])) {
        vf_dbg(1, "libvirt backend: domain '%s' (%s) on '%s' is %s",
               m.d[p].name, m.d[p].uuid, m.d[p].ref->uri, lv_state_text(states[p]));
        *ret_on = true;
        r = 0;
        goto out;
    }
    if (r < 0) {
        goto out;
    }
    if (lv_all_gone(&m, states)) {
        r = -ENOENT;
        goto out;
    }
    if (m.incomplete) {
        vf_log(LOG_ERR, "libvirt backend: '%s' is off where it could be checked, but URI(s) %s "
               "did not answer (it may run there); status unknown", target,
               lv_unanswered_text(&snap, m.unanswered, down, sizeof(down)));
        r = -EHOSTDOWN;
        goto out;
    }
    vf_dbg(1, "libvirt backend: domain '%s' (%s) is shut off", m.d[p].name, m.d[p].uuid);
    *ret_on = false;
out:
    free(states);
    lv_match_done(&m);
    lv_snap_done(&snap);
    return r;
}

static int
lv_info_cmp(const void *a, const void *b)
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

static int
lv_info_ptr_cmp(const void *a, const void *b)
{
    return lv_info_cmp(*(const struct vf_domain_info *const *)a,
                       *(const struct vf_domain_info *const *)b);
}

/* Canonical lower-case text of a raw UUID (what virDomainGetUUIDString
 * gives, without its printf). */
static void
lv_uuid_text(const unsigned char raw[VIR_UUID_BUFLEN], char out[VIR_UUID_STRING_BUFLEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;

    for (i = 0; i < VIR_UUID_BUFLEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[o++] = '-';
        }
        out[o++] = hex[raw[i] >> 4];
        out[o++] = hex[raw[i] & 0xf];
    }
    out[o] = '\0';
}

/* Open-addressing set of indices into the list, keyed by UUID text, used to
 * merge the copies of a domain found on several URIs. */
struct lv_uuid_set {
    size_t *slot;                   /* index + 1; 0 = empty */
    size_t mask;
};

static size_t
lv_uuid_hash(const char *uuid)
{
    size_t h = 1469598103934665603ULL & SIZE_MAX;

    for (; *uuid != '\0'; uuid++) {
        h = (h ^ (unsigned char)*uuid) * (1099511628211ULL & SIZE_MAX);
    }
    return h;
}

/* Index of @uuid in @all via @set, or (size_t)-1 */
static size_t
lv_uuid_set_find(const struct lv_uuid_set *set, const struct vf_domain_info *all,
                 const char *uuid)
{
    size_t k = lv_uuid_hash(uuid) & set->mask;

    while (set->slot[k] != 0) {
        if (strcmp(all[set->slot[k] - 1].uuid, uuid) == 0) {
            return set->slot[k] - 1;
        }
        k = (k + 1) & set->mask;
    }
    return (size_t)-1;
}

/* Build the set over all[0..n) (entries with a UUID).  \return 0 or -ENOMEM */
static int
lv_uuid_set_build(struct lv_uuid_set *set, const struct vf_domain_info *all, size_t n)
{
    size_t cap = 16, i;

    while (cap < 2 * n + 1) {
        cap *= 2;
    }
    free(set->slot);
    set->slot = calloc(cap, sizeof(*set->slot));
    if (set->slot == NULL) {
        return -ENOMEM;
    }
    set->mask = cap - 1;
    for (i = 0; i < n; i++) {
        size_t k;

        if (all[i].uuid[0] == '\0') {
            continue;
        }
        k = lv_uuid_hash(all[i].uuid) & set->mask;
        while (set->slot[k] != 0) {
            k = (k + 1) & set->mask;
        }
        set->slot[k] = i + 1;
    }
    return 0;
}

/*
 * One URI's domains in bulk: name, UUID, state and persistence from one
 * virConnectGetAllDomainStats(STATE) call plus one listing of the transient
 * domains, instead of a GetState and an IsPersistent call per domain (each
 * libvirt domain call formats the UUID for its debug log: with 10,000
 * domains that was a third of the time of a list).  Appends to @all (room
 * for @room entries checked by the caller via @cap).
 * \return number appended (>= 0); -ENOTSUP when the driver cannot do this
 *         (the caller falls back to per-domain calls); -errno otherwise
 */
static int
lv_list_bulk(struct lv_backend *be, const struct lv_ref *ref, struct vf_domain_info **all,
             size_t *n_all, size_t *cap)
{
    virDomainStatsRecordPtr *recs = NULL;
    virDomainPtr *trans = NULL;
    int n_recs, n_trans, j, k, r = 0;
    size_t need, added = 0;
    char msg[512];

    n_recs = virConnectGetAllDomainStats(ref->conn, VIR_DOMAIN_STATS_STATE, &recs, 0);
    if (n_recs < 0) {
        virErrorPtr e = virGetLastError();

        if (e != NULL && (e->code == VIR_ERR_NO_SUPPORT ||
                          e->code == VIR_ERR_ARGUMENT_UNSUPPORTED)) {
            return -ENOTSUP;
        }
        r = lv_error(be, ref, msg, sizeof(msg));
        vf_log(LOG_ERR, "libvirt backend: listing domains on '%s' failed: %s", ref->uri, msg);
        return r;
    }
    n_trans = virConnectListAllDomains(ref->conn, &trans, VIR_CONNECT_LIST_DOMAINS_TRANSIENT);
    if (n_trans < 0) {
        virDomainStatsRecordListFree(recs);
        return -ENOTSUP;
    }
    need = *n_all + (size_t)n_recs;
    if (need > *cap) {
        size_t ncap = *cap == 0 ? 16 : *cap;
        struct vf_domain_info *tmp;

        while (ncap < need) {
            ncap *= 2;
        }
        tmp = realloc(*all, ncap * sizeof(*tmp));
        if (tmp == NULL) {
            r = -ENOMEM;
            goto out;
        }
        *all = tmp;
        *cap = ncap;
    }
    for (j = 0; j < n_recs; j++) {
        struct vf_domain_info *info = &(*all)[*n_all + added];
        virDomainPtr dom = recs[j]->dom;
        unsigned char raw[VIR_UUID_BUFLEN];
        bool have_state = false;
        const char *name = virDomainGetName(dom);

        memset(info, 0, sizeof(*info));
        lv_copy_name(info->name, sizeof(info->name), name);
        if (virDomainGetUUID(dom, raw) == 0) {
            lv_uuid_text(raw, info->uuid);
        }
        info->state = VIR_DOMAIN_NOSTATE;
        for (k = 0; k < recs[j]->nparams; k++) {
            const virTypedParameter *tp = &recs[j]->params[k];

            if (strcmp(tp->field, "state.state") == 0 && tp->type == VIR_TYPED_PARAM_INT) {
                info->state = tp->value.i;
                have_state = true;
                break;
            }
        }
        if (!have_state) {
            int state = VIR_DOMAIN_NOSTATE, reason = 0;

            if (virDomainGetState(dom, &state, &reason, 0) == 0) {
                info->state = state;
            }
        }
        info->persistent = true;
        for (k = 0; k < n_trans; k++) {
            const char *tn = virDomainGetName(trans[k]);

            if (name != NULL && tn != NULL && strcmp(tn, name) == 0) {
                info->persistent = false;
                break;
            }
        }
        added++;
    }
    *n_all += added;
    r = (int)added;
out:
    for (k = 0; k < n_trans; k++) {
        (void)virDomainFree(trans[k]);
    }
    free(trans);
    virDomainStatsRecordListFree(recs);
    return r;
}

/*
 * Entries all[n_before..*n_all) were just listed from @ref: fold those whose
 * UUID an earlier URI already listed (in @set, over all[0..n_before)) into
 * that entry and drop them from the array.
 */
static void
lv_merge_dups(const struct lv_ref *ref, struct vf_domain_info *all, size_t *n_all,
              size_t n_before, const struct lv_uuid_set *set)
{
    size_t j, out = n_before, k;

    if (n_before == 0) {
        return;
    }
    for (j = n_before; j < *n_all; j++) {
        k = all[j].uuid[0] != '\0' ? lv_uuid_set_find(set, all, all[j].uuid) : (size_t)-1;
        if (k != (size_t)-1) {
            /* one entry per domain; its state is "on" if any copy is on */
            if (all[k].state == VIR_DOMAIN_SHUTOFF && all[j].state != VIR_DOMAIN_SHUTOFF) {
                all[k].state = all[j].state;
            }
            vf_dbg(1, "libvirt backend: domain '%s' (%s) also on '%s', listed once",
                   all[j].name, all[j].uuid, ref->uri);
            continue;
        }
        if (out != j) {
            all[out] = all[j];
        }
        out++;
    }
    *n_all = out;
}

/*
 * list: every domain (active and defined-inactive) of every connected URI,
 * de-duplicated by UUID (first URI wins), sorted by name
 * (case-insensitively).  If some URIs are down the domains of the others
 * are still listed (warning logged); if none is up, -EHOSTDOWN.  The
 * result array goes to *@ret_all (caller frees).  UUIDs are unique within
 * one URI, so a domain is only looked for among those of earlier URIs (a
 * hash set, rebuilt per URI: linear, not quadratic, in the domain count).
 */
static int
lv_do_list(void *priv, struct vf_domain_info **ret_all, size_t *ret_n, int64_t deadline_ms)
{
    struct lv_backend *be = priv;
    struct vf_domain_info *all = NULL, *tmp;
    struct lv_uuid_set set = { NULL, 0 };
    struct lv_snap snap;
    size_t n_all = 0, cap = 0, n_before, i, j, k;
    char msg[512];
    int r, n, state, reason;

    *ret_all = NULL;
    *ret_n = 0;
    memset(&snap, 0, sizeof(snap));
    if (vf_ms_left(deadline_ms) <= 0) {
        return -ETIMEDOUT;
    }
    r = lv_snap_take(be, &snap);
    if (r < 0) {
        goto out;
    }
    if (snap.n_down == snap.n) {
        vf_log(LOG_ERR, "libvirt backend: no libvirt connection is up; cannot list domains");
        r = -EHOSTDOWN;
        goto out;
    }
    for (i = 0; i < snap.n; i++) {
        virDomainPtr *doms = NULL;

        if (snap.refs[i].conn == NULL) {
            vf_log(LOG_WARNING,
                   "libvirt backend: '%s' is not connected; its domains are missing from the list",
                   snap.refs[i].uri);
            continue;
        }
        n_before = n_all;
        if (n_before > 0) {
            r = lv_uuid_set_build(&set, all, n_before);
            if (r < 0) {
                goto out;
            }
        }
        r = lv_list_bulk(be, &snap.refs[i], &all, &n_all, &cap);
        if (r >= 0) {
            lv_merge_dups(&snap.refs[i], all, &n_all, n_before, &set);
            continue;
        }
        if (r != -ENOTSUP) {
            goto out;
        }
        n = virConnectListAllDomains(snap.refs[i].conn, &doms, 0);
        if (n < 0) {
            r = lv_error(be, &snap.refs[i], msg, sizeof(msg));
            vf_log(LOG_ERR, "libvirt backend: listing domains on '%s' failed: %s",
                   snap.refs[i].uri, msg);
            goto out;
        }
        if (n_all + (size_t)n > cap) {
            size_t ncap = cap == 0 ? 16 : cap;

            while (ncap < n_all + (size_t)n) {
                ncap *= 2;
            }
            tmp = realloc(all, ncap * sizeof(*all));
            if (tmp == NULL) {
                for (j = 0; j < (size_t)n; j++) {
                    (void)virDomainFree(doms[j]);
                }
                free(doms);
                r = -ENOMEM;
                goto out;
            }
            all = tmp;
            cap = ncap;
        }
        for (j = 0; j < (size_t)n; j++) {
            struct vf_domain_info *info = &all[n_all];
            unsigned char raw[VIR_UUID_BUFLEN];

            memset(info, 0, sizeof(*info));
            lv_copy_name(info->name, sizeof(info->name), virDomainGetName(doms[j]));
            if (virDomainGetUUID(doms[j], raw) == 0) {
                lv_uuid_text(raw, info->uuid);
            }
            state = VIR_DOMAIN_NOSTATE;
            if (virDomainGetState(doms[j], &state, &reason, 0) < 0) {
                state = VIR_DOMAIN_NOSTATE;
            }
            info->state = state;
            info->persistent = virDomainIsPersistent(doms[j]) == 1;
            (void)virDomainFree(doms[j]);
            k = n_before > 0 && info->uuid[0] != '\0' ?
                lv_uuid_set_find(&set, all, info->uuid) : (size_t)-1;
            if (k != (size_t)-1) {
                /* one entry per domain; its state is "on" if any copy is on
                 * (a shut-off copy must not hide a running one) */
                if (all[k].state == VIR_DOMAIN_SHUTOFF && info->state != VIR_DOMAIN_SHUTOFF) {
                    all[k].state = info->state;
                }
                vf_dbg(1, "libvirt backend: domain '%s' (%s) also on '%s', listed once",
                       info->name, info->uuid, snap.refs[i].uri);
                continue;
            }
            n_all++;
        }
        free(doms);
    }
    if (n_all > 1) {
        /* sort pointers, then copy once: qsort would move the 300-byte
         * entries themselves some log2(n) times */
        const struct vf_domain_info **ptrs = malloc(n_all * sizeof(*ptrs));
        struct vf_domain_info *sorted = malloc(n_all * sizeof(*sorted));

        if (ptrs == NULL || sorted == NULL) {
            free(ptrs);
            free(sorted);
            qsort(all, n_all, sizeof(*all), lv_info_cmp);
        } else {
            for (i = 0; i < n_all; i++) {
                ptrs[i] = &all[i];
            }
            qsort(ptrs, n_all, sizeof(*ptrs), lv_info_ptr_cmp);
            for (i = 0; i < n_all; i++) {
                sorted[i] = *ptrs[i];
            }
            free(ptrs);
            free(all);
            all = sorted;
        }
    }
    *ret_all = all;
    *ret_n = n_all;
    all = NULL;
    r = 0;
out:
    free(set.slot);
    free(all);
    lv_snap_done(&snap);
    return r;
}

/*
 * monitor: healthy while at least one configured URI is connected and
 * answers (virConnectIsAlive plus one cheap call); URIs that are down are
 * named in a warning.  -EHOSTDOWN when none is usable.
 */
static int
lv_do_monitor(void *priv, int64_t deadline_ms)
{
    struct lv_backend *be = priv;
    struct lv_snap snap;
    size_t i, up = 0;
    char msg[512];
    int r;

    r = lv_snap_take(be, &snap);
    if (r < 0) {
        return r;
    }
    for (i = 0; i < snap.n; i++) {
        if (snap.refs[i].conn == NULL) {
            vf_log(LOG_WARNING,
                   "libvirt backend: monitor: '%s' is not connected", snap.refs[i].uri);
            continue;
        }
        if (vf_ms_left(deadline_ms) <= 0) {
            r = -ETIMEDOUT;
            goto out;
        }
        if (virConnectIsAlive(snap.refs[i].conn) == 0 ||
            virConnectNumOfDomains(snap.refs[i].conn) < 0) {
            (void)lv_error(be, &snap.refs[i], msg, sizeof(msg));
            vf_log(LOG_WARNING, "libvirt backend: monitor: '%s' does not answer: %s",
                   snap.refs[i].uri, msg);
            continue;
        }
        up++;
    }
    r = up > 0 ? 0 : -EHOSTDOWN;
    if (r < 0) {
        vf_log(LOG_ERR, "libvirt backend: monitor: no libvirt connection is up");
    }
out:
    lv_snap_done(&snap);
    return r;
}

/* Install @c as the URI list, keeping connections of unchanged URIs. */
static int
lv_apply_conf(struct lv_backend *be, struct lv_conf *c)
{
    struct lv_uri *nu, *old;
    virConnectPtr *drop = NULL;
    size_t i, n_old, n_drop = 0;
    int64_t now = vf_now_ms();

    nu = calloc(c->n_uris, sizeof(*nu));
    drop = calloc(be->n_uris + 1, sizeof(*drop));
    if (nu == NULL || drop == NULL) {
        free(nu);
        free(drop);
        return -ENOMEM;
    }
    pthread_mutex_lock(&be->lock);
    for (i = 0; i < c->n_uris; i++) {
        struct lv_uri *prev = lv_find_uri_locked(be, c->uris[i]);

        if (prev != NULL) {
            nu[i] = *prev;
            prev->uri = NULL;       /* moved */
            prev->conn = NULL;
        } else {
            nu[i].uri = c->uris[i];
            c->uris[i] = NULL;
            nu[i].backoff_ms = LV_BACKOFF_MIN_MS;
            nu[i].next_try_ms = now;
        }
    }
    old = be->uris;
    n_old = be->n_uris;
    be->uris = nu;
    be->n_uris = c->n_uris;
    be->reboot_powers_on = c->reboot_powers_on;
    for (i = 0; i < n_old; i++) {
        if (old[i].conn != NULL) {
            drop[n_drop++] = old[i].conn;
        }
        if (old[i].uri != NULL) {
            vf_log(LOG_INFO,
                   "libvirt backend: URI '%s' removed from the configuration", old[i].uri);
        }
        free(old[i].uri);
    }
    free(old);
    pthread_cond_broadcast(&be->cond);
    pthread_mutex_unlock(&be->lock);
    lv_drop_bounded(drop, n_drop, LV_FINI_WAIT_MS);
    return 0;
}

static void lv_fini(void *priv);

static int
lv_init(const struct vf_host_api *host, const struct vf_conf *conf, void **ret_priv,
        char *err, size_t err_len)
{
    struct lv_backend *be = NULL;
    struct lv_conf c = { 0 };
    pthread_condattr_t ca;
    struct timespec ts;
    int64_t until;
    size_t i, up = 0;
    int r;

    (void)host;         /* logs through vf_log() for now */
    r = lv_conf_read(conf, &c, err, err_len);
    if (r < 0) {
        if (r == -ENOMEM) {
            snprintf(err, err_len, "libvirt backend: out of memory");
        }
        return r;
    }
    be = calloc(1, sizeof(*be));
    if (be == NULL) {
        r = -ENOMEM;
        snprintf(err, err_len, "libvirt backend: out of memory");
        goto fail;
    }
    be->tick_timer = -1;
    atomic_init(&be->event_stop, false);
    atomic_init(&be->refs, 1);
    atomic_init(&be->hung, 0);
    pthread_mutex_init(&be->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&be->cond, &ca);
    pthread_cond_init(&be->xcond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&be->xlock, NULL);

    if (virInitialize() < 0) {
        snprintf(err, err_len, "libvirt backend: virInitialize failed");
        r = -EIO;
        goto fail;
    }
    virSetErrorFunc(NULL, lv_silent_error);
    if (virEventRegisterDefaultImpl() < 0) {
        snprintf(err, err_len, "libvirt backend: cannot register the libvirt event loop");
        r = -EIO;
        goto fail;
    }
    be->tick_timer = virEventAddTimeout(LV_EVENT_TICK_MS, lv_tick, NULL, NULL);
    if (be->tick_timer < 0) {
        vf_log(LOG_WARNING,
               "libvirt backend: cannot add the event loop timer; shutdown may be slow, ignoring");
    }
    r = lv_apply_conf(be, &c);
    if (r < 0) {
        snprintf(err, err_len, "libvirt backend: out of memory");
        goto fail;
    }
    r = -pthread_create(&be->event_thread, NULL, lv_event_main, be);
    if (r < 0) {
        snprintf(err, err_len, "libvirt backend: cannot start the event thread: %s", strerror(-r));
        goto fail;
    }
    be->event_running = true;
    atomic_fetch_add(&be->refs, 1);             /* the reconnect thread's reference */
    r = -pthread_create(&be->reconnect_thread, NULL, lv_reconnect_main, be);
    if (r < 0) {
        atomic_fetch_sub(&be->refs, 1);
        snprintf(err, err_len, "libvirt backend: cannot start the reconnect thread: %s",
                 strerror(-r));
        goto fail;
    }
    be->reconnect_running = true;

    /* bounded wait for the first connection attempts */
    until = vf_now_ms() + LV_INIT_WAIT_MS;
    ts.tv_sec = (time_t)(until / 1000);
    ts.tv_nsec = (long)(until % 1000) * 1000000L;
    pthread_mutex_lock(&be->lock);
    while (!be->first_round_done) {
        if (pthread_cond_timedwait(&be->cond, &be->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    for (i = 0; i < be->n_uris; i++) {
        if (be->uris[i].conn != NULL) {
            up++;
        }
    }
    vf_log(up > 0 ? LOG_INFO : LOG_WARNING,
           "libvirt backend: %zu of %zu libvirt URI(s) connected%s; reboot_powers_on = %s",
           up, be->n_uris, up == be->n_uris ? "" : ", retrying the others in the background",
           be->reboot_powers_on ? "yes" : "no");
    pthread_mutex_unlock(&be->lock);
    lv_conf_done(&c);
    *ret_priv = be;
    return 0;
fail:
    lv_conf_done(&c);
    lv_fini(be);
    return r;
}

static void
lv_be_unref(struct lv_backend *be)
{
    if (be == NULL || atomic_fetch_sub(&be->refs, 1) != 1) {
        return;
    }
    pthread_cond_destroy(&be->cond);
    pthread_mutex_destroy(&be->lock);
    pthread_cond_destroy(&be->xcond);
    pthread_mutex_destroy(&be->xlock);
    free(be);
}

static void
lv_fini(void *priv)
{
    struct lv_backend *be = priv;
    struct lv_uri *uris;
    virConnectPtr *drop;
    struct timespec ts;
    int64_t until;
    bool done;
    size_t i, n, n_drop = 0;

    if (be == NULL) {
        return;
    }
    /* the reconnect thread may be stuck in virConnectOpen (hung daemon,
     * unreachable remote host): wait a little, then leave it behind; it
     * holds its own reference and drops what it opens once it returns */
    until = vf_now_ms() + LV_FINI_WAIT_MS;
    ts.tv_sec = (time_t)(until / 1000);
    ts.tv_nsec = (long)(until % 1000) * 1000000L;
    pthread_mutex_lock(&be->lock);
    be->stopping = true;
    pthread_cond_broadcast(&be->cond);
    while (be->reconnect_running && !be->reconnect_done) {
        if (pthread_cond_timedwait(&be->cond, &be->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    done = be->reconnect_done;
    pthread_mutex_unlock(&be->lock);
    if (be->reconnect_running && done) {
        pthread_join(be->reconnect_thread, NULL);
    } else if (be->reconnect_running) {
        vf_log(LOG_WARNING,
               "libvirt backend: reconnect thread stuck in a libvirt call; left behind");
        pthread_detach(be->reconnect_thread);
    }
    pthread_mutex_lock(&be->lock);
    uris = be->uris;
    n = be->n_uris;
    be->uris = NULL;
    be->n_uris = 0;
    pthread_mutex_unlock(&be->lock);
    drop = calloc(n + 1, sizeof(*drop));
    for (i = 0; i < n; i++) {
        if (drop != NULL && uris[i].conn != NULL) {
            drop[n_drop++] = uris[i].conn;
        } else {
            lv_conn_drop(uris[i].conn);
        }
        free(uris[i].uri);
    }
    free(uris);
    lv_drop_bounded(drop, n_drop, LV_FINI_WAIT_MS);
    if (be->event_running) {
        atomic_store(&be->event_stop, true);
        if (be->tick_timer >= 0) {
            virEventUpdateTimeout(be->tick_timer, 0);   /* wake the loop now */
        }
        pthread_join(be->event_thread, NULL);
    }
    if (be->tick_timer >= 0) {
        (void)virEventRemoveTimeout(be->tick_timer);
    }
    if (atomic_load(&be->hung) > 0) {
        vf_log(LOG_WARNING, "libvirt backend: %d libvirt call(s) still hanging at shutdown",
               atomic_load(&be->hung));
    }
    /* idle call-pool threads exit now (each drops its reference); one busy
     * in a hung call exits when the call returns */
    pthread_mutex_lock(&be->xlock);
    be->xstop = true;
    pthread_cond_broadcast(&be->xcond);
    pthread_mutex_unlock(&be->xlock);
    lv_be_unref(be);
}

static int
lv_reload(void *priv, const struct vf_conf *conf, char *err, size_t err_len)
{
    struct lv_backend *be = priv;
    struct lv_conf c = { 0 };
    int r;

    r = lv_conf_read(conf, &c, err, err_len);
    if (r < 0) {
        return r;
    }
    r = lv_apply_conf(be, &c);
    if (r < 0) {
        snprintf(err, err_len, "libvirt backend: out of memory");
    }
    lv_conf_done(&c);
    return r;
}

/* ---- bounded calls -------------------------------------------------------- */

/*
 * Every backend operation runs in a thread of the backend's call pool
 * (reusable threads: one is started when no idle one is waiting; idle ones
 * exit after LV_POOL_IDLE_MS) while the caller waits until the request
 * deadline (plus LV_GRACE_MS for the operation to report its own timeout).  A libvirt call that hangs (libvirtd
 * stopped or wedged, before keepalive closes the connection) therefore
 * costs the caller no more than its deadline: the call is abandoned, the
 * caller gets -ETIMEDOUT, and until the abandoned call returns every new
 * request fails at once with -EHOSTDOWN instead of queueing behind it.  An
 * abandoned off/reboot may still complete later; it was reported as failed,
 * which is the safe direction for fencing.
 */
#define LV_GRACE_MS 250
#define LV_POOL_IDLE_MS 30000

enum lv_op {
    LV_OP_LOOKUP,
    LV_OP_OFF,
    LV_OP_ON,
    LV_OP_REBOOT,
    LV_OP_STATUS,
    LV_OP_LIST,
    LV_OP_MONITOR,
};

struct lv_job {
    struct lv_job *next;            /* call pool queue, under be->xlock */
    atomic_int refs;                /* caller + worker */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    bool abandoned;
    struct lv_backend *be;          /* referenced */
    enum lv_op op;
    char *target;
    unsigned int flags;
    int64_t deadline_ms;
    /* results */
    int r;
    bool on;
    struct vf_domain_info info;
    struct vf_domain_info *doms;    /* list result */
    size_t n_doms;
};

static const char *const lv_op_names[] = {
    [LV_OP_LOOKUP] = "lookup", [LV_OP_OFF] = "off", [LV_OP_ON] = "on",
    [LV_OP_REBOOT] = "reboot", [LV_OP_STATUS] = "status", [LV_OP_LIST] = "list",
    [LV_OP_MONITOR] = "monitor",
};

static void
lv_job_unref(struct lv_job *job)
{
    if (job == NULL || atomic_fetch_sub(&job->refs, 1) != 1) {
        return;
    }
    lv_be_unref(job->be);
    pthread_cond_destroy(&job->cond);
    pthread_mutex_destroy(&job->lock);
    free(job->target);
    free(job->doms);
    free(job);
}

static void
lv_job_exec(struct lv_job *job)
{
    struct lv_backend *be = job->be;

    switch (job->op) {
    case LV_OP_LOOKUP:
        job->r = lv_do_lookup(be, job->target, job->flags, &job->info, job->deadline_ms);
        break;
    case LV_OP_OFF:
        job->r = lv_do_off(be, job->target, job->flags, job->deadline_ms);
        break;
    case LV_OP_ON:
        job->r = lv_do_on(be, job->target, job->flags, job->deadline_ms);
        break;
    case LV_OP_REBOOT:
        job->r = lv_do_reboot(be, job->target, job->flags, job->deadline_ms);
        break;
    case LV_OP_STATUS:
        job->r = lv_do_status(be, job->target, job->flags, &job->on, job->deadline_ms);
        break;
    case LV_OP_LIST:
        job->r = lv_do_list(be, &job->doms, &job->n_doms, job->deadline_ms);
        break;
    case LV_OP_MONITOR:
        job->r = lv_do_monitor(be, job->deadline_ms);
        break;
    }
}

/* Run @job in a pool thread, report, drop the pool's reference. */
static void
lv_job_main(struct lv_job *job)
{
    lv_job_exec(job);
    pthread_mutex_lock(&job->lock);
    job->done = true;
    if (job->abandoned) {
        atomic_fetch_sub(&job->be->hung, 1);
        vf_log(LOG_NOTICE, "libvirt backend: an abandoned %s call for '%s' returned (%s)",
               lv_op_names[job->op], job->target != NULL ? job->target : "",
               job->r < 0 ? strerror(-job->r) : "success");
    }
    pthread_mutex_unlock(&job->lock);
    /* after unlocking, so the caller does not wake into a held mutex; the
     * job stays alive until our own reference is dropped below */
    pthread_cond_broadcast(&job->cond);
    lv_job_unref(job);
}

/*
 * A call-pool thread (holds a reference to @be): runs queued jobs in order;
 * exits when the backend is finalised or after LV_POOL_IDLE_MS idle.
 */
static void *
lv_pool_main(void *arg)
{
    struct lv_backend *be = arg;

    pthread_mutex_lock(&be->xlock);
    for (;;) {
        struct lv_job *job;

        while (be->xq_head == NULL) {
            struct timespec ts;
            int64_t until = vf_now_ms() + LV_POOL_IDLE_MS;
            int w;

            if (be->xstop) {
                goto out;
            }
            ts.tv_sec = (time_t)(until / 1000);
            ts.tv_nsec = (long)(until % 1000) * 1000000L;
            be->xn_waiting++;
            w = pthread_cond_timedwait(&be->xcond, &be->xlock, &ts);
            be->xn_waiting--;
            if (w == ETIMEDOUT && be->xq_head == NULL) {
                goto out;
            }
        }
        job = be->xq_head;
        be->xq_head = job->next;
        if (be->xq_head == NULL) {
            be->xq_tail = NULL;
        }
        job->next = NULL;
        be->xn_queued--;
        pthread_mutex_unlock(&be->xlock);
        lv_job_main(job);
        pthread_mutex_lock(&be->xlock);
    }
out:
    be->xn_threads--;
    pthread_mutex_unlock(&be->xlock);
    lv_be_unref(be);
    return NULL;
}

/*
 * Queue @job (holding the pool's reference) for the call pool, starting a
 * thread when no waiting one covers it.  \return 0, or -errno when no
 * thread could be started and none is waiting (the job is not queued).
 */
static int
lv_pool_submit(struct lv_backend *be, struct lv_job *job)
{
    pthread_attr_t attr;
    pthread_t th;
    int r = 0;

    pthread_mutex_lock(&be->xlock);
    if (be->xn_queued + 1 > be->xn_waiting) {
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        atomic_fetch_add(&be->refs, 1);
        r = pthread_create(&th, &attr, lv_pool_main, be);
        pthread_attr_destroy(&attr);
        if (r != 0) {
            atomic_fetch_sub(&be->refs, 1);
            if (be->xn_waiting == 0) {
                pthread_mutex_unlock(&be->xlock);
                return -r;
            }
        } else {
            be->xn_threads++;
        }
    }
    job->next = NULL;
    if (be->xq_tail != NULL) {
        be->xq_tail->next = job;
    } else {
        be->xq_head = job;
    }
    be->xq_tail = job;
    be->xn_queued++;
    pthread_mutex_unlock(&be->xlock);
    /* after unlocking (the woken thread re-checks the queue under xlock);
     * @be stays alive: the caller's job holds a reference */
    pthread_cond_signal(&be->xcond);
    return 0;
}

/**
 * Run @op in a worker thread, waiting at most until @deadline_ms plus a
 * grace period.  On success the results are in @job (caller's reference);
 * the caller releases it with lv_job_unref().
 *
 * \return the operation's result, -ETIMEDOUT (abandoned), -EHOSTDOWN (an
 *         earlier call still hangs), -ENOMEM
 */
static int
lv_job_run(struct lv_backend *be, enum lv_op op, const char *target, unsigned int flags,
           int64_t deadline_ms, struct lv_job **ret_job)
{
    struct lv_job *job;
    pthread_condattr_t ca;
    struct timespec ts;
    int64_t until;
    int r;

    *ret_job = NULL;
    if (atomic_load(&be->hung) > 0) {
        vf_log(LOG_ERR,
               "libvirt backend: a libvirt call still hangs; failing %s%s%s%s at once",
               lv_op_names[op], target != NULL ? " of '" : "", target != NULL ? target : "",
               target != NULL ? "'" : "");
        return -EHOSTDOWN;
    }
    job = calloc(1, sizeof(*job));
    if (job == NULL) {
        return -ENOMEM;
    }
    if (target != NULL) {
        job->target = strdup(target);
        if (job->target == NULL) {
            free(job);
            return -ENOMEM;
        }
    }
    atomic_init(&job->refs, 2);
    pthread_mutex_init(&job->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&job->cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_fetch_add(&be->refs, 1);
    job->be = be;
    job->op = op;
    job->flags = flags;
    job->deadline_ms = deadline_ms;

    r = lv_pool_submit(be, job);
    if (r < 0) {
        /* no thread: run inline (unbounded, but never worse than before) */
        vf_log(LOG_WARNING, "libvirt backend: cannot start a worker thread: %s; calling inline",
               strerror(-r));
        lv_job_exec(job);
        job->done = true;
        atomic_fetch_sub(&job->refs, 1);
        *ret_job = job;
        return job->r;
    }

    until = deadline_ms + LV_GRACE_MS;
    ts.tv_sec = (time_t)(until / 1000);
    ts.tv_nsec = (long)(until % 1000) * 1000000L;
    pthread_mutex_lock(&job->lock);
    while (!job->done) {
        if (pthread_cond_timedwait(&job->cond, &job->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    if (!job->done) {
        job->abandoned = true;
        atomic_fetch_add(&be->hung, 1);
        pthread_mutex_unlock(&job->lock);
        vf_log(LOG_ERR,
               "libvirt backend: %s%s%s%s missed its deadline (libvirt hangs); abandoned",
               lv_op_names[op], target != NULL ? " of '" : "", target != NULL ? target : "",
               target != NULL ? "'" : "");
        lv_job_unref(job);
        return -ETIMEDOUT;
    }
    pthread_mutex_unlock(&job->lock);
    *ret_job = job;
    return job->r;
}

static int
lv_lookup(void *priv, const char *target, unsigned int flags,
          struct vf_domain_info *ret_dom, int64_t deadline_ms)
{
    struct lv_job *job = NULL;
    int r = lv_job_run(priv, LV_OP_LOOKUP, target, flags, deadline_ms, &job);

    if (r == 0) {
        *ret_dom = job->info;
    }
    lv_job_unref(job);
    return r;
}

static int
lv_off(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct lv_job *job = NULL;
    int r = lv_job_run(priv, LV_OP_OFF, target, flags, deadline_ms, &job);

    lv_job_unref(job);
    return r;
}

static int
lv_on(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct lv_job *job = NULL;
    int r = lv_job_run(priv, LV_OP_ON, target, flags, deadline_ms, &job);

    lv_job_unref(job);
    return r;
}

static int
lv_reboot(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct lv_job *job = NULL;
    int r = lv_job_run(priv, LV_OP_REBOOT, target, flags, deadline_ms, &job);

    lv_job_unref(job);
    return r;
}

static int
lv_status(void *priv, const char *target, unsigned int flags, bool *ret_on, int64_t deadline_ms)
{
    struct lv_job *job = NULL;
    int r = lv_job_run(priv, LV_OP_STATUS, target, flags, deadline_ms, &job);

    if (r == 0) {
        *ret_on = job->on;
    }
    lv_job_unref(job);
    return r;
}

static int
lv_list(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms)
{
    struct lv_job *job = NULL;
    size_t i;
    int r = lv_job_run(priv, LV_OP_LIST, NULL, 0, deadline_ms, &job);

    for (i = 0; r == 0 && i < job->n_doms; i++) {
        r = cb(arg, &job->doms[i]);
        if (r > 0) {
            r = 0;
        }
    }
    lv_job_unref(job);
    return r;
}

static int
lv_monitor(void *priv, int64_t deadline_ms)
{
    struct lv_job *job = NULL;
    int r = lv_job_run(priv, LV_OP_MONITOR, NULL, 0, deadline_ms, &job);

    lv_job_unref(job);
    return r;
}

static const struct vf_backend_ops lv_ops = {
    .name = LV_NAME,
    .version = PACKAGE_VERSION,
    .init = lv_init,
    .fini = lv_fini,
    .lookup = lv_lookup,
    .off = lv_off,
    .on = lv_on,
    .reboot = lv_reboot,
    .status = lv_status,
    .list = lv_list,
    .monitor = lv_monitor,
    .reload = lv_reload,
};

VF_PLUGIN_DEFINE(libvirt, NULL, &lv_ops);
