/*
 * vmfence - daemon/groups.c: the groups ACL (see groups.h).
 *
 * Unlike fence-virt (D33), loading never stops at a malformed group and never
 * silently drops groups: a group without "ip" and "uuid" entries is a config
 * error naming FILE:LINE, so the daemon refuses to start (or keeps its old
 * configuration on reload).  Targets are matched against the resolved name
 * AND UUID of the domain (D29): a group naming a VM by name also allows
 * requests that address it by UUID, and vice versa.  Names compare
 * case-sensitively (as libvirt does), UUIDs ignoring case; the literal
 * string the client sent only counts when the domain could not be resolved.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conftree-node.h"
#include "groups.h"

struct group {
    char *name;
    char **ips;
    size_t n_ips;
    char **uuids;
    size_t n_uuids;
};

struct vf_groups {
    struct group *groups;
    size_t n_groups;
};

bool
vf_is_uuid(const char *s)
{
    static const int dash_at[] = { 8, 13, 18, 23 };
    size_t d = 0;

    if (s == NULL || strlen(s) != 36) {
        return false;
    }
    for (int i = 0; i < 36; i++) {
        if (d < 4 && i == dash_at[d]) {
            if (s[i] != '-') {
                return false;
            }
            d++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static void
group_done(struct group *gr)
{
    free(gr->name);
    for (size_t i = 0; i < gr->n_ips; i++) {
        free(gr->ips[i]);
    }
    free(gr->ips);
    for (size_t i = 0; i < gr->n_uuids; i++) {
        free(gr->uuids[i]);
    }
    free(gr->uuids);
}

struct vf_groups *
vf_groups_free(struct vf_groups *g)
{
    if (g == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < g->n_groups; i++) {
        group_done(&g->groups[i]);
    }
    free(g->groups);
    free(g);
    return NULL;
}

static int
strv_add(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));
    char *copy = NULL;

    if (nv == NULL) {
        return -ENOMEM;
    }
    *v = nv;
    copy = strdup(s);
    if (copy == NULL) {
        return -ENOMEM;
    }
    nv[(*n)++] = copy;
    return 0;
}

static int
load_group(const struct vf_conf *conf, const struct vf_conf_node *blk,
           size_t idx, struct group *gr, char *err, size_t err_len)
{
    char where[256];
    char label[64];
    int r = 0;

    for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
        if (n->is_block || n->value == NULL) {
            continue;   /* unknown nested blocks: confcheck warns */
        }
        if (strcasecmp(n->name, "name") == 0) {
            free(gr->name);
            gr->name = strdup(n->value);
            if (gr->name == NULL) {
                return -ENOMEM;
            }
        } else if (strcasecmp(n->name, "ip") == 0) {
            r = strv_add(&gr->ips, &gr->n_ips, n->value);
        } else if (strcasecmp(n->name, "uuid") == 0) {
            r = strv_add(&gr->uuids, &gr->n_uuids, n->value);
        }
        if (r < 0) {
            return r;
        }
    }
    if (gr->name == NULL && blk->value != NULL) {
        gr->name = strdup(blk->value);
    }
    if (gr->name == NULL) {
        snprintf(label, sizeof(label), "unnamed-%zu", idx);
        gr->name = strdup(label);
        if (gr->name == NULL) {
            return -ENOMEM;
        }
    }
    if (gr->n_ips == 0 && gr->n_uuids == 0) {
        snprintf(err, err_len,
                 "%s: error: group '%s' has no 'ip' and no 'uuid' entries "
                 "(it would grant nothing; fix or remove it)",
                 vf_conf_where(conf, blk, where, sizeof(where)), gr->name);
        return -EINVAL;
    }
    return 0;
}

int
vf_groups_load(const struct vf_conf *conf, struct vf_groups **ret_groups,
               char *err, size_t err_len)
{
    struct vf_groups *g = NULL;
    const struct vf_conf_node *groups_blk = NULL;
    char where[256];
    char where2[256];
    int r = 0;

    if (err_len > 0) {
        err[0] = '\0';
    }
    g = calloc(1, sizeof(*g));
    if (g == NULL) {
        return -ENOMEM;
    }
    if (conf != NULL && conf->root != NULL) {
        for (const struct vf_conf_node *n = conf->root->children; n != NULL; n = n->next) {
            if (!n->is_block || strcasecmp(n->name, "groups") != 0) {
                continue;
            }
            if (groups_blk != NULL) {
                snprintf(err, err_len,
                         "%s: error: second 'groups' block (the first is at %s); "
                         "merge them into one",
                         vf_conf_where(conf, n, where, sizeof(where)),
                         vf_conf_where(conf, groups_blk, where2, sizeof(where2)));
                r = -EINVAL;
                goto fail;
            }
            groups_blk = n;
        }
    }
    if (groups_blk != NULL) {
        for (const struct vf_conf_node *n = groups_blk->children; n != NULL; n = n->next) {
            struct group *ng = NULL;

            if (!n->is_block || strcasecmp(n->name, "group") != 0) {
                continue;
            }
            ng = realloc(g->groups, (g->n_groups + 1) * sizeof(*ng));
            if (ng == NULL) {
                r = -ENOMEM;
                goto fail;
            }
            g->groups = ng;
            memset(&g->groups[g->n_groups], 0, sizeof(*ng));
            g->n_groups++;
            r = load_group(conf, n, g->n_groups, &g->groups[g->n_groups - 1],
                           err, err_len);
            if (r < 0) {
                if (r == -ENOMEM) {
                    snprintf(err, err_len, "out of memory loading groups");
                }
                goto fail;
            }
        }
    }
    *ret_groups = g;
    return 0;
fail:
    vf_groups_free(g);
    return r;
}

bool
vf_groups_active(const struct vf_groups *g)
{
    return g != NULL && g->n_groups > 0;
}

unsigned int
vf_groups_count(const struct vf_groups *g)
{
    return g == NULL ? 0 : (unsigned int)g->n_groups;
}

/* Normalise an address to 16 bytes (IPv4 as v4-mapped); false if not an IP. */
static bool
ip_bytes(const char *s, unsigned char out[16])
{
    struct in_addr a4;

    if (inet_pton(AF_INET6, s, out) == 1) {
        return true;
    }
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = 0xff;
        out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return true;
    }
    return false;
}

/* Requester matching: IP addresses compare by value (so "::ffff:10.0.0.1"
 * equals "10.0.0.1" and case/compression of IPv6 do not matter); anything
 * else (vsock CIDs) compares as text, ignoring case. */
static bool
ip_match(const char *entry, const char *identity)
{
    unsigned char a[16];
    unsigned char b[16];

    if (ip_bytes(entry, a) && ip_bytes(identity, b)) {
        return memcmp(a, b, 16) == 0;
    }
    return strcasecmp(entry, identity) == 0;
}

static bool
group_has_source(const struct group *gr, const char *identity, bool src_is_domain)
{
    if (src_is_domain) {
        for (size_t i = 0; i < gr->n_uuids; i++) {
            if (strcasecmp(gr->uuids[i], identity) == 0) {
                return true;
            }
        }
        return false;
    }
    for (size_t i = 0; i < gr->n_ips; i++) {
        if (ip_match(gr->ips[i], identity)) {
            return true;
        }
    }
    return false;
}

/*
 * Does a group's "uuid" entry name the target string @s?  Text UUIDs compare
 * ignoring case (they are case-insensitive); anything else is a domain name,
 * and libvirt names are case-sensitive: "WEB1" is another domain than "web1",
 * so a case-insensitive match would let a group grant a VM it never named.
 */
static bool
target_eq(const char *entry, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return false;
    }
    if (vf_is_uuid(entry) && vf_is_uuid(s)) {
        return strcasecmp(entry, s) == 0;
    }
    return strcmp(entry, s) == 0;
}

bool
vf_groups_allowed(const struct vf_groups *g, const char *identity,
                  const char *literal, const char *name, const char *uuid)
{
    bool src_is_domain = false;
    /* once the domain is resolved, only what it really is counts: the
     * literal may be spelt differently, or name another domain than the
     * one the backend found */
    bool resolved = (name != NULL && name[0] != '\0') || (uuid != NULL && uuid[0] != '\0');

    if (!vf_groups_active(g)) {
        return true;
    }
    if (identity == NULL || identity[0] == '\0') {
        return false;
    }
    src_is_domain = vf_is_uuid(identity);
    for (size_t i = 0; i < g->n_groups; i++) {
        const struct group *gr = &g->groups[i];

        if (!group_has_source(gr, identity, src_is_domain)) {
            continue;
        }
        for (size_t j = 0; j < gr->n_uuids; j++) {
            if (resolved ? (target_eq(gr->uuids[j], name) || target_eq(gr->uuids[j], uuid)) :
                target_eq(gr->uuids[j], literal)) {
                return true;
            }
        }
    }
    return false;
}
