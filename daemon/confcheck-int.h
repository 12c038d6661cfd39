/*
 * vmfence - daemon/confcheck-int.h: what the parts of --check-config share
 * (confcheck.c: the schema and the checks of values; confcheck-security.c:
 * the security warnings).  Not for other modules: they use confcheck.h.
 */
#ifndef VF_CONFCHECK_INT_H
#define VF_CONFCHECK_INT_H

#include <stdbool.h>
#include <stdio.h>
#include "config.h"

struct vf_cc_ctx {
    const struct vf_conf *conf;
    FILE *diag;
    int errors;
    int warnings;
};

/* One diagnostic "FILE:LINE: error|warning: ..." for @node, counted in @c. */
void vf_cc_diag(struct vf_cc_ctx *c, const struct vf_conf_node *node, bool error,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* @s quoted for a message: at most 60 printable characters, into @buf. */
const char *vf_cc_shown(const char *s, char *buf, size_t buf_len);
/* The security warnings (confcheck-security.c). */
void vf_cc_check_security(struct vf_cc_ctx *c);

#endif
