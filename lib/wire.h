/*
 * vmfence - lib/wire.h: the fence-virt v1 wire structures.
 *
 * Every structure that crosses a socket is encoded and decoded here, at
 * fixed offsets, little-endian (what fence-virt 4.x sends in practice), with
 * explicit bounds checks.  No packed struct is ever written to a socket.
 * Pure functions: no I/O, no logging, no allocation.
 *
 * Return convention (whole project): 0 on success, negative errno on error.
 */
#ifndef VF_WIRE_H
#define VF_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Commands (fence_cmd_t, one byte on the wire) */
enum vf_cmd {
    VF_CMD_NULL = 0,
    VF_CMD_OFF = 1,
    VF_CMD_REBOOT = 2,
    VF_CMD_ON = 3,
    VF_CMD_STATUS = 4,
    VF_CMD_DEVSTATUS = 5,   /* action "monitor" */
    VF_CMD_HOSTLIST = 6,    /* actions "list" and "list-status" */
    VF_CMD_METADATA = 7,    /* local only, never sent */
    VF_CMD_VALIDATEALL = 8, /* local only, never sent */
};

/* Hash / challenge-response algorithms (same numbering for both) */
enum vf_hash {
    VF_HASH_NONE = 0,
    VF_HASH_SHA1 = 1,
    VF_HASH_SHA256 = 2,
    VF_HASH_SHA512 = 3,
};

/* Response bytes */
enum vf_resp {
    VF_RESP_SUCCESS = 0,
    VF_RESP_FAIL = 1,
    VF_RESP_OFF = 2,
    VF_RESP_PERM = 3,
    VF_RESP_HOSTLIST = 253,
};

/* libvirt virDomainState values carried in host_state_t.state */
enum vf_dom_state {
    VF_STATE_NOSTATE = 0,
    VF_STATE_RUNNING = 1,
    VF_STATE_BLOCKED = 2,
    VF_STATE_PAUSED = 3,
    VF_STATE_SHUTDOWN = 4,
    VF_STATE_SHUTOFF = 5,
    VF_STATE_CRASHED = 6,
    VF_STATE_PMSUSPENDED = 7,
};

#define VF_DEFAULT_PORT         1229
#define VF_DEFAULT_MCAST_V4     "225.0.0.12"
#define VF_DEFAULT_MCAST_V6     "ff05::3:1"
#define VF_DEFAULT_CHANNEL_ADDR "10.0.2.179"
#define VF_DEFAULT_SERIAL_DEV   "/dev/ttyS1"
#define VF_DEFAULT_SERIAL_PARAMS "115200,8N1"
#define VF_MCAST_TTL            2
#define VF_MAX_KEY_LEN          4096

#define VF_RF_UUID              0x1u   /* request flag: target is a UUID */

#define VF_REQ_SIZE             176
#define VF_DOMAIN_FIELD         64     /* bytes of the domain field on the wire */
#define VF_DOMAIN_MAX           63     /* longest name a client may send */
#define VF_ADDR_FIELD           28
#define VF_RANDOM_FIELD         6
#define VF_DIGEST_MAX           64
#define VF_HOST_STATE_SIZE      130
#define VF_UUID_FIELD           64
#define VF_SERIAL_REQ_SIZE      74
#define VF_SERIAL_RESP_SIZE     5
#define VF_SERIAL_MAGIC         0x61626261u
#define VF_CHALLENGE_SIZE       64

/* Linux address family numbers as they travel in fence_req_t.family */
#define VF_WIRE_AF_INET         2
#define VF_WIRE_AF_INET6        10

/*
 * fence_req_t, 176 bytes.  domain is always NUL-terminated in the decoded
 * form; a 64-byte field without a NUL decodes to 64 characters and sets
 * domain_unterminated.
 */
struct vf_req {
    uint8_t request;                  /* enum vf_cmd */
    uint8_t hashtype;                 /* enum vf_hash */
    uint8_t addrlen;
    uint8_t flags;
    char domain[VF_DOMAIN_FIELD + 1];
    bool domain_unterminated;         /* decode only */
    uint8_t address[VF_ADDR_FIELD];
    uint16_t port;
    uint8_t random[VF_RANDOM_FIELD];
    uint32_t seqno;
    uint32_t family;
    uint8_t hash[VF_DIGEST_MAX];
};

/* host_state_t, 130 bytes: one record of a host list */
struct vf_host_state {
    char domain[VF_DOMAIN_FIELD + 1];
    char uuid[VF_UUID_FIELD + 1];
    uint8_t state;                    /* enum vf_dom_state */
};

/* serial_req_t, 74 bytes */
struct vf_serial_req {
    uint32_t magic;
    uint8_t request;
    uint8_t flags;
    char domain[VF_DOMAIN_FIELD + 1];
    uint32_t seqno;
};

/* serial_resp_t, 5 bytes */
struct vf_serial_resp {
    uint32_t magic;
    uint8_t response;
};

/*
 * Encode @req into exactly VF_REQ_SIZE bytes.  -ENAMETOOLONG if the domain
 * does not fit (more than 64 bytes; 64 is encoded without terminator only
 * when @req->domain_unterminated is set, for tests).
 */
int vf_req_encode(const struct vf_req *req, uint8_t out[VF_REQ_SIZE]);
/* Decode; -EBADMSG unless @len == VF_REQ_SIZE. */
int vf_req_decode(const uint8_t *buf, size_t len, struct vf_req *ret_req);

/*
 * Names and UUIDs of up to 64 bytes (64 travels without terminator), else
 * -ENAMETOOLONG; the pad byte is zero.  Decode: -EBADMSG on wrong length.
 */
int vf_host_state_encode(const struct vf_host_state *hs,
                         uint8_t out[VF_HOST_STATE_SIZE]);
int vf_host_state_decode(const uint8_t *buf, size_t len,
                         struct vf_host_state *ret_hs);
/* true for the all-empty terminator record (empty name and empty uuid) */
bool vf_host_state_is_end(const struct vf_host_state *hs);

/*
 * Serial frames: a magic of 0 is encoded as VF_SERIAL_MAGIC, any other as
 * given; the domain may be up to 64 bytes, else -ENAMETOOLONG.
 */
int vf_serial_req_encode(const struct vf_serial_req *req,
                         uint8_t out[VF_SERIAL_REQ_SIZE]);
/* Decode; -EBADMSG on wrong length, -EPROTO on wrong magic (still filled). */
int vf_serial_req_decode(const uint8_t *buf, size_t len,
                         struct vf_serial_req *ret_req);
int vf_serial_resp_encode(const struct vf_serial_resp *resp,
                          uint8_t out[VF_SERIAL_RESP_SIZE]);
int vf_serial_resp_decode(const uint8_t *buf, size_t len,
                          struct vf_serial_resp *ret_resp);

/* Names: "off", "reboot", ... ; NULL for unknown.  vf_cmd_from_action maps
 * agent action names (incl. "monitor", "list-status") to commands. */
const char *vf_cmd_name(int cmd);
int vf_cmd_from_action(const char *action, enum vf_cmd *ret_cmd);
const char *vf_resp_name(int resp);
const char *vf_state_name(int state);

/* "none", "sha1", "sha256", "sha512" (case-insensitive) */
int vf_hash_from_string(const char *s, enum vf_hash *ret_hash);
const char *vf_hash_name(int hash);
/* digest length in bytes: 0, 20, 32, 64; 0 for unknown */
size_t vf_hash_len(int hash);


/*
 * An unsigned integer of @n bytes (1 to 8) at @p, little-endian: the byte
 * order of every multi-byte field of the wire (and of the cpg backend's
 * messages).  The value is truncated to @n bytes.
 */
static inline void
vf_put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline uint64_t
vf_get_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    while (n-- > 0) {
        v = (v << 8) | p[n];
    }
    return v;
}

#endif
