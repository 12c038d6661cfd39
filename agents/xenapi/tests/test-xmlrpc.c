/*
 * vmfence - agents/xenapi/tests/test-xmlrpc.c: unit tests of the XML-RPC
 * encoder and decoder (agents/xenapi/xmlrpc.c): every type, XAPI's
 * untyped strings, faults, HTML, malformed, oversized and deeply nested
 * input, a DTD with entities.  Nothing is faked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xmlrpc.h"
#include "vftest.h"

#define RESP(v) "<?xml version='1.0'?><methodResponse><params><param><value>" v \
                "</value></param></params></methodResponse>"

static struct vf_xr_value *
decode(const char *doc, int *ret_rc, char *err, size_t err_len)
{
    struct vf_xr_value *v = NULL;

    *ret_rc = vf_xr_decode_response(doc, strlen(doc), &v, err, err_len);
    return v;
}

static void
test_encode(void)
{
    const struct vf_xr_param p[] = {
        { .type = VF_XR_STRING, .s = "root" },
        { .type = VF_XR_STRING, .s = "a<b&c\"" },
        { .type = VF_XR_BOOL, .b = true },
        { .type = VF_XR_INT, .i = -42 },
    };
    char *xml = NULL;
    size_t len = 0;

    VFT_EQ_INT(vf_xr_encode_call("session.login_with_password", p, 4, &xml, &len), 0);
    VFT_CHECK(xml != NULL && strlen(xml) == len);
    VFT_CHECK(xml != NULL && strstr(xml, "<methodName>session.login_with_password"
                                    "</methodName>") != NULL);
    VFT_CHECK(xml != NULL && strstr(xml, "<string>a&lt;b&amp;c") != NULL);
    VFT_CHECK(xml != NULL && strstr(xml, "<boolean>1</boolean>") != NULL);
    VFT_CHECK(xml != NULL && strstr(xml, "<i8>-42</i8>") != NULL);
    free(xml);
    xml = NULL;
    /* the encoder's output decodes as a well-formed document */
    VFT_EQ_INT(vf_xr_encode_call("VM.get_all", NULL, 0, &xml, &len), 0);
    free(xml);
    VFT_EQ_INT(vf_xr_encode_call(NULL, NULL, 0, &xml, &len), -EINVAL);
    {
        const struct vf_xr_param bad = { .type = VF_XR_STRUCT };

        VFT_EQ_INT(vf_xr_encode_call("x", &bad, 1, &xml, &len), -EINVAL);
    }
}

static void
test_types(void)
{
    char err[256];
    int rc;
    struct vf_xr_value *v = decode(RESP(
        "<struct>"
        "<member><name>Status</name><value>Success</value></member>"
        "<member><name>s</name><value><string>typed</string></value></member>"
        "<member><name>i</name><value><int>-7</int></value></member>"
        "<member><name>i4</name><value><i4>12</i4></value></member>"
        "<member><name>i8</name><value><i8>9007199254740993</i8></value></member>"
        "<member><name>b</name><value><boolean>1</boolean></value></member>"
        "<member><name>d</name><value><double>1.5</double></value></member>"
        "<member><name>t</name><value><dateTime.iso8601>20240101T00:00:00Z"
        "</dateTime.iso8601></value></member>"
        "<member><name>b64</name><value><base64>aGk=</base64></value></member>"
        "<member><name>nil</name><value><nil/></value></member>"
        "<member><name>empty</name><value></value></member>"
        "<member><name>a</name><value><array><data><value>x</value>"
        "<value><int>1</int></value></data></array></value></member>"
        "</struct>"), &rc, err, sizeof(err));

    VFT_EQ_INT(rc, 0);
    if (v == NULL) {
        return;
    }
    VFT_EQ_STR(vf_xr_member_str(v, "Status"), "Success");
    VFT_EQ_STR(vf_xr_member_str(v, "s"), "typed");
    VFT_EQ_INT(vf_xr_member(v, "i")->i, -7);
    VFT_EQ_INT(vf_xr_member(v, "i4")->i, 12);
    VFT_CHECK(vf_xr_member(v, "i8")->i == 9007199254740993LL);
    VFT_CHECK(vf_xr_member_bool(v, "b"));
    VFT_CHECK(vf_xr_member(v, "d")->d == 1.5);
    VFT_EQ_INT(vf_xr_member(v, "t")->type, VF_XR_DATETIME);
    VFT_EQ_INT(vf_xr_member(v, "b64")->type, VF_XR_BASE64);
    VFT_EQ_INT(vf_xr_member(v, "nil")->type, VF_XR_NIL);
    VFT_EQ_STR(vf_xr_member_str(v, "empty"), "");
    VFT_EQ_INT(vf_xr_member(v, "a")->n, 2);
    VFT_EQ_STR(vf_xr_str(vf_xr_member(v, "a")->items[0]), "x");
    VFT_CHECK(vf_xr_member(v, "missing") == NULL);
    vf_xr_free(v);
    VFT_CHECK(vf_xr_free(NULL) == NULL);
}

static void
test_xapi_failure(void)
{
    char err[256];
    int rc;
    struct vf_xr_value *v = decode(RESP(
        "<struct><member><name>Status</name><value>Failure</value></member>"
        "<member><name>ErrorDescription</name><value><array><data>"
        "<value>HOST_IS_SLAVE</value><value>192.0.2.10</value>"
        "</data></array></value></member></struct>"), &rc, err, sizeof(err));
    const struct vf_xr_value *d;

    VFT_EQ_INT(rc, 0);
    d = vf_xr_member(v, "ErrorDescription");
    VFT_CHECK(d != NULL && d->type == VF_XR_ARRAY && d->n == 2);
    if (d != NULL && d->n == 2) {
        VFT_EQ_STR(vf_xr_str(d->items[0]), "HOST_IS_SLAVE");
        VFT_EQ_STR(vf_xr_str(d->items[1]), "192.0.2.10");
    }
    vf_xr_free(v);
}

static void
expect_bad(const char *doc, int want_rc, const char *needle)
{
    char err[256] = "";
    int rc;
    struct vf_xr_value *v = decode(doc, &rc, err, sizeof(err));

    VFT_EQ_INT(rc, want_rc);
    VFT_CHECK(v == NULL);
    if (needle != NULL && strstr(err, needle) == NULL) {
        fprintf(stderr, "    message '%s' lacks '%s'\n", err, needle);
        VFT_CHECK(strstr(err, needle) != NULL);
    }
    vf_xr_free(v);
}

static void
test_malformed(void)
{
    expect_bad("", -EPROTO, "empty");
    expect_bad("<html><body>500 Internal Error</body></html>", -EPROTO, "HTML");
    expect_bad("  <!DOCTYPE html><html></html>", -EPROTO, "HTML");
    expect_bad("<methodResponse><params>", -EPROTO, "well-formed");
    expect_bad("<foo/>", -EPROTO, "<foo>");
    expect_bad("<methodResponse/>", -EPROTO, NULL);
    expect_bad("<methodResponse><params></params></methodResponse>", -EPROTO, NULL);
    expect_bad(RESP("<int>12x</int>"), -EPROTO, "int");
    expect_bad(RESP("<int>99999999999999999999</int>"), -EPROTO, "int");
    expect_bad(RESP("<boolean>yes</boolean>"), -EPROTO, "boolean");
    expect_bad(RESP("<double>nan</double>"), -EPROTO, "double");
    expect_bad(RESP("<frob>1</frob>"), -EPROTO, "frob");
    expect_bad(RESP("<string>a</string><string>b</string>"), -EPROTO, NULL);
    expect_bad(RESP("<array><value>x</value></array>"), -EPROTO, "data");
    expect_bad(RESP("<struct><member><name>x</name></member></struct>"), -EPROTO, NULL);
    expect_bad(RESP("<struct><foo/></struct>"), -EPROTO, NULL);
    expect_bad("<?xml version='1.0'?><!DOCTYPE m [<!ENTITY a 'aaaa'>"
               "<!ENTITY b '&a;&a;&a;&a;'>]>" RESP("&b;"), -EPROTO, NULL);
    expect_bad("<methodResponse><fault><value><struct>"
               "<member><name>faultCode</name><value><int>4</int></value></member>"
               "<member><name>faultString</name><value>Too many</value></member>"
               "</struct></value></fault></methodResponse>", -EPROTO, "fault 4: Too many");
}

static void
test_limits(void)
{
    size_t depth = VF_XR_MAX_DEPTH + 2, len = 0;
    char *doc = malloc(depth * 40 + 200), *big;
    char err[256];
    struct vf_xr_value *v = NULL;
    int rc;

    if (doc == NULL) {
        return;
    }
    len += (size_t)sprintf(doc + len, "<methodResponse><params><param><value>");
    for (size_t i = 0; i < depth; i++) {
        len += (size_t)sprintf(doc + len, "<array><data><value>");
    }
    for (size_t i = 0; i < depth; i++) {
        len += (size_t)sprintf(doc + len, "</value></data></array>");
    }
    sprintf(doc + len, "</value></param></params></methodResponse>");
    rc = vf_xr_decode_response(doc, strlen(doc), &v, err, sizeof(err));
    VFT_EQ_INT(rc, -EPROTO);
    VFT_CHECK(strstr(err, "deeper") != NULL);
    free(doc);

    /* oversized: refused before parsing */
    big = malloc(VF_XR_MAX_RESPONSE + 1);
    if (big == NULL) {
        return;
    }
    memset(big, ' ', VF_XR_MAX_RESPONSE + 1);
    rc = vf_xr_decode_response(big, VF_XR_MAX_RESPONSE + 1, &v, err, sizeof(err));
    VFT_EQ_INT(rc, -E2BIG);
    free(big);
}

int
main(void)
{
    VFT_RUN(test_encode);
    VFT_RUN(test_types);
    VFT_RUN(test_xapi_failure);
    VFT_RUN(test_malformed);
    VFT_RUN(test_limits);
    VFT_EXIT();
}
