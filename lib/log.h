/*
 * vmfence - lib/log.h: one logging sink for agents and daemon.
 *
 * Logs go to syslog when /dev/log exists, and to stderr when it does not or
 * when asked (foreground).  Priorities are syslog's LOG_*.  Never pass
 * user data as the format.
 */
#ifndef VF_LOG_H
#define VF_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

enum vf_log_flags {
    VF_LOG_STDERR = (1 << 0),   /* always copy to stderr */
    VF_LOG_SYSLOG = (1 << 1),   /* try syslog (skipped when /dev/log is missing) */
};

void vf_log_init(const char *ident, unsigned int flags, int debug_level);
void vf_log_set_debug(int debug_level);
void vf_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vf_logv(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* printf into a caller's message buffer (an optional "err" argument):
 * nothing when @buf is NULL or @len is 0 */
void vf_msgf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* debug message shown when debug level >= @level */
void vf_dbg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
