/*
 * vmfence - daemon/conftree.h: the fence_virt.conf language.
 *
 * Parsed into a tree kept in FILE order (unlike the reference, which
 * reverses it).  Lookups are case-insensitive; for a repeated key or block
 * the LAST one in the file wins (reference semantics).  Every node records
 * its line and column so that consumers can name "file:line" in errors.
 */
#ifndef VF_CONFTREE_H
#define VF_CONFTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Both types are opaque outside the core: their layout lives in
 * conftree-node.h, which plugins (daemon/listeners/, daemon/backends/) must
 * not include; they read a tree only through the functions below.
 */
struct vf_conf_node;
struct vf_conf;

/*
 * Parse a file / buffer.  On a syntax error returns -EINVAL and writes
 * "FILE:LINE:COL: expected X, found Y" to @err.  -ENOENT/-EACCES for files
 * that cannot be opened (message in @err too).
 */
int vf_conf_parse_file(const char *path, struct vf_conf **ret_conf,
                       char *err, size_t err_len);
int vf_conf_parse_buffer(const char *name, const char *buf, size_t len,
                         struct vf_conf **ret_conf, char *err, size_t err_len);
struct vf_conf *vf_conf_free(struct vf_conf *conf);
/* Free @n, its following siblings and all their children (NULL-tolerant);
 * for tree editing (configure.c).  Added by review R2. */
void vf_conf_node_free(struct vf_conf_node *n);
/* A new node (copies of @name and @value, which may be NULL); NULL on ENOMEM.
 * For building or editing trees (configure, the cpg backend's libvirt block). */
struct vf_conf_node *vf_conf_node_new(const char *name, const char *value, bool is_block,
                                      unsigned int line);
/* An empty configuration named @path, to build one in memory; NULL on ENOMEM. */
struct vf_conf *vf_conf_new(const char *path);
/* Append a key (@value) or a block (@is_block, @value NULL or a block name)
 * as the last child of @parent (NULL: the root); the new node, NULL on ENOMEM. */
struct vf_conf_node *vf_conf_add(struct vf_conf *conf, struct vf_conf_node *parent,
                                 const char *name, const char *value, bool is_block,
                                 unsigned int line);
/* Last child named @name (case-insensitive) of the given kind, or NULL. */
struct vf_conf_node *vf_conf_child(struct vf_conf_node *parent, const char *name, bool is_block);
/* That block, appended when missing; NULL on ENOMEM. */
struct vf_conf_node *vf_conf_block_ensure(struct vf_conf_node *parent, const char *name);
/* Set key @name of @blk (the last one, which is the one that counts) or
 * append it: 0 or -ENOMEM. */
int vf_conf_set(struct vf_conf_node *blk, const char *name, const char *value);
/* Remove every child @name of the given kind; a comment above it moves on. */
void vf_conf_unset(struct vf_conf_node *parent, const char *name, bool is_block);
/* Append @n (and its following siblings) as the last child(ren) of @parent; returns @n. */
struct vf_conf_node *vf_conf_node_append(struct vf_conf_node *parent, struct vf_conf_node *n);

/* Block at a '/'-separated path ("listeners/tcp"), last match; NULL if none.
 * @from NULL = the root. */
const struct vf_conf_node *vf_conf_block(const struct vf_conf *conf,
                                         const struct vf_conf_node *from,
                                         const char *path);
/* Assignment node "a/b/key" (last match), NULL if none. */
const struct vf_conf_node *vf_conf_key(const struct vf_conf *conf,
                                       const struct vf_conf_node *from,
                                       const char *path);
/* Value of the assignment at path, or @def (also for an empty value ""). */
const char *vf_conf_get(const struct vf_conf *conf, const char *path,
                        const char *def);

/*
 * Checked number at path: -ERANGE / -EINVAL with "FILE:LINE: key 'k': ..."
 * in @err.  Absent key => *ret = def, return 0.
 */
int vf_conf_get_uint(const struct vf_conf *conf, const char *path,
                     unsigned long min, unsigned long max, unsigned long def,
                     unsigned long *ret, char *err, size_t err_len);

/*
 * Walking a block, for plugins and other readers that must not depend on
 * the layout of struct vf_conf_node (plugin.h: the tree is opaque to
 * plugins).  All are NULL-tolerant.
 */
const struct vf_conf_node *vf_conf_first(const struct vf_conf_node *blk);
const struct vf_conf_node *vf_conf_next(const struct vf_conf_node *n);
bool vf_conf_is_block(const struct vf_conf_node *n);
const char *vf_conf_name(const struct vf_conf_node *n);
/* The assignment's value (NULL for a block without one). */
const char *vf_conf_value(const struct vf_conf_node *n);
unsigned int vf_conf_line(const struct vf_conf_node *n);
/* The file name used in messages. */
const char *vf_conf_file(const struct vf_conf *conf);

/* "FILE:LINE" for a node, into @buf. */
const char *vf_conf_where(const struct vf_conf *conf,
                          const struct vf_conf_node *node,
                          char *buf, size_t buf_len);

/* Serialise in file order with comments (for fence_virtd -c); config-write.c. */
int vf_conf_write(const struct vf_conf *conf, FILE *out);

#endif
