/*
 * vmfence - daemon/backends/libvirt-conf.c: the libvirt backend's configuration.
 *
 * Block backends/libvirt: uri (default qemu:///system, logged), uri1,
 * uri2, ... (contiguous numbering, at most LV_MAX_URIS in all) and
 * reboot_powers_on (yes / no).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conftree.h"
#include "log.h"
#include "libvirt-int.h"

void
lv_conf_done(struct lv_conf *c)
{
    size_t i;

    if (c == NULL) {
        return;
    }
    for (i = 0; i < c->n_uris; i++) {
        free(c->uris[i]);
    }
    free(c->uris);
    c->uris = NULL;
    c->n_uris = 0;
}

static int
lv_parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = { "yes", "y", "true", "on", "1" };
    static const char *const no[] = { "no", "n", "false", "off", "0" };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* "uri" -> 0, "uri7" -> 7, anything else -> -1 */
static long
lv_uri_key_index(const char *name)
{
    const char *p;
    long n = 0;

    if (strncasecmp(name, "uri", 3) != 0) {
        return -1;
    }
    p = name + 3;
    if (*p == '\0') {
        return 0;
    }
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || n > 100000) {
            return -1;
        }
        n = n * 10 + (*p - '0');
    }
    return n;
}

/**
 * Read backends/libvirt: uri (default qemu:///system, logged), uri1, uri2,
 * ... (contiguous, at most LV_MAX_URIS in all) and reboot_powers_on.
 *
 * \param[in]  conf  parsed configuration (NULL: all defaults)
 * \param[out] ret   filled on success
 * \return 0, -EINVAL with a message naming file:line in @err, -ENOMEM
 */
int
lv_conf_read(const struct vf_conf *conf, struct lv_conf *ret, char *err, size_t err_len)
{
    struct lv_conf c = { 0 };
    const struct vf_conf_node *blk = NULL, *n;
    const char *v;
    char where[256], key[32];
    long idx, max_idx = 0;
    int r = 0;

    if (conf != NULL) {
        blk = vf_conf_block(conf, NULL, LV_CONF_BLOCK);
    }
    /* find the highest uriN and reject unknown numbering */
    for (n = vf_conf_first(blk); n != NULL; n = vf_conf_next(n)) {
        if (vf_conf_is_block(n)) {
            continue;
        }
        idx = lv_uri_key_index(vf_conf_name(n));
        if (idx < 0) {
            continue;
        }
        if (idx > LV_MAX_URIS - 1) {
            snprintf(err, err_len, "%s: key '%s': at most %d libvirt URIs are supported",
                     vf_conf_where(conf, n, where, sizeof(where)), vf_conf_name(n), LV_MAX_URIS);
            r = -EINVAL;
            goto out;
        }
        if (vf_conf_value(n) == NULL || vf_conf_value(n)[0] == '\0') {
            snprintf(err, err_len, "%s: key '%s': empty libvirt URI",
                     vf_conf_where(conf, n, where, sizeof(where)), vf_conf_name(n));
            r = -EINVAL;
            goto out;
        }
        if (idx > max_idx) {
            max_idx = idx;
        }
    }
    c.uris = calloc((size_t)max_idx + 1, sizeof(*c.uris));
    if (c.uris == NULL) {
        r = -ENOMEM;
        goto out;
    }
    n = blk != NULL ? vf_conf_key(conf, blk, "uri") : NULL;
    v = vf_conf_value(n);
    if (v == NULL) {
        vf_log(LOG_INFO, "libvirt backend: no '" LV_CONF_BLOCK "/uri' configured, using '%s'",
               LV_DEFAULT_URI);
        v = LV_DEFAULT_URI;
    }
    c.uris[c.n_uris] = strdup(v);
    if (c.uris[c.n_uris] == NULL) {
        r = -ENOMEM;
        goto out;
    }
    c.n_uris++;
    for (idx = 1; idx <= max_idx; idx++) {
        snprintf(key, sizeof(key), "uri%ld", idx);
        n = vf_conf_key(conf, blk, key);
        if (vf_conf_value(n) == NULL) {
            snprintf(key, sizeof(key), "uri%ld", max_idx);
            n = vf_conf_key(conf, blk, key);
            snprintf(err, err_len,
                     "%s: key '%s' is set but 'uri%ld' is missing (numbering must be contiguous)",
                     vf_conf_where(conf, n, where, sizeof(where)), key, idx);
            r = -EINVAL;
            goto out;
        }
        c.uris[c.n_uris] = strdup(vf_conf_value(n));
        if (c.uris[c.n_uris] == NULL) {
            r = -ENOMEM;
            goto out;
        }
        c.n_uris++;
    }
    n = blk != NULL ? vf_conf_key(conf, blk, "reboot_powers_on") : NULL;
    if (vf_conf_value(n) != NULL && lv_parse_bool(vf_conf_value(n), &c.reboot_powers_on) < 0) {
        snprintf(err, err_len, "%s: key 'reboot_powers_on': '%s' is not yes or no",
                 vf_conf_where(conf, n, where, sizeof(where)), vf_conf_value(n));
        r = -EINVAL;
        goto out;
    }
    *ret = c;
    c = (struct lv_conf){ 0 };
out:
    lv_conf_done(&c);
    return r;
}
