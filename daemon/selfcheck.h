/*
 * vmfence - daemon/selfcheck.h: `fence_virtd --check`, the host self-test.
 *
 * main.c parses the configuration and runs the --check-config checks (the
 * same code), then hands the result here.  The self-test then looks at the
 * host as it is right now, without disturbing a running daemon:
 *   - the configuration (the --check-config diagnostics, one line each);
 *   - each network listener's key file: loads, size, permissions;
 *   - each listener's port: can it be bound now?  When it is in use, by
 *     whom (/proc): the running fence_virtd of the pid file is fine, and so
 *     is its network process (privsep = "yes": a child holds the sockets);
 *   - multicast: the interface (name, ifindex, up, MULTICAST flag) and the
 *     addresses on it, a test join of the group, the route of the group;
 *   - the backend: initialised with the configuration, monitor and list with
 *     a short deadline: number of domains and the first names, per URI for
 *     libvirt;
 *   - the groups: entries that match no listed domain.
 * The parts: selfcheck.c (report, configuration, run), selfcheck-proc.c,
 * selfcheck-listeners.c, selfcheck-backend.c (selfcheck-int.h).
 * One report line per check, "ok" / "warning" / "error", with "next:" lines
 * saying what to do; then a firewall reminder for the configured listeners
 * (a packet filter cannot be seen from here).  Exit status 0 when no check
 * failed (warnings allowed), 1 otherwise.
 */
#ifndef VF_SELFCHECK_H
#define VF_SELFCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "conftree.h"

#define VF_SELFCHECK_MAX_LISTENERS 8

struct vf_selfcheck_in {
    const char *conf_path;
    const char *parse_error; /* set when the file did not parse (conf NULL) */
    const struct vf_conf *conf;
    const char *conf_diag; /* --check-config's diagnostics, lines */
    int conf_errors;       /* ... and its error count */
    const char *listeners[VF_SELFCHECK_MAX_LISTENERS];
    size_t n_listeners;
    const char *backend;  /* NULL: not configured */
    const char *pid_path; /* the pid file a running daemon would hold */
    bool pid_path_given;
};

/* Run the checks, print the report on @out; returns the exit status (0/1). */
int vf_selfcheck_run(const struct vf_selfcheck_in *in, FILE *out);

#endif
