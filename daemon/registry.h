/*
 * vmfence - daemon/registry.h: the plugin registry (daemon/plugin.c).
 *
 * Built-in plugins (linked into fence_virtd) are registered first; then
 * every regular file ending in ".so" in the module path that exports a
 * "vf_plugin" symbol with the right ABI is added.  Built-ins win on a name
 * clash.  Other shared objects (e.g. fence-virt's own modules, which an
 * existing module_path may still point at) are skipped with a debug message.
 */
#ifndef VF_REGISTRY_H
#define VF_REGISTRY_H

#include <stdbool.h>
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

/*
 * Human-readable list: "Available listeners:" / "Available backends:" with
 * "    name version (built-in|file)" lines.  malloc'ed, NULL on ENOMEM.
 */
char *vf_registry_describe(void);

#endif
