/*
 * vmfence - lib/tests/test-alloc.c: unit tests for lib/alloc.h
 * (VF_FREE_ALL over NULL and non-NULL blocks; a mutex-guarded structure
 * made zeroed with a working mutex, and released NULL-tolerantly).
 * Leaks show under the ASan build of the suite.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "vftest.h"

struct guarded {
    int before;
    pthread_mutex_t mu;
    char name[32];
    void *owned;
};

struct holder {
    char *a;
    char *b;
};

static void
test_free_all(void)
{
    struct holder *h = calloc(1, sizeof(*h));

    VFT_CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    h->a = strdup("first");
    h->b = NULL;                            /* a NULL field is skipped */
    VFT_CHECK(h->a != NULL);
    /* the structure last, after its own fields: every argument is read first */
    VF_FREE_ALL(h->a, h->b, h);
    VF_FREE_ALL(NULL);                      /* nothing to free */
    VFT_CHECK(1);
}

static void
test_locked(void)
{
    struct guarded *g = VF_LOCKED_NEW(struct guarded, mu);
    size_t i;
    int zero = 1;

    VFT_CHECK(g != NULL);
    if (g == NULL) {
        return;
    }
    for (i = 0; i < sizeof(g->name); i++) {
        zero &= g->name[i] == 0;
    }
    VFT_CHECK(zero && g->before == 0 && g->owned == NULL);   /* calloc'ed */
    VFT_EQ_INT(pthread_mutex_lock(&g->mu), 0);
    VFT_EQ_INT(pthread_mutex_trylock(&g->mu), EBUSY);        /* a real mutex */
    VFT_EQ_INT(pthread_mutex_unlock(&g->mu), 0);
    g->owned = malloc(16);
    free(g->owned);                         /* owned blocks: the caller's */
    VFT_CHECK(VF_LOCKED_FREE(g, struct guarded, mu) == NULL);
    VFT_CHECK(VF_LOCKED_FREE(NULL, struct guarded, mu) == NULL);   /* NULL-tolerant */
}

int
main(void)
{
    VFT_RUN(test_free_all);
    VFT_RUN(test_locked);
    VFT_EXIT();
}
