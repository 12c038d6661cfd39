// VF_FUZZ_SOURCES: daemon/conftree.c daemon/conftree-parse.c daemon/conftree-write.c daemon/confcheck.c daemon/confcheck-keys.c daemon/confcheck-util.c daemon/confcheck-security.c daemon/plugin.c daemon/tests/conf-plugins.c daemon/listeners/common.c lib/log.c lib/key.c lib/io.c lib/wire.c
// VF_FUZZ_PKGS:
/*
 * vmfence - tests/fuzz/fuzz-config.c: libFuzzer target for the
 * fence_virt.conf parser, writer, query API and checker
 * (daemon/conftree*.c, daemon/confcheck*.c), the checker with the built-in
 * plugins' real settings schemas (daemon/tests/conf-plugins.c: fake ops).
 *
 * Invariants checked on every input that parses:
 *   - the writer's output parses again, and writing that gives the same
 *     text (parse -> write -> parse -> write is stable);
 *   - lookups, vf_conf_get_uint and vf_conf_check run without crashing.
 * Inputs that do not parse must leave an error message.  Built and run by
 * tests/fuzz/run-fuzz.sh; the seed corpus is tests/fuzz/corpus/config/.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conftree.h"
#include "confcheck.h"
#include "registry.h"

#include "fuzz.h"

static char *
write_str(const struct vf_conf *conf, size_t *ret_len)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    FUZZ_ASSERT(f != NULL);
    FUZZ_ASSERT(vf_conf_write(conf, f) == 0);
    fclose(f);
    *ret_len = len;
    return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {
        "fence_virtd/listener", "listeners/multicast/port", "groups/group[1]/ip",
        "groups/group[@x]/uuid[2]", "a/b/c", "@key", "x[", "",
    };
    static bool registered;
    struct vf_conf *c1 = NULL, *c2 = NULL;
    char err[512];
    char *w1, *w2;
    size_t l1, l2;
    unsigned long v;
    FILE *devnull;
    int r;

    if (!registered) {
        FUZZ_ASSERT(vf_registry_init(NULL) == 0);
        registered = true;
    }
    err[0] = '\0';
    r = vf_conf_parse_buffer("fuzz.conf", (const char *)data, size, &c1, err, sizeof(err));
    if (r != 0) {
        FUZZ_ASSERT(c1 == NULL);
        FUZZ_ASSERT(err[0] != '\0');
        return 0;
    }
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        (void)vf_conf_get(c1, paths[i], NULL);
        (void)vf_conf_block(c1, NULL, paths[i]);
        (void)vf_conf_get_uint(c1, paths[i], 1, 65535, 1229, &v, err, sizeof(err));
    }
    devnull = fopen("/dev/null", "we");
    if (devnull != NULL) {
        (void)vf_conf_check(c1, devnull);
        fclose(devnull);
    }

    w1 = write_str(c1, &l1);
    if (l1 <= 1024 * 1024) {
        r = vf_conf_parse_buffer("fuzz.conf", w1, l1, &c2, err, sizeof(err));
        if (r != 0) {
            fprintf(stderr, "rewritten config does not parse: %s\n---\n%s\n---\n", err, w1);
        }
        FUZZ_ASSERT(r == 0);
        w2 = write_str(c2, &l2);
        if (l1 != l2 || memcmp(w1, w2, l1) != 0) {
            fprintf(stderr, "unstable rewrite:\n--- first\n%s\n--- second\n%s\n", w1, w2);
        }
        FUZZ_ASSERT(l1 == l2 && memcmp(w1, w2, l1) == 0);
        free(w2);
    }
    free(w1);
    vf_conf_free(c1);
    vf_conf_free(c2);
    return 0;
}
