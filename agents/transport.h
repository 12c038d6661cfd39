/*
 * vmfence - agents/transport.h: the agent's internal transport interface.
 *
 * agent-main.c builds one request and hands it to exactly one transport
 * (multicast, tcp, vsock, serial tty or vmchannel).  A transport delivers
 * the request, runs the authentication its wire protocol needs and returns
 * the daemon's answer: one response byte, or a host list passed record by
 * record to a callback.  Transports never print results and never exit; on
 * failure they return a negative errno and leave one actionable message in
 * the result (main prints it).  Internal to agents/, not installed.
 */
#ifndef VF_AGENT_TRANSPORT_H
#define VF_AGENT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "key.h"
#include "opts.h"
#include "wire.h"

/* Upper bounds for what a daemon may send us */
#define VF_AGENT_MAX_HOSTS      65536   /* host list records */
#define VF_AGENT_MAX_GARBAGE    65536   /* serial: bytes skipped before the magic */
#define VF_AGENT_CONNECT_MS     3000    /* TCP / vmchannel / vsock connect bound */
#define VF_AGENT_SERIAL_WRITE_MS 3000   /* serial request write bound */
#define VF_AGENT_FINAL_BYTE_MS  1000    /* wait for the byte after a host list */
#define VF_AGENT_CB_PENDING     16      /* multicast call-backs challenged at once */
#define VF_AGENT_CB_ANSWER_MS   4000    /* a call-back's bound to answer our challenge */
#define VF_AGENT_CB_GRACE_MS    1000    /* ... of which at most this after the timeout */

/* Called once per host list record (terminator excluded); non-zero stops. */
typedef int (*vf_host_cb)(const struct vf_host_state *hs, void *userdata);

/* What a transport needs: parsed options, key (NULL when none) and the request. */
struct vf_xport {
    const struct vf_args *args;
    const struct vf_key *key;     /* NULL: no key loaded (hash and auth none) */
    struct vf_req *req;           /* cmd, hashtype, flags, domain, seqno set */
    vf_host_cb on_host;
    void *userdata;
};

struct vf_result {
    int resp;                     /* response byte 0..255; -1 when none */
    bool hostlist;                /* a host list stream was received */
    size_t n_hosts;
    char msg[768];                /* failure reason (one or two lines) */
    /* fence_xvm --diagnose (xport-mcast*.c): what each step saw, "" when not asked */
    char diag[2048];
};

/*
 * The transports.  Each one returns 0 when the daemon answered (res->resp
 * holds the byte; res->hostlist is set and the records went to x->on_host
 * for a list), or a negative errno with res->msg saying what failed and
 * what to check.  All of them are bounded by args->timeout (plus a 3 s
 * connect bound); none prints or exits.
 *   tcp        fence_virt -T: signed request, challenge, respond, answer
 *   vsock      fence_virt -S<cid>: the same over AF_VSOCK
 *   mcast      fence_xvm: signed datagrams to the group, TCP call-back
 *   serial     fence_virt -D: serial framing on a tty (no key, no auth)
 *   vmchannel  fence_virt default: serial framing over TCP (guestfwd)
 */
int vf_xport_tcp(const struct vf_xport *x, struct vf_result *res);
int vf_xport_vsock(const struct vf_xport *x, struct vf_result *res);
int vf_xport_mcast(const struct vf_xport *x, struct vf_result *res);
int vf_xport_serial(const struct vf_xport *x, struct vf_result *res);
int vf_xport_vmchannel(const struct vf_xport *x, struct vf_result *res);

/*
 * Shared by the authenticated stream transports (xport-tcp.c): after the
 * request has been delivered on @fd, challenge the daemon, answer its
 * challenge and read the response byte or host list, all before
 * @deadline_ms.  @peer names the daemon in messages.
 */
int vf_stream_exchange(const struct vf_xport *x, int fd, const char *peer,
                       int64_t deadline_ms, struct vf_result *res);

/*
 * The second step of vf_stream_exchange() (after challenging the daemon),
 * same deadline and messages: answer the daemon's challenge and read the
 * response byte or host list.  The multicast call-back challenges its
 * connections itself and runs only this on the one that passed.
 */
int vf_stream_finish(const struct vf_xport *x, int fd, const char *peer,
                     int64_t deadline_ms, struct vf_result *res);

/*
 * Shared by tcp and vsock: sign the request (no call-back address), connect
 * to @sa within VF_AGENT_CONNECT_MS (and the timeout), send it and run
 * vf_stream_exchange().  @peer names the daemon in messages.
 */
int vf_stream_request(const struct vf_xport *x, const struct sockaddr *sa,
                      socklen_t sa_len, const char *peer, struct vf_result *res);

/*
 * Handle the response byte @byte read on @fd: record it in res->resp and,
 * for a list request only, read the host list that a 253 byte announces.
 * A host list sent in answer to any other request is a failure (-EBADMSG),
 * never a success.  @trailer_len as for vf_read_hostlist().
 */
int vf_handle_answer(const struct vf_xport *x, int fd, uint8_t byte,
                     int64_t deadline_ms, const char *peer, size_t trailer_len,
                     struct vf_result *res);

/*
 * Read a host list stream (after the 253 byte) on @fd; used by every
 * transport.  @trailer_len bytes that follow the terminator record (1 on
 * authenticated streams, a 5-byte frame on serial) are read briefly and
 * ignored.
 */
int vf_read_hostlist(const struct vf_xport *x, int fd, int64_t deadline_ms,
                     const char *peer, size_t trailer_len, struct vf_result *res);

/* The earlier of @start_ms + @bound_ms and @start_ms + the -t timeout. */
int64_t vf_xport_bound(const struct vf_args *args, int64_t start_ms, int bound_ms);

/* printf into res->msg */
void vf_result_msg(struct vf_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
