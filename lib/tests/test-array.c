/*
 * vmfence - lib/tests/test-array.c: unit tests for lib/array.h
 * (vf_array_reserve: doubling, contents kept, overflow refused).
 */
#include <stdint.h>
#include <stdlib.h>

#include "array.h"
#include "vftest.h"

static void
test_grow(void)
{
    size_t cap = 0, i;
    int *a = NULL, *b;

    a = vf_array_reserve(a, 1, &cap, sizeof(*a), 16);
    VFT_CHECK(a != NULL);
    VFT_EQ_INT((int)cap, 16);
    for (i = 0; i < 16; i++) {
        a[i] = (int)i;
    }
    b = vf_array_reserve(a, 16, &cap, sizeof(*a), 16);
    VFT_CHECK(b == a);                      /* room already: the same array */
    VFT_EQ_INT((int)cap, 16);
    a = vf_array_reserve(a, 17, &cap, sizeof(*a), 16);
    VFT_CHECK(a != NULL);
    VFT_EQ_INT((int)cap, 32);
    VFT_EQ_INT(a[0], 0);
    VFT_EQ_INT(a[15], 15);
    a = vf_array_reserve(a, 100, &cap, sizeof(*a), 16);
    VFT_CHECK(a != NULL);
    VFT_EQ_INT((int)cap, 128);               /* doubles until it holds @want */
    VFT_EQ_INT(a[15], 15);
    free(a);

    cap = 0;
    a = vf_array_reserve(NULL, 1, &cap, sizeof(*a), 0);
    VFT_CHECK(a != NULL);
    VFT_EQ_INT((int)cap, 1);                 /* no first size: one */
    free(a);
}

static void
test_overflow(void)
{
    size_t cap = 0;
    char *a = vf_array_reserve(NULL, 4, &cap, 1, 4);

    VFT_CHECK(a != NULL);
    if (a == NULL) {
        return;
    }
    a[0] = 'x';
    VFT_CHECK(vf_array_reserve(a, SIZE_MAX, &cap, 1, 4) == NULL);
    VFT_EQ_INT((int)cap, 4);                 /* refused: untouched */
    /* 8 elements of 2^61 + 2 bytes: the product wraps around to 16 bytes */
    VFT_CHECK(vf_array_reserve(a, 5, &cap, SIZE_MAX / 8 + 2, 4) == NULL);
    VFT_EQ_INT((int)cap, 4);
    VFT_EQ_INT(a[0], 'x');                   /* still the caller's */
    free(a);
}

int
main(void)
{
    VFT_RUN(test_grow);
    VFT_RUN(test_overflow);
    VFT_EXIT();
}
