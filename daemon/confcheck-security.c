/*
 * vmfence - daemon/confcheck-security.c: the --check-config warnings about
 * settings that work but weaken fencing security (see "SECURITY" in
 * fence_virt.conf(5)): a broadcast listener (multicast) and a stream
 * listener (tcp, vsock) sharing one key, groups while an enabled listener
 * has auth = "none", hash = "none" on an enabled listener.  Which listener
 * is which comes from the flags of its settings schema (plugin.h); a
 * listener without VF_LF_KEYED (serial: the channel is the identity) is
 * left out.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confcheck-int.h"
#include "registry.h"
#include "wire.h"

#define MAX_LISTENERS 64

/* The @i-th registered listener whose schema has all of @flags, or NULL. */
static const struct vf_listener_ops *
listener_with(unsigned int flags, size_t *i)
{
    const struct vf_listener_ops *l = NULL;

    while (*i < MAX_LISTENERS && (l = vf_registry_listener_at((*i)++)) != NULL) {
        if (l->schema != NULL && (l->schema->flags & flags) == flags) {
            return l;
        }
    }
    return NULL;
}

/* true when @name is one of the comma-separated fence_virtd/listener entries */
static bool
listener_enabled(const struct vf_conf *conf, const char *name)
{
    const char *s = vf_conf_get(conf, "fence_virtd/listener", NULL);
    size_t want = strlen(name);

    if (s == NULL) {
        return false;
    }
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);

        while (len > 0 && isspace((unsigned char)*s)) {
            s++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)s[len - 1])) {
            len--;
        }
        if (len == want && strncasecmp(s, name, len) == 0) {
            return true;
        }
        if (comma == NULL) {
            return false;
        }
        s = comma + 1;
    }
}

/*
 * Effective value of listeners/@listener/@key (@def when absent or empty);
 * @ret_node (may be NULL) receives the assignment, NULL when absent.
 */
static const char *
lsetting(const struct vf_conf *conf, const char *listener, const char *key, const char *def,
         const struct vf_conf_node **ret_node)
{
    char path[96];

    snprintf(path, sizeof(path), "listeners/%s/%s", listener, key);
    if (ret_node != NULL) {
        *ret_node = vf_conf_key(conf, NULL, path);
    }
    return vf_conf_get(conf, path, def);
}

/* The listener loads and uses its key unless both hash and auth are none. */
static bool
uses_key(const struct vf_conf *conf, const char *listener)
{
    return strcasecmp(lsetting(conf, listener, "hash", "sha256", NULL), "none") != 0 ||
           strcasecmp(lsetting(conf, listener, "auth", "sha256", NULL), "none") != 0;
}

/*
 * First node found among: listeners/@listener/@key, the block
 * listeners/@listener, fence_virtd/listener (a place to report at).
 */
static const struct vf_conf_node *
listener_node(const struct vf_conf *conf, const char *listener, const char *key)
{
    const struct vf_conf_node *n = NULL;
    char path[96];

    if (key != NULL) {
        lsetting(conf, listener, key, NULL, &n);
    }
    if (n == NULL) {
        snprintf(path, sizeof(path), "listeners/%s", listener);
        n = vf_conf_block(conf, NULL, path);
    }
    if (n == NULL) {
        n = vf_conf_key(conf, NULL, "fence_virtd/listener");
    }
    return n;
}

/*
 * Read a key file the way the daemon takes it: a regular file of 1 to
 * VF_MAX_KEY_LEN bytes.  Anything else is refused before it is opened (a
 * device may act on open), and the open does not block (a FIFO swapped in
 * cannot hang the check).  \return 0 and *ret_len, or -errno (a file the
 * daemon would refuse is simply "not comparable" here; the listener check
 * reports it).
 */
static int
read_key_file(const char *path, unsigned char *buf, size_t *ret_len)
{
    struct stat st;
    size_t done = 0;
    int fd = -1;
    int r = 0;

    if (stat(path, &st) < 0) {
        return -errno;
    }
    if (!S_ISREG(st.st_mode)) {
        return -EINVAL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 1 || st.st_size > VF_MAX_KEY_LEN) {
        r = -EINVAL;
        goto out;
    }
    /* bounded: at most VF_MAX_KEY_LEN + 1 bytes, so growth is noticed */
    while (done < VF_MAX_KEY_LEN + 1) {
        ssize_t n = read(fd, buf + done, VF_MAX_KEY_LEN + 1 - done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            r = -errno;
            goto out;
        }
        if (n == 0) {
            break;
        }
        done += (size_t)n;
    }
    if (done == 0 || done > VF_MAX_KEY_LEN) {
        r = -EINVAL;
        goto out;
    }
    *ret_len = done;
out:
    close(fd);
    return r;
}

enum same_key { KEY_DIFFERENT, KEY_SAME_FILE, KEY_SAME_CONTENT };

/*
 * Do the key files @a and @b hold the same key?  The same file after
 * realpath() (the names as given when a file does not exist), or, when both
 * can be read, the same bytes.  Unreadable files count as different: the
 * check cannot know, and need not run as root.
 */
static enum same_key
compare_keys(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    const char *pa = realpath(a, ra) != NULL ? ra : a;
    const char *pb = realpath(b, rb) != NULL ? rb : b;
    unsigned char *ka = NULL, *kb = NULL;
    size_t la = 0, lb = 0;
    enum same_key res = KEY_DIFFERENT;

    if (strcmp(pa, pb) == 0) {
        return KEY_SAME_FILE;
    }
    ka = malloc(VF_MAX_KEY_LEN + 1);
    kb = malloc(VF_MAX_KEY_LEN + 1);
    if (ka == NULL || kb == NULL) {
        goto out;
    }
    if (read_key_file(a, ka, &la) == 0 && read_key_file(b, kb, &lb) == 0 && la == lb &&
        memcmp(ka, kb, la) == 0) {
        res = KEY_SAME_CONTENT;
    }
out:
    if (ka != NULL) {
        explicit_bzero(ka, VF_MAX_KEY_LEN + 1);
    }
    if (kb != NULL) {
        explicit_bzero(kb, VF_MAX_KEY_LEN + 1);
    }
    free(ka);
    free(kb);
    return res;
}

/*
 * A broadcast listener (multicast) and a stream listener (tcp, vsock) with
 * one key: fence_xvm's signed datagrams reach everyone on the guests'
 * network, and each of them also carries a valid signature for the stream
 * listener.
 */
static void
check_shared_key(struct vf_cc_ctx *c, const char *b, const char *l)
{
    const char *bkey = NULL;
    const char *skey = NULL;
    char v1[80], v2[80];
    char why[256];
    enum same_key same;

    if (!listener_enabled(c->conf, l) || !uses_key(c->conf, l)) {
        return;
    }
    bkey = lsetting(c->conf, b, "key_file", VF_DEFAULT_KEY_FILE, NULL);
    skey = lsetting(c->conf, l, "key_file", VF_DEFAULT_KEY_FILE, NULL);
    same = compare_keys(bkey, skey);
    if (same == KEY_DIFFERENT) {
        return;
    }
    snprintf(why, sizeof(why), "anyone on the guests' network sees fence_xvm's signed "
             "%s datagrams, and with one key a sniffed datagram also carries a "
             "valid signature for the %s listener", b, l);
    if (same == KEY_SAME_FILE) {
        vf_cc_diag(c, listener_node(c->conf, l, "key_file"), false,
                   "listeners/%s and listeners/%s use the same key file '%s': %s; give "
                   "each transport its own key file (dd if=/dev/urandom "
                   "of=/etc/cluster/fence_virt_%s.key bs=4096 count=1, then set key_file in "
                   "listeners/%s and in the %s agents)", b, l,
                   vf_cc_shown(skey, v1, sizeof(v1)), why, l, l, l);
    } else {
        vf_cc_diag(c, listener_node(c->conf, l, "key_file"), false,
                   "the key files of listeners/%s ('%s') and listeners/%s ('%s') hold "
                   "the same key: %s; give each transport its own key (dd if=/dev/urandom "
                   "of=/etc/cluster/fence_virt_%s.key bs=4096 count=1)", b,
                   vf_cc_shown(bkey, v1, sizeof(v1)), l, vf_cc_shown(skey, v2, sizeof(v2)),
                   why, l);
    }
}

static void
check_shared_keys(struct vf_cc_ctx *c)
{
    const struct vf_listener_ops *b = NULL;

    for (size_t i = 0; (b = listener_with(VF_LF_KEYED | VF_LF_BROADCAST, &i)) != NULL;) {
        const struct vf_listener_ops *l = NULL;

        if (!listener_enabled(c->conf, b->name) || !uses_key(c->conf, b->name)) {
            continue;
        }
        for (size_t k = 0; (l = listener_with(VF_LF_KEYED | VF_LF_STREAM, &k)) != NULL;) {
            check_shared_key(c, b->name, l->name);
        }
    }
}

/* hash = "none", and auth = "none" while groups restrict access, on listener @l */
static void
check_auth(struct vf_cc_ctx *c, const struct vf_listener_ops *l,
           const struct vf_conf_node *first_group)
{
    const char *name = l->name;
    bool broadcast = (l->schema->flags & VF_LF_BROADCAST) != 0;
    bool hash_none = strcasecmp(lsetting(c->conf, name, "hash", "sha256", NULL), "none") == 0;
    bool auth_none = strcasecmp(lsetting(c->conf, name, "auth", "sha256", NULL), "none") == 0;
    const char *identity = l->schema->identity != NULL ? l->schema->identity : "the peer";
    char why[512];

    if (hash_none && auth_none) {
        vf_cc_diag(c, listener_node(c->conf, name, "hash"), false,
                   "listeners/%s/hash = 'none' and auth = 'none': requests are neither signed "
                   "nor authenticated, so anyone on the network who reaches this listener can "
                   "fence; set hash = \"sha256\" and auth = \"sha256\" (or sha512)", name);
    } else if (hash_none) {
        vf_cc_diag(c, listener_node(c->conf, name, "hash"), false,
                   "listeners/%s/hash = 'none': requests are not signed, so anyone on the "
                   "network can forge one and only the challenge/response keeps it from "
                   "fencing%s%s%s; set hash = \"sha256\" (or sha512)", name,
                   broadcast ? " (a forged " : "", broadcast ? name : "",
                   broadcast ? " request also makes fence_virtd connect to the call-back "
                   "address it names)" : "");
    }
    if (!auth_none || first_group == NULL) {
        return;
    }
    if (broadcast) {
        snprintf(why, sizeof(why), "the group identity of a %s request is %s: without "
                 "challenge/response anyone who connects first to the agent's call-back port "
                 "can answer, and any key holder can pose as another guest", name, identity);
    } else {
        snprintf(why, sizeof(why), "the group identity is %s, but without challenge/response "
                 "the peer never proves it holds the key (a copied signed request passes) and "
                 "the agent cannot tell fence_virtd from an impostor", identity);
    }
    vf_cc_diag(c, listener_node(c->conf, name, "auth"), false,
               "listeners/%s/auth = 'none' while groups restrict access (group on line %u): "
               "%s; set auth = \"sha256\" (or sha512) here and in the agents", name,
               first_group->line, why);
}

/* hash = "none" and groups with auth = "none", on each enabled keyed listener */
static void
check_listener_auth(struct vf_cc_ctx *c)
{
    const struct vf_conf_node *groups = vf_conf_block(c->conf, NULL, "groups");
    const struct vf_conf_node *first_group = NULL;
    const struct vf_listener_ops *l = NULL;

    for (const struct vf_conf_node *n = groups != NULL ? groups->children : NULL; n != NULL;
         n = n->next) {
        if (n->is_block && strcasecmp(n->name, "group") == 0) {
            first_group = n;
            break;
        }
    }
    for (size_t i = 0; (l = listener_with(VF_LF_KEYED, &i)) != NULL;) {
        if (listener_enabled(c->conf, l->name)) {
            check_auth(c, l, first_group);
        }
    }
}

void
vf_cc_check_security(struct vf_cc_ctx *c)
{
    check_shared_keys(c);
    check_listener_auth(c);
}
