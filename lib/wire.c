/*
 * vmfence - lib/wire.c: encoders and decoders for the fence-virt v1 wire
 * structures (protocol.md 2.2, 2.7, 2.9), plus the name tables.
 *
 * Each structure is a table of its fields (offset, length, kind, member),
 * walked by one encoder and one decoder: every field is written and read at
 * its fixed offset with explicit little-endian helpers; no packed struct is
 * ever copied to or from a buffer.  Encoders zero every byte they do not
 * set (including the pad byte of host_state_t, which the reference leaks
 * from its stack: D16).
 * Decoders check the length and always NUL-terminate strings.
 * Pure functions: no I/O, no logging, no allocation.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "wire.h"

/*
 * One field of a wire structure: how it travels (an unsigned little-endian
 * integer, raw bytes, or a string in a zero-padded field), where (offset and
 * length on the wire) and where it is kept (the member of the decoded
 * struct).
 */
enum field_kind { F_UINT, F_BYTES, F_STR };

struct field {
    enum field_kind kind;
    uint8_t off;                /* offset on the wire */
    uint8_t len;                /* bytes on the wire */
    size_t mem;                 /* offsetof() the member in the decoded struct */
};

/*
 * A structure: its fields, its size on the wire and decoded, and whether it
 * is a serial frame.  Serial frames begin with the magic (4 bytes, wire
 * offset 0): the encoder writes a magic of 0 as VF_SERIAL_MAGIC (so a
 * zero-initialised struct encodes a valid frame) and any other value as
 * given (tests); the decoder fills the struct even when the magic is wrong
 * (the reference daemon does not check it) and then returns -EPROTO.
 */
struct layout {
    const struct field *fields;
    size_t n_fields;
    size_t wire_size;
    size_t mem_size;
    bool serial;
};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/*
 * F(kind, member, wire offset, wire length) of the struct T.  The build
 * fails unless the member is as large as the wire field (a string: one
 * byte more, for its NUL).
 */
#define F(k, m, o, n) { .kind = F_##k, .off = (o), .len = (n), .mem = offsetof(T, m) \
    + 0 * sizeof(char[sizeof(((T *)0)->m) == (n) + (F_##k == F_STR) ? 1 : -1]) }
#define LAYOUT(fields, wire, serial) \
    { fields, N_ELEMENTS(fields), wire, sizeof(T), serial }

#define T struct vf_req              /* fence_req_t, protocol.md 2.2 */
static const struct field req_fields[] = {
    F(UINT, request, 0, 1), F(UINT, hashtype, 1, 1), F(UINT, addrlen, 2, 1),
    F(UINT, flags, 3, 1), F(STR, domain, 4, VF_DOMAIN_FIELD),
    F(BYTES, address, 68, VF_ADDR_FIELD), F(UINT, port, 96, 2),
    F(BYTES, random, 98, VF_RANDOM_FIELD), F(UINT, seqno, 104, 4),
    F(UINT, family, 108, 4), F(BYTES, hash, 112, VF_DIGEST_MAX),
};
static const struct layout req_layout = LAYOUT(req_fields, VF_REQ_SIZE, false);
_Static_assert(112 + VF_DIGEST_MAX == VF_REQ_SIZE, "fence_req_t size");
#undef T

#define T struct vf_host_state       /* host_state_t, protocol.md 2.7 */
static const struct field hs_fields[] = {
    F(STR, domain, 0, VF_DOMAIN_FIELD), F(STR, uuid, 64, VF_UUID_FIELD),
    F(UINT, state, 128, 1),          /* then the pad byte, always zero */
};
static const struct layout hs_layout = LAYOUT(hs_fields, VF_HOST_STATE_SIZE, false);
_Static_assert(128 + 1 + 1 == VF_HOST_STATE_SIZE, "host_state_t size");
#undef T

#define T struct vf_serial_req       /* serial_req_t, protocol.md 2.9 */
static const struct field sreq_fields[] = {
    F(UINT, magic, 0, 4), F(UINT, request, 4, 1), F(UINT, flags, 5, 1),
    F(STR, domain, 6, VF_DOMAIN_FIELD), F(UINT, seqno, 70, 4),
};
static const struct layout sreq_layout = LAYOUT(sreq_fields, VF_SERIAL_REQ_SIZE, true);
_Static_assert(70 + 4 == VF_SERIAL_REQ_SIZE, "serial_req_t size");
#undef T

#define T struct vf_serial_resp      /* serial_resp_t, protocol.md 2.9 */
static const struct field sresp_fields[] = {
    F(UINT, magic, 0, 4), F(UINT, response, 4, 1),
};
static const struct layout sresp_layout = LAYOUT(sresp_fields, VF_SERIAL_RESP_SIZE, true);
_Static_assert(4 + 1 == VF_SERIAL_RESP_SIZE, "serial_resp_t size");
#undef T
#undef LAYOUT
#undef F

/* Whether the C string @s is at most @max bytes long (read no further). */
static bool
str_fits(const char *s, size_t max)
{
    return strnlen(s, max + 1) <= max;
}

/* the integer member of @n bytes (1, 2 or 4) at @p */
static uint64_t
load_uint(const void *p, size_t n)
{
    return n == 1 ? *(const uint8_t *)p
         : n == 2 ? *(const uint16_t *)p : *(const uint32_t *)p;
}

static void
store_uint(void *p, size_t n, uint64_t v)
{
    if (n == 1) {
        *(uint8_t *)p = (uint8_t)v;
    } else if (n == 2) {
        *(uint16_t *)p = (uint16_t)v;
    } else {
        *(uint32_t *)p = (uint32_t)v;
    }
}

/*
 * Encode the struct @in of layout @l into @out (l->wire_size bytes, every
 * byte written: what no field covers is zero; a serial frame's magic 0 as
 * VF_SERIAL_MAGIC).  Every string must fit its
 * field (a string as long as the field travels without terminator).
 * \return 0, or -ENAMETOOLONG (nothing written)
 */
static int
encode(const struct layout *l, const void *in, uint8_t *out)
{
    const uint8_t *mem = in;

    for (size_t i = 0; i < l->n_fields; i++) {
        const struct field *f = &l->fields[i];

        if (f->kind == F_STR && !str_fits((const char *)mem + f->mem, f->len)) {
            return -ENAMETOOLONG;
        }
    }
    memset(out, 0, l->wire_size);
    for (size_t i = 0; i < l->n_fields; i++) {
        const struct field *f = &l->fields[i];
        const uint8_t *m = mem + f->mem;

        if (f->kind == F_UINT) {
            vf_put_le(out + f->off, load_uint(m, f->len), f->len);
        } else {
            memcpy(out + f->off, m,
                   f->kind == F_STR ? strnlen((const char *)m, f->len) : f->len);
        }
    }
    if (l->serial && vf_get_le(out, 4) == 0) {
        vf_put_le(out, VF_SERIAL_MAGIC, 4);
    }
    return 0;
}

/*
 * Decode @len bytes at @buf of layout @l into the struct @ret (zeroed
 * first; strings always NUL-terminated).  *ret_unterminated (may be NULL):
 * whether a string field held no NUL.
 * \return 0, -EBADMSG on a wrong length (nothing filled), -EPROTO on a
 *         serial frame's wrong magic (filled)
 */
static int
decode(const struct layout *l, const uint8_t *buf, size_t len, void *ret,
       bool *ret_unterminated)
{
    uint8_t *mem = ret;
    bool unterminated = false;

    if (buf == NULL || len != l->wire_size) {
        return -EBADMSG;
    }
    memset(ret, 0, l->mem_size);
    for (size_t i = 0; i < l->n_fields; i++) {
        const struct field *f = &l->fields[i];

        if (f->kind == F_UINT) {
            store_uint(mem + f->mem, f->len, vf_get_le(buf + f->off, f->len));
            continue;
        }
        memcpy(mem + f->mem, buf + f->off, f->len);
        if (f->kind == F_STR) {
            unterminated |= memchr(buf + f->off, 0, f->len) == NULL;
            mem[f->mem + f->len] = '\0';
        }
    }
    if (ret_unterminated != NULL) {
        *ret_unterminated = unterminated;
    }
    return l->serial && vf_get_le(buf, 4) != VF_SERIAL_MAGIC ? -EPROTO : 0;
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
    if (!req->domain_unterminated && !str_fits(req->domain, VF_DOMAIN_MAX)) {
        return -ENAMETOOLONG;
    }
    return encode(&req_layout, req, out);
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
    bool unterminated = false;
    int r = decode(&req_layout, buf, len, ret_req, &unterminated);

    if (r == 0) {
        ret_req->domain_unterminated = unterminated;
    }
    return r;
}

bool
vf_host_state_is_end(const struct vf_host_state *hs)
{
    return hs->domain[0] == '\0' && hs->uuid[0] == '\0';
}

/*
 * The encoder and decoder of a structure of fixed layout (wire.h): host
 * state records take names of up to 64 bytes (64 travels without
 * terminator, as libvirt names that long do in the reference), and so do
 * serial requests; see struct layout for the serial frames' magic.
 */
#define CODEC(name, size, layout) \
    int vf_##name##_encode(const struct vf_##name *in, uint8_t out[size]) \
    { \
        return encode(&layout, in, out); \
    } \
    int vf_##name##_decode(const uint8_t *buf, size_t len, struct vf_##name *ret) \
    { \
        return decode(&layout, buf, len, ret, NULL); \
    }
CODEC(host_state, VF_HOST_STATE_SIZE, hs_layout)
CODEC(serial_req, VF_SERIAL_REQ_SIZE, sreq_layout)
CODEC(serial_resp, VF_SERIAL_RESP_SIZE, sresp_layout)
#undef CODEC

/* ---- name tables ---- */

static const char *const cmd_names[] = {
    [VF_CMD_NULL] = "null", [VF_CMD_OFF] = "off", [VF_CMD_REBOOT] = "reboot",
    [VF_CMD_ON] = "on", [VF_CMD_STATUS] = "status", [VF_CMD_DEVSTATUS] = "monitor",
    [VF_CMD_HOSTLIST] = "list", [VF_CMD_METADATA] = "metadata",
    [VF_CMD_VALIDATEALL] = "validate-all",
};

static const char *const state_names[] = {
    [VF_STATE_NOSTATE] = "nostate", [VF_STATE_RUNNING] = "running",
    [VF_STATE_BLOCKED] = "blocked", [VF_STATE_PAUSED] = "paused",
    [VF_STATE_SHUTDOWN] = "shutdown", [VF_STATE_SHUTOFF] = "shutoff",
    [VF_STATE_CRASHED] = "crashed", [VF_STATE_PMSUSPENDED] = "pmsuspended",
};

static const char *const hash_names[] = {
    [VF_HASH_NONE] = "none", [VF_HASH_SHA1] = "sha1", [VF_HASH_SHA256] = "sha256",
    [VF_HASH_SHA512] = "sha512",
};

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
