/*
 * vmfence - lib/dl.c: dlopen() and versioned symbol lookup with errors
 * that say what is missing (dl.h).
 */
#include <dlfcn.h>
#include <stdio.h>

#include "dl.h"
#include "log.h"

void *
vf_dl_open(const char *soname, char *err, size_t err_size)
{
    const char *why;
    void *h;

    (void)dlerror();
    h = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (h == NULL) {
        why = dlerror();
        snprintf(err, err_size, "cannot load %s: %s", soname, why != NULL ? why : "not found");
    }
    return h;
}

void *
vf_dl_sym(void *h, const char *soname, const char *fn, const char *version,
          char *err, size_t err_size)
{
    const char *why;
    char reason[256];
    void *p;

    (void)dlerror();
    p = dlvsym(h, fn, version);
    if (p != NULL) {
        return p;
    }
    /* copied: the next dl call reuses dlerror()'s buffer */
    why = dlerror();
    snprintf(reason, sizeof(reason), "%s", why != NULL ? why : "not found");
    if (dlsym(h, fn) != NULL) {
        snprintf(err, err_size, "%s has %s, but not at symbol version %s "
                 "(another ABI than the one vmfence was built for)", soname, fn, version);
    } else {
        snprintf(err, err_size, "%s lacks %s (version %s): %s", soname, fn, version, reason);
    }
    return NULL;
}

int
vf_dl_outcome(int rc, const char *what, const char *err)
{
    if (rc < 0) {
        vf_log(LOG_ERR, "cannot %s: %s", what, err);
    }
    return rc;
}
