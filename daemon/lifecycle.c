/*
 * vmfence - daemon/lifecycle.c: fence_virtd's pid file (locked with flock,
 * so the lock survives fork; a stale file is replaced), daemonising with a
 * readiness pipe (every start-up error is shown on the terminal and in the
 * exit status), and stdio once the daemon serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "virtd.h"

static int pid_fd = -1;

/* Lock the pid file (flock, so the lock survives fork) and write our pid. */
int
vfd_pidfile_acquire(const char *path)
{
    char buf[32];
    ssize_t n = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

    if (fd < 0) {
        fprintf(stderr, "%s: cannot open pid file '%s': %s\n", vfd_progname, path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;

        if (e == EWOULDBLOCK) {
            n = pread(fd, buf, sizeof(buf) - 1, 0);
            buf[n > 0 ? n : 0] = '\0';
            buf[strcspn(buf, "\n")] = '\0';
            fprintf(stderr, "%s: already running as pid %s (pid file '%s' is locked); "
                    "use -p to run another instance\n", vfd_progname,
                    buf[0] != '\0' ? buf : "?", path);
        } else {
            fprintf(stderr, "%s: cannot lock pid file '%s': %s\n", vfd_progname, path, strerror(e));
        }
        close(fd);
        return -1;
    }
    pid_fd = fd;
    return 0;
}

int
vfd_pidfile_write(void)
{
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

    if (ftruncate(pid_fd, 0) < 0 || pwrite(pid_fd, buf, (size_t)len, 0) != len) {
        fprintf(stderr, "%s: cannot write pid file '%s': %s\n", vfd_progname, vfd_arg.pid_path_abs,
                strerror(errno));
        return -1;
    }
    return 0;
}

void
vfd_pidfile_release(void)
{
    if (pid_fd >= 0) {
        (void)unlink(vfd_arg.pid_path_abs);
        close(pid_fd);
        pid_fd = -1;
    }
}

char *
vfd_absolute_path(const char *p)
{
    char cwd[PATH_MAX];
    char *out = NULL;

    if (p[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL) {
        return strdup(p);
    }
    if (asprintf(&out, "%s/%s", cwd, p) < 0) {
        return NULL;
    }
    return out;
}

/* ---- daemonising ------------------------------------------------------------- */

/*
 * Double fork with a readiness pipe: the original process waits until the
 * daemon reports that it is serving (exit 0) or dies during start-up
 * (exit 1).  Returns the write end of the pipe in the daemon, or -errno
 * (still in the foreground).
 */
int
vfd_daemonize(void)
{
    int pfd[2];
    pid_t pid;
    char c = 0;

    if (pipe2(pfd, O_CLOEXEC) < 0) {
        int e = errno;

        fprintf(stderr, "%s: pipe: %s\n", vfd_progname, strerror(e));
        return -e;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        int e = errno;

        fprintf(stderr, "%s: fork: %s\n", vfd_progname, strerror(e));
        close(pfd[0]);
        close(pfd[1]);
        return -e;
    }
    if (pid > 0) {
        ssize_t n = 0;

        close(pfd[1]);
        (void)waitpid(pid, NULL, 0);
        do {
            n = read(pfd[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        _exit(n == 1 && c == 'R' ? 0 : 1);
    }
    close(pfd[0]);
    if (setsid() < 0) {
        _exit(1);
    }
    pid = fork();
    if (pid < 0) {
        _exit(1);
    }
    if (pid > 0) {
        _exit(0);
    }
    if (chdir("/") < 0) {
        _exit(1);
    }
    umask(022);
    return pfd[1];
}

void
vfd_detach_stdio(int ready_fd)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (ready_fd >= 0) {
        (void)!write(ready_fd, "R", 1);
        close(ready_fd);
    }
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) {
            close(fd);
        }
    }
}
