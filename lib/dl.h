/*
 * vmfence - lib/dl.h: opening a library with dlopen() and resolving its
 * functions at the symbol versions a normal link records (lib/dl.c), for
 * the tables that load a library on first use (xml-dl.h, nss-dl.h).
 *
 * Errors name the library, the function and its version, and say whether
 * the function is missing or present at another version (another ABI).
 */
#ifndef VF_DL_H
#define VF_DL_H

#include <stddef.h>

/*
 * \brief dlopen(@soname) RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE.
 * \return the handle, or NULL with the reason in @err
 */
void *vf_dl_open(const char *soname, char *err, size_t err_size);

/*
 * \brief @fn at symbol version @version in @h (opened from @soname).
 * \return the address, or NULL with the reason in @err
 */
void *vf_dl_sym(void *h, const char *soname, const char *fn, const char *version,
                char *err, size_t err_size);

/*
 * \brief The outcome of loading a table (@rc from its loader, @err its
 *        reason): logged (LOG_ERR, "cannot @what: @err") when it failed.
 * \return @rc
 */
int vf_dl_outcome(int rc, const char *what, const char *err);

#endif
