/*
 * vmfence - daemon/backends/cpg-wire.c: encoder and bounds-checked decoder
 * of the cpg backend's inter-daemon messages (layout in cpg-wire.h).
 * Linked by the cpg backend, its unit test and the fuzz target; needs
 * neither libcpg nor libvirt.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpg-wire.h"
#include "wire.h"

/* ---- little-endian helpers ---------------------------------------------- */

static void
put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)((v >> 8) & 0xff);
    p[2] = (uint8_t)((v >> 16) & 0xff);
    p[3] = (uint8_t)(v >> 24);
}

static void
put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v & 0xffffffffu));
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t
get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
        ((uint32_t)p[3] << 24);
}

static uint64_t
get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32);
}

static bool
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool
vf_cpgw_uuid_valid(const char *s)
{
    size_t i;

    if (s == NULL) {
        return false;
    }
    for (i = 0; i < VF_CPGW_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return false;
            }
        } else if (!is_hex(s[i])) {
            return false;
        }
    }
    return s[VF_CPGW_UUID_LEN] == '\0';
}

/* Length of a name field: 1..VF_CPGW_NAME_MAX, else 0. */
static size_t
name_len_ok(const char *s)
{
    size_t n = s != NULL ? strnlen(s, VF_CPGW_NAME_MAX + 1) : 0;

    return n > VF_CPGW_NAME_MAX ? 0 : n;
}

/* A decoded name/target: no NUL inside, copied and terminated. */
static bool
copy_field(char *dst, const uint8_t *src, size_t n)
{
    if (n == 0 || n > VF_CPGW_NAME_MAX || memchr(src, '\0', n) != NULL) {
        return false;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
    return true;
}

static bool
op_valid(uint8_t op)
{
    return op == VF_CMD_OFF || op == VF_CMD_REBOOT || op == VF_CMD_ON || op == VF_CMD_STATUS;
}

static void
put_header(uint8_t *out, uint8_t type, size_t body_len)
{
    put_u32(out, VF_CPGW_MAGIC);
    out[4] = VF_CPGW_VERSION;
    out[5] = type;
    put_u16(out + 6, 0);
    put_u32(out + 8, (uint32_t)body_len);
}

/* ---- encoders ------------------------------------------------------------ */

size_t
vf_cpgw_state_size(const struct vf_cpgw_dom *doms, size_t n)
{
    size_t total = VF_CPGW_HDR_SIZE + VF_CPGW_STATE_FIXED, i, nl;

    if (n > VF_CPGW_MAX_DOMAINS || (n > 0 && doms == NULL)) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        nl = name_len_ok(doms[i].name);
        if (nl == 0 || !vf_cpgw_uuid_valid(doms[i].uuid) || doms[i].state > VF_STATE_PMSUSPENDED) {
            return 0;
        }
        total += VF_CPGW_RECORD_FIXED + nl;
    }
    return total;
}

int
vf_cpgw_encode_state(uint32_t generation, const struct vf_cpgw_dom *doms, size_t n,
                     uint8_t *out, size_t cap, size_t *ret_len)
{
    size_t total = vf_cpgw_state_size(doms, n), off, i, nl;

    if (total == 0) {
        return -EINVAL;
    }
    if (out == NULL || cap < total) {
        return -EMSGSIZE;
    }
    put_header(out, VF_CPGW_STATE, total - VF_CPGW_HDR_SIZE);
    off = VF_CPGW_HDR_SIZE;
    put_u32(out + off, generation);
    put_u16(out + off + 4, (uint16_t)n);
    put_u16(out + off + 6, 0);
    off += VF_CPGW_STATE_FIXED;
    for (i = 0; i < n; i++) {
        nl = strlen(doms[i].name);
        out[off] = doms[i].state;
        out[off + 1] = doms[i].persistent ? VF_CPGW_DOM_PERSISTENT : 0;
        put_u16(out + off + 2, (uint16_t)nl);
        memcpy(out + off + 4, doms[i].uuid, VF_CPGW_UUID_LEN);
        memcpy(out + off + VF_CPGW_RECORD_FIXED, doms[i].name, nl);
        off += VF_CPGW_RECORD_FIXED + nl;
    }
    *ret_len = off;
    return 0;
}

int
vf_cpgw_encode_request(const struct vf_cpgw_request *req,
                       uint8_t *out, size_t cap, size_t *ret_len)
{
    size_t nl = name_len_ok(req->target);
    size_t total = VF_CPGW_HDR_SIZE + VF_CPGW_REQUEST_FIXED + nl;
    uint8_t *b;

    if (nl == 0 || !op_valid(req->op) || (req->flags & ~VF_CPGW_REQ_BY_UUID) != 0 ||
        req->timeout_ms == 0 || req->timeout_ms > VF_CPGW_MAX_TIMEOUT_MS) {
        return -EINVAL;
    }
    if (out == NULL || cap < total) {
        return -EMSGSIZE;
    }
    put_header(out, VF_CPGW_REQUEST, total - VF_CPGW_HDR_SIZE);
    b = out + VF_CPGW_HDR_SIZE;
    put_u64(b, req->id);
    put_u32(b + 8, req->nodeid);
    put_u32(b + 12, req->pid);
    b[16] = req->op;
    b[17] = req->flags;
    put_u16(b + 18, (uint16_t)nl);
    put_u32(b + 20, req->timeout_ms);
    memcpy(b + VF_CPGW_REQUEST_FIXED, req->target, nl);
    *ret_len = total;
    return 0;
}

int
vf_cpgw_encode_reply(const struct vf_cpgw_reply *rep,
                     uint8_t *out, size_t cap, size_t *ret_len)
{
    size_t total = VF_CPGW_HDR_SIZE + VF_CPGW_REPLY_SIZE;
    uint8_t *b;

    if (rep->result > 0 || rep->result < -4095 || rep->state > VF_STATE_PMSUSPENDED) {
        return -EINVAL;
    }
    if (out == NULL || cap < total) {
        return -EMSGSIZE;
    }
    put_header(out, VF_CPGW_REPLY, VF_CPGW_REPLY_SIZE);
    b = out + VF_CPGW_HDR_SIZE;
    put_u64(b, rep->id);
    put_u32(b + 8, rep->nodeid);
    put_u32(b + 12, rep->pid);
    put_u32(b + 16, (uint32_t)rep->result);
    b[20] = rep->on ? 1 : 0;
    b[21] = rep->state;
    put_u16(b + 22, 0);
    *ret_len = total;
    return 0;
}

/* ---- decoder ------------------------------------------------------------- */

static int
decode_state(const uint8_t *b, size_t len, struct vf_cpgw_msg *m)
{
    size_t n, i, off, nl;
    struct vf_cpgw_dom *doms = NULL;

    if (len < VF_CPGW_STATE_FIXED) {
        return -EBADMSG;
    }
    m->generation = get_u32(b);
    n = get_u16(b + 4);
    if (n > VF_CPGW_MAX_DOMAINS || len < VF_CPGW_STATE_FIXED + n * VF_CPGW_RECORD_FIXED) {
        return -EBADMSG;
    }
    if (n > 0) {
        doms = calloc(n, sizeof(*doms));
        if (doms == NULL) {
            return -ENOMEM;
        }
    }
    off = VF_CPGW_STATE_FIXED;
    for (i = 0; i < n; i++) {
        struct vf_cpgw_dom *d = &doms[i];

        if (len - off < VF_CPGW_RECORD_FIXED) {
            goto bad;
        }
        d->state = b[off];
        if (d->state > VF_STATE_PMSUSPENDED || (b[off + 1] & ~VF_CPGW_DOM_PERSISTENT) != 0) {
            goto bad;
        }
        d->persistent = (b[off + 1] & VF_CPGW_DOM_PERSISTENT) != 0;
        nl = get_u16(b + off + 2);
        memcpy(d->uuid, b + off + 4, VF_CPGW_UUID_LEN);
        d->uuid[VF_CPGW_UUID_LEN] = '\0';
        if (!vf_cpgw_uuid_valid(d->uuid)) {
            goto bad;
        }
        off += VF_CPGW_RECORD_FIXED;
        if (nl > len - off || !copy_field(d->name, b + off, nl)) {
            goto bad;
        }
        off += nl;
    }
    if (off != len) {
        goto bad;
    }
    m->doms = doms;
    m->n_doms = n;
    return 0;
bad:
    free(doms);
    return -EBADMSG;
}

static int
decode_request(const uint8_t *b, size_t len, struct vf_cpgw_request *r)
{
    size_t nl;

    if (len < VF_CPGW_REQUEST_FIXED) {
        return -EBADMSG;
    }
    r->id = get_u64(b);
    r->nodeid = get_u32(b + 8);
    r->pid = get_u32(b + 12);
    r->op = b[16];
    r->flags = b[17];
    nl = get_u16(b + 18);
    r->timeout_ms = get_u32(b + 20);
    if (!op_valid(r->op) || (r->flags & ~VF_CPGW_REQ_BY_UUID) != 0 ||
        r->timeout_ms == 0 || r->timeout_ms > VF_CPGW_MAX_TIMEOUT_MS ||
        len - VF_CPGW_REQUEST_FIXED != nl ||
        !copy_field(r->target, b + VF_CPGW_REQUEST_FIXED, nl)) {
        return -EBADMSG;
    }
    return 0;
}

static int
decode_reply(const uint8_t *b, size_t len, struct vf_cpgw_reply *r)
{
    int64_t res;

    if (len != VF_CPGW_REPLY_SIZE) {
        return -EBADMSG;
    }
    r->id = get_u64(b);
    r->nodeid = get_u32(b + 8);
    r->pid = get_u32(b + 12);
    res = (int32_t)get_u32(b + 16);
    if (res > 0 || res < -4095 || b[20] > 1 || b[21] > VF_STATE_PMSUSPENDED) {
        return -EBADMSG;
    }
    r->result = (int32_t)res;
    r->on = b[20] == 1;
    r->state = b[21];
    return 0;
}

int
vf_cpgw_decode(const uint8_t *buf, size_t len, struct vf_cpgw_msg *ret)
{
    struct vf_cpgw_msg m;
    size_t body;
    int r;

    memset(&m, 0, sizeof(m));
    if (buf == NULL || len < VF_CPGW_HDR_SIZE) {
        return -EBADMSG;
    }
    if (len > VF_CPGW_MAX_MSG) {
        return -EBADMSG;
    }
    if (get_u32(buf) != VF_CPGW_MAGIC) {
        return -EPROTO;
    }
    if (buf[4] != VF_CPGW_VERSION) {
        return -EPROTONOSUPPORT;
    }
    body = get_u32(buf + 8);
    if (body != len - VF_CPGW_HDR_SIZE) {
        return -EBADMSG;
    }
    m.type = buf[5];
    switch (m.type) {
    case VF_CPGW_STATE:
        r = decode_state(buf + VF_CPGW_HDR_SIZE, body, &m);
        break;
    case VF_CPGW_REQUEST:
        r = decode_request(buf + VF_CPGW_HDR_SIZE, body, &m.req);
        break;
    case VF_CPGW_REPLY:
        r = decode_reply(buf + VF_CPGW_HDR_SIZE, body, &m.rep);
        break;
    default:
        r = -EBADMSG;
        break;
    }
    if (r < 0) {
        return r;
    }
    *ret = m;
    return 0;
}

void
vf_cpgw_msg_done(struct vf_cpgw_msg *msg)
{
    if (msg == NULL) {
        return;
    }
    free(msg->doms);
    msg->doms = NULL;
    msg->n_doms = 0;
}
