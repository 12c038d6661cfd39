/*
 * vmfence - tests/shim/serial-peer.c: a FAKE serial/vmchannel peer for the
 * agent tests.
 *
 * It stands in for fence_virtd's serial listener together with QEMU (the
 * chardev that carries the bytes): it receives one 74-byte serial_req_t,
 * checks it byte by byte (magic "abba", command, flags 0, NUL-padded
 * domain), and answers from its command line: optional leading garbage,
 * then the 5-byte frame (magic + response byte), for a host list the
 * 130-byte records, the zero terminator and a final frame.  It does NOT
 * use the project's wire encoder, so an encoder bug cannot hide itself.
 *
 *   serial-peer (-l PORT | -t) -c CMD [-n DOMAIN] [-r RESP] [-g NGARBAGE]
 *               [-L name/uuid/state,...] [-s] [-w SECONDS]
 *
 *   -l PORT   listen on 127.0.0.1:PORT (vmchannel = TCP guestfwd); 0 = any
 *   -t        open a pty pair and print the slave path on stdout (serial)
 *   -c CMD    expected command byte        -n DOMAIN  expected domain
 *   -r RESP   response byte (default 0)    -g N       garbage bytes first
 *   -L LIST   answer with a host list (253)  -s       never answer
 *   -T        with -L: close after the records, before the terminator
 *             (a list cut off in transit)
 *   -w SECS   give up after SECS (default 20)
 * Prints the TCP port (or the pty path) on stdout when it can be contacted.
 * Exit: 0 request as expected, 2 request differs, 1 setup/timeout error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define REQ_SIZE 74
#define REC_SIZE 130

static const uint8_t magic[4] = { 0x61, 0x62, 0x62, 0x61 };   /* 0x61626261 LE */
static long deadline_s;

static long
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec;
}

static int
wait_fd(int fd, short ev)
{
    struct pollfd p = { .fd = fd, .events = ev };
    long left = deadline_s - now_s();
    int r;

    if (left <= 0) {
        return -1;
    }
    r = poll(&p, 1, (int)(left * 1000));
    return r > 0 ? 0 : -1;
}

/* move exactly @n bytes (reading into @rbuf, or writing @wbuf if not NULL) */
static int
xfer_n(int fd, uint8_t *rbuf, const uint8_t *wbuf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r;

        if (wait_fd(fd, wbuf != NULL ? POLLOUT : POLLIN) < 0) {
            return -1;
        }
        r = wbuf != NULL ? write(fd, wbuf + done, n - done) : read(fd, rbuf + done, n - done);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

static int
read_n(int fd, uint8_t *buf, size_t n)
{
    return xfer_n(fd, buf, NULL, n);
}

static int
write_n(int fd, const uint8_t *buf, size_t n)
{
    return xfer_n(fd, NULL, buf, n);
}

/* wait until the agent closes its end (EOF / EIO) or the deadline */
static void
drain(int fd)
{
    uint8_t b[256];

    while (wait_fd(fd, POLLIN) == 0) {
        ssize_t r = read(fd, b, sizeof(b));

        if (r <= 0 && !(r < 0 && errno == EINTR)) {
            return;
        }
    }
}

static int
open_listener(int port)
{
    struct sockaddr_in sin;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 1) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* one host record "name/uuid/state" */
static int
send_record(int fd, const char *spec)
{
    uint8_t rec[REC_SIZE];
    char buf[256];
    char *name, *uuid, *state;

    memset(rec, 0, sizeof(rec));
    if (spec != NULL) {
        snprintf(buf, sizeof(buf), "%s", spec);
        name = buf;
        uuid = strchr(name, '/');
        if (uuid == NULL) {
            return -1;
        }
        *uuid++ = '\0';
        state = strchr(uuid, '/');
        if (state == NULL) {
            return -1;
        }
        *state++ = '\0';
        memcpy(rec, name, strnlen(name, 63));
        memcpy(rec + 64, uuid, strnlen(uuid, 63));
        rec[128] = (uint8_t)atoi(state);
    }
    return write_n(fd, rec, sizeof(rec));
}

int
main(int argc, char **argv)
{
    int port = 0, want_cmd = -1, resp = 0, garbage = 0, secs = 20;
    bool pty = false, silent = false, cut_list = false;
    const char *want_dom = NULL, *list = NULL;
    uint8_t req[REQ_SIZE];
    int lfd = -1, fd = -1, slave = -1;
    int opt, ret = 1;

    while ((opt = getopt(argc, argv, "l:tc:n:r:g:L:sTw:")) != -1) {
        switch (opt) {
        case 'l': port = atoi(optarg); break;
        case 't': pty = true; break;
        case 'c': want_cmd = atoi(optarg); break;
        case 'n': want_dom = optarg; break;
        case 'r': resp = atoi(optarg); break;
        case 'g': garbage = atoi(optarg); break;
        case 'L': list = optarg; break;
        case 's': silent = true; break;
        case 'T': cut_list = true; break;
        case 'w': secs = atoi(optarg); break;
        default:
            fprintf(stderr, "serial-peer: bad usage\n");
            return 1;
        }
    }
    deadline_s = now_s() + secs;
    /* an agent that stops reading early must not kill us: write_n fails */
    signal(SIGPIPE, SIG_IGN);

    if (pty) {
        struct termios tio;
        const char *name;

        fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0 || (name = ptsname(fd)) == NULL) {
            perror("serial-peer: pty");
            return 1;
        }
        if (tcgetattr(fd, &tio) == 0) {
            cfmakeraw(&tio);
            tcsetattr(fd, TCSANOW, &tio);
        }
        /* hold the slave open until the request is in, or the master
         * would see a hang-up before the agent has opened it */
        slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) {
            perror("serial-peer: slave");
            goto out;
        }
        printf("%s\n", name);
        fflush(stdout);
    } else {
        lfd = open_listener(port);
        if (lfd < 0) {
            perror("serial-peer: listen");
            return 1;
        }
        {
            struct sockaddr_in bound;
            socklen_t bl = sizeof(bound);

            if (getsockname(lfd, (struct sockaddr *)&bound, &bl) < 0) {
                perror("serial-peer: getsockname");
                goto out;
            }
            printf("%u\n", (unsigned int)ntohs(bound.sin_port));
            fflush(stdout);
        }
        if (wait_fd(lfd, POLLIN) < 0 || (fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
            fprintf(stderr, "serial-peer: nobody connected\n");
            goto out;
        }
    }

    if (read_n(fd, req, sizeof(req)) < 0) {
        fprintf(stderr, "serial-peer: no complete 74-byte request\n");
        goto out;
    }
    {
        char dom[65];
        uint32_t seq = (uint32_t)req[70] | (uint32_t)req[71] << 8 |
                       (uint32_t)req[72] << 16 | (uint32_t)req[73] << 24;
        bool ok = true;

        memcpy(dom, req + 6, 64);
        dom[64] = '\0';
        fprintf(stderr, "serial-peer: request magic %02x%02x%02x%02x cmd %u flags %u "
                "domain '%s' seqno %u\n", req[0], req[1], req[2], req[3], req[4], req[5],
                dom, seq);
        if (memcmp(req, magic, 4) != 0) {
            fprintf(stderr, "serial-peer: MISMATCH magic\n");
            ok = false;
        }
        if (want_cmd >= 0 && req[4] != want_cmd) {
            fprintf(stderr, "serial-peer: MISMATCH cmd (want %d)\n", want_cmd);
            ok = false;
        }
        if (req[5] != 0) {
            fprintf(stderr, "serial-peer: MISMATCH flags\n");
            ok = false;
        }
        if (want_dom != NULL) {
            uint8_t field[64];

            memset(field, 0, sizeof(field));
            memcpy(field, want_dom, strnlen(want_dom, 64));
            if (memcmp(field, req + 6, 64) != 0) {
                fprintf(stderr, "serial-peer: MISMATCH domain (want '%s', NUL padded)\n",
                        want_dom);
                ok = false;
            }
        }
        if (!ok) {
            ret = 2;
            goto out;
        }
        fprintf(stderr, "serial-peer: request OK\n");
    }
    if (slave >= 0) {
        /* the agent holds the slave now: its close ends drain() */
        close(slave);
        slave = -1;
    }

    if (silent) {
        drain(fd);
        ret = 0;
        goto out;
    }
    for (int i = 0; i < garbage; i++) {
        /* junk, including partial magics the agent must not be fooled by */
        static const uint8_t junk[] = { 'x', 0x00, 'a', 'b', 'b', 0xff, 'a', 'b', 0x61 };
        uint8_t b = junk[i % (int)sizeof(junk)];

        /* never end on a prefix of the magic ("a", "ab", "abb"): with the
         * real magic behind it the stream would contain an earlier "abba" */
        if (i == garbage - 1) {
            b = 'x';
        }

        if (write_n(fd, &b, 1) < 0) {
            goto out;
        }
    }
    {
        uint8_t frame[5];

        memcpy(frame, magic, 4);
        frame[4] = list != NULL ? 253 : (uint8_t)resp;
        if (write_n(fd, frame, sizeof(frame)) < 0) {
            goto out;
        }
        if (list != NULL) {
            char buf[4096];
            char *save = NULL, *tok;

            snprintf(buf, sizeof(buf), "%s", list);
            for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
                if (send_record(fd, tok) < 0) {
                    fprintf(stderr, "serial-peer: bad record '%s'\n", tok);
                    goto out;
                }
            }
            if (cut_list) {
                fprintf(stderr, "serial-peer: list cut off before the terminator\n");
                ret = 0;
                goto out;
            }
            frame[4] = 0;
            if (send_record(fd, NULL) < 0 || write_n(fd, frame, sizeof(frame)) < 0) {
                goto out;
            }
        }
    }
    drain(fd);
    ret = 0;

out:
    if (slave >= 0) {
        close(slave);
    }
    if (fd >= 0) {
        close(fd);
    }
    if (lfd >= 0) {
        close(lfd);
    }
    return ret;
}
