/*
 * vmfence - metadata/dump-metadata.c: print an agent's metadata XML straight
 * from the library (vf_metadata_write), without the agent binary.
 *
 * Usage: dump-metadata fence_xvm|fence_virt
 * Used by check-metadata.sh and by "make regenerate".
 */
#include <stdio.h>
#include <string.h>

#include "metadata.h"

int
main(int argc, char **argv)
{
    enum vf_agent_kind kind;

    if (argc != 2 || (strcmp(argv[1], "fence_xvm") != 0
                      && strcmp(argv[1], "fence_virt") != 0)) {
        fprintf(stderr, "usage: dump-metadata fence_xvm|fence_virt\n");
        return 2;
    }
    kind = strcmp(argv[1], "fence_xvm") == 0 ? VF_AGENT_XVM : VF_AGENT_VIRT;
    if (vf_metadata_write(kind, stdout) < 0) {
        fprintf(stderr, "dump-metadata: cannot write the metadata\n");
        return 1;
    }
    return 0;
}
