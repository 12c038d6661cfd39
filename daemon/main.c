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
 * Privilege separation (privsep/privsep.h, `privsep = "yes";` turns it on;
 * off by default until a reload can keep the network process, see
 * fence_virtd(8)): this process stays root as the executor and main PID (pid
 * file, signals, sd_notify, backend); it re-executes itself as the network
 * process (--privsep-net, hidden), which reads the configuration text it is
 * handed, binds its listeners and reads its keys as root, then enters its
 * sandbox.  SIGHUP: this process re-reads and checks the configuration and
 * key files, reloads the backend and its groups, and replaces the network
 * process by one started with the new configuration (its in-flight
 * requests drain first: a brief gap for new connections).  Either process
 * exits non-zero as soon as the other is gone.
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <stdatomic.h>
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
#include "privsep/privsep.h"
#include "registry.h"
#include "selfcheck.h"
#include "timeutil.h"

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
    const char *ps_net;     /* --privsep-net=SOCKFD,CONFFD[,OLDCONFFD] */
} arg = { .debug = -1 };

/* what a configuration asks for */
struct runcfg {
    char listeners[VF_MAX_LISTENER_NAMES][32];
    size_t n_listeners;
    char backend[32];
    bool foreground;
    bool wait_init;
    int debug;
    bool privsep;
    char ps_user[64];       /* "" = vmfence, else nobody */
    char ps_chroot[512];
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
static sigset_t main_sigs;      /* taken synchronously by the main loop */
static bool ps_on;              /* running split (privsep) */
static bool ps_detached;        /* stdio is /dev/null already */

#define PS_CONF_MAX (4 << 20)        /* configuration text handed to the network process */
#define PS_START_WAIT_MS 60000       /* network process: listeners bound, sandbox entered */
#define PS_EXIT_NO_LISTENER 3        /* network process: no listener could start */

/* The privileged side's view of its network process. */
static struct {
    pid_t pid;                  /* 0: none */
    struct vf_ps_exec *ex;
    atomic_bool ready;          /* READY received */
    atomic_bool eof;            /* its socketpair ended */
    bool expected;              /* we stopped it (reload, shutdown) */
    int status;                 /* its wait status once reaped */
    char *conf_text;            /* the configuration it runs */
    size_t conf_len;
} psn;

/* true when this configuration runs split (privsep on, no serial listener) */
static bool
privsep_wanted(const struct runcfg *rc, bool log_why)
{
    if (!rc->privsep) {
        return false;
    }
    for (size_t i = 0; i < rc->n_listeners; i++) {
        if (strcasecmp(rc->listeners[i], "serial") == 0) {
            if (log_why) {
                vf_log(LOG_WARNING, "privsep: the serial listener needs the privileged "
                       "process (per-VM sockets); running without privilege separation");
            }
            return false;
        }
    }
    return true;
}


static int psn_start(const char *text, size_t len, const char *old_text, size_t old_len,
                     struct vf_groups *groups, const sigset_t *sigs);
static void psn_stop(int drain_ms);
static struct vf_groups *exec_groups(const struct vf_conf *conf);
static int read_file_text(const char *path, char **ret_text, size_t *ret_len);

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
    /* opt-in for now: a reload still replaces the network process, which
     * --check and the unchanged-listener guarantee do not expect yet */
    v = vf_conf_get(conf, "fence_virtd/privsep", "no");
    rc->privsep = !(strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
                    strcasecmp(v, "off") == 0 || strcmp(v, "0") == 0);
    snprintf(rc->ps_user, sizeof(rc->ps_user), "%s",
             vf_conf_get(conf, "fence_virtd/privsep_user", ""));
    snprintf(rc->ps_chroot, sizeof(rc->ps_chroot), "%s",
             vf_conf_get(conf, "fence_virtd/privsep_chroot", VF_PS_CHROOT_DEFAULT));
    if (rc->ps_chroot[0] != '/') {
        n = vf_conf_key(conf, NULL, "fence_virtd/privsep_chroot");
        fprintf(diag, "%s: error: privsep_chroot = '%s' is not an absolute path\n",
                n != NULL ? vf_conf_where(conf, n, where, sizeof(where)) : conf->path,
                rc->ps_chroot);
        errors++;
    }
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
static char *ps_text;           /* reload: the configuration text being applied */
static bool ps_reload_failed;   /* reload: no network process could start */
static size_t ps_len;

/*
 * Replace the network process by one running @conf (the text in ps_text),
 * after the old one drained its requests.  A listener that fails with its
 * new settings keeps its previous ones (the old text goes along).  Returns
 * 0, or -1 when no network process could be started.
 */
static int
reload_network(const struct vf_conf *conf, const struct runcfg *rc)
{
    int r = 0;

    (void)rc;
    vf_log(LOG_INFO, "reload: restarting the network process with the new configuration");
    psn_stop(SHUTDOWN_DRAIN_MS);
    r = psn_start(ps_text, ps_len, psn.conf_text, psn.conf_len, exec_groups(conf), &main_sigs);
    if (r == 0) {
        free(psn.conf_text);
        psn.conf_text = ps_text;
        psn.conf_len = ps_len;
        ps_text = NULL;
        return 0;
    }
    if (r != PS_EXIT_NO_LISTENER && psn.conf_text != NULL) {
        vf_log(LOG_ERR, "reload: the network process failed with the new configuration; "
               "starting it with the previous one");
        r = psn_start(psn.conf_text, psn.conf_len, NULL, 0, exec_groups(cur_conf), &main_sigs);
        if (r == 0) {
            return 0;
        }
    }
    return -1;
}

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
    if (ps_on) {
        free(ps_text);
        ps_text = NULL;
        r = read_file_text(arg.conf_path, &ps_text, &ps_len);
        if (r < 0) {
            snprintf(err, sizeof(err), "%s: %s", arg.conf_path, strerror(-r));
        } else {
            r = vf_conf_parse_buffer(arg.conf_path, ps_text, ps_len, &conf, err, sizeof(err));
        }
    } else {
        r = vf_conf_parse_file(arg.conf_path, &conf, err, sizeof(err));
    }
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
    if (ps_on) {
        if (!privsep_wanted(&rc, false)) {
            vf_log(LOG_WARNING, "reload: turning privilege separation off needs a restart; "
                   "it stays on");
        }
        ps_reload_failed = reload_network(conf, &rc) < 0;
    } else {
        listeners_reload(conf, &rc);
    }
    vf_conf_free(cur_conf);
    cur_conf = conf;
    cur_rc = rc;
    if (ps_on ? ps_reload_failed : n_cur_ls == 0) {
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
    enum { OPT_CHECK = 256, OPT_SELFCHECK, OPT_PSNET };
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
        { "privsep-net", required_argument, NULL, OPT_PSNET },
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
        case OPT_PSNET:
            arg.ps_net = optarg;
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

/* ---- privilege separation (privsep/privsep.h) ------------------------------------ */

static void
psn_ready_cb(void *cb_arg)
{
    (void)cb_arg;
    atomic_store(&psn.ready, true);
    (void)kill(getpid(), SIGUSR1);      /* wake the main loop */
}

static void
psn_eof_cb(void *cb_arg)
{
    (void)cb_arg;
    atomic_store(&psn.eof, true);
    (void)kill(getpid(), SIGUSR1);
}

static int
read_file_text(const char *path, char **ret_text, size_t *ret_len)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t n = 0;

    if (f == NULL) {
        return -errno;
    }
    buf = malloc(PS_CONF_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return -ENOMEM;
    }
    n = fread(buf, 1, PS_CONF_MAX + 1, f);
    fclose(f);
    if (n > PS_CONF_MAX) {
        free(buf);
        return -EFBIG;
    }
    buf[n] = '\0';
    *ret_text = buf;
    *ret_len = n;
    return 0;
}

/* A sealed-enough memfd holding @text (the child reads it before its sandbox). */
static int
text_fd(const char *text, size_t len)
{
    int fd = memfd_create("fence_virtd.conf", MFD_CLOEXEC);

    if (fd < 0) {
        return -errno;
    }
    if (write(fd, text, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) < 0) {
        int e = errno != 0 ? errno : EIO;

        close(fd);
        return -e;
    }
    return fd;
}

/* Reap the network process if it ended; true when it did. */
static bool
psn_reap(void)
{
    int st = 0;

    if (psn.pid > 0 && waitpid(psn.pid, &st, WNOHANG) == psn.pid) {
        psn.status = st;
        psn.pid = 0;
        return true;
    }
    return false;
}

static void
describe_status(int st, char *buf, size_t len)
{
    if (WIFEXITED(st)) {
        snprintf(buf, len, "exit status %d", WEXITSTATUS(st));
    } else if (WIFSIGNALED(st)) {
        snprintf(buf, len, "killed by signal %d (%s)%s", WTERMSIG(st), strsignal(WTERMSIG(st)),
                 WTERMSIG(st) == SIGSYS ? ": a system call outside the seccomp filter" : "");
    } else {
        snprintf(buf, len, "status 0x%x", (unsigned int)st);
    }
}

/*
 * Start the network process with @text (and @old_text to fall back on per
 * listener, may be NULL) and serve it; wait until it is ready.  Returns 0,
 * PS_EXIT_NO_LISTENER when it could start no listener, -EINTR on SIGTERM
 * meanwhile, or another negative errno.
 */
static int
psn_start(const char *text, size_t len, const char *old_text, size_t old_len,
          struct vf_groups *groups, const sigset_t *sigs)
{
    char fdarg[64];
    char dbg[16];
    char *argv[12];
    int argc = 0;
    int sv[2] = { -1, -1 };
    int cfd = -1;
    int ofd = -1;
    int64_t until = vf_now_ms() + PS_START_WAIT_MS;
    pid_t pid = 0;
    int r = 0;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        vf_groups_free(groups);
        return -errno;
    }
    cfd = text_fd(text, len);
    ofd = old_text != NULL ? text_fd(old_text, old_len) : -1;
    if (cfd < 0 || (old_text != NULL && ofd < 0)) {
        r = cfd < 0 ? cfd : ofd;
        goto fail;
    }
    snprintf(fdarg, sizeof(fdarg), "--privsep-net=%d,%d,%d", sv[1], cfd, ofd);
    snprintf(dbg, sizeof(dbg), "%d", arg.debug);
    argv[argc++] = (char *)progname;
    argv[argc++] = fdarg;
    argv[argc++] = (char *)"-f";
    argv[argc++] = arg.conf_path;
    if (arg.debug >= 0) {
        argv[argc++] = (char *)"-d";
        argv[argc++] = dbg;
    }
    if (ps_detached) {
        argv[argc++] = (char *)"-F";    /* here: "keep stdio" (it is /dev/null already) */
    } else if (arg.foreground || cur_rc.foreground) {
        argv[argc++] = (char *)"-F";
    }
    argv[argc] = NULL;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        r = -errno;
        goto fail;
    }
    if (pid == 0) {
        /* only async-signal-safe calls until exec */
        (void)fcntl(sv[1], F_SETFD, 0);
        (void)fcntl(cfd, F_SETFD, 0);
        if (ofd >= 0) {
            (void)fcntl(ofd, F_SETFD, 0);
        }
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(sv[1]);
    close(cfd);
    if (ofd >= 0) {
        close(ofd);
    }
    psn.pid = pid;
    psn.expected = false;
    atomic_store(&psn.ready, false);
    atomic_store(&psn.eof, false);
    r = vf_ps_exec_start(sv[0], vf_pipeline_get_backend(), groups,
                         &(struct vf_ps_exec_cbs){ .ready = psn_ready_cb, .eof = psn_eof_cb },
                         &psn.ex);
    if (r < 0) {
        (void)kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
        psn.pid = 0;
        return r;
    }
    while (!atomic_load(&psn.ready)) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };
        int sig = sigtimedwait(sigs, NULL, &ts);

        if (sig == SIGTERM || sig == SIGINT) {
            return -EINTR;
        }
        if (psn_reap() || atomic_load(&psn.eof) || vf_now_ms() >= until) {
            char why[128] = "did not get ready in time";
            int64_t grace = vf_now_ms() + 2000;

            /* its socketpair ended first: give it a moment to exit, for its status */
            while (psn.pid > 0 && atomic_load(&psn.eof) && vf_now_ms() < grace && !psn_reap()) {
                vf_sleep_ms(20);
            }
            if (psn.pid > 0) {
                (void)kill(psn.pid, SIGKILL);
                (void)waitpid(psn.pid, &psn.status, 0);
                psn.pid = 0;
            } else {
                describe_status(psn.status, why, sizeof(why));
            }
            psn.ex = vf_ps_exec_stop(psn.ex, 0);
            vf_log(LOG_ERR, "privsep: the network process failed to start (%s)", why);
            return WIFEXITED(psn.status) && WEXITSTATUS(psn.status) == PS_EXIT_NO_LISTENER ?
                   PS_EXIT_NO_LISTENER : -ECHILD;
        }
    }
    return 0;
fail:
    vf_groups_free(groups);
    close(sv[0]);
    close(sv[1]);
    if (cfd >= 0) {
        close(cfd);
    }
    if (ofd >= 0) {
        close(ofd);
    }
    return r;
}

/* Stop the network process (SIGTERM: it drains its requests), bounded. */
static void
psn_stop(int drain_ms)
{
    int64_t until = vf_now_ms() + drain_ms + 5000;

    psn.expected = true;
    if (psn.pid > 0) {
        (void)kill(psn.pid, SIGTERM);
        while (psn.pid > 0 && !psn_reap()) {
            if (vf_now_ms() >= until) {
                vf_log(LOG_WARNING, "privsep: network process %ld did not stop; killing it",
                       (long)psn.pid);
                (void)kill(psn.pid, SIGKILL);
                (void)waitpid(psn.pid, &psn.status, 0);
                psn.pid = 0;
                break;
            }
            vf_sleep_ms(20);
        }
    }
    psn.ex = vf_ps_exec_stop(psn.ex, RELOAD_DRAIN_MS);
}

/* Groups of @conf for the executor's re-check (NULL: none or invalid). */
static struct vf_groups *
exec_groups(const struct vf_conf *conf)
{
    struct vf_groups *g = NULL;
    char err[512];

    return vf_groups_load(conf, &g, err, sizeof(err)) == 0 ? g : NULL;
}

/* ---- the network process ---------------------------------------------------------- */

static int
read_fd_text(int fd, char **ret_text, size_t *ret_len)
{
    char *buf = malloc(PS_CONF_MAX + 1);
    size_t n = 0;

    if (buf == NULL) {
        return -ENOMEM;
    }
    while (n <= PS_CONF_MAX) {
        ssize_t k = read(fd, buf + n, PS_CONF_MAX + 1 - n);

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break;
        }
        n += (size_t)k;
    }
    close(fd);
    if (n > PS_CONF_MAX) {
        free(buf);
        return -EFBIG;
    }
    buf[n] = '\0';
    *ret_text = buf;
    *ret_len = n;
    return 0;
}

/*
 * fence_virtd --privsep-net=SOCKFD,CONFFD,OLDCONFFD: the network process.
 * Everything that needs root (listener sockets, key files, modules) is done
 * first; then the sandbox; then READY to the executor.
 */
static int
net_main(void)
{
    struct vf_conf *old_conf = NULL;
    struct vf_groups *groups = NULL;
    struct vf_ps_proxy *px = NULL;
    struct vf_backend_inst *be = NULL;
    struct vf_ps_sandbox sb;
    struct runcfg old_rc;
    sigset_t sigs;
    char err[1024];
    char *text = NULL;
    size_t len = 0;
    int sfd = -1, cfd = -1, ofd = -1;
    int devnull = -1;
    int exit_code = 1;
    int r = 0;

    if (sscanf(arg.ps_net, "%d,%d,%d", &sfd, &cfd, &ofd) != 3 || sfd < 3 || cfd < 3) {
        fprintf(stderr, "%s: --privsep-net is internal\n", progname);
        return 1;
    }
    (void)fcntl(sfd, F_SETFD, FD_CLOEXEC);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (read_fd_text(cfd, &text, &len) < 0 ||
        vf_conf_parse_buffer(arg.conf_path, text, len, &cur_conf, err, sizeof(err)) < 0) {
        vf_log(LOG_ERR, "privsep: cannot read the configuration handed over");
        goto out;
    }
    free(text);
    text = NULL;
    if (ofd >= 0 && (read_fd_text(ofd, &text, &len) < 0 ||
                     vf_conf_parse_buffer(arg.conf_path, text, len, &old_conf, err,
                                          sizeof(err)) < 0)) {
        old_conf = vf_conf_free(old_conf);
    }
    free(text);
    text = NULL;
    vf_registry_init(module_path_of(cur_conf));
    if (check_conf_logged(cur_conf, &cur_rc, &groups) > 0) {
        goto out;
    }
    vf_log_set_debug(arg.debug >= 0 ? arg.debug : cur_rc.debug);
    memset(&old_rc, 0, sizeof(old_rc));
    if (old_conf != NULL) {
        FILE *sink = fopen("/dev/null", "we");

        (void)read_runcfg(old_conf, &old_rc, sink != NULL ? sink : stderr);
        if (sink != NULL) {
            fclose(sink);
        }
    }
    if (vf_auth_init() < 0 || vf_pipeline_init() < 0) {
        vf_log(LOG_ERR, "privsep: cannot initialise the crypto library or the pipeline");
        goto out;
    }
    r = vf_ps_proxy_new(sfd, true, &px);
    if (r < 0) {
        goto out_pipeline;
    }
    sfd = -1;
    be = vf_backend_inst_new(&vf_ps_proxy_ops, px);
    if (be == NULL) {
        goto out_pipeline;
    }
    vf_pipeline_set_config(groups, be);
    groups = NULL;
    vf_backend_inst_unref(be);
    /* the listeners, as root (ports below 1024, key files); a listener that
     * fails with the new settings keeps its previous ones (reload) */
    for (size_t i = 0; i < cur_rc.n_listeners; i++) {
        struct lrun *l = &cur_ls[n_cur_ls];

        memset(l, 0, sizeof(*l));
        snprintf(l->name, sizeof(l->name), "%s", cur_rc.listeners[i]);
        if (lrun_start(l, cur_conf) == 0) {
            n_cur_ls++;
            continue;
        }
        for (size_t j = 0; old_conf != NULL && j < old_rc.n_listeners; j++) {
            if (strcasecmp(old_rc.listeners[j], l->name) == 0 && lrun_start(l, old_conf) == 0) {
                vf_log(LOG_ERR, "reload: listener '%s' keeps its previous settings", l->name);
                n_cur_ls++;
                break;
            }
        }
        if (l->li == NULL && old_conf == NULL) {
            listeners_stop_all(RELOAD_DRAIN_MS);
            goto out_pipeline;
        }
        if (l->li == NULL) {
            vf_log(LOG_ERR, "reload: listener '%s' is not running", l->name);
        }
    }
    if (n_cur_ls == 0) {
        vf_log(LOG_CRIT, "reload: no listener is running; stopping");
        exit_code = PS_EXIT_NO_LISTENER;
        goto out_pipeline;
    }
    /* connect to syslog now: /dev/log is outside the chroot */
    openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    devnull = arg.foreground ? -1 : open("/dev/null", O_RDWR | O_CLOEXEC);
    sb.chroot_dir = cur_rc.ps_chroot;
    sb.user = cur_rc.ps_user[0] != '\0' ? cur_rc.ps_user : NULL;
    sb.seccomp = true;
    err[0] = '\0';
    r = vf_ps_sandbox_enter(&sb, err, sizeof(err));
    if (r < 0) {
        vf_log(LOG_ERR, "%s", err);
        listeners_stop_all(RELOAD_DRAIN_MS);
        goto out_pipeline;
    }
    if (vf_ps_proxy_ready(px) < 0) {
        vf_log(LOG_ERR, "privsep: cannot reach the executor");
        listeners_stop_all(RELOAD_DRAIN_MS);
        goto out_pipeline;
    }
    vf_log(LOG_INFO, "privsep: network process %ld serving as uid %ld in '%s', seccomp %s",
           (long)getpid(), (long)getuid(), cur_rc.ps_chroot, vf_ps_sandbox_seccomp_state());
    if (devnull >= 0) {
        /* the parent detaches once we are ready: so do we */
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
        close(devnull);
        devnull = -1;
    }
    exit_code = 0;
    for (;;) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 500 * 1000 * 1000 };
        int sig = sigtimedwait(&sigs, NULL, &ts);
        bool failed = false;

        if (sig == SIGTERM || sig == SIGINT) {
            break;
        }
        for (size_t i = 0; i < n_cur_ls; i++) {
            failed = failed || vf_listener_failed(cur_ls[i].li);
        }
        if (failed) {
            vf_log(LOG_ERR, "a listener failed; exiting");
            exit_code = 1;
            break;
        }
    }
    {
        int64_t deadline = vf_now_ms() + SHUTDOWN_DRAIN_MS;

        vf_pipeline_stop();
        listeners_stop_all(SHUTDOWN_DRAIN_MS);
        if (vf_pipeline_drain(vf_ms_left(deadline)) > 0) {
            _exit(exit_code);
        }
    }
out_pipeline:
    vf_pipeline_fini();
    px = vf_ps_proxy_free(px);
out:
    if (sfd >= 0) {
        close(sfd);
    }
    if (devnull >= 0) {
        close(devnull);
    }
    vf_groups_free(groups);
    vf_conf_free(old_conf);
    vf_conf_free(cur_conf);
    vf_registry_fini();
    free(arg.conf_path);
    free(pid_path_abs);
    return exit_code;
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
    if (arg.ps_net != NULL) {
        return net_main();
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
    sigaddset(&sigs, SIGCHLD);  /* privsep: the network process ended */
    sigaddset(&sigs, SIGUSR1);  /* privsep: the executor's reader thread woke us */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    main_sigs = sigs;

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
    ps_on = privsep_wanted(&cur_rc, true);
    if (ps_on) {
        int r = read_file_text(arg.conf_path, &psn.conf_text, &psn.conf_len);

        if (r < 0) {
            vf_log(LOG_ERR, "cannot read '%s': %s", arg.conf_path, strerror(-r));
            exit_code = 1;
            goto out;
        }
    }
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
    if (ps_on) {
        int r = psn_start(psn.conf_text, psn.conf_len, NULL, 0, exec_groups(cur_conf), &sigs);

        if (r < 0 || r == PS_EXIT_NO_LISTENER) {
            exit_code = r == -EINTR ? 0 : 1;
            psn_stop(RELOAD_DRAIN_MS);
            goto out_pipeline;
        }
    } else if (listeners_start_all(cur_conf, &cur_rc) < 0) {
        exit_code = 1;
        goto out_pipeline;
    }
    {
        char names[VF_MAX_LISTENER_NAMES * 33] = "";

        listener_names(&cur_rc, names, sizeof(names));
        vf_log(LOG_NOTICE, "%s %s started (pid %ld): listeners '%s', backend '%s'%s",
               progname, PACKAGE_VERSION, (long)getpid(), names, cur_rc.backend,
               ps_on ? ", privilege separation on" : "");
    }
    /* every listener is bound: READY=1 as soon as the backend answers */
    nst.ready_by = vf_now_ms() + READY_BACKEND_WAIT_MS;
    notify_tick(true);
    if (!foreground) {
        vf_log_init(progname, VF_LOG_SYSLOG, debug);
        detach_stdio(ready_fd);
        ps_detached = true;
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
        if (ps_on && (psn_reap() || atomic_load(&psn.eof))) {
            char why[160] = "its connection ended";

            if (psn.pid == 0) {
                describe_status(psn.status, why, sizeof(why));
            }
            vf_log(LOG_CRIT, "privsep: the network process is gone (%s); exiting", why);
            exit_code = 1;
            break;
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
        if (ps_on) {
            psn_stop(exit_code == 0 ? SHUTDOWN_DRAIN_MS : 0);
        }
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
    free(psn.conf_text);
    free(ps_text);
    free(arg.conf_path);
    free(pid_path_abs);
    return exit_code;
}
