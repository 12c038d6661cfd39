/*
 * vmfence - metadata/dump-metadata.c: print an agent's metadata XML straight
 * from the library (vf_metadata_write), without the agent binary.
 *
 * Usage: dump-metadata fence_xvm|fence_virt|fence_xenapi
 * Used by check-metadata.sh and by "make regenerate".
 */
#include <stdio.h>
#include <string.h>

#include "metadata.h"
#include "xenapi/options.h"

int
main(int argc, char **argv)
{
    const struct vf_fa_agent *a = NULL;

    if (argc == 2 && strcmp(argv[1], "fence_xvm") == 0) {
        a = vf_agent_def(VF_AGENT_XVM);
    } else if (argc == 2 && strcmp(argv[1], "fence_virt") == 0) {
        a = vf_agent_def(VF_AGENT_VIRT);
    } else if (argc == 2 && strcmp(argv[1], "fence_xenapi") == 0) {
        a = vf_xenapi_agent();
    } else {
        fprintf(stderr, "usage: dump-metadata fence_xvm|fence_virt|fence_xenapi\n");
        return 2;
    }
    if (vf_fa_metadata_write(a, stdout) < 0) {
        fprintf(stderr, "dump-metadata: cannot write the metadata\n");
        return 1;
    }
    return 0;
}
