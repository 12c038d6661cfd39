/*
 * vmfence - daemon/tests/configure-driver.c: runs the interactive
 * configurator on its terminal, so that tests/test-configure can drive it
 * through a pseudo-terminal without needing fence_virtd's main().  The
 * plugins it knows are tests/conf-plugins.c: the real schemas, fake ops.
 *
 * Usage: configure-driver CONFIG_PATH [PLUGINS_TEXT]
 * Exit status: the return value of vf_configure_interactive() (0 written,
 * 1 not written), 2 on an error.
 */
#include <stdio.h>
#include <string.h>

#include "configure.h"
#include "registry.h"

int
main(int argc, char **argv)
{
    int r;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s CONFIG_PATH [PLUGINS_TEXT]\n", argv[0]);
        return 2;
    }
    /* the built-in plugins' schemas: REAL tables, FAKE ops (conf-plugins.c) */
    if (vf_registry_init(NULL) < 0) {
        fprintf(stderr, "configure: out of memory\n");
        return 2;
    }
    r = vf_configure_interactive(argv[1], argc == 3 ? argv[2] : NULL, stdin, stdout);
    vf_registry_fini();
    if (r < 0) {
        fprintf(stderr, "configure: %s\n", strerror(-r));
        return 2;
    }
    return r;
}
