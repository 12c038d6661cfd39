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
 *  - run(): the only thread that touches the guest table and the guest
 *    sockets.  It makes no libvirt call, so a hung libvirtd never stalls the
 *    guests, and it wakes at least every 500 ms to check for shutdown.
 *  - the watcher: all libvirt work.  It connects (reconnecting with a backoff
 *    of 0.5 s doubling to 10 s after a disconnect, re-registering the
 *    lifecycle callback), lists the running domains (at connect, on every
 *    lifecycle event and every SL_RESCAN_MS to catch anything missed), reads
 *    their XML (libxml2 XPath) and publishes "domain UUID -> socket path";
 *    the run loop then connects to new sockets, closes those of domains that
 *    stopped, and retries refused sockets every SL_RETRY_MS.  Guest sockets
 *    stay open while libvirtd is away.
 *  - a private libvirt event loop thread, so that keepalive, the close
 *    callback and domain lifecycle events are delivered.  Callbacks only set
 *    flags and wake the watcher.
 *  - the daemon's workers, which write responses through vf_conn ops.
 * Differences from the reference (D11): the event handling never dies (a
 * libvirt disconnect leads to reconnect + rescan + re-registration); the
 * magic is validated and the stream resynchronised on garbage; frames are
 * read with a per-frame deadline without blocking other guests.
 *
 * Guest sockets are reference counted: the table holds one reference and
 * every request in flight one more, so a conn's close() never closes the
 * shared socket, and a socket removed from the table stays valid until its
 * last response has been written.  Writes are serialised per socket; a
 * host list (253, records, final byte) holds the write lock from its first
 * to its last byte so that responses never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "config.h"
#include "io.h"
#include "log.h"
#include "plugin.h"
#include "wire.h"

#define SL_NAME             "serial"
#define SL_CONF_BLOCK       "listeners/serial"
#define SL_DEFAULT_URI      "qemu:///system"
#define SL_TICK_MS          500         /* poll / event loop wake-up */
#define SL_FRAME_MS         1000        /* a started frame must complete within */
#define SL_RESCAN_MS        5000        /* periodic safety rescan */
#define SL_BACKOFF_MIN_MS   500
#define SL_BACKOFF_MAX_MS   10000
#define SL_READ_BUDGET      4096        /* bytes read per guest per wake-up */
#define SL_MAX_GUESTS       4096
#define SL_KEEPALIVE_INTERVAL 5
#define SL_KEEPALIVE_COUNT  3
#define SL_RETRY_MS         5000        /* retry guest sockets that refused */
#define SL_PATH_MAX         108         /* sizeof(sockaddr_un.sun_path) */

static const uint8_t sl_magic[4] = { 0x61, 0x62, 0x62, 0x61 };   /* "abba", LE */

/* One guest socket (shared by the table and in-flight requests). */
struct sl_guest {
    atomic_int refs;
    pthread_mutex_t wlock;          /* serialises writes to fd */
    atomic_bool gone;               /* removed from the table */
    int fd;
    char uuid[VIR_UUID_STRING_BUFLEN];
    char name[256];
    char path[SL_PATH_MAX];
    /* frame assembly (run thread only) */
    uint8_t buf[VF_SERIAL_REQ_SIZE];
    size_t len;
    int64_t frame_start_ms;
    uint64_t skipped;               /* garbage bytes in the current burst */
    bool seen;                      /* rescan bookkeeping */
};

/* A running domain with a usable socket, as found by the watcher. */
struct sl_want {
    char uuid[VIR_UUID_STRING_BUFLEN];
    char name[256];
    char path[SL_PATH_MAX];
};

struct sl_listener {
    atomic_int refs;                /* listener + watcher thread */
    const struct vf_daemon_api *api;
    char *uri;
    char *dir;                      /* NULL: any socket path */
    bool vmchannel;
    int wake[2];                    /* wakes the run loop */
    /* shared by the watcher and the run loop (lock) */
    pthread_mutex_t lock;
    pthread_cond_t cond;            /* wakes the watcher; signals watcher_done */
    struct sl_want *want;           /* the running domains with sockets */
    size_t n_want;
    unsigned int want_gen;
    bool watcher_done;
    atomic_bool watcher_stop;
    atomic_bool conn_dead;          /* set by the close callback */
    atomic_bool rescan;             /* set by the lifecycle callback */
    /* watcher thread only */
    virConnectPtr conn;
    int lifecycle_id;
    int backoff_ms;
    int64_t next_try_ms;
    int64_t next_rescan_ms;
    unsigned int failures;
    pthread_t watcher;
    bool watcher_running;
    /* run thread only */
    struct sl_guest **guests;
    size_t n_guests;
    struct sl_want *have;           /* the run loop's copy of want */
    size_t n_have;
    unsigned int have_gen;
    int64_t next_retry_ms;
    /* event loop */
    pthread_t event_thread;
    bool event_running;
    atomic_bool event_stop;
    int tick_timer;
};

/* A request in flight. */
struct sl_conn {
    struct vf_conn conn;
    struct sl_guest *guest;
    bool holding;                   /* wlock held across a host list */
};

/* ---- guests --------------------------------------------------------------- */

static void
sl_sleep_ms(int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static struct sl_guest *
sl_guest_ref(struct sl_guest *g)
{
    atomic_fetch_add(&g->refs, 1);
    return g;
}

static void
sl_guest_unref(struct sl_guest *g)
{
    if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1) {
        return;
    }
    (void)vf_close(g->fd);
    pthread_mutex_destroy(&g->wlock);
    free(g);
}

static int
sl_lock_until(pthread_mutex_t *m, int64_t deadline_ms)
{
    struct timespec ts;
    int left = vf_ms_left(deadline_ms);

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (long)(left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return -pthread_mutex_timedlock(m, &ts);
}

/* ---- vf_conn ops ------------------------------------------------------------ */

static int
sl_send_response(struct vf_conn *conn, uint8_t resp, int64_t deadline_ms)
{
    struct sl_conn *sc = (struct sl_conn *)conn;
    struct sl_guest *g = sc->guest;
    struct vf_serial_resp sr = { .magic = VF_SERIAL_MAGIC, .response = resp };
    uint8_t out[VF_SERIAL_RESP_SIZE];
    int r;

    r = vf_serial_resp_encode(&sr, out);
    if (r < 0) {
        return r;
    }
    if (!sc->holding) {
        r = sl_lock_until(&g->wlock, deadline_ms);
        if (r < 0) {
            vf_log(LOG_WARNING, "serial: response to %s not sent: socket busy (%s)",
                   conn->peer, strerror(-r));
            return r;
        }
        sc->holding = true;
    }
    r = vf_write_full(g->fd, out, sizeof(out), deadline_ms);
    if (r < 0) {
        vf_log(LOG_WARNING, "serial: writing response to %s failed: %s", conn->peer, strerror(-r));
    }
    /* 253 opens a host list: keep the socket until the final response */
    if (resp != VF_RESP_HOSTLIST || r < 0) {
        sc->holding = false;
        pthread_mutex_unlock(&g->wlock);
    }
    return r;
}

static int
sl_send_host_state(struct vf_conn *conn, const struct vf_host_state *hs, int64_t deadline_ms)
{
    struct sl_conn *sc = (struct sl_conn *)conn;
    uint8_t out[VF_HOST_STATE_SIZE];
    int r;

    if (!sc->holding) {
        return -EPROTO;             /* records only after the 253 response */
    }
    r = vf_host_state_encode(hs, out);
    if (r < 0) {
        return r;
    }
    r = vf_write_full(sc->guest->fd, out, sizeof(out), deadline_ms);
    if (r < 0) {
        vf_log(LOG_WARNING, "serial: writing host list to %s failed: %s", conn->peer, strerror(-r));
        sc->holding = false;
        pthread_mutex_unlock(&sc->guest->wlock);
    }
    return r;
}

static void
sl_conn_close(struct vf_conn *conn)
{
    struct sl_conn *sc = (struct sl_conn *)conn;

    if (sc == NULL) {
        return;
    }
    if (sc->holding) {
        pthread_mutex_unlock(&sc->guest->wlock);
    }
    sl_guest_unref(sc->guest);      /* never closes a socket still in the table */
    free(sc);
}

static const struct vf_conn_ops sl_conn_ops = {
    .open = NULL,
    .send_response = sl_send_response,
    .send_host_state = sl_send_host_state,
    .close = sl_conn_close,
};

/* ---- frames ------------------------------------------------------------------- */

/* Hand one complete, magic-checked frame to the pipeline. */
static void
sl_dispatch(struct sl_listener *sl, struct sl_guest *g)
{
    struct vf_serial_req req;
    struct sl_conn *sc;
    int r;

    r = vf_serial_req_decode(g->buf, VF_SERIAL_REQ_SIZE, &req);
    if (r < 0) {
        vf_log(LOG_WARNING,
               "serial: undecodable frame from domain '%s' (%s) dropped", g->name, g->uuid);
        return;
    }
    sc = calloc(1, sizeof(*sc));
    if (sc == NULL) {
        vf_log(LOG_ERR, "serial: out of memory; request from domain '%s' dropped", g->name);
        return;
    }
    sc->conn.ops = &sl_conn_ops;
    sc->conn.listener = SL_NAME;
    snprintf(sc->conn.peer, sizeof(sc->conn.peer), "domain %.64s (%s)", g->name, g->uuid);
    snprintf(sc->conn.identity, sizeof(sc->conn.identity), "%s", g->uuid);
    sc->conn.req.request = req.request;
    sc->conn.req.flags = req.flags;
    sc->conn.req.hashtype = VF_HASH_NONE;
    sc->conn.req.seqno = req.seqno;
    memcpy(sc->conn.req.domain, req.domain, sizeof(sc->conn.req.domain));
    sc->conn.req.domain[VF_DOMAIN_FIELD] = '\0';
    sc->conn.req.domain_unterminated = strlen(req.domain) >= VF_DOMAIN_FIELD;
    sc->conn.is_signed = false;
    sc->conn.min_hash = VF_HASH_NONE;
    sc->conn.auth = VF_HASH_NONE;
    sc->conn.key = NULL;
    sc->conn.fd = -1;
    sc->conn.accepted_ms = vf_now_ms();
    sc->conn.priv = NULL;
    sc->guest = sl_guest_ref(g);
    vf_dbg(2, "serial: request %u for '%s' (seqno %u) from %s",
           (unsigned int)req.request, sc->conn.req.domain, (unsigned int)req.seqno, sc->conn.peer);
    sl->api->submit(sl->api->ctx, &sc->conn);
}

/*
 * Drop bytes until the buffer starts with (a prefix of) the magic.  A frame
 * candidate whose request byte is not a known command is treated as
 * garbage too (skip one byte and look again).
 */
static void
sl_resync(struct sl_guest *g)
{
    size_t i, k, drop = g->len;

    for (;;) {
        drop = g->len;
        for (i = 0; i < g->len; i++) {
            for (k = 0; k < sizeof(sl_magic) && i + k < g->len; k++) {
                if (g->buf[i + k] != sl_magic[k]) {
                    break;
                }
            }
            if (k == sizeof(sl_magic) || i + k == g->len) {
                drop = i;
                break;
            }
        }
        if (drop == 0 && g->len > 4 && g->buf[4] > VF_CMD_VALIDATEALL) {
            drop = 1;               /* magic followed by nonsense: keep looking */
        }
        if (drop == 0) {
            return;
        }
        g->skipped += drop;
        memmove(g->buf, g->buf + drop, g->len - drop);
        g->len -= drop;
        if (g->len > 0) {
            g->frame_start_ms = vf_now_ms();
        }
    }
}

/* Feed received bytes through resync / assembly / dispatch. */
static void
sl_feed(struct sl_listener *sl, struct sl_guest *g, const uint8_t *data, size_t n)
{
    size_t take;

    while (n > 0) {
        take = VF_SERIAL_REQ_SIZE - g->len;
        if (take > n) {
            take = n;
        }
        if (g->len == 0) {
            g->frame_start_ms = vf_now_ms();
        }
        memcpy(g->buf + g->len, data, take);
        g->len += take;
        data += take;
        n -= take;
        sl_resync(g);
        if (g->len == VF_SERIAL_REQ_SIZE) {
            if (g->skipped > 0) {
                vf_log(LOG_WARNING,
                       "serial: skipped %llu garbage byte(s) from domain '%s' (%s)",
                       (unsigned long long)g->skipped, g->name, g->uuid);
                g->skipped = 0;
            }
            sl_dispatch(sl, g);
            g->len = 0;
        }
    }
}

/* ---- guest table (run thread) --------------------------------------------------- */

static struct sl_guest *
sl_find(struct sl_listener *sl, const char *uuid)
{
    size_t i;

    for (i = 0; i < sl->n_guests; i++) {
        if (strcmp(sl->guests[i]->uuid, uuid) == 0) {
            return sl->guests[i];
        }
    }
    return NULL;
}

static const struct sl_want *
sl_find_want(const struct sl_want *w, size_t n, const char *uuid)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(w[i].uuid, uuid) == 0) {
            return &w[i];
        }
    }
    return NULL;
}

static void
sl_remove_at(struct sl_listener *sl, size_t i, const char *why)
{
    struct sl_guest *g = sl->guests[i];

    vf_log(LOG_INFO, "serial: closing socket '%s' of domain '%s' (%s): %s",
           g->path, g->name, g->uuid, why);
    atomic_store(&g->gone, true);
    sl->guests[i] = sl->guests[sl->n_guests - 1];
    sl->n_guests--;
    /* requests in flight keep their reference; the fd closes with the last one */
    sl_guest_unref(g);
}

static int
sl_connect_unix(const char *path, int *ret_fd)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd, r;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        (void)vf_close(fd);
        return r == -EINPROGRESS ? -EAGAIN : r;
    }
    *ret_fd = fd;
    return 0;
}

/* Connect to the socket of @w and add it to the table. */
static void
sl_add_guest(struct sl_listener *sl, const struct sl_want *w, bool loud)
{
    struct sl_guest *g, **tmp;
    int r, fd = -1;

    if (sl->n_guests >= SL_MAX_GUESTS) {
        vf_log(LOG_ERR, "serial: more than %d guests; domain '%s' ignored", SL_MAX_GUESTS, w->name);
        return;
    }
    r = sl_connect_unix(w->path, &fd);
    if (r < 0) {
        if (loud) {
            vf_log(LOG_WARNING,
                   "serial: cannot connect to socket '%s' of domain '%s': %s; will retry",
                   w->path, w->name, strerror(-r));
        } else {
            vf_dbg(1, "serial: cannot connect to socket '%s' of domain '%s': %s",
                   w->path, w->name, strerror(-r));
        }
        return;
    }
    g = calloc(1, sizeof(*g));
    tmp = realloc(sl->guests, (sl->n_guests + 1) * sizeof(*sl->guests));
    if (tmp != NULL) {
        sl->guests = tmp;
    }
    if (g == NULL || tmp == NULL) {
        free(g);
        (void)vf_close(fd);
        vf_log(LOG_ERR, "serial: out of memory tracking domain '%s'", w->name);
        return;
    }
    atomic_init(&g->refs, 1);
    atomic_init(&g->gone, false);
    pthread_mutex_init(&g->wlock, NULL);
    g->fd = fd;
    memcpy(g->uuid, w->uuid, sizeof(g->uuid));
    memcpy(g->name, w->name, sizeof(g->name));
    memcpy(g->path, w->path, sizeof(g->path));
    sl->guests[sl->n_guests++] = g;
    vf_log(LOG_INFO, "serial: listening to domain '%s' (%s) on '%s'", g->name, g->uuid, g->path);
}

/*
 * Bring the table in line with the watcher's latest view: close the sockets
 * of domains that stopped, connect to new ones (and retry refused ones).
 */
static void
sl_reconcile(struct sl_listener *sl, bool loud)
{
    size_t i;

    for (i = sl->n_guests; i > 0; i--) {
        if (sl_find_want(sl->have, sl->n_have, sl->guests[i - 1]->uuid) == NULL) {
            sl_remove_at(sl, i - 1, "domain is no longer running");
        }
    }
    for (i = 0; i < sl->n_have; i++) {
        if (sl_find(sl, sl->have[i].uuid) == NULL) {
            sl_add_guest(sl, &sl->have[i], loud);
        }
    }
    sl->next_retry_ms = vf_now_ms() + SL_RETRY_MS;
}

/* Copy a newer want list from the watcher, if any.  \return true if new. */
static bool
sl_take_want(struct sl_listener *sl)
{
    struct sl_want *copy = NULL;
    bool changed = false;

    pthread_mutex_lock(&sl->lock);
    if (sl->want_gen != sl->have_gen) {
        if (sl->n_want > 0) {
            copy = malloc(sl->n_want * sizeof(*copy));
        }
        if (copy != NULL || sl->n_want == 0) {
            if (copy != NULL) {
                memcpy(copy, sl->want, sl->n_want * sizeof(*copy));
            }
            free(sl->have);
            sl->have = copy;
            sl->n_have = sl->n_want;
            sl->have_gen = sl->want_gen;
            changed = true;
        }
    }
    pthread_mutex_unlock(&sl->lock);
    return changed;
}

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

static void
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

static void
sl_close_cb(virConnectPtr conn, int reason, void *opaque)
{
    struct sl_listener *sl = opaque;

    (void)conn;
    (void)reason;
    atomic_store(&sl->conn_dead, true);
    sl_wake_watcher(sl);
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
    (void)virConnectUnregisterCloseCallback(sl->conn, sl_close_cb);
    (void)virConnectClose(sl->conn);
    sl->conn = NULL;
}

/* Connect, subscribe to lifecycle events, scan. */
static void
sl_conn_try(struct sl_listener *sl)
{
    virErrorPtr e;
    int r;

    sl->conn = virConnectOpen(sl->uri);
    if (sl->conn == NULL) {
        e = virGetLastError();
        if (sl->failures == 0) {
            vf_log(LOG_WARNING, "serial: cannot connect to '%s': %s; retrying in the background",
                   sl->uri, e != NULL && e->message != NULL ? e->message : "unknown error");
        }
        sl->failures++;
        goto retry;
    }
    r = virConnectSetKeepAlive(sl->conn, SL_KEEPALIVE_INTERVAL, SL_KEEPALIVE_COUNT);
    if (r < 0) {
        e = virGetLastError();
        if (e == NULL || e->code != VIR_ERR_NO_SUPPORT) {
            vf_log(LOG_WARNING, "serial: cannot enable keepalive on '%s': %s, ignoring", sl->uri,
                   e != NULL && e->message != NULL ? e->message : "unknown error");
        }
    }
    atomic_store(&sl->conn_dead, false);
    (void)virConnectRegisterCloseCallback(sl->conn, sl_close_cb, sl, NULL);
    sl->lifecycle_id =
        virConnectDomainEventRegisterAny(sl->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(sl_lifecycle_cb), sl, NULL);
    if (sl->lifecycle_id < 0) {
        e = virGetLastError();
        vf_log(LOG_WARNING, "serial: no domain events from '%s' (%s); relying on periodic rescans",
               sl->uri, e != NULL && e->message != NULL ? e->message : "unknown error");
    }
    if (sl_scan(sl) < 0) {
        sl_conn_drop(sl);
        sl->failures++;
        goto retry;
    }
    vf_log(sl->failures > 0 ? LOG_NOTICE : LOG_INFO,
           "serial: connected to '%s'; %zu running domain(s) with a socket", sl->uri, sl->n_want);
    sl->failures = 0;
    sl->backoff_ms = SL_BACKOFF_MIN_MS;
    return;
retry:
    sl->next_try_ms = vf_now_ms() + sl->backoff_ms;
    sl->backoff_ms *= 2;
    if (sl->backoff_ms > SL_BACKOFF_MAX_MS) {
        sl->backoff_ms = SL_BACKOFF_MAX_MS;
    }
}

static void sl_unref(struct sl_listener *sl);

/*
 * The watcher: all libvirt work of the listener happens here, so that a
 * hung libvirtd never stalls the guest sockets (the run loop) nor shutdown.
 */
static void *
sl_watcher_main(void *arg)
{
    struct sl_listener *sl = arg;
    struct timespec ts;
    int64_t now, wake;

    while (!atomic_load(&sl->watcher_stop)) {
        now = vf_now_ms();
        if (sl->conn != NULL && atomic_load(&sl->conn_dead)) {
            vf_log(LOG_WARNING,
                   "serial: connection to '%s' lost; guest sockets stay open, reconnecting",
                   sl->uri);
            sl_conn_drop(sl);
            sl->next_try_ms = now;
            sl->backoff_ms = SL_BACKOFF_MIN_MS;
        }
        if (sl->conn == NULL && now >= sl->next_try_ms) {
            sl_conn_try(sl);
        } else if (sl->conn != NULL &&
                   (atomic_exchange(&sl->rescan, false) || now >= sl->next_rescan_ms)) {
            (void)sl_scan(sl);
        }
        now = vf_now_ms();
        wake = now + SL_TICK_MS;
        if (sl->conn == NULL && sl->next_try_ms < wake) {
            wake = sl->next_try_ms;
        }
        ts.tv_sec = (time_t)(wake / 1000);
        ts.tv_nsec = (long)(wake % 1000) * 1000000L;
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

/* ---- event loop ----------------------------------------------------------------- */

static void
sl_tick(int timer, void *opaque)
{
    (void)timer;
    (void)opaque;
}

static void *
sl_event_main(void *arg)
{
    struct sl_listener *sl = arg;

    while (!atomic_load(&sl->event_stop)) {
        if (virEventRunDefaultImpl() < 0) {
            sl_sleep_ms(50);
        }
    }
    return NULL;
}

static void
sl_silent_error(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

/* ---- listener ops ------------------------------------------------------------- */

static void
sl_unref(struct sl_listener *sl)
{
    if (sl == NULL || atomic_fetch_sub(&sl->refs, 1) != 1) {
        return;
    }
    (void)vf_close(sl->wake[0]);
    (void)vf_close(sl->wake[1]);
    pthread_cond_destroy(&sl->cond);
    pthread_mutex_destroy(&sl->lock);
    free(sl->want);
    free(sl->have);
    free(sl->guests);
    free(sl->uri);
    free(sl->dir);
    free(sl);
}

static void sl_fini(void *priv);

static int
sl_init(const struct vf_conf *conf, const struct vf_daemon_api *api, void **ret_priv,
        char *err, size_t err_len)
{
    struct sl_listener *sl;
    const struct vf_conf_node *blk = NULL, *n;
    const char *uri = NULL, *dir = NULL, *mode = NULL;
    pthread_condattr_t ca;
    char where[256], *end = NULL;
    size_t len;
    long v;
    int r;

    sl = calloc(1, sizeof(*sl));
    if (sl == NULL) {
        snprintf(err, err_len, "serial listener: out of memory");
        return -ENOMEM;
    }
    atomic_init(&sl->refs, 1);
    sl->api = api;
    sl->wake[0] = sl->wake[1] = -1;
    sl->lifecycle_id = -1;
    sl->tick_timer = -1;
    sl->backoff_ms = SL_BACKOFF_MIN_MS;
    atomic_init(&sl->watcher_stop, false);
    atomic_init(&sl->conn_dead, false);
    atomic_init(&sl->rescan, false);
    atomic_init(&sl->event_stop, false);
    pthread_mutex_init(&sl->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sl->cond, &ca);
    pthread_condattr_destroy(&ca);

    if (conf != NULL) {
        blk = vf_conf_block(conf, NULL, SL_CONF_BLOCK);
    }
    if (blk != NULL) {
        n = vf_conf_key(conf, blk, "uri");
        uri = n != NULL ? n->value : NULL;
        n = vf_conf_key(conf, blk, "path");
        dir = n != NULL ? n->value : NULL;
        n = vf_conf_key(conf, blk, "mode");
        mode = n != NULL ? n->value : NULL;
        if (mode != NULL) {
            if (strcasecmp(mode, "serial") == 0) {
                sl->vmchannel = false;
            } else if (strcasecmp(mode, "vmchannel") == 0) {
                sl->vmchannel = true;
            } else {
                errno = 0;
                v = strtol(mode, &end, 10);
                if (mode[0] == '\0' || *end != '\0' || errno != 0) {
                    snprintf(err, err_len, "%s: key 'mode': '%s' is not serial or vmchannel",
                             vf_conf_where(conf, n, where, sizeof(where)), mode);
                    r = -EINVAL;
                    goto fail;
                }
                sl->vmchannel = v != 0;
            }
        }
    }
    if (uri == NULL || uri[0] == '\0') {
        vf_log(LOG_INFO, "serial listener: no '" SL_CONF_BLOCK "/uri' configured, using '%s'",
               SL_DEFAULT_URI);
        uri = SL_DEFAULT_URI;
    }
    sl->uri = strdup(uri);
    if (dir != NULL && dir[0] != '\0') {
        if (dir[0] != '/') {
            snprintf(err, err_len, "%s: key 'path': '%s' is not an absolute directory",
                     vf_conf_where(conf, vf_conf_key(conf, blk, "path"), where, sizeof(where)),
                     dir);
            r = -EINVAL;
            goto fail;
        }
        sl->dir = strdup(dir);
        if (sl->dir != NULL) {
            len = strlen(sl->dir);
            while (len > 1 && sl->dir[len - 1] == '/') {
                sl->dir[--len] = '\0';
            }
        }
    }
    if (sl->uri == NULL || (dir != NULL && dir[0] != '\0' && sl->dir == NULL)) {
        snprintf(err, err_len, "serial listener: out of memory");
        r = -ENOMEM;
        goto fail;
    }
    if (pipe2(sl->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        r = -errno;
        snprintf(err, err_len, "serial listener: pipe: %s", strerror(-r));
        goto fail;
    }
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
        snprintf(err, err_len, "serial listener: cannot initialise the libvirt event loop");
        r = -EIO;
        goto fail;
    }
    virSetErrorFunc(NULL, sl_silent_error);
    sl->tick_timer = virEventAddTimeout(SL_TICK_MS, sl_tick, NULL, NULL);
    r = -pthread_create(&sl->event_thread, NULL, sl_event_main, sl);
    if (r < 0) {
        snprintf(err, err_len, "serial listener: cannot start the event thread: %s", strerror(-r));
        goto fail;
    }
    sl->event_running = true;
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

static void
sl_drain_wake(struct sl_listener *sl)
{
    char buf[64];

    while (read(sl->wake[0], buf, sizeof(buf)) > 0) {
    }
}

/* Read what a guest sent (bounded); false if the socket is finished. */
static bool
sl_read_guest(struct sl_listener *sl, struct sl_guest *g, const char **why)
{
    uint8_t buf[512];
    size_t total = 0;
    ssize_t n;

    while (total < SL_READ_BUDGET) {
        n = recv(g->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return true;
            }
            *why = strerror(errno);
            return false;
        }
        if (n == 0) {
            *why = "peer closed the socket";
            return false;
        }
        total += (size_t)n;
        sl_feed(sl, g, buf, (size_t)n);
    }
    return true;
}

/* The run loop: guest sockets only; no libvirt calls here. */
static int
sl_run(void *priv)
{
    struct sl_listener *sl = priv;
    struct pollfd *pfd = NULL, *tmp;
    size_t cap = 0, i, n;
    int64_t now, wake_at;
    const char *why;
    int timeout, r;

    sl->next_retry_ms = vf_now_ms() + SL_RETRY_MS;
    while (!sl->api->stopping(sl->api->ctx)) {
        if (sl_take_want(sl)) {
            sl_reconcile(sl, true);
        } else if (vf_now_ms() >= sl->next_retry_ms) {
            sl_reconcile(sl, false);
        }
        now = vf_now_ms();
        /* partial frames past their deadline */
        for (i = 0; i < sl->n_guests; i++) {
            struct sl_guest *g = sl->guests[i];

            if (g->len > 0 && now - g->frame_start_ms > SL_FRAME_MS) {
                vf_log(LOG_WARNING,
                       "serial: incomplete frame (%zu of %d bytes) from '%s' (%s) timed out",
                       g->len, VF_SERIAL_REQ_SIZE, g->name, g->uuid);
                g->len = 0;
            }
        }
        if (cap < sl->n_guests + 1) {
            tmp = realloc(pfd, (sl->n_guests + 1) * sizeof(*pfd));
            if (tmp == NULL) {
                vf_log(LOG_ERR, "serial: out of memory");
                sl_sleep_ms(SL_TICK_MS);
                continue;
            }
            pfd = tmp;
            cap = sl->n_guests + 1;
        }
        pfd[0] = (struct pollfd){ .fd = sl->wake[0], .events = POLLIN };
        for (i = 0; i < sl->n_guests; i++) {
            pfd[i + 1] = (struct pollfd){ .fd = sl->guests[i]->fd, .events = POLLIN };
        }
        n = sl->n_guests;
        wake_at = now + SL_TICK_MS;
        for (i = 0; i < n; i++) {
            int64_t expiry = sl->guests[i]->frame_start_ms + SL_FRAME_MS + 1;

            if (sl->guests[i]->len > 0 && expiry < wake_at) {
                wake_at = expiry;
            }
        }
        timeout = vf_ms_left(wake_at);
        r = poll(pfd, n + 1, timeout);
        if (r < 0) {
            if (errno != EINTR) {
                vf_log(LOG_ERR, "serial: poll: %s", strerror(errno));
                sl_sleep_ms(100);
            }
            continue;
        }
        if (pfd[0].revents != 0) {
            sl_drain_wake(sl);
        }
        /* backwards: removal swaps the last guest into slot i */
        for (i = n; i > 0; i--) {
            struct sl_guest *g = sl->guests[i - 1];

            if (pfd[i].revents == 0 || pfd[i].fd != g->fd) {
                continue;
            }
            why = NULL;
            if (!sl_read_guest(sl, g, &why)) {
                sl_remove_at(sl, i - 1, why != NULL ? why : "error");
            }
        }
    }
    free(pfd);
    return 0;
}

static void
sl_fini(void *priv)
{
    struct sl_listener *sl = priv;
    struct timespec ts;
    int64_t until;
    bool done = true;

    if (sl == NULL) {
        return;
    }
    if (sl->watcher_running) {
        /* the watcher may be stuck in a libvirt call: wait a little, then
         * leave it behind (it holds its own reference) */
        atomic_store(&sl->watcher_stop, true);
        until = vf_now_ms() + 2000;
        ts.tv_sec = (time_t)(until / 1000);
        ts.tv_nsec = (long)(until % 1000) * 1000000L;
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
            vf_log(LOG_WARNING,
                   "serial listener: libvirt thread stuck in a call to '%s'; left behind",
                   sl->uri);
            pthread_detach(sl->watcher);
        }
    }
    while (sl->n_guests > 0) {
        sl_remove_at(sl, sl->n_guests - 1, "listener stopping");
    }
    if (sl->event_running) {
        atomic_store(&sl->event_stop, true);
        if (sl->tick_timer >= 0) {
            virEventUpdateTimeout(sl->tick_timer, 0);
        }
        pthread_join(sl->event_thread, NULL);
    }
    if (sl->tick_timer >= 0) {
        (void)virEventRemoveTimeout(sl->tick_timer);
    }
    sl_unref(sl);
}

static const struct vf_listener_ops sl_ops = {
    .name = SL_NAME,
    .version = PACKAGE_VERSION,
    .init = sl_init,
    .run = sl_run,
    .fini = sl_fini,
};

VF_PLUGIN_DEFINE(serial, &sl_ops, NULL);
