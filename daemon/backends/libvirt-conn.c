/*
 * vmfence - daemon/backends/libvirt-conn.c: the libvirt backend's URIs.
 *
 * Each configured URI is a handle on the process's shared connection to it
 * (daemon/virt/virt.h: keepalive, reconnect with backoff).  A request
 * takes a snapshot (references to the connections that are up, at once:
 * a request never waits for a reconnect) and classifies libvirt errors,
 * reporting a connection found dead to the owner.
 *
 * Locking rule: be->lock protects only the URI list and
 * reboot_powers_on.  No libvirt call that can block is made with it held;
 * handles are opened and closed outside it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "io.h"
#include "log.h"
#include "libvirt-int.h"

/* Drop a reference to @be; the last one frees it (NULL-tolerant). */
void
lv_be_unref(struct lv_backend *be)
{
    if (be == NULL || atomic_fetch_sub(&be->refs, 1) != 1) {
        return;
    }
    pthread_cond_destroy(&be->watch_cond);
    pthread_mutex_destroy(&be->watch_lock);
    pthread_mutex_destroy(&be->lock);
    lv_cache_fini(be);
    free(be->evregs);
    free(be);
}

static void
lv_uri_free(struct lv_uri *u, int64_t deadline_ms)
{
    if (u == NULL) {
        return;
    }
    vf_virt_close(u->h, deadline_ms);
    free(u->uri);
    free(u);
}

/* A new URI entry with its handle (takes @uri).  \return it, or NULL */
static struct lv_uri *
lv_uri_new(struct lv_backend *be, char *uri)
{
    struct lv_uri *u = calloc(1, sizeof(*u));

    if (u == NULL) {
        free(uri);
        return NULL;
    }
    u->uri = uri;
    u->be = be;
    if (vf_virt_open(uri, be->uri_events, u, &u->h) < 0) {
        lv_uri_free(u, 0);
        return NULL;
    }
    return u;
}

/* Index of an entry of @old for @uri not @taken yet, or -1. */
static long
lv_uri_reuse(struct lv_uri *const *old, size_t n_old, const bool *taken, const char *uri)
{
    size_t i;

    for (i = 0; i < n_old; i++) {
        if (!taken[i] && strcmp(old[i]->uri, uri) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/**
 * Install @c as the URI list, keeping the entries (and connections) of
 * unchanged URIs; removed ones are closed (bounded by LV_FINI_WAIT_MS).
 * Called by init and reload only, never concurrently: be->uris changes
 * nowhere else, so it is read here without the lock.
 * \return 0 or -ENOMEM (nothing changed)
 */
int
lv_apply_conf(struct lv_backend *be, struct lv_conf *c)
{
    struct lv_uri **nu = calloc(c->n_uris + 1, sizeof(*nu)), **old = be->uris;
    bool *taken = calloc(be->n_uris + 1, sizeof(*taken));
    long *from = calloc(c->n_uris + 1, sizeof(*from));
    size_t i, n_old = be->n_uris;
    int r = -ENOMEM;

    if (nu == NULL || taken == NULL || from == NULL) {
        goto out;
    }
    /* new URIs first, outside the lock: a failure changes nothing */
    for (i = 0; i < c->n_uris; i++) {
        from[i] = lv_uri_reuse(old, n_old, taken, c->uris[i]);
        if (from[i] >= 0) {
            taken[from[i]] = true;
            continue;
        }
        nu[i] = lv_uri_new(be, c->uris[i]);
        c->uris[i] = NULL;
        if (nu[i] == NULL) {
            goto out;
        }
    }
    pthread_mutex_lock(&be->lock);
    for (i = 0; i < c->n_uris; i++) {
        if (from[i] >= 0) {
            nu[i] = old[from[i]];
            old[from[i]] = NULL;    /* moved */
        }
    }
    be->uris = nu;
    be->n_uris = c->n_uris;
    be->reboot_powers_on = c->reboot_powers_on;
    pthread_mutex_unlock(&be->lock);
    nu = NULL;
    /* other URIs: statuses take the bounded call until a resync with them */
    lv_cache_invalidate(be);
    lv_watch_kick(be);
    for (i = 0; i < n_old; i++) {
        if (old[i] != NULL) {
            vf_log(LOG_INFO,
                   "libvirt backend: URI '%s' removed from the configuration", old[i]->uri);
            lv_uri_free(old[i], vf_now_ms() + LV_FINI_WAIT_MS);
        }
    }
    free(old);
    r = 0;
out:
    for (i = 0; nu != NULL && i < c->n_uris; i++) {
        lv_uri_free(nu[i], vf_now_ms());   /* new ones only: reused are not in @nu yet */
    }
    free(nu);
    free(taken);
    free(from);
    return r;
}

/* Close every URI (fini), waiting for their connections at most until @deadline_ms. */
void
lv_uris_close(struct lv_backend *be, int64_t deadline_ms)
{
    struct lv_uri **uris;
    size_t i, n;

    pthread_mutex_lock(&be->lock);
    uris = be->uris;
    n = be->n_uris;
    be->uris = NULL;
    be->n_uris = 0;
    pthread_mutex_unlock(&be->lock);
    for (i = 0; i < n; i++) {
        lv_uri_free(uris[i], deadline_ms);
    }
    free(uris);
}

/* Wait for the first attempt on every URI, at most until @deadline_ms.  \return URIs up */
size_t
lv_wait_connected(struct lv_backend *be, int64_t deadline_ms)
{
    size_t i, up = 0;

    for (i = 0; i < be->n_uris; i++) {
        if (vf_virt_wait_first(be->uris[i]->h, deadline_ms) == 0) {
            up++;
        }
    }
    return up;
}

/* A new reference to the connection of URI @idx, or NULL (down, or no such URI). */
virConnectPtr
lv_uri_conn(struct lv_backend *be, size_t idx)
{
    virConnectPtr conn = NULL;

    pthread_mutex_lock(&be->lock);
    if (idx < be->n_uris) {
        conn = vf_virt_get(be->uris[idx]->h);
    }
    pthread_mutex_unlock(&be->lock);
    return conn;
}

/**
 * Take references to the live connections for one request.
 * \return 0 or -ENOMEM
 */
int
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
        snap->refs[i].uri = strdup(be->uris[i]->uri);
        if (snap->refs[i].uri == NULL) {
            r = -ENOMEM;
            goto out;
        }
        snap->n = i + 1;
        snap->refs[i].conn = vf_virt_get(be->uris[i]->h);
        if (snap->refs[i].conn == NULL) {
            snap->n_down++;
        }
    }
out:
    pthread_mutex_unlock(&be->lock);
    return r;
}

void
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
 * @ref.  A connection found dead is reported to its owner (which
 * reconnects).  The message is copied to @msg for the caller's log line.
 *
 * \return -ENOENT (no such domain), -EHOSTDOWN (connection lost), -EIO
 */
int
lv_error(const struct lv_ref *ref, char *msg, size_t msg_len)
{
    virErrorPtr e = virGetLastError();
    int code = e != NULL ? e->code : VIR_ERR_OK;

    snprintf(msg, msg_len, "%s", vf_virt_error_text());
    if (code == VIR_ERR_NO_DOMAIN) {
        return -ENOENT;
    }
    if (code == VIR_ERR_RPC || code == VIR_ERR_NO_CONNECT || code == VIR_ERR_INVALID_CONN ||
        virConnectIsAlive(ref->conn) == 0) {
        vf_virt_failed(ref->conn, msg);
        return -EHOSTDOWN;
    }
    return -EIO;
}
