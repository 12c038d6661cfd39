/*
 * vmfence - daemon/fairshare.c: per-requester in-flight limits (see fairshare.h).
 *
 * A small chained hash table of identity -> count; an entry lives while its
 * count is above zero.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fairshare.h"

#define FS_BUCKETS 256          /* power of two */

struct fs_entry {
    struct fs_entry *next;
    unsigned int held;
    char identity[];
};

struct vf_fairshare {
    unsigned int per_identity_max;
    unsigned int reserve;
    struct fs_entry *bucket[FS_BUCKETS];
};

struct vf_fairshare *
vf_fairshare_new(unsigned int per_identity_max, unsigned int reserve)
{
    struct vf_fairshare *fs = calloc(1, sizeof(*fs));

    if (fs == NULL) {
        return NULL;
    }
    fs->per_identity_max = per_identity_max > 0 ? per_identity_max : 1;
    fs->reserve = reserve;
    return fs;
}

struct vf_fairshare *
vf_fairshare_free(struct vf_fairshare *fs)
{
    if (fs == NULL) {
        return NULL;
    }
    for (unsigned int i = 0; i < FS_BUCKETS; i++) {
        while (fs->bucket[i] != NULL) {
            struct fs_entry *e = fs->bucket[i];

            fs->bucket[i] = e->next;
            free(e);
        }
    }
    free(fs);
    return NULL;
}

static struct fs_entry **
bucket_of(const struct vf_fairshare *fs, const char *identity)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)identity; *p != '\0'; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return (struct fs_entry **)&fs->bucket[h & (FS_BUCKETS - 1)];
}

/* The link pointing at @identity's entry (or at the NULL ending its chain). */
static struct fs_entry **
find(const struct vf_fairshare *fs, const char *identity)
{
    struct fs_entry **pp = bucket_of(fs, identity);

    while (*pp != NULL && strcmp((*pp)->identity, identity) != 0) {
        pp = &(*pp)->next;
    }
    return pp;
}

int
vf_fairshare_admit(struct vf_fairshare *fs, const char *identity, unsigned int active,
                   unsigned int capacity, unsigned int *ret_held)
{
    struct fs_entry **pp = NULL;
    struct fs_entry *e = NULL;
    unsigned int held = 0;

    if (fs == NULL || identity == NULL) {
        return -EINVAL;
    }
    pp = find(fs, identity);
    held = *pp != NULL ? (*pp)->held : 0;
    if (held >= fs->per_identity_max ||
        (held > 0 && active + fs->reserve >= capacity)) {
        if (ret_held != NULL) {
            *ret_held = held;
        }
        return -EBUSY;
    }
    if (*pp == NULL) {
        size_t len = strlen(identity);

        e = calloc(1, sizeof(*e) + len + 1);
        if (e == NULL) {
            return -ENOMEM;
        }
        memcpy(e->identity, identity, len + 1);
        *pp = e;
    }
    (*pp)->held++;
    return 0;
}

void
vf_fairshare_leave(struct vf_fairshare *fs, const char *identity)
{
    struct fs_entry **pp = NULL;
    struct fs_entry *e = NULL;

    if (fs == NULL || identity == NULL) {
        return;
    }
    pp = find(fs, identity);
    e = *pp;
    if (e == NULL) {
        return;
    }
    if (e->held > 1) {
        e->held--;
        return;
    }
    *pp = e->next;
    free(e);
}

unsigned int
vf_fairshare_held(const struct vf_fairshare *fs, const char *identity)
{
    struct fs_entry **pp = NULL;

    if (fs == NULL || identity == NULL) {
        return 0;
    }
    pp = find(fs, identity);
    return *pp != NULL ? (*pp)->held : 0;
}
