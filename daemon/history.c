/*
 * vmfence - daemon/history.c: bounded duplicate-request table.
 *
 * A fixed array of VF_HISTORY_CAP slots protected by one mutex; a linear
 * scan per request is cheap at this size.  Entries are reserved when a
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
    bool used;
    bool in_progress;
    bool tentative;             /* in progress, reply channel not yet confirmed */
    uint64_t token;
    int64_t done_ms;
    struct vf_history_key key;
};

struct vf_history {
    pthread_mutex_t lock;
    unsigned int cap;
    int64_t window_ms;
    uint64_t next_token;
    struct hist_entry *slots;
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
    if (h->slots == NULL) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->lock, NULL);
    h->cap = cap;
    h->window_ms = window_ms;
    h->next_token = 1;
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
    free(h);
    return NULL;
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
    int r = 0;

    if (h == NULL || key == NULL || ret_token == NULL) {
        return -EINVAL;
    }
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
        if (!e->tentative && key_equal(&e->key, key)) {
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
    free_slot->token = h->next_token++;
    free_slot->done_ms = 0;
    free_slot->key = *key;
    *ret_token = free_slot->token;
out:
    pthread_mutex_unlock(&h->lock);
    return r;
}

static struct hist_entry *
find_token(struct vf_history *h, uint64_t token)
{
    for (unsigned int i = 0; i < h->cap; i++) {
        if (h->slots[i].used && h->slots[i].token == token) {
            return &h->slots[i];
        }
    }
    return NULL;
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

        if (o != e && !o->tentative && entry_live(h, o, now_ms) && key_equal(&o->key, &e->key)) {
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

        if (o == e || !entry_live(h, o, now_ms) || !key_equal(&o->key, &e->key)) {
            continue;
        }
        if (!o->tentative) {
            r = 1;
            break;
        }
        r = 0;
    }
    pthread_mutex_unlock(&h->lock);
    return r;
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
