/*
 * vmfence - daemon/backends/cpg-conf.c: the cpg backend's configuration.
 *
 * Reads backends/cpg (keys: see cpg.c and fence_virt.conf(5)) and builds,
 * for the local libvirt code, an in-memory backends/libvirt block holding
 * this block's URIs and reboot_powers_on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backends/cpg-int.h"


/* ---- configuration ------------------------------------------------------ */

static struct vf_conf_node *
cpg_node_new(const char *name, const char *value, bool is_block, unsigned int line)
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
        free(n->name);
        free(n->value);
        free(n);
        return NULL;
    }
    return n;
}

static void
cpg_node_free(struct vf_conf_node *n)
{
    while (n != NULL) {
        struct vf_conf_node *next = n->next;

        cpg_node_free(n->children);
        free(n->name);
        free(n->value);
        free(n);
        n = next;
    }
}

static void
cpg_lvconf_free(struct vf_conf *c)
{
    if (c == NULL) {
        return;
    }
    cpg_node_free(c->root);
    free(c->path);
    free(c);
}

static bool
cpg_is_uri_key(const char *name)
{
    const char *p;

    if (strncasecmp(name, "uri", 3) != 0) {
        return false;
    }
    for (p = name + 3; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    return true;
}

/**
 * Build an in-memory configuration "backends { libvirt { uri...; } }" from
 * the uri* and reboot_powers_on keys of backends/cpg, for the local
 * libvirt code.  No text is re-parsed, so any value survives unchanged.
 */
static int
cpg_make_lvconf(const struct vf_conf *conf, const struct vf_conf_node *blk,
                struct vf_conf **ret)
{
    struct vf_conf *c = calloc(1, sizeof(*c));
    struct vf_conf_node *backends, *lvb, **tail;
    const struct vf_conf_node *n;
    bool have_uri = false;

    if (c == NULL) {
        return -ENOMEM;
    }
    c->path = strdup(conf != NULL && conf->path != NULL ? conf->path : "(cpg)");
    c->root = cpg_node_new("", NULL, true, 0);
    if (c->path == NULL || c->root == NULL) {
        goto nomem;
    }
    backends = cpg_node_new("backends", NULL, true, blk != NULL ? blk->line : 0);
    if (backends == NULL) {
        goto nomem;
    }
    c->root->children = backends;
    lvb = cpg_node_new("libvirt", NULL, true, blk != NULL ? blk->line : 0);
    if (lvb == NULL) {
        goto nomem;
    }
    backends->children = lvb;
    tail = &lvb->children;
    for (n = blk != NULL ? blk->children : NULL; n != NULL; n = n->next) {
        struct vf_conf_node *cp;

        if (n->is_block || (!cpg_is_uri_key(n->name) &&
                            strcasecmp(n->name, "reboot_powers_on") != 0)) {
            continue;
        }
        if (strcasecmp(n->name, "uri") == 0) {
            have_uri = true;
        }
        cp = cpg_node_new(n->name, n->value != NULL ? n->value : "", false, n->line);
        if (cp == NULL) {
            goto nomem;
        }
        cp->col = n->col;
        *tail = cp;
        tail = &cp->next;
    }
    if (!have_uri) {
        struct vf_conf_node *cp = cpg_node_new("uri", CPG_DEFAULT_URI, false, 0);

        if (cp == NULL) {
            goto nomem;
        }
        vf_log(LOG_INFO, "cpg backend: no '" CPG_CONF_BLOCK "/uri' configured, using '%s'",
               CPG_DEFAULT_URI);
        *tail = cp;
    }
    *ret = c;
    return 0;
nomem:
    cpg_lvconf_free(c);
    return -ENOMEM;
}

void
cpg_conf_done(struct cpg_conf *c)
{
    cpg_lvconf_free(c->lv_conf);
    c->lv_conf = NULL;
}

/* fence_history: "pacemaker" (default) or "none" */
static int
cpg_conf_fence_history(const struct vf_conf *conf, struct cpg_conf *c, char *err, size_t err_len)
{
    const struct vf_conf_node *n;
    const char *v;
    char where[256];

    n = conf != NULL ? vf_conf_key(conf, NULL, CPG_CONF_BLOCK "/fence_history") : NULL;
    v = n != NULL && n->value != NULL ? n->value : "pacemaker";
    if (strcasecmp(v, "pacemaker") == 0) {
        c->fence_history = CPG_FH_PACEMAKER;
    } else if (strcasecmp(v, "none") == 0) {
        c->fence_history = CPG_FH_NONE;
    } else {
        snprintf(err, err_len, "%s: key 'fence_history': '%s' is not 'pacemaker' or 'none'",
                 vf_conf_where(conf, n, where, sizeof(where)), v);
        return -EINVAL;
    }
    return 0;
}

/**
 * Read backends/cpg (see the top of cpg.c).
 * \return 0, -EINVAL with "FILE:LINE: ..." in @err, -ENOMEM
 */
int
cpg_conf_read(const struct vf_conf *conf, struct cpg_conf *ret, char *err, size_t err_len)
{
    struct cpg_conf c;
    const struct vf_conf_node *blk = NULL, *n = NULL;
    const char *v;
    char where[256];
    unsigned long secs = 10;
    int r;

    memset(&c, 0, sizeof(c));
    if (conf != NULL) {
        blk = vf_conf_block(conf, NULL, CPG_CONF_BLOCK);
        n = vf_conf_key(conf, NULL, CPG_CONF_BLOCK "/name_mode");
        if (n == NULL) {
            n = vf_conf_key(conf, NULL, "fence_virtd/name_mode");
        }
    }
    v = n != NULL && n->value != NULL ? n->value : "name";
    if (strcasecmp(v, "uuid") == 0) {
        c.uuid_mode = true;
    } else if (strcasecmp(v, "name") != 0) {
        snprintf(err, err_len, "%s: key 'name_mode': '%s' is not 'name' or 'uuid'",
                 vf_conf_where(conf, n, where, sizeof(where)), v);
        return -EINVAL;
    }
    n = conf != NULL ? vf_conf_key(conf, NULL, CPG_CONF_BLOCK "/group") : NULL;
    v = n != NULL && n->value != NULL ? n->value : CPG_DEFAULT_GROUP;
    if (v[0] == '\0' || strlen(v) >= sizeof(c.group)) {
        snprintf(err, err_len, "%s: key 'group': the CPG group name must have 1 to %zu characters",
                 vf_conf_where(conf, n, where, sizeof(where)), sizeof(c.group) - 1);
        return -EINVAL;
    }
    snprintf(c.group, sizeof(c.group), "%s", v);
    if (conf != NULL) {
        r = vf_conf_get_uint(conf, CPG_CONF_BLOCK "/reply_timeout", 1, 600, 10, &secs,
                             err, err_len);
        if (r < 0) {
            return r;
        }
    }
    c.reply_timeout_ms = (int)secs * 1000;
    r = cpg_conf_fence_history(conf, &c, err, err_len);
    if (r < 0) {
        return r;
    }
    r = cpg_make_lvconf(conf, blk, &c.lv_conf);
    if (r < 0) {
        snprintf(err, err_len, "cpg backend: out of memory");
        return r;
    }
    *ret = c;
    return 0;
}

