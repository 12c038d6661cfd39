/*
 * vmfence - daemon/main.c: fence_virtd's options and the named steps of
 * its life: load and check the configuration, detach, pid file, backend,
 * listeners (or the network process), serve until a signal, drain, stop.
 *
 * Options are compatible with fence-virt's fence_virtd, plus long forms,
 * --check-config and --check (the host self-test, selfcheck.c).  Signals
 * are taken synchronously by the main loop: SIGTERM/SIGINT stop gracefully
 * (running requests drain), SIGHUP reloads (reload.c).  Requests
 * themselves are handled in pipeline.c; the parts of this process are
 * listed in virtd.h.
 *
 * Privilege separation (privsep/privsep.h; on by default, `privsep = "no";`
 * for debugging): this process stays root as the executor and main PID
 * (pid file, signals, sd_notify, backend); it re-executes itself as the
 * network process (--privsep-net, hidden), which binds its listeners and
 * reads its keys as root, then enters its sandbox.  A reload is applied in
 * place in the network process (privsep/handover.h).  Either process exits
 * non-zero as soon as the other is gone.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "confcheck.h"
#include "configure.h"
#include "io.h"
#include "log.h"
#include "notify.h"
#include "pipeline.h"
#include "privsep/privsep.h"
#include "registry.h"
#include "selfcheck.h"
#include "timeutil.h"
#include "virtd.h"

const char vfd_progname[] = "fence_virtd";
struct vfd_args vfd_arg = { .debug = -1 };
struct vf_conf *vfd_conf;
struct vfd_runcfg vfd_rc;

/* the daemon's own state between its start-up steps */
struct run {
    sigset_t sigs;          /* taken synchronously by the main loop */
    bool split;             /* privilege separation running */
    bool foreground;
    int debug;
    int ready_fd;           /* daemonised: tell the waiting parent */
    char *text;             /* split: the configuration text */
    size_t text_len;
};

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
            vfd_progname, VF_CONF_DEFAULT, VF_PIDFILE_DEFAULT);
}

static int
parse_args(int argc, char **argv)
{
    enum { OPT_CHECK = 256, OPT_SELFCHECK, OPT_PSNET };
    static const struct option longopts[] = {
        VFD_COMMON_LONGOPTS,
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

    vfd_arg.pid_path = VF_PIDFILE_DEFAULT;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":Fd:f:p:wlchV", longopts, NULL)) != -1) {
        int r = vfd_common_opt(c, optarg, &conf);

        if (r == -EINVAL) {
            fprintf(stderr, "%s: invalid debug level '%s'\n", vfd_progname, optarg);
            exit(1);
        }
        if (r == 0) {
            continue;
        }
        switch (c) {
        case 'p':
            vfd_arg.pid_path = optarg;
            break;
        case 'w':
            vfd_arg.wait_init = true;
            break;
        case 'l':
            vfd_arg.list = true;
            break;
        case 'c':
            vfd_arg.configure = true;
            break;
        case OPT_CHECK:
            vfd_arg.check = true;
            break;
        case OPT_SELFCHECK:
            vfd_arg.selfcheck = true;
            break;
        case OPT_PSNET:
            vfd_arg.ps_net = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("%s %s (vmfence)\n", vfd_progname, PACKAGE_VERSION);
            exit(0);
        case ':':
            fprintf(stderr, "%s: option '%s' needs a value (see -h)\n", vfd_progname,
                    argv[optind - 1]);
            exit(1);
        default:
            fprintf(stderr, "%s: unknown option '%s' (see -h)\n", vfd_progname,
                    argv[optind - 1]);
            exit(1);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (see -h)\n", vfd_progname, argv[optind]);
        exit(1);
    }
    vfd_arg.conf_path = vfd_absolute_path(conf);
    vfd_arg.pid_path_abs = vfd_absolute_path(vfd_arg.pid_path);
    if (vfd_arg.conf_path == NULL || vfd_arg.pid_path_abs == NULL) {
        fprintf(stderr, "%s: out of memory\n", vfd_progname);
        exit(1);
    }
    return 0;
}

/* The plugin registry from the configuration's module path (the default
 * one if the configuration cannot be read), described.  \return the text
 * (free()) or NULL */
static char *
registry_describe_conf(void)
{
    struct vf_conf *conf = NULL;
    char err[512];

    (void)vf_conf_parse_file(vfd_arg.conf_path, &conf, err, sizeof(err));
    vf_registry_init(vfd_module_path(conf));
    vf_conf_free(conf);
    return vf_registry_describe();
}

static int
do_list(void)
{
    char *desc = registry_describe_conf();

    if (desc != NULL) {
        fputs(desc, stdout);
    }
    free(desc);
    vf_registry_fini();
    return 0;
}

static int
do_configure(void)
{
    char *desc = registry_describe_conf();
    int r = 0;

    r = vf_configure_interactive(vfd_arg.conf_path, desc, stdin, stdout);
    free(desc);
    vf_registry_fini();
    if (r < 0) {
        fprintf(stderr, "%s: configuration failed: %s\n", vfd_progname, strerror(-r));
    }
    return r == 0 ? 0 : 1;
}

static int
do_check(void)
{
    struct vf_conf *conf = NULL;
    struct vfd_runcfg rc;
    char err[1024];
    int errors = 0;

    if (vf_conf_parse_file(vfd_arg.conf_path, &conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    vf_registry_init(vfd_module_path(conf));
    errors = vfd_check_conf(conf, &rc, NULL, stderr);
    vf_conf_free(conf);
    vf_registry_fini();
    if (errors > 0) {
        fprintf(stderr, "%s: '%s': %d error%s\n", vfd_progname, vfd_arg.conf_path, errors,
                errors == 1 ? "" : "s");
        return 1;
    }
    printf("%s: '%s': configuration OK\n", vfd_progname, vfd_arg.conf_path);
    return 0;
}


static int
do_selfcheck(void)
{
    struct vf_selfcheck_in in;
    struct vf_conf *conf = NULL;
    struct vfd_runcfg rc;
    char err[1024] = "";
    char *diag = NULL;
    size_t dlen = 0;
    FILE *mem = NULL;
    int r = 0;

    /* the report is the output: log lines (a backend's, a key's mode) only
     * on stderr, never in syslog */
    vf_log_init(vfd_progname, VF_LOG_STDERR, vfd_arg.debug > 0 ? vfd_arg.debug : 0);
    memset(&in, 0, sizeof(in));
    memset(&rc, 0, sizeof(rc));
    in.conf_path = vfd_arg.conf_path;
    in.pid_path = vfd_arg.pid_path_abs;
    in.pid_path_given = vfd_arg.pid_path != NULL &&
                        strcmp(vfd_arg.pid_path, VF_PIDFILE_DEFAULT) != 0;
    if (vf_conf_parse_file(vfd_arg.conf_path, &conf, err, sizeof(err)) < 0) {
        in.parse_error = err;
        return vf_selfcheck_run(&in, stdout);
    }
    vf_registry_init(vfd_module_path(conf));
    mem = open_memstream(&diag, &dlen);
    if (mem == NULL) {
        fprintf(stderr, "%s: out of memory\n", vfd_progname);
        r = 1;
        goto out;
    }
    in.conf = conf;
    in.conf_errors = vfd_check_conf(conf, &rc, NULL, mem);
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

/* ---- the daemon's steps ----------------------------------------------------------- */

/*
 * Signals are taken synchronously by the main loop; every thread inherits
 * the mask, so it is set before anything may start one (a module's
 * constructor when the registry dlopen()s it, NSS, the backend): a thread
 * with SIGTERM unblocked would let it kill the daemon without draining.
 */
static void
block_signals(struct run *run)
{
    sigemptyset(&run->sigs);
    sigaddset(&run->sigs, SIGTERM);
    sigaddset(&run->sigs, SIGINT);
    sigaddset(&run->sigs, SIGHUP);
    sigaddset(&run->sigs, SIGCHLD);  /* privsep: the network process ended */
    sigaddset(&run->sigs, SIGUSR1);  /* privsep: the executor's reader thread woke us */
    pthread_sigmask(SIG_BLOCK, &run->sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Parse and check the configuration; what it asks goes to vfd_rc and @run. */
static int
load_config(struct run *run, struct vf_groups **ret_groups)
{
    char err[1024];
    int r = 0;

    if (vf_conf_parse_file(vfd_arg.conf_path, &vfd_conf, err, sizeof(err)) < 0) {
        vf_log(LOG_ERR, "%s", err);
        return -EINVAL;
    }
    vf_registry_init(vfd_module_path(vfd_conf));
    if (vfd_check_conf(vfd_conf, &vfd_rc, ret_groups, stderr) > 0) {
        vf_log(LOG_ERR, "'%s' has errors; not starting", vfd_arg.conf_path);
        return -EINVAL;
    }
    run->foreground = vfd_arg.foreground || vfd_rc.foreground;
    run->debug = vfd_arg.debug >= 0 ? vfd_arg.debug : vfd_rc.debug;
    run->split = vfd_privsep_wanted(&vfd_rc, true);
    if (run->split) {
        r = vfd_read_file_text(vfd_arg.conf_path, &run->text, &run->text_len);
        if (r < 0) {
            vf_log(LOG_ERR, "cannot read '%s': %s", vfd_arg.conf_path, strerror(-r));
            return r;
        }
    }
    vf_log_set_debug(run->debug);
    return 0;
}

/* Into the background (unless foreground), then the pid file. */
static int
detach_and_lock(struct run *run)
{
    if (!run->foreground) {
        run->ready_fd = vfd_daemonize();
        if (run->ready_fd < 0) {
            return run->ready_fd;
        }
    }
    if (vfd_pidfile_acquire(vfd_arg.pid_path_abs) < 0 || vfd_pidfile_write() < 0) {
        return -EIO;
    }
    /* with privilege separation only the network process hashes: this one
     * never loads NSS's softoken (digests initialise it on first use anyway) */
    if (!run->split && vf_auth_init() < 0) {
        vf_log(LOG_ERR, "cannot initialise the crypto library");
        return -EIO;
    }
    return 0;
}

/* The backend (waiting for it with -w), serving the pipeline with @groups. */
static int
start_backend(struct run *run, struct vf_groups *groups)
{
    struct vf_backend_inst *be = NULL;
    int r = vfd_backend_start(vfd_conf, vfd_rc.backend, vfd_arg.wait_init || vfd_rc.wait_init,
                              &run->sigs, &be);

    if (r < 0) {
        vf_groups_free(groups);
        return r;
    }
    r = vf_pipeline_set_config(groups, be);
    vf_backend_inst_unref(be);
    return r;
}

/* The listeners here, or the network process with them. */
static int
start_listeners(struct run *run)
{
    int r = 0;

    if (!run->split) {
        return vfd_listeners_start(vfd_conf, &vfd_rc);
    }
    r = vfd_psn_start(run->text, run->text_len, vfd_exec_groups(vfd_conf), &run->sigs, false);
    if (r != 0) {
        vfd_psn_stop(VFD_RELOAD_DRAIN_MS);
    }
    return r == VFD_EXIT_NO_LISTENER ? -ENOENT : r;
}

/* Started: say so, arm READY=1, let the waiting parent go. */
static void
announce(struct run *run)
{
    char names[VFD_MAX_LISTENERS * (VFD_NAME_LEN + 1)] = "";

    vfd_listener_names(&vfd_rc, names, sizeof(names));
    vf_log(LOG_NOTICE, "%s %s started (pid %ld): listeners '%s', backend '%s'%s",
           vfd_progname, PACKAGE_VERSION, (long)getpid(), names, vfd_rc.backend,
           run->split ? ", privilege separation on" : "");
    vfd_ready_arm();
    if (!run->foreground) {
        vf_log_init(vfd_progname, VF_LOG_SYSLOG, run->debug);
        vfd_detach_stdio(run->ready_fd);
        run->ready_fd = -1;
    }
}

/* The main loop: until SIGTERM/SIGINT (0) or a failure (1). */
static int
serve(struct run *run)
{
    char why[512];

    for (;;) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 500 * 1000 * 1000 };
        int sig = sigtimedwait(&run->sigs, NULL, &ts);

        if (sig == SIGTERM || sig == SIGINT) {
            vf_log(LOG_NOTICE, "%s: stopping (waiting up to %d s for running requests)",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT", VFD_SHUTDOWN_DRAIN_MS / 1000);
            return 0;
        }
        if (sig == SIGHUP) {
            vf_notify_reloading();
            if (vfd_reload(run->split, why, sizeof(why)) < 0) {
                return 1;
            }
            vfd_ready_reloaded(why);
            continue;
        }
        if (run->split && vfd_psn_gone(why, sizeof(why))) {
            vf_log(LOG_CRIT, "privsep: the network process is gone (%s); exiting", why);
            return 1;
        }
        vfd_ready_tick(false);
        if (vfd_listeners_failed()) {
            vf_log(LOG_ERR, "a listener failed; exiting");
            return 1;
        }
    }
}

/* Stop taking requests and drain; false when some are still running. */
static bool
drain(struct run *run, int exit_code)
{
    int64_t deadline = vf_now_ms() + VFD_SHUTDOWN_DRAIN_MS;
    unsigned int left = 0;

    vf_notify_stopping();
    vf_pipeline_stop();
    if (run->split) {
        vfd_psn_stop(exit_code == 0 ? VFD_SHUTDOWN_DRAIN_MS : 0);
    }
    vfd_listeners_stop(VFD_SHUTDOWN_DRAIN_MS);
    left = vf_pipeline_drain(vf_ms_left(deadline));
    if (left > 0) {
        vf_log(LOG_WARNING, "exiting with %u request%s still running", left,
               left == 1 ? "" : "s");
    }
    return left == 0;
}

/* -l, -c, --check-config, --check: run one and exit */
static int
run_tool(void)
{
    if (vfd_arg.selfcheck) {
        return do_selfcheck();
    }
    return vfd_arg.list ? do_list() : vfd_arg.configure ? do_configure() : do_check();
}

int
main(int argc, char **argv)
{
    struct run run = { .ready_fd = -1 };
    struct vf_groups *groups = NULL;
    int exit_code = 1;
    int r = 0;

    vf_ps_malloc_setup();   /* large answers give their memory back (privsep/trim.c) */
    parse_args(argc, argv);
    vf_log_init(vfd_progname, VF_LOG_STDERR | VF_LOG_SYSLOG,
                vfd_arg.debug > 0 ? vfd_arg.debug : 0);
    if (vfd_arg.selfcheck || vfd_arg.list || vfd_arg.configure || vfd_arg.check) {
        exit_code = run_tool();
        goto out_args;
    }
    if (vfd_arg.ps_net != NULL) {
        return vfd_net_main();
    }
    block_signals(&run);
    if (load_config(&run, &groups) < 0 || detach_and_lock(&run) < 0) {
        goto out;
    }
    if (vf_pipeline_init() < 0) {
        vf_log(LOG_ERR, "out of memory");
        goto out;
    }
    r = start_backend(&run, groups);
    groups = NULL;
    if (r == 0) {
        r = start_listeners(&run);
    }
    if (r < 0) {
        exit_code = r == -EINTR ? 0 : 1;    /* SIGTERM/SIGINT while waiting: a normal stop */
        goto out_pipeline;
    }
    announce(&run);
    exit_code = serve(&run);
    if (!drain(&run, exit_code)) {
        /* their threads may still use the configuration: do not free it */
        vfd_pidfile_release();
        _exit(exit_code);
    }
out_pipeline:
    vf_pipeline_fini();
out:
    vf_groups_free(groups);
    if (exit_code == 0) {
        vf_log(LOG_NOTICE, "%s stopped", vfd_progname);
    }
    vfd_pidfile_release();
    vf_conf_free(vfd_conf);
    vf_registry_fini();
    free(run.text);
out_args:
    free(vfd_arg.conf_path);
    free(vfd_arg.pid_path_abs);
    return exit_code;
}
