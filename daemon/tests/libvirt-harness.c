/*
 * vmfence - daemon/tests/libvirt-harness.c: drive the libvirt backend from a
 * shell test (tests/interop/libvirtd-restart.sh).
 *
 * Usage: libvirt-harness CONFIG_FILE
 * Reads one command per line on stdin and answers one line on stdout:
 *   status NAME [TIMEOUT_MS]   -> "status rc=R on=0|1 ms=T"
 *   off|on|reboot NAME [TIMEOUT_MS] -> "off rc=R ms=T"
 *   monitor [TIMEOUT_MS]       -> "monitor rc=R ms=T"
 *   list [TIMEOUT_MS]          -> "list rc=R n=N names=a,b,..."
 *   quit
 * R is the backend's return value (0 or a negative errno, e.g. -112 for
 * -EHOSTDOWN), T the wall time the call took in milliseconds.  The backend
 * instance lives for the whole run, so a test can kill and restart
 * libvirtd underneath it and watch it recover without a restart.
 *
 * The backend's status cache (libvirt-cache.c) is turned off here: the
 * shell test pins what the bounded calls guarantee against a hung or dead
 * libvirtd (a status right after SIGSTOP must time out at its deadline,
 * which a status answered from events less than a second old would not).
 * The cache itself is tested by daemon/tests/test-libvirt-events.c, and by the
 * same shell test's fence_virtd part (libvirtd killed: status fails).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conftree.h"
#include "io.h"
#include "log.h"
#include "plugin.h"
#include "backends/libvirt-int.h"

extern const struct vf_plugin vf_plugin_libvirt;

struct names {
    char buf[4096];
    size_t len;
    int n;
};

static int
name_cb(void *arg, const struct vf_domain_info *dom)
{
    struct names *nm = arg;
    int w;

    if (nm->len < sizeof(nm->buf)) {
        w = snprintf(nm->buf + nm->len, sizeof(nm->buf) - nm->len, "%s%s",
                     nm->n > 0 ? "," : "", dom->name);
        if (w > 0) {
            nm->len += (size_t)w;
        }
    }
    nm->n++;
    return 0;
}

int
main(int argc, char **argv)
{
    const struct vf_backend_ops *ops = vf_plugin_libvirt.backend;
    struct vf_conf *conf = NULL;
    char err[1024], line[512], cmd[32], name[256];
    void *priv = NULL;
    long tmo;
    int r, n;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CONFIG_FILE\n", argv[0]);
        return 2;
    }
    /* as fence_virtd does before any backend starts: libvirt writes its
     * sockets with write(), so a reconnect racing a dying libvirtd raises
     * SIGPIPE, which would kill this process (the test saw that as a flaky
     * "TIMEOUT" for every request after "libvirtd killed") */
    signal(SIGPIPE, SIG_IGN);
    vf_log_init("libvirt-harness", VF_LOG_STDERR,
                getenv("VF_TEST_DEBUG") != NULL ? 9 : 0);
    if (vf_conf_parse_file(argv[1], &conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    r = ops->init(NULL, conf, &priv, err, sizeof(err));  /* libvirt uses no host API */
    if (r == 0) {
        ((struct lv_backend *)priv)->cache_fresh_ms = 0;    /* see the top comment */
    }
    vf_conf_free(conf);
    if (r < 0) {
        fprintf(stderr, "init: %s\n", err);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin) != NULL) {
        int64_t t0 = vf_now_ms();
        bool on = false;

        name[0] = '\0';
        tmo = 10000;
        n = sscanf(line, "%31s %255s %ld", cmd, name, &tmo);
        if (n < 1) {
            continue;
        }
        if (strcmp(cmd, "quit") == 0) {
            break;
        } else if (strcmp(cmd, "monitor") == 0 || strcmp(cmd, "list") == 0) {
            struct names nm = { .len = 0, .n = 0 };

            if (n >= 2) {
                tmo = strtol(name, NULL, 10);
            }
            nm.buf[0] = '\0';
            if (cmd[0] == 'm') {
                r = ops->monitor(priv, vf_now_ms() + tmo);
                printf("monitor rc=%d ms=%lld\n", r, (long long)(vf_now_ms() - t0));
            } else {
                r = ops->list(priv, name_cb, &nm, vf_now_ms() + tmo);
                printf("list rc=%d n=%d names=%s ms=%lld\n", r, nm.n, nm.buf,
                       (long long)(vf_now_ms() - t0));
            }
        } else if (n >= 2 && strcmp(cmd, "status") == 0) {
            r = ops->status(priv, name, 0, &on, vf_now_ms() + tmo);
            printf("status rc=%d on=%d ms=%lld\n", r, on ? 1 : 0,
                   (long long)(vf_now_ms() - t0));
        } else if (n >= 2 && (strcmp(cmd, "off") == 0 || strcmp(cmd, "on") == 0 ||
                              strcmp(cmd, "reboot") == 0)) {
            int64_t deadline = vf_now_ms() + tmo;

            if (strcmp(cmd, "off") == 0) {
                r = ops->off(priv, name, 0, deadline);
            } else if (strcmp(cmd, "on") == 0) {
                r = ops->on(priv, name, 0, deadline);
            } else {
                r = ops->reboot(priv, name, 0, deadline);
            }
            printf("%s rc=%d ms=%lld\n", cmd, r, (long long)(vf_now_ms() - t0));
        } else {
            printf("error unknown command\n");
        }
        fflush(stdout);
    }
    ops->fini(priv);
    return 0;
}
