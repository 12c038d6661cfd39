// VF_FUZZ_SOURCES: lib/wire.c lib/auth.c lib/digest-nss.c lib/nss-dl.c lib/dl.c lib/log.c lib/io.c
// VF_FUZZ_PKGS: nss
/*
 * vmfence - tests/fuzz/fuzz-wire.c: libFuzzer target for lib/wire.c and
 * vf_req_verify().
 *
 * Every decoder sees the whole input (exercising the length checks) and,
 * where the input is long enough, a prefix of exactly the structure size.
 * For each successful decode the re-encoded bytes must equal the input in
 * canonical form: the encoders zero what the decoders drop, namely
 *   - bytes after the first NUL of a string field (decode stops there),
 *   - the host_state_t pad byte,
 *   - a serial magic of 0 (the encoders write VF_SERIAL_MAGIC for 0).
 * A 64-byte unterminated request domain round-trips because the decoder
 * sets domain_unterminated.  Decoding the encoded bytes again must give the
 * same struct.  Built and run by tests/fuzz/run-fuzz.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "wire.h"

#include "fuzz.h"

/* zero everything after the first NUL of a string field */
static void
canon_str(uint8_t *field, size_t len)
{
    uint8_t *nul = memchr(field, 0, len);

    if (nul != NULL) {
        memset(nul, 0, len - (size_t)(nul - field));
    }
}

static void
check_req(const uint8_t *buf, size_t len)
{
    static const uint8_t key[32] = {
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
        16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
    };
    uint8_t canon[VF_REQ_SIZE], out[VF_REQ_SIZE];
    struct vf_req req, again;
    int r;

    r = vf_req_decode(buf, len, &req);
    if (len != VF_REQ_SIZE) {
        FUZZ_ASSERT(r == -EBADMSG);
        return;
    }
    FUZZ_ASSERT(r == 0);
    FUZZ_ASSERT(strlen(req.domain) <= VF_DOMAIN_FIELD);
    FUZZ_ASSERT(req.domain_unterminated == (strlen(req.domain) == 64));

    memcpy(canon, buf, VF_REQ_SIZE);
    canon_str(canon + 4, VF_DOMAIN_FIELD);
    FUZZ_ASSERT(vf_req_encode(&req, out) == 0);
    FUZZ_ASSERT(memcmp(out, canon, VF_REQ_SIZE) == 0);
    FUZZ_ASSERT(vf_req_decode(out, VF_REQ_SIZE, &again) == 0);
    /* decode(encode(x)) encodes to the same bytes again */
    FUZZ_ASSERT(again.domain_unterminated == req.domain_unterminated);
    FUZZ_ASSERT(vf_req_encode(&again, canon) == 0);
    FUZZ_ASSERT(memcmp(out, canon, VF_REQ_SIZE) == 0);

    /* verification never crashes and follows the documented order */
    for (int min = VF_HASH_NONE; min <= VF_HASH_SHA512; min++) {
        r = vf_req_verify(buf, (enum vf_hash)min, key, sizeof(key));
        if (buf[1] > VF_HASH_SHA512) {
            FUZZ_ASSERT(r == -EPROTO);
        } else if (buf[1] < min) {
            FUZZ_ASSERT(r == -EPERM);
        } else if (buf[1] == VF_HASH_NONE) {
            FUZZ_ASSERT(r == 0);
        } else {
            FUZZ_ASSERT(r == 0 || r == -EBADMSG);
        }
        if (buf[1] >= 1 && buf[1] <= 3 && buf[1] >= min) {
            FUZZ_ASSERT(vf_req_verify(buf, (enum vf_hash)min, NULL, 0) ==
                        -ENOKEY);
        }
    }
}

static void
check_host_state(const uint8_t *buf, size_t len)
{
    uint8_t canon[VF_HOST_STATE_SIZE], out[VF_HOST_STATE_SIZE];
    struct vf_host_state hs, again;
    int r;

    r = vf_host_state_decode(buf, len, &hs);
    if (len != VF_HOST_STATE_SIZE) {
        FUZZ_ASSERT(r == -EBADMSG);
        return;
    }
    FUZZ_ASSERT(r == 0);
    memcpy(canon, buf, VF_HOST_STATE_SIZE);
    canon_str(canon, VF_DOMAIN_FIELD);
    canon_str(canon + 64, VF_UUID_FIELD);
    canon[129] = 0;
    FUZZ_ASSERT(vf_host_state_encode(&hs, out) == 0);
    FUZZ_ASSERT(memcmp(out, canon, VF_HOST_STATE_SIZE) == 0);
    FUZZ_ASSERT(vf_host_state_decode(out, VF_HOST_STATE_SIZE, &again) == 0);
    FUZZ_ASSERT(strcmp(again.domain, hs.domain) == 0);
    FUZZ_ASSERT(strcmp(again.uuid, hs.uuid) == 0);
    FUZZ_ASSERT(again.state == hs.state);
    FUZZ_ASSERT(vf_host_state_is_end(&hs) ==
                (buf[0] == 0 && buf[64] == 0));
    (void)vf_state_name(hs.state);
}

static void
check_serial_req(const uint8_t *buf, size_t len)
{
    uint8_t canon[VF_SERIAL_REQ_SIZE], out[VF_SERIAL_REQ_SIZE];
    struct vf_serial_req req, again;
    int r;

    memset(&req, 0, sizeof(req));
    r = vf_serial_req_decode(buf, len, &req);
    if (len != VF_SERIAL_REQ_SIZE) {
        FUZZ_ASSERT(r == -EBADMSG);
        return;
    }
    FUZZ_ASSERT(r == (req.magic == VF_SERIAL_MAGIC ? 0 : -EPROTO));
    memcpy(canon, buf, VF_SERIAL_REQ_SIZE);
    canon_str(canon + 6, VF_DOMAIN_FIELD);
    if (req.magic == 0) {
        memcpy(canon, "abba", 4);
    }
    FUZZ_ASSERT(vf_serial_req_encode(&req, out) == 0);
    FUZZ_ASSERT(memcmp(out, canon, VF_SERIAL_REQ_SIZE) == 0);
    r = vf_serial_req_decode(out, VF_SERIAL_REQ_SIZE, &again);
    FUZZ_ASSERT(r == 0 || r == -EPROTO);
    FUZZ_ASSERT(strcmp(again.domain, req.domain) == 0);
    FUZZ_ASSERT(again.seqno == req.seqno && again.request == req.request &&
                again.flags == req.flags);
}

static void
check_serial_resp(const uint8_t *buf, size_t len)
{
    uint8_t canon[VF_SERIAL_RESP_SIZE], out[VF_SERIAL_RESP_SIZE];
    struct vf_serial_resp resp;
    int r;

    memset(&resp, 0, sizeof(resp));
    r = vf_serial_resp_decode(buf, len, &resp);
    if (len != VF_SERIAL_RESP_SIZE) {
        FUZZ_ASSERT(r == -EBADMSG);
        return;
    }
    FUZZ_ASSERT(r == (resp.magic == VF_SERIAL_MAGIC ? 0 : -EPROTO));
    memcpy(canon, buf, VF_SERIAL_RESP_SIZE);
    if (resp.magic == 0) {
        memcpy(canon, "abba", 4);
    }
    FUZZ_ASSERT(vf_serial_resp_encode(&resp, out) == 0);
    FUZZ_ASSERT(memcmp(out, canon, VF_SERIAL_RESP_SIZE) == 0);
    (void)vf_resp_name(resp.response);
}

/* the name parsers take NUL-terminated strings: feed a bounded copy */
static void
check_names(const uint8_t *data, size_t size)
{
    char s[80];
    size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
    enum vf_cmd cmd;
    enum vf_hash h;

    memcpy(s, data, n);
    s[n] = '\0';
    if (vf_cmd_from_action(s, &cmd) == 0) {
        FUZZ_ASSERT(vf_cmd_name(cmd) != NULL);
    }
    if (vf_hash_from_string(s, &h) == 0) {
        FUZZ_ASSERT(vf_hash_name(h) != NULL);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* whole input: length checks */
    check_req(data, size);
    check_host_state(data, size);
    check_serial_req(data, size);
    check_serial_resp(data, size);
    /* prefixes of exactly the structure size */
    if (size > VF_REQ_SIZE) {
        check_req(data, VF_REQ_SIZE);
    }
    if (size > VF_SERIAL_REQ_SIZE) {
        check_serial_req(data, VF_SERIAL_REQ_SIZE);
    }
    if (size > VF_SERIAL_RESP_SIZE) {
        check_serial_resp(data, VF_SERIAL_RESP_SIZE);
    }
    /* a host list stream after a response byte: records until the end
     * marker, at most 64 of them */
    if (size > 0 && data[0] == VF_RESP_HOSTLIST) {
        size_t off = 1;

        for (int i = 0; i < 64 && off + VF_HOST_STATE_SIZE <= size; i++) {
            struct vf_host_state hs;

            check_host_state(data + off, VF_HOST_STATE_SIZE);
            FUZZ_ASSERT(vf_host_state_decode(data + off, VF_HOST_STATE_SIZE,
                                             &hs) == 0);
            off += VF_HOST_STATE_SIZE;
            if (vf_host_state_is_end(&hs)) {
                break;
            }
        }
    } else if (size > VF_HOST_STATE_SIZE) {
        check_host_state(data, VF_HOST_STATE_SIZE);
    }
    check_names(data, size);
    return 0;
}
