/*
 * vmfence - daemon/conftree-int.h: what conftree.c and conftree-parse.c share
 * (messages quoting configuration text).  Not for other modules.
 */
#ifndef VF_CONFTREE_INT_H
#define VF_CONFTREE_INT_H

#include <stddef.h>

#define VF_CONF_SHOW_MAX 40u    /* bytes of a token quoted in a message */

/* Quote @s (at most VF_CONF_SHOW_MAX bytes, control characters as '?') into @buf. */
const char *vf_conf_show(const char *s, size_t n, char *buf, size_t buf_len);

#endif
