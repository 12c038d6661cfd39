/*
 * vmfence - daemon/plugin.h: the plugin ABI for listeners and backends.
 *
 * A plugin (a shared object in module_path, or linked into fence_virtd)
 * exports one symbol, "vf_plugin", of type struct vf_plugin.  Its first
 * field is the integer ABI version; the daemon refuses any other value with
 * a log line naming the file and both versions.  A plugin may provide a
 * listener, a backend, or both.
 *
 * ABI 3 (modules of ABI 1 and 2 are refused): every ops table carries its
 * settings schema (struct vf_schema, below): the keys of its block with
 * type, default, range or allowed values, help text and flags, a check
 * hook for cross-key rules, and for listeners the flags the daemon needs.
 * --check-config, fence_virtd -c and the daemon read these schemas and
 * name no plugin.  ABI 2 added:
 *  - a listener's init() receives a struct vf_daemon_api with a context
 *    pointer: it calls api->submit(api->ctx, conn) and
 *    api->stopping(api->ctx);
 *  - a backend's init() receives a struct vf_host_api: it finds another
 *    backend's ops by name and logs with its plugin's tag through it, so
 *    no plugin needs a daemon header beyond this one.
 *
 * Threading: backend ops are called from worker threads concurrently, for
 * different domains; the daemon serialises operations on the same target
 * name.  A backend must therefore be thread-safe.  Listener run() is called
 * in a thread of its own.
 *
 * Return convention: 0 or a negative errno.  Backend errors that matter:
 *   -ENOENT     no such domain           -EHOSTDOWN  backend unavailable
 *   -ETIMEDOUT  deadline passed          -EOPNOTSUPP cannot (e.g. start a transient domain)
 *   -EIO        the hypervisor refused or failed
 */
#ifndef VF_PLUGIN_H
#define VF_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include "conftree.h"
#include "wire.h"
#include "key.h"

#define VF_PLUGIN_ABI 3

/* ---- settings schema ----------------------------------------------------- */

enum vf_setting_type {
    VF_ST_STRING,   /* any text */
    VF_ST_PATH,     /* should be absolute (a warning otherwise) */
    VF_ST_INT,      /* decimal in min..max */
    VF_ST_BOOL,     /* yes/no (also y, true, on, 1 / n, false, off, 0) */
    VF_ST_ENUM,     /* one of allowed[] (case-insensitive) */
    VF_ST_LIST,     /* comma-separated words */
    VF_ST_ADDR,     /* IP address literal; -c also sets "family" from it */
    VF_ST_IFACE,    /* name of an existing network interface */
};

enum vf_setting_flags {
    VF_SF_REQUIRED = (1 << 0),  /* --check-config warns when the selected backend's block
                                 * lacks it */
    VF_SF_NUMBERED = (1 << 1),  /* also key1, key2, ... (numbered without gaps) */
    VF_SF_NONEMPTY = (1 << 2),  /* an empty value is an error, not "the default" */
    VF_SF_ASK = (1 << 3),       /* fence_virtd -c asks it, in table order */
    VF_SF_NONE_UNSETS = (1 << 4), /* -c: the answer "none" removes the key */
    VF_SF_MULTICAST = (1 << 5), /* VF_ST_ADDR: must be a multicast group */
    VF_SF_OR_INT = (1 << 6),    /* VF_ST_ENUM: a decimal number is accepted too */
};

/* One key of a plugin's block (listeners/<name> or backends/<name>). */
struct vf_setting {
    const char *key;
    enum vf_setting_type type;
    const char *def;            /* default the plugin uses, as text; NULL = none */
    long min, max;              /* VF_ST_INT */
    const char *const *allowed; /* VF_ST_ENUM: NULL-terminated */
    const char *help;           /* one line; fence_virtd -c uses it as the prompt */
    unsigned int flags;         /* enum vf_setting_flags */
    const char *intro;          /* -c: paragraph shown before the question, or NULL */
    const char *ask_def;        /* -c: proposal when unset, if not @def ("none": unset) */
};

/* What a schema's check hook gets: the block's values and a reporter. */
struct vf_check {
    void *ctx;
    const char *section;        /* "listeners/multicast" */
    /* Effective (last, non-empty) value of @key in the block, or NULL. */
    const char *(*get)(const struct vf_check *chk, const char *key);
    /* One diagnostic at @key's line (NULL: the block's), counted as an
     * error or a warning: "FILE:LINE: error: <message>". */
    void (*report)(const struct vf_check *chk, const char *key, bool error,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
    /* @s made printable and cut to 60 characters, into @buf, for messages. */
    const char *(*shown)(const char *s, char *buf, size_t buf_len);
};

/* Listener flags, so that the daemon never compares listener names. */
enum vf_listener_flags {
    VF_LF_KEYED = (1 << 0),     /* signs requests with a shared key (key_file, hash, auth) */
    VF_LF_STREAM = (1 << 1),    /* a stream socket per request (tcp, vsock) */
    VF_LF_BROADCAST = (1 << 2), /* requests reach every host (multicast) */
    VF_LF_HOST_FDS = (1 << 3),  /* needs host-side files (per-VM sockets): under
                                 * privilege separation the privileged process
                                 * opens them and passes them to the network
                                 * process (privsep/guestpair.h) */
};

struct vf_schema {
    const char *intro;          /* -c: paragraph shown before the block's questions */
    const struct vf_setting *settings;  /* ends with { NULL } */
    unsigned int flags;         /* listeners: enum vf_listener_flags;
                                 * backends: enum vf_backend_caps */
    /* Listeners: what a request's group identity is, for the --check-config
     * security warnings ("the peer's IP address"); NULL if not keyed. */
    const char *identity;
    /* Optional: cross-key rules for --check-config (e.g. address vs family). */
    void (*check)(const struct vf_check *chk);
    /* Optional, listeners: validate the block of enabled listener @name as
     * init() would (key files included) without opening anything; 0 or
     * -errno with "FILE:LINE: ..." in @err.  --check-config and reloads. */
    int (*validate)(const struct vf_conf *conf, const char *name, char *err, size_t err_len);
};

/* ---- backends ------------------------------------------------------------ */

enum vf_be_flags {
    VF_BE_BY_UUID = (1 << 0),   /* the target is a UUID (request flag RF_UUID) */
    VF_BE_NOWAIT = (1 << 1),    /* status only, and only to a backend whose schema
                                 * says VF_BC_STATUS_NOWAIT: answer from what the
                                 * backend already knows, without a call that can
                                 * block, or return -EWOULDBLOCK at once */
};

/* Backend capabilities, in its schema's flags (absent = 0 = none). */
enum vf_backend_caps {
    VF_BC_STATUS_NOWAIT = (1 << 0), /* status() honours VF_BE_NOWAIT */
    VF_BC_STATUS_STAMPED = (1 << 1), /* what a VF_BE_NOWAIT status answers changes only
                                      * with a vf_statstamp_bump() (lib/statstamp.h) */
};

struct vf_domain_info {
    char name[256];
    char uuid[37];              /* canonical text UUID */
    int state;                  /* enum vf_dom_state */
    bool persistent;
};

/*
 * The order of a backend's list(), as a qsort() comparator over struct
 * vf_domain_info: by name case-insensitively, then byte-wise, then by UUID.
 * Shared so that every backend sorts the same way.
 */
static inline int
vf_domain_info_cmp(const void *a, const void *b)
{
    const struct vf_domain_info *x = a, *y = b;
    int c = strcasecmp(x->name, y->name);

    if (c == 0) {
        c = strcmp(x->name, y->name);
    }
    if (c == 0) {
        c = strcmp(x->uuid, y->uuid);
    }
    return c;
}

typedef int (*vf_domain_cb)(void *arg, const struct vf_domain_info *dom);

/*
 * A domain changed (defined, undefined, started, stopped, crashed, migrated
 * in or out): @dom holds its name, UUID and new state; @gone is true when
 * it no longer exists on this backend (undefined, migrated away, transient
 * and stopped).  Called from a backend thread; must not block.
 */
typedef void (*vf_domain_event_cb)(void *arg, const struct vf_domain_info *dom, bool gone);

struct vf_backend_ops;

/*
 * What the daemon offers a backend, given to init() and valid until the
 * backend's fini() has returned.  Pass @ctx back as the first argument.
 */
struct vf_host_api {
    void *ctx;
    /* Ops of another registered backend (e.g. "libvirt"), NULL if none. */
    const struct vf_backend_ops *(*find_backend)(void *ctx, const char *name);
    /* Log a line prefixed with the plugin's tag ("libvirt: ..."). */
    void (*log)(void *ctx, int prio, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
};

struct vf_backend_ops {
    const char *name;           /* config name: "libvirt", "cpg" */
    const char *version;        /* for fence_virtd -l */
    /* Required.  Read the block backends/<name> of @conf.  Must not block for
     * long: a hypervisor that is down is reported as unavailable at request
     * time, not by failing init (unless the configuration is invalid).
     * A backend that runs another one (cpg runs libvirt) passes @host on. */
    int (*init)(const struct vf_host_api *host, const struct vf_conf *conf,
                void **ret_priv, char *err, size_t err_len);
    void (*fini)(void *priv);   /* required */
    /* Required.  Resolve a target (name or UUID) to a domain. */
    int (*lookup)(void *priv, const char *target, unsigned int flags,
                  struct vf_domain_info *ret_dom, int64_t deadline_ms);
    /* Required.  off: 0 once the domain is observed shut off (or was). */
    int (*off)(void *priv, const char *target, unsigned int flags, int64_t deadline_ms);
    int (*on)(void *priv, const char *target, unsigned int flags, int64_t deadline_ms);
    int (*reboot)(void *priv, const char *target, unsigned int flags, int64_t deadline_ms);
    /* status: *ret_on = true for running/blocked/paused/pmsuspended...; see backend docs. */
    int (*status)(void *priv, const char *target, unsigned int flags,
                  bool *ret_on, int64_t deadline_ms);
    /* Every domain (active and defined-inactive), in vf_domain_info_cmp order. */
    int (*list)(void *priv, vf_domain_cb cb, void *arg, int64_t deadline_ms);
    /* Optional (NULL = always healthy): 0 if the backend can serve requests. */
    int (*monitor)(void *priv, int64_t deadline_ms);
    /* Optional: re-read configuration on SIGHUP. */
    int (*reload)(void *priv, const struct vf_conf *conf, char *err, size_t err_len);
    /* Optional: call @cb for every domain change from now on (lifecycle
     * events), until unwatch() with the same @cb/@arg; 0 or -errno.  After a
     * lost connection the backend calls @cb for every domain again once it
     * is back (a resync), so a watcher never keeps a stale picture. */
    int (*watch)(void *priv, vf_domain_event_cb cb, void *arg);
    void (*unwatch)(void *priv, vf_domain_event_cb cb, void *arg);
    /* Required (ABI 3): the keys of backends/<name>. */
    const struct vf_schema *schema;
};

/* ---- listeners ----------------------------------------------------------- */

struct vf_conn;

/* How a listener talks back to the requester (framing is the listener's). */
struct vf_conn_ops {
    /* Optional: establish the reply channel (multicast connect-back);
     * -EAGAIN when the listener's rate limit for that destination refused it. */
    int (*open)(struct vf_conn *conn, int64_t deadline_ms);
    /* Send a response byte (serial frames it with the magic). */
    int (*send_response)(struct vf_conn *conn, uint8_t resp, int64_t deadline_ms);
    /* Send one host list record (terminator = all-zero record). */
    int (*send_host_state)(struct vf_conn *conn, const struct vf_host_state *hs,
                           int64_t deadline_ms);
    /* Required: release the connection (close fd unless shared, free). */
    void (*close)(struct vf_conn *conn);
};

/* A request handed from a listener to the pipeline. */
struct vf_conn {
    const struct vf_conn_ops *ops;
    const char *listener;       /* listener name, for logs and dedupe scope */
    char peer[128];             /* human form for logs: "10.0.0.5:40122", "cid 3", "domain vm1 (<uuid>)" */
    char identity[128];         /* ACL source: IP text, CID decimal, or domain UUID */
    struct vf_req req;          /* decoded request */
    uint8_t raw[VF_REQ_SIZE];   /* raw signed bytes (network listeners) */
    bool is_signed;             /* verify raw with min_hash/key (false: serial) */
    enum vf_hash min_hash;      /* listener's configured "hash" (minimum) */
    enum vf_hash auth;          /* listener's configured "auth" */
    const struct vf_key *key;   /* NULL when none is configured */
    int fd;                     /* stream for challenge/response, -1 if none */
    int64_t accepted_ms;
    void *priv;                 /* listener private */
};

/*
 * What the daemon offers a listener instance, given to init() and valid
 * until its fini() has returned.  Pass @ctx back as the first argument.
 */
struct vf_daemon_api {
    void *ctx;
    /* Hand over a connection; the pipeline owns it afterwards and calls
     * conn->ops->close() when done.  Never blocks on backend work. */
    void (*submit)(void *ctx, struct vf_conn *conn);
    /* true once this instance must stop (shutdown, or a reload restarts it) */
    bool (*stopping)(void *ctx);
    /* Like submit(), but the request runs in the calling thread and this
     * returns when it has ended (bounded by the request's deadlines): for a
     * listener that keeps another thread accepting meanwhile (common.c's
     * leader/follower), it saves the hand-off to a worker.  Appended in
     * ABI 2: a module must check it is not NULL. */
    void (*serve)(void *ctx, struct vf_conn *conn);
};

struct vf_listener_ops {
    const char *name;           /* "multicast", "tcp", "vsock", "serial" */
    const char *version;
    /* Required.  Read listeners/<name>, open sockets; fail with a clear message. */
    int (*init)(const struct vf_conf *conf, const struct vf_daemon_api *api,
                void **ret_priv, char *err, size_t err_len);
    /* Required.  Serve until api->stopping(api->ctx); runs in its own thread and must
     * wake up at least every 500 ms to check. */
    int (*run)(void *priv);
    void (*fini)(void *priv);   /* required */
    /* Required (ABI 3): the keys of listeners/<name> and the flags. */
    const struct vf_schema *schema;
};

struct vf_plugin {
    uint32_t abi;               /* VF_PLUGIN_ABI: first, always */
    const char *name;
    const struct vf_listener_ops *listener;  /* NULL if none */
    const struct vf_backend_ops *backend;    /* NULL if none */
};

/*
 * Every plugin source ends with VF_PLUGIN_DEFINE(id, listener_ops, backend_ops)
 * (either ops pointer may be NULL).  Linked into fence_virtd it defines
 * `vf_plugin_<id>`, which daemon/plugin.c lists as a built-in; compiled as a
 * loadable module (-DVF_PLUGIN_MODULE) it defines the exported `vf_plugin`.
 */
#ifdef VF_PLUGIN_MODULE
#define VF_PLUGIN_DEFINE(id, lops, bops) \
    __attribute__((visibility("default"))) \
    const struct vf_plugin vf_plugin = { VF_PLUGIN_ABI, #id, (lops), (bops) }
#else
#define VF_PLUGIN_DEFINE(id, lops, bops) \
    const struct vf_plugin vf_plugin_##id = { VF_PLUGIN_ABI, #id, (lops), (bops) }
#endif

/*
 * The fields every ops table starts with: its schema, its config name and
 * this package's version (PACKAGE_VERSION of the plugin's build).  For a
 * backend: `const struct vf_backend_ops x_ops = { VF_OPS_IDENTITY(&x_schema,
 * "x"), .init = ..., };`.
 */
#define VF_OPS_IDENTITY(schema_, name_) \
    .schema = (schema_), .name = (name_), .version = PACKAGE_VERSION

/* The initialiser of a listener's ops table (all of its members). */
#define VF_LISTENER_OPS(schema_, name_, init_, run_, fini_) \
    { \
        VF_OPS_IDENTITY(schema_, name_), \
        .init = (init_), .run = (run_), .fini = (fini_), \
    }

/*
 * A plugin that is one listener, named @id (listeners/<id>): its ops table
 * (static, `vf_listener_ops_<id>`) and its VF_PLUGIN_DEFINE(@id), in one
 * statement at the end of the listener's source.
 */
#define VF_LISTENER_PLUGIN(id, schema_, init_, run_, fini_) \
    static const struct vf_listener_ops vf_listener_ops_##id = \
        VF_LISTENER_OPS(schema_, #id, init_, run_, fini_); \
    VF_PLUGIN_DEFINE(id, &vf_listener_ops_##id, NULL)

#endif
