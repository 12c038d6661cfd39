/*
 * vmfence - daemon/listeners/serial-int.h: the serial listener's private
 * header, shared by its files and its unit test.
 *
 *   serial.c         the plugin: contract, configuration, init / fini
 *   serial-conn.c    guest sockets as requests: vf_conn ops and framing
 *   serial-guests.c  the run loop and its guest table
 *   serial-watch.c   the watcher thread: domains and their sockets from
 *                    libvirt (through daemon/virt/virt.h)
 */
#ifndef VF_SERIAL_INT_H
#define VF_SERIAL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "plugin.h"
#include "wire.h"
#include "virt/virt.h"

#define SL_NAME             "serial"
#define SL_CONF_BLOCK       "listeners/serial"
#define SL_DEFAULT_URI      "qemu:///system"
#define SL_TICK_MS          500         /* poll / watcher wake-up */
#define SL_FRAME_MS         1000        /* a started frame must complete within */
#define SL_RESCAN_MS        5000        /* periodic safety rescan */
#define SL_READ_BUDGET      4096        /* bytes read per guest per wake-up */
#define SL_MAX_GUESTS       4096
#define SL_RETRY_MS         5000        /* retry guest sockets that refused */
#define SL_PATH_MAX         108         /* sizeof(sockaddr_un.sun_path) */
#define SL_FINI_WAIT_MS     2000

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
    atomic_bool conn_dead;          /* set when the owner lost the connection */
    atomic_bool rescan;             /* set by the lifecycle callback */
    struct vf_virt_conn *h;         /* the shared connection to uri */
    /* watcher thread only */
    virConnectPtr conn;             /* referenced; NULL until attached */
    int lifecycle_id;
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
};

/* A request in flight. */
struct sl_conn {
    struct vf_conn conn;
    struct sl_guest *guest;
    bool holding;                   /* wlock held across a host list */
};

/* serial.c */
extern const struct vf_listener_ops sl_ops;
void sl_unref(struct sl_listener *sl);

/* serial-conn.c */
struct sl_guest *sl_guest_ref(struct sl_guest *g);
void sl_guest_unref(struct sl_guest *g);
void sl_feed(struct sl_listener *sl, struct sl_guest *g, const uint8_t *data, size_t n);

/* serial-guests.c */
const struct sl_want *sl_find_want(const struct sl_want *w, size_t n, const char *uuid);
void sl_remove_at(struct sl_listener *sl, size_t i, const char *why);
int sl_run(void *priv);

/* serial-watch.c */
extern const struct vf_virt_events sl_virt_events;
void sl_wake(struct sl_listener *sl);
void *sl_watcher_main(void *arg);

#endif
