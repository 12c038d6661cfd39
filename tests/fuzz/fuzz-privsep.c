// VF_FUZZ_SOURCES: daemon/privsep/msg.c
// VF_FUZZ_PKGS:
/*
 * vmfence - tests/fuzz/fuzz-privsep.c: libFuzzer target for the decoders of
 * the privsep messages (daemon/privsep/msg.c) that the privileged executor
 * reads from the unprivileged network process (and back).
 *
 * Every input is decoded as a request, as an answer and as a guest-channel
 * message (the serial listener's sockets, privsep/guestpair.h: the
 * privileged side decodes SYNC from the network process); a successful
 * decode must re-encode to exactly the input bytes (the format has no
 * slack: padding must be zero), so the executor can only act on what a
 * well-formed message says.  Built and run by tests/fuzz/run-fuzz.sh;
 * seeds in tests/fuzz/corpus/privsep/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "privsep/msg.h"

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vf_ps_req rq;
    struct vf_ps_ans an;
    struct vf_ps_guest gm;
    uint8_t out[VF_PS_REQ_SIZE + VF_PS_ANS_SIZE + VF_PS_GUEST_SIZE];

    if (vf_ps_req_decode(data, size, &rq) == 0) {
        if (size != VF_PS_REQ_SIZE || vf_ps_req_encode(&rq, out, VF_PS_REQ_SIZE) != 0 ||
            memcmp(out, data, size) != 0 || rq.timeout_ms == 0 || rq.sent_ms <= 0 ||
            rq.timeout_ms > VF_PS_MAX_TIMEOUT_MS || strlen(rq.target) > VF_PS_TARGET_MAX) {
            abort();
        }
    }
    if (vf_ps_ans_decode(data, size, &an) == 0) {
        if (size != VF_PS_ANS_SIZE || vf_ps_ans_encode(&an, out, VF_PS_ANS_SIZE) != 0 ||
            memcmp(out, data, size) != 0 || an.result > 0) {
            abort();
        }
    }
    if (vf_ps_guest_decode(data, size, &gm) == 0) {
        if (size != VF_PS_GUEST_SIZE || vf_ps_guest_encode(&gm, out, VF_PS_GUEST_SIZE) != 0 ||
            memcmp(out, data, size) != 0 || gm.kind < VF_PS_G_GUEST || gm.kind >= VF_PS_G_MAX_ ||
            (gm.kind == VF_PS_G_GUEST && (strlen(gm.uuid) != VF_PS_UUID_LEN ||
                                          gm.path[0] != '/')) ||
            strlen(gm.name) > VF_PS_GNAME_MAX || strlen(gm.path) > VF_PS_GPATH_MAX) {
            abort();
        }
    }
    return 0;
}
