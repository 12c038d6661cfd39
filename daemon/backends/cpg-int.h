/*
 * vmfence - daemon/backends/cpg-int.h: the cpg backend's private header.
 *
 * The backend (see cpg.c for the design) is cut along its seams:
 *   cpg.c         init / fini / reload and the ops table
 *   cpg-conf.c    the backends/cpg block (and the synthesised libvirt block)
 *   cpg-group.c   the CPG handle: its thread, sending, message dispatch,
 *                 serving other members' requests, reference-daemon watch
 *   cpg-member.c  membership: who is in the group, what each member
 *                 announced, and the domains of members that were lost
 *   cpg-table.c   this host's domain table: libvirt events or listing,
 *                 and its broadcasts
 *   cpg-route.c   where a domain lives, asking members, live confirmation
 *   cpg-confirm.c what it takes to say "off": every other member asked live,
 *                 and for a domain whose host left, the host cluster's fencer
 *   cpg-fence.c   the fencer seam: loads the fencer module (cpg-fencer.h;
 *                 libstonithd and libquorum in fencer-pacemaker.so,
 *                 cpg-pcmk.c, which includes only cpg-fencer.h)
 *   cpg-ops.c     the backend operations (off, on, reboot, status, list)
 * Only these files and the cpg unit tests (daemon/tests/cpg-fakes.h and the
 * tests that include it) include this header.
 *
 * Locking: be->lock protects membership, remote lists, the lost table, the
 * local table, the pending table and counters.  be->send_lock protects the
 * CPG handle for sending and finalising.  No libvirt, CPG or fencer call is
 * made with be->lock held; be->send_lock is never taken while be->lock is
 * held.
 */
#ifndef VF_CPG_INT_H
#define VF_CPG_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <corosync/cpg.h>

#include "conftree.h"
#include "io.h"
#include "log.h"
#include "plugin.h"
#include "timeutil.h"
#include "backends/cpg-fencer.h"
#include "backends/cpg-wire.h"

#define CPG_NAME               "cpg"
#define CPG_CONF_BLOCK         "backends/cpg"
#define CPG_DEFAULT_GROUP      "vmfence"
#define CPG_DEFAULT_URI        "qemu:///system"
#define CPG_MAX_PENDING        64
#define CPG_MAX_SERVE          16
#define CPG_MAX_CANDIDATES     8
/* most other members asked at once to confirm "not running here" (cpg_confirm) */
#define CPG_MAX_CONFIRM        (CPG_MAX_PENDING / 2)
/* without libvirt events: list every CPG_REFRESH_MS; with them, a safety
 * listing every CPG_RESCAN_MS (events lost while libvirt reconnects) */
#define CPG_REFRESH_MS         2000
#define CPG_RESCAN_MS          60000
#define CPG_REBROADCAST_MS     30000
#define CPG_TICK_MS            500
#define CPG_BACKOFF_MIN_MS     500
#define CPG_BACKOFF_MAX_MS     5000
#define CPG_TRY_AGAIN_MAX      50
#define CPG_TRY_AGAIN_SLEEP_MS 20
#define CPG_LOCAL_LOOKUP_MS    5000
/* Longest a request of another member may run here (the longest local
 * operation, a reboot, gets 60 s from the pipeline); the requester's
 * timeout is capped to it, and fini waits at most this long for them. */
#define CPG_MAX_SERVE_MS       60000
/* domains of lost members remembered (oldest forgotten first: a forgotten
 * domain is unknown, which is a failure, never a success) */
#define CPG_MAX_LOST           4096
/* how often a request waiting for the host cluster's fencer asks again */
#define CPG_FENCE_POLL_MS      1000
/* the least time left for asking the fencer again: its timeout is in whole
 * seconds (cpg-pcmk.c), plus time to answer the requester */
#define CPG_FENCE_ASK_MIN_MS   1100
/* how often the group list is scanned for reference fence-virt daemons */
#define CPG_REFSCAN_MS         30000

enum cpg_fence_history {
    CPG_FH_NONE = 0,            /* a lost host's domains are never "off" */
    CPG_FH_PACEMAKER,           /* ask pacemaker's fencer (libstonithd) */
};

/*
 * The seam to the host cluster's fencer: cpg-fence.c fills it from the
 * fencer module (cpg-fencer.h; libstonithd in fencer-pacemaker.so), the
 * unit tests install a fake with cpg_set_fencer().  Both calls may block up
 * to @deadline_ms and are made without be->lock.
 */
struct cpg_fencer {
    /* 1 quorate, 0 not quorate, negative errno: cannot tell */
    int (*quorate)(void *ctx, int64_t deadline_ms);
    /* The latest successful fencing (off or reboot) of @nodeid completed at
     * or after @since: 0 and *@ret filled, -ENOENT (none recorded), or
     * -EHOSTDOWN / -ETIMEDOUT (the fencer cannot be asked). */
    int (*fenced_since)(void *ctx, uint32_t nodeid, time_t since,
                        struct cpg_fence_rec *ret, int64_t deadline_ms);
    void *ctx;
};

/* Another member of the group and the domains it last announced. */
struct cpg_owner {
    uint32_t nodeid;
    uint32_t pid;
    bool have_state;
    uint32_t generation;
    struct vf_cpgw_dom *doms;
    size_t n_doms;
};

/* A domain that a member announced before it left the group. */
struct cpg_lost {
    char name[VF_CPGW_NAME_MAX + 1];
    char uuid[VF_CPGW_UUID_LEN + 1];
    uint32_t nodeid;
    time_t lost_at;             /* wall clock of the membership change */
    bool was_on;                /* announced state */
};

/* One request of ours waiting for a REPLY. */
struct cpg_pending {
    bool used;
    bool done;
    uint64_t id;
    uint32_t nodeid;            /* the member that must answer */
    uint32_t pid;
    int result;
    bool on;
};

struct cpg_conf {
    struct vf_conf *lv_conf;    /* synthesised backends/libvirt block */
    char group[CPG_MAX_NAME_LENGTH];
    bool uuid_mode;
    int reply_timeout_ms;
    enum cpg_fence_history fence_history;
};

struct cpg_be {
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* replies, serve count, refresh wake-ups */
    const struct vf_backend_ops *lv;
    void *lv_priv;
    char group[CPG_MAX_NAME_LENGTH];
    bool uuid_mode;
    int reply_timeout_ms;
    enum cpg_fence_history fence_history;
    struct cpg_fencer fencer;   /* fence_history = pacemaker */
    void *fencer_owned;         /* the loaded fencer module (cpg-fence.c) */

    /* be->lock */
    bool stopping;
    bool joined;
    uint32_t my_nodeid;
    uint32_t my_pid;            /* as corosync sees it (see cpg_confchg) */
    bool pid_known;
    struct cpg_owner *owners;
    size_t n_owners;
    struct cpg_lost *lost;      /* at most CPG_MAX_LOST, oldest first */
    size_t n_lost;
    struct cpg_pending pending[CPG_MAX_PENDING];
    uint64_t next_id;
    struct vf_cpgw_dom *local;
    size_t n_local;
    bool local_valid;
    bool local_ever;            /* local has been listed at least once */
    bool need_broadcast;
    bool need_list;             /* list local domains at the next round */
    bool watching;              /* libvirt lifecycle events arrive */
    uint64_t events;            /* events applied (a listing in flight is stale if it moved) */
    uint32_t generation;
    int64_t last_broadcast_ms;
    int64_t last_list_ms;
    int serving;
    /* reference daemons already reported, by nodeid (bounded) */
    uint32_t ref_seen[16];
    size_t n_ref_seen;

    /* be->send_lock */
    pthread_mutex_t send_lock;
    cpg_handle_t handle;
    bool handle_valid;

    pthread_t cpg_thread;
    pthread_t refresh_thread;
    bool cpg_running;
    bool refresh_running;
};

/* A place where a domain lives: this host or another member. */
struct cpg_cand {
    bool local;
    uint32_t nodeid;
    uint32_t pid;
    struct vf_domain_info info;
};

struct cpg_route {
    struct cpg_cand c[CPG_MAX_CANDIDATES];
    size_t n;
    /* some place could not be asked (a member that has not announced its
     * domains, or local libvirt down while this host had the domain or has
     * never listed its domains): a copy there may run, so "off" cannot be
     * claimed from the known copies alone */
    bool incomplete;
    /* the domain was on a member that left the group: "off" also needs the
     * host cluster's fencer to confirm that member was fenced since */
    bool has_lost;
    struct cpg_lost lost;
};

/* One REQUEST to one member, and its answer. */
struct cpg_call {
    uint32_t nodeid;
    uint32_t pid;
    int op;
    char target[VF_CPGW_NAME_MAX + 1];
    bool by_uuid;
    const char *label;          /* domain name for logs */
    size_t slot;                /* index in be->pending while waiting */
    int result;                 /* the member's result, -ETIMEDOUT, -EHOSTDOWN, -EBUSY */
    bool on;
};

/* ---- cpg-conf.c ---- */
int cpg_conf_read(const struct vf_conf *conf, struct cpg_conf *ret, char *err, size_t err_len);
void cpg_conf_done(struct cpg_conf *c);

/* ---- cpg-group.c ---- */
const char *cpg_op_name(int op);
int cpg_send(struct cpg_be *be, const uint8_t *buf, size_t len);
void *cpg_thread_main(void *arg);
void cpg_handle_request(struct cpg_be *be, const struct vf_cpgw_request *rq,
                        uint32_t nodeid, uint32_t pid);
void cpg_check_reference(struct cpg_be *be, cpg_handle_t h);

/* ---- cpg-member.c ---- */
struct cpg_owner *cpg_owner_find_locked(struct cpg_be *be, uint32_t nodeid, uint32_t pid);
void cpg_state_locked(struct cpg_be *be, uint32_t nodeid, uint32_t pid, struct vf_cpgw_msg *m);
void cpg_confchg(cpg_handle_t handle, const struct cpg_name *group,
                 const struct cpg_address *members, size_t n_members,
                 const struct cpg_address *left, size_t n_left,
                 const struct cpg_address *joined, size_t n_joined);
void cpg_forget_locked(struct cpg_be *be);
const struct cpg_lost *cpg_lost_find_locked(const struct cpg_be *be, const char *target,
                                            bool by_uuid, bool is_uuid);

/* ---- cpg-table.c ---- */
void *cpg_refresh_main(void *arg);
int cpg_watch_start(struct cpg_be *be);
void cpg_watch_stop(struct cpg_be *be);
void cpg_domain_event(void *arg, const struct vf_domain_info *dom, bool gone);

/* ---- cpg-route.c ---- */
bool cpg_dom_active(int state);
bool cpg_matches(const struct vf_cpgw_dom *d, const char *target, bool by_uuid,
                 bool target_is_uuid);
void cpg_info_from_wire(struct vf_domain_info *info, const struct vf_cpgw_dom *d);
int cpg_route(struct cpg_be *be, const char *target, unsigned int *flags, int64_t deadline_ms,
              struct cpg_route *rt);
const struct cpg_cand *cpg_primary(const struct cpg_route *rt);
int cpg_call_all(struct cpg_be *be, struct cpg_call *calls, size_t n, int64_t deadline_ms);
int cpg_exec(struct cpg_be *be, const struct cpg_cand *cand, int op, int64_t deadline_ms,
             bool *ret_on);
void cpg_call_for(struct cpg_call *call, uint32_t nodeid, uint32_t pid, int op,
                  const struct vf_domain_info *ref);
int cpg_live(struct cpg_be *be, struct cpg_route *rt, int64_t deadline_ms, bool *ret_on);

/* ---- cpg-confirm.c ---- */
int cpg_confirm(struct cpg_be *be, struct cpg_route *rt, const char *target,
                int64_t deadline_ms);
int cpg_lost_confirm(struct cpg_be *be, const struct cpg_route *rt, const char *target,
                     int op, int64_t deadline_ms);
/* the seam: replace the fencer (NULL = none reachable); the unit test's fake */
void cpg_set_fencer(struct cpg_be *be, const struct cpg_fencer *f);

/* ---- cpg-fence.c ---- */
/* fence_history = "pacemaker": load the fencer module from @conf's
 * fence_virtd/module_path, else the compiled-in module directory.  A module
 * that cannot be loaded is logged (file and reason) and leaves the fencer
 * not reachable: still 0.  -errno only when out of memory. */
int cpg_fencer_open(struct cpg_be *be, const struct vf_conf *conf, char *err, size_t err_len);
/* close its fencer and uninstall it; the module stays mapped (nothing
 * loaded: nothing done) */
void cpg_fencer_close(struct cpg_be *be);
/* Load @dir/CPG_FENCER_PCMK_FILE and install it as @be's fencer: 0, or
 * -errno and in @why the file and the reason (the fencer left as it was) */
int cpg_fencer_load(struct cpg_be *be, const char *dir, char *why, size_t why_len);

/* ---- cpg-ops.c: the ops of the table in cpg.c ---- */
/* what changes power: every copy, every member asked */
int cpg_op_off(void *priv, const char *target, unsigned int flags, int64_t deadline_ms);
int cpg_op_on(void *priv, const char *target, unsigned int flags, int64_t deadline_ms);
int cpg_op_reboot(void *priv, const char *target, unsigned int flags, int64_t deadline_ms);
/* what reads */
int cpg_op_status(void *priv, const char *target, unsigned int flags, bool *ret_on,
                  int64_t deadline_ms);
int cpg_op_lookup(void *priv, const char *target, unsigned int flags,
                  struct vf_domain_info *ret_dom, int64_t deadline_ms);
int cpg_op_list(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms);
int cpg_op_monitor(void *priv, int64_t deadline_ms);

/* ---- cpg.c ---- */
int cpg_init(const struct vf_host_api *host, const struct vf_conf *conf, void **ret_priv,
             char *err, size_t err_len);
void cpg_fini(void *priv);
int cpg_reload(void *priv, const struct vf_conf *conf, char *err, size_t err_len);

#endif
