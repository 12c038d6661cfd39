/*
 * vmfence - daemon/configure.h: the interactive configurator (fence_virtd -c).
 */
#ifndef VF_CONFIGURE_H
#define VF_CONFIGURE_H

#include <stdio.h>

/*
 * Ask the questions on @out, read answers from @in, edit the config at
 * @path (keeping its comments and order), show the result and, when
 * confirmed, write it atomically with mode 0600.  @plugins_desc is the text
 * to show for "Available listeners/backends" (may be NULL).
 * Returns 0 when written, 1 when not written (declined), negative errno on
 * error.
 */
int vf_configure_interactive(const char *path, const char *plugins_desc,
                             FILE *in, FILE *out);

#endif
