/*
 * vmfence - daemon/listeners/serial-conn.c: guest sockets as requests.
 *
 * Bytes read from a guest's socket are resynchronised on the magic,
 * assembled into frames and handed to the pipeline as a vf_conn; the
 * conn's ops write the responses back.  Guest sockets are reference
 * counted: the table holds one reference and every request in flight one
 * more, so a conn's close() never closes the shared socket, and a socket
 * removed from the table stays valid until its last response has been
 * written.  Writes are serialised per socket; a host list (253, records,
 * final byte) holds the write lock from its first to its last byte so
 * that responses never interleave.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io.h"
#include "log.h"
#include "serial-int.h"

static const uint8_t sl_magic[4] = { 0x61, 0x62, 0x62, 0x61 };   /* "abba", LE */

struct sl_guest *
sl_guest_ref(struct sl_guest *g)
{
    atomic_fetch_add(&g->refs, 1);
    return g;
}

void
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

/* ---- vf_conn ops ----------------------------------------------------------- */

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

/* no .open: a guest's frames come in on the socket the answer goes out on */
static const struct vf_conn_ops sl_conn_ops = {
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
void
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
