/*
 * vmfence - lib/alloc.h: freeing several blocks at once, and the
 * constructor and destructor of a structure guarded by one mutex.
 *
 * Destructors free their owned blocks one after the other; VF_FREE_ALL is
 * that run in one call.  Tables shared between threads (the lock table,
 * the duplicate and replay caches, the connect-back rate limit) are a
 * zeroed structure with a mutex inside: vf_locked_new() and
 * vf_locked_free() are their allocation and release.
 * Header-only, so that plugins use it without linking anything of lib/.
 */
#ifndef VF_ALLOC_H
#define VF_ALLOC_H

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

/* free() each of the @n pointers of @ptrs (NULL ones are skipped by free()) */
static inline void
vf_free_array(void *const *ptrs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ptrs[i]);
    }
}

/*
 * VF_FREE_ALL(a, b, c) frees a, b and c: every argument is read before
 * the first free(), so a structure may come last after its own fields.
 */
#define VF_FREE_ALL(...)                          \
    vf_free_array((void *const[]){ __VA_ARGS__ }, \
                  sizeof((void *const[]){ __VA_ARGS__ }) / sizeof(void *))

/*
 * calloc(1, @size) with the pthread_mutex_t at byte @lock_off initialised
 * (default attributes).  \return the object, or NULL (out of memory)
 */
static inline void *
vf_locked_new(size_t size, size_t lock_off)
{
    char *obj = calloc(1, size);

    if (obj != NULL) {
        pthread_mutex_init((void *)(obj + lock_off), NULL);
    }
    return obj;
}

/* A new zeroed `type` whose mutex member @lock is initialised, or NULL. */
#define VF_LOCKED_NEW(type, lock) ((type *)vf_locked_new(sizeof(type), offsetof(type, lock)))

/*
 * Destroy the mutex at byte @lock_off of @obj and free @obj (NULL-tolerant;
 * the blocks it owns are the caller's to free first).  \return NULL
 */
static inline void *
vf_locked_free(void *obj, size_t lock_off)
{
    if (obj != NULL) {
        pthread_mutex_destroy((void *)((char *)obj + lock_off));
        free(obj);
    }
    return NULL;
}

/* vf_locked_free() of @obj, a `type *` (the compiler checks it) whose mutex member is @lock. */
#define VF_LOCKED_FREE(obj, type, lock) vf_locked_free((type *){ (obj) }, offsetof(type, lock))

#endif
