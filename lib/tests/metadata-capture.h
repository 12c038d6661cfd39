/*
 * vmfence - lib/tests/metadata-capture.h: what the metadata tests
 * (test-metadata.c, test-xml-dl.c) share: run a metadata or man page
 * writer into a memory buffer.  Nothing is faked.
 */
#ifndef VF_TEST_METADATA_CAPTURE_H
#define VF_TEST_METADATA_CAPTURE_H

#include <errno.h>
#include <stdio.h>

#include "metadata.h"

/* run @fn for @kind into a memory buffer, its result in *@ret_rc;
 * \return the malloc'ed text, or NULL when no buffer could be opened */
static inline char *
capture(int (*fn)(enum vf_agent_kind, FILE *), enum vf_agent_kind kind, int *ret_rc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL) {
        *ret_rc = -errno;
        return NULL;
    }
    *ret_rc = fn(kind, f);
    fclose(f);
    return text;
}

#endif
