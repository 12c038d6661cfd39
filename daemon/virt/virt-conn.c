/*
 * vmfence - daemon/virt/virt-conn.c: one shared libvirt connection per URI
 * (virt.h).
 *
 * An entry per URI holds the connection, its state and a thread that opens
 * it and reopens it when lost.  Handles (users) hang off their entry; the
 * entry lives while a handle or its thread needs it (reference count).
 *
 * Locking: table_lock (the list of entries) before e->lock (an entry's
 * connection state).  e->cb_lock is held while the entry's thread calls
 * the handles' up/down callbacks and while a handle is linked or
 * unlinked, never together with e->lock.  No libvirt call that can block
 * is made with any of them held: virConnectRef only counts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "condwait.h"
#include "io.h"
#include "log.h"
#include "timeutil.h"
#include "virt-loop.h"
#include "virt.h"

#define VIRT_BACKOFF_MIN_MS     500
#define VIRT_BACKOFF_MAX_MS     10000
#define VIRT_KEEPALIVE_INTERVAL 5
#define VIRT_KEEPALIVE_COUNT    3
#define VIRT_IDLE_WAKE_MS       5000

struct virt_entry {
    struct virt_entry *next;        /* table, under table_lock */
    atomic_int refs;                /* handles' share (one) + the thread */
    char *uri;
    pthread_mutex_t cb_lock;        /* handles list; held while calling them */
    struct vf_virt_conn *handles;
    unsigned int n_handles;         /* under table_lock */
    pthread_mutex_t lock;           /* what follows */
    pthread_cond_t cond;            /* wakes the thread and vf_virt_wait_first */
    virConnectPtr conn;             /* NULL while disconnected */
    bool dead;                      /* closed or failed: the thread replaces it */
    bool tried;                     /* one attempt has finished */
    bool stop;
    bool thread_done;
    unsigned int failures;          /* consecutive failed attempts (log throttling) */
    int backoff_ms;
    int64_t next_try_ms;
    pthread_t thread;
};

struct vf_virt_conn {
    struct virt_entry *e;
    struct vf_virt_conn *next;      /* e->handles, under e->cb_lock */
    const struct vf_virt_events *ev;
    void *arg;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct virt_entry *table;

const char *
vf_virt_error_text(void)
{
    virErrorPtr e = virGetLastError();

    return e != NULL && e->message != NULL ? e->message : "unknown error";
}

static const char *
virt_close_reason(int reason)
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

/* Mark @e's connection dead if it is @conn (idempotent); wake its thread. */
static void
virt_mark_dead(struct virt_entry *e, virConnectPtr conn, const char *why)
{
    pthread_mutex_lock(&e->lock);
    if (e->conn == conn && conn != NULL && !e->dead && !e->stop) {
        e->dead = true;
        vf_log(LOG_WARNING, "libvirt: connection to '%s' lost (%s); reconnecting in the background",
               e->uri, why);
        pthread_cond_broadcast(&e->cond);
    }
    pthread_mutex_unlock(&e->lock);
}

/* Close callback, run by the event loop thread. */
static void
virt_close_cb(virConnectPtr conn, int reason, void *opaque)
{
    virt_mark_dead(opaque, conn, virt_close_reason(reason));
}

void
vf_virt_failed(virConnectPtr conn, const char *why)
{
    struct virt_entry *e;

    pthread_mutex_lock(&table_lock);
    for (e = table; e != NULL; e = e->next) {
        virt_mark_dead(e, conn, why);
    }
    pthread_mutex_unlock(&table_lock);
}

static void
virt_conn_drop(virConnectPtr conn)
{
    if (conn == NULL) {
        return;
    }
    /* unregister first: no callback may run once the entry forgets it */
    (void)virConnectUnregisterCloseCallback(conn, virt_close_cb);
    (void)virConnectClose(conn);
}

/* Open @e's URI with keepalive and the close callback.  Its thread only. */
static virConnectPtr
virt_conn_open(struct virt_entry *e, char *why, size_t why_len)
{
    virConnectPtr conn = virConnectOpen(e->uri);
    virErrorPtr err;
    int r;

    if (conn == NULL) {
        snprintf(why, why_len, "%s", vf_virt_error_text());
        return NULL;
    }
    r = virConnectSetKeepAlive(conn, VIRT_KEEPALIVE_INTERVAL, VIRT_KEEPALIVE_COUNT);
    err = r < 0 ? virGetLastError() : NULL;
    if (r == 1 || (err != NULL && err->code == VIR_ERR_NO_SUPPORT)) {
        vf_dbg(2, "libvirt: '%s' does not use keepalive (local driver)", e->uri);
    } else if (r < 0) {
        vf_log(LOG_WARNING, "libvirt: cannot enable keepalive on '%s': %s, ignoring",
               e->uri, vf_virt_error_text());
    }
    if (virConnectRegisterCloseCallback(conn, virt_close_cb, e, NULL) < 0) {
        vf_dbg(1, "libvirt: no close callback on '%s': %s", e->uri, vf_virt_error_text());
    }
    return conn;
}

/* Tell every handle of @e that @conn went up (@up) or down. */
static void
virt_notify(struct virt_entry *e, virConnectPtr conn, bool up)
{
    struct vf_virt_conn *h;

    pthread_mutex_lock(&e->cb_lock);
    for (h = e->handles; h != NULL; h = h->next) {
        if (h->ev == NULL) {
            continue;
        }
        if (up && h->ev->up != NULL) {
            h->ev->up(h->arg, conn);
        } else if (!up && h->ev->down != NULL) {
            h->ev->down(h->arg, conn);
        }
    }
    pthread_mutex_unlock(&e->cb_lock);
}

/* Free @e, whose cond and locks are initialised and whose thread is gone or never ran. */
static void
virt_entry_free(struct virt_entry *e)
{
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->lock);
    pthread_mutex_destroy(&e->cb_lock);
    free(e->uri);
    free(e);
}

/* Drop a reference to @e; the last one frees it (NULL-tolerant). */
static void
virt_entry_unref(struct virt_entry *e)
{
    if (e != NULL && atomic_fetch_sub(&e->refs, 1) == 1) {
        virt_entry_free(e);
    }
}

/* The connection was found dead: forget it, tell the handles, close it (e->lock held). */
static void
virt_lost_locked(struct virt_entry *e)
{
    virConnectPtr old = e->conn;

    e->conn = NULL;
    e->dead = false;
    e->backoff_ms = VIRT_BACKOFF_MIN_MS;
    e->next_try_ms = vf_now_ms();
    pthread_mutex_unlock(&e->lock);
    virt_notify(e, old, false);
    virt_conn_drop(old);
    pthread_mutex_lock(&e->lock);
}

/* One attempt to connect (e->lock held; released around the libvirt calls). */
static void
virt_connect_locked(struct virt_entry *e)
{
    virConnectPtr conn;
    char why[512] = "";

    pthread_mutex_unlock(&e->lock);
    conn = virt_conn_open(e, why, sizeof(why));
    pthread_mutex_lock(&e->lock);
    e->tried = true;
    pthread_cond_broadcast(&e->cond);
    if (conn == NULL) {
        if (e->failures++ == 0) {
            vf_log(LOG_WARNING, "libvirt: '%s' unreachable: %s; retrying", e->uri, why);
        } else {
            vf_dbg(1, "libvirt: retry %u for '%s' failed: %s", e->failures, e->uri, why);
        }
        e->next_try_ms = vf_now_ms() + e->backoff_ms;
        e->backoff_ms = e->backoff_ms * 2 > VIRT_BACKOFF_MAX_MS ? VIRT_BACKOFF_MAX_MS :
            e->backoff_ms * 2;
        return;
    }
    e->conn = conn;
    e->dead = false;
    e->backoff_ms = VIRT_BACKOFF_MIN_MS;
    if (e->stop) {
        return;                     /* dropped by the thread on its way out */
    }
    vf_log(e->failures > 0 ? LOG_NOTICE : LOG_INFO, "libvirt: connected to '%s'", e->uri);
    e->failures = 0;
    pthread_mutex_unlock(&e->lock);
    virt_notify(e, conn, true);
    pthread_mutex_lock(&e->lock);
}

/* An entry's thread: keeps its URI connected until the last handle closes. */
static void *
virt_entry_main(void *arg)
{
    struct virt_entry *e = arg;
    virConnectPtr last;
    struct timespec ts;

    pthread_mutex_lock(&e->lock);
    while (!e->stop) {
        if (e->conn != NULL && e->dead) {
            virt_lost_locked(e);
        } else if (e->conn == NULL && vf_now_ms() >= e->next_try_ms) {
            virt_connect_locked(e);
        } else {
            ts = vf_deadline_timespec(e->conn == NULL ? e->next_try_ms :
                                      vf_now_ms() + VIRT_IDLE_WAKE_MS);
            (void)pthread_cond_timedwait(&e->cond, &e->lock, &ts);
        }
    }
    last = e->conn;
    e->conn = NULL;
    pthread_mutex_unlock(&e->lock);
    virt_conn_drop(last);
    vf_cond_set_flag(&e->cond, &e->lock, &e->thread_done);
    virt_entry_unref(e);
    return NULL;
}

/* A new entry for @uri with its thread running (table_lock held).  \return it or NULL */
static struct virt_entry *
virt_entry_new_locked(const char *uri)
{
    struct virt_entry *e = calloc(1, sizeof(*e));
    int r;

    if (e == NULL) {
        return NULL;
    }
    e->uri = strdup(uri);
    if (e->uri == NULL || vf_cond_init_monotonic(&e->cond) < 0) {
        free(e->uri);
        free(e);
        return NULL;
    }
    atomic_init(&e->refs, 2);           /* the handles' share + the thread */
    pthread_mutex_init(&e->cb_lock, NULL);
    pthread_mutex_init(&e->lock, NULL);
    e->backoff_ms = VIRT_BACKOFF_MIN_MS;
    e->next_try_ms = vf_now_ms();
    r = pthread_create(&e->thread, NULL, virt_entry_main, e);
    if (r != 0) {
        virt_entry_free(e);
        return NULL;
    }
    e->next = table;
    table = e;
    return e;
}

int
vf_virt_open(const char *uri, const struct vf_virt_events *ev, void *arg,
             struct vf_virt_conn **ret_c)
{
    struct vf_virt_conn *h = calloc(1, sizeof(*h));
    struct virt_entry *e;
    int r;

    if (h == NULL) {
        return -ENOMEM;
    }
    r = vf_virt_loop_acquire();
    if (r < 0) {
        free(h);
        return r;
    }
    pthread_mutex_lock(&table_lock);
    for (e = table; e != NULL && strcmp(e->uri, uri) != 0; e = e->next) {
    }
    if (e == NULL) {
        e = virt_entry_new_locked(uri);
    }
    if (e == NULL) {
        pthread_mutex_unlock(&table_lock);
        vf_virt_loop_release();
        free(h);
        return -ENOMEM;
    }
    e->n_handles++;
    h->e = e;
    h->ev = ev;
    h->arg = arg;
    pthread_mutex_lock(&e->cb_lock);
    h->next = e->handles;
    e->handles = h;
    pthread_mutex_unlock(&e->cb_lock);
    pthread_mutex_unlock(&table_lock);
    *ret_c = h;
    return 0;
}

/* Unlink @h; \return true if it was the entry's last handle (table_lock held) */
static bool
virt_unlink_locked(struct vf_virt_conn *h)
{
    struct virt_entry *e = h->e, **pe;
    struct vf_virt_conn **ph;

    pthread_mutex_lock(&e->cb_lock);
    for (ph = &e->handles; *ph != NULL && *ph != h; ph = &(*ph)->next) {
    }
    if (*ph == h) {
        *ph = h->next;
    }
    pthread_mutex_unlock(&e->cb_lock);
    if (--e->n_handles > 0) {
        return false;
    }
    for (pe = &table; *pe != NULL && *pe != e; pe = &(*pe)->next) {
    }
    if (*pe == e) {
        *pe = e->next;
    }
    return true;
}

/* Stop @e's thread and wait for it until @deadline_ms, else leave it behind. */
static void
virt_entry_stop(struct virt_entry *e, int64_t deadline_ms)
{
    struct timespec ts = vf_deadline_timespec(deadline_ms);
    bool done;

    pthread_mutex_lock(&e->lock);
    e->stop = true;
    pthread_cond_broadcast(&e->cond);
    done = vf_cond_wait_flag(&e->cond, &e->lock, &e->thread_done, &ts);
    pthread_mutex_unlock(&e->lock);
    if (done) {
        pthread_join(e->thread, NULL);
    } else {
        /* stuck in virConnectOpen/Close of a hung daemon: it holds its own
         * reference and drops what it opened once the call returns */
        vf_log(LOG_WARNING, "libvirt: the connection thread of '%s' is stuck in a libvirt call; "
               "left behind", e->uri);
        pthread_detach(e->thread);
    }
    virt_entry_unref(e);
}

void
vf_virt_close(struct vf_virt_conn *c, int64_t deadline_ms)
{
    bool last;

    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&table_lock);
    last = virt_unlink_locked(c);
    pthread_mutex_unlock(&table_lock);
    if (last) {
        virt_entry_stop(c->e, deadline_ms);
    }
    free(c);
    vf_virt_loop_release();
}

const char *
vf_virt_uri(const struct vf_virt_conn *c)
{
    return c->e->uri;
}

virConnectPtr
vf_virt_get(struct vf_virt_conn *c)
{
    struct virt_entry *e = c->e;
    virConnectPtr conn = NULL;

    pthread_mutex_lock(&e->lock);
    if (e->conn != NULL && !e->dead && !e->stop) {
        (void)virConnectRef(e->conn);
        conn = e->conn;
    }
    pthread_mutex_unlock(&e->lock);
    return conn;
}

int
vf_virt_wait_first(struct vf_virt_conn *c, int64_t deadline_ms)
{
    struct virt_entry *e = c->e;
    struct timespec ts = vf_deadline_timespec(deadline_ms);
    int r;

    pthread_mutex_lock(&e->lock);
    (void)vf_cond_wait_flag(&e->cond, &e->lock, &e->tried, &ts);
    r = e->conn != NULL && !e->dead ? 0 : e->tried ? -EHOSTDOWN : -ETIMEDOUT;
    pthread_mutex_unlock(&e->lock);
    return r;
}
