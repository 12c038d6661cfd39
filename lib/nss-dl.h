/*
 * vmfence - lib/nss-dl.h: the NSS functions of the daemon's digest
 * (digest-nss.c), loaded with dlopen() the first time something is hashed
 * (lib/nss-dl.c).
 *
 * Linked normally, libnss3 and NSPR (libnspr4, libplc4, libplds4,
 * libnssutil3) are mapped by every fence_virtd process, also by the
 * privileged one of privilege separation, which never hashes: about 0.5 MB
 * of RSS there for nothing.  Loaded on first use, they are mapped only by
 * the process that authenticates requests (the network process, or
 * fence_virtd without privilege separation).  The agents use freebl's raw
 * hash instead (agents/agent-digest.c) and never load either.
 *
 * As in xml-dl.h, the members are typeof NSS's own declarations and each
 * function is resolved at the symbol version a normal link records
 * (`objdump -T libnss3.so`).
 */
#ifndef VF_NSS_DL_H
#define VF_NSS_DL_H

#include <stddef.h>

#include <nss.h>
#include <sechash.h>

/* the library (Debian's libnss3 installs it under this name) */
#ifndef VF_NSS_SONAME
# define VF_NSS_SONAME "libnss3.so"
#endif

/* X(function, symbol version): every NSS function digest-nss.c calls */
#define VF_NSS_FUNCS(X) \
    X(NSS_NoDB_Init, "NSS_3.2") \
    X(HASH_Create, "NSS_3.4") \
    X(HASH_Begin, "NSS_3.4") \
    X(HASH_Update, "NSS_3.4") \
    X(HASH_End, "NSS_3.4") \
    X(HASH_Clone, "NSS_3.10") \
    X(HASH_Destroy, "NSS_3.4")

/* one pointer per function, named and typed as NSS declares it */
struct vf_nss_api {
#define VF_NSS_MEMBER(fn, ver) __typeof__(fn) *fn;
    VF_NSS_FUNCS(VF_NSS_MEMBER)
#undef VF_NSS_MEMBER
};

/*
 * \brief The table, loaded on the first call (thread-safe, once per
 *        process; NSS then stays loaded).  Does not initialise NSS.
 * \param[out] ret_api  the table, or NULL on failure
 * \return 0; -ELIBACC when libnss3 cannot be loaded, -ELIBBAD when it lacks
 *         a function (at its version); the reason, naming the library and
 *         the function, is logged (vf_log, LOG_ERR) on every failing call
 */
int vf_nss_api(const struct vf_nss_api **ret_api);

/* Load @soname into @api (what vf_nss_api() does once; for the tests).
 * 0, -ELIBACC or -ELIBBAD with the reason in @err; @api untouched then. */
int vf_nss_api_load(struct vf_nss_api *api, const char *soname, char *err, size_t err_size);

#endif
