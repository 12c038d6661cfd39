/*
 * vmfence - lib/strhash.h: the one string hash of the project's hash
 * tables (FNV-1a, 64 bit).  Not for anything an attacker must not
 * predict: the tables it indexes hold what the daemon itself knows
 * (domains, targets it answered), bounded in size.
 */
#ifndef VF_STRHASH_H
#define VF_STRHASH_H

#include <stdint.h>

static inline uint64_t
vf_str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

#endif
