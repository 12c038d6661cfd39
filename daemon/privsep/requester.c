/*
 * vmfence - daemon/privsep/requester.c: the requester on whose behalf the
 * calling thread calls backend ops (privsep.h).  The request path
 * (request.c) sets it for the whole of a request; the proxy sends it with
 * every call, for the executor's groups re-check.  Alone in its file so
 * that everything linking request.c links it without the proxy.
 */
#include <stdio.h>

#include "privsep/msg.h"
#include "privsep/privsep.h"

static __thread char cur_requester[VF_PS_IDENTITY_MAX + 1];

void
vf_ps_set_requester(const char *identity)
{
    snprintf(cur_requester, sizeof(cur_requester), "%s", identity != NULL ? identity : "");
}

const char *
vf_ps_requester(void)
{
    return cur_requester;
}
