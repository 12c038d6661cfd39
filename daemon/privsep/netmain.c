/*
 * vmfence - daemon/privsep/netmain.c: fence_virtd-net, the lean program of
 * the network process (privsep.h, netproc.c).
 *
 * The privileged fence_virtd executes it (netprog.c, parent.c) in
 * place of itself when every listener the configuration names is built in
 * here: tcp, multicast, vsock.  It is linked with the pipeline, the proxy
 * backend, the sandbox, the configuration check and libvmfence only, so
 * the network process maps neither libvirt, libxml2, corosync/pacemaker
 * nor libsystemd.  Otherwise (serial, a listener from module_path, a
 * backend from module_path) fence_virtd runs itself with --privsep-net.
 *
 * The configuration check (runconf.c) is the one fence_virtd runs: it
 * knows every built-in plugin's settings.  The plugins that only the
 * privileged side runs are stand-ins here, with their real schemas and
 * ops that fail (never called: the pipeline here runs the proxy backend,
 * and serial never starts here).  Modules are not loaded (module_path is
 * the privileged side's, which routes to fence_virtd when one is needed).
 *
 * The command line is the one parent.c passes: --privsep-net=S,C,T,G,UID,GID
 * --privsep-version=VERSION (fence_virtd's: it must be this program's)
 * -f CONF [-d LEVEL] [-F]; the program is not meant to be run by hand.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#define VF_STUB_WHY "this plugin runs in fence_virtd, not in fence_virtd-net"
#include "plugin-stub.h"
#include "privsep/privsep.h"
#include "virtd.h"

#include "listeners/serial-schema.h"
#include "backends/libvirt-schema.h"
#ifdef VF_NET_STAND_IN_CPG
#include "backends/cpg-schema.h"
#endif

/* the log identity stays the daemon's: both processes are fence_virtd */
const char vfd_progname[] = "fence_virtd";
struct vfd_args vfd_arg = { .debug = -1 };
struct vf_conf *vfd_conf;
struct vfd_runcfg vfd_rc;

/* ---- stand-ins: schemas for the check, ops that fail --------------------------- */

/* never called: the pipeline here runs the proxy backend, serial never starts here */
VF_STUB_BACKEND(libvirt, PACKAGE_VERSION " (stand-in)", &lv_schema);
#ifdef VF_NET_STAND_IN_CPG
VF_STUB_BACKEND(cpg, PACKAGE_VERSION " (stand-in)", &cpg_schema);
#endif
VF_STUB_LISTENER(serial, PACKAGE_VERSION " (stand-in)", &sl_schema);

/* ---- the command line parent.c passes ------------------------------------------ */

static int
net_parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "privsep-net", required_argument, NULL, 'N' },
        { "privsep-version", required_argument, NULL, 'V' },
        VFD_COMMON_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    const char *conf = VF_CONF_DEFAULT;
    const char *version = NULL;
    int c = 0;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:d:F", longopts, NULL)) != -1) {
        int r = vfd_common_opt(c, optarg, &conf);

        if (r == -ENOENT && c == 'N') {
            vfd_arg.ps_net = optarg;
        } else if (r == -ENOENT && c == 'V') {
            version = optarg;
        } else if (r < 0) {
            return -EINVAL;
        }
    }
    if (optind < argc || vfd_arg.ps_net == NULL || conf[0] != '/') {
        return -EINVAL;
    }
    /* both programs come from one build: an upgrade that replaced only one
     * of them is named as such, not left to fail in the message exchange */
    if (version == NULL || strcmp(version, PACKAGE_VERSION) != 0) {
        fprintf(stderr, "%s-net: version %s, started by fence_virtd %s: both come from "
                "the same package; reinstall it\n", vfd_progname, PACKAGE_VERSION,
                version != NULL ? version : "(unknown, older than this program)");
        return -EPROTO;
    }
    vfd_arg.conf_path = strdup(conf);
    return vfd_arg.conf_path != NULL ? 0 : -ENOMEM;
}

int
main(int argc, char **argv)
{
    vf_ps_malloc_setup();
    int r = net_parse_args(argc, argv);

    if (r == -EPROTO) {
        free(vfd_arg.conf_path);
        return 1;
    }
    if (r < 0) {
        fprintf(stderr, "%s-net: the network process of fence_virtd's privilege separation, "
                "started by fence_virtd only\n", vfd_progname);
        free(vfd_arg.conf_path);
        return 1;
    }
    vf_log_init(vfd_progname, VF_LOG_STDERR | VF_LOG_SYSLOG,
                vfd_arg.debug > 0 ? vfd_arg.debug : 0);
    return vf_ps_net_main_lean();
}
