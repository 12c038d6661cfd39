/*
 * vmfence - daemon/main.c: fence_virtd lifecycle.
 *
 * Options (compatible with fence-virt's fence_virtd, plus long forms and
 * --check-config), configuration loading and checking, the pid file,
 * daemonising with a readiness pipe (so that every start-up error is shown
 * on the terminal and reflected in the exit status), signals (SIGTERM/SIGINT
 * stop gracefully, SIGHUP reloads) and the main loop that watches the
 * listener threads.  Requests themselves are handled in pipeline.c.
 *
 * Under systemd (Type=notify, notify.c): READY=1 once every listener is
 * bound and the backend answered its monitor op (or, when it does not
 * answer within READY_BACKEND_WAIT_MS, with STATUS= saying so: the daemon
 * serves, and fails requests, rather than being restarted in a loop), STATUS=
 * lines, RELOADING=1 ... READY=1 around a SIGHUP reload, STOPPING=1.
 * --check (selfcheck.c) is the host self-test; only its dispatch is here.
 *
 * Configuration extension (several listeners in one daemon): besides the
 * reference form `listener = "multicast";`, the value may be a comma
 * separated list, e.g. `listener = "multicast,tcp";`: every named listener
 * is started, each reading its own listeners/<name> block, all sharing the
 * one backend and the groups.  A repeated `listener` key keeps the
 * reference meaning: the last one in the file wins.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "confcheck.h"
#include "config.h"
#include "configure.h"
#include "groups.h"
#include "io.h"
#include "listener.h"
#include "listeners/common.h"
#include "log.h"
#include "notify.h"
#include "pipeline.h"
#include "registry.h"
#include "selfcheck.h"

#ifndef VF_CONF_DEFAULT
#define VF_CONF_DEFAULT "/etc/fence_virt.conf"
#endif
#ifndef VF_MODULE_PATH
#define VF_MODULE_PATH "/usr/lib/vmfence"
#endif
#define VF_PIDFILE_DEFAULT "/run/fence_virtd.pid"
#define VF_MAX_LISTENER_NAMES 8
#define SHUTDOWN_DRAIN_MS 30000
#define RELOAD_DRAIN_MS 2000
#define READY_BACKEND_WAIT_MS 30000  /* READY=1 at the latest after this (systemd: 90 s) */
#define PROBE_DEADLINE_MS 2000       /* one monitor/list of the backend for STATUS= */
#define PROBE_RETRY_MS 1000          /* backend not answering: ask again after */
#define PROBE_REFRESH_MS 60000       /* STATUS= refresh while serving */

static const char *progname = "fence_virtd";

/* command line */
static struct {
    char *conf_path;
    const char *pid_path;
    int debug;              /* -1 = from the config */
    bool foreground;
    bool wait_init;
    bool list;
    bool configure;
    bool check;
    bool selfcheck;
} arg = { .debug = -1 };

/* what a configuration asks for */
struct runcfg {
    char listeners[VF_MAX_LISTENER_NAMES][32];
    size_t n_listeners;
    char backend[32];
    bool foreground;
    bool wait_init;
    int debug;
};

static struct vf_conf *cur_conf;
static struct runcfg cur_rc;
/* a running listener and the fingerprint of what it was started with */
struct lrun {
    char name[32];
    struct vf_listener_inst *li;
    char *fp;
    size_t fp_len;
};
static struct lrun cur_ls[VF_MAX_LISTENER_NAMES];
static size_t n_cur_ls;
static int pid_fd = -1;
static char *pid_path_abs;

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: %s [options]\n"
            "  -F, --foreground       do not fork into the background\n"
            "  -d, --debug LEVEL      debug level (overrides the config)\n"
            "  -f, --config FILE      configuration file (default %s)\n"
            "  -p, --pid-file FILE    pid file (default %s)\n"
            "  -w, --wait             wait for the backend to initialise\n"
            "  -l, --list             list the available plugins and exit\n"
            "  -c, --configure        interactive configuration\n"
            "      --check-config     check the configuration, groups and keys; exit 0/1\n"
            "      --check            host self-test: configuration, keys, listener ports,\n"
            "                         multicast interfaces, backend, groups; exit 0/1\n"
            "  -h, --help             this help\n"
            "  -V, --version          print the version\n",
            progname, VF_CONF_DEFAULT, VF_PIDFILE_DEFAULT);
}

/* ---- configuration --------------------------------------------------------- */

static bool
conf_flag(const struct vf_conf *conf, const char *path)
{
    const char *v = vf_conf_get(conf, path, NULL);

    if (v == NULL) {
        return false;
    }
    if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
        strcasecmp(v, "on") == 0) {
        return true;
    }
    return strtol(v, NULL, 10) != 0;
}

/*
 * Interpret the fence_virtd block.  Errors (one line each, "FILE:LINE: ...")
 * go to @diag; returns the number of errors.
 */
static int
read_runcfg(const struct vf_conf *conf, struct runcfg *rc, FILE *diag)
{
    const struct vf_conf_node *n = NULL;
    const char *v = NULL;
    char where[300];
    char buf[512];
    char *save = NULL;
    int errors = 0;

    memset(rc, 0, sizeof(*rc));
    n = vf_conf_key(conf, NULL, "fence_virtd/listener");
    if (n == NULL || n->value == NULL) {
        fprintf(diag, "%s: error: fence_virtd/listener is not set\n", conf->path);
        errors++;
    } else {
        vf_conf_where(conf, n, where, sizeof(where));
        snprintf(buf, sizeof(buf), "%s", n->value);
        for (char *tok = strtok_r(buf, ", \t", &save); tok != NULL;
             tok = strtok_r(NULL, ", \t", &save)) {
            bool dup = false;

            for (size_t i = 0; i < rc->n_listeners; i++) {
                dup = dup || strcasecmp(rc->listeners[i], tok) == 0;
            }
            if (dup) {
                fprintf(diag, "%s: error: listener '%s' named twice\n", where, tok);
                errors++;
                continue;
            }
            if (rc->n_listeners == VF_MAX_LISTENER_NAMES || strlen(tok) >= 32) {
                fprintf(diag, "%s: error: too many or too long listener names\n", where);
                errors++;
                break;
            }
            snprintf(rc->listeners[rc->n_listeners++], 32, "%s", tok);
            if (vf_registry_listener(tok) == NULL) {
                fprintf(diag, "%s: error: unknown listener '%s' (see %s -l)\n", where, tok,
                        progname);
                errors++;
            }
        }
        if (rc->n_listeners == 0 && errors == 0) {
            fprintf(diag, "%s: error: fence_virtd/listener is empty\n", where);
            errors++;
        }
    }
    n = vf_conf_key(conf, NULL, "fence_virtd/backend");
    if (n == NULL || n->value == NULL) {
        fprintf(diag, "%s: error: fence_virtd/backend is not set\n", conf->path);
        errors++;
    } else {
        snprintf(rc->backend, sizeof(rc->backend), "%s", n->value);
        if (vf_registry_backend(n->value) == NULL) {
            fprintf(diag, "%s: error: unknown backend '%s' (see %s -l)\n",
                    vf_conf_where(conf, n, where, sizeof(where)), n->value, progname);
            errors++;
        }
    }
    rc->foreground = conf_flag(conf, "fence_virtd/foreground");
    rc->wait_init = conf_flag(conf, "fence_virtd/wait_for_init") ||
                    conf_flag(conf, "fence_virtd/wait_for_backend");
    v = vf_conf_get(conf, "fence_virtd/debug", "0");
    rc->debug = (int)strtol(v, NULL, 10);
    return errors;
}

/*
 * Everything --check-config and a (re)load verify before touching the
 * running daemon: schema (confcheck), the fence_virtd block, the groups and
 * the network listeners' settings and key files.  Returns the error count;
 * @ret_groups receives the loaded groups on success (may be NULL).
 */
static int
check_conf(const struct vf_conf *conf, struct runcfg *rc, struct vf_groups **ret_groups,
           FILE *diag)
{
    struct vf_groups *groups = NULL;
    char err[1024];
    int errors = 0;

    char *cbuf = NULL;
    size_t clen = 0;
    FILE *mem = open_memstream(&cbuf, &clen);

    if (mem != NULL) {
        errors += vf_conf_check(conf, mem);
        fclose(mem);
        fputs(cbuf != NULL ? cbuf : "", diag);
    } else {
        errors += vf_conf_check(conf, diag);
    }
    errors += read_runcfg(conf, rc, diag);
    if (vf_groups_load(conf, &groups, err, sizeof(err)) < 0) {
        /* the schema check may already have reported this group: say it once */
        char prefix[320];
        const char *e = strstr(err, ": error:");

        snprintf(prefix, sizeof(prefix), "%.*s", e != NULL ? (int)(e - err) : 0, err);
        if (cbuf == NULL || prefix[0] == '\0' || strstr(cbuf, prefix) == NULL) {
            fprintf(diag, "%s\n", err);
            errors++;
        } else if (errors == 0) {
            errors++;
        }
    }
    free(cbuf);
    for (size_t i = 0; i < rc->n_listeners; i++) {
        struct vf_lsettings s;
        const char *l = rc->listeners[i];

        if (strcasecmp(l, "tcp") != 0 && strcasecmp(l, "multicast") != 0 &&
            strcasecmp(l, "vsock") != 0) {
            continue;   /* other listeners validate their own block at init */
        }
        if (vf_lsettings_read(conf, l, &s, err, sizeof(err)) < 0) {
            fprintf(diag, "%s\n", err);
            errors++;
        }
        vf_lsettings_done(&s);
    }
    if (errors > 0 || ret_groups == NULL) {
        vf_groups_free(groups);
    } else {
        *ret_groups = groups;
    }
    return errors;
}

/* Run check_conf with the diagnostics going to the log, line by line. */
static int
check_conf_logged(const struct vf_conf *conf, struct runcfg *rc, struct vf_groups **ret_groups)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    int errors = 0;
    char *save = NULL;

    if (mem == NULL) {
        return check_conf(conf, rc, ret_groups, stderr);
    }
    errors = check_conf(conf, rc, ret_groups, mem);
    fclose(mem);
    for (char *line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        vf_log(strstr(line, "error") != NULL ? LOG_ERR : LOG_WARNING, "%s", line);
    }
    free(buf);
    return errors;
}

static const char *
module_path_of(const struct vf_conf *conf)
{
    const char *mp = conf != NULL ? vf_conf_get(conf, "fence_virtd/module_path", NULL) : NULL;

    return mp != NULL ? mp : VF_MODULE_PATH;
}

/* ---- pid file ------------------------------------------------------------------ */

/* Lock the pid file (flock, so the lock survives fork) and write our pid. */
static int
pidfile_acquire(const char *path)
{
    char buf[32];
    ssize_t n = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

    if (fd < 0) {
        fprintf(stderr, "%s: cannot open pid file '%s': %s\n", progname, path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;

        if (e == EWOULDBLOCK) {
            n = pread(fd, buf, sizeof(buf) - 1, 0);
            buf[n > 0 ? n : 0] = '\0';
            buf[strcspn(buf, "\n")] = '\0';
            fprintf(stderr, "%s: already running as pid %s (pid file '%s' is locked); "
                    "use -p to run another instance\n", progname,
                    buf[0] != '\0' ? buf : "?", path);
        } else {
            fprintf(stderr, "%s: cannot lock pid file '%s': %s\n", progname, path, strerror(e));
        }
        close(fd);
        return -1;
    }
    pid_fd = fd;
    return 0;
}

static int
pidfile_write(void)
{
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

    if (ftruncate(pid_fd, 0) < 0 || pwrite(pid_fd, buf, (size_t)len, 0) != len) {
        fprintf(stderr, "%s: cannot write pid file '%s': %s\n", progname, pid_path_abs,
                strerror(errno));
        return -1;
    }
    return 0;
}

static void
pidfile_release(void)
{
    if (pid_fd >= 0) {
        (void)unlink(pid_path_abs);
        close(pid_fd);
        pid_fd = -1;
    }
}

static char *
absolute_path(const char *p)
{
    char cwd[PATH_MAX];
    char *out = NULL;

    if (p[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL) {
        return strdup(p);
    }
    if (asprintf(&out, "%s/%s", cwd, p) < 0) {
        return NULL;
    }
    return out;
}

/* ---- daemonising ------------------------------------------------------------- */

/*
 * Double fork with a readiness pipe: the original process waits until the
 * daemon reports that it is serving (exit 0) or dies during start-up
 * (exit 1).  Returns the write end of the pipe in the daemon.
 */
static int
daemonize(void)
{
    int pfd[2];
    pid_t pid;
    char c = 0;

    if (pipe2(pfd, O_CLOEXEC) < 0) {
        fprintf(stderr, "%s: pipe: %s\n", progname, strerror(errno));
        exit(1);
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", progname, strerror(errno));
        exit(1);
    }
    if (pid > 0) {
        ssize_t n = 0;

        close(pfd[1]);
        (void)waitpid(pid, NULL, 0);
        do {
            n = read(pfd[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        _exit(n == 1 && c == 'R' ? 0 : 1);
    }
    close(pfd[0]);
    if (setsid() < 0) {
        _exit(1);
    }
    pid = fork();
    if (pid < 0) {
        _exit(1);
    }
    if (pid > 0) {
        _exit(0);
    }
    if (chdir("/") < 0) {
        _exit(1);
    }
    umask(022);
    return pfd[1];
}

static void
detach_stdio(int ready_fd)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (ready_fd >= 0) {
        (void)!write(ready_fd, "R", 1);
        close(ready_fd);
    }
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) {
            close(fd);
        }
    }
}

/* ---- start / stop -------------------------------------------------------------- */

static int
backend_start(const struct vf_conf *conf, const char *name, bool wait_init,
              const sigset_t *sigs, struct vf_backend_inst **ret_be)
{
    const struct vf_backend_ops *ops = vf_registry_backend(name);
    void *priv = NULL;
    char err[1024];
    bool logged = false;
    int r = 0;

    for (;;) {
        err[0] = '\0';
        r = ops->init(vf_registry_host(name), conf, &priv, err, sizeof(err));
        if (r == 0) {
            break;
        }
        if (!wait_init) {
            vf_log(LOG_ERR, "backend '%s': %s", name,
                   err[0] != '\0' ? err : strerror(-r));
            return r;
        }
        if (!logged) {
            vf_log(LOG_WARNING, "backend '%s': %s; waiting for it (-w)", name,
                   err[0] != '\0' ? err : strerror(-r));
            vf_notify_status("backend '%s' not initialised (%s), waiting (-w)", name,
                             err[0] != '\0' ? err : strerror(-r));
            logged = true;
        }
        if (sigs != NULL) {
            struct timespec ts = { .tv_sec = 1 };
            int sig = sigtimedwait(sigs, NULL, &ts);

            if (sig == SIGTERM || sig == SIGINT) {
                return -EINTR;
            }
        } else {
            sleep(1);
        }
    }
    *ret_be = vf_backend_inst_new(ops, priv);
    if (*ret_be == NULL) {
        ops->fini(priv);
        return -ENOMEM;
    }
    return 0;
}

static void
fp_nodes(FILE *f, const struct vf_conf_node *n)
{
    for (; n != NULL; n = n->next) {
        fprintf(f, "%s=%s;", n->name, n->value != NULL ? n->value : "");
        if (n->is_block) {
            fputc('{', f);
            fp_nodes(f, n->children);
            fputc('}', f);
        }
    }
}

/*
 * What a listener instance depends on: its listeners/<name> block and the
 * content of its key file.  A reload keeps instances whose fingerprint did
 * not change running, so their clients see no gap.
 */
static char *
listener_fingerprint(const struct vf_conf *conf, const char *name, size_t *ret_len)
{
    char path[128];
    char *buf = NULL;
    FILE *f = open_memstream(&buf, ret_len);
    const struct vf_conf_node *blk = NULL;
    const char *key = NULL;
    uint8_t kbuf[VF_MAX_KEY_LEN];
    ssize_t n = 0;
    int fd = -1;

    if (f == NULL) {
        return NULL;
    }
    snprintf(path, sizeof(path), "listeners/%s", name);
    blk = vf_conf_block(conf, NULL, path);
    fprintf(f, "%s:", name);
    if (blk != NULL) {
        fp_nodes(f, blk->children);
    }
    snprintf(path, sizeof(path), "listeners/%s/key_file", name);
    key = vf_conf_get(conf, path, VF_DEFAULT_KEY_FILE);
    fd = open(key, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        n = read(fd, kbuf, sizeof(kbuf));
        close(fd);
    }
    fprintf(f, "|key:%zd:", n);
    if (n > 0) {
        fwrite(kbuf, 1, (size_t)n, f);
    }
    memset(kbuf, 0, sizeof(kbuf));
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void
lrun_done(struct lrun *l, int drain_ms)
{
    vf_listener_stop(l->li, drain_ms);
    free(l->fp);
    memset(l, 0, sizeof(*l));
}

static void
listeners_stop_all(int drain_ms)
{
    for (size_t i = 0; i < n_cur_ls; i++) {
        vf_listener_request_stop(cur_ls[i].li);
    }
    for (size_t i = 0; i < n_cur_ls; i++) {
        lrun_done(&cur_ls[i], drain_ms);
    }
    n_cur_ls = 0;
}

/* Start one listener into @l (name already set). */
static int
lrun_start(struct lrun *l, const struct vf_conf *conf)
{
    const struct vf_listener_ops *ops = vf_registry_listener(l->name);
    char err[1024];
    int r = 0;

    err[0] = '\0';
    if (ops == NULL) {
        vf_log(LOG_ERR, "unknown listener '%s'", l->name);
        return -ENOENT;
    }
    r = vf_listener_start(ops, conf, &l->li, err, sizeof(err));
    if (r < 0) {
        vf_log(LOG_ERR, "%s", err);
        l->li = NULL;
        return r;
    }
    free(l->fp);
    l->fp = listener_fingerprint(conf, l->name, &l->fp_len);
    return 0;
}

static int
listeners_start_all(const struct vf_conf *conf, const struct runcfg *rc)
{
    for (size_t i = 0; i < rc->n_listeners; i++) {
        struct lrun *l = &cur_ls[n_cur_ls];
        int r = 0;

        memset(l, 0, sizeof(*l));
        snprintf(l->name, sizeof(l->name), "%s", rc->listeners[i]);
        r = lrun_start(l, conf);
        if (r < 0) {
            listeners_stop_all(RELOAD_DRAIN_MS);
            return r;
        }
        n_cur_ls++;
    }
    return 0;
}

/*
 * Reload the listeners: unchanged ones keep running, changed ones are
 * restarted with their new settings (requests they already handed over
 * finish undisturbed), removed ones stop, new ones start.  A listener whose
 * new settings fail to start is restarted with its previous settings.
 */
static void
listeners_reload(const struct vf_conf *conf, const struct runcfg *rc)
{
    struct lrun next[VF_MAX_LISTENER_NAMES];
    bool kept[VF_MAX_LISTENER_NAMES] = { false };
    size_t n_next = 0;
    size_t n_final = 0;

    memset(next, 0, sizeof(next));
    for (size_t i = 0; i < rc->n_listeners; i++) {
        struct lrun *l = &next[n_next++];

        snprintf(l->name, sizeof(l->name), "%s", rc->listeners[i]);
        l->fp = listener_fingerprint(conf, l->name, &l->fp_len);
        for (size_t j = 0; j < n_cur_ls; j++) {
            if (!kept[j] && strcasecmp(cur_ls[j].name, l->name) == 0 && l->fp != NULL &&
                cur_ls[j].fp != NULL && cur_ls[j].fp_len == l->fp_len &&
                memcmp(cur_ls[j].fp, l->fp, l->fp_len) == 0) {
                kept[j] = true;
                free(l->fp);
                *l = cur_ls[j];
                vf_dbg(1, "reload: listener '%s' unchanged, kept running", l->name);
                break;
            }
        }
    }
    for (size_t j = 0; j < n_cur_ls; j++) {
        if (!kept[j]) {
            vf_listener_request_stop(cur_ls[j].li);
        }
    }
    for (size_t j = 0; j < n_cur_ls; j++) {
        if (!kept[j]) {
            lrun_done(&cur_ls[j], RELOAD_DRAIN_MS);
        }
    }
    for (size_t k = 0; k < n_next; k++) {
        if (next[k].li != NULL) {
            continue;
        }
        if (lrun_start(&next[k], conf) == 0) {
            vf_log(LOG_INFO, "reload: listener '%s' restarted with its new settings",
                   next[k].name);
            continue;
        }
        for (size_t i = 0; i < cur_rc.n_listeners; i++) {
            if (strcasecmp(cur_rc.listeners[i], next[k].name) == 0 &&
                lrun_start(&next[k], cur_conf) == 0) {
                vf_log(LOG_ERR, "reload: listener '%s' keeps its previous settings",
                       next[k].name);
                break;
            }
        }
        if (next[k].li == NULL) {
            vf_log(LOG_ERR, "reload: listener '%s' is not running", next[k].name);
        }
    }
    for (size_t k = 0; k < n_next; k++) {
        if (next[k].li != NULL) {
            cur_ls[n_final++] = next[k];
        } else {
            free(next[k].fp);
        }
    }
    n_cur_ls = n_final;
}

/*
 * SIGHUP: new configuration for new requests, or keep the old one.
 * Returns -1 when no listener is left running: the caller then stops the
 * daemon the normal way (running requests drain), never exit() under the
 * feet of the worker threads.
 */
static char reload_err[512];

static int
reload(void)
{
    struct vf_conf *conf = NULL;
    struct runcfg rc;
    struct vf_groups *groups = NULL;
    struct vf_backend_inst *old_be = NULL;
    struct vf_backend_inst *new_be = NULL;
    const struct vf_backend_ops *old_ops = NULL;
    char err[1024];
    int r = 0;

    vf_log(LOG_NOTICE, "SIGHUP: reloading '%s'", arg.conf_path);
    reload_err[0] = '\0';
    r = vf_conf_parse_file(arg.conf_path, &conf, err, sizeof(err));
    if (r < 0) {
        vf_log(LOG_ERR, "reload: %s; keeping the running configuration", err);
        snprintf(reload_err, sizeof(reload_err), "%s", err);
        return 0;
    }
    if (check_conf_logged(conf, &rc, &groups) > 0) {
        vf_log(LOG_ERR, "reload: '%s' has errors; keeping the running configuration",
               arg.conf_path);
        snprintf(reload_err, sizeof(reload_err), "'%s' has errors (see the log or "
                 "fence_virtd --check-config)", arg.conf_path);
        vf_conf_free(conf);
        return 0;
    }
    old_be = vf_pipeline_get_backend();
    old_ops = vf_backend_inst_ops(old_be);
    if (old_ops != NULL && strcasecmp(old_ops->name, rc.backend) == 0 &&
        old_ops->reload != NULL) {
        err[0] = '\0';
        r = old_ops->reload(vf_backend_inst_priv(old_be), conf, err, sizeof(err));
        if (r < 0) {
            vf_log(LOG_ERR, "reload: backend '%s': %s; keeping the running configuration",
                   rc.backend, err[0] != '\0' ? err : strerror(-r));
            snprintf(reload_err, sizeof(reload_err), "backend '%s': %s", rc.backend,
                     err[0] != '\0' ? err : strerror(-r));
            goto fail;
        }
        new_be = old_be;
        old_be = NULL;
    } else {
        r = backend_start(conf, rc.backend, false, NULL, &new_be);
        if (r < 0) {
            vf_log(LOG_ERR, "reload: backend '%s' failed; keeping the running configuration",
                   rc.backend);
            snprintf(reload_err, sizeof(reload_err), "backend '%s' failed to start",
                     rc.backend);
            goto fail;
        }
    }
    if (arg.debug < 0) {
        vf_log_set_debug(rc.debug);
    }
    /* new requests use the new groups and backend from here on */
    r = vf_pipeline_set_config(groups, new_be);
    groups = NULL;
    vf_backend_inst_unref(new_be);
    vf_backend_inst_unref(old_be);
    old_be = NULL;
    if (r < 0) {
        vf_log(LOG_ERR, "reload: out of memory");
    }
    listeners_reload(conf, &rc);
    vf_conf_free(cur_conf);
    cur_conf = conf;
    cur_rc = rc;
    if (n_cur_ls == 0) {
        vf_log(LOG_CRIT, "reload: no listener is running; stopping (waiting up to %d s "
               "for running requests)", SHUTDOWN_DRAIN_MS / 1000);
        return -1;
    }
    vf_log(LOG_NOTICE, "reload complete");
    return 0;
fail:
    vf_groups_free(groups);
    vf_backend_inst_unref(old_be);
    vf_conf_free(conf);
    return 0;
}

/* ---- main ------------------------------------------------------------------------ */

static int
parse_args(int argc, char **argv)
{
    enum { OPT_CHECK = 256, OPT_SELFCHECK };
    static const struct option longopts[] = {
        { "foreground", no_argument, NULL, 'F' },
        { "debug", required_argument, NULL, 'd' },
        { "config", required_argument, NULL, 'f' },
        { "pid-file", required_argument, NULL, 'p' },
        { "pidfile", required_argument, NULL, 'p' },
        { "wait", no_argument, NULL, 'w' },
        { "list", no_argument, NULL, 'l' },
        { "configure", no_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, OPT_CHECK },
        { "check", no_argument, NULL, OPT_SELFCHECK },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *conf = VF_CONF_DEFAULT;
    int c = 0;

    arg.pid_path = VF_PIDFILE_DEFAULT;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":Fd:f:p:wlchV", longopts, NULL)) != -1) {
        char *end = NULL;
        long v = 0;

        switch (c) {
        case 'F':
            arg.foreground = true;
            break;
        case 'd':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || v < 0 || v > 99) {
                fprintf(stderr, "%s: invalid debug level '%s'\n", progname, optarg);
                exit(1);
            }
            arg.debug = (int)v;
            break;
        case 'f':
            conf = optarg;
            break;
        case 'p':
            arg.pid_path = optarg;
            break;
        case 'w':
            arg.wait_init = true;
            break;
        case 'l':
            arg.list = true;
            break;
        case 'c':
            arg.configure = true;
            break;
        case OPT_CHECK:
            arg.check = true;
            break;
        case OPT_SELFCHECK:
            arg.selfcheck = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("%s %s (vmfence)\n", progname, PACKAGE_VERSION);
            exit(0);
        case ':':
            fprintf(stderr, "%s: option '%s' needs a value (see -h)\n", progname,
                    argv[optind - 1]);
            exit(1);
        default:
            fprintf(stderr, "%s: unknown option '%s' (see -h)\n", progname,
                    argv[optind - 1]);
            exit(1);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (see -h)\n", progname, argv[optind]);
        exit(1);
    }
    arg.conf_path = absolute_path(conf);
    pid_path_abs = absolute_path(arg.pid_path);
    if (arg.conf_path == NULL || pid_path_abs == NULL) {
        fprintf(stderr, "%s: out of memory\n", progname);
        exit(1);
    }
    return 0;
}

static int
do_list(void)
{
    struct vf_conf *conf = NULL;
    char err[512];
    char *desc = NULL;

    (void)vf_conf_parse_file(arg.conf_path, &conf, err, sizeof(err));
    vf_registry_init(module_path_of(conf));
    desc = vf_registry_describe();
    if (desc != NULL) {
        fputs(desc, stdout);
    }
    free(desc);
    vf_conf_free(conf);
    vf_registry_fini();
    return 0;
}

static int
do_configure(void)
{
    struct vf_conf *conf = NULL;
    char err[512];
    char *desc = NULL;
    int r = 0;

    (void)vf_conf_parse_file(arg.conf_path, &conf, err, sizeof(err));
    vf_registry_init(module_path_of(conf));
    vf_conf_free(conf);
    desc = vf_registry_describe();
    r = vf_configure_interactive(arg.conf_path, desc, stdin, stdout);
    free(desc);
    vf_registry_fini();
    if (r < 0) {
        fprintf(stderr, "%s: configuration failed: %s\n", progname, strerror(-r));
    }
    return r == 0 ? 0 : 1;
}

static int
do_check(void)
{
    struct vf_conf *conf = NULL;
    struct runcfg rc;
    char err[1024];
    int errors = 0;

    if (vf_conf_parse_file(arg.conf_path, &conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    vf_registry_init(module_path_of(conf));
    errors = check_conf(conf, &rc, NULL, stderr);
    vf_conf_free(conf);
    vf_registry_fini();
    if (errors > 0) {
        fprintf(stderr, "%s: '%s': %d error%s\n", progname, arg.conf_path, errors,
                errors == 1 ? "" : "s");
        return 1;
    }
    printf("%s: '%s': configuration OK\n", progname, arg.conf_path);
    return 0;
}

/* "multicast,tcp" */
static void
listener_names(const struct runcfg *rc, char *out, size_t len)
{
    out[0] = '\0';
    for (size_t i = 0; i < rc->n_listeners; i++) {
        size_t l = strlen(out);

        snprintf(out + l, len - l, "%s%s", i > 0 ? "," : "", rc->listeners[i]);
    }
}

static int
count_domain(void *p, const struct vf_domain_info *dom)
{
    (void)dom;
    (*(unsigned int *)p)++;
    return 0;
}

/*
 * Ask the backend (monitor, then list) with a short deadline and describe
 * the daemon for STATUS=: "serving multicast,tcp; libvirt: 3 domains".
 * Returns 0 when the backend answered.  Called from the main thread only.
 */
static int
backend_probe(char *status, size_t len)
{
    struct vf_backend_inst *be = vf_pipeline_get_backend();
    const struct vf_backend_ops *ops = vf_backend_inst_ops(be);
    void *priv = vf_backend_inst_priv(be);
    int64_t deadline = vf_now_ms() + PROBE_DEADLINE_MS;
    char names[VF_MAX_LISTENER_NAMES * 33];
    unsigned int n = 0;
    int r = -EHOSTDOWN;

    listener_names(&cur_rc, names, sizeof(names));
    if (ops != NULL) {
        r = ops->monitor != NULL ? ops->monitor(priv, deadline) : 0;
        if (r == 0) {
            r = ops->list(priv, count_domain, &n, deadline);
        }
    }
    if (r == 0) {
        snprintf(status, len, "serving %s; %s: %u domain%s", names, cur_rc.backend, n,
                 n == 1 ? "" : "s");
    } else {
        snprintf(status, len, "serving %s; backend %s unreachable (%s), retrying", names,
                 cur_rc.backend, strerror(-r));
    }
    vf_backend_inst_unref(be);
    return r;
}

/* Readiness and STATUS= for the service manager (nothing without NOTIFY_SOCKET). */
static struct {
    bool ready;
    int64_t ready_by;       /* READY=1 at the latest then */
    int64_t next_probe;
} nst;

static void
notify_tick(bool force)
{
    char status[600];
    int64_t now = vf_now_ms();
    int r = 0;

    if (!vf_notify_enabled() || (!force && now < nst.next_probe)) {
        return;
    }
    r = backend_probe(status, sizeof(status));
    if (r == 0 || now >= nst.ready_by) {
        if (!nst.ready) {
            if (r < 0) {
                vf_log(LOG_WARNING, "backend '%s' did not answer within %d s; telling the "
                       "service manager we are ready anyway (requests fail until it "
                       "answers)", cur_rc.backend, READY_BACKEND_WAIT_MS / 1000);
            }
            vf_notify_ready(status);
            nst.ready = true;
        } else {
            vf_notify_status("%s", status);
        }
    } else {
        vf_notify_status("%s", status);
    }
    nst.next_probe = vf_now_ms() + (r == 0 ? PROBE_REFRESH_MS :
                                    nst.ready ? 5 * PROBE_RETRY_MS : PROBE_RETRY_MS);
}

/* --check: the host self-test (selfcheck.c), fed with the --check-config result. */
static int
do_selfcheck(void)
{
    struct vf_selfcheck_in in;
    struct vf_conf *conf = NULL;
    struct runcfg rc;
    char err[1024] = "";
    char *diag = NULL;
    size_t dlen = 0;
    FILE *mem = NULL;
    int r = 0;

    /* the report is the output: log lines (a backend's, a key's mode) only
     * on stderr, never in syslog */
    vf_log_init(progname, VF_LOG_STDERR, arg.debug > 0 ? arg.debug : 0);
    memset(&in, 0, sizeof(in));
    memset(&rc, 0, sizeof(rc));
    in.conf_path = arg.conf_path;
    in.pid_path = pid_path_abs;
    in.pid_path_given = arg.pid_path != NULL && strcmp(arg.pid_path, VF_PIDFILE_DEFAULT) != 0;
    if (vf_conf_parse_file(arg.conf_path, &conf, err, sizeof(err)) < 0) {
        in.parse_error = err;
        return vf_selfcheck_run(&in, stdout);
    }
    vf_registry_init(module_path_of(conf));
    mem = open_memstream(&diag, &dlen);
    if (mem == NULL) {
        fprintf(stderr, "%s: out of memory\n", progname);
        r = 1;
        goto out;
    }
    in.conf = conf;
    in.conf_errors = check_conf(conf, &rc, NULL, mem);
    fclose(mem);
    in.conf_diag = diag;
    for (size_t i = 0; i < rc.n_listeners; i++) {
        in.listeners[i] = rc.listeners[i];
    }
    in.n_listeners = rc.n_listeners;
    in.backend = rc.backend[0] != '\0' ? rc.backend : NULL;
    r = vf_selfcheck_run(&in, stdout);
out:
    free(diag);
    vf_conf_free(conf);
    vf_registry_fini();
    return r;
}

int
main(int argc, char **argv)
{
    struct vf_groups *groups = NULL;
    struct vf_backend_inst *be = NULL;
    sigset_t sigs;
    char err[1024];
    int ready_fd = -1;
    int exit_code = 0;
    bool foreground = false;
    int debug = 0;

    parse_args(argc, argv);
    vf_log_init(progname, VF_LOG_STDERR | VF_LOG_SYSLOG, arg.debug > 0 ? arg.debug : 0);

    if (arg.selfcheck) {
        exit_code = do_selfcheck();
        free(arg.conf_path);
        free(pid_path_abs);
        return exit_code;
    }
    if (arg.list || arg.configure || arg.check) {
        exit_code = arg.list ? do_list() : arg.configure ? do_configure() : do_check();
        free(arg.conf_path);
        free(pid_path_abs);
        return exit_code;
    }

    /*
     * Signals are taken synchronously by the main loop; every thread inherits
     * the mask, so it is set before anything may start one (a module's
     * constructor when the registry dlopen()s it, NSS, the backend): a thread
     * with SIGTERM unblocked would let it kill the daemon without draining.
     */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (vf_conf_parse_file(arg.conf_path, &cur_conf, err, sizeof(err)) < 0) {
        vf_log(LOG_ERR, "%s", err);
        exit_code = 1;
        goto out;
    }
    vf_registry_init(module_path_of(cur_conf));
    if (check_conf(cur_conf, &cur_rc, &groups, stderr) > 0) {
        vf_log(LOG_ERR, "'%s' has errors; not starting", arg.conf_path);
        exit_code = 1;
        goto out;
    }
    foreground = arg.foreground || cur_rc.foreground;
    debug = arg.debug >= 0 ? arg.debug : cur_rc.debug;
    vf_log_set_debug(debug);

    if (!foreground) {
        ready_fd = daemonize();
    }
    if (pidfile_acquire(pid_path_abs) < 0 || pidfile_write() < 0) {
        exit_code = 1;
        goto out;
    }
    if (vf_auth_init() < 0) {
        vf_log(LOG_ERR, "cannot initialise the crypto library");
        exit_code = 1;
        goto out;
    }
    if (vf_pipeline_init() < 0) {
        vf_log(LOG_ERR, "out of memory");
        exit_code = 1;
        goto out;
    }
    {
        int r = backend_start(cur_conf, cur_rc.backend, arg.wait_init || cur_rc.wait_init,
                              &sigs, &be);

        if (r < 0) {
            /* stopped by SIGTERM/SIGINT while waiting (-w): a normal stop */
            exit_code = r == -EINTR ? 0 : 1;
            goto out_pipeline;
        }
    }
    vf_pipeline_set_config(groups, be);
    groups = NULL;
    vf_backend_inst_unref(be);
    be = NULL;
    if (listeners_start_all(cur_conf, &cur_rc) < 0) {
        exit_code = 1;
        goto out_pipeline;
    }
    {
        char names[VF_MAX_LISTENER_NAMES * 33] = "";

        listener_names(&cur_rc, names, sizeof(names));
        vf_log(LOG_NOTICE, "%s %s started (pid %ld): listeners '%s', backend '%s'",
               progname, PACKAGE_VERSION, (long)getpid(), names, cur_rc.backend);
    }
    /* every listener is bound: READY=1 as soon as the backend answers */
    nst.ready_by = vf_now_ms() + READY_BACKEND_WAIT_MS;
    notify_tick(true);
    if (!foreground) {
        vf_log_init(progname, VF_LOG_SYSLOG, debug);
        detach_stdio(ready_fd);
        ready_fd = -1;
    }

    for (;;) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 500 * 1000 * 1000 };
        int sig = sigtimedwait(&sigs, NULL, &ts);
        bool failed = false;

        if (sig == SIGTERM || sig == SIGINT) {
            vf_log(LOG_NOTICE, "%s: stopping (waiting up to %d s for running requests)",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT", SHUTDOWN_DRAIN_MS / 1000);
            break;
        }
        if (sig == SIGHUP) {
            vf_notify_reloading();
            if (reload() < 0) {
                exit_code = 1;
                break;
            }
            if (reload_err[0] != '\0') {
                char names[VF_MAX_LISTENER_NAMES * 33];

                listener_names(&cur_rc, names, sizeof(names));
                (void)vf_notify("READY=1\nSTATUS=reload failed: %s; serving %s with the "
                                "previous configuration", reload_err, names);
                nst.ready = true;
                nst.next_probe = vf_now_ms() + PROBE_REFRESH_MS;
            } else {
                /* READY=1 again with the new status (the backend may be new) */
                nst.ready = false;
                nst.ready_by = vf_now_ms();
                notify_tick(true);
            }
            continue;
        }
        notify_tick(false);
        for (size_t i = 0; i < n_cur_ls; i++) {
            failed = failed || vf_listener_failed(cur_ls[i].li);
        }
        if (failed) {
            vf_log(LOG_ERR, "a listener failed; exiting");
            exit_code = 1;
            break;
        }
    }
    vf_notify_stopping();

    {
        int64_t deadline = vf_now_ms() + SHUTDOWN_DRAIN_MS;
        unsigned int left = 0;

        vf_pipeline_stop();
        listeners_stop_all(SHUTDOWN_DRAIN_MS);
        left = vf_pipeline_drain(vf_ms_left(deadline));
        if (left > 0) {
            vf_log(LOG_WARNING, "exiting with %u request%s still running", left,
                   left == 1 ? "" : "s");
            /* their threads may still use the configuration: do not free it */
            pidfile_release();
            _exit(exit_code);
        }
    }
out_pipeline:
    vf_pipeline_fini();
out:
    vf_groups_free(groups);
    if (exit_code == 0) {
        vf_log(LOG_NOTICE, "%s stopped", progname);
    }
    pidfile_release();
    vf_conf_free(cur_conf);
    vf_registry_fini();
    free(arg.conf_path);
    free(pid_path_abs);
    return exit_code;
}
