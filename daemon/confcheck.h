/*
 * vmfence - daemon/confcheck.h: validation of a parsed fence_virt.conf
 * against the known sections and keys: the fence_virtd block and the groups
 * (confcheck.c), and each listeners/<name> and backends/<name> block against
 * the settings schema of the registered plugin of that name (plugin.h), so
 * the registry must be initialised first (vf_registry_init).
 */
#ifndef VF_CONFCHECK_H
#define VF_CONFCHECK_H

#include <stdio.h>
#include "conftree.h"

/*
 * Check @conf: unknown sections/keys => warning naming FILE:LINE and the
 * key; out-of-range numbers (port = "70000"), unknown enum values (hash,
 * auth, family, mode, name_mode), missing listener/backend, interfaces that
 * do not exist, malformed groups (a group with no ip and no uuid entries, or
 * with values that are neither) => error naming FILE:LINE.
 * Settings that weaken fencing security => warning naming the reason and
 * the fix: the multicast listener and a tcp/vsock listener with the same
 * key (same file after realpath(), or the same bytes when both can be read),
 * groups while an enabled listener has auth "none", hash "none" on an
 * enabled listener (serial, which has no key, is left out).
 * Every message is one line written to @diag ("FILE:LINE: error: ..." /
 * "FILE:LINE: warning: ...").  Returns the number of errors (0 = usable).
 */
int vf_conf_check(const struct vf_conf *conf, FILE *diag);

#endif
