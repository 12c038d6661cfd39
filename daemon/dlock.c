/*
 * vmfence - daemon/dlock.c: per-target shared/exclusive locks (dlock.h).
 *
 * The table is a short list under one mutex: it holds only the targets
 * that have an operation running or waiting, a handful at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dlock.h"
#include "timeutil.h"

struct vf_dlock {
    struct vf_dlocks *table;
    char key[128];
    unsigned int users;         /* holders and waiters */
    unsigned int readers;       /* shared holders */
    unsigned int w_waiting;     /* exclusive waiters */
    bool writer;                /* an exclusive holder */
    pthread_cond_t rcv;         /* shared waiters wait here (CLOCK_MONOTONIC) */
    pthread_cond_t wcv;         /* exclusive waiters wait here */
    struct vf_dlock *next;
};

struct vf_dlocks {
    pthread_mutex_t mu;
    struct vf_dlock *head;
};

struct vf_dlocks *
vf_dlocks_new(void)
{
    return VF_LOCKED_NEW(struct vf_dlocks, mu);
}

void
vf_dlocks_free(struct vf_dlocks *t)
{
    (void)VF_LOCKED_FREE(t, struct vf_dlocks, mu);
}

/* The lock @key of @t with one more user, created if needed (t->mu held). */
static struct vf_dlock *
get_locked(struct vf_dlocks *t, const char *key)
{
    struct vf_dlock *d = NULL;

    for (d = t->head; d != NULL; d = d->next) {
        if (strcmp(d->key, key) == 0) {
            d->users++;
            return d;
        }
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    if (vf_cond_init_monotonic(&d->rcv) < 0) {
        free(d);
        return NULL;
    }
    if (vf_cond_init_monotonic(&d->wcv) < 0) {
        pthread_cond_destroy(&d->rcv);
        free(d);
        return NULL;
    }
    d->table = t;
    snprintf(d->key, sizeof(d->key), "%s", key);
    d->users = 1;
    d->next = t->head;
    t->head = d;
    return d;
}

/* Drop one user of @d (table mutex held); the last one unlinks and frees it. */
static void
put_locked(struct vf_dlock *d)
{
    struct vf_dlock **pp = &d->table->head;

    if (--d->users > 0) {
        return;
    }
    while (*pp != d) {
        pp = &(*pp)->next;
    }
    *pp = d->next;
    pthread_cond_destroy(&d->rcv);
    pthread_cond_destroy(&d->wcv);
    free(d);
}

/* Wait for a shared hold (table mutex held).  \return true when taken */
static bool
wait_shared(struct vf_dlock *d, const struct timespec *ts)
{
    bool busy = false;

    /* whoever wakes re-checks; a timed-out waiter still takes the lock if
     * it became free */
    while ((busy = d->writer || d->w_waiting > 0)) {
        if (pthread_cond_timedwait(&d->rcv, &d->table->mu, ts) == ETIMEDOUT &&
            (busy = d->writer || d->w_waiting > 0)) {
            break;
        }
    }
    if (!busy) {
        d->readers++;
    }
    return !busy;
}

/* Wait for an exclusive hold (table mutex held).  \return true when taken */
static bool
wait_exclusive(struct vf_dlock *d, const struct timespec *ts)
{
    bool busy = false;

    d->w_waiting++;
    while ((busy = d->writer || d->readers > 0)) {
        if (pthread_cond_timedwait(&d->wcv, &d->table->mu, ts) == ETIMEDOUT &&
            (busy = d->writer || d->readers > 0)) {
            break;
        }
    }
    d->w_waiting--;
    if (!busy) {
        d->writer = true;
    } else if (d->w_waiting == 0 && !d->writer) {
        /* shared waiters held back only by this waiter may go now */
        pthread_cond_broadcast(&d->rcv);
    }
    return !busy;
}

struct vf_dlock *
vf_dlock_acquire(struct vf_dlocks *t, const char *key, bool shared, int64_t deadline_ms)
{
    struct timespec ts = vf_deadline_timespec(deadline_ms);
    struct vf_dlock *d = NULL;
    bool taken = false;

    pthread_mutex_lock(&t->mu);
    d = get_locked(t, key);
    if (d != NULL) {
        taken = shared ? wait_shared(d, &ts) : wait_exclusive(d, &ts);
        if (!taken) {
            put_locked(d);      /* timed out: give up our interest */
            d = NULL;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return d;
}

void
vf_dlock_release(struct vf_dlock *d)
{
    struct vf_dlocks *t = NULL;

    if (d == NULL) {
        return;
    }
    t = d->table;
    pthread_mutex_lock(&t->mu);
    if (d->writer) {
        d->writer = false;
        if (d->w_waiting > 0) {
            pthread_cond_signal(&d->wcv);       /* exclusive waiters first */
        } else if (d->users > 1) {
            pthread_cond_broadcast(&d->rcv);
        }
    } else if (d->readers > 0 && --d->readers == 0 && d->w_waiting > 0) {
        pthread_cond_signal(&d->wcv);
    }
    put_locked(d);
    pthread_mutex_unlock(&t->mu);
}
