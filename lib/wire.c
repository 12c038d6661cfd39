/*
 * vmfence - lib/wire.c: encoders and decoders for the fence-virt v1 wire
 * structures (protocol.md 2.2, 2.7, 2.9), plus the name tables.
 *
 * Every field is written and read at its fixed offset with explicit
 * little-endian helpers; no packed struct is ever copied to or from a
 * buffer.  Encoders zero every byte they do not set (including the pad byte
 * of host_state_t, which the reference leaks from its stack: D16).
 * Decoders check the length and always NUL-terminate strings.
 * Pure functions: no I/O, no logging, no allocation.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "wire.h"

/* fence_req_t offsets (protocol.md 2.2) */
enum {
    REQ_OFF_REQUEST = 0,
    REQ_OFF_HASHTYPE = 1,
    REQ_OFF_ADDRLEN = 2,
    REQ_OFF_FLAGS = 3,
    REQ_OFF_DOMAIN = 4,
    REQ_OFF_ADDRESS = 68,
    REQ_OFF_PORT = 96,
    REQ_OFF_RANDOM = 98,
    REQ_OFF_SEQNO = 104,
    REQ_OFF_FAMILY = 108,
    REQ_OFF_HASH = 112,
};

/* host_state_t offsets (protocol.md 2.7) */
enum {
    HS_OFF_DOMAIN = 0,
    HS_OFF_UUID = 64,
    HS_OFF_STATE = 128,
    HS_OFF_PAD = 129,
};

/* serial_req_t / serial_resp_t offsets (protocol.md 2.9) */
enum {
    SREQ_OFF_MAGIC = 0,
    SREQ_OFF_REQUEST = 4,
    SREQ_OFF_FLAGS = 5,
    SREQ_OFF_DOMAIN = 6,
    SREQ_OFF_SEQNO = 70,
    SRESP_OFF_MAGIC = 0,
    SRESP_OFF_RESPONSE = 4,
};

_Static_assert(REQ_OFF_HASH + VF_DIGEST_MAX == VF_REQ_SIZE, "fence_req_t size");
_Static_assert(HS_OFF_PAD + 1 == VF_HOST_STATE_SIZE, "host_state_t size");
_Static_assert(SREQ_OFF_SEQNO + 4 == VF_SERIAL_REQ_SIZE, "serial_req_t size");
_Static_assert(SRESP_OFF_RESPONSE + 1 == VF_SERIAL_RESP_SIZE, "serial_resp_t size");

static void
put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

static void
put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)((v >> 8) & 0xff);
    p[2] = (uint8_t)((v >> 16) & 0xff);
    p[3] = (uint8_t)(v >> 24);
}

static uint16_t
get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/*
 * Copy a C string of at most @max bytes into a fixed wire field of @field
 * bytes (the caller zeroed it).  -ENAMETOOLONG if it does not fit.
 */
static int
put_str(uint8_t *field, size_t field_len, const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);

    if (n > max || n > field_len) {
        return -ENAMETOOLONG;
    }
    memcpy(field, s, n);
    return 0;
}

/*
 * Copy a fixed wire field into a NUL-terminated buffer of field_len + 1
 * bytes.  Returns true if the field contained no NUL.
 */
static bool
get_str(char *out, const uint8_t *field, size_t field_len)
{
    bool unterminated = memchr(field, 0, field_len) == NULL;

    memcpy(out, field, field_len);
    out[field_len] = '\0';
    return unterminated;
}

/**
 * \brief Encode a fence_req_t.
 * \param[in]  req  request; domain must be NUL-terminated and at most 63
 *                  bytes, or exactly 64 bytes with domain_unterminated set
 * \param[out] out  VF_REQ_SIZE bytes, fully written (unset bytes are zero)
 * \return 0, or -ENAMETOOLONG
 */
int
vf_req_encode(const struct vf_req *req, uint8_t out[VF_REQ_SIZE])
{
    size_t max = req->domain_unterminated ? VF_DOMAIN_FIELD : VF_DOMAIN_MAX;
    uint8_t buf[VF_REQ_SIZE];
    int r;

    memset(buf, 0, sizeof(buf));
    buf[REQ_OFF_REQUEST] = req->request;
    buf[REQ_OFF_HASHTYPE] = req->hashtype;
    buf[REQ_OFF_ADDRLEN] = req->addrlen;
    buf[REQ_OFF_FLAGS] = req->flags;
    r = put_str(buf + REQ_OFF_DOMAIN, VF_DOMAIN_FIELD, req->domain, max);
    if (r < 0) {
        return r;
    }
    memcpy(buf + REQ_OFF_ADDRESS, req->address, VF_ADDR_FIELD);
    put_le16(buf + REQ_OFF_PORT, req->port);
    memcpy(buf + REQ_OFF_RANDOM, req->random, VF_RANDOM_FIELD);
    put_le32(buf + REQ_OFF_SEQNO, req->seqno);
    put_le32(buf + REQ_OFF_FAMILY, req->family);
    memcpy(buf + REQ_OFF_HASH, req->hash, VF_DIGEST_MAX);
    memcpy(out, buf, VF_REQ_SIZE);
    return 0;
}

/**
 * \brief Decode a fence_req_t.
 * \param[in]  buf      wire bytes
 * \param[in]  len      must be VF_REQ_SIZE
 * \param[out] ret_req  filled on success only
 * \return 0, or -EBADMSG on a wrong length
 */
int
vf_req_decode(const uint8_t *buf, size_t len, struct vf_req *ret_req)
{
    struct vf_req req;

    if (buf == NULL || len != VF_REQ_SIZE) {
        return -EBADMSG;
    }
    memset(&req, 0, sizeof(req));
    req.request = buf[REQ_OFF_REQUEST];
    req.hashtype = buf[REQ_OFF_HASHTYPE];
    req.addrlen = buf[REQ_OFF_ADDRLEN];
    req.flags = buf[REQ_OFF_FLAGS];
    req.domain_unterminated = get_str(req.domain, buf + REQ_OFF_DOMAIN,
                                      VF_DOMAIN_FIELD);
    memcpy(req.address, buf + REQ_OFF_ADDRESS, VF_ADDR_FIELD);
    req.port = get_le16(buf + REQ_OFF_PORT);
    memcpy(req.random, buf + REQ_OFF_RANDOM, VF_RANDOM_FIELD);
    req.seqno = get_le32(buf + REQ_OFF_SEQNO);
    req.family = get_le32(buf + REQ_OFF_FAMILY);
    memcpy(req.hash, buf + REQ_OFF_HASH, VF_DIGEST_MAX);
    *ret_req = req;
    return 0;
}

/**
 * \brief Encode one host_state_t record.  Names of up to 64 bytes are
 *        accepted (64 travels without terminator, as libvirt names that
 *        long do in the reference); the pad byte is zero.
 * \return 0, or -ENAMETOOLONG
 */
int
vf_host_state_encode(const struct vf_host_state *hs,
                     uint8_t out[VF_HOST_STATE_SIZE])
{
    uint8_t buf[VF_HOST_STATE_SIZE];
    int r;

    memset(buf, 0, sizeof(buf));
    r = put_str(buf + HS_OFF_DOMAIN, VF_DOMAIN_FIELD, hs->domain,
                VF_DOMAIN_FIELD);
    if (r < 0) {
        return r;
    }
    r = put_str(buf + HS_OFF_UUID, VF_UUID_FIELD, hs->uuid, VF_UUID_FIELD);
    if (r < 0) {
        return r;
    }
    buf[HS_OFF_STATE] = hs->state;
    buf[HS_OFF_PAD] = 0;
    memcpy(out, buf, VF_HOST_STATE_SIZE);
    return 0;
}

/**
 * \brief Decode one host_state_t record (the pad byte is ignored).
 * \return 0, or -EBADMSG on a wrong length
 */
int
vf_host_state_decode(const uint8_t *buf, size_t len,
                     struct vf_host_state *ret_hs)
{
    struct vf_host_state hs;

    if (buf == NULL || len != VF_HOST_STATE_SIZE) {
        return -EBADMSG;
    }
    memset(&hs, 0, sizeof(hs));
    (void)get_str(hs.domain, buf + HS_OFF_DOMAIN, VF_DOMAIN_FIELD);
    (void)get_str(hs.uuid, buf + HS_OFF_UUID, VF_UUID_FIELD);
    hs.state = buf[HS_OFF_STATE];
    *ret_hs = hs;
    return 0;
}

bool
vf_host_state_is_end(const struct vf_host_state *hs)
{
    return hs->domain[0] == '\0' && hs->uuid[0] == '\0';
}

/**
 * \brief Encode a serial_req_t.  A magic of 0 is written as
 *        VF_SERIAL_MAGIC (so a zero-initialised struct encodes a valid
 *        frame); any other value is written as given (tests).  The domain
 *        may be up to 64 bytes (64 without terminator).
 * \return 0, or -ENAMETOOLONG
 */
int
vf_serial_req_encode(const struct vf_serial_req *req,
                     uint8_t out[VF_SERIAL_REQ_SIZE])
{
    uint8_t buf[VF_SERIAL_REQ_SIZE];
    int r;

    memset(buf, 0, sizeof(buf));
    put_le32(buf + SREQ_OFF_MAGIC, req->magic != 0 ? req->magic
                                                   : VF_SERIAL_MAGIC);
    buf[SREQ_OFF_REQUEST] = req->request;
    buf[SREQ_OFF_FLAGS] = req->flags;
    r = put_str(buf + SREQ_OFF_DOMAIN, VF_DOMAIN_FIELD, req->domain,
                VF_DOMAIN_FIELD);
    if (r < 0) {
        return r;
    }
    put_le32(buf + SREQ_OFF_SEQNO, req->seqno);
    memcpy(out, buf, VF_SERIAL_REQ_SIZE);
    return 0;
}

/**
 * \brief Decode a serial_req_t.
 * \return 0; -EBADMSG on a wrong length (nothing filled); -EPROTO on a
 *         wrong magic (@ret_req is still filled, the reference daemon does
 *         not check the magic)
 */
int
vf_serial_req_decode(const uint8_t *buf, size_t len,
                     struct vf_serial_req *ret_req)
{
    struct vf_serial_req req;

    if (buf == NULL || len != VF_SERIAL_REQ_SIZE) {
        return -EBADMSG;
    }
    memset(&req, 0, sizeof(req));
    req.magic = get_le32(buf + SREQ_OFF_MAGIC);
    req.request = buf[SREQ_OFF_REQUEST];
    req.flags = buf[SREQ_OFF_FLAGS];
    (void)get_str(req.domain, buf + SREQ_OFF_DOMAIN, VF_DOMAIN_FIELD);
    req.seqno = get_le32(buf + SREQ_OFF_SEQNO);
    *ret_req = req;
    return req.magic == VF_SERIAL_MAGIC ? 0 : -EPROTO;
}

/**
 * \brief Encode a serial_resp_t (magic 0 is written as VF_SERIAL_MAGIC).
 */
int
vf_serial_resp_encode(const struct vf_serial_resp *resp,
                      uint8_t out[VF_SERIAL_RESP_SIZE])
{
    put_le32(out + SRESP_OFF_MAGIC, resp->magic != 0 ? resp->magic
                                                     : VF_SERIAL_MAGIC);
    out[SRESP_OFF_RESPONSE] = resp->response;
    return 0;
}

/**
 * \brief Decode a serial_resp_t.
 * \return 0; -EBADMSG on a wrong length; -EPROTO on a wrong magic (still
 *         filled)
 */
int
vf_serial_resp_decode(const uint8_t *buf, size_t len,
                      struct vf_serial_resp *ret_resp)
{
    struct vf_serial_resp resp;

    if (buf == NULL || len != VF_SERIAL_RESP_SIZE) {
        return -EBADMSG;
    }
    resp.magic = get_le32(buf + SRESP_OFF_MAGIC);
    resp.response = buf[SRESP_OFF_RESPONSE];
    *ret_resp = resp;
    return resp.magic == VF_SERIAL_MAGIC ? 0 : -EPROTO;
}

/* ---- name tables ---- */

static const char *const cmd_names[] = {
    [VF_CMD_NULL] = "null",
    [VF_CMD_OFF] = "off",
    [VF_CMD_REBOOT] = "reboot",
    [VF_CMD_ON] = "on",
    [VF_CMD_STATUS] = "status",
    [VF_CMD_DEVSTATUS] = "monitor",
    [VF_CMD_HOSTLIST] = "list",
    [VF_CMD_METADATA] = "metadata",
    [VF_CMD_VALIDATEALL] = "validate-all",
};

static const struct {
    const char *action;
    enum vf_cmd cmd;
} action_table[] = {
    { "null", VF_CMD_NULL },
    { "off", VF_CMD_OFF },
    { "reboot", VF_CMD_REBOOT },
    { "on", VF_CMD_ON },
    { "status", VF_CMD_STATUS },
    { "monitor", VF_CMD_DEVSTATUS },
    { "list", VF_CMD_HOSTLIST },
    { "list-status", VF_CMD_HOSTLIST },
    { "metadata", VF_CMD_METADATA },
    { "validate-all", VF_CMD_VALIDATEALL },
};

static const char *const state_names[] = {
    [VF_STATE_NOSTATE] = "nostate",
    [VF_STATE_RUNNING] = "running",
    [VF_STATE_BLOCKED] = "blocked",
    [VF_STATE_PAUSED] = "paused",
    [VF_STATE_SHUTDOWN] = "shutdown",
    [VF_STATE_SHUTOFF] = "shutoff",
    [VF_STATE_CRASHED] = "crashed",
    [VF_STATE_PMSUSPENDED] = "pmsuspended",
};

static const char *const hash_names[] = {
    [VF_HASH_NONE] = "none",
    [VF_HASH_SHA1] = "sha1",
    [VF_HASH_SHA256] = "sha256",
    [VF_HASH_SHA512] = "sha512",
};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* @names[@i]; NULL when @i is outside the table */
static const char *
name_at(const char *const *names, size_t n, int i)
{
    return i >= 0 && (size_t)i < n ? names[i] : NULL;
}

/** \return the action-style name of a command ("monitor" for DEVSTATUS,
 *  "list" for HOSTLIST), NULL if unknown */
const char *
vf_cmd_name(int cmd)
{
    return name_at(cmd_names, N_ELEMENTS(cmd_names), cmd);
}

/** \return 0 and the command for an agent action (case-insensitive), or
 *  -EINVAL for an unknown or NULL action */
int
vf_cmd_from_action(const char *action, enum vf_cmd *ret_cmd)
{
    size_t i;

    if (action == NULL) {
        return -EINVAL;
    }
    for (i = 0; i < N_ELEMENTS(action_table); i++) {
        if (strcasecmp(action, action_table[i].action) == 0) {
            *ret_cmd = action_table[i].cmd;
            return 0;
        }
    }
    return -EINVAL;
}

/** \return "success", "fail", "off", "perm", "hostlist"; NULL if unknown */
const char *
vf_resp_name(int resp)
{
    switch (resp) {
    case VF_RESP_SUCCESS:
        return "success";
    case VF_RESP_FAIL:
        return "fail";
    case VF_RESP_OFF:
        return "off";
    case VF_RESP_PERM:
        return "perm";
    case VF_RESP_HOSTLIST:
        return "hostlist";
    default:
        return NULL;
    }
}

/** \return libvirt state name ("running", "shutoff", ...); NULL if unknown */
const char *
vf_state_name(int state)
{
    return name_at(state_names, N_ELEMENTS(state_names), state);
}

/** \return 0 and the algorithm for "none"/"sha1"/"sha256"/"sha512"
 *  (case-insensitive), -EINVAL otherwise */
int
vf_hash_from_string(const char *s, enum vf_hash *ret_hash)
{
    for (size_t i = 0; s != NULL && i < N_ELEMENTS(hash_names); i++) {
        if (strcasecmp(s, hash_names[i]) == 0) {
            *ret_hash = (enum vf_hash)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *
vf_hash_name(int hash)
{
    return name_at(hash_names, N_ELEMENTS(hash_names), hash);
}

size_t
vf_hash_len(int hash)
{
    switch (hash) {
    case VF_HASH_SHA1:
        return 20;
    case VF_HASH_SHA256:
        return 32;
    case VF_HASH_SHA512:
        return 64;
    default:
        return 0;
    }
}
