/*
 * vmfence - daemon/selfcheck.c: `fence_virtd --check` (see selfcheck.h):
 * the report, the configuration lines, the firewall reminder and the run.
 * The checks themselves are in selfcheck-proc.c (who holds a port),
 * selfcheck-listeners.c and selfcheck-backend.c.
 *
 * Everything here only looks: sockets are bound and closed again at once
 * (never while the port is served: a port in use is explained, not taken),
 * the backend is opened read-only (monitor and list), nothing is written.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "registry.h"
#include "selfcheck-int.h"

void
vf_sc_line(struct vf_sc *sc, enum vf_sc_level lvl, const char *what, const char *fmt, ...)
{
    static const char *const names[] = { "ok", "warning", "error" };
    va_list ap;

    sc->n[lvl]++;
    fprintf(sc->out, "%-8s %s: ", names[lvl], what);
    va_start(ap, fmt);
    vfprintf(sc->out, fmt, ap);
    va_end(ap);
    fputc('\n', sc->out);
}

void
vf_sc_next(struct vf_sc *sc, const char *fmt, ...)
{
    va_list ap;

    fputs("         next: ", sc->out);
    va_start(ap, fmt);
    vfprintf(sc->out, fmt, ap);
    va_end(ap);
    fputc('\n', sc->out);
}

/* ---- configuration ---------------------------------------------------------- */

static void
check_config(struct vf_sc *sc)
{
    const char *d = sc->in->conf_diag != NULL ? sc->in->conf_diag : "";

    while (*d != '\0') {
        size_t len = strcspn(d, "\n");
        char line[1200];

        snprintf(line, sizeof(line), "%.*s", (int)len, d);
        if (line[0] != '\0') {
            bool err = strstr(line, "error") != NULL;

            vf_sc_line(sc, err ? VF_SC_ERR : VF_SC_WARN, "config", "%s", line);
            if (err) {
                vf_sc_next(sc,
                           "fix %s (fence_virtd --check-config shows the same); see "
                           "fence_virt.conf(5)",
                           sc->in->conf_path);
            }
        }
        d += len;
        d += *d == '\n';
    }
    if (sc->in->conf_errors == 0) {
        char names[300] = "";

        for (size_t i = 0; i < sc->in->n_listeners; i++) {
            size_t l = strlen(names);

            snprintf(names + l, sizeof(names) - l, "%s%s", i > 0 ? "," : "", sc->in->listeners[i]);
        }
        vf_sc_line(sc, VF_SC_OK, "config", "%s: listeners %s, backend %s", sc->in->conf_path, names,
                   sc->in->backend != NULL ? sc->in->backend : "?");
    }
}

/* ---- firewall reminder ------------------------------------------------------------- */

static void
firewall_notes(struct vf_sc *sc, bool mcast, uint16_t mport, bool tcp, uint16_t tport)
{
    if (!mcast && !tcp) {
        return;
    }
    fprintf(sc->out, "\nPacket filters are not visible from here. If the guests still time "
                     "out, open:\n");
    if (mcast) {
        fprintf(sc->out,
                "  on this host (multicast requests): UDP %u and IGMP, inbound\n"
                "    firewall-cmd --permanent --add-port=%u/udp --add-protocol=igmp && "
                "firewall-cmd --reload\n"
                "    nft add rule inet filter input udp dport %u accept; "
                "nft add rule inet filter input ip protocol igmp accept\n"
                "  on every guest (the host's call-back): TCP %u, inbound from this host\n"
                "    firewall-cmd --permanent --add-port=%u/tcp && firewall-cmd --reload\n"
                "    nft add rule inet filter input tcp dport %u accept\n"
                "  then, on a guest: fence_xvm -o list --diagnose\n",
                (unsigned int)mport, (unsigned int)mport, (unsigned int)mport, (unsigned int)mport,
                (unsigned int)mport, (unsigned int)mport);
    }
    if (tcp) {
        fprintf(sc->out,
                "  on this host (tcp listener): TCP %u, inbound from the guests\n"
                "    firewall-cmd --permanent --add-port=%u/tcp && firewall-cmd --reload\n"
                "    nft add rule inet filter input tcp dport %u accept\n",
                (unsigned int)tport, (unsigned int)tport, (unsigned int)tport);
    }
}

/* ---- the run --------------------------------------------------------------------- */

/* what the firewall reminder needs to know about the listeners */
struct sc_ports {
    bool mcast;
    bool tcp;
    uint16_t mport;
    uint16_t tport;
};

/* listener @l: its settings, key and socket */
static void
check_listener(struct vf_sc *sc, const char *l, struct sc_ports *ports)
{
    struct vf_lsettings s;
    char err[1024] = "";
    char what[64];
    bool is_tcp = strcasecmp(l, "tcp") == 0;
    bool is_mcast = strcasecmp(l, "multicast") == 0;
    bool is_vsock = strcasecmp(l, "vsock") == 0;

    snprintf(what, sizeof(what), "listener %s", l);
    if (!is_tcp && !is_mcast && !is_vsock) {
        if (vf_registry_listener(l) != NULL) {
            vf_sc_line(sc, VF_SC_OK, what, "configured (not probed by --check)");
        }
        return;
    }
    memset(&s, 0, sizeof(s));
    if (vf_lsettings_read(sc->in->conf, l, &s, err, sizeof(err)) < 0) {
        vf_sc_line(sc, VF_SC_ERR, what, "%s", err);
        vf_sc_next(sc, "fix listeners/%s in %s", l, sc->in->conf_path);
        vf_lsettings_done(&s);
        return;
    }
    vf_sc_check_key(sc, l, &s);
    if (is_tcp) {
        vf_sc_check_tcp(sc, &s);
        ports->tcp = true;
        ports->tport = s.port;
    } else if (is_mcast) {
        vf_sc_check_multicast(sc, &s);
        ports->mcast = true;
        ports->mport = s.port;
    } else {
        vf_sc_check_vsock(sc, &s);
    }
    vf_lsettings_done(&s);
}

int
vf_selfcheck_run(const struct vf_selfcheck_in *in, FILE *out)
{
    struct vf_sc sc;
    struct sc_ports ports = { .mport = VF_DEFAULT_PORT, .tport = VF_DEFAULT_PORT };

    memset(&sc, 0, sizeof(sc));
    sc.out = out;
    sc.in = in;
    fprintf(out, "fence_virtd --check: %s\n", in->conf_path);
    if (in->parse_error != NULL || in->conf == NULL) {
        vf_sc_line(&sc, VF_SC_ERR, "config", "%s",
                   in->parse_error != NULL ? in->parse_error : "cannot be read");
        vf_sc_next(&sc, "fix it, or create one: fence_virtd -c");
        fprintf(out, "\n0 ok, 0 warnings, 1 error\n");
        return 1;
    }
    check_config(&sc);
    vf_sc_find_daemon(&sc);
    if (sc.daemon_pid > 0) {
        vf_sc_line(&sc, VF_SC_OK, "daemon",
                   "fence_virtd runs (pid %ld, pid file %s); its ports "
                   "are reported as in use by it",
                   (long)sc.daemon_pid, sc.daemon_pidfile);
    }
    if (vf_auth_init() < 0) {
        vf_sc_line(&sc, VF_SC_ERR, "crypto", "cannot initialise the crypto library (NSS)");
    }
    for (size_t i = 0; i < in->n_listeners; i++) {
        check_listener(&sc, in->listeners[i], &ports);
    }
    vf_sc_check_backend(&sc);
    vf_sc_check_groups(&sc);
    firewall_notes(&sc, ports.mcast, ports.mport, ports.tcp, ports.tport);
    fprintf(out, "\n%u ok, %u warning%s, %u error%s\n", sc.n[VF_SC_OK], sc.n[VF_SC_WARN],
            sc.n[VF_SC_WARN] == 1 ? "" : "s", sc.n[VF_SC_ERR], sc.n[VF_SC_ERR] == 1 ? "" : "s");
    free(sc.doms);
    return sc.n[VF_SC_ERR] > 0 ? 1 : 0;
}
