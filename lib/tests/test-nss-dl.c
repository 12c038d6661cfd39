/*
 * vmfence - lib/tests/test-nss-dl.c: unit tests of NSS's on-demand loading
 * (lib/nss-dl.c) under the daemon's digest (lib/digest-nss.c).
 *
 * This program links libvmfence, which no longer links NSS (lib/Makefile.am),
 * so it sees what fence_virtd's privileged process sees: libnss3 and NSPR
 * absent until something is hashed, then loaded.  Failures are real too: a
 * library that does not exist, and libc.so.6 standing in for libnss3 (a
 * library without NSS's functions); nothing is faked.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "auth.h"
#include "digest.h"
#include "nss-dl.h"
#include "dl-loaded.h"
#include "vftest.h"

/* libnss3 and NSPR are loaded by the first digest, not before; the digest
 * is SHA-256 of key || data (one known vector) */
static void
test_loaded_on_first_use(void)
{
    static const uint8_t key[] = "key";
    static const uint8_t data[] = "data";
    /* sha256("keydata") */
    static const uint8_t want[32] = {
        0x6b, 0x45, 0x0c, 0xcb, 0x17, 0x6c, 0x1a, 0x99, 0xa8, 0xf7, 0xbf, 0x46, 0x0e, 0x92,
        0xe0, 0xe4, 0xa4, 0x43, 0x22, 0x37, 0xc2, 0xb8, 0xc6, 0xa2, 0x77, 0x97, 0x3c, 0x6d,
        0xfd, 0x3b, 0xdd, 0x6c,
    };
    struct vf_digest_job job = {
        .alg = VF_HASH_SHA256, .type = HASH_AlgSHA256, .key = key, .key_len = 3,
        .data = data, .len = 4,
    };
    uint8_t out[VF_DIGEST_MAX];
    unsigned int len = 0;

    VFT_CHECK(!vft_loaded(VF_NSS_SONAME));
    VFT_CHECK(!vft_loaded("libnspr4.so"));
    VFT_EQ_INT(vf__digest_hash(&job, out, &len), 0);
    VFT_EQ_INT(len, 32);
    VFT_CHECK(memcmp(out, want, sizeof(want)) == 0);
    VFT_CHECK(vft_loaded(VF_NSS_SONAME));
    /* again, from the key's prepared state */
    memset(out, 0, sizeof(out));
    VFT_EQ_INT(vf__digest_hash(&job, out, &len), 0);
    VFT_CHECK(memcmp(out, want, sizeof(want)) == 0);
}

/* a library that is not there, and one without NSS's functions: named */
static void
test_load_failures(void)
{
    struct vf_nss_api api;
    char err[512] = "";

    memset(&api, 0, sizeof(api));
    VFT_EQ_INT(vf_nss_api_load(&api, "libvmfence-no-such-nss.so", err, sizeof(err)), -ELIBACC);
    VFT_CHECK(strstr(err, "cannot load libvmfence-no-such-nss.so") != NULL);
    VFT_EQ_INT(vf_nss_api_load(&api, "libc.so.6", err, sizeof(err)), -ELIBBAD);
    VFT_CHECK(strstr(err, "libc.so.6 lacks NSS_NoDB_Init (version NSS_3.2)") != NULL);
    VFT_CHECK(api.NSS_NoDB_Init == NULL);       /* untouched on failure */
    VFT_EQ_INT(vf_nss_api_load(&api, VF_NSS_SONAME, err, sizeof(err)), 0);
    VFT_CHECK(api.HASH_Clone != NULL && api.HASH_Create != NULL);
}

int
main(void)
{
    VFT_RUN(test_loaded_on_first_use);
    VFT_RUN(test_load_failures);
    VFT_EXIT();
}
