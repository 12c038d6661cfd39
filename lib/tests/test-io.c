/*
 * vmfence - lib/tests/test-io.c: unit tests for lib/io.c.
 *
 * All traffic stays on socketpairs, pipes and 127.0.0.1.  The connect
 * deadline is provoked by filling a loopback listener's accept queue
 * (Linux drops further SYNs instead of refusing them), so no outside
 * address is ever contacted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef HAVE_LINUX_VM_SOCKETS_H
#include <linux/vm_sockets.h>
#endif

#include "io.h"
#include "vftest.h"

static void
test_clock(void)
{
    int64_t a = vf_now_ms();
    int64_t b = vf_now_ms();

    VFT_CHECK(b >= a);
    VFT_EQ_INT(vf_ms_left(a - 1000), 0);
    VFT_CHECK(vf_ms_left(a + 10000) > 9000);
    VFT_CHECK(vf_ms_left(a + 10000) <= 10000);
    VFT_EQ_INT(vf_ms_left(INT64_MAX / 2), INT_MAX);
}

/* addresses that parse, and how they are printed without and with the port */
static const struct {
    const char *text;
    uint16_t port;
    int family;
    socklen_t len;
    const char *str;
    const char *str_port;
} good_addrs[] = {
    { "127.0.0.1", 1229, AF_INET, sizeof(struct sockaddr_in), "127.0.0.1", "127.0.0.1:1229" },
    { "::1", 42, AF_INET6, sizeof(struct sockaddr_in6), "::1", "[::1]:42" },
    { "[ff05::3:1]", 1229, AF_INET6, sizeof(struct sockaddr_in6), "ff05::3:1",
      "[ff05::3:1]:1229" },
};

static void
test_parse(void)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char buf[128];
    const struct sockaddr_in *in = (const void *)&ss;
    const struct sockaddr_in6 *in6 = (const void *)&ss;
    static const char *bad[] = {
        "", "localhost", "1", "0x7f.1", "127.1", "300.1.1.1", "1.2.3.4.5",
        "[127.0.0.1]", "[::1", "::1]", "::g", "127.0.0.1:80", " 127.0.0.1",
    };

    for (size_t i = 0; i < sizeof(good_addrs) / sizeof(good_addrs[0]); i++) {
        VFT_EQ_INT(vf_sockaddr_parse(good_addrs[i].text, good_addrs[i].port, &ss, &len), 0);
        VFT_EQ_INT(ss.ss_family, good_addrs[i].family);
        VFT_EQ_INT(len, good_addrs[i].len);
        VFT_EQ_INT(ntohs(ss.ss_family == AF_INET ? in->sin_port : in6->sin6_port),
                   good_addrs[i].port);
        VFT_EQ_STR(vf_sockaddr_str((struct sockaddr *)&ss, len, buf, sizeof(buf), 0),
                   good_addrs[i].str);
        VFT_EQ_STR(vf_sockaddr_str((struct sockaddr *)&ss, len, buf, sizeof(buf), 1),
                   good_addrs[i].str_port);
        if (ss.ss_family == AF_INET) {
            VFT_EQ_INT(ntohl(in->sin_addr.s_addr), 0x7f000001);
        }
    }

    /* link-local with a scope: "lo" always exists */
    VFT_EQ_INT(vf_sockaddr_parse("fe80::1%lo", 1, &ss, &len), 0);
    VFT_CHECK(in6->sin6_scope_id != 0);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = vf_sockaddr_parse(bad[i], 1, &ss, &len);

        if (r != -EINVAL) {
            fprintf(stderr, "accepted '%s'\n", bad[i]);
        }
        VFT_EQ_INT(r, -EINVAL);
    }
    VFT_EQ_INT(vf_sockaddr_parse(NULL, 1, &ss, &len), -EINVAL);

    VFT_EQ_STR(vf_sockaddr_str(NULL, 0, buf, sizeof(buf), 0), "(none)");
}

static void
test_sockaddr_str_other(void)
{
    struct sockaddr_un un;
    char buf[128], tiny[6];

    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    strcpy(un.sun_path, "/run/x.sock");
    VFT_EQ_STR(vf_sockaddr_str((struct sockaddr *)&un, sizeof(un), buf,
                               sizeof(buf), 1), "/run/x.sock");
    /* unnamed socket (socketpair peer) */
    VFT_EQ_STR(vf_sockaddr_str((struct sockaddr *)&un, sizeof(sa_family_t),
                               buf, sizeof(buf), 0), "(unix)");
#ifdef HAVE_LINUX_VM_SOCKETS_H
    {
        struct sockaddr_vm vm;

        memset(&vm, 0, sizeof(vm));
        vm.svm_family = AF_VSOCK;
        vm.svm_cid = 3;
        vm.svm_port = 1229;
        VFT_EQ_STR(vf_sockaddr_str((struct sockaddr *)&vm, sizeof(vm), buf,
                                   sizeof(buf), 0), "3");
        VFT_EQ_STR(vf_sockaddr_str((struct sockaddr *)&vm, sizeof(vm), buf,
                                   sizeof(buf), 1), "3:1229");
    }
#endif
    /* truncation keeps the buffer terminated */
    VFT_EQ_STR(vf_sockaddr_str((struct sockaddr *)&un, sizeof(un), tiny,
                               sizeof(tiny), 0), "/run/");
}

static void
test_socketpair_io(void)
{
    uint8_t out[3000], in[3000];
    int sv[2];
    int64_t t0;

    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    for (size_t i = 0; i < sizeof(out); i++) {
        out[i] = (uint8_t)(i * 7);
    }
    VFT_EQ_INT(vf_write_full(sv[0], out, sizeof(out), vf_now_ms() + 1000), 0);
    memset(in, 0, sizeof(in));
    VFT_EQ_INT(vf_read_full(sv[1], in, sizeof(in), vf_now_ms() + 1000), 0);
    VFT_CHECK(memcmp(in, out, sizeof(in)) == 0);
    VFT_EQ_INT(vf_read_full(sv[1], in, 0, vf_now_ms()), 0);

    /* silent peer */
    t0 = vf_now_ms();
    VFT_EQ_INT(vf_read_full(sv[1], in, 10, vf_now_ms() + 150), -ETIMEDOUT);
    VFT_CHECK(vf_now_ms() - t0 >= 140);
    VFT_CHECK(vf_now_ms() - t0 < 1000);
    VFT_EQ_INT(vf_wait_readable(sv[1], vf_now_ms() + 50), -ETIMEDOUT);
    /* a deadline in the past still polls once */
    VFT_EQ_INT(vf_wait_readable(sv[1], vf_now_ms() - 10), -ETIMEDOUT);
    VFT_EQ_INT(vf_write_full(sv[0], out, 1, vf_now_ms() - 10), 0);
    VFT_EQ_INT(vf_wait_readable(sv[1], vf_now_ms() + 50), 0);

    /* partial data, then EOF */
    VFT_EQ_INT(vf_write_full(sv[0], out, 4, vf_now_ms() + 1000), 0);
    vf_close(sv[0]);
    VFT_EQ_INT(vf_read_full(sv[1], in, 10, vf_now_ms() + 1000), -ECONNRESET);
    vf_close(sv[1]);
}

static void
test_write_timeout_and_epipe(void)
{
    static uint8_t big[4 << 20];
    int sv[2];
    int64_t t0;

    /* nobody reads: the socket buffer fills and the deadline fires */
    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    t0 = vf_now_ms();
    VFT_EQ_INT(vf_write_full(sv[0], big, sizeof(big), vf_now_ms() + 150),
               -ETIMEDOUT);
    VFT_CHECK(vf_now_ms() - t0 < 1000);
    /* peer gone: no SIGPIPE, -ECONNRESET */
    vf_close(sv[1]);
    VFT_EQ_INT(vf_write_full(sv[0], big, 10, vf_now_ms() + 1000), -ECONNRESET);
    vf_close(sv[0]);

    VFT_EQ_INT(vf_read_full(-1, big, 1, vf_now_ms() + 10), -EBADF);
}

static void
test_pipe(void)
{
    uint8_t out[2000], in[2000];
    int p[2];

    VFT_EQ_INT(pipe2(p, O_CLOEXEC), 0);
    memset(out, 0x3c, sizeof(out));
    VFT_EQ_INT(vf_write_full(p[1], out, sizeof(out), vf_now_ms() + 1000), 0);
    VFT_EQ_INT(vf_read_full(p[0], in, sizeof(in), vf_now_ms() + 1000), 0);
    VFT_CHECK(memcmp(in, out, sizeof(in)) == 0);
    VFT_EQ_INT(vf_read_full(p[0], in, 1, vf_now_ms() + 100), -ETIMEDOUT);
    vf_close(p[1]);
    VFT_EQ_INT(vf_read_full(p[0], in, 1, vf_now_ms() + 1000), -ECONNRESET);
    vf_close(p[0]);
}

/* a listening loopback socket on a free port */
static int
listener(int backlog, uint16_t *ret_port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(fd, backlog) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        close(fd);
        return -1;
    }
    *ret_port = ntohs(sin.sin_port);
    return fd;
}

static void
test_connect(void)
{
    uint16_t port = 0;
    int lfd, cfd = -1, afd;
    uint8_t b = 0;

    lfd = listener(4, &port);
    VFT_CHECK(lfd >= 0);
    VFT_EQ_INT(vf_connect_tcp("127.0.0.1", port, vf_now_ms() + 2000, &cfd), 0);
    VFT_CHECK(cfd >= 0);
    if (cfd < 0) {
        vf_close(lfd);
        return;
    }
    VFT_CHECK((fcntl(cfd, F_GETFL) & O_NONBLOCK) == 0);
    VFT_CHECK((fcntl(cfd, F_GETFD) & FD_CLOEXEC) != 0);
    afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    VFT_CHECK(afd >= 0);
    VFT_EQ_INT(vf_write_full(cfd, "x", 1, vf_now_ms() + 1000), 0);
    VFT_EQ_INT(vf_read_full(afd, &b, 1, vf_now_ms() + 1000), 0);
    VFT_EQ_INT(b, 'x');
    vf_close(afd);
    vf_close(cfd);

    /* closed port: refused, ret_fd untouched */
    vf_close(lfd);
    cfd = -7;
    VFT_EQ_INT(vf_connect_tcp("127.0.0.1", port, vf_now_ms() + 2000, &cfd),
               -ECONNREFUSED);
    VFT_EQ_INT(cfd, -7);
    VFT_EQ_INT(vf_connect_tcp("not-an-ip", port, vf_now_ms() + 2000, &cfd),
               -EINVAL);
}

static void
test_connect_deadline(void)
{
    int held[16];
    int nheld = 0;
    int timed_out = 0;
    uint16_t port = 0;
    int lfd = listener(0, &port);
    int64_t t0 = 0, elapsed = 0;

    VFT_CHECK(lfd >= 0);
    /* never accept: after the queue is full, SYNs are dropped */
    for (int i = 0; i < 16 && !timed_out; i++) {
        int fd = -1;
        int r;

        t0 = vf_now_ms();
        r = vf_connect_tcp("127.0.0.1", port, vf_now_ms() + 200, &fd);
        if (r == 0) {
            held[nheld++] = fd;
        } else if (r == -ETIMEDOUT) {
            elapsed = vf_now_ms() - t0;
            timed_out = 1;
        } else {
            fprintf(stderr, "connect: unexpected %d\n", r);
            break;
        }
    }
    VFT_CHECK(timed_out);
    VFT_CHECK(elapsed >= 190 && elapsed < 1500);
    for (int i = 0; i < nheld; i++) {
        vf_close(held[i]);
    }
    vf_close(lfd);
}

static void
test_close(void)
{
    errno = 1234;
    VFT_EQ_INT(vf_close(-1), -1);
    VFT_EQ_INT(errno, 1234);
    VFT_EQ_INT(vf_close(open("/dev/null", O_RDONLY | O_CLOEXEC)), -1);
    VFT_EQ_INT(errno, 1234);
}

/* what a root process may trust with code: the write bits and the owner */
static void
test_stat_trusted(void)
{
    struct stat st;
    char why[256] = "";

    memset(&st, 0, sizeof(st));
    st.st_mode = S_IFREG | 0755;
    st.st_uid = 0;
    VFT_EQ_INT(vf_stat_trusted(&st, "/m.so", why, sizeof(why)), 0);
    st.st_uid = geteuid();
    VFT_EQ_INT(vf_stat_trusted(&st, "/m.so", why, sizeof(why)), 0);
    st.st_mode = S_IFREG | 0775;
    VFT_EQ_INT(vf_stat_trusted(&st, "/m.so", why, sizeof(why)), -EPERM);
    VFT_CHECK(strstr(why, "'/m.so' is writable by its group (mode 0775), refused") != NULL);
    st.st_mode = S_IFDIR | 0757;
    VFT_EQ_INT(vf_stat_trusted(&st, "/d", why, sizeof(why)), -EPERM);
    VFT_CHECK(strstr(why, "'/d' is writable by others (mode 0757)") != NULL);
    st.st_mode = S_IFREG | 0755;
    st.st_uid = geteuid() + 1;
    VFT_EQ_INT(vf_stat_trusted(&st, "/m.so", why, sizeof(why)), -EPERM);
    VFT_CHECK(strstr(why, "neither root nor fence_virtd's user") != NULL);
}

/* A read with a busy-poll budget (vf_io_set_spin): data that comes after
 * the budget is still read (poll() takes over), EOF and the deadline are
 * what they are without one, and the budget is capped. */
static void
test_spin_read(void)
{
    int sv[2];
    char buf[4] = "";
    int64_t t0;
    pid_t pid;
    int status = 0;

    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    vf_io_set_spin(100000);     /* capped at VF_IO_SPIN_MAX_US */
    /* nothing comes: the deadline, not the budget, ends it */
    t0 = vf_now_ms();
    VFT_EQ_INT(vf_read_full(sv[0], buf, sizeof(buf), t0 + 30), -ETIMEDOUT);
    VFT_CHECK(vf_now_ms() - t0 >= 29);
    /* a deadline already past: it returns (bound loose: a slow machine or
     * valgrind; what is checked is that it does not wait) */
    t0 = vf_now_ms();
    VFT_EQ_INT(vf_read_full(sv[0], buf, sizeof(buf), t0 - 1), -ETIMEDOUT);
    VFT_CHECK(vf_now_ms() - t0 < 2000);
    /* the bytes come 5 ms late, past the budget, in two writes */
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        usleep(5000);
        (void)!write(sv[1], "ab", 2);
        usleep(1000);
        (void)!write(sv[1], "cd", 2);
        _exit(0);
    }
    close(sv[1]);
    VFT_CHECK(pid > 0);
    VFT_EQ_INT(vf_read_full(sv[0], buf, sizeof(buf), vf_now_ms() + 5000), 0);
    VFT_CHECK(memcmp(buf, "abcd", 4) == 0);
    /* then EOF */
    VFT_EQ_INT(vf_read_full(sv[0], buf, 1, vf_now_ms() + 5000), -ECONNRESET);
    VFT_EQ_INT(waitpid(pid, &status, 0), pid);
    close(sv[0]);
    vf_io_set_spin(0);
}

int
main(void)
{
    VFT_RUN(test_clock);
    VFT_RUN(test_parse);
    VFT_RUN(test_sockaddr_str_other);
    VFT_RUN(test_socketpair_io);
    VFT_RUN(test_write_timeout_and_epipe);
    VFT_RUN(test_pipe);
    VFT_RUN(test_connect);
    VFT_RUN(test_connect_deadline);
    VFT_RUN(test_close);
    VFT_RUN(test_stat_trusted);
    VFT_RUN(test_spin_read);
    VFT_EXIT();
}
