/*
 * vmfence - daemon/readiness.c: the backend's start, and what fence_virtd
 * tells the service manager (notify.c; nothing without NOTIFY_SOCKET).
 *
 * READY=1 once every listener is bound and the backend answered its
 * monitor op (or, when it does not answer within READY_BACKEND_WAIT_MS,
 * with STATUS= saying so: the daemon serves, and fails requests, rather
 * than being restarted in a loop), STATUS= lines refreshed while serving,
 * READY=1 again after a SIGHUP reload.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "notify.h"
#include "pipeline.h"
#include "registry.h"
#include "timeutil.h"
#include "virtd.h"

#define READY_BACKEND_WAIT_MS 30000  /* READY=1 at the latest after this (systemd: 90 s) */
#define PROBE_DEADLINE_MS 2000       /* one monitor/list of the backend for STATUS= */
#define PROBE_RETRY_MS 1000          /* backend not answering: ask again after */
#define PROBE_REFRESH_MS 60000       /* STATUS= refresh while serving */

int
vfd_backend_start(const struct vf_conf *conf, const char *name, bool wait_init,
              const sigset_t *sigs, struct vf_backend_inst **ret_be)
{
    const struct vf_backend_ops *ops = vf_registry_backend(name);
    void *priv = NULL;
    char err[1024];
    bool logged = false;
    int r = 0;

    for (;;) {
        err[0] = '\0';
        r = ops->init(vf_registry_host(name), conf, &priv, err, sizeof(err));
        if (r == 0) {
            break;
        }
        if (!wait_init) {
            vf_log(LOG_ERR, "backend '%s': %s", name,
                   err[0] != '\0' ? err : strerror(-r));
            return r;
        }
        if (!logged) {
            vf_log(LOG_WARNING, "backend '%s': %s; waiting for it (-w)", name,
                   err[0] != '\0' ? err : strerror(-r));
            vf_notify_status("backend '%s' not initialised (%s), waiting (-w)", name,
                             err[0] != '\0' ? err : strerror(-r));
            logged = true;
        }
        if (sigs != NULL) {
            struct timespec ts = { .tv_sec = 1 };
            int sig = sigtimedwait(sigs, NULL, &ts);

            if (sig == SIGTERM || sig == SIGINT) {
                return -EINTR;
            }
        } else {
            sleep(1);
        }
    }
    *ret_be = vf_backend_inst_new(ops, priv);
    if (*ret_be == NULL) {
        ops->fini(priv);
        return -ENOMEM;
    }
    return 0;
}

static int
count_domain(void *p, const struct vf_domain_info *dom)
{
    (void)dom;
    (*(unsigned int *)p)++;
    return 0;
}

/*
 * Ask the backend (monitor, then list) with a short deadline and describe
 * the daemon for STATUS=: "serving multicast,tcp; libvirt: 3 domains".
 * Returns 0 when the backend answered.  Called from the main thread only.
 */
static int
backend_probe(char *status, size_t len)
{
    struct vf_backend_inst *be = vf_pipeline_get_backend();
    const struct vf_backend_ops *ops = vf_backend_inst_ops(be);
    void *priv = vf_backend_inst_priv(be);
    int64_t deadline = vf_now_ms() + PROBE_DEADLINE_MS;
    char names[VFD_MAX_LISTENERS * (VFD_NAME_LEN + 1)];
    unsigned int n = 0;
    int r = -EHOSTDOWN;

    vfd_listener_names(&vfd_rc, names, sizeof(names));
    if (ops != NULL) {
        r = ops->monitor != NULL ? ops->monitor(priv, deadline) : 0;
        if (r == 0) {
            r = ops->list(priv, count_domain, &n, deadline);
        }
    }
    if (r == 0) {
        snprintf(status, len, "serving %s; %s: %u domain%s", names, vfd_rc.backend, n,
                 n == 1 ? "" : "s");
    } else {
        snprintf(status, len, "serving %s; backend %s unreachable (%s), retrying", names,
                 vfd_rc.backend, strerror(-r));
    }
    vf_backend_inst_unref(be);
    return r;
}

/* Readiness and STATUS= for the service manager (nothing without NOTIFY_SOCKET). */
static struct {
    bool ready;
    int64_t ready_by;       /* READY=1 at the latest then */
    int64_t next_probe;
} nst;

void
vfd_ready_tick(bool force)
{
    char status[600];
    int64_t now = vf_now_ms();
    int r = 0;

    if (!vf_notify_enabled() || (!force && now < nst.next_probe)) {
        return;
    }
    r = backend_probe(status, sizeof(status));
    if (r == 0 || now >= nst.ready_by) {
        if (!nst.ready) {
            if (r < 0) {
                vf_log(LOG_WARNING, "backend '%s' did not answer within %d s; telling the "
                       "service manager we are ready anyway (requests fail until it "
                       "answers)", vfd_rc.backend, READY_BACKEND_WAIT_MS / 1000);
            }
            vf_notify_ready(status);
            nst.ready = true;
        } else {
            vf_notify_status("%s", status);
        }
    } else {
        vf_notify_status("%s", status);
    }
    nst.next_probe = vf_now_ms() + (r == 0 ? PROBE_REFRESH_MS :
                                    nst.ready ? 5 * PROBE_RETRY_MS : PROBE_RETRY_MS);
}


/* every listener is bound: READY=1 as soon as the backend answers */
void
vfd_ready_arm(void)
{
    nst.ready = false;
    nst.ready_by = vf_now_ms() + READY_BACKEND_WAIT_MS;
    vfd_ready_tick(true);
}

void
vfd_ready_reloaded(const char *failed)
{
    if (failed[0] != '\0') {
        char names[VFD_MAX_LISTENERS * (VFD_NAME_LEN + 1)];

        vfd_listener_names(&vfd_rc, names, sizeof(names));
        (void)vf_notify("READY=1\nSTATUS=reload failed: %s; serving %s with the "
                        "previous configuration", failed, names);
        nst.ready = true;
        nst.next_probe = vf_now_ms() + PROBE_REFRESH_MS;
        return;
    }
    /* READY=1 again with the new status (the backend may be new) */
    nst.ready = false;
    nst.ready_by = vf_now_ms();
    vfd_ready_tick(true);
}
