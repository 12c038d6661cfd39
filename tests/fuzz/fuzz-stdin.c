// VF_FUZZ_SOURCES: lib/opts.c lib/opts-values.c lib/opts-table.c lib/fa-parse.c lib/fa-help.c lib/fa-util.c lib/wire.c lib/io.c
/*
 * vmfence - tests/fuzz/fuzz-stdin.c: libFuzzer target for the agents' option
 * parsers (lib/opts.c): vf_args_parse_buffer() and vf_args_parse_argv(),
 * each followed by vf_args_finish().
 *
 * Input layout: byte 0 selects the mode
 *   bit 0: 0 = fence_xvm, 1 = fence_virt
 *   bit 1: 0 = the rest is stdin text, 1 = the rest is an argv vector
 *          (arguments separated by NUL bytes, at most 64)
 * Invariants checked after parsing: the target fits the 63-byte wire limit,
 * ports are non-zero, a successful finish leaves no problems and has a
 * target whenever the action needs one, the transport matches the binary.
 * Built and run by tests/fuzz/run-fuzz.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

#include "fuzz.h"

#define MAX_ARGS 64

static void
check_args(const struct vf_args *a, int finish_rc)
{
    FUZZ_ASSERT(a->domain == NULL || strlen(a->domain) <= VF_DOMAIN_MAX);
    FUZZ_ASSERT(a->port != 0);
    FUZZ_ASSERT(a->timeout > 0);
    FUZZ_ASSERT(a->retrans > 0);
    FUZZ_ASSERT(a->vsock_cid == 0 || (a->vsock_cid >= 2 && a->vsock_cid <= 0xfffffffeu));
    FUZZ_ASSERT(a->hash <= VF_HASH_SHA512 && a->auth <= VF_HASH_SHA512);
    if (finish_rc == 0) {
        FUZZ_ASSERT(a->n_problems == 0);
        if (a->cmd != VF_CMD_DEVSTATUS && a->cmd != VF_CMD_HOSTLIST
            && a->cmd != VF_CMD_METADATA) {
            FUZZ_ASSERT(a->domain != NULL);
        }
        if (a->kind == VF_AGENT_XVM) {
            FUZZ_ASSERT(a->transport == VF_XPORT_MCAST);
            FUZZ_ASSERT(a->mcast_addr != NULL);
        } else {
            FUZZ_ASSERT(a->transport != VF_XPORT_MCAST);
        }
    } else {
        FUZZ_ASSERT(finish_rc == -EINVAL && a->n_problems > 0);
    }
    for (size_t i = 0; i < a->n_unknown; i++) {
        FUZZ_ASSERT(a->unknown[i] != NULL);
    }
}

static void
fuzz_stdin(enum vf_agent_kind kind, const uint8_t *data, size_t size)
{
    struct vf_args a;
    char err[256];
    int r;

    vf_args_init(&a, kind, NULL);
    r = vf_args_parse_buffer(&a, (const char *)data, size, err, sizeof(err));
    FUZZ_ASSERT(r == 0 || r == -E2BIG || r == -ENOMEM);
    if (r == 0) {
        check_args(&a, vf_args_finish(&a));
    }
    vf_args_done(&a);
}

static void
fuzz_argv(enum vf_agent_kind kind, const uint8_t *data, size_t size)
{
    struct vf_args a;
    char *copy = NULL;
    char *argv[MAX_ARGS + 2];
    char argv0[] = "fence_fuzz";
    char err[256];
    bool help = false, version = false;
    int argc = 0;
    size_t start = 0;
    int r;

    copy = malloc(size + 1);
    if (copy == NULL) {
        return;
    }
    memcpy(copy, data, size);
    copy[size] = '\0';
    argv[argc++] = argv0;
    while (start <= size && argc <= MAX_ARGS) {
        argv[argc++] = copy + start;
        start += strlen(copy + start) + 1;
    }
    argv[argc] = NULL;

    vf_args_init(&a, kind, NULL);
    r = vf_args_parse_argv(&a, argc, argv, &help, &version, err, sizeof(err));
    FUZZ_ASSERT(r == 0 || r == -EINVAL);
    if (r < 0) {
        FUZZ_ASSERT(err[0] != '\0');
    } else if (!help && !version) {
        check_args(&a, vf_args_finish(&a));
    }
    vf_args_done(&a);
    free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum vf_agent_kind kind;

    if (size < 1) {
        return 0;
    }
    kind = (data[0] & 1) ? VF_AGENT_VIRT : VF_AGENT_XVM;
    if (data[0] & 2) {
        fuzz_argv(kind, data + 1, size - 1);
    } else {
        fuzz_stdin(kind, data + 1, size - 1);
    }
    return 0;
}
