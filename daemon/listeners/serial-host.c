/*
 * vmfence - daemon/listeners/serial-host.c: the serial listener under
 * privilege separation (privsep/guestpair.h, serial-int.h's modes).
 *
 * Host side (the privileged process): the listener's watcher and run loop
 * as in one process, but the run loop reads nothing from a guest socket.
 * It keeps each socket it connected (polling it only to see it hang up)
 * and, once the network process asked with SYNC, passes it on: RESET and
 * a GUEST per socket at every SYNC, then a GUEST for each new socket and
 * a GONE for each closed one.  A message that cannot be sent in time (the
 * network process's serial listener is not reading) ends the
 * subscription until its next SYNC, which gets the whole set again.  From
 * the untrusted side only SYNC is taken; anything else is logged and
 * ignored.
 *
 * fds mode (the network process): no libvirt, no connect.  Its run loop
 * sends SYNC when it starts and then applies what the pair says: GUEST
 * adds (or replaces) a guest with the descriptor that came with it, GONE
 * and RESET drop.  Serving a guest is exactly as in one process
 * (serial-conn.c: same frames, identity = domain UUID, same pipeline).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "privsep/guestpair.h"
#include "serial-host.h"
#include "serial-int.h"

#define SL_PAIR_SEND_MS 1000    /* room on the guest pair, at most */
#define SL_PAIR_BATCH 64        /* messages taken per wake-up */

/* ---- host side: sending -------------------------------------------------------- */

static int
sl_host_send(struct sl_listener *sl, const struct vf_ps_guest *gm, int fd)
{
    int r = 0;

    if (!sl->subscribed || sl->pair_dead) {
        return 0;
    }
    r = vf_ps_gp_send(sl->host_pair, gm, fd, SL_PAIR_SEND_MS);
    if (r == -EPIPE) {
        vf_log(LOG_WARNING, "serial: the network process closed the guest pair");
        sl->pair_dead = true;
    } else if (r < 0) {
        vf_log(LOG_WARNING, "serial: guest sockets not handed to the network process (%s); "
               "it gets them all at its next request", strerror(-r));
        sl->subscribed = false;
    }
    return r;
}

static void
sl_host_fill(struct vf_ps_guest *gm, uint16_t kind, const struct sl_listener *sl,
             const struct sl_guest *g)
{
    memset(gm, 0, sizeof(*gm));
    gm->kind = kind;
    gm->gen = g->gen;
    gm->mode = sl->vmchannel ? 1 : 0;
    snprintf(gm->uuid, sizeof(gm->uuid), "%s", g->uuid);
    if (kind == VF_PS_G_GUEST) {
        snprintf(gm->name, sizeof(gm->name), "%s", g->name[0] != '\0' ? g->name : "?");
        snprintf(gm->path, sizeof(gm->path), "%s", g->path);
    }
}

/* The table (run thread) added @g: pass it on. */
void
sl_host_added(struct sl_listener *sl, struct sl_guest *g)
{
    struct vf_ps_guest gm;

    if (sl->host_pair < 0) {
        return;
    }
    g->gen = ++sl->next_gen;
    sl_host_fill(&gm, VF_PS_G_GUEST, sl, g);
    if (sl_host_send(sl, &gm, g->fd) == 0 && sl->subscribed) {
        vf_dbg(1, "serial: socket of domain '%s' (%s) handed to the network process",
               g->name, g->uuid);
    }
}

/* The table (run thread) removed @g: the network process drops it too. */
void
sl_host_removed(struct sl_listener *sl, struct sl_guest *g)
{
    struct vf_ps_guest gm;

    if (sl->host_pair < 0) {
        return;
    }
    sl_host_fill(&gm, VF_PS_G_GONE, sl, g);
    (void)sl_host_send(sl, &gm, -1);
}

/* SYNC: RESET, then every socket */
static void
sl_host_sync(struct sl_listener *sl)
{
    struct vf_ps_guest gm = { .kind = VF_PS_G_RESET };

    sl->subscribed = true;
    if (sl_host_send(sl, &gm, -1) < 0) {
        return;
    }
    for (size_t i = 0; i < sl->n_guests && sl->subscribed; i++) {
        sl_host_fill(&gm, VF_PS_G_GUEST, sl, sl->guests[i]);
        (void)sl_host_send(sl, &gm, sl->guests[i]->fd);
    }
    vf_log(LOG_INFO, "serial: %zu guest socket(s) handed to the network process", sl->n_guests);
}

/* ---- fds mode: receiving ------------------------------------------------------- */

void
sl_fds_begin(struct sl_listener *sl)
{
    struct vf_ps_guest gm = { .kind = VF_PS_G_SYNC };
    int r = vf_ps_gp_send(sl->from_host, &gm, -1, SL_PAIR_SEND_MS);

    if (r < 0) {
        vf_log(LOG_ERR, "serial: cannot ask the privileged process for the guest sockets: %s",
               strerror(-r));
        sl->pair_dead = r == -EPIPE;
    }
}

static void
sl_fds_apply(struct sl_listener *sl, const struct vf_ps_guest *gm, int fd)
{
    ssize_t i = gm->kind == VF_PS_G_RESET ? -1 : sl_find_index(sl, gm->uuid);
    struct sl_guest *g = NULL;

    switch (gm->kind) {
    case VF_PS_G_GUEST:
        if (i >= 0) {
            sl_remove_at(sl, (size_t)i, "replaced by a new socket");
        }
        g = sl_add_fd(sl, gm->uuid, gm->name, gm->path, fd);
        if (g != NULL) {
            g->gen = gm->gen;
        }
        break;
    case VF_PS_G_GONE:
        /* only the socket it names (a newer one of the domain stays) */
        if (i >= 0 && sl->guests[i]->gen == gm->gen) {
            sl_remove_at(sl, (size_t)i, "closed by the privileged process");
        }
        break;
    case VF_PS_G_RESET:
        while (sl->n_guests > 0) {
            sl_remove_at(sl, sl->n_guests - 1, "the privileged process sends them again");
        }
        break;
    default:
        vf_log(LOG_WARNING, "serial: unexpected message %u on the guest pair; ignored",
               (unsigned int)gm->kind);
        break;
    }
}

/* What the guest pair holds (at most SL_PAIR_BATCH messages). */
void
sl_pair_read(struct sl_listener *sl)
{
    int pair = sl->host_pair >= 0 ? sl->host_pair : sl->from_host;
    bool sync = false;

    for (int k = 0; k < SL_PAIR_BATCH && !sl->pair_dead; k++) {
        struct vf_ps_guest gm;
        int fd = -1;
        int r = vf_ps_gp_recv(pair, &gm, &fd);

        if (r == -EAGAIN) {
            break;
        }
        if (r == -EPIPE) {
            vf_log(sl->host_pair >= 0 ? LOG_INFO : LOG_ERR, "serial: the guest pair ended (%s)",
                   sl->host_pair >= 0 ? "the network process is gone" :
                   "the privileged process is gone");
            sl->pair_dead = true;
            break;
        }
        if (r < 0) {
            vf_log(LOG_WARNING, "serial: refused a message on the guest pair: %s", strerror(-r));
            continue;
        }
        if (sl->host_pair >= 0) {
            /* from the untrusted side: SYNC only */
            if (gm.kind == VF_PS_G_SYNC) {
                sync = true;
            } else {
                vf_log(LOG_WARNING, "serial: the network process sent message %u; ignored",
                       (unsigned int)gm.kind);
                if (fd >= 0) {
                    (void)close(fd);
                }
            }
            continue;
        }
        sl_fds_apply(sl, &gm, fd);
    }
    if (sync) {
        sl_host_sync(sl);
    }
}

/* ---- the host side's handle (privileged process) ------------------------------- */

struct vf_sl_host {
    struct vf_daemon_api api;
    atomic_bool stop;
    pthread_t run;
    void *priv;
};

static bool
host_stopping(void *ctx)
{
    return atomic_load(&((struct vf_sl_host *)ctx)->stop);
}

/* never called: the host side reads no request */
static void
host_submit(void *ctx, struct vf_conn *conn)
{
    (void)ctx;
    conn->ops->close(conn);
}

static void *
host_run(void *arg)
{
    struct vf_sl_host *h = arg;
    struct sl_listener *sl = h->priv;

    if (sl->subscribed) {
        sl_host_sync(sl);           /* RESET: the previous host side's sockets go */
    }
    (void)sl_ops.run(sl);
    return NULL;
}

int
vf_sl_host_start(const struct vf_conf *conf, int pair, bool resync,
                 struct vf_sl_host **ret_h, char *err, size_t err_len)
{
    struct vf_sl_host *h = calloc(1, sizeof(*h));
    struct sl_listener *sl = NULL;
    int r = 0;

    if (h == NULL) {
        snprintf(err, err_len, "serial listener: out of memory");
        return -ENOMEM;
    }
    atomic_init(&h->stop, false);
    h->api = (struct vf_daemon_api){ .ctx = h, .submit = host_submit,
                                     .stopping = host_stopping };
    r = sl_init_as(conf, &h->api, -1, &h->priv, err, err_len);
    if (r < 0) {
        free(h);
        return r;
    }
    sl = h->priv;
    sl->host_pair = pair;
    sl->subscribed = resync;
    r = -pthread_create(&h->run, NULL, host_run, h);
    if (r < 0) {
        snprintf(err, err_len, "serial listener: no thread: %s", strerror(-r));
        sl_ops.fini(h->priv);
        free(h);
        return r;
    }
    vf_log(LOG_INFO, "serial listener: guest sockets are opened here and handed to the "
           "network process (privilege separation)");
    *ret_h = h;
    return 0;
}

bool
vf_sl_host_stop(struct vf_sl_host *h)
{
    struct sl_listener *sl = NULL;
    bool subscribed = false;

    if (h == NULL) {
        return false;
    }
    atomic_store(&h->stop, true);
    sl = h->priv;
    sl_wake(sl);
    pthread_join(h->run, NULL);     /* it notices within SL_TICK_MS */
    subscribed = sl->subscribed && !sl->pair_dead;
    sl->subscribed = false;         /* no GONE for each: the pair is ending or moving on */
    sl_ops.fini(h->priv);
    free(h);
    return subscribed;
}
