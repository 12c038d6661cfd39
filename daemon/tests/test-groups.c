/*
 * vmfence - daemon/tests/test-groups.c: unit tests of the groups ACL
 * (protocol.md 5.4 and defects D29/D33), parsing real config text.
 */
#include <errno.h>
#include <string.h>

#include "conftree.h"
#include "groups.h"
#include "vftest.h"

#define U1 "5ca1ab1e-0000-4000-8000-000000000001"
#define U2 "5ca1ab1e-0000-4000-8000-000000000002"

static struct vf_groups *
load(const char *text, int *ret, char *err, size_t err_len)
{
    struct vf_conf *conf = NULL;
    struct vf_groups *g = NULL;
    char perr[512];

    if (vf_conf_parse_buffer("test.conf", text, strlen(text), &conf, perr, sizeof(perr)) < 0) {
        fprintf(stderr, "parse error: %s\n", perr);
        *ret = -999;
        return NULL;
    }
    *ret = vf_groups_load(conf, &g, err, err_len);
    vf_conf_free(conf);
    return g;
}

/* the groups of @text, loaded without an error (checked) */
static struct vf_groups *
loaded(const char *text)
{
    char err[256] = "";
    int r = 0;
    struct vf_groups *g = load(text, &r, err, sizeof(err));

    VFT_EQ_INT(r, 0);
    return g;
}

/* @text refused with -EINVAL and no groups, the message naming @where and
 * @what unless NULL (checked) */
static void
load_fails(const char *text, const char *where, const char *what)
{
    char err[256] = "";
    int r = 0;
    struct vf_groups *g = load(text, &r, err, sizeof(err));

    VFT_EQ_INT(r, -EINVAL);
    VFT_CHECK(g == NULL);
    if (where != NULL) {
        VFT_CHECK(strstr(err, where) != NULL);
    }
    if (what != NULL) {
        VFT_CHECK(strstr(err, what) != NULL);
    }
}

static void
test_no_groups_allows_all(void)
{
    struct vf_groups *g = loaded("fence_virtd { listener = \"tcp\"; }\n");

    VFT_CHECK(!vf_groups_active(g));
    VFT_CHECK(vf_groups_allowed(g, "1.2.3.4", "anything", NULL, NULL));
    vf_groups_free(g);
}

static void
test_name_and_uuid_cross_resolve(void)
{
    struct vf_groups *g = loaded("groups {\n group {\n  name = \"c1\";\n  ip = \"10.0.0.5\";\n"
                                 "  uuid = \"vm1\";\n }\n}\n");

    VFT_EQ_INT(vf_groups_count(g), 1);
    /* by name */
    VFT_CHECK(vf_groups_allowed(g, "10.0.0.5", "vm1", "vm1", U1));
    /* names are case-sensitive (libvirt): "VM1" is not the "vm1" of the group */
    VFT_CHECK(!vf_groups_allowed(g, "10.0.0.5", "VM1", NULL, NULL));
    /* by UUID: allowed because the resolved name is in the group (D29) */
    VFT_CHECK(vf_groups_allowed(g, "10.0.0.5", U1, "vm1", U1));
    /* unresolved UUID: literal only => denied */
    VFT_CHECK(!vf_groups_allowed(g, "10.0.0.5", U1, NULL, NULL));
    /* other VM */
    VFT_CHECK(!vf_groups_allowed(g, "10.0.0.5", "vm2", "vm2", U2));
    /* other requester */
    VFT_CHECK(!vf_groups_allowed(g, "10.0.0.6", "vm1", "vm1", U1));
    VFT_CHECK(!vf_groups_allowed(g, "", "vm1", "vm1", U1));
    /* IPv4-mapped IPv6 form of the same requester */
    VFT_CHECK(vf_groups_allowed(g, "::ffff:10.0.0.5", "vm1", "vm1", U1));
    /* list filtering: no literal */
    VFT_CHECK(vf_groups_allowed(g, "10.0.0.5", NULL, "vm1", U1));
    VFT_CHECK(!vf_groups_allowed(g, "10.0.0.5", NULL, "vm2", U2));
    vf_groups_free(g);
}

/*
 * Regression (R2 review): names used to compare ignoring case, and the
 * literal target counted even when it resolved to another domain, so a
 * group naming "web1" granted off/on/reboot of a different VM "WEB1".
 */
static void
test_case_and_literal_cannot_widen(void)
{
    struct vf_groups *g = loaded("groups { group { ip = \"10.0.0.5\"; uuid = \"web1\";\n"
                                 " uuid = \"" U1 "\"; } }\n");

    /* another domain whose name differs only in case: denied */
    VFT_CHECK(!vf_groups_allowed(g, "10.0.0.5", "WEB1", "WEB1", U2));
    VFT_CHECK(!vf_groups_allowed(g, "10.0.0.5", "WEB1", NULL, NULL));
    VFT_CHECK(!vf_groups_allowed(g, "10.0.0.5", NULL, "Web1", U2));
    /* the literal matches, but it resolved to another domain: denied */
    VFT_CHECK(!vf_groups_allowed(g, "10.0.0.5", "web1", "other", U2));
    /* the right domain, by name or by UUID in any case: allowed */
    VFT_CHECK(vf_groups_allowed(g, "10.0.0.5", "web1", "web1", U2));
    VFT_CHECK(vf_groups_allowed(g, "10.0.0.5", "5CA1AB1E-0000-4000-8000-000000000001",
                                NULL, NULL));
    VFT_CHECK(vf_groups_allowed(g, "10.0.0.5", "x", "x", "5CA1AB1E-0000-4000-8000-000000000001"));
    vf_groups_free(g);
}

static void
test_uuid_entries_and_domain_sources(void)
{
    struct vf_groups *g = loaded("groups { group { uuid = \"" U1 "\"; uuid = \"" U2 "\"; }\n"
                                 " group { ip = \"3\"; uuid = \"vm2\"; } }\n");

    /* serial: source is a domain UUID, matched against uuid entries */
    VFT_CHECK(vf_groups_allowed(g, U1, "vm2", "vm2", U2));
    VFT_CHECK(vf_groups_allowed(g, "5CA1AB1E-0000-4000-8000-000000000001", U2, NULL, NULL));
    VFT_CHECK(!vf_groups_allowed(g, "5ca1ab1e-0000-4000-8000-000000000009", U2, "vm2", U2));
    /* vsock CID */
    VFT_CHECK(vf_groups_allowed(g, "3", U2, "vm2", U2));
    VFT_CHECK(!vf_groups_allowed(g, "4", U2, "vm2", U2));
    vf_groups_free(g);
}

static void
test_malformed_group_is_error(void)
{
    load_fails("groups {\n group {\n  ip = \"10.0.0.5\";\n  uuid = \"vm1\";\n }\n"
               " group {\n  name = \"placeholder\";\n }\n}\n", "test.conf:6", "placeholder");
    load_fails("groups { group { } }\n", NULL, NULL);
}

static void
test_second_groups_block_is_error(void)
{
    load_fails("groups { group { ip = \"1.1.1.1\"; uuid = \"a\"; } }\n"
               "groups { group { ip = \"2.2.2.2\"; uuid = \"b\"; } }\n", "test.conf:2", NULL);
}

static void
test_is_uuid(void)
{
    VFT_CHECK(vf_is_uuid(U1));
    VFT_CHECK(!vf_is_uuid("vm1"));
    VFT_CHECK(!vf_is_uuid("5ca1ab1e-0000-4000-8000-00000000000"));
    VFT_CHECK(!vf_is_uuid("5ca1ab1e-0000-4000-8000-00000000000g"));
    VFT_CHECK(!vf_is_uuid(NULL));
}

int
main(void)
{
    VFT_RUN(test_no_groups_allows_all);
    VFT_RUN(test_name_and_uuid_cross_resolve);
    VFT_RUN(test_case_and_literal_cannot_widen);
    VFT_RUN(test_uuid_entries_and_domain_sources);
    VFT_RUN(test_malformed_group_is_error);
    VFT_RUN(test_second_groups_block_is_error);
    VFT_RUN(test_is_uuid);
    VFT_EXIT();
}
