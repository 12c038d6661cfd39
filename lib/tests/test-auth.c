/*
 * vmfence - lib/tests/test-auth.c: unit tests for lib/auth.c.
 *
 * Includes the verified vectors of protocol.md 2.3 (a packet the reference
 * daemon accepted, and the challenge answer).  The sha1/sha512 expectations
 * were computed independently with Python's hashlib over the same bytes.
 * The peer of the challenge/response tests is a thread on a socketpair
 * (nothing is faked but the network).
 */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "io.h"
#include "wire.h"
#include "vftest.h"

static uint8_t key[32];                 /* 0x00..0x1f, as in protocol.md */

static int
unhex(const char *hex, uint8_t *out, size_t max)
{
    size_t n = strlen(hex) / 2;

    if (n > max) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned int b;

        if (sscanf(hex + 2 * i, "%2x", &b) != 1) {
            return -1;
        }
        out[i] = (uint8_t)b;
    }
    return (int)n;
}

/* the verified packet of protocol.md 2.3, built byte by byte */
static void
vector_packet(uint8_t p[VF_REQ_SIZE])
{
    static const char *digest =
        "3304959e9990fb7e2648ff98b02528ab17b398fab62bf56dc8a92e046930700f";

    memset(p, 0, VF_REQ_SIZE);
    unhex("04020400", p, 4);
    memcpy(p + 4, "test", 4);
    unhex("7f000001", p + 68, 4);
    unhex("cd04" "010203040506" "04030201" "02000000", p + 96, 16);
    unhex(digest, p + 112, 32);
}

static void
test_vector_packet(void)
{
    uint8_t pkt[VF_REQ_SIZE], zeroed[VF_REQ_SIZE], d[VF_DIGEST_MAX];
    struct vf_req req;

    vector_packet(pkt);
    /* the digest over the packet with the hash zeroed */
    memcpy(zeroed, pkt, sizeof(zeroed));
    memset(zeroed + 112, 0, 64);
    VFT_EQ_INT(vf_digest(VF_HASH_SHA256, key, sizeof(key), zeroed,
                         sizeof(zeroed), d), 0);
    VFT_CHECK(memcmp(d, pkt + 112, 64) == 0);

    /* our encoder produces the same bytes from the decoded struct */
    VFT_EQ_INT(vf_req_decode(pkt, sizeof(pkt), &req), 0);
    VFT_EQ_INT(vf_req_encode(&req, zeroed), 0);
    VFT_CHECK(memcmp(zeroed, pkt, sizeof(pkt)) == 0);

    VFT_EQ_INT(vf_req_verify(pkt, VF_HASH_SHA256, key, sizeof(key)), 0);
    VFT_EQ_INT(vf_req_verify(pkt, VF_HASH_SHA1, key, sizeof(key)), 0);
    VFT_EQ_INT(vf_req_verify(pkt, VF_HASH_NONE, key, sizeof(key)), 0);
    /* weak request vs. stronger minimum */
    VFT_EQ_INT(vf_req_verify(pkt, VF_HASH_SHA512, key, sizeof(key)), -EPERM);
    /* no key loaded */
    VFT_EQ_INT(vf_req_verify(pkt, VF_HASH_SHA256, NULL, 0), -ENOKEY);
    /* wrong key */
    VFT_EQ_INT(vf_req_verify(pkt, VF_HASH_SHA256, key, sizeof(key) - 1),
               -EBADMSG);
}

static void
test_tamper(void)
{
    uint8_t pkt[VF_REQ_SIZE], bad[VF_REQ_SIZE];
    int rejected = 0;

    vector_packet(pkt);
    /* flipping any single bit anywhere but the hashtype byte is a
     * digest mismatch; the hashtype byte gives -EPERM/-EPROTO/-EBADMSG */
    for (size_t i = 0; i < VF_REQ_SIZE; i++) {
        memcpy(bad, pkt, sizeof(bad));
        bad[i] ^= 0x01;
        if (vf_req_verify(bad, VF_HASH_SHA256, key, sizeof(key)) < 0) {
            rejected++;
        }
        if (i != 1) {
            VFT_EQ_INT(vf_req_verify(bad, VF_HASH_SHA256, key, sizeof(key)),
                       -EBADMSG);
        }
    }
    VFT_EQ_INT(rejected, VF_REQ_SIZE);

    /* non-zero digest padding (bytes 32..63 of the sha256 field) */
    memcpy(bad, pkt, sizeof(bad));
    bad[112 + 32] = 0x01;
    VFT_EQ_INT(vf_req_verify(bad, VF_HASH_SHA256, key, sizeof(key)), -EBADMSG);
    memcpy(bad, pkt, sizeof(bad));
    bad[175] = 0x80;
    VFT_EQ_INT(vf_req_verify(bad, VF_HASH_SHA256, key, sizeof(key)), -EBADMSG);

    /* hashtype out of range */
    memcpy(bad, pkt, sizeof(bad));
    bad[1] = 4;
    VFT_EQ_INT(vf_req_verify(bad, VF_HASH_NONE, key, sizeof(key)), -EPROTO);
    bad[1] = 0xff;
    VFT_EQ_INT(vf_req_verify(bad, VF_HASH_SHA256, key, sizeof(key)), -EPROTO);
}

static void
test_weak_hash(void)
{
    struct vf_req req;
    uint8_t pkt[VF_REQ_SIZE];

    memset(&req, 0, sizeof(req));
    req.request = VF_CMD_OFF;
    strcpy(req.domain, "vm");
    req.hashtype = VF_HASH_NONE;
    memset(req.random, 0xff, sizeof(req.random));
    VFT_EQ_INT(vf_req_sign(&req, key, sizeof(key), pkt), 0);
    /* unhashed: random and hash zero */
    for (int i = 98; i < VF_REQ_SIZE; i++) {
        if (i < 104 || i >= 112) {
            VFT_EQ_INT(pkt[i], 0);
        }
    }
    VFT_EQ_INT(vf_req_verify(pkt, VF_HASH_NONE, NULL, 0), 0);
    VFT_EQ_INT(vf_req_verify(pkt, VF_HASH_SHA1, key, sizeof(key)), -EPERM);
    VFT_EQ_INT(vf_req_verify(pkt, VF_HASH_SHA256, key, sizeof(key)), -EPERM);

    req.hashtype = VF_HASH_SHA1;
    VFT_EQ_INT(vf_req_sign(&req, key, sizeof(key), pkt), 0);
    VFT_EQ_INT(vf_req_verify(pkt, VF_HASH_SHA1, key, sizeof(key)), 0);
    VFT_EQ_INT(vf_req_verify(pkt, VF_HASH_SHA256, key, sizeof(key)), -EPERM);

    /* stronger than the minimum is accepted */
    req.hashtype = VF_HASH_SHA512;
    VFT_EQ_INT(vf_req_sign(&req, key, sizeof(key), pkt), 0);
    VFT_EQ_INT(vf_req_verify(pkt, VF_HASH_SHA256, key, sizeof(key)), 0);

    /* signing needs a key and a known algorithm */
    req.hashtype = VF_HASH_SHA256;
    VFT_EQ_INT(vf_req_sign(&req, NULL, 0, pkt), -ENOKEY);
    req.hashtype = 4;
    VFT_EQ_INT(vf_req_sign(&req, key, sizeof(key), pkt), -EINVAL);
}

static void
test_sign_roundtrip(void)
{
    static const enum vf_hash algs[] = { VF_HASH_SHA1, VF_HASH_SHA256,
                                         VF_HASH_SHA512 };
    uint8_t pkt[VF_REQ_SIZE], pkt2[VF_REQ_SIZE], d[VF_DIGEST_MAX];
    struct vf_req req;

    for (size_t a = 0; a < 3; a++) {
        memset(&req, 0, sizeof(req));
        req.request = VF_CMD_REBOOT;
        req.hashtype = (uint8_t)algs[a];
        strcpy(req.domain, "guest");
        req.seqno = 123456;
        VFT_EQ_INT(vf_req_sign(&req, key, sizeof(key), pkt), 0);
        VFT_EQ_INT(vf_req_verify(pkt, algs[a], key, sizeof(key)), 0);
        /* digest left-aligned, the rest zero */
        for (size_t i = vf_hash_len(algs[a]); i < VF_DIGEST_MAX; i++) {
            VFT_EQ_INT(pkt[112 + i], 0);
        }
        /* req->hash holds the digest; req re-encodes to the same bytes */
        VFT_EQ_INT(vf_req_encode(&req, pkt2), 0);
        VFT_CHECK(memcmp(pkt, pkt2, sizeof(pkt)) == 0);
        memset(pkt2 + 112, 0, 64);
        VFT_EQ_INT(vf_digest(algs[a], key, sizeof(key), pkt2, sizeof(pkt2),
                             d), 0);
        VFT_CHECK(memcmp(d, req.hash, 64) == 0);
    }
    /* two signatures of the same request differ (fresh random) */
    req.hashtype = VF_HASH_SHA256;
    VFT_EQ_INT(vf_req_sign(&req, key, sizeof(key), pkt), 0);
    VFT_EQ_INT(vf_req_sign(&req, key, sizeof(key), pkt2), 0);
    VFT_CHECK(memcmp(pkt + 98, pkt2 + 98, 6) != 0 ||
              memcmp(pkt + 112, pkt2 + 112, 64) != 0);
}

static void
test_digest_vectors(void)
{
    uint8_t data[64], d[VF_DIGEST_MAX], want[VF_DIGEST_MAX];

    memset(data, 0xaa, sizeof(data));

    memset(want, 0, sizeof(want));
    unhex("8a26daff3b44babc6fb4dfb42eb351d5b48450d1bbe8b48a6aec8aa18717d9d5",
          want, sizeof(want));
    VFT_EQ_INT(vf_digest(VF_HASH_SHA256, key, sizeof(key), data, 64, d), 0);
    VFT_CHECK(memcmp(d, want, 64) == 0);

    memset(want, 0, sizeof(want));
    unhex("508ab08c3749756ee0a4245896fcb853e81f8fac", want, sizeof(want));
    VFT_EQ_INT(vf_digest(VF_HASH_SHA1, key, sizeof(key), data, 64, d), 0);
    VFT_CHECK(memcmp(d, want, 64) == 0);

    unhex("dad226e8ddd2eaedf6039e2d90c2bf547fa0b54ca5c00408d9ea6beec44a3172"
          "05c793b1dc9e45d7ed5d1b3f09fee168fa065f15304a3c545fe3391da3013e81",
          want, sizeof(want));
    VFT_EQ_INT(vf_digest(VF_HASH_SHA512, key, sizeof(key), data, 64, d), 0);
    VFT_CHECK(memcmp(d, want, 64) == 0);

    VFT_EQ_INT(vf_digest(VF_HASH_NONE, key, sizeof(key), data, 64, d), -EINVAL);
    VFT_EQ_INT(vf_digest((enum vf_hash)4, key, sizeof(key), data, 64, d),
               -EINVAL);
    VFT_EQ_INT(vf_auth_init(), 0);
    VFT_EQ_INT(vf_auth_init(), 0);
}

static void
test_random(void)
{
    uint8_t a[64], b[64];

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    VFT_EQ_INT(vf_random(a, sizeof(a)), 0);
    VFT_EQ_INT(vf_random(b, sizeof(b)), 0);
    VFT_CHECK(memcmp(a, b, sizeof(a)) != 0);
    VFT_EQ_INT(vf_random(a, 0), 0);
}

/* respond to the fixed 0xAA*64 challenge in-thread: the answer is the
 * protocol.md challenge vector */
static void
test_respond_vector(void)
{
    uint8_t chal[64], ans[64], want[64];
    int sv[2];

    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    memset(chal, 0xaa, sizeof(chal));
    memset(want, 0, sizeof(want));
    unhex("8a26daff3b44babc6fb4dfb42eb351d5b48450d1bbe8b48a6aec8aa18717d9d5",
          want, sizeof(want));
    VFT_EQ_INT(vf_write_full(sv[1], chal, 64, vf_now_ms() + 1000), 0);
    VFT_EQ_INT(vf_auth_respond(sv[0], VF_HASH_SHA256, key, sizeof(key),
                               vf_now_ms() + 1000), 0);
    VFT_EQ_INT(vf_read_full(sv[1], ans, 64, vf_now_ms() + 1000), 0);
    VFT_CHECK(memcmp(ans, want, 64) == 0);
    vf_close(sv[0]);
    vf_close(sv[1]);
}

/* The I/O-free challenger half matches what a responder with the key sends. */
static void
test_challenge_new(void)
{
    uint8_t chal[VF_CHALLENGE_SIZE], expect[VF_DIGEST_MAX], ans[VF_DIGEST_MAX];
    uint8_t chal2[VF_CHALLENGE_SIZE], expect2[VF_DIGEST_MAX];
    int sv[2];

    VFT_EQ_INT(vf_auth_challenge_new(VF_HASH_SHA256, key, sizeof(key), chal, expect), 0);
    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    VFT_EQ_INT(vf_write_full(sv[1], chal, sizeof(chal), vf_now_ms() + 1000), 0);
    VFT_EQ_INT(vf_auth_respond(sv[0], VF_HASH_SHA256, key, sizeof(key),
                               vf_now_ms() + 1000), 0);
    VFT_EQ_INT(vf_read_full(sv[1], ans, sizeof(ans), vf_now_ms() + 1000), 0);
    VFT_CHECK(vf_auth_answer_ok(ans, expect));
    ans[63] ^= 1;       /* the padding counts too */
    VFT_CHECK(!vf_auth_answer_ok(ans, expect));
    vf_close(sv[0]);
    vf_close(sv[1]);
    /* fresh random bytes every time */
    VFT_EQ_INT(vf_auth_challenge_new(VF_HASH_SHA256, key, sizeof(key), chal2, expect2), 0);
    VFT_CHECK(memcmp(chal, chal2, sizeof(chal)) != 0);
    VFT_EQ_INT(vf_auth_challenge_new(VF_HASH_NONE, key, sizeof(key), chal, expect), -EINVAL);
    VFT_EQ_INT(vf_auth_challenge_new(VF_HASH_SHA256, NULL, 0, chal, expect), -ENOKEY);
}

struct peer {
    int fd;
    enum vf_hash alg;
    const uint8_t *key;
    size_t key_len;
    int silent;          /* do nothing, keep the socket open */
    int result;
};

static void *
peer_main(void *arg)
{
    struct peer *p = arg;

    if (p->silent) {
        p->result = 0;
        return NULL;
    }
    /* daemon order: respond first, then challenge */
    p->result = vf_auth_respond(p->fd, p->alg, p->key, p->key_len,
                                vf_now_ms() + 2000);
    if (p->result == 0) {
        p->result = vf_auth_challenge(p->fd, p->alg, p->key, p->key_len,
                                      vf_now_ms() + 2000);
    }
    return NULL;
}

/* client order: challenge, then respond; returns the client's result and
 * the peer's in *peer_result */
static int
handshake(enum vf_hash alg, const uint8_t *ckey, size_t ckey_len,
          const uint8_t *pkey, size_t pkey_len, int silent, int timeout_ms,
          int *peer_result)
{
    struct peer p;
    pthread_t th;
    int sv[2];
    int r;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return -errno;
    }
    memset(&p, 0, sizeof(p));
    p.fd = sv[1];
    p.alg = alg;
    p.key = pkey;
    p.key_len = pkey_len;
    p.silent = silent;
    if (pthread_create(&th, NULL, peer_main, &p) != 0) {
        vf_close(sv[0]);
        vf_close(sv[1]);
        return -EAGAIN;
    }
    r = vf_auth_challenge(sv[0], alg, ckey, ckey_len,
                          vf_now_ms() + timeout_ms);
    if (r == 0) {
        r = vf_auth_respond(sv[0], alg, ckey, ckey_len,
                            vf_now_ms() + timeout_ms);
    }
    /* closing our end unblocks a peer still waiting */
    vf_close(sv[0]);
    pthread_join(th, NULL);
    vf_close(sv[1]);
    *peer_result = p.result;
    return r;
}

static void
test_handshake(void)
{
    uint8_t other[32];
    int64_t t0;
    int pr = -1;

    memcpy(other, key, sizeof(other));
    other[31] ^= 1;

    VFT_EQ_INT(handshake(VF_HASH_SHA256, key, 32, key, 32, 0, 2000, &pr), 0);
    VFT_EQ_INT(pr, 0);
    VFT_EQ_INT(handshake(VF_HASH_SHA1, key, 32, key, 32, 0, 2000, &pr), 0);
    VFT_EQ_INT(pr, 0);
    VFT_EQ_INT(handshake(VF_HASH_SHA512, key, 32, key, 32, 0, 2000, &pr), 0);
    VFT_EQ_INT(pr, 0);

    /* wrong key: the client's challenge fails; the peer then sees EOF */
    VFT_EQ_INT(handshake(VF_HASH_SHA256, key, 32, other, 32, 0, 2000, &pr),
               -EACCES);
    VFT_EQ_INT(pr, -ECONNRESET);

    /* silent peer: -ETIMEDOUT within about the deadline */
    t0 = vf_now_ms();
    VFT_EQ_INT(handshake(VF_HASH_SHA256, key, 32, key, 32, 1, 200, &pr),
               -ETIMEDOUT);
    VFT_CHECK(vf_now_ms() - t0 >= 190);
    VFT_CHECK(vf_now_ms() - t0 < 1500);

    /* none: no I/O at all (the silent peer would otherwise time out) */
    t0 = vf_now_ms();
    VFT_EQ_INT(handshake(VF_HASH_NONE, NULL, 0, NULL, 0, 1, 5000, &pr), 0);
    VFT_CHECK(vf_now_ms() - t0 < 1000);

    /* hashed auth without a key */
    VFT_EQ_INT(vf_auth_challenge(-1, VF_HASH_SHA256, NULL, 0, 0), -ENOKEY);
    VFT_EQ_INT(vf_auth_respond(-1, VF_HASH_SHA256, NULL, 0, 0), -ENOKEY);
}

/* responder side: peer closes before sending the whole challenge */
static void
test_respond_eof(void)
{
    uint8_t half[32];
    int sv[2];

    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    memset(half, 1, sizeof(half));
    VFT_EQ_INT(vf_write_full(sv[1], half, sizeof(half), vf_now_ms() + 1000), 0);
    vf_close(sv[1]);
    VFT_EQ_INT(vf_auth_respond(sv[0], VF_HASH_SHA256, key, sizeof(key),
                               vf_now_ms() + 1000), -ECONNRESET);
    vf_close(sv[0]);
}

int
main(void)
{
    for (size_t i = 0; i < sizeof(key); i++) {
        key[i] = (uint8_t)i;
    }
    VFT_RUN(test_digest_vectors);
    VFT_RUN(test_vector_packet);
    VFT_RUN(test_tamper);
    VFT_RUN(test_weak_hash);
    VFT_RUN(test_sign_roundtrip);
    VFT_RUN(test_random);
    VFT_RUN(test_respond_vector);
    VFT_RUN(test_challenge_new);
    VFT_RUN(test_handshake);
    VFT_RUN(test_respond_eof);
    VFT_EXIT();
}
