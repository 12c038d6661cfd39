/*
 * vmfence - agents/xenapi/options.h: fence_xenapi's option table and values.
 */
#ifndef VF_XENAPI_OPTIONS_H
#define VF_XENAPI_OPTIONS_H

#include "fa-run.h"

struct vf_xenapi_opts {
    struct vf_fa_common c;      /* first: the framework's values */
    char *session_url;
    char *cacert;
    bool ssl_insecure;
};

/* the description the framework generates parsing, help, metadata from */
const struct vf_fa_agent *vf_xenapi_agent(void);
void vf_xenapi_opts_init(struct vf_xenapi_opts *o);
void vf_xenapi_opts_done(struct vf_xenapi_opts *o);

#endif
