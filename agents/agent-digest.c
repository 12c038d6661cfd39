/*
 * vmfence - agents/agent-digest.c: vf_auth_init() and vf_digest() (lib/auth.h)
 * for the agents, with NSS's freebl hash API (nsslowhash.h) instead of the
 * full NSS of lib/digest-nss.c.
 *
 * An agent is a process per request that computes a handful of digests.
 * NSS_NoDB_Init() loads the softoken, its SQLite and freebl and seeds its
 * generator: about half the process's CPU time.  freebl's raw hash needs
 * none of that, so fence_virt links this file (its objects come before
 * libvmfence.a, whose digest-nss.o is then never pulled in) and loads
 * neither libnss3 nor NSPR.  Same digests, byte for byte (the vectors of
 * lib/tests/test-auth.c run against this file too: agents/tests).  One-shot
 * contexts: no prepared key states, which pay off only in the daemon.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "digest.h"     /* first: nsslowhash.h needs hasht.h */

#include <nsslowhash.h>

static pthread_once_t low_once = PTHREAD_ONCE_INIT;
static NSSLOWInitContext *low_ctx;

static void
low_init_once(void)
{
    low_ctx = NSSLOW_Init();
}

/** \brief Initialise freebl once (thread-safe). \return 0 or -EIO */
int
vf_auth_init(void)
{
    pthread_once(&low_once, low_init_once);
    return low_ctx != NULL ? 0 : -EIO;
}

/**
 * \brief out = SHAx(key || data), zero padded to VF_DIGEST_MAX bytes.
 * \return 0; -EINVAL for VF_HASH_NONE/unknown algorithms or oversized
 *         input; -EIO if freebl fails
 */
int
vf_digest(enum vf_hash alg, const uint8_t *key, size_t key_len,
          const uint8_t *data, size_t len, uint8_t out[VF_DIGEST_MAX])
{
    uint8_t digest[VF_DIGEST_MAX];
    HASH_HashType type = HASH_AlgNULL;
    NSSLOWHASHContext *ctx = NULL;
    unsigned int dlen = 0;
    int r;

    r = vf_digest_prepare(alg, key, key_len, data, len, &type);
    if (r < 0) {
        return r;
    }
    r = vf_auth_init();
    if (r < 0) {
        return r;
    }
    ctx = NSSLOWHASH_NewContext(low_ctx, type);
    if (ctx == NULL) {
        return -EIO;
    }
    memset(digest, 0, sizeof(digest));
    NSSLOWHASH_Begin(ctx);
    if (key_len > 0) {
        NSSLOWHASH_Update(ctx, key, (unsigned int)key_len);
    }
    if (len > 0) {
        NSSLOWHASH_Update(ctx, data, (unsigned int)len);
    }
    NSSLOWHASH_End(ctx, digest, &dlen, sizeof(digest));
    NSSLOWHASH_Destroy(ctx);
    if (dlen != vf_hash_len(alg)) {
        return -EIO;
    }
    memcpy(out, digest, VF_DIGEST_MAX);
    return 0;
}
