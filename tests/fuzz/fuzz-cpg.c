// VF_FUZZ_SOURCES: daemon/backends/cpg-wire.c
// VF_FUZZ_PKGS:
/*
 * vmfence - tests/fuzz/fuzz-cpg.c: libFuzzer target for the cpg backend's
 * inter-daemon message decoder (daemon/backends/cpg-wire.c).
 *
 * Every input is decoded; a successful decode must re-encode to exactly the
 * input bytes (the format has no slack except the two reserved u16 fields,
 * which the encoder writes as 0, so the comparison masks them), and the
 * re-encoded bytes must decode to the same values.  Built and run by
 * tests/fuzz/run-fuzz.sh; seeds in tests/fuzz/corpus/cpg/.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpg-wire.h"

#include "fuzz.h"

/* Input with the reserved fields zeroed, as the encoder writes them. */
static int
canonical_equal(const uint8_t *in, size_t size, const uint8_t *enc, size_t enc_len, uint8_t type)
{
    size_t i;

    if (size != enc_len) {
        return 0;
    }
    for (i = 0; i < size; i++) {
        uint8_t want = in[i];

        if (i == 6 || i == 7) {
            want = 0;                           /* header reserved */
        } else if (type == VF_CPGW_STATE && (i == 18 || i == 19)) {
            want = 0;                           /* STATE flags */
        } else if (type == VF_CPGW_REPLY && (i == 34 || i == 35)) {
            want = 0;                           /* REPLY reserved */
        }
        if (want != enc[i]) {
            return 0;
        }
    }
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vf_cpgw_msg m, m2;
    uint8_t *enc;
    size_t len = 0, i;
    int r;

    memset(&m, 0, sizeof(m));
    r = vf_cpgw_decode(data, size, &m);
    if (r < 0) {
        FUZZ_ASSERT(r == -EBADMSG || r == -EPROTO || r == -EPROTONOSUPPORT || r == -ENOMEM);
        return 0;
    }
    enc = malloc(size > 0 ? size : 1);
    FUZZ_ASSERT(enc != NULL);
    switch (m.type) {
    case VF_CPGW_STATE:
        r = vf_cpgw_encode_state(m.generation, m.doms, m.n_doms, enc, size, &len);
        break;
    case VF_CPGW_REQUEST:
        r = vf_cpgw_encode_request(&m.req, enc, size, &len);
        break;
    case VF_CPGW_REPLY:
        r = vf_cpgw_encode_reply(&m.rep, enc, size, &len);
        break;
    default:
        FUZZ_ASSERT(!"decoder returned an unknown type");
    }
    FUZZ_ASSERT(r == 0);
    FUZZ_ASSERT(canonical_equal(data, size, enc, len, m.type));
    memset(&m2, 0, sizeof(m2));
    FUZZ_ASSERT(vf_cpgw_decode(enc, len, &m2) == 0);
    FUZZ_ASSERT(m2.type == m.type && m2.n_doms == m.n_doms);
    for (i = 0; i < m.n_doms; i++) {
        FUZZ_ASSERT(strcmp(m.doms[i].name, m2.doms[i].name) == 0);
        FUZZ_ASSERT(strcmp(m.doms[i].uuid, m2.doms[i].uuid) == 0);
        FUZZ_ASSERT(m.doms[i].state == m2.doms[i].state);
        FUZZ_ASSERT(m.doms[i].persistent == m2.doms[i].persistent);
    }
    if (m.type == VF_CPGW_REQUEST) {
        FUZZ_ASSERT(strcmp(m.req.target, m2.req.target) == 0 && m.req.id == m2.req.id);
    }
    if (m.type == VF_CPGW_REPLY) {
        FUZZ_ASSERT(m.rep.result == m2.rep.result && m.rep.id == m2.rep.id);
    }
    vf_cpgw_msg_done(&m2);
    vf_cpgw_msg_done(&m);
    free(enc);
    return 0;
}
