/*
 * vmfence - daemon/backends/cpg-pcmk.c: fencer-pacemaker.so, the fencer
 * module of fence_history = "pacemaker" (ABI: cpg-fencer.h).
 *
 * Pacemaker's fencer through libstonithd (its fence history, as
 * stonith_api_time() reads it: by corosync node id) and corosync's quorum
 * through libquorum.  Only this module links them: fence_virtd dlopen()s
 * it when a cpg backend with that setting starts (cpg-fence.c), so no
 * other fence_virtd maps libstonithd, libcrmcommon and what they pull in.
 * Built when configure found pacemaker-fencing (HAVE_STONITHD).
 * Includes only cpg-fencer.h of the backend (see there why not plugin.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <corosync/quorum.h>
#include <crm/crm.h>
#include <crm/stonith-ng.h>

#include "io.h"
#include "log.h"
#include "backends/cpg-fencer.h"

struct cpg_pcmk {
    pthread_mutex_t lock;       /* one question at a time */
    stonith_t *st;
    bool st_connected;
    quorum_handle_t qh;
    bool q_open;
};

static int
cpg_pcmk_quorate(void *ctx, int64_t deadline_ms)
{
    struct cpg_pcmk *p = ctx;
    quorum_callbacks_t cbs;
    uint32_t type = 0;
    int q = 0, r;

    (void)deadline_ms;          /* local IPC to corosync */
    memset(&cbs, 0, sizeof(cbs));
    pthread_mutex_lock(&p->lock);
    if (!p->q_open && quorum_initialize(&p->qh, &cbs, &type) == CS_OK) {
        p->q_open = true;
    }
    r = -EHOSTDOWN;
    if (p->q_open) {
        if (quorum_getquorate(p->qh, &q) == CS_OK) {
            r = q != 0 ? 1 : 0;
        } else {
            (void)quorum_finalize(p->qh);
            p->q_open = false;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return r;
}

/* p->lock held: connected to the fencer? */
static int
cpg_pcmk_connect_locked(struct cpg_pcmk *p)
{
    int rc;

    if (p->st == NULL) {
        p->st = stonith_api_new();
        if (p->st == NULL) {
            return -ENOMEM;
        }
    }
    if (p->st_connected) {
        return 0;
    }
    rc = p->st->cmds->connect(p->st, "vmfence-cpg", NULL);
    if (rc != pcmk_ok) {
        vf_dbg(1, "cpg backend: cannot connect to the fencer: %s", pcmk_strerror(rc));
        return -EHOSTDOWN;
    }
    p->st_connected = true;
    return 0;
}

static void
cpg_rec_from(struct cpg_fence_rec *rec, const stonith_history_t *h)
{
    memset(rec, 0, sizeof(*rec));
    rec->completed = h->completed;
    snprintf(rec->action, sizeof(rec->action), "%s", h->action != NULL ? h->action : "");
    snprintf(rec->delegate, sizeof(rec->delegate), "%s", h->delegate != NULL ? h->delegate : "");
    snprintf(rec->origin, sizeof(rec->origin), "%s", h->origin != NULL ? h->origin : "");
    snprintf(rec->client, sizeof(rec->client), "%s", h->client != NULL ? h->client : "");
}

static int
cpg_pcmk_fenced_since(void *ctx, uint32_t nodeid, time_t since, struct cpg_fence_rec *ret,
                      int64_t deadline_ms)
{
    struct cpg_pcmk *p = ctx;
    stonith_history_t *hist = NULL, *h;
    char name[16];
    int left = vf_ms_left(deadline_ms), rc, r;

    if (left < 1000) {
        return -ETIMEDOUT;      /* the fencer's timeout is in whole seconds */
    }
    snprintf(name, sizeof(name), "%u", (unsigned int)nodeid);
    pthread_mutex_lock(&p->lock);
    r = cpg_pcmk_connect_locked(p);
    if (r < 0) {
        pthread_mutex_unlock(&p->lock);
        return r;
    }
    rc = p->st->cmds->history(p->st, st_opt_sync_call | st_opt_cs_nodeid, name, &hist,
                              left / 1000 < 10 ? left / 1000 : 10);
    if (rc < 0) {
        (void)p->st->cmds->disconnect(p->st);
        p->st_connected = false;
        pthread_mutex_unlock(&p->lock);
        vf_dbg(1, "cpg backend: fence history of node %u: %s", (unsigned int)nodeid,
               pcmk_strerror(rc));
        return rc == -ETIME || rc == -ETIMEDOUT ? -ETIMEDOUT : -EHOSTDOWN;
    }
    pthread_mutex_unlock(&p->lock);
    r = -ENOENT;
    for (h = hist; h != NULL; h = h->next) {
        if (h->state != st_done || h->action == NULL ||
            (strcmp(h->action, "off") != 0 && strcmp(h->action, "reboot") != 0) ||
            h->completed < since || (r == 0 && h->completed <= ret->completed)) {
            continue;
        }
        cpg_rec_from(ret, h);
        r = 0;
    }
    stonith_history_free(hist);
    return r;
}

static int
cpg_pcmk_open(void **ret_ctx, char *err, size_t err_len)
{
    struct cpg_pcmk *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    *ret_ctx = p;
    return 0;
}

static void
cpg_pcmk_close(void *ctx)
{
    struct cpg_pcmk *p = ctx;

    if (p == NULL) {
        return;
    }
    if (p->st != NULL) {
        if (p->st_connected) {
            (void)p->st->cmds->disconnect(p->st);
        }
        stonith_api_delete(p->st);
    }
    if (p->q_open) {
        (void)quorum_finalize(p->qh);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static const struct cpg_fencer_ops cpg_pcmk_ops =
    CPG_FENCER_OPS("pacemaker", cpg_pcmk_open, cpg_pcmk_close, cpg_pcmk_quorate,
                   cpg_pcmk_fenced_since);

CPG_FENCER_MODULE(&cpg_pcmk_ops)
