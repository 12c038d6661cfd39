/*
 * vmfence - daemon/virt/virt-loop.c: the process's libvirt event loop.
 *
 * libvirt accepts one event loop implementation per process and delivers
 * keepalive, close callbacks and domain events only while a thread runs
 * it.  This file registers the default implementation once, installs a
 * silent error handler once (libvirt's default prints to stderr; callers
 * log the error themselves), and runs the loop in one thread for as long
 * as somebody holds a reference.  A repeating timer wakes the loop every
 * VIRT_TICK_MS so that the thread notices a stop request.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libxml/parser.h>
#include <libvirt/virterror.h>

#include "log.h"
#include "timeutil.h"
#include "virt-loop.h"

#define VIRT_TICK_MS        500
#define VIRT_LOOP_RETRY_MS  50

static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;
static bool loop_registered;            /* once per process */
static unsigned int loop_refs;
static pthread_t loop_thread;
static atomic_bool loop_stop;
static int loop_timer = -1;

static void
virt_silent_error(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

static void
virt_tick(int timer, void *opaque)
{
    (void)timer;
    (void)opaque;
}

static void *
virt_loop_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&loop_stop)) {
        if (virEventRunDefaultImpl() < 0) {
            vf_sleep_ms(VIRT_LOOP_RETRY_MS);
        }
    }
    return NULL;
}

/* libvirt itself, the error handler and the loop implementation (loop_lock held). */
static int
virt_register_locked(void)
{
    if (loop_registered) {
        return 0;
    }
    if (virInitialize() < 0) {
        vf_log(LOG_ERR, "libvirt: virInitialize failed");
        return -EIO;
    }
    /*
     * libvirt parses XML with libxml2 in whichever thread opens a
     * connection first, and libxml2 sets up its globals on first use
     * without a lock: two connections opened at once may each create them
     * (ASan saw the loser's mutex leak).  Set them up here, once, under
     * loop_lock, before any connection exists.
     */
    xmlInitParser();
    virSetErrorFunc(NULL, virt_silent_error);
    if (virEventRegisterDefaultImpl() < 0) {
        vf_log(LOG_ERR, "libvirt: cannot register the libvirt event loop");
        return -EIO;
    }
    loop_registered = true;
    return 0;
}

int
vf_virt_loop_acquire(void)
{
    int r = 0;

    pthread_mutex_lock(&loop_lock);
    if (loop_refs > 0) {
        loop_refs++;
        goto out;
    }
    r = virt_register_locked();
    if (r < 0) {
        goto out;
    }
    loop_timer = virEventAddTimeout(VIRT_TICK_MS, virt_tick, NULL, NULL);
    if (loop_timer < 0) {
        vf_log(LOG_WARNING,
               "libvirt: cannot add the event loop timer; shutdown may be slow, ignoring");
    }
    atomic_store(&loop_stop, false);
    r = -pthread_create(&loop_thread, NULL, virt_loop_main, NULL);
    if (r < 0) {
        vf_log(LOG_ERR, "libvirt: cannot start the event loop thread: %s", strerror(-r));
        if (loop_timer >= 0) {
            (void)virEventRemoveTimeout(loop_timer);
            loop_timer = -1;
        }
        goto out;
    }
    loop_refs = 1;
out:
    pthread_mutex_unlock(&loop_lock);
    return r;
}

void
vf_virt_loop_release(void)
{
    pthread_mutex_lock(&loop_lock);
    if (loop_refs == 0 || --loop_refs > 0) {
        pthread_mutex_unlock(&loop_lock);
        return;
    }
    atomic_store(&loop_stop, true);
    if (loop_timer >= 0) {
        virEventUpdateTimeout(loop_timer, 0);      /* wake the loop now */
    }
    pthread_join(loop_thread, NULL);
    if (loop_timer >= 0) {
        (void)virEventRemoveTimeout(loop_timer);
        loop_timer = -1;
    }
    pthread_mutex_unlock(&loop_lock);
}
