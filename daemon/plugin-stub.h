/*
 * vmfence - daemon/plugin-stub.h: stand-in plugins, known by their
 * settings schema only, whose ops never act.
 *
 * fence_virtd-net (privsep/netmain.c) checks the whole configuration like
 * fence_virtd, so it needs the schema of every built-in plugin, also of
 * those that run in the privileged fence_virtd only (libvirt, cpg,
 * serial); the tests' fake plugins (tests/noop-plugin.h,
 * tests/conf-plugins.c) are the same tables with other answers.
 * Every function is static inline: include this header in one file of a
 * program.  Before including it, a file may define
 *   VF_STUB_RC       what lookup/off/on/reboot/status return (-ENOTSUP)
 *   VF_STUB_LIST_RC  what list() returns (VF_STUB_RC)
 *   VF_STUB_INIT_RC  what init() of a backend or listener returns (VF_STUB_RC),
 *                    with VF_STUB_WHY in the error text when negative
 *   VF_STUB_RUN_RC   what a listener's run() returns (VF_STUB_RC)
 */
#ifndef VF_PLUGIN_STUB_H
#define VF_PLUGIN_STUB_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "plugin.h"

#ifndef VF_STUB_RC
#define VF_STUB_RC (-ENOTSUP)
#endif
#ifndef VF_STUB_LIST_RC
#define VF_STUB_LIST_RC VF_STUB_RC
#endif
#ifndef VF_STUB_INIT_RC
#define VF_STUB_INIT_RC VF_STUB_RC
#endif
#ifndef VF_STUB_RUN_RC
#define VF_STUB_RUN_RC VF_STUB_RC
#endif
#ifndef VF_STUB_WHY
#define VF_STUB_WHY "a stand-in: this plugin does not run in this program"
#endif

/* what an init() answers, with VF_STUB_WHY in @err on a failure */
static inline int
vf_stub_init_rc(char *err, size_t err_len)
{
    if (VF_STUB_INIT_RC < 0) {
        snprintf(err, err_len, "%s", VF_STUB_WHY);
    }
    return VF_STUB_INIT_RC;
}

static inline int
vf_stub_init(const struct vf_host_api *host, const struct vf_conf *conf, void **ret_priv,
             char *err, size_t err_len)
{
    (void)host;
    (void)conf;
    *ret_priv = NULL;
    return vf_stub_init_rc(err, err_len);
}

static inline void
vf_stub_fini(void *priv)
{
    (void)priv;
}

static inline int
vf_stub_lookup(void *priv, const char *target, unsigned int flags,
               struct vf_domain_info *ret_dom, int64_t deadline_ms)
{
    (void)priv;
    (void)target;
    (void)flags;
    (void)ret_dom;
    (void)deadline_ms;
    return VF_STUB_RC;
}

static inline int
vf_stub_op(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    (void)priv;
    (void)target;
    (void)flags;
    (void)deadline_ms;
    return VF_STUB_RC;
}

static inline int
vf_stub_status(void *priv, const char *target, unsigned int flags, bool *ret_on,
               int64_t deadline_ms)
{
    (void)ret_on;
    return vf_stub_op(priv, target, flags, deadline_ms);
}

static inline int
vf_stub_list(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms)
{
    (void)priv;
    (void)cb;
    (void)arg;
    (void)deadline_ms;
    return VF_STUB_LIST_RC;
}

/* a listener's init(): its priv is the daemon's api (tests look at it) */
static inline int
vf_stub_linit(const struct vf_conf *conf, const struct vf_daemon_api *api, void **ret_priv,
              char *err, size_t err_len)
{
    (void)conf;
    *ret_priv = (void *)api;
    return vf_stub_init_rc(err, err_len);
}

static inline int
vf_stub_lrun(void *priv)
{
    (void)priv;
    return VF_STUB_RUN_RC;
}

/* The ops table of a stand-in backend / listener named @id. */
#define VF_STUB_BACKEND_OPS(id, version_, schema_) \
    { \
        .schema = (schema_), .name = #id, .version = (version_), .init = vf_stub_init, \
        .fini = vf_stub_fini, .lookup = vf_stub_lookup, .off = vf_stub_op, .on = vf_stub_op, \
        .reboot = vf_stub_op, .status = vf_stub_status, .list = vf_stub_list, \
    }
#define VF_STUB_LISTENER_OPS(id, version_, schema_) \
    { \
        .schema = (schema_), .name = #id, .version = (version_), .init = vf_stub_linit, \
        .run = vf_stub_lrun, .fini = vf_stub_fini, \
    }

/* A built-in plugin vf_plugin_<id> that is one stand-in backend / listener. */
#define VF_STUB_BACKEND(id, version_, schema_) \
    static const struct vf_backend_ops vf_stub_ops_##id = \
        VF_STUB_BACKEND_OPS(id, version_, schema_); \
    const struct vf_plugin vf_plugin_##id = { VF_PLUGIN_ABI, #id, NULL, &vf_stub_ops_##id }
#define VF_STUB_LISTENER(id, version_, schema_) \
    static const struct vf_listener_ops vf_stub_ops_##id = \
        VF_STUB_LISTENER_OPS(id, version_, schema_); \
    const struct vf_plugin vf_plugin_##id = { VF_PLUGIN_ABI, #id, &vf_stub_ops_##id, NULL }

#endif
