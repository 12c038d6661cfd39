/*
 * vmfence - lib/tests/dl-loaded.h: whether a library is loaded in the
 * calling process, for the tests of on-demand loading (test-xml-dl.c,
 * test-nss-dl.c).
 */
#ifndef VF_TEST_DL_LOADED_H
#define VF_TEST_DL_LOADED_H

#include <dlfcn.h>
#include <stdbool.h>

/* is @soname loaded in this process? (RTLD_NOLOAD: never loads it) */
static inline bool
vft_loaded(const char *soname)
{
    void *h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);

    if (h == NULL) {
        return false;
    }
    dlclose(h);
    return true;
}

#endif
