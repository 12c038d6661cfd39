/*
 * vmfence - daemon/backends/libvirt-cache.c: status answered from
 * lifecycle events.
 *
 * The watch (libvirt-watch.c) keeps a lifecycle registration on every
 * connected URI at all times; what its events and resyncs learn (the merged
 * state of every domain, as a lookup by UUID reports it) is kept here, per
 * domain, indexed by UUID and by name.  A status whose target is in the
 * cache is then answered without a libvirt round trip and without a thread
 * hand-off.  The cache answers only while it can be trusted:
 *
 *  - valid: ONE URI is configured (with several, copies of one UUID may
 *    carry different names, and a status by name resolves names, not
 *    UUIDs: test-libvirt's test_second_uri_down), the last resync ran with
 *    its registration in place and nothing marked a domain meanwhile; the
 *    URI going down or up, a reload, a dropped event or a failed resync
 *    makes it invalid until the next clean resync;
 *  - events flow: some libvirt call answered within LV_CACHE_FRESH_MS
 *    (a hung libvirtd sends no events, and answers nothing: after that
 *    window statuses take the bounded call again, which times out and
 *    fails the next ones fast, as before), and no call is hanging;
 *  - the domain is fresh: a lifecycle callback (libvirt's event loop
 *    thread) marks its UUID stale at once, before the event is resolved,
 *    and an off/on/reboot marks its target stale before and after the
 *    operation; the entry is fresh again only when a lookup that started
 *    after the last mark stored its result (sequence numbers).
 *
 * Anything else, an unknown target or an ambiguous name, is a miss: the
 * caller makes the bounded call (libvirt-calls.c), as without a cache.
 *
 * Locking: c->lock only, never held across a libvirt call.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "io.h"
#include "log.h"
#include "statstamp.h"
#include "strhash.h"
#include "timeutil.h"
#include "libvirt-int.h"

#define LV_CACHE_BUCKETS    4096    /* per index; a power of two */

struct lv_centry {
    struct lv_centry *next_u;       /* by_uuid chain */
    struct lv_centry *next_n;       /* by_name chain (named entries only) */
    uint64_t seq;                   /* c->seq at its last mark */
    int state;                      /* libvirt state */
    bool fresh;                     /* state is current (no mark since) */
    bool named;                     /* in by_name */
    char uuid[VIR_UUID_STRING_BUFLEN];
    char name[];
};

struct lv_cache {
    pthread_mutex_t lock;
    struct lv_centry *by_uuid[LV_CACHE_BUCKETS];
    struct lv_centry *by_name[LV_CACHE_BUCKETS];
    size_t n;
    size_t n_nameless;              /* entries an event created, not yet looked up */
    uint64_t seq;                   /* marks so far */
    bool valid;
    atomic_llong last_ok_ms;        /* a libvirt call last answered */
};

static size_t
lv_hash(const char *s)
{
    uint64_t h = vf_str_hash(s);

    return (size_t)(h ^ (h >> 29)) & (LV_CACHE_BUCKETS - 1);
}

int
lv_cache_init(struct lv_backend *be)
{
    struct lv_cache *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return -ENOMEM;
    }
    pthread_mutex_init(&c->lock, NULL);
    atomic_init(&c->last_ok_ms, 0);
    be->cache = c;
    vf_statstamp_trust_until(0);
    vf_statstamp_bump();
    return 0;
}

static void
lv_cache_clear(struct lv_cache *c)
{
    struct lv_centry *e;
    size_t i;

    for (i = 0; i < LV_CACHE_BUCKETS; i++) {
        while ((e = c->by_uuid[i]) != NULL) {
            c->by_uuid[i] = e->next_u;
            free(e);
        }
        c->by_name[i] = NULL;
    }
    c->n = 0;
    c->n_nameless = 0;
}

void
lv_cache_fini(struct lv_backend *be)
{
    struct lv_cache *c = be->cache;

    if (c == NULL) {
        return;
    }
    vf_statstamp_trust_until(0);
    vf_statstamp_bump();
    lv_cache_clear(c);
    pthread_mutex_destroy(&c->lock);
    free(c);
    be->cache = NULL;
}

/* A libvirt call answered (any thread). */
void
lv_cache_alive(struct lv_backend *be)
{
    int64_t now = vf_now_ms();

    if (be->cache != NULL) {
        atomic_store(&be->cache->last_ok_ms, (long long)now);
        vf_statstamp_trust_until(be->cache_fresh_ms > 0 ? now + be->cache_fresh_ms : 0);
    }
}

static struct lv_centry *
lv_find_uuid(struct lv_cache *c, const char *uuid)
{
    struct lv_centry *e;

    for (e = c->by_uuid[lv_hash(uuid)]; e != NULL; e = e->next_u) {
        if (strcmp(e->uuid, uuid) == 0) {
            return e;
        }
    }
    return NULL;
}

/* The one entry named @name; NULL if none, *@ret_many if several. */
static struct lv_centry *
lv_find_name(struct lv_cache *c, const char *name, bool *ret_many)
{
    struct lv_centry *e, *found = NULL;

    for (e = c->by_name[lv_hash(name)]; e != NULL; e = e->next_n) {
        if (strcmp(e->name, name) == 0) {
            if (found != NULL) {
                *ret_many = true;
                return NULL;
            }
            found = e;
        }
    }
    return found;
}

/* @target as a lower-case UUID into @out.  \return true if it is one */
static bool
lv_canon_uuid(const char *target, char out[VIR_UUID_STRING_BUFLEN])
{
    uuid_t u;

    if (uuid_parse(target, u) != 0) {
        return false;
    }
    uuid_unparse_lower(u, out);
    return true;
}

static void
lv_unlink(struct lv_cache *c, struct lv_centry *e)
{
    struct lv_centry **pe;

    for (pe = &c->by_uuid[lv_hash(e->uuid)]; *pe != NULL; pe = &(*pe)->next_u) {
        if (*pe == e) {
            *pe = e->next_u;
            break;
        }
    }
    if (e->named) {
        for (pe = &c->by_name[lv_hash(e->name)]; *pe != NULL; pe = &(*pe)->next_n) {
            if (*pe == e) {
                *pe = e->next_n;
                break;
            }
        }
    } else {
        c->n_nameless--;
    }
    c->n--;
    free(e);
}

/* A new entry (stale, not yet seen) for @uuid / @name; NULL without memory. */
static struct lv_centry *
lv_add(struct lv_cache *c, const char *uuid, const char *name)
{
    size_t len = strlen(name);
    struct lv_centry *e = calloc(1, sizeof(*e) + len + 1);
    size_t b;

    if (e == NULL) {
        return NULL;
    }
    lv_copy_name(e->uuid, sizeof(e->uuid), uuid);
    memcpy(e->name, name, len + 1);
    b = lv_hash(e->uuid);
    e->next_u = c->by_uuid[b];
    c->by_uuid[b] = e;
    if (len > 0) {
        b = lv_hash(e->name);
        e->next_n = c->by_name[b];
        c->by_name[b] = e;
        e->named = true;
    } else {
        c->n_nameless++;
    }
    c->n++;
    return e;
}

/* @e under @name (an event told the UUID only, or a rename).  \return it, or NULL */
static struct lv_centry *
lv_rename(struct lv_cache *c, struct lv_centry *e, const char *name)
{
    struct lv_centry *ne;
    char uuid[VIR_UUID_STRING_BUFLEN];
    uint64_t seq = e->seq;

    if (strcmp(e->name, name) == 0) {
        return e;
    }
    memcpy(uuid, e->uuid, sizeof(uuid));
    lv_unlink(c, e);
    ne = lv_add(c, uuid, name);
    if (ne != NULL) {
        ne->seq = seq;
    }
    return ne;
}

/* The cache cannot be trusted until the next clean resync. */
void
lv_cache_invalidate(struct lv_backend *be)
{
    struct lv_cache *c = be->cache;

    pthread_mutex_lock(&c->lock);
    c->valid = false;
    c->seq++;                       /* a resync that is running does not count */
    vf_statstamp_bump();
    pthread_mutex_unlock(&c->lock);
}

/* The mark count now: a lookup that starts after this call stores its result. */
uint64_t
lv_cache_seq(struct lv_backend *be)
{
    struct lv_cache *c = be->cache;
    uint64_t seq;

    pthread_mutex_lock(&c->lock);
    seq = c->seq;
    pthread_mutex_unlock(&c->lock);
    return seq;
}

/* Mark @e stale (under lock). */
static void
lv_mark(struct lv_cache *c, struct lv_centry *e)
{
    e->seq = c->seq;
    e->fresh = false;
}

/*
 * Domain @uuid is changing (a lifecycle callback, libvirt's event loop
 * thread): stale until a later lookup.  An unknown UUID gets a nameless
 * stale entry, so a resync that listed it before cannot make it fresh.
 */
void
lv_cache_mark_uuid(struct lv_backend *be, const char *uuid)
{
    struct lv_cache *c = be->cache;
    struct lv_centry *e;

    pthread_mutex_lock(&c->lock);
    c->seq++;
    vf_statstamp_bump();
    e = lv_find_uuid(c, uuid);
    if (e == NULL) {
        e = lv_add(c, uuid, "");
    }
    if (e != NULL) {
        lv_mark(c, e);
    } else {
        c->valid = false;
    }
    pthread_mutex_unlock(&c->lock);
}

/* A power operation on @target (a name or a UUID) starts or ended. */
void
lv_cache_mark_target(struct lv_backend *be, const char *target)
{
    struct lv_cache *c = be->cache;
    char uuid[VIR_UUID_STRING_BUFLEN];
    struct lv_centry *e;

    if (target == NULL) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->seq++;
    vf_statstamp_bump();
    for (e = c->by_name[lv_hash(target)]; e != NULL; e = e->next_n) {
        if (strcmp(e->name, target) == 0) {
            lv_mark(c, e);
        }
    }
    if (lv_canon_uuid(target, uuid) && (e = lv_find_uuid(c, uuid)) != NULL) {
        lv_mark(c, e);
    }
    pthread_mutex_unlock(&c->lock);
}

/*
 * A lookup started at mark count @seq found @dom (or, @gone, found it
 * nowhere while every URI answered): keep it unless a mark came since.
 */
void
lv_cache_put(struct lv_backend *be, uint64_t seq, const struct vf_domain_info *dom, bool gone)
{
    struct lv_cache *c = be->cache;
    char uuid[VIR_UUID_STRING_BUFLEN];
    struct lv_centry *e;

    if (!lv_canon_uuid(dom->uuid, uuid)) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    e = lv_find_uuid(c, uuid);
    if (e != NULL ? e->seq > seq : c->seq != seq) {
        /* it changed again meanwhile; or it is new here and something was
         * marked meanwhile (an operation on a target not yet known by name
         * marks no entry): only a later lookup tells */
        goto out;
    }
    if (gone) {
        if (e != NULL) {
            lv_unlink(c, e);
        }
        goto out;
    }
    e = e != NULL ? lv_rename(c, e, dom->name) : lv_add(c, uuid, dom->name);
    if (e == NULL) {
        c->valid = false;
        goto out;
    }
    e->state = dom->state;
    e->fresh = dom->state != VIR_DOMAIN_NOSTATE;
out:
    vf_statstamp_bump();            /* whatever changed (statstamp.h) */
    pthread_mutex_unlock(&c->lock);
}

/*
 * A resync listed @all (@n domains) after mark count @seq; @complete: every
 * configured URI had a registration when it started.  The cache becomes
 * that list, valid, unless a mark came meanwhile.  \return 0, -EAGAIN (marked
 * meanwhile: resync again), -ENOMEM
 */
int
lv_cache_fill(struct lv_backend *be, uint64_t seq, const struct vf_domain_info *all, size_t n,
              bool complete)
{
    struct lv_cache *c = be->cache;
    struct lv_centry *e;
    char uuid[VIR_UUID_STRING_BUFLEN];
    size_t i;
    int r = 0;

    pthread_mutex_lock(&c->lock);
    c->valid = false;
    if (c->seq != seq) {
        r = -EAGAIN;
        goto out;
    }
    lv_cache_clear(c);
    for (i = 0; i < n; i++) {
        if (!lv_canon_uuid(all[i].uuid, uuid) || lv_find_uuid(c, uuid) != NULL) {
            continue;
        }
        e = lv_add(c, uuid, all[i].name);
        if (e == NULL) {
            lv_cache_clear(c);
            r = -ENOMEM;
            goto out;
        }
        e->seq = seq;
        e->state = all[i].state;
        e->fresh = all[i].state != VIR_DOMAIN_NOSTATE;
    }
    c->valid = complete;
    vf_dbg(1, "libvirt backend: status cache: %zu domain(s), %s", c->n,
           complete ? "valid" : "not valid (a URI has no event registration)");
out:
    vf_statstamp_bump();
    pthread_mutex_unlock(&c->lock);
    return r;
}

/*
 * Answer a status of @target from the cache.  \return 0 (*@ret_on set) or
 * -EAGAIN: not known here, make the bounded call
 */
int
lv_cache_status(struct lv_backend *be, const char *target, unsigned int flags, bool *ret_on)
{
    struct lv_cache *c = be->cache;
    char uuid[VIR_UUID_STRING_BUFLEN];
    struct lv_centry *e = NULL;
    bool many = false, is_uuid;
    int r = -EAGAIN;

    if (c == NULL || be->cache_fresh_ms <= 0 || target == NULL || target[0] == '\0' ||
        (flags & ~(unsigned int)(VF_BE_BY_UUID | VF_BE_NOWAIT)) != 0 || atomic_load(&be->hung) > 0 ||
        vf_now_ms() - atomic_load(&c->last_ok_ms) > be->cache_fresh_ms) {
        return -EAGAIN;
    }
    is_uuid = lv_canon_uuid(target, uuid);
    pthread_mutex_lock(&c->lock);
    if (!c->valid) {
        goto out;
    }
    if ((flags & VF_BE_BY_UUID) == 0 || !is_uuid) {
        /* by name first (lv_resolve), by UUID only if no domain has that name */
        e = lv_find_name(c, target, &many);
    }
    if (e == NULL && !many && is_uuid && c->n_nameless == 0) {
        e = lv_find_uuid(c, uuid);
    }
    if (e != NULL && e->fresh && e->named) {
        *ret_on = lv_state_on(e->state);
        r = 0;
    }
out:
    pthread_mutex_unlock(&c->lock);
    return r;
}
