/*
 * vmfence - daemon/privsep/msg.c: encoder and decoder of the privsep
 * messages (msg.h).  No I/O; every byte is written or checked here.
 */
#include <errno.h>
#include <string.h>

#include "privsep/msg.h"

/* ---- byte helpers ---------------------------------------------------------- */

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static void
put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
    return ((uint32_t)get16(p) << 16) | get16(p + 2);
}

static uint64_t
get64(const uint8_t *p)
{
    return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

/* Write @s (at most @max bytes) into the zero-padded field at @p with its
 * length at @lenp.  -EINVAL if longer. */
static int
put_str(uint8_t *lenp, uint8_t *p, size_t max, const char *s)
{
    size_t n = strnlen(s, max + 1);

    if (n > max) {
        return -EINVAL;
    }
    put16(lenp, (uint16_t)n);
    memset(p, 0, max);
    memcpy(p, s, n);
    return 0;
}

/* Read a string field: length within @max, no NUL inside, zero padding. */
static int
get_str(const uint8_t *lenp, const uint8_t *p, size_t max, char *out)
{
    size_t n = get16(lenp);

    if (n > max || memchr(p, '\0', n) != NULL) {
        return -EBADMSG;
    }
    for (size_t i = n; i < max; i++) {
        if (p[i] != 0) {
            return -EBADMSG;
        }
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* where a message keeps one string field: its 16-bit length, its
 * zero-padded bytes, and their count */
struct str_field {
    uint16_t len_at;
    uint16_t at;
    uint16_t max;
};

/* put_str() for each of the @n fields of @f */
static int
put_strs(uint8_t *buf, const struct str_field *f, const char *const *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (put_str(buf + f[i].len_at, buf + f[i].at, f[i].max, s[i]) < 0) {
            return -EINVAL;
        }
    }
    return 0;
}

/* get_str() for each of the @n fields of @f */
static int
get_strs(const uint8_t *buf, const struct str_field *f, char *const *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (get_str(buf + f[i].len_at, buf + f[i].at, f[i].max, out[i]) < 0) {
            return -EBADMSG;
        }
    }
    return 0;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

/* the 8 bytes every message starts with (magic, version, type); the rest
 * zeroed */
static void
put_header(uint8_t *buf, size_t len, uint32_t magic, uint16_t type)
{
    memset(buf, 0, len);
    put32(buf, magic);
    put16(buf + 4, VF_PS_VERSION);
    put16(buf + 6, type);
}

/* Check that @buf is @size bytes and starts with @magic and our version;
 * its type into @ret_type.  -EBADMSG if not. */
static int
get_header(const uint8_t *buf, size_t len, size_t size, uint32_t magic, uint16_t *ret_type)
{
    if (buf == NULL || len != size || get32(buf) != magic || get16(buf + 4) != VF_PS_VERSION) {
        return -EBADMSG;
    }
    *ret_type = get16(buf + 6);
    return 0;
}

/* ---- requests -------------------------------------------------------------- */

static bool
op_valid(unsigned int op)
{
    return op >= VF_PS_OP_LOOKUP && op < VF_PS_OP_MAX_;
}

/* an op that names a target */
static bool
op_has_target(unsigned int op)
{
    return op >= VF_PS_OP_LOOKUP && op <= VF_PS_OP_STATUS;
}

/* target, identity */
static const struct str_field req_strs[] = {
    { 24, 26, VF_PS_TARGET_MAX },
    { 282, 284, VF_PS_IDENTITY_MAX },
};

/**
 * \brief Encode a request.
 * \return 0, or -EINVAL (buffer size, op, flags, timeout, string lengths)
 */
int
vf_ps_req_encode(const struct vf_ps_req *rq, uint8_t *buf, size_t len)
{
    if (len != VF_PS_REQ_SIZE || !op_valid(rq->op) || (rq->flags & ~VF_BE_BY_UUID) != 0 ||
        rq->timeout_ms == 0 || rq->timeout_ms > VF_PS_MAX_TIMEOUT_MS || rq->sent_ms <= 0 ||
        (!op_has_target(rq->op) && (rq->target[0] != '\0' || rq->flags != 0)) ||
        (op_has_target(rq->op) && rq->target[0] == '\0')) {
        return -EINVAL;
    }
    put_header(buf, len, VF_PS_REQ_MAGIC, rq->op);
    put64(buf + 8, rq->id);
    put32(buf + 16, rq->flags);
    put32(buf + 20, rq->timeout_ms);
    put64(buf + 284 + VF_PS_IDENTITY_MAX, (uint64_t)rq->sent_ms);
    return put_strs(buf, req_strs, (const char *const[]){ rq->target, rq->identity }, 2);
}

/**
 * \brief Decode a request of exactly VF_PS_REQ_SIZE bytes.
 * \return 0 (@ret_rq set), or -EBADMSG for anything not well-formed
 */
int
vf_ps_req_decode(const uint8_t *buf, size_t len, struct vf_ps_req *ret_rq)
{
    struct vf_ps_req rq = {0};

    if (get_header(buf, len, VF_PS_REQ_SIZE, VF_PS_REQ_MAGIC, &rq.op) < 0) {
        return -EBADMSG;
    }
    rq.id = get64(buf + 8);
    rq.flags = get32(buf + 16);
    rq.timeout_ms = get32(buf + 20);
    rq.sent_ms = (int64_t)get64(buf + 284 + VF_PS_IDENTITY_MAX);
    if (!op_valid(rq.op) || (rq.flags & ~VF_BE_BY_UUID) != 0 || rq.timeout_ms == 0 ||
        rq.timeout_ms > VF_PS_MAX_TIMEOUT_MS || rq.sent_ms <= 0 ||
        get_strs(buf, req_strs, (char *const[]){ rq.target, rq.identity }, 2) < 0) {
        return -EBADMSG;
    }
    if (op_has_target(rq.op) ? rq.target[0] == '\0' :
        (rq.target[0] != '\0' || rq.flags != 0)) {
        return -EBADMSG;
    }
    *ret_rq = rq;
    return 0;
}

/* ---- answers --------------------------------------------------------------- */

static bool
uuid_chars_ok(const char *u)
{
    for (size_t i = 0; u[i] != '\0'; i++) {
        char c = u[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == '-')) {
            return false;
        }
    }
    return true;
}

/**
 * \brief Encode an answer.
 * \return 0, or -EINVAL (buffer size, kind, result, name or UUID too long)
 */
int
vf_ps_ans_encode(const struct vf_ps_ans *an, uint8_t *buf, size_t len)
{
    size_t ulen = 0;

    if (len != VF_PS_ANS_SIZE || an->kind < VF_PS_KIND_RESULT || an->kind >= VF_PS_KIND_MAX_ ||
        an->result > 0 || an->result < -4095 ||
        (an->kind == VF_PS_KIND_DOMAIN && an->result != 0) ||
        an->dom.state < 0 || an->dom.state > VF_STATE_PMSUSPENDED ||
        (an->stamp != 0 && (an->kind != VF_PS_KIND_RESULT || an->result != 0))) {
        return -EINVAL;
    }
    ulen = strnlen(an->dom.uuid, sizeof(an->dom.uuid));
    if (ulen > VF_PS_UUID_LEN || !uuid_chars_ok(an->dom.uuid)) {
        return -EINVAL;
    }
    put_header(buf, len, VF_PS_ANS_MAGIC, an->kind);
    put64(buf + 8, an->id);
    put32(buf + 16, (uint32_t)an->result);
    buf[20] = an->on ? 1 : 0;
    buf[21] = an->dom.persistent ? 1 : 0;
    put32(buf + 24, (uint32_t)an->dom.state);
    memcpy(buf + 28, an->dom.uuid, ulen);
    put64(buf + 64 + VF_PS_NAME_MAX, an->stamp);
    return put_str(buf + 22, buf + 64, VF_PS_NAME_MAX - 1, an->dom.name);
}

/**
 * \brief Decode an answer of exactly VF_PS_ANS_SIZE bytes.
 * \return 0 (@ret_an set), or -EBADMSG for anything not well-formed
 */
int
vf_ps_ans_decode(const uint8_t *buf, size_t len, struct vf_ps_ans *ret_an)
{
    struct vf_ps_ans an = {0};
    int32_t state = 0;

    if (get_header(buf, len, VF_PS_ANS_SIZE, VF_PS_ANS_MAGIC, &an.kind) < 0) {
        return -EBADMSG;
    }
    an.id = get64(buf + 8);
    an.result = (int32_t)get32(buf + 16);
    state = (int32_t)get32(buf + 24);
    an.stamp = get64(buf + 64 + VF_PS_NAME_MAX);
    if (an.kind < VF_PS_KIND_RESULT || an.kind >= VF_PS_KIND_MAX_ || an.result > 0 ||
        an.result < -4095 || (an.kind == VF_PS_KIND_DOMAIN && an.result != 0) ||
        buf[20] > 1 || buf[21] > 1 || state < 0 || state > VF_STATE_PMSUSPENDED ||
        !all_zero(buf + 256 + 64 - 1, 1) ||
        (an.stamp != 0 && (an.kind != VF_PS_KIND_RESULT || an.result != 0))) {
        return -EBADMSG;
    }
    an.on = buf[20] == 1;
    an.dom.persistent = buf[21] == 1;
    an.dom.state = state;
    {
        size_t ulen = strnlen((const char *)buf + 28, VF_PS_UUID_LEN);

        if (!all_zero(buf + 28 + ulen, VF_PS_UUID_LEN - ulen)) {
            return -EBADMSG;
        }
        memcpy(an.dom.uuid, buf + 28, ulen);
        an.dom.uuid[ulen] = '\0';
        if (!uuid_chars_ok(an.dom.uuid)) {
            return -EBADMSG;
        }
    }
    if (get_str(buf + 22, buf + 64, VF_PS_NAME_MAX - 1, an.dom.name) < 0) {
        return -EBADMSG;
    }
    *ret_an = an;
    return 0;
}

/* ---- guest channel ------------------------------------------------------------ */

/* 36 characters, dashes at 8, 13, 18, 23, hex digits elsewhere */
static bool
uuid_form_ok(const char *u)
{
    if (strlen(u) != VF_PS_UUID_LEN) {
        return false;
    }
    for (size_t i = 0; i < VF_PS_UUID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;

        bool hex = (u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f') ||
                   (u[i] >= 'A' && u[i] <= 'F');

        if (dash ? u[i] != '-' : !hex) {
            return false;
        }
    }
    return true;
}

/* the fields each kind must (or must not) carry */
static bool
guest_fields_ok(const struct vf_ps_guest *gm)
{
    bool names = gm->kind == VF_PS_G_GUEST || gm->kind == VF_PS_G_GONE;

    if (gm->kind < VF_PS_G_GUEST || gm->kind >= VF_PS_G_MAX_ || gm->mode > 1) {
        return false;
    }
    if (!names) {
        return gm->gen == 0 && gm->mode == 0 && gm->uuid[0] == '\0' && gm->name[0] == '\0' &&
               gm->path[0] == '\0';
    }
    if (!uuid_form_ok(gm->uuid)) {
        return false;
    }
    if (gm->kind == VF_PS_G_GUEST) {
        return gm->name[0] != '\0' && gm->path[0] == '/';
    }
    return true;
}

/* uuid, name, path; guest_fields_ok() takes only an empty or a
 * 36-character UUID */
static const struct str_field guest_strs[] = {
    { 14, 16, VF_PS_UUID_LEN },
    { 52, 56, VF_PS_GNAME_MAX },
    { 54, 311, VF_PS_GPATH_MAX },
};

/**
 * \brief Encode a guest-channel message.
 * \return 0, or -EINVAL (buffer size, kind, fields the kind does not allow)
 */
int
vf_ps_guest_encode(const struct vf_ps_guest *gm, uint8_t *buf, size_t len)
{
    if (len != VF_PS_GUEST_SIZE || strnlen(gm->uuid, sizeof(gm->uuid)) == sizeof(gm->uuid) ||
        strnlen(gm->name, sizeof(gm->name)) == sizeof(gm->name) ||
        strnlen(gm->path, sizeof(gm->path)) == sizeof(gm->path) || !guest_fields_ok(gm)) {
        return -EINVAL;
    }
    put_header(buf, len, VF_PS_GUEST_MAGIC, gm->kind);
    put32(buf + 8, gm->gen);
    put16(buf + 12, gm->mode);
    return put_strs(buf, guest_strs, (const char *const[]){ gm->uuid, gm->name, gm->path }, 3);
}

/**
 * \brief Decode a guest-channel message of exactly VF_PS_GUEST_SIZE bytes.
 * \return 0 (@ret_gm set), or -EBADMSG for anything not well-formed
 */
int
vf_ps_guest_decode(const uint8_t *buf, size_t len, struct vf_ps_guest *ret_gm)
{
    struct vf_ps_guest gm = {0};

    if (get_header(buf, len, VF_PS_GUEST_SIZE, VF_PS_GUEST_MAGIC, &gm.kind) < 0 ||
        get_strs(buf, guest_strs, (char *const[]){ gm.uuid, gm.name, gm.path }, 3) < 0) {
        return -EBADMSG;
    }
    gm.gen = get32(buf + 8);
    gm.mode = get16(buf + 12);
    if (!guest_fields_ok(&gm)) {
        return -EBADMSG;
    }
    *ret_gm = gm;
    return 0;
}

const char *
vf_ps_op_name(unsigned int op)
{
    static const char *const names[] = {
        [VF_PS_OP_LOOKUP] = "lookup", [VF_PS_OP_OFF] = "off", [VF_PS_OP_ON] = "on",
        [VF_PS_OP_REBOOT] = "reboot", [VF_PS_OP_STATUS] = "status", [VF_PS_OP_LIST] = "list",
        [VF_PS_OP_MONITOR] = "monitor", [VF_PS_OP_READY] = "ready",
    };

    return op_valid(op) ? names[op] : "?";
}
