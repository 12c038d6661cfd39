/*
 * vmfence - lib/tests/test-key.c: unit tests for lib/key.c.
 *
 * Works in a private mkdtemp() directory.  The "unreadable" cases (a mode
 * 0000 file, a file inside a mode 0000 directory) need a non-root user:
 * as root they run in a forked child that switches to uid/gid 65534.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "key.h"
#include "vftest.h"

static char dir[64];

static const char *
path_of(const char *name)
{
    static char buf[256];

    snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    return buf;
}

static int
write_file(const char *name, const void *data, size_t len, mode_t mode)
{
    int fd = open(path_of(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    int r = 0;

    if (fd < 0) {
        return -errno;
    }
    if (len > 0 && write(fd, data, len) != (ssize_t)len) {
        r = -EIO;
    }
    close(fd);
    /* umask may have dropped bits: force the mode */
    if (r == 0 && chmod(path_of(name), mode) < 0) {
        r = -errno;
    }
    return r;
}

static void
test_good(void)
{
    struct vf_key key;
    char err[256], warn[256];
    static const char data[] = "secret\n";

    VFT_EQ_INT(write_file("good", data, 7, 0600), 0);
    memset(&key, 0x5a, sizeof(key));
    strcpy(err, "stale");
    strcpy(warn, "stale");
    VFT_EQ_INT(vf_key_load(path_of("good"), &key, err, sizeof(err), warn,
                           sizeof(warn)), 0);
    VFT_EQ_INT(key.len, 7);                      /* newline kept */
    VFT_CHECK(memcmp(key.data, data, 7) == 0);
    VFT_EQ_INT(key.data[7], 0);                  /* rest cleared */
    VFT_EQ_INT(key.data[VF_MAX_KEY_LEN - 1], 0);
    VFT_EQ_STR(err, "");
    VFT_EQ_STR(warn, "");

    /* NULL message buffers are fine */
    VFT_EQ_INT(vf_key_load(path_of("good"), &key, NULL, 0, NULL, 0), 0);

    /* symlinks are followed */
    VFT_EQ_INT(symlink("good", path_of("link")), 0);
    VFT_EQ_INT(vf_key_load(path_of("link"), &key, err, sizeof(err), NULL, 0),
               0);
    VFT_EQ_INT(key.len, 7);

    vf_key_clear(&key);
    VFT_EQ_INT(key.len, 0);
    VFT_EQ_INT(key.data[0], 0);
    vf_key_clear(NULL);
}

static void
test_mode_warning(void)
{
    struct vf_key key;
    char err[256], warn[256];

    VFT_EQ_INT(write_file("open", "k", 1, 0644), 0);
    VFT_EQ_INT(vf_key_load(path_of("open"), &key, err, sizeof(err), warn,
                           sizeof(warn)), 0);
    VFT_CHECK(strstr(warn, "0644") != NULL);
    VFT_CHECK(strstr(warn, path_of("open")) != NULL);
    VFT_CHECK(strchr(warn, '\n') == NULL);

    VFT_EQ_INT(write_file("grp", "k", 1, 0620), 0);
    VFT_EQ_INT(vf_key_load(path_of("grp"), &key, err, sizeof(err), warn,
                           sizeof(warn)), 0);
    VFT_CHECK(strstr(warn, "0620") != NULL);

    VFT_EQ_INT(write_file("ro", "k", 1, 0400), 0);
    VFT_EQ_INT(vf_key_load(path_of("ro"), &key, err, sizeof(err), warn,
                           sizeof(warn)), 0);
    VFT_EQ_STR(warn, "");
}

static void
test_sizes(void)
{
    static uint8_t big[VF_MAX_KEY_LEN + 1];
    struct vf_key key;
    char err[256];

    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (uint8_t)(i * 31 + 1);
    }
    VFT_EQ_INT(write_file("max", big, VF_MAX_KEY_LEN, 0600), 0);
    VFT_EQ_INT(vf_key_load(path_of("max"), &key, err, sizeof(err), NULL, 0),
               0);
    VFT_EQ_INT(key.len, VF_MAX_KEY_LEN);
    VFT_CHECK(memcmp(key.data, big, VF_MAX_KEY_LEN) == 0);

    VFT_EQ_INT(write_file("over", big, VF_MAX_KEY_LEN + 1, 0600), 0);
    key.len = 99;
    VFT_EQ_INT(vf_key_load(path_of("over"), &key, err, sizeof(err), NULL, 0),
               -EFBIG);
    VFT_EQ_INT(key.len, 99);                     /* untouched */
    VFT_CHECK(strstr(err, path_of("over")) != NULL);
    VFT_CHECK(strstr(err, "4097") != NULL);
    VFT_CHECK(strstr(err, "4096") != NULL);

    VFT_EQ_INT(write_file("empty", "", 0, 0600), 0);
    VFT_EQ_INT(vf_key_load(path_of("empty"), &key, err, sizeof(err), NULL, 0),
               -ENODATA);
    VFT_CHECK(strstr(err, path_of("empty")) != NULL);
    VFT_CHECK(strstr(err, "empty") != NULL);
}

static void
test_not_regular(void)
{
    struct vf_key key;
    char err[256];

    VFT_EQ_INT(vf_key_load(path_of("missing"), &key, err, sizeof(err), NULL,
                           0), -ENOENT);
    VFT_CHECK(strstr(err, path_of("missing")) != NULL);
    VFT_CHECK(strchr(err, '\n') == NULL);

    VFT_EQ_INT(mkdir(path_of("subdir"), 0700), 0);
    VFT_EQ_INT(vf_key_load(path_of("subdir"), &key, err, sizeof(err), NULL,
                           0), -EISDIR);
    VFT_CHECK(strstr(err, path_of("subdir")) != NULL);

    /* a FIFO must be refused at once, not block waiting for a writer */
    VFT_EQ_INT(mkfifo(path_of("fifo"), 0600), 0);
    VFT_EQ_INT(vf_key_load(path_of("fifo"), &key, err, sizeof(err), NULL, 0),
               -EINVAL);
    VFT_CHECK(strstr(err, path_of("fifo")) != NULL);

    VFT_EQ_INT(vf_key_load("/dev/null", &key, err, sizeof(err), NULL, 0),
               -EINVAL);
    VFT_CHECK(strstr(err, "/dev/null") != NULL);

    VFT_EQ_INT(vf_key_load("", &key, err, sizeof(err), NULL, 0), -EINVAL);
    VFT_EQ_INT(vf_key_load(NULL, &key, err, sizeof(err), NULL, 0), -EINVAL);

    /* dangling symlink */
    VFT_EQ_INT(symlink("nowhere", path_of("dangling")), 0);
    VFT_EQ_INT(vf_key_load(path_of("dangling"), &key, err, sizeof(err), NULL,
                           0), -ENOENT);
}

/* the -EACCES cases; as root they run in a child that drops to nobody */
static void
unreadable_cases(void)
{
    struct vf_key key;
    char err[256];
    char p[256];

    VFT_EQ_INT(vf_key_load(path_of("noread"), &key, err, sizeof(err), NULL, 0),
               -EACCES);
    VFT_CHECK(strstr(err, path_of("noread")) != NULL);
    snprintf(p, sizeof(p), "%s/locked/key", dir);
    VFT_EQ_INT(vf_key_load(p, &key, err, sizeof(err), NULL, 0), -EACCES);
    VFT_CHECK(strstr(err, p) != NULL);
}

static void
test_unreadable(void)
{
    int status = 0;
    pid_t pid;

    VFT_EQ_INT(write_file("noread", "k", 1, 0000), 0);
    VFT_EQ_INT(mkdir(path_of("locked"), 0700), 0);
    VFT_EQ_INT(write_file("locked/key", "k", 1, 0600), 0);
    VFT_EQ_INT(chmod(path_of("locked"), 0000), 0);
    if (geteuid() != 0) {
        unreadable_cases();
    } else {
        /* root ignores permissions: check them as "nobody" (65534) in a
         * child; the test directory must be traversable for that */
        VFT_EQ_INT(chmod(dir, 0711), 0);
        pid = fork();
        if (pid == 0) {
            if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                setresuid(65534, 65534, 65534) < 0) {
                _exit(77);
            }
            unreadable_cases();
            _exit(vft_failures == 0 ? 0 : 1);
        }
        VFT_CHECK(pid > 0);
        VFT_EQ_INT(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
            VFT_SKIP_PART("unreadable key file sub-case: cannot drop root");
        } else {
            VFT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        VFT_EQ_INT(chmod(dir, 0700), 0);
    }
    VFT_EQ_INT(chmod(path_of("locked"), 0700), 0);
}

int
main(void)
{
    char cmd[256];
    int r;

    snprintf(dir, sizeof(dir), "/tmp/vft-key.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 77;
    }
    VFT_RUN(test_good);
    VFT_RUN(test_mode_warning);
    VFT_RUN(test_sizes);
    VFT_RUN(test_not_regular);
    VFT_RUN(test_unreadable);
    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' && rm -rf '%s'", dir, dir);
    r = system(cmd);
    (void)r;
    VFT_EXIT();
}
