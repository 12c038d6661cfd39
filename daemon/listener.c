/*
 * vmfence - daemon/listener.c: listener instances (listener.h).
 *
 * An instance counts the connections it handed to the pipeline and not
 * yet finished (inflight); the pipeline reports each end through the
 * done callback given with the connection.  Stopping an instance joins
 * its thread, then waits a bounded time for that count to reach zero;
 * if it does not, the instance is orphaned and the last done() finalises
 * it, so a hung backend never blocks a reload.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "listener.h"
#include "log.h"
#include "pipeline.h"
#include "timeutil.h"

struct vf_listener_inst {
    const struct vf_listener_ops *ops;
    void *priv;
    struct vf_daemon_api api;   /* api.ctx == this instance */
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool run_done;
    int run_rc;
    unsigned int inflight;      /* under mu */
    bool orphaned;              /* under mu: stopped with requests running */
};

/* one lock for the inflight counts of every instance, and one condition
 * variable signalled whenever a count drops */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv;
static pthread_once_t done_cv_once = PTHREAD_ONCE_INIT;

static void
done_cv_init(void)
{
    (void)vf_cond_init_monotonic(&done_cv);
}

static void
finalise(struct vf_listener_inst *li)
{
    li->ops->fini(li->priv);
    free(li);
}

/* The pipeline finished a connection of @arg (an instance). */
static void
conn_done(void *arg)
{
    struct vf_listener_inst *li = arg;
    bool last_of_orphan = false;

    pthread_mutex_lock(&mu);
    li->inflight--;
    last_of_orphan = li->inflight == 0 && li->orphaned;
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&mu);
    if (last_of_orphan) {
        finalise(li);
    }
}

static void
api_submit(void *ctx, struct vf_conn *conn)
{
    struct vf_listener_inst *li = ctx;

    if (conn == NULL) {
        return;
    }
    pthread_mutex_lock(&mu);
    li->inflight++;
    pthread_mutex_unlock(&mu);
    vf_pipeline_submit(conn, conn_done, li);
}

/*
 * In place: the listener's thread runs the request.  One that arrives
 * after the instance was told to stop is closed unserved: the stop then
 * never waits for a request that started after it, and a listener thread
 * that handed its leadership on just before the stop (listeners/stream.c)
 * finds the instance intact (it is finalised only once every request it
 * counted has ended, and the check and the count are one step under mu).
 */
static void
api_serve(void *ctx, struct vf_conn *conn)
{
    struct vf_listener_inst *li = ctx;
    bool stopped = false;

    if (conn == NULL) {
        return;
    }
    pthread_mutex_lock(&mu);
    stopped = atomic_load(&li->stop);
    if (!stopped) {
        li->inflight++;
    }
    pthread_mutex_unlock(&mu);
    if (stopped) {
        conn->ops->close(conn);
        return;
    }
    vf_pipeline_serve(conn, conn_done, li);
}

static bool
api_stopping(void *ctx)
{
    const struct vf_listener_inst *li = ctx;

    return vf_pipeline_stopping() || atomic_load(&li->stop);
}

static void *
listener_main(void *arg)
{
    struct vf_listener_inst *li = arg;

    li->run_rc = li->ops->run(li->priv);
    atomic_store(&li->run_done, true);
    if (!atomic_load(&li->stop) && !vf_pipeline_stopping()) {
        vf_log(LOG_ERR, "listener '%s' stopped unexpectedly (%s)", li->ops->name,
               li->run_rc < 0 ? strerror(-li->run_rc) : "no error reported");
    }
    return NULL;
}

int
vf_listener_start(const struct vf_listener_ops *ops, const struct vf_conf *conf,
                  struct vf_listener_inst **ret_li, char *err, size_t err_len)
{
    struct vf_listener_inst *li = NULL;
    int r = 0;

    pthread_once(&done_cv_once, done_cv_init);
    li = calloc(1, sizeof(*li));
    if (li == NULL) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    li->ops = ops;
    li->api.ctx = li;
    li->api.submit = api_submit;
    li->api.stopping = api_stopping;
    li->api.serve = api_serve;
    atomic_init(&li->stop, false);
    atomic_init(&li->run_done, false);
    if (err_len > 0) {
        err[0] = '\0';
    }
    r = ops->init(conf, &li->api, &li->priv, err, err_len);
    if (r < 0) {
        if (err_len > 0 && err[0] == '\0') {
            snprintf(err, err_len, "listener '%s': initialisation failed: %s",
                     ops->name, strerror(-r));
        }
        free(li);
        return r;
    }
    r = pthread_create(&li->thread, NULL, listener_main, li);
    if (r != 0) {
        snprintf(err, err_len, "listener '%s': cannot start thread: %s", ops->name, strerror(r));
        ops->fini(li->priv);
        free(li);
        return -r;
    }
    li->thread_started = true;
    *ret_li = li;
    return 0;
}

void
vf_listener_request_stop(struct vf_listener_inst *li)
{
    if (li != NULL) {
        atomic_store(&li->stop, true);
    }
}

void
vf_listener_stop(struct vf_listener_inst *li, int drain_ms)
{
    int64_t deadline = 0;
    struct timespec ts;
    bool drained = false;

    if (li == NULL) {
        return;
    }
    atomic_store(&li->stop, true);
    if (li->thread_started) {
        pthread_join(li->thread, NULL);
        li->thread_started = false;
    }
    deadline = vf_now_ms() + drain_ms;
    ts = vf_deadline_timespec(deadline);
    pthread_mutex_lock(&mu);
    while (li->inflight > 0 && vf_now_ms() < deadline) {
        pthread_cond_timedwait(&done_cv, &mu, &ts);
    }
    drained = li->inflight == 0;
    li->orphaned = !drained;    /* the last request finalises it */
    pthread_mutex_unlock(&mu);
    if (!drained) {
        vf_dbg(1, "listener '%s': requests still running; finalised when they end",
               li->ops->name);
        return;
    }
    finalise(li);
}

bool
vf_listener_failed(const struct vf_listener_inst *li)
{
    return li != NULL && atomic_load(&li->run_done) && !atomic_load(&li->stop) &&
           !vf_pipeline_stopping();
}

const char *
vf_listener_name(const struct vf_listener_inst *li)
{
    return li == NULL ? "?" : li->ops->name;
}
