/*
 * vmfence - agents/agent-main.c: fence_virt / fence_xvm (one binary, behaviour by
 * argv[0]).
 *
 * Options come from argv, or from stdin (key=value lines, the Pacemaker
 * interface) when there are no arguments at all.  metadata and validate-all
 * are answered locally; every other action builds one request, hands it to
 * the transport chosen by the options (agents/transport.h) and maps the
 * daemon's answer to output and exit code (protocol.md 2.11):
 *   0 success ("Status: ON"), 2 off ("Status: OFF"), 1 failure of any kind
 *   (with a message saying what went wrong), 3 permission denied, N for an
 *   unknown response byte N.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "agent-metadata.h"
#include "auth.h"
#include "key.h"
#include "log.h"
#include "opts.h"
#include "transport.h"
#include "wire.h"

/* Print one host list record in the reference format. */
static int
print_host(const struct vf_host_state *hs, void *userdata)
{
    (void)userdata;
    printf("%-32s %s %s\n", hs->domain, hs->uuid,
           hs->state == VF_STATE_RUNNING ? "on" : "off");
    return 0;
}

static void
sleep_seconds(unsigned int secs)
{
    struct timespec ts = { .tv_sec = (time_t)secs, .tv_nsec = 0 };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static const char *
transport_name(enum vf_transport t)
{
    switch (t) {
    case VF_XPORT_MCAST:
        return "multicast";
    case VF_XPORT_TCP:
        return "tcp";
    case VF_XPORT_VSOCK:
        return "vsock";
    case VF_XPORT_SERIAL:
        return "serial";
    case VF_XPORT_VMCHANNEL:
        return "vmchannel";
    }
    return "?";
}

/* The transports that sign requests and run challenge/response. */
static bool
transport_uses_key(enum vf_transport t)
{
    return t == VF_XPORT_MCAST || t == VF_XPORT_TCP || t == VF_XPORT_VSOCK;
}

static bool
key_needed(const struct vf_args *args)
{
    return transport_uses_key(args->transport) &&
           (args->hash != VF_HASH_NONE || args->auth != VF_HASH_NONE);
}

/*
 * Load the key file when the transport and hash/auth settings need one.
 * A missing, unreadable, empty or oversized key is an error, never a
 * silent downgrade to no authentication (D23).
 */
static int
load_key(const struct vf_args *args, struct vf_key *key, bool *ret_loaded, char *err,
         size_t err_len)
{
    char warn[256] = "";
    int rc;

    *ret_loaded = false;
    if (!key_needed(args)) {
        return 0;
    }
    rc = vf_key_load(args->key_file, key, err, err_len, warn, sizeof(warn));
    if (rc < 0) {
        if (err[0] == '\0') {
            snprintf(err, err_len, "cannot read key file '%s': %s", args->key_file,
                     strerror(-rc));
        }
        return rc;
    }
    if (warn[0] != '\0') {
        fprintf(stderr, "%s: warning: %s\n", args->progname, warn);
    }
    *ret_loaded = true;
    return 0;
}

static void
print_problems(const struct vf_args *args)
{
    for (size_t i = 0; i < args->n_problems; i++) {
        fprintf(stderr, "%s: %s\n", args->progname, args->problems[i]);
    }
}

static bool
cmd_has_delay(enum vf_cmd cmd)
{
    return cmd == VF_CMD_OFF || cmd == VF_CMD_ON || cmd == VF_CMD_REBOOT;
}

static bool
cmd_needs_target(enum vf_cmd cmd)
{
    return cmd != VF_CMD_DEVSTATUS && cmd != VF_CMD_HOSTLIST && cmd != VF_CMD_METADATA &&
           cmd != VF_CMD_VALIDATEALL;
}

/* validate-all: every problem and every unknown key is an error. */
static int
validate_all(const struct vf_args *args)
{
    struct vf_key key;
    char err[512] = "";
    bool loaded = false;
    int bad = 0;

    print_problems(args);
    bad += (int)args->n_problems;
    for (size_t i = 0; i < args->n_unknown; i++) {
        fprintf(stderr, "%s: unknown parameter '%s'\n", args->progname, args->unknown[i]);
        bad++;
    }
    if (args->n_problems == 0 && load_key(args, &key, &loaded, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", args->progname, err);
        bad++;
    }
    if (loaded) {
        vf_key_clear(&key);
    }
    return bad == 0 ? 0 : 1;
}

/* Map the transport's outcome to output and exit code. */
static int
report(const struct vf_args *args, int rc, const struct vf_result *res)
{
    const char *target = args->domain != NULL ? args->domain : "";
    const char *action = args->action != NULL ? args->action : "?";

    if (rc < 0) {
        fprintf(stderr, "%s\n", res->msg[0] != '\0' ? res->msg : strerror(-rc));
        syslog(LOG_ERR, "%s %s: %s", action, target, res->msg);
        return 1;
    }
    /* a host list is an answer only to a list request (the transports
     * already refuse one for anything else) */
    if (res->hostlist && args->cmd == VF_CMD_HOSTLIST) {
        return 0;
    }
    switch (res->resp) {
    case VF_RESP_SUCCESS:
        if (args->cmd == VF_CMD_STATUS) {
            printf("Status: ON\n");
        } else if (cmd_has_delay(args->cmd)) {
            syslog(LOG_NOTICE, "%s of '%s' succeeded", action, target);
        }
        return 0;
    case VF_RESP_OFF:
        printf("Status: OFF\n");
        return 2;
    case VF_RESP_FAIL:
        fprintf(stderr, "Operation failed\n");
        syslog(LOG_ERR, "%s of '%s': operation failed", action, target);
        return 1;
    case VF_RESP_PERM:
        fprintf(stderr, "Permission denied: the host's groups configuration does not allow "
                "this node to %s '%s'\n", action, target);
        syslog(LOG_ERR, "%s of '%s': permission denied", action, target);
        return 3;
    default:
        fprintf(stderr, "Unknown response (%d)\n", res->resp);
        return res->resp;
    }
}

/* The transports, by enum vf_transport (agents/transport.h). */
typedef int (*xport_fn)(const struct vf_xport *x, struct vf_result *res);

static const xport_fn transports[] = {
    [VF_XPORT_MCAST] = vf_xport_mcast,
    [VF_XPORT_TCP] = vf_xport_tcp,
    [VF_XPORT_VSOCK] = vf_xport_vsock,
    [VF_XPORT_SERIAL] = vf_xport_serial,
    [VF_XPORT_VMCHANNEL] = vf_xport_vmchannel,
};

/*
 * Options from argv, or from stdin when there are no arguments.
 * \return true when the program ends here with exit code *ret_exit (help,
 *         version, unusable options), false to go on
 */
static bool
parse_options(struct vf_args *args, int argc, char **argv, int *ret_exit)
{
    char err[512] = "";
    bool help = false, version = false;
    int rc;

    if (argc > 1) {
        rc = vf_args_parse_argv(args, argc, argv, &help, &version, err, sizeof(err));
    } else {
        rc = vf_args_parse_stdin(args, stdin, err, sizeof(err));
    }
    *ret_exit = 1;
    if (rc < 0) {
        /* the parser's message already starts with the program name */
        if (err[0] != '\0') {
            fprintf(stderr, "%s\n", err);
        } else {
            fprintf(stderr, "%s: %s\n", args->progname, strerror(-rc));
        }
        return true;
    }
    if (help) {
        vf_args_print_help(args, stdout);
        *ret_exit = 0;
        return true;
    }
    if (version) {
        printf("%s %s\n", args->progname, PACKAGE_VERSION);
        *ret_exit = 0;
        return true;
    }
    return false;
}

/*
 * The metadata of @kind: the bytes lib/metadata.c wrote with libxml2 at
 * build time (agent-metadata.h).  It depends only on the option table and
 * configure's defaults, never on the options of this run.
 * \return 0, or -EIO when stdout does not take it
 */
static int
write_metadata(enum vf_agent_kind kind, FILE *out)
{
    const char *xml = kind == VF_AGENT_XVM ? vf_agent_metadata_xvm : vf_agent_metadata_virt;
    size_t len = kind == VF_AGENT_XVM ? vf_agent_metadata_xvm_len : vf_agent_metadata_virt_len;

    if (fwrite(xml, 1, len, out) != len || fflush(out) != 0) {
        return -EIO;
    }
    return 0;
}

/*
 * metadata and validate-all are answered here, without a request (and
 * without NSS).  \return true, with the exit code in *ret_exit, when @args
 * asked for one of them
 */
static bool
local_action(const struct vf_args *args, int *ret_exit)
{
    int rc;

    if (args->cmd == VF_CMD_METADATA) {
        rc = write_metadata(args->kind, stdout);
        if (rc < 0) {
            fprintf(stderr, "%s: cannot write the metadata: %s\n", args->progname,
                    strerror(-rc));
        }
        *ret_exit = rc < 0 ? 1 : 0;
        return true;
    }
    if (args->cmd == VF_CMD_VALIDATEALL) {
        *ret_exit = validate_all(args);
        return true;
    }
    return false;
}

/* Warn about unknown keys; refuse problems, a missing or too long target. */
static int
check_request(const struct vf_args *args)
{
    for (size_t i = 0; i < args->n_unknown; i++) {
        fprintf(stderr, "%s: warning: ignoring unknown parameter '%s'\n", args->progname,
                args->unknown[i]);
    }
    if (args->n_problems > 0) {
        print_problems(args);
        return -EINVAL;
    }
    if (cmd_needs_target(args->cmd) && (args->domain == NULL || args->domain[0] == '\0')) {
        fprintf(stderr, "%s: no target given: use -n (plug) to name the virtual machine\n",
                args->progname);
        return -EINVAL;
    }
    if (args->domain != NULL && strlen(args->domain) > VF_DOMAIN_MAX) {
        fprintf(stderr, "%s: target '%s' is longer than %d characters\n", args->progname,
                args->domain, VF_DOMAIN_MAX);
        return -EINVAL;
    }
    return 0;
}

/*
 * The key (when the transport signs) and NSS (only then: serial and
 * vmchannel, or hash and auth none, never hash), then the request itself.
 */
static int
prepare_request(const struct vf_args *args, struct vf_key *key, bool *ret_key_loaded,
                struct vf_req *req)
{
    char err[512] = "";
    int rc;

    rc = load_key(args, key, ret_key_loaded, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", args->progname, err);
        return rc;
    }
    rc = key_needed(args) ? vf_auth_init() : 0;
    if (rc < 0) {
        fprintf(stderr, "%s: cannot initialise NSS: %s\n", args->progname, strerror(-rc));
        return rc;
    }
    memset(req, 0, sizeof(*req));
    req->request = (uint8_t)args->cmd;
    req->hashtype = (uint8_t)args->hash;
    req->flags = args->use_uuid ? VF_RF_UUID : 0;
    if (args->domain != NULL) {
        snprintf(req->domain, sizeof(req->domain), "%s", args->domain);
    }
    rc = vf_random(&req->seqno, sizeof(req->seqno));
    if (rc < 0) {
        fprintf(stderr, "%s: no random numbers: %s\n", args->progname, strerror(-rc));
        return rc;
    }
    return 0;
}

/* Delay (power actions), hand the request to the transport, report. */
static int
run_request(const struct vf_args *args, const struct vf_key *key, struct vf_req *req)
{
    struct vf_result res;
    struct vf_xport x;
    int ret, rc;

    if (args->delay > 0 && cmd_has_delay(args->cmd)) {
        vf_dbg(1, "delaying %s by %u s", args->action, args->delay);
        sleep_seconds(args->delay);
    }
    memset(&res, 0, sizeof(res));
    res.resp = -1;
    memset(&x, 0, sizeof(x));
    x.args = args;
    x.key = key;
    x.req = req;
    x.on_host = print_host;
    vf_dbg(1, "%s '%s' via %s (hash %s, auth %s, timeout %u s)", args->action,
           args->domain != NULL ? args->domain : "", transport_name(args->transport),
           vf_hash_name(args->hash), vf_hash_name(args->auth), args->timeout);

    if ((size_t)args->transport < sizeof(transports) / sizeof(transports[0])) {
        rc = transports[args->transport](&x, &res);
    } else {
        rc = vf_xport_vmchannel(&x, &res);
    }
    fflush(stdout);
    ret = report(args, rc, &res);
    if (args->diagnose && res.diag[0] != '\0') {
        fputs(res.diag, stderr);
    } else if (args->diagnose) {
        fprintf(stderr, "%s: --diagnose covers the multicast transport only\n",
                args->progname);
    }
    return ret;
}

int
main(int argc, char **argv)
{
    struct vf_args args;
    struct vf_key key;
    struct vf_req req;
    enum vf_agent_kind kind;
    const char *progname;
    bool key_loaded = false;
    int ret = 1;

    kind = vf_agent_kind_from_argv0(argc > 0 ? argv[0] : "fence_virt");
    progname = kind == VF_AGENT_XVM ? "fence_xvm" : "fence_virt";
    signal(SIGPIPE, SIG_IGN);
    vf_args_init(&args, kind, progname);

    if (parse_options(&args, argc, argv, &ret)) {
        goto out;
    }
    (void)vf_args_finish(&args);
    vf_log_init(progname, VF_LOG_STDERR, args.debug);
    openlog(progname, LOG_PID, LOG_DAEMON);

    if (local_action(&args, &ret)) {
        goto out;
    }
    if (check_request(&args) < 0 || prepare_request(&args, &key, &key_loaded, &req) < 0) {
        goto out;
    }
    ret = run_request(&args, key_loaded ? &key : NULL, &req);

out:
    if (key_loaded) {
        vf_key_clear(&key);
    }
    vf_args_done(&args);
    if (fflush(stdout) != 0 && ret == 0) {
        ret = 1;
    }
    return ret;
}
