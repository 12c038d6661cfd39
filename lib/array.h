/*
 * vmfence - lib/array.h: room in a growing array.
 *
 * The arrays that collect an unknown number of records (domain lists, host
 * lists) grow by doubling; this is that step once, with its overflow check.
 * Header-only, so that plugins use it without linking anything of lib/.
 */
#ifndef VF_ARRAY_H
#define VF_ARRAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * Make room for @want (>= 1) elements of @size bytes in @arr, which has
 * room for *@cap: the capacity doubles, from @first, until it holds @want.
 * \return @arr itself if it has room already, else the reallocated array
 *         (*@cap updated), or NULL on overflow or without memory (@arr and
 *         *@cap untouched, the array still the caller's to free)
 */
static inline void *
vf_array_reserve(void *arr, size_t want, size_t *cap, size_t size, size_t first)
{
    size_t ncap = *cap > 0 ? *cap : first > 0 ? first : 1;
    void *na;

    if (want <= *cap) {
        return arr;
    }
    while (ncap < want) {
        if (ncap > SIZE_MAX / 2) {
            return NULL;
        }
        ncap *= 2;
    }
    if (size != 0 && ncap > SIZE_MAX / size) {
        return NULL;
    }
    na = realloc(arr, ncap * size);
    if (na != NULL) {
        *cap = ncap;
    }
    return na;
}

#endif
