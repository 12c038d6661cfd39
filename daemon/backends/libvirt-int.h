/*
 * vmfence - daemon/backends/libvirt-int.h: the libvirt backend's private
 * header, shared by its files and its unit test (never by other plugins).
 *
 *   libvirt.c         the plugin: contract, init / fini / reload, ops table
 *   libvirt-conf.c    backends/libvirt: uri, uri1, ... and reboot_powers_on
 *   libvirt-conn.c    the configured URIs (handles on daemon/virt/), the
 *                     per-request snapshot of their connections, errors
 *   libvirt-domain.c  resolving a target on every URI, states, waiting
 *   libvirt-power.c   lookup / off / on / reboot / status / monitor
 *   libvirt-list.c    list: every URI in bulk, merged by UUID, sorted
 *   libvirt-calls.c   bounded calls: each op in a workq thread, abandoned
 *                     at its deadline
 *   libvirt-watch.c   watch / unwatch: lifecycle events and resyncs
 *   libvirt-cache.c   status answered from those events (per domain)
 */
#ifndef VF_LIBVIRT_INT_H
#define VF_LIBVIRT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "io.h"
#include "plugin.h"
#include "virt/virt.h"

#define LV_CONF_BLOCK         "backends/libvirt"
#define LV_DEFAULT_URI        "qemu:///system"
#define LV_MAX_URIS           64
#define LV_POLL_STEP_MS       50
#define LV_INIT_WAIT_MS       2000
#define LV_FINI_WAIT_MS       2000
#define LV_FINI_MIN_MS        200     /* idle queue threads always get this to exit */
#define LV_CACHE_FRESH_MS     1000    /* cached statuses need a libvirt answer this recent */

struct vf_workq;
struct lv_watcher;
struct lv_evreg;
struct lv_cache;

/* One configured URI: a handle on its shared connection. */
struct lv_uri {
    char *uri;
    struct vf_virt_conn *h;
    struct lv_backend *be;
};

struct lv_backend {
    pthread_mutex_t lock;           /* uris, reboot_powers_on, watch_stop, sync_* */
    struct lv_uri **uris;
    size_t n_uris;
    bool reboot_powers_on;
    const struct vf_virt_events *uri_events;    /* given to every URI's handle */
    atomic_int refs;                /* fini + jobs + event registrations */
    atomic_int hung;                /* calls abandoned at their deadline, still running */
    struct vf_workq *calls;         /* bounded calls (libvirt-calls.c) */
    /* watch (libvirt-watch.c) */
    pthread_mutex_t watch_lock;     /* watchers; held while calling them */
    pthread_cond_t watch_cond;      /* sync_done moved (under lock) */
    uint64_t sync_queued;           /* under lock: SYNC items numbered */
    uint64_t sync_done;             /* under lock: the last SYNC that ran */
    struct lv_watcher *watchers;
    atomic_bool watching;           /* watchers != NULL */
    atomic_bool resync_due;         /* an event was dropped */
    bool watch_stop;                /* under lock: no more items */
    struct vf_workq *watchq;        /* one thread: events in order */
    struct lv_evreg *evregs;        /* lifecycle registrations (watchq thread) */
    size_t n_evregs;
    bool regs_complete;             /* watchq thread: every URI connected and registered */
    atomic_bool watch_final;        /* fini: the next SYNC drops every registration */
    /* status from events (libvirt-cache.c) */
    struct lv_cache *cache;
    int cache_fresh_ms;             /* LV_CACHE_FRESH_MS; 0: never answer from the cache */
};

/* Parsed configuration. */
struct lv_conf {
    char **uris;
    size_t n_uris;
    bool reboot_powers_on;
};

/* A request's private view of the connections (references held). */
struct lv_ref {
    virConnectPtr conn;             /* NULL: this URI is down */
    char *uri;
};

struct lv_snap {
    struct lv_ref *refs;
    size_t n;
    size_t n_down;
    bool reboot_powers_on;
};

/* One resolved domain. */
struct lv_dom {
    virDomainPtr dom;
    const struct lv_ref *ref;
    char name[256];
    char uuid[VIR_UUID_STRING_BUFLEN];
};

/*
 * Every place where a target lives.  A domain may be defined on several
 * URIs (shared definitions for migration: defined everywhere, running on
 * one), so "the first URI that has it" is not enough: a shut-off copy on
 * the first URI must never hide a running copy on the second.
 */
struct lv_match {
    struct lv_dom *d;               /* at most one per URI */
    size_t n;
    bool incomplete;                /* some URI is down or failed: a copy there is unknown */
    uint64_t unanswered;            /* bit i: URI i (snap->refs[i]) did not answer */
};

#define LV_STATE_GONE (-1)          /* the domain vanished after the lookup */
#define LV_STATE_ERR  (-2)          /* its state could not be read */

/* ms a stopping queue waits for its threads: until @deadline_ms, at least LV_FINI_MIN_MS */
static inline int
lv_fini_wait(int64_t deadline_ms)
{
    int64_t left = deadline_ms - vf_now_ms();

    return left > LV_FINI_MIN_MS ? (int)left : LV_FINI_MIN_MS;
}

/* the plugin (libvirt.c) */
extern const struct vf_backend_ops lv_ops;

/* libvirt-conf.c */
int lv_conf_read(const struct vf_conf *conf, struct lv_conf *ret, char *err, size_t err_len);
void lv_conf_done(struct lv_conf *c);

/* libvirt-conn.c */
void lv_be_unref(struct lv_backend *be);
int lv_apply_conf(struct lv_backend *be, struct lv_conf *c);
void lv_uris_close(struct lv_backend *be, int64_t deadline_ms);
size_t lv_wait_connected(struct lv_backend *be, int64_t deadline_ms);
virConnectPtr lv_uri_conn(struct lv_backend *be, size_t idx);
int lv_snap_take(struct lv_backend *be, struct lv_snap *snap);
void lv_snap_done(struct lv_snap *snap);
int lv_error(const struct lv_ref *ref, char *msg, size_t msg_len);

/* libvirt-domain.c */
int lv_begin(struct lv_backend *be, const char *target, unsigned int flags, int64_t deadline_ms,
             struct lv_snap *snap, struct lv_match *m);
void lv_dom_done(struct lv_dom *d);
void lv_copy_name(char *dst, size_t dst_len, const char *src);
void lv_match_done(struct lv_match *m);
const char *lv_unanswered_text(const struct lv_snap *snap, uint64_t unanswered, char *buf,
                               size_t len);
const char *lv_state_text(int state);
int lv_get_state(const struct lv_dom *d, int *ret_state);
int lv_wait_state(const struct lv_dom *d, bool want_off, int64_t deadline_ms);
int lv_match_states(const struct lv_match *m, int *states);
bool lv_state_on(int state);
size_t lv_match_primary(const struct lv_match *m, const int *states, bool want_persistent);
bool lv_all_gone(const struct lv_match *m, const int *states);

/* libvirt-power.c: the operations, run in a call thread (libvirt-calls.c) */
int lv_do_lookup(struct lv_backend *be, const char *target, unsigned int flags,
                 struct vf_domain_info *ret_dom, int64_t deadline_ms);
int lv_do_off(struct lv_backend *be, const char *target, unsigned int flags,
              int64_t deadline_ms);
int lv_do_on(struct lv_backend *be, const char *target, unsigned int flags,
             int64_t deadline_ms);
int lv_do_reboot(struct lv_backend *be, const char *target, unsigned int flags,
                 int64_t deadline_ms);
int lv_do_status(struct lv_backend *be, const char *target, unsigned int flags, bool *ret_on,
                 int64_t deadline_ms);
int lv_do_monitor(struct lv_backend *be, int64_t deadline_ms);

/* libvirt-list.c */
int lv_do_list(struct lv_backend *be, struct vf_domain_info **ret_all, size_t *ret_n,
               int64_t deadline_ms);

/* libvirt-calls.c: the ops of the table, bounded by their deadline */
int lv_calls_init(struct lv_backend *be);
void lv_calls_fini(struct lv_backend *be, int64_t deadline_ms);
int lv_lookup(void *priv, const char *target, unsigned int flags,
              struct vf_domain_info *ret_dom, int64_t deadline_ms);
int lv_off(void *priv, const char *target, unsigned int flags, int64_t deadline_ms);
int lv_on(void *priv, const char *target, unsigned int flags, int64_t deadline_ms);
int lv_reboot(void *priv, const char *target, unsigned int flags, int64_t deadline_ms);
int lv_status(void *priv, const char *target, unsigned int flags, bool *ret_on,
              int64_t deadline_ms);
int lv_list(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms);
int lv_monitor(void *priv, int64_t deadline_ms);

/* libvirt-watch.c */
int lv_watch_init(struct lv_backend *be);
void lv_watch_fini(struct lv_backend *be, int64_t deadline_ms);
extern const struct vf_virt_events lv_uri_events;
int lv_watch(void *priv, vf_domain_event_cb cb, void *arg);
void lv_unwatch(void *priv, vf_domain_event_cb cb, void *arg);

/* libvirt-cache.c */
int lv_cache_init(struct lv_backend *be);
void lv_cache_fini(struct lv_backend *be);
void lv_cache_alive(struct lv_backend *be);
void lv_cache_invalidate(struct lv_backend *be);
uint64_t lv_cache_seq(struct lv_backend *be);
void lv_cache_mark_uuid(struct lv_backend *be, const char *uuid);
void lv_cache_mark_target(struct lv_backend *be, const char *target);
void lv_cache_put(struct lv_backend *be, uint64_t seq, const struct vf_domain_info *dom,
                  bool gone);
int lv_cache_fill(struct lv_backend *be, uint64_t seq, const struct vf_domain_info *all,
                  size_t n, bool complete);
int lv_cache_status(struct lv_backend *be, const char *target, unsigned int flags,
                    bool *ret_on);

/* libvirt-watch.c: the cache's side */
void lv_watch_refresh(struct lv_backend *be, const char *target);
void lv_watch_kick(struct lv_backend *be);

#endif
