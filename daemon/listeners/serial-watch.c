/*
 * vmfence - daemon/listeners/serial-watch.c: the serial listener's watcher.
 *
 * All libvirt work of the listener happens in this thread, so that a hung
 * libvirtd never stalls the guest sockets (the run loop) nor shutdown.
 * The connection itself is the process's shared one (daemon/virt/virt.h:
 * keepalive, reconnect with backoff); the owner tells the listener when
 * it comes up or goes down.  The watcher attaches to it (registering the
 * lifecycle callback again on every new connection), lists the running
 * domains (at attach, on every lifecycle event and every SL_RESCAN_MS to
 * catch anything missed), reads their XML (libxml2 XPath) and publishes
 * "domain UUID -> socket path" for the run loop.  Callbacks only set
 * flags and wake the watcher.  Guest sockets stay open while libvirtd is
 * away.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "io.h"
#include "log.h"
#include "timeutil.h"
#include "serial-int.h"

/* ---- domain XML ------------------------------------------------------------------- */

/* Is @path directly inside the configured directory? */
static bool
sl_path_allowed(const struct sl_listener *sl, const char *path)
{
    size_t n;
    const char *rest;

    if (path[0] != '/') {
        return false;
    }
    if (sl->dir == NULL) {
        return true;
    }
    n = strlen(sl->dir);
    if (n == 1) {
        rest = path + 1;            /* path = "/" */
    } else if (strncmp(path, sl->dir, n) == 0 && path[n] == '/') {
        rest = path + n + 1;
    } else {
        return false;
    }
    return rest[0] != '\0' && strchr(rest, '/') == NULL && strcmp(rest, ".") != 0 &&
        strcmp(rest, "..") != 0;
}

/**
 * Find the guest socket of a domain in its XML: the first
 * <serial|channel type='unix'><source mode='bind' path='...'/> whose path is
 * allowed.  Channels of QEMU and libvirt themselves (target names
 * org.qemu.* such as the guest agent org.qemu.guest_agent.0, org.libvirt.*)
 * are never used: libvirt talks to those sockets, and a fencing reply
 * written there would corrupt the guest agent's stream.
 * \return 0 and the path in @ret, -ENOENT, -EINVAL (bad XML)
 */
static int
sl_socket_from_xml(const struct sl_listener *sl, const char *xml, char *ret, size_t ret_len)
{
    xmlDocPtr doc = NULL;
    xmlXPathContextPtr ctx = NULL;
    xmlXPathObjectPtr obj = NULL;
    const char *expr = sl->vmchannel ?
        "/domain/devices/channel[@type='unix']"
        "[not(starts-with(target/@name, 'org.qemu.')) and not(starts-with(target/@name, 'org.libvirt.'))]"
        "/source[@mode='bind']/@path" :
        "/domain/devices/serial[@type='unix']/source[@mode='bind']/@path";
    int i, r = -ENOENT;

    doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL) {
        return -EINVAL;
    }
    ctx = xmlXPathNewContext(doc);
    if (ctx == NULL) {
        r = -ENOMEM;
        goto out;
    }
    obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    if (obj == NULL || obj->nodesetval == NULL) {
        goto out;
    }
    for (i = 0; i < obj->nodesetval->nodeNr; i++) {
        xmlChar *v = xmlNodeGetContent(obj->nodesetval->nodeTab[i]);

        if (v == NULL) {
            continue;
        }
        if (strlen((const char *)v) < ret_len && sl_path_allowed(sl, (const char *)v)) {
            snprintf(ret, ret_len, "%s", (const char *)v);
            r = 0;
        } else {
            vf_dbg(1, "serial: socket '%s' is not inside the configured path, ignoring",
                   (const char *)v);
        }
        xmlFree(v);
        if (r == 0) {
            break;
        }
    }
out:
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return r;
}

/* ---- watcher thread: libvirt connection, events, scans ------------------------- */

void
sl_wake(struct sl_listener *sl)
{
    static const char c = 'w';

    if (write(sl->wake[1], &c, 1) < 0) {
        /* pipe full: the run loop is awake anyway */
    }
}

static void
sl_wake_watcher(struct sl_listener *sl)
{
    pthread_mutex_lock(&sl->lock);
    pthread_cond_broadcast(&sl->cond);
    pthread_mutex_unlock(&sl->lock);
}

static int
sl_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    struct sl_listener *sl = opaque;
    const char *name = virDomainGetName(dom);

    (void)conn;
    (void)detail;
    vf_dbg(2, "serial: lifecycle event %d for domain '%s'", event, name != NULL ? name : "?");
    atomic_store(&sl->rescan, true);
    sl_wake_watcher(sl);
    return 0;
}

/**
 * List the running domains and publish those with a usable socket.
 * XML is fetched only for domains not already known.
 * \return 0, -EHOSTDOWN (connection broken), -EIO, -ENOMEM
 */
static int
sl_scan(struct sl_listener *sl)
{
    virDomainPtr *doms = NULL;
    struct sl_want *nw = NULL, *old;
    const struct sl_want *known;
    size_t nn = 0;
    char *xml;
    const char *name;
    int n, i, r = 0;

    n = virConnectListAllDomains(sl->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0) {
        virErrorPtr e = virGetLastError();

        vf_log(LOG_WARNING, "serial: listing domains on '%s' failed: %s", sl->uri,
               e != NULL && e->message != NULL ? e->message : "unknown error");
        if (virConnectIsAlive(sl->conn) != 1) {
            vf_virt_failed(sl->conn, "listing domains failed");
            atomic_store(&sl->conn_dead, true);
            return -EHOSTDOWN;
        }
        return -EIO;
    }
    if (n > 0) {
        nw = calloc((size_t)n, sizeof(*nw));
        if (nw == NULL) {
            r = -ENOMEM;
        }
    }
    for (i = 0; i < n; i++) {
        struct sl_want *w = nw != NULL ? &nw[nn] : NULL;

        if (w == NULL || virDomainGetUUIDString(doms[i], w->uuid) < 0) {
            goto next;
        }
        name = virDomainGetName(doms[i]);
        snprintf(w->name, sizeof(w->name), "%s", name != NULL ? name : "");
        known = sl_find_want(sl->want, sl->n_want, w->uuid);   /* watcher owns want */
        if (known != NULL) {
            memcpy(w->path, known->path, sizeof(w->path));
            nn++;
            goto next;
        }
        xml = virDomainGetXMLDesc(doms[i], 0);
        if (xml == NULL) {
            goto next;              /* raced with the domain going away */
        }
        if (sl_socket_from_xml(sl, xml, w->path, sizeof(w->path)) == 0) {
            nn++;
        } else {
            vf_dbg(2, "serial: domain '%s' has no usable %s socket", w->name,
                   sl->vmchannel ? "channel" : "serial");
        }
        free(xml);
next:
        virDomainFree(doms[i]);
    }
    free(doms);
    if (r < 0) {
        free(nw);
        return r;
    }
    pthread_mutex_lock(&sl->lock);
    old = sl->want;
    sl->want = nw;
    sl->n_want = nn;
    sl->want_gen++;
    pthread_mutex_unlock(&sl->lock);
    free(old);
    sl_wake(sl);
    sl->next_rescan_ms = vf_now_ms() + SL_RESCAN_MS;
    return 0;
}

static void
sl_conn_drop(struct sl_listener *sl)
{
    if (sl->conn == NULL) {
        return;
    }
    if (sl->lifecycle_id >= 0) {
        (void)virConnectDomainEventDeregisterAny(sl->conn, sl->lifecycle_id);
        sl->lifecycle_id = -1;
    }
    (void)virConnectClose(sl->conn);
    sl->conn = NULL;
}

/* The owner connected the URI (again): the watcher attaches. */
static void
sl_virt_up(void *arg, virConnectPtr conn)
{
    (void)conn;
    sl_wake_watcher(arg);
}

/* The owner lost the connection: the watcher lets go of it. */
static void
sl_virt_down(void *arg, virConnectPtr conn)
{
    struct sl_listener *sl = arg;

    (void)conn;
    atomic_store(&sl->conn_dead, true);
    sl_wake_watcher(sl);
}

const struct vf_virt_events sl_virt_events = {
    .up = sl_virt_up,
    .down = sl_virt_down,
};

/* Take the shared connection if it is up: subscribe to lifecycle events, scan. */
static void
sl_conn_attach(struct sl_listener *sl)
{
    atomic_store(&sl->conn_dead, false);
    sl->conn = vf_virt_get(sl->h);
    if (sl->conn == NULL) {
        return;
    }
    sl->lifecycle_id =
        virConnectDomainEventRegisterAny(sl->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(sl_lifecycle_cb), sl, NULL);
    if (sl->lifecycle_id < 0) {
        vf_log(LOG_WARNING, "serial: no domain events from '%s' (%s); relying on periodic rescans",
               sl->uri, vf_virt_error_text());
    }
    if (sl_scan(sl) < 0) {
        sl_conn_drop(sl);
        sl->failures++;
        return;
    }
    vf_log(sl->failures > 0 ? LOG_NOTICE : LOG_INFO,
           "serial: connected to '%s'; %zu running domain(s) with a socket", sl->uri, sl->n_want);
    sl->failures = 0;
}

/*
 * The watcher: all libvirt work of the listener happens here, so that a
 * hung libvirtd never stalls the guest sockets (the run loop) nor shutdown.
 */
void *
sl_watcher_main(void *arg)
{
    struct sl_listener *sl = arg;
    struct timespec ts;

    while (!atomic_load(&sl->watcher_stop)) {
        if (sl->conn != NULL && atomic_exchange(&sl->conn_dead, false)) {
            vf_log(LOG_WARNING,
                   "serial: connection to '%s' lost; guest sockets stay open, reconnecting",
                   sl->uri);
            sl_conn_drop(sl);
        }
        if (sl->conn == NULL) {
            sl_conn_attach(sl);
        } else if (atomic_exchange(&sl->rescan, false) || vf_now_ms() >= sl->next_rescan_ms) {
            (void)sl_scan(sl);
        }
        ts = vf_deadline_timespec(vf_now_ms() + SL_TICK_MS);
        pthread_mutex_lock(&sl->lock);
        if (!atomic_load(&sl->watcher_stop) && !atomic_load(&sl->rescan) &&
            !atomic_load(&sl->conn_dead)) {
            (void)pthread_cond_timedwait(&sl->cond, &sl->lock, &ts);
        }
        pthread_mutex_unlock(&sl->lock);
    }
    sl_conn_drop(sl);
    pthread_mutex_lock(&sl->lock);
    sl->watcher_done = true;
    pthread_cond_broadcast(&sl->cond);
    pthread_mutex_unlock(&sl->lock);
    sl_unref(sl);
    return NULL;
}
