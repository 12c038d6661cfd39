/*
 * vmfence - lib/log.c: the logging sink shared by agents and daemon.
 *
 * syslog (facility DAEMON) when asked and /dev/log exists; stderr when
 * asked, or when syslog is unavailable, in the form
 *     ident[pid]: LEVEL: message
 * Each message is formatted once into a bounded buffer and written under a
 * mutex with one writev() (prefix + message), so lines from several
 * threads never interleave; messages below the debug level are never
 * formatted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_ident[64];            /* empty: program_invocation_short_name */
static bool log_to_syslog;
static bool log_to_stderr = true;
static atomic_int log_debug;

/**
 * \brief Configure the sink.  May be called again (e.g. after daemonising).
 * \param[in] ident        program name for syslog and stderr lines
 * \param[in] flags        VF_LOG_STDERR | VF_LOG_SYSLOG
 * \param[in] debug_level  vf_dbg(level) messages print when level <= this
 */
void
vf_log_init(const char *ident, unsigned int flags, int debug_level)
{
    bool use_syslog = false;

    pthread_mutex_lock(&log_lock);
    if (log_to_syslog) {
        closelog();
        log_to_syslog = false;
    }
    if (ident != NULL && ident[0] != '\0') {
        const char *slash = strrchr(ident, '/');

        snprintf(log_ident, sizeof(log_ident), "%s",
                 slash != NULL ? slash + 1 : ident);
    }
    if (log_ident[0] == '\0') {
        snprintf(log_ident, sizeof(log_ident), "%s",
                 program_invocation_short_name);
    }
    if ((flags & VF_LOG_SYSLOG) && access("/dev/log", F_OK) == 0) {
        use_syslog = true;
        openlog(log_ident, LOG_PID, LOG_DAEMON);
    }
    log_to_syslog = use_syslog;
    log_to_stderr = (flags & VF_LOG_STDERR) || !use_syslog;
    atomic_store(&log_debug, debug_level);
    pthread_mutex_unlock(&log_lock);
}

void
vf_log_set_debug(int debug_level)
{
    atomic_store(&log_debug, debug_level);
}

static const char *
prio_name(int prio)
{
    switch (LOG_PRI(prio)) {
    case LOG_EMERG:
        return "EMERG";
    case LOG_ALERT:
        return "ALERT";
    case LOG_CRIT:
        return "CRIT";
    case LOG_ERR:
        return "ERROR";
    case LOG_WARNING:
        return "WARNING";
    case LOG_NOTICE:
        return "NOTICE";
    case LOG_INFO:
        return "INFO";
    default:
        return "DEBUG";
    }
}

/* The process id for stderr lines, read once (getpid() is a system call
 * per line otherwise) and again in a forked child. */
static atomic_long log_pid;
static pthread_once_t log_pid_once = PTHREAD_ONCE_INIT;

static void
log_pid_reset(void)
{
    atomic_store(&log_pid, (long)getpid());
}

static void
log_pid_init(void)
{
    log_pid_reset();
    (void)pthread_atfork(NULL, NULL, log_pid_reset);
}

/* Write @head and @body to stderr with one writev() (the rest, if the
 * kernel took only part, with write()); give up on an error. */
static void
write_stderr(const char *head, size_t head_len, const char *body, size_t body_len)
{
    struct iovec iov[2] = {
        { .iov_base = (void *)head, .iov_len = head_len },
        { .iov_base = (void *)body, .iov_len = body_len },
    };
    ssize_t n;

    do {
        n = writev(STDERR_FILENO, iov, 2);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return;
    }
    for (int i = 0; i < 2; i++) {
        size_t skip = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;
        const char *p = (const char *)iov[i].iov_base + skip;
        size_t left = iov[i].iov_len - skip;

        n -= (ssize_t)skip;
        while (left > 0) {
            ssize_t w = write(STDERR_FILENO, p, left);

            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                return;
            }
            p += w;
            left -= (size_t)w;
        }
    }
}

/* format and emit one message; the debug filter is the caller's */
static void emit(int prio, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
emit(int prio, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX + 1];
    char head[128];
    int saved_errno = errno;
    int hl = 0;
    size_t n;

    pthread_once(&log_pid_once, log_pid_init);
    vsnprintf(line, LOG_LINE_MAX, fmt, ap);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n') {
        line[--n] = '\0';
    }
    pthread_mutex_lock(&log_lock);
    if (log_to_syslog) {
        syslog(LOG_PRI(prio), "%s", line);
    }
    if (log_to_stderr) {
        /* prefix and message in one writev(): no stdio lock, buffer or
         * flush per line (and no getpid() system call) */
        hl = snprintf(head, sizeof(head), "%s[%ld]: %s: ",
                      log_ident[0] != '\0' ? log_ident : program_invocation_short_name,
                      atomic_load(&log_pid), prio_name(prio));
        line[n++] = '\n';
        fflush(stderr);     /* what stdio holds for stderr goes first */
        write_stderr(head, hl < 0 ? 0 : (size_t)hl < sizeof(head) ? (size_t)hl :
                     sizeof(head) - 1, line, n);
    }
    pthread_mutex_unlock(&log_lock);
    errno = saved_errno;
}

/* LOG_DEBUG messages without a level are shown from debug level 1 on */
void
vf_logv(int prio, const char *fmt, va_list ap)
{
    if (LOG_PRI(prio) == LOG_DEBUG && atomic_load(&log_debug) < 1) {
        return;
    }
    emit(prio, fmt, ap);
}

void
vf_log(int prio, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vf_logv(prio, fmt, ap);
    va_end(ap);
}

void
vf_msgf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (buf == NULL || len == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

void
vf_dbg(int level, const char *fmt, ...)
{
    va_list ap;

    if (atomic_load(&log_debug) < level) {
        return;
    }
    va_start(ap, fmt);
    emit(LOG_DEBUG, fmt, ap);
    va_end(ap);
}
