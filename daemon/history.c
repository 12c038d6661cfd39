/*
 * vmfence - daemon/history.c: bounded duplicate-request table.
 *
 * A fixed array of VF_HISTORY_CAP slots protected by one mutex.  Each slot
 * has a compact header (state, token, time, hash of the key) apart from its
 * key, so the linear scan per request touches 32 KiB of headers, and full
 * keys are compared only when the hashes match; a token names its slot, so
 * complete/release/confirm find their entry without a scan.  (Under load
 * the table is always full of completed entries: the old scan compared
 * 300-byte keys in all 1024 slots on every request.)  Entries are reserved when a
 * request starts (so a retransmission arriving while the first copy still
 * runs is dropped too), then either completed (kept for the window) or
 * released (forgotten).  When the table is full the oldest completed entry
 * is evicted; in-progress entries are never evicted.  Tentative entries
 * (connect-back copies, see history.h) only become blocking once confirmed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "history.h"

struct hist_entry {
    uint64_t token;             /* serial * cap + slot index */
    int64_t done_ms;
    uint32_t hash;              /* key_hash(key) */
    bool used;
    bool in_progress;
    bool tentative;             /* in progress, reply channel not yet confirmed */
    bool opened;                /* tentative, but its reply channel is open */
};

struct vf_history {
    pthread_mutex_t lock;
    unsigned int cap;
    int64_t window_ms;
    uint64_t next_serial;
    struct hist_entry *slots;
    struct vf_history_key *keys;    /* keys[i] belongs to slots[i] */
};

struct vf_history *
vf_history_new(unsigned int cap, int64_t window_ms)
{
    struct vf_history *h = NULL;

    if (cap == 0) {
        return NULL;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return NULL;
    }
    h->slots = calloc(cap, sizeof(*h->slots));
    h->keys = calloc(cap, sizeof(*h->keys));
    if (h->slots == NULL || h->keys == NULL) {
        free(h->slots);
        free(h->keys);
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->lock, NULL);
    h->cap = cap;
    h->window_ms = window_ms;
    h->next_serial = 1;
    return h;
}

struct vf_history *
vf_history_free(struct vf_history *h)
{
    if (h == NULL) {
        return NULL;
    }
    pthread_mutex_destroy(&h->lock);
    free(h->slots);
    free(h->keys);
    free(h);
    return NULL;
}

/* FNV-1a, step by step */
static uint32_t
fnv(uint32_t h, const void *data, size_t len)
{
    const uint8_t *p = data;

    for (size_t i = 0; i < len; i++) {
        /* cppcheck-suppress uninitvar ; key_hash() passes only the n bytes of dom[] it set */
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

/* Hash of what key_equal() compares (the domain case-insensitively). */
static uint32_t
key_hash(const struct vf_history_key *k)
{
    uint32_t h = 2166136261u;
    char dom[sizeof(k->domain)];
    size_t n = 0;

    h = fnv(h, k->listener, strnlen(k->listener, sizeof(k->listener)));
    h = fnv(h, "", 1);
    h = fnv(h, k->identity, strnlen(k->identity, sizeof(k->identity)));
    h = fnv(h, &k->request, sizeof(k->request));
    h = fnv(h, &k->seqno, sizeof(k->seqno));
    h = fnv(h, &k->port, sizeof(k->port));
    h = fnv(h, k->random, sizeof(k->random));
    for (; n < sizeof(dom) && k->domain[n] != '\0'; n++) {
        char c = k->domain[n];

        dom[n] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    return fnv(h, dom, n);
}

static bool
key_equal(const struct vf_history_key *a, const struct vf_history_key *b)
{
    return a->request == b->request && a->seqno == b->seqno &&
           a->port == b->port &&
           strcmp(a->listener, b->listener) == 0 &&
           strcmp(a->identity, b->identity) == 0 &&
           strcasecmp(a->domain, b->domain) == 0 &&
           memcmp(a->random, b->random, sizeof(a->random)) == 0;
}

static bool
entry_live(const struct vf_history *h, const struct hist_entry *e, int64_t now_ms)
{
    if (!e->used) {
        return false;
    }
    if (e->in_progress) {
        return true;
    }
    return now_ms - e->done_ms < h->window_ms;
}

static int
reserve(struct vf_history *h, const struct vf_history_key *key, int64_t now_ms,
        bool tentative, uint64_t *ret_token)
{
    struct hist_entry *free_slot = NULL;
    struct hist_entry *oldest = NULL;
    uint32_t hash = 0;
    int r = 0;

    if (h == NULL || key == NULL || ret_token == NULL) {
        return -EINVAL;
    }
    hash = key_hash(key);
    pthread_mutex_lock(&h->lock);
    for (unsigned int i = 0; i < h->cap; i++) {
        struct hist_entry *e = &h->slots[i];

        if (!entry_live(h, e, now_ms)) {
            e->used = false;
            if (free_slot == NULL) {
                free_slot = e;
            }
            continue;
        }
        if (!e->tentative && e->hash == hash && key_equal(&h->keys[i], key)) {
            r = -EEXIST;
            goto out;
        }
        if (!e->in_progress && (oldest == NULL || e->done_ms < oldest->done_ms)) {
            oldest = e;
        }
    }
    if (free_slot == NULL) {
        free_slot = oldest;
    }
    if (free_slot == NULL) {
        r = -ENOSPC;
        goto out;
    }
    free_slot->used = true;
    free_slot->in_progress = true;
    free_slot->tentative = tentative;
    free_slot->opened = false;
    free_slot->token = h->next_serial++ * h->cap + (uint64_t)(free_slot - h->slots);
    free_slot->done_ms = 0;
    free_slot->hash = hash;
    h->keys[free_slot - h->slots] = *key;
    *ret_token = free_slot->token;
out:
    pthread_mutex_unlock(&h->lock);
    return r;
}

/* The entry of @token (its slot is token % cap), or NULL once it is gone. */
static struct hist_entry *
find_token(struct vf_history *h, uint64_t token)
{
    struct hist_entry *e = &h->slots[token % h->cap];

    return e->used && e->token == token ? e : NULL;
}

int
vf_history_reserve(struct vf_history *h, const struct vf_history_key *key,
                   int64_t now_ms, uint64_t *ret_token)
{
    return reserve(h, key, now_ms, false, ret_token);
}

int
vf_history_reserve_tentative(struct vf_history *h, const struct vf_history_key *key,
                             int64_t now_ms, uint64_t *ret_token)
{
    return reserve(h, key, now_ms, true, ret_token);
}

int
vf_history_confirm(struct vf_history *h, uint64_t token, int64_t now_ms)
{
    struct hist_entry *e = NULL;
    int r = 0;

    if (h == NULL) {
        return -EINVAL;
    }
    pthread_mutex_lock(&h->lock);
    e = find_token(h, token);
    if (e == NULL) {
        r = -ENOENT;
        goto out;
    }
    for (unsigned int i = 0; i < h->cap; i++) {
        const struct hist_entry *o = &h->slots[i];

        if (o != e && !o->tentative && entry_live(h, o, now_ms) && o->hash == e->hash &&
            key_equal(&h->keys[i], &h->keys[e - h->slots])) {
            e->used = false;
            r = -EEXIST;
            goto out;
        }
    }
    e->tentative = false;
out:
    pthread_mutex_unlock(&h->lock);
    return r;
}

int
vf_history_siblings(struct vf_history *h, uint64_t token, int64_t now_ms)
{
    const struct hist_entry *e = NULL;
    int r = -1;

    if (h == NULL) {
        return -1;
    }
    pthread_mutex_lock(&h->lock);
    e = find_token(h, token);
    for (unsigned int i = 0; e != NULL && i < h->cap; i++) {
        const struct hist_entry *o = &h->slots[i];

        if (o == e || !entry_live(h, o, now_ms) || o->hash != e->hash ||
            !key_equal(&h->keys[i], &h->keys[e - h->slots])) {
            continue;
        }
        if (!o->tentative || o->opened) {
            r = 1;
            break;
        }
        r = 0;
    }
    pthread_mutex_unlock(&h->lock);
    return r;
}

void
vf_history_opened(struct vf_history *h, uint64_t token)
{
    struct hist_entry *e = NULL;

    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->lock);
    e = find_token(h, token);
    if (e != NULL) {
        e->opened = true;
    }
    pthread_mutex_unlock(&h->lock);
}

void
vf_history_complete(struct vf_history *h, uint64_t token, int64_t now_ms)
{
    struct hist_entry *e = NULL;

    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->lock);
    e = find_token(h, token);
    if (e != NULL) {
        e->in_progress = false;
        e->tentative = false;
        e->done_ms = now_ms;
    }
    pthread_mutex_unlock(&h->lock);
}

void
vf_history_release(struct vf_history *h, uint64_t token)
{
    struct hist_entry *e = NULL;

    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->lock);
    e = find_token(h, token);
    if (e != NULL) {
        e->used = false;
    }
    pthread_mutex_unlock(&h->lock);
}

unsigned int
vf_history_count(struct vf_history *h, int64_t now_ms)
{
    unsigned int n = 0;

    if (h == NULL) {
        return 0;
    }
    pthread_mutex_lock(&h->lock);
    for (unsigned int i = 0; i < h->cap; i++) {
        if (entry_live(h, &h->slots[i], now_ms)) {
            n++;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}
