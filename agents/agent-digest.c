/*
 * vmfence - agents/agent-digest.c: vf_auth_init() (lib/auth.h) and the
 * hashing under vf_digest() (lib/digest.h) for the agents, with NSS's freebl
 * hash API (nsslowhash.h) instead of the full NSS of lib/digest-nss.c.
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

/* SHAx(key || data) in one freebl context (digest.h) */
int
vf__digest_hash(const struct vf_digest_job *job, uint8_t digest[VF_DIGEST_MAX],
                unsigned int *ret_len)
{
    NSSLOWHASHContext *ctx = NSSLOWHASH_NewContext(low_ctx, job->type);

    if (ctx == NULL) {
        return -EIO;
    }
    NSSLOWHASH_Begin(ctx);
    if (job->key_len > 0) {
        NSSLOWHASH_Update(ctx, job->key, (unsigned int)job->key_len);
    }
    if (job->len > 0) {
        NSSLOWHASH_Update(ctx, job->data, (unsigned int)job->len);
    }
    NSSLOWHASH_End(ctx, digest, ret_len, VF_DIGEST_MAX);
    NSSLOWHASH_Destroy(ctx);
    return 0;
}
