/*
 * vmfence - lib/fa-run.h: the common fence-agents options and the action
 * dispatch of agents of the fence-agents family (fence_xenapi).
 *
 * An agent lists the common entries it has (vf_fa_opt_*) in its metadata
 * order next to its own, passes every value through vf_fa_common_apply()
 * first, and gives vf_fa_main() a small ops table.  vf_fa_main() then does
 * everything else: argv/stdin, --help, --version, metadata, manpage,
 * validate-all, delay, connect, status/on/off/reboot with confirmation
 * polling bounded by a deadline, list/list-status/monitor, disconnect on
 * every path after a successful connect, and the exit code:
 *   0 success ("Status: ON"), 2 "Status: OFF", 1 any failure.
 */
#ifndef VF_FA_RUN_H
#define VF_FA_RUN_H

#include <stdint.h>

#include "fa.h"

enum vf_fa_act {
    VF_FA_ON,
    VF_FA_OFF,
    VF_FA_REBOOT,
    VF_FA_STATUS,
    VF_FA_MONITOR,
    VF_FA_LIST,
    VF_FA_LIST_STATUS,
    VF_FA_METADATA,
    VF_FA_MANPAGE,
    VF_FA_VALIDATE_ALL,
};
#define VF_FA_NEED(act) (1u << (act))
#define VF_FA_NEED_POWER (VF_FA_NEED(VF_FA_ON) | VF_FA_NEED(VF_FA_OFF) | \
                          VF_FA_NEED(VF_FA_REBOOT) | VF_FA_NEED(VF_FA_STATUS))
#define VF_FA_NEED_CONNECT (VF_FA_NEED_POWER | VF_FA_NEED(VF_FA_MONITOR) | \
                            VF_FA_NEED(VF_FA_LIST) | VF_FA_NEED(VF_FA_LIST_STATUS))

/* ids of the common options (struct vf_opt.id); agents use >= VF_FA_ID_AGENT */
enum {
    VF_FA_ID_ACTION = 1,
    VF_FA_ID_PLUG,
    VF_FA_ID_USERNAME,
    VF_FA_ID_PASSWORD,
    VF_FA_ID_PASSWORD_SCRIPT,
    VF_FA_ID_QUIET,
    VF_FA_ID_VERBOSE,
    VF_FA_ID_VERBOSE_LEVEL,
    VF_FA_ID_DEBUG_FILE,
    VF_FA_ID_VERSION,
    VF_FA_ID_HELP,
    VF_FA_ID_PLUG_SEPARATOR,
    VF_FA_ID_SEPARATOR,
    VF_FA_ID_DELAY,
    VF_FA_ID_DISABLE_TIMEOUT,
    VF_FA_ID_LOGIN_TIMEOUT,
    VF_FA_ID_POWER_TIMEOUT,
    VF_FA_ID_POWER_WAIT,
    VF_FA_ID_SHELL_TIMEOUT,
    VF_FA_ID_STONITH_STATUS_SLEEP,
    VF_FA_ID_RETRY_ON,
    VF_FA_ID_AGENT = 100,
};

/* the common entries; an alias entry shares the id of its option */
extern const struct vf_opt vf_fa_opt_action, vf_fa_opt_login, vf_fa_opt_passwd,
    vf_fa_opt_passwd_script, vf_fa_opt_password, vf_fa_opt_password_script,
    vf_fa_opt_plug, vf_fa_opt_port, vf_fa_opt_username, vf_fa_opt_quiet,
    vf_fa_opt_verbose, vf_fa_opt_verbose_level, vf_fa_opt_debug, vf_fa_opt_debug_file,
    vf_fa_opt_version, vf_fa_opt_help, vf_fa_opt_plug_separator, vf_fa_opt_separator,
    vf_fa_opt_delay, vf_fa_opt_disable_timeout, vf_fa_opt_login_timeout,
    vf_fa_opt_power_timeout, vf_fa_opt_power_wait, vf_fa_opt_shell_timeout,
    vf_fa_opt_stonith_status_sleep, vf_fa_opt_retry_on;

/* the actions of a power agent, in the order fence-agents lists them */
extern const struct vf_fa_action vf_fa_power_actions[];

/*
 * Without a usable power_timeout (0, or disable_timeout as Pacemaker sets
 * it) the power change is still confirmed within this many seconds.
 */
#define VF_FA_POWER_TIMEOUT_CAP 120u
#define VF_FA_MAX_SECONDS 86400u

struct vf_fa_common {
    const char *progname;
    enum vf_fa_act action;
    char *plug;
    char *username;
    char *password;             /* wiped by vf_fa_common_done() */
    char *password_script;
    bool quiet;
    unsigned int verbose;
    char *debug_file;
    char *separator;
    char *plug_separator;
    unsigned int delay, login_timeout, power_timeout, power_wait, shell_timeout;
    unsigned int stonith_status_sleep, retry_on;
    bool disable_timeout;
    /* which option ids got a value (for "needed by this action") */
    int seen[64];
    unsigned int n_seen;
    char **problems;
    size_t n_problems;
    char **unknown;
    size_t n_unknown;
    FILE *debug;                /* debug_file, opened by vf_fa_main */
};

void vf_fa_common_init(struct vf_fa_common *c, const char *progname);
void vf_fa_common_done(struct vf_fa_common *c);
/*
 * Store a value of a common option.  -ENOENT: not a common option (the
 * agent handles it); -EINVAL: bad value (message in @msg).
 */
int vf_fa_common_apply(struct vf_fa_common *c, const struct vf_opt *o, const char *val,
                       enum vf_fa_src src, const char *name, char *msg, size_t msg_len);
void vf_fa_common_problem(struct vf_fa_common *c, const char *msg);
int vf_fa_common_unknown(struct vf_fa_common *c, const char *key);
/* the action's name ("list-status") */
const char *vf_fa_act_name(enum vf_fa_act act);
/*
 * Run password_script (/bin/sh -c) and take the first line of its output
 * as the password; bounded to 4 KiB and 30 s.  0 or -errno.
 */
int vf_fa_run_password_script(struct vf_fa_common *c, char *err, size_t err_len);

/* verbose output and debug_file; never pass secrets */
__attribute__((format(printf, 3, 4)))
void vf_fa_debug(const struct vf_fa_common *c, unsigned int level, const char *fmt, ...);

enum vf_fa_power {
    VF_FA_POWER_OFF = 0,
    VF_FA_POWER_ON = 1,
};

/* one list line: id (UUID), alias (name), power state */
typedef int (*vf_fa_list_fn)(void *data, const char *id, const char *alias,
                             enum vf_fa_power state);

/*
 * The agent's side.  Every function returns 0 or a negative errno and,
 * on failure, leaves a one-line message for error().  @deadline_ms is
 * absolute (vf_now_ms()).
 */
struct vf_fa_ops {
    int (*connect)(void *ctx, int64_t deadline_ms);
    void (*disconnect)(void *ctx);   /* after every successful connect */
    int (*get_power)(void *ctx, const char *plug, int64_t deadline_ms,
                     enum vf_fa_power *ret);
    int (*set_power)(void *ctx, const char *plug, enum vf_fa_power want,
                     int64_t deadline_ms);
    int (*list)(void *ctx, int64_t deadline_ms, vf_fa_list_fn fn, void *data);
    /* validate-all: checks beyond the table (may be NULL) */
    int (*validate)(void *ctx, char *err, size_t err_len);
    const char *(*error)(void *ctx);
};

/*
 * The whole agent: parse argv (or stdin when argc < 2) with @a (whose
 * apply callback gets @ctx), then run the action with @ops.  Returns the
 * process exit code.
 */
int vf_fa_main(const struct vf_fa_agent *a, struct vf_fa_common *c,
               const struct vf_fa_ops *ops, void *ctx, int argc, char **argv);

#endif
