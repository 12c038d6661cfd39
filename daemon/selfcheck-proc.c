/*
 * vmfence - daemon/selfcheck-proc.c: `fence_virtd --check`, who holds a
 * port (see selfcheck-int.h).
 *
 * The running daemon is the one that holds the lock on the pid file.  With
 * privilege separation its listening sockets belong to its network process
 * (`fence_virtd-net --privsep-net`, or `fence_virtd --privsep-net` when the
 * lean program cannot serve the configuration; a child of the pid file's
 * process), so a socket held by a descendant of that process counts as the
 * daemon's too, and a process named either way is a fence_virtd.
 * Only /proc is read; nothing is signalled or written.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "selfcheck-int.h"

#define SC_MAX_INODES    32    /* sockets on one port looked at */
#define SC_MAX_ANCESTRY  4     /* parent links followed from a socket's holder */
#define SC_MAX_PROC_DIRS 65536 /* /proc entries scanned for a socket */
#define SC_MAX_PROC_FDS  65536 /* descriptors looked at per process */

/*
 * Inodes of the sockets in /proc/net/@file ("tcp", "udp6", ...; this network
 * namespace) whose local port is @port; TCP: only listening ones.
 */
static size_t
port_inodes(const char *file, uint16_t port, bool tcp, unsigned long *inodes, size_t max, size_t n)
{
    char path[64];
    char line[512];
    FILE *f = NULL;

    snprintf(path, sizeof(path), "/proc/net/%s", file);
    f = fopen(path, "re");
    if (f == NULL) {
        return n;
    }
    while (fgets(line, sizeof(line), f) != NULL && n < max) {
        char local[64];
        unsigned int lport = 0;
        unsigned int st = 0;
        unsigned long inode = 0;

        if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*u %*d %lu", local, &lport,
                   &st, &inode) != 4) {
            continue;
        }
        if (lport != port || inode == 0 || (tcp && st != 0x0A)) {
            continue;
        }
        inodes[n++] = inode;
    }
    fclose(f);
    return n;
}

/* true when process directory @fdpath ("/proc/PID/fd") has a link to @want */
static bool
fds_hold(const char *fdpath, const char *want)
{
    DIR *fds = opendir(fdpath);
    struct dirent *fe = NULL;
    bool found = false;

    if (fds == NULL) {
        return false;
    }
    for (unsigned int i = 0; i < SC_MAX_PROC_FDS && (fe = readdir(fds)) != NULL; i++) {
        char lpath[600];
        char target[64];
        ssize_t n = 0;

        if (fe->d_name[0] == '.') {
            continue;
        }
        snprintf(lpath, sizeof(lpath), "%s/%s", fdpath, fe->d_name);
        n = readlink(lpath, target, sizeof(target) - 1);
        if (n <= 0) {
            continue;
        }
        target[n] = '\0';
        if (strcmp(target, want) == 0) {
            found = true;
            break;
        }
    }
    closedir(fds);
    return found;
}

/* the name of process @pid (/proc/PID/comm), "" when it cannot be read */
static void
proc_comm(pid_t pid, char *comm, size_t comm_len)
{
    char cpath[64];
    FILE *f = NULL;

    comm[0] = '\0';
    snprintf(cpath, sizeof(cpath), "/proc/%ld/comm", (long)pid);
    f = fopen(cpath, "re");
    if (f == NULL) {
        return;
    }
    if (fgets(comm, (int)comm_len, f) == NULL) {
        comm[0] = '\0';
    }
    comm[strcspn(comm, "\n")] = '\0';
    fclose(f);
}

/* The process holding socket @inode: its pid (0 if none found) and name. */
static pid_t
inode_owner(unsigned long inode, char *comm, size_t comm_len)
{
    char want[64];
    DIR *proc = opendir("/proc");
    struct dirent *de = NULL;
    pid_t found = 0;

    comm[0] = '\0';
    if (proc == NULL) {
        return 0;
    }
    snprintf(want, sizeof(want), "socket:[%lu]", inode);
    for (unsigned int i = 0; i < SC_MAX_PROC_DIRS && found == 0 && (de = readdir(proc)) != NULL;
         i++) {
        char fdpath[300];

        if (!isdigit((unsigned char)de->d_name[0])) {
            continue;
        }
        snprintf(fdpath, sizeof(fdpath), "/proc/%s/fd", de->d_name);
        if (fds_hold(fdpath, want)) {
            found = (pid_t)strtol(de->d_name, NULL, 10);
        }
    }
    closedir(proc);
    if (found > 0) {
        proc_comm(found, comm, comm_len);
    }
    return found;
}

/* the parent of process @pid (/proc/PID/stat), 0 when unknown */
static pid_t
proc_ppid(pid_t pid)
{
    char path[64];
    char buf[1024];
    const char *end = NULL;
    ssize_t n = 0;
    long ppid = 0;
    int fd = -1;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    /* "PID (COMM) STATE PPID ...": COMM may hold ')' and blanks */
    end = strrchr(buf, ')');
    if (end == NULL || sscanf(end + 1, " %*c %ld", &ppid) != 1 || ppid <= 0) {
        return 0;
    }
    return (pid_t)ppid;
}

/*
 * true when process @p is the running daemon or one of its descendants
 * (its network process with privilege separation); parent links followed
 * at most SC_MAX_ANCESTRY times.
 */
static bool
is_daemon_proc(const struct vf_sc *sc, pid_t p)
{
    if (sc->daemon_pid <= 0) {
        return false;
    }
    for (unsigned int i = 0; i <= SC_MAX_ANCESTRY && p > 1; i++) {
        if (p == sc->daemon_pid) {
            return true;
        }
        p = proc_ppid(p);
    }
    return false;
}

/*
 * The pid of the fence_virtd that holds the lock on pid file @path (0 when
 * the file is missing or not locked: nobody runs with it).  Only opens the
 * file read-only and tests the lock.
 */
static pid_t
pidfile_holder(const char *path)
{
    char buf[32];
    ssize_t n = 0;
    pid_t pid = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        return 0;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        (void)flock(fd, LOCK_UN);
        close(fd);
        return 0;
    }
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    pid = (pid_t)strtol(buf, NULL, 10);
    close(fd);
    return pid > 0 ? pid : -1;
}

void
vf_sc_find_daemon(struct vf_sc *sc)
{
    const char *cands[] = { sc->in->pid_path, "/run/fence_virtd/fence_virtd.pid",
                            "/run/fence_virtd.pid", "/var/run/fence_virtd.pid" };
    size_t n = sc->in->pid_path_given ? 1 : sizeof(cands) / sizeof(cands[0]);

    for (size_t i = 0; i < n; i++) {
        pid_t p = cands[i] != NULL ? pidfile_holder(cands[i]) : 0;

        if (p != 0) {
            sc->daemon_pid = p;
            snprintf(sc->daemon_pidfile, sizeof(sc->daemon_pidfile), "%s", cands[i]);
            return;
        }
    }
}

/* the port is served by the running daemon (@p: it, or its network process) */
static void
report_daemon_serves(struct vf_sc *sc, const char *what, const char *desc, pid_t p)
{
    if (p == sc->daemon_pid) {
        vf_sc_line(sc, VF_SC_OK, what,
                   "%s is in use by the running fence_virtd (pid %ld, "
                   "pid file %s): it serves this listener now",
                   desc, (long)p, sc->daemon_pidfile);
        return;
    }
    vf_sc_line(sc, VF_SC_OK, what,
               "%s is in use by the running fence_virtd (pid %ld, "
               "pid file %s) through its network process (pid %ld, privilege "
               "separation): it serves this listener now",
               desc, (long)sc->daemon_pid, sc->daemon_pidfile, (long)p);
}

/* nobody we know holds the port: say who does, and what to do */
static void
report_other_holder(struct vf_sc *sc, const char *what, const char *desc, pid_t other_vfd,
                    pid_t owner, const char *comm, bool tcp, uint16_t port, const char *config_key)
{
    if (other_vfd > 0) {
        vf_sc_line(sc, VF_SC_WARN, what,
                   "%s is in use by a fence_virtd (pid %ld) that does not "
                   "hold the pid file %s",
                   desc, (long)other_vfd,
                   sc->daemon_pidfile[0] != '\0' ? sc->daemon_pidfile : sc->in->pid_path);
        vf_sc_next(sc, "it was started with another -p or configuration; give --check the same "
                       "-p, or stop that daemon before starting this one");
        return;
    }
    if (owner > 0) {
        vf_sc_line(sc, VF_SC_ERR, what, "%s is in use by another process: pid %ld (%s)", desc,
                   (long)owner, comm[0] != '\0' ? comm : "?");
        vf_sc_next(sc,
                   "stop that process, or choose another port (%s, and the agents' "
                   "-p/ipport)",
                   config_key);
        return;
    }
    vf_sc_line(sc, VF_SC_ERR, what, "%s is in use by another process", desc);
    vf_sc_next(sc, "find it with: ss -%slnp 'sport = :%u'; stop it or choose another port (%s)",
               tcp ? "t" : "u", (unsigned int)port, config_key);
}

/*
 * A bind failed with EADDRINUSE: explain who holds @port.  A running
 * fence_virtd (the one of the pid file, or its network process) serving it
 * is fine.
 */
void
vf_sc_explain_in_use(struct vf_sc *sc, const char *what, const char *desc, bool tcp, uint16_t port,
                     const char *config_key)
{
    unsigned long inodes[SC_MAX_INODES];
    size_t n = 0;
    char comm[64] = "";
    pid_t owner = 0;
    pid_t other_vfd = 0;

    n = port_inodes(tcp ? "tcp" : "udp", port, tcp, inodes, SC_MAX_INODES, n);
    n = port_inodes(tcp ? "tcp6" : "udp6", port, tcp, inodes, SC_MAX_INODES, n);
    for (size_t i = 0; i < n; i++) {
        char c[64];
        pid_t p = inode_owner(inodes[i], c, sizeof(c));

        if (p <= 0) {
            continue;
        }
        if (is_daemon_proc(sc, p)) {
            report_daemon_serves(sc, what, desc, p);
            return;
        }
        if (strcmp(c, "fence_virtd") == 0 || strcmp(c, "fence_virtd-net") == 0) {
            other_vfd = p;
        }
        if (owner == 0) {
            owner = p;
            snprintf(comm, sizeof(comm), "%s", c);
        }
    }
    report_other_holder(sc, what, desc, other_vfd, owner, comm, tcp, port, config_key);
}
