/*
 * vmfence - daemon/runconf.c: what a configuration asks of fence_virtd (the
 * fence_virtd { } block) and the check every (re)load and --check-config
 * runs before touching the running daemon; bounded reads of whole texts.
 *
 * Configuration extension (several listeners in one daemon): besides the
 * reference form `listener = "multicast";`, the value may be a comma
 * separated list, e.g. `listener = "multicast,tcp";`: every named listener
 * is started, each reading its own listeners/<name> block, all sharing the
 * one backend and the groups.  A repeated `listener` key keeps the
 * reference meaning: the last one in the file wins.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "confcheck.h"
#include "log.h"
#include "privsep/privsep.h"
#include "registry.h"
#include "virtd.h"
#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

bool
vfd_privsep_wanted(const struct vfd_runcfg *rc, bool log_why)
{
    char err[512];

    if (!rc->privsep) {
        return false;
    }
#ifdef HAVE_VALGRIND_VALGRIND_H
    if (RUNNING_ON_VALGRIND && !rc->privsep_set) {
        /* valgrind cannot follow the re-exec of /proc/self/exe (its own binary) */
        if (log_why) {
            vf_log(LOG_NOTICE, "privsep: running under valgrind; running as one process");
        }
        return false;
    }
#endif
    if (geteuid() != 0) {
        /* nothing to drop: the one process has no privileges already */
        if (log_why) {
            vf_log(LOG_NOTICE, "privsep: not running as root; running as one process");
        }
        return false;
    }
    if (vf_ps_sandbox_prepare(rc->ps_chroot, err, sizeof(err)) < 0) {
        /* asked for: try, and fail with the reason; the default: fall back */
        if (log_why) {
            vf_log(rc->privsep_set ? LOG_ERR : LOG_WARNING, "%s; %s", err,
                   rc->privsep_set ? "privsep = \"yes\" cannot be honoured" :
                   "running as one process (set privsep = \"no\" to silence this)");
        }
        return rc->privsep_set;
    }
    return true;
}

static bool
conf_flag(const struct vf_conf *conf, const char *path)
{
    const char *v = vf_conf_get(conf, path, NULL);

    if (v == NULL) {
        return false;
    }
    if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
        strcasecmp(v, "on") == 0) {
        return true;
    }
    return strtol(v, NULL, 10) != 0;
}

/*
 * Interpret the fence_virtd block.  Errors (one line each, "FILE:LINE: ...")
 * go to @diag; returns the number of errors.
 */
int
vfd_read_runcfg(const struct vf_conf *conf, struct vfd_runcfg *rc, FILE *diag)
{
    const struct vf_conf_node *n = NULL;
    const char *v = NULL;
    char where[300];
    char buf[512];
    char *save = NULL;
    int errors = 0;

    memset(rc, 0, sizeof(*rc));
    n = vf_conf_key(conf, NULL, "fence_virtd/listener");
    if (n == NULL || vf_conf_value(n) == NULL) {
        fprintf(diag, "%s: error: fence_virtd/listener is not set\n", vf_conf_file(conf));
        errors++;
    } else {
        vf_conf_where(conf, n, where, sizeof(where));
        snprintf(buf, sizeof(buf), "%s", vf_conf_value(n));
        for (char *tok = strtok_r(buf, ", \t", &save); tok != NULL;
             tok = strtok_r(NULL, ", \t", &save)) {
            bool dup = false;

            for (size_t i = 0; i < rc->n_listeners; i++) {
                dup = dup || strcasecmp(rc->listeners[i], tok) == 0;
            }
            if (dup) {
                fprintf(diag, "%s: error: listener '%s' named twice\n", where, tok);
                errors++;
                continue;
            }
            if (rc->n_listeners == VFD_MAX_LISTENERS || strlen(tok) >= 32) {
                fprintf(diag, "%s: error: too many or too long listener names\n", where);
                errors++;
                break;
            }
            snprintf(rc->listeners[rc->n_listeners++], 32, "%s", tok);
            if (vf_registry_listener(tok) == NULL) {
                fprintf(diag, "%s: error: unknown listener '%s' (see %s -l)\n", where, tok,
                        vfd_progname);
                errors++;
            }
        }
        if (rc->n_listeners == 0 && errors == 0) {
            fprintf(diag, "%s: error: fence_virtd/listener is empty\n", where);
            errors++;
        }
    }
    n = vf_conf_key(conf, NULL, "fence_virtd/backend");
    if (n == NULL || vf_conf_value(n) == NULL) {
        fprintf(diag, "%s: error: fence_virtd/backend is not set\n", vf_conf_file(conf));
        errors++;
    } else {
        snprintf(rc->backend, sizeof(rc->backend), "%s", vf_conf_value(n));
        if (vf_registry_backend(vf_conf_value(n)) == NULL) {
            fprintf(diag, "%s: error: unknown backend '%s' (see %s -l)\n",
                    vf_conf_where(conf, n, where, sizeof(where)), vf_conf_value(n), vfd_progname);
            errors++;
        }
    }
    rc->foreground = conf_flag(conf, "fence_virtd/foreground");
    rc->wait_init = conf_flag(conf, "fence_virtd/wait_for_init") ||
                    conf_flag(conf, "fence_virtd/wait_for_backend");
    v = vf_conf_get(conf, "fence_virtd/debug", "0");
    rc->debug = (int)strtol(v, NULL, 10);
    /* on by default; "no" for debugging (fence_virt.conf(5)) */
    v = vf_conf_get(conf, "fence_virtd/privsep", "yes");
    rc->privsep_set = vf_conf_key(conf, NULL, "fence_virtd/privsep") != NULL;
    rc->privsep = !(strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
                    strcasecmp(v, "off") == 0 || strcmp(v, "0") == 0);
    snprintf(rc->ps_user, sizeof(rc->ps_user), "%s",
             vf_conf_get(conf, "fence_virtd/privsep_user", ""));
    snprintf(rc->ps_chroot, sizeof(rc->ps_chroot), "%s",
             vf_conf_get(conf, "fence_virtd/privsep_chroot", VF_PS_CHROOT_DEFAULT));
    if (rc->ps_chroot[0] != '/') {
        n = vf_conf_key(conf, NULL, "fence_virtd/privsep_chroot");
        fprintf(diag, "%s: error: privsep_chroot = '%s' is not an absolute path\n",
                n != NULL ? vf_conf_where(conf, n, where, sizeof(where)) : vf_conf_file(conf),
                rc->ps_chroot);
        errors++;
    }
    return errors;
}

/*
 * Everything --check-config and a (re)load verify before touching the
 * running daemon: schema (confcheck), the fence_virtd block, the groups and
 * the network listeners' settings and key files.  Returns the error count;
 * @ret_groups receives the loaded groups on success (may be NULL).
 */
int
vfd_check_conf(const struct vf_conf *conf, struct vfd_runcfg *rc,
               struct vf_groups **ret_groups, FILE *diag)
{
    struct vf_groups *groups = NULL;
    char err[1024];
    int errors = 0;

    char *cbuf = NULL;
    size_t clen = 0;
    FILE *mem = open_memstream(&cbuf, &clen);

    if (mem != NULL) {
        errors += vf_conf_check(conf, mem);
        fclose(mem);
        fputs(cbuf != NULL ? cbuf : "", diag);
    } else {
        errors += vf_conf_check(conf, diag);
    }
    errors += vfd_read_runcfg(conf, rc, diag);
    if (vf_groups_load(conf, &groups, err, sizeof(err)) < 0) {
        /* the schema check may already have reported this group: say it once */
        char prefix[320];
        const char *e = strstr(err, ": error:");

        snprintf(prefix, sizeof(prefix), "%.*s", e != NULL ? (int)(e - err) : 0, err);
        if (cbuf == NULL || prefix[0] == '\0' || strstr(cbuf, prefix) == NULL) {
            fprintf(diag, "%s\n", err);
            errors++;
        } else if (errors == 0) {
            errors++;
        }
    }
    free(cbuf);
    for (size_t i = 0; i < rc->n_listeners; i++) {
        /* the listener's schema validates its block as init() would (key files) */
        if (vf_registry_validate_listener(conf, rc->listeners[i], err, sizeof(err)) < 0) {
            fprintf(diag, "%s\n", err);
            errors++;
        }
    }
    if (errors > 0 || ret_groups == NULL) {
        vf_groups_free(groups);
    } else {
        *ret_groups = groups;
    }
    return errors;
}

/* vfd_check_conf with the diagnostics going to the log, line by line. */
int
vfd_check_conf_logged(const struct vf_conf *conf, struct vfd_runcfg *rc,
                      struct vf_groups **ret_groups)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    int errors = 0;
    char *save = NULL;

    if (mem == NULL) {
        return vfd_check_conf(conf, rc, ret_groups, stderr);
    }
    errors = vfd_check_conf(conf, rc, ret_groups, mem);
    fclose(mem);
    for (char *line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        vf_log(strstr(line, "error") != NULL ? LOG_ERR : LOG_WARNING, "%s", line);
    }
    free(buf);
    return errors;
}

const char *
vfd_module_path(const struct vf_conf *conf)
{
    const char *mp = conf != NULL ? vf_conf_get(conf, "fence_virtd/module_path", NULL) : NULL;

    return mp != NULL ? mp : VF_MODULE_PATH;
}


/* "multicast,tcp" */
void
vfd_listener_names(const struct vfd_runcfg *rc, char *out, size_t len)
{
    out[0] = '\0';
    for (size_t i = 0; i < rc->n_listeners; i++) {
        size_t l = strlen(out);

        snprintf(out + l, len - l, "%s%s", i > 0 ? "," : "", rc->listeners[i]);
    }
}

int
vfd_read_fd_text(int fd, char **ret_text, size_t *ret_len)
{
    char *buf = malloc(VFD_TEXT_MAX + 1);
    size_t n = 0;
    int r = 0;

    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    while (n <= VFD_TEXT_MAX) {
        ssize_t k = read(fd, buf + n, VFD_TEXT_MAX + 1 - n);

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            r = -errno;
        }
        if (k <= 0) {
            break;
        }
        n += (size_t)k;
    }
    close(fd);
    if (r == 0 && n > VFD_TEXT_MAX) {
        r = -EFBIG;
    }
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[n] = '\0';
    *ret_text = buf;
    *ret_len = n;
    return 0;
}

int
vfd_read_file_text(const char *path, char **ret_text, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        return -errno;
    }
    return vfd_read_fd_text(fd, ret_text, ret_len);
}

/** \brief -F, -d and -f, for both programs (virtd.h). \return 0, -EINVAL or -ENOENT */
int
vfd_common_opt(int opt, const char *arg, const char **conf)
{
    char *end = NULL;
    long v = 0;

    switch (opt) {
    case 'F':
        vfd_arg.foreground = true;
        return 0;
    case 'f':
        *conf = arg;
        return 0;
    case 'd':
        errno = 0;
        v = strtol(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || v < 0 || v > 99) {
            return -EINVAL;
        }
        vfd_arg.debug = (int)v;
        return 0;
    default:
        return -ENOENT;
    }
}
