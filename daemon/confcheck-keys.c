/*
 * vmfence - daemon/confcheck-keys.c: one configuration block checked
 * against a settings schema (plugin.h): unknown keys (with a suggestion),
 * repeated keys (the last one wins), empty values, the value of each key by
 * its type and range, numbered keys (uri, uri1, uri2 ... without gaps), and
 * finally the schema's own check hook for rules across keys.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "confcheck-int.h"

#define MAX_KEYS 32

static const char *const bool_names[] = {
    "yes", "y", "true", "on", "1", "no", "n", "false", "off", "0", NULL,
};

/* "a, b, c" of a NULL-terminated list, into @buf */
static const char *
joined(const char *const *words, char *buf, size_t buf_len)
{
    size_t o = 0;

    buf[0] = '\0';
    for (size_t i = 0; words[i] != NULL && o < buf_len; i++) {
        int w = snprintf(buf + o, buf_len - o, "%s%s", i > 0 ? ", " : "", words[i]);

        if (w < 0) {
            break;
        }
        o += (size_t)w;
    }
    return buf;
}

static void
check_int(struct vf_cc_ctx *c, const struct vf_conf_node *n, const char *path,
          const struct vf_setting *s, const char *v)
{
    unsigned long num = 0;
    int r = vf_cc_parse_uint(n->value, (unsigned long)s->max, &num);

    if (s->min <= 0 && r != 0) {
        vf_cc_diag(c, n, true, "'%s/%s' = '%s' is not a number in 0..%ld", path, s->key, v,
                   s->max);
    } else if (r == -EINVAL) {
        vf_cc_diag(c, n, true, "'%s/%s' = '%s' is not a number", path, s->key, v);
    } else if (r != 0 || num < (unsigned long)s->min) {
        vf_cc_diag(c, n, true, "'%s/%s' = '%s' is out of range %ld..%ld", path, s->key, v,
                   s->min, s->max);
    }
}

static void
check_enum(struct vf_cc_ctx *c, const struct vf_conf_node *n, const char *path,
           const struct vf_setting *s, const char *v)
{
    char list[256];
    char hint[64];
    unsigned long num;

    if (vf_cc_one_of(n->value, s->allowed) ||
        ((s->flags & VF_SF_OR_INT) && vf_cc_parse_uint(n->value, INT_MAX, &num) == 0)) {
        return;
    }
    vf_cc_diag(c, n, true, "'%s/%s' = '%s' is not one of %s%s", path, s->key, v,
               joined(s->allowed, list, sizeof(list)),
               vf_cc_did_you_mean(n->value, s->allowed, vf_cc_count(s->allowed), hint,
                                  sizeof(hint)));
}

/* Validate one non-empty value of a known key by its type. */
static void
check_value(struct vf_cc_ctx *c, const struct vf_conf_node *n, const char *path,
            const struct vf_setting *s)
{
    const char *is_not = NULL;  /* what a path or bool value fails to be */
    bool is_error = true;
    char v[80];

    vf_cc_shown(n->value, v, sizeof(v));
    switch (s->type) {
    case VF_ST_STRING:
    case VF_ST_LIST:
    case VF_ST_ADDR:            /* against the family: the schema's check hook */
        break;
    case VF_ST_PATH:
        is_not = n->value[0] == '/' ? NULL : "an absolute path";
        is_error = false;
        break;
    case VF_ST_INT:
        check_int(c, n, path, s, v);
        break;
    case VF_ST_BOOL:
        is_not = vf_cc_one_of(n->value, bool_names) ? NULL : "one of yes, no";
        break;
    case VF_ST_ENUM:
        check_enum(c, n, path, s, v);
        break;
    case VF_ST_IFACE:
        if (strlen(n->value) >= IF_NAMESIZE || if_nametoindex(n->value) == 0) {
            vf_cc_diag(c, n, true, "interface '%s' in %s does not exist", v, path);
        }
        break;
    }
    if (is_not != NULL) {
        vf_cc_diag(c, n, is_error, "'%s/%s' = '%s' is not %s", path, s->key, v, is_not);
    }
}

/* "keyN" with N >= 1 and no leading zero: N, else 0. */
static unsigned long
key_number(const char *name, const char *key)
{
    size_t kl = strlen(key);

    if (strncasecmp(name, key, kl) != 0 || name[kl] < '1' || name[kl] > '9' ||
        !vf_cc_is_digits(name + kl) || strlen(name + kl) > 6) {
        return 0;
    }
    return strtoul(name + kl, NULL, 10);
}

/* The setting for key @name: exact, or numbered (*ret_num > 0). */
static const struct vf_setting *
find_setting(const struct vf_schema *schema, const char *name, unsigned long *ret_num)
{
    *ret_num = 0;
    for (const struct vf_setting *s = schema->settings; s != NULL && s->key != NULL; s++) {
        if (strcasecmp(s->key, name) == 0) {
            return s;
        }
    }
    for (const struct vf_setting *s = schema->settings; s != NULL && s->key != NULL; s++) {
        if ((s->flags & VF_SF_NUMBERED) && (*ret_num = key_number(name, s->key)) > 0) {
            return s;
        }
    }
    return NULL;
}

/* key, key1, key2 ... must be contiguous (the backends refuse a gap). */
static void
check_numbering(struct vf_cc_ctx *c, const struct vf_conf_node *blk, const char *path,
                const char *key, unsigned long max)
{
    char upper[32];
    size_t i;

    for (i = 0; key[i] != '\0' && i + 1 < sizeof(upper); i++) {
        upper[i] = (char)toupper((unsigned char)key[i]);
    }
    upper[i] = '\0';
    for (unsigned long k = 1; k < max; k++) {
        bool found = false;

        for (const struct vf_conf_node *n = blk->children; n != NULL && !found; n = n->next) {
            found = !n->is_block && key_number(n->name, key) == k;
        }
        if (found) {
            continue;
        }
        for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
            if (!n->is_block && key_number(n->name, key) > k) {
                vf_cc_diag(c, n, true, "'%s/%s' is set but '%s%lu' is missing (%ss are "
                           "numbered %s, %s1, %s2, ... without gaps)", path, n->name, key, k,
                           upper, key, key, key);
            }
        }
        return;
    }
}

/* Unknown, repeated or empty key: reported here (true = nothing more to check). */
static bool
key_reported(struct vf_cc_ctx *c, const struct vf_conf_node *n, const char *path,
             const struct vf_setting *s, const char *const *cands, size_t n_cands)
{
    char v[80];

    if (n->is_block) {
        vf_cc_diag(c, n, false, "unknown block '%s' in %s, ignored",
                   vf_cc_shown(n->name, v, sizeof(v)), path);
        return true;
    }
    if (s == NULL) {
        char hint[64];

        vf_cc_diag(c, n, false, "unknown key '%s' in %s%s", vf_cc_shown(n->name, v, sizeof(v)),
                   path, vf_cc_did_you_mean(n->name, cands, n_cands, hint, sizeof(hint)));
        return true;
    }
    for (const struct vf_conf_node *m = n->next; m != NULL; m = m->next) {
        if (!m->is_block && strcasecmp(m->name, n->name) == 0) {
            vf_cc_diag(c, n, false, "'%s/%s' is set again on line %u; this value is ignored",
                       path, n->name, m->line);
            return true;
        }
    }
    if (n->value == NULL || n->value[0] == '\0') {
        if (s->flags & VF_SF_NONEMPTY) {
            vf_cc_diag(c, n, true, "'%s/%s' is empty", path, n->name);
        } else {
            vf_cc_diag(c, n, false, "empty value for '%s/%s'; the default is used", path,
                       n->name);
        }
        return true;
    }
    return false;
}

/* ---- the check hook's view of the block ----------------------------------- */

struct hook_ctx {
    struct vf_cc_ctx *c;
    const struct vf_conf_node *blk;
};

/* last assignment @key of the block with a non-empty value */
static const struct vf_conf_node *
effective(const struct vf_conf_node *blk, const char *key)
{
    const struct vf_conf_node *found = NULL;

    for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
        if (!n->is_block && strcasecmp(n->name, key) == 0 && n->value != NULL &&
            n->value[0] != '\0') {
            found = n;
        }
    }
    return found;
}

static const char *
hook_get(const struct vf_check *chk, const char *key)
{
    const struct hook_ctx *h = chk->ctx;
    const struct vf_conf_node *n = effective(h->blk, key);

    return n != NULL ? n->value : NULL;
}

static void
hook_report(const struct vf_check *chk, const char *key, bool error, const char *fmt, ...)
{
    const struct hook_ctx *h = chk->ctx;
    const struct vf_conf_node *n = key != NULL ? effective(h->blk, key) : NULL;
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vf_cc_diag(h->c, n != NULL ? n : h->blk, error, "%s", msg);
}

void
vf_cc_check_block(struct vf_cc_ctx *c, const struct vf_conf_node *blk, const char *path,
                  const struct vf_schema *schema)
{
    const char *cands[MAX_KEYS];
    size_t n_cands = 0;
    unsigned long max_num[MAX_KEYS] = { 0 };

    for (const struct vf_setting *s = schema->settings; s != NULL && s->key != NULL &&
         n_cands < MAX_KEYS; s++) {
        cands[n_cands++] = s->key;
    }
    for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
        unsigned long num = 0;
        const struct vf_setting *s = n->is_block ? NULL : find_setting(schema, n->name, &num);

        if (s != NULL && num > 0 && (size_t)(s - schema->settings) < MAX_KEYS &&
            num > max_num[s - schema->settings]) {
            max_num[s - schema->settings] = num;
        }
        if (!key_reported(c, n, path, s, cands, n_cands)) {
            check_value(c, n, path, s);
        }
    }
    for (size_t i = 0; i < n_cands; i++) {
        if (max_num[i] > 0) {
            check_numbering(c, blk, path, cands[i], max_num[i]);
        }
    }
    if (schema->check != NULL) {
        struct hook_ctx h = { c, blk };
        const struct vf_check chk = { &h, path, hook_get, hook_report, vf_cc_shown };

        schema->check(&chk);
    }
}
