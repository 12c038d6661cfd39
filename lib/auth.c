/*
 * vmfence - lib/auth.c: request signing/verification and the 64-byte
 * challenge/response handshake (protocol.md 2.3, 2.4), and vf_digest()
 * around the hashing of digest-nss.c (or agents/agent-digest.c in the
 * agents: see digest.h).
 *
 * The digest is fence-virt's prefix-key construction SHAx(key || data),
 * left-aligned in a 64-byte field that is otherwise zero.  Comparisons
 * always cover all 64 bytes and run in constant time.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

#include "auth.h"
#include "digest.h"
#include "io.h"

/**
 * \brief out = SHAx(key || data), zero padded to VF_DIGEST_MAX bytes;
 *        written on success only.  Initialises the hashing library once
 *        (vf_auth_init) and hashes with vf__digest_hash().
 * \return 0; -EINVAL for VF_HASH_NONE or an unknown algorithm, lengths
 *         beyond unsigned int, or NULL with a length; -EIO if the hashing
 *         library fails
 */
int
vf_digest(enum vf_hash alg, const uint8_t *key, size_t key_len,
          const uint8_t *data, size_t len, uint8_t out[VF_DIGEST_MAX])
{
    static const HASH_HashType types[] = {
        [VF_HASH_SHA1] = HASH_AlgSHA1,
        [VF_HASH_SHA256] = HASH_AlgSHA256,
        [VF_HASH_SHA512] = HASH_AlgSHA512,
    };
    const struct vf_digest_job job = {
        .alg = alg, .key = key, .key_len = key_len, .data = data, .len = len,
        .type = alg > VF_HASH_NONE && (size_t)alg < sizeof(types) / sizeof(types[0])
                    ? types[alg] : HASH_AlgNULL,
    };
    uint8_t digest[VF_DIGEST_MAX];
    unsigned int dlen = 0;
    int r;

    if (job.type == HASH_AlgNULL || key_len > UINT_MAX || len > UINT_MAX ||
        (key == NULL && key_len > 0) || (data == NULL && len > 0)) {
        return -EINVAL;
    }
    r = vf_auth_init();
    if (r < 0) {
        return r;
    }
    r = vf__digest_hash(&job, digest, &dlen);
    if (r < 0) {
        return r;
    }
    if (dlen != vf_hash_len(alg)) {
        return -EIO;
    }
    memset(out, 0, VF_DIGEST_MAX);
    memcpy(out, digest, dlen);
    return 0;
}

/** \brief Fill @buf with @len bytes from getrandom(). \return 0 or -errno */
int
vf_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t done = 0;

    while (done < len) {
        ssize_t n = getrandom(p + done, len - done, 0);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        done += (size_t)n;
    }
    return 0;
}

/* constant-time comparison of two 64-byte digests: true if equal */
static bool
digest_equal(const uint8_t a[VF_DIGEST_MAX], const uint8_t b[VF_DIGEST_MAX])
{
    volatile uint8_t diff = 0;
    size_t i;

    for (i = 0; i < VF_DIGEST_MAX; i++) {
        diff |= (uint8_t)(a[i] ^ b[i]);
    }
    return diff == 0;
}

/**
 * \brief Sign @req in place and write its wire bytes to @out.
 * \param[in,out] req  random and hash are (re)computed
 * \return 0; -EINVAL for hashtype > 3; -ENOKEY if hashed without a key;
 *         -ENAMETOOLONG from the encoder
 */
int
vf_req_sign(struct vf_req *req, const uint8_t *key, size_t key_len,
            uint8_t out[VF_REQ_SIZE])
{
    uint8_t buf[VF_REQ_SIZE];
    uint8_t digest[VF_DIGEST_MAX];
    int r;

    if (req->hashtype > VF_HASH_SHA512) {
        return -EINVAL;
    }
    memset(req->hash, 0, sizeof(req->hash));
    if (req->hashtype == VF_HASH_NONE) {
        memset(req->random, 0, sizeof(req->random));
        return vf_req_encode(req, out);
    }
    if (key == NULL) {
        return -ENOKEY;
    }
    r = vf_random(req->random, sizeof(req->random));
    if (r < 0) {
        return r;
    }
    r = vf_req_encode(req, buf);
    if (r < 0) {
        return r;
    }
    r = vf_digest((enum vf_hash)req->hashtype, key, key_len, buf, sizeof(buf),
                  digest);
    if (r < 0) {
        return r;
    }
    memcpy(req->hash, digest, sizeof(digest));
    memcpy(buf + VF_REQ_SIZE - VF_DIGEST_MAX, digest, sizeof(digest));
    memcpy(out, buf, sizeof(buf));
    return 0;
}

/**
 * \brief Verify the signature of a received request.
 * \return 0; -EPROTO (hashtype > 3); -EPERM (weaker than @min);
 *         -ENOKEY (hashed but @key NULL); -EBADMSG (digest mismatch)
 */
int
vf_req_verify(const uint8_t buf[VF_REQ_SIZE], enum vf_hash min,
              const uint8_t *key, size_t key_len)
{
    uint8_t copy[VF_REQ_SIZE];
    uint8_t digest[VF_DIGEST_MAX];
    uint8_t hashtype = buf[1];
    int r;

    if (hashtype > VF_HASH_SHA512) {
        return -EPROTO;
    }
    if (hashtype < (unsigned int)min) {
        return -EPERM;
    }
    if (hashtype == VF_HASH_NONE) {
        return 0;
    }
    if (key == NULL) {
        return -ENOKEY;
    }
    memcpy(copy, buf, sizeof(copy));
    memset(copy + VF_REQ_SIZE - VF_DIGEST_MAX, 0, VF_DIGEST_MAX);
    r = vf_digest((enum vf_hash)hashtype, key, key_len, copy, sizeof(copy),
                  digest);
    if (r < 0) {
        return r;
    }
    return digest_equal(digest, buf + VF_REQ_SIZE - VF_DIGEST_MAX) ? 0
                                                                    : -EBADMSG;
}

/*
 * Common precondition of both handshake halves: 0 when there is nothing to
 * do (VF_HASH_NONE), 1 when the handshake must run, -EINVAL for an unknown
 * algorithm, -ENOKEY without a key.
 */
static int
handshake_check(enum vf_hash alg, const uint8_t *key)
{
    if (alg == VF_HASH_NONE) {
        return 0;
    }
    if (vf_hash_len(alg) == 0) {
        return -EINVAL;
    }
    if (key == NULL) {
        return -ENOKEY;
    }
    return 1;
}

/**
 * \brief Challenge the peer: send 64 random bytes, read the 64-byte answer
 *        and compare it with SHAx(key || challenge).
 * \return 0; -ETIMEDOUT; -ECONNRESET; -EACCES (wrong answer); -ENOKEY
 */
int
vf_auth_challenge(int fd, enum vf_hash alg, const uint8_t *key,
                  size_t key_len, int64_t deadline_ms)
{
    uint8_t challenge[VF_CHALLENGE_SIZE];
    uint8_t answer[VF_DIGEST_MAX];
    uint8_t expect[VF_DIGEST_MAX];
    int r;

    if (alg == VF_HASH_NONE) {
        return 0;
    }
    r = vf_auth_challenge_new(alg, key, key_len, challenge, expect);
    if (r < 0) {
        return r;
    }
    r = vf_write_full(fd, challenge, sizeof(challenge), deadline_ms);
    if (r < 0) {
        return r;
    }
    r = vf_read_full(fd, answer, sizeof(answer), deadline_ms);
    if (r < 0) {
        return r;
    }
    return digest_equal(answer, expect) ? 0 : -EACCES;
}

/**
 * \brief Answer the peer's challenge: read 64 bytes, send the digest.
 * \return 0; -ETIMEDOUT; -ECONNRESET; -ENOKEY
 */
int
vf_auth_respond(int fd, enum vf_hash alg, const uint8_t *key, size_t key_len,
                int64_t deadline_ms)
{
    uint8_t challenge[VF_CHALLENGE_SIZE];
    uint8_t answer[VF_DIGEST_MAX];
    int r;

    r = handshake_check(alg, key);
    if (r <= 0) {
        return r;
    }
    r = vf_read_full(fd, challenge, sizeof(challenge), deadline_ms);
    if (r < 0) {
        return r;
    }
    r = vf_digest(alg, key, key_len, challenge, sizeof(challenge), answer);
    if (r < 0) {
        return r;
    }
    return vf_write_full(fd, answer, sizeof(answer), deadline_ms);
}

/**
 * \brief Prepare one challenge without any I/O, for callers that run the
 *        handshake on non-blocking sockets themselves (the multicast
 *        call-back challenges several peers at once): 64 random bytes and
 *        the answer a peer holding the key must send back.
 * \param[out] challenge  the 64 bytes to send
 * \param[out] expect     SHAx(key || challenge), zero padded to 64 bytes
 * \return 0; -EINVAL for VF_HASH_NONE (there is no challenge) or an unknown
 *         algorithm; -ENOKEY without a key; -EIO or -errno from NSS or
 *         getrandom()
 */
int
vf_auth_challenge_new(enum vf_hash alg, const uint8_t *key, size_t key_len,
                      uint8_t challenge[VF_CHALLENGE_SIZE],
                      uint8_t expect[VF_DIGEST_MAX])
{
    uint8_t c[VF_CHALLENGE_SIZE];
    uint8_t e[VF_DIGEST_MAX];
    int r;

    r = handshake_check(alg, key);
    if (r == 0) {
        return -EINVAL;
    }
    if (r < 0) {
        return r;
    }
    r = vf_random(c, sizeof(c));
    if (r < 0) {
        return r;
    }
    r = vf_digest(alg, key, key_len, c, sizeof(c), e);
    if (r < 0) {
        return r;
    }
    memcpy(challenge, c, sizeof(c));
    memcpy(expect, e, sizeof(e));
    return 0;
}

/**
 * \brief Check a 64-byte answer against the expected one from
 *        vf_auth_challenge_new(); all 64 bytes, in constant time.
 * \return true if they are equal
 */
bool
vf_auth_answer_ok(const uint8_t answer[VF_DIGEST_MAX],
                  const uint8_t expect[VF_DIGEST_MAX])
{
    return digest_equal(answer, expect);
}
