/*
 * vmfence - bench/loadgen.c: load generator for fence_virtd's TCP listener.
 *
 * Speaks the fence-virt TCP protocol directly (protocol.md 2.6): connect,
 * send a signed 176-byte request, challenge the daemon, answer its
 * challenge, read the one-byte response (or the host list stream).  It uses
 * lib/ (vf_req_sign, vf_auth_challenge/respond, vf_connect_tcp) so that the
 * client costs far less than a fence_virt process per request and the daemon
 * is what gets measured.  Works against the reference daemon and ours alike.
 *
 * Usage:
 *   loadgen -a ADDR -p PORT -k KEYFILE [-o status|list|reboot|null]
 *           [-n DOMAIN] [-c CONCURRENCY] (-N REQUESTS | -d SECONDS)
 *           [-i IDLE] [-b DOMAIN] [-t TIMEOUT_S] [-H hash] [-A auth] [-S]
 *   -N  total requests (shared by the clients), or -d run for SECONDS
 *   -i  before each request open IDLE connections that send nothing, and
 *       keep them open until the request is answered (head-of-line test)
 *   -b  a background client reboots DOMAIN in a loop while the others measure
 *   -s  each client connects from a loopback source address of its own,
 *       127.0.0.(2+client): one guest per client, as on a real host (the
 *       daemon limits what ONE requester may have in flight); needs an
 *       IPv4 loopback target
 *   -S  synchronised bursts: all clients send their request at the same
 *       moment (a barrier before each), the next burst starts when every
 *       client has its answer; -N counts bursts.  "64 nodes ask at once":
 *       a client the daemon leaves waiting cannot just issue fewer requests
 *       (in the free-running mode a daemon that serves a few clients and
 *       starves the rest shows a low p99 over the requests it answered).
 * Output: one line of key=value pairs:
 *   ok=N err=N secs=S rps=R mean_ms=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=..
 *   p99all_ms=.. errs=ERRNO:N,...
 * rps counts answered requests only.  p50/p90/p99/max are over the answered
 * requests; p99all_ms is the 99th percentile over ALL requests, a failed
 * one counting as slower than any answered one ("fail" when more than 1 %
 * failed): leaving failures out would flatter a daemon that drops
 * connections under load.  errs: failures by errno name.
 * Exit 0 if at least one request succeeded and none failed, else 1.
 *
 * Sequence numbers come from one counter with a random start, so the
 * daemons' 10-second duplicate filter never drops a benchmark request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "io.h"
#include "key.h"
#include "wire.h"

#define MAX_CLIENTS 256
#define MAX_IDLE 64
#define MAX_SAMPLES 2000000
#define MAX_LIST_RECORDS 1000000

static struct {
    const char *addr;
    uint16_t port;
    struct vf_key key;
    enum vf_cmd cmd;
    const char *domain;
    const char *bg_domain;
    unsigned int clients;
    long total;             /* -N, or -1 */
    double seconds;         /* -d */
    unsigned int idle;
    bool sync;              /* -S */
    bool spread;            /* -s */
    int timeout_ms;
    enum vf_hash hash;
    enum vf_hash auth;
} opt;

static atomic_uint seq;
static atomic_uint next_client;
static __thread unsigned int tl_client;     /* this client thread's index */
static atomic_long issued;
static atomic_long n_ok;
static atomic_long n_err;
static atomic_bool stop_bg;
static int64_t t_end;

static double *samples;     /* latency in ms, one per successful request */
static atomic_long n_samples;

/* failures by errno (index = errno, clamped) */
#define MAX_ERRNO 256
static atomic_long err_count[MAX_ERRNO];

/*
 * Read the host list stream after the 0xFD byte: records until the zero
 * terminator, then the final byte.  \return 0 or -errno.
 */
static int
read_list(int fd, int64_t deadline)
{
    uint8_t rec[VF_HOST_STATE_SIZE];
    uint8_t last;
    struct vf_host_state hs;
    long n;
    int r;

    for (n = 0; n < MAX_LIST_RECORDS; n++) {
        r = vf_read_full(fd, rec, sizeof(rec), deadline);
        if (r < 0) {
            return r;
        }
        r = vf_host_state_decode(rec, sizeof(rec), &hs);
        if (r < 0) {
            return r;
        }
        if (vf_host_state_is_end(&hs)) {
            break;
        }
    }
    if (n == MAX_LIST_RECORDS) {
        return -E2BIG;
    }
    return vf_read_full(fd, &last, 1, deadline);
}

/*
 * -s: connect to opt.addr:opt.port from 127.0.0.(2 + tl_client).
 * \return 0 and the (blocking) socket in *ret_fd, or -errno
 */
static int
connect_spread(int64_t deadline, int *ret_fd)
{
    struct sockaddr_in src, dst;
    struct pollfd pfd;
    socklen_t sl = sizeof(int);
    int fd = -1, err = 0, r = 0;

    memset(&src, 0, sizeof(src));
    memset(&dst, 0, sizeof(dst));
    src.sin_family = dst.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000002u + tl_client);
    dst.sin_port = htons(opt.port);
    if (inet_pton(AF_INET, opt.addr, &dst.sin_addr) != 1) {
        return -EAFNOSUPPORT;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
        (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS)) {
        r = -errno;
        goto fail;
    }
    pfd.fd = fd;
    pfd.events = POLLOUT;
    r = poll(&pfd, 1, (int)(deadline > vf_now_ms() ? deadline - vf_now_ms() : 0));
    if (r <= 0) {
        r = r == 0 ? -ETIMEDOUT : -errno;
        goto fail;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 || err != 0) {
        r = err != 0 ? -err : -errno;
        goto fail;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        r = -errno;
        goto fail;
    }
    *ret_fd = fd;
    return 0;
fail:
    vf_close(fd);
    return r;
}

static int
connect_daemon(int64_t deadline, int *ret_fd)
{
    return opt.spread ? connect_spread(deadline, ret_fd) :
           vf_connect_tcp(opt.addr, opt.port, deadline, ret_fd);
}

/*
 * One complete request on a new connection.
 * \return 0 if the daemon answered (any response byte), -errno otherwise.
 */
static int
one_request(enum vf_cmd cmd, const char *domain)
{
    struct vf_req req;
    uint8_t wire[VF_REQ_SIZE];
    uint8_t resp = 0;
    int64_t deadline = vf_now_ms() + opt.timeout_ms;
    int fd = -1;
    int r;

    memset(&req, 0, sizeof(req));
    req.request = (uint8_t)cmd;
    req.hashtype = (uint8_t)opt.hash;
    snprintf(req.domain, sizeof(req.domain), "%s", domain != NULL ? domain : "");
    req.seqno = atomic_fetch_add(&seq, 1);
    r = vf_req_sign(&req, opt.key.data, opt.key.len, wire);
    if (r < 0) {
        goto out;
    }
    r = connect_daemon(deadline, &fd);
    if (r < 0) {
        goto out;
    }
    r = vf_write_full(fd, wire, sizeof(wire), deadline);
    if (r < 0) {
        goto out;
    }
    if (opt.auth != VF_HASH_NONE) {
        r = vf_auth_challenge(fd, opt.auth, opt.key.data, opt.key.len, deadline);
        if (r < 0) {
            goto out;
        }
        r = vf_auth_respond(fd, opt.auth, opt.key.data, opt.key.len, deadline);
        if (r < 0) {
            goto out;
        }
    }
    r = vf_read_full(fd, &resp, 1, deadline);
    if (r < 0) {
        goto out;
    }
    if (resp == VF_RESP_HOSTLIST) {
        r = read_list(fd, deadline);
    }
    if (r == 0) {
        /* answered: close with a reset, leaving no TIME_WAIT socket.  Tens of
         * thousands of them on loopback (a few seconds of back-to-back
         * requests) made connect() itself take milliseconds, whichever daemon
         * came next */
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };

        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
out:
    vf_close(fd);
    return r;
}

/* Open @n connections that never send anything; fds into @fds. */
static unsigned int
open_idle(int *fds, unsigned int n)
{
    unsigned int i, got = 0;

    for (i = 0; i < n; i++) {
        int fd = -1;
        if (connect_daemon(vf_now_ms() + 3000, &fd) == 0) {
            fds[got++] = fd;
        }
    }
    return got;
}

static pthread_barrier_t burst_barrier;
static bool burst_go;
static long bursts_done;

/* -S: may another burst start?  (decided by one thread between barriers) */
static bool
more_bursts(void)
{
    if (opt.total >= 0) {
        return bursts_done++ < opt.total;
    }
    return vf_now_ms() < t_end;
}

static bool
more_work(void)
{
    if (opt.sync) {
        if (pthread_barrier_wait(&burst_barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
            burst_go = more_bursts();
        }
        pthread_barrier_wait(&burst_barrier);
        return burst_go;
    }
    if (opt.total >= 0) {
        return atomic_fetch_add(&issued, 1) < opt.total;
    }
    return vf_now_ms() < t_end;
}

static double
ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 +
           (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void *
client_main(void *arg)
{
    int idle_fds[MAX_IDLE];

    (void)arg;
    tl_client = atomic_fetch_add(&next_client, 1);
    while (more_work()) {
        struct timespec a, b;
        unsigned int n_idle = 0, i;
        int r;

        if (opt.idle > 0) {
            n_idle = open_idle(idle_fds, opt.idle);
        }
        clock_gettime(CLOCK_MONOTONIC, &a);
        r = one_request(opt.cmd, opt.domain);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (r == 0) {
            long k = atomic_fetch_add(&n_samples, 1);
            if (k < MAX_SAMPLES) {
                samples[k] = ms_between(&a, &b);
            }
            atomic_fetch_add(&n_ok, 1);
        } else {
            int e = -r;

            atomic_fetch_add(&n_err, 1);
            atomic_fetch_add(&err_count[e > 0 && e < MAX_ERRNO ? e : 0], 1);
        }
        for (i = 0; i < n_idle; i++) {
            vf_close(idle_fds[i]);
        }
    }
    return NULL;
}

static void *
background_main(void *arg)
{
    (void)arg;
    tl_client = 250;        /* -s: a guest of its own, apart from the clients */
    while (!atomic_load(&stop_bg)) {
        if (one_request(VF_CMD_REBOOT, opt.bg_domain) < 0) {
            usleep(10000);
        }
    }
    return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
pct(const double *v, long n, double p)
{
    long i;

    if (n <= 0) {
        return 0.0;
    }
    i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static int
parse_hash(const char *s, enum vf_hash *ret)
{
    static const char *const names[] = { "none", "sha1", "sha256", "sha512" };
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *ret = (enum vf_hash)i;
            return 0;
        }
    }
    return -EINVAL;
}

static void
usage(FILE *f)
{
    fputs("usage: loadgen -a ADDR -p PORT -k KEYFILE [-o status|list|reboot|null] [-n DOMAIN]\n"
          "               [-c CLIENTS] (-N REQUESTS | -d SECONDS) [-i IDLE] [-b DOMAIN]\n"
          "               [-t TIMEOUT_S] [-H hash] [-A auth] [-s] [-S]\n", f);
}

/* -o: the command of an operation name.  \return 0 or -EINVAL */
static int
parse_op(const char *s, enum vf_cmd *ret)
{
    static const struct {
        const char *name;
        enum vf_cmd cmd;
    } ops[] = {
        { "status", VF_CMD_STATUS }, { "list", VF_CMD_HOSTLIST },
        { "reboot", VF_CMD_REBOOT }, { "null", VF_CMD_NULL },
    };

    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (strcmp(s, ops[i].name) == 0) {
            *ret = ops[i].cmd;
            return 0;
        }
    }
    return -EINVAL;
}

/*
 * The command line into opt and *ret_keyfile.
 * \return -1 to go on, or the exit code (0 after -h, 2 on a usage error)
 */
static int
parse_args(int argc, char **argv, const char **ret_keyfile)
{
    int c;

    opt.cmd = VF_CMD_STATUS;
    opt.clients = 1;
    opt.total = -1;
    opt.seconds = 0.0;
    opt.timeout_ms = 30000;
    opt.hash = VF_HASH_SHA256;
    opt.auth = VF_HASH_SHA256;
    while ((c = getopt(argc, argv, "a:p:k:o:n:c:N:d:i:b:t:H:A:sSh")) != -1) {
        switch (c) {
        case 'a': opt.addr = optarg; break;
        case 'p': opt.port = (uint16_t)atoi(optarg); break;
        case 'k': *ret_keyfile = optarg; break;
        case 'o':
            if (parse_op(optarg, &opt.cmd) < 0) {
                fprintf(stderr, "loadgen: unknown operation '%s'\n", optarg);
                return 2;
            }
            break;
        case 'n': opt.domain = optarg; break;
        case 'c': opt.clients = (unsigned int)atoi(optarg); break;
        case 'N': opt.total = atol(optarg); break;
        case 'd': opt.seconds = atof(optarg); break;
        case 'i': opt.idle = (unsigned int)atoi(optarg); break;
        case 'b': opt.bg_domain = optarg; break;
        case 'S': opt.sync = true; break;
        case 's': opt.spread = true; break;
        case 't': opt.timeout_ms = atoi(optarg) * 1000; break;
        case 'H':
        case 'A':
            if (parse_hash(optarg, c == 'H' ? &opt.hash : &opt.auth) < 0) {
                fprintf(stderr, "loadgen: unknown hash '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (opt.addr == NULL || opt.port == 0 || *ret_keyfile == NULL ||
        opt.clients < 1 || opt.clients > MAX_CLIENTS || opt.idle > MAX_IDLE ||
        (opt.total < 0 && opt.seconds <= 0.0) || opt.timeout_ms <= 0) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* The key, the hashing, the first sequence number, the samples.  \return 0 or -1 */
static int
setup(const char *keyfile)
{
    char err[256];
    uint32_t start;
    int r;

    if (vf_key_load(keyfile, &opt.key, err, sizeof(err), NULL, 0) < 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        return -1;
    }
    r = vf_auth_init();
    if (r < 0) {
        fprintf(stderr, "loadgen: cannot initialise hashing: %s\n", strerror(-r));
        return -1;
    }
    if (vf_random(&start, sizeof(start)) < 0) {
        start = (uint32_t)getpid() << 12;
    }
    atomic_store(&seq, start);
    samples = calloc(MAX_SAMPLES, sizeof(*samples));
    if (samples == NULL) {
        fputs("loadgen: out of memory\n", stderr);
        return -1;
    }
    return 0;
}

/*
 * The background client (-b) and the clients, until the clients are done.
 * \return 0 and the clients' wall time in *ret_ms, or -1
 */
static int
run_clients(int64_t *ret_ms)
{
    pthread_t th[MAX_CLIENTS], bg;
    bool have_bg = false;
    int64_t t0;
    unsigned int k;

    if (opt.bg_domain != NULL) {
        have_bg = pthread_create(&bg, NULL, background_main, NULL) == 0;
        usleep(50000);      /* let the first reboot reach the daemon */
    }
    if (opt.sync && pthread_barrier_init(&burst_barrier, NULL, opt.clients) != 0) {
        fputs("loadgen: cannot create the burst barrier\n", stderr);
        return -1;
    }
    t0 = vf_now_ms();
    t_end = t0 + (int64_t)(opt.seconds * 1000.0);
    for (k = 0; k < opt.clients; k++) {
        if (pthread_create(&th[k], NULL, client_main, NULL) != 0) {
            fputs("loadgen: cannot start a client thread\n", stderr);
            return -1;
        }
    }
    for (k = 0; k < opt.clients; k++) {
        pthread_join(th[k], NULL);
    }
    *ret_ms = vf_now_ms() - t0;
    if (have_bg) {
        atomic_store(&stop_bg, true);
        pthread_join(bg, NULL);
    }
    return 0;
}

/* p99all_ms: the 99th percentile of all @all requests, failures ranked last */
static void
p99_all(long n, long all, char *buf, size_t len)
{
    long idx;

    if (all == 0) {
        snprintf(buf, len, "n/a");
        return;
    }
    idx = (long)(0.99 * (double)(all - 1) + 0.5);
    if (idx >= n) {
        snprintf(buf, len, "fail");
    } else {
        snprintf(buf, len, "%.3f", samples[idx]);
    }
}

/* errs=: the failures by errno name, "none" without any */
static void
print_errs(void)
{
    bool first = true;

    for (int e = 0; e < MAX_ERRNO; e++) {
        long cnt = atomic_load(&err_count[e]);

        if (cnt > 0) {
            const char *nm = e == 0 ? "other" : strerrorname_np(e);

            printf("%s%s:%ld", first ? "" : ",", nm != NULL ? nm : "?", cnt);
            first = false;
        }
    }
    printf("%s\n", first ? "none" : "");
}

/* The output line (see the top of the file), over @elapsed_ms of clients. */
static void
report(int64_t elapsed_ms)
{
    long n = atomic_load(&n_samples);
    double secs = (double)elapsed_ms / 1000.0;
    double sum = 0.0;
    long nerr = atomic_load(&n_err);
    char p99all[32];

    if (n > MAX_SAMPLES) {
        n = MAX_SAMPLES;
    }
    qsort(samples, (size_t)n, sizeof(*samples), cmp_double);
    for (long i = 0; i < n; i++) {
        sum += samples[i];
    }
    p99_all(n, n + nerr, p99all, sizeof(p99all));
    printf("ok=%ld err=%ld secs=%.3f rps=%.1f mean_ms=%.3f p50_ms=%.3f p90_ms=%.3f "
           "p99_ms=%.3f max_ms=%.3f p99all_ms=%s errs=",
           atomic_load(&n_ok), nerr, secs,
           secs > 0.0 ? (double)atomic_load(&n_ok) / secs : 0.0,
           n > 0 ? sum / (double)n : 0.0,
           pct(samples, n, 50.0), pct(samples, n, 90.0), pct(samples, n, 99.0),
           n > 0 ? samples[n - 1] : 0.0, p99all);
    print_errs();
}

int
main(int argc, char **argv)
{
    const char *keyfile = NULL;
    int64_t elapsed_ms = 0;
    int rc;

    rc = parse_args(argc, argv, &keyfile);
    if (rc >= 0) {
        return rc;
    }
    if (setup(keyfile) < 0 || run_clients(&elapsed_ms) < 0) {
        return 2;
    }
    report(elapsed_ms);
    free(samples);
    vf_key_clear(&opt.key);
    return atomic_load(&n_ok) > 0 && atomic_load(&n_err) == 0 ? 0 : 1;
}
