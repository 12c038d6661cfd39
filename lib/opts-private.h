/*
 * vmfence - lib/opts-private.h: shared between lib/opts.c (the fence_xvm /
 * fence_virt option semantics) and lib/opts-table.c (their option table and
 * texts).  Not for agents: they use opts.h.
 */
#ifndef VF_OPTS_PRIVATE_H
#define VF_OPTS_PRIVATE_H

#include "opts.h"

#define AGENT_XVM   (1u << VF_AGENT_XVM)
#define AGENT_VIRT  (1u << VF_AGENT_VIRT)
#define AGENT_BOTH  (AGENT_XVM | AGENT_VIRT)

/* option ids: index into vf__opt_table[] */
enum opt_id {
    OPT_DEBUG,
    OPT_IP_FAMILY,
    OPT_MCAST_ADDR,
    OPT_IPPORT,
    OPT_RETRANS,
    OPT_AUTH,
    OPT_HASH,
    OPT_KEY_FILE,
    OPT_PLUG,
    OPT_PORT,
    OPT_USE_UUID,
    OPT_ACTION,
    OPT_TIMEOUT,
    OPT_DELAY,
    OPT_SERIAL_DEVICE,
    OPT_SERIAL_PARAMS,
    OPT_CHANNEL_ADDR,
    OPT_IPADDR,
    OPT_VSOCK,
    OPT_DOMAIN,
    OPT_INTERFACE,
    OPT_CALLBACK_PORT,
    OPT_DIAGNOSE,
    OPT__MAX,
};

/* the lowest vsock CID (2, the host): -S<cid> below it is refused */
#define VF__VSOCK_CID_MIN 2u

/* per-parse target bookkeeping: one value per target key, merged at the end */
struct vf__target_state {
    char *val[3];              /* plug, port, domain */
};

/*
 * opts-values.c: apply @val to option @id (enum opt_id): check it and set
 * the field of @args (targets go to @ts).  On a bad value, a message
 * naming the option (@name: "-p" or "'ipport'") goes to @msg.
 * \return 0 or -EINVAL
 */
int vf__opts_apply(struct vf_args *args, int id, const char *val, enum vf_fa_src src,
                   struct vf__target_state *ts, const char *name, char *msg,
                   size_t msg_len);

/* AF_INET / AF_INET6 of a literal address (*ret_multicast: a group?), or -EINVAL */
int vf__addr_family(const char *s, bool *ret_multicast);

extern const struct vf_opt vf__opt_table[OPT__MAX];
extern const struct vf_opt *const vf__meta_xvm[];
extern const struct vf_opt *const vf__meta_virt[];
extern const struct vf_fa_key vf__extra_keys[];
extern const struct vf_fa_action vf__actions[];
extern const char vf__longdesc_xvm[];
extern const char vf__longdesc_virt[];

#endif
