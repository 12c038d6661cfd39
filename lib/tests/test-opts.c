/*
 * vmfence - lib/tests/test-opts.c: unit tests of the agents' option table
 * and argv parser (lib/opts.c, lib/opts-values.c); the stdin parser is
 * tested in test-opts-stdin.c.
 *
 * Nothing is faked: the parsers are pure functions over argv arrays and
 * memory buffers; stdin is simulated with fmemopen().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "opts-helpers.h"
#include "vftest.h"

/* ---- defaults and table --------------------------------------------------- */

static void
test_defaults(void)
{
    struct vf_args a;

    vf_args_init(&a, VF_AGENT_XVM, "fence_xvm");
    VFT_EQ_INT(a.port, 1229);
    VFT_EQ_INT(a.retrans, 20);
    VFT_EQ_INT(a.timeout, 30);
    VFT_EQ_INT(a.delay, 0);
    VFT_EQ_INT(a.hash, VF_HASH_SHA256);
    VFT_EQ_INT(a.auth, VF_HASH_SHA256);
    VFT_EQ_STR(a.key_file, VF_DEFAULT_KEY_FILE);
    VFT_CHECK(!a.key_file_set);
    VFT_EQ_STR(a.action, "reboot");
    VFT_EQ_INT(a.cmd, VF_CMD_REBOOT);
    VFT_CHECK(a.domain == NULL);
    VFT_EQ_INT(a.family, AF_UNSPEC);
    VFT_EQ_INT(a.callback_port, 0);
    VFT_CHECK(a.interface == NULL);
    vf_args_done(&a);
    vf_args_done(&a);   /* twice: must be harmless */
    vf_args_done(NULL);
}

static void
test_kind_from_argv0(void)
{
    VFT_EQ_INT(vf_agent_kind_from_argv0("fence_xvm"), VF_AGENT_XVM);
    VFT_EQ_INT(vf_agent_kind_from_argv0("/usr/sbin/fence_xvm"), VF_AGENT_XVM);
    VFT_EQ_INT(vf_agent_kind_from_argv0("./my_xvm"), VF_AGENT_XVM);
    VFT_EQ_INT(vf_agent_kind_from_argv0("fence_virt"), VF_AGENT_VIRT);
    VFT_EQ_INT(vf_agent_kind_from_argv0("/x/fence_xvm/fence_virt"), VF_AGENT_VIRT);
    VFT_EQ_INT(vf_agent_kind_from_argv0(NULL), VF_AGENT_VIRT);
}

static const char *
keys_of(enum vf_agent_kind kind, char *buf, size_t len)
{
    const struct vf_opt *const *o = vf_opts_for(kind);
    size_t pos = 0;

    buf[0] = '\0';
    for (size_t i = 0; o[i] != NULL; i++) {
        pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", i ? " " : "", o[i]->key);
        if (pos >= len) {
            break;
        }
    }
    return buf;
}

static void
test_table_order(void)
{
    char buf[512];

    /* reference order (protocol.md 4.6), then new parameters */
    VFT_EQ_STR(keys_of(VF_AGENT_XVM, buf, sizeof(buf)),
               "debug ip_family multicast_address ipport retrans auth hash "
               "key_file plug port use_uuid action timeout delay domain "
               "interface callback_port diagnose");
    VFT_EQ_STR(keys_of(VF_AGENT_VIRT, buf, sizeof(buf)),
               "debug serial_device serial_params channel_address ipport plug "
               "port action timeout ipaddr vsock auth hash key_file delay domain");
}

static void
test_getopt_strings(void)
{
    /* the reference letters minus -M, plus -I and -L for fence_xvm */
    VFT_EQ_STR(vf_opts_getopt_string(VF_AGENT_XVM), "+:di:a:p:r:C:c:k:n:H:uo:t:w:I:L:hV");
    VFT_EQ_STR(vf_opts_getopt_string(VF_AGENT_VIRT), "+:dD:P:A:p:n:H:o:t:T:S::C:c:k:w:hV");
}

static void
test_table_attrs(void)
{
    const struct vf_opt *const *o = vf_opts_for(VF_AGENT_VIRT);
    bool seen_plug = false, seen_port = false;

    for (size_t i = 0; o[i] != NULL; i++) {
        VFT_CHECK(!o[i]->required);
        VFT_CHECK(o[i]->shortdesc != NULL && o[i]->shortdesc[0] != '\0');
        if (strcmp(o[i]->key, "plug") == 0) {
            seen_plug = true;
            VFT_EQ_STR(o[i]->obsoletes, "port");
            VFT_CHECK(!o[i]->deprecated);
        }
        if (strcmp(o[i]->key, "port") == 0) {
            seen_port = true;
            VFT_CHECK(o[i]->deprecated);
        }
        /* D23: no fake defaults */
        if (strcmp(o[i]->key, "ipaddr") == 0 || strcmp(o[i]->key, "vsock") == 0
            || strcmp(o[i]->key, "serial_device") == 0) {
            VFT_CHECK(o[i]->def == NULL);
        }
        if (strcmp(o[i]->key, "key_file") == 0) {
            VFT_EQ_STR(o[i]->def, VF_DEFAULT_KEY_FILE);
        }
    }
    VFT_CHECK(seen_plug && seen_port);
}

/* ---- argv ----------------------------------------------------------------- */

static void
test_argv_all_xvm(void)
{
    static const struct xvm_expect want = {
        .debug = 2, .family = AF_INET6, .mcast_addr = "ff05::1:2", .port = 1300,
        .retrans = 5, .auth = VF_HASH_SHA1, .hash = VF_HASH_SHA512, .key_file = "/tmp/k",
        .key_file_set = true, .domain = "vm1", .use_uuid = true, .cmd = VF_CMD_OFF,
        .timeout = 12, .delay = 3, .interface = "eth1", .callback_port = 40000,
    };
    struct vf_args a;
    char err[256];
    int r;

    r = argv_parse(&a, VF_AGENT_XVM, err, sizeof(err),
                   "-d", "-d", "-i", "ipv6", "-a", "ff05::1:2", "-p", "1300",
                   "-r", "5", "-C", "sha1", "-c", "sha512", "-k", "/tmp/k",
                   "-n", "vm1", "-u", "-o", "off", "-t", "12", "-w", "3",
                   "-I", "eth1", "-L", "40000", NULL);
    VFT_EQ_INT(r, 0);
    if (r < 0) {
        fprintf(stderr, "    err: %s\n", err);
    }
    expect_xvm_fields(&a, &want);
    VFT_EQ_STR(a.action, "off");
    VFT_EQ_INT(vf_args_finish(&a), 0);
    dump_problems(&a);
    VFT_EQ_INT(a.transport, VF_XPORT_MCAST);
    VFT_EQ_INT(a.family, AF_INET6);
    vf_args_done(&a);
}

static void
test_argv_all_virt(void)
{
    struct vf_args a;
    char err[256];
    int r;

    r = argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err),
                   "-d", "-D", "/dev/ttyS0", "-P", "9600,7E2", "-A", "10.1.2.3",
                   "-p", "2000", "-H", "vm2", "-o", "status", "-t", "5",
                   "-T", "::1", "-S7", "-C", "none", "-c", "sha1", "-k", "/k",
                   "-w", "0", NULL);
    VFT_EQ_INT(r, 0);
    if (r < 0) {
        fprintf(stderr, "    err: %s\n", err);
    }
    VFT_EQ_INT(a.debug, 1);
    VFT_EQ_STR(a.serial_device, "/dev/ttyS0");
    VFT_EQ_STR(a.serial_params, "9600,7E2");
    VFT_EQ_STR(a.channel_address, "10.1.2.3");
    VFT_EQ_INT(a.port, 2000);
    VFT_EQ_STR(a.domain, "vm2");
    VFT_EQ_INT(a.cmd, VF_CMD_STATUS);
    VFT_EQ_INT(a.timeout, 5);
    VFT_EQ_STR(a.ipaddr, "::1");
    VFT_EQ_INT(a.vsock_cid, 7);
    VFT_EQ_INT(a.auth, VF_HASH_NONE);
    VFT_EQ_INT(a.hash, VF_HASH_SHA1);
    VFT_EQ_INT(vf_args_finish(&a), 0);
    VFT_EQ_INT(a.transport, VF_XPORT_VSOCK);   /* vsock overrides tcp and serial */
    vf_args_done(&a);
}

static void
test_argv_long_options(void)
{
    struct vf_args a;
    char err[256];

    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "--plug=vm 3",
                          "--ipport", "99", "--callback_port=1500", "--debug", NULL), 0);
    VFT_EQ_STR(a.domain, "vm 3");
    VFT_EQ_INT(a.port, 99);
    VFT_EQ_INT(a.callback_port, 1500);
    VFT_EQ_INT(a.debug, 1);
    vf_args_done(&a);

    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "--bogus", NULL), -EINVAL);
    VFT_EQ_STR(err, "fence_xvm: unknown option '--bogus'");
    vf_args_done(&a);
    /* a fence_virt-only long option is unknown to fence_xvm */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "--ipaddr=::1", NULL), -EINVAL);
    vf_args_done(&a);
}

static void
test_argv_help_version(void)
{
    struct vf_args a;
    char *argv[3];
    char a0[] = "fence_xvm", h[] = "-h", q[] = "-?", v[] = "-V", lh[] = "--help";
    bool help, version;

    vf_args_init(&a, VF_AGENT_XVM, "fence_xvm");
    argv[0] = a0; argv[1] = h; argv[2] = NULL;
    VFT_EQ_INT(vf_args_parse_argv(&a, 2, argv, &help, &version, NULL, 0), 0);
    VFT_CHECK(help && !version);
    argv[1] = q;
    VFT_EQ_INT(vf_args_parse_argv(&a, 2, argv, &help, &version, NULL, 0), 0);
    VFT_CHECK(help && !version);
    argv[1] = v;
    VFT_EQ_INT(vf_args_parse_argv(&a, 2, argv, &help, &version, NULL, 0), 0);
    VFT_CHECK(!help && version);
    argv[1] = lh;
    VFT_EQ_INT(vf_args_parse_argv(&a, 2, argv, &help, &version, NULL, 0), 0);
    VFT_CHECK(help);
    vf_args_done(&a);
}

/* one command line, what parsing it returns and what err (or the target) says */
struct argv_case {
    enum vf_agent_kind kind;
    const char *arg[4];         /* up to four arguments, NULL-terminated */
    int rc;
    const char *exact;          /* err is exactly this, or NULL */
    const char *has[2];         /* err contains these (NULL: not checked) */
    const char *domain;         /* the target after parsing (NULL: not checked) */
};

static void
run_argv_cases(const struct argv_case *cases, size_t n)
{
    struct vf_args a;
    char err[256];

    for (size_t i = 0; i < n; i++) {
        const struct argv_case *c = &cases[i];

        VFT_EQ_INT(argv_parse(&a, c->kind, err, sizeof(err), c->arg[0], c->arg[1],
                              c->arg[2], c->arg[3], NULL), c->rc);
        if (c->exact != NULL) {
            VFT_EQ_STR(err, c->exact);
        }
        if (c->has[0] != NULL) {
            VFT_CHECK(strstr(err, c->has[0]) != NULL &&
                      (c->has[1] == NULL || strstr(err, c->has[1]) != NULL));
        }
        if (c->domain != NULL) {
            VFT_EQ_STR(a.domain, c->domain);
        }
        vf_args_done(&a);
    }
}

static void
test_argv_errors(void)
{
    static const struct argv_case cases[] = {
        /* D3: unknown option is an error, not help + exit 0 */
        { VF_AGENT_XVM, { "-Z" }, -EINVAL, "fence_xvm: unknown option '-Z'", { NULL } },
        /* -M was in the reference getopt string but never handled */
        { VF_AGENT_VIRT, { "-M" }, -EINVAL, "fence_virt: unknown option '-M'", { NULL } },
        /* letters of the other binary */
        { VF_AGENT_XVM, { "-T", "::1" }, -EINVAL, "fence_xvm: unknown option '-T'", { NULL } },
        { VF_AGENT_VIRT, { "-u" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_VIRT, { "-L", "5" }, -EINVAL, NULL, { NULL } },
        /* missing argument */
        { VF_AGENT_XVM, { "-p" }, -EINVAL, "fence_xvm: option '-p' requires an argument",
          { NULL } },
        /* bad values name the option */
        { VF_AGENT_XVM, { "-p", "0" }, -EINVAL, NULL, { "-p (ipport)", "'0'" } },
        { VF_AGENT_XVM, { "-p", "70000" }, -EINVAL, NULL, { "'70000'" } },
        { VF_AGENT_XVM, { "-p", "12x" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_XVM, { "-p", "-5" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_XVM, { "-p", " 5" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_XVM, { "-c", "md5" }, -EINVAL, NULL, { "-c (hash)" } },
        { VF_AGENT_XVM, { "-C", "sha3" }, -EINVAL, NULL, { "-C (auth)" } },
        { VF_AGENT_XVM, { "-i", "ipx" }, -EINVAL, NULL, { "ip_family" } },
        { VF_AGENT_XVM, { "-t", "abc" }, -EINVAL, NULL, { "-t (timeout)" } },
        { VF_AGENT_XVM, { "-t", "0" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_XVM, { "-w", "-1" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_XVM, { "-r", "0" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_XVM, { "-a", "10.0.0.1" }, -EINVAL, NULL, { "multicast" } },
        { VF_AGENT_XVM, { "-o", "explode" }, -EINVAL, NULL, { "'explode'", "-o (action)" } },
        { VF_AGENT_XVM, { "-L", "0" }, -EINVAL, NULL, { "callback_port" } },
        { VF_AGENT_XVM, { "-I", "averyveryverylonginterfacename" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_VIRT, { "-T", "host.example" }, -EINVAL, NULL, { "-T (ipaddr)" } },
        { VF_AGENT_VIRT, { "-P", "fast" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_VIRT, { "-P", "12345" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_VIRT, { "-P", "9600,9N1" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_VIRT, { "-P", "9600,8X1" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_VIRT, { "-P", "9600,8N3" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_VIRT, { "-P", "9600,8N1x" }, -EINVAL, NULL, { NULL } },
        { VF_AGENT_VIRT, { "-P", "2400" }, 0, NULL, { NULL } },
        /* domain longer than the 63-byte wire limit */
        { VF_AGENT_XVM,
          { "-n", "0123456789012345678901234567890123456789012345678901234567890123" },
          -EINVAL, NULL, { "63", "-n (plug)" } },
        /* exactly 63 is fine */
        { VF_AGENT_XVM,
          { "-n", "012345678901234567890123456789012345678901234567890123456789012" },
          0, NULL, { NULL } },
        /* stray argument */
        { VF_AGENT_XVM, { "-n", "vm", "extra" }, -EINVAL,
          "fence_xvm: unexpected argument 'extra'", { NULL } },
    };
    struct vf_args a;
    char err[256];

    run_argv_cases(cases, sizeof(cases) / sizeof(cases[0]));
    /* an accepted value is kept as given */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-P", ",7o2", NULL), 0);
    VFT_EQ_STR(a.serial_params, ",7o2");
    vf_args_done(&a);
}

static void
test_argv_target_twice(void)
{
    static const struct argv_case cases[] = {
        { VF_AGENT_XVM, { "-n", "a", "-H", "b" }, -EINVAL, NULL,
          { "target may not be specified more than once" }, NULL },
        /* the same value under both names is accepted */
        { VF_AGENT_XVM, { "-n", "a", "-H", "a" }, 0, NULL, { NULL }, "a" },
        /* the same option repeated: last wins */
        { VF_AGENT_XVM, { "-n", "a", "-n", "b" }, 0, NULL, { NULL }, "b" },
        /* -H alone (deprecated) sets the target */
        { VF_AGENT_VIRT, { "-H", "c" }, 0, NULL, { NULL }, "c" },
    };

    run_argv_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/*
 * -S takes an optional argument, which getopt only accepts attached:
 * "-S3" = CID 3, "-S" = CID 2, "-S 3" = CID 2 followed by a stray "3",
 * which we report as an error (the reference silently used CID 2).
 */
static void
test_argv_vsock_quirk(void)
{
    struct vf_args a;
    char err[256];

    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-S3", "-o", "list", NULL), 0);
    VFT_EQ_INT(a.vsock_cid, 3);
    VFT_EQ_INT(vf_args_finish(&a), 0);
    VFT_EQ_INT(a.transport, VF_XPORT_VSOCK);
    vf_args_done(&a);

    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-S", "-o", "list", NULL), 0);
    VFT_EQ_INT(a.vsock_cid, 2);
    vf_args_done(&a);

    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-o", "list", "-S", "3", NULL),
               -EINVAL);
    VFT_CHECK(strstr(err, "unexpected argument '3'") != NULL);
    VFT_CHECK(strstr(err, "-S<cid>") != NULL);
    vf_args_done(&a);

    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "--vsock=0x10", NULL), 0);
    VFT_EQ_INT(a.vsock_cid, 16);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-S1", NULL), -EINVAL);
    VFT_CHECK(strstr(err, "vsock") != NULL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-S4294967295", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-S4294967294", NULL), 0);
    VFT_EQ_INT(a.vsock_cid, 0xfffffffeu);
    vf_args_done(&a);
}

static void
test_argv_reparse(void)
{
    struct vf_args a;
    char err[256];

    /* getopt state must be reset between calls */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-Z", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-n", "x", "-o", "on", NULL), 0);
    VFT_EQ_STR(a.domain, "x");
    VFT_EQ_INT(a.cmd, VF_CMD_ON);
    vf_args_done(&a);
}

/* ---- finish --------------------------------------------------------------- */

static void
finish_case(enum vf_agent_kind kind, const char *text, int want_rc, int want_xport)
{
    struct vf_args a;

    stdin_parse(&a, kind, text);
    VFT_EQ_INT(vf_args_finish(&a), want_rc);
    if (want_rc == 0) {
        VFT_EQ_INT(a.transport, want_xport);
    }
    if (vf_args_finish(&a) != want_rc) {
        fprintf(stderr, "    input: %s\n", text);
        dump_problems(&a);
    }
    vf_args_done(&a);
}

static void
test_finish_transport(void)
{
    finish_case(VF_AGENT_XVM, "plug=a\n", 0, VF_XPORT_MCAST);
    finish_case(VF_AGENT_VIRT, "plug=a\n", 0, VF_XPORT_VMCHANNEL);
    finish_case(VF_AGENT_VIRT, "plug=a\nserial_device=/dev/ttyS1\n", 0, VF_XPORT_SERIAL);
    finish_case(VF_AGENT_VIRT, "plug=a\nserial_device=/dev/ttyS1\nipaddr=::1\n", 0,
                VF_XPORT_TCP);
    finish_case(VF_AGENT_VIRT, "plug=a\nipaddr=127.0.0.1\n", 0, VF_XPORT_TCP);
    finish_case(VF_AGENT_VIRT, "plug=a\nipaddr=127.0.0.1\nvsock=2\n", 0, VF_XPORT_VSOCK);
    finish_case(VF_AGENT_VIRT, "plug=a\nvsock\n", 0, VF_XPORT_VSOCK);
}

static void
test_finish_target(void)
{
    /* actions that need no target */
    finish_case(VF_AGENT_XVM, "action=list\n", 0, VF_XPORT_MCAST);
    finish_case(VF_AGENT_XVM, "action=list-status\n", 0, VF_XPORT_MCAST);
    finish_case(VF_AGENT_XVM, "action=monitor\n", 0, VF_XPORT_MCAST);
    finish_case(VF_AGENT_XVM, "action=metadata\n", 0, VF_XPORT_MCAST);
    /* actions that do */
    finish_case(VF_AGENT_XVM, "action=validate-all\n", -EINVAL, 0);
    finish_case(VF_AGENT_XVM, "action=off\n", -EINVAL, 0);
    finish_case(VF_AGENT_XVM, "action=null\n", -EINVAL, 0);
    finish_case(VF_AGENT_XVM, "\n", -EINVAL, 0);   /* default reboot */
    finish_case(VF_AGENT_XVM, "action=validate-all\ndomain=x\n", 0, VF_XPORT_MCAST);
}

static void
test_finish_family(void)
{
    struct vf_args a;

    stdin_parse(&a, VF_AGENT_XVM, "plug=a\n");
    VFT_EQ_INT(vf_args_finish(&a), 0);
    VFT_EQ_INT(a.family, AF_INET);
    VFT_EQ_STR(a.mcast_addr, "225.0.0.12");
    vf_args_done(&a);

    stdin_parse(&a, VF_AGENT_XVM, "plug=a\nip_family=ipv6\n");
    VFT_EQ_INT(vf_args_finish(&a), 0);
    VFT_EQ_INT(a.family, AF_INET6);
    VFT_EQ_STR(a.mcast_addr, "ff05::3:1");
    vf_args_done(&a);

    stdin_parse(&a, VF_AGENT_XVM, "plug=a\nmulticast_address=ff02::3:1\n");
    VFT_EQ_INT(vf_args_finish(&a), 0);
    VFT_EQ_INT(a.family, AF_INET6);
    vf_args_done(&a);

    stdin_parse(&a, VF_AGENT_XVM, "plug=a\nmulticast_address=ff02::3:1\nip_family=ipv4\n");
    VFT_EQ_INT(vf_args_finish(&a), -EINVAL);
    VFT_CHECK(has_problem(&a, "not an IPv4 address"));
    vf_args_done(&a);

    stdin_parse(&a, VF_AGENT_VIRT, "plug=a\nipaddr=::1\n");
    VFT_EQ_INT(vf_args_finish(&a), 0);
    VFT_EQ_INT(a.family, AF_INET6);
    vf_args_done(&a);
}

/* ---- help ----------------------------------------------------------------- */

/* the --help text of @kind (free it), NULL when memory ran out */
static char *
help_text(enum vf_agent_kind kind)
{
    struct vf_args a;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL) {
        return NULL;
    }
    vf_args_init(&a, kind, kind == VF_AGENT_XVM ? "fence_xvm" : "fence_virt");
    vf_args_print_help(&a, f);
    fclose(f);
    vf_args_done(&a);
    return text;
}

static void
test_help(void)
{
    char *text = help_text(VF_AGENT_XVM);

    VFT_CHECK(text != NULL);
    if (text == NULL) {
        return;
    }
    VFT_CHECK(strstr(text, "Usage: fence_xvm") != NULL);
    VFT_CHECK(strstr(text, "-p <port>") != NULL);
    VFT_CHECK(strstr(text, "ipport") != NULL);
    VFT_CHECK(strstr(text, "[default: 1229]") != NULL);
    VFT_CHECK(strstr(text, "callback_port") != NULL);
    VFT_CHECK(strstr(text, "ipaddr") == NULL);
    free(text);

    text = help_text(VF_AGENT_VIRT);
    VFT_CHECK(text != NULL);
    if (text == NULL) {
        return;
    }
    VFT_CHECK(strstr(text, "-S[<cid>]") != NULL);
    VFT_CHECK(strstr(text, "retrans") == NULL);
    VFT_CHECK(strstr(text, "[default: " VF_DEFAULT_KEY_FILE "]") != NULL);
    free(text);
}

int
main(void)
{
    VFT_RUN(test_defaults);
    VFT_RUN(test_kind_from_argv0);
    VFT_RUN(test_table_order);
    VFT_RUN(test_getopt_strings);
    VFT_RUN(test_table_attrs);
    VFT_RUN(test_argv_all_xvm);
    VFT_RUN(test_argv_all_virt);
    VFT_RUN(test_argv_long_options);
    VFT_RUN(test_argv_help_version);
    VFT_RUN(test_argv_errors);
    VFT_RUN(test_argv_target_twice);
    VFT_RUN(test_argv_vsock_quirk);
    VFT_RUN(test_argv_reparse);
    VFT_RUN(test_finish_transport);
    VFT_RUN(test_finish_target);
    VFT_RUN(test_finish_family);
    VFT_RUN(test_help);
    VFT_EXIT();
}
