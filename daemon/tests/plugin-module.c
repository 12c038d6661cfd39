/*
 * vmfence - daemon/tests/plugin-module.c: FAKE loadable plugins for
 * test-plugin.  Built three times as a module (-DVF_PLUGIN_MODULE):
 *   TEST_MODULE_GOOD        backend "modgood" and listener "modgood", current ABI
 *   TEST_MODULE_ABI1        backend "modabi1" claiming ABI 1 (refused)
 *   TEST_MODULE_INCOMPLETE  backend "modpart" without status/list and without
 *                           a settings schema (refused)
 * The ops do nothing (noop-plugin.h): the registry only looks at them.
 */
#include "noop-plugin.h"

#if defined(TEST_MODULE_GOOD)
#define M_NAME "modgood"
#elif defined(TEST_MODULE_ABI1)
#define M_NAME "modabi1"
#else
#define M_NAME "modpart"
#endif

static const struct vf_backend_ops m_backend = {
    .name = M_NAME, .version = "9.9", .init = m_init, .fini = m_fini,
    .lookup = m_lookup, .off = m_op, .on = m_op, .reboot = m_op,
#ifndef TEST_MODULE_INCOMPLETE
    .status = m_status, .list = m_list, .schema = &m_schema,
#endif
};

#if defined(TEST_MODULE_GOOD)
static const struct vf_listener_ops m_listener = {
    .name = M_NAME, .version = "9.9", .init = ml_init, .run = ml_run, .fini = m_fini,
    .schema = &m_schema,
};

VF_PLUGIN_DEFINE(modgood, &m_listener, &m_backend);
#elif defined(TEST_MODULE_ABI1)
/* what a module built against ABI 1 looks like to the registry: the same
 * descriptor with the old number first */
__attribute__((visibility("default")))
const struct vf_plugin vf_plugin = { 1, M_NAME, NULL, &m_backend };
#else
VF_PLUGIN_DEFINE(modpart, NULL, &m_backend);
#endif
