/*
 * vmfence - daemon/configure-groups.c: the groups questions of fence_virtd -c
 * (keep the existing groups or not, add new ones: a name, the requesters
 * and the domains each group may fence).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "configure-int.h"

#define MAX_GROUPS 16

static bool
is_requester(const char *s)
{
    unsigned char bin[16];
    char *end = NULL;
    unsigned long v;

    if (inet_pton(AF_INET, s, bin) == 1 || inet_pton(AF_INET6, s, bin) == 1) {
        return true;
    }
    if (!isdigit((unsigned char)s[0])) {
        return false;
    }
    errno = 0;
    v = strtoul(s, &end, 10);
    return errno == 0 && end != NULL && *end == '\0' && v <= UINT32_MAX;
}

/* Comma-separated answer -> one @key entry per element; *ret_n = count. */
static int
add_entries(struct vf_conf_node *g, const char *key, const char *answer, unsigned int *ret_n)
{
    char buf[VF_CFG_ANSWER_MAX];
    char *save = NULL;

    *ret_n = 0;
    snprintf(buf, sizeof(buf), "%s", answer);
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        struct vf_conf_node *n;

        vf_cfg_trim(tok);
        if (tok[0] == '\0') {
            continue;
        }
        n = vf_conf_node_new(key, tok, false, 0);
        if (n == NULL) {
            return -ENOMEM;
        }
        vf_conf_node_append(g, n);
        (*ret_n)++;
    }
    return 0;
}

static int
ask_group(struct vf_cfg_io *io, struct vf_conf *conf, unsigned int index)
{
    char name[VF_CFG_ANSWER_MAX], ips[VF_CFG_ANSWER_MAX], tgts[VF_CFG_ANSWER_MAX], def[32];
    struct vf_conf_node *gs, *g;
    unsigned int n_ip = 0, n_tgt = 0;
    int r;

    snprintf(def, sizeof(def), "group%u", index);
    r = vf_cfg_ask(io, "Group name", def, name, sizeof(name));
    if (r != 0) {
        return r;
    }
    for (int t = 0; ; t++) {
        char buf[VF_CFG_ANSWER_MAX];
        char *save = NULL;
        bool ok = true;

        if (t == VF_CFG_MAX_TRIES) {
            return vf_cfg_too_many(io);
        }
        r = vf_cfg_ask(io, "Requesters: IP addresses or vsock CIDs (comma-separated)", NULL, ips,
                sizeof(ips));
        if (r != 0) {
            return r;
        }
        snprintf(buf, sizeof(buf), "%s", ips);
        for (char *tok = strtok_r(buf, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            vf_cfg_trim(tok);
            if (tok[0] != '\0' && !is_requester(tok)) {
                fprintf(io->out, "'%s' is neither an IP address nor a vsock CID.\n", tok);
                ok = false;
            }
        }
        if (ok) {
            break;
        }
    }
    r = vf_cfg_ask(io, "Domains this group may fence: names and/or UUIDs (comma-separated)", NULL,
            tgts, sizeof(tgts));
    if (r != 0) {
        return r;
    }
    gs = vf_conf_block_ensure(conf->root, "groups");
    g = gs != NULL ? vf_conf_node_new("group", NULL, true, 0) : NULL;
    if (g == NULL) {
        return -ENOMEM;
    }
    r = vf_conf_set(g, "name", name);
    if (r == 0) {
        r = add_entries(g, "ip", ips, &n_ip);
    }
    if (r == 0) {
        r = add_entries(g, "uuid", tgts, &n_tgt);
    }
    if (r < 0 || n_tgt == 0) {
        if (r == 0) {
            fprintf(io->out, "A group without domains allows nothing; group '%s' not added.\n",
                    name);
        }
        vf_conf_node_free(g);
        return r;
    }
    vf_conf_node_append(gs, g);
    return 0;
}

int
vf_cfg_groups(struct vf_cfg_io *io, struct vf_conf *conf)
{
    struct vf_conf_node *gs = vf_conf_child(conf->root, "groups", true);
    unsigned int count = 0;
    bool yes = false;
    int r;

    fprintf(io->out,
            "\nGroups restrict which requesters may fence which domains.  A requester\n"
            "(IP address, vsock CID, or the UUID of the requesting domain for the\n"
            "serial listener) may fence the domains listed in its groups.  List both\n"
            "the name and the UUID of a domain if clients may use either.  Without\n"
            "groups, every requester may fence every domain.\n\n");
    if (gs != NULL) {
        for (struct vf_conf_node *g = gs->children; g != NULL; g = g->next) {
            unsigned int n_ip = 0, n_uuid = 0;
            const char *gname = NULL;

            if (!g->is_block) {
                continue;
            }
            count++;
            for (struct vf_conf_node *k = g->children; k != NULL; k = k->next) {
                if (k->is_block) {
                    continue;
                }
                if (strcasecmp(k->name, "ip") == 0) {
                    n_ip++;
                } else if (strcasecmp(k->name, "uuid") == 0) {
                    n_uuid++;
                } else if (strcasecmp(k->name, "name") == 0) {
                    gname = k->value;
                }
            }
            if (count == 1) {
                fprintf(io->out, "Existing groups:\n");
            }
            if (gname != NULL) {
                fprintf(io->out, "    '%s': %u requester(s), %u domain(s)\n", gname, n_ip, n_uuid);
            } else {
                fprintf(io->out, "    unnamed-%u: %u requester(s), %u domain(s)\n", count,
                        n_ip, n_uuid);
            }
        }
        r = vf_cfg_ask_yn(io, "Keep the existing groups", true, &yes);
        if (r != 0) {
            return r;
        }
        if (!yes) {
            vf_conf_unset(conf->root, "groups", true);
            count = 0;
        }
    }
    r = vf_cfg_ask_yn(io, "Add a group", false, &yes);
    for (unsigned int i = 0; r == 0 && yes; i++) {
        if (i == MAX_GROUPS) {
            fprintf(io->out, "No more groups in this session; edit the file for more.\n");
            break;
        }
        r = ask_group(io, conf, count + i + 1);
        if (r == 0) {
            r = vf_cfg_ask_yn(io, "Add another group", false, &yes);
        }
    }
    return r;
}
