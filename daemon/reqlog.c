/*
 * vmfence - daemon/reqlog.c: printable copies and the drop-line rate limit.
 */
#include <pthread.h>
#include <stdint.h>

#include "io.h"
#include "log.h"
#include "reqlog.h"

void
vf_reqlog_sanitize(const char *in, char *out, size_t out_len)
{
    size_t j = 0;

    for (size_t i = 0; in != NULL && in[i] != '\0' && j + 1 < out_len; i++) {
        unsigned char c = (unsigned char)in[i];

        out[j++] = (c < 0x20 || c >= 0x7f || c == '\'') ? '?' : (char)c;
    }
    if (out_len > 0) {
        out[j] = '\0';
    }
}

bool
vf_reqlog_drop_allowed(void)
{
    static pthread_mutex_t rl_mu = PTHREAD_MUTEX_INITIALIZER;
    static int64_t rl_sec;
    static unsigned int rl_count;
    static unsigned int rl_suppressed;
    int64_t sec = vf_now_ms() / 1000;
    bool ok = false;

    pthread_mutex_lock(&rl_mu);
    if (sec != rl_sec) {
        if (rl_suppressed > 0) {
            vf_log(LOG_WARNING, "%u more dropped requests not logged (rate limit)",
                   rl_suppressed);
        }
        rl_sec = sec;
        rl_count = 0;
        rl_suppressed = 0;
    }
    if (rl_count < VF_DROP_LOG_PER_SEC) {
        rl_count++;
        ok = true;
    } else {
        rl_suppressed++;
    }
    pthread_mutex_unlock(&rl_mu);
    return ok;
}
