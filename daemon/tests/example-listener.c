/*
 * vmfence - daemon/tests/example-listener.c: the worked example of
 * HACKING.md, "a new listener in one file plus one registry line".  It is
 * built as a loadable module (tests/plugin-example.la) and loaded by
 * test-plugin, so the example stays true: the registry takes it, and its
 * schema is what --check-config and fence_virtd -c use for its block.
 *
 * A listener on a UNIX stream socket: listeners/example { path; backlog; }.
 * It accepts connections and closes them again; a real listener would read
 * a request into a struct vf_conn and hand it to api->submit().
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "plugin.h"

/* 1. The settings: key, type, default, range, help (the -c prompt), flags. */
static const struct vf_setting ex_settings[] = {
    { "path", VF_ST_PATH, "/run/vmfence/example.sock", 0, 0, NULL, "Socket path",
      VF_SF_ASK, NULL, NULL },
    { "backlog", VF_ST_INT, "16", 1, 128, NULL, "Pending connections", VF_SF_ASK, NULL, NULL },
    { NULL, VF_ST_STRING, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};

static const struct vf_schema ex_schema = {
    .intro = "\nThe example listener accepts connections on a UNIX socket.\n\n",
    .settings = ex_settings,
    .flags = VF_LF_STREAM,
};

struct ex {
    const struct vf_daemon_api *api;
    int fd;
};

/* 2. init: read the block (copy what is kept: the tree is freed on reload) and open. */
static int
ex_init(const struct vf_conf *conf, const struct vf_daemon_api *api, void **ret_priv,
        char *err, size_t err_len)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    const char *path = vf_conf_get(conf, "listeners/example/path", ex_settings[0].def);
    unsigned long backlog = 16;
    struct ex *ex = NULL;
    int r = vf_conf_get_uint(conf, "listeners/example/backlog", 1, 128, 16, &backlog, err,
                             err_len);

    if (r < 0) {
        return r;
    }
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, err_len, "example: socket path '%s' too long", path);
        return -EINVAL;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    ex = calloc(1, sizeof(*ex));
    if (ex == NULL) {
        return -ENOMEM;
    }
    ex->api = api;
    ex->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (ex->fd < 0 || bind(ex->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(ex->fd, (int)backlog) < 0) {
        r = -errno;
        snprintf(err, err_len, "example: %s: %s", path, strerror(-r));
        if (ex->fd >= 0) {
            close(ex->fd);
        }
        free(ex);
        return r;
    }
    *ret_priv = ex;
    return 0;
}

/* 3. run: serve until the daemon says stop, waking at least every 500 ms. */
static int
ex_run(void *priv)
{
    struct ex *ex = priv;

    while (!ex->api->stopping(ex->api->ctx)) {
        struct pollfd pfd = { ex->fd, POLLIN, 0 };

        if (poll(&pfd, 1, 200) > 0) {
            int c = accept4(ex->fd, NULL, NULL, SOCK_CLOEXEC);

            if (c >= 0) {
                close(c);   /* here: read the request, fill a vf_conn, api->submit() */
            }
        }
    }
    return 0;
}

static void
ex_fini(void *priv)
{
    struct ex *ex = priv;

    if (ex != NULL) {
        close(ex->fd);
        free(ex);
    }
}

/* 4. The ops table with its schema, and the one exported descriptor. */
VF_LISTENER_PLUGIN(example, &ex_schema, ex_init, ex_run, ex_fini);
