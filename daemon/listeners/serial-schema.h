/*
 * vmfence - daemon/listeners/serial-schema.h: the settings schema of the
 * serial listener (block listeners/serial), included once by serial.c for
 * its ops table, and by the tests that check configurations.
 */
#ifndef VF_SERIAL_SCHEMA_H
#define VF_SERIAL_SCHEMA_H

#include "plugin.h"

static const char *const sl_schema_modes[] = { "serial", "vmchannel", NULL };

static const struct vf_setting sl_schema_settings[] = {
    { "uri", VF_ST_STRING, "qemu:///system", 0, 0, NULL, "Libvirt URI", VF_SF_ASK, NULL, NULL },
    { "path", VF_ST_PATH, NULL, 0, 0, NULL, "Socket directory", VF_SF_ASK | VF_SF_NONE_UNSETS,
      "\nThe socket directory restricts the listener to sockets directly\n"
      "inside it.  Set to 'none' to accept sockets anywhere.\n\n", "none" },
    /* reference: a non-zero number means vmchannel */
    { "mode", VF_ST_ENUM, "serial", 0, 0, sl_schema_modes, "Mode (serial or vmchannel)",
      VF_SF_ASK | VF_SF_OR_INT, NULL, NULL },
    /* accepted for compatibility; the channel is the identity, no key is used */
    { "key_file", VF_ST_PATH, NULL, 0, 0, NULL, "Key File (unused)", 0, NULL, NULL },
    { NULL, VF_ST_STRING, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};

static const struct vf_schema sl_schema __attribute__((unused)) = {
    .intro = "\nThe serial listener watches libvirt domains for serial ports or\n"
             "vmchannel (guestfwd) channels bound to UNIX sockets.\n\n",
    .settings = sl_schema_settings,
    .flags = VF_LF_HOST_FDS,
};

#endif
