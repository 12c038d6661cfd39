/*
 * vmfence - daemon/listeners/serial-guests.c: the serial listener's run
 * loop and its guest table.
 *
 * run() is the only thread that touches the guest table and the guest
 * sockets.  It makes no libvirt call, so a hung libvirtd never stalls the
 * guests, and it wakes at least every SL_TICK_MS to check for shutdown.
 * It follows the watcher's view (running domains and their sockets):
 * connects to new sockets, closes those of domains that stopped, and
 * retries refused sockets every SL_RETRY_MS.
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
int
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
                vf_sleep_ms(SL_TICK_MS);
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
                vf_sleep_ms(100);
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
