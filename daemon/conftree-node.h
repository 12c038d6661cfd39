/*
 * vmfence - daemon/conftree-node.h: the layout of the config tree, for the
 * core only (conftree*.c, confcheck*.c, configure*.c, groups.c, listenset.c,
 * selfcheck*.c, privsep/handover.c and their tests).
 *
 * Plugins (daemon/listeners/, daemon/backends/) see struct vf_conf_node and
 * struct vf_conf as incomplete types and walk a tree through the accessors
 * of conftree.h (vf_conf_first, vf_conf_next, vf_conf_name, ...), so the
 * layout can change without breaking the plugin ABI.  Every plugin is also
 * built as a module with -DVF_PLUGIN_MODULE; the #error below makes a
 * plugin that includes this header fail to build.
 */
#ifndef VF_CONFTREE_NODE_H
#define VF_CONFTREE_NODE_H

#ifdef VF_PLUGIN_MODULE
#error "conftree-node.h is core-only: plugins use the accessors of conftree.h"
#endif

#include <stdbool.h>

#include "conftree.h"

struct vf_conf_node {
    char *name;                    /* identifier */
    char *value;                   /* assignment value, or named-block value; NULL otherwise */
    bool is_block;
    unsigned int line;
    unsigned int col;
    struct vf_conf_node *children; /* first child, file order (blocks only) */
    struct vf_conf_node *next;     /* next sibling, file order */
    char *comment;                 /* comment lines directly above (kept for -c rewrites) */
    char *eol_comment;             /* "# ..." on the same line, after ';' or '{' */
    char *end_comment;             /* blocks: comment lines just before the closing '}' */
};

struct vf_conf {
    char *path;                    /* file name used in messages */
    struct vf_conf_node *root;     /* virtual root block */
    char *trailing_comment;        /* comments after the last item */
};

#endif
