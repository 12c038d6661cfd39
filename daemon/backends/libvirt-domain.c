/*
 * vmfence - daemon/backends/libvirt-domain.c: where a target lives, and in
 * which state.
 *
 * A target (name or UUID) is resolved on EVERY URI of a request's
 * snapshot, not just the first that has it (lv_resolve); the copies found
 * must be one domain.  The helpers below read the state of each copy, pick
 * the one to report or start, and poll a copy until it reaches a state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libvirt/virterror.h>
#include <uuid/uuid.h>

#include "io.h"
#include "log.h"
#include "timeutil.h"
#include "libvirt-int.h"

/* LV_MAX_URIS bits fit in lv_match.unanswered */
_Static_assert(LV_MAX_URIS <= 64, "lv_match.unanswered has 64 bits");

const char *
lv_state_text(int state)
{
    const char *s = vf_state_name(state);

    return s != NULL ? s : "unknown";
}

void
lv_dom_done(struct lv_dom *d)
{
    if (d->dom != NULL) {
        (void)virDomainFree(d->dom);
    }
    memset(d, 0, sizeof(*d));
}

void
lv_copy_name(char *dst, size_t dst_len, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;

    if (n >= dst_len) {
        n = dst_len - 1;
    }
    if (n > 0) {
        memcpy(dst, src, n);
    }
    dst[n] = '\0';
}

/**
 * Current state of @d.  \return 0, -ENOENT (gone), -EHOSTDOWN, -EIO
 */
int
lv_get_state(const struct lv_dom *d, int *ret_state)
{
    char msg[512];
    int state = 0, reason = 0, r;

    if (virDomainGetState(d->dom, &state, &reason, 0) < 0) {
        r = lv_error(d->ref, msg, sizeof(msg));
        if (r != -ENOENT) {
            vf_log(LOG_ERR, "libvirt backend: cannot get the state of domain '%s' on '%s': %s",
                   d->name, d->ref->uri, msg);
        }
        return r;
    }
    *ret_state = state;
    return 0;
}

/**
 * The URIs that did not answer for @m, as "'uri', 'uri1'" into @buf
 * (truncated to @len, always terminated).  \return @buf
 */
const char *
lv_unanswered_text(const struct lv_snap *snap, uint64_t unanswered, char *buf, size_t len)
{
    size_t i, used = 0;
    int w;

    buf[0] = '\0';
    for (i = 0; i < snap->n && i < LV_MAX_URIS && used < len; i++) {
        if ((unanswered & ((uint64_t)1 << i)) == 0) {
            continue;
        }
        w = snprintf(buf + used, len - used, "%s'%s'", used > 0 ? ", " : "", snap->refs[i].uri);
        if (w < 0) {
            break;
        }
        used += (size_t)w;
    }
    return buf;
}

void
lv_match_done(struct lv_match *m)
{
    size_t i;

    for (i = 0; m->d != NULL && i < m->n; i++) {
        lv_dom_done(&m->d[i]);
    }
    free(m->d);
    memset(m, 0, sizeof(*m));
}

/*
 * One lookup pass over every connected URI of @snap: by name (@raw NULL)
 * or by the UUID @raw.  Matches are appended to @m; URIs that did not
 * answer are marked in it, *@hostdown / *@failed tell why.
 */
static void
lv_resolve_pass(const struct lv_snap *snap, const char *target, const unsigned char *raw,
                struct lv_match *m, bool *hostdown, bool *failed)
{
    char msg[512];
    size_t i;
    int r;

    for (i = 0; i < snap->n; i++) {
        const struct lv_ref *ref = &snap->refs[i];
        struct lv_dom *d = &m->d[m->n];
        virDomainPtr dom;

        if (ref->conn == NULL) {
            continue;
        }
        dom = raw == NULL ? virDomainLookupByName(ref->conn, target) :
            virDomainLookupByUUID(ref->conn, raw);
        if (dom != NULL) {
            d->dom = dom;
            d->ref = ref;
            lv_copy_name(d->name, sizeof(d->name), virDomainGetName(dom));
            if (virDomainGetUUIDString(dom, d->uuid) < 0) {
                d->uuid[0] = '\0';
            }
            m->n++;
            continue;
        }
        r = lv_error(ref, msg, sizeof(msg));
        if (r == -EHOSTDOWN) {
            *hostdown = true;
            m->unanswered |= (uint64_t)1 << i;
        } else if (r == -EIO) {
            vf_log(LOG_ERR, "libvirt backend: looking up '%s' on '%s' failed: %s",
                   target, ref->uri, msg);
            *failed = true;
            m->unanswered |= (uint64_t)1 << i;
        }
    }
}

/* Are the matches of @m one domain (one UUID)?  Logs when not. */
static bool
lv_match_unique(const struct lv_match *m, const char *target)
{
    size_t i;

    for (i = 1; i < m->n; i++) {
        if (strcasecmp(m->d[i].uuid, m->d[0].uuid) != 0) {
            vf_log(LOG_ERR,
                   "libvirt backend: '%s' designates different domains (%s on '%s', %s on '%s'); "
                   "use the UUID", target, m->d[0].uuid, m->d[0].ref->uri, m->d[i].uuid,
                   m->d[i].ref->uri);
            return false;
        }
    }
    return true;
}

/**
 * Resolve @target on every connection of @snap.  VF_BE_BY_UUID: by UUID
 * only.  Otherwise by name on every URI first, then (only if no URI has
 * that name and @target parses as a UUID) by UUID on every URI.  All
 * matches are kept; they must be one domain (same UUID), else the name is
 * ambiguous.  @m->incomplete tells that some URI could not be asked.
 *
 * \return 0 (m->n >= 1), -ENOENT, -EHOSTDOWN (not found while some URI is
 *         down), -EIO, -ENOTUNIQ (the name designates different domains),
 *         -ENOMEM
 */
static int
lv_resolve(const struct lv_snap *snap, const char *target,
           unsigned int flags, struct lv_match *m)
{
    unsigned char raw[VIR_UUID_BUFLEN];
    uuid_t u;
    bool is_uuid, hostdown = snap->n_down > 0, failed = false;
    char down[1024];
    int pass;
    size_t i;

    memset(m, 0, sizeof(*m));
    memset(raw, 0, sizeof(raw));
    if (target == NULL || target[0] == '\0') {
        return -ENOENT;
    }
    is_uuid = uuid_parse(target, u) == 0;
    if ((flags & VF_BE_BY_UUID) != 0 && !is_uuid) {
        /* fence-virt's daemons ignore RF_UUID, so "fence_xvm -u -n NAME"
         * worked against them: keep that working by looking up the name */
        vf_dbg(1, "libvirt backend: '%s' was requested by UUID but is not a UUID; "
               "looking it up by name", target);
        flags &= ~(unsigned int)VF_BE_BY_UUID;
    }
    if (is_uuid) {
        memcpy(raw, u, sizeof(raw));
    }
    m->d = calloc(snap->n > 0 ? snap->n : 1, sizeof(*m->d));
    if (m->d == NULL) {
        return -ENOMEM;
    }
    for (i = 0; i < snap->n; i++) {
        if (snap->refs[i].conn == NULL) {
            m->unanswered |= (uint64_t)1 << i;
        }
    }
    for (pass = (flags & VF_BE_BY_UUID) != 0 ? 1 : 0; pass < 2 && m->n == 0; pass++) {
        if (pass == 1 && !is_uuid) {
            break;
        }
        lv_resolve_pass(snap, target, pass == 1 ? raw : NULL, m, &hostdown, &failed);
    }
    m->incomplete = hostdown || failed || m->unanswered != 0;
    if (m->n == 0) {
        (void)lv_unanswered_text(snap, m->unanswered, down, sizeof(down));
        lv_match_done(m);
        if (hostdown) {
            vf_log(LOG_ERR,
                   "libvirt backend: '%s' not found, but URI(s) %s did not answer (it may be there)",
                   target, down);
            return -EHOSTDOWN;
        }
        return failed ? -EIO : -ENOENT;
    }
    if (!lv_match_unique(m, target)) {
        lv_match_done(m);
        return -ENOTUNIQ;
    }
    if (m->n > 1) {
        vf_dbg(1, "libvirt backend: domain '%s' (%s) is defined on %zu URIs",
               m->d[0].name, m->d[0].uuid, m->n);
    }
    return 0;
}

/**
 * Poll the state of @d every 50 ms until @want_off ? shut off (or gone) :
 * powered on (running, blocked, paused, pmsuspended), bounded by @deadline_ms.
 * \return 0, -ETIMEDOUT, -EIO (crashed / vanished while starting), -EHOSTDOWN
 */
int
lv_wait_state(const struct lv_dom *d, bool want_off, int64_t deadline_ms)
{
    int state = VIR_DOMAIN_NOSTATE, r, left;

    for (;;) {
        r = lv_get_state(d, &state);
        if (want_off) {
            if (r == -ENOENT || (r == 0 && state == VIR_DOMAIN_SHUTOFF)) {
                return 0;
            }
        } else if (r == 0) {
            if (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED ||
                state == VIR_DOMAIN_PAUSED || state == VIR_DOMAIN_PMSUSPENDED) {
                return 0;
            }
            if (state == VIR_DOMAIN_CRASHED) {
                vf_log(LOG_ERR, "libvirt backend: domain '%s' on '%s' crashed while starting",
                       d->name, d->ref->uri);
                return -EIO;
            }
        } else if (r == -ENOENT) {
            vf_log(LOG_ERR, "libvirt backend: domain '%s' on '%s' vanished while starting",
                   d->name, d->ref->uri);
            return -EIO;
        }
        if (r < 0 && r != -ENOENT) {
            return r;
        }
        left = vf_ms_left(deadline_ms);
        if (left <= 0) {
            vf_log(LOG_ERR, "libvirt backend: domain '%s' on '%s' is still %s at the deadline",
                   d->name, d->ref->uri, lv_state_text(state));
            return -ETIMEDOUT;
        }
        vf_sleep_ms(left < LV_POLL_STEP_MS ? left : LV_POLL_STEP_MS);
    }
}

/* Common start of every domain operation. */
int
lv_begin(struct lv_backend *be, const char *target, unsigned int flags, int64_t deadline_ms,
         struct lv_snap *snap, struct lv_match *m)
{
    int r;

    memset(m, 0, sizeof(*m));
    memset(snap, 0, sizeof(*snap));
    if ((flags & ~(unsigned int)VF_BE_BY_UUID) != 0) {
        return -EINVAL;
    }
    if (vf_ms_left(deadline_ms) <= 0) {
        return -ETIMEDOUT;
    }
    r = lv_snap_take(be, snap);
    if (r < 0) {
        return r;
    }
    if (snap->n_down == snap->n) {
        vf_log(LOG_ERR, "libvirt backend: no libvirt connection is up; cannot serve '%s'", target);
        return -EHOSTDOWN;
    }
    return lv_resolve(snap, target, flags, m);
}


/**
 * State of every match into @states (LV_STATE_GONE for a copy that
 * vanished meanwhile: a transient domain that stopped).
 * \return 0, or the first error other than "gone"
 */
int
lv_match_states(const struct lv_match *m, int *states)
{
    size_t i;
    int r, first = 0;

    for (i = 0; i < m->n; i++) {
        states[i] = VIR_DOMAIN_NOSTATE;
        r = lv_get_state(&m->d[i], &states[i]);
        if (r == -ENOENT) {
            states[i] = LV_STATE_GONE;
        } else if (r < 0) {
            states[i] = LV_STATE_ERR;
            if (first == 0) {
                first = r;
            }
        }
    }
    return first;
}

/* known to be powered on (an unreadable state is neither on nor off) */
bool
lv_state_on(int state)
{
    return state != VIR_DOMAIN_SHUTOFF && state != LV_STATE_GONE && state != LV_STATE_ERR;
}

/* The copy to report or power on: a running one, else a persistent one, else the first. */
size_t
lv_match_primary(const struct lv_match *m, const int *states, bool want_persistent)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        if (lv_state_on(states[i])) {
            return i;
        }
    }
    for (i = 0; want_persistent && i < m->n; i++) {
        if (states[i] == VIR_DOMAIN_SHUTOFF && virDomainIsPersistent(m->d[i].dom) == 1) {
            return i;
        }
    }
    for (i = 0; i < m->n; i++) {
        if (states[i] != LV_STATE_GONE && states[i] != LV_STATE_ERR) {
            return i;
        }
    }
    for (i = 0; i < m->n; i++) {
        if (states[i] != LV_STATE_GONE) {
            return i;
        }
    }
    return 0;
}

bool
lv_all_gone(const struct lv_match *m, const int *states)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        if (states[i] != LV_STATE_GONE) {
            return false;
        }
    }
    return true;
}
