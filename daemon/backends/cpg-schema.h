/*
 * vmfence - daemon/backends/cpg-schema.h: the settings schema of the cpg
 * backend (block backends/cpg), included once by cpg.c for its ops table,
 * and by the tests that check configurations.  The uri keys and
 * reboot_powers_on are those of the libvirt backend, which cpg runs.
 */
#ifndef VF_CPG_SCHEMA_H
#define VF_CPG_SCHEMA_H

#include "plugin.h"
#include "backends/libvirt-schema.h"

static const char *const cpg_schema_name_modes[] = { "name", "uuid", NULL };
static const char *const cpg_schema_histories[] = { "pacemaker", "none", NULL };

static const struct vf_setting cpg_schema_settings[] = {
    LV_SCHEMA_URI,
    { "name_mode", VF_ST_ENUM, "name", 0, 0, cpg_schema_name_modes,
      "VM naming/tracking mode (name or uuid)", VF_SF_ASK,
      "\nThe cpg backend tracks domains cluster-wide by name or by UUID.\n"
      "UUIDs are unique; names may collide between hosts: name mode relies\n"
      "on domain names being unique in the whole host cluster.\n\n", "uuid" },
    { "group", VF_ST_STRING, "vmfence", 0, 0, NULL, "CPG group name (1 to 127 characters)", 0,
      NULL, NULL },
    { "reply_timeout", VF_ST_INT, "10", 0, 2147483647, NULL,
      "Seconds to wait for the host that runs a domain (1..600)", 0, NULL, NULL },
    LV_SCHEMA_REBOOT_POWERS_ON(0, NULL),
    { "fence_history", VF_ST_ENUM, "pacemaker", 0, 0, cpg_schema_histories,
      "Record fencing in Pacemaker's history (pacemaker or none)", 0, NULL, NULL },
    { .key = NULL },
};

static const struct vf_schema cpg_schema __attribute__((unused)) = {
    .intro = "\nThe cpg backend module is designed for use in environments where\n"
             "virtual machines may be migrated between hosts: all fence_virtd\n"
             "instances of the host cluster share their domain lists over corosync.\n\n",
    .settings = cpg_schema_settings,
};

#endif
