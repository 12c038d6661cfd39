/*
 * vmfence - daemon/tests/serial-unit.c: unit test of the serial listener.
 *
 * Faked: the hypervisor (libvirt's test driver, test:///<file>.xml), QEMU
 * (this test creates and listens on each guest's UNIX socket and accepts
 * the listener's connection, as QEMU does for <source mode='bind'>), and
 * the daemon (a fake vf_daemon_api whose submit() queues the vf_conn for
 * the test to inspect and answer).  The test links against the listener's
 * files (listeners/serial-int.h) so that it can use the listener's libvirt
 * connection (sl->conn, the process's shared connection to the URI, held by
 * the watcher thread, stable once the first guest is connected) to
 * start and stop a domain: the test driver only emits lifecycle events to
 * callbacks registered on the connection that made the change, so this is
 * how the event path (start -> connect, stop -> close) is exercised here.
 * The reconnect-after-libvirtd-restart and hung-libvirtd paths need a real
 * libvirtd and are covered by tests/interop/daemon-serial.sh.
 * test_privsep_mode runs both halves of privilege separation in this one
 * process, joined by a real guest pair (a SOCK_SEQPACKET socketpair): the
 * host side (listeners/serial-host.h) and a listener in fds mode; the
 * daemon-serial.sh interop test runs them as the two real processes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "conftree.h"
#include "io.h"
#include "log.h"
#include "timeutil.h"
#include "listeners/serial-host.h"
#include "listeners/serial-int.h"
#include "privsep/guestpair.h"
#include "../../lib/tests/vftest.h"

#define U(n) "5e71a100-0000-4000-8000-0000000000" n

static char tmpdir[200];
static char xmlfile[300];
static char sock_path[8][400];

/* ---- fake daemon ---------------------------------------------------------- */

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct vf_conn *q_items[64];
static size_t q_n;
static atomic_bool stop_flag;

static void
fake_submit(void *ctx, struct vf_conn *conn)
{
    pthread_mutex_lock(&q_lock);
    if (q_n < 64) {
        q_items[q_n++] = conn;
        conn = NULL;
    }
    pthread_cond_broadcast(&q_cond);
    pthread_mutex_unlock(&q_lock);
    if (conn != NULL) {
        conn->ops->close(conn);
    }
}

static bool
fake_stopping(void *ctx)
{
    (void)ctx;
    return atomic_load(&stop_flag);
}

static const struct vf_daemon_api fake_api = {
    .submit = fake_submit,
    .stopping = fake_stopping,
};

/* next submitted conn within @ms, or NULL */
static struct vf_conn *
q_pop(int ms)
{
    struct vf_conn *c = NULL;
    int64_t until = vf_now_ms() + ms;

    pthread_mutex_lock(&q_lock);
    while (q_n == 0 && vf_now_ms() < until) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&q_cond, &q_lock, &ts);
    }
    if (q_n > 0) {
        c = q_items[0];
        memmove(q_items, q_items + 1, (q_n - 1) * sizeof(q_items[0]));
        q_n--;
    }
    pthread_mutex_unlock(&q_lock);
    return c;
}

/* ---- fake QEMU -------------------------------------------------------------- */

static int
qemu_listen(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
        perror(path);
        return -1;
    }
    return fd;
}

/* accept the listener's connection within @ms; -1 if none */
static int
qemu_accept(int lfd, int ms)
{
    int fd;

    if (vf_wait_readable(lfd, vf_now_ms() + ms) < 0) {
        return -1;
    }
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    return fd;
}

static void
frame(uint8_t out[VF_SERIAL_REQ_SIZE], uint8_t cmd, const char *dom, uint32_t seqno)
{
    struct vf_serial_req r;

    memset(&r, 0, sizeof(r));
    r.magic = VF_SERIAL_MAGIC;
    r.request = cmd;
    snprintf(r.domain, sizeof(r.domain), "%s", dom);
    r.seqno = seqno;
    (void)vf_serial_req_encode(&r, out);
}

static int
send_all(int fd, const void *buf, size_t len)
{
    return vf_write_full(fd, buf, len, vf_now_ms() + 2000);
}

/* ---- setup ------------------------------------------------------------------------ */

static int
write_xml(void)
{
    FILE *f = fopen(xmlfile, "we");
    static const char *const hdr =
        " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n";
    static const char *const common =
        "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n";

    if (f == NULL) {
        return -1;
    }
    fprintf(f, "<node>\n");
    /* vm1, vm2: running, serial socket inside the directory */
    fprintf(f, "%s  <name>vm1</name><uuid>%s</uuid>\n%s"
            "  <devices><serial type='pty'><target port='0'/></serial>"
            "<serial type='unix'><source mode='bind' path='%s'/><target port='1'/></serial></devices>\n"
            " </domain>\n", hdr, U("01"), common, sock_path[1]);
    fprintf(f, "%s  <name>vm2</name><uuid>%s</uuid>\n%s"
            "  <devices><serial type='unix'><source mode='bind' path='%s'/><target port='1'/></serial></devices>\n"
            " </domain>\n", hdr, U("02"), common, sock_path[2]);
    /* vm3: running, socket in a SUBdirectory: must be ignored */
    fprintf(f, "%s  <name>vm3</name><uuid>%s</uuid>\n%s"
            "  <devices><serial type='unix'><source mode='bind' path='%s'/><target port='1'/></serial></devices>\n"
            " </domain>\n", hdr, U("03"), common, sock_path[3]);
    /* vm4: shut off, serial socket: picked up once started (event path) */
    fprintf(f, "%s  <name>vm4</name><uuid>%s</uuid>\n%s"
            "  <devices><serial type='unix'><source mode='bind' path='%s'/><target port='1'/></serial></devices>\n"
            "  <test:runstate>5</test:runstate>\n"
            " </domain>\n", hdr, U("04"), common, sock_path[4]);
    /* vm5: running, channel only: vmchannel mode.  Its first channel is
     * the QEMU guest agent's (libvirt's, as on most guests): never used */
    fprintf(f, "%s  <name>vm5</name><uuid>%s</uuid>\n%s"
            "  <devices><channel type='unix'><source mode='bind' path='%s'/>"
            "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
            "<channel type='unix'><source mode='bind' path='%s'/>"
            "<target type='virtio' name='org.example.fence'/></channel></devices>\n"
            " </domain>\n", hdr, U("05"), common, sock_path[6], sock_path[5]);
    fprintf(f, "</node>\n");
    return fclose(f) == 0 ? 0 : -1;
}

struct lst {
    struct sl_listener *sl;
    pthread_t th;
};

static void *
run_main(void *arg)
{
    struct lst *l = arg;

    (void)sl_ops.run(l->sl);
    return NULL;
}

static struct vf_conf *
test_conf(const char *mode)
{
    char text[1024], err[512];
    struct vf_conf *conf = NULL;

    snprintf(text, sizeof(text),
             "listeners { serial { uri = \"test://%s\"; path = \"%s/\"; mode = \"%s\"; } }",
             xmlfile, tmpdir, mode);
    if (vf_conf_parse_buffer("test.conf", text, strlen(text), &conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "config: %s\n", err);
        return NULL;
    }
    return conf;
}

static int
lst_start(struct lst *l, const char *mode)
{
    char err[512];
    struct vf_conf *conf = NULL;
    void *priv = NULL;
    int r;

    atomic_store(&stop_flag, false);
    conf = test_conf(mode);
    if (conf == NULL) {
        return -1;
    }
    r = sl_ops.init(conf, &fake_api, &priv, err, sizeof(err));
    vf_conf_free(conf);
    if (r < 0) {
        fprintf(stderr, "init: %s\n", err);
        return -1;
    }
    l->sl = priv;
    return pthread_create(&l->th, NULL, run_main, l) == 0 ? 0 : -1;
}

static int64_t
lst_stop(struct lst *l)
{
    int64_t t0 = vf_now_ms(), dt;

    atomic_store(&stop_flag, true);
    pthread_join(l->th, NULL);
    dt = vf_now_ms() - t0;
    sl_ops.fini(l->sl);
    return dt;
}

static int lfd[8];

static void
read_resp(int fd, uint8_t want)
{
    uint8_t b[VF_SERIAL_RESP_SIZE];
    struct vf_serial_resp r;

    VFT_EQ_INT(vf_read_full(fd, b, sizeof(b), vf_now_ms() + 2000), 0);
    VFT_EQ_INT(vf_serial_resp_decode(b, sizeof(b), &r), 0);
    VFT_EQ_INT(r.magic, VF_SERIAL_MAGIC);
    VFT_EQ_INT(r.response, want);
}

struct bg_resp {
    struct vf_conn *c;
    int r;
};

/* a whole request @cmd for @dom (@seqno) sent by a guest on @fd (checked);
 * \return the connection the listener made of it (2 s at most), or NULL */
static struct vf_conn *
ask(int fd, uint8_t cmd, const char *dom, uint32_t seqno)
{
    uint8_t f[VF_SERIAL_REQ_SIZE];

    frame(f, cmd, dom, seqno);
    VFT_EQ_INT(send_all(fd, f, sizeof(f)), 0);
    return q_pop(2000);
}

static void *
bg_send(void *arg)
{
    struct bg_resp *b = arg;

    b->r = b->c->ops->send_response(b->c, VF_RESP_OFF, vf_now_ms() + 3000);
    return NULL;
}

/* serial mode, step by step (one listener, guests vm1 and vm2 connected) */
static void
sm_plain(int fd1, int fd2)
{
    struct vf_conn *c;

    /* a plain request */
    c = ask(fd1, VF_CMD_STATUS, "target-vm", 7);
    VFT_CHECK(c != NULL);
    if (c != NULL) {
        VFT_EQ_STR(c->identity, U("01"));
        VFT_EQ_STR(c->peer, "domain vm1 (" U("01") ")");
        VFT_EQ_STR(c->listener, "serial");
        VFT_EQ_INT(c->req.request, VF_CMD_STATUS);
        VFT_EQ_STR(c->req.domain, "target-vm");
        VFT_EQ_INT(c->req.seqno, 7);
        VFT_CHECK(!c->is_signed);
        VFT_EQ_INT(c->fd, -1);
        VFT_EQ_INT(c->ops->send_response(c, VF_RESP_OFF, vf_now_ms() + 2000), 0);
        c->ops->close(c);
        read_resp(fd1, VF_RESP_OFF);
    }
    /* the other guest has its own identity */
    c = ask(fd2, VF_CMD_OFF, "x", 8);
    VFT_CHECK(c != NULL && strcmp(c->identity, U("02")) == 0);
    if (c != NULL) {
        c->ops->close(c);
    }
}

static void
sm_junk(int fd1)
{
    uint8_t junk[200];
    struct vf_conn *c;

    /* garbage, a fake magic followed by a bad command, then a good frame */
    memset(junk, 'x', sizeof(junk));
    memcpy(junk + 10, "abb", 3);            /* partial magic */
    memcpy(junk + 50, "abba\xff", 5);       /* magic + impossible command */
    memcpy(junk + 195, "abba", 4);          /* magic + (start of) bad frame: 'x' */
    VFT_EQ_INT(send_all(fd1, junk, sizeof(junk)), 0);
    c = ask(fd1, VF_CMD_REBOOT, "resync-vm", 9);
    VFT_CHECK(c != NULL);
    if (c != NULL) {
        VFT_EQ_INT(c->req.request, VF_CMD_REBOOT);
        VFT_EQ_STR(c->req.domain, "resync-vm");
        VFT_EQ_INT(c->req.seqno, 9);
        c->ops->close(c);
    }
    VFT_CHECK(q_pop(200) == NULL);          /* nothing else was made of the junk */
}

static void
sm_split_and_stale(int fd1)
{
    uint8_t f[VF_SERIAL_REQ_SIZE];
    struct vf_conn *c;

    /* a frame split in two writes */
    frame(f, VF_CMD_ON, "split-vm", 10);
    VFT_EQ_INT(send_all(fd1, f, 30), 0);
    vf_sleep_ms(100);
    VFT_EQ_INT(send_all(fd1, f + 30, sizeof(f) - 30), 0);
    c = q_pop(2000);
    VFT_CHECK(c != NULL && c->req.seqno == 10 && strcmp(c->req.domain, "split-vm") == 0);
    if (c != NULL) {
        c->ops->close(c);
    }

    /* an incomplete frame expires; the next frame is read cleanly */
    frame(f, VF_CMD_OFF, "stale-vm", 11);
    VFT_EQ_INT(send_all(fd1, f, 20), 0);
    vf_sleep_ms(1300);
    c = ask(fd1, VF_CMD_STATUS, "fresh-vm", 12);
    VFT_CHECK(c != NULL && c->req.seqno == 12 && strcmp(c->req.domain, "fresh-vm") == 0);
    if (c != NULL) {
        c->ops->close(c);
    }
    VFT_CHECK(q_pop(100) == NULL);
}

static void
sm_hostlist(int fd1)
{
    uint8_t f[VF_SERIAL_REQ_SIZE];
    struct vf_conn *c, *c2;

    /* host list while another response is pending: no interleaving */
    frame(f, VF_CMD_HOSTLIST, "", 13);
    VFT_EQ_INT(send_all(fd1, f, sizeof(f)), 0);
    c = ask(fd1, VF_CMD_STATUS, "other", 14);
    c2 = q_pop(2000);
    VFT_CHECK(c != NULL && c2 != NULL);
    if (c != NULL && c2 != NULL) {
        struct vf_host_state hs, end;
        struct bg_resp b = { .c = c2, .r = 1 };
        pthread_t th;
        uint8_t rec[VF_HOST_STATE_SIZE];
        int i;

        memset(&hs, 0, sizeof(hs));
        memset(&end, 0, sizeof(end));
        snprintf(hs.domain, sizeof(hs.domain), "vm1");
        snprintf(hs.uuid, sizeof(hs.uuid), "%s", U("01"));
        hs.state = VF_STATE_RUNNING;
        VFT_EQ_INT(c->req.request, VF_CMD_HOSTLIST);
        VFT_EQ_INT(c->ops->send_response(c, VF_RESP_HOSTLIST, vf_now_ms() + 2000), 0);
        VFT_EQ_INT(c->ops->send_host_state(c, &hs, vf_now_ms() + 2000), 0);
        pthread_create(&th, NULL, bg_send, &b);
        vf_sleep_ms(150);                   /* c2 now waits for the socket */
        VFT_EQ_INT(c->ops->send_host_state(c, &hs, vf_now_ms() + 2000), 0);
        VFT_EQ_INT(c->ops->send_host_state(c, &end, vf_now_ms() + 2000), 0);
        VFT_EQ_INT(c->ops->send_response(c, VF_RESP_SUCCESS, vf_now_ms() + 2000), 0);
        pthread_join(th, NULL);
        VFT_EQ_INT(b.r, 0);
        c->ops->close(c);
        c2->ops->close(c2);
        read_resp(fd1, VF_RESP_HOSTLIST);
        for (i = 0; i < 3; i++) {
            struct vf_host_state got;

            VFT_EQ_INT(vf_read_full(fd1, rec, sizeof(rec), vf_now_ms() + 2000), 0);
            VFT_EQ_INT(vf_host_state_decode(rec, sizeof(rec), &got), 0);
            VFT_CHECK(i == 2 ? vf_host_state_is_end(&got) : strcmp(got.domain, "vm1") == 0);
        }
        read_resp(fd1, VF_RESP_SUCCESS);
        read_resp(fd1, VF_RESP_OFF);        /* c2's answer comes after the list */
    } else {
        if (c != NULL) {
            c->ops->close(c);
        }
        if (c2 != NULL) {
            c2->ops->close(c2);
        }
    }
}

static void
sm_event(struct lst *lp)
{
    uint8_t junk[200];
    struct vf_conn *c;
    virDomainPtr d4;
    int64_t t0;
    int fd4;

    /* event path: start vm4 through the listener's own connection */
    d4 = virDomainLookupByName(lp->sl->conn, "vm4");
    VFT_CHECK(d4 != NULL);
    if (d4 != NULL) {
        t0 = vf_now_ms();
        VFT_EQ_INT(virDomainCreate(d4), 0);
        fd4 = qemu_accept(lfd[4], 3000);
        VFT_CHECK(fd4 >= 0);
        /* the periodic rescan is 5 s: faster means the event did it */
        VFT_CHECK(vf_now_ms() - t0 < 2000);
        c = ask(fd4, VF_CMD_STATUS, "from-vm4", 15);
        VFT_CHECK(c != NULL && strcmp(c->identity, U("04")) == 0);
        if (c != NULL) {
            c->ops->close(c);
        }
        /* stop: the listener closes the socket */
        VFT_EQ_INT(virDomainDestroy(d4), 0);
        VFT_EQ_INT(vf_wait_readable(fd4, vf_now_ms() + 2000), 0);
        VFT_EQ_INT(recv(fd4, junk, sizeof(junk), MSG_DONTWAIT), 0);
        (void)vf_close(fd4);
        virDomainFree(d4);
    }
}

/* a request in flight when the guest socket goes away, then the guest comes back */
static void
sm_late(int fd2)
{
    struct vf_conn *c;

    /* a request in flight when the guest socket goes away */
    c = ask(fd2, VF_CMD_STATUS, "late", 16);
    VFT_CHECK(c != NULL);
    (void)vf_close(fd2);                    /* QEMU side closes */
    vf_sleep_ms(200);                       /* listener sees EOF, drops the guest */
    if (c != NULL) {
        VFT_CHECK(c->ops->send_response(c, VF_RESP_SUCCESS, vf_now_ms() + 1000) < 0);
        c->ops->close(c);                   /* last reference: no use-after-free */
    }
    /* ... and comes back: the periodic rescan reconnects */
    fd2 = qemu_accept(lfd[2], 7000);
    VFT_CHECK(fd2 >= 0);
    (void)vf_close(fd2);
}

static void
test_serial_mode(void)
{
    struct lst l;
    int fd1, fd2, fd3;

    VFT_EQ_INT(lst_start(&l, "serial"), 0);
    fd1 = qemu_accept(lfd[1], 3000);
    fd2 = qemu_accept(lfd[2], 3000);
    VFT_CHECK(fd1 >= 0);
    VFT_CHECK(fd2 >= 0);
    /* outside the directory, shut off, channel only: not connected */
    fd3 = qemu_accept(lfd[3], 300);
    VFT_EQ_INT(fd3, -1);
    VFT_EQ_INT(qemu_accept(lfd[4], 10), -1);
    VFT_EQ_INT(qemu_accept(lfd[5], 10), -1);
    if (fd1 < 0 || fd2 < 0) {
        lst_stop(&l);
        return;
    }
    sm_plain(fd1, fd2);
    sm_junk(fd1);
    sm_split_and_stale(fd1);
    sm_hostlist(fd1);
    sm_event(&l);
    sm_late(fd2);
    VFT_CHECK(lst_stop(&l) < 1000);         /* run() notices stopping within 500 ms */
    (void)vf_close(fd1);
}

static void
test_vmchannel_mode(void)
{
    struct lst l;
    struct vf_conn *c;
    int fd5;

    VFT_EQ_INT(lst_start(&l, "vmchannel"), 0);
    fd5 = qemu_accept(lfd[5], 3000);
    VFT_CHECK(fd5 >= 0);
    VFT_EQ_INT(qemu_accept(lfd[1], 300), -1);   /* serial sockets are not used */
    VFT_EQ_INT(qemu_accept(lfd[6], 300), -1);   /* nor the guest agent's channel (R3) */
    if (fd5 >= 0) {
        c = ask(fd5, VF_CMD_HOSTLIST, "", 1);
        VFT_CHECK(c != NULL && strcmp(c->identity, U("05")) == 0);
        if (c != NULL) {
            c->ops->close(c);
        }
        (void)vf_close(fd5);
    }
    lst_stop(&l);
}

static void
test_bad_config(void)
{
    static const char *const bad[] = {
        "listeners { serial { mode = \"telepathy\"; } }",
        "listeners { serial { path = \"relative/dir\"; } }",
    };
    struct vf_conf *conf = NULL;
    char err[512];
    void *priv = NULL;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        VFT_EQ_INT(vf_conf_parse_buffer("t.conf", bad[i], strlen(bad[i]), &conf, err, sizeof(err)), 0);
        err[0] = '\0';
        VFT_EQ_INT(sl_ops.init(conf, &fake_api, &priv, err, sizeof(err)), -EINVAL);
        VFT_CHECK(strstr(err, "t.conf:1") != NULL);
        fprintf(stderr, "  (expected) %s\n", err);
        vf_conf_free(conf);
        conf = NULL;
    }
}

/* one request from QEMU's side @fd, answered @resp: true when it went through */
static bool
round_trip(int fd, const char *uuid, uint32_t seqno, uint8_t resp)
{
    uint8_t f[VF_SERIAL_REQ_SIZE];
    struct vf_conn *c = NULL;
    bool ok = false;

    frame(f, VF_CMD_STATUS, "target-vm", seqno);
    if (send_all(fd, f, sizeof(f)) < 0) {
        return false;
    }
    c = q_pop(3000);
    if (c == NULL) {
        return false;
    }
    ok = strcmp(c->identity, uuid) == 0 && c->req.seqno == seqno &&
         c->ops->send_response(c, resp, vf_now_ms() + 2000) == 0;
    c->ops->close(c);
    if (ok) {
        read_resp(fd, resp);
    }
    return ok;
}

/* QEMU's side @fd sees the end of the connection within @ms */
static bool
sees_eof(int fd, int ms)
{
    char b[64];

    return vf_wait_readable(fd, vf_now_ms() + ms) == 0 && recv(fd, b, sizeof(b), MSG_DONTWAIT) == 0;
}

static void
test_privsep_mode(void)
{
    struct vf_conf *conf = test_conf("serial");
    struct vf_sl_host *h = NULL;
    struct vf_ps_guest gm = { .kind = VF_PS_G_GUEST, .mode = 0 };
    struct lst l;
    char err[512] = "";
    int gp[2] = { -1, -1 };
    int fd1 = -1, fd2 = -1;

    VFT_CHECK(conf != NULL);
    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, gp), 0);
    if (conf == NULL || gp[0] < 0) {
        vf_conf_free(conf);
        return;
    }
    /* the privileged side: watches libvirt and connects */
    VFT_EQ_INT(vf_sl_host_start(conf, gp[0], false, &h, err, sizeof(err)), 0);
    fd1 = qemu_accept(lfd[1], 3000);
    fd2 = qemu_accept(lfd[2], 3000);
    VFT_CHECK(fd1 >= 0 && fd2 >= 0);
    /* the network side: fds mode, no libvirt */
    vf_ps_set_guest_pair(gp[1]);
    VFT_EQ_INT(lst_start(&l, "serial"), 0);
    VFT_CHECK(l.sl->from_host == gp[1] && l.sl->h == NULL && !l.sl->watcher_running);
    if (fd1 < 0 || fd2 < 0) {
        goto out;
    }
    /* the sockets it was passed are served as its own: identity = UUID */
    VFT_CHECK(round_trip(fd1, U("01"), 100, VF_RESP_OFF));
    VFT_CHECK(round_trip(fd2, U("02"), 101, VF_RESP_SUCCESS));

    /* a hostile network side: a GUEST without a socket, garbage; ignored */
    snprintf(gm.uuid, sizeof(gm.uuid), "%s", U("09"));
    snprintf(gm.name, sizeof(gm.name), "evil");
    snprintf(gm.path, sizeof(gm.path), "/etc/passwd");
    VFT_EQ_INT(vf_ps_gp_send(gp[1], &gm, -1, 100), -EINVAL);   /* not even encodable */
    VFT_EQ_INT(send(gp[1], "VFPG-junk", 9, 0), 9);
    VFT_CHECK(round_trip(fd1, U("01"), 102, VF_RESP_OFF));

    /* the network side's listener restarts (a reload): SYNC, the same sockets again */
    lst_stop(&l);
    VFT_CHECK(vf_wait_readable(fd1, vf_now_ms() + 300) < 0);  /* no EOF: the host keeps it */
    VFT_EQ_INT(lst_start(&l, "serial"), 0);
    VFT_CHECK(round_trip(fd1, U("01"), 103, VF_RESP_OFF));

    /* QEMU closes vm2's socket: both sides drop it; the host reconnects */
    (void)vf_close(fd2);
    fd2 = qemu_accept(lfd[2], 8000);
    VFT_CHECK(fd2 >= 0);
    if (fd2 >= 0) {
        VFT_CHECK(round_trip(fd2, U("02"), 104, VF_RESP_SUCCESS));
    }

    /* the host side restarts (new settings at a reload): RESET, the new set */
    VFT_CHECK(vf_sl_host_stop(h));
    h = NULL;
    VFT_EQ_INT(vf_sl_host_start(conf, gp[0], true, &h, err, sizeof(err)), 0);
    VFT_CHECK(sees_eof(fd1, 3000));         /* RESET: the network side closed its copy */
    (void)vf_close(fd1);
    fd1 = qemu_accept(lfd[1], 8000);
    VFT_CHECK(fd1 >= 0 && round_trip(fd1, U("01"), 105, VF_RESP_OFF));
out:
    lst_stop(&l);
    (void)vf_sl_host_stop(h);
    vf_ps_set_guest_pair(-1);
    if (fd1 >= 0) {
        VFT_CHECK(sees_eof(fd1, 2000));     /* both sides stopped: closed */
        (void)vf_close(fd1);
    }
    (void)vf_close(fd2);
    (void)vf_close(gp[0]);
    (void)vf_close(gp[1]);
    vf_conf_free(conf);
}

int
main(void)
{
    char sub[250];
    int i;

    vf_log_init("serial-unit", VF_LOG_STDERR, getenv("VF_TEST_DEBUG") != NULL ? 9 : 0);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/vft-serial.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 99;
    }
    snprintf(sub, sizeof(sub), "%s/sub", tmpdir);
    mkdir(sub, 0700);
    snprintf(xmlfile, sizeof(xmlfile), "%s/node.xml", tmpdir);
    for (i = 1; i <= 6; i++) {
        snprintf(sock_path[i], sizeof(sock_path[i]), "%s/vm%d.sock", i == 3 ? sub : tmpdir, i);
        lfd[i] = qemu_listen(sock_path[i]);
        if (lfd[i] < 0) {
            return 99;
        }
    }
    if (write_xml() < 0) {
        perror("xml");
        return 99;
    }
    VFT_RUN(test_bad_config);
    VFT_RUN(test_serial_mode);
    VFT_RUN(test_vmchannel_mode);
    VFT_RUN(test_privsep_mode);
    for (i = 1; i <= 6; i++) {
        (void)vf_close(lfd[i]);
        unlink(sock_path[i]);
    }
    unlink(xmlfile);
    rmdir(sub);
    rmdir(tmpdir);
    VFT_EXIT();
}
