/*
 * vmfence - daemon/tests/test-confcheck.c: table-driven test of
 * vf_conf_check() (daemon/confcheck.c) over tests/data/conf.
 *
 *   good/NAME.conf  must parse and check with no error; if good/NAME.expect
 *                   exists, each of its lines must appear in the diagnostics
 *                   (used for warnings).
 *   bad/NAME.conf   must fail to parse, or check with at least one error;
 *                   each line of bad/NAME.expect must appear in the parse
 *                   error or the diagnostics.
 *
 * The interface check uses the real if_nametoindex(): fixtures only name
 * "lo" (present everywhere) or "nosuchif0" (absent).  Nothing is faked.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "confcheck.h"
#include "vftest.h"

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf;
    size_t n;

    if (f == NULL) {
        return NULL;
    }
    buf = calloc(1, 65536);
    if (buf != NULL) {
        n = fread(buf, 1, 65535, f);
        buf[n] = '\0';
    }
    fclose(f);
    return buf;
}

/* Every non-empty line of @expect must be a substring of @text. */
static int
expect_lines(const char *file, const char *expect, const char *text)
{
    char *copy = strdup(expect);
    char *save = NULL;
    int missing = 0;

    if (copy == NULL) {
        return 1;
    }
    for (char *line = strtok_r(copy, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (strstr(text, line) == NULL) {
            fprintf(stderr, "%s: expected message not found:\n  %s\ngot:\n%s\n", file, line,
                    text);
            missing++;
        }
    }
    free(copy);
    return missing;
}

/* Parse + check @path; returns -1 parse error, else the error count. */
static int
run_one(const char *path, char **ret_text)
{
    struct vf_conf *conf = NULL;
    char err[1024];
    char *text = NULL;
    size_t len = 0;
    FILE *ms;
    int r;

    r = vf_conf_parse_file(path, &conf, err, sizeof(err));
    if (r < 0) {
        *ret_text = strdup(err);
        return -1;
    }
    ms = open_memstream(&text, &len);
    if (ms == NULL) {
        vf_conf_free(conf);
        *ret_text = NULL;
        return -1;
    }
    r = vf_conf_check(conf, ms);
    fclose(ms);
    vf_conf_free(conf);
    *ret_text = text;
    return r;
}

static void
run_dir(const char *top, const char *kind, bool good)
{
    char dir[PATH_MAX];
    DIR *d;
    struct dirent *e;
    int count = 0;

    snprintf(dir, sizeof(dir), "%s/tests/data/conf/%s", top, kind);
    d = opendir(dir);
    VFT_CHECK(d != NULL);
    if (d == NULL || chdir(dir) != 0) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        if (d != NULL) {
            closedir(d);
        }
        vft_failures++;
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX + 256], epath[PATH_MAX + 256];
        size_t n = strlen(e->d_name);
        char *text = NULL, *expect;
        int r;

        if (n < 6 || strcmp(e->d_name + n - 5, ".conf") != 0) {
            continue;
        }
        /* relative names, so that messages read "NAME.conf:LINE: ..." */
        snprintf(path, sizeof(path), "%s", e->d_name);
        snprintf(epath, sizeof(epath), "%.*s.expect", (int)(n - 5), e->d_name);
        r = run_one(path, &text);
        expect = slurp(epath);
        if (good) {
            if (r != 0) {
                fprintf(stderr, "%s: expected no error, got %d:\n%s\n", path, r,
                        text != NULL ? text : "");
            }
            VFT_EQ_INT(r, 0);
        } else {
            if (r == 0) {
                fprintf(stderr, "%s: expected an error, got none:\n%s\n", path,
                        text != NULL ? text : "");
            }
            VFT_CHECK(r != 0);
            VFT_CHECK(expect != NULL);
        }
        if (expect != NULL) {
            VFT_EQ_INT(expect_lines(path, expect, text != NULL ? text : ""), 0);
        }
        if (getenv("VF_TEST_DEBUG") != NULL) {
            fprintf(stderr, "== %s (%d)\n%s", path, r, text != NULL ? text : "");
        }
        count++;
        free(text);
        free(expect);
    }
    closedir(d);
    VFT_CHECK(count >= 10);
}

static const char *top;

static void
test_good_fixtures(void)
{
    run_dir(top, "good", true);
}

static void
test_bad_fixtures(void)
{
    run_dir(top, "bad", false);
}

static int
check_buf(const char *text, char **ret_diag)
{
    struct vf_conf *conf = NULL;
    char err[512];
    char *out = NULL;
    size_t len = 0;
    FILE *ms;
    int r;

    r = vf_conf_parse_buffer("c.conf", text, strlen(text), &conf, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (r != 0) {
        *ret_diag = strdup(err);
        return -1;
    }
    ms = open_memstream(&out, &len);
    if (ms == NULL) {
        vf_conf_free(conf);
        return -1;
    }
    r = vf_conf_check(conf, ms);
    fclose(ms);
    vf_conf_free(conf);
    *ret_diag = out;
    return r;
}

#define BASE "fence_virtd { listener = \"tcp\"; backend = \"libvirt\"; }\n" \
             "backends { libvirt { uri = \"qemu:///system\"; } }\n"

static void
test_units(void)
{
    char *d = NULL;

    /* warnings do not count as errors */
    VFT_EQ_INT(check_buf(BASE "listeners { tcp { prot = \"1\"; } }\n", &d), 0);
    VFT_CHECK(d != NULL && strstr(d, "c.conf:3: warning: unknown key 'prot' in listeners/tcp "
                                     "(did you mean 'port'?)") != NULL);
    free(d);
    /* no suggestion when nothing is close */
    VFT_EQ_INT(check_buf(BASE "listeners { tcp { zzzzzz = \"1\"; } }\n", &d), 0);
    VFT_CHECK(d != NULL && strstr(d, "unknown key 'zzzzzz' in listeners/tcp\n") != NULL);
    free(d);
    /* uri1 without uri: allowed (the backend's default is the first URI) */
    VFT_EQ_INT(check_buf("fence_virtd { listener = \"tcp\"; backend = \"cpg\"; }\n"
                         "backends { cpg { uri1 = \"a\"; } }\n", &d), 0);
    VFT_CHECK(d != NULL && strstr(d, "backend 'cpg' is selected but backends/cpg/uri is not "
                                     "set") != NULL);
    free(d);
    /* uri0 and uri01 are not URI keys */
    VFT_EQ_INT(check_buf(BASE "backends { libvirt { uri0 = \"a\"; uri01 = \"b\"; } }\n", &d), 0);
    VFT_CHECK(d != NULL && strstr(d, "unknown key 'uri0' in backends/libvirt (did you mean "
                                     "'uri'?)") != NULL);
    free(d);
    /* a CID and IPv6 are valid requesters; a group without uuid allows nothing */
    VFT_EQ_INT(check_buf(BASE "groups { group { ip = \"3\"; ip = \"fe80::1\"; } }\n", &d), 0);
    VFT_CHECK(d != NULL && strstr(d, "group 'unnamed-1' has no uuid entries") != NULL);
    free(d);
    /* CID beyond 32 bits */
    VFT_EQ_INT(check_buf(BASE "groups { group { ip = \"4294967296\"; uuid = \"x\"; } }\n", &d), 1);
    free(d);
    /* unknown listener: warning; listed twice: warning */
    VFT_EQ_INT(check_buf("fence_virtd { listener = \"tcp,multicst,TCP\"; backend = \"libvirt\"; }\n"
                         "backends { libvirt { uri = \"x\"; } }\n", &d), 0);
    VFT_CHECK(d != NULL && strstr(d, "unknown listener 'multicst' in fence_virtd/listener "
                                     "(known: multicast, tcp, vsock, serial) (did you mean "
                                     "'multicast'?)") != NULL);
    VFT_CHECK(d != NULL && strstr(d, "listener 'TCP' is listed twice") != NULL);
    free(d);
    /* numeric serial mode is accepted (reference: non-zero = vmchannel) */
    VFT_EQ_INT(check_buf(BASE "listeners { serial { mode = \"1\"; } }\n", &d), 0);
    free(d);
    /* repeated listener section: the earlier one is named */
    VFT_EQ_INT(check_buf(BASE "listeners { tcp { port = \"1\"; } tcp { port = \"2\"; } }\n",
                         &d), 0);
    VFT_CHECK(d != NULL && strstr(d, "c.conf:3: warning: block 'listeners/tcp' is repeated on "
                                     "line 3; this one is ignored") != NULL);
    free(d);
    /*
     * Regression (R2 review): a mistyped top-level "groups" was a warning,
     * so the daemon started (or a reload applied) with no ACL at all.
     */
    VFT_EQ_INT(check_buf(BASE "grups { group { ip = \"10.0.0.1\"; uuid = \"vm1\"; } }\n",
                         &d), 1);
    VFT_CHECK(d != NULL && strstr(d, "c.conf:3: error: unknown section 'grups' (did you mean "
                                     "'groups'?); refusing a possibly mistyped ACL") != NULL);
    free(d);
    VFT_EQ_INT(check_buf(BASE "acl { group { ip = \"10.0.0.1\"; uuid = \"vm1\"; } }\n", &d), 1);
    free(d);
    /* other unknown sections stay warnings */
    VFT_EQ_INT(check_buf(BASE "zzzzzz { a = \"1\"; }\n", &d), 0);
    free(d);
    /* NULL diag stream just counts */
    {
        struct vf_conf *conf = NULL;
        char err[128];

        VFT_EQ_INT(vf_conf_parse_buffer("x", "", 0, &conf, err, sizeof(err)), 0);
        VFT_EQ_INT(vf_conf_check(conf, NULL), 2);
        vf_conf_free(conf);
    }
}

int
main(void)
{
    static char abs_top[PATH_MAX];

    top = getenv("VF_TOP_SRCDIR");
    if (top == NULL) {
        top = "../..";
    }
    /* run_dir() changes directory: make the path absolute first */
    if (realpath(top, abs_top) == NULL) {
        fprintf(stderr, "SKIP: source tree '%s' not found (set VF_TOP_SRCDIR)\n", top);
        return 77;
    }
    top = abs_top;
    VFT_RUN(test_good_fixtures);
    VFT_RUN(test_bad_fixtures);
    VFT_RUN(test_units);
    VFT_EXIT();
}
