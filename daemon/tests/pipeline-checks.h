/*
 * vmfence - daemon/tests/pipeline-checks.h: the checked helpers and the
 * start and end of main() shared by the pipeline tests (test-pipeline.c,
 * test-pipeline-limits.c).  They count checks (vftest.h), which are per
 * test program, so they live here as static inline functions rather than
 * in pipeline-fakes.c.  Include after vftest.h and pipeline-fakes.h.
 */
#ifndef VF_PIPELINE_CHECKS_H
#define VF_PIPELINE_CHECKS_H

#include <stdio.h>
#include <stdlib.h>

#include "auth.h"
#include "log.h"
#include "tests/pipeline-fakes.h"

/* pf_prepare(), checked */
static inline void
fc_prepare(struct pf_conn *fc, const char *identity, uint8_t cmd, const char *domain,
           enum vf_hash hash, const struct vf_key *k)
{
    VFT_EQ_INT(pf_prepare(fc, identity, cmd, domain, hash, k), 0);
}

/* pf_wait(), checked: the pipeline closed @fc in time */
static inline void
fc_wait(struct pf_conn *fc)
{
    VFT_CHECK(pf_wait(fc));
}

/* prepare @fc (checked; SHA-256, the daemon's key) and submit it, not waiting */
static inline void
fc_send(struct pf_conn *fc, const char *identity, uint8_t cmd, const char *domain)
{
    fc_prepare(fc, identity, cmd, domain, VF_HASH_SHA256, NULL);
    pf_api->submit(pf_api->ctx, &fc->conn);
}

/* submit @fc and wait for it (checked: the pipeline closed it in time) */
static inline void
fc_submit_wait(struct pf_conn *fc)
{
    pf_api->submit(pf_api->ctx, &fc->conn);
    fc_wait(fc);
}

/* sign @fc's request again with the daemon's key after a change (checked) */
static inline void
fc_resign(struct pf_conn *fc)
{
    VFT_EQ_INT(vf_req_sign(&fc->conn.req, pf_key.data, pf_key.len, fc->conn.raw), 0);
}

/* @dst: the very same signed bytes as @src (a copy or a replay), with its
 * own lock and condition */
static inline void
fc_copy(struct pf_conn *dst, const struct pf_conn *src)
{
    *dst = *src;
    pthread_mutex_init(&dst->mu, NULL);
    pthread_cond_init(&dst->cv, NULL);
}

/* a STATUS of vm1 from @identity that asks to be called back (port 1229)
 * through the FAKE connect-back, which takes @open_delay_ms and returns
 * @open_rc; @seqno: 0, or that of the copy it is to share (checked) */
static inline void
fc_prepare_cb(struct pf_conn *fc, const char *identity, uint32_t seqno, int open_delay_ms,
              int open_rc)
{
    fc_prepare(fc, identity, VF_CMD_STATUS, "vm1", VF_HASH_SHA256, NULL);
    fc->conn.ops = &pf_conn_cb_ops;
    fc->conn.req.port = 1229;
    if (seqno != 0) {
        fc->conn.req.seqno = seqno;
    }
    fc->open_delay_ms = open_delay_ms;
    fc->open_rc = open_rc;
    fc_resign(fc);
}

/* submit and wait; returns the first response byte or -1 */
static inline int
run1(const char *identity, uint8_t cmd, const char *domain)
{
    struct pf_conn fc;

    fc_prepare(&fc, identity, cmd, domain, VF_HASH_SHA256, NULL);
    fc_submit_wait(&fc);
    return fc.n_resp > 0 ? fc.resp[0] : -1;
}

/*
 * The start of a pipeline test program @prog: logging, then the pipeline
 * with the FAKES (pf_start(), checked).  \return its FAKE listener; when
 * there is none the program ends here (77: no crypto here, 1: the pipeline
 * did not start)
 */
static inline struct vf_listener_inst *
pf_test_begin(const char *prog)
{
    struct vf_listener_inst *li = NULL;
    char err[256] = "";

    vf_log_init(prog, VF_LOG_STDERR, 0);
    if (vf_auth_init() < 0) {
        exit(77);
    }
    VFT_EQ_INT(pf_start(&li, err, sizeof(err)), 0);
    VFT_CHECK(pf_api != NULL);
    if (pf_api == NULL) {
        fprintf(stderr, "start: %s\n", err);
        exit(vft_exit_status());
    }
    return li;
}

/* the end of a pipeline test program: stop (checked); \return the exit status */
static inline int
pf_test_end(struct vf_listener_inst *li)
{
    VFT_EQ_INT(pf_stop(li), 0);
    return vft_exit_status();
}

#endif
