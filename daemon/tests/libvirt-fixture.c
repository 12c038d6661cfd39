/*
 * vmfence - daemon/tests/libvirt-fixture.c: what the libvirt backend's unit
 * tests (test-libvirt.c, test-libvirt-events.c) share: the FAKE hypervisor
 * (libvirt's test driver on node files written to a temporary directory),
 * configurations built from a buffer, and helpers that reach the backend's
 * own connections (libvirt-int.h).  No checks here (vftest.h counts per
 * test program): these functions return results, the tests check them.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "conftree.h"
#include "io.h"
#include "log.h"
#include "timeutil.h"
#include "backends/libvirt-int.h"
#include "tests/libvirt-fixture.h"

char lvt_tmpdir[256];
char lvt_file1[300], lvt_file2[300], lvt_file3[300], lvt_file4[300];

static const char lvt_xml1[] =
    "<node>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>vm-run</name><uuid>" LVT_U("01") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>vm-off</name><uuid>" LVT_U("02") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "  <test:runstate>5</test:runstate>\n"
    " </domain>\n"
    /* D28: a domain NAMED like the UUID of vm-run */
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>" LVT_U("01") "</name><uuid>" LVT_U("03") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>vm-paused</name><uuid>" LVT_U("04") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "  <test:runstate>3</test:runstate>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>Alpha</name><uuid>" LVT_U("05") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    "</node>\n";

static const char lvt_xml2[] =
    "<node>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>beta</name><uuid>" LVT_U("10") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>vm-zed</name><uuid>" LVT_U("11") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "  <test:runstate>5</test:runstate>\n"
    " </domain>\n"
    /* same UUID as vm-run on the first URI: listed once (first URI wins) */
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>vm-run-dup</name><uuid>" LVT_U("01") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    "</node>\n";

/*
 * Shared definitions (R3 review): "mig" is defined on both URIs with the
 * same UUID, shut off on the first and RUNNING on the second (a migrated
 * domain); "twin" is the name of two different domains (different UUIDs).
 */
static const char lvt_xml3[] =
    "<node>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>mig</name><uuid>" LVT_U("30") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "  <test:runstate>5</test:runstate>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>twin</name><uuid>" LVT_U("31") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>solo-off</name><uuid>" LVT_U("33") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "  <test:runstate>5</test:runstate>\n"
    " </domain>\n"
    "</node>\n";

static const char lvt_xml4[] =
    "<node>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>mig</name><uuid>" LVT_U("30") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    " <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "  <name>twin</name><uuid>" LVT_U("32") "</uuid>\n"
    "  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    " </domain>\n"
    "</node>\n";

int64_t
lvt_dl(void)
{
    return vf_now_ms() + LVT_TMO;
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

struct vf_conf *
lvt_conf_new(const char *text)
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
struct lv_backend *
lvt_be_new(const char *text, int *ret_r, char *err, size_t err_len)
{
    struct vf_conf *conf = text != NULL ? lvt_conf_new(text) : NULL;
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

int
lvt_status(struct lv_backend *be, const char *target)
{
    bool on = false;
    int r = lv_ops.status(be, target, 0, &on, lvt_dl());

    if (r < 0) {
        return r;
    }
    return on ? 1 : 0;
}

/* a backend on test://@file and @uri1; NULL (error printed) on failure */
static struct lv_backend *
lvt_be_two(const char *file, const char *uri1)
{
    struct lv_backend *be;
    char err[512], text[1536];
    int r = 0;

    snprintf(text, sizeof(text), "backends { libvirt { uri = \"test://%s\"; uri1 = \"%s\"; } }",
             file, uri1);
    be = lvt_be_new(text, &r, err, sizeof(err));
    if (be == NULL) {
        fprintf(stderr, "init: %d %s\n", r, err);
    }
    return be;
}

/* a backend on test://@f0 and test://@f1 */
struct lv_backend *
lvt_be_files(const char *f0, const char *f1)
{
    char uri1[512];

    snprintf(uri1, sizeof(uri1), "test://%s", f1);
    return lvt_be_two(f0, uri1);
}

/* is URI @idx of @be connected? */
bool
lvt_uri_up(struct lv_backend *be, size_t idx)
{
    virConnectPtr c = lv_uri_conn(be, idx);

    if (c != NULL) {
        virConnectClose(c);
    }
    return c != NULL;
}

/* @name looked up through the backend's own connection to URI @idx, or NULL */
virDomainPtr
lvt_dom_get(struct lv_backend *be, size_t idx, const char *name)
{
    virConnectPtr c = lv_uri_conn(be, idx);
    virDomainPtr d = c != NULL ? virDomainLookupByName(c, name) : NULL;

    if (c != NULL) {
        virConnectClose(c);
    }
    return d;
}

/* domain ID through the backend's own connection (changes on every start) */
int
lvt_dom_id(struct lv_backend *be, size_t idx, const char *name)
{
    virDomainPtr d = lvt_dom_get(be, idx, name);
    int id;

    if (d == NULL) {
        return -2;
    }
    id = (int)virDomainGetID(d);
    virDomainFree(d);
    return id;
}

int
lvt_list_cb(void *arg, const struct vf_domain_info *dom)
{
    struct lvt_list *acc = arg;

    if (acc->n < 32) {
        snprintf(acc->names[acc->n], sizeof(acc->names[0]), "%s", dom->name);
        acc->states[acc->n] = dom->state;
        acc->n++;
    }
    return 0;
}

/* a backend on test://@file and a second URI whose libvirtd does not exist */
struct lv_backend *
lvt_be_second_down(const char *file)
{
    char uri1[512];

    snprintf(uri1, sizeof(uri1), "test+unix:///default?socket=%s/nosuch.sock", lvt_tmpdir);
    return lvt_be_two(file, uri1);
}

/* state of @name through the backend's own connection to URI @idx */
int
lvt_dom_state(struct lv_backend *be, size_t idx, const char *name)
{
    virDomainPtr d = lvt_dom_get(be, idx, name);
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

void
lvt_setup(const char *name)
{
    const char *base = getenv("TMPDIR");

    signal(SIGPIPE, SIG_IGN);       /* as fence_virtd: libvirt writes with write() */
    vf_log_init(name, VF_LOG_STDERR, getenv("VF_TEST_DEBUG") != NULL ? 9 : 0);
    snprintf(lvt_tmpdir, sizeof(lvt_tmpdir), "%s/vft-%s.XXXXXX", base != NULL ? base : "/tmp",
             name);
    if (mkdtemp(lvt_tmpdir) == NULL) {
        perror("mkdtemp");
        exit(99);
    }
    snprintf(lvt_file1, sizeof(lvt_file1), "%s/node1.xml", lvt_tmpdir);
    snprintf(lvt_file2, sizeof(lvt_file2), "%s/node2.xml", lvt_tmpdir);
    snprintf(lvt_file3, sizeof(lvt_file3), "%s/node3.xml", lvt_tmpdir);
    snprintf(lvt_file4, sizeof(lvt_file4), "%s/node4.xml", lvt_tmpdir);
    if (write_file(lvt_file1, lvt_xml1) < 0 || write_file(lvt_file2, lvt_xml2) < 0 ||
        write_file(lvt_file3, lvt_xml3) < 0 || write_file(lvt_file4, lvt_xml4) < 0) {
        perror("write");
        lvt_cleanup();
        exit(99);
    }
}

void
lvt_cleanup(void)
{
    unlink(lvt_file1);
    unlink(lvt_file2);
    unlink(lvt_file3);
    unlink(lvt_file4);
    rmdir(lvt_tmpdir);
}
