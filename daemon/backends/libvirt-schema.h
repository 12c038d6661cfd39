/*
 * vmfence - daemon/backends/libvirt-schema.h: the settings schema of the
 * libvirt backend (block backends/libvirt), included once by libvirt.c for
 * its ops table, and by the tests that check configurations.
 */
#ifndef VF_LIBVIRT_SCHEMA_H
#define VF_LIBVIRT_SCHEMA_H

#include "plugin.h"

/* uri, uri1, uri2 ...: shared with the cpg backend, which runs libvirt */
#define LV_SCHEMA_URI \
    { "uri", VF_ST_STRING, "qemu:///system", 0, 0, NULL, "Libvirt URI", \
      VF_SF_ASK | VF_SF_NUMBERED | VF_SF_NONEMPTY | VF_SF_REQUIRED, NULL, NULL }
#define LV_SCHEMA_REBOOT_POWERS_ON(flags, intro) \
    { "reboot_powers_on", VF_ST_BOOL, "no", 0, 0, NULL, \
      "Power on domains that are off when asked to reboot them", (flags), (intro), NULL }

static const struct vf_setting lv_schema_settings[] = {
    LV_SCHEMA_URI,
    LV_SCHEMA_REBOOT_POWERS_ON(VF_SF_ASK,
        "\nA reboot request for a domain that is shut off can either leave it\n"
        "off (the reference behaviour) or power it on.\n\n"),
    { NULL, VF_ST_STRING, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};

static const struct vf_schema lv_schema __attribute__((unused)) = {
    .intro = "\nThe libvirt backend module is designed for single desktops or\n"
             "servers.  Do not use in environments where virtual machines\n"
             "may be migrated between hosts.\n\n",
    .settings = lv_schema_settings,
    /* a status that the lifecycle events answer needs no libvirt call, and
     * every change of what they answer bumps the status stamp */
    .flags = VF_BC_STATUS_NOWAIT | VF_BC_STATUS_STAMPED,
};

#endif
