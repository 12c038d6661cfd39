/*
 * vmfence - daemon/groups.h: the groups ACL (protocol.md 5.4), fail closed.
 *
 * groups { group { name = "x"; ip = "10.0.0.5"; uuid = "vm1"; uuid = "<uuid>"; } }
 * A requester (identity) is matched against each group's "ip" entries (an
 * IP address, a vsock CID) or, when the identity is a domain UUID (serial
 * listener), against its "uuid" entries.  A target is allowed when any
 * "uuid" entry of a group containing the requester equals the target's
 * resolved name (case-sensitively, as libvirt compares names) or its resolved
 * UUID (ignoring case); only when the target could not be resolved is the
 * literal target string compared instead (same rules).  Unlike fence-virt's
 * strcasecmp, a group naming "web1" never grants a domain called "WEB1".
 * No groups configured = everything allowed.
 */
#ifndef VF_GROUPS_H
#define VF_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include "conftree.h"

struct vf_groups;

/*
 * Build the ACL from @conf.  A group with neither "ip" nor "uuid" entries, or
 * a second top-level "groups" block, is an error: returns -EINVAL with
 * "FILE:LINE: ..." in @err (never silently dropped).  Success with zero
 * groups gives an ACL that allows everything.
 */
int vf_groups_load(const struct vf_conf *conf, struct vf_groups **ret_groups,
                   char *err, size_t err_len);
struct vf_groups *vf_groups_free(struct vf_groups *g);

/* true when at least one group exists (the ACL is active) */
bool vf_groups_active(const struct vf_groups *g);
unsigned int vf_groups_count(const struct vf_groups *g);

/*
 * May @identity act on a target?  @literal is the string the client sent;
 * @name / @uuid the resolved domain (either may be NULL when unknown).
 */
bool vf_groups_allowed(const struct vf_groups *g, const char *identity,
                       const char *literal, const char *name, const char *uuid);

/* true if @s is a canonical text UUID (8-4-4-4-12 hex digits) */
bool vf_is_uuid(const char *s);

#endif
