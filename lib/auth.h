/*
 * vmfence - lib/auth.h: request signing and challenge/response (NSS).
 *
 * Digest = SHAx(key || data), zero padded to 64 bytes (fence-virt's
 * prefix-key construction, wire facts in protocol.md 2.3/2.4).
 */
#ifndef VF_AUTH_H
#define VF_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wire.h"

/* Initialise NSS once (thread-safe, idempotent). */
int vf_auth_init(void);

/* out = SHAx(key || data) zero padded to VF_DIGEST_MAX.  -EINVAL for
 * VF_HASH_NONE or unknown algorithms. */
int vf_digest(enum vf_hash alg, const uint8_t *key, size_t key_len,
              const uint8_t *data, size_t len, uint8_t out[VF_DIGEST_MAX]);

/* Fill @buf with cryptographically random bytes (getrandom). */
int vf_random(void *buf, size_t len);

/*
 * Sign a request in place: if hashtype != none fill random, then encode with
 * the hash zeroed, digest key||bytes and store it in req->hash; the signed
 * wire bytes are written to @out.  With hashtype none the random field and
 * hash are zeroed.
 */
int vf_req_sign(struct vf_req *req, const uint8_t *key, size_t key_len,
                uint8_t out[VF_REQ_SIZE]);

/*
 * Verify signed wire bytes against a minimum algorithm.
 *   -EPROTO      hashtype > 3
 *   -EPERM       hashtype weaker than @min ("hash not strong enough")
 *   -ENOKEY      hashed request but no key loaded (@key == NULL)
 *   -EBADMSG     digest mismatch (all 64 bytes compared, constant time)
 */
int vf_req_verify(const uint8_t buf[VF_REQ_SIZE], enum vf_hash min,
                  const uint8_t *key, size_t key_len);

/*
 * Challenge/response over a connected stream fd, each bounded by the
 * absolute monotonic deadline @deadline_ms (see io.h vf_now_ms()).
 * vf_auth_challenge: send 64 random bytes, read 64, compare.
 * vf_auth_respond:   read 64 bytes, send the 64-byte digest.
 * VF_HASH_NONE: both return 0 without I/O.
 * Errors: -ETIMEDOUT, -ECONNRESET (peer closed), -EACCES (wrong answer).
 */
int vf_auth_challenge(int fd, enum vf_hash alg, const uint8_t *key,
                      size_t key_len, int64_t deadline_ms);
int vf_auth_respond(int fd, enum vf_hash alg, const uint8_t *key,
                    size_t key_len, int64_t deadline_ms);

/*
 * The challenger's half without I/O, for callers that drive several
 * non-blocking handshakes at once (fence_xvm's call-back listener).
 * vf_auth_challenge_new: 64 random bytes to send in @challenge and the
 *   answer a peer with the key must return in @expect.  -EINVAL for
 *   VF_HASH_NONE (no challenge) or unknown algorithms, -ENOKEY without a key.
 * vf_auth_answer_ok: compare all 64 bytes of @answer with @expect in
 *   constant time.
 */
int vf_auth_challenge_new(enum vf_hash alg, const uint8_t *key, size_t key_len,
                          uint8_t challenge[VF_CHALLENGE_SIZE],
                          uint8_t expect[VF_DIGEST_MAX]);
bool vf_auth_answer_ok(const uint8_t answer[VF_DIGEST_MAX],
                       const uint8_t expect[VF_DIGEST_MAX]);

#endif
