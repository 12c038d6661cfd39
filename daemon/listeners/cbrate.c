/*
 * vmfence - daemon/listeners/cbrate.c: connect-back rate limit per
 * destination (see cbrate.h).  Tokens are kept in thousandths so that the
 * refill needs no floating point.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cbrate.h"

#define MILLI 1000

struct cb_slot {
    char dest[64];
    int64_t tokens;             /* thousandths of a connect-back */
    int64_t last_ms;            /* 0 = unused */
};

struct vf_cbrate {
    pthread_mutex_t lock;
    struct cb_slot slot[VF_CBRATE_SLOTS];
};

struct vf_cbrate *
vf_cbrate_new(void)
{
    return VF_LOCKED_NEW(struct vf_cbrate, lock);
}

struct vf_cbrate *
vf_cbrate_free(struct vf_cbrate *cr)
{
    return VF_LOCKED_FREE(cr, struct vf_cbrate, lock);
}

/* @dest's slot, or the least recently used one reset for it (lock held) */
static struct cb_slot *
slot_for(struct vf_cbrate *cr, const char *dest, int64_t now_ms)
{
    struct cb_slot *lru = &cr->slot[0];

    for (unsigned int i = 0; i < VF_CBRATE_SLOTS; i++) {
        struct cb_slot *s = &cr->slot[i];

        if (s->last_ms != 0 && strcmp(s->dest, dest) == 0) {
            return s;
        }
        if (s->last_ms < lru->last_ms) {
            lru = s;
        }
    }
    snprintf(lru->dest, sizeof(lru->dest), "%s", dest);
    lru->tokens = (int64_t)VF_CBRATE_BURST * MILLI;
    lru->last_ms = now_ms;
    return lru;
}

bool
vf_cbrate_allow(struct vf_cbrate *cr, const char *dest, int64_t now_ms)
{
    struct cb_slot *s = NULL;
    bool ok = false;

    if (cr == NULL || dest == NULL) {
        return true;
    }
    if (now_ms <= 0) {
        now_ms = 1;             /* 0 marks an unused slot */
    }
    pthread_mutex_lock(&cr->lock);
    s = slot_for(cr, dest, now_ms);
    if (now_ms > s->last_ms) {
        s->tokens += (now_ms - s->last_ms) * VF_CBRATE_PER_SEC;     /* ms * per_s = milli */
        if (s->tokens > (int64_t)VF_CBRATE_BURST * MILLI) {
            s->tokens = (int64_t)VF_CBRATE_BURST * MILLI;
        }
    }
    s->last_ms = now_ms;
    if (s->tokens >= MILLI) {
        s->tokens -= MILLI;
        ok = true;
    }
    pthread_mutex_unlock(&cr->lock);
    return ok;
}
