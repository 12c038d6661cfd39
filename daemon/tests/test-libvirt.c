/*
 * vmfence - daemon/tests/test-libvirt.c: unit test of the libvirt backend.
 *
 * The backend runs against libvirt's in-process test driver
 * (test:///<file>.xml): no libvirtd, no KVM, no root.  Faked here: the
 * hypervisor (test driver), and the configuration (built from a buffer).
 * The test links against the backend's files (backends/libvirt-int.h) so
 * that it can reach the backend's own connection (lv_uri_conn) for what
 * the test driver cannot do from outside: create a transient domain
 * (virDomainCreateXML on the same connection, because every test:///file
 * connection has private state), and define / start / stop / undefine
 * domains whose lifecycle events the watch op must report (the test driver
 * emits events only to callbacks registered on the connection that made
 * the change).
 *
 * Also faked: a "libvirtd" that never answers (a listening UNIX socket
 * nobody accepts), to check that init, requests and fini stay bounded while
 * virConnectOpen hangs.
 *
 * Not covered here: the reconnect path against a daemon that goes away or
 * hangs after connecting (tests/interop/libvirtd-restart.sh does that with a
 * real libvirtd), and "on" of a shut-off transient domain (-EOPNOTSUPP): the
 * test driver removes a transient domain when it stops, so that state
 * cannot be built.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "config.h"
#include "io.h"
#include "log.h"
#include "timeutil.h"
#include "backends/libvirt-int.h"
#include "../../lib/tests/vftest.h"

#define U(n) "5ca1ab1e-0000-4000-8000-0000000000" n
#define TMO 5000

static char tmpdir[256];
static char file1[300], file2[300], file3[300], file4[300];

static const char xml1[] =
    "<node>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>vm-run</name><uuid>" U("01") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>vm-off</name><uuid>" U("02") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "  <test:runstate>5</test:runstate>\n"
    " </domain>\n"
    /* D28: a domain NAMED like the UUID of vm-run */
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>" U("01") "</name><uuid>" U("03") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>vm-paused</name><uuid>" U("04") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "  <test:runstate>3</test:runstate>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>Alpha</name><uuid>" U("05") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    "</node>\n";

static const char xml2[] =
    "<node>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>beta</name><uuid>" U("10") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>vm-zed</name><uuid>" U("11") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "  <test:runstate>5</test:runstate>\n"
    " </domain>\n"
    /* same UUID as vm-run on the first URI: listed once (first URI wins) */
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>vm-run-dup</name><uuid>" U("01") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    "</node>\n";

/*
 * Shared definitions (R3 review): "mig" is defined on both URIs with the
 * same UUID, shut off on the first and RUNNING on the second (a migrated
 * domain); "twin" is the name of two different domains (different UUIDs).
 */
static const char xml3[] =
    "<node>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>mig</name><uuid>" U("30") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "  <test:runstate>5</test:runstate>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>twin</name><uuid>" U("31") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>solo-off</name><uuid>" U("33") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "  <test:runstate>5</test:runstate>\n"
    " </domain>\n"
    "</node>\n";

static const char xml4[] =
    "<node>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>mig</name><uuid>" U("30") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>twin</name><uuid>" U("32") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    "</node>\n";

static const char xml_transient[] =
    "<domain type='test'>\n"
    "  <name>vm-trans</name><uuid>" U("20") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "</domain>\n";

static int64_t
dl(void)
{
    return vf_now_ms() + TMO;
}

static int
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");

    if (f == NULL) {
        return -1;
    }
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

static struct vf_conf *
conf_new(const char *text)
{
    struct vf_conf *conf = NULL;
    char err[512];

    if (vf_conf_parse_buffer("test.conf", text, strlen(text), &conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "config: %s\n", err);
        return NULL;
    }
    return conf;
}

/* init from config text; NULL on failure */
static struct lv_backend *
be_new(const char *text, int *ret_r, char *err, size_t err_len)
{
    struct vf_conf *conf = text != NULL ? conf_new(text) : NULL;
    void *priv = NULL;
    int r;

    err[0] = '\0';
    if (text != NULL && conf == NULL) {
        *ret_r = -EINVAL;
        return NULL;
    }
    r = lv_ops.init(NULL, conf, &priv, err, err_len);  /* libvirt uses no host API */
    vf_conf_free(conf);
    *ret_r = r;
    return r == 0 ? priv : NULL;
}

static int
status_of(struct lv_backend *be, const char *target)
{
    bool on = false;
    int r = lv_ops.status(be, target, 0, &on, dl());

    if (r < 0) {
        return r;
    }
    return on ? 1 : 0;
}

/* is URI @idx of @be connected? */
static bool
uri_up(struct lv_backend *be, size_t idx)
{
    virConnectPtr c = lv_uri_conn(be, idx);

    if (c != NULL) {
        virConnectClose(c);
    }
    return c != NULL;
}

/* @name looked up through the backend's own connection to URI @idx, or NULL */
static virDomainPtr
dom_get(struct lv_backend *be, size_t idx, const char *name)
{
    virConnectPtr c = lv_uri_conn(be, idx);
    virDomainPtr d = c != NULL ? virDomainLookupByName(c, name) : NULL;

    if (c != NULL) {
        virConnectClose(c);
    }
    return d;
}

/* domain ID through the backend's own connection (changes on every start) */
static int
dom_id(struct lv_backend *be, size_t idx, const char *name)
{
    virDomainPtr d = dom_get(be, idx, name);
    int id;

    if (d == NULL) {
        return -2;
    }
    id = (int)virDomainGetID(d);
    virDomainFree(d);
    return id;
}

struct list_acc {
    char names[32][256];
    int states[32];
    size_t n;
};

static int
list_cb(void *arg, const struct vf_domain_info *dom)
{
    struct list_acc *acc = arg;

    if (acc->n < 32) {
        snprintf(acc->names[acc->n], sizeof(acc->names[0]), "%s", dom->name);
        acc->states[acc->n] = dom->state;
        acc->n++;
    }
    return 0;
}

static void
test_config_errors(void)
{
    char err[512], text[1024];
    int r = 0;

    snprintf(text, sizeof(text),
             "backends { libvirt { uri = \"test://%s\"; uri2 = \"test://%s\"; } }", file1, file2);
    VFT_CHECK(be_new(text, &r, err, sizeof(err)) == NULL);
    VFT_EQ_INT(r, -EINVAL);
    VFT_CHECK(strstr(err, "uri1") != NULL);
    fprintf(stderr, "  (expected) %s\n", err);

    snprintf(text, sizeof(text),
             "backends { libvirt { uri = \"test://%s\"; reboot_powers_on = \"maybe\"; } }", file1);
    VFT_CHECK(be_new(text, &r, err, sizeof(err)) == NULL);
    VFT_EQ_INT(r, -EINVAL);
    VFT_CHECK(strstr(err, "reboot_powers_on") != NULL);
    fprintf(stderr, "  (expected) %s\n", err);
}

/* a URI that cannot connect: init still succeeds quickly, requests fail fast */
static void
test_unreachable(void)
{
    char err[512], text[1024];
    struct lv_backend *be;
    int64_t t0;
    int r = 0;

    snprintf(text, sizeof(text),
             "backends { libvirt { uri = \"test+unix:///default?socket=%s/nosuch.sock\"; } }", tmpdir);
    t0 = vf_now_ms();
    be = be_new(text, &r, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    VFT_CHECK(vf_now_ms() - t0 < 3000);
    if (be == NULL) {
        return;
    }
    t0 = vf_now_ms();
    VFT_EQ_INT(status_of(be, "vm-run"), -EHOSTDOWN);
    VFT_EQ_INT(lv_ops.monitor(be, dl()), -EHOSTDOWN);
    VFT_CHECK(vf_now_ms() - t0 < 500);
    lv_ops.fini(be);
}

static void
test_main_ops(void)
{
    struct vf_domain_info info;
    struct list_acc acc;
    struct lv_backend *be;
    virDomainPtr td;
    char err[512], text[1024];
    int r = 0, id0, id1;
    size_t i;
    static const char *const want[] = {
        U("01"), "Alpha", "beta", "vm-off", "vm-paused", "vm-run", "vm-zed",
    };

    snprintf(text, sizeof(text),
             "backends { libvirt { uri = \"test://%s\"; uri1 = \"test://%s\"; } }", file1, file2);
    be = be_new(text, &r, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (be == NULL) {
        fprintf(stderr, "init: %s\n", err);
        return;
    }
    VFT_EQ_INT(lv_ops.monitor(be, dl()), 0);

    /* lookup */
    VFT_EQ_INT(lv_ops.lookup(be, "vm-run", 0, &info, dl()), 0);
    VFT_EQ_STR(info.uuid, U("01"));
    VFT_EQ_INT(info.state, VF_STATE_RUNNING);
    VFT_CHECK(info.persistent);
    /* D28: name first, so the domain named like a UUID wins ... */
    VFT_EQ_INT(lv_ops.lookup(be, U("01"), 0, &info, dl()), 0);
    VFT_EQ_STR(info.name, U("01"));
    VFT_EQ_STR(info.uuid, U("03"));
    /* ... and RF_UUID selects by UUID only */
    VFT_EQ_INT(lv_ops.lookup(be, U("01"), VF_BE_BY_UUID, &info, dl()), 0);
    VFT_EQ_STR(info.name, "vm-run");
    /* UUID fallback when no domain has that name */
    VFT_EQ_INT(lv_ops.lookup(be, U("02"), 0, &info, dl()), 0);
    VFT_EQ_STR(info.name, "vm-off");
    VFT_EQ_INT(info.state, VF_STATE_SHUTOFF);
    /* RF_UUID with a target that is not a UUID: looked up by name, as
     * fence-virt (which ignores the flag) did for "fence_xvm -u -n NAME" */
    VFT_EQ_INT(lv_ops.lookup(be, "vm-run", VF_BE_BY_UUID, &info, dl()), 0);
    VFT_EQ_STR(info.name, "vm-run");
    VFT_EQ_INT(lv_ops.lookup(be, "nope", VF_BE_BY_UUID, &info, dl()), -ENOENT);
    VFT_EQ_INT(lv_ops.lookup(be, "nope", 0, &info, dl()), -ENOENT);
    VFT_EQ_INT(lv_ops.lookup(be, "", 0, &info, dl()), -ENOENT);
    VFT_EQ_INT(lv_ops.lookup(be, "vm-run", 0x80, &info, dl()), -EINVAL);
    /* second URI */
    VFT_EQ_INT(lv_ops.lookup(be, "beta", 0, &info, dl()), 0);
    VFT_EQ_STR(info.uuid, U("10"));
    VFT_EQ_INT(lv_ops.lookup(be, U("11"), VF_BE_BY_UUID, &info, dl()), 0);
    VFT_EQ_STR(info.name, "vm-zed");

    /* status of each state */
    VFT_EQ_INT(status_of(be, "vm-run"), 1);
    VFT_EQ_INT(status_of(be, "vm-off"), 0);
    VFT_EQ_INT(status_of(be, "vm-paused"), 1);
    VFT_EQ_INT(status_of(be, "beta"), 1);
    VFT_EQ_INT(status_of(be, "nope"), -ENOENT);

    /* list, merged over both URIs, de-duplicated, sorted case-insensitively */
    memset(&acc, 0, sizeof(acc));
    VFT_EQ_INT(lv_ops.list(be, list_cb, &acc, dl()), 0);
    VFT_EQ_INT(acc.n, sizeof(want) / sizeof(want[0]));
    for (i = 0; i < acc.n && i < sizeof(want) / sizeof(want[0]); i++) {
        VFT_EQ_STR(acc.names[i], want[i]);
    }
    VFT_EQ_INT(acc.states[4], VF_STATE_PAUSED);

    /* off: confirmed; idempotent; unknown */
    VFT_EQ_INT(lv_ops.off(be, "vm-run", 0, dl()), 0);
    VFT_EQ_INT(status_of(be, "vm-run"), 0);
    VFT_EQ_INT(lv_ops.off(be, "vm-run", 0, dl()), 0);
    VFT_EQ_INT(lv_ops.off(be, "vm-off", 0, dl()), 0);
    VFT_EQ_INT(lv_ops.off(be, "nope", 0, dl()), -ENOENT);
    VFT_EQ_INT(lv_ops.off(be, "vm-paused", 0, dl()), 0);
    VFT_EQ_INT(status_of(be, "vm-paused"), 0);
    /* a deadline that has passed */
    VFT_EQ_INT(lv_ops.off(be, "beta", 0, vf_now_ms() - 1), -ETIMEDOUT);
    VFT_EQ_INT(status_of(be, "beta"), 1);

    /* on */
    VFT_EQ_INT(lv_ops.on(be, "vm-run", 0, dl()), 0);
    VFT_EQ_INT(status_of(be, "vm-run"), 1);
    VFT_EQ_INT(lv_ops.on(be, "vm-run", 0, dl()), 0);
    VFT_EQ_INT(lv_ops.on(be, "nope", 0, dl()), -ENOENT);
    VFT_EQ_INT(lv_ops.on(be, "vm-zed", 0, dl()), 0);       /* second URI */
    VFT_EQ_INT(status_of(be, "vm-zed"), 1);

    /* reboot: running -> new instance; off -> stays off (reboot_powers_on = no) */
    id0 = dom_id(be, 0, "vm-run");
    VFT_EQ_INT(lv_ops.reboot(be, "vm-run", 0, dl()), 0);
    id1 = dom_id(be, 0, "vm-run");
    VFT_CHECK(id0 > 0 && id1 > 0 && id0 != id1);
    VFT_EQ_INT(status_of(be, "vm-run"), 1);
    VFT_EQ_INT(lv_ops.reboot(be, "vm-off", 0, dl()), 0);
    VFT_EQ_INT(status_of(be, "vm-off"), 0);
    VFT_EQ_INT(lv_ops.reboot(be, "nope", 0, dl()), -ENOENT);

    /* transient domain: reboot re-creates it from its saved XML; off removes it */
    {
        virConnectPtr c0 = lv_uri_conn(be, 0);

        td = c0 != NULL ? virDomainCreateXML(c0, xml_transient, 0) : NULL;
        if (c0 != NULL) {
            virConnectClose(c0);
        }
    }
    VFT_CHECK(td != NULL);
    if (td != NULL) {
        virDomainFree(td);
        VFT_EQ_INT(lv_ops.lookup(be, "vm-trans", 0, &info, dl()), 0);
        VFT_CHECK(!info.persistent);
        VFT_EQ_INT(lv_ops.on(be, "vm-trans", 0, dl()), 0);   /* already running */
        id0 = dom_id(be, 0, "vm-trans");
        VFT_EQ_INT(lv_ops.reboot(be, "vm-trans", 0, dl()), 0);
        id1 = dom_id(be, 0, "vm-trans");
        VFT_CHECK(id0 > 0 && id1 > 0 && id0 != id1);
        VFT_EQ_INT(lv_ops.lookup(be, U("20"), VF_BE_BY_UUID, &info, dl()), 0);
        VFT_EQ_INT(lv_ops.off(be, "vm-trans", 0, dl()), 0);
        VFT_EQ_INT(status_of(be, "vm-trans"), -ENOENT);
        /* gone: on cannot bring it back (no definition) */
        VFT_EQ_INT(lv_ops.on(be, "vm-trans", 0, dl()), -ENOENT);
    }

    /* reload: drop uri1, keep uri (same connection, state preserved) */
    {
        struct vf_conf *conf;

        snprintf(text, sizeof(text),
                 "backends { libvirt { uri = \"test://%s\"; reboot_powers_on = \"yes\"; } }", file1);
        conf = conf_new(text);
        VFT_CHECK(conf != NULL);
        VFT_EQ_INT(lv_ops.reload(be, conf, err, sizeof(err)), 0);
        vf_conf_free(conf);
        VFT_EQ_INT(status_of(be, "beta"), -ENOENT);
        VFT_EQ_INT(status_of(be, "vm-paused"), 0);         /* state kept */
        /* reboot_powers_on = yes now: reboot of an off domain starts it */
        VFT_EQ_INT(lv_ops.reboot(be, "vm-off", 0, dl()), 0);
        VFT_EQ_INT(status_of(be, "vm-off"), 1);
    }
    lv_ops.fini(be);
}

/* one URI up, one down: found domains work, unknown ones are -EHOSTDOWN */
static void
test_partial(void)
{
    struct list_acc acc;
    struct lv_backend *be;
    char err[512], text[1024];
    int r = 0;

    snprintf(text, sizeof(text),
             "backends { libvirt { uri = \"test://%s\"; "
             "uri1 = \"test+unix:///default?socket=%s/nosuch.sock\"; } }", file1, tmpdir);
    be = be_new(text, &r, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (be == NULL) {
        return;
    }
    VFT_EQ_INT(status_of(be, "vm-run"), 1);
    VFT_EQ_INT(status_of(be, "nope"), -EHOSTDOWN);
    VFT_EQ_INT(lv_ops.monitor(be, dl()), 0);
    memset(&acc, 0, sizeof(acc));
    VFT_EQ_INT(lv_ops.list(be, list_cb, &acc, dl()), 0);
    VFT_EQ_INT(acc.n, 5);
    lv_ops.fini(be);
}

/*
 * A "libvirtd" that accepts connections and never answers (a listening
 * socket nobody accept()s: the kernel completes the connect): virConnectOpen
 * hangs.  init must still return in bounded time, requests must fail fast,
 * and fini must not wait for the stuck reconnect thread for ever.
 */
static void
test_hung_open(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char err[512], text[1024];
    struct lv_backend *be;
    int64_t t0;
    int r = 0, fd;

    if (strlen(tmpdir) + sizeof("/hung.sock") > sizeof(sa.sun_path)) {
        fprintf(stderr, "test_hung_open: temporary directory name too long, skipped\n");
        return;
    }
    memcpy(sa.sun_path, tmpdir, strlen(tmpdir));
    memcpy(sa.sun_path + strlen(tmpdir), "/hung.sock", sizeof("/hung.sock"));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
        perror("hung.sock");
        vft_failures++;
        return;
    }
    snprintf(text, sizeof(text),
             "backends { libvirt { uri = \"test+unix:///default?socket=%s\"; } }", sa.sun_path);
    t0 = vf_now_ms();
    be = be_new(text, &r, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    VFT_CHECK(vf_now_ms() - t0 < LV_INIT_WAIT_MS + 1000);
    if (be != NULL) {
        t0 = vf_now_ms();
        VFT_EQ_INT(status_of(be, "vm-run"), -EHOSTDOWN);
        VFT_EQ_INT(lv_ops.monitor(be, dl()), -EHOSTDOWN);
        VFT_CHECK(vf_now_ms() - t0 < 500);
        t0 = vf_now_ms();
        lv_ops.fini(be);
        VFT_CHECK(vf_now_ms() - t0 < LV_FINI_WAIT_MS + 1000);
    }
    /* the stuck open fails once the "daemon" goes away */
    (void)vf_close(fd);
    unlink(sa.sun_path);
}

/* state of @name through the backend's own connection to URI @idx */
static int
dom_state(struct lv_backend *be, size_t idx, const char *name)
{
    virDomainPtr d = dom_get(be, idx, name);
    int state = -1, reason = 0;

    if (d == NULL) {
        return -2;
    }
    if (virDomainGetState(d, &state, &reason, 0) < 0) {
        state = -1;
    }
    virDomainFree(d);
    return state;
}

/*
 * A domain defined on two URIs, shut off on the first and running on the
 * second: the shut-off copy must not hide the running one (before the R3
 * fix: status OFF, off "already off" = false fencing success, list "off").
 */
static void
test_shared_definitions(void)
{
    struct vf_domain_info info;
    struct list_acc acc;
    struct lv_backend *be;
    char err[512], text[1024];
    int r = 0;
    size_t i;

    snprintf(text, sizeof(text),
             "backends { libvirt { uri = \"test://%s\"; uri1 = \"test://%s\"; } }", file3, file4);
    be = be_new(text, &r, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (be == NULL) {
        fprintf(stderr, "init: %s\n", err);
        return;
    }
    VFT_EQ_INT(dom_state(be, 1, "mig"), VIR_DOMAIN_RUNNING);
    VFT_EQ_INT(status_of(be, "mig"), 1);
    VFT_EQ_INT(status_of(be, U("30")), 1);
    VFT_EQ_INT(lv_ops.lookup(be, "mig", 0, &info, dl()), 0);
    VFT_EQ_INT(info.state, VF_STATE_RUNNING);
    memset(&acc, 0, sizeof(acc));
    VFT_EQ_INT(lv_ops.list(be, list_cb, &acc, dl()), 0);
    for (i = 0; i < acc.n; i++) {
        if (strcmp(acc.names[i], "mig") == 0) {
            VFT_EQ_INT(acc.states[i], VF_STATE_RUNNING);
        }
    }
    /* off: the running copy on the second URI is the one that matters */
    VFT_EQ_INT(lv_ops.off(be, "mig", 0, dl()), 0);
    VFT_EQ_INT(dom_state(be, 1, "mig"), VIR_DOMAIN_SHUTOFF);
    VFT_EQ_INT(dom_state(be, 0, "mig"), VIR_DOMAIN_SHUTOFF);
    VFT_EQ_INT(status_of(be, "mig"), 0);
    /* on starts one copy, not two */
    VFT_EQ_INT(lv_ops.on(be, "mig", 0, dl()), 0);
    VFT_CHECK((dom_state(be, 0, "mig") == VIR_DOMAIN_RUNNING) !=
              (dom_state(be, 1, "mig") == VIR_DOMAIN_RUNNING));
    /* off again, on again: exactly one copy runs */
    VFT_EQ_INT(lv_ops.off(be, "mig", 0, dl()), 0);
    VFT_EQ_INT(lv_ops.on(be, "mig", 0, dl()), 0);
    VFT_EQ_INT(status_of(be, "mig"), 1);
    /* a name designating two different domains is refused, the UUIDs work */
    VFT_EQ_INT(lv_ops.off(be, "twin", 0, dl()), -ENOTUNIQ);
    VFT_EQ_INT(status_of(be, "twin"), -ENOTUNIQ);
    VFT_EQ_INT(lv_ops.lookup(be, "twin", 0, &info, dl()), -ENOTUNIQ);
    VFT_EQ_INT(dom_state(be, 0, "twin"), VIR_DOMAIN_RUNNING);
    VFT_EQ_INT(dom_state(be, 1, "twin"), VIR_DOMAIN_RUNNING);
    VFT_EQ_INT(lv_ops.off(be, U("32"), VF_BE_BY_UUID, dl()), 0);
    VFT_EQ_INT(dom_state(be, 0, "twin"), VIR_DOMAIN_RUNNING);
    VFT_EQ_INT(dom_state(be, 1, "twin"), VIR_DOMAIN_SHUTOFF);
    lv_ops.fini(be);
}

/*
 * One URI down: a domain found shut off on the other URI may run on the
 * one that is down, so neither "off" nor status OFF may be claimed
 * (before the R3 fix both answered success / OFF).  Killing a running
 * copy is not enough either (issue 13): another copy may run on the URI
 * that is down, so off fails, but the reachable copy is killed.
 */
static void
test_partial_off_unconfirmed(void)
{
    struct lv_backend *be;
    char err[512], text[1024];
    int r = 0;

    snprintf(text, sizeof(text),
             "backends { libvirt { uri = \"test://%s\"; "
             "uri1 = \"test+unix:///default?socket=%s/nosuch.sock\"; } }", file3, tmpdir);
    be = be_new(text, &r, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (be == NULL) {
        return;
    }
    VFT_EQ_INT(status_of(be, "solo-off"), -EHOSTDOWN);
    VFT_EQ_INT(lv_ops.off(be, "solo-off", 0, dl()), -EHOSTDOWN);
    VFT_EQ_INT(lv_ops.reboot(be, "solo-off", 0, dl()), -EHOSTDOWN);
    VFT_EQ_INT(lv_ops.on(be, "solo-off", 0, dl()), -EHOSTDOWN);
    VFT_EQ_INT(dom_state(be, 0, "solo-off"), VIR_DOMAIN_SHUTOFF);
    VFT_EQ_INT(status_of(be, "twin"), 1);
    VFT_EQ_INT(lv_ops.off(be, "twin", 0, dl()), -EHOSTDOWN);
    VFT_EQ_INT(dom_state(be, 0, "twin"), VIR_DOMAIN_SHUTOFF);
    lv_ops.fini(be);
}

/*
 * Issue 13: off and reboot need an answer from EVERY configured URI.  The
 * second URI cannot be reached, in the two ways a URI is "down" for the
 * backend (both are connection failures at run time, not configuration
 * errors: init succeeds and the reconnect thread keeps retrying): a test
 * driver file that does not exist, and a daemon socket that does not
 * exist.  A domain RUNNING on the first URI: off and reboot fail with
 * -EHOSTDOWN (before: off and reboot answered success), the reachable
 * copy is killed anyway (safer) and reboot does not start it again.
 * Status never says OFF, on does not start a second copy, and a domain
 * already on is "on".  With both URIs up, the same off succeeds.
 */
static void
test_second_uri_down(void)
{
    char down_uri[2][512], err[512], text[1536];
    struct vf_domain_info info;
    struct lv_backend *be;
    int r = 0, k;

    snprintf(down_uri[0], sizeof(down_uri[0]), "test://%s/nonexistent/file.xml", tmpdir);
    snprintf(down_uri[1], sizeof(down_uri[1]), "test+unix:///default?socket=%s/nosuch.sock",
             tmpdir);
    for (k = 0; k < 2; k++) {
        fprintf(stderr, "  second URI '%s'\n", down_uri[k]);
        snprintf(text, sizeof(text),
                 "backends { libvirt { uri = \"test://%s\"; uri1 = \"%s\"; } }", file1,
                 down_uri[k]);
        be = be_new(text, &r, err, sizeof(err));
        VFT_EQ_INT(r, 0);               /* down, not a configuration error */
        if (be == NULL) {
            fprintf(stderr, "init: %s\n", err);
            continue;
        }
        VFT_CHECK(uri_up(be, 0));
        VFT_CHECK(!uri_up(be, 1));
        VFT_EQ_INT(dom_state(be, 0, "vm-run"), VIR_DOMAIN_RUNNING);
        VFT_EQ_INT(status_of(be, "vm-run"), 1);     /* a reachable copy is on: ON is true */
        /* off: the reachable copy is killed, but the answer is a failure */
        VFT_EQ_INT(lv_ops.off(be, "vm-run", 0, dl()), -EHOSTDOWN);
        VFT_EQ_INT(dom_state(be, 0, "vm-run"), VIR_DOMAIN_SHUTOFF);
        VFT_EQ_INT(status_of(be, "vm-run"), -EHOSTDOWN);   /* never OFF */
        VFT_EQ_INT(lv_ops.off(be, "vm-run", 0, dl()), -EHOSTDOWN);
        VFT_EQ_INT(lv_ops.off(be, U("01"), VF_BE_BY_UUID, dl()), -EHOSTDOWN);
        /* on would start a second copy next to one that may run there */
        VFT_EQ_INT(lv_ops.on(be, "vm-run", 0, dl()), -EHOSTDOWN);
        VFT_EQ_INT(dom_state(be, 0, "vm-run"), VIR_DOMAIN_SHUTOFF);
        /* lookup: name and UUID are certain, "shut off" is not */
        VFT_EQ_INT(lv_ops.lookup(be, "vm-run", 0, &info, dl()), 0);
        VFT_EQ_STR(info.uuid, U("01"));
        VFT_EQ_INT(info.state, VF_STATE_NOSTATE);
        /* reboot: killed, not started again, failure */
        VFT_EQ_INT(dom_state(be, 0, "Alpha"), VIR_DOMAIN_RUNNING);
        VFT_EQ_INT(lv_ops.reboot(be, "Alpha", 0, dl()), -EHOSTDOWN);
        VFT_EQ_INT(dom_state(be, 0, "Alpha"), VIR_DOMAIN_SHUTOFF);
        VFT_EQ_INT(lv_ops.reboot(be, "Alpha", 0, dl()), -EHOSTDOWN);
        VFT_EQ_INT(dom_state(be, 0, "Alpha"), VIR_DOMAIN_SHUTOFF);
        /* a copy already on: "on" is true, nothing to start */
        VFT_EQ_INT(lv_ops.on(be, "vm-paused", 0, dl()), 0);
        VFT_EQ_INT(dom_state(be, 0, "vm-paused"), VIR_DOMAIN_PAUSED);
        /* unknown where reachable: may be on the silent URI */
        VFT_EQ_INT(lv_ops.off(be, "nope", 0, dl()), -EHOSTDOWN);
        lv_ops.fini(be);
    }

    /* both URIs up: the same requests succeed */
    snprintf(text, sizeof(text),
             "backends { libvirt { uri = \"test://%s\"; uri1 = \"test://%s\"; } }", file1, file2);
    be = be_new(text, &r, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (be == NULL) {
        fprintf(stderr, "init: %s\n", err);
        return;
    }
    VFT_CHECK(uri_up(be, 0) && uri_up(be, 1));
    VFT_EQ_INT(lv_ops.off(be, "vm-run", 0, dl()), 0);
    VFT_EQ_INT(dom_state(be, 0, "vm-run"), VIR_DOMAIN_SHUTOFF);
    VFT_EQ_INT(status_of(be, "vm-run"), 0);
    VFT_EQ_INT(lv_ops.off(be, "vm-run", 0, dl()), 0);   /* already off, every URI asked */
    VFT_EQ_INT(lv_ops.reboot(be, "Alpha", 0, dl()), 0);
    VFT_EQ_INT(dom_state(be, 0, "Alpha"), VIR_DOMAIN_RUNNING);
    VFT_EQ_INT(lv_ops.off(be, "beta", 0, dl()), 0);     /* on the second URI */
    VFT_EQ_INT(dom_state(be, 1, "beta"), VIR_DOMAIN_SHUTOFF);
    lv_ops.fini(be);
}

struct worker {
    struct lv_backend *be;
    int bad;
};

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    static const char *const names[] = { "vm-run", "vm-paused", "Alpha", U("02") };
    struct list_acc acc;
    int i;

    for (i = 0; i < 40; i++) {
        const char *n = names[i % 4];

        if (status_of(w->be, n) < 0) {
            w->bad++;
        }
        memset(&acc, 0, sizeof(acc));
        if (i % 10 == 0 && (lv_ops.list(w->be, list_cb, &acc, dl()) < 0 || acc.n != 5)) {
            w->bad++;
        }
    }
    return NULL;
}

/* concurrent requests from several threads */
static void
test_threads(void)
{
    struct worker w[4];
    pthread_t th[4];
    struct lv_backend *be;
    char err[512], text[1024];
    int r = 0, i;

    snprintf(text, sizeof(text), "backends { libvirt { uri = \"test://%s\"; } }", file1);
    be = be_new(text, &r, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (be == NULL) {
        return;
    }
    for (i = 0; i < 4; i++) {
        w[i].be = be;
        w[i].bad = 0;
        VFT_EQ_INT(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        VFT_EQ_INT(w[i].bad, 0);
    }
    lv_ops.fini(be);
}

/* ---- watch: lifecycle events (test:///default and test:///file) ---------- */

struct ev_log {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct {
        char name[256];
        int state;
        bool gone;
    } ev[256];
    size_t n;
};

static void
ev_cb(void *arg, const struct vf_domain_info *dom, bool gone)
{
    struct ev_log *l = arg;

    pthread_mutex_lock(&l->lock);
    if (l->n < 256) {
        snprintf(l->ev[l->n].name, sizeof(l->ev[0].name), "%s", dom->name);
        l->ev[l->n].state = dom->state;
        l->ev[l->n].gone = gone;
        l->n++;
    }
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

/* wait (3 s at most) for an event of @name in @state (-1: any) and @gone, after index @from */
static bool
ev_wait(struct ev_log *l, size_t from, const char *name, int state, bool gone)
{
    int64_t until = vf_now_ms() + 3000;
    bool found = false;
    size_t i;

    pthread_mutex_lock(&l->lock);
    while (!found) {
        struct timespec ts;

        for (i = from; i < l->n && !found; i++) {
            found = strcmp(l->ev[i].name, name) == 0 && l->ev[i].gone == gone &&
                (state < 0 || l->ev[i].state == state);
        }
        if (found || vf_now_ms() >= until) {
            break;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->cond, &l->lock, &ts);
    }
    pthread_mutex_unlock(&l->lock);
    return found;
}

static size_t
ev_count(struct ev_log *l)
{
    size_t n;

    pthread_mutex_lock(&l->lock);
    n = l->n;
    pthread_mutex_unlock(&l->lock);
    return n;
}

static const char xml_watched[] =
    "<domain type='test'>\n"
    "  <name>vm-watched</name><uuid>" U("40") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "</domain>\n";

/*
 * The watch op on two URIs: define, start, destroy and undefine through
 * the backend's connection to test:///default (the test driver reports
 * events to callbacks of the connection that made the change), a start on
 * the second URI, then a lost connection: once it is back, every domain
 * is reported again (resync) and new events still arrive.  After unwatch,
 * nothing more.
 */
static void
test_watch(void)
{
    static struct ev_log l = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };
    struct lv_backend *be;
    virConnectPtr c0 = NULL, c1 = NULL;
    virDomainPtr d = NULL;
    char err[512], text[1024];
    int64_t t0;
    size_t mark;
    int r = 0;

    snprintf(text, sizeof(text),
             "backends { libvirt { uri = \"test:///default\"; uri1 = \"test://%s\"; } }", file1);
    be = be_new(text, &r, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (be == NULL) {
        fprintf(stderr, "init: %s\n", err);
        return;
    }
    VFT_CHECK(lv_ops.watch != NULL && lv_ops.unwatch != NULL);
    VFT_EQ_INT(lv_ops.watch(be, NULL, &l), -EINVAL);
    VFT_EQ_INT(lv_ops.watch(be, ev_cb, &l), 0);
    c0 = lv_uri_conn(be, 0);
    c1 = lv_uri_conn(be, 1);
    VFT_CHECK(c0 != NULL && c1 != NULL);
    if (c0 == NULL || c1 == NULL) {
        goto out;
    }
    d = virDomainDefineXML(c0, xml_watched);
    VFT_CHECK(d != NULL);
    if (d == NULL) {
        goto out;
    }
    VFT_CHECK(ev_wait(&l, 0, "vm-watched", VF_STATE_SHUTOFF, false));
    mark = ev_count(&l);
    VFT_EQ_INT(virDomainCreate(d), 0);
    VFT_CHECK(ev_wait(&l, mark, "vm-watched", VF_STATE_RUNNING, false));
    mark = ev_count(&l);
    VFT_EQ_INT(virDomainDestroy(d), 0);
    VFT_CHECK(ev_wait(&l, mark, "vm-watched", VF_STATE_SHUTOFF, false));
    mark = ev_count(&l);
    VFT_EQ_INT(virDomainUndefine(d), 0);
    VFT_CHECK(ev_wait(&l, mark, "vm-watched", -1, true));
    virDomainFree(d);
    d = NULL;

    /* the second URI too */
    mark = ev_count(&l);
    VFT_EQ_INT(lv_ops.on(be, "vm-off", 0, dl()), 0);
    VFT_CHECK(ev_wait(&l, mark, "vm-off", VF_STATE_RUNNING, false));

    /* a lost connection: resync once it is back ("test" is the default
     * driver's own domain, never reported by an event here) */
    mark = ev_count(&l);
    t0 = vf_now_ms();
    vf_virt_failed(c0, "the test says so");
    VFT_CHECK(ev_wait(&l, mark, "test", VF_STATE_RUNNING, false));
    VFT_CHECK(ev_wait(&l, mark, "vm-off", VF_STATE_RUNNING, false));
    VFT_CHECK(vf_now_ms() - t0 < 3000);
    virConnectClose(c0);
    c0 = NULL;
    while ((c0 = lv_uri_conn(be, 0)) == NULL && vf_now_ms() - t0 < 3000) {
        vf_sleep_ms(20);
    }
    VFT_CHECK(c0 != NULL);
    /* events of the new connection arrive */
    mark = ev_count(&l);
    d = c0 != NULL ? virDomainDefineXML(c0, xml_watched) : NULL;
    VFT_CHECK(d != NULL);
    VFT_CHECK(ev_wait(&l, mark, "vm-watched", VF_STATE_SHUTOFF, false));

    /* unwatch: nothing more */
    lv_ops.unwatch(be, ev_cb, &l);
    mark = ev_count(&l);
    if (d != NULL) {
        VFT_EQ_INT(virDomainUndefine(d), 0);
    }
    vf_sleep_ms(300);
    VFT_EQ_INT(ev_count(&l), mark);
out:
    if (d != NULL) {
        virDomainFree(d);
    }
    if (c0 != NULL) {
        virConnectClose(c0);
    }
    if (c1 != NULL) {
        virConnectClose(c1);
    }
    lv_ops.fini(be);
}

int
main(void)
{
    const char *base = getenv("TMPDIR");

    signal(SIGPIPE, SIG_IGN);       /* as fence_virtd: libvirt writes with write() */
    vf_log_init("test-libvirt", VF_LOG_STDERR, getenv("VF_TEST_DEBUG") != NULL ? 9 : 0);
    snprintf(tmpdir, sizeof(tmpdir), "%s/vft-libvirt.XXXXXX", base != NULL ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 99;
    }
    snprintf(file1, sizeof(file1), "%s/node1.xml", tmpdir);
    snprintf(file2, sizeof(file2), "%s/node2.xml", tmpdir);
    snprintf(file3, sizeof(file3), "%s/node3.xml", tmpdir);
    snprintf(file4, sizeof(file4), "%s/node4.xml", tmpdir);
    if (write_file(file1, xml1) < 0 || write_file(file2, xml2) < 0 ||
        write_file(file3, xml3) < 0 || write_file(file4, xml4) < 0) {
        perror("write");
        return 99;
    }
    VFT_RUN(test_config_errors);
    VFT_RUN(test_unreachable);
    VFT_RUN(test_main_ops);
    VFT_RUN(test_partial);
    VFT_RUN(test_shared_definitions);
    VFT_RUN(test_partial_off_unconfirmed);
    VFT_RUN(test_second_uri_down);
    VFT_RUN(test_threads);
    VFT_RUN(test_watch);
    VFT_RUN(test_hung_open);
    unlink(file1);
    unlink(file2);
    unlink(file3);
    unlink(file4);
    rmdir(tmpdir);
    VFT_EXIT();
}
