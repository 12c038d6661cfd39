/*
 * vmfence - daemon/backends/libvirt.c: the "libvirt" backend of fence_virtd.
 *
 * Turns on/off/reboot/status/list/monitor for a domain reference (name or
 * UUID) into libvirt calls on one or more connections (config block
 * backends/libvirt: uri, uri1, uri2, ... searched in that order).
 *
 * Design (differences from the reference, see reference-defects.md):
 *  - One connection per URI, shared with every other user of that URI in
 *    the process through daemon/virt/virt.h, which owns libvirt's event
 *    loop, error handler, keepalive (5 s, 3 probes) and the close callback.
 *    When a connection closes (libvirtd restart, keepalive timeout) the
 *    owner reconnects in the background with a backoff of 0.5 s doubling
 *    to 10 s.  Requests never wait for a reconnect: while a URI is down, a
 *    request that needs it fails at once with -EHOSTDOWN (D10 fixed: the
 *    reference loops on sleep(1) inside the request and freezes the daemon).
 *  - init never blocks for long: connection attempts are made by the
 *    URIs' connection threads; init waits at most LV_INIT_WAIT_MS for the first
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
 *  - While somebody watches (watch op), lifecycle events of every URI are
 *    reported, and every domain again after a reconnect (libvirt-watch.c).
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
 * Locking rule: be->lock protects only the backend's bookkeeping (the URI
 * list).  No libvirt call that can block or run callbacks is made with it
 * held.
 *
 * Hung libvirt: a libvirt call on a connection whose daemon hangs (alive
 * socket, no answers) blocks until keepalive declares the connection dead
 * (about 5 s * (3 + 1) = 20 s).  libvirt calls cannot be cancelled, so each
 * operation runs in a worker thread and the request waits only until its
 * deadline: it then fails with -ETIMEDOUT, the call is abandoned (it
 * finishes or fails on its own later), and new requests fail at once with
 * -EHOSTDOWN until it has returned (libvirt-calls.c).
 * What stays unbounded: virConnectOpen of a hung daemon or an unreachable
 * remote URI blocks that URI's connection thread (never a request) as
 * long as the transport does; fini waits LV_FINI_WAIT_MS for it, then leaves it behind.
 *
 * The files of the backend are listed in libvirt-int.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conftree.h"
#include "io.h"
#include "log.h"
#include "timeutil.h"
#include "libvirt-int.h"

#define LV_NAME "libvirt"

/* A backend with its queues, no URI yet.  \return 0 or -errno (message in @err) */
static int
lv_be_new(struct lv_backend **ret_be, char *err, size_t err_len)
{
    struct lv_backend *be = calloc(1, sizeof(*be));
    int r;

    if (be == NULL) {
        snprintf(err, err_len, "libvirt backend: out of memory");
        return -ENOMEM;
    }
    atomic_init(&be->refs, 1);
    atomic_init(&be->hung, 0);
    be->uri_events = &lv_uri_events;
    pthread_mutex_init(&be->lock, NULL);
    be->cache_fresh_ms = LV_CACHE_FRESH_MS;
    r = lv_cache_init(be);
    if (r == 0) {
        r = lv_watch_init(be);
    }
    if (r < 0) {
        lv_cache_fini(be);
        pthread_mutex_destroy(&be->lock);
        free(be);
        snprintf(err, err_len, "libvirt backend: cannot create the watch queue: %s",
                 strerror(-r));
        return r;
    }
    r = lv_calls_init(be);
    if (r < 0) {
        lv_watch_fini(be, vf_now_ms());
        lv_be_unref(be);
        snprintf(err, err_len, "libvirt backend: cannot create the call queue: %s",
                 strerror(-r));
        return r;
    }
    *ret_be = be;
    return 0;
}

static void
lv_fini(void *priv)
{
    struct lv_backend *be = priv;
    int64_t deadline;

    if (be == NULL) {
        return;
    }
    /* a URI's thread may be stuck in virConnectOpen (hung daemon,
     * unreachable remote host), a call thread in a hung call: wait a
     * little, then leave them behind (each holds its own reference) */
    deadline = vf_now_ms() + LV_FINI_WAIT_MS;
    lv_watch_fini(be, deadline);
    lv_uris_close(be, deadline);
    lv_calls_fini(be, deadline);
    lv_be_unref(be);
}

static int
lv_init(const struct vf_host_api *host, const struct vf_conf *conf, void **ret_priv,
        char *err, size_t err_len)
{
    struct lv_backend *be = NULL;
    struct lv_conf c = { 0 };
    size_t up;
    int r;

    (void)host;         /* logs through vf_log() for now */
    r = lv_conf_read(conf, &c, err, err_len);
    if (r < 0) {
        if (r == -ENOMEM) {
            snprintf(err, err_len, "libvirt backend: out of memory");
        }
        return r;
    }
    r = lv_be_new(&be, err, err_len);
    if (r < 0) {
        goto out;
    }
    r = lv_apply_conf(be, &c);
    if (r < 0) {
        snprintf(err, err_len, "libvirt backend: cannot open the libvirt URIs: %s",
                 strerror(-r));
        lv_fini(be);
        goto out;
    }
    /* bounded wait for the first connection attempts */
    up = lv_wait_connected(be, vf_now_ms() + LV_INIT_WAIT_MS);
    vf_log(up > 0 ? LOG_INFO : LOG_WARNING,
           "libvirt backend: %zu of %zu libvirt URI(s) connected%s; reboot_powers_on = %s",
           up, be->n_uris, up == be->n_uris ? "" : ", retrying the others in the background",
           be->reboot_powers_on ? "yes" : "no");
    *ret_priv = be;
out:
    lv_conf_done(&c);
    return r;
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

#include "libvirt-schema.h"
const struct vf_backend_ops lv_ops = {
    VF_OPS_IDENTITY(&lv_schema, LV_NAME),
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
    .watch = lv_watch,
    .unwatch = lv_unwatch,
};

VF_PLUGIN_DEFINE(libvirt, NULL, &lv_ops);
