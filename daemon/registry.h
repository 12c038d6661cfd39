/*
 * vmfence - daemon/registry.h: the plugin registry (daemon/plugin.c).
 *
 * Owns the table of plugins fence_virtd knows, and the host API each
 * backend plugin gets (plugin.h).  Built-in plugins (linked into
 * fence_virtd, listed in one array in plugin.c) are registered first; then
 * every regular file ending in ".so" in the module path that exports a
 * "vf_plugin" symbol with the right ABI is added.  Built-ins win on a name
 * clash.  Other shared objects (e.g. fence-virt's own modules, which an
 * existing module_path may still point at) are skipped with a debug message.
 */
#ifndef VF_REGISTRY_H
#define VF_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include "plugin.h"

/*
 * Register the built-ins and scan @module_path (NULL or a missing directory:
 * built-ins only, with a debug message).  Problems with single modules are
 * logged and never fatal.  Returns 0 or -ENOMEM.
 */
int vf_registry_init(const char *module_path);
void vf_registry_fini(void);

const struct vf_listener_ops *vf_registry_listener(const char *name);
const struct vf_backend_ops *vf_registry_backend(const char *name);
/* The @i-th registered listener / backend (registration order: built-ins
 * in VF_BUILTIN_PLUGINS order, then modules), NULL past the end.  For the
 * code that walks every plugin's schema (confcheck, configure). */
const struct vf_listener_ops *vf_registry_listener_at(size_t i);
const struct vf_backend_ops *vf_registry_backend_at(size_t i);

/* Flags (enum vf_listener_flags) of listener @name; 0 if unknown. */
unsigned int vf_registry_listener_flags(const char *name);
/*
 * Run the schema validate() of listener @name (as init() would read its
 * block, key files included, without opening anything).  0 also for a
 * listener without validate() (it validates at init) or an unknown name
 * (the schema check reports it); else -errno with "FILE:LINE: ..." in @err.
 */
int vf_registry_validate_listener(const struct vf_conf *conf, const char *name, char *err,
                                  size_t err_len);
/* The host API to pass to the init() of backend @backend_name (NULL if no
 * such backend); valid until vf_registry_fini(). */
const struct vf_host_api *vf_registry_host(const char *backend_name);

/*
 * Human-readable list: "Available listeners:" / "Available backends:" with
 * "    name version (built-in|file)" lines.  malloc'ed, NULL on ENOMEM.
 */
char *vf_registry_describe(void);

#endif
