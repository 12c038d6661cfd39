// VF_FUZZ_SOURCES: agents/xenapi/xmlrpc.c
// VF_FUZZ_PKGS: libxml-2.0
/*
 * vmfence - tests/fuzz/fuzz-xmlrpc.c: libFuzzer target for fence_xenapi's
 * XML-RPC response decoder (agents/xenapi/xmlrpc.c), the code that reads
 * whatever a XAPI host (or anything claiming to be one) sends back.
 *
 * Every input is decoded; on success the tree is walked (every member,
 * every item, every string read) and freed, checking that a decoded value
 * has a consistent shape.  Seeds: tests/fuzz/corpus/xmlrpc/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agents/xenapi/xmlrpc.h"   /* not on run-fuzz.sh's -I path */

#include "fuzz.h"

static size_t
walk(const struct vf_xr_value *v, unsigned int depth)
{
    size_t n = 1;

    if (depth > VF_XR_MAX_DEPTH + 1) {
        abort();               /* the decoder let a deeper tree through */
    }
    switch (v->type) {
    case VF_XR_STRING:
    case VF_XR_DATETIME:
    case VF_XR_BASE64:
        if (v->s == NULL) {
            abort();
        }
        n += strlen(v->s);
        break;
    case VF_XR_ARRAY:
    case VF_XR_STRUCT:
        for (size_t i = 0; i < v->n; i++) {
            if (v->type == VF_XR_STRUCT && v->names[i] == NULL) {
                abort();
            }
            n += walk(v->items[i], depth + 1);
        }
        break;
    default:
        break;
    }
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vf_xr_value *v = NULL;
    char err[256];

    if (vf_xr_decode_response((const char *)data, size, &v, err, sizeof(err)) == 0) {
        (void)walk(v, 1);
        (void)vf_xr_member_str(v, "Status");
        (void)vf_xr_member(v, "ErrorDescription");
    } else if (v != NULL || memchr(err, '\0', sizeof(err)) == NULL) {
        abort();               /* failure must leave no value and a terminated message */
    }
    vf_xr_free(v);
    return 0;
}
