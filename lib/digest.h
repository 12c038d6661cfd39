/*
 * vmfence - lib/digest.h: the hashing under vf_digest() (auth.c), of which
 * there are two implementations: lib/digest-nss.c for the daemon and the
 * tests, agents/agent-digest.c for the agents.  Each defines
 * vf_auth_init() (auth.h) and vf__digest_hash().  Private to the three.
 */
#ifndef VF_DIGEST_H
#define VF_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <hasht.h>

#include "auth.h"

/* The arguments of one vf_digest(), checked. */
struct vf_digest_job {
    enum vf_hash alg;
    HASH_HashType type;         /* the NSS hash type of alg */
    const uint8_t *key;         /* NULL only when key_len is 0 */
    size_t key_len;             /* <= UINT_MAX */
    const uint8_t *data;        /* NULL only when len is 0 */
    size_t len;                 /* <= UINT_MAX */
};

/*
 * SHAx(key || data) of @job into @digest (VF_DIGEST_MAX bytes of room),
 * its length in *ret_len.  Called by vf_digest() once vf_auth_init()
 * succeeded.
 * \return 0, or -EIO when the library fails
 */
int vf__digest_hash(const struct vf_digest_job *job, uint8_t digest[VF_DIGEST_MAX],
                    unsigned int *ret_len);

#endif
