/*
 * vmfence - daemon/privsep/stampcache.c: the statuses the executor
 * answered from its lifecycle cache, kept by the network process and given
 * again while their stamp holds (lib/statstamp.h, privsep.h).
 *
 * A small direct-mapped table keyed by the target string exactly as the
 * client sent it (a status by name: the executor stamps nothing else).  A
 * slot holds one answer and the stamp it came with; whether it may be
 * given again is decided at each use by vf_statstamp_holds(): any change
 * the privileged process's cache saw since bumps the gen, and the cache's
 * own trust window must still be open.  So an entry is never stale in a
 * way the executor's answer would not be; it only saves the round trip.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "io.h"
#include "privsep/msg.h"
#include "privsep/privsep.h"
#include "statstamp.h"
#include "strhash.h"

#define SC_SLOTS 256            /* a power of two */

struct sc_slot {
    uint64_t stamp;             /* 0: empty */
    bool on;
    char target[VF_PS_TARGET_MAX + 1];
};

static pthread_mutex_t sc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sc_slot sc_slots[SC_SLOTS];

static struct sc_slot *
sc_slot_of(const char *target)
{
    uint64_t h = vf_str_hash(target);

    return &sc_slots[(h ^ (h >> 29)) & (SC_SLOTS - 1)];
}

void
vf_ps_stampcache_put(const char *target, bool on, uint64_t stamp)
{
    struct sc_slot *s = NULL;

    if (stamp == 0 || target == NULL || target[0] == '\0' ||
        strlen(target) > VF_PS_TARGET_MAX) {
        return;
    }
    s = sc_slot_of(target);
    pthread_mutex_lock(&sc_lock);
    /* never replace a newer answer with an older one */
    if (strcmp(s->target, target) != 0 || stamp >= s->stamp) {
        s->stamp = stamp;
        s->on = on;
        strcpy(s->target, target);
    }
    pthread_mutex_unlock(&sc_lock);
}

int
vf_ps_stampcache_get(const char *target, bool *ret_on)
{
    int64_t now = vf_now_ms();
    struct sc_slot *s = NULL;
    int r = -ENOENT;

    if (target == NULL || target[0] == '\0' || strlen(target) > VF_PS_TARGET_MAX) {
        return -ENOENT;
    }
    s = sc_slot_of(target);
    pthread_mutex_lock(&sc_lock);
    if (s->stamp != 0 && strcmp(s->target, target) == 0 &&
        vf_statstamp_holds(s->stamp, now)) {
        *ret_on = s->on;
        r = 0;
    }
    pthread_mutex_unlock(&sc_lock);
    return r;
}

void
vf_ps_stampcache_clear(void)
{
    pthread_mutex_lock(&sc_lock);
    memset(sc_slots, 0, sizeof(sc_slots));
    pthread_mutex_unlock(&sc_lock);
}
