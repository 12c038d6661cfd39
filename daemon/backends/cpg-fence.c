/*
 * vmfence - daemon/backends/cpg-fence.c: the host cluster's fencer.
 *
 * fence_history = "pacemaker" asks Pacemaker's fencer (libstonithd) and
 * corosync's quorum (libquorum).  Those libraries are not linked into
 * fence_virtd: they live in the fencer module fencer-pacemaker.so
 * (cpg-pcmk.c, ABI in cpg-fencer.h), which this file dlopen()s when a cpg
 * backend with that setting starts, from fence_virtd/module_path, else the
 * compiled-in module directory (VF_MODULE_PATH).  So a fence_virtd without
 * such a backend never maps libstonithd, libcrmcommon and what they pull in.
 *
 * fence_virtd runs as root: the directory must be an absolute path, and the
 * directory and the file must be neither group- nor other-writable and be
 * owned by root (or by the user fence_virtd runs as); the file is opened
 * without following a symbolic link.  A module that is missing, refused,
 * fails to load, has another ABI or cannot open its fencer is logged with
 * the file and the reason, and the fencer is then "not reachable": a lost
 * host's domains are never reported off (cpg-confirm.c).
 *
 * The seam (struct cpg_fencer, cpg_set_fencer()) lets the unit tests put a
 * fake fencer in place of the module's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/cpg-int.h"
#include "io.h"

#ifndef VF_MODULE_PATH
#define VF_MODULE_PATH "/usr/lib/vmfence"
#endif

/* what be->fencer_owned holds */
struct cpg_fencer_mod {
    void *dl;                   /* never closed once the fencer opened */
    const struct cpg_fencer_ops *ops;
    void *ctx;
};

/* May fence_virtd trust @st (of @path, a directory when @dir)? 0, or
 * -EPERM with the reason in @why. */
static int
cpg_fencer_trusted(const struct stat *st, const char *path, bool dir, char *why, size_t why_len)
{
    if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
        snprintf(why, why_len, "'%s' is not a %s", path, dir ? "directory" : "regular file");
        return -EPERM;
    }
    return vf_stat_trusted(st, path, why, why_len);
}

/* Check @dir and its module @path before loading it: 0 or -errno (@why). */
static int
cpg_fencer_check(const char *dir, const char *path, char *why, size_t why_len)
{
    struct stat st;
    int fd, r;

    if (dir[0] != '/') {
        snprintf(why, why_len, "module path '%s' is not an absolute path", dir);
        return -EINVAL;
    }
    r = stat(dir, &st) < 0 ? -errno : cpg_fencer_trusted(&st, dir, true, why, why_len);
    if (r == -EPERM) {
        return r;
    }
    fd = r < 0 ? r : open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        r = r < 0 ? r : -errno;
        snprintf(why, why_len, "'%s': %s%s", path, strerror(-r),
                 r == -ENOENT ? " (it is built when configure finds pacemaker-fencing)" : "");
        return r;
    }
    r = fstat(fd, &st) < 0 ? -errno : 0;
    close(fd);
    if (r < 0) {
        snprintf(why, why_len, "'%s': %s", path, strerror(-r));
        return r;
    }
    return cpg_fencer_trusted(&st, path, false, why, why_len);
}

/* The ops table of the loaded @dl (of @path): the ops, or NULL (@why). */
static const struct cpg_fencer_ops *
cpg_fencer_ops_of(void *dl, const char *path, char *why, size_t why_len)
{
    cpg_fencer_entry_fn entry = NULL;
    const struct cpg_fencer_ops *ops = NULL;

    *(void **)&entry = dlsym(dl, CPG_FENCER_ENTRY);
    if (entry == NULL) {
        snprintf(why, why_len, "'%s' has no symbol %s (not a vmfence fencer module)", path,
                 CPG_FENCER_ENTRY);
        return NULL;
    }
    ops = entry();
    if (ops == NULL) {
        snprintf(why, why_len, "'%s': %s returned no ops table", path, CPG_FENCER_ENTRY);
        return NULL;
    }
    if (ops->abi != CPG_FENCER_ABI) {
        snprintf(why, why_len, "'%s': fencer module ABI %u, fence_virtd expects %u (%s)", path,
                 (unsigned int)ops->abi, (unsigned int)CPG_FENCER_ABI,
                 ops->abi < CPG_FENCER_ABI ? "an older module: install the one of this "
                 "fence_virtd" : "built for a newer fence_virtd");
        return NULL;
    }
    if (ops->open == NULL || ops->close == NULL || ops->quorate == NULL ||
        ops->fenced_since == NULL) {
        snprintf(why, why_len, "'%s': fencer module ops incomplete", path);
        return NULL;
    }
    return ops;
}

int
cpg_fencer_load(struct cpg_be *be, const char *dir, char *why, size_t why_len)
{
    struct cpg_fencer_mod *m = NULL;
    struct cpg_fencer f;
    char path[4096], oerr[256] = "";
    int r;

    if (snprintf(path, sizeof(path), "%s/%s", dir, CPG_FENCER_PCMK_FILE) >= (int)sizeof(path)) {
        snprintf(why, why_len, "module path '%.200s...' is too long", dir);
        return -ENAMETOOLONG;
    }
    r = cpg_fencer_check(dir, path, why, why_len);
    if (r < 0) {
        return r;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        snprintf(why, why_len, "'%s': out of memory", path);
        return -ENOMEM;
    }
    m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (m->dl == NULL) {
        const char *e = dlerror();

        snprintf(why, why_len, "'%s': cannot load: %s", path, e != NULL ? e : "unknown error");
        r = -ENOEXEC;
        goto fail;
    }
    m->ops = cpg_fencer_ops_of(m->dl, path, why, why_len);
    if (m->ops == NULL) {
        r = -ENOEXEC;
        goto fail;
    }
    r = m->ops->open(&m->ctx, oerr, sizeof(oerr));
    if (r < 0) {
        snprintf(why, why_len, "'%s': cannot open the fencer: %s", path,
                 oerr[0] != '\0' ? oerr : strerror(-r));
        goto fail;
    }
    cpg_fencer_close(be);
    be->fencer_owned = m;
    f.quorate = m->ops->quorate;
    f.fenced_since = m->ops->fenced_since;
    f.ctx = m->ctx;
    cpg_set_fencer(be, &f);
    vf_log(LOG_INFO, "cpg backend: fencer module '%s' (%s %s) loaded", path, m->ops->name,
           m->ops->version != NULL ? m->ops->version : "?");
    return 0;
fail:
    if (m->dl != NULL) {
        dlclose(m->dl);
    }
    free(m);
    return r;
}

int
cpg_fencer_open(struct cpg_be *be, const struct vf_conf *conf, char *err, size_t err_len)
{
    const char *dir = conf != NULL ? vf_conf_get(conf, "fence_virtd/module_path", NULL) : NULL;
    char why[1024];
    int r;

    if (be->fence_history != CPG_FH_PACEMAKER) {
        return 0;
    }
    if (dir == NULL || dir[0] == '\0') {
        dir = VF_MODULE_PATH;
    }
    r = cpg_fencer_load(be, dir, why, sizeof(why));
    if (r == -ENOMEM) {
        snprintf(err, err_len, "cpg backend: %s", why);
        return r;
    }
    if (r < 0) {
        vf_log(LOG_ERR, "cpg backend: fencer module %s: the domains of a host that leaves the "
               "group cannot be confirmed off (fence_history = \"pacemaker\")", why);
    }
    return 0;
}

void
cpg_fencer_close(struct cpg_be *be)
{
    struct cpg_fencer_mod *m = be->fencer_owned;

    if (m == NULL) {
        return;
    }
    cpg_set_fencer(be, NULL);
    m->ops->close(m->ctx);
    /* the module stays mapped (as plugin.c's do): a request thread that
     * copied the fencer may still be in its code, and its libraries'
     * constructors' state must not be unmapped under them */
    free(m);
    be->fencer_owned = NULL;
}
