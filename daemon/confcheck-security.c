/*
 * vmfence - daemon/confcheck-security.c: the --check-config warnings about
 * settings that work but weaken fencing security (see "SECURITY" in
 * fence_virt.conf(5)): the multicast listener and a stream listener (tcp,
 * vsock) sharing one key, groups while an enabled listener has
 * auth = "none", hash = "none" on an enabled listener.  The serial
 * listener has no key (its identity is the channel) and is left out.
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
#include "wire.h"

/*
 * The listeners that take signed requests and run the challenge/response
 * with a key.  The serial listener has none: the channel is the identity.
 */
static const char *const keyed_listeners[] = { "multicast", "tcp", "vsock", NULL };

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
 * The multicast listener and a stream listener (tcp, vsock) with one key:
 * fence_xvm's signed datagrams reach everyone on the guests' network, and
 * each of them also carries a valid signature for the stream listener.
 */
static void
check_shared_keys(struct vf_cc_ctx *c)
{
    static const char *const stream[] = { "tcp", "vsock" };
    const char *mkey = NULL;
    char v1[80], v2[80];
    char why[256];

    if (!listener_enabled(c->conf, "multicast") || !uses_key(c->conf, "multicast")) {
        return;
    }
    mkey = lsetting(c->conf, "multicast", "key_file", VF_DEFAULT_KEY_FILE, NULL);
    for (size_t i = 0; i < sizeof(stream) / sizeof(stream[0]); i++) {
        const char *l = stream[i];
        const char *skey = NULL;
        enum same_key same;

        if (!listener_enabled(c->conf, l) || !uses_key(c->conf, l)) {
            continue;
        }
        skey = lsetting(c->conf, l, "key_file", VF_DEFAULT_KEY_FILE, NULL);
        same = compare_keys(mkey, skey);
        if (same == KEY_DIFFERENT) {
            continue;
        }
        snprintf(why, sizeof(why), "anyone on the guests' network sees fence_xvm's signed "
                 "multicast datagrams, and with one key a sniffed datagram also carries a "
                 "valid signature for the %s listener", l);
        if (same == KEY_SAME_FILE) {
            vf_cc_diag(c, listener_node(c->conf, l, "key_file"), false,
                 "listeners/multicast and listeners/%s use the same key file '%s': %s; give "
                 "each transport its own key file (dd if=/dev/urandom "
                 "of=/etc/cluster/fence_virt_%s.key bs=4096 count=1, then set key_file in "
                 "listeners/%s and in the %s agents)", l, vf_cc_shown(skey, v1, sizeof(v1)), why, l,
                 l, l);
        } else {
            vf_cc_diag(c, listener_node(c->conf, l, "key_file"), false,
                 "the key files of listeners/multicast ('%s') and listeners/%s ('%s') hold "
                 "the same key: %s; give each transport its own key (dd if=/dev/urandom "
                 "of=/etc/cluster/fence_virt_%s.key bs=4096 count=1)",
                 vf_cc_shown(mkey, v1, sizeof(v1)), l, vf_cc_shown(skey, v2, sizeof(v2)), why, l);
        }
    }
}

/* hash = "none" and groups with auth = "none", on each enabled keyed listener */
static void
check_listener_auth(struct vf_cc_ctx *c)
{
    const struct vf_conf_node *groups = vf_conf_block(c->conf, NULL, "groups");
    const struct vf_conf_node *first_group = NULL;

    for (const struct vf_conf_node *n = groups != NULL ? groups->children : NULL; n != NULL;
         n = n->next) {
        if (n->is_block && strcasecmp(n->name, "group") == 0) {
            first_group = n;
            break;
        }
    }
    for (const char *const *l = keyed_listeners; *l != NULL; l++) {
        bool hash_none = false, auth_none = false;

        if (!listener_enabled(c->conf, *l)) {
            continue;
        }
        hash_none = strcasecmp(lsetting(c->conf, *l, "hash", "sha256", NULL), "none") == 0;
        auth_none = strcasecmp(lsetting(c->conf, *l, "auth", "sha256", NULL), "none") == 0;
        if (hash_none && auth_none) {
            vf_cc_diag(c, listener_node(c->conf, *l, "hash"), false,
                 "listeners/%s/hash = 'none' and auth = 'none': requests are neither signed "
                 "nor authenticated, so anyone on the network who reaches this listener can "
                 "fence; set hash = \"sha256\" and auth = \"sha256\" (or sha512)", *l);
        } else if (hash_none) {
            vf_cc_diag(c, listener_node(c->conf, *l, "hash"), false,
                 "listeners/%s/hash = 'none': requests are not signed, so anyone on the "
                 "network can forge one and only the challenge/response keeps it from "
                 "fencing%s; set hash = \"sha256\" (or sha512)", *l,
                 strcasecmp(*l, "multicast") == 0 ?
                 " (a forged multicast request also makes fence_virtd connect to the "
                 "call-back address it names)" : "");
        }
        if (auth_none && first_group != NULL) {
            const char *why = strcasecmp(*l, "multicast") == 0 ?
                "the group identity of a multicast request is the call-back address written "
                "in it: without challenge/response anyone who connects first to the agent's "
                "call-back port can answer, and any key holder can pose as another guest" :
                strcasecmp(*l, "tcp") == 0 ?
                "the group identity is the peer's IP address, but without challenge/response "
                "the peer never proves it holds the key (a copied signed request passes) and "
                "the agent cannot tell fence_virtd from an impostor" :
                "the group identity is the peer's CID, but without challenge/response the "
                "peer never proves it holds the key (a copied signed request passes) and the "
                "agent cannot tell fence_virtd from an impostor";

            vf_cc_diag(c, listener_node(c->conf, *l, "auth"), false,
                 "listeners/%s/auth = 'none' while groups restrict access (group on line %u): "
                 "%s; set auth = \"sha256\" (or sha512) here and in the agents", *l,
                 first_group->line, why);
        }
    }
}

void
vf_cc_check_security(struct vf_cc_ctx *c)
{
    check_shared_keys(c);
    check_listener_auth(c);
}
