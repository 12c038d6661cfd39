/*
 * vmfence - daemon/tests/test-privsep-msg.c: the privsep wire formats and
 * descriptor passing, without an executor: the request/answer messages
 * (msg.c), the guest pair's messages and descriptors (guestpair.c) and the
 * control pair and staged keys of an in-place reload (handover.c), over
 * real socketpairs.  The proxy and executor are in test-privsep-exec.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conftree.h"
#include "log.h"
#include "privsep/guestpair.h"
#include "privsep/handover.h"
#include "privsep/msg.h"
#include "privsep/privsep.h"
#include "privsep/scm.h"
#include "vftest.h"

/* two guests' UUIDs, in the canonical form the guest messages require */
static const char uuid_vm1[] = "11111111-1111-1111-1111-111111111111";
static const char uuid_vm2[] = "22222222-2222-2222-2222-222222222222";

/* one byte of a well-formed message set to a value that makes it malformed */
static const struct {
    bool guest;                 /* of a guest pair message, else of a request */
    size_t off;
    uint8_t val;
} bad_bytes[] = {
    { false, 0, 'V' ^ 1 },              /* magic */
    { false, 5, VF_PS_VERSION + 1 },    /* version */
    { false, 7, 99 },                   /* op */
    { false, 19, 2 },                   /* flags */
    { false, 27, 0 },                   /* target "v\0" + len 3 */
    { false, 200, 'x' },                /* padding */
    { true, 5, VF_PS_VERSION ^ 3 },     /* version */
    { true, 7, 9 },                     /* kind */
    { true, 13, 2 },                    /* mode */
    { true, 16 + 8, 'x' },              /* a UUID out of form: a dash's place */
    { true, VF_PS_GUEST_SIZE - 1, 'x' },    /* padding */
    { true, 311, 'r' },                 /* relative path */
};

/* each of bad_bytes[] of its kind (@guest) applied to the well-formed
 * message @b alone: it no longer decodes (checked); @b is left as it was */
static void
check_bad_bytes(bool guest, uint8_t *b, size_t len)
{
    for (size_t i = 0; i < sizeof(bad_bytes) / sizeof(bad_bytes[0]); i++) {
        struct vf_ps_req rq;
        struct vf_ps_guest gm;
        uint8_t was = b[bad_bytes[i].off];

        if (bad_bytes[i].guest != guest) {
            continue;
        }
        b[bad_bytes[i].off] = bad_bytes[i].val;
        VFT_EQ_INT(guest ? vf_ps_guest_decode(b, len, &gm) : vf_ps_req_decode(b, len, &rq),
                   -EBADMSG);
        b[bad_bytes[i].off] = was;
    }
}

/* ---- messages ---------------------------------------------------------------- */

static void
test_msg_roundtrip(void)
{
    struct vf_ps_req rq = { .op = VF_PS_OP_OFF, .id = 0x0102030405060708ull,
                            .flags = VF_BE_BY_UUID, .timeout_ms = 30000, .sent_ms = 77 };
    struct vf_ps_req rq2;
    struct vf_ps_ans an = { .kind = VF_PS_KIND_RESULT, .id = 7, .result = -ENOENT, .on = true };
    struct vf_ps_ans an2;
    uint8_t b[VF_PS_REQ_SIZE];
    uint8_t a[VF_PS_ANS_SIZE];

    snprintf(rq.target, sizeof(rq.target), "%s", "vm1");
    snprintf(rq.identity, sizeof(rq.identity), "%s", "10.0.0.5");
    VFT_EQ_INT(vf_ps_req_encode(&rq, b, sizeof(b)), 0);
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), 0);
    VFT_EQ_INT(rq2.op, VF_PS_OP_OFF);
    VFT_CHECK(rq2.id == rq.id);
    VFT_EQ_STR(rq2.target, "vm1");
    VFT_EQ_STR(rq2.identity, "10.0.0.5");
    VFT_EQ_INT(rq2.timeout_ms, 30000);
    VFT_CHECK(rq2.sent_ms == 77);
    /* size, magic, version, op, flags, timeout, NUL inside, padding */
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b) - 1, &rq2), -EBADMSG);
    check_bad_bytes(false, b, sizeof(b));
    b[20] = b[21] = b[22] = b[23] = 0;
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    b[23] = 1;
    memset(b + sizeof(b) - 8, 0, 8);    /* sent_ms 0 */
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    b[sizeof(b) - 8] = 0x80;            /* sent_ms < 0 */
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), -EBADMSG);
    /* encode refuses what decode would refuse */
    rq.target[0] = '\0';
    VFT_EQ_INT(vf_ps_req_encode(&rq, b, sizeof(b)), -EINVAL);
    rq.op = VF_PS_OP_LIST;
    rq.flags = 0;
    VFT_EQ_INT(vf_ps_req_encode(&rq, b, sizeof(b)), 0);
    VFT_EQ_INT(vf_ps_req_decode(b, sizeof(b), &rq2), 0);

    snprintf(an.dom.name, sizeof(an.dom.name), "%s", "vm2");
    VFT_EQ_INT(vf_ps_ans_encode(&an, a, sizeof(a)), 0);
    VFT_EQ_INT(vf_ps_ans_decode(a, sizeof(a), &an2), 0);
    VFT_EQ_INT(an2.result, -ENOENT);
    VFT_CHECK(an2.on);
    an.result = 1;              /* positive results do not exist */
    VFT_EQ_INT(vf_ps_ans_encode(&an, a, sizeof(a)), -EINVAL);
    a[16] = 0; a[17] = 0; a[18] = 0; a[19] = 1;
    VFT_EQ_INT(vf_ps_ans_decode(a, sizeof(a), &an2), -EBADMSG);
    a[19] = 0;
    a[20] = 2;                  /* "on" is a bit */
    VFT_EQ_INT(vf_ps_ans_decode(a, sizeof(a), &an2), -EBADMSG);

    /* the status stamp (lib/statstamp.h): on a successful RESULT only */
    an.result = 0;
    an.stamp = 0x1122334455667788ull;
    VFT_EQ_INT(vf_ps_ans_encode(&an, a, sizeof(a)), 0);
    VFT_EQ_INT(vf_ps_ans_decode(a, sizeof(a), &an2), 0);
    VFT_CHECK(an2.stamp == an.stamp);
    VFT_CHECK(a[VF_PS_ANS_SIZE - 8] == 0x11 && a[VF_PS_ANS_SIZE - 1] == 0x88);
    a[19] = 0xfe;               /* now a failed result, still stamped */
    a[16] = a[17] = a[18] = 0xff;
    VFT_EQ_INT(vf_ps_ans_decode(a, sizeof(a), &an2), -EBADMSG);
    an.result = -EIO;
    VFT_EQ_INT(vf_ps_ans_encode(&an, a, sizeof(a)), -EINVAL);
    an.result = 0;
    an.kind = VF_PS_KIND_DOMAIN;
    VFT_EQ_INT(vf_ps_ans_encode(&an, a, sizeof(a)), -EINVAL);
    an.stamp = 0;
    VFT_EQ_INT(vf_ps_ans_encode(&an, a, sizeof(a)), 0);
    a[VF_PS_ANS_SIZE - 1] = 1;  /* a DOMAIN record with a stamp */
    VFT_EQ_INT(vf_ps_ans_decode(a, sizeof(a), &an2), -EBADMSG);
}


/* ---- the guest pair (guestpair.c): the serial listener's sockets ------------- */

static void
test_guest_msg(void)
{
    struct vf_ps_guest gm = { .kind = VF_PS_G_GUEST, .gen = 7, .mode = 1 };
    struct vf_ps_guest g2;
    uint8_t b[VF_PS_GUEST_SIZE];
    unsigned int seed = 777;
    int refused = 0;

    snprintf(gm.uuid, sizeof(gm.uuid), "%s", uuid_vm1);
    snprintf(gm.name, sizeof(gm.name), "vm1");
    snprintf(gm.path, sizeof(gm.path), "/run/vm1.sock");
    VFT_EQ_INT(vf_ps_guest_encode(&gm, b, sizeof(b)), 0);
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b), &g2), 0);
    VFT_EQ_INT(g2.kind, VF_PS_G_GUEST);
    VFT_EQ_INT(g2.gen, 7);
    VFT_EQ_INT(g2.mode, 1);
    VFT_EQ_STR(g2.uuid, uuid_vm1);
    VFT_EQ_STR(g2.name, "vm1");
    VFT_EQ_STR(g2.path, "/run/vm1.sock");
    /* size, version, kind, mode, a UUID out of form, padding, relative path */
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b) - 1, &g2), -EBADMSG);
    check_bad_bytes(true, b, sizeof(b));
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b), &g2), 0);
    /* encode refuses what decode would refuse */
    gm.path[0] = 'r';
    VFT_EQ_INT(vf_ps_guest_encode(&gm, b, sizeof(b)), -EINVAL);
    gm = (struct vf_ps_guest){ .kind = VF_PS_G_SYNC, .gen = 1 };
    VFT_EQ_INT(vf_ps_guest_encode(&gm, b, sizeof(b)), -EINVAL);     /* SYNC carries zeros */
    gm.gen = 0;
    VFT_EQ_INT(vf_ps_guest_encode(&gm, b, sizeof(b)), 0);
    VFT_EQ_INT(vf_ps_guest_decode(b, sizeof(b), &g2), 0);
    VFT_EQ_INT(g2.kind, VF_PS_G_SYNC);
    /* flipped bytes: whatever still decodes re-encodes to the same bytes */
    for (int i = 0; i < 2000; i++) {
        uint8_t f[VF_PS_GUEST_SIZE], o[VF_PS_GUEST_SIZE];

        memcpy(f, b, sizeof(f));
        f[vft_rand(&seed) % sizeof(f)] ^= (uint8_t)(1 + vft_rand(&seed) % 255);
        if (vf_ps_guest_decode(f, sizeof(f), &g2) < 0) {
            refused++;
        } else if (vf_ps_guest_encode(&g2, o, sizeof(o)) != 0 || memcmp(o, f, sizeof(f)) != 0) {
            VFT_CHECK(!"a decoded message re-encodes differently");
        }
    }
    VFT_CHECK(refused > 1900);
}

static void
test_guest_pair(void)
{
    struct vf_ps_guest gm = { .kind = VF_PS_G_GUEST, .gen = 1 };
    struct vf_ps_guest got;
    uint8_t b[VF_PS_GUEST_SIZE];
    int gp[2], s[2], fd = -1;
    struct stat st;

    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, gp), 0);
    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
    snprintf(gm.uuid, sizeof(gm.uuid), "%s", uuid_vm2);
    snprintf(gm.name, sizeof(gm.name), "vm2");
    snprintf(gm.path, sizeof(gm.path), "/run/vm2.sock");
    VFT_EQ_INT(vf_ps_gp_recv(gp[1], &got, &fd), -EAGAIN);
    /* a GUEST travels with its socket, a GONE without */
    VFT_EQ_INT(vf_ps_gp_send(gp[0], &gm, -1, 100), -EINVAL);
    VFT_EQ_INT(vf_ps_gp_send(gp[0], &gm, s[0], 100), 0);
    VFT_EQ_INT(vf_ps_gp_recv(gp[1], &got, &fd), 0);
    VFT_CHECK(fd >= 0 && fd != s[0] && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode));
    VFT_CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    VFT_EQ_STR(got.name, "vm2");
    VFT_EQ_INT(write(fd, "x", 1), 1);       /* the same connection */
    {
        char c = 0;

        VFT_CHECK(read(s[1], &c, 1) == 1 && c == 'x');
    }
    close(fd);
    gm.kind = VF_PS_G_GONE;
    VFT_EQ_INT(vf_ps_gp_send(gp[0], &gm, s[0], 100), -EINVAL);
    VFT_EQ_INT(vf_ps_gp_send(gp[0], &gm, -1, 100), 0);
    VFT_EQ_INT(vf_ps_gp_recv(gp[1], &got, &fd), 0);
    VFT_CHECK(got.kind == VF_PS_G_GONE && fd == -1);
    /* hostile datagrams: a GONE with a descriptor, a GUEST without, a
     * GUEST with a non-socket, junk: refused, descriptors closed */
    {
        struct vf_ps_guest bad = gm;
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        struct msghdr mh = { 0 };
        struct iovec iov = { .iov_base = b, .iov_len = sizeof(b) };
        union {
            struct cmsghdr h;
            char c[CMSG_SPACE(sizeof(int))];
        } cm;
        int fds_before = 0, fds_after = 0;

        memset(&cm, 0, sizeof(cm));
        for (int i = 0; i < 3; i++) {
            int send_fd = i == 1 ? -1 : i == 0 ? s[0] : devnull;

            bad.kind = i == 0 ? VF_PS_G_GONE : VF_PS_G_GUEST;
            VFT_EQ_INT(vf_ps_guest_encode(&bad, b, sizeof(b)), 0);
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            mh.msg_control = send_fd >= 0 ? cm.c : NULL;
            mh.msg_controllen = send_fd >= 0 ? sizeof(cm.c) : 0;
            if (send_fd >= 0) {
                cm.h.cmsg_level = SOL_SOCKET;
                cm.h.cmsg_type = SCM_RIGHTS;
                cm.h.cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(&cm.h), &send_fd, sizeof(int));
            }
            VFT_EQ_INT(sendmsg(gp[0], &mh, 0), (ssize_t)sizeof(b));
            fds_before = dup(0);
            close(fds_before);
            VFT_EQ_INT(vf_ps_gp_recv(gp[1], &got, &fd), -EBADMSG);
            VFT_EQ_INT(fd, -1);
            fds_after = dup(0);     /* the lowest free descriptor: none leaked */
            close(fds_after);
            VFT_EQ_INT(fds_after, fds_before);
        }
        VFT_EQ_INT(send(gp[0], "VFPGjunk", 8, 0), 8);
        VFT_EQ_INT(vf_ps_gp_recv(gp[1], &got, &fd), -EBADMSG);
        close(devnull);
    }
    /* the peer gone */
    close(gp[0]);
    VFT_EQ_INT(vf_ps_gp_recv(gp[1], &got, &fd), -EPIPE);
    gm.kind = VF_PS_G_SYNC;
    gm.gen = 0;
    gm.uuid[0] = gm.name[0] = gm.path[0] = '\0';
    VFT_EQ_INT(vf_ps_gp_send(gp[1], &gm, -1, 100), -EPIPE);
    close(gp[1]);
    close(s[0]);
    close(s[1]);
}

/* ---- the control pair and staged keys of an in-place reload (handover.c) ---- */

static void
test_handover_ctl(void)
{
    int sv[2];
    int t1 = vf_ps_text_fd("a", 1);
    int t2 = vf_ps_text_fd("bb", 2);
    int n1 = -1, n2 = -1;
    int res = 7;
    char buf[4] = "";
    uint8_t bad[8] = { 'V', 'F', 'P', 'D', 0, 0, 0, 5 };

    VFT_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    VFT_CHECK(t1 >= 0 && t2 >= 0);
    VFT_EQ_INT(vf_ps_ctl_send_reload(sv[0], t1, t2), 0);
    VFT_EQ_INT(vf_ps_ctl_recv_reload(sv[1], &n1, &n2), 0);
    VFT_CHECK(n1 >= 0 && n2 >= 0 && n1 != t1);
    VFT_CHECK(n2 >= 0 && pread(n2, buf, sizeof(buf), 0) == 2 && strncmp(buf, "bb", 2) == 0);
    VFT_EQ_INT(vf_ps_ctl_send_done(sv[1], VF_PS_CTL_NONE_LEFT), 0);
    VFT_EQ_INT(vf_ps_ctl_recv_done(sv[0], 1000, &res), 0);
    VFT_EQ_INT(res, VF_PS_CTL_NONE_LEFT);
    /* from the unprivileged side: an unknown result or a wrong size is refused */
    VFT_CHECK(send(sv[1], bad, sizeof(bad), 0) == (ssize_t)sizeof(bad));
    VFT_EQ_INT(vf_ps_ctl_recv_done(sv[0], 1000, &res), -EBADMSG);
    VFT_CHECK(send(sv[1], bad, 5, 0) == 5);
    VFT_EQ_INT(vf_ps_ctl_recv_done(sv[0], 1000, &res), -EBADMSG);
    VFT_EQ_INT(vf_ps_ctl_recv_done(sv[0], 100, &res), -ETIMEDOUT);
    /* a RELOAD without its descriptors is refused */
    VFT_CHECK(send(sv[0], "VFPR\0\0\0\1", 8, 0) == 8);
    VFT_EQ_INT(vf_ps_ctl_recv_reload(sv[1], &n1, &n2), -EBADMSG);
    /* ... and so is one with a descriptor too many (privsep/scm.c) */
    {
        const int three[3] = { t1, t2, t1 };

        VFT_EQ_INT((int)vf_ps_scm_send(sv[0], "VFPR\0\0\0\1", 8, three, 3, 0), 8);
        VFT_EQ_INT(vf_ps_ctl_recv_reload(sv[1], &n1, &n2), -EBADMSG);
    }
    close(sv[0]);
    VFT_EQ_INT(vf_ps_ctl_recv_reload(sv[1], &n1, &n2), -EPIPE);
    close(sv[1]);
    close(t1);
    close(t2);
}

static void
test_handover_keys(void)
{
    char root[] = "/tmp/test-privsep-root.XXXXXX";
    char key[300];
    char staged[400];
    char conf_text[800];
    char names[2][32] = { "tcp", "multicast" };
    struct vf_conf *conf = NULL;
    char err[512] = "";
    const char *v = NULL;
    struct stat st;
    int fd = -1;

    VFT_CHECK(mkdtemp(root) != NULL);
    snprintf(key, sizeof(key), "%s.key", root);
    fd = open(key, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    VFT_CHECK(fd >= 0 && write(fd, "secret", 6) == 6);
    if (fd >= 0) {
        close(fd);
    }
    /* tcp names its key; multicast has no block (the default key: absent here) */
    snprintf(conf_text, sizeof(conf_text), "fence_virtd { listener = \"tcp\"; }\n"
             "listeners { tcp { port = \"1229\"; key_file = \"%s\"; } }\n", key);
    VFT_EQ_INT(vf_conf_parse_buffer("t.conf", conf_text, strlen(conf_text), &conf, err,
                                    sizeof(err)), 0);
    VFT_EQ_INT(vf_ps_keys_stage(conf, names, 1, root, getuid(), getgid(), err, sizeof(err)), 0);
    v = vf_conf_get(conf, "listeners/tcp/key_file", "");
    VFT_CHECK(strncmp(v, "/keys/k", 7) == 0);
    VFT_EQ_STR(vf_conf_get(conf, "listeners/tcp/port", ""), "1229");
    snprintf(staged, sizeof(staged), "%s%s", root, v);
    VFT_EQ_INT(stat(staged, &st), 0);
    VFT_EQ_INT((int)(st.st_mode & 0777), 0400);
    VFT_EQ_INT((int)st.st_size, 6);
    /* a listener without a block gets one, pointing at its staged key */
    VFT_EQ_INT(vf_ps_keys_stage(conf, names + 1, 1, root, getuid(), getgid(), err,
                                sizeof(err)), 0);
    vf_ps_keys_unstage(root);
    VFT_CHECK(stat(staged, &st) < 0 && errno == ENOENT);
    VFT_EQ_INT(rmdir(root), 0);         /* empty again */
    unlink(key);
    vf_conf_free(conf);
}

int
main(void)
{
    vf_log_init("test-privsep-msg", VF_LOG_STDERR, 0);
    VFT_RUN(test_msg_roundtrip);
    VFT_RUN(test_guest_msg);
    VFT_RUN(test_guest_pair);
    VFT_RUN(test_handover_ctl);
    VFT_RUN(test_handover_keys);
    return vft_exit_status();
}
