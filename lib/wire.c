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

/* Whether the C string @s is at most @max bytes long (read no further). */
static bool
str_fits(const char *s, size_t max)
{
    return strnlen(s, max + 1) <= max;
}

/* Copy a C string that str_fits() @max bytes into a zeroed wire field. */
static void
put_str(uint8_t *field, const char *s, size_t max)
{
    memcpy(field, s, strnlen(s, max));
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

    if (!str_fits(req->domain, max)) {
        return -ENAMETOOLONG;
    }
    memset(out, 0, VF_REQ_SIZE);
    out[REQ_OFF_REQUEST] = req->request;
    out[REQ_OFF_HASHTYPE] = req->hashtype;
    out[REQ_OFF_ADDRLEN] = req->addrlen;
    out[REQ_OFF_FLAGS] = req->flags;
    put_str(out + REQ_OFF_DOMAIN, req->domain, max);
    memcpy(out + REQ_OFF_ADDRESS, req->address, VF_ADDR_FIELD);
    vf_put_le(out + REQ_OFF_PORT, req->port, 2);
    memcpy(out + REQ_OFF_RANDOM, req->random, VF_RANDOM_FIELD);
    vf_put_le(out + REQ_OFF_SEQNO, req->seqno, 4);
    vf_put_le(out + REQ_OFF_FAMILY, req->family, 4);
    memcpy(out + REQ_OFF_HASH, req->hash, VF_DIGEST_MAX);
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
    if (buf == NULL || len != VF_REQ_SIZE) {
        return -EBADMSG;
    }
    *ret_req = (struct vf_req){
        .request = buf[REQ_OFF_REQUEST],
        .hashtype = buf[REQ_OFF_HASHTYPE],
        .addrlen = buf[REQ_OFF_ADDRLEN],
        .flags = buf[REQ_OFF_FLAGS],
        .port = (uint16_t)vf_get_le(buf + REQ_OFF_PORT, 2),
        .seqno = (uint32_t)vf_get_le(buf + REQ_OFF_SEQNO, 4),
        .family = (uint32_t)vf_get_le(buf + REQ_OFF_FAMILY, 4),
    };
    ret_req->domain_unterminated = get_str(ret_req->domain, buf + REQ_OFF_DOMAIN,
                                           VF_DOMAIN_FIELD);
    memcpy(ret_req->address, buf + REQ_OFF_ADDRESS, VF_ADDR_FIELD);
    memcpy(ret_req->random, buf + REQ_OFF_RANDOM, VF_RANDOM_FIELD);
    memcpy(ret_req->hash, buf + REQ_OFF_HASH, VF_DIGEST_MAX);
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
    if (!str_fits(hs->domain, VF_DOMAIN_FIELD) || !str_fits(hs->uuid, VF_UUID_FIELD)) {
        return -ENAMETOOLONG;
    }
    memset(out, 0, VF_HOST_STATE_SIZE);     /* the pad byte too */
    put_str(out + HS_OFF_DOMAIN, hs->domain, VF_DOMAIN_FIELD);
    put_str(out + HS_OFF_UUID, hs->uuid, VF_UUID_FIELD);
    out[HS_OFF_STATE] = hs->state;
    return 0;
}

/**
 * \brief Decode one host_state_t record (the pad byte is ignored).
 * \return 0, or -EBADMSG on a wrong length
 */
int
vf_host_state_decode(const uint8_t *buf, size_t len, struct vf_host_state *ret_hs)
{
    if (buf == NULL || len != VF_HOST_STATE_SIZE) {
        return -EBADMSG;
    }
    *ret_hs = (struct vf_host_state){ .state = buf[HS_OFF_STATE] };
    (void)get_str(ret_hs->domain, buf + HS_OFF_DOMAIN, VF_DOMAIN_FIELD);
    (void)get_str(ret_hs->uuid, buf + HS_OFF_UUID, VF_UUID_FIELD);
    return 0;
}

bool
vf_host_state_is_end(const struct vf_host_state *hs)
{
    return hs->domain[0] == '\0' && hs->uuid[0] == '\0';
}

/* the magic an encoder writes: 0 stands for VF_SERIAL_MAGIC */
static uint32_t
serial_magic(uint32_t magic)
{
    return magic != 0 ? magic : VF_SERIAL_MAGIC;
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
    if (!str_fits(req->domain, VF_DOMAIN_FIELD)) {
        return -ENAMETOOLONG;
    }
    memset(out, 0, VF_SERIAL_REQ_SIZE);
    vf_put_le(out + SREQ_OFF_MAGIC, serial_magic(req->magic), 4);
    out[SREQ_OFF_REQUEST] = req->request;
    out[SREQ_OFF_FLAGS] = req->flags;
    put_str(out + SREQ_OFF_DOMAIN, req->domain, VF_DOMAIN_FIELD);
    vf_put_le(out + SREQ_OFF_SEQNO, req->seqno, 4);
    return 0;
}

/**
 * \brief Decode a serial_req_t.
 * \return 0; -EBADMSG on a wrong length (nothing filled); -EPROTO on a
 *         wrong magic (@ret_req is still filled, the reference daemon does
 *         not check the magic)
 */
int
vf_serial_req_decode(const uint8_t *buf, size_t len, struct vf_serial_req *ret_req)
{
    if (buf == NULL || len != VF_SERIAL_REQ_SIZE) {
        return -EBADMSG;
    }
    *ret_req = (struct vf_serial_req){
        .magic = (uint32_t)vf_get_le(buf + SREQ_OFF_MAGIC, 4),
        .request = buf[SREQ_OFF_REQUEST],
        .flags = buf[SREQ_OFF_FLAGS],
        .seqno = (uint32_t)vf_get_le(buf + SREQ_OFF_SEQNO, 4),
    };
    (void)get_str(ret_req->domain, buf + SREQ_OFF_DOMAIN, VF_DOMAIN_FIELD);
    return ret_req->magic == VF_SERIAL_MAGIC ? 0 : -EPROTO;
}

/**
 * \brief Encode a serial_resp_t (magic 0 is written as VF_SERIAL_MAGIC).
 */
int
vf_serial_resp_encode(const struct vf_serial_resp *resp,
                      uint8_t out[VF_SERIAL_RESP_SIZE])
{
    vf_put_le(out + SRESP_OFF_MAGIC, serial_magic(resp->magic), 4);
    out[SRESP_OFF_RESPONSE] = resp->response;
    return 0;
}

/**
 * \brief Decode a serial_resp_t.
 * \return 0; -EBADMSG on a wrong length; -EPROTO on a wrong magic (still
 *         filled)
 */
int
vf_serial_resp_decode(const uint8_t *buf, size_t len, struct vf_serial_resp *ret_resp)
{
    if (buf == NULL || len != VF_SERIAL_RESP_SIZE) {
        return -EBADMSG;
    }
    *ret_resp = (struct vf_serial_resp){
        .magic = (uint32_t)vf_get_le(buf + SRESP_OFF_MAGIC, 4),
        .response = buf[SRESP_OFF_RESPONSE],
    };
    return ret_resp->magic == VF_SERIAL_MAGIC ? 0 : -EPROTO;
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

/* the index of @s in @names (case-insensitive); -1 if absent or NULL */
static int
name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s != NULL && i < n; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/** \return 0 and the command for an agent action (case-insensitive): a
 *  command's name or "list-status"; -EINVAL for an unknown or NULL action */
int
vf_cmd_from_action(const char *action, enum vf_cmd *ret_cmd)
{
    int i = name_index(cmd_names, N_ELEMENTS(cmd_names), action);

    if (i < 0 && action != NULL && strcasecmp(action, "list-status") == 0) {
        i = VF_CMD_HOSTLIST;
    }
    if (i < 0) {
        return -EINVAL;
    }
    *ret_cmd = (enum vf_cmd)i;
    return 0;
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
    int i = name_index(hash_names, N_ELEMENTS(hash_names), s);

    if (i < 0) {
        return -EINVAL;
    }
    *ret_hash = (enum vf_hash)i;
    return 0;
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
