/*
 * vmfence - daemon/privsep/handover.c: the control pair and the staged
 * keys of an in-place reload with privilege separation (handover.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conftree-node.h"
#include "io.h"
#include "log.h"
#include "privsep/handover.h"
#include "privsep/scm.h"
#include "wire.h"

#define CTL_MSG_LEN 8
#define KEYS_DIR "keys"
#define MAX_STAGED 32
#define KEY_COPY_MAX (VF_MAX_KEY_LEN + 1)   /* one byte more: "too big" stays visible */

static char staged[MAX_STAGED][24];
static size_t n_staged;

static void
put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t
get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ---- the control pair ---------------------------------------------------------- */

int
vf_ps_ctl_send_reload(int fd, int text_fd, int old_text_fd)
{
    int fds[2] = { text_fd, old_text_fd };
    uint8_t buf[CTL_MSG_LEN];
    ssize_t n = 0;

    put_u32(buf, VF_PS_CTL_RELOAD_MAGIC);
    put_u32(buf + 4, VF_PS_CTL_VERSION);
    n = vf_ps_scm_send(fd, buf, sizeof(buf), fds, 2, 0);
    return n == CTL_MSG_LEN ? 0 : n < 0 ? (int)n : -EIO;
}

int
vf_ps_ctl_recv_reload(int fd, int *ret_text_fd, int *ret_old_text_fd)
{
    int fds[2] = { -1, -1 };
    uint8_t buf[CTL_MSG_LEN + 1];   /* one byte more: a longer message is seen */
    size_t got = 0;
    bool trunc = false;
    ssize_t n = 0;

    n = vf_ps_scm_recv(fd, buf, sizeof(buf), fds, 2, &got, &trunc);
    if (n == 0) {
        return -EPIPE;
    }
    if (n < 0) {
        return (int)n;
    }
    if (n != CTL_MSG_LEN || trunc || got != 2 || get_u32(buf) != VF_PS_CTL_RELOAD_MAGIC ||
        get_u32(buf + 4) != VF_PS_CTL_VERSION) {
        for (size_t i = 0; i < got; i++) {
            close(fds[i]);
        }
        return -EBADMSG;
    }
    *ret_text_fd = fds[0];
    *ret_old_text_fd = fds[1];
    return 0;
}

int
vf_ps_ctl_send_done(int fd, int result)
{
    uint8_t buf[CTL_MSG_LEN];

    put_u32(buf, VF_PS_CTL_DONE_MAGIC);
    put_u32(buf + 4, (uint32_t)result);
    return send(fd, buf, sizeof(buf), MSG_NOSIGNAL) == (ssize_t)sizeof(buf) ? 0 : -errno;
}

int
vf_ps_ctl_recv_done(int fd, int timeout_ms, int *ret_result)
{
    int64_t deadline = vf_now_ms() + timeout_ms;
    uint8_t buf[CTL_MSG_LEN + 1];
    struct pollfd p = { .fd = fd, .events = POLLIN };
    ssize_t n = 0;
    int32_t v = 0;

    for (;;) {
        int left = (int)vf_ms_left(deadline);
        int r = poll(&p, 1, left);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -errno;
        }
        if (r == 0) {
            return -ETIMEDOUT;
        }
        break;
    }
    n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) {
        return -EPIPE;
    }
    if (n < 0) {
        return -errno;
    }
    v = (int32_t)get_u32(buf + 4);
    /* from the untrusted side: only a well-formed, known result counts */
    if (n != CTL_MSG_LEN || get_u32(buf) != VF_PS_CTL_DONE_MAGIC ||
        (v != 0 && v != VF_PS_CTL_NONE_LEFT && (v > 0 || v < -4095))) {
        return -EBADMSG;
    }
    *ret_result = v;
    return 0;
}

/* ---- staged keys --------------------------------------------------------------- */

/* the staged copy's name: 64-bit FNV-1a of the original path, in hex */
static void
staged_name(const char *path, char *out, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (const char *p = path; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    }
    snprintf(out, len, "k%016llx", (unsigned long long)h);
}

/* listeners/@listener/key_file = @value */
static int
set_key_file(struct vf_conf *conf, const char *listener, const char *value)
{
    struct vf_conf_node *ls = vf_conf_block_ensure(conf->root, "listeners");
    struct vf_conf_node *b = ls != NULL ? vf_conf_block_ensure(ls, listener) : NULL;

    return b == NULL ? -ENOMEM : vf_conf_set(b, "key_file", value);
}

/* copy @src to @dst (created; owner @uid/@gid, 0400), at most KEY_COPY_MAX bytes */
static int
copy_key(const char *src, const char *dst, uid_t uid, gid_t gid)
{
    uint8_t buf[KEY_COPY_MAX];
    size_t n = 0;
    int in = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    int out = -1;
    int r = 0;

    if (in < 0) {
        return -errno;
    }
    while (n < sizeof(buf)) {
        ssize_t k = read(in, buf + n, sizeof(buf) - n);

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            r = k < 0 ? -errno : 0;
            break;
        }
        n += (size_t)k;
    }
    close(in);
    (void)unlink(dst);
    out = r < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
    if (r == 0 && out < 0) {
        r = -errno;
    }
    if (r == 0 && (fchown(out, uid, gid) < 0 || write(out, buf, n) != (ssize_t)n)) {
        r = errno != 0 ? -errno : -EIO;
    }
    if (out >= 0 && close(out) < 0 && r == 0) {
        r = -errno;
    }
    if (r < 0 && out >= 0) {
        (void)unlink(dst);
    }
    memset(buf, 0, sizeof(buf));
    return r;
}

int
vf_ps_keys_stage(struct vf_conf *conf, char (*listeners)[32], size_t n_listeners,
                 const char *chroot_dir, uid_t uid, gid_t gid, char *err, size_t err_len)
{
    char dir[4200];
    char dst[4300];
    char name[24];
    char inside[64];

    snprintf(dir, sizeof(dir), "%s/%s", chroot_dir, KEYS_DIR);
    if (mkdir(dir, 0711) == 0) {
        (void)chmod(dir, 0711);     /* whatever the umask */
    } else if (errno != EEXIST) {
        int e = errno;

        snprintf(err, err_len, "privsep: cannot create '%s': %s", dir, strerror(e));
        return -e;
    }
    for (size_t i = 0; i < n_listeners; i++) {
        char kpath[128];
        const char *src = NULL;
        bool known = false;
        int r = 0;

        snprintf(kpath, sizeof(kpath), "listeners/%s/key_file", listeners[i]);
        src = vf_conf_get(conf, kpath, VF_DEFAULT_KEY_FILE);
        if (src[0] != '/' || strncmp(src, "/" KEYS_DIR "/", sizeof(KEYS_DIR) + 1) == 0) {
            continue;   /* relative (never readable in the root), or staged already */
        }
        staged_name(src, name, sizeof(name));
        snprintf(dst, sizeof(dst), "%s/%s", dir, name);
        for (size_t j = 0; j < n_staged; j++) {
            known = known || strcmp(staged[j], name) == 0;
        }
        if (!known) {
            if (n_staged == MAX_STAGED) {
                snprintf(err, err_len, "privsep: too many key files to stage");
                return -E2BIG;
            }
            r = copy_key(src, dst, uid, gid);
            if (r < 0) {
                vf_log(LOG_WARNING, "privsep: key file '%s' of listener '%s' not handed "
                       "over: %s", src, listeners[i], strerror(-r));
                continue;
            }
            snprintf(staged[n_staged++], sizeof(staged[0]), "%s", name);
        }
        snprintf(inside, sizeof(inside), "/%s/%s", KEYS_DIR, name);
        r = set_key_file(conf, listeners[i], inside);
        if (r < 0) {
            snprintf(err, err_len, "privsep: %s", strerror(-r));
            return r;
        }
    }
    return 0;
}

void
vf_ps_keys_unstage(const char *chroot_dir)
{
    char path[4300];

    for (size_t i = 0; i < n_staged; i++) {
        snprintf(path, sizeof(path), "%s/%s/%s", chroot_dir, KEYS_DIR, staged[i]);
        (void)unlink(path);
    }
    n_staged = 0;
    snprintf(path, sizeof(path), "%s/%s", chroot_dir, KEYS_DIR);
    (void)rmdir(path);
}

int
vf_ps_text_fd(const char *text, size_t len)
{
    int fd = memfd_create("fence_virtd.conf", MFD_CLOEXEC);

    if (fd < 0) {
        return -errno;
    }
    if (write(fd, text, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) < 0) {
        int e = errno != 0 ? errno : EIO;

        close(fd);
        return -e;
    }
    return fd;
}
