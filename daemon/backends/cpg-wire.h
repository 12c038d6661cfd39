/*
 * vmfence - daemon/backends/cpg-wire.h: the messages the "cpg" backend
 * exchanges between fence_virtd instances over a corosync CPG group.
 *
 * This is vmfence's own protocol (group "vmfence" by default), NOT the
 * reference's raw-struct protocol of protocol.md 2.10 (group
 * "fence-agents"); the two do not interoperate.  Every message is:
 *
 *   header (12 bytes)
 *     0  u32  magic    VF_CPGW_MAGIC (bytes "VFCP")
 *     4  u8   version  VF_CPGW_VERSION (1); other versions are rejected
 *     5  u8   type     enum vf_cpgw_type
 *     6  u16  reserved (sent 0, ignored)
 *     8  u32  body length (must equal message length - 12)
 *
 *   STATE body: one owner's complete domain list (replaces the last one)
 *     0  u32  generation (per sender, incremented per broadcast)
 *     4  u16  count (<= VF_CPGW_MAX_DOMAINS)
 *     6  u16  flags (reserved, 0)
 *     8  count records of:
 *          0  u8   state (virDomainState 0..7)
 *          1  u8   flags (bit 0: persistent; others must be 0)
 *          2  u16  name length (1..VF_CPGW_NAME_MAX)
 *          4  char uuid[36] (canonical text UUID, hex and '-')
 *         40  char name[name length] (no NUL)
 *
 *   REQUEST body: ask one member to perform an operation
 *     0  u64  request id (unique per requester)
 *     8  u32  target nodeid      12 u32 target pid   (the CPG member)
 *    16  u8   op (VF_CMD_OFF, _REBOOT, _ON, _STATUS)
 *    17  u8   flags (bit 0: target is a UUID; others must be 0)
 *    18  u16  target length (1..VF_CPGW_NAME_MAX)
 *    20  u32  timeout in ms (1..VF_CPGW_MAX_TIMEOUT_MS) for the owner
 *    24  char target[target length] (no NUL)
 *
 *   REPLY body (24 bytes)
 *     0  u64  request id (copied from the REQUEST)
 *     8  u32  requester nodeid   12 u32 requester pid
 *    16  i32  result (0 or a negative errno, >= -4095)
 *    20  u8   on (status: 1 = powered on)   21 u8 state (0..7)
 *    22  u16  reserved (sent 0, ignored)
 *
 * All integers little-endian, every field at a fixed offset, every length
 * checked.  Pure functions: no I/O, no logging; only the STATE decoder
 * allocates (the record array, released with vf_cpgw_msg_done()).
 */
#ifndef VF_CPG_WIRE_H
#define VF_CPG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VF_CPGW_MAGIC          0x50434656u  /* "VFCP" little-endian */
#define VF_CPGW_VERSION        1
#define VF_CPGW_HDR_SIZE       12
#define VF_CPGW_NAME_MAX       255
#define VF_CPGW_UUID_LEN       36
#define VF_CPGW_MAX_DOMAINS    1024
#define VF_CPGW_STATE_FIXED    8
#define VF_CPGW_RECORD_FIXED   40
#define VF_CPGW_REQUEST_FIXED  24
#define VF_CPGW_REPLY_SIZE     24
#define VF_CPGW_MAX_TIMEOUT_MS 600000u
/* largest message any encoder produces / any decoder accepts */
#define VF_CPGW_MAX_MSG        (VF_CPGW_HDR_SIZE + VF_CPGW_STATE_FIXED + \
                                VF_CPGW_MAX_DOMAINS * (VF_CPGW_RECORD_FIXED + VF_CPGW_NAME_MAX))

enum vf_cpgw_type {
    VF_CPGW_STATE = 1,
    VF_CPGW_REQUEST = 2,
    VF_CPGW_REPLY = 3,
};

#define VF_CPGW_DOM_PERSISTENT 0x1u
#define VF_CPGW_REQ_BY_UUID    0x1u

struct vf_cpgw_dom {
    char name[VF_CPGW_NAME_MAX + 1];
    char uuid[VF_CPGW_UUID_LEN + 1];
    uint8_t state;
    bool persistent;
};

struct vf_cpgw_request {
    uint64_t id;
    uint32_t nodeid;            /* member that must answer */
    uint32_t pid;
    uint8_t op;                 /* enum vf_cmd */
    uint8_t flags;              /* VF_CPGW_REQ_* */
    uint32_t timeout_ms;
    char target[VF_CPGW_NAME_MAX + 1];
};

struct vf_cpgw_reply {
    uint64_t id;
    uint32_t nodeid;            /* requester */
    uint32_t pid;
    int32_t result;
    bool on;
    uint8_t state;
};

struct vf_cpgw_msg {
    uint8_t type;               /* enum vf_cpgw_type */
    /* STATE */
    uint32_t generation;
    struct vf_cpgw_dom *doms;   /* allocated by the decoder (NULL when count 0) */
    size_t n_doms;
    /* REQUEST / REPLY */
    struct vf_cpgw_request req;
    struct vf_cpgw_reply rep;
};

/* true for 36 characters of 8-4-4-4-12 hex digits separated by '-' */
bool vf_cpgw_uuid_valid(const char *s);

/* Encoded size of a STATE with these records; 0 if they cannot be encoded. */
size_t vf_cpgw_state_size(const struct vf_cpgw_dom *doms, size_t n);

/*
 * Encoders write into @out (capacity @cap) and set *@ret_len.
 *   -EMSGSIZE  @cap too small        -EINVAL  a field is out of range
 *   (empty or too long name, invalid UUID, state > 7, too many records,
 *    unknown op, timeout 0 or too large, result outside -4095..0).
 */
int vf_cpgw_encode_state(uint32_t generation, const struct vf_cpgw_dom *doms, size_t n,
                         uint8_t *out, size_t cap, size_t *ret_len);
int vf_cpgw_encode_request(const struct vf_cpgw_request *req,
                           uint8_t *out, size_t cap, size_t *ret_len);
int vf_cpgw_encode_reply(const struct vf_cpgw_reply *rep,
                         uint8_t *out, size_t cap, size_t *ret_len);

/*
 * Decode one message.  *@ret is filled only on success (release with
 * vf_cpgw_msg_done()).
 *   -EPROTO           wrong magic
 *   -EPROTONOSUPPORT  other version
 *   -EBADMSG          truncated, oversized, length mismatch, unknown type,
 *                     field out of range, trailing bytes
 *   -ENOMEM           (STATE only) allocation failed
 */
int vf_cpgw_decode(const uint8_t *buf, size_t len, struct vf_cpgw_msg *ret);
void vf_cpgw_msg_done(struct vf_cpgw_msg *msg);

#endif
