/*
 * vmfence - lib/digest-nss.c: the protocol's keyed digest SHAx(key || data)
 * with NSS: vf_auth_init() (auth.h) and the hashing under vf_digest()
 * (digest.h).  A program can bring another implementation of the same two
 * functions: the agents link agents/agent-digest.c (NSS's freebl hash API,
 * no softoken, no database) and so never load the rest of NSS; the daemon
 * and the tests use this file, whose prepared key states suit a
 * long-running process.  NSS is loaded on first use (nss-dl.h): a process
 * that never hashes (fence_virtd's privileged side) never maps it.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "auth.h"
#include "digest.h"
#include "nss-dl.h"

static pthread_once_t nss_once = PTHREAD_ONCE_INIT;
static int nss_init_result = -EIO;
static const struct vf_nss_api *nss;    /* set before nss_init_result is 0 */

static void
nss_init_once(void)
{
    const struct vf_nss_api *api = NULL;

    if (vf_nss_api(&api) == 0 && api->NSS_NoDB_Init(NULL) == SECSuccess) {
        nss = api;
        nss_init_result = 0;
    }
}

/** \brief Initialise NSS once (thread-safe). \return 0 or -EIO */
int
vf_auth_init(void)
{
    pthread_once(&nss_once, nss_init_once);
    return nss_init_result;
}

/*
 * Prepared key states.  Every digest of the protocol is SHAx(key || data)
 * with a 4 KiB key and at most 176 bytes of data: hashing the key is about
 * 95 % of the work, and the daemon hashes the same key three times per
 * request.  So the state after absorbing a key is kept (a few keys per
 * process: one per listener and algorithm) and cloned for each digest.
 * An entry is found by comparing the whole key (a reloaded key at the same
 * address is a new entry); a copy of the key is kept for that comparison
 * and wiped on eviction.  One mutex: the section is a memcmp and a clone.
 */
#define PREP_SLOTS 8

struct prep {
    HASHContext *ctx;           /* NULL: free slot */
    enum vf_hash alg;
    size_t key_len;
    uint64_t last_use;
    uint8_t key[VF_MAX_KEY_LEN];
};

static pthread_mutex_t prep_mu = PTHREAD_MUTEX_INITIALIZER;
static struct prep prep_slots[PREP_SLOTS];
static uint64_t prep_clock;

/* Slot of (@alg, @key) (prep_mu held), or NULL. */
static struct prep *
prep_find_locked(enum vf_hash alg, const uint8_t *key, size_t key_len)
{
    for (size_t i = 0; i < PREP_SLOTS; i++) {
        struct prep *p = &prep_slots[i];

        if (p->ctx != NULL && p->alg == alg && p->key_len == key_len &&
            memcmp(p->key, key, key_len) == 0) {
            return p;
        }
    }
    return NULL;
}

/* Remember @ctx (a state that absorbed @key) for (@alg, @key), evicting the
 * least recently used entry (prep_mu held).  Takes ownership of @ctx. */
static void
prep_store_locked(enum vf_hash alg, const uint8_t *key, size_t key_len, HASHContext *ctx)
{
    struct prep *victim = &prep_slots[0];

    for (size_t i = 0; i < PREP_SLOTS; i++) {
        if (prep_slots[i].ctx == NULL) {
            victim = &prep_slots[i];
            break;
        }
        if (prep_slots[i].last_use < victim->last_use) {
            victim = &prep_slots[i];
        }
    }
    if (victim->ctx != NULL) {
        nss->HASH_Destroy(victim->ctx);
        explicit_bzero(victim->key, sizeof(victim->key));
    }
    victim->ctx = ctx;
    victim->alg = alg;
    victim->key_len = key_len;
    victim->last_use = ++prep_clock;
    memcpy(victim->key, key, key_len);
}

/*
 * A fresh context that has absorbed @key: a clone of the prepared state,
 * which is made on first use.  Keys longer than VF_MAX_KEY_LEN are hashed
 * each time (never the case for key files, which the loader caps).
 * \return the context (caller destroys it) or NULL (NSS out of memory)
 */
static HASHContext *
keyed_context(enum vf_hash alg, HASH_HashType type, const uint8_t *key, size_t key_len)
{
    HASHContext *ctx = NULL;
    HASHContext *prepared = NULL;
    struct prep *p = NULL;

    if (key_len > 0 && key_len <= VF_MAX_KEY_LEN) {
        pthread_mutex_lock(&prep_mu);
        p = prep_find_locked(alg, key, key_len);
        if (p != NULL) {
            p->last_use = ++prep_clock;
            ctx = nss->HASH_Clone(p->ctx);
        }
        pthread_mutex_unlock(&prep_mu);
        if (p != NULL) {
            return ctx;
        }
    }
    ctx = nss->HASH_Create(type);
    if (ctx == NULL) {
        return NULL;
    }
    nss->HASH_Begin(ctx);
    if (key_len > 0) {
        nss->HASH_Update(ctx, key, (unsigned int)key_len);
    }
    if (key_len == 0 || key_len > VF_MAX_KEY_LEN) {
        return ctx;
    }
    prepared = nss->HASH_Clone(ctx);
    if (prepared != NULL) {
        pthread_mutex_lock(&prep_mu);
        if (prep_find_locked(alg, key, key_len) == NULL) {
            prep_store_locked(alg, key, key_len, prepared);
            prepared = NULL;
        }
        pthread_mutex_unlock(&prep_mu);
        if (prepared != NULL) {
            nss->HASH_Destroy(prepared);     /* another thread stored it first */
        }
    }
    return ctx;
}

/* SHAx(key || data) from the key's prepared state (digest.h) */
int
vf__digest_hash(const struct vf_digest_job *job, uint8_t digest[VF_DIGEST_MAX],
                unsigned int *ret_len)
{
    HASHContext *ctx = NULL;

    /* a process that never hashed has not initialised NSS (fence_virtd's
     * privileged side with privilege separation): do it now, once */
    if (vf_auth_init() < 0) {
        return -EIO;
    }
    ctx = keyed_context(job->alg, job->type, job->key, job->key_len);
    if (ctx == NULL) {
        return -EIO;
    }
    if (job->len > 0) {
        nss->HASH_Update(ctx, job->data, (unsigned int)job->len);
    }
    nss->HASH_End(ctx, digest, ret_len, VF_DIGEST_MAX);
    nss->HASH_Destroy(ctx);
    return 0;
}
