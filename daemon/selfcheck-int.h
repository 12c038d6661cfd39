/*
 * vmfence - daemon/selfcheck-int.h: what the parts of `fence_virtd --check`
 * share.  selfcheck.c: the report lines, the configuration, the run;
 * selfcheck-proc.c: who holds a port (/proc, the running daemon and its
 * children); selfcheck-listeners.c: keys, tcp, vsock, multicast;
 * selfcheck-backend.c: the backend and the groups.  Not for other modules:
 * they use selfcheck.h.
 */
#ifndef VF_SELFCHECK_INT_H
#define VF_SELFCHECK_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "listeners/common.h"
#include "plugin.h"
#include "selfcheck.h"

enum vf_sc_level {
    VF_SC_OK,
    VF_SC_WARN,
    VF_SC_ERR
};

struct vf_sc {
    FILE *out;
    const struct vf_selfcheck_in *in;
    unsigned int n[3];
    /* what the backend listed (for the groups) */
    struct vf_domain_info *doms;
    size_t n_doms;
    size_t cap_doms;
    bool listed;
    pid_t daemon_pid; /* running fence_virtd of the pid file, 0 if none */
    char daemon_pidfile[PATH_MAX];
};

/* One report line "ok|warning|error WHAT: ...", counted. */
void vf_sc_line(struct vf_sc *sc, enum vf_sc_level lvl, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The "next:" line after a warning or error: what to do about it. */
void vf_sc_next(struct vf_sc *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* selfcheck-proc.c: the running daemon (pid file), and who holds a port. */
void vf_sc_find_daemon(struct vf_sc *sc);
void vf_sc_explain_in_use(struct vf_sc *sc, const char *what, const char *desc, bool tcp,
                          uint16_t port, const char *config_key);

/* selfcheck-listeners.c */
void vf_sc_check_key(struct vf_sc *sc, const char *lname, const struct vf_lsettings *s);
void vf_sc_check_tcp(struct vf_sc *sc, const struct vf_lsettings *s);
void vf_sc_check_vsock(struct vf_sc *sc, const struct vf_lsettings *s);
void vf_sc_check_multicast(struct vf_sc *sc, const struct vf_lsettings *s);

/* selfcheck-backend.c */
void vf_sc_check_backend(struct vf_sc *sc);
void vf_sc_check_groups(struct vf_sc *sc);

#endif
