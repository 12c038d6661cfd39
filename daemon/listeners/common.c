/*
 * vmfence - daemon/listeners/common.c: shared listener code (see common.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "io.h"
#include "key.h"
#include "log.h"

static int
conf_err(const struct vf_conf *conf, const char *path, char *err, size_t err_len,
         const char *what, const char *value)
{
    const struct vf_conf_node *n = vf_conf_key(conf, NULL, path);
    char where[300];

    if (n != NULL) {
        vf_conf_where(conf, n, where, sizeof(where));
    } else {
        snprintf(where, sizeof(where), "%s", conf != NULL && conf->path != NULL ?
                 conf->path : "config");
    }
    snprintf(err, err_len, "%s: error: %s: %s '%s'", where, path, what, value);
    return -EINVAL;
}

int
vf_lsettings_read(const struct vf_conf *conf, const char *name,
                  struct vf_lsettings *s, char *err, size_t err_len)
{
    char path[128];
    const char *v = NULL;
    unsigned long port = 0;
    char warn[512];
    int r = 0;

    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);

    snprintf(path, sizeof(path), "listeners/%s/key_file", name);
    snprintf(s->key_file, sizeof(s->key_file), "%s", vf_conf_get(conf, path, VF_DEFAULT_KEY_FILE));

    snprintf(path, sizeof(path), "listeners/%s/hash", name);
    v = vf_conf_get(conf, path, "sha256");
    if (vf_hash_from_string(v, &s->hash) < 0) {
        return conf_err(conf, path, err, err_len, "unknown hash (none, sha1, sha256, sha512)", v);
    }
    snprintf(path, sizeof(path), "listeners/%s/auth", name);
    v = vf_conf_get(conf, path, "sha256");
    if (vf_hash_from_string(v, &s->auth) < 0) {
        return conf_err(conf, path, err, err_len, "unknown auth (none, sha1, sha256, sha512)", v);
    }

    snprintf(path, sizeof(path), "listeners/%s/address", name);
    snprintf(s->address, sizeof(s->address), "%s", vf_conf_get(conf, path, ""));

    snprintf(path, sizeof(path), "listeners/%s/family", name);
    v = vf_conf_get(conf, path, NULL);
    s->family = AF_INET;
    if (v != NULL) {
        s->family_set = true;
        if (strcasecmp(v, "ipv4") == 0 || strcasecmp(v, "inet") == 0) {
            s->family = AF_INET;
        } else if (strcasecmp(v, "ipv6") == 0 || strcasecmp(v, "inet6") == 0) {
            s->family = AF_INET6;
        } else {
            return conf_err(conf, path, err, err_len, "unknown family (ipv4, ipv6)", v);
        }
    } else if (strchr(s->address, ':') != NULL) {
        s->family = AF_INET6;
    }

    snprintf(path, sizeof(path), "listeners/%s/port", name);
    r = vf_conf_get_uint(conf, path, 1, 65535, VF_DEFAULT_PORT, &port, err, err_len);
    if (r < 0) {
        return r;
    }
    s->port = (uint16_t)port;

    snprintf(path, sizeof(path), "listeners/%s/interface", name);
    v = vf_conf_get(conf, path, "");
    if (strlen(v) > IF_NAMESIZE - 1) {
        return conf_err(conf, path, err, err_len, "interface name too long", v);
    }
    snprintf(s->interface, sizeof(s->interface), "%s", v);

    if (s->hash != VF_HASH_NONE || s->auth != VF_HASH_NONE) {
        char kerr[512];

        s->key = calloc(1, sizeof(*s->key));
        if (s->key == NULL) {
            snprintf(err, err_len, "out of memory");
            return -ENOMEM;
        }
        warn[0] = '\0';
        r = vf_key_load(s->key_file, s->key, kerr, sizeof(kerr), warn, sizeof(warn));
        if (r < 0) {
            snprintf(err, err_len, "listener '%s': %s (hash '%s', auth '%s' need a key; "
                     "refusing to run unauthenticated)", name, kerr,
                     vf_hash_name(s->hash), vf_hash_name(s->auth));
            free(s->key);
            s->key = NULL;
            return r;
        }
        if (warn[0] != '\0') {
            vf_log(LOG_WARNING, "listener '%s': %s (mode left unchanged)", name, warn);
        }
    } else {
        vf_log(LOG_WARNING, "listener '%s': hash and auth are 'none': requests are NOT "
               "authenticated", name);
    }
    return 0;
}

void
vf_lsettings_done(struct vf_lsettings *s)
{
    if (s == NULL) {
        return;
    }
    if (s->key != NULL) {
        vf_key_clear(s->key);
        free(s->key);
        s->key = NULL;
    }
}

void
vf_conn_init_signed(struct vf_conn *c, const struct vf_lsettings *s, const char *listener)
{
    c->listener = listener;
    c->is_signed = true;
    c->min_hash = s->hash;
    c->auth = s->auth;
    c->key = s->key;
    c->fd = -1;
    c->accepted_ms = vf_now_ms();
}

/*
 * Host lists go out in batches: records (and the 0xFD byte that announces
 * them) are collected in a buffer hung on conn->priv, written when it is
 * full and, at the latest, together with the next response byte.  One
 * send() carries about VF_CONN_WBUF_SIZE / 130 records instead of one each.
 */
#define VF_CONN_WBUF_SIZE 65536

struct conn_wbuf {
    size_t len;
    uint8_t data[VF_CONN_WBUF_SIZE];
};

/* Write out what is buffered on @c.  \return 0 or -errno */
static int
wbuf_flush(struct vf_conn *c, int64_t deadline_ms)
{
    struct conn_wbuf *wb = c->priv;
    int r = 0;

    if (wb == NULL || wb->len == 0) {
        return 0;
    }
    r = vf_write_full(c->fd, wb->data, wb->len, deadline_ms);
    wb->len = 0;
    return r;
}

/* Append @len bytes to @c's buffer, flushing first when full.  \return 0 or -errno */
static int
wbuf_append(struct vf_conn *c, const uint8_t *data, size_t len, int64_t deadline_ms)
{
    struct conn_wbuf *wb = c->priv;
    int r = 0;

    if (wb == NULL) {
        wb = malloc(sizeof(*wb));
        if (wb == NULL) {
            return vf_write_full(c->fd, data, len, deadline_ms);
        }
        wb->len = 0;
        c->priv = wb;
    }
    if (wb->len + len > sizeof(wb->data)) {
        r = wbuf_flush(c, deadline_ms);
        if (r < 0) {
            return r;
        }
    }
    memcpy(wb->data + wb->len, data, len);
    wb->len += len;
    return 0;
}

int
vf_conn_fd_send_response(struct vf_conn *c, uint8_t resp, int64_t deadline_ms)
{
    struct conn_wbuf *wb = NULL;

    if (c->fd < 0) {
        return -ENOTCONN;
    }
    if (resp == VF_RESP_HOSTLIST) {
        /* records follow: goes out with the first batch of them */
        return wbuf_append(c, &resp, 1, deadline_ms);
    }
    wb = c->priv;
    if (wb != NULL && wb->len > 0) {
        /* the last records and the final byte in one write */
        int r = wbuf_append(c, &resp, 1, deadline_ms);

        return r < 0 ? r : wbuf_flush(c, deadline_ms);
    }
    return vf_write_full(c->fd, &resp, 1, deadline_ms);
}

int
vf_conn_fd_send_host_state(struct vf_conn *c, const struct vf_host_state *hs,
                           int64_t deadline_ms)
{
    uint8_t buf[VF_HOST_STATE_SIZE];
    int r = 0;

    if (c->fd < 0) {
        return -ENOTCONN;
    }
    r = vf_host_state_encode(hs, buf);
    if (r < 0) {
        return r;
    }
    return wbuf_append(c, buf, sizeof(buf), deadline_ms);
}

/* ---- stream accept loop ---------------------------------------------------- */

struct stream_conn {
    struct vf_conn conn;        /* first: the pipeline sees this */
};

void
vf_conn_fd_close(struct vf_conn *c)
{
    if (c == NULL) {
        return;
    }
    vf_close(c->fd);
    free(c->priv);      /* host list write buffer */
    free(c);
}

static const struct vf_conn_ops stream_ops = {
    .open = NULL,
    .send_response = vf_conn_fd_send_response,
    .send_host_state = vf_conn_fd_send_host_state,
    .close = vf_conn_fd_close,
};

void
vf_stream_priv_fini(void *p)
{
    struct vf_stream_priv *priv = p;

    if (priv == NULL) {
        return;
    }
    vf_close(priv->fd);
    vf_lsettings_done(&priv->s);
    free(priv);
}

int
vf_stream_priv_run(void *p)
{
    struct vf_stream_priv *priv = p;
    int r = vf_stream_serve(&priv->sl);

    /* release the port now: a reload may bind it again before fini() */
    priv->fd = vf_close(priv->fd);
    return r;
}

void
vf_stream_priv_ready(struct vf_stream_priv *priv, const char *name,
                     const struct vf_daemon_api *api,
                     void (*describe)(int, const struct sockaddr *, socklen_t,
                                      char *, size_t, char *, size_t))
{
    priv->sl.name = name;
    priv->sl.lfd = priv->fd;
    priv->sl.api = api;
    priv->sl.settings = &priv->s;
    priv->sl.describe = describe;
}

struct pending {
    int fd;
    size_t have;
    int64_t deadline;
    uint8_t buf[VF_REQ_SIZE];
    char identity[128];
    char peer[128];
};

static void
pending_drop(struct pending *p, const char *listener, const char *why)
{
    vf_dbg(1, "listener %s: %s: %s, closed", listener, p->peer, why);
    vf_close(p->fd);
    p->fd = -1;
}

static void
pending_complete(const struct vf_stream_listener *sl, struct pending *p)
{
    struct stream_conn *sc = calloc(1, sizeof(*sc));

    if (sc == NULL) {
        pending_drop(p, sl->name, "out of memory");
        return;
    }
    vf_conn_init_signed(&sc->conn, sl->settings, sl->name);
    sc->conn.ops = &stream_ops;
    memcpy(sc->conn.raw, p->buf, VF_REQ_SIZE);
    if (vf_req_decode(p->buf, VF_REQ_SIZE, &sc->conn.req) < 0) {
        free(sc);
        pending_drop(p, sl->name, "undecodable request");
        return;
    }
    snprintf(sc->conn.identity, sizeof(sc->conn.identity), "%s", p->identity);
    snprintf(sc->conn.peer, sizeof(sc->conn.peer), "%s", p->peer);
    /* accepted in blocking mode (the loop reads with MSG_DONTWAIT) */
    sc->conn.fd = p->fd;
    p->fd = -1;
    sl->api->submit(sl->api->ctx, &sc->conn);
}

/* Read what @p's peer sent so far; submit once the request is complete. */
static void
pending_read(const struct vf_stream_listener *sl, struct pending *p)
{
    ssize_t got = recv(p->fd, p->buf + p->have, VF_REQ_SIZE - p->have, MSG_DONTWAIT);

    if (got > 0) {
        p->have += (size_t)got;
        if (p->have == VF_REQ_SIZE) {
            pending_complete(sl, p);
        }
    } else if (got == 0) {
        pending_drop(p, sl->name, "peer closed before a complete request");
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        pending_drop(p, sl->name, strerror(errno));
    }
}

/* Index of the pending connection to evict (all slots in use): the one
 * accepted first among those that sent nothing yet, else the oldest. */
static int
oldest_pending(const struct pending *pend)
{
    int oldest = 0;

    for (int i = 1; i < VF_STREAM_PENDING_MAX; i++) {
        bool idle_i = pend[i].have == 0;
        bool idle_o = pend[oldest].have == 0;

        if ((idle_i && !idle_o) ||
            (idle_i == idle_o && pend[i].deadline < pend[oldest].deadline)) {
            oldest = i;
        }
    }
    return oldest;
}

int
vf_stream_serve(const struct vf_stream_listener *sl)
{
    struct pending *pend = NULL;
    struct pollfd pfd[VF_STREAM_PENDING_MAX + 1];
    int map[VF_STREAM_PENDING_MAX + 1];
    int64_t accept_pause_until = 0;
    int64_t last_warn = 0;
    int rc = 0;

    pend = calloc(VF_STREAM_PENDING_MAX, sizeof(*pend));
    if (pend == NULL) {
        return -ENOMEM;
    }
    for (int i = 0; i < VF_STREAM_PENDING_MAX; i++) {
        pend[i].fd = -1;
    }
    while (!sl->api->stopping(sl->api->ctx)) {
        int64_t now = vf_now_ms();
        int timeout = 500;
        nfds_t n = 0;
        int pr = 0;
        unsigned int n_pending = 0;

        if (now >= accept_pause_until) {
            pfd[n].fd = sl->lfd;
            pfd[n].events = POLLIN;
            map[n++] = -1;
        } else if (accept_pause_until - now < timeout) {
            timeout = (int)(accept_pause_until - now);
        }
        for (int i = 0; i < VF_STREAM_PENDING_MAX; i++) {
            if (pend[i].fd < 0) {
                continue;
            }
            n_pending++;
            if (pend[i].deadline <= now) {
                pending_drop(&pend[i], sl->name, "request not received within 1 s");
                continue;
            }
            if (pend[i].deadline - now < timeout) {
                timeout = (int)(pend[i].deadline - now);
            }
            pfd[n].fd = pend[i].fd;
            pfd[n].events = POLLIN;
            map[n++] = i;
        }
        pr = poll(pfd, n, timeout < 1 ? 1 : timeout);
        if (pr < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            vf_log(LOG_ERR, "listener %s: poll failed: %s", sl->name, strerror(errno));
            break;
        }
        for (nfds_t k = 0; k < n && pr > 0; k++) {
            if (pfd[k].revents == 0) {
                continue;
            }
            if (map[k] < 0) {
                continue;   /* listening socket: handled below */
            }
            pending_read(sl, &pend[map[k]]);
        }
        /* accept everything that is waiting (bounded per round) */
        for (int round = 0; n > 0 && map[0] == -1 && (pfd[0].revents & POLLIN) != 0 &&
             round < VF_STREAM_PENDING_MAX; round++) {
            struct sockaddr_storage ss;
            socklen_t slen = sizeof(ss);
            /* blocking mode, as the pipeline expects; reads here use MSG_DONTWAIT */
            int fd = accept4(sl->lfd, (struct sockaddr *)&ss, &slen, SOCK_CLOEXEC);
            int slot = -1;

            if (fd < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                    errno == ECONNABORTED || errno == EPROTO) {
                    break;
                }
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                    errno == ENOMEM) {
                    if (vf_now_ms() - last_warn > 5000) {
                        vf_log(LOG_WARNING, "listener %s: accept failed: %s; backing off",
                               sl->name, strerror(errno));
                        last_warn = vf_now_ms();
                    }
                    accept_pause_until = vf_now_ms() + 200;
                    break;
                }
                vf_log(LOG_WARNING, "listener %s: accept failed: %s", sl->name,
                       strerror(errno));
                accept_pause_until = vf_now_ms() + 100;
                break;
            }
            for (int i = 0; i < VF_STREAM_PENDING_MAX; i++) {
                if (pend[i].fd < 0) {
                    slot = i;
                    break;
                }
            }
            if (slot < 0) {
                /*
                 * Full of peers that connected but sent nothing: close the
                 * oldest rather than refuse the newcomer.  Refusing let 64
                 * idle connections, renewed every second, lock every
                 * legitimate client out; a legitimate client sends its
                 * request at once, so it gets through while idlers rotate.
                 */
                slot = oldest_pending(pend);
                if (vf_now_ms() - last_warn > 5000) {
                    vf_log(LOG_WARNING, "listener %s: %d connections waiting for their "
                           "request; closing the oldest (%s) for a new one", sl->name,
                           VF_STREAM_PENDING_MAX, pend[slot].peer);
                    last_warn = vf_now_ms();
                }
                pending_drop(&pend[slot], sl->name, "evicted by a newer connection");
            }
            memset(&pend[slot], 0, sizeof(pend[slot]));
            pend[slot].fd = fd;
            pend[slot].deadline = vf_now_ms() + VF_STREAM_REQ_TIMEOUT_MS;
            sl->describe(fd, (struct sockaddr *)&ss, slen, pend[slot].identity,
                         sizeof(pend[slot].identity), pend[slot].peer,
                         sizeof(pend[slot].peer));
            /* a client sends its request right after connecting: usually
             * it is there already, so no extra poll round is needed */
            pending_read(sl, &pend[slot]);
        }
        (void)n_pending;
    }
    for (int i = 0; i < VF_STREAM_PENDING_MAX; i++) {
        vf_close(pend[i].fd);
    }
    free(pend);
    return rc;
}
