/*
 * vmfence - daemon/tests/noop-plugin.h: FAKE plugin ops that do nothing,
 * for tests that only look at ops tables (test-plugin, plugin-module).
 * Every function is static: include this header in one file of a program.
 */
#ifndef VF_TEST_NOOP_PLUGIN_H
#define VF_TEST_NOOP_PLUGIN_H

#include <errno.h>

/* FAKE answers: no such domain, an empty list, init and run succeed */
#define VF_STUB_RC (-ENOENT)
#define VF_STUB_LIST_RC 0
#define VF_STUB_INIT_RC 0
#define VF_STUB_RUN_RC 0
#include "plugin-stub.h"

#define m_init vf_stub_init
#define m_fini vf_stub_fini
#define m_lookup vf_stub_lookup
#define m_op vf_stub_op
#define m_status vf_stub_status
#define m_list vf_stub_list
#define ml_init vf_stub_linit
#define ml_run vf_stub_lrun

/* A schema with one key and no hooks (ABI 3 requires a schema). */
static const struct vf_setting m_settings[] __attribute__((unused)) = {
    { "port", VF_ST_INT, "1229", 1, 65535, NULL, "Port", VF_SF_ASK, NULL, NULL },
    { NULL, VF_ST_STRING, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};
static const struct vf_schema m_schema __attribute__((unused)) = {
    .settings = m_settings,
};

#endif
