/*
 * vmfence - daemon/confcheck-int.h: what the parts of --check-config share
 * (confcheck.c: the sections and groups; confcheck-keys.c: a block checked
 * against a plugin's settings schema; confcheck-util.c: messages and
 * suggestions; confcheck-security.c: the security warnings).  Not for other
 * modules: they use confcheck.h.
 */
#ifndef VF_CONFCHECK_INT_H
#define VF_CONFCHECK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "conftree.h"
#include "conftree-node.h"
#include "plugin.h"

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
/* Closest of @cands within edit distance 2 (and shorter than itself), or NULL. */
const char *vf_cc_suggest(const char *word, const char *const *cands, size_t n_cands);
/* " (did you mean 'x'?)" or "" into @buf. */
const char *vf_cc_did_you_mean(const char *word, const char *const *cands, size_t n_cands,
                               char *buf, size_t buf_len);
bool vf_cc_is_digits(const char *s);
/* Decimal with optional surrounding blanks, as vf_conf_get_uint accepts:
 * 0, -EINVAL (not a number) or -ERANGE (above @max). */
int vf_cc_parse_uint(const char *s, unsigned long max, unsigned long *ret);
bool vf_cc_one_of(const char *v, const char *const *allowed);
size_t vf_cc_count(const char *const *words);
const struct vf_conf_node *vf_cc_last_child(const struct vf_conf_node *parent,
                                            const char *name, bool is_block);

/* Check the keys of block @blk (at @path, "listeners/tcp") against @schema:
 * unknown or repeated keys, empty values, types and ranges, numbered keys,
 * then the schema's check hook (confcheck-keys.c). */
void vf_cc_check_block(struct vf_cc_ctx *c, const struct vf_conf_node *blk, const char *path,
                       const struct vf_schema *schema);
/* The security warnings (confcheck-security.c). */
void vf_cc_check_security(struct vf_cc_ctx *c);

#endif
