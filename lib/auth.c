/*
 * vmfence - lib/auth.c: request signing/verification and the 64-byte
 * challenge/response handshake (protocol.md 2.3, 2.4), hashing with NSS.
 *
 * The digest is fence-virt's prefix-key construction SHAx(key || data),
 * left-aligned in a 64-byte field that is otherwise zero.  Comparisons
 * always cover all 64 bytes and run in constant time.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

#include <nss.h>
#include <sechash.h>

#include "auth.h"
#include "io.h"

static pthread_once_t nss_once = PTHREAD_ONCE_INIT;
static int nss_init_result = -EIO;

static void
nss_init_once(void)
{
    nss_init_result = NSS_NoDB_Init(NULL) == SECSuccess ? 0 : -EIO;
}

/** \brief Initialise NSS once (thread-safe). \return 0 or -EIO */
int
vf_auth_init(void)
{
    pthread_once(&nss_once, nss_init_once);
    return nss_init_result;
}

static int
nss_alg(enum vf_hash alg, HASH_HashType *ret_type)
{
    switch (alg) {
    case VF_HASH_SHA1:
        *ret_type = HASH_AlgSHA1;
        return 0;
    case VF_HASH_SHA256:
        *ret_type = HASH_AlgSHA256;
        return 0;
    case VF_HASH_SHA512:
        *ret_type = HASH_AlgSHA512;
        return 0;
    default:
        return -EINVAL;
    }
}

/*
 * Prepared key states.  Every digest of the protocol is SHAx(key || data)
 * with a 4 KiB key and at most 176 bytes of data: hashing the key is about
 * 95 % of the work, and the daemon hashes the same key three times per
 * request.  So the state after absorbing a key is kept (a few keys per
 * process: one per listener and algorithm) and cloned for each digest.
 * An entry is found by comparing the whole key (a reloaded key at the same
 * address is a new entry); a copy of the key is kept for that comparison
 * and wiped on eviction.  One mutex: the section is a memcmp and a clone.
 */
#define PREP_SLOTS 8

struct prep {
    HASHContext *ctx;           /* NULL: free slot */
    enum vf_hash alg;
    size_t key_len;
    uint64_t last_use;
    uint8_t key[VF_MAX_KEY_LEN];
};

static pthread_mutex_t prep_mu = PTHREAD_MUTEX_INITIALIZER;
static struct prep prep_slots[PREP_SLOTS];
static uint64_t prep_clock;

/* Slot of (@alg, @key) (prep_mu held), or NULL. */
static struct prep *
prep_find_locked(enum vf_hash alg, const uint8_t *key, size_t key_len)
{
    for (size_t i = 0; i < PREP_SLOTS; i++) {
        struct prep *p = &prep_slots[i];

        if (p->ctx != NULL && p->alg == alg && p->key_len == key_len &&
            memcmp(p->key, key, key_len) == 0) {
            return p;
        }
    }
    return NULL;
}

/* Remember @ctx (a state that absorbed @key) for (@alg, @key), evicting the
 * least recently used entry (prep_mu held).  Takes ownership of @ctx. */
static void
prep_store_locked(enum vf_hash alg, const uint8_t *key, size_t key_len, HASHContext *ctx)
{
    struct prep *victim = &prep_slots[0];

    for (size_t i = 0; i < PREP_SLOTS; i++) {
        if (prep_slots[i].ctx == NULL) {
            victim = &prep_slots[i];
            break;
        }
        if (prep_slots[i].last_use < victim->last_use) {
            victim = &prep_slots[i];
        }
    }
    if (victim->ctx != NULL) {
        HASH_Destroy(victim->ctx);
        explicit_bzero(victim->key, sizeof(victim->key));
    }
    victim->ctx = ctx;
    victim->alg = alg;
    victim->key_len = key_len;
    victim->last_use = ++prep_clock;
    memcpy(victim->key, key, key_len);
}

/*
 * A fresh context that has absorbed @key: a clone of the prepared state,
 * which is made on first use.  Keys longer than VF_MAX_KEY_LEN are hashed
 * each time (never the case for key files, which the loader caps).
 * \return the context (caller destroys it) or NULL (NSS out of memory)
 */
static HASHContext *
keyed_context(enum vf_hash alg, HASH_HashType type, const uint8_t *key, size_t key_len)
{
    HASHContext *ctx = NULL;
    HASHContext *prepared = NULL;
    struct prep *p = NULL;

    if (key_len > 0 && key_len <= VF_MAX_KEY_LEN) {
        pthread_mutex_lock(&prep_mu);
        p = prep_find_locked(alg, key, key_len);
        if (p != NULL) {
            p->last_use = ++prep_clock;
            ctx = HASH_Clone(p->ctx);
        }
        pthread_mutex_unlock(&prep_mu);
        if (p != NULL) {
            return ctx;
        }
    }
    ctx = HASH_Create(type);
    if (ctx == NULL) {
        return NULL;
    }
    HASH_Begin(ctx);
    if (key_len > 0) {
        HASH_Update(ctx, key, (unsigned int)key_len);
    }
    if (key_len == 0 || key_len > VF_MAX_KEY_LEN) {
        return ctx;
    }
    prepared = HASH_Clone(ctx);
    if (prepared != NULL) {
        pthread_mutex_lock(&prep_mu);
        if (prep_find_locked(alg, key, key_len) == NULL) {
            prep_store_locked(alg, key, key_len, prepared);
            prepared = NULL;
        }
        pthread_mutex_unlock(&prep_mu);
        if (prepared != NULL) {
            HASH_Destroy(prepared);     /* another thread stored it first */
        }
    }
    return ctx;
}

/**
 * \brief out = SHAx(key || data), zero padded to VF_DIGEST_MAX bytes.
 *        The key's part of the hash is computed once per key and process
 *        (see "Prepared key states").
 * \return 0; -EINVAL for VF_HASH_NONE/unknown algorithms or oversized
 *         input; -EIO if NSS fails
 */
int
vf_digest(enum vf_hash alg, const uint8_t *key, size_t key_len,
          const uint8_t *data, size_t len, uint8_t out[VF_DIGEST_MAX])
{
    uint8_t digest[VF_DIGEST_MAX];
    HASH_HashType type = HASH_AlgNULL;
    HASHContext *ctx = NULL;
    unsigned int dlen = 0;
    int r;

    r = nss_alg(alg, &type);
    if (r < 0) {
        return r;
    }
    if (key_len > UINT_MAX || len > UINT_MAX ||
        (key == NULL && key_len > 0) || (data == NULL && len > 0)) {
        return -EINVAL;
    }
    r = vf_auth_init();
    if (r < 0) {
        return r;
    }
    ctx = keyed_context(alg, type, key, key_len);
    if (ctx == NULL) {
        return -EIO;
    }
    memset(digest, 0, sizeof(digest));
    if (len > 0) {
        HASH_Update(ctx, data, (unsigned int)len);
    }
    HASH_End(ctx, digest, &dlen, sizeof(digest));
    HASH_Destroy(ctx);
    if (dlen != vf_hash_len(alg)) {
        return -EIO;
    }
    memcpy(out, digest, VF_DIGEST_MAX);
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

    r = handshake_check(alg, key);
    if (r <= 0) {
        return r;
    }
    r = vf_random(challenge, sizeof(challenge));
    if (r < 0) {
        return r;
    }
    r = vf_digest(alg, key, key_len, challenge, sizeof(challenge), expect);
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
