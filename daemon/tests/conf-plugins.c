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

#define FAKE_LISTENER(id, schema_ptr) VF_STUB_LISTENER(id, "test", schema_ptr)
#define FAKE_BACKEND(id, schema_ptr) VF_STUB_BACKEND(id, "test", schema_ptr)

FAKE_LISTENER(multicast, &vf_schema_multicast);
FAKE_LISTENER(tcp, &vf_schema_tcp);
FAKE_LISTENER(vsock, &vf_schema_vsock);
FAKE_LISTENER(serial, &sl_schema);
FAKE_BACKEND(libvirt, &lv_schema);
FAKE_BACKEND(cpg, &cpg_schema);
