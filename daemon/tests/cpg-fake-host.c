/*
 * vmfence - daemon/tests/cpg-fake-host.c: what the cpg backend reaches
 * through the host API, FAKED for its unit tests (see cpg-fakes.h for why):
 * the libvirt backend (find_backend("libvirt"): ops over a two-domain
 * in-memory table, with or without lifecycle events), the host cluster's
 * fencer (a struct cpg_fencer the tests install with cpg_set_fencer()), and
 * the host's logging.
 */
#include <errno.h>
#include <stdarg.h>
#include <strings.h>

#include "cpg-fakes.h"

/* ---- fake libvirt backend -------------------------------------------------- */

pthread_mutex_t fl_lock = PTHREAD_MUTEX_INITIALIZER;
struct fdom fdoms[2] = {
    { "h1-a", U_H1A, VF_STATE_RUNNING },
    { "web", U_WEB1, VF_STATE_SHUTOFF },
};
bool fl_down;
char fl_uri[256];
int fl_offs;
int64_t fl_status_deadline;
int fl_unwatches;
bool fl_with_watch;
int fl_lists;

/* fl_lock held: the index of @target in fdoms, or -EHOSTDOWN (fl_down), -ENOENT */
static int
fl_find_locked(const char *target, unsigned int flags)
{
    size_t i;

    if (fl_down) {
        return -EHOSTDOWN;
    }
    for (i = 0; i < sizeof(fdoms) / sizeof(fdoms[0]); i++) {
        if (((flags & VF_BE_BY_UUID) == 0 && strcmp(fdoms[i].name, target) == 0) ||
            strcasecmp(fdoms[i].uuid, target) == 0) {
            return (int)i;
        }
    }
    return -ENOENT;
}

static int
fl_init(const struct vf_host_api *host, const struct vf_conf *conf, void **ret_priv, char *err,
        size_t err_len)
{
    (void)host;
    (void)err;
    (void)err_len;
    snprintf(fl_uri, sizeof(fl_uri), "%s", vf_conf_get(conf, "backends/libvirt/uri", "(none)"));
    *ret_priv = &fdoms;
    return 0;
}

static void
fl_fini(void *priv)
{
    (void)priv;
}

static int
fl_lookup(void *priv, const char *target, unsigned int flags, struct vf_domain_info *ret,
          int64_t deadline_ms)
{
    int i;

    (void)priv;
    (void)deadline_ms;
    pthread_mutex_lock(&fl_lock);
    i = fl_find_locked(target, flags);
    if (i >= 0) {
        memset(ret, 0, sizeof(*ret));
        snprintf(ret->name, sizeof(ret->name), "%s", fdoms[i].name);
        snprintf(ret->uuid, sizeof(ret->uuid), "%s", fdoms[i].uuid);
        ret->state = fdoms[i].state;
        ret->persistent = true;
    }
    pthread_mutex_unlock(&fl_lock);
    return i < 0 ? i : 0;
}

int
fl_set(const char *target, unsigned int flags, int state, bool *ret_on)
{
    int i;

    pthread_mutex_lock(&fl_lock);
    i = fl_find_locked(target, flags);
    if (i >= 0 && ret_on != NULL) {
        *ret_on = fdoms[i].state != VF_STATE_SHUTOFF;
    } else if (i >= 0) {
        if (state == VF_STATE_SHUTOFF) {
            fl_offs++;
        }
        fdoms[i].state = state;
    }
    pthread_mutex_unlock(&fl_lock);
    return i < 0 ? i : 0;
}

static int
fl_off(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    (void)priv;
    (void)deadline_ms;
    return fl_set(target, flags, VF_STATE_SHUTOFF, NULL);
}

static int
fl_on(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    (void)priv;
    (void)deadline_ms;
    return fl_set(target, flags, VF_STATE_RUNNING, NULL);
}

static int
fl_status(void *priv, const char *target, unsigned int flags, bool *ret_on, int64_t deadline_ms)
{
    (void)priv;
    pthread_mutex_lock(&fl_lock);
    fl_status_deadline = deadline_ms;
    pthread_mutex_unlock(&fl_lock);
    return fl_set(target, flags, 0, ret_on);
}

static int
fl_list(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms)
{
    struct vf_domain_info info;
    size_t i;
    int r = 0;

    (void)priv;
    (void)deadline_ms;
    pthread_mutex_lock(&fl_lock);
    if (fl_down) {
        pthread_mutex_unlock(&fl_lock);
        return -EHOSTDOWN;
    }
    for (i = 0; i < sizeof(fdoms) / sizeof(fdoms[0]) && r == 0; i++) {
        memset(&info, 0, sizeof(info));
        snprintf(info.name, sizeof(info.name), "%s", fdoms[i].name);
        snprintf(info.uuid, sizeof(info.uuid), "%s", fdoms[i].uuid);
        info.state = fdoms[i].state;
        r = cb(arg, &info);
    }
    pthread_mutex_unlock(&fl_lock);
    return r;
}

static int
fl_monitor(void *priv, int64_t deadline_ms)
{
    (void)priv;
    (void)deadline_ms;
    return fl_down ? -EHOSTDOWN : 0;
}

static const struct vf_backend_ops fl_ops = {
    .name = "libvirt",
    .version = "fake",
    .init = fl_init,
    .fini = fl_fini,
    .lookup = fl_lookup,
    .off = fl_off,
    .on = fl_on,
    .reboot = fl_on,
    .status = fl_status,
    .list = fl_list,
    .monitor = fl_monitor,
};

/* the same fake with lifecycle events (the watch op): the test fires them */
static vf_domain_event_cb fl_watch_cb;
static void *fl_watch_arg;

static int
fl_watch(void *priv, vf_domain_event_cb cb, void *arg)
{
    (void)priv;
    pthread_mutex_lock(&fl_lock);
    fl_watch_cb = cb;
    fl_watch_arg = arg;
    pthread_mutex_unlock(&fl_lock);
    return 0;
}

/* the ops table's signature: @arg cannot be const (cppcheck constParameter) */
static void
/* cppcheck-suppress constParameter */
fl_unwatch(void *priv, vf_domain_event_cb cb, void *arg)
{
    (void)priv;
    pthread_mutex_lock(&fl_lock);
    if (cb == fl_watch_cb && arg == fl_watch_arg) {
        fl_watch_cb = NULL;
        fl_unwatches++;
    }
    pthread_mutex_unlock(&fl_lock);
}

static int
fl_list_counted(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms)
{
    pthread_mutex_lock(&fl_lock);
    fl_lists++;
    pthread_mutex_unlock(&fl_lock);
    return fl_list(priv, cb, arg, deadline_ms);
}

void
fl_event(const char *name, const char *uuid, int state, bool gone)
{
    struct vf_domain_info info;
    vf_domain_event_cb cb;
    void *arg;

    memset(&info, 0, sizeof(info));
    snprintf(info.name, sizeof(info.name), "%s", name);
    snprintf(info.uuid, sizeof(info.uuid), "%s", uuid);
    info.state = state;
    info.persistent = true;
    pthread_mutex_lock(&fl_lock);
    cb = fl_watch_cb;
    arg = fl_watch_arg;
    pthread_mutex_unlock(&fl_lock);
    if (cb != NULL) {
        cb(arg, &info, gone);
    }
}

/* fl_ops, its listings counted, with watch and unwatch: built when the
 * backend starts (cpg_init, in the test's thread; no instance runs then) */
static struct vf_backend_ops fl_ops_watch;

static const struct vf_backend_ops *
fake_find_backend(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "libvirt") != 0) {
        return NULL;
    }
    if (!fl_with_watch) {
        return &fl_ops;
    }
    fl_ops_watch = fl_ops;
    fl_ops_watch.list = fl_list_counted;
    fl_ops_watch.watch = fl_watch;
    fl_ops_watch.unwatch = fl_unwatch;
    return &fl_ops_watch;
}

/* ---- fake fencer (the host cluster's, through cpg_set_fencer) ------------- */

pthread_mutex_t ff_lock = PTHREAD_MUTEX_INITIALIZER;
bool ff_whole_seconds;
int ff_calls;
uint32_t ff_last_node;
static int ff_quorate = 1;  /* 1, 0, or a negative errno */
static int ff_error;        /* fenced_since fails with it (0: answers) */
static time_t ff_completed; /* the node's last fencing (0: none) */

static int
ff_quorate_fn(void *ctx, int64_t deadline_ms)
{
    int q;

    (void)ctx;
    (void)deadline_ms;
    pthread_mutex_lock(&ff_lock);
    q = ff_quorate;
    pthread_mutex_unlock(&ff_lock);
    return q;
}

static int
ff_fenced_since(void *ctx, uint32_t nodeid, time_t since, struct cpg_fence_rec *ret,
                int64_t deadline_ms)
{
    int r = -ENOENT;

    (void)ctx;
    pthread_mutex_lock(&ff_lock);
    ff_calls++;
    ff_last_node = nodeid;
    if (ff_error != 0) {
        r = ff_error;
    } else if (ff_whole_seconds && vf_ms_left(deadline_ms) < 1000) {
        r = -ETIMEDOUT;
    } else if (ff_completed != 0 && ff_completed >= since) {
        memset(ret, 0, sizeof(*ret));
        ret->completed = ff_completed;
        snprintf(ret->action, sizeof(ret->action), "reboot");
        snprintf(ret->delegate, sizeof(ret->delegate), "host3");
        snprintf(ret->origin, sizeof(ret->origin), "host1");
        snprintf(ret->client, sizeof(ret->client), "pacemaker-controld.1234");
        r = 0;
    }
    pthread_mutex_unlock(&ff_lock);
    return r;
}

const struct cpg_fencer fake_fencer = {
    .quorate = ff_quorate_fn,
    .fenced_since = ff_fenced_since,
    .ctx = NULL,
};

void
ff_set(int quorate, int error, time_t completed)
{
    pthread_mutex_lock(&ff_lock);
    ff_quorate = quorate;
    ff_error = error;
    ff_completed = completed;
    pthread_mutex_unlock(&ff_lock);
}

static void __attribute__((format(printf, 3, 4)))
fake_host_log(void *ctx, int prio, const char *fmt, ...)
{
    va_list ap;

    (void)ctx;
    va_start(ap, fmt);
    vf_logv(prio, fmt, ap);
    va_end(ap);
}

const struct vf_host_api fake_host = {
    .find_backend = fake_find_backend,
    .log = fake_host_log,
};
