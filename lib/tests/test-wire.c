/*
 * vmfence - lib/tests/test-wire.c: unit tests for lib/wire.c.
 *
 * Layouts are checked against hand-built byte arrays at the offsets of
 * protocol.md 2.2, 2.7 and 2.9 (the request bytes are the verified test
 * vector packet of 2.3), so an offset or byte-order slip fails here.
 */
#include <errno.h>

#include "wire.h"
#include "vftest.h"

/* protocol.md 2.3 test vector packet, hash still zero */
static void
vector_packet(uint8_t p[VF_REQ_SIZE])
{
    memset(p, 0, VF_REQ_SIZE);
    p[0] = 4;       /* STATUS */
    p[1] = 2;       /* sha256 */
    p[2] = 4;       /* addrlen */
    p[3] = 0;
    memcpy(p + 4, "test", 4);
    p[68] = 127;
    p[71] = 1;
    p[96] = 0xcd;   /* 1229 LE */
    p[97] = 0x04;
    for (int i = 0; i < 6; i++) {
        p[98 + i] = (uint8_t)(i + 1);
    }
    p[104] = 4;     /* seqno 0x01020304 LE */
    p[105] = 3;
    p[106] = 2;
    p[107] = 1;
    p[108] = 2;     /* family AF_INET */
}

static void
vector_req(struct vf_req *req)
{
    memset(req, 0, sizeof(*req));
    req->request = VF_CMD_STATUS;
    req->hashtype = VF_HASH_SHA256;
    req->addrlen = 4;
    strcpy(req->domain, "test");
    req->address[0] = 127;
    req->address[3] = 1;
    req->port = 1229;
    for (int i = 0; i < 6; i++) {
        req->random[i] = (uint8_t)(i + 1);
    }
    req->seqno = 0x01020304;
    req->family = VF_WIRE_AF_INET;
}

static void
test_req_layout(void)
{
    struct vf_req req, dec;
    uint8_t want[VF_REQ_SIZE], got[VF_REQ_SIZE];

    vector_packet(want);
    vector_req(&req);
    req.hash[0] = 0xab;
    req.hash[63] = 0xcd;
    want[112] = 0xab;
    want[175] = 0xcd;
    memset(got, 0x55, sizeof(got));
    VFT_EQ_INT(vf_req_encode(&req, got), 0);
    VFT_CHECK(memcmp(got, want, sizeof(want)) == 0);

    VFT_EQ_INT(vf_req_decode(want, sizeof(want), &dec), 0);
    VFT_EQ_INT(dec.request, VF_CMD_STATUS);
    VFT_EQ_INT(dec.hashtype, 2);
    VFT_EQ_INT(dec.addrlen, 4);
    VFT_EQ_STR(dec.domain, "test");
    VFT_CHECK(!dec.domain_unterminated);
    VFT_EQ_INT(dec.port, 1229);
    VFT_EQ_INT(dec.seqno, 0x01020304);
    VFT_EQ_INT(dec.family, 2);
    VFT_CHECK(memcmp(dec.address, req.address, VF_ADDR_FIELD) == 0);
    VFT_CHECK(memcmp(dec.random, req.random, VF_RANDOM_FIELD) == 0);
    VFT_CHECK(memcmp(dec.hash, req.hash, VF_DIGEST_MAX) == 0);
}

static void
test_req_lengths(void)
{
    uint8_t buf[VF_REQ_SIZE + 1];
    struct vf_req req;

    memset(buf, 0, sizeof(buf));
    memset(&req, 0x77, sizeof(req));
    VFT_EQ_INT(vf_req_decode(buf, VF_REQ_SIZE - 1, &req), -EBADMSG);
    VFT_EQ_INT(vf_req_decode(buf, VF_REQ_SIZE + 1, &req), -EBADMSG);
    VFT_EQ_INT(vf_req_decode(buf, 0, &req), -EBADMSG);
    VFT_EQ_INT(vf_req_decode(NULL, VF_REQ_SIZE, &req), -EBADMSG);
    /* ret_ untouched on failure */
    VFT_EQ_INT(req.request, 0x77);
}

static void
test_req_domain(void)
{
    struct vf_req req, dec;
    uint8_t buf[VF_REQ_SIZE];

    memset(&req, 0, sizeof(req));
    /* 63 characters: fine */
    memset(req.domain, 'a', 63);
    VFT_EQ_INT(vf_req_encode(&req, buf), 0);
    VFT_EQ_INT(buf[4 + 62], 'a');
    VFT_EQ_INT(buf[4 + 63], 0);
    VFT_EQ_INT(vf_req_decode(buf, sizeof(buf), &dec), 0);
    VFT_EQ_INT(strlen(dec.domain), 63);
    VFT_CHECK(!dec.domain_unterminated);

    /* 64 characters: refused unless explicitly unterminated */
    memset(req.domain, 'b', 64);
    req.domain[64] = '\0';
    VFT_EQ_INT(vf_req_encode(&req, buf), -ENAMETOOLONG);
    req.domain_unterminated = true;
    VFT_EQ_INT(vf_req_encode(&req, buf), 0);
    VFT_EQ_INT(buf[4 + 63], 'b');
    VFT_EQ_INT(buf[68], 0);
    VFT_EQ_INT(vf_req_decode(buf, sizeof(buf), &dec), 0);
    VFT_EQ_INT(strlen(dec.domain), 64);
    VFT_CHECK(dec.domain_unterminated);

    /* not terminated in the struct at all: refused */
    memset(req.domain, 'c', sizeof(req.domain));
    VFT_EQ_INT(vf_req_encode(&req, buf), -ENAMETOOLONG);

    /* garbage after the NUL in the field is dropped by decode */
    memset(buf, 0, sizeof(buf));
    memcpy(buf + 4, "vm1\0junk", 8);
    VFT_EQ_INT(vf_req_decode(buf, sizeof(buf), &dec), 0);
    VFT_EQ_STR(dec.domain, "vm1");
    VFT_CHECK(!dec.domain_unterminated);
}

static void
test_host_state(void)
{
    struct vf_host_state hs, dec;
    uint8_t buf[VF_HOST_STATE_SIZE], want[VF_HOST_STATE_SIZE];
    const char *uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f";

    memset(&hs, 0x5a, sizeof(hs));     /* dirty padding must not leak */
    strcpy(hs.domain, "guest-1");
    strcpy(hs.uuid, uuid);
    hs.state = VF_STATE_RUNNING;
    memset(want, 0, sizeof(want));
    memcpy(want, "guest-1", 7);
    memcpy(want + 64, uuid, 36);
    want[128] = 1;
    memset(buf, 0xee, sizeof(buf));
    VFT_EQ_INT(vf_host_state_encode(&hs, buf), 0);
    VFT_CHECK(memcmp(buf, want, sizeof(want)) == 0);
    VFT_EQ_INT(buf[129], 0);

    VFT_EQ_INT(vf_host_state_decode(buf, sizeof(buf), &dec), 0);
    VFT_EQ_STR(dec.domain, "guest-1");
    VFT_EQ_STR(dec.uuid, uuid);
    VFT_EQ_INT(dec.state, 1);
    VFT_CHECK(!vf_host_state_is_end(&dec));
    VFT_EQ_INT(vf_host_state_decode(buf, sizeof(buf) - 1, &dec), -EBADMSG);

    /* a dirty pad byte from the reference is ignored */
    buf[129] = 0xa5;
    VFT_EQ_INT(vf_host_state_decode(buf, sizeof(buf), &dec), 0);
    VFT_EQ_STR(dec.domain, "guest-1");

    /* terminator record */
    memset(buf, 0, sizeof(buf));
    VFT_EQ_INT(vf_host_state_decode(buf, sizeof(buf), &dec), 0);
    VFT_CHECK(vf_host_state_is_end(&dec));
    memset(&hs, 0, sizeof(hs));
    VFT_EQ_INT(vf_host_state_encode(&hs, want), 0);
    VFT_CHECK(memcmp(buf, want, sizeof(want)) == 0);

    /* 64-character names travel unterminated; both fields always end */
    memset(buf, 'x', sizeof(buf));
    VFT_EQ_INT(vf_host_state_decode(buf, sizeof(buf), &dec), 0);
    VFT_EQ_INT(strlen(dec.domain), 64);
    VFT_EQ_INT(strlen(dec.uuid), 64);
    memset(&hs, 0, sizeof(hs));
    memset(hs.domain, 'd', 64);
    VFT_EQ_INT(vf_host_state_encode(&hs, buf), 0);
    memset(hs.domain, 'd', sizeof(hs.domain));
    VFT_EQ_INT(vf_host_state_encode(&hs, buf), -ENAMETOOLONG);
}

static void
test_serial(void)
{
    struct vf_serial_req req, dec;
    struct vf_serial_resp resp, rdec;
    uint8_t buf[VF_SERIAL_REQ_SIZE], want[VF_SERIAL_REQ_SIZE];
    uint8_t rbuf[VF_SERIAL_RESP_SIZE];
    static const uint8_t rwant[VF_SERIAL_RESP_SIZE] = { 0x61, 0x62, 0x62, 0x61, 2 };

    memset(&req, 0, sizeof(req));      /* magic 0 => VF_SERIAL_MAGIC */
    req.request = VF_CMD_OFF;
    strcpy(req.domain, "vm-a");
    req.seqno = 999999;
    memset(want, 0, sizeof(want));
    memcpy(want, "abba", 4);
    want[4] = 1;
    memcpy(want + 6, "vm-a", 4);
    want[70] = 0x3f;                   /* 999999 = 0x000f423f LE */
    want[71] = 0x42;
    want[72] = 0x0f;
    VFT_EQ_INT(vf_serial_req_encode(&req, buf), 0);
    VFT_CHECK(memcmp(buf, want, sizeof(want)) == 0);

    VFT_EQ_INT(vf_serial_req_decode(buf, sizeof(buf), &dec), 0);
    VFT_EQ_INT(dec.magic, VF_SERIAL_MAGIC);
    VFT_EQ_INT(dec.request, 1);
    VFT_EQ_STR(dec.domain, "vm-a");
    VFT_EQ_INT(dec.seqno, 999999);
    VFT_EQ_INT(vf_serial_req_decode(buf, sizeof(buf) + 0 - 1, &dec), -EBADMSG);

    /* wrong magic: -EPROTO, but filled (the reference does not check) */
    buf[0] = 'x';
    memset(&dec, 0, sizeof(dec));
    VFT_EQ_INT(vf_serial_req_decode(buf, sizeof(buf), &dec), -EPROTO);
    VFT_EQ_STR(dec.domain, "vm-a");
    VFT_EQ_INT(dec.seqno, 999999);

    /* explicit magic is written as given */
    req.magic = 0x11223344;
    VFT_EQ_INT(vf_serial_req_encode(&req, buf), 0);
    VFT_EQ_INT(buf[0], 0x44);
    VFT_EQ_INT(buf[3], 0x11);

    memset(&resp, 0, sizeof(resp));
    resp.response = VF_RESP_OFF;
    VFT_EQ_INT(vf_serial_resp_encode(&resp, rbuf), 0);
    VFT_CHECK(memcmp(rbuf, rwant, sizeof(rwant)) == 0);
    VFT_EQ_INT(vf_serial_resp_decode(rbuf, sizeof(rbuf), &rdec), 0);
    VFT_EQ_INT(rdec.magic, VF_SERIAL_MAGIC);
    VFT_EQ_INT(rdec.response, 2);
    VFT_EQ_INT(vf_serial_resp_decode(rbuf, 4, &rdec), -EBADMSG);
    rbuf[3] = 0;
    VFT_EQ_INT(vf_serial_resp_decode(rbuf, sizeof(rbuf), &rdec), -EPROTO);
}

static void
test_names(void)
{
    enum vf_cmd cmd = VF_CMD_NULL;
    enum vf_hash h = VF_HASH_NONE;
    static const struct {
        const char *action;
        enum vf_cmd cmd;
    } actions[] = {
        { "null", VF_CMD_NULL }, { "on", VF_CMD_ON }, { "off", VF_CMD_OFF },
        { "reboot", VF_CMD_REBOOT }, { "status", VF_CMD_STATUS },
        { "monitor", VF_CMD_DEVSTATUS }, { "list", VF_CMD_HOSTLIST },
        { "list-status", VF_CMD_HOSTLIST }, { "metadata", VF_CMD_METADATA },
        { "validate-all", VF_CMD_VALIDATEALL }, { "REBOOT", VF_CMD_REBOOT },
        { "Monitor", VF_CMD_DEVSTATUS },
    };

    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        cmd = (enum vf_cmd)99;
        VFT_EQ_INT(vf_cmd_from_action(actions[i].action, &cmd), 0);
        VFT_EQ_INT(cmd, actions[i].cmd);
    }
    VFT_EQ_INT(vf_cmd_from_action("fence", &cmd), -EINVAL);
    VFT_EQ_INT(vf_cmd_from_action("", &cmd), -EINVAL);
    VFT_EQ_INT(vf_cmd_from_action(NULL, &cmd), -EINVAL);
    VFT_EQ_INT(vf_cmd_from_action("offx", &cmd), -EINVAL);

    VFT_EQ_STR(vf_cmd_name(VF_CMD_OFF), "off");
    VFT_EQ_STR(vf_cmd_name(VF_CMD_DEVSTATUS), "monitor");
    VFT_EQ_STR(vf_cmd_name(VF_CMD_HOSTLIST), "list");
    VFT_EQ_STR(vf_cmd_name(VF_CMD_VALIDATEALL), "validate-all");
    VFT_CHECK(vf_cmd_name(9) == NULL);
    VFT_CHECK(vf_cmd_name(-1) == NULL);
    /* every name maps back to its command */
    for (int c = VF_CMD_NULL; c <= VF_CMD_VALIDATEALL; c++) {
        VFT_EQ_INT(vf_cmd_from_action(vf_cmd_name(c), &cmd), 0);
        VFT_EQ_INT(cmd, c);
    }

    VFT_EQ_STR(vf_resp_name(VF_RESP_SUCCESS), "success");
    VFT_EQ_STR(vf_resp_name(VF_RESP_PERM), "perm");
    VFT_EQ_STR(vf_resp_name(VF_RESP_HOSTLIST), "hostlist");
    VFT_CHECK(vf_resp_name(4) == NULL);
    VFT_EQ_STR(vf_state_name(VF_STATE_RUNNING), "running");
    VFT_EQ_STR(vf_state_name(VF_STATE_PMSUSPENDED), "pmsuspended");
    VFT_CHECK(vf_state_name(8) == NULL);

    VFT_EQ_INT(vf_hash_from_string("SHA256", &h), 0);
    VFT_EQ_INT(h, VF_HASH_SHA256);
    VFT_EQ_INT(vf_hash_from_string("none", &h), 0);
    VFT_EQ_INT(h, VF_HASH_NONE);
    VFT_EQ_INT(vf_hash_from_string("sha512", &h), 0);
    VFT_EQ_INT(h, VF_HASH_SHA512);
    VFT_EQ_INT(vf_hash_from_string("md5", &h), -EINVAL);
    VFT_EQ_INT(vf_hash_from_string(NULL, &h), -EINVAL);
    VFT_EQ_STR(vf_hash_name(VF_HASH_SHA1), "sha1");
    VFT_CHECK(vf_hash_name(4) == NULL);
    VFT_EQ_INT(vf_hash_len(VF_HASH_NONE), 0);
    VFT_EQ_INT(vf_hash_len(VF_HASH_SHA1), 20);
    VFT_EQ_INT(vf_hash_len(VF_HASH_SHA256), 32);
    VFT_EQ_INT(vf_hash_len(VF_HASH_SHA512), 64);
    VFT_EQ_INT(vf_hash_len(7), 0);
}

int
main(void)
{
    VFT_RUN(test_req_layout);
    VFT_RUN(test_req_lengths);
    VFT_RUN(test_req_domain);
    VFT_RUN(test_host_state);
    VFT_RUN(test_serial);
    VFT_RUN(test_names);
    VFT_EXIT();
}
