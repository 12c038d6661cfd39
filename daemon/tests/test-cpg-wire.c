/*
 * vmfence - daemon/tests/test-cpg-wire.c: unit tests of the cpg backend's
 * message codec (daemon/backends/cpg-wire.c): round trips of STATE,
 * REQUEST and REPLY, exact byte layout of the header, and rejection of
 * truncated, oversized, bad-magic, bad-version, bad-length and
 * out-of-range input.  Pure codec: no corosync needed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpg-wire.h"
#include "wire.h"
#include "vftest.h"

static const char *const uuids[] = {
    "5ca1ab1e-0000-4000-8000-000000000001",
    "5ca1ab1e-0000-4000-8000-000000000002",
    "5CA1AB1E-0000-4000-8000-00000000000A",
};

static void
fill_dom(struct vf_cpgw_dom *d, const char *name, const char *uuid, uint8_t state, bool pers)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
    d->state = state;
    d->persistent = pers;
}

static void
test_state_roundtrip(void)
{
    struct vf_cpgw_dom doms[3];
    struct vf_cpgw_msg m;
    uint8_t buf[4096];
    size_t len = 0;
    char longname[VF_CPGW_NAME_MAX + 1];

    memset(longname, 'x', VF_CPGW_NAME_MAX);
    longname[VF_CPGW_NAME_MAX] = '\0';
    fill_dom(&doms[0], "g1-a", uuids[0], VF_STATE_RUNNING, true);
    fill_dom(&doms[1], "g1-b with space", uuids[1], VF_STATE_SHUTOFF, false);
    fill_dom(&doms[2], longname, uuids[2], VF_STATE_PMSUSPENDED, true);
    VFT_EQ_INT(vf_cpgw_encode_state(77, doms, 3, buf, sizeof(buf), &len), 0);
    VFT_EQ_INT(len, vf_cpgw_state_size(doms, 3));
    VFT_EQ_INT(len, VF_CPGW_HDR_SIZE + 8 + 3 * 40 + 4 + 15 + VF_CPGW_NAME_MAX);
    /* header bytes at fixed offsets, little-endian */
    VFT_CHECK(memcmp(buf, "VFCP", 4) == 0);
    VFT_EQ_INT(buf[4], 1);
    VFT_EQ_INT(buf[5], VF_CPGW_STATE);
    VFT_EQ_INT(buf[8] | (buf[9] << 8), len - 12);
    VFT_EQ_INT(buf[12], 77);
    VFT_EQ_INT(buf[16], 3);

    memset(&m, 0, sizeof(m));
    VFT_EQ_INT(vf_cpgw_decode(buf, len, &m), 0);
    VFT_EQ_INT(m.type, VF_CPGW_STATE);
    VFT_EQ_INT(m.generation, 77);
    VFT_EQ_INT(m.n_doms, 3);
    if (m.n_doms == 3) {
        VFT_EQ_STR(m.doms[0].name, "g1-a");
        VFT_EQ_STR(m.doms[0].uuid, uuids[0]);
        VFT_EQ_INT(m.doms[0].state, VF_STATE_RUNNING);
        VFT_CHECK(m.doms[0].persistent);
        VFT_EQ_STR(m.doms[1].name, "g1-b with space");
        VFT_CHECK(!m.doms[1].persistent);
        VFT_EQ_INT(m.doms[1].state, VF_STATE_SHUTOFF);
        VFT_EQ_STR(m.doms[2].name, longname);
        VFT_EQ_STR(m.doms[2].uuid, uuids[2]);
    }
    vf_cpgw_msg_done(&m);
    vf_cpgw_msg_done(&m);       /* idempotent */
    vf_cpgw_msg_done(NULL);

    /* empty list: a valid snapshot ("this owner has no domains", D6) */
    VFT_EQ_INT(vf_cpgw_encode_state(1, NULL, 0, buf, sizeof(buf), &len), 0);
    VFT_EQ_INT(len, 20);
    VFT_EQ_INT(vf_cpgw_decode(buf, len, &m), 0);
    VFT_EQ_INT(m.n_doms, 0);
    VFT_CHECK(m.doms == NULL);
    vf_cpgw_msg_done(&m);
}

static void
test_state_encode_rejects(void)
{
    struct vf_cpgw_dom d;
    uint8_t buf[512];
    size_t len = 0;

    fill_dom(&d, "", uuids[0], 1, true);
    VFT_EQ_INT(vf_cpgw_encode_state(1, &d, 1, buf, sizeof(buf), &len), -EINVAL);
    fill_dom(&d, "vm", "not-a-uuid", 1, true);
    VFT_EQ_INT(vf_cpgw_encode_state(1, &d, 1, buf, sizeof(buf), &len), -EINVAL);
    fill_dom(&d, "vm", uuids[0], 8, true);
    VFT_EQ_INT(vf_cpgw_encode_state(1, &d, 1, buf, sizeof(buf), &len), -EINVAL);
    fill_dom(&d, "vm", uuids[0], 1, true);
    VFT_EQ_INT(vf_cpgw_encode_state(1, &d, 1, buf, 30, &len), -EMSGSIZE);
    VFT_EQ_INT(vf_cpgw_encode_state(1, &d, VF_CPGW_MAX_DOMAINS + 1, buf, sizeof(buf), &len),
               -EINVAL);
    VFT_CHECK(vf_cpgw_uuid_valid(uuids[0]));
    VFT_CHECK(!vf_cpgw_uuid_valid("5ca1ab1e-0000-4000-8000-00000000000"));
    VFT_CHECK(!vf_cpgw_uuid_valid("5ca1ab1e-0000-4000-8000-0000000000011"));
    VFT_CHECK(!vf_cpgw_uuid_valid("5ca1ab1e00000-4000-8000-000000000001"));
    VFT_CHECK(!vf_cpgw_uuid_valid(NULL));
}

static void
test_request_reply_roundtrip(void)
{
    struct vf_cpgw_request rq;
    struct vf_cpgw_reply rp;
    struct vf_cpgw_msg m;
    uint8_t buf[512];
    size_t len = 0;

    memset(&rq, 0, sizeof(rq));
    rq.id = 0x1122334455667788ull;
    rq.nodeid = 2;
    rq.pid = 4242;
    rq.op = VF_CMD_REBOOT;
    rq.flags = VF_CPGW_REQ_BY_UUID;
    rq.timeout_ms = 9500;
    snprintf(rq.target, sizeof(rq.target), "%s", uuids[1]);
    VFT_EQ_INT(vf_cpgw_encode_request(&rq, buf, sizeof(buf), &len), 0);
    VFT_EQ_INT(len, 12 + 24 + 36);
    VFT_EQ_INT(buf[12], 0x88);      /* id little-endian */
    VFT_EQ_INT(buf[19], 0x11);
    VFT_EQ_INT(buf[28], VF_CMD_REBOOT);
    memset(&m, 0, sizeof(m));
    VFT_EQ_INT(vf_cpgw_decode(buf, len, &m), 0);
    VFT_EQ_INT(m.type, VF_CPGW_REQUEST);
    VFT_CHECK(m.req.id == rq.id);
    VFT_EQ_INT(m.req.nodeid, 2);
    VFT_EQ_INT(m.req.pid, 4242);
    VFT_EQ_INT(m.req.op, VF_CMD_REBOOT);
    VFT_EQ_INT(m.req.flags, VF_CPGW_REQ_BY_UUID);
    VFT_EQ_INT(m.req.timeout_ms, 9500);
    VFT_EQ_STR(m.req.target, uuids[1]);
    vf_cpgw_msg_done(&m);

    /* request encode rejects */
    rq.op = VF_CMD_HOSTLIST;
    VFT_EQ_INT(vf_cpgw_encode_request(&rq, buf, sizeof(buf), &len), -EINVAL);
    rq.op = VF_CMD_OFF;
    rq.timeout_ms = 0;
    VFT_EQ_INT(vf_cpgw_encode_request(&rq, buf, sizeof(buf), &len), -EINVAL);
    rq.timeout_ms = 1000;
    rq.flags = 0x80;
    VFT_EQ_INT(vf_cpgw_encode_request(&rq, buf, sizeof(buf), &len), -EINVAL);
    rq.flags = 0;
    rq.target[0] = '\0';
    VFT_EQ_INT(vf_cpgw_encode_request(&rq, buf, sizeof(buf), &len), -EINVAL);
    snprintf(rq.target, sizeof(rq.target), "g2-a");
    VFT_EQ_INT(vf_cpgw_encode_request(&rq, buf, 20, &len), -EMSGSIZE);

    memset(&rp, 0, sizeof(rp));
    rp.id = 5;
    rp.nodeid = 1;
    rp.pid = 99;
    rp.result = -ENOENT;
    rp.on = true;
    rp.state = VF_STATE_PAUSED;
    VFT_EQ_INT(vf_cpgw_encode_reply(&rp, buf, sizeof(buf), &len), 0);
    VFT_EQ_INT(len, 36);
    VFT_EQ_INT(vf_cpgw_decode(buf, len, &m), 0);
    VFT_EQ_INT(m.type, VF_CPGW_REPLY);
    VFT_CHECK(m.rep.id == 5);
    VFT_EQ_INT(m.rep.nodeid, 1);
    VFT_EQ_INT(m.rep.pid, 99);
    VFT_EQ_INT(m.rep.result, -ENOENT);
    VFT_CHECK(m.rep.on);
    VFT_EQ_INT(m.rep.state, VF_STATE_PAUSED);
    vf_cpgw_msg_done(&m);
    rp.result = 1;
    VFT_EQ_INT(vf_cpgw_encode_reply(&rp, buf, sizeof(buf), &len), -EINVAL);
    rp.result = -5000;
    VFT_EQ_INT(vf_cpgw_encode_reply(&rp, buf, sizeof(buf), &len), -EINVAL);
}

/* One corruption of an encoded message: byte @off (and @off2, when not 0)
 * replaced, or XORed with 0xff when @flip; decoding must fail with @want. */
struct corrupt {
    size_t off;
    uint8_t val;
    bool flip;
    size_t off2;
    uint8_t val2;
    int want;
};

static const struct corrupt state_bad[] = {
    { .off = 0, .flip = true, .want = -EPROTO },
    { .off = 4, .val = 2, .want = -EPROTONOSUPPORT },
    { .off = 5, .val = 9, .want = -EBADMSG },
    { .off = 16, .val = 0xff, .off2 = 17, .val2 = 0x03, .want = -EBADMSG },
    { .off = 20, .val = 8, .want = -EBADMSG },
    { .off = 21, .val = 2, .want = -EBADMSG },
    { .off = 24 + 8, .val = 'x', .want = -EBADMSG },
    { .off = 20 + 40 + 1, .val = '\0', .want = -EBADMSG },
    { .off = 22, .val = 0xff, .want = -EBADMSG },
};

static const struct corrupt reply_bad[] = {
    { .off = 28, .val = 1, .want = -EBADMSG },
    { .off = 32, .val = 2, .want = -EBADMSG },
};

/* each corruption of @buf (@len bytes), in @tmp (which keeps the last one) */
static void
expect_corrupt(const uint8_t *buf, size_t len, uint8_t *tmp, const struct corrupt *c, size_t n)
{
    struct vf_cpgw_msg m;
    size_t i;

    for (i = 0; i < n; i++) {
        memcpy(tmp, buf, len);
        tmp[c[i].off] = c[i].flip ? (uint8_t)(tmp[c[i].off] ^ 0xff) : c[i].val;
        if (c[i].off2 != 0) {
            tmp[c[i].off2] = c[i].val2;
        }
        memset(&m, 0, sizeof(m));
        VFT_EQ_INT(vf_cpgw_decode(tmp, len, &m), c[i].want);
    }
}

static void
test_decode_rejects(void)
{
    struct vf_cpgw_dom doms[2];
    struct vf_cpgw_reply rp;
    struct vf_cpgw_msg m;
    uint8_t buf[1024], tmp[1024];
    uint8_t *big;
    size_t len = 0, i;
    int r;

    fill_dom(&doms[0], "g2-a", uuids[0], 1, true);
    fill_dom(&doms[1], "g2-b", uuids[1], 5, true);
    VFT_EQ_INT(vf_cpgw_encode_state(3, doms, 2, buf, sizeof(buf), &len), 0);

    /* every truncation fails, without reading past the given length */
    for (i = 0; i < len; i++) {
        uint8_t *cut = malloc(i > 0 ? i : 1);

        if (cut == NULL) {
            continue;
        }
        memcpy(cut, buf, i);
        memset(&m, 0, sizeof(m));
        r = vf_cpgw_decode(cut, i, &m);
        VFT_CHECK(r == -EBADMSG);
        free(cut);
    }
    /* truncated body with a header that still claims the full length */
    memcpy(tmp, buf, len);
    VFT_EQ_INT(vf_cpgw_decode(tmp, len - 1, &m), -EBADMSG);
    /* trailing garbage */
    memcpy(tmp, buf, len);
    tmp[len] = 0;
    VFT_EQ_INT(vf_cpgw_decode(tmp, len + 1, &m), -EBADMSG);
    /* header length fixed up but an extra byte after the records */
    tmp[8] = (uint8_t)(tmp[8] + 1);
    VFT_EQ_INT(vf_cpgw_decode(tmp, len + 1, &m), -EBADMSG);
    /* bad magic, bad version, unknown type; count larger than what the
     * body can hold (no huge allocation); bad state, flags, uuid, NUL in
     * name, zero name length, name length beyond the message */
    expect_corrupt(buf, len, tmp, state_bad, sizeof(state_bad) / sizeof(state_bad[0]));
    /* reply: wrong length, positive result, bad 'on' */
    memset(&rp, 0, sizeof(rp));
    VFT_EQ_INT(vf_cpgw_encode_reply(&rp, buf, sizeof(buf), &len), 0);
    expect_corrupt(buf, len, tmp, reply_bad, sizeof(reply_bad) / sizeof(reply_bad[0]));
    VFT_EQ_INT(vf_cpgw_decode(NULL, 0, &m), -EBADMSG);

    /* oversized: larger than any valid message */
    big = calloc(1, VF_CPGW_MAX_MSG + 2);
    if (big != NULL) {
        memcpy(big, buf, VF_CPGW_HDR_SIZE);
        big[5] = VF_CPGW_STATE;
        big[8] = (uint8_t)((VF_CPGW_MAX_MSG + 1 - 12) & 0xff);
        big[9] = (uint8_t)(((VF_CPGW_MAX_MSG + 1 - 12) >> 8) & 0xff);
        big[10] = (uint8_t)(((VF_CPGW_MAX_MSG + 1 - 12) >> 16) & 0xff);
        VFT_EQ_INT(vf_cpgw_decode(big, VF_CPGW_MAX_MSG + 1, &m), -EBADMSG);
        free(big);
    }
}

/* the largest valid STATE encodes and decodes */
static void
test_state_max(void)
{
    struct vf_cpgw_dom *doms = calloc(VF_CPGW_MAX_DOMAINS, sizeof(*doms));
    uint8_t *buf = malloc(VF_CPGW_MAX_MSG);
    struct vf_cpgw_msg m;
    size_t len = 0, i;

    if (doms == NULL || buf == NULL) {
        VFT_CHECK(!"out of memory");
        goto out;
    }
    for (i = 0; i < VF_CPGW_MAX_DOMAINS; i++) {
        memset(doms[i].name, 'a' + (int)(i % 26), VF_CPGW_NAME_MAX);
        snprintf(doms[i].uuid, sizeof(doms[i].uuid), "5ca1ab1e-0000-4000-8000-%012zu", i);
        doms[i].state = (uint8_t)(i % 8);
    }
    VFT_EQ_INT(vf_cpgw_encode_state(9, doms, VF_CPGW_MAX_DOMAINS, buf, VF_CPGW_MAX_MSG, &len), 0);
    VFT_EQ_INT(len, VF_CPGW_MAX_MSG);
    memset(&m, 0, sizeof(m));
    VFT_EQ_INT(vf_cpgw_decode(buf, len, &m), 0);
    VFT_EQ_INT(m.n_doms, VF_CPGW_MAX_DOMAINS);
    if (m.n_doms == VF_CPGW_MAX_DOMAINS) {
        VFT_EQ_STR(m.doms[1023].uuid, doms[1023].uuid);
        VFT_EQ_INT(m.doms[1023].state, 1023 % 8);
    }
    vf_cpgw_msg_done(&m);
out:
    free(doms);
    free(buf);
}

int
main(void)
{
    VFT_RUN(test_state_roundtrip);
    VFT_RUN(test_state_encode_rejects);
    VFT_RUN(test_request_reply_roundtrip);
    VFT_RUN(test_decode_rejects);
    VFT_RUN(test_state_max);
    VFT_EXIT();
}
