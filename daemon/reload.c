/*
 * vmfence - daemon/reload.c: SIGHUP.  The configuration (and with it the
 * key files) is re-read and checked before anything running is touched;
 * when it is good, the backend reloads (or a new one starts), new requests
 * get the new groups and backend, and the listeners reload in place:
 * unchanged ones keep running, changed ones restart.  With privilege
 * separation this process is the privileged one: it hands the new text
 * and keys to the running network process (privsep/parent.c), which
 * applies the same listener reload.  A bad file, or a backend that fails,
 * keeps the running configuration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io.h"
#include "log.h"
#include "pipeline.h"
#include "registry.h"
#include "virtd.h"

/* The backend for @rc: the running one reloaded when it is the same. */
static int
reload_backend(const struct vf_conf *conf, const struct vfd_runcfg *rc,
               struct vf_backend_inst **ret_be, char *err, size_t err_len)
{
    struct vf_backend_inst *old_be = vf_pipeline_get_backend();
    const struct vf_backend_ops *old_ops = vf_backend_inst_ops(old_be);
    char why[1024];
    int r = 0;

    if (old_ops != NULL && strcasecmp(old_ops->name, rc->backend) == 0 &&
        old_ops->reload != NULL) {
        why[0] = '\0';
        r = old_ops->reload(vf_backend_inst_priv(old_be), conf, why, sizeof(why));
        if (r < 0) {
            vf_log(LOG_ERR, "reload: backend '%s': %s; keeping the running configuration",
                   rc->backend, why[0] != '\0' ? why : strerror(-r));
            snprintf(err, err_len, "backend '%s': %s", rc->backend,
                     why[0] != '\0' ? why : strerror(-r));
            vf_backend_inst_unref(old_be);
            return r;
        }
        *ret_be = old_be;
        return 0;
    }
    vf_backend_inst_unref(old_be);
    r = vfd_backend_start(conf, rc->backend, false, NULL, ret_be);
    if (r < 0) {
        vf_log(LOG_ERR, "reload: backend '%s' failed; keeping the running configuration",
               rc->backend);
        snprintf(err, err_len, "backend '%s' failed to start", rc->backend);
    }
    return r;
}

/* Parse the file; with privsep also keep its text for the network process. */
static int
reload_parse(bool split, struct vf_conf **ret_conf, char **ret_text, size_t *ret_len,
             char *err, size_t err_len)
{
    int r = 0;

    if (!split) {
        return vf_conf_parse_file(vfd_arg.conf_path, ret_conf, err, err_len);
    }
    r = vfd_read_file_text(vfd_arg.conf_path, ret_text, ret_len);
    if (r < 0) {
        snprintf(err, err_len, "%s: %s", vfd_arg.conf_path, strerror(-r));
        return r;
    }
    return vf_conf_parse_buffer(vfd_arg.conf_path, *ret_text, *ret_len, ret_conf, err,
                                err_len);
}

int
vfd_reload(bool split, char *err, size_t err_len)
{
    struct vf_conf *conf = NULL;
    struct vfd_runcfg rc;
    struct vf_groups *groups = NULL;
    struct vf_backend_inst *be = NULL;
    char *text = NULL;
    size_t len = 0;
    char why[1024];
    bool none_left = false;
    int r = 0;

    vf_log(LOG_NOTICE, "SIGHUP: reloading '%s'", vfd_arg.conf_path);
    err[0] = '\0';
    if (reload_parse(split, &conf, &text, &len, why, sizeof(why)) < 0) {
        vf_log(LOG_ERR, "reload: %s; keeping the running configuration", why);
        snprintf(err, err_len, "%s", why);
        goto out;
    }
    if (vfd_check_conf_logged(conf, &rc, &groups) > 0) {
        vf_log(LOG_ERR, "reload: '%s' has errors; keeping the running configuration",
               vfd_arg.conf_path);
        snprintf(err, err_len, "'%s' has errors (see the log or fence_virtd --check-config)",
                 vfd_arg.conf_path);
        goto out;
    }
    if (reload_backend(conf, &rc, &be, err, err_len) < 0) {
        goto out;
    }
    if (vfd_arg.debug < 0) {
        vf_log_set_debug(rc.debug);
    }
    /* new requests use the new groups and backend from here on */
    r = vf_pipeline_set_config(groups, be);
    groups = NULL;
    vf_backend_inst_unref(be);
    if (r < 0) {
        vf_log(LOG_ERR, "reload: out of memory");
    }
    if (split) {
        if (!vfd_privsep_wanted(&rc, false)) {
            vf_log(LOG_WARNING, "reload: turning privilege separation off needs a restart; "
                   "it stays on");
        }
        none_left = vfd_psn_reload(text, len, vfd_exec_groups(conf)) < 0;
    } else {
        vfd_listeners_reload(conf, &rc, vfd_conf, &vfd_rc);
        none_left = vfd_listeners_running() == 0;
    }
    vf_conf_free(vfd_conf);
    vfd_conf = conf;
    vfd_rc = rc;
    conf = NULL;
    if (none_left) {
        vf_log(LOG_CRIT, "reload: no listener is running; stopping (waiting up to %d s "
               "for running requests)", VFD_SHUTDOWN_DRAIN_MS / 1000);
        free(text);
        return -1;
    }
    vf_log(LOG_NOTICE, "reload complete");
out:
    vf_groups_free(groups);
    vf_conf_free(conf);
    free(text);
    return 0;
}
