/*
 * vmfence - daemon/tests/cpg-fakes.h: what the cpg backend's unit tests
 * (test-cpg.c, test-cpg-hostloss.c) share: the fakes of what cannot run
 * here, and the harness that starts the backend over them and waits for it.
 *
 * Faked, and why:
 *  - libcpg (cpg-fake-cpg.c): its cpg_* functions replace the library (the
 *    test programs are not linked with -lcpg).  They simulate a group with
 *    this process (nodeid 1) and one other member "peer" (nodeid 2, pid
 *    222); messages go through an in-memory queue and a pipe whose read end
 *    is the "CPG fd", so the backend's own CPG thread dispatches them as
 *    with corosync.  The peer answers REQUESTs addressed to it from
 *    cpg_mcast_joined() according to peer_mode (answer, stay silent, ...):
 *    a request for a domain in the list it announced last gets peer_result
 *    / peer_on; any other target is answered from its "hidden" domain (one
 *    it runs but has not announced yet, as right after a migration), else
 *    -ENOENT, as the peer's libvirt would.
 *    corosync reports this process with a pid other than getpid() (as in a
 *    PID namespace), so the backend must learn its CPG identity.
 *  - libvirt (cpg-fake-host.c): the host API's find_backend("libvirt")
 *    returns fake ops over a small in-memory domain table, so the local
 *    side needs no hypervisor.
 *  - the host cluster's fencer (cpg-fake-host.c): a fake struct cpg_fencer
 *    the tests install with cpg_set_fencer() (cpg-fence.c loads the real
 *    one, cpg-pcmk.c, from a module directory that does not exist in these
 *    tests), so no pacemaker cluster is needed.
 * The real two-node test with corosync is tests/interop/cpg-cluster.sh.
 *
 * Nothing here counts checks (vftest.h's counters are per file): the
 * harness returns results, and the test files check them.
 */
#ifndef VF_CPG_FAKES_H
#define VF_CPG_FAKES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backends/cpg-int.h"

#define PEER_NODE 2u
#define PEER_PID  222u
#define U_H1A     "5ca1ab1e-0000-4000-8001-000000000001"
#define U_WEB1    "5ca1ab1e-0000-4000-8001-000000000002"
#define U_G2A     "5ca1ab1e-0000-4000-8002-000000000001"
#define U_WEB2    "5ca1ab1e-0000-4000-8002-000000000002"
#define U_NONE    "5ca1ab1e-0000-4000-8009-000000000009"

/* the configuration both programs start the backend with */
#define CT_CONF_TEXT \
    "backends { cpg { uri = \"test:///fake\"; reply_timeout = \"1\"; group = \"t-grp\"; } }\n"

/* ---- fake libcpg and the peer (cpg-fake-cpg.c) ---------------------------- */

enum peer_mode {
    PEER_ANSWER,
    PEER_SILENT
};

/* fq_lock protects what follows, except f_mypid and f_ref_node (set
 * before the backend starts) and peer_mode, peer_result and peer_on (set
 * by the tests between requests) */
extern pthread_mutex_t fq_lock;
/* the pid corosync reports for this process: deliberately not getpid(), as
 * with fence_virtd in its own PID namespace (the backend must learn it) */
extern uint32_t f_mypid;
extern bool f_fail_init;     /* cpg_initialize fails */
extern bool f_fail_dispatch; /* the next cpg_dispatch fails */
extern int f_inits;          /* cpg_initialize calls */
/* a fence-virt daemon in group "fence-agents" on this node (0: none) */
extern uint32_t f_ref_node;
/* STATE messages this process sent, and the length of the last one */
extern int f_states_sent;
extern size_t f_last_state_n;
/* peer behaviour and observations */
extern enum peer_mode peer_mode;
extern int peer_result;
extern bool peer_on;
extern int peer_requests;
extern struct vf_cpgw_request peer_last;
/* a domain the peer runs without having announced it (uuid[0] == '\0':
 * none), and the requests it answered for it */
extern struct vf_cpgw_dom peer_hidden;
extern int peer_hidden_reqs;

/* the fake's pipe and identities: 0, or -errno */
int fq_setup(void);
/* drop what was never dispatched, close the pipe */
void fq_teardown(void);
/* a message from @nodeid/@pid, delivered by the CPG thread */
void fq_deliver(uint32_t nodeid, uint32_t pid, const uint8_t *buf, size_t len);
/* membership: me (+ the peer when @with_peer); @peer_left: the peer left */
void fq_confchg(bool with_peer, bool peer_left, bool me_joined);
/* the peer announces @doms (its STATE @gen) and answers for them from now on */
void peer_announce(const struct vf_cpgw_dom *doms, size_t n, uint32_t gen);

/* ---- fake libvirt backend, fake fencer, host API (cpg-fake-host.c) --------- */

struct fdom {
    const char *name;
    const char *uuid;
    int state;
};

/* fl_lock protects the domain table and the counters (fl_down, set by the
 * tests between requests, is read without it) */
extern pthread_mutex_t fl_lock;
extern struct fdom fdoms[2];       /* h1-a (U_H1A), web (U_WEB1) */
extern bool fl_down;               /* every call fails -EHOSTDOWN */
extern char fl_uri[256];           /* backends/libvirt/uri given to init */
extern int fl_offs;                /* domains powered off */
extern int64_t fl_status_deadline; /* deadline of the last status call */
extern int fl_unwatches;           /* unwatch calls for the watched callback */
extern bool fl_with_watch;         /* find_backend returns the ops with events */
extern int fl_lists;               /* listings (ops with events only) */

/* set @target's state, or (@ret_on) read it: 0, -ENOENT, -EHOSTDOWN */
int fl_set(const char *target, unsigned int flags, int state, bool *ret_on);
/* fire one lifecycle event as the libvirt backend would */
void fl_event(const char *name, const char *uuid, int state, bool gone);

extern pthread_mutex_t ff_lock;
/* like libstonithd (cpg-pcmk.c): a question with less than a second left
 * cannot be asked (-ETIMEDOUT) */
extern bool ff_whole_seconds;
extern int ff_calls;          /* fenced_since questions */
extern uint32_t ff_last_node; /* ... and the node of the last one */
extern const struct cpg_fencer fake_fencer;

/* quorate: 1, 0 or -errno; error: fenced_since fails with it (0: answers);
 * completed: the node's last fencing (0: none) */
void ff_set(int quorate, int error, time_t completed);

/* FAKE host API: the daemon's registry knows only the fake libvirt */
extern const struct vf_host_api fake_host;

/* ---- harness (cpg-harness.c) ------------------------------------------------ */

static inline int64_t
dl(int ms)
{
    return vf_now_ms() + ms;
}

static inline void
mkdom(struct vf_cpgw_dom *d, const char *name, const char *uuid, int state)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
    d->state = (uint8_t)state;
}

/* what a listing returned (the first 16 domains) */
struct ct_list {
    char names[16][256];
    char uuids[16][40];
    size_t n;
};

int ct_list_cb(void *arg, const struct vf_domain_info *d);

/* the start of a cpg test program @prog: logging (VFT_DEBUG set: debug)
 * and the fake libcpg; 0, or -1 (said on stderr) */
int ct_begin(const char *prog);
/* parse @text and cpg_init over the fake host: 0, or -errno (said on stderr) */
int ct_start(const char *text, struct cpg_be **ret_be);

/* bounded waits (a few seconds at most): true once the condition holds */
/* lookup of @target succeeds (@want) or fails (!@want) */
bool ct_wait_known(struct cpg_be *be, const char *target, bool want);
/* the monitor op returns @want */
bool ct_wait_monitor(struct cpg_be *be, int want);
/* the one other member's announcement @gen was processed */
bool ct_wait_gen(struct cpg_be *be, uint32_t gen);
/* @n requests wait for replies */
bool ct_wait_pending(struct cpg_be *be, int n);
/* the backend sees @n other members */
bool ct_wait_owners(struct cpg_be *be, size_t n);
/* the backend reported @n reference daemons, or more */
bool ct_wait_ref_seen(struct cpg_be *be, size_t n);
/* the last STATE this process sent had @n domains (within @max_ms) */
bool ct_wait_state_n(size_t n, int max_ms);

#endif
