/*
 * vmfence - tests/fuzz/fuzz.h: what every libFuzzer target in tests/fuzz
 * shares: the entry point's prototype and FUZZ_ASSERT, which reports the
 * failed invariant with its place and aborts (libFuzzer then keeps the
 * input as a crash).
 */
#ifndef VF_TESTS_FUZZ_H
#define VF_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

#endif
