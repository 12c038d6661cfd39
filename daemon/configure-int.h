/*
 * vmfence - daemon/configure-int.h: what the parts of fence_virtd -c share
 * (configure.c: the flow and the file; configure-ask.c: questions, tree
 * edits and the questions of a settings schema; configure-groups.c: the
 * groups).  Not for other modules: they use configure.h.
 */
#ifndef VF_CONFIGURE_INT_H
#define VF_CONFIGURE_INT_H

#include <stdbool.h>
#include <stdio.h>
#include "conftree.h"
#include "conftree-node.h"
#include "plugin.h"

#define VF_CFG_ANSWER_MAX 1024
#define VF_CFG_MAX_TRIES  5
#define VF_CFG_ABORT      1     /* stop, nothing written */

struct vf_cfg_io {
    FILE *in;
    FILE *out;
};

/* ---- tree edits: vf_conf_set() & co. in conftree.h; and (configure-ask.c): ---- */
/* Non-empty value of key @name, or @def. */
const char *vf_cfg_get(struct vf_conf_node *blk, const char *name, const char *def);

/* ---- questions (configure-ask.c): 0, VF_CFG_ABORT (end of input) or -errno ---- */
void vf_cfg_trim(char *s);
/* "Text [default]: " -> @ans (the default when the answer is empty). */
int vf_cfg_ask(struct vf_cfg_io *io, const char *text, const char *def, char *ans, size_t len);
/* "Text [y/N]? "; anything but y/yes/n/no is the default. */
int vf_cfg_ask_yn(struct vf_cfg_io *io, const char *text, bool def, bool *ret);
/* "Too many invalid answers" and VF_CFG_ABORT. */
int vf_cfg_too_many(struct vf_cfg_io *io);
/* The questions of @schema (its intro, then every VF_SF_ASK setting). */
int vf_cfg_ask_schema(struct vf_cfg_io *io, struct vf_conf_node *blk,
                      const struct vf_schema *schema);

/* ---- groups (configure-groups.c) ---- */
int vf_cfg_groups(struct vf_cfg_io *io, struct vf_conf *conf);

#endif
