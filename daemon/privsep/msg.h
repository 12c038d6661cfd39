/*
 * vmfence - daemon/privsep/msg.h: the messages between fence_virtd's
 * unprivileged network process and its privileged executor.
 *
 * Fixed size, versioned, network byte order, one message per datagram of
 * an AF_UNIX SOCK_SEQPACKET socketpair (so a message is never split or
 * merged).  Encoder and decoder live in msg.c and nothing else touches the
 * bytes; the decoder checks every field (magic, version, type, lengths,
 * no NUL inside a string, zero padding, ranges) and refuses anything else
 * with -EBADMSG, so a hostile network process can only ask for what a
 * well-formed request says.
 *
 * Request (network -> executor), VF_PS_REQ_SIZE bytes:
 *   0  u32 magic "VFPQ"     4  u16 version      6  u16 op (enum vf_ps_op)
 *   8  u64 id              16  u32 flags (VF_BE_BY_UUID only)
 *  20  u32 timeout_ms (1..VF_PS_MAX_TIMEOUT_MS)
 *  24  u16 target_len      26  target[VF_PS_TARGET_MAX]     (zero padded)
 * 282  u16 identity_len   284  identity[VF_PS_IDENTITY_MAX] (zero padded)
 * 412  u64 sent_ms (CLOCK_MONOTONIC ms when the network process sent it, > 0)
 * The executor's deadline is the earlier of sent_ms + timeout_ms and its
 * own clock + timeout_ms: a request that waited in the socket (an executor
 * stopped or slow to read) past its deadline is answered -ETIMEDOUT and
 * never run, since its caller has long been told it failed.
 *
 * Answer (executor -> network), VF_PS_ANS_SIZE bytes:
 *   0  u32 magic "VFPA"     4  u16 version      6  u16 kind (enum vf_ps_kind)
 *   8  u64 id (of the request)
 *  16  i32 result (0 or -errno; kind RESULT only)
 *  20  u8 on  21 u8 persistent  22 u16 name_len
 *  24  i32 state           28  uuid[36]
 *  64  name[VF_PS_NAME_MAX] (zero padded)
 * 320  u64 stamp (a successful RESULT only, else 0)
 * A request gets exactly one RESULT answer; a LOOKUP's carries the domain,
 * a STATUS's the "on" bit (and, answered from the lifecycle cache for a
 * target by name, the status stamp read before asking: lib/statstamp.h,
 * 0 otherwise), and a LIST's is preceded by at most
 * VF_MAX_LIST_DOMAINS DOMAIN answers with the same id.
 */
#ifndef VF_PRIVSEP_MSG_H
#define VF_PRIVSEP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "plugin.h"

#define VF_PS_VERSION          3        /* 2: sent_ms; 3: stamp */
#define VF_PS_REQ_MAGIC        0x56465051u   /* "VFPQ" */
#define VF_PS_ANS_MAGIC        0x56465041u   /* "VFPA" */
#define VF_PS_TARGET_MAX       256
#define VF_PS_IDENTITY_MAX     128
#define VF_PS_NAME_MAX         256
#define VF_PS_UUID_LEN         36
#define VF_PS_REQ_SIZE         (284 + VF_PS_IDENTITY_MAX + 8)
#define VF_PS_ANS_SIZE         (64 + VF_PS_NAME_MAX + 8)
#define VF_PS_MAX_TIMEOUT_MS   120000        /* longer than any request step */

enum vf_ps_op {
    VF_PS_OP_LOOKUP = 1,
    VF_PS_OP_OFF,
    VF_PS_OP_ON,
    VF_PS_OP_REBOOT,
    VF_PS_OP_STATUS,
    VF_PS_OP_LIST,
    VF_PS_OP_MONITOR,
    VF_PS_OP_READY,         /* network process: every listener is serving */
    VF_PS_OP_MAX_,
};

enum vf_ps_kind {
    VF_PS_KIND_RESULT = 1,
    VF_PS_KIND_DOMAIN,
    VF_PS_KIND_MAX_,
};

struct vf_ps_req {
    uint16_t op;
    uint64_t id;
    uint32_t flags;
    uint32_t timeout_ms;
    int64_t sent_ms;                         /* vf_now_ms() at the sender, > 0 */
    char target[VF_PS_TARGET_MAX + 1];
    char identity[VF_PS_IDENTITY_MAX + 1];   /* "" = unknown */
};

struct vf_ps_ans {
    uint16_t kind;
    uint64_t id;
    int32_t result;
    bool on;
    uint64_t stamp;             /* STATUS: lib/statstamp.h, 0: none */
    struct vf_domain_info dom;  /* LOOKUP result, DOMAIN */
};

/*
 * Guest channel (privileged -> network, and SYNC back), VF_PS_GUEST_SIZE
 * bytes, on the guest pair (privsep/guestpair.h), a GUEST with the guest's
 * connected socket as SCM_RIGHTS:
 *   0  u32 magic "VFPG"     4  u16 version      6  u16 kind (enum vf_ps_gkind)
 *   8  u32 generation      12  u16 mode (0 serial, 1 vmchannel)
 *  14  u16 uuid_len (0 or 36)                  16  uuid[36]
 *  52  u16 name_len (< 256) 54  u16 path_len (< 108)
 *  56  name[VF_PS_GNAME_MAX] (zero padded)    311  path[VF_PS_GPATH_MAX] (zero padded)
 * GUEST and GONE name a domain (UUID: 36 hex digits and dashes); GUEST a
 * name and an absolute path too; RESET and SYNC carry nothing but zeros.
 */
#define VF_PS_GUEST_MAGIC      0x56465047u   /* "VFPG" */
#define VF_PS_GNAME_MAX        255
#define VF_PS_GPATH_MAX        107
#define VF_PS_GUEST_SIZE       (311 + VF_PS_GPATH_MAX)

enum vf_ps_gkind {
    VF_PS_G_GUEST = 1,      /* a domain's socket (the fd attached), add or replace */
    VF_PS_G_GONE,           /* that domain's socket is closed: drop it */
    VF_PS_G_RESET,          /* drop every socket: the full set follows */
    VF_PS_G_SYNC,           /* network -> privileged: send me the full set */
    VF_PS_G_MAX_,
};

struct vf_ps_guest {
    uint16_t kind;
    uint32_t gen;
    uint16_t mode;
    char uuid[VF_PS_UUID_LEN + 1];
    char name[VF_PS_GNAME_MAX + 1];
    char path[VF_PS_GPATH_MAX + 1];
};

int vf_ps_guest_encode(const struct vf_ps_guest *gm, uint8_t *buf, size_t len);
/* Decode exactly @len bytes; -EBADMSG unless well-formed. */
int vf_ps_guest_decode(const uint8_t *buf, size_t len, struct vf_ps_guest *ret_gm);

/* Encode @rq into @buf (VF_PS_REQ_SIZE bytes).  -EINVAL for a field out of
 * range (a string too long or holding a NUL is impossible: strings are C). */
int vf_ps_req_encode(const struct vf_ps_req *rq, uint8_t *buf, size_t len);
/* Decode exactly @len bytes; -EBADMSG unless a well-formed request. */
int vf_ps_req_decode(const uint8_t *buf, size_t len, struct vf_ps_req *ret_rq);
int vf_ps_ans_encode(const struct vf_ps_ans *an, uint8_t *buf, size_t len);
int vf_ps_ans_decode(const uint8_t *buf, size_t len, struct vf_ps_ans *ret_an);
/* "off", "list" ... ("?" when unknown) */
const char *vf_ps_op_name(unsigned int op);

#endif
