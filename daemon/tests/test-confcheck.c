/*
 * vmfence - daemon/tests/test-confcheck.c: table-driven test of
 * vf_conf_check() (daemon/confcheck.c) over tests/data/conf.
 *
 *   good/NAME.conf  must parse and check with no error; if good/NAME.expect
 *                   exists, each of its lines must appear in the diagnostics
 *                   (used for warnings).  A line starting with '!' must NOT
 *                   appear (for example "!warning:" = no warning at all).
 *   bad/NAME.conf   must fail to parse, or check with at least one error;
 *                   each line of bad/NAME.expect must appear in the parse
 *                   error or the diagnostics.
 *
 * The interface check uses the real if_nametoindex(): fixtures only name
 * "lo" (present everywhere) or "nosuchif0" (absent).  The shared-key
 * warnings read real key files that test_security() writes into a
 * temporary directory.  Nothing is faked.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conftree.h"
#include "confcheck.h"
#include "registry.h"
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

/*
 * Every non-empty line of @expect must be a substring of @text; a line
 * "!X" means X must not be one.
 */
static int
expect_lines(const char *file, const char *expect, const char *text)
{
    char *lines = strdup(expect);
    char *save = NULL;
    int missing = 0;

    if (lines == NULL) {
        return 1;
    }
    for (char *line = strtok_r(lines, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '!') {
            if (strstr(text, line + 1) != NULL) {
                fprintf(stderr, "%s: unexpected message found:\n  %s\ngot:\n%s\n", file,
                        line + 1, text);
                missing++;
            }
        } else if (strstr(text, line) == NULL) {
            fprintf(stderr, "%s: expected message not found:\n  %s\ngot:\n%s\n", file, line,
                    text);
            missing++;
        }
    }
    free(lines);
    return missing;
}

/* Parse + check @path; returns -1 parse error, else the error count. */
/* vf_conf_check(@conf) with its diagnostics into *@ret_text; frees @conf */
static int
check_and_free(struct vf_conf *conf, char **ret_text)
{
    char *text = NULL;
    size_t len = 0;
    FILE *ms = open_memstream(&text, &len);
    int r = -1;

    if (ms != NULL) {
        r = vf_conf_check(conf, ms);
        fclose(ms);
    }
    vf_conf_free(conf);
    *ret_text = text;
    return r;
}

static int
run_one(const char *path, char **ret_text)
{
    struct vf_conf *conf = NULL;
    char err[1024];
    int r;

    r = vf_conf_parse_file(path, &conf, err, sizeof(err));
    if (r < 0) {
        *ret_text = strdup(err);
        return -1;
    }
    return check_and_free(conf, ret_text);
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
    int r;

    r = vf_conf_parse_buffer("c.conf", text, strlen(text), &conf, err, sizeof(err));
    VFT_EQ_INT(r, 0);
    if (r != 0) {
        *ret_diag = strdup(err);
        return -1;
    }
    return check_and_free(conf, ret_diag);
}

#define BASE "fence_virtd { listener = \"tcp\"; backend = \"libvirt\"; }\n" \
             "backends { libvirt { uri = \"qemu:///system\"; } }\n"

/* A configuration text, the number of errors it must give, and lines of
 * its diagnostics (each must appear; NULL = unused). */
struct conf_case {
    const char *conf;
    int errors;
    const char *diag[2];
};

static void
run_cases(const char *what, const struct conf_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *d = NULL;

        VFT_EQ_INT(check_buf(cases[i].conf, &d), cases[i].errors);
        for (size_t k = 0; k < 2 && cases[i].diag[k] != NULL; k++) {
            bool found = d != NULL && strstr(d, cases[i].diag[k]) != NULL;

            if (!found) {
                fprintf(stderr, "%s case %zu: \"%s\" missing in:\n%s\n", what, i,
                        cases[i].diag[k], d != NULL ? d : "");
            }
            VFT_CHECK(found);
        }
        free(d);
    }
}

/* The listeners and backends sections come from the registered plugins'
 * schemas (plugin.h): names, types, ranges, suggestions, the check hook. */
static void
test_schema_driven(void)
{
    static const struct conf_case cases[] = {
        /* the known names are the registry's, in its order */
        { "fence_virtd { listener = \"tcp,bogus\"; backend = \"libvirt\"; }\n", 0,
          { "unknown listener 'bogus' in fence_virtd/listener (known: multicast, tcp, vsock, "
            "serial)", NULL } },
        /* an enum with a suggestion; integer ranges from the schema */
        { BASE "listeners { tcp { family = \"ipv7\"; } }\n", 1,
          { "'listeners/tcp/family' = 'ipv7' is not one of ipv4, ipv6 (did you mean "
            "'ipv4'?)", NULL } },
        { BASE "listeners { vsock { port = \"0\"; } }\n", 1,
          { "c.conf:3: error: 'listeners/vsock/port' = '0' is out of range 1..65535", NULL } },
        { BASE "backends { cpg { fence_history = \"crm\"; } }\n", 1,
          { "'backends/cpg/fence_history' = 'crm' is not one of pacemaker, none", NULL } },
        /* the multicast schema's check hook, at the address's line */
        { BASE "listeners {\n multicast {\n family = \"ipv6\";\n address = \"225.0.0.12\";\n"
          " }\n}\n", 1,
          { "c.conf:6: error: 'listeners/multicast/address' = '225.0.0.12' is not an ipv6 "
            "address", NULL } },
        /* keys of one plugin are unknown in another's block */
        { BASE "listeners { vsock { interface = \"lo\"; } }\n", 0,
          { "unknown key 'interface' in listeners/vsock", NULL } },
    };

    run_cases("schema", cases, sizeof(cases) / sizeof(cases[0]));
}

/* HACKING.md's worked example, loaded as a module: its schema is checked too. */
static void
test_example_module(void)
{
    static const struct conf_case cases[] = {
        { "fence_virtd { listener = \"example\"; backend = \"libvirt\"; }\n"
          "backends { libvirt { uri = \"qemu:///system\"; } }\n"
          "listeners { example { backlog = \"500\"; bakclog = \"1\"; } }\n", 1,
          { "c.conf:3: error: 'listeners/example/backlog' = '500' is out of range 1..128",
            "unknown key 'bakclog' in listeners/example (did you mean 'backlog'?)" } },
    };
    struct stat st;

    if (stat(VF_TEST_MODULE_DIR "/plugin-example.so", &st) != 0) {
        VFT_CHECK(!"example module missing in " VF_TEST_MODULE_DIR);
        return;
    }
    vf_registry_fini();
    VFT_EQ_INT(vf_registry_init(VF_TEST_MODULE_DIR), 0);
    VFT_CHECK(vf_registry_listener("example") != NULL);
    run_cases("example", cases, sizeof(cases) / sizeof(cases[0]));
    vf_registry_fini();
    VFT_EQ_INT(vf_registry_init(NULL), 0);
}

static void
test_units(void)
{
    static const struct conf_case cases[] = {
        /* warnings do not count as errors */
        { BASE "listeners { tcp { prot = \"1\"; } }\n", 0,
          { "c.conf:3: warning: unknown key 'prot' in listeners/tcp (did you mean 'port'?)",
            NULL } },
        /* no suggestion when nothing is close */
        { BASE "listeners { tcp { zzzzzz = \"1\"; } }\n", 0,
          { "unknown key 'zzzzzz' in listeners/tcp\n", NULL } },
        /* uri1 without uri: allowed (the backend's default is the first URI) */
        { "fence_virtd { listener = \"tcp\"; backend = \"cpg\"; }\n"
          "backends { cpg { uri1 = \"a\"; } }\n", 0,
          { "backend 'cpg' is selected but backends/cpg/uri is not set", NULL } },
        /* uri0 and uri01 are not URI keys */
        { BASE "backends { libvirt { uri0 = \"a\"; uri01 = \"b\"; } }\n", 0,
          { "unknown key 'uri0' in backends/libvirt (did you mean 'uri'?)", NULL } },
        /* a CID and IPv6 are valid requesters; a group without uuid allows nothing */
        { BASE "groups { group { ip = \"3\"; ip = \"fe80::1\"; } }\n", 0,
          { "group 'unnamed-1' has no uuid entries", NULL } },
        /* CID beyond 32 bits */
        { BASE "groups { group { ip = \"4294967296\"; uuid = \"x\"; } }\n", 1, { NULL, NULL } },
        /* unknown listener: warning; listed twice: warning */
        { "fence_virtd { listener = \"tcp,multicst,TCP\"; backend = \"libvirt\"; }\n"
          "backends { libvirt { uri = \"x\"; } }\n", 0,
          { "unknown listener 'multicst' in fence_virtd/listener (known: multicast, tcp, "
            "vsock, serial) (did you mean 'multicast'?)", "listener 'TCP' is listed twice" } },
        /* numeric serial mode is accepted (reference: non-zero = vmchannel) */
        { BASE "listeners { serial { mode = \"1\"; } }\n", 0, { NULL, NULL } },
        /* repeated listener section: the earlier one is named */
        { BASE "listeners { tcp { port = \"1\"; } tcp { port = \"2\"; } }\n", 0,
          { "c.conf:3: warning: block 'listeners/tcp' is repeated on line 3; this one is "
            "ignored", NULL } },
        /*
         * Regression (R2 review): a mistyped top-level "groups" was a warning,
         * so the daemon started (or a reload applied) with no ACL at all.
         */
        { BASE "grups { group { ip = \"10.0.0.1\"; uuid = \"vm1\"; } }\n", 1,
          { "c.conf:3: error: unknown section 'grups' (did you mean 'groups'?); refusing a "
            "possibly mistyped ACL", NULL } },
        { BASE "acl { group { ip = \"10.0.0.1\"; uuid = \"vm1\"; } }\n", 1, { NULL, NULL } },
        /* other unknown sections stay warnings */
        { BASE "zzzzzz { a = \"1\"; }\n", 0, { NULL, NULL } },
    };

    run_cases("units", cases, sizeof(cases) / sizeof(cases[0]));
    /* NULL diag stream just counts */
    {
        struct vf_conf *conf = NULL;
        char err[128];

        VFT_EQ_INT(vf_conf_parse_buffer("x", "", 0, &conf, err, sizeof(err)), 0);
        VFT_EQ_INT(vf_conf_check(conf, NULL), 2);
        vf_conf_free(conf);
    }
}

/* ---- security warnings (fence_virt.conf(5), SECURITY) ------------------------ */

static char keydir[256];

/* Write @len bytes of @data to keydir/@name (mode 0600); returns the path. */
static const char *
write_key(const char *name, const char *data, char *path, size_t path_len)
{
    FILE *f = NULL;

    snprintf(path, path_len, "%s/%s", keydir, name);
    f = fopen(path, "we");
    VFT_CHECK(f != NULL);
    if (f != NULL) {
        VFT_CHECK(fputs(data, f) >= 0);
        VFT_CHECK(fclose(f) == 0);
        VFT_CHECK(chmod(path, 0600) == 0);
    }
    return path;
}

/* Check @conf (no errors expected); does the diagnostic text contain @want? */
static bool
diag_has(const char *conf, const char *want)
{
    char *d = NULL;
    bool found = false;

    VFT_EQ_INT(check_buf(conf, &d), 0);     /* warnings never count as errors */
    found = d != NULL && strstr(d, want) != NULL;
    if (getenv("VF_TEST_DEBUG") != NULL) {
        fprintf(stderr, "== want '%s': %s\n%s", want, found ? "found" : "absent",
                d != NULL ? d : "");
    }
    free(d);
    return found;
}

#define SEC_HEAD(listeners) \
    "fence_virtd { listener = \"" listeners "\"; backend = \"libvirt\"; }\n" \
    "backends { libvirt { uri = \"qemu:///system\"; } }\n"
#define SAME_FILE "use the same key file"
#define SAME_KEY "hold the same key"
#define SNIFFED "anyone on the guests' network sees fence_xvm's signed multicast datagrams, " \
                "and with one key a sniffed datagram also carries a valid signature for the tcp listener"

/* the key files the security cases quote (short paths under TMPDIR) */
static char mkey[320], tkey[320], vkey[320], key_copy[320], link_key[320];
static const char *const sec_groups =
    "groups { group { name = \"c1\"; ip = \"192.168.122.11\"; uuid = \"node1\"; } }\n";

static void
security_keys_make(void)
{
    const char *tmp = getenv("TMPDIR");

    /* short paths: they are quoted into the configurations below */
    if (tmp == NULL || strlen(tmp) > 200) {
        tmp = "/tmp";
    }
    snprintf(keydir, sizeof(keydir), "%s/vf-confcheck.XXXXXX", tmp);
    VFT_CHECK(mkdtemp(keydir) != NULL);
    write_key("mcast.key", "multicast key material\n", mkey, sizeof(mkey));
    write_key("tcp.key", "tcp key material\n", tkey, sizeof(tkey));
    write_key("vsock.key", "vsock key material\n", vkey, sizeof(vkey));
    write_key("copy.key", "multicast key material\n", key_copy, sizeof(key_copy));
    snprintf(link_key, sizeof(link_key), "%s/link.key", keydir);
    VFT_CHECK(symlink("mcast.key", link_key) == 0);
}

static void
security_keys_remove(void)
{
    unlink(link_key);
    unlink(key_copy);
    unlink(vkey);
    unlink(tkey);
    unlink(mkey);
    VFT_CHECK(rmdir(keydir) == 0);
}

/* (a) multicast and a stream listener sharing one key */
static void
test_security_shared_key(void)
{
    char conf[4096];

    /* (a) no key_file anywhere: both use the default key file */
    VFT_CHECK(diag_has(SEC_HEAD("multicast,tcp") "listeners { tcp { port = \"1230\"; } }\n",
                       "c.conf:3: warning: listeners/multicast and listeners/tcp use the same "
                       "key file '" VF_DEFAULT_KEY_FILE "': " SNIFFED "; give each transport "
                       "its own key file (dd if=/dev/urandom of=/etc/cluster/fence_virt_tcp.key "
                       "bs=4096 count=1, then set key_file in listeners/tcp and in the tcp "
                       "agents)"));
    /* (a) the same path, spelt differently (a symbolic link) */
    snprintf(conf, sizeof(conf), SEC_HEAD("tcp, multicast")
             "listeners {\n multicast { key_file = \"%s\"; }\n tcp { key_file = \"%s\"; }\n}\n",
             mkey, link_key);
    VFT_CHECK(diag_has(conf, "c.conf:5: warning: listeners/multicast and listeners/tcp "
                             SAME_FILE));
    /* (a) two files, the same bytes */
    snprintf(conf, sizeof(conf), SEC_HEAD("multicast,tcp")
             "listeners {\n multicast { key_file = \"%s\"; }\n tcp { key_file = \"%s\"; }\n}\n",
             mkey, key_copy);
    VFT_CHECK(diag_has(conf, "c.conf:5: warning: the key files of listeners/multicast"));
    VFT_CHECK(diag_has(conf, SAME_KEY ": " SNIFFED "; give each transport its own key (dd "
                             "if=/dev/urandom of=/etc/cluster/fence_virt_tcp.key bs=4096 "
                             "count=1)"));
    /* (a) vsock too; the named fix is a vsock key */
    snprintf(conf, sizeof(conf), SEC_HEAD("multicast,vsock")
             "listeners {\n multicast { key_file = \"%s\"; }\n vsock { key_file = \"%s\"; }\n}\n",
             mkey, mkey);
    VFT_CHECK(diag_has(conf, "listeners/multicast and listeners/vsock " SAME_FILE));
    VFT_CHECK(diag_has(conf, "of=/etc/cluster/fence_virt_vsock.key"));
    /* (a) absent: different keys; tcp and vsock sharing one (no multicast) */
    snprintf(conf, sizeof(conf), SEC_HEAD("multicast,tcp,vsock")
             "listeners {\n multicast { key_file = \"%s\"; }\n tcp { key_file = \"%s\"; }\n"
             " vsock { key_file = \"%s\"; }\n}\n", mkey, tkey, vkey);
    VFT_CHECK(!diag_has(conf, "warning:"));
    snprintf(conf, sizeof(conf), SEC_HEAD("tcp,vsock")
             "listeners {\n tcp { key_file = \"%s\"; }\n vsock { key_file = \"%s\"; }\n}\n",
             tkey, tkey);
    VFT_CHECK(!diag_has(conf, "warning:"));
    /* (a) absent: missing files with different names cannot be compared */
    VFT_CHECK(!diag_has(SEC_HEAD("multicast,tcp") "listeners { tcp { key_file = "
                        "\"/nonexistent/vf-tcp.key\"; } }\n", SAME_KEY));
    /* (a) absent: the tcp block exists but the listener is not enabled */
    snprintf(conf, sizeof(conf), SEC_HEAD("multicast")
             "listeners {\n multicast { key_file = \"%s\"; }\n tcp { key_file = \"%s\"; }\n}\n",
             mkey, mkey);
    VFT_CHECK(!diag_has(conf, "warning:"));
    /* (a) absent: the serial listener has no key (identity from the channel) */
    snprintf(conf, sizeof(conf), SEC_HEAD("multicast,serial")
             "listeners {\n multicast { key_file = \"%s\"; }\n serial { key_file = \"%s\"; }\n}\n",
             mkey, mkey);
    VFT_CHECK(!diag_has(conf, "warning:"));
    /* (a) absent: a multicast listener using no key at all (but (c) is there) */
    snprintf(conf, sizeof(conf), SEC_HEAD("multicast,tcp")
             "listeners {\n multicast { key_file = \"%s\"; hash = \"none\"; auth = \"none\"; }\n"
             " tcp { key_file = \"%s\"; }\n}\n", mkey, mkey);
    VFT_CHECK(!diag_has(conf, SAME_FILE));
    VFT_CHECK(diag_has(conf, "c.conf:4: warning: listeners/multicast/hash = 'none' and auth = "
                             "'none': requests are neither signed nor authenticated, so anyone "
                             "on the network who reaches this listener can fence; set hash = "
                             "\"sha256\" and auth = \"sha256\" (or sha512)"));
}

/* (b) groups while auth = "none" */
static void
test_security_auth_none(void)
{
    char conf[4096];

    /* (b) groups while auth = "none", per listener */
    snprintf(conf, sizeof(conf), SEC_HEAD("multicast")
             "listeners {\n multicast { key_file = \"%s\";\n auth = \"none\"; }\n}\n%s",
             mkey, sec_groups);
    VFT_CHECK(diag_has(conf, "c.conf:5: warning: listeners/multicast/auth = 'none' while groups "
                             "restrict access (group on line 7): the group identity of a "
                             "multicast request is the call-back address written in it: "
                             "without challenge/response anyone who connects first to the "
                             "agent's call-back port can answer, and any key holder can pose as "
                             "another guest; set auth = \"sha256\" (or sha512) here and in the "
                             "agents"));
    snprintf(conf, sizeof(conf), SEC_HEAD("tcp")
             "listeners {\n tcp { key_file = \"%s\"; auth = \"NONE\"; }\n}\n%s", tkey, sec_groups);
    VFT_CHECK(diag_has(conf, "c.conf:4: warning: listeners/tcp/auth = 'none' while groups "
                             "restrict access (group on line 6): the group identity is the "
                             "peer's IP address"));
    snprintf(conf, sizeof(conf), SEC_HEAD("vsock")
             "listeners {\n vsock { key_file = \"%s\"; auth = \"none\"; }\n}\n%s", vkey, sec_groups);
    VFT_CHECK(diag_has(conf, "listeners/vsock/auth = 'none' while groups restrict access (group "
                             "on line 6): the group identity is the peer's CID"));
    /* (b) absent: no groups; a groups section without a group; auth on */
    snprintf(conf, sizeof(conf), SEC_HEAD("tcp")
             "listeners {\n tcp { key_file = \"%s\"; auth = \"none\"; }\n}\n", tkey);
    VFT_CHECK(!diag_has(conf, "warning:"));
    snprintf(conf, sizeof(conf), SEC_HEAD("tcp")
             "listeners {\n tcp { key_file = \"%s\"; auth = \"none\"; }\n}\ngroups { }\n", tkey);
    VFT_CHECK(!diag_has(conf, "restrict access"));
    snprintf(conf, sizeof(conf), SEC_HEAD("tcp")
             "listeners {\n tcp { key_file = \"%s\"; auth = \"sha512\"; }\n}\n%s", tkey, sec_groups);
    VFT_CHECK(!diag_has(conf, "warning:"));
    /* (b) absent: the listener with auth none is not enabled */
    snprintf(conf, sizeof(conf), SEC_HEAD("tcp")
             "listeners {\n tcp { key_file = \"%s\"; }\n multicast { auth = \"none\"; }\n}\n%s",
             tkey, sec_groups);
    VFT_CHECK(!diag_has(conf, "warning:"));
}

/* (c) hash = "none"; and a clean setup that warns about nothing */
static void
test_security_hash_none(void)
{
    char conf[4096];

    /* (c) hash = "none" while auth is on */
    snprintf(conf, sizeof(conf), SEC_HEAD("tcp")
             "listeners {\n tcp { key_file = \"%s\"; hash = \"none\"; }\n}\n", tkey);
    VFT_CHECK(diag_has(conf, "c.conf:4: warning: listeners/tcp/hash = 'none': requests are not "
                             "signed, so anyone on the network can forge one and only the "
                             "challenge/response keeps it from fencing; set hash = \"sha256\" "
                             "(or sha512)"));
    snprintf(conf, sizeof(conf), SEC_HEAD("multicast")
             "listeners {\n multicast { key_file = \"%s\"; hash = \"none\"; }\n}\n", mkey);
    VFT_CHECK(diag_has(conf, "listeners/multicast/hash = 'none': requests are not signed, so "
                             "anyone on the network can forge one and only the "
                             "challenge/response keeps it from fencing (a forged multicast "
                             "request also makes fence_virtd connect to the call-back address "
                             "it names)"));
    /* (c) absent: sha1 and the default; the serial listener has no hash */
    snprintf(conf, sizeof(conf), SEC_HEAD("vsock")
             "listeners {\n vsock { key_file = \"%s\"; hash = \"sha1\"; }\n}\n", vkey);
    VFT_CHECK(!diag_has(conf, "warning:"));
    VFT_CHECK(!diag_has(SEC_HEAD("serial") "listeners { serial { hash = \"none\"; } }\n",
                        "requests are not signed"));
    /* (c) absent: hash none on a listener that is not enabled */
    snprintf(conf, sizeof(conf), SEC_HEAD("vsock")
             "listeners {\n vsock { key_file = \"%s\"; }\n tcp { hash = \"none\"; }\n}\n", vkey);
    VFT_CHECK(!diag_has(conf, "warning:"));

    /* a clean multi-transport setup: one key per transport, auth sha256, groups */
    snprintf(conf, sizeof(conf), SEC_HEAD("multicast,tcp,vsock,serial")
             "listeners {\n"
             " multicast { key_file = \"%s\"; hash = \"sha256\"; auth = \"sha256\"; }\n"
             " tcp { key_file = \"%s\"; hash = \"sha512\"; auth = \"sha256\"; }\n"
             " vsock { key_file = \"%s\"; auth = \"sha256\"; }\n"
             " serial { mode = \"vmchannel\"; }\n}\n%s", mkey, tkey, vkey, sec_groups);
    VFT_CHECK(!diag_has(conf, "warning:"));
}

static void
test_security(void)
{
    security_keys_make();
    test_security_shared_key();
    test_security_auth_none();
    test_security_hash_none();
    security_keys_remove();
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
    /* the plugins' schemas: REAL tables, FAKE ops (tests/conf-plugins.c) */
    VFT_EQ_INT(vf_registry_init(NULL), 0);
    VFT_RUN(test_good_fixtures);
    VFT_RUN(test_bad_fixtures);
    VFT_RUN(test_units);
    VFT_RUN(test_schema_driven);
    VFT_RUN(test_example_module);
    VFT_RUN(test_security);
    vf_registry_fini();
    VFT_EXIT();
}
