/*
 * vmfence - daemon/tests/test-libvirt-events.c: unit test of the libvirt
 * backend's lifecycle events: the status answered from events
 * (libvirt-cache.c) and the watch op (libvirt-watch.c).  The backend's
 * requests: test-libvirt.c; shared set-up: libvirt-fixture.c.
 *
 * The backend runs against libvirt's in-process test driver
 * (test:///<file>.xml and test:///default): no libvirtd, no KVM, no root.
 * Faked here: the hypervisor (test driver), and the configuration (built
 * from a buffer).  The test links against the backend's files
 * (backends/libvirt-int.h) so that it can reach the backend's own
 * connection (lv_uri_conn) to define / start / stop / undefine domains
 * whose lifecycle events the watch op must report (the test driver emits
 * events only to callbacks registered on the connection that made the
 * change).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "conftree.h"
#include "io.h"
#include "log.h"
#include "timeutil.h"
#include "backends/libvirt-int.h"
#include "tests/libvirt-fixture.h"
#include "../../lib/tests/vftest.h"

/* ---- status from lifecycle events (libvirt-cache.c) ------------------------------ */

/* the cache's answer for @target: 1 on, 0 off, -EAGAIN not answered there */
static int
cached(struct lv_backend *be, const char *target, unsigned int flags)
{
    bool on = false;
    int r = lv_cache_status(be, target, flags, &on);

    return r < 0 ? r : (on ? 1 : 0);
}

/* wait (3 s at most, a bounded status each round keeps libvirt's answer recent) */
static int
cached_wait(struct lv_backend *be, const char *target, int want)
{
    int i, r = -EAGAIN;

    for (i = 0; i < 60; i++) {
        (void)lvt_status(be, target);
        r = cached(be, target, 0);
        if (r == want) {
            break;
        }
        vf_sleep_ms(50);
    }
    return r;
}

/*
 * A status is answered from the events once a resync ran with a
 * registration on every URI; never stale after the backend's own power
 * operations (a status right after off says off, whatever the events did
 * meanwhile); not answered at all when no libvirt call answered recently,
 * while a call hangs, for an unknown target, or once a domain is marked;
 * never with two URIs.  Faked: nothing (libvirt's test driver emits the events).
 */
static void
test_status_cache(void)
{
    struct lv_backend *be;
    char err[512], text[1024];
    int r = 0, i, stale = 0;

    snprintf(text, sizeof(text), "backends { libvirt { uri = \"test://%s\"; } }", lvt_file1);
    be = lvt_be_new(text, &r, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (be == NULL) {
        fprintf(stderr, "init: %s\n", err);
        return;
    }
    VFT_EQ_INT(cached_wait(be, "vm-run", 1), 1);
    VFT_EQ_INT(cached(be, LVT_U("01"), VF_BE_BY_UUID), 1);
    VFT_EQ_INT(cached(be, LVT_U("01"), 0), 1);          /* no domain has that name */
    VFT_EQ_INT(cached(be, "vm-off", 0), 0);
    VFT_EQ_INT(cached(be, "no-such-vm", 0), -EAGAIN);
    VFT_EQ_INT(lvt_status(be, "no-such-vm"), -ENOENT);

    /* the backend's own power operations: never a stale answer */
    for (i = 0; i < 5; i++) {
        VFT_EQ_INT(lv_ops.off(be, "vm-run", 0, lvt_dl()), 0);
        r = cached(be, "vm-run", 0);
        stale += r == 1;
        VFT_EQ_INT(lvt_status(be, "vm-run"), 0);
        VFT_EQ_INT(lv_ops.on(be, "vm-run", 0, lvt_dl()), 0);
        r = cached(be, "vm-run", 0);
        stale += r == 0;
        VFT_EQ_INT(lvt_status(be, "vm-run"), 1);
    }
    VFT_EQ_INT(stale, 0);
    /* and the events bring it back */
    VFT_EQ_INT(cached_wait(be, "vm-run", 1), 1);

    /* a lifecycle callback marks the domain at once */
    lv_cache_mark_uuid(be, LVT_U("01"));
    VFT_EQ_INT(cached(be, "vm-run", 0), -EAGAIN);
    VFT_EQ_INT(lvt_status(be, "vm-run"), 1);
    lv_cache_invalidate(be);
    VFT_EQ_INT(cached(be, "vm-off", 0), -EAGAIN);
    lv_watch_kick(be);
    VFT_EQ_INT(cached_wait(be, "vm-off", 0), 0);

    /* no libvirt answer recently, or a call hangs: the bounded call */
    be->cache_fresh_ms = 1;
    vf_sleep_ms(20);
    VFT_EQ_INT(cached(be, "vm-off", 0), -EAGAIN);
    be->cache_fresh_ms = LV_CACHE_FRESH_MS;
    VFT_EQ_INT(cached_wait(be, "vm-off", 0), 0);
    atomic_store(&be->hung, 1);
    VFT_EQ_INT(cached(be, "vm-off", 0), -EAGAIN);
    atomic_store(&be->hung, 0);
    VFT_EQ_INT(cached(be, "vm-off", 0), 0);
    lv_ops.fini(be);

    /* two URIs: never from the cache (U01 is "vm-run" on one, "vm-run-dup"
     * on the other: a status by name resolves names, the cache UUIDs) */
    be = lvt_be_files(lvt_file1, lvt_file2);
    VFT_CHECK(be != NULL);
    if (be == NULL) {
        return;
    }
    VFT_EQ_INT(cached_wait(be, "vm-run", 1), -EAGAIN);     /* 3 s of trying */
    VFT_EQ_INT(lvt_status(be, "vm-run"), 1);
    lv_ops.fini(be);
}

/* ---- watch: lifecycle events (test:///default and test:///file) ---------- */

struct ev_log {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct {
        char name[256];
        int state;
        bool gone;
    } ev[256];
    size_t n;
};

static void
ev_cb(void *arg, const struct vf_domain_info *dom, bool gone)
{
    struct ev_log *l = arg;

    pthread_mutex_lock(&l->lock);
    if (l->n < 256) {
        snprintf(l->ev[l->n].name, sizeof(l->ev[0].name), "%s", dom->name);
        l->ev[l->n].state = dom->state;
        l->ev[l->n].gone = gone;
        l->n++;
    }
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

/* wait (3 s at most) for an event of @name in @state (-1: any) and @gone, after index @from */
static bool
ev_wait(struct ev_log *l, size_t from, const char *name, int state, bool gone)
{
    int64_t until = vf_now_ms() + 3000;
    bool found = false;
    size_t i;

    pthread_mutex_lock(&l->lock);
    while (!found) {
        struct timespec ts;

        for (i = from; i < l->n && !found; i++) {
            found = strcmp(l->ev[i].name, name) == 0 && l->ev[i].gone == gone &&
                (state < 0 || l->ev[i].state == state);
        }
        if (found || vf_now_ms() >= until) {
            break;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->cond, &l->lock, &ts);
    }
    pthread_mutex_unlock(&l->lock);
    return found;
}

static size_t
ev_count(struct ev_log *l)
{
    size_t n;

    pthread_mutex_lock(&l->lock);
    n = l->n;
    pthread_mutex_unlock(&l->lock);
    return n;
}

static const char xml_watched[] =
    "<domain type='test'>\n"
    "  <name>vm-watched</name><uuid>" LVT_U("40") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "</domain>\n";

/*
 * The watch op on two URIs: define, start, destroy and undefine through
 * the backend's connection to test:///default (the test driver reports
 * events to callbacks of the connection that made the change), a start on
 * the second URI, then a lost connection: once it is back, every domain
 * is reported again (resync) and new events still arrive.  After unwatch,
 * nothing more.
 */
static void
test_watch(void)
{
    static struct ev_log l = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };
    struct lv_backend *be;
    virConnectPtr c0 = NULL, c1 = NULL;
    virDomainPtr d = NULL;
    char err[512], text[1024];
    int64_t t0;
    size_t mark;
    int r = 0;

    snprintf(text, sizeof(text),
             "backends { libvirt { uri = \"test:///default\"; uri1 = \"test://%s\"; } }", lvt_file1);
    be = lvt_be_new(text, &r, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (be == NULL) {
        fprintf(stderr, "init: %s\n", err);
        return;
    }
    VFT_CHECK(lv_ops.watch != NULL && lv_ops.unwatch != NULL);
    VFT_EQ_INT(lv_ops.watch(be, NULL, &l), -EINVAL);
    VFT_EQ_INT(lv_ops.watch(be, ev_cb, &l), 0);
    c0 = lv_uri_conn(be, 0);
    c1 = lv_uri_conn(be, 1);
    VFT_CHECK(c0 != NULL && c1 != NULL);
    if (c0 == NULL || c1 == NULL) {
        goto out;
    }
    d = virDomainDefineXML(c0, xml_watched);
    VFT_CHECK(d != NULL);
    if (d == NULL) {
        goto out;
    }
    VFT_CHECK(ev_wait(&l, 0, "vm-watched", VF_STATE_SHUTOFF, false));
    mark = ev_count(&l);
    VFT_EQ_INT(virDomainCreate(d), 0);
    VFT_CHECK(ev_wait(&l, mark, "vm-watched", VF_STATE_RUNNING, false));
    mark = ev_count(&l);
    VFT_EQ_INT(virDomainDestroy(d), 0);
    VFT_CHECK(ev_wait(&l, mark, "vm-watched", VF_STATE_SHUTOFF, false));
    mark = ev_count(&l);
    VFT_EQ_INT(virDomainUndefine(d), 0);
    VFT_CHECK(ev_wait(&l, mark, "vm-watched", -1, true));
    virDomainFree(d);
    d = NULL;

    /* the second URI too */
    mark = ev_count(&l);
    VFT_EQ_INT(lv_ops.on(be, "vm-off", 0, lvt_dl()), 0);
    VFT_CHECK(ev_wait(&l, mark, "vm-off", VF_STATE_RUNNING, false));

    /* a lost connection: resync once it is back ("test" is the default
     * driver's own domain, never reported by an event here) */
    mark = ev_count(&l);
    t0 = vf_now_ms();
    vf_virt_failed(c0, "the test says so");
    VFT_CHECK(ev_wait(&l, mark, "test", VF_STATE_RUNNING, false));
    VFT_CHECK(ev_wait(&l, mark, "vm-off", VF_STATE_RUNNING, false));
    VFT_CHECK(vf_now_ms() - t0 < 3000);
    virConnectClose(c0);
    c0 = NULL;
    while ((c0 = lv_uri_conn(be, 0)) == NULL && vf_now_ms() - t0 < 3000) {
        vf_sleep_ms(20);
    }
    VFT_CHECK(c0 != NULL);
    /* events of the new connection arrive */
    mark = ev_count(&l);
    d = c0 != NULL ? virDomainDefineXML(c0, xml_watched) : NULL;
    VFT_CHECK(d != NULL);
    VFT_CHECK(ev_wait(&l, mark, "vm-watched", VF_STATE_SHUTOFF, false));

    /* unwatch: nothing more */
    lv_ops.unwatch(be, ev_cb, &l);
    mark = ev_count(&l);
    if (d != NULL) {
        VFT_EQ_INT(virDomainUndefine(d), 0);
    }
    vf_sleep_ms(300);
    VFT_EQ_INT(ev_count(&l), mark);
out:
    if (d != NULL) {
        virDomainFree(d);
    }
    if (c0 != NULL) {
        virConnectClose(c0);
    }
    if (c1 != NULL) {
        virConnectClose(c1);
    }
    lv_ops.fini(be);
}

int
main(void)
{
    lvt_setup("test-libvirt-events");
    VFT_RUN(test_watch);
    VFT_RUN(test_status_cache);
    lvt_cleanup();
    VFT_EXIT();
}
