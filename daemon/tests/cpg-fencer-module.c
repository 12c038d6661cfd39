/*
 * vmfence - daemon/tests/cpg-fencer-module.c: FAKE fencer modules for
 * test-cpg-fencer (the real one, fencer-pacemaker.so, needs a Pacemaker
 * cluster).  Built three times as a module:
 *   TEST_FENCER_GOOD   current ABI: always quorate, and every node was
 *                      fenced (off) 5 s after the time it is asked about
 *   TEST_FENCER_ABI99  the same table claiming ABI 99 (refused)
 *   TEST_FENCER_OTHER  exports another symbol only (not a fencer module)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backends/cpg-fencer.h"

struct fake_ctx {
    int opens;
    int questions;
};

static struct fake_ctx the_ctx;

static int
fake_open(void **ret_ctx, char *err, size_t err_len)
{
    (void)err;
    (void)err_len;
    the_ctx.opens++;
    *ret_ctx = &the_ctx;
    return 0;
}

static void
fake_close(void *ctx)
{
    struct fake_ctx *c = ctx;

    c->opens--;
}

static int
fake_quorate(void *ctx, int64_t deadline_ms)
{
    (void)ctx;
    (void)deadline_ms;
    return 1;
}

static int
fake_fenced_since(void *ctx, uint32_t nodeid, time_t since, struct cpg_fence_rec *ret,
                  int64_t deadline_ms)
{
    struct fake_ctx *c = ctx;

    (void)deadline_ms;
    c->questions++;
    memset(ret, 0, sizeof(*ret));
    ret->completed = since + 5;
    snprintf(ret->action, sizeof(ret->action), "off");
    snprintf(ret->delegate, sizeof(ret->delegate), "fake-of-node-%u", (unsigned int)nodeid);
    return 0;
}

static struct cpg_fencer_ops fake_ops =
    CPG_FENCER_OPS("fake", fake_open, fake_close, fake_quorate, fake_fenced_since);

#ifdef TEST_FENCER_OTHER
const struct cpg_fencer_ops *vf_cpg_fencer_other(void) __attribute__((visibility("default")));

const struct cpg_fencer_ops *
vf_cpg_fencer_other(void)
{
    return &fake_ops;
}
#else
#ifdef TEST_FENCER_ABI99
/* what a module of another ABI looks like to the loader */
__attribute__((constructor)) static void
fake_abi99(void)
{
    fake_ops.abi = 99;
}
#endif
CPG_FENCER_MODULE(&fake_ops)
#endif
