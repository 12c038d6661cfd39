/*
 * vmfence - daemon/privsep/sandbox.c: the network process gives up its
 * privileges (privsep.h), in the order of OpenBSD's ntpd: check the empty
 * root directory (owned by root, writable by nobody else), chroot, drop to
 * the user (groups, gid, uid: all threads, glibc broadcasts setxid), which
 * clears every capability of every thread, and the bounding and ambient
 * sets of the calling thread, then no_new_privs and the seccomp filter,
 * synchronised to every thread (TSYNC, which also sets no_new_privs on
 * them).
 *
 * The seccomp allow-list is what the network half does after start-up:
 * poll and stream I/O on its sockets, accept, the multicast connect-back
 * (socket + connect), threads (clone, futex, mmap), time, randomness,
 * signals, syslog through the already-connected socket, and opening files
 * read-only (in the empty root there is nothing to open but the copies of
 * the key files a reload stages there, handover.h).  Anything else kills
 * the process (SCMP_ACT_KILL_PROCESS); open() for writing and friends
 * (stat, access) fail with EACCES instead, so that a library probing a
 * file does not take the daemon down.  VF_SECCOMP=log in the environment logs (audit)
 * instead of killing, VF_SECCOMP=off skips the filter: debugging only.
 *
 * Sanitizer builds (ASan/LSan need ptrace-like calls, /proc, madvise ...
 * at exit) skip the filter; the rest of the sandbox stays.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef HAVE_LIBSECCOMP
#include <seccomp.h>
#endif

#include "log.h"
#include "privsep/privsep.h"

static const char *seccomp_state = "off (not installed)";

const char *
vf_ps_sandbox_seccomp_state(void)
{
    return seccomp_state;
}

/* mkdir -p @dir (0755); then it must be a directory owned by root that
 * nobody else can write. */
static int
check_root_dir(const char *dir, char *err, size_t err_len)
{
    char path[4096];
    struct stat st;

    if (dir[0] != '/' || strlen(dir) >= sizeof(path)) {
        snprintf(err, err_len, "privsep: chroot directory '%s' must be an absolute path", dir);
        return -EINVAL;
    }
    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;

            *p = '\0';
            if (mkdir(path, 0755) == 0) {
                (void)chmod(path, 0755);    /* whatever the umask (UMask=0077) */
            } else if (errno != EEXIST) {
                int e = errno;

                snprintf(err, err_len, "privsep: cannot create '%s': %s", path, strerror(e));
                return -e;
            }
            *p = c;
            if (c == '\0') {
                break;
            }
        }
    }
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "privsep: chroot directory '%s' is not a directory", dir);
        return -ENOTDIR;
    }
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        snprintf(err, err_len, "privsep: chroot directory '%s' must be owned by root and "
                 "writable by root only", dir);
        return -EPERM;
    }
    return 0;
}

int
vf_ps_sandbox_prepare(const char *chroot_dir, char *err, size_t err_len)
{
    static const int needed[] = { CAP_SYS_CHROOT, CAP_SETUID, CAP_SETGID };
    char line[256];
    unsigned long long eff = 0;
    bool found = false;
    FILE *f = fopen("/proc/self/status", "re");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "CapEff: %llx", &eff) == 1) {
            found = true;
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    for (size_t i = 0; found && i < sizeof(needed) / sizeof(needed[0]); i++) {
        if ((eff & (1ULL << needed[i])) == 0) {
            snprintf(err, err_len, "privsep: this process lacks CAP_SYS_CHROOT, CAP_SETUID or "
                     "CAP_SETGID (a service manager's CapabilityBoundingSet?)");
            return -EPERM;
        }
    }
    return check_root_dir(chroot_dir, err, err_len);
}

#if defined(HAVE_LIBSECCOMP) && !defined(VF_SAN_BUILD)
static int
install_seccomp(char *err, size_t err_len)
{
    static const int allow[] = {
        SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
        SCMP_SYS(pread64), SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
        SCMP_SYS(lseek), SCMP_SYS(fcntl), SCMP_SYS(ioctl), SCMP_SYS(dup), SCMP_SYS(dup2),
        SCMP_SYS(dup3),
        SCMP_SYS(pipe2), SCMP_SYS(eventfd2),
        SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
        SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
        SCMP_SYS(epoll_pwait),
        SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(recvmmsg), SCMP_SYS(sendto),
        SCMP_SYS(sendmsg), SCMP_SYS(sendmmsg), SCMP_SYS(accept), SCMP_SYS(accept4),
        SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen),
        SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(setsockopt),
        SCMP_SYS(getsockopt), SCMP_SYS(shutdown),
        SCMP_SYS(futex), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
        SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(clock_getres),
        SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getuid), SCMP_SYS(geteuid),
        SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getppid),
        SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise),
        SCMP_SYS(mremap), SCMP_SYS(brk),
        SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
        SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(sched_yield),
        SCMP_SYS(sched_getaffinity), SCMP_SYS(membarrier),
        SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigtimedwait),
        SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall),
        SCMP_SYS(tgkill), SCMP_SYS(getrandom), SCMP_SYS(getrusage), SCMP_SYS(sysinfo),
        SCMP_SYS(uname), SCMP_SYS(prlimit64),
    };
    /* probed by libraries (NSS, glibc): refused, not fatal */
    static const int refuse[] = {
        SCMP_SYS(open), SCMP_SYS(stat), SCMP_SYS(lstat),
        SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(readlink),
        SCMP_SYS(statx), SCMP_SYS(statfs), SCMP_SYS(fstatfs),
    };
    const char *mode = getenv("VF_SECCOMP");
    uint32_t def = SCMP_ACT_KILL_PROCESS;
    scmp_filter_ctx ctx = NULL;
    int r = 0;

    if (mode != NULL && strcmp(mode, "off") == 0) {
        seccomp_state = "off (VF_SECCOMP=off)";
        return 0;
    }
    if (mode != NULL && strcmp(mode, "log") == 0) {
        def = SCMP_ACT_LOG;
    }
    ctx = seccomp_init(def);
    if (ctx == NULL) {
        snprintf(err, err_len, "privsep: seccomp_init failed");
        return -ENOMEM;
    }
    r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    for (size_t i = 0; r == 0 && i < sizeof(allow) / sizeof(allow[0]); i++) {
        if (allow[i] >= 0) {
            r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allow[i], 0);
        }
    }
    for (size_t i = 0; r == 0 && i < sizeof(refuse) / sizeof(refuse[0]); i++) {
        if (refuse[i] >= 0) {
            r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), refuse[i], 0);
        }
    }
    /* openat: read-only (a reload's staged keys, handover.h); to write or
     * create: refused, not fatal */
    if (r == 0) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT, O_RDONLY));
    }
    if (r == 0) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_WRONLY));
    }
    if (r == 0) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDWR));
    }
    if (r == 0) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT, O_CREAT));
    }
    /* signals only to this process (the pipeline never signals others) */
    if (r == 0) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                             SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    }
    if (r == 0) {
        r = seccomp_load(ctx);
    }
    seccomp_release(ctx);
    if (r < 0) {
        snprintf(err, err_len, "privsep: cannot install the seccomp filter: %s", strerror(-r));
        return r;
    }
    seccomp_state = def == SCMP_ACT_LOG ? "on (log only: VF_SECCOMP=log)" : "on";
    return 0;
}
#endif

int
vf_ps_sandbox_user(const char *user, uid_t *ret_uid, gid_t *ret_gid, const char **ret_name,
                   char *err, size_t err_len)
{
    struct passwd pwbuf;
    struct passwd *pw = NULL;
    char buf[4096];

    if (user == NULL || user[0] == '\0') {
        (void)getpwnam_r("vmfence", &pwbuf, buf, sizeof(buf), &pw);
        user = pw != NULL ? "vmfence" : "nobody";
    }
    if (pw == NULL) {
        (void)getpwnam_r(user, &pwbuf, buf, sizeof(buf), &pw);
    }
    if (pw == NULL) {
        snprintf(err, err_len, "privsep: no user '%s'", user);
        return -ENOENT;
    }
    if (pw->pw_uid == 0) {
        snprintf(err, err_len, "privsep: user '%s' is root", user);
        return -EPERM;
    }
    *ret_uid = pw->pw_uid;
    *ret_gid = pw->pw_gid;
    if (ret_name != NULL) {
        *ret_name = user;
    }
    return 0;
}

int
vf_ps_sandbox_enter(const struct vf_ps_sandbox *sb, char *err, size_t err_len)
{
    uid_t uid = sb->uid;
    gid_t gid = sb->gid;
    int r = 0;

    if (uid == 0) {
        snprintf(err, err_len, "privsep: the network process's user is root");
        return -EPERM;
    }
    r = check_root_dir(sb->chroot_dir, err, err_len);
    if (r < 0) {
        return r;
    }
    if (chroot(sb->chroot_dir) < 0 || chdir("/") < 0) {
        r = -errno;
        snprintf(err, err_len, "privsep: chroot '%s': %s", sb->chroot_dir, strerror(-r));
        return r;
    }
    /* bounding set (this thread; the others cannot exec: no_new_privs) */
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
        (void)prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    }
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
        setresuid(uid, uid, uid) < 0) {
        r = -errno;
        snprintf(err, err_len, "privsep: cannot become uid %ld gid %ld: %s", (long)uid, (long)gid,
                 strerror(-r));
        return r;
    }
    if (setuid(0) == 0 || seteuid(0) == 0) {
        snprintf(err, err_len, "privsep: could become root again after dropping to uid %ld",
                 (long)uid);
        return -EPERM;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        r = -errno;
        snprintf(err, err_len, "privsep: PR_SET_NO_NEW_PRIVS: %s", strerror(-r));
        return r;
    }
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (!sb->seccomp) {
        seccomp_state = "off (disabled)";
        return 0;
    }
#if defined(VF_SAN_BUILD)
    seccomp_state = "off (sanitizer build)";
    return 0;
#elif defined(HAVE_LIBSECCOMP)
    return install_seccomp(err, err_len);
#else
    seccomp_state = "off (built without libseccomp)";
    return 0;
#endif
}
