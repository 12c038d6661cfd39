/*
 * vmfence - daemon/confcheck.c: validation of a parsed fence_virt.conf.
 *
 * A schema table lists every section and key of protocol.md 3.3 plus the
 * vmfence extensions.  Policy (documented in fence_virt.conf(5)):
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
 *   - backends/<b>/uri, uri1, uri2, ...: a gap in the numbering is an
 *     error (the backend refuses it too), so is an empty URI;
 *   - an empty value "" means "not set" (vf_conf_get returns the default
 *     for it): warning for single-valued keys;
 *   - historical backends null, libvirt-qmf, pm-fence, checkpoint:
 *     warning "obsolete, ignored";
 *   - settings that work but weaken the protection of fencing (warnings,
 *     see "SECURITY" in fence_virt.conf(5)): the multicast listener and a
 *     stream listener (tcp, vsock) sharing one key, groups while an enabled
 *     listener has auth = "none", hash = "none" on an enabled listener.
 *     The serial listener has no key (its identity is the channel) and is
 *     left out of these.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confcheck.h"
#include "confcheck-int.h"
#include "wire.h"

enum vtype {
    VT_STRING,      /* any value */
    VT_PATH,        /* should be absolute */
    VT_UINT,        /* 0..INT_MAX */
    VT_PORT,        /* 1..65535 */
    VT_HASH,        /* none/sha1/sha256/sha512 */
    VT_FAMILY,      /* ipv4/ipv6 */
    VT_MCAST_ADDR,  /* multicast group literal of the family */
    VT_ADDR,        /* address literal of the family */
    VT_IFACE,       /* existing interface */
    VT_SERIAL_MODE, /* serial/vmchannel/integer */
    VT_NAME_MODE,   /* name/uuid */
    VT_BOOL,        /* yes/no */
    VT_FENCE_HISTORY, /* pacemaker/none (backends/cpg) */
    VT_LISTENERS,   /* comma-separated listener names */
    VT_BACKEND,     /* one backend name */
    VT_URI,         /* uri, uri1, uri2 ... */
};

struct key_spec {
    const char *name;
    enum vtype type;
};

struct section_spec {
    const char *name;               /* child of listeners/backends */
    const struct key_spec *keys;
    bool numbered_uris;             /* uriN accepted */
    bool obsolete;
};

static const struct key_spec fence_virtd_keys[] = {
    { "listener", VT_LISTENERS },
    { "backend", VT_BACKEND },
    { "module_path", VT_PATH },
    { "debug", VT_UINT },
    { "foreground", VT_UINT },
    { "wait_for_init", VT_UINT },
    { "wait_for_backend", VT_UINT },    /* legacy alias of wait_for_init */
    { "name_mode", VT_NAME_MODE },      /* legacy location of backends/cpg/name_mode */
    { "privsep", VT_BOOL },             /* vmfence: privilege separation (default no) */
    { "privsep_user", VT_STRING },      /* vmfence: network process user */
    { "privsep_chroot", VT_PATH },      /* vmfence: network process root directory */
    { NULL, VT_STRING },
};

static const struct key_spec multicast_keys[] = {
    { "key_file", VT_PATH },
    { "hash", VT_HASH },
    { "auth", VT_HASH },
    { "family", VT_FAMILY },
    { "address", VT_MCAST_ADDR },
    { "port", VT_PORT },
    { "interface", VT_IFACE },
    { NULL, VT_STRING },
};

static const struct key_spec tcp_keys[] = {
    { "key_file", VT_PATH },
    { "hash", VT_HASH },
    { "auth", VT_HASH },
    { "family", VT_FAMILY },
    { "address", VT_ADDR },
    { "port", VT_PORT },
    { NULL, VT_STRING },
};

static const struct key_spec vsock_keys[] = {
    { "key_file", VT_PATH },
    { "hash", VT_HASH },
    { "auth", VT_HASH },
    { "port", VT_PORT },
    { NULL, VT_STRING },
};

static const struct key_spec serial_keys[] = {
    { "uri", VT_STRING },
    { "path", VT_PATH },
    { "mode", VT_SERIAL_MODE },
    { "key_file", VT_PATH },
    { NULL, VT_STRING },
};

static const struct key_spec libvirt_keys[] = {
    { "uri", VT_URI },
    { "reboot_powers_on", VT_BOOL },
    { NULL, VT_STRING },
};

static const struct key_spec cpg_keys[] = {
    { "uri", VT_URI },
    { "name_mode", VT_NAME_MODE },
    { "group", VT_STRING },            /* vmfence: CPG group name (backend checks 1..127 chars) */
    { "reply_timeout", VT_UINT },      /* vmfence: seconds (backend checks 1..600) */
    { "reboot_powers_on", VT_BOOL },   /* vmfence: as backends/libvirt */
    { "fence_history", VT_FENCE_HISTORY },  /* vmfence: pacemaker/none */
    { NULL, VT_STRING },
};

static const struct key_spec no_keys[] = {
    { NULL, VT_STRING },
};

static const struct section_spec listener_sections[] = {
    { "multicast", multicast_keys, false, false },
    { "tcp", tcp_keys, false, false },
    { "vsock", vsock_keys, false, false },
    { "serial", serial_keys, false, false },
    { NULL, NULL, false, false },
};

static const struct section_spec backend_sections[] = {
    { "libvirt", libvirt_keys, true, false },
    { "cpg", cpg_keys, true, false },
    /* historical plugins of fence-virt, not provided by vmfence */
    { "null", no_keys, false, true },
    { "libvirt-qmf", no_keys, false, true },
    { "pm-fence", no_keys, false, true },
    { "checkpoint", no_keys, false, true },
    { NULL, NULL, false, false },
};

static const char *const top_sections[] = {
    "fence_virtd", "listeners", "backends", "groups", NULL,
};

static const char *const group_keys[] = { "name", "uuid", "ip", NULL };

/* ---- diagnostics --------------------------------------------------------- */

void
vf_cc_diag(struct vf_cc_ctx *c, const struct vf_conf_node *node, bool error,
           const char *fmt, ...)
{
    char where[PATH_MAX + 32];
    va_list ap;

    if (error) {
        c->errors++;
    } else {
        c->warnings++;
    }
    if (c->diag == NULL) {
        return;
    }
    vf_conf_where(c->conf, node, where, sizeof(where));
    fprintf(c->diag, "%s: %s: ", where, error ? "error" : "warning");
    va_start(ap, fmt);
    vfprintf(c->diag, fmt, ap);
    va_end(ap);
    fputc('\n', c->diag);
}

const char *
vf_cc_shown(const char *s, char *buf, size_t buf_len)
{
    size_t o = 0;
    size_t n = strlen(s);
    size_t max = 60;

    for (size_t i = 0; i < n && i < max && o + 5 < buf_len; i++) {
        unsigned char ch = (unsigned char)s[i];

        buf[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (n > max && o + 4 < buf_len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- suggestions --------------------------------------------------------- */

/* Levenshtein distance of short lowercase strings (capped inputs). */
static unsigned int
edit_distance(const char *a, const char *b)
{
    unsigned int row[65];
    size_t la = strlen(a), lb = strlen(b);

    if (la > 64 || lb > 64) {
        return UINT_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        row[j] = (unsigned int)j;
    }
    for (size_t i = 1; i <= la; i++) {
        unsigned int diag_prev = row[0];

        row[0] = (unsigned int)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned int up = row[j];
            unsigned int cost = tolower((unsigned char)a[i - 1]) ==
                                tolower((unsigned char)b[j - 1]) ? 0 : 1;
            unsigned int best = diag_prev + cost;

            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag_prev = up;
        }
    }
    return row[lb];
}

/* Closest candidate within distance 2 (and shorter than itself), or NULL. */
static const char *
suggest(const char *word, const char *const *cands, size_t n_cands)
{
    const char *best = NULL;
    unsigned int best_d = 3;

    for (size_t i = 0; i < n_cands; i++) {
        unsigned int d = edit_distance(word, cands[i]);

        if (d < best_d && d < strlen(cands[i])) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}

/* " (did you mean 'x'?)" or "" into @buf */
static const char *
did_you_mean(const char *word, const char *const *cands, size_t n_cands,
             char *buf, size_t buf_len)
{
    const char *s = suggest(word, cands, n_cands);

    if (s == NULL) {
        buf[0] = '\0';
    } else {
        snprintf(buf, buf_len, " (did you mean '%s'?)", s);
    }
    return buf;
}

static size_t
key_names(const struct key_spec *keys, const char **out, size_t max)
{
    size_t n = 0;

    for (; keys->name != NULL && n < max; keys++) {
        out[n++] = keys->name;
    }
    return n;
}

/* ---- value checks -------------------------------------------------------- */

static bool
is_digits(const char *s)
{
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s)) {
            return false;
        }
    }
    return true;
}

/* Decimal with optional surrounding blanks, as vf_conf_get_uint accepts. */
static int
parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
    unsigned long v = 0;
    const char *p = s;

    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (!isdigit((unsigned char)*p)) {
        return -EINVAL;
    }
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (ULONG_MAX - 9) / 10) {
            return -ERANGE;
        }
        v = v * 10 + (unsigned long)(*p - '0');
    }
    while (*p == ' ' || *p == '\t' || *p == '\n') {
        p++;
    }
    if (*p != '\0') {
        return -EINVAL;
    }
    if (v > max) {
        return -ERANGE;
    }
    *ret = v;
    return 0;
}

static bool
one_of(const char *v, const char *const *allowed)
{
    for (; *allowed != NULL; allowed++) {
        if (strcasecmp(v, *allowed) == 0) {
            return true;
        }
    }
    return false;
}

static const char *const hash_names[] = { "none", "sha1", "sha256", "sha512", NULL };
static const char *const family_names[] = { "ipv4", "ipv6", NULL };
static const char *const name_modes[] = { "name", "uuid", NULL };
static const char *const serial_modes[] = { "serial", "vmchannel", NULL };
static const char *const bool_names[] = {
    "yes", "y", "true", "on", "1", "no", "n", "false", "off", "0", NULL,
};
static const char *const known_listeners[] = { "multicast", "tcp", "vsock", "serial", NULL };
static const char *const known_backends[] = { "libvirt", "cpg", NULL };
static const char *const obsolete_backends[] = {
    "null", "libvirt-qmf", "pm-fence", "checkpoint", NULL,
};

/* Family in effect for a listener block: its "family" key or ipv4. */
static int
block_family(const struct vf_conf_node *blk)
{
    const char *fam = NULL;

    for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
        if (!n->is_block && strcasecmp(n->name, "family") == 0 && n->value != NULL &&
            n->value[0] != '\0') {
            fam = n->value;
        }
    }
    if (fam == NULL || strcasecmp(fam, "ipv4") == 0) {
        return AF_INET;
    }
    if (strcasecmp(fam, "ipv6") == 0) {
        return AF_INET6;
    }
    return AF_UNSPEC;
}

static void
check_address(struct vf_cc_ctx *c, const struct vf_conf_node *blk, const struct vf_conf_node *n,
              const char *path, bool multicast)
{
    int fam = block_family(blk);
    unsigned char bin[16];
    char v[80];
    bool is4 = inet_pton(AF_INET, n->value, bin) == 1;
    bool is6 = !is4 && inet_pton(AF_INET6, n->value, bin) == 1;

    vf_cc_shown(n->value, v, sizeof(v));
    if (fam == AF_UNSPEC) {
        return;                     /* the bad family is reported on its own */
    }
    if (!is4 && !is6) {
        vf_cc_diag(c, n, true, "'%s/address' = '%s' is not an IP address literal (host names "
             "are not resolved)", path, v);
        return;
    }
    if (fam == AF_INET && !is4) {
        vf_cc_diag(c, n, true, "'%s/address' = '%s' is not an ipv4 address (family is 'ipv4'; "
             "set family = \"ipv6\")", path, v);
        return;
    }
    if (fam == AF_INET6 && !is6) {
        vf_cc_diag(c, n, true, "'%s/address' = '%s' is not an ipv6 address (family is 'ipv6')",
             path, v);
        return;
    }
    if (multicast) {
        bool mc = is4 ? (bin[0] & 0xf0) == 0xe0 : bin[0] == 0xff;

        if (!mc) {
            vf_cc_diag(c, n, true, "'%s/address' = '%s' is not a multicast group address",
                 path, v);
        }
    }
}

static void
check_listener_list(struct vf_cc_ctx *c, const struct vf_conf_node *n)
{
    const char *s = n->value;
    char seen[8][32];
    size_t n_seen = 0;
    char v[80];

    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);
        char name[64];
        char hint[64];

        while (len > 0 && isspace((unsigned char)*s)) {
            s++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)s[len - 1])) {
            len--;
        }
        if (len == 0) {
            vf_cc_diag(c, n, true, "empty listener name in fence_virtd/listener = '%s'",
                 vf_cc_shown(n->value, v, sizeof(v)));
        } else if (len >= sizeof(name)) {
            vf_cc_diag(c, n, true, "listener name too long in fence_virtd/listener = '%s'",
                 vf_cc_shown(n->value, v, sizeof(v)));
        } else {
            bool dup = false;

            memcpy(name, s, len);
            name[len] = '\0';
            for (size_t i = 0; i < n_seen; i++) {
                if (strcasecmp(seen[i], name) == 0) {
                    dup = true;
                }
            }
            if (dup) {
                vf_cc_diag(c, n, false, "listener '%s' is listed twice in fence_virtd/listener",
                     vf_cc_shown(name, v, sizeof(v)));
            } else if (!one_of(name, known_listeners)) {
                vf_cc_diag(c, n, false, "unknown listener '%s' in fence_virtd/listener (known: "
                     "multicast, tcp, vsock, serial)%s", vf_cc_shown(name, v, sizeof(v)),
                     did_you_mean(name, known_listeners, 4, hint, sizeof(hint)));
            }
            if (n_seen < 8 && len < sizeof(seen[0])) {
                memcpy(seen[n_seen++], name, len + 1);
            }
        }
        if (comma == NULL) {
            break;
        }
        s = comma + 1;
    }
}

/* Validate one value of a known key (non-empty). */
static void
check_value(struct vf_cc_ctx *c, const struct vf_conf_node *blk, const struct vf_conf_node *n,
            const char *path, const struct key_spec *ks)
{
    char v[80];
    char hint[64];
    unsigned long num;

    vf_cc_shown(n->value, v, sizeof(v));
    switch (ks->type) {
    case VT_STRING:
    case VT_URI:
        break;
    case VT_PATH:
        if (n->value[0] != '/') {
            vf_cc_diag(c, n, false, "'%s/%s' = '%s' is not an absolute path", path, ks->name, v);
        }
        break;
    case VT_UINT:
        if (parse_uint(n->value, INT_MAX, &num) != 0) {
            vf_cc_diag(c, n, true, "'%s/%s' = '%s' is not a number in 0..%d", path, ks->name, v,
                 INT_MAX);
        }
        break;
    case VT_PORT: {
        int r = parse_uint(n->value, 65535, &num);

        if (r == -EINVAL) {
            vf_cc_diag(c, n, true, "'%s/%s' = '%s' is not a number", path, ks->name, v);
        } else if (r != 0 || num < 1) {
            vf_cc_diag(c, n, true, "'%s/%s' = '%s' is out of range 1..65535", path, ks->name, v);
        }
        break;
    }
    case VT_HASH:
        if (!one_of(n->value, hash_names)) {
            vf_cc_diag(c, n, true, "'%s/%s' = '%s' is not one of none, sha1, sha256, sha512%s",
                 path, ks->name, v, did_you_mean(n->value, hash_names, 4, hint, sizeof(hint)));
        }
        break;
    case VT_FAMILY:
        if (!one_of(n->value, family_names)) {
            vf_cc_diag(c, n, true, "'%s/%s' = '%s' is not one of ipv4, ipv6", path, ks->name, v);
        }
        break;
    case VT_MCAST_ADDR:
    case VT_ADDR:
        check_address(c, blk, n, path, ks->type == VT_MCAST_ADDR);
        break;
    case VT_IFACE:
        if (strlen(n->value) >= IF_NAMESIZE || if_nametoindex(n->value) == 0) {
            vf_cc_diag(c, n, true, "interface '%s' in %s does not exist", v, path);
        }
        break;
    case VT_SERIAL_MODE:
        if (!one_of(n->value, serial_modes) && parse_uint(n->value, INT_MAX, &num) != 0) {
            vf_cc_diag(c, n, true, "'%s/%s' = '%s' is not one of serial, vmchannel", path,
                 ks->name, v);
        }
        break;
    case VT_NAME_MODE:
        if (!one_of(n->value, name_modes)) {
            vf_cc_diag(c, n, true, "'%s/%s' = '%s' is not one of name, uuid", path, ks->name, v);
        }
        break;
    case VT_FENCE_HISTORY:
        if (strcasecmp(n->value, "pacemaker") != 0 && strcasecmp(n->value, "none") != 0) {
            vf_cc_diag(c, n, true, "'%s/%s' = '%s' is not one of pacemaker, none", path,
                 ks->name, v);
        }
        break;
    case VT_BOOL:
        if (!one_of(n->value, bool_names)) {
            vf_cc_diag(c, n, true, "'%s/%s' = '%s' is not one of yes, no", path, ks->name, v);
        }
        break;
    case VT_LISTENERS:
        check_listener_list(c, n);
        break;
    case VT_BACKEND:
        if (strchr(n->value, ',') != NULL) {
            vf_cc_diag(c, n, true, "fence_virtd/backend = '%s': only one backend can be "
                 "configured", v);
        } else if (one_of(n->value, obsolete_backends)) {
            vf_cc_diag(c, n, true, "backend '%s' is obsolete and not provided by vmfence "
                 "(use libvirt or cpg)", v);
        } else if (!one_of(n->value, known_backends)) {
            vf_cc_diag(c, n, false, "unknown backend '%s' in fence_virtd/backend (known: "
                 "libvirt, cpg)%s", v,
                 did_you_mean(n->value, known_backends, 2, hint, sizeof(hint)));
        }
        break;
    }
}

/* "uriN" with N >= 1 and no leading zero; returns N or 0. */
static unsigned long
uri_number(const char *name)
{
    unsigned long v;

    if (strncasecmp(name, "uri", 3) != 0 || name[3] < '1' || name[3] > '9' ||
        !is_digits(name + 3) || strlen(name + 3) > 6) {
        return 0;
    }
    v = strtoul(name + 3, NULL, 10);
    return v;
}

/*
 * Check the keys of one block against @keys.  Non-repeatable keys set twice
 * and unknown keys are reported; values of the effective (last) keys are
 * validated.
 */
static void
check_keys(struct vf_cc_ctx *c, const struct vf_conf_node *blk, const char *path,
           const struct key_spec *keys, bool numbered_uris)
{
    const char *cands[16];
    size_t n_cands = key_names(keys, cands, 16);
    char hint[64];
    char v[80];
    unsigned long max_uri = 0;

    for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
        const struct key_spec *ks = NULL;
        const struct vf_conf_node *later = NULL;

        if (n->is_block) {
            vf_cc_diag(c, n, false, "unknown block '%s' in %s, ignored", vf_cc_shown(n->name, v, sizeof(v)),
                 path);
            continue;
        }
        for (const struct key_spec *k = keys; k->name != NULL; k++) {
            if (strcasecmp(k->name, n->name) == 0) {
                ks = k;
                break;
            }
        }
        if (ks == NULL && numbered_uris && uri_number(n->name) > 0) {
            static const struct key_spec uri_spec = { "uri", VT_URI };

            ks = &uri_spec;
            if (uri_number(n->name) > max_uri) {
                max_uri = uri_number(n->name);
            }
        }
        if (ks == NULL) {
            vf_cc_diag(c, n, false, "unknown key '%s' in %s%s", vf_cc_shown(n->name, v, sizeof(v)), path,
                 did_you_mean(n->name, cands, n_cands, hint, sizeof(hint)));
            continue;
        }
        for (const struct vf_conf_node *m = n->next; m != NULL; m = m->next) {
            if (!m->is_block && strcasecmp(m->name, n->name) == 0) {
                later = m;
                break;
            }
        }
        if (later != NULL) {
            vf_cc_diag(c, n, false, "'%s/%s' is set again on line %u; this value is ignored",
                 path, n->name, later->line);
            continue;
        }
        if ((n->value == NULL || n->value[0] == '\0') && ks->type == VT_URI) {
            vf_cc_diag(c, n, true, "'%s/%s' is empty", path, n->name);
            continue;
        }
        if (n->value == NULL || n->value[0] == '\0') {
            vf_cc_diag(c, n, false, "empty value for '%s/%s'; the default is used", path, n->name);
            continue;
        }
        check_value(c, blk, n, path, ks);
    }

    if (numbered_uris && max_uri > 0) {
        /* uri1, uri2, ... must be contiguous (the backends refuse a gap) */
        for (unsigned long i = 1; i < max_uri; i++) {
            bool found = false;

            for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
                if (!n->is_block && uri_number(n->name) == i) {
                    found = true;
                    break;
                }
            }
            if (!found) {
                for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
                    if (!n->is_block && uri_number(n->name) > i) {
                        vf_cc_diag(c, n, true, "'%s/%s' is set but 'uri%lu' is missing (URIs are "
                             "numbered uri, uri1, uri2, ... without gaps)", path, n->name, i);
                    }
                }
                break;
            }
        }
    }
}

/* Report earlier same-named blocks among @parent's children; return the last. */
static const struct vf_conf_node *
last_block(struct vf_cc_ctx *c, const struct vf_conf_node *parent, const char *name,
           const char *path, bool dup_is_error)
{
    const struct vf_conf_node *last = NULL;

    for (const struct vf_conf_node *n = parent->children; n != NULL; n = n->next) {
        if (n->is_block && strcasecmp(n->name, name) == 0) {
            last = n;
        }
    }
    for (const struct vf_conf_node *n = parent->children; n != NULL; n = n->next) {
        if (n->is_block && n != last && strcasecmp(n->name, name) == 0) {
            if (dup_is_error) {
                vf_cc_diag(c, n, true, "block '%s' is repeated on line %u; only the last one would "
                     "be used, merge them", path, last->line);
            } else {
                vf_cc_diag(c, n, false, "block '%s' is repeated on line %u; this one is ignored",
                     path, last->line);
            }
        }
    }
    return last;
}

/* listeners { ... } or backends { ... } */
static void
check_plugin_sections(struct vf_cc_ctx *c, const struct vf_conf_node *blk, const char *top,
                      const struct section_spec *specs)
{
    const char *cands[16];
    size_t n_cands = 0;
    char hint[64];
    char v[80];
    char path[128];

    for (const struct section_spec *s = specs; s->name != NULL && n_cands < 16; s++) {
        if (!s->obsolete) {
            cands[n_cands++] = s->name;
        }
    }
    for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
        const struct section_spec *spec = NULL;

        if (!n->is_block) {
            vf_cc_diag(c, n, false, "unknown key '%s' in %s%s", vf_cc_shown(n->name, v, sizeof(v)), top,
                 did_you_mean(n->name, cands, n_cands, hint, sizeof(hint)));
            continue;
        }
        for (const struct section_spec *s = specs; s->name != NULL; s++) {
            if (strcasecmp(s->name, n->name) == 0) {
                spec = s;
                break;
            }
        }
        if (spec == NULL) {
            vf_cc_diag(c, n, false, "unknown section '%s' in %s%s", vf_cc_shown(n->name, v, sizeof(v)), top,
                 did_you_mean(n->name, cands, n_cands, hint, sizeof(hint)));
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", top, spec->name);
        if (last_block(c, blk, spec->name, path, false) != n) {
            continue;           /* reported by last_block when it is the first */
        }
        if (spec->obsolete) {
            vf_cc_diag(c, n, false, "%s is obsolete, ignored", path);
            continue;
        }
        check_keys(c, n, path, spec->keys, spec->numbered_uris);
    }
}

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
        if (!one_of(n->name, group_keys)) {
            vf_cc_diag(c, n, true, "unknown key '%s' in group '%s'%s; refusing a possibly "
                 "mistyped ACL", vf_cc_shown(n->name, v, sizeof(v)), label,
                 did_you_mean(n->name, group_keys, 3, hint, sizeof(hint)));
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
                !(is_digits(n->value) && parse_uint(n->value, UINT32_MAX, &cid) == 0)) {
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
                 did_you_mean(n->name, group_word, 1, hint, sizeof(hint)));
            continue;
        }
        check_group(c, n, ++index);
    }
    if (index == 0) {
        vf_cc_diag(c, blk, false, "groups section has no group: no access control is applied");
    }
}

/* The selected backend should have at least its "uri". */
static void
check_backend_uri(struct vf_cc_ctx *c)
{
    const char *be = vf_conf_get(c->conf, "fence_virtd/backend", NULL);
    char path[128];
    char v[80];

    if (be == NULL || !one_of(be, known_backends)) {
        return;
    }
    snprintf(path, sizeof(path), "backends/%s/uri", be);
    if (vf_conf_get(c->conf, path, NULL) == NULL) {
        vf_cc_diag(c, vf_conf_key(c->conf, NULL, "fence_virtd/backend"), false,
             "backend '%s' is selected but %s is not set", vf_cc_shown(be, v, sizeof(v)), path);
    }
}

int
vf_conf_check(const struct vf_conf *conf, FILE *diag_out)
{
    struct vf_cc_ctx c = { conf, diag_out, 0, 0 };
    const char *cands[8];
    size_t n_cands = 0;
    char hint[64];
    char v[80];
    const struct vf_conf_node *fv = NULL;

    if (conf == NULL || conf->root == NULL) {
        return 1;
    }
    for (const char *const *s = top_sections; *s != NULL; s++) {
        cands[n_cands++] = *s;
    }
    for (const struct vf_conf_node *n = conf->root->children; n != NULL; n = n->next) {
        if (!n->is_block) {
            vf_cc_diag(&c, n, false, "unknown key '%s' at top level%s", vf_cc_shown(n->name, v, sizeof(v)),
                 did_you_mean(n->name, cands, n_cands, hint, sizeof(hint)));
            continue;
        }
        if (!one_of(n->name, top_sections)) {
            /*
             * A mistyped "groups" section would switch the ACL off without a
             * word (the daemon would start, or a reload apply, with no
             * groups): error when the name is close to "groups" or the
             * block holds "group" blocks, like the typos inside groups.
             */
            const char *sug = suggest(n->name, cands, n_cands);
            bool acl_like = (sug != NULL && strcmp(sug, "groups") == 0);

            for (const struct vf_conf_node *ch = n->children; ch != NULL; ch = ch->next) {
                acl_like = acl_like || (ch->is_block && strcasecmp(ch->name, "group") == 0);
            }
            vf_cc_diag(&c, n, acl_like, "unknown section '%s'%s%s", vf_cc_shown(n->name, v, sizeof(v)),
                 did_you_mean(n->name, cands, n_cands, hint, sizeof(hint)),
                 acl_like ? "; refusing a possibly mistyped ACL" : "");
            continue;
        }
    }
    for (const char *const *s = top_sections; *s != NULL; s++) {
        const struct vf_conf_node *blk =
            last_block(&c, conf->root, *s, *s, strcmp(*s, "groups") == 0);

        if (blk == NULL) {
            continue;
        }
        if (strcmp(*s, "fence_virtd") == 0) {
            fv = blk;
            check_keys(&c, blk, *s, fence_virtd_keys, false);
        } else if (strcmp(*s, "listeners") == 0) {
            check_plugin_sections(&c, blk, *s, listener_sections);
        } else if (strcmp(*s, "backends") == 0) {
            check_plugin_sections(&c, blk, *s, backend_sections);
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
        check_backend_uri(&c);
    }
    vf_cc_check_security(&c);
    return c.errors;
}
