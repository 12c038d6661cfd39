/*
 * vmfence - lib/nss-dl.c: load libnss3 with dlopen() on first use and
 * resolve the functions digest-nss.c calls (nss-dl.h says why).  Every
 * function is checked before the table is used; the library is never
 * closed once the table holds its functions.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

#include "dl.h"
#include "nss-dl.h"

static pthread_once_t nss_once = PTHREAD_ONCE_INIT;
static struct vf_nss_api nss_api;
static int nss_rc;
static char nss_err[512];

int
vf_nss_api_load(struct vf_nss_api *api, const char *soname, char *err, size_t err_size)
{
    struct vf_nss_api t = { 0 };
    void *h = vf_dl_open(soname, err, err_size);
    void *p;

    if (h == NULL) {
        return -ELIBACC;
    }
#define VF_NSS_RESOLVE(fn, ver) \
    if ((p = vf_dl_sym(h, soname, #fn, ver, err, err_size)) == NULL) { \
        dlclose(h); \
        return -ELIBBAD; \
    } \
    t.fn = (__typeof__(t.fn))p;
    VF_NSS_FUNCS(VF_NSS_RESOLVE)
#undef VF_NSS_RESOLVE
    *api = t;
    return 0;
}

static void
nss_load_once(void)
{
    nss_rc = vf_nss_api_load(&nss_api, VF_NSS_SONAME, nss_err, sizeof(nss_err));
}

int
vf_nss_api(const struct vf_nss_api **ret_api)
{
    pthread_once(&nss_once, nss_load_once);
    *ret_api = nss_rc < 0 ? NULL : &nss_api;
    return vf_dl_outcome(nss_rc, "hash without NSS", nss_err);
}
