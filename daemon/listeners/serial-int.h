/*
 * vmfence - daemon/listeners/serial-int.h: the serial listener's private
 * header, shared by its files and its unit test.
 *
 *   serial.c         the plugin: contract, configuration, init / fini
 *   serial-conn.c    guest sockets as requests: vf_conn ops and framing
 *   serial-guests.c  the run loop and its guest table
 *   serial-watch.c   the watcher thread: domains and their sockets from
 *                    libvirt (through daemon/virt/virt.h)
 *   serial-host.c    privilege separation (privsep/guestpair.h): the host
 *                    side in the privileged process (watcher + sockets,
 *                    passed on), and the network process's "fds from the
 *                    privileged side" mode
 *
 * Modes of one struct sl_listener:
 *   own        (host_pair < 0, from_host < 0): one process; watches,
 *              connects, reads, submits;
 *   host side  (host_pair >= 0): the privileged process under privilege
 *              separation; watches and connects like "own", but reads
 *              nothing: it keeps each socket to see it hang up and passes
 *              it to the network process;
 *   fds        (from_host >= 0): the network process; no libvirt at all,
 *              its guests come from the guest pair; reads and submits.
 */
#ifndef VF_SERIAL_INT_H
#define VF_SERIAL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
    uint32_t gen;                   /* host side: the socket's generation */
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
    int host_pair;                  /* host side: the guest pair (borrowed), else -1 */
    int from_host;                  /* fds mode: the guest pair (borrowed), else -1 */
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
    bool subscribed;                /* host side: the network process asked (SYNC) */
    bool pair_dead;                 /* the guest pair ended */
    uint32_t next_gen;              /* host side: generation of the next socket */
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
int sl_init_as(const struct vf_conf *conf, const struct vf_daemon_api *api, int from_host,
               void **ret_priv, char *err, size_t err_len);

/* serial-host.c */
void sl_fds_begin(struct sl_listener *sl);
void sl_pair_read(struct sl_listener *sl);
void sl_host_added(struct sl_listener *sl, struct sl_guest *g);
void sl_host_removed(struct sl_listener *sl, struct sl_guest *g);

/* serial-conn.c */
struct sl_guest *sl_guest_ref(struct sl_guest *g);
void sl_guest_unref(struct sl_guest *g);
void sl_feed(struct sl_listener *sl, struct sl_guest *g, const uint8_t *data, size_t n);

/* serial-guests.c */
const struct sl_want *sl_find_want(const struct sl_want *w, size_t n, const char *uuid);
void sl_remove_at(struct sl_listener *sl, size_t i, const char *why);
struct sl_guest *sl_add_fd(struct sl_listener *sl, const char *uuid, const char *name,
                           const char *path, int fd);
ssize_t sl_find_index(const struct sl_listener *sl, const char *uuid);
int sl_run(void *priv);

/* serial-watch.c */
extern const struct vf_virt_events sl_virt_events;
void sl_wake(struct sl_listener *sl);
void *sl_watcher_main(void *arg);

#endif
