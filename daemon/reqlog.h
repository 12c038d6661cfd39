/*
 * vmfence - daemon/reqlog.h: what the request path may write to the log.
 *
 * Owns the two guards of every log line about a request: text that came
 * from a peer (target, peer name, identity) is logged only as a printable
 * copy, and lines about dropped or refused requests are rate limited, so
 * a flood of garbage cannot flood the log.
 */
#ifndef VF_REQLOG_H
#define VF_REQLOG_H

#include <stdbool.h>
#include <stddef.h>

#define VF_DROP_LOG_PER_SEC 20

/* Printable copy of untrusted @in (NULL: ""): controls, non-ASCII and
 * quotes become '?'; cut to fit @out_len. */
void vf_reqlog_sanitize(const char *in, char *out, size_t out_len);

/*
 * May a line about a dropped request be logged now?  At most
 * VF_DROP_LOG_PER_SEC per second, then one summary line for the rest.
 */
bool vf_reqlog_drop_allowed(void);

#endif
