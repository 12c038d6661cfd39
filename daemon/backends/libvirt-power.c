/*
 * vmfence - daemon/backends/libvirt-power.c: the libvirt backend's domain
 * operations: lookup, off, on, reboot, status, monitor.
 *
 * Each runs in a call thread (libvirt-calls.c) on a snapshot of the
 * connections, resolves its target on every URI (libvirt-domain.c) and
 * keeps the contract of libvirt.c's top comment: confirmed power
 * operations, and success only when every configured URI answered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "io.h"
#include "log.h"
#include "libvirt-int.h"

/* A target resolved for one operation: the snapshot, the copies, their states. */
struct lv_target {
    struct lv_snap snap;
    struct lv_match m;
    int *states;                    /* one per copy; NULL: nothing resolved */
};

/*
 * Resolve @target (lv_begin) and read the state of every copy.
 * \return lv_begin's error with t->states NULL, or with t->states set the
 *         result of lv_match_states (0 or the first error reading a state)
 */
static int
lv_target_take(struct lv_backend *be, const char *target, unsigned int flags,
               int64_t deadline_ms, struct lv_target *t)
{
    int r = lv_begin(be, target, flags, deadline_ms, &t->snap, &t->m);

    t->states = NULL;
    if (r < 0) {
        return r;
    }
    t->states = calloc(t->m.n, sizeof(*t->states));
    if (t->states == NULL) {
        return -ENOMEM;
    }
    return lv_match_states(&t->m, t->states);
}

static void
lv_target_done(struct lv_target *t)
{
    free(t->states);
    t->states = NULL;
    lv_match_done(&t->m);
    lv_snap_done(&t->snap);
}

/*
 * Power @d off (destroy; running or otherwise not shut off) or, @want_off
 * false, on (start; persistent @d only) and confirm the new state.
 */
static int
lv_power_confirmed(const struct lv_dom *d, bool want_off, int64_t deadline_ms)
{
    const char *doing = want_off ? "destroying" : "starting";
    char msg[512];
    int r, state = VIR_DOMAIN_NOSTATE;

    vf_log(LOG_NOTICE, "libvirt backend: %s domain '%s' (%s) on '%s'",
           doing, d->name, d->uuid, d->ref->uri);
    if ((want_off ? virDomainDestroy(d->dom) : virDomainCreate(d->dom)) < 0) {
        r = lv_error(d->ref, msg, sizeof(msg));
        if (r == -ENOENT && want_off) {
            return 0;               /* a transient domain vanished meanwhile */
        }
        if (r == -EIO && lv_get_state(d, &state) == 0 &&
            (state == VIR_DOMAIN_SHUTOFF) == want_off) {
            return 0;               /* raced with another power-off / power-on */
        }
        vf_log(LOG_ERR, "libvirt backend: %s domain '%s' on '%s' failed: %s",
               doing, d->name, d->ref->uri, msg);
        return r == -ENOENT ? -EIO : r;     /* start: the definition vanished */
    }
    r = lv_wait_state(d, want_off, deadline_ms);
    if (r == 0) {
        vf_log(LOG_NOTICE, "libvirt backend: domain '%s' (%s) on '%s' is %s",
               d->name, d->uuid, d->ref->uri, want_off ? "off" : "running");
    }
    return r;
}

int
lv_do_lookup(struct lv_backend *be, const char *target, unsigned int flags,
          struct vf_domain_info *ret_dom, int64_t deadline_ms)
{
    struct vf_domain_info info;
    struct lv_target t;
    size_t p;
    int r;

    r = lv_target_take(be, target, flags, deadline_ms, &t);
    if (t.states == NULL) {
        goto out;
    }
    if (lv_all_gone(&t.m, t.states)) {
        r = r < 0 ? r : -ENOENT;
        goto out;
    }
    p = lv_match_primary(&t.m, t.states, false);
    if (t.states[p] == LV_STATE_GONE || (r < 0 && !lv_state_on(t.states[p]))) {
        goto out;
    }
    r = 0;
    memset(&info, 0, sizeof(info));
    lv_copy_name(info.name, sizeof(info.name), t.m.d[p].name);
    lv_copy_name(info.uuid, sizeof(info.uuid), t.m.d[p].uuid);
    info.state = t.states[p];
    if (t.m.incomplete && !lv_state_on(t.states[p])) {
        /* off where it could be checked, but a copy may run elsewhere */
        info.state = VIR_DOMAIN_NOSTATE;
    }
    info.persistent = virDomainIsPersistent(t.m.d[p].dom) == 1;
    *ret_dom = info;
out:
    lv_target_done(&t);
    return r;
}

/*
 * off: every copy of the domain (on every URI that has it) is destroyed
 * and confirmed shut off (or gone).  Success needs an answer from EVERY
 * configured URI: with a URI down (or failing), a copy may still run
 * there, so off fails with -EHOSTDOWN even after killing every copy it
 * could reach (those kills are kept: they can only make things safer).
 */
int
lv_do_off(struct lv_backend *be, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct lv_target t;
    char down[1024];
    bool killed = false;
    size_t i;
    int r, first = 0;

    first = lv_target_take(be, target, flags, deadline_ms, &t);
    if (t.states == NULL) {
        r = first;
        goto out;
    }
    for (i = 0; i < t.m.n; i++) {
        if (t.states[i] == LV_STATE_GONE) {
            continue;               /* transient domain gone: it is off */
        }
        if (t.states[i] == LV_STATE_ERR) {
            continue;               /* state unknown: off fails with that error */
        }
        if (t.states[i] == VIR_DOMAIN_SHUTOFF) {
            vf_log(LOG_INFO, "libvirt backend: domain '%s' (%s) on '%s' is already off",
                   t.m.d[i].name, t.m.d[i].uuid, t.m.d[i].ref->uri);
            continue;
        }
        r = lv_power_confirmed(&t.m.d[i], true, deadline_ms);
        if (r < 0 && first == 0) {
            first = r;
        } else if (r == 0) {
            killed = true;
        }
    }
    r = first;
    if (t.m.incomplete) {
        vf_log(LOG_ERR,
               "libvirt backend: off of '%s' NOT confirmed: URI(s) %s did not answer and may run "
               "a copy (%s where it could be reached)", target,
               lv_unanswered_text(&t.snap, t.m.unanswered, down, sizeof(down)),
               killed ? "killed" : "off");
        r = -EHOSTDOWN;
    }
out:
    lv_target_done(&t);
    return r;
}

/*
 * Resolve @target into @t (lv_target_take; lv_target_done it in every case)
 * and say whether it is on.  What on and status share: a copy that is on
 * answers (also with a URI down: the domain IS on).  Otherwise "off" needs
 * every copy certainly off: an error reading a state fails, so do no copy
 * left (-ENOENT) and a URI that did not answer (-EHOSTDOWN, logged with
 * @op: a copy may run there).
 * \return 1 on (*ret_p: that copy), 0 off (*ret_p: the primary copy, see
 *         lv_match_primary and @want_persistent), or a negative errno
 */
static int
lv_target_on(struct lv_backend *be, const char *target, unsigned int flags,
             int64_t deadline_ms, const char *op, bool want_persistent, struct lv_target *t,
             size_t *ret_p)
{
    char down[1024];
    int r = lv_target_take(be, target, flags, deadline_ms, t);
    size_t p = 0;

    *ret_p = 0;
    if (t->states == NULL) {
        return r;                   /* nothing resolved: lv_begin's error */
    }
    p = lv_match_primary(&t->m, t->states, want_persistent);
    *ret_p = p;
    if (lv_state_on(t->states[p])) {
        return 1;
    }
    if (r < 0) {
        return r;
    }
    if (lv_all_gone(&t->m, t->states)) {
        return -ENOENT;
    }
    if (t->m.incomplete) {
        vf_log(LOG_ERR, "libvirt backend: %s '%s': off where it could be checked, but URI(s) %s "
               "did not answer (it may run there)", op, target,
               lv_unanswered_text(&t->snap, t->m.unanswered, down, sizeof(down)));
        return -EHOSTDOWN;
    }
    return 0;
}

/*
 * on: a copy already running on any URI is success (also with a URI
 * down: the domain IS on, which is what the admin asked for).  Starting a
 * copy needs an answer from every URI: a copy may run on one that did not
 * answer, and a second copy would corrupt shared storage (-EHOSTDOWN).
 */
int
lv_do_on(struct lv_backend *be, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct lv_target t;
    size_t p;
    int r;

    r = lv_target_on(be, target, flags, deadline_ms, "not starting", true, &t, &p);
    if (r == 1) {
        vf_log(LOG_INFO, "libvirt backend: domain '%s' (%s) on '%s' is already on (%s)",
               t.m.d[p].name, t.m.d[p].uuid, t.m.d[p].ref->uri, lv_state_text(t.states[p]));
        r = 0;
        goto out;
    }
    if (r < 0) {
        goto out;
    }
    if (virDomainIsPersistent(t.m.d[p].dom) != 1) {
        vf_log(LOG_ERR,
               "libvirt backend: domain '%s' on '%s' is transient: nothing to start",
               t.m.d[p].name, t.m.d[p].ref->uri);
        r = -EOPNOTSUPP;
        goto out;
    }
    r = lv_power_confirmed(&t.m.d[p], false, deadline_ms);
out:
    lv_target_done(&t);
    return r;
}

/* The live XML of transient @d, to re-create it after the destroy (NULL: none). */
static char *
lv_transient_xml(const struct lv_dom *d)
{
    char *xml = virDomainGetXMLDesc(d->dom, VIR_DOMAIN_XML_SECURE);
    char msg[512];

    if (xml == NULL) {
        xml = virDomainGetXMLDesc(d->dom, 0);
    }
    if (xml == NULL) {
        (void)lv_error(d->ref, msg, sizeof(msg));
        vf_log(LOG_ERR,
               "libvirt backend: no XML of transient '%s' (%s): it will not be restarted",
               d->name, msg);
    }
    return xml;
}

/* Re-create transient @d from @xml on its URI and confirm it runs. */
static int
lv_recreate_confirmed(const struct lv_dom *d, const char *xml, int64_t deadline_ms)
{
    struct lv_dom nd = { .ref = d->ref };
    char msg[512];
    int r;

    vf_log(LOG_NOTICE,
           "libvirt backend: re-creating transient domain '%s' on '%s' from its saved XML",
           d->name, d->ref->uri);
    nd.dom = virDomainCreateXML(d->ref->conn, xml, 0);
    lv_copy_name(nd.name, sizeof(nd.name), d->name);
    lv_copy_name(nd.uuid, sizeof(nd.uuid), d->uuid);
    if (nd.dom == NULL) {
        r = lv_error(d->ref, msg, sizeof(msg));
        vf_log(LOG_ERR, "libvirt backend: re-creating domain '%s' failed: %s", d->name, msg);
    } else {
        r = lv_wait_state(&nd, false, deadline_ms);
    }
    lv_dom_done(&nd);
    return r;
}

/*
 * A copy may run on a URI that did not answer: kill what can be reached,
 * start nothing (a second copy could run next to it).  
eturn -EHOSTDOWN
 */
static int
lv_reboot_unconfirmed(const struct lv_snap *snap, const struct lv_match *m, const int *states,
                      const char *target, int64_t deadline_ms)
{
    char down[1024];
    size_t i;

    for (i = 0; i < m->n; i++) {
        if (lv_state_on(states[i])) {
            (void)lv_power_confirmed(&m->d[i], true, deadline_ms);
        }
    }
    vf_log(LOG_ERR,
           "libvirt backend: reboot of '%s' NOT confirmed: URI(s) %s did not answer and may "
           "run a copy; reachable copies are off, none was started", target,
           lv_unanswered_text(snap, m->unanswered, down, sizeof(down)));
    return -EHOSTDOWN;
}

/*
 * Power cycle the running copies of @m (all URIs answered), then start
 * copy @p again.  
eturn 0 once every running copy is confirmed off (a
 * failed power-on is logged: the domain is fenced), else the off's error
 */
static int
lv_reboot_cycle(const struct lv_match *m, const int *states, size_t p, int64_t deadline_ms)
{
    const struct lv_dom *d = &m->d[p];
    bool persistent = virDomainIsPersistent(d->dom) == 1;
    char *xml = persistent ? NULL : lv_transient_xml(d);
    size_t i;
    int r = 0;

    for (i = 0; i < m->n; i++) {
        if (lv_state_on(states[i])) {
            r = lv_power_confirmed(&m->d[i], true, deadline_ms);
        }
        if (r < 0) {
            goto out;               /* not confirmed off: no success, no restart */
        }
    }
    if (persistent) {
        r = lv_power_confirmed(d, false, deadline_ms);
    } else {
        r = xml != NULL ? lv_recreate_confirmed(d, xml, deadline_ms) : -EIO;
    }
    if (r < 0) {
        vf_log(LOG_ERR,
               "libvirt backend: '%s' (%s) is off but NOT started again (%s); fenced, so done",
               d->name, d->uuid, strerror(-r));
    }
    r = 0;
out:
    free(xml);
    return r;
}

/*
 * reboot = confirmed off (of every running copy), then on (of one copy).
 *  - A domain that is already off: success without powering it on (the
 *    reference behaviour), unless reboot_powers_on = "yes".
 *  - Persistent domains are started with virDomainCreate, i.e. from their
 *    persistent definition (pending configuration changes apply, as on a
 *    real power cycle).  Transient domains have no definition once
 *    destroyed, so their live XML is saved first and they are re-created
 *    with virDomainCreateXML.
 *  - If the power-on fails after a confirmed off, the reboot still counts
 *    as a successful fence (the domain was killed); the failure is logged
 *    at error level.
 *  - With a URI that did not answer, reboot kills every running copy it
 *    can reach, starts nothing, and fails with -EHOSTDOWN (see off).
 */
int
lv_do_reboot(struct lv_backend *be, const char *target, unsigned int flags, int64_t deadline_ms)
{
    struct lv_target t;
    const struct lv_dom *d;
    size_t p;
    int r;

    r = lv_target_take(be, target, flags, deadline_ms, &t);
    if (t.states == NULL) {
        goto out;
    }
    if (r < 0) {
        goto out;                   /* unknown state of a copy: touch nothing */
    }
    if (lv_all_gone(&t.m, t.states)) {
        r = -ENOENT;
        goto out;
    }
    if (t.m.incomplete) {
        r = lv_reboot_unconfirmed(&t.snap, &t.m, t.states, target, deadline_ms);
        goto out;
    }
    p = lv_match_primary(&t.m, t.states, true);
    d = &t.m.d[p];
    vf_log(LOG_NOTICE, "libvirt backend: rebooting domain '%s' (%s) on '%s'",
           d->name, d->uuid, d->ref->uri);
    if (lv_state_on(t.states[p])) {
        r = lv_reboot_cycle(&t.m, t.states, p, deadline_ms);
    } else if (!t.snap.reboot_powers_on) {
        vf_log(LOG_INFO, "libvirt backend: '%s' is off; left off (reboot_powers_on = no)",
               d->name);
    } else {
        r = virDomainIsPersistent(d->dom) == 1 ? lv_power_confirmed(d, false, deadline_ms) :
            -EOPNOTSUPP;
    }
out:
    lv_target_done(&t);
    return r;
}

/*
 * status: shut off => OFF.  Every other state => ON:
 *  running, blocked, paused, pmsuspended, shutdown (in progress) and
 *  nostate are guests that still exist and hold their resources; crashed is
 *  ON as well, because a crashed domain kept by libvirt may still hold its
 *  disk locks until it is destroyed, so the fencer must still issue off.
 * ON if any copy (on any URI) is on; OFF only if every copy is off and
 * every URI could be asked (else -EHOSTDOWN).
 * Unknown domains are -ENOENT (answered FAIL, never OFF: D5).
 */
int
lv_do_status(struct lv_backend *be, const char *target, unsigned int flags, bool *ret_on, int64_t deadline_ms)
{
    struct lv_target t;
    size_t p;
    int r;

    r = lv_target_on(be, target, flags, deadline_ms, "status unknown of", false, &t, &p);
    if (r >= 0) {
        vf_dbg(1, "libvirt backend: domain '%s' (%s) on '%s' is %s", t.m.d[p].name,
               t.m.d[p].uuid, t.m.d[p].ref->uri, lv_state_text(t.states[p]));
        *ret_on = r == 1;
        r = 0;
    }
    lv_target_done(&t);
    return r;
}

/*
 * monitor: healthy while at least one configured URI is connected and
 * answers (virConnectIsAlive plus one cheap call); URIs that are down are
 * named in a warning.  -EHOSTDOWN when none is usable.
 */
int
lv_do_monitor(struct lv_backend *be, int64_t deadline_ms)
{
    struct lv_snap snap;
    size_t i, up = 0;
    char msg[512];
    int r;

    r = lv_snap_take(be, &snap);
    if (r < 0) {
        return r;
    }
    for (i = 0; i < snap.n; i++) {
        if (snap.refs[i].conn == NULL) {
            vf_log(LOG_WARNING,
                   "libvirt backend: monitor: '%s' is not connected", snap.refs[i].uri);
            continue;
        }
        if (vf_ms_left(deadline_ms) <= 0) {
            r = -ETIMEDOUT;
            goto out;
        }
        if (virConnectIsAlive(snap.refs[i].conn) == 0 ||
            virConnectNumOfDomains(snap.refs[i].conn) < 0) {
            (void)lv_error(&snap.refs[i], msg, sizeof(msg));
            vf_log(LOG_WARNING, "libvirt backend: monitor: '%s' does not answer: %s",
                   snap.refs[i].uri, msg);
            continue;
        }
        up++;
    }
    r = up > 0 ? 0 : -EHOSTDOWN;
    if (r < 0) {
        vf_log(LOG_ERR, "libvirt backend: monitor: no libvirt connection is up");
    }
out:
    lv_snap_done(&snap);
    return r;
}
