/*
 * vmfence - daemon/selfcheck-backend.c: `fence_virtd --check`, the backend
 * and the groups (see selfcheck-int.h).  The backend is initialised with
 * the configuration, asked monitor and list with a short deadline (per URI
 * for libvirt with several), and finished again; nothing is changed.  The
 * domains it listed are kept for the groups check.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conftree-node.h"
#include "io.h"
#include "registry.h"
#include "selfcheck-int.h"

#define SC_BACKEND_WAIT_MS 5000 /* a backend must answer monitor within this */
#define SC_LIST_MS         5000 /* ... and list within this */
#define SC_SHOW_NAMES      5    /* domain names shown per backend / URI */

struct list_ctx {
    struct vf_sc *sc;
    bool keep; /* record for the groups */
    unsigned int n;
    char names[300];
};

/* keep @dom for the groups check; the array grows by doubling */
static int
keep_domain(struct vf_sc *sc, const struct vf_domain_info *dom)
{
    if (sc->n_doms >= sc->cap_doms) {
        size_t want = sc->cap_doms > 0 ? 2 * sc->cap_doms : 64;
        void *grown = reallocarray(sc->doms, want, sizeof(*dom));

        if (grown == NULL) {
            return -ENOMEM;
        }
        sc->doms = grown;
        sc->cap_doms = want;
    }
    memcpy(&sc->doms[sc->n_doms], dom, sizeof(*dom));
    sc->n_doms++;
    return 0;
}

static int
list_cb(void *arg, const struct vf_domain_info *dom)
{
    struct list_ctx *lc = arg;
    size_t l = strlen(lc->names);

    if (lc->n < SC_SHOW_NAMES) {
        snprintf(lc->names + l, sizeof(lc->names) - l, "%s%s", lc->n > 0 ? ", " : "", dom->name);
    } else if (lc->n == SC_SHOW_NAMES) {
        snprintf(lc->names + l, sizeof(lc->names) - l, ", ...");
    }
    lc->n++;
    return lc->keep ? keep_domain(lc->sc, dom) : 0;
}

/* a backend connects in the background: ask monitor until it answers */
static int
wait_monitor(const struct vf_backend_ops *ops, void *priv, int64_t deadline)
{
    int r = 0;

    for (;;) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };

        r = ops->monitor != NULL ? ops->monitor(priv, deadline) : 0;
        if (r == 0 || vf_ms_left(deadline) <= 0) {
            return r;
        }
        nanosleep(&ts, NULL);
    }
}

/* the backend did not answer (@quri: "'URI' " or "") */
static void
report_silent(struct vf_sc *sc, const char *what, const char *name, const char *quri,
              const char *uri, int r)
{
    vf_sc_line(sc, VF_SC_ERR, what, "%sdid not answer within %d s (%s)", quri,
               SC_BACKEND_WAIT_MS / 1000, strerror(-r));
    if (strcasecmp(name, "libvirt") == 0) {
        vf_sc_next(sc,
                   "is libvirtd/virtqemud running (systemctl status libvirtd "
                   "virtqemud)? try: virsh -c '%s' list --all",
                   uri != NULL ? uri : "qemu:///system");
    } else if (strcasecmp(name, "cpg") == 0) {
        vf_sc_next(sc, "is corosync running and this node in the cluster (corosync-quorumtool)?");
    } else {
        vf_sc_next(sc, "check that the hypervisor behind backend '%s' runs", name);
    }
}

/*
 * Open backend @name with @conf, wait for it to answer (monitor), list.
 * One report line under @what.  Returns 0 when it answered.
 */
static int
probe_backend(struct vf_sc *sc, const char *what, const char *name, const struct vf_conf *conf,
              bool keep, const char *uri)
{
    const struct vf_backend_ops *ops = vf_registry_backend(name);
    const struct vf_host_api *host = vf_registry_host(name);
    struct list_ctx lc;
    void *priv = NULL;
    char err[1024] = "";
    char quri[1100] = "";
    int r = 0;

    memset(&lc, 0, sizeof(lc));
    lc.sc = sc;
    lc.keep = keep;
    if (uri != NULL) {
        snprintf(quri, sizeof(quri), "'%s' ", uri);
    }
    if (ops == NULL) {
        vf_sc_line(sc, VF_SC_ERR, what, "unknown backend '%s'", name);
        vf_sc_next(sc, "fence_virtd -l lists the available backends");
        return -ENOENT;
    }
    r = ops->init(host, conf, &priv, err, sizeof(err));
    if (r < 0) {
        vf_sc_line(sc, VF_SC_ERR, what, "cannot start: %s", err[0] != '\0' ? err : strerror(-r));
        vf_sc_next(sc, "fix backends/%s in %s", name, sc->in->conf_path);
        return r;
    }
    r = wait_monitor(ops, priv, vf_now_ms() + SC_BACKEND_WAIT_MS);
    if (r == 0) {
        r = ops->list(priv, list_cb, &lc, vf_now_ms() + SC_LIST_MS);
    }
    ops->fini(priv);
    if (r < 0) {
        report_silent(sc, what, name, quri, uri, r);
        return r;
    }
    if (keep) {
        sc->listed = true;
    }
    if (lc.n == 0) {
        vf_sc_line(sc, VF_SC_WARN, what, "%sanswers, but lists no domain", quri);
        vf_sc_next(sc, "requests for any VM will fail: is this the right URI / host?");
        return 0;
    }
    vf_sc_line(sc, VF_SC_OK, what, "%sanswers: %u domain%s (%s)", quri, lc.n, lc.n == 1 ? "" : "s",
               lc.names);
    return 0;
}

void
vf_sc_check_backend(struct vf_sc *sc)
{
    const struct vf_conf *conf = sc->in->conf;
    const struct vf_conf_node *blk = NULL;
    const char *name = sc->in->backend;
    char what[64];
    unsigned int n_uris = 0;

    if (name == NULL) {
        return;
    }
    snprintf(what, sizeof(what), "backend %s", name);
    if (strcasecmp(name, "libvirt") == 0) {
        blk = vf_conf_block(conf, NULL, "backends/libvirt");
        for (const struct vf_conf_node *n = blk != NULL ? blk->children : NULL; n != NULL;
             n = n->next) {
            n_uris += !n->is_block && strncasecmp(n->name, "uri", 3) == 0;
        }
    }
    if (n_uris <= 1) {
        const char *uri = NULL;

        if (strcasecmp(name, "libvirt") == 0) {
            uri = vf_conf_get(conf, "backends/libvirt/uri", "qemu:///system");
        }
        (void)probe_backend(sc, what, name, conf, true, uri);
        return;
    }
    /* several URIs: the whole backend (what requests see), then each URI alone */
    (void)probe_backend(sc, what, name, conf, true, NULL);
    for (const struct vf_conf_node *n = blk->children; n != NULL; n = n->next) {
        struct vf_conf *one = NULL;
        char buf[2048];
        char err[512];
        int len = 0;

        if (n->is_block || strncasecmp(n->name, "uri", 3) != 0 || n->value == NULL) {
            continue;
        }
        if (strpbrk(n->value, "\"\\\n") != NULL) {
            continue;
        }
        len = snprintf(buf, sizeof(buf), "backends {\n\tlibvirt {\n\t\turi = \"%s\";\n\t}\n}\n",
                       n->value);
        if (len <= 0 || (size_t)len >= sizeof(buf) ||
            vf_conf_parse_buffer("--check", buf, (size_t)len, &one, err, sizeof(err)) < 0) {
            continue;
        }
        snprintf(what, sizeof(what), "backend %s %s", name, n->name);
        (void)probe_backend(sc, what, name, one, false, n->value);
        vf_conf_free(one);
    }
}

static bool
domain_known(const struct vf_sc *sc, const char *v)
{
    for (size_t i = 0; i < sc->n_doms; i++) {
        if (strcmp(sc->doms[i].name, v) == 0 || strcasecmp(sc->doms[i].uuid, v) == 0) {
            return true;
        }
    }
    return false;
}

void
vf_sc_check_groups(struct vf_sc *sc)
{
    const struct vf_conf_node *blk = vf_conf_block(sc->in->conf, NULL, "groups");
    unsigned int n_groups = 0;
    unsigned int n_entries = 0;
    unsigned int unknown = 0;

    if (blk == NULL) {
        vf_sc_line(sc, VF_SC_OK, "groups",
                   "none configured: every requester that has the key may "
                   "fence every domain");
        return;
    }
    for (const struct vf_conf_node *g = blk->children; g != NULL; g = g->next) {
        const char *gname = NULL;
        char what[128];

        if (!g->is_block || strcasecmp(g->name, "group") != 0) {
            continue;
        }
        n_groups++;
        for (const struct vf_conf_node *e = g->children; e != NULL; e = e->next) {
            if (!e->is_block && strcasecmp(e->name, "name") == 0) {
                gname = e->value;
            }
        }
        snprintf(what, sizeof(what), "group %s", gname != NULL ? gname : "(unnamed)");
        for (const struct vf_conf_node *e = g->children; e != NULL; e = e->next) {
            if (e->is_block || strcasecmp(e->name, "uuid") != 0 || e->value == NULL) {
                continue;
            }
            n_entries++;
            if (!sc->listed || domain_known(sc, e->value)) {
                continue;
            }
            unknown++;
            vf_sc_line(sc, VF_SC_WARN, what, "'%s' (line %u) matches no domain the backend lists",
                       e->value, e->line);
            vf_sc_next(sc, "names compare case-sensitively and UUIDs must be exact: correct it "
                           "(virsh list --all --name / --uuid), or ignore if that VM lives on "
                           "another host");
        }
    }
    if (!sc->listed) {
        vf_sc_line(sc, VF_SC_WARN, "groups",
                   "%u group%s, %u domain entr%s not checked: the backend "
                   "did not list its domains",
                   n_groups, n_groups == 1 ? "" : "s", n_entries, n_entries == 1 ? "y" : "ies");
        return;
    }
    if (unknown == 0) {
        vf_sc_line(sc, VF_SC_OK, "groups",
                   "%u group%s; each of the %u domain entr%s matches a "
                   "listed domain",
                   n_groups, n_groups == 1 ? "" : "s", n_entries, n_entries == 1 ? "y" : "ies");
    }
}
