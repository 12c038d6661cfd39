/*
 * vmfence - lib/digest.h: what the two implementations of vf_digest()
 * share (lib/digest-nss.c for the daemon and the tests, agents/agent-digest.c
 * for the agents): the algorithm's NSS hash type and the argument checks.
 * Private to them.
 */
#ifndef VF_DIGEST_H
#define VF_DIGEST_H

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <hasht.h>

#include "auth.h"

/*
 * The NSS hash type for @alg, after checking the arguments of vf_digest().
 * \return 0; -EINVAL for VF_HASH_NONE or an unknown algorithm, lengths
 *         beyond unsigned int, or NULL with a length
 */
static inline int
vf_digest_prepare(enum vf_hash alg, const uint8_t *key, size_t key_len,
                  const uint8_t *data, size_t len, HASH_HashType *ret_type)
{
    static const HASH_HashType types[] = {
        [VF_HASH_SHA1] = HASH_AlgSHA1,
        [VF_HASH_SHA256] = HASH_AlgSHA256,
        [VF_HASH_SHA512] = HASH_AlgSHA512,
    };

    if (alg <= VF_HASH_NONE || (size_t)alg >= sizeof(types) / sizeof(types[0])) {
        return -EINVAL;
    }
    if (key_len > UINT_MAX || len > UINT_MAX ||
        (key == NULL && key_len > 0) || (data == NULL && len > 0)) {
        return -EINVAL;
    }
    *ret_type = types[alg];
    return 0;
}

#endif
