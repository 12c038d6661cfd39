/*
 * vmfence - daemon/privsep/netprog.c: which program runs the network
 * process (privsep.h): fence_virtd-net when it can serve the
 * configuration, opened before the fork, else fence_virtd itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "privsep/privsep.h"
#include "virtd.h"

/*
 * Its listeners and its stand-in backends are fixed when it is built
 * (privsep.h, netmain.c); anything else (serial, a module from
 * module_path) needs fence_virtd itself.  Names are compared here because
 * this is about what another program has built in.
 */
bool
vf_ps_net_program_fits(const struct vfd_runcfg *rc, char *why, size_t why_len)
{
    static const char *const listeners[] = VF_PS_NET_LISTENERS;
    static const char *const backends[] = VF_PS_NET_BACKENDS;
    bool found = false;

    for (size_t i = 0; i < rc->n_listeners; i++) {
        found = false;
        for (size_t k = 0; k < sizeof(listeners) / sizeof(listeners[0]); k++) {
            found = found || strcasecmp(rc->listeners[i], listeners[k]) == 0;
        }
        if (!found) {
            snprintf(why, why_len, "listener '%s' is not built into %s", rc->listeners[i],
                     VF_PS_NET_NAME);
            return false;
        }
    }
    found = false;
    for (size_t k = 0; k < sizeof(backends) / sizeof(backends[0]); k++) {
        found = found || strcasecmp(rc->backend, backends[k]) == 0;
    }
    if (!found) {
        snprintf(why, why_len, "backend '%s' (a module) is unknown to %s", rc->backend,
                 VF_PS_NET_NAME);
    }
    return found;
}

/* Open @path to execute it as root: a regular, executable file that only
 * root (or we) may change.  The descriptor or -errno. */
static int
open_program(const char *path)
{
    struct stat st;
    char why[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & S_IXUSR) == 0 ||
        vf_stat_trusted(&st, path, why, sizeof(why)) < 0) {
        close(fd);
        return -EPERM;
    }
    return fd;
}

int
vf_ps_net_program_open(const struct vfd_runcfg *rc, char *path, size_t path_len)
{
    char self[PATH_MAX];
    char cand[2][VF_PS_NET_PATH_MAX];
    char why[256] = "";
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    size_t nc = 0;
    int err = -ENOENT;

    snprintf(path, path_len, "%s", vfd_progname);
    if (!vf_ps_net_program_fits(rc, why, sizeof(why))) {
        vf_log(LOG_INFO, "privsep: the network process runs fence_virtd itself "
               "(--privsep-net): %s", why);
        return -ENOTSUP;
    }
    /* beside the running fence_virtd first (a build tree), then installed */
    if (n > 0 && (size_t)n < sizeof(self)) {
        char *slash = NULL;

        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash != NULL) {
            slash[1] = '\0';
            snprintf(cand[nc++], sizeof(cand[0]), "%s%s", self, VF_PS_NET_NAME);
        }
    }
    snprintf(cand[nc++], sizeof(cand[0]), "%s", VF_PS_NET_PROGRAM);
    for (size_t i = 0; i < nc; i++) {
        int fd = open_program(cand[i]);

        if (fd >= 0) {
            snprintf(path, path_len, "%.*s", (int)(sizeof(cand[0]) - 1), cand[i]);
            vf_log(LOG_INFO, "privsep: the network process runs %s (the configured listeners "
                   "are built into it)", path);
            return fd;
        }
        if (fd != -ENOENT) {
            err = fd;
        }
    }
    vf_log(LOG_INFO, "privsep: the network process runs fence_virtd itself (--privsep-net): "
           "%s %s at %s%s%s", VF_PS_NET_NAME, err == -ENOENT ? "is not installed" :
           err == -EPERM ? "is not a root-owned executable" : strerror(-err),
           VF_PS_NET_PROGRAM, nc > 1 ? " nor at " : "", nc > 1 ? cand[0] : "");
    return err;
}
