/*
 * vmfence - daemon/listeners/common.c: shared listener code (see common.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "io.h"
#include "key.h"
#include "log.h"

static int
conf_err(const struct vf_conf *conf, const char *path, char *err, size_t err_len,
         const char *what, const char *value)
{
    const struct vf_conf_node *n = vf_conf_key(conf, NULL, path);
    char where[300];

    if (n != NULL) {
        vf_conf_where(conf, n, where, sizeof(where));
    } else {
        snprintf(where, sizeof(where), "%s", vf_conf_file(conf) != NULL ?
                 vf_conf_file(conf) : "config");
    }
    snprintf(err, err_len, "%s: error: %s: %s '%s'", where, path, what, value);
    return -EINVAL;
}

int
vf_lsettings_read(const struct vf_conf *conf, const char *name,
                  struct vf_lsettings *s, char *err, size_t err_len)
{
    char path[128];
    const char *v = NULL;
    unsigned long port = 0;
    char warn[512];
    int r = 0;

    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);

    snprintf(path, sizeof(path), "listeners/%s/key_file", name);
    snprintf(s->key_file, sizeof(s->key_file), "%s", vf_conf_get(conf, path, VF_DEFAULT_KEY_FILE));

    snprintf(path, sizeof(path), "listeners/%s/hash", name);
    v = vf_conf_get(conf, path, "sha256");
    if (vf_hash_from_string(v, &s->hash) < 0) {
        return conf_err(conf, path, err, err_len, "unknown hash (none, sha1, sha256, sha512)", v);
    }
    snprintf(path, sizeof(path), "listeners/%s/auth", name);
    v = vf_conf_get(conf, path, "sha256");
    if (vf_hash_from_string(v, &s->auth) < 0) {
        return conf_err(conf, path, err, err_len, "unknown auth (none, sha1, sha256, sha512)", v);
    }

    snprintf(path, sizeof(path), "listeners/%s/address", name);
    snprintf(s->address, sizeof(s->address), "%s", vf_conf_get(conf, path, ""));

    snprintf(path, sizeof(path), "listeners/%s/family", name);
    v = vf_conf_get(conf, path, NULL);
    s->family = AF_INET;
    if (v != NULL) {
        s->family_set = true;
        if (strcasecmp(v, "ipv4") == 0 || strcasecmp(v, "inet") == 0) {
            s->family = AF_INET;
        } else if (strcasecmp(v, "ipv6") == 0 || strcasecmp(v, "inet6") == 0) {
            s->family = AF_INET6;
        } else {
            return conf_err(conf, path, err, err_len, "unknown family (ipv4, ipv6)", v);
        }
    } else if (strchr(s->address, ':') != NULL) {
        s->family = AF_INET6;
    }

    snprintf(path, sizeof(path), "listeners/%s/port", name);
    r = vf_conf_get_uint(conf, path, 1, 65535, VF_DEFAULT_PORT, &port, err, err_len);
    if (r < 0) {
        return r;
    }
    s->port = (uint16_t)port;

    snprintf(path, sizeof(path), "listeners/%s/interface", name);
    v = vf_conf_get(conf, path, "");
    if (strlen(v) > IF_NAMESIZE - 1) {
        return conf_err(conf, path, err, err_len, "interface name too long", v);
    }
    snprintf(s->interface, sizeof(s->interface), "%s", v);

    if (s->hash != VF_HASH_NONE || s->auth != VF_HASH_NONE) {
        char kerr[512];

        s->key = calloc(1, sizeof(*s->key));
        if (s->key == NULL) {
            snprintf(err, err_len, "out of memory");
            return -ENOMEM;
        }
        warn[0] = '\0';
        r = vf_key_load(s->key_file, s->key, kerr, sizeof(kerr), warn, sizeof(warn));
        if (r < 0) {
            snprintf(err, err_len, "listener '%s': %s (hash '%s', auth '%s' need a key; "
                     "refusing to run unauthenticated)", name, kerr,
                     vf_hash_name(s->hash), vf_hash_name(s->auth));
            free(s->key);
            s->key = NULL;
            return r;
        }
        if (warn[0] != '\0') {
            vf_log(LOG_WARNING, "listener '%s': %s (mode left unchanged)", name, warn);
        }
    } else {
        vf_log(LOG_WARNING, "listener '%s': hash and auth are 'none': requests are NOT "
               "authenticated", name);
    }
    return 0;
}

void
vf_lsettings_done(struct vf_lsettings *s)
{
    if (s == NULL || s->key == NULL) {
        return;
    }
    vf_key_clear(s->key);
    free(s->key);
    s->key = NULL;
}

void
vf_conn_init_signed(struct vf_conn *c, const struct vf_lsettings *s, const char *listener)
{
    c->listener = listener;
    c->is_signed = true;
    c->min_hash = s->hash;
    c->auth = s->auth;
    c->key = s->key;
    c->fd = -1;
    c->accepted_ms = vf_now_ms();
}

/*
 * Host lists go out in batches: records (and the 0xFD byte that announces
 * them) are collected in a buffer hung on conn->priv, written when it is
 * full and, at the latest, together with the next response byte.  One
 * send() carries about VF_CONN_WBUF_SIZE / 130 records instead of one each.
 */
#define VF_CONN_WBUF_SIZE 65536

struct conn_wbuf {
    size_t len;
    uint8_t data[VF_CONN_WBUF_SIZE];
};

/* Write out what is buffered on @c.  \return 0 or -errno */
static int
wbuf_flush(struct vf_conn *c, int64_t deadline_ms)
{
    struct conn_wbuf *wb = c->priv;
    int r = 0;

    if (wb == NULL || wb->len == 0) {
        return 0;
    }
    r = vf_write_full(c->fd, wb->data, wb->len, deadline_ms);
    wb->len = 0;
    return r;
}

/* Append @len bytes to @c's buffer, flushing first when full.  \return 0 or -errno */
static int
wbuf_append(struct vf_conn *c, const uint8_t *data, size_t len, int64_t deadline_ms)
{
    struct conn_wbuf *wb = c->priv;
    int r = 0;

    if (wb == NULL) {
        wb = malloc(sizeof(*wb));
        if (wb == NULL) {
            return vf_write_full(c->fd, data, len, deadline_ms);
        }
        wb->len = 0;
        c->priv = wb;
    }
    if (wb->len + len > sizeof(wb->data)) {
        r = wbuf_flush(c, deadline_ms);
        if (r < 0) {
            return r;
        }
    }
    memcpy(wb->data + wb->len, data, len);
    wb->len += len;
    return 0;
}

int
vf_conn_fd_send_response(struct vf_conn *c, uint8_t resp, int64_t deadline_ms)
{
    struct conn_wbuf *wb = NULL;

    if (c->fd < 0) {
        return -ENOTCONN;
    }
    if (resp == VF_RESP_HOSTLIST) {
        /* records follow: goes out with the first batch of them */
        return wbuf_append(c, &resp, 1, deadline_ms);
    }
    wb = c->priv;
    if (wb != NULL && wb->len > 0) {
        /* the last records and the final byte in one write */
        int r = wbuf_append(c, &resp, 1, deadline_ms);

        return r < 0 ? r : wbuf_flush(c, deadline_ms);
    }
    return vf_write_full(c->fd, &resp, 1, deadline_ms);
}

int
vf_conn_fd_send_host_state(struct vf_conn *c, const struct vf_host_state *hs,
                           int64_t deadline_ms)
{
    uint8_t buf[VF_HOST_STATE_SIZE];
    int r = 0;

    if (c->fd < 0) {
        return -ENOTCONN;
    }
    r = vf_host_state_encode(hs, buf);
    if (r < 0) {
        return r;
    }
    return wbuf_append(c, buf, sizeof(buf), deadline_ms);
}

/* close() of a heap-allocated conn (see common.h) */
void
vf_conn_fd_close(struct vf_conn *c)
{
    if (c == NULL) {
        return;
    }
    vf_close(c->fd);
    free(c->priv);      /* host list write buffer */
    free(c);
}

/* ---- settings schema of the network listeners ---------------------------- */

int
vf_lsettings_validate(const struct vf_conf *conf, const char *name, char *err, size_t err_len)
{
    struct vf_lsettings s;
    int r = vf_lsettings_read(conf, name, &s, err, err_len);

    vf_lsettings_done(&s);
    return r;
}

/* address versus family (and a multicast group for multicast) */
static void
net_check_address(const struct vf_check *chk, bool multicast)
{
    const char *fam = chk->get(chk, "family");
    const char *addr = chk->get(chk, "address");
    unsigned char bin[16];
    char v[80];
    bool is4, is6;

    if (addr == NULL || (fam != NULL && strcasecmp(fam, "ipv4") != 0 &&
                         strcasecmp(fam, "ipv6") != 0)) {
        return;         /* unset, or the bad family is reported on its own */
    }
    is4 = inet_pton(AF_INET, addr, bin) == 1;
    is6 = !is4 && inet_pton(AF_INET6, addr, bin) == 1;
    chk->shown(addr, v, sizeof(v));
    if (!is4 && !is6) {
        chk->report(chk, "address", true, "'%s/address' = '%s' is not an IP address literal "
                    "(host names are not resolved)", chk->section, v);
    } else if ((fam == NULL || strcasecmp(fam, "ipv4") == 0) && !is4) {
        chk->report(chk, "address", true, "'%s/address' = '%s' is not an ipv4 address (family "
                    "is 'ipv4'; set family = \"ipv6\")", chk->section, v);
    } else if (fam != NULL && strcasecmp(fam, "ipv6") == 0 && !is6) {
        chk->report(chk, "address", true, "'%s/address' = '%s' is not an ipv6 address (family "
                    "is 'ipv6')", chk->section, v);
    } else if (multicast && !(is4 ? (bin[0] & 0xf0) == 0xe0 : bin[0] == 0xff)) {
        chk->report(chk, "address", true, "'%s/address' = '%s' is not a multicast group "
                    "address", chk->section, v);
    }
}

static void
net_check_multicast(const struct vf_check *chk)
{
    net_check_address(chk, true);
}

static void
net_check_unicast(const struct vf_check *chk)
{
    net_check_address(chk, false);
}

static const char *const net_hashes[] = { "none", "sha1", "sha256", "sha512", NULL };
static const char *const net_families[] = { "ipv4", "ipv6", NULL };

#define NET_PORT(prompt) \
    { "port", VF_ST_INT, "1229", 1, 65535, NULL, prompt, VF_SF_ASK, NULL, NULL }
#define NET_FAMILY \
    { "family", VF_ST_ENUM, "ipv4", 0, 0, net_families, "Address family", 0, NULL, NULL }
/* key file, hash and auth: asked for every keyed listener */
#define NET_KEY_SETTINGS \
    { "key_file", VF_ST_PATH, VF_DEFAULT_KEY_FILE, 0, 0, NULL, "Key File", \
      VF_SF_ASK | VF_SF_NONE_UNSETS, \
      "\nThe key file is the shared key information which is used to\n" \
      "authenticate fencing requests.  The contents of this file must\n" \
      "be distributed to each physical host and virtual machine within\n" \
      "a cluster.\n\n", NULL }, \
    { "hash", VF_ST_ENUM, "sha256", 0, 0, net_hashes, \
      "Packet hash (none, sha1, sha256, sha512)", VF_SF_ASK, \
      "\nThe hash is the weakest request signature the listener accepts;\n" \
      "auth is the algorithm of the challenge/response exchange.\n" \
      "Both must match what the clients use (fence_xvm -c / -C).\n\n", NULL }, \
    { "auth", VF_ST_ENUM, "sha256", 0, 0, net_hashes, \
      "Challenge-response auth (none, sha1, sha256, sha512)", VF_SF_ASK, NULL, NULL }

static const struct vf_setting multicast_settings[] = {
    { "address", VF_ST_ADDR, "225.0.0.12", 0, 0, NULL, "Multicast IP Address",
      VF_SF_ASK | VF_SF_MULTICAST, NULL, NULL },
    NET_PORT("Multicast IP Port"),
    { "interface", VF_ST_IFACE, NULL, 0, 0, NULL, "Interface", VF_SF_ASK | VF_SF_NONE_UNSETS,
      "\nSetting a preferred interface causes fence_virtd to listen only\n"
      "on that interface.  Normally, it listens on all interfaces.\n"
      "In environments where the virtual machines are using the host\n"
      "machine as a gateway, this *must* be set (typically to virbr0).\n"
      "Set to 'none' for no interface.\n\n", "none" },
    NET_KEY_SETTINGS,
    NET_FAMILY,
    { NULL, VF_ST_STRING, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};

static const struct vf_setting tcp_settings[] = {
    { "address", VF_ST_ADDR, NULL, 0, 0, NULL, "TCP Listen IP Address", VF_SF_ASK, NULL,
      "127.0.0.1" },
    NET_PORT("TCP Listen Port"),
    NET_KEY_SETTINGS,
    NET_FAMILY,
    { NULL, VF_ST_STRING, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};

static const struct vf_setting vsock_settings[] = {
    NET_PORT("vsock Listen Port"),
    NET_KEY_SETTINGS,
    { NULL, VF_ST_STRING, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};

#define NET_SCHEMA(intro_, settings_, flags_, identity_, check_) { \
        .intro = (intro_), .settings = (settings_), .flags = VF_LF_KEYED | (flags_), \
        .identity = (identity_), .check = (check_), .validate = vf_lsettings_validate }

const struct vf_schema vf_schema_multicast = NET_SCHEMA(
    "\nThe multicast listener module is designed for use environments\n"
    "where the guests and hosts may communicate over a network using\n"
    "multicast.\n\n"
    "The multicast address is the address that a client will use to\n"
    "send fencing requests to fence_virtd.\n\n",
    multicast_settings, VF_LF_BROADCAST, "the call-back address written in it",
    net_check_multicast);

const struct vf_schema vf_schema_tcp = NET_SCHEMA(
    "\nThe tcp listener accepts fencing requests on a TCP socket.  Listen\n"
    "on an address the guests can reach (the default only serves this host).\n\n",
    tcp_settings, VF_LF_STREAM, "the peer's IP address", net_check_unicast);

const struct vf_schema vf_schema_vsock = NET_SCHEMA(
    "\nThe vsock listener accepts fencing requests from guests over\n"
    "AF_VSOCK (fence_virt -S <host CID>).\n\n",
    vsock_settings, VF_LF_STREAM, "the peer's CID", NULL);
