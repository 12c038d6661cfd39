/*
 * vmfence - daemon/listeners/serial-guests.c: the serial listener's run
 * loop and its guest table.
 *
 * run() is the only thread that touches the guest table and the guest
 * sockets.  It makes no libvirt call, so a hung libvirtd never stalls the
 * guests, and it wakes at least every SL_TICK_MS to check for shutdown.
 * It follows the watcher's view (running domains and their sockets):
 * connects to new sockets, closes those of domains that stopped, and
 * retries refused sockets every SL_RETRY_MS.  Under privilege separation
 * (serial-int.h: host side, fds mode) the same loop runs in both
 * processes: the privileged one connects and passes the sockets on, the
 * network one reads those it is passed (serial-host.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "timeutil.h"
#include "serial-int.h"

/* ---- guest table (run thread) --------------------------------------------------- */

ssize_t
sl_find_index(const struct sl_listener *sl, const char *uuid)
{
    for (size_t i = 0; i < sl->n_guests; i++) {
        if (strcmp(sl->guests[i]->uuid, uuid) == 0) {
            return (ssize_t)i;
        }
    }
    return -1;
}

const struct sl_want *
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

void
sl_remove_at(struct sl_listener *sl, size_t i, const char *why)
{
    struct sl_guest *g = sl->guests[i];

    vf_log(LOG_INFO, "serial: closing socket '%s' of domain '%s' (%s): %s",
           g->path, g->name, g->uuid, why);
    atomic_store(&g->gone, true);
    sl->guests[i] = sl->guests[sl->n_guests - 1];
    sl->n_guests--;
    sl_host_removed(sl, g);
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

/* Add a guest with its connected socket @fd (taken over) to the table.
 * \return the guest (the table's reference), NULL when refused (logged) */
struct sl_guest *
sl_add_fd(struct sl_listener *sl, const char *uuid, const char *name, const char *path, int fd)
{
    struct sl_guest *g = NULL, **tmp = NULL;

    if (sl->n_guests >= SL_MAX_GUESTS) {
        vf_log(LOG_ERR, "serial: more than %d guests; domain '%s' ignored", SL_MAX_GUESTS, name);
        (void)vf_close(fd);
        return NULL;
    }
    g = calloc(1, sizeof(*g));
    tmp = realloc(sl->guests, (sl->n_guests + 1) * sizeof(*sl->guests));
    if (tmp != NULL) {
        sl->guests = tmp;
    }
    if (g == NULL || tmp == NULL) {
        free(g);
        (void)vf_close(fd);
        vf_log(LOG_ERR, "serial: out of memory tracking domain '%s'", name);
        return NULL;
    }
    atomic_init(&g->refs, 1);
    atomic_init(&g->gone, false);
    pthread_mutex_init(&g->wlock, NULL);
    g->fd = fd;
    snprintf(g->uuid, sizeof(g->uuid), "%s", uuid);
    snprintf(g->name, sizeof(g->name), "%s", name);
    snprintf(g->path, sizeof(g->path), "%s", path);
    sl->guests[sl->n_guests++] = g;
    vf_log(LOG_INFO, "serial: %s domain '%s' (%s) on '%s'",
           sl->host_pair >= 0 ? "connected to" : "listening to", g->name, g->uuid, g->path);
    return g;
}

/* Connect to the socket of @w and add it to the table. */
static void
sl_add_guest(struct sl_listener *sl, const struct sl_want *w, bool loud)
{
    struct sl_guest *g = NULL;
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
    g = sl_add_fd(sl, w->uuid, w->name, w->path, fd);
    if (g != NULL) {
        sl_host_added(sl, g);
    }
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
        if (sl_find_index(sl, sl->have[i].uuid) < 0) {
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

/* A guest's poll events: hung up (host side, which reads nothing) or what it sent. */
static bool
sl_guest_event(struct sl_listener *sl, size_t i, short revents)
{
    struct sl_guest *g = sl->guests[i];
    const char *why = NULL;

    if (sl->host_pair >= 0) {
        if ((revents & (POLLHUP | POLLERR | POLLNVAL)) == 0) {
            return true;
        }
        sl_remove_at(sl, i, "peer closed the socket");
        return false;
    }
    if (!sl_read_guest(sl, g, &why)) {
        sl_remove_at(sl, i, why != NULL ? why : "error");
        return false;
    }
    return true;
}

/* The poll set: wake pipe, guest pair (or -1), the guests; NULL on ENOMEM. */
static struct pollfd *
sl_poll_set(struct sl_listener *sl, struct pollfd *pfd, size_t *cap)
{
    int pair = sl->host_pair >= 0 ? sl->host_pair : sl->from_host;
    size_t i;

    if (*cap < sl->n_guests + 2) {
        struct pollfd *tmp = realloc(pfd, (sl->n_guests + 2) * sizeof(*pfd));

        if (tmp == NULL) {
            return NULL;
        }
        pfd = tmp;
        *cap = sl->n_guests + 2;
    }
    pfd[0] = (struct pollfd){ .fd = sl->wake[0], .events = POLLIN };
    pfd[1] = (struct pollfd){ .fd = sl->pair_dead ? -1 : pair, .events = POLLIN };
    for (i = 0; i < sl->n_guests; i++) {
        pfd[i + 2] = (struct pollfd){ .fd = sl->guests[i]->fd,
                                      .events = sl->host_pair >= 0 ? 0 : POLLIN };
    }
    return pfd;
}

/* Partial frames past their deadline are dropped; the next wake-up time. */
static int64_t
sl_expire_frames(struct sl_listener *sl, int64_t now)
{
    int64_t wake_at = now + SL_TICK_MS;

    for (size_t i = 0; i < sl->n_guests; i++) {
        struct sl_guest *g = sl->guests[i];

        if (g->len > 0 && now - g->frame_start_ms > SL_FRAME_MS) {
            vf_log(LOG_WARNING,
                   "serial: incomplete frame (%zu of %d bytes) from '%s' (%s) timed out",
                   g->len, VF_SERIAL_REQ_SIZE, g->name, g->uuid);
            g->len = 0;
        }
        if (g->len > 0 && g->frame_start_ms + SL_FRAME_MS + 1 < wake_at) {
            wake_at = g->frame_start_ms + SL_FRAME_MS + 1;
        }
    }
    return wake_at;
}

/* The run loop: guest sockets only; no libvirt calls here. */
int
sl_run(void *priv)
{
    struct sl_listener *sl = priv;
    struct pollfd *pfd = NULL, *tmp;
    size_t cap = 0, i, n;
    int r;

    sl->next_retry_ms = vf_now_ms() + SL_RETRY_MS;
    if (sl->from_host >= 0) {
        sl_fds_begin(sl);
    }
    while (!sl->api->stopping(sl->api->ctx)) {
        if (sl->from_host >= 0) {
            /* fds mode: the privileged side connects, and says so */
        } else if (sl_take_want(sl)) {
            sl_reconcile(sl, true);
        } else if (vf_now_ms() >= sl->next_retry_ms) {
            sl_reconcile(sl, false);
        }
        tmp = sl_poll_set(sl, pfd, &cap);
        if (tmp == NULL) {
            vf_log(LOG_ERR, "serial: out of memory");
            vf_sleep_ms(SL_TICK_MS);
            continue;
        }
        pfd = tmp;
        n = sl->n_guests;
        r = poll(pfd, n + 2, vf_ms_left(sl_expire_frames(sl, vf_now_ms())));
        if (r < 0) {
            if (errno != EINTR) {
                vf_log(LOG_ERR, "serial: poll: %s", strerror(errno));
                vf_sleep_ms(100);
            }
            continue;
        }
        if (pfd[0].revents != 0) {
            sl_drain_wake(sl);
        }
        /* backwards: removal swaps the last guest into slot i */
        for (i = n; i > 0; i--) {
            if (pfd[i + 1].revents != 0 && pfd[i + 1].fd == sl->guests[i - 1]->fd) {
                (void)sl_guest_event(sl, i - 1, pfd[i + 1].revents);
            }
        }
        /* after the guests: the pair's messages change the table */
        if (pfd[1].revents != 0) {
            sl_pair_read(sl);
        }
    }
    free(pfd);
    return 0;
}
