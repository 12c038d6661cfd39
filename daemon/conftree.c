/*
 * vmfence - daemon/conftree.c: the fence_virt.conf tree (config.h): freeing,
 * building and editing it, and the query API (paths "a/b[2]/c", the last
 * match wins, names compare case-insensitively, "FILE:LINE" of every node).
 * The language is parsed by config-parse.c and written back by
 * config-write.c.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "conftree.h"
#include "conftree-node.h"
#include "conftree-int.h"
#include "log.h"

/* ---- messages (conftree-int.h; errors are written with vf_msgf(), log.h) --- */

/* Quote @s (at most VF_CONF_SHOW_MAX bytes, control characters as '?') into @buf. */
const char *
vf_conf_show(const char *s, size_t n, char *buf, size_t buf_len)
{
    size_t i, o = 0;
    bool cut = n > VF_CONF_SHOW_MAX;

    if (cut) {
        n = VF_CONF_SHOW_MAX;
    }
    for (i = 0; i < n && o + 5 < buf_len; i++) {
        unsigned char c = (unsigned char)s[i];

        buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (cut && o + 4 < buf_len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- freeing ------------------------------------------------------------------ */

void
vf_conf_node_free(struct vf_conf_node *n)
{
    while (n != NULL) {
        struct vf_conf_node *next = n->next;

        vf_conf_node_free(n->children);
        VF_FREE_ALL(n->name, n->value, n->comment, n->eol_comment, n->end_comment, n);
        n = next;
    }
}

struct vf_conf *
vf_conf_free(struct vf_conf *conf)
{
    if (conf == NULL) {
        return NULL;
    }
    vf_conf_node_free(conf->root);
    VF_FREE_ALL(conf->path, conf->trailing_comment, conf);
    return NULL;
}

/* ---- building and editing trees (cpg, configure, privsep hand-over) -------- */

struct vf_conf_node *
vf_conf_node_new(const char *name, const char *value, bool is_block, unsigned int line)
{
    struct vf_conf_node *n = calloc(1, sizeof(*n));

    if (n == NULL) {
        return NULL;
    }
    n->name = strdup(name);
    n->value = value != NULL ? strdup(value) : NULL;
    n->is_block = is_block;
    n->line = line;
    if (n->name == NULL || (value != NULL && n->value == NULL)) {
        vf_conf_node_free(n);
        return NULL;
    }
    return n;
}

struct vf_conf_node *
vf_conf_node_append(struct vf_conf_node *parent, struct vf_conf_node *n)
{
    struct vf_conf_node **pp = &parent->children;

    while (*pp != NULL) {
        pp = &(*pp)->next;
    }
    *pp = n;
    return n;
}

struct vf_conf *
vf_conf_new(const char *path)
{
    struct vf_conf *conf = calloc(1, sizeof(*conf));

    if (conf == NULL) {
        return NULL;
    }
    conf->path = strdup(path);
    conf->root = vf_conf_node_new("", NULL, true, 0);
    if (conf->path == NULL || conf->root == NULL) {
        return vf_conf_free(conf);
    }
    return conf;
}

struct vf_conf_node *
vf_conf_add(struct vf_conf *conf, struct vf_conf_node *parent, const char *name,
            const char *value, bool is_block, unsigned int line)
{
    struct vf_conf_node *n = vf_conf_node_new(name, value, is_block, line);

    if (n == NULL) {
        return NULL;
    }
    return vf_conf_node_append(parent != NULL ? parent : conf->root, n);
}

struct vf_conf_node *
vf_conf_child(struct vf_conf_node *parent, const char *name, bool is_block)
{
    struct vf_conf_node *found = NULL;

    for (struct vf_conf_node *n = parent->children; n != NULL; n = n->next) {
        if (n->is_block == is_block && strcasecmp(n->name, name) == 0) {
            found = n;
        }
    }
    return found;
}

struct vf_conf_node *
vf_conf_block_ensure(struct vf_conf_node *parent, const char *name)
{
    struct vf_conf_node *b = vf_conf_child(parent, name, true);

    if (b == NULL) {
        b = vf_conf_node_new(name, NULL, true, 0);
        if (b != NULL) {
            vf_conf_node_append(parent, b);
        }
    }
    return b;
}

int
vf_conf_set(struct vf_conf_node *blk, const char *name, const char *value)
{
    struct vf_conf_node *k = vf_conf_child(blk, name, false);
    char *v = NULL;

    if (k == NULL) {
        k = vf_conf_node_new(name, value, false, 0);
        if (k == NULL) {
            return -ENOMEM;
        }
        vf_conf_node_append(blk, k);
        return 0;
    }
    v = strdup(value);
    if (v == NULL) {
        return -ENOMEM;
    }
    free(k->value);
    k->value = v;
    return 0;
}

void
vf_conf_unset(struct vf_conf_node *parent, const char *name, bool is_block)
{
    struct vf_conf_node **pp = &parent->children;

    while (*pp != NULL) {
        struct vf_conf_node *n = *pp;

        if (n->is_block != is_block || strcasecmp(n->name, name) != 0) {
            pp = &n->next;
            continue;
        }
        *pp = n->next;
        if (n->comment != NULL && n->next != NULL && n->next->comment == NULL) {
            n->next->comment = n->comment;
            n->comment = NULL;
        }
        n->next = NULL;
        vf_conf_node_free(n);
    }
}

/* ---- queries ------------------------------------------------------------- */

/* One path component: name, optional [N] (1-based, file order) or [@value]. */
struct comp {
    const char *name;
    size_t name_len;
    unsigned long index;        /* 0 = last match */
    const char *sel;            /* [@value] */
    size_t sel_len;
};

/* Split the component at @s (length @n); false if malformed. */
static bool
comp_parse(const char *s, size_t n, struct comp *c)
{
    const char *br = memchr(s, '[', n);

    memset(c, 0, sizeof(*c));
    if (n > 0 && s[0] == '@') {
        s++;
        n--;
        br = memchr(s, '[', n);
    }
    c->name = s;
    c->name_len = br != NULL ? (size_t)(br - s) : n;
    if (c->name_len == 0) {
        return false;
    }
    if (br != NULL) {
        const char *in = br + 1;
        size_t in_len = (size_t)(s + n - in);

        if (in_len < 2 || in[in_len - 1] != ']') {
            return false;
        }
        in_len--;
        if (in[0] == '@') {
            c->sel = in + 1;
            c->sel_len = in_len - 1;
        } else {
            unsigned long v = 0;

            for (size_t i = 0; i < in_len; i++) {
                if (!isdigit((unsigned char)in[i]) || v > 100000000ul) {
                    return false;
                }
                v = v * 10 + (unsigned long)(in[i] - '0');
            }
            if (v == 0) {
                return false;
            }
            c->index = v;
        }
    }
    return true;
}

static const struct vf_conf_node *
comp_find(const struct vf_conf_node *parent, const struct comp *c, bool want_block)
{
    const struct vf_conf_node *found = NULL;
    unsigned long seen = 0;

    for (const struct vf_conf_node *n = parent->children; n != NULL; n = n->next) {
        if (n->is_block != want_block || strlen(n->name) != c->name_len ||
            strncasecmp(n->name, c->name, c->name_len) != 0) {
            continue;
        }
        if (c->sel != NULL) {
            if (n->value == NULL || strlen(n->value) != c->sel_len ||
                strncmp(n->value, c->sel, c->sel_len) != 0) {
                continue;
            }
        }
        seen++;
        if (c->index != 0) {
            if (seen == c->index) {
                return n;
            }
            continue;
        }
        found = n;
    }
    return found;
}

/* Walk @path; with @last_is_key the final component names an assignment. */
static const struct vf_conf_node *
walk(const struct vf_conf *conf, const struct vf_conf_node *from, const char *path,
     bool last_is_key)
{
    const struct vf_conf_node *cur;
    const char *s = path;

    if (from == NULL) {
        if (conf == NULL) {
            return NULL;
        }
        from = conf->root;
    }
    cur = from;
    if (cur == NULL || path == NULL) {
        return last_is_key ? NULL : cur;
    }
    while (*s == '/') {
        s++;
    }
    if (*s == '\0') {
        return last_is_key ? NULL : cur;
    }
    while (cur != NULL && *s != '\0') {
        const char *end = s;
        struct comp c;
        bool last;

        /* a '/' inside [@...] does not split */
        while (*end != '\0' && *end != '/') {
            if (*end == '[') {
                const char *close = strchr(end, ']');

                if (close == NULL) {
                    return NULL;
                }
                end = close;
            }
            end++;
        }
        last = true;
        for (const char *t = end; *t != '\0'; t++) {
            if (*t != '/') {
                last = false;
                break;
            }
        }
        if (!comp_parse(s, (size_t)(end - s), &c)) {
            return NULL;
        }
        cur = comp_find(cur, &c, !(last && last_is_key));
        s = end;
        while (*s == '/') {
            s++;
        }
    }
    return cur;
}

const struct vf_conf_node *
vf_conf_block(const struct vf_conf *conf, const struct vf_conf_node *from,
              const char *path)
{
    return walk(conf, from, path, false);
}

const struct vf_conf_node *
vf_conf_key(const struct vf_conf *conf, const struct vf_conf_node *from,
            const char *path)
{
    return walk(conf, from, path, true);
}

/*
 * Value of the assignment at @path.  An empty value ("", a vmfence
 * extension) counts as "not set": @def is returned for it too.
 */
const char *
vf_conf_get(const struct vf_conf *conf, const char *path, const char *def)
{
    const struct vf_conf_node *n = vf_conf_key(conf, NULL, path);

    if (n == NULL || n->value == NULL || n->value[0] == '\0') {
        return def;
    }
    return n->value;
}

/* Walking a tree without its layout (conftree.h: opaque to plugins). */
const struct vf_conf_node *
vf_conf_first(const struct vf_conf_node *blk)
{
    return blk != NULL && blk->is_block ? blk->children : NULL;
}

const struct vf_conf_node *
vf_conf_next(const struct vf_conf_node *n)
{
    return n != NULL ? n->next : NULL;
}

bool
vf_conf_is_block(const struct vf_conf_node *n)
{
    return n != NULL && n->is_block;
}

const char *
vf_conf_name(const struct vf_conf_node *n)
{
    return n != NULL ? n->name : NULL;
}

const char *
vf_conf_value(const struct vf_conf_node *n)
{
    return n != NULL ? n->value : NULL;
}

unsigned int
vf_conf_line(const struct vf_conf_node *n)
{
    return n != NULL ? n->line : 0;
}

const char *
vf_conf_file(const struct vf_conf *conf)
{
    return conf != NULL ? conf->path : NULL;
}

const char *
vf_conf_where(const struct vf_conf *conf, const struct vf_conf_node *node,
              char *buf, size_t buf_len)
{
    const char *name = conf != NULL && conf->path != NULL ? conf->path : "(config)";

    if (buf == NULL || buf_len == 0) {
        return "";
    }
    if (node != NULL && node->line > 0) {
        snprintf(buf, buf_len, "%s:%u", name, node->line);
    } else {
        snprintf(buf, buf_len, "%s", name);
    }
    return buf;
}

int
vf_conf_get_uint(const struct vf_conf *conf, const char *path,
                 unsigned long min, unsigned long max, unsigned long def,
                 unsigned long *ret, char *err, size_t err_len)
{
    const struct vf_conf_node *n = vf_conf_key(conf, NULL, path);
    char where[PATH_MAX + 32];
    char shown[VF_CONF_SHOW_MAX + 8];
    const char *s, *e;
    unsigned long v = 0;
    bool overflow = false;

    if (n == NULL || n->value == NULL || n->value[0] == '\0') {
        if (ret != NULL) {
            *ret = def;
        }
        return 0;
    }
    vf_conf_where(conf, n, where, sizeof(where));
    vf_conf_show(n->value, strlen(n->value), shown, sizeof(shown));
    /* decimal digits, surrounding blanks tolerated (the reference used atoi) */
    s = n->value;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    e = s;
    while (isdigit((unsigned char)*e)) {
        if (v > (ULONG_MAX - 9) / 10) {
            overflow = true;
        } else {
            v = v * 10 + (unsigned long)(*e - '0');
        }
        e++;
    }
    if (e == s) {
        vf_msgf(err, err_len, "%s: '%s' = '%s' is not a number", where, path, shown);
        return -EINVAL;
    }
    while (*e == ' ' || *e == '\t' || *e == '\n') {
        e++;
    }
    if (*e != '\0') {
        vf_msgf(err, err_len, "%s: '%s' = '%s' is not a number", where, path, shown);
        return -EINVAL;
    }
    if (overflow || v < min || v > max) {
        vf_msgf(err, err_len, "%s: '%s' = '%s' is out of range %lu..%lu",
                where, path, shown, min, max);
        return -ERANGE;
    }
    if (ret != NULL) {
        *ret = v;
    }
    return 0;
}

