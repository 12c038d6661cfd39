/*
 * vmfence - daemon/listeners/serial.c: the "serial" listener of fence_virtd.
 *
 * Guests talk to fence_virtd over a serial port or a virtio channel that
 * libvirt connects to a UNIX socket on the host (protocol.md 2.9):
 *   <serial type='unix'><source mode='bind' path='/dir/vm1.sock'/>   mode serial
 *   <channel type='unix'><source mode='bind' path='/dir/vm1.sock'/>  mode vmchannel
 * QEMU is the socket server; this listener CONNECTS to it, one socket per
 * running domain.  The requester's identity is the domain's UUID (there is
 * no key, hash or challenge on this transport).
 *
 * Config (listeners/serial): uri (libvirt URI watched for domains; default
 * qemu:///system), path (only sockets directly inside this directory are
 * used), mode (serial | vmchannel | integer, non-zero = vmchannel).
 *
 * Threads:
 *  - run(): the guest table and the guest sockets, no libvirt call
 *    (serial-guests.c);
 *  - the watcher: all libvirt work (serial-watch.c), on the process's
 *    shared connection to the URI (daemon/virt/virt.h owns libvirt's event
 *    loop, error handler, keepalive and reconnect);
 *  - the daemon's workers, which write responses through vf_conn ops
 *    (serial-conn.c).
 * Under privilege separation the network process runs this listener in
 * "fds" mode (no watcher, no libvirt: its guest sockets come from the
 * privileged process, which runs the watcher; serial-host.c).
 * Differences from the reference (D11): the event handling never dies (a
 * libvirt disconnect leads to reconnect + rescan + re-registration); the
 * magic is validated and the stream resynchronised on garbage; frames are
 * read with a per-frame deadline without blocking other guests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "alloc.h"
#include "conftree.h"
#include "io.h"
#include "log.h"
#include "privsep/guestpair.h"
#include "timeutil.h"
#include "serial-int.h"

void
sl_unref(struct sl_listener *sl)
{
    if (sl == NULL || atomic_fetch_sub(&sl->refs, 1) != 1) {
        return;
    }
    /* after the watcher is gone: no callback of the owner runs any more */
    vf_virt_close(sl->h, vf_now_ms() + SL_FINI_WAIT_MS);
    (void)vf_close(sl->wake[0]);
    (void)vf_close(sl->wake[1]);
    pthread_cond_destroy(&sl->cond);
    pthread_mutex_destroy(&sl->lock);
    VF_FREE_ALL(sl->want, sl->have, sl->guests, sl->uri, sl->dir, sl);
}

/* mode: serial | vmchannel | an integer (non-zero = vmchannel).  \return 0 or -EINVAL */
static int
sl_conf_mode(const struct vf_conf *conf, const struct vf_conf_node *n, bool *ret_vmchannel,
             char *err, size_t err_len)
{
    const char *mode = vf_conf_value(n);
    char where[256], *end = NULL;
    long v;

    if (strcasecmp(mode, "serial") == 0 || strcasecmp(mode, "vmchannel") == 0) {
        *ret_vmchannel = strcasecmp(mode, "vmchannel") == 0;
        return 0;
    }
    errno = 0;
    v = strtol(mode, &end, 10);
    if (mode[0] == '\0' || *end != '\0' || errno != 0) {
        snprintf(err, err_len, "%s: key 'mode': '%s' is not serial or vmchannel",
                 vf_conf_where(conf, n, where, sizeof(where)), mode);
        return -EINVAL;
    }
    *ret_vmchannel = v != 0;
    return 0;
}

/* Read listeners/serial into @sl.  \return 0, -EINVAL (message in @err), -ENOMEM */
static int
sl_conf_read(struct sl_listener *sl, const struct vf_conf *conf, char *err, size_t err_len)
{
    const struct vf_conf_node *blk = conf != NULL ? vf_conf_block(conf, NULL, SL_CONF_BLOCK) : NULL;
    const struct vf_conf_node *n;
    const char *uri = NULL, *dir = NULL;
    char where[256];
    size_t len;

    n = blk != NULL ? vf_conf_key(conf, blk, "uri") : NULL;
    uri = vf_conf_value(n);
    n = blk != NULL ? vf_conf_key(conf, blk, "mode") : NULL;
    if (vf_conf_value(n) != NULL && sl_conf_mode(conf, n, &sl->vmchannel, err, err_len) < 0) {
        return -EINVAL;
    }
    n = blk != NULL ? vf_conf_key(conf, blk, "path") : NULL;
    dir = vf_conf_value(n);
    if (uri == NULL || uri[0] == '\0') {
        vf_log(LOG_INFO, "serial listener: no '" SL_CONF_BLOCK "/uri' configured, using '%s'",
               SL_DEFAULT_URI);
        uri = SL_DEFAULT_URI;
    }
    if (dir != NULL && dir[0] != '\0' && dir[0] != '/') {
        snprintf(err, err_len, "%s: key 'path': '%s' is not an absolute directory",
                 vf_conf_where(conf, n, where, sizeof(where)), dir);
        return -EINVAL;
    }
    sl->uri = strdup(uri);
    if (sl->uri == NULL || (dir != NULL && dir[0] != '\0' && (sl->dir = strdup(dir)) == NULL)) {
        snprintf(err, err_len, "serial listener: out of memory");
        return -ENOMEM;
    }
    len = sl->dir != NULL ? strlen(sl->dir) : 0;
    while (len > 1 && sl->dir[len - 1] == '/') {
        sl->dir[--len] = '\0';
    }
    return 0;
}

/* A listener with its locks, nothing started.  \return it or NULL */
static struct sl_listener *
sl_new(const struct vf_daemon_api *api)
{
    struct sl_listener *sl = calloc(1, sizeof(*sl));

    if (sl == NULL) {
        return NULL;
    }
    atomic_init(&sl->refs, 1);
    sl->api = api;
    sl->wake[0] = sl->wake[1] = -1;
    sl->host_pair = sl->from_host = -1;
    sl->lifecycle_id = -1;
    atomic_init(&sl->watcher_stop, false);
    atomic_init(&sl->conn_dead, false);
    atomic_init(&sl->rescan, false);
    pthread_mutex_init(&sl->lock, NULL);
    if (vf_cond_init_monotonic(&sl->cond) < 0) {
        pthread_mutex_destroy(&sl->lock);
        free(sl);
        return NULL;
    }
    return sl;
}

static void sl_fini(void *priv);

/* init in fds mode (@from_host >= 0: the guest pair) or with the watcher */
int
sl_init_as(const struct vf_conf *conf, const struct vf_daemon_api *api, int from_host,
           void **ret_priv, char *err, size_t err_len)
{
    struct sl_listener *sl = sl_new(api);
    int r;

    if (sl == NULL) {
        snprintf(err, err_len, "serial listener: out of memory");
        return -ENOMEM;
    }
    r = sl_conf_read(sl, conf, err, err_len);
    if (r < 0) {
        goto fail;
    }
    if (pipe2(sl->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        r = -errno;
        snprintf(err, err_len, "serial listener: pipe: %s", strerror(-r));
        goto fail;
    }
    if (from_host >= 0) {
        /* the network process of privilege separation: no libvirt here */
        sl->from_host = from_host;
        vf_log(LOG_INFO, "serial listener: serving the guest sockets the privileged process "
               "opens (%s sockets of '%s')", sl->vmchannel ? "channel" : "serial", sl->uri);
        *ret_priv = sl;
        return 0;
    }
    r = vf_virt_open(sl->uri, &sl_virt_events, sl, &sl->h);
    if (r < 0) {
        snprintf(err, err_len, "serial listener: cannot initialise libvirt: %s", strerror(-r));
        goto fail;
    }
    atomic_fetch_add(&sl->refs, 1);             /* the watcher's reference */
    r = -pthread_create(&sl->watcher, NULL, sl_watcher_main, sl);
    if (r < 0) {
        atomic_fetch_sub(&sl->refs, 1);
        snprintf(err, err_len, "serial listener: cannot start the libvirt thread: %s",
                 strerror(-r));
        goto fail;
    }
    sl->watcher_running = true;
    vf_log(LOG_INFO, "serial listener: watching '%s' for %s sockets%s%s%s", sl->uri,
           sl->vmchannel ? "channel (vmchannel)" : "serial",
           sl->dir != NULL ? " inside '" : "", sl->dir != NULL ? sl->dir : "",
           sl->dir != NULL ? "'" : "");
    *ret_priv = sl;
    return 0;
fail:
    sl_fini(sl);
    return r;
}

static int
sl_init(const struct vf_conf *conf, const struct vf_daemon_api *api, void **ret_priv,
        char *err, size_t err_len)
{
    return sl_init_as(conf, api, vf_ps_guest_pair(), ret_priv, err, err_len);
}

/* Stop the watcher: wait a little, then leave it behind (it holds its own reference). */
static void
sl_watcher_stop(struct sl_listener *sl)
{
    struct timespec ts = vf_deadline_timespec(vf_now_ms() + SL_FINI_WAIT_MS);
    bool done;

    atomic_store(&sl->watcher_stop, true);
    pthread_mutex_lock(&sl->lock);
    pthread_cond_broadcast(&sl->cond);
    while (!sl->watcher_done) {
        if (pthread_cond_timedwait(&sl->cond, &sl->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    done = sl->watcher_done;
    pthread_mutex_unlock(&sl->lock);
    if (done) {
        pthread_join(sl->watcher, NULL);
    } else {
        vf_log(LOG_WARNING, "serial listener: libvirt thread stuck in a call to '%s'; left behind",
               sl->uri);
        pthread_detach(sl->watcher);
    }
}

static void
sl_fini(void *priv)
{
    struct sl_listener *sl = priv;

    if (sl == NULL) {
        return;
    }
    if (sl->watcher_running) {
        sl_watcher_stop(sl);
    }
    while (sl->n_guests > 0) {
        sl_remove_at(sl, sl->n_guests - 1, "listener stopping");
    }
    sl_unref(sl);
}

#include "serial-schema.h"
const struct vf_listener_ops sl_ops =
    VF_LISTENER_OPS(&sl_schema, SL_NAME, sl_init, sl_run, sl_fini);

VF_PLUGIN_DEFINE(serial, &sl_ops, NULL);
