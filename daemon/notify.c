/*
 * vmfence - daemon/notify.c: sd_notify messages (see notify.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"

bool
vf_notify_enabled(void)
{
    const char *s = getenv("NOTIFY_SOCKET");

    return s != NULL && s[0] != '\0';
}

#ifndef HAVE_LIBSYSTEMD
/*
 * The protocol as sd_notify(3) documents it: one datagram with the text to
 * the AF_UNIX socket named by NOTIFY_SOCKET (a path, or "@name" for the
 * abstract namespace).
 */
static int
notify_send(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun;
    socklen_t len = 0;
    size_t plen = 0;
    ssize_t n = 0;
    int fd = -1;
    int r = 0;

    if (path == NULL || path[0] == '\0') {
        return 0;
    }
    plen = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path)) {
        return -EAFNOSUPPORT; /* e.g. vsock:..., which systemd 254+ allows */
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, plen);
    if (path[0] == '@') {
        sun.sun_path[0] = '\0';
    }
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
    r = n < 0 ? -errno : 0;
    close(fd);
    return r;
}
#else
static int
notify_send(const char *msg)
{
    int r = sd_notify(0, msg);

    return r < 0 ? r : 0;
}
#endif

static int
vnotify(const char *fmt, va_list ap)
{
    char *msg = NULL;
    int r = 0;

    if (!vf_notify_enabled()) {
        return 0;
    }
    if (vasprintf(&msg, fmt, ap) < 0) {
        return -ENOMEM;
    }
    r = notify_send(msg);
    if (r < 0) {
        vf_dbg(1, "sd_notify '%s' failed: %s", msg, strerror(-r));
    } else {
        vf_dbg(2, "sd_notify: %s", msg);
    }
    free(msg);
    return r;
}

int
vf_notify(const char *fmt, ...)
{
    va_list ap;
    int r = 0;

    va_start(ap, fmt);
    r = vnotify(fmt, ap);
    va_end(ap);
    return r;
}

void
vf_notify_status(const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (!vf_notify_enabled()) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* one line: a newline would start another assignment */
    for (char *p = buf; *p != '\0'; p++) {
        if (*p == '\n') {
            *p = ' ';
        }
    }
    (void)vf_notify("STATUS=%s", buf);
}

void
vf_notify_ready(const char *status)
{
    if (status != NULL) {
        (void)vf_notify("READY=1\nSTATUS=%s\nMAINPID=%ld", status, (long)getpid());
    } else {
        (void)vf_notify("READY=1\nMAINPID=%ld", (long)getpid());
    }
}

/*
 * RELOADING=1 with MONOTONIC_USEC (systemd 253's Type=notify-reload wants
 * it; older ones ignore it).
 */
void
vf_notify_reloading(void)
{
    struct timespec ts;
    unsigned long long usec = 0;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) {
        usec = (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
    }
    (void)vf_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration", usec);
}

void
vf_notify_stopping(void)
{
    (void)vf_notify("STOPPING=1\nSTATUS=stopping");
}
