/*
 * vmfence - daemon/replay.c: the replay cache (see replay.h).
 *
 * A set-associative table: the digest picks a set of REPLAY_WAYS entries,
 * a new request takes a free entry of its set or the oldest one.  Lookups
 * and inserts touch one set (a few cache lines) under one mutex, so the
 * cost per request does not grow with the table.  Memory is allocated
 * once (calloc: pages are only touched as sets fill).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "replay.h"

#define REPLAY_KEY_LEN  16
#define REPLAY_WAYS     8

struct replay_entry {
    uint8_t key[REPLAY_KEY_LEN];    /* digest prefix, hash type mixed in (make_key) */
    int64_t first_ms;               /* 0 = free */
};

struct vf_replay {
    pthread_mutex_t lock;
    unsigned int n_sets;            /* power of two */
    unsigned int count;
    struct replay_entry *e;         /* n_sets * REPLAY_WAYS */
};

struct vf_replay *
vf_replay_new(unsigned int entries)
{
    struct vf_replay *rc = NULL;
    unsigned int sets = 1;

    while (sets * REPLAY_WAYS < entries && sets < (1u << 24)) {
        sets <<= 1;
    }
    rc = VF_LOCKED_NEW(struct vf_replay, lock);
    if (rc == NULL) {
        return NULL;
    }
    rc->n_sets = sets;
    rc->e = calloc((size_t)sets * REPLAY_WAYS, sizeof(*rc->e));
    return rc->e != NULL ? rc : vf_replay_free(rc);
}

struct vf_replay *
vf_replay_free(struct vf_replay *rc)
{
    if (rc != NULL) {
        free(rc->e);
    }
    return VF_LOCKED_FREE(rc, struct vf_replay, lock);
}

/*
 * The key of a signed request: its digest prefix, with the hash type mixed
 * into the last byte (digests of different algorithms never compare equal
 * by accident of layout).  \return false for unsigned requests
 */
static bool
make_key(const struct vf_req *req, uint8_t key[REPLAY_KEY_LEN])
{
    if (req == NULL || req->hashtype == VF_HASH_NONE) {
        return false;
    }
    memcpy(key, req->hash, REPLAY_KEY_LEN);
    key[REPLAY_KEY_LEN - 1] ^= req->hashtype;
    return true;
}

/* The first entry of @key's set. */
static struct replay_entry *
set_of(const struct vf_replay *rc, const uint8_t key[REPLAY_KEY_LEN])
{
    uint32_t h = 0;

    /* the digest is uniform already: its first bytes are a fine index */
    memcpy(&h, key, sizeof(h));
    return &rc->e[(size_t)(h & (rc->n_sets - 1)) * REPLAY_WAYS];
}

/* The entry holding @key in @set, or NULL. */
static struct replay_entry *
find_in_set(struct replay_entry *set, const uint8_t key[REPLAY_KEY_LEN])
{
    for (unsigned int i = 0; i < REPLAY_WAYS; i++) {
        if (set[i].first_ms != 0 && memcmp(set[i].key, key, REPLAY_KEY_LEN) == 0) {
            return &set[i];
        }
    }
    return NULL;
}

bool
vf_replay_seen(struct vf_replay *rc, const struct vf_req *req)
{
    uint8_t key[REPLAY_KEY_LEN];
    bool seen = false;

    if (rc == NULL || !make_key(req, key)) {
        return false;
    }
    pthread_mutex_lock(&rc->lock);
    seen = find_in_set(set_of(rc, key), key) != NULL;
    pthread_mutex_unlock(&rc->lock);
    return seen;
}

int
vf_replay_record(struct vf_replay *rc, const struct vf_req *req, int64_t now_ms,
                 int64_t *ret_first_ms)
{
    uint8_t key[REPLAY_KEY_LEN];
    struct replay_entry *set = NULL, *e = NULL, *victim = NULL;
    int r = 0;

    if (rc == NULL || !make_key(req, key)) {
        return -EINVAL;
    }
    if (now_ms <= 0) {
        now_ms = 1;             /* 0 marks a free entry */
    }
    pthread_mutex_lock(&rc->lock);
    set = set_of(rc, key);
    e = find_in_set(set, key);
    if (e != NULL) {
        if (ret_first_ms != NULL) {
            *ret_first_ms = e->first_ms;
        }
        r = -EALREADY;
        goto out;
    }
    for (unsigned int i = 0; i < REPLAY_WAYS; i++) {
        if (set[i].first_ms == 0) {
            victim = &set[i];
            break;
        }
        if (victim == NULL || set[i].first_ms < victim->first_ms) {
            victim = &set[i];
        }
    }
    if (victim->first_ms == 0) {
        rc->count++;
    }
    memcpy(victim->key, key, REPLAY_KEY_LEN);
    victim->first_ms = now_ms;
out:
    pthread_mutex_unlock(&rc->lock);
    return r;
}

unsigned int
vf_replay_count(struct vf_replay *rc)
{
    unsigned int n = 0;

    if (rc == NULL) {
        return 0;
    }
    pthread_mutex_lock(&rc->lock);
    n = rc->count;
    pthread_mutex_unlock(&rc->lock);
    return n;
}
