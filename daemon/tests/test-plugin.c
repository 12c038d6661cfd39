/*
 * vmfence - daemon/tests/test-plugin.c: the plugin registry (plugin.c).
 *
 * FAKES (marked as such): the built-ins "tcp", "serial" and "libvirt" are
 * defined here, strongly, so the registry's weak references find them;
 * "vsock" is defined with ABI 2 (before the settings schema), a built-in
 * the registry must refuse, and "multicast" without a schema, refused too.  The loadable
 * modules come from tests/plugin-module.c, built three times as real
 * shared objects into VF_TEST_MODULE_DIR (see daemon/Makefile.am), and
 * from tests/example-listener.c, HACKING.md's worked example.
 * The registry's log lines are captured by pointing stderr at a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "noop-plugin.h"
#include "registry.h"
#include "vftest.h"

/* ---- FAKE built-ins (ops from noop-plugin.h) ------------------------------ */

static const struct vf_backend_ops fake_libvirt = {
    .name = "libvirt", .version = "fake", .init = m_init, .fini = m_fini,
    .lookup = m_lookup, .off = m_op, .on = m_op, .reboot = m_op,
    .status = m_status, .list = m_list, .schema = &m_schema,
};

/* validate(): refuses the listener "serial" and counts its calls */
static int n_validated;

static int
fake_validate(const struct vf_conf *conf, const char *name, char *err, size_t err_len)
{
    (void)conf;
    n_validated++;
    if (strcmp(name, "serial") == 0) {
        snprintf(err, err_len, "fake: listener '%s' refused", name);
        return -EINVAL;
    }
    return 0;
}

static const struct vf_schema fake_stream_schema = {
    .settings = m_settings, .flags = VF_LF_KEYED | VF_LF_STREAM, .validate = fake_validate,
};
static const struct vf_schema fake_host_schema = {
    .settings = m_settings, .flags = VF_LF_HOST_FDS, .validate = fake_validate,
};

static const struct vf_listener_ops fake_tcp = {
    .name = "tcp", .version = "fake", .init = ml_init, .run = ml_run, .fini = m_fini,
    .schema = &fake_stream_schema,
};
static const struct vf_listener_ops fake_serial = {
    .name = "serial", .version = "fake", .init = ml_init, .run = ml_run, .fini = m_fini,
    .schema = &fake_host_schema,
};
static const struct vf_listener_ops fake_vsock = {
    .name = "vsock", .version = "fake", .init = ml_init, .run = ml_run, .fini = m_fini,
    .schema = &m_schema,
};
static const struct vf_listener_ops fake_multicast = {
    .name = "multicast", .version = "fake", .init = ml_init, .run = ml_run, .fini = m_fini,
};

/* strong definitions of five of the registry's weak built-in references */
const struct vf_plugin vf_plugin_tcp = { VF_PLUGIN_ABI, "tcp", &fake_tcp, NULL };
const struct vf_plugin vf_plugin_serial = { VF_PLUGIN_ABI, "serial", &fake_serial, NULL };
const struct vf_plugin vf_plugin_libvirt = { VF_PLUGIN_ABI, "libvirt", NULL, &fake_libvirt };
const struct vf_plugin vf_plugin_vsock = { 2, "vsock", &fake_vsock, NULL };
const struct vf_plugin vf_plugin_multicast = { VF_PLUGIN_ABI, "multicast", &fake_multicast,
                                               NULL };

/* ---- capturing the log ------------------------------------------------------ */

static char log_path[] = "/tmp/test-plugin-log.XXXXXX";
static int saved_stderr = -1;

static void
capture_start(void)
{
    int fd = mkstemp(log_path);

    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    if (fd >= 0) {
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
}

/* Stop capturing.  \return what was logged meanwhile (malloc'ed, "" on error) */
static char *
capture_end(void)
{
    char *buf = calloc(1, 65536);
    FILE *f = NULL;

    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    f = fopen(log_path, "r");
    if (f != NULL && buf != NULL) {
        size_t n = fread(buf, 1, 65535, f);

        buf[n] = '\0';
    }
    if (f != NULL) {
        fclose(f);
    }
    unlink(log_path);
    memcpy(log_path + strlen(log_path) - 6, "XXXXXX", 6);
    fputs(buf != NULL ? buf : "", stderr);  /* keep it in the test's log */
    return buf;
}

/* ---- tests ------------------------------------------------------------------ */

static void
test_builtins(void)
{
    const struct vf_host_api *host = NULL;
    char *desc = NULL;
    char *log = NULL;

    capture_start();
    VFT_EQ_INT(vf_registry_init(NULL), 0);
    log = capture_end();
    VFT_CHECK(vf_registry_listener("tcp") == &fake_tcp);
    VFT_CHECK(vf_registry_listener("TCP") == &fake_tcp);
    VFT_CHECK(vf_registry_backend("libvirt") == &fake_libvirt);
    VFT_CHECK(vf_registry_listener("multicast") == NULL);   /* no schema: refused */
    VFT_CHECK(log != NULL && strstr(log, "built-in plugin 'multicast' is invalid (listener ops "
                                    "incomplete)") != NULL);
    VFT_CHECK(vf_registry_backend("cpg") == NULL);          /* not linked in */
    VFT_CHECK(vf_registry_backend("tcp") == NULL);          /* a listener only */
    VFT_CHECK(vf_registry_backend(NULL) == NULL);
    /* a built-in with another ABI is refused as well */
    VFT_CHECK(vf_registry_listener("vsock") == NULL);
    VFT_CHECK(log != NULL && strstr(log, "built-in plugin 'vsock' is invalid (plugin ABI 2, "
                                    "fence_virtd expects 3)") != NULL);
    free(log);

    desc = vf_registry_describe();
    VFT_CHECK(desc != NULL && strstr(desc, "Available listeners:") != NULL);
    VFT_CHECK(desc != NULL && strstr(desc, "tcp") != NULL && strstr(desc, "(built-in)") != NULL);
    free(desc);

    /* the host API a backend gets at init */
    VFT_CHECK(vf_registry_host("nosuch") == NULL);
    host = vf_registry_host("libvirt");
    VFT_CHECK(host != NULL);
    if (host != NULL) {
        VFT_CHECK(host->find_backend(host->ctx, "libvirt") == &fake_libvirt);
        VFT_CHECK(host->find_backend(host->ctx, "cpg") == NULL);
        capture_start();
        host->log(host->ctx, LOG_WARNING, "hello %d", 42);
        log = capture_end();
        VFT_CHECK(log != NULL && strstr(log, "libvirt: hello 42") != NULL);
        free(log);
    }
    vf_registry_fini();
    VFT_CHECK(vf_registry_listener("tcp") == NULL);
}

/* what the daemon, --check-config and -c ask of the schemas */
static void
test_schemas(void)
{
    char err[128] = "";

    VFT_EQ_INT(vf_registry_init(NULL), 0);
    /* registration order: VF_BUILTIN_PLUGINS (tcp before serial) */
    VFT_CHECK(vf_registry_listener_at(0) == &fake_tcp);
    VFT_CHECK(vf_registry_listener_at(1) == &fake_serial);
    VFT_CHECK(vf_registry_listener_at(2) == NULL);
    VFT_CHECK(vf_registry_backend_at(0) == &fake_libvirt);
    VFT_CHECK(vf_registry_backend_at(1) == NULL);
    /* flags instead of names */
    VFT_EQ_INT(vf_registry_listener_flags("tcp"), VF_LF_KEYED | VF_LF_STREAM);
    VFT_EQ_INT(vf_registry_listener_flags("SERIAL"), VF_LF_HOST_FDS);
    VFT_EQ_INT(vf_registry_listener_flags("nosuch"), 0);
    /* validate(): the listener's verdict; none for unknown names */
    n_validated = 0;
    VFT_EQ_INT(vf_registry_validate_listener(NULL, "tcp", err, sizeof(err)), 0);
    VFT_EQ_INT(vf_registry_validate_listener(NULL, "Serial", err, sizeof(err)), -EINVAL);
    VFT_CHECK(strcmp(err, "fake: listener 'serial' refused") == 0);
    VFT_EQ_INT(vf_registry_validate_listener(NULL, "nosuch", err, sizeof(err)), 0);
    VFT_EQ_INT(n_validated, 2);
    vf_registry_fini();
    VFT_CHECK(vf_registry_listener_at(0) == NULL);
}

static void
test_modules(void)
{
    char *desc = NULL;
    char *log = NULL;
    struct stat st;

    if (stat(VF_TEST_MODULE_DIR "/plugin-good.so", &st) != 0) {
        /* built by make check before this test (EXTRA_..._DEPENDENCIES) */
        VFT_CHECK(!"test modules missing in " VF_TEST_MODULE_DIR);
        return;
    }
    vf_log_set_debug(1);
    capture_start();
    VFT_EQ_INT(vf_registry_init(VF_TEST_MODULE_DIR), 0);
    log = capture_end();
    vf_log_set_debug(0);

    /* a module of the current ABI: both its listener and its backend */
    VFT_CHECK(vf_registry_backend("modgood") != NULL);
    VFT_CHECK(vf_registry_listener("modgood") != NULL);
    VFT_CHECK(vf_registry_host("modgood") != NULL);
    desc = vf_registry_describe();
    VFT_CHECK(desc != NULL && strstr(desc, "plugin-good.so") != NULL);
    free(desc);

    /* an ABI 1 module: refused, with the file and both versions named */
    VFT_CHECK(vf_registry_backend("modabi1") == NULL);
    VFT_CHECK(log != NULL && strstr(log, "plugin-abi1.so': plugin ABI 1, fence_virtd "
                                    "expects 3 (rebuild it against this plugin.h") != NULL);

    /* an incomplete ops table: refused, saying so */
    VFT_CHECK(vf_registry_backend("modpart") == NULL);
    VFT_CHECK(log != NULL && strstr(log, "plugin-incomplete.so': invalid plugin "
                                    "(backend ops incomplete)") != NULL);

    /* HACKING.md's worked example (tests/example-listener.c): one file */
    VFT_CHECK(vf_registry_listener("example") != NULL);
    VFT_EQ_INT(vf_registry_listener_flags("example"), VF_LF_STREAM);
    if (vf_registry_listener("example") != NULL) {
        const struct vf_setting *set = vf_registry_listener("example")->schema->settings;

        VFT_EQ_STR(set[0].key, "path");
        VFT_EQ_INT(set[1].max, 128);
    }

    /* built-ins are still there, and keep their names */
    VFT_CHECK(vf_registry_listener("tcp") == &fake_tcp);
    free(log);
    vf_registry_fini();
}

int
main(void)
{
    vf_log_init("test-plugin", VF_LOG_STDERR, 0);
    VFT_EQ_INT(VF_PLUGIN_ABI, 3);
    VFT_RUN(test_builtins);
    VFT_RUN(test_schemas);
    VFT_RUN(test_modules);
    VFT_EXIT();
}
