/*
 * vmfence - daemon/tests/conf-plugins.c: the built-in plugins as
 * test-confcheck and configure-driver see them.  FAKE ops (noop-plugin.h:
 * no sockets, no libvirt, no corosync), REAL settings schemas: the very
 * tables the plugins' ops tables point at (listeners/common.c and the
 * NAME-schema.h headers), registered through the real registry (plugin.c)
 * in its real order.  cpg is registered even in a build without libcpg
 * (where fence_virtd lacks it): its schema needs no corosync.
 */
#include "noop-plugin.h"
#include "listeners/common.h"
#include "listeners/serial-schema.h"
#include "backends/libvirt-schema.h"
#include "backends/cpg-schema.h"

#define FAKE_LISTENER(id, schema_ptr) \
    static const struct vf_listener_ops fake_##id = { \
        .name = #id, .version = "test", .init = ml_init, .run = ml_run, .fini = m_fini, \
        .schema = (schema_ptr), \
    }; \
    const struct vf_plugin vf_plugin_##id = { VF_PLUGIN_ABI, #id, &fake_##id, NULL }

#define FAKE_BACKEND(id, schema_ptr) \
    static const struct vf_backend_ops fake_##id = { \
        .name = #id, .version = "test", .init = m_init, .fini = m_fini, \
        .lookup = m_lookup, .off = m_op, .on = m_op, .reboot = m_op, \
        .status = m_status, .list = m_list, .schema = (schema_ptr), \
    }; \
    const struct vf_plugin vf_plugin_##id = { VF_PLUGIN_ABI, #id, NULL, &fake_##id }

FAKE_LISTENER(multicast, &vf_schema_multicast);
FAKE_LISTENER(tcp, &vf_schema_tcp);
FAKE_LISTENER(vsock, &vf_schema_vsock);
FAKE_LISTENER(serial, &sl_schema);
FAKE_BACKEND(libvirt, &lv_schema);
FAKE_BACKEND(cpg, &cpg_schema);
