/*
 * vmfence - daemon/tests/noop-plugin.h: FAKE plugin ops that do nothing,
 * for tests that only look at ops tables (test-plugin, plugin-module).
 * Every function is static: include this header in one file of a program.
 */
#ifndef VF_TEST_NOOP_PLUGIN_H
#define VF_TEST_NOOP_PLUGIN_H

#include <errno.h>
#include <stddef.h>

#include "plugin.h"

static inline int
m_init(const struct vf_host_api *host, const struct vf_conf *conf, void **ret_priv,
       char *err, size_t err_len)
{
    (void)host;
    (void)conf;
    (void)err;
    (void)err_len;
    *ret_priv = NULL;
    return 0;
}

static inline void
m_fini(void *priv)
{
    (void)priv;
}

static inline int
m_lookup(void *priv, const char *target, unsigned int flags, struct vf_domain_info *ret_dom,
         int64_t deadline_ms)
{
    (void)priv;
    (void)target;
    (void)flags;
    (void)ret_dom;
    (void)deadline_ms;
    return -ENOENT;
}

static inline int
m_op(void *priv, const char *target, unsigned int flags, int64_t deadline_ms)
{
    (void)priv;
    (void)target;
    (void)flags;
    (void)deadline_ms;
    return -ENOENT;
}

static inline int
m_status(void *priv, const char *target, unsigned int flags, bool *ret_on, int64_t deadline_ms)
{
    (void)ret_on;
    return m_op(priv, target, flags, deadline_ms);
}

static inline int
m_list(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms)
{
    (void)priv;
    (void)cb;
    (void)arg;
    (void)deadline_ms;
    return 0;
}

static inline int
ml_init(const struct vf_conf *conf, const struct vf_daemon_api *api, void **ret_priv,
        char *err, size_t err_len)
{
    (void)conf;
    (void)err;
    (void)err_len;
    *ret_priv = (void *)api;
    return 0;
}

static inline int
ml_run(void *priv)
{
    (void)priv;
    return 0;
}

/* A schema with one key and no hooks (ABI 3 requires a schema). */
static const struct vf_setting m_settings[] __attribute__((unused)) = {
    { "port", VF_ST_INT, "1229", 1, 65535, NULL, "Port", VF_SF_ASK, NULL, NULL },
    { NULL, VF_ST_STRING, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};
static const struct vf_schema m_schema __attribute__((unused)) = {
    .settings = m_settings,
};

#endif
