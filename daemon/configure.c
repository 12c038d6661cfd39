/*
 * vmfence - daemon/configure.c: the interactive configurator (fence_virtd -c).
 *
 * Follows the reference flow (protocol.md 3.4: "Text [default]: " prompts,
 * empty answer = default) with its defects fixed (D12):
 *   - every listener can be configured (multicast, tcp, vsock, serial), and
 *     several at once (fence_virtd/listener is a comma-separated list);
 *   - the tcp listen address defaults to 127.0.0.1, not the multicast group;
 *   - the serial listener's libvirt URI is saved;
 *   - key file, hash and auth are asked for every network listener;
 *   - groups can be kept and new groups added;
 *   - the existing file is edited in place: comments and order are kept, new
 *     keys go to the end of their block;
 *   - the result is written atomically (mkostemp in the same directory,
 *     mode 0600, fsync, rename).
 * Input is bounded: every answer is one line of at most 1023 bytes, an
 * invalid answer is asked again at most 5 times, and end of input at any
 * question means "decline" (return 1, nothing written).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "configure.h"
#include "config.h"
#include "confcheck.h"

#ifndef VF_DEFAULT_KEY_FILE
#define VF_DEFAULT_KEY_FILE "/etc/cluster/fence_xvm.key"
#endif

#define ANSWER_MAX   1024
#define MAX_TRIES    5
#define MAX_GROUPS   16
#define ABORT        1          /* internal: stop, nothing written */

struct io {
    FILE *in;
    FILE *out;
};

/* ---- tree editing -------------------------------------------------------- */

static struct vf_conf_node *
node_new(const char *name, const char *value, bool is_block)
{
    struct vf_conf_node *n = calloc(1, sizeof(*n));

    if (n == NULL) {
        return NULL;
    }
    n->name = strdup(name);
    n->value = value != NULL ? strdup(value) : NULL;
    n->is_block = is_block;
    if (n->name == NULL || (value != NULL && n->value == NULL)) {
        free(n->name);
        free(n->value);
        free(n);
        return NULL;
    }
    return n;
}

static void
append_child(struct vf_conf_node *parent, struct vf_conf_node *n)
{
    struct vf_conf_node **pp = &parent->children;

    while (*pp != NULL) {
        pp = &(*pp)->next;
    }
    *pp = n;
}

/* Last child named @name (case-insensitive) of the given kind. */
static struct vf_conf_node *
child_find(struct vf_conf_node *parent, const char *name, bool is_block)
{
    struct vf_conf_node *found = NULL;

    for (struct vf_conf_node *n = parent->children; n != NULL; n = n->next) {
        if (n->is_block == is_block && strcasecmp(n->name, name) == 0) {
            found = n;
        }
    }
    return found;
}

static struct vf_conf_node *
block_ensure(struct vf_conf_node *parent, const char *name)
{
    struct vf_conf_node *b = child_find(parent, name, true);

    if (b == NULL) {
        b = node_new(name, NULL, true);
        if (b != NULL) {
            append_child(parent, b);
        }
    }
    return b;
}

/* Set (last one wins, so edit the last) or append a key. */
static int
key_set(struct vf_conf_node *blk, const char *name, const char *value)
{
    struct vf_conf_node *k = child_find(blk, name, false);
    char *v;

    if (k != NULL) {
        v = strdup(value);
        if (v == NULL) {
            return -ENOMEM;
        }
        free(k->value);
        k->value = v;
        return 0;
    }
    k = node_new(name, value, false);
    if (k == NULL) {
        return -ENOMEM;
    }
    append_child(blk, k);
    return 0;
}

/* Remove every child named @name of the given kind; its comment moves on. */
static void
child_del(struct vf_conf_node *parent, const char *name, bool is_block)
{
    struct vf_conf_node **pp = &parent->children;

    while (*pp != NULL) {
        struct vf_conf_node *n = *pp;

        if (n->is_block != is_block || strcasecmp(n->name, name) != 0) {
            pp = &n->next;
            continue;
        }
        *pp = n->next;
        if (n->comment != NULL && n->next != NULL && n->next->comment == NULL) {
            n->next->comment = n->comment;
            n->comment = NULL;
        }
        n->next = NULL;
        vf_conf_node_free(n);
    }
}

static const char *
key_get(struct vf_conf_node *blk, const char *name, const char *def)
{
    struct vf_conf_node *k = blk != NULL ? child_find(blk, name, false) : NULL;

    if (k == NULL || k->value == NULL || k->value[0] == '\0') {
        return def;
    }
    return k->value;
}

/* ---- questions ----------------------------------------------------------- */

static void
trim(char *s)
{
    size_t n = strlen(s);
    size_t i = 0;

    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    while (isspace((unsigned char)s[i])) {
        i++;
    }
    if (i > 0) {
        memmove(s, s + i, n - i + 1);
    }
}

/* Read one line, bounded; the rest of an over-long line is discarded. */
static int
read_line(struct io *io, char *buf, size_t len)
{
    size_t n;

    if (fgets(buf, (int)len, io->in) == NULL) {
        return ABORT;
    }
    n = strlen(buf);
    if (n > 0 && buf[n - 1] != '\n' && !feof(io->in)) {
        int ch;

        do {
            ch = fgetc(io->in);
        } while (ch != EOF && ch != '\n');
    }
    trim(buf);
    return 0;
}

/* "Text [default]: " -> @ans (the default when the answer is empty). */
static int
ask(struct io *io, const char *text, const char *def, char *ans, size_t len)
{
    if (def != NULL) {
        fprintf(io->out, "%s [%s]: ", text, def);
    } else {
        fprintf(io->out, "%s: ", text);
    }
    fflush(io->out);
    if (read_line(io, ans, len) != 0) {
        fputc('\n', io->out);
        return ABORT;
    }
    if (ans[0] == '\0' && def != NULL) {
        snprintf(ans, len, "%s", def);
    }
    return 0;
}

/* "Text [y/N]? "; *ret = answer.  Anything but y/yes/n/no is the default. */
static int
ask_yn(struct io *io, const char *text, bool def, bool *ret)
{
    char ans[ANSWER_MAX];

    fprintf(io->out, "%s [%s]? ", text, def ? "Y/n" : "y/N");
    fflush(io->out);
    if (read_line(io, ans, sizeof(ans)) != 0) {
        fputc('\n', io->out);
        return ABORT;
    }
    if (strcasecmp(ans, "y") == 0 || strcasecmp(ans, "yes") == 0) {
        *ret = true;
    } else if (strcasecmp(ans, "n") == 0 || strcasecmp(ans, "no") == 0) {
        *ret = false;
    } else {
        *ret = def;
    }
    return 0;
}

static int
too_many(struct io *io)
{
    fprintf(io->out, "Too many invalid answers; giving up.\n");
    return ABORT;
}

static bool
parse_port(const char *s, unsigned long *ret)
{
    char *end = NULL;
    unsigned long v;

    if (!isdigit((unsigned char)s[0])) {
        return false;
    }
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0' || v < 1 || v > 65535) {
        return false;
    }
    *ret = v;
    return true;
}

static int
ask_port(struct io *io, const char *text, struct vf_conf_node *blk)
{
    char ans[ANSWER_MAX];
    unsigned long port;
    int r;

    for (int t = 0; t < MAX_TRIES; t++) {
        r = ask(io, text, key_get(blk, "port", "1229"), ans, sizeof(ans));
        if (r != 0) {
            return r;
        }
        if (parse_port(ans, &port)) {
            return key_set(blk, "port", ans);
        }
        fprintf(io->out, "Invalid port '%s': enter a number in 1..65535.\n", ans);
    }
    return too_many(io);
}

/* Address prompt; sets address and the family derived from it. */
static int
ask_address(struct io *io, const char *text, struct vf_conf_node *blk,
            const char *def, bool multicast)
{
    char ans[ANSWER_MAX];
    unsigned char bin[16];
    int r;

    for (int t = 0; t < MAX_TRIES; t++) {
        bool v4, v6;

        r = ask(io, text, key_get(blk, "address", def), ans, sizeof(ans));
        if (r != 0) {
            return r;
        }
        v4 = inet_pton(AF_INET, ans, bin) == 1;
        v6 = !v4 && inet_pton(AF_INET6, ans, bin) == 1;
        if (!v4 && !v6) {
            fprintf(io->out, "'%s' is not an IPv4 or IPv6 address.\n", ans);
            continue;
        }
        if (multicast && (v4 ? (bin[0] & 0xf0) != 0xe0 : bin[0] != 0xff)) {
            fprintf(io->out, "'%s' is not a multicast address.\n", ans);
            continue;
        }
        fprintf(io->out, "\nUsing %s as family.\n\n", v4 ? "ipv4" : "ipv6");
        r = key_set(blk, "address", ans);
        if (r == 0) {
            r = key_set(blk, "family", v4 ? "ipv4" : "ipv6");
        }
        return r;
    }
    return too_many(io);
}

static bool
is_hash(const char *s)
{
    return strcasecmp(s, "none") == 0 || strcasecmp(s, "sha1") == 0 ||
           strcasecmp(s, "sha256") == 0 || strcasecmp(s, "sha512") == 0;
}

static int
ask_hash(struct io *io, const char *text, struct vf_conf_node *blk, const char *key)
{
    char ans[ANSWER_MAX];
    int r;

    for (int t = 0; t < MAX_TRIES; t++) {
        r = ask(io, text, key_get(blk, key, "sha256"), ans, sizeof(ans));
        if (r != 0) {
            return r;
        }
        if (is_hash(ans)) {
            for (char *p = ans; *p != '\0'; p++) {
                *p = (char)tolower((unsigned char)*p);
            }
            return key_set(blk, key, ans);
        }
        fprintf(io->out, "'%s' is not one of none, sha1, sha256, sha512.\n", ans);
    }
    return too_many(io);
}

/* Key file, hash and auth of a network listener. */
static int
ask_security(struct io *io, struct vf_conf_node *blk)
{
    char ans[ANSWER_MAX];
    int r;

    fprintf(io->out,
            "\nThe key file is the shared key information which is used to\n"
            "authenticate fencing requests.  The contents of this file must\n"
            "be distributed to each physical host and virtual machine within\n"
            "a cluster.\n\n");
    for (int t = 0; ; t++) {
        bool yes = false;

        if (t == MAX_TRIES) {
            return too_many(io);
        }
        r = ask(io, "Key File", key_get(blk, "key_file", VF_DEFAULT_KEY_FILE), ans,
                sizeof(ans));
        if (r != 0) {
            return r;
        }
        if (strcasecmp(ans, "none") == 0) {
            child_del(blk, "key_file", false);
            break;
        }
        if (ans[0] == '/') {
            r = key_set(blk, "key_file", ans);
            if (r < 0) {
                return r;
            }
            break;
        }
        fprintf(io->out, "'%s' is not an absolute path.\n", ans);
        r = ask_yn(io, "Use this value anyway", false, &yes);
        if (r != 0) {
            return r;
        }
        if (yes) {
            r = key_set(blk, "key_file", ans);
            if (r < 0) {
                return r;
            }
            break;
        }
    }
    fprintf(io->out,
            "\nThe hash is the weakest request signature the listener accepts;\n"
            "auth is the algorithm of the challenge/response exchange.\n"
            "Both must match what the clients use (fence_xvm -c / -C).\n\n");
    r = ask_hash(io, "Packet hash (none, sha1, sha256, sha512)", blk, "hash");
    if (r == 0) {
        r = ask_hash(io, "Challenge-response auth (none, sha1, sha256, sha512)", blk, "auth");
    }
    return r;
}

static int
conf_multicast(struct io *io, struct vf_conf_node *blk)
{
    char ans[ANSWER_MAX];
    int r;

    fprintf(io->out,
            "\nThe multicast listener module is designed for use environments\n"
            "where the guests and hosts may communicate over a network using\n"
            "multicast.\n\n"
            "The multicast address is the address that a client will use to\n"
            "send fencing requests to fence_virtd.\n\n");
    r = ask_address(io, "Multicast IP Address", blk, "225.0.0.12", true);
    if (r == 0) {
        r = ask_port(io, "Multicast IP Port", blk);
    }
    if (r != 0) {
        return r;
    }
    fprintf(io->out,
            "\nSetting a preferred interface causes fence_virtd to listen only\n"
            "on that interface.  Normally, it listens on all interfaces.\n"
            "In environments where the virtual machines are using the host\n"
            "machine as a gateway, this *must* be set (typically to virbr0).\n"
            "Set to 'none' for no interface.\n\n");
    for (int t = 0; ; t++) {
        bool yes = false;

        if (t == MAX_TRIES) {
            return too_many(io);
        }
        r = ask(io, "Interface", key_get(blk, "interface", "none"), ans, sizeof(ans));
        if (r != 0) {
            return r;
        }
        if (strcasecmp(ans, "none") == 0) {
            child_del(blk, "interface", false);
            break;
        }
        if (strlen(ans) < IF_NAMESIZE && if_nametoindex(ans) != 0) {
            r = key_set(blk, "interface", ans);
            if (r < 0) {
                return r;
            }
            break;
        }
        fprintf(io->out, "Interface '%s' does not exist on this host.\n", ans);
        r = ask_yn(io, "Use this value anyway", false, &yes);
        if (r != 0) {
            return r;
        }
        if (yes) {
            r = key_set(blk, "interface", ans);
            if (r < 0) {
                return r;
            }
            break;
        }
    }
    return ask_security(io, blk);
}

static int
conf_tcp(struct io *io, struct vf_conf_node *blk)
{
    int r;

    fprintf(io->out,
            "\nThe tcp listener accepts fencing requests on a TCP socket.  Listen\n"
            "on an address the guests can reach (the default only serves this host).\n\n");
    r = ask_address(io, "TCP Listen IP Address", blk, "127.0.0.1", false);
    if (r == 0) {
        r = ask_port(io, "TCP Listen Port", blk);
    }
    if (r == 0) {
        r = ask_security(io, blk);
    }
    return r;
}

static int
conf_vsock(struct io *io, struct vf_conf_node *blk)
{
    int r;

    fprintf(io->out,
            "\nThe vsock listener accepts fencing requests from guests over\n"
            "AF_VSOCK (fence_virt -S <host CID>).\n\n");
    r = ask_port(io, "vsock Listen Port", blk);
    if (r == 0) {
        r = ask_security(io, blk);
    }
    return r;
}

static int
conf_serial(struct io *io, struct vf_conf_node *blk)
{
    char ans[ANSWER_MAX];
    int r;

    fprintf(io->out,
            "\nThe serial listener watches libvirt domains for serial ports or\n"
            "vmchannel (guestfwd) channels bound to UNIX sockets.\n\n");
    r = ask(io, "Libvirt URI", key_get(blk, "uri", "qemu:///system"), ans, sizeof(ans));
    if (r != 0) {
        return r;
    }
    r = key_set(blk, "uri", ans);
    if (r < 0) {
        return r;
    }
    fprintf(io->out,
            "\nThe socket directory restricts the listener to sockets directly\n"
            "inside it.  Set to 'none' to accept sockets anywhere.\n\n");
    r = ask(io, "Socket directory", key_get(blk, "path", "none"), ans, sizeof(ans));
    if (r != 0) {
        return r;
    }
    if (strcasecmp(ans, "none") == 0) {
        child_del(blk, "path", false);
    } else {
        r = key_set(blk, "path", ans);
        if (r < 0) {
            return r;
        }
    }
    for (int t = 0; t < MAX_TRIES; t++) {
        r = ask(io, "Mode (serial or vmchannel)", key_get(blk, "mode", "serial"), ans,
                sizeof(ans));
        if (r != 0) {
            return r;
        }
        if (strcasecmp(ans, "serial") == 0 || strcasecmp(ans, "vmchannel") == 0) {
            return key_set(blk, "mode", ans);
        }
        fprintf(io->out, "'%s' is not one of serial, vmchannel.\n", ans);
    }
    return too_many(io);
}

static const char *const listener_names[] = { "multicast", "tcp", "vsock", "serial", NULL };

static bool
known_name(const char *s, const char *const *names)
{
    for (; *names != NULL; names++) {
        if (strcasecmp(s, *names) == 0) {
            return true;
        }
    }
    return false;
}

/* Listener list: ask, validate each name, then configure each known one. */
static int
conf_listeners(struct io *io, struct vf_conf *conf, struct vf_conf_node *fv)
{
    char ans[ANSWER_MAX];
    char list[ANSWER_MAX];
    int r;

    fprintf(io->out,
            "\nListener modules are responsible for accepting requests\n"
            "from fencing clients (multicast, tcp, vsock, serial).  Several\n"
            "listeners may be given, separated by commas.\n\n");
    for (int t = 0; ; t++) {
        bool ok = true;
        char *save = NULL;

        if (t == MAX_TRIES) {
            return too_many(io);
        }
        r = ask(io, "Listener module", key_get(fv, "listener", "multicast"), ans,
                sizeof(ans));
        if (r != 0) {
            return r;
        }
        /* normalise "a , b" -> "a,b" and check the names */
        list[0] = '\0';
        snprintf(list, sizeof(list), "%s", ans);
        ans[0] = '\0';
        for (char *tok = strtok_r(list, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            trim(tok);
            if (tok[0] == '\0') {
                continue;
            }
            if (!known_name(tok, listener_names)) {
                bool yes = false;

                fprintf(io->out, "Unknown listener module '%s'.\n", tok);
                r = ask_yn(io, "Use this value anyway", false, &yes);
                if (r != 0) {
                    return r;
                }
                if (!yes) {
                    ok = false;
                    break;
                }
            }
            if (strlen(ans) + strlen(tok) + 2 < sizeof(ans)) {
                if (ans[0] != '\0') {
                    strcat(ans, ",");
                }
                strcat(ans, tok);
            }
        }
        if (ok && ans[0] != '\0') {
            break;
        }
        if (ans[0] == '\0') {
            fprintf(io->out, "At least one listener is needed.\n");
        }
    }
    r = key_set(fv, "listener", ans);
    if (r < 0) {
        return r;
    }
    snprintf(list, sizeof(list), "%s", ans);
    {
        char *save = NULL;
        struct vf_conf_node *ls = block_ensure(conf->root, "listeners");

        if (ls == NULL) {
            return -ENOMEM;
        }
        for (char *tok = strtok_r(list, ",", &save); tok != NULL && r == 0;
             tok = strtok_r(NULL, ",", &save)) {
            struct vf_conf_node *blk;

            if (!known_name(tok, listener_names)) {
                fprintf(io->out, "Unable to configure unknown listener module '%s'.\n", tok);
                continue;
            }
            for (char *p = tok; *p != '\0'; p++) {
                *p = (char)tolower((unsigned char)*p);
            }
            blk = block_ensure(ls, tok);
            if (blk == NULL) {
                return -ENOMEM;
            }
            if (strcmp(tok, "multicast") == 0) {
                r = conf_multicast(io, blk);
            } else if (strcmp(tok, "tcp") == 0) {
                r = conf_tcp(io, blk);
            } else if (strcmp(tok, "vsock") == 0) {
                r = conf_vsock(io, blk);
            } else {
                r = conf_serial(io, blk);
            }
        }
    }
    return r;
}

static int
ask_uri(struct io *io, struct vf_conf_node *blk)
{
    char ans[ANSWER_MAX];
    int r = ask(io, "Libvirt URI", key_get(blk, "uri", "qemu:///system"), ans, sizeof(ans));

    if (r == 0) {
        r = key_set(blk, "uri", ans);
    }
    return r;
}

static int
conf_backend(struct io *io, struct vf_conf *conf, struct vf_conf_node *fv)
{
    static const char *const backends[] = { "libvirt", "cpg", NULL };
    char ans[ANSWER_MAX];
    struct vf_conf_node *bs, *blk;
    bool yes = false;
    int r;

    fprintf(io->out,
            "\nBackend modules are responsible for routing requests to\n"
            "the appropriate hypervisor or management layer.\n\n");
    for (int t = 0; ; t++) {
        if (t == MAX_TRIES) {
            return too_many(io);
        }
        r = ask(io, "Backend module", key_get(fv, "backend", "libvirt"), ans, sizeof(ans));
        if (r != 0) {
            return r;
        }
        if (known_name(ans, backends)) {
            for (char *p = ans; *p != '\0'; p++) {
                *p = (char)tolower((unsigned char)*p);
            }
            break;
        }
        fprintf(io->out, "Unknown backend module '%s'.\n", ans);
        r = ask_yn(io, "Use this value anyway", false, &yes);
        if (r != 0) {
            return r;
        }
        if (yes) {
            return key_set(fv, "backend", ans);
        }
    }
    r = key_set(fv, "backend", ans);
    if (r < 0) {
        return r;
    }
    bs = block_ensure(conf->root, "backends");
    blk = bs != NULL ? block_ensure(bs, ans) : NULL;
    if (blk == NULL) {
        return -ENOMEM;
    }
    if (strcmp(ans, "libvirt") == 0) {
        const char *cur = key_get(blk, "reboot_powers_on", "no");
        bool def = strcasecmp(cur, "yes") == 0 || strcasecmp(cur, "true") == 0 ||
                   strcmp(cur, "1") == 0;

        fprintf(io->out,
                "\nThe libvirt backend module is designed for single desktops or\n"
                "servers.  Do not use in environments where virtual machines\n"
                "may be migrated between hosts.\n\n");
        r = ask_uri(io, blk);
        if (r != 0) {
            return r;
        }
        fprintf(io->out,
                "\nA reboot request for a domain that is shut off can either leave it\n"
                "off (the reference behaviour) or power it on.\n\n");
        r = ask_yn(io, "Power on domains that are off when asked to reboot them", def, &yes);
        if (r != 0) {
            return r;
        }
        return key_set(blk, "reboot_powers_on", yes ? "yes" : "no");
    }

    fprintf(io->out,
            "\nThe cpg backend module is designed for use in environments where\n"
            "virtual machines may be migrated between hosts: all fence_virtd\n"
            "instances of the host cluster share their domain lists over corosync.\n\n");
    r = ask_uri(io, blk);
    if (r != 0) {
        return r;
    }
    fprintf(io->out,
            "\nThe cpg backend tracks domains cluster-wide by name or by UUID.\n"
            "UUIDs are unique; names may collide between hosts.\n\n");
    for (int t = 0; t < MAX_TRIES; t++) {
        r = ask(io, "VM naming/tracking mode (name or uuid)", key_get(blk, "name_mode", "uuid"),
                ans, sizeof(ans));
        if (r != 0) {
            return r;
        }
        if (strcasecmp(ans, "uuid") == 0) {
            return key_set(blk, "name_mode", "uuid");
        }
        if (strcasecmp(ans, "name") == 0) {
            fprintf(io->out, "Name mode relies on domain names being unique in the whole "
                    "host cluster.\n");
            r = ask_yn(io, "Use name mode anyway", true, &yes);
            if (r != 0) {
                return r;
            }
            if (yes) {
                return key_set(blk, "name_mode", "name");
            }
            continue;
        }
        fprintf(io->out, "'%s' is not one of name, uuid.\n", ans);
    }
    return too_many(io);
}

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
    char buf[ANSWER_MAX];
    char *save = NULL;

    *ret_n = 0;
    snprintf(buf, sizeof(buf), "%s", answer);
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        struct vf_conf_node *n;

        trim(tok);
        if (tok[0] == '\0') {
            continue;
        }
        n = node_new(key, tok, false);
        if (n == NULL) {
            return -ENOMEM;
        }
        append_child(g, n);
        (*ret_n)++;
    }
    return 0;
}

static int
ask_group(struct io *io, struct vf_conf *conf, unsigned int index)
{
    char name[ANSWER_MAX], ips[ANSWER_MAX], tgts[ANSWER_MAX], def[32];
    struct vf_conf_node *gs, *g;
    unsigned int n_ip = 0, n_tgt = 0;
    int r;

    snprintf(def, sizeof(def), "group%u", index);
    r = ask(io, "Group name", def, name, sizeof(name));
    if (r != 0) {
        return r;
    }
    for (int t = 0; ; t++) {
        char buf[ANSWER_MAX];
        char *save = NULL;
        bool ok = true;

        if (t == MAX_TRIES) {
            return too_many(io);
        }
        r = ask(io, "Requesters: IP addresses or vsock CIDs (comma-separated)", NULL, ips,
                sizeof(ips));
        if (r != 0) {
            return r;
        }
        snprintf(buf, sizeof(buf), "%s", ips);
        for (char *tok = strtok_r(buf, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            trim(tok);
            if (tok[0] != '\0' && !is_requester(tok)) {
                fprintf(io->out, "'%s' is neither an IP address nor a vsock CID.\n", tok);
                ok = false;
            }
        }
        if (ok) {
            break;
        }
    }
    r = ask(io, "Domains this group may fence: names and/or UUIDs (comma-separated)", NULL,
            tgts, sizeof(tgts));
    if (r != 0) {
        return r;
    }
    gs = block_ensure(conf->root, "groups");
    g = gs != NULL ? node_new("group", NULL, true) : NULL;
    if (g == NULL) {
        return -ENOMEM;
    }
    r = key_set(g, "name", name);
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
    append_child(gs, g);
    return 0;
}

static int
conf_groups(struct io *io, struct vf_conf *conf)
{
    struct vf_conf_node *gs = child_find(conf->root, "groups", true);
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
        r = ask_yn(io, "Keep the existing groups", true, &yes);
        if (r != 0) {
            return r;
        }
        if (!yes) {
            child_del(conf->root, "groups", true);
            count = 0;
        }
    }
    r = ask_yn(io, "Add a group", false, &yes);
    for (unsigned int i = 0; r == 0 && yes; i++) {
        if (i == MAX_GROUPS) {
            fprintf(io->out, "No more groups in this session; edit the file for more.\n");
            break;
        }
        r = ask_group(io, conf, count + i + 1);
        if (r == 0) {
            r = ask_yn(io, "Add another group", false, &yes);
        }
    }
    return r;
}

/* ---- output -------------------------------------------------------------- */

/*
 * Write @conf to @path atomically: temporary file in the same directory
 * (mode 0600), fsync, rename, fsync of the directory.
 */
static int
write_atomic(const struct vf_conf *conf, const char *path, FILE *out)
{
    char *tmp = NULL;
    char *dir = NULL;
    FILE *f = NULL;
    int fd = -1;
    int r;

    if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
        tmp = NULL;
        r = -ENOMEM;
        goto out;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        fprintf(out, "Unable to create a temporary file next to '%s': %s\n", path,
                strerror(-r));
        free(tmp);
        tmp = NULL;
        goto out;
    }
    if (fchmod(fd, 0600) < 0) {
        r = -errno;
        goto fail;
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        r = -errno;
        goto fail;
    }
    fd = -1;
    r = vf_conf_write(conf, f);
    if (r < 0) {
        goto fail;
    }
    if (fsync(fileno(f)) < 0) {
        r = -errno;
        goto fail;
    }
    r = fclose(f);
    f = NULL;
    if (r != 0) {
        r = -errno;
        goto fail;
    }
    if (rename(tmp, path) < 0) {
        r = -errno;
        goto fail;
    }
    free(tmp);
    tmp = NULL;
    dir = strdup(path);
    if (dir != NULL) {
        char *slash = strrchr(dir, '/');
        int dfd;

        if (slash == dir) {
            slash[1] = '\0';
        } else if (slash != NULL) {
            *slash = '\0';
        } else {
            strcpy(dir, ".");
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    r = 0;
    goto out;
 fail:
    fprintf(out, "Unable to write '%s': %s\n", path, strerror(-r));
    if (f != NULL) {
        fclose(f);
    }
    unlink(tmp);
 out:
    if (fd >= 0) {
        close(fd);
    }
    free(tmp);
    free(dir);
    return r;
}

/* Load @path; fresh config when missing; ask when unparsable. */
static int
load(struct io *io, const char *path, struct vf_conf **ret_conf)
{
    char err[1024];
    bool yes = false;
    int r;

    r = vf_conf_parse_file(path, ret_conf, err, sizeof(err));
    if (r == 0) {
        return 0;
    }
    if (r != -ENOENT) {
        fprintf(io->out, "%s\n", err);
        if (r == -EACCES || r == -EPERM) {
            return r;
        }
        r = ask_yn(io, "Start from scratch", false, &yes);
        if (r != 0) {
            return r;
        }
        if (!yes) {
            return ABORT;
        }
    }
    r = vf_conf_parse_buffer(path, "", 0, ret_conf, err, sizeof(err));
    return r;
}

int
vf_configure_interactive(const char *path, const char *plugins_desc, FILE *in, FILE *out)
{
    struct io io = { in, out };
    struct vf_conf *conf = NULL;
    struct vf_conf_node *fv;
    char ans[ANSWER_MAX];
    bool yes = false;
    int r;

    if (path == NULL || in == NULL || out == NULL) {
        return -EINVAL;
    }
    r = load(&io, path, &conf);
    if (r != 0) {
        goto out;
    }
    fv = block_ensure(conf->root, "fence_virtd");
    if (fv == NULL) {
        r = -ENOMEM;
        goto out;
    }

    fprintf(out, "The module search path is where fence_virtd looks for plugins besides\n"
            "its built-in listeners and backends.  Set to 'none' to use the\n"
#ifdef VF_MODULE_PATH
            "compiled-in default (" VF_MODULE_PATH ").\n\n");
#else
            "compiled-in default.\n\n");
#endif
    r = ask(&io, "Module search path", key_get(fv, "module_path", "none"), ans, sizeof(ans));
    if (r != 0) {
        goto out;
    }
    if (strcasecmp(ans, "none") == 0) {
        child_del(fv, "module_path", false);
    } else {
        r = key_set(fv, "module_path", ans);
        if (r < 0) {
            goto out;
        }
    }
    if (plugins_desc != NULL) {
        fprintf(out, "\n%s\n", plugins_desc);
    }

    r = conf_listeners(&io, conf, fv);
    if (r == 0) {
        r = conf_backend(&io, conf, fv);
    }
    if (r == 0) {
        r = conf_groups(&io, conf);
    }
    if (r != 0) {
        goto out;
    }

    fprintf(out, "\nConfiguration complete.\n\n=== Begin Configuration ===\n");
    r = vf_conf_write(conf, out);
    if (r < 0) {
        goto out;
    }
    fprintf(out, "=== End Configuration ===\n");
    {
        char *text = NULL;
        size_t len = 0;
        FILE *ms = open_memstream(&text, &len);

        if (ms != NULL) {
            vf_conf_check(conf, ms);
            fclose(ms);
            if (text != NULL && len > 0) {
                fprintf(out, "\nThe configuration check reports:\n%s\n", text);
            }
            free(text);
        }
    }
    snprintf(ans, sizeof(ans), "Replace %s with the above", path);
    r = ask_yn(&io, ans, false, &yes);
    if (r != 0) {
        goto out;
    }
    if (!yes) {
        r = ABORT;
        goto out;
    }
    r = write_atomic(conf, path, out);
    if (r == 0) {
        fprintf(out, "Wrote %s.\n", path);
    }
 out:
    if (r == ABORT) {
        fprintf(out, "Configuration not written.\n");
    }
    fflush(out);
    vf_conf_free(conf);
    return r;
}
