/*
 * vmfence - daemon/confcheck.c: validation of a parsed fence_virt.conf.
 *
 * The sections listeners/<name> and backends/<name> are checked against
 * the settings schema of the registered plugin of that name (plugin.h,
 * confcheck-keys.c), so a new plugin's keys are known without a line here;
 * this file knows only the daemon's own block (fence_virtd) and the groups.
 * Policy (documented in fence_virt.conf(5)):
 *   - unknown sections and keys outside groups: warning, with a "did you
 *     mean" suggestion when a known name is within edit distance 2;
 *   - anything unknown inside groups: error (an ACL typo must not pass);
 *     so is an unknown top-level section that looks like a mistyped
 *     "groups" (close to the name, or holding "group" blocks);
 *   - a value that cannot work (port out of range, unknown hash, address of
 *     the wrong family, missing interface, bad group entry): error;
 *   - no listener or no backend: error;
 *   - a repeated non-repeatable key or section: warning naming the one that
 *     is ignored (the last one wins); a repeated "groups" section: error,
 *     since half of an ACL would silently vanish;
 *   - numbered keys (uri, uri1, uri2, ...): a gap in the numbering is an
 *     error (the backends refuse it too), so is an empty URI;
 *   - an empty value "" means "not set" (vf_conf_get returns the default
 *     for it): warning for single-valued keys;
 *   - historical backends null, libvirt-qmf, pm-fence, checkpoint:
 *     warning "obsolete, ignored";
 *   - settings that weaken the protection of fencing: confcheck-security.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "confcheck.h"
#include "confcheck-int.h"
#include "registry.h"

#define MAX_PLUGINS 64

static const char *const name_modes[] = { "name", "uuid", NULL };
static const char *const obsolete_backends[] = {
    "null", "libvirt-qmf", "pm-fence", "checkpoint", NULL,
};
static const char *const top_sections[] = {
    "fence_virtd", "listeners", "backends", "groups", NULL,
};
static const char *const group_keys[] = { "name", "uuid", "ip", NULL };

static void fv_check(const struct vf_check *chk);

/* The daemon's own block. */
static const struct vf_setting fence_virtd_settings[] = {
    { "listener", VF_ST_LIST, NULL, 0, 0, NULL, "Listener module", 0, NULL, NULL },
    { "backend", VF_ST_STRING, NULL, 0, 0, NULL, "Backend module", 0, NULL, NULL },
    { "module_path", VF_ST_PATH, NULL, 0, 0, NULL, "Module search path", 0, NULL, NULL },
    { "debug", VF_ST_INT, "0", 0, INT_MAX, NULL, "Debug level", 0, NULL, NULL },
    { "foreground", VF_ST_INT, "0", 0, INT_MAX, NULL, "Stay in the foreground", 0, NULL, NULL },
    { "wait_for_init", VF_ST_INT, "0", 0, INT_MAX, NULL, "Seconds to wait for the backend",
      0, NULL, NULL },
    /* legacy alias of wait_for_init */
    { "wait_for_backend", VF_ST_INT, "0", 0, INT_MAX, NULL, "Seconds to wait for the backend",
      0, NULL, NULL },
    /* legacy location of backends/cpg/name_mode */
    { "name_mode", VF_ST_ENUM, "name", 0, 0, name_modes, "VM naming mode", 0, NULL, NULL },
    { "privsep", VF_ST_BOOL, "yes", 0, 0, NULL, "Privilege separation", 0, NULL, NULL },
    { "privsep_user", VF_ST_STRING, NULL, 0, 0, NULL, "Network process user", 0, NULL, NULL },
    { "privsep_chroot", VF_ST_PATH, NULL, 0, 0, NULL, "Network process root directory", 0,
      NULL, NULL },
    { NULL, VF_ST_STRING, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};

static const struct vf_schema fence_virtd_schema = {
    .settings = fence_virtd_settings,
    .check = fv_check,
};

/* Names of the registered listeners (@listeners) or backends, into @out. */
static size_t
plugin_names(bool listeners, const char **out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; n + 1 < max; i++) {
        const struct vf_listener_ops *l = listeners ? vf_registry_listener_at(i) : NULL;
        const struct vf_backend_ops *b = listeners ? NULL : vf_registry_backend_at(i);

        if (l == NULL && b == NULL) {
            break;
        }
        out[n++] = l != NULL ? l->name : b->name;
    }
    out[n] = NULL;
    return n;
}

/* "a, b, c" (@last = ", ") or "a, b or c" (@last = " or ") of @names, into @buf */
static const char *
joined_names(const char *const *names, size_t n, const char *last, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t o = strlen(buf);

        snprintf(buf + o, len - o, "%s%s", i == 0 ? "" : i + 1 == n ? last : ", ", names[i]);
    }
    return buf;
}

static const struct vf_schema *
plugin_schema(bool listeners, const char *name)
{
    const struct vf_listener_ops *l = listeners ? vf_registry_listener(name) : NULL;
    const struct vf_backend_ops *b = listeners ? NULL : vf_registry_backend(name);

    return l != NULL ? l->schema : b != NULL ? b->schema : NULL;
}

/* ---- fence_virtd/listener and fence_virtd/backend ------------------------ */

/* one name of the listener list: a warning when repeated or unknown */
static void
check_listener_name(const struct vf_check *chk, const char *name, char (*seen)[32],
                    size_t *n_seen)
{
    const char *known[MAX_PLUGINS];
    size_t n_known = plugin_names(true, known, MAX_PLUGINS);
    char list[512];
    char v[80], hint[64];
    bool dup = false;

    for (size_t i = 0; i < *n_seen; i++) {
        dup = dup || strcasecmp(seen[i], name) == 0;
    }
    joined_names(known, n_known, ", ", list, sizeof(list));
    if (dup) {
        chk->report(chk, "listener", false, "listener '%s' is listed twice in "
                    "fence_virtd/listener", chk->shown(name, v, sizeof(v)));
    } else if (vf_registry_listener(name) == NULL) {
        chk->report(chk, "listener", false, "unknown listener '%s' in fence_virtd/listener "
                    "(known: %s)%s", chk->shown(name, v, sizeof(v)), list,
                    vf_cc_did_you_mean(name, known, n_known, hint, sizeof(hint)));
    }
    if (*n_seen < 8 && strlen(name) < sizeof(seen[0])) {
        memcpy(seen[(*n_seen)++], name, strlen(name) + 1);
    }
}

static void
check_listener_list(const struct vf_check *chk, const char *value)
{
    const char *s = value;
    char seen[8][32];
    size_t n_seen = 0;
    char v[80];

    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);
        char name[64];

        while (len > 0 && isspace((unsigned char)*s)) {
            s++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)s[len - 1])) {
            len--;
        }
        if (len == 0) {
            chk->report(chk, "listener", true, "empty listener name in fence_virtd/listener = "
                        "'%s'", chk->shown(value, v, sizeof(v)));
        } else if (len >= sizeof(name)) {
            chk->report(chk, "listener", true, "listener name too long in "
                        "fence_virtd/listener = '%s'", chk->shown(value, v, sizeof(v)));
        } else {
            memcpy(name, s, len);
            name[len] = '\0';
            check_listener_name(chk, name, seen, &n_seen);
        }
        if (comma == NULL) {
            break;
        }
        s = comma + 1;
    }
}

static void
check_backend_name(const struct vf_check *chk, const char *value)
{
    const char *known[MAX_PLUGINS];
    size_t n_known = plugin_names(false, known, MAX_PLUGINS);
    char list[512];
    char v[80], hint[64];

    chk->shown(value, v, sizeof(v));
    if (strchr(value, ',') != NULL) {
        chk->report(chk, "backend", true, "fence_virtd/backend = '%s': only one backend can be "
                    "configured", v);
    } else if (vf_cc_one_of(value, obsolete_backends)) {
        chk->report(chk, "backend", true, "backend '%s' is obsolete and not provided by vmfence "
                    "(use %s)", v, joined_names(known, n_known, " or ", list, sizeof(list)));
    } else if (vf_registry_backend(value) == NULL) {
        chk->report(chk, "backend", false, "unknown backend '%s' in fence_virtd/backend "
                    "(known: %s)%s", v, joined_names(known, n_known, ", ", list, sizeof(list)),
                    vf_cc_did_you_mean(value, known, n_known, hint, sizeof(hint)));
    }
}

/* the check hook of the fence_virtd block */
static void
fv_check(const struct vf_check *chk)
{
    const char *l = chk->get(chk, "listener");
    const char *b = chk->get(chk, "backend");

    if (l != NULL) {
        check_listener_list(chk, l);
    }
    if (b != NULL) {
        check_backend_name(chk, b);
    }
}

/* The selected backend should have its required keys (its "uri"). */
static void
check_backend_required(struct vf_cc_ctx *c)
{
    const char *be = vf_conf_get(c->conf, "fence_virtd/backend", NULL);
    const struct vf_schema *schema = be != NULL ? plugin_schema(false, be) : NULL;
    char path[160];
    char v[80];

    for (const struct vf_setting *s = schema != NULL ? schema->settings : NULL;
         s != NULL && s->key != NULL; s++) {
        if (!(s->flags & VF_SF_REQUIRED)) {
            continue;
        }
        snprintf(path, sizeof(path), "backends/%s/%s", be, s->key);
        if (vf_conf_get(c->conf, path, NULL) == NULL) {
            vf_cc_diag(c, vf_conf_key(c->conf, NULL, "fence_virtd/backend"), false,
                       "backend '%s' is selected but %s is not set",
                       vf_cc_shown(be, v, sizeof(v)), path);
        }
    }
}

/* ---- sections ------------------------------------------------------------- */

/* Report earlier same-named blocks among @parent's children; return the last. */
static const struct vf_conf_node *
last_block(struct vf_cc_ctx *c, const struct vf_conf_node *parent, const char *name,
           const char *path, bool dup_is_error)
{
    const struct vf_conf_node *last = vf_cc_last_child(parent, name, true);

    for (const struct vf_conf_node *n = parent->children; n != NULL; n = n->next) {
        if (!n->is_block || n == last || strcasecmp(n->name, name) != 0) {
            continue;
        }
        if (dup_is_error) {
            vf_cc_diag(c, n, true, "block '%s' is repeated on line %u; only the last one would "
                       "be used, merge them", path, last->line);
        } else {
            vf_cc_diag(c, n, false, "block '%s' is repeated on line %u; this one is ignored",
                       path, last->line);
        }
    }
    return last;
}

/* listeners { ... } or backends { ... }: each block against its plugin's schema */
static void
check_plugin_sections(struct vf_cc_ctx *c, const struct vf_conf_node *blk, const char *top,
                      bool listeners)
{
    const char *cands[MAX_PLUGINS];
    size_t n_cands = plugin_names(listeners, cands, MAX_PLUGINS);
    char hint[64];
    char v[80];
    char path[128];

    for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
        const struct vf_schema *schema = n->is_block ? plugin_schema(listeners, n->name) : NULL;
        bool obsolete = !listeners && n->is_block && vf_cc_one_of(n->name, obsolete_backends);

        if (!n->is_block || (schema == NULL && !obsolete)) {
            vf_cc_diag(c, n, false, "unknown %s '%s' in %s%s", n->is_block ? "section" : "key",
                       vf_cc_shown(n->name, v, sizeof(v)), top,
                       vf_cc_did_you_mean(n->name, cands, n_cands, hint, sizeof(hint)));
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", top, n->name);
        for (char *p = path + strlen(top) + 1; *p != '\0'; p++) {
            *p = (char)tolower((unsigned char)*p);
        }
        if (last_block(c, blk, n->name, path, false) != n) {
            continue;           /* reported by last_block when it is the first */
        }
        if (obsolete) {
            vf_cc_diag(c, n, false, "%s is obsolete, ignored", path);
            continue;
        }
        vf_cc_check_block(c, n, path, schema);
    }
}

/* ---- groups --------------------------------------------------------------- */

/* A "name", "uuid" or "ip" entry is the only content a group may have. */
static void
check_group(struct vf_cc_ctx *c, const struct vf_conf_node *g, unsigned int index)
{
    char label[96];
    char v[80];
    char hint[64];
    char where[PATH_MAX + 32];
    unsigned int n_ip = 0, n_uuid = 0;
    const char *name = NULL;

    for (const struct vf_conf_node *n = g->children; n != NULL; n = n->next) {
        if (!n->is_block && strcasecmp(n->name, "name") == 0 && n->value != NULL &&
            n->value[0] != '\0') {
            name = n->value;
        }
    }
    if (name == NULL && g->value != NULL && g->value[0] != '\0') {
        name = g->value;
    }
    if (name != NULL) {
        vf_cc_shown(name, label, sizeof(label));
    } else {
        snprintf(label, sizeof(label), "unnamed-%u", index);
    }

    for (const struct vf_conf_node *n = g->children; n != NULL; n = n->next) {
        if (n->is_block) {
            vf_cc_diag(c, n, true, "unexpected block '%s' in group '%s' (a group holds only name, "
                 "uuid and ip entries)", vf_cc_shown(n->name, v, sizeof(v)), label);
            continue;
        }
        if (!vf_cc_one_of(n->name, group_keys)) {
            vf_cc_diag(c, n, true, "unknown key '%s' in group '%s'%s; refusing a possibly "
                 "mistyped ACL", vf_cc_shown(n->name, v, sizeof(v)), label,
                 vf_cc_did_you_mean(n->name, group_keys, 3, hint, sizeof(hint)));
            continue;
        }
        if (strcasecmp(n->name, "name") == 0) {
            for (const struct vf_conf_node *m = n->next; m != NULL; m = m->next) {
                if (!m->is_block && strcasecmp(m->name, "name") == 0) {
                    vf_cc_diag(c, n, false, "group name is set again on line %u; this value is "
                         "ignored", m->line);
                    break;
                }
            }
            continue;
        }
        if (n->value == NULL || n->value[0] == '\0') {
            vf_cc_diag(c, n, false, "empty %s entry in group '%s' never matches", n->name, label);
            continue;
        }
        vf_cc_shown(n->value, v, sizeof(v));
        if (strcasecmp(n->name, "uuid") == 0) {
            n_uuid++;
            continue;
        }
        n_ip++;
        {
            unsigned char bin[16];
            unsigned long cid;

            if (inet_pton(AF_INET, n->value, bin) != 1 &&
                inet_pton(AF_INET6, n->value, bin) != 1 &&
                !(vf_cc_is_digits(n->value) && vf_cc_parse_uint(n->value, UINT32_MAX, &cid) == 0)) {
                vf_cc_diag(c, n, true, "ip entry '%s' in group '%s' is neither an IP address nor "
                     "a vsock CID", v, label);
            }
        }
    }
    if (n_ip == 0 && n_uuid == 0) {
        vf_cc_diag(c, g, true, "group '%s' at %s has no ip or uuid entries; refusing to run with "
             "a partial ACL", label, vf_conf_where(c->conf, g, where, sizeof(where)));
    } else if (n_uuid == 0) {
        vf_cc_diag(c, g, false, "group '%s' has no uuid entries, so it allows nothing", label);
    }
}

static void
check_groups(struct vf_cc_ctx *c, const struct vf_conf_node *blk)
{
    unsigned int index = 0;
    char v[80];
    char hint[64];
    static const char *const group_word[] = { "group", NULL };

    for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
        if (!n->is_block) {
            vf_cc_diag(c, n, true, "unexpected key '%s' in groups; ACL entries belong inside a "
                 "'group { }' block", vf_cc_shown(n->name, v, sizeof(v)));
            continue;
        }
        if (strcasecmp(n->name, "group") != 0) {
            vf_cc_diag(c, n, true, "unknown block '%s' in groups%s; refusing a possibly mistyped "
                 "ACL", vf_cc_shown(n->name, v, sizeof(v)),
                 vf_cc_did_you_mean(n->name, group_word, 1, hint, sizeof(hint)));
            continue;
        }
        check_group(c, n, ++index);
    }
    if (index == 0) {
        vf_cc_diag(c, blk, false, "groups section has no group: no access control is applied");
    }
}


/* Unknown top-level keys and sections; a mistyped "groups" is an error. */
static void
check_top_level(struct vf_cc_ctx *c)
{
    size_t n_cands = vf_cc_count(top_sections);
    char hint[64];
    char v[80];

    for (const struct vf_conf_node *n = c->conf->root->children; n != NULL; n = n->next) {
        const char *sug = NULL;
        bool acl_like = false;

        if (!n->is_block) {
            vf_cc_diag(c, n, false, "unknown key '%s' at top level%s",
                       vf_cc_shown(n->name, v, sizeof(v)),
                       vf_cc_did_you_mean(n->name, top_sections, n_cands, hint, sizeof(hint)));
            continue;
        }
        if (vf_cc_one_of(n->name, top_sections)) {
            continue;
        }
        /*
         * A mistyped "groups" section would switch the ACL off without a
         * word (the daemon would start, or a reload apply, with no
         * groups): error when the name is close to "groups" or the
         * block holds "group" blocks, like the typos inside groups.
         */
        sug = vf_cc_suggest(n->name, top_sections, n_cands);
        acl_like = (sug != NULL && strcmp(sug, "groups") == 0);
        for (const struct vf_conf_node *ch = n->children; ch != NULL; ch = ch->next) {
            acl_like = acl_like || (ch->is_block && strcasecmp(ch->name, "group") == 0);
        }
        vf_cc_diag(c, n, acl_like, "unknown section '%s'%s%s", vf_cc_shown(n->name, v, sizeof(v)),
                   vf_cc_did_you_mean(n->name, top_sections, n_cands, hint, sizeof(hint)),
                   acl_like ? "; refusing a possibly mistyped ACL" : "");
    }
}

int
vf_conf_check(const struct vf_conf *conf, FILE *diag_out)
{
    struct vf_cc_ctx c = { conf, diag_out, 0, 0 };
    const struct vf_conf_node *fv = NULL;

    if (conf == NULL || conf->root == NULL) {
        return 1;
    }
    check_top_level(&c);
    for (const char *const *s = top_sections; *s != NULL; s++) {
        const struct vf_conf_node *blk =
            last_block(&c, conf->root, *s, *s, strcmp(*s, "groups") == 0);

        if (blk == NULL) {
            continue;
        }
        if (strcmp(*s, "fence_virtd") == 0) {
            fv = blk;
            vf_cc_check_block(&c, blk, *s, &fence_virtd_schema);
        } else if (strcmp(*s, "listeners") == 0 || strcmp(*s, "backends") == 0) {
            check_plugin_sections(&c, blk, *s, strcmp(*s, "listeners") == 0);
        } else {
            check_groups(&c, blk);
        }
    }
    if (vf_conf_get(conf, "fence_virtd/listener", NULL) == NULL) {
        vf_cc_diag(&c, fv, true, "no listener configured (fence_virtd/listener is not set)");
    }
    if (vf_conf_get(conf, "fence_virtd/backend", NULL) == NULL) {
        vf_cc_diag(&c, fv, true, "no backend configured (fence_virtd/backend is not set)");
    } else {
        check_backend_required(&c);
    }
    vf_cc_check_security(&c);
    return c.errors;
}
