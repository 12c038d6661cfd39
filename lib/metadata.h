/*
 * vmfence - lib/metadata.h: agent metadata XML from the option table.
 */
#ifndef VF_METADATA_H
#define VF_METADATA_H

#include <stdio.h>
#include "opts.h"

/* Write the <resource-agent> metadata of @kind with libxml2's writer
 * (dlopen()ed on first use, lib/xml-dl.h). */
int vf_metadata_write(enum vf_agent_kind kind, FILE *out);
/* Write the man page OPTIONS section (roff) of @kind. */
int vf_manopts_write(enum vf_agent_kind kind, FILE *out);

#endif
