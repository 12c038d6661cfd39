/*
 * vmfence - daemon/history.c: bounded duplicate-request table.
 *
 * A fixed array of VF_HISTORY_CAP slots protected by one mutex.  Each slot
 * has a compact header (state, token, time, hash of the key) apart from its
 * key.  Lookups go through a hash index (buckets chained through the
 * slots), so a request costs a few slot visits, not a scan: under load
 * the table is always full, and the linear scan of 1,024 headers it used
 * to do on every request was the daemon's largest own cost per request
 * after hashing.  Completed entries are kept on a list in completion order,
 * so the oldest one (evicted when no slot is free, and dropped first once
 * it expires) is its head; free slots are on a free list.  A token names
 * its slot, so complete/release/confirm find their entry without a lookup.
 * Entries are reserved when a request starts (so a retransmission arriving
 * while the first copy still runs is dropped too), then either completed
 * (kept for the window) or released (forgotten).  In-progress entries are
 * never evicted.  Tentative entries (connect-back copies, see history.h)
 * only become blocking once confirmed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "history.h"

struct hist_entry {
    uint64_t token;             /* serial * cap + slot index */
    int64_t done_ms;
    uint32_t hash;              /* key_hash(key) */
    bool used;
    bool in_progress;
    bool tentative;             /* in progress, reply channel not yet confirmed */
    bool opened;                /* tentative, but its reply channel is open */
    int32_t hnext;              /* next slot of its hash bucket, -1 */
    int32_t lprev, lnext;       /* completed list (or free list: lnext), -1 */
};

struct vf_history {
    pthread_mutex_t lock;
    unsigned int cap;
    int64_t window_ms;
    uint64_t next_serial;
    struct hist_entry *slots;
    struct vf_history_key *keys;    /* keys[i] belongs to slots[i] */
    int32_t *buckets;               /* hash index: first slot, -1 */
    uint32_t bucket_mask;           /* buckets - 1 (a power of two >= 2 * cap) */
    int32_t done_head, done_tail;   /* completed entries, oldest first */
    int32_t free_head;              /* unused slots */
};

struct vf_history *
vf_history_new(unsigned int cap, int64_t window_ms)
{
    struct vf_history *h = NULL;
    uint32_t nb = 2;

    if (cap == 0 || cap > (1u << 24)) {
        return NULL;
    }
    while (nb < 2 * cap) {
        nb *= 2;
    }
    h = VF_LOCKED_NEW(struct vf_history, lock);
    if (h == NULL) {
        return NULL;
    }
    h->slots = calloc(cap, sizeof(*h->slots));
    h->keys = calloc(cap, sizeof(*h->keys));
    h->buckets = malloc(nb * sizeof(*h->buckets));
    if (h->slots == NULL || h->keys == NULL || h->buckets == NULL) {
        return vf_history_free(h);
    }
    for (uint32_t b = 0; b < nb; b++) {
        h->buckets[b] = -1;
    }
    for (unsigned int i = 0; i < cap; i++) {
        h->slots[i].hnext = h->slots[i].lprev = -1;
        h->slots[i].lnext = i + 1 < cap ? (int32_t)(i + 1) : -1;
    }
    h->bucket_mask = nb - 1;
    h->done_head = h->done_tail = -1;
    h->free_head = 0;
    h->cap = cap;
    h->window_ms = window_ms;
    h->next_serial = 1;
    return h;
}

struct vf_history *
vf_history_free(struct vf_history *h)
{
    if (h != NULL) {
        VF_FREE_ALL(h->slots, h->keys, h->buckets);
    }
    return VF_LOCKED_FREE(h, struct vf_history, lock);
}

/* ---- the index and the lists (lock held) ------------------------------- */

static int32_t
slot_index(const struct vf_history *h, const struct hist_entry *e)
{
    return (int32_t)(e - h->slots);
}

static void
bucket_unlink(struct vf_history *h, int32_t i)
{
    int32_t *pp = &h->buckets[h->slots[i].hash & h->bucket_mask];

    while (*pp != -1 && *pp != i) {
        pp = &h->slots[*pp].hnext;
    }
    if (*pp == i) {
        *pp = h->slots[i].hnext;
    }
    h->slots[i].hnext = -1;
}

static void
done_unlink(struct vf_history *h, int32_t i)
{
    struct hist_entry *e = &h->slots[i];

    if (e->lprev != -1) {
        h->slots[e->lprev].lnext = e->lnext;
    } else {
        h->done_head = e->lnext;
    }
    if (e->lnext != -1) {
        h->slots[e->lnext].lprev = e->lprev;
    } else {
        h->done_tail = e->lprev;
    }
    e->lprev = e->lnext = -1;
}

/* Insert completed slot @i in done_ms order: from the tail, as requests
 * complete nearly in time order (threads may finish a few ms apart). */
static void
done_insert(struct vf_history *h, int32_t i)
{
    struct hist_entry *e = &h->slots[i];
    int32_t after = h->done_tail;

    while (after != -1 && h->slots[after].done_ms > e->done_ms) {
        after = h->slots[after].lprev;
    }
    e->lprev = after;
    e->lnext = after != -1 ? h->slots[after].lnext : h->done_head;
    if (e->lnext != -1) {
        h->slots[e->lnext].lprev = i;
    } else {
        h->done_tail = i;
    }
    if (after != -1) {
        h->slots[after].lnext = i;
    } else {
        h->done_head = i;
    }
}

/* Forget slot @i (used): out of the index and the completed list, onto
 * the free list. */
static void
slot_forget(struct vf_history *h, int32_t i)
{
    struct hist_entry *e = &h->slots[i];

    bucket_unlink(h, i);
    if (!e->in_progress) {
        done_unlink(h, i);
    }
    e->used = false;
    e->lnext = h->free_head;
    e->lprev = -1;
    h->free_head = i;
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

/* A live, confirmed entry with @key (hash @hash) other than @skip, or -1. */
static int32_t
find_live(const struct vf_history *h, const struct vf_history_key *key, uint32_t hash,
          int32_t skip, int64_t now_ms)
{
    for (int32_t i = h->buckets[hash & h->bucket_mask]; i != -1; i = h->slots[i].hnext) {
        const struct hist_entry *e = &h->slots[i];

        if (i != skip && !e->tentative && e->hash == hash && entry_live(h, e, now_ms) &&
            key_equal(&h->keys[i], key)) {
            return i;
        }
    }
    return -1;
}

/* A slot for a new entry: a free one, else the oldest completed one (an
 * expired one first, as it is the oldest), or -1 when all are in progress. */
static int32_t
take_slot(struct vf_history *h, int64_t now_ms)
{
    int32_t i = -1;

    /* expired entries are at the head of the completed list */
    while (h->done_head != -1 && !entry_live(h, &h->slots[h->done_head], now_ms)) {
        slot_forget(h, h->done_head);
    }
    if (h->free_head == -1 && h->done_head != -1) {
        slot_forget(h, h->done_head);           /* the oldest completed one */
    }
    i = h->free_head;
    if (i != -1) {
        h->free_head = h->slots[i].lnext;
        h->slots[i].lnext = -1;
    }
    return i;
}

static int
reserve(struct vf_history *h, const struct vf_history_key *key, int64_t now_ms,
        bool tentative, uint64_t *ret_token)
{
    struct hist_entry *e = NULL;
    uint32_t hash = 0;
    int32_t i = -1;
    int r = 0;

    if (h == NULL || key == NULL || ret_token == NULL) {
        return -EINVAL;
    }
    hash = key_hash(key);
    pthread_mutex_lock(&h->lock);
    if (find_live(h, key, hash, -1, now_ms) != -1) {
        r = -EEXIST;
        goto out;
    }
    i = take_slot(h, now_ms);
    if (i == -1) {
        r = -ENOSPC;
        goto out;
    }
    e = &h->slots[i];
    e->used = true;
    e->in_progress = true;
    e->tentative = tentative;
    e->opened = false;
    e->token = h->next_serial++ * h->cap + (uint64_t)i;
    e->done_ms = 0;
    e->hash = hash;
    h->keys[i] = *key;
    e->hnext = h->buckets[hash & h->bucket_mask];
    h->buckets[hash & h->bucket_mask] = i;
    *ret_token = e->token;
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
    if (find_live(h, &h->keys[slot_index(h, e)], e->hash, slot_index(h, e), now_ms) != -1) {
        slot_forget(h, slot_index(h, e));
        r = -EEXIST;
        goto out;
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
    for (int32_t i = e != NULL ? h->buckets[e->hash & h->bucket_mask] : -1; i != -1;
         i = h->slots[i].hnext) {
        const struct hist_entry *o = &h->slots[i];

        if (o == e || !entry_live(h, o, now_ms) || o->hash != e->hash ||
            !key_equal(&h->keys[i], &h->keys[slot_index(h, e)])) {
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

/* What settles an entry: opened, complete or released. */
enum hist_settle {
    HS_OPENED,
    HS_COMPLETE,
    HS_RELEASE,
};

static void
settle(struct vf_history *h, uint64_t token, enum hist_settle what, int64_t now_ms)
{
    struct hist_entry *e = NULL;

    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->lock);
    e = find_token(h, token);
    if (e == NULL) {
        /* gone already (evicted or released) */
    } else if (what == HS_OPENED) {
        e->opened = true;
    } else if (what == HS_RELEASE) {
        slot_forget(h, slot_index(h, e));
    } else if (e->in_progress) {
        e->in_progress = false;
        e->tentative = false;
        e->done_ms = now_ms;
        done_insert(h, slot_index(h, e));
    }
    pthread_mutex_unlock(&h->lock);
}

void
vf_history_opened(struct vf_history *h, uint64_t token)
{
    settle(h, token, HS_OPENED, 0);
}

void
vf_history_complete(struct vf_history *h, uint64_t token, int64_t now_ms)
{
    settle(h, token, HS_COMPLETE, now_ms);
}

void
vf_history_release(struct vf_history *h, uint64_t token)
{
    settle(h, token, HS_RELEASE, 0);
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
