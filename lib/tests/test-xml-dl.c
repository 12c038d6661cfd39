/*
 * vmfence - lib/tests/test-xml-dl.c: unit tests of libxml2's on-demand
 * loading (lib/xml-dl.c) and of the metadata writer on it.
 *
 * This program links libvmfence but not libxml2 (lib/Makefile.am), so it
 * sees what an agent sees: libxml2 absent until XML is written, then
 * loaded.  Failures are real too: a library that does not exist, and
 * libc.so.6 standing in for libxml2 (a library without the writer's
 * functions).  For the whole path (vf_metadata_write and its error
 * message) the program runs itself again with LD_LIBRARY_PATH on a
 * directory whose libxml2 soname is a link to libc.so.6; nothing is faked.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metadata.h"
#include "metadata-capture.h"
#include "xml-dl.h"
#include "dl-loaded.h"
#include "vftest.h"

#define CHILD_ENV "VFT_XML_DL_CHILD"
#define HEAD_XVM "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<resource-agent name=\"fence_xvm\""

/* libxml2 is loaded by the first metadata, not before */
static void
test_loaded_on_first_use(void)
{
    char *text;
    int rc;

    VFT_CHECK(!vft_loaded(VF_XML_SONAME));
    text = capture(vf_metadata_write, VF_AGENT_XVM, &rc);
    VFT_EQ_INT(rc, 0);
    VFT_CHECK(text != NULL && strncmp(text, HEAD_XVM, strlen(HEAD_XVM)) == 0);
    VFT_CHECK(text != NULL && strstr(text, "\n\t<parameters>\n\t\t<parameter name=") != NULL);
    VFT_CHECK(text != NULL && strcmp(text + strlen(text) - 18, "</resource-agent>\n") == 0);
    free(text);
    VFT_CHECK(vft_loaded(VF_XML_SONAME));
    /* the table is loaded once and shared */
    text = capture(vf_metadata_write, VF_AGENT_VIRT, &rc);
    VFT_EQ_INT(rc, 0);
    VFT_CHECK(text != NULL && strstr(text, "<resource-agent name=\"fence_virt\"") != NULL);
    free(text);
}

static void
test_load(void)
{
    struct vf_xml_api api = { 0 };
    const struct vf_xml_api *shared = NULL;
    char err[512] = "";

    VFT_EQ_INT(vf_xml_api_load(&api, VF_XML_SONAME, err, sizeof(err)), 0);
#define CHECK_MEMBER(fn, ver) VFT_CHECK(api.fn != NULL);
    VF_XML_FUNCS(CHECK_MEMBER)
#undef CHECK_MEMBER
    /* the same functions as the process-wide table's */
    VFT_EQ_INT(vf_xml_api(&shared), 0);
    VFT_CHECK(shared != NULL && shared->xmlTextWriterWriteAttribute
                                == api.xmlTextWriterWriteAttribute);
}

/* a missing library and a library without the functions: errors naming
 * them, the table untouched */
static void
test_load_failures(void)
{
    struct vf_xml_api api = { 0 };
    char err[512] = "";

    VFT_EQ_INT(vf_xml_api_load(&api, "libvmfence-no-such-library.so.9", err, sizeof(err)),
               -ELIBACC);
    VFT_CHECK(strstr(err, "cannot load libvmfence-no-such-library.so.9: ") != NULL);
    VFT_CHECK(api.xmlBufferCreate == NULL);

    err[0] = '\0';
    VFT_EQ_INT(vf_xml_api_load(&api, "libc.so.6", err, sizeof(err)), -ELIBBAD);
    VFT_CHECK(strstr(err, "libc.so.6 lacks xmlBufferCreate (version LIBXML2_2.4.30)") != NULL);
    VFT_CHECK(api.xmlBufferCreate == NULL && api.xmlTextWriterWriteString == NULL);
}

/* in the child: libxml2's soname resolves to libc */
static int
child_main(void)
{
    char *text;
    int rc;

    text = capture(vf_metadata_write, VF_AGENT_XVM, &rc);
    /* nothing written, the loader's error code */
    printf("rc=%d len=%zu\n", rc, text != NULL ? strlen(text) : (size_t)0);
    free(text);
    return 0;
}

/* the whole path when libxml2 is not the library it should be */
static void
test_metadata_without_libxml2(void)
{
    char dir[] = "/tmp/vft-xml-dl.XXXXXX";
    char link_path[128], out[2048] = "", cmd[512 + 256], self[256] = "";
    ssize_t self_len;
    Dl_info info;
    FILE *p;
    size_t n;
    int status;

    if (dladdr((void *)&printf, &info) == 0 || info.dli_fname == NULL
        || info.dli_fname[0] != '/') {
        VFT_SKIP_PART("libc's path unknown (dladdr): the child run is not checked");
        return;
    }
    /* this program's own path (not /proc/PID/exe: under valgrind that is valgrind) */
    self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (self_len <= 0 || (size_t)self_len >= sizeof(self) - 1 || strchr(self, '\'') != NULL) {
        VFT_SKIP_PART("this program's path unknown: the child run is not checked");
        return;
    }
    self[self_len] = '\0';
    VFT_CHECK(mkdtemp(dir) != NULL);
    snprintf(link_path, sizeof(link_path), "%s/%s", dir, VF_XML_SONAME);
    VFT_EQ_INT(symlink(info.dli_fname, link_path), 0);
    snprintf(cmd, sizeof(cmd), "%s=1 LD_LIBRARY_PATH=%s '%s' 2>&1", CHILD_ENV, dir, self);
    p = popen(cmd, "r");
    VFT_CHECK(p != NULL);
    if (p != NULL) {
        n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        status = pclose(p);
        VFT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    unlink(link_path);
    rmdir(dir);
    if (strstr(out, "rc=") == NULL) {
        fprintf(stderr, "child said:\n%s", out);
    }
    {
        char want[64];

        snprintf(want, sizeof(want), "rc=%d len=0\n", -ELIBBAD);
        VFT_CHECK(strstr(out, want) != NULL);
    }
    VFT_CHECK(strstr(out, "ERROR: cannot write XML without libxml2: " VF_XML_SONAME
                          " lacks xmlBufferCreate (version LIBXML2_2.4.30)") != NULL);
}

int
main(void)
{
    if (getenv(CHILD_ENV) != NULL) {
        return child_main();
    }
    VFT_RUN(test_loaded_on_first_use);
    VFT_RUN(test_load);
    VFT_RUN(test_load_failures);
    VFT_RUN(test_metadata_without_libxml2);
    VFT_EXIT();
}
