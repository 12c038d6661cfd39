/*
 * vmfence - daemon/config.h: the fence_virt.conf language.
 *
 * Parsed into a tree kept in FILE order (unlike the reference, which
 * reverses it).  Lookups are case-insensitive; for a repeated key or block
 * the LAST one in the file wins (reference semantics).  Every node records
 * its line and column so that consumers can name "file:line" in errors.
 */
#ifndef VF_CONFIG_H
#define VF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct vf_conf_node {
    char *name;                    /* identifier */
    char *value;                   /* assignment value, or named-block value; NULL otherwise */
    bool is_block;
    unsigned int line;
    unsigned int col;
    struct vf_conf_node *children; /* first child, file order (blocks only) */
    struct vf_conf_node *next;     /* next sibling, file order */
    char *comment;                 /* comment lines directly above (kept for -c rewrites) */
    /* Added by the config parser (H5); both kept for -c rewrites: */
    char *eol_comment;             /* "# ..." on the same line, after ';' or '{' */
    char *end_comment;             /* blocks: comment lines just before the closing '}' */
};

struct vf_conf {
    char *path;                    /* file name used in messages */
    struct vf_conf_node *root;     /* virtual root block */
    char *trailing_comment;        /* comments after the last item */
};

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

/* "FILE:LINE" for a node, into @buf. */
const char *vf_conf_where(const struct vf_conf *conf,
                          const struct vf_conf_node *node,
                          char *buf, size_t buf_len);

/* Serialise in file order with comments (for fence_virtd -c). */
int vf_conf_write(const struct vf_conf *conf, FILE *out);

#endif
