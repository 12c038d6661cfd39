/*
 * vmfence - daemon/tests/pipeline-fakes.h: FAKE backend, listener and
 * connections shared by the pipeline tests (pipeline-fakes.c).
 */
#ifndef VF_PIPELINE_FAKES_H
#define VF_PIPELINE_FAKES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "key.h"
#include "listener.h"
#include "pipeline.h"

/* FAKE misbehaving backend answer: the target "rc-positive" makes every
 * power operation return 1 (fence-virt's "fail" code) instead of -errno. */
#define PF_POSITIVE "rc-positive"

/* the FAKE backend: vm1 (on), vm2 (off), vm3 (on), UUIDs 5ca1ab1e-...-00000000000N */
extern const struct vf_backend_ops pf_backend;
extern atomic_int pf_delay_ms;          /* applied to off/on/reboot/status */
extern atomic_int pf_vm1_delay_ms;      /* extra, for operations on vm1 only */
extern atomic_int pf_calls;             /* off/on/reboot/status calls */
extern atomic_int pf_max_same;          /* max concurrent ops on vm1 */

/* the FAKE listener; the first instance's API is the one tests submit through */
extern const struct vf_listener_ops pf_listener;
extern const struct vf_daemon_api *pf_api;

/* a FAKE connection: records the response bytes and host list records */
struct pf_conn {
    struct vf_conn conn;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool closed;
    int resp[8];
    int n_resp;
    struct vf_host_state recs[8];
    int n_recs;
    int64_t done_ms;
    int open_delay_ms;          /* FAKE connect-back: time it takes ... */
    int open_rc;                /* ... and its result */
};

/* connection ops with a FAKE connect-back (sleeps open_delay_ms, returns open_rc) */
extern const struct vf_conn_ops pf_conn_cb_ops;
extern atomic_int pf_open_calls;        /* FAKE connect-backs attempted */

extern struct vf_key pf_key;            /* the daemon's key */

/* A signed request from @identity; @k NULL = sign with pf_key.
 * \return vf_req_sign()'s result */
int pf_prepare(struct pf_conn *fc, const char *identity, uint8_t cmd, const char *domain,
               enum vf_hash hash, const struct vf_key *k);
/* wait (10 s at most) for the pipeline to close @fc; \return whether it did */
bool pf_wait(struct pf_conn *fc);

/* pipeline, no groups, the FAKE backend and one FAKE listener; 0 or -errno */
int pf_start(struct vf_listener_inst **ret_li, char *err, size_t err_len);
/* stop and drain (5 s); \return vf_pipeline_drain()'s result */
int pf_stop(struct vf_listener_inst *li);

#endif
