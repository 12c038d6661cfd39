/*
 * vmfence - lib/xml-dl.c: load libxml2 with dlopen() on first use and
 * resolve the text writer functions lib/ calls (xml-dl.h says why).
 *
 * Every function is checked before the table is used; a missing library or
 * function is an error naming both, never a crash.  The library is opened
 * RTLD_LOCAL (its symbols serve only this table) and RTLD_NODELETE, and
 * never closed once the table holds its functions.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "dl.h"
#include "xml-dl.h"

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static struct vf_xml_api xml_api;
static int xml_rc;
static char xml_err[512];

int
vf_xml_api_load(struct vf_xml_api *api, const char *soname, char *err,
                size_t err_size)
{
    struct vf_xml_api t = { 0 };
    void *h = vf_dl_open(soname, err, err_size);
    void *p;

    if (h == NULL) {
        return -ELIBACC;
    }
    /* the first missing function stops the load; the cast turns dlvsym()'s
     * object pointer into the member's own function pointer type */
#define VF_XML_RESOLVE(fn, ver) \
    p = vf_dl_sym(h, soname, #fn, ver, err, err_size); \
    if (p == NULL) { \
        goto fail; \
    } \
    t.fn = (__typeof__(t.fn))p;
    VF_XML_FUNCS(VF_XML_RESOLVE)
#undef VF_XML_RESOLVE
    *api = t;
    return 0;

 fail:
    dlclose(h);
    return -ELIBBAD;
}

static void
xml_load_once(void)
{
    xml_rc = vf_xml_api_load(&xml_api, VF_XML_SONAME, xml_err, sizeof(xml_err));
}

int
vf_xml_api(const struct vf_xml_api **ret_api)
{
    pthread_once(&xml_once, xml_load_once);
    *ret_api = xml_rc < 0 ? NULL : &xml_api;
    return vf_dl_outcome(xml_rc, "write XML without libxml2", xml_err);
}
