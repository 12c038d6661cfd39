/*
 * vmfence - bench/responder.c: the "do-nothing responder", the ceiling of
 * the side-by-side bench (run-bench.sh).
 *
 * It speaks fence_virtd's TCP protocol and nothing more: accept, read the
 * 176-byte request, verify its signature, answer the client's challenge,
 * challenge the client, send a response byte ("on" for status, "fail" for
 * anything else), close.  No hypervisor, no queue, no policy, no log.  What
 * a daemon achieves against loadgen on this machine can be set against
 * what this achieves: the gap is the daemon's own cost, the rest is the
 * kernel's TCP work, the protocol's hashing and the load generator.
 *
 * Usage: responder -p PORT -k KEYFILE [-a ADDR] [-t THREADS] [-s SPIN_US]
 *   THREADS (default: the number of CPUs) threads block in accept() on
 *   the same socket and each serves its connection to the end.
 *   SPIN_US (default 50, as fence_virtd; 0: never): a connection served
 *   while no other is waits for the client's answers busy that long
 *   (lib/io.h vf_io_set_spin), on a machine with a second CPU: the
 *   ceiling waits the way the daemon does.
 * Runs until killed.  Prints "ready" on stdout once it listens.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "io.h"
#include "key.h"
#include "wire.h"

#define STEP_TIMEOUT_MS 2000

static struct vf_key key;
static int lfd = -1;
static unsigned int spin_us = 50;
static const char usage[] =
    "usage: responder -p PORT -k KEYFILE [-a ADDR] [-t THREADS] [-s SPIN_US]\n";
static atomic_uint serving;

/* Serve one connection: the protocol's steps, nothing else. */
static void
serve(int fd)
{
    uint8_t raw[VF_REQ_SIZE];
    struct vf_req req;
    uint8_t resp = VF_RESP_FAIL;
    int64_t deadline = vf_now_ms() + STEP_TIMEOUT_MS;
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    vf_io_set_spin(atomic_load(&serving) == 1 ? spin_us : 0);
    if (vf_read_full(fd, raw, sizeof(raw), deadline) < 0 ||
        vf_req_decode(raw, sizeof(raw), &req) < 0 ||
        vf_req_verify(raw, VF_HASH_SHA256, key.data, key.len) < 0) {
        return;
    }
    if (vf_auth_respond(fd, VF_HASH_SHA256, key.data, key.len, deadline) < 0 ||
        vf_auth_challenge(fd, VF_HASH_SHA256, key.data, key.len, deadline) < 0) {
        return;
    }
    if (req.request == VF_CMD_STATUS) {
        resp = VF_RESP_SUCCESS;
    }
    (void)vf_write_full(fd, &resp, 1, deadline);
}

static void *
acceptor(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) {
                continue;
            }
            perror("responder: accept");
            exit(1);
        }
        atomic_fetch_add(&serving, 1);
        serve(fd);
        atomic_fetch_sub(&serving, 1);
        vf_close(fd);
    }
    return NULL;
}

static int
listen_on(const char *addr, unsigned int port)
{
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    int one = 1;

    if (vf_sockaddr_parse(addr, (uint16_t)port, &sa, &salen) < 0) {
        fprintf(stderr, "responder: bad address '%s'\n", addr);
        return -1;
    }
    lfd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, salen) < 0 || listen(lfd, 1024) < 0) {
        perror("responder: listen");
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    const char *key_file = NULL;
    unsigned int port = 0;
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    char err[512];
    int c;

    while ((c = getopt(argc, argv, "a:p:k:t:s:h")) != -1) {
        switch (c) {
        case 'a': addr = optarg; break;
        case 'p': port = (unsigned int)strtoul(optarg, NULL, 10); break;
        case 'k': key_file = optarg; break;
        case 't': threads = strtol(optarg, NULL, 10); break;
        case 's': spin_us = (unsigned int)strtoul(optarg, NULL, 10); break;
        default:
            fputs(usage, stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (port == 0 || port > 65535 || key_file == NULL || threads < 1 || threads > 256) {
        fputs(usage, stderr);
        return 2;
    }
    if (vf_key_load(key_file, &key, err, sizeof(err), NULL, 0) < 0) {
        fprintf(stderr, "responder: %s\n", err);
        return 1;
    }
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        spin_us = 0;            /* the client needs the one CPU */
    }
    if (vf_auth_init() < 0 || listen_on(addr, port) < 0) {
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (long i = 1; i < threads; i++) {
        pthread_t tid;

        if (pthread_create(&tid, NULL, acceptor, NULL) != 0) {
            perror("responder: pthread_create");
            return 1;
        }
    }
    acceptor(NULL);
    return 0;
}
