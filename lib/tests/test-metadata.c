/*
 * vmfence - lib/tests/test-metadata.c: unit tests of the metadata XML and
 * man page option generators (lib/metadata.c).
 *
 * The XML is parsed back with libxml2 and checked with XPath; it is also
 * validated against the fence-agents and pcs RELAX NG schemas when they are
 * installed (those checks are skipped, not failed, without them).  Write
 * errors are provoked with /dev/full.  Nothing else is faked.
 *
 * When the libxml2 headers are not on the include path of the unit tests
 * (lib/Makefile.am gives XML_CFLAGS only to the library), the XPath part is
 * replaced by plain text checks plus `xmllint --relaxng` when available.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_include)
# if __has_include(<libxml/parser.h>)
#  define VFT_HAVE_LIBXML 1
# endif
#endif

#ifdef VFT_HAVE_LIBXML
# include <libxml/parser.h>
# include <libxml/relaxng.h>
# include <libxml/xpath.h>
#endif

#include "metadata.h"
#include "metadata-capture.h"
#include "vftest.h"

#ifdef VFT_HAVE_LIBXML

static xmlDocPtr
parse_metadata(enum vf_agent_kind kind)
{
    xmlDocPtr doc;
    char *text;
    int rc;

    text = capture(vf_metadata_write, kind, &rc);
    VFT_EQ_INT(rc, 0);
    if (text == NULL) {
        return NULL;
    }
    VFT_CHECK(strncmp(text, "<?xml version=\"1.0\"", 19) == 0);
    doc = xmlReadMemory(text, (int)strlen(text), "metadata.xml", "UTF-8",
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    free(text);
    VFT_CHECK(doc != NULL);
    return doc;
}

/* string value of an XPath expression, malloc'ed ("" if nothing) */
static char *
xpath_str(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr obj = NULL;
    char *s = NULL;

    if (ctx == NULL) {
        return strdup("");
    }
    obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    if (obj != NULL) {
        xmlChar *v = xmlXPathCastToString(obj);

        s = strdup(v != NULL ? (const char *)v : "");
        xmlFree(v);
        xmlXPathFreeObject(obj);
    }
    xmlXPathFreeContext(ctx);
    return s != NULL ? s : strdup("");
}

static double
xpath_num(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr obj = NULL;
    double v = -1;

    if (ctx == NULL) {
        return -1;
    }
    obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    if (obj != NULL) {
        v = xmlXPathCastToNumber(obj);
        xmlXPathFreeObject(obj);
    }
    xmlXPathFreeContext(ctx);
    return v;
}

#define XP_EQ(doc, expr, want) do { \
        char *xp_s_ = xpath_str((doc), (expr)); \
        VFT_EQ_STR(xp_s_, (want)); \
        free(xp_s_); \
    } while (0)

static void
check_common(xmlDocPtr doc, enum vf_agent_kind kind)
{
    const struct vf_opt *const *opts = vf_opts_for(kind);
    size_t n = 0;

    XP_EQ(doc, "name(/*)", "resource-agent");
    XP_EQ(doc, "/resource-agent/@name", kind == VF_AGENT_XVM ? "fence_xvm" : "fence_virt");
    XP_EQ(doc, "/resource-agent/@shortdesc", "Fence agent for virtual machines");
    XP_EQ(doc, "/resource-agent/vendor-url", "https://libvirt.org");
    VFT_CHECK(xpath_num(doc, "string-length(/resource-agent/longdesc)") > 20);

    /* parameters: exactly the table, in table order */
    while (opts[n] != NULL) {
        char expr[160], want[8];

        snprintf(expr, sizeof(expr), "/resource-agent/parameters/parameter[%zu]/@name", n + 1);
        XP_EQ(doc, expr, opts[n]->key);
        snprintf(expr, sizeof(expr),
                 "/resource-agent/parameters/parameter[%zu]/getopt/@mixed", n + 1);
        if (opts[n]->letter != 0) {
            snprintf(want, sizeof(want), "-%c", opts[n]->letter);
        } else {
            want[0] = '\0';
        }
        XP_EQ(doc, expr, want);
        snprintf(expr, sizeof(expr),
                 "/resource-agent/parameters/parameter[%zu]/shortdesc[@lang='en']", n + 1);
        XP_EQ(doc, expr, opts[n]->shortdesc);
        n++;
    }
    VFT_EQ_INT(xpath_num(doc, "count(/resource-agent/parameters/parameter)"), n);

    /* attribute rules (protocol.md 4.6, D23) */
    VFT_EQ_INT(xpath_num(doc, "count(//parameter[@required='1'])"), 0);
    VFT_EQ_INT(xpath_num(doc, "count(//parameter[@unique!='0'])"), 0);
    XP_EQ(doc, "//parameter[@name='plug']/@obsoletes", "port");
    XP_EQ(doc, "//parameter[@name='port']/@deprecated", "1");
    XP_EQ(doc, "//parameter[@name='domain']/@deprecated", "1");
    XP_EQ(doc, "//parameter[@name='domain']/getopt/@mixed", "");
    VFT_EQ_INT(xpath_num(doc, "count(//parameter[@name='plug']/@deprecated)"), 0);
    XP_EQ(doc, "//parameter[@name='key_file']/content/@default", VF_DEFAULT_KEY_FILE);
    XP_EQ(doc, "//parameter[@name='ipport']/content/@default", "1229");
    XP_EQ(doc, "//parameter[@name='action']/content/@default", "reboot");
    XP_EQ(doc, "//parameter[@name='hash']/content/@type", "select");
    VFT_EQ_INT(xpath_num(doc, "count(//parameter[@name='hash']/content/option)"), 4);
    XP_EQ(doc, "//parameter[@name='debug']/content/@type", "boolean");

    /* actions */
    VFT_EQ_INT(xpath_num(doc, "count(/resource-agent/actions/action)"), 10);
    XP_EQ(doc, "/resource-agent/actions/action[1]/@name", "null");
    XP_EQ(doc, "/resource-agent/actions/action[10]/@name", "validate-all");
    VFT_EQ_INT(xpath_num(doc, "count(//action[@name='list-status'])"), 1);
    VFT_EQ_INT(xpath_num(doc, "count(//action[@name='monitor'])"), 1);
}

/* what is each agent's own: an XPath expression and its string value */
static const struct {
    enum vf_agent_kind kind;
    const char *expr;
    const char *want;
} own_values[] = {
    { VF_AGENT_XVM, "//parameter[@name='ip_family']/getopt/@mixed", "-i" },
    { VF_AGENT_XVM, "//parameter[@name='interface']/getopt/@mixed", "-I" },
    { VF_AGENT_XVM, "//parameter[@name='callback_port']/getopt/@mixed", "-L" },
    { VF_AGENT_XVM, "//parameter[@name='retrans']/content/@default", "20" },
    { VF_AGENT_XVM, "count(//parameter[@name='ipaddr'])", "0" },
    { VF_AGENT_XVM, "count(//parameter[@name='vsock'])", "0" },
    /* multicast_address depends on the family: no single default */
    { VF_AGENT_XVM, "count(//parameter[@name='multicast_address']/content/@default)", "0" },
    { VF_AGENT_VIRT, "//parameter[@name='vsock']/getopt/@mixed", "-S" },
    { VF_AGENT_VIRT, "//parameter[@name='vsock']/content/@type", "integer" },
    /* D23: no invented defaults */
    { VF_AGENT_VIRT, "count(//parameter[@name='vsock']/content/@default)", "0" },
    { VF_AGENT_VIRT, "count(//parameter[@name='ipaddr']/content/@default)", "0" },
    { VF_AGENT_VIRT, "count(//parameter[@name='serial_device']/content/@default)", "0" },
    { VF_AGENT_VIRT, "//parameter[@name='serial_params']/content/@default", "115200,8N1" },
    { VF_AGENT_VIRT, "//parameter[@name='channel_address']/content/@default", "10.0.2.179" },
    { VF_AGENT_VIRT, "count(//parameter[@name='retrans'])", "0" },
    { VF_AGENT_VIRT, "count(//parameter[@name='callback_port'])", "0" },
};

/* @kind's metadata: check_common() and its own_values[] */
static void
check_agent(enum vf_agent_kind kind)
{
    xmlDocPtr doc = parse_metadata(kind);

    if (doc == NULL) {
        return;
    }
    check_common(doc, kind);
    for (size_t i = 0; i < sizeof(own_values) / sizeof(own_values[0]); i++) {
        if (own_values[i].kind == kind) {
            XP_EQ(doc, own_values[i].expr, own_values[i].want);
        }
    }
    xmlFreeDoc(doc);
}

static void
test_metadata_xvm(void)
{
    check_agent(VF_AGENT_XVM);
}

static void
test_metadata_virt(void)
{
    check_agent(VF_AGENT_VIRT);
}

/* validate against a RELAX NG schema file; false if missing */
static bool
validate_rng(xmlDocPtr doc, const char *rng_path)
{
    xmlRelaxNGParserCtxtPtr pctx;
    xmlRelaxNGPtr schema;
    xmlRelaxNGValidCtxtPtr vctx;
    int rc;

    if (access(rng_path, R_OK) != 0) {
        VFT_SKIP_PART("schema %s not installed: validation against it not checked", rng_path);
        return false;
    }
    pctx = xmlRelaxNGNewParserCtxt(rng_path);
    VFT_CHECK(pctx != NULL);
    if (pctx == NULL) {
        return false;
    }
    schema = xmlRelaxNGParse(pctx);
    xmlRelaxNGFreeParserCtxt(pctx);
    VFT_CHECK(schema != NULL);
    if (schema == NULL) {
        return false;
    }
    vctx = xmlRelaxNGNewValidCtxt(schema);
    rc = vctx != NULL ? xmlRelaxNGValidateDoc(vctx, doc) : -1;
    if (rc != 0) {
        fprintf(stderr, "    does not validate against %s\n", rng_path);
    }
    VFT_EQ_INT(rc, 0);
    xmlRelaxNGFreeValidCtxt(vctx);
    xmlRelaxNGFree(schema);
    return true;
}

static void
test_metadata_schemas(void)
{
    for (int k = VF_AGENT_XVM; k <= VF_AGENT_VIRT; k++) {
        xmlDocPtr doc = parse_metadata((enum vf_agent_kind)k);

        if (doc == NULL) {
            continue;
        }
        validate_rng(doc, "/usr/share/cluster/relaxng/metadata.rng");
        validate_rng(doc, "/usr/share/pcs/data/ocf-1.0.rng");
        xmlFreeDoc(doc);
    }
}

#else /* !VFT_HAVE_LIBXML: text checks */

static void
check_text(enum vf_agent_kind kind)
{
    const struct vf_opt *const *opts = vf_opts_for(kind);
    const char *p;
    char *text;
    int rc;
    size_t n = 0;

    text = capture(vf_metadata_write, kind, &rc);
    VFT_EQ_INT(rc, 0);
    if (text == NULL) {
        return;
    }
    VFT_CHECK(strncmp(text, "<?xml version=\"1.0\"", 19) == 0);
    VFT_CHECK(strstr(text, kind == VF_AGENT_XVM ? "<resource-agent name=\"fence_xvm\""
                                               : "<resource-agent name=\"fence_virt\"") != NULL);
    /* parameters in table order */
    p = text;
    for (n = 0; opts[n] != NULL; n++) {
        char needle[96];

        snprintf(needle, sizeof(needle), "<parameter name=\"%s\"", opts[n]->key);
        p = p != NULL ? strstr(p, needle) : NULL;
        VFT_CHECK(p != NULL);
    }
    VFT_CHECK(strstr(text, "required=\"1\"") == NULL);
    VFT_CHECK(strstr(text, "<parameter name=\"plug\" unique=\"0\" required=\"0\" "
                           "obsoletes=\"port\">") != NULL);
    VFT_CHECK(strstr(text, "<parameter name=\"port\" unique=\"0\" required=\"0\" "
                           "deprecated=\"1\">") != NULL);
    VFT_CHECK(strstr(text, "<action name=\"validate-all\"/>") != NULL);
    VFT_CHECK(strstr(text, "</resource-agent>\n") != NULL);

    /* schema validation with xmllint, if present */
    if (access("/usr/bin/xmllint", X_OK) == 0) {
        static const char *const rngs[] = {
            "/usr/share/cluster/relaxng/metadata.rng",
            "/usr/share/pcs/data/ocf-1.0.rng",
        };
        char path[] = "/tmp/vft-metadata-XXXXXX";
        int fd = mkstemp(path);

        VFT_CHECK(fd >= 0);
        if (fd >= 0) {
            VFT_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
            close(fd);
            for (size_t i = 0; i < 2; i++) {
                char cmd[512];

                if (access(rngs[i], R_OK) != 0) {
                    continue;
                }
                snprintf(cmd, sizeof(cmd), "/usr/bin/xmllint --noout --relaxng %s %s",
                         rngs[i], path);
                VFT_EQ_INT(system(cmd), 0);
            }
            unlink(path);
        }
    }
    free(text);
}

static void
test_metadata_text(void)
{
    check_text(VF_AGENT_XVM);
    check_text(VF_AGENT_VIRT);
}

#endif /* VFT_HAVE_LIBXML */

static void
test_write_errors(void)
{
    FILE *f = fopen("/dev/full", "we");

    if (f == NULL) {
        VFT_SKIP_PART("/dev/full missing: write errors not checked");
        return;
    }
    setvbuf(f, NULL, _IONBF, 0);
    VFT_EQ_INT(vf_metadata_write(VF_AGENT_XVM, f), -EIO);
    clearerr(f);
    VFT_EQ_INT(vf_manopts_write(VF_AGENT_VIRT, f), -EIO);
    fclose(f);
}

static void
test_manopts(void)
{
    for (int k = VF_AGENT_XVM; k <= VF_AGENT_VIRT; k++) {
        const struct vf_opt *const *opts = vf_opts_for((enum vf_agent_kind)k);
        char *text;
        int rc;

        text = capture(vf_manopts_write, (enum vf_agent_kind)k, &rc);
        VFT_EQ_INT(rc, 0);
        if (text == NULL) {
            continue;
        }
        VFT_CHECK(strncmp(text, ".SH OPTIONS\n", 12) == 0);
        VFT_CHECK(strstr(text, "\n.SH STDIN PARAMETERS\n") != NULL);
        for (size_t i = 0; opts[i] != NULL; i++) {
            char needle[96];

            /* every key in the stdin section */
            snprintf(needle, sizeof(needle), "\n.B %s\n", opts[i]->key);
            VFT_CHECK(strstr(text, needle) != NULL);
            if (opts[i]->letter != 0) {
                snprintf(needle, sizeof(needle), "\\fB\\-%c\\fR", opts[i]->letter);
                VFT_CHECK(strstr(text, needle) != NULL);
            }
        }
        /* roff hygiene: no line starts with a bare quote or an unescaped
         * dot other than a macro, no raw backslash-less hyphen in options */
        for (const char *p = text; p != NULL && *p != '\0'; ) {
            const char *nl = strchr(p, '\n');

            VFT_CHECK(*p != '\'');
            if (*p == '.') {
                VFT_CHECK(p[1] >= 'A' && p[1] <= 'Z');
            }
            p = nl != NULL ? nl + 1 : NULL;
        }
        VFT_CHECK(strstr(text, "list\\-status") != NULL);
        VFT_CHECK(strstr(text, " list-status") == NULL);
        if (k == VF_AGENT_VIRT) {
            VFT_CHECK(strstr(text, "\\fB\\-S\\fR[\\fIcid\\fR]") != NULL);
        }
        free(text);
    }
}

int
main(void)
{
#ifdef VFT_HAVE_LIBXML
    LIBXML_TEST_VERSION
    VFT_RUN(test_metadata_xvm);
    VFT_RUN(test_metadata_virt);
    VFT_RUN(test_metadata_schemas);
#else
    VFT_SKIP_PART("libxml2 headers not on the include path: XPath and schema checks not run,"
                  " text checks only");
    VFT_RUN(test_metadata_text);
#endif
    VFT_RUN(test_write_errors);
    VFT_RUN(test_manopts);
#ifdef VFT_HAVE_LIBXML
    xmlCleanupParser();
#endif
    VFT_EXIT();
}
