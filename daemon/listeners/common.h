/*
 * vmfence - daemon/listeners/common.h: code shared by the network listeners
 * (tcp, vsock, multicast): their configuration block and the accept loop.
 */
#ifndef VF_LISTENER_COMMON_H
#define VF_LISTENER_COMMON_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "plugin.h"

/* listeners/<name> settings.  hash and auth are kept apart (D1). */
struct vf_lsettings {
    char name[32];
    char key_file[4096];
    enum vf_hash hash;          /* minimum accepted request hash */
    enum vf_hash auth;          /* challenge/response algorithm */
    int family;                 /* AF_INET / AF_INET6 */
    bool family_set;
    char address[256];          /* "" = listener default */
    uint16_t port;
    char interface[IF_NAMESIZE + 1];  /* "" = none */
    struct vf_key *key;         /* loaded when hash or auth != none */
};

/*
 * Read listeners/<name> from @conf with the reference defaults.  A key file
 * that is missing or unreadable while hash or auth is not "none" is an
 * error (never run unauthenticated); a key file readable by others gives a
 * loud warning (never chmod'ed).  Messages name the config file:line.
 */
int vf_lsettings_read(const struct vf_conf *conf, const char *name,
                      struct vf_lsettings *s, char *err, size_t err_len);
void vf_lsettings_done(struct vf_lsettings *s);
/* vf_lsettings_read() and done, for the schema's validate() */
int vf_lsettings_validate(const struct vf_conf *conf, const char *name, char *err,
                          size_t err_len);

/* The settings schemas of the network listeners (their ops tables' .schema). */
extern const struct vf_schema vf_schema_multicast;
extern const struct vf_schema vf_schema_tcp;
extern const struct vf_schema vf_schema_vsock;

/* Fill the generic parts of a signed-request connection. */
void vf_conn_init_signed(struct vf_conn *c, const struct vf_lsettings *s,
                         const char *listener);

/*
 * Write one response byte / host state record on conn->fd.  Host list
 * records (and VF_RESP_HOSTLIST) are buffered in conn->priv and written in
 * batches, at the latest with the next other response byte; a conn using
 * these must leave conn->priv to them and close with vf_conn_fd_close().
 */
int vf_conn_fd_send_response(struct vf_conn *c, uint8_t resp, int64_t deadline_ms);
int vf_conn_fd_send_host_state(struct vf_conn *c, const struct vf_host_state *hs,
                               int64_t deadline_ms);

/*
 * Stream listeners (tcp, vsock, stream.c): accept connections on @lfd and
 * collect the 176-byte request of each (1 s per connection, reference
 * timing) with at most VF_STREAM_PENDING_MAX connections pending, then
 * serve them: in place by the few threads that wait on one epoll set, or in the
 * daemon's workers.  Survives EMFILE/ENFILE (backs off and continues, D20).
 */
#define VF_STREAM_PENDING_MAX 64
#define VF_STREAM_REQ_TIMEOUT_MS 1000

/* identity (ACL source) and peer (log text) of an accepted socket */
typedef void vf_stream_describe_fn(int fd, const struct sockaddr *sa, socklen_t len,
                                   char *identity, size_t id_len, char *peer,
                                   size_t peer_len);

struct vf_stream_listener {
    const char *name;
    int lfd;
    const struct vf_daemon_api *api;
    const struct vf_lsettings *settings;
    vf_stream_describe_fn *describe;
};

/* close() of a conn whose struct vf_conn is the first member of a malloc'ed
 * listener struct: closes conn->fd, frees conn->priv (write buffer) and it */
void vf_conn_fd_close(struct vf_conn *c);

/* A stream listener instance (tcp, vsock): its settings, socket and loop. */
struct vf_stream_priv {
    struct vf_lsettings s;
    struct vf_stream_listener sl;
    int fd;                     /* listening socket, -1 once closed */
    struct lf *lf;              /* the threads serving it (stream.c) */
};

/* What tells one stream listener (tcp, vsock) from another. */
struct vf_stream_kind {
    const char *name;           /* "tcp", "vsock": listeners/<name> */
    const char *socket_hint;    /* appended to a socket() error, or "" */
    vf_stream_describe_fn *describe;
    /* The address to bind, from the settings, and its text for messages
     * ("127.0.0.1:1229", "port 1229").  0, or -errno with @err set. */
    int (*address)(const struct vf_lsettings *s, struct sockaddr_storage *sa,
                   socklen_t *salen, char *text, size_t text_len, char *err,
                   size_t err_len);
};

#define VF_STREAM_BACKLOG 1024  /* bursts of connections wait in the kernel, not in retransmits */

/*
 * listener ops init() of a stream listener: read listeners/<kind->name>,
 * bind its address and listen (backlog VF_STREAM_BACKLOG).  Messages name
 * the listener and the address.  \return 0 (*ret_priv set) or -errno
 */
int vf_stream_priv_init(const struct vf_stream_kind *kind, const struct vf_conf *conf,
                        const struct vf_daemon_api *api, void **ret_priv, char *err,
                        size_t err_len);
/* listener ops run(): serve, then close the listening socket at once */
int vf_stream_priv_run(void *priv);
/* listener ops fini(): NULL-tolerant */
void vf_stream_priv_fini(void *priv);

#endif
