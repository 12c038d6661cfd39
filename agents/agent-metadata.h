/*
 * vmfence - agents/agent-metadata.h: the metadata XML of fence_xvm and
 * fence_virt, written at build time.
 *
 * agent-metadata-gen.c is generated in the build directory by
 * `metadata/dump-metadata.c --c-source` (built here as gen-metadata): the
 * bytes lib/metadata.c writes with libxml2, as the agent would have written
 * them at run time.  `-o metadata` prints them, so the agent neither links
 * nor loads libxml2 (issue 9 item 4).  metadata/check-metadata.sh compares
 * the agents' output with the golden files.
 */
#ifndef VF_AGENT_METADATA_H
#define VF_AGENT_METADATA_H

#include <stddef.h>

/* the XML (NUL-terminated) and its length without the NUL */
extern const char vf_agent_metadata_xvm[];
extern const size_t vf_agent_metadata_xvm_len;
extern const char vf_agent_metadata_virt[];
extern const size_t vf_agent_metadata_virt_len;

#endif
