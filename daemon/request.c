/*
 * vmfence - daemon/request.c: serving one request, step by step (request.h).
 *
 * A struct req carries the request through the steps; each step returns
 * true to go on, or false with the outcome (audit text, log priority)
 * written into the struct.  vf_request_serve() runs them in order and ends
 * every path in finish(), the one place that settles the history entry
 * and writes the audit line.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "groups.h"
#include "hostlist.h"
#include "io.h"
#include "log.h"
#include "privsep/privsep.h"
#include "reqlog.h"
#include "request.h"
#include "timeutil.h"

#define SIBLING_WAIT_MS 2000
/* a refused connect-back waits far less: only for a sibling copy that is
 * connecting right now (the client accepted it and closed its listener a
 * moment before that copy could record it), never while nothing else runs */
#define SIBLING_OPEN_WAIT_MS 200
#define SIBLING_POLL_MS 20

struct req {
    const struct vf_request_env *env;
    const struct vf_request *rq;
    struct vf_conn *c;
    const uint8_t *key;         /* NULL when the listener has none */
    size_t key_len;
    bool connect_back;          /* the reply channel is opened (multicast) */
    uint64_t token;             /* history entry */
    bool reserved;              /* ... held, not yet completed */
    bool completed;             /* ... to be marked served */
    bool copy_failed;           /* a connect-back copy failed to open or authenticate */
    bool open_failed;           /* ... to open */
    char peer[sizeof(((struct vf_conn *)0)->peer)];
    char res[256];              /* audit result */
    const char *result;         /* NULL: nothing to log */
    int prio;
    uint8_t resp;               /* response byte to send */
    struct vf_ahead *ahead;     /* the status asked ahead, NULL: none */
    unsigned int ahead_epoch;   /* power_epoch when it was asked */
};

/* Power operations of this process: started or ended (epoch), running.  A
 * status asked ahead is used only if the epoch did not move (request.h). */
static atomic_uint power_epoch;
static atomic_uint power_running;
/* requests in authenticate(): only one that entered alone busy-polls */
static atomic_uint authenticating;

/* A resolved power-operation target. */
struct target {
    const char *name;           /* as requested */
    unsigned int flags;         /* VF_BE_BY_UUID */
    struct vf_domain_info dom;
    bool resolved;
};

/* Stop here with @prio and the formatted audit result (always false). */
static bool __attribute__((format(printf, 3, 4)))
stop(struct req *q, int prio, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(q->res, sizeof(q->res), fmt, ap);
    va_end(ap);
    q->prio = prio;
    return false;
}

/* Stop here without an audit line (a duplicate). */
static bool
stop_quietly(struct req *q)
{
    q->result = NULL;
    return false;
}

/* true when any call-back field (multicast only) of @req is set */
static bool
has_callback_fields(const struct vf_req *req)
{
    for (size_t i = 0; i < sizeof(req->address); i++) {
        if (req->address[i] != 0) {
            return true;
        }
    }
    return req->addrlen != 0 || req->port != 0 || req->family != 0;
}

static const char *
verify_reason(int r)
{
    switch (r) {
    case -EPERM: return "hash too weak";
    case -EBADMSG: return "key mismatch";
    case -ENOKEY: return "no key loaded";
    case -EPROTO: return "unknown hash type";
    default: return "invalid request";
    }
}

static const char *
hash_name(enum vf_hash h, const char *unknown)
{
    const char *n = vf_hash_name(h);

    return n != NULL ? n : unknown;
}

/* a. signature, call-back fields, replay cache */
static bool
verify(struct req *q)
{
    struct vf_conn *c = q->c;
    int64_t first_ms = 0;
    int r = 0;

    if (!c->is_signed) {
        return true;
    }
    r = vf_req_verify(c->raw, c->min_hash, q->key, q->key_len);
    if (r < 0) {
        return stop(q, LOG_WARNING, "dropped (%s: request %s, listener requires %s)",
                    verify_reason(r), hash_name(c->req.hashtype, "invalid"),
                    hash_name(c->min_hash, "?"));
    }
    if (!q->connect_back && has_callback_fields(&c->req)) {
        /* fence_virt sends zeroed call-back fields over tcp/vsock; a
         * request that has them is a multicast datagram somebody took
         * off the network: answering its challenge would make us the
         * oracle that tells a relay how to fool the agent */
        return stop(q, LOG_WARNING, "dropped (call-back fields set: family %u, "
                    "addrlen %u, port %u; a stream request has none: a multicast request "
                    "replayed on a stream listener?)", (unsigned int)c->req.family,
                    (unsigned int)c->req.addrlen, (unsigned int)c->req.port);
    }
    r = vf_replay_record(q->env->replay, &c->req, vf_now_ms(), &first_ms);
    if (r == -EALREADY) {
        return stop(q, LOG_WARNING, "dropped (replay: identical signed request "
                    "first received %lld ms ago)", (long long)(vf_now_ms() - first_ms));
    }
    return true;
}

static void
fill_history_key(const struct req *q, struct vf_history_key *k)
{
    const struct vf_conn *c = q->c;

    memset(k, 0, sizeof(*k));
    snprintf(k->listener, sizeof(k->listener), "%s", c->listener != NULL ? c->listener : "?");
    k->request = c->req.request;
    k->seqno = c->req.seqno;
    snprintf(k->domain, sizeof(k->domain), "%s", c->req.domain);
    if (q->connect_back) {
        /*
         * Connect-back transports (multicast): the client sends one copy per
         * local interface, each with its own source address and random
         * bytes, and repeats them; all copies must collapse into one
         * request, so only request, seqno, domain and call-back port count.
         */
        k->port = c->req.port;
    } else {
        snprintf(k->identity, sizeof(k->identity), "%s", c->identity);
        if (c->is_signed) {
            memcpy(k->random, c->req.random, sizeof(k->random));
        }
    }
}

/* b. dedupe; connect-back copies only tentatively until authenticated */
static bool
dedupe(struct req *q)
{
    struct vf_history *h = q->env->history;
    struct vf_history_key hk;
    int r = 0;

    fill_history_key(q, &hk);
    r = q->connect_back ? vf_history_reserve_tentative(h, &hk, vf_now_ms(), &q->token) :
        vf_history_reserve(h, &hk, vf_now_ms(), &q->token);
    if (r == -EEXIST) {
        vf_dbg(1, "request %llu from %s via %s: duplicate of a request seen within %d s, dropped",
               (unsigned long long)q->rq->id, q->peer, q->c->listener,
               VF_HISTORY_WINDOW_MS / 1000);
        return stop_quietly(q);
    }
    if (r < 0) {
        return stop(q, LOG_WARNING, "dropped (history table full)");
    }
    q->reserved = true;
    return true;
}

/* c. reply channel */
static bool
open_channel(struct req *q)
{
    int r = 0;

    if (!q->connect_back) {
        return true;
    }
    r = q->c->ops->open(q->c, vf_now_ms() + VF_OPEN_TIMEOUT_MS);
    if (r < 0) {
        q->copy_failed = q->open_failed = true;
        return stop(q, LOG_WARNING, "dropped (connect-back %s)",
                    r == -EAGAIN ? "rate limited for this address" : strerror(-r));
    }
    /* siblings that fail from now on know the client accepted this one */
    vf_history_opened(q->env->history, q->token);
    return true;
}

static bool needs_lookup(const struct req *q, const struct target *t);

/* A status of @t answered here and now, without asking (request.h: peek). */
static bool
peek(const struct req *q, const struct target *t, bool *ret_on)
{
    const struct vf_status_ahead *a = q->env->ahead;

    return a != NULL && a->peek != NULL && a->be == q->rq->be &&
           q->c->req.request == VF_CMD_STATUS && t->name[0] != '\0' && !needs_lookup(q, t) &&
           atomic_load(&power_running) == 0 &&
           a->peek(q->rq->be_priv, t->name, t->flags, ret_on) == 0;
}

/* c'. a status by name with no groups to check: asked ahead (request.h),
 * unless known here.  Always true: without it the status is asked in turn. */
static bool
ask_ahead(struct req *q)
{
    const struct vf_status_ahead *a = q->env->ahead;
    const struct vf_req *req = &q->c->req;
    struct target t = {
        .name = req->domain, .flags = (req->flags & VF_RF_UUID) != 0 ? VF_BE_BY_UUID : 0,
    };
    bool on = false;

    if (a == NULL || a->be != q->rq->be || req->request != VF_CMD_STATUS ||
        t.name[0] == '\0' || needs_lookup(q, &t) || atomic_load(&power_running) != 0 ||
        peek(q, &t, &on)) {
        return true;
    }
    q->ahead_epoch = atomic_load(&power_epoch);
    if (a->begin(q->rq->be_priv, t.name, t.flags, vf_now_ms() + VF_OP_TIMEOUT_MS,
                 &q->ahead) < 0) {
        q->ahead = NULL;
    }
    return true;
}

/* Forget the status asked ahead, if any. */
static void
drop_ahead(struct req *q)
{
    if (q->ahead != NULL) {
        q->env->ahead->drop(q->rq->be_priv, q->ahead);
        q->ahead = NULL;
    }
}

/* d. mutual authentication: the daemon answers first, then challenges;
 * then this copy becomes the request */
static bool
authenticate(struct req *q)
{
    struct vf_conn *c = q->c;
    int r = 0;

    if (c->auth != VF_HASH_NONE) {
        /* fail closed: a reply channel without a stream cannot be
         * authenticated, so it gets no answer at all */
        if (c->fd < 0) {
            return stop(q, LOG_WARNING, "dropped (auth '%s' configured but the listener "
                        "gave no stream to authenticate on)", hash_name(c->auth, "?"));
        }
        if (q->key == NULL) {
            return stop(q, LOG_WARNING, "dropped (auth configured but no key loaded)");
        }
        /* alone: wait for the client's answers busy (lib/io.h), at most
         * one such thread at a time, a few tens of microseconds each */
        vf_io_set_spin(atomic_fetch_add(&authenticating, 1) == 0 ? q->env->spin_us : 0);
        r = vf_auth_respond(c->fd, c->auth, q->key, q->key_len,
                            vf_now_ms() + VF_AUTH_TIMEOUT_MS);
        if (r == 0) {
            r = vf_auth_challenge(c->fd, c->auth, q->key, q->key_len,
                                  vf_now_ms() + VF_AUTH_TIMEOUT_MS);
        }
        vf_io_set_spin(0);
        atomic_fetch_sub(&authenticating, 1);
        if (r < 0) {
            q->copy_failed = true;
            return stop(q, LOG_WARNING, "dropped (authentication failed: %s)",
                        r == -EACCES ? "wrong answer to the challenge" : strerror(-r));
        }
    }
    if (q->connect_back && vf_history_confirm(q->env->history, q->token, vf_now_ms()) < 0) {
        q->reserved = false;    /* confirm released the entry */
        vf_dbg(1, "request %llu from %s via %s: duplicate of a request served first through "
               "another client address, dropped", (unsigned long long)q->rq->id, q->peer,
               c->listener);
        return stop_quietly(q);
    }
    q->completed = true;        /* from now on the request counts as served */
    return true;
}

/* Stop with response byte @resp (always false). */
static bool
answer(struct req *q, uint8_t resp)
{
    q->resp = resp;
    return false;
}

/*
 * Whether @t must be resolved before it runs.  A status by name without
 * groups need not: the backend resolves it for the status itself, and a
 * lookup first was a second backend call (the heavier one: libvirt formats
 * UUIDs for it) per status.  Its lock is then its name's, and power
 * operations take their target's name lock too (execute()).  A UUID, or
 * a name that parses as one (the backend may resolve it as a UUID), is
 * resolved as before, and so is everything when groups must be checked.
 */
static bool
needs_lookup(const struct req *q, const struct target *t)
{
    return q->c->req.request != VF_CMD_STATUS || vf_groups_active(q->rq->groups) ||
           (t->flags & VF_BE_BY_UUID) != 0 || vf_is_uuid(t->name);
}

/* e. resolve the target and check the groups ACL */
static bool
authorise(struct req *q, struct target *t)
{
    const struct vf_conn *c = q->c;
    int r = -ENOENT;

    t->name = c->req.domain;
    t->flags = (c->req.flags & VF_RF_UUID) != 0 ? VF_BE_BY_UUID : 0;
    if (t->name[0] == '\0') {
        stop(q, q->prio, "fail (no target)");
        return answer(q, VF_RESP_FAIL);
    }
    memset(&t->dom, 0, sizeof(t->dom));
    t->resolved = false;
    if (!needs_lookup(q, t)) {
        return true;
    }
    r = q->rq->be->lookup(q->rq->be_priv, t->name, t->flags, &t->dom,
                          vf_now_ms() + VF_LOOKUP_TIMEOUT_MS);
    t->resolved = r == 0;
    if (vf_groups_allowed(q->rq->groups, c->identity, t->name,
                          t->resolved ? t->dom.name : NULL, t->resolved ? t->dom.uuid : NULL)) {
        return true;
    }
    if (!t->resolved && r != -ENOENT) {
        /* could not resolve name <-> UUID: fail, but do not claim "denied" */
        stop(q, q->prio, "fail (groups need the target resolved; lookup: %s)", strerror(-r));
        return answer(q, VF_RESP_FAIL);
    }
    stop(q, LOG_WARNING, "perm (groups)");
    return answer(q, VF_RESP_PERM);
}

/* "KIND:VALUE" in lower case into @key (a lock key). */
static void
lock_key(const char *kind, const char *value, char *key, size_t key_len)
{
    snprintf(key, key_len, "%s:%s", kind, value);
    for (char *p = key; *p != '\0'; p++) {
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
    }
}

/*
 * The per-VM locks of @t for @cmd, into @dl[0..1] (NULL when not taken):
 * a status takes its UUID's lock (resolved) or its name's (not resolved)
 * shared; a power operation takes, exclusively, its name's lock and then
 * (resolved) its UUID's, always in that order, so it excludes statuses by
 * name that skipped the lookup as well as those by UUID.  \return true,
 * or false when a lock was not had by @deadline (none held then)
 */
static bool
lock_target(struct req *q, const struct target *t, uint8_t cmd, int64_t deadline,
            struct vf_dlock *dl[2])
{
    bool status = cmd == VF_CMD_STATUS;
    const char *name = t->resolved && t->dom.name[0] != '\0' ? t->dom.name : t->name;
    char key[VF_DOMAIN_FIELD + 8];

    dl[0] = dl[1] = NULL;
    if ((status && t->resolved && t->dom.uuid[0] != '\0') ||
        strnlen(name, VF_DOMAIN_FIELD + 1) > VF_DOMAIN_FIELD) {
        /* a status of a resolved target, or a name too long for the wire
         * (no status by name can designate it): the UUID's lock only */
        lock_key("uuid", t->dom.uuid, key, sizeof(key));
        dl[0] = vf_dlock_acquire(q->env->locks, key, status, deadline);
        return dl[0] != NULL;
    }
    lock_key("name", name, key, sizeof(key));
    dl[0] = vf_dlock_acquire(q->env->locks, key, status, deadline);
    if (dl[0] == NULL) {
        return false;
    }
    if (!status && t->resolved && t->dom.uuid[0] != '\0') {
        lock_key("uuid", t->dom.uuid, key, sizeof(key));
        dl[1] = vf_dlock_acquire(q->env->locks, key, false, deadline);
        if (dl[1] == NULL) {
            vf_dlock_release(dl[0]);
            dl[0] = NULL;
            return false;
        }
    }
    return true;
}

/* f-g. serialise per target, run the power operation or status */
static void
execute(struct req *q, const struct target *t)
{
    const struct vf_backend_ops *be = q->rq->be;
    void *priv = q->rq->be_priv;
    uint8_t cmd = q->c->req.request;
    int64_t deadline = vf_now_ms() + (cmd == VF_CMD_REBOOT ? VF_REBOOT_TIMEOUT_MS :
                                      VF_OP_TIMEOUT_MS);
    struct vf_dlock *dl[2];
    bool on = false;
    int r = 0;

    if (!lock_target(q, t, cmd, deadline, dl)) {
        stop(q, q->prio, "fail (another operation on the target did not finish in time)");
        q->resp = VF_RESP_FAIL;
        return;
    }
    if (cmd != VF_CMD_STATUS) {
        atomic_fetch_add(&power_running, 1);
        atomic_fetch_add(&power_epoch, 1);
    }
    switch (cmd) {
    case VF_CMD_OFF: r = be->off(priv, t->name, t->flags, deadline); break;
    case VF_CMD_ON: r = be->on(priv, t->name, t->flags, deadline); break;
    case VF_CMD_REBOOT: r = be->reboot(priv, t->name, t->flags, deadline); break;
    default:
        if (peek(q, t, &on)) {
            drop_ahead(q);
            r = 0;
        } else if (q->ahead != NULL && atomic_load(&power_epoch) == q->ahead_epoch) {
            r = q->env->ahead->end(priv, q->ahead, &on);
            q->ahead = NULL;
        } else {
            drop_ahead(q);
            r = be->status(priv, t->name, t->flags, &on, deadline);
        }
        break;
    }
    if (cmd != VF_CMD_STATUS) {
        atomic_fetch_add(&power_epoch, 1);
        atomic_fetch_sub(&power_running, 1);
    }
    vf_dlock_release(dl[1]);
    vf_dlock_release(dl[0]);
    q->resp = VF_RESP_FAIL;
    if (r > 0) {
        /* Not the plugin ABI (0 or -errno): a backend answering a fence-virt
         * style 1 ("fail") must never become SUCCESS, nor OFF for status. */
        stop(q, q->prio, "fail (backend returned %d, not 0 or -errno)", r);
    } else if (r < 0) {
        /* Never a false success: an unknown domain is a failure, also for status (D5). */
        stop(q, q->prio, "fail (%s)", r == -ENOENT ? "no such domain" : strerror(-r));
    } else if (cmd == VF_CMD_STATUS) {
        q->resp = on ? VF_RESP_SUCCESS : VF_RESP_OFF;
        stop(q, q->prio, "%s", on ? "on" : "off");
    } else {
        q->resp = VF_RESP_SUCCESS;
        stop(q, q->prio, "success");
    }
}

/* e-h for a host list (hostlist.h) */
static void
serve_hostlist(struct req *q)
{
    struct vf_hostlist_req hl = {
        .id = q->rq->id, .conn = q->c, .groups = q->rq->groups, .be = q->rq->be,
        .be_priv = q->rq->be_priv, .list_deadline_ms = vf_now_ms() + VF_OP_TIMEOUT_MS,
        .reply_timeout_ms = VF_REPLY_TIMEOUT_MS,
    };

    q->prio = LOG_INFO;
    vf_hostlist_serve(&hl, q->res, sizeof(q->res));
}

/* e-g for every command but the host list: the response byte in q->resp */
static void
decide(struct req *q)
{
    const struct vf_backend_ops *be = q->rq->be;
    struct target t;
    int r = 0;

    q->resp = VF_RESP_FAIL;
    if (be == NULL) {
        stop(q, q->prio, "fail (no backend)");
        return;
    }
    switch (q->c->req.request) {
    case VF_CMD_OFF:
    case VF_CMD_ON:
    case VF_CMD_REBOOT:
    case VF_CMD_STATUS:
        if (authorise(q, &t)) {
            execute(q, &t);
        }
        break;
    case VF_CMD_DEVSTATUS:
        r = be->monitor != NULL ? be->monitor(q->rq->be_priv, vf_now_ms() + VF_OP_TIMEOUT_MS) : 0;
        q->resp = r == 0 ? VF_RESP_SUCCESS : VF_RESP_FAIL;
        stop(q, LOG_INFO, "%s", r == 0 ? "success" : "fail (backend unhealthy)");
        break;
    case VF_CMD_NULL:
        stop(q, q->prio, "fail (null request)");  /* reference behaviour: null answers 1 */
        break;
    default:                                      /* metadata, validate-all, unknown */
        stop(q, q->prio, "fail (command %u not served)", (unsigned int)q->c->req.request);
        break;
    }
}

/* h. the response byte */
static void
reply(struct req *q)
{
    int r = q->c->ops->send_response(q->c, q->resp, vf_now_ms() + VF_REPLY_TIMEOUT_MS);

    if (r < 0) {
        size_t l = strlen(q->res);

        snprintf(q->res + l, sizeof(q->res) - l, ", reply not delivered: %s", strerror(-r));
    }
}

/*
 * A connect-back copy (@token, tentative) failed to open or authenticate.
 * That is expected when another copy of the same request got through: the
 * client accepts one call-back and closes its listener, so the others are
 * refused or cut off.  Wait (bounded) for the other copies' verdict: true
 * when one of them was served, so this failure is not worth a warning.
 */
static bool
copy_superseded(struct vf_history *h, uint64_t token, int wait_ms)
{
    int64_t until = vf_now_ms() + wait_ms;

    for (;;) {
        int s = vf_history_siblings(h, token, vf_now_ms());

        if (s > 0) {
            return true;
        }
        if (s < 0 || vf_now_ms() >= until) {
            return false;
        }
        vf_sleep_ms(SIBLING_POLL_MS);
    }
}

/* The one cleanup path: settle the history entry, write the audit line. */
static void
finish(struct req *q)
{
    struct vf_history *h = q->env->history;
    const char *action = vf_cmd_name(q->c->req.request);
    char target[VF_DOMAIN_FIELD * 2];

    drop_ahead(q);              /* not authenticated, or not executed */
    if (q->completed) {
        vf_history_complete(h, q->token, vf_now_ms());
        q->reserved = false;
    }
    /* a copy whose connect-back failed waits at most SIBLING_OPEN_WAIT_MS,
     * and only while a sibling copy is still in progress (a replayed or
     * forged call-back address must not hold a worker), for another copy
     * to reach the client; an authentication failure waits longer */
    if (q->reserved && q->connect_back && q->copy_failed &&
        copy_superseded(h, q->token, q->open_failed ? SIBLING_OPEN_WAIT_MS : SIBLING_WAIT_MS)) {
        vf_dbg(1, "request %llu from %s via %s: %s: duplicate of a request served through "
               "another client address", (unsigned long long)q->rq->id, q->peer,
               q->c->listener, q->res);
        q->result = NULL;
    }
    if (q->reserved) {
        vf_history_release(h, q->token);
    }
    if (q->result != NULL && strncmp(q->result, "dropped", 7) == 0 &&
        !vf_reqlog_drop_allowed()) {
        q->result = NULL;
    }
    if (q->result == NULL) {
        return;
    }
    vf_reqlog_sanitize(q->c->req.domain, target, sizeof(target));
    vf_log(q->prio, "request %llu peer=%s listener=%s action=%s target='%s' result=%s "
           "duration_ms=%lld", (unsigned long long)q->rq->id, q->peer,
           q->c->listener != NULL ? q->c->listener : "?", action != NULL ? action : "unknown",
           target, q->result, (long long)(vf_now_ms() - q->rq->start_ms));
}

void
vf_request_serve(const struct vf_request_env *env, const struct vf_request *rq)
{
    struct req q;

    memset(&q, 0, sizeof(q));
    q.env = env;
    q.rq = rq;
    q.c = rq->conn;
    q.key = q.c->key != NULL ? q.c->key->data : NULL;
    q.key_len = q.c->key != NULL ? q.c->key->len : 0;
    q.connect_back = q.c->ops->open != NULL;
    q.result = q.res;
    q.prio = LOG_NOTICE;
    vf_reqlog_sanitize(q.c->peer, q.peer, sizeof(q.peer));
    /* privsep: backend calls of this thread carry the requester for the
     * executor's groups re-check (privsep/requester.c) */
    vf_ps_set_requester(q.c->identity);
    if (verify(&q) && dedupe(&q) && open_channel(&q) && ask_ahead(&q) && authenticate(&q)) {
        if (q.c->req.request == VF_CMD_HOSTLIST && rq->be != NULL) {
            serve_hostlist(&q);
        } else {
            decide(&q);
            reply(&q);
        }
    }
    finish(&q);
}
