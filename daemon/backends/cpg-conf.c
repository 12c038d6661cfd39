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
    const char *file = vf_conf_file(conf);
    struct vf_conf *c = vf_conf_new(file != NULL ? file : "(cpg)");
    struct vf_conf_node *backends = NULL, *lvb = NULL;
    bool have_uri = false;

    if (c != NULL) {
        backends = vf_conf_add(c, NULL, "backends", NULL, true, vf_conf_line(blk));
    }
    if (backends != NULL) {
        lvb = vf_conf_add(c, backends, "libvirt", NULL, true, vf_conf_line(blk));
    }
    if (lvb == NULL) {
        goto nomem;
    }
    for (const struct vf_conf_node *n = vf_conf_first(blk); n != NULL; n = vf_conf_next(n)) {
        const char *name = vf_conf_name(n);
        const char *value = vf_conf_value(n);

        if (vf_conf_is_block(n) || (!cpg_is_uri_key(name) &&
                                    strcasecmp(name, "reboot_powers_on") != 0)) {
            continue;
        }
        have_uri = have_uri || strcasecmp(name, "uri") == 0;
        if (vf_conf_add(c, lvb, name, value != NULL ? value : "", false, vf_conf_line(n)) ==
            NULL) {
            goto nomem;
        }
    }
    if (!have_uri) {
        if (vf_conf_add(c, lvb, "uri", CPG_DEFAULT_URI, false, 0) == NULL) {
            goto nomem;
        }
        vf_log(LOG_INFO, "cpg backend: no '" CPG_CONF_BLOCK "/uri' configured, using '%s'",
               CPG_DEFAULT_URI);
    }
    *ret = c;
    return 0;
nomem:
    vf_conf_free(c);
    return -ENOMEM;
}

void
cpg_conf_done(struct cpg_conf *c)
{
    vf_conf_free(c->lv_conf);
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
    v = vf_conf_value(n) != NULL ? vf_conf_value(n) : "pacemaker";
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
    v = vf_conf_value(n) != NULL ? vf_conf_value(n) : "name";
    if (strcasecmp(v, "uuid") == 0) {
        c.uuid_mode = true;
    } else if (strcasecmp(v, "name") != 0) {
        snprintf(err, err_len, "%s: key 'name_mode': '%s' is not 'name' or 'uuid'",
                 vf_conf_where(conf, n, where, sizeof(where)), v);
        return -EINVAL;
    }
    n = conf != NULL ? vf_conf_key(conf, NULL, CPG_CONF_BLOCK "/group") : NULL;
    v = vf_conf_value(n) != NULL ? vf_conf_value(n) : CPG_DEFAULT_GROUP;
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

