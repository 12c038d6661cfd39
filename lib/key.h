/*
 * vmfence - lib/key.h: shared key files.
 */
#ifndef VF_KEY_H
#define VF_KEY_H

#include <stddef.h>
#include <stdint.h>
#include "wire.h"

struct vf_key {
    uint8_t data[VF_MAX_KEY_LEN];
    size_t len;
};

/*
 * Load a key file (raw bytes; a trailing newline is part of the key).
 *   -ENOENT   missing             -EACCES  unreadable (permission)
 *   -ENODATA  empty file          -EFBIG   larger than 4096 bytes
 *   -EISDIR / -EINVAL  not a regular file
 * On error a one-line reason naming the file is written to @err.
 * If @warn is not NULL and the file is readable by group/others, a warning
 * naming the mode is written there (empty string otherwise).
 */
int vf_key_load(const char *path, struct vf_key *ret_key,
                char *err, size_t err_len, char *warn, size_t warn_len);

/* Overwrite the key material. */
void vf_key_clear(struct vf_key *key);

#endif
