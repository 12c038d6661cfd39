/*
 * vmfence - lib/tests/test-opts.c: unit tests of the agents' option table
 * and parsers (lib/opts.c).
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

#include "opts.h"
#include "vftest.h"

#define MAX_ARGS 32

/* parse a NULL-terminated list of arguments for @kind into @a */
static int
argv_parse(struct vf_args *a, enum vf_agent_kind kind, char *err, size_t err_len, ...)
{
    char *argv[MAX_ARGS + 2];
    char storage[MAX_ARGS + 1][128];
    bool help = false, version = false;
    va_list ap;
    int argc = 0;
    const char *s;

    vf_args_init(a, kind, kind == VF_AGENT_XVM ? "fence_xvm" : "fence_virt");
    snprintf(storage[0], sizeof(storage[0]), "%s", a->progname);
    argv[argc++] = storage[0];
    va_start(ap, err_len);
    while ((s = va_arg(ap, const char *)) != NULL && argc <= MAX_ARGS) {
        snprintf(storage[argc], sizeof(storage[argc]), "%s", s);
        argv[argc] = storage[argc];
        argc++;
    }
    va_end(ap);
    argv[argc] = NULL;
    return vf_args_parse_argv(a, argc, argv, &help, &version, err, err_len);
}

static int
stdin_parse(struct vf_args *a, enum vf_agent_kind kind, const char *text)
{
    char err[256];

    vf_args_init(a, kind, kind == VF_AGENT_XVM ? "fence_xvm" : "fence_virt");
    return vf_args_parse_buffer(a, text, strlen(text), err, sizeof(err));
}

static bool
has_problem(const struct vf_args *a, const char *needle)
{
    for (size_t i = 0; i < a->n_problems; i++) {
        if (a->problems[i] != NULL && strstr(a->problems[i], needle) != NULL) {
            return true;
        }
    }
    return false;
}

static bool
has_unknown(const struct vf_args *a, const char *key)
{
    for (size_t i = 0; i < a->n_unknown; i++) {
        if (strcmp(a->unknown[i], key) == 0) {
            return true;
        }
    }
    return false;
}

static void
dump_problems(const struct vf_args *a)
{
    for (size_t i = 0; i < a->n_problems; i++) {
        fprintf(stderr, "    problem: %s\n", a->problems[i]);
    }
}

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
    VFT_EQ_INT(a.debug, 2);
    VFT_EQ_INT(a.family, AF_INET6);
    VFT_EQ_STR(a.mcast_addr, "ff05::1:2");
    VFT_EQ_INT(a.port, 1300);
    VFT_EQ_INT(a.retrans, 5);
    VFT_EQ_INT(a.auth, VF_HASH_SHA1);
    VFT_EQ_INT(a.hash, VF_HASH_SHA512);
    VFT_EQ_STR(a.key_file, "/tmp/k");
    VFT_CHECK(a.key_file_set);
    VFT_EQ_STR(a.domain, "vm1");
    VFT_CHECK(a.use_uuid);
    VFT_EQ_STR(a.action, "off");
    VFT_EQ_INT(a.cmd, VF_CMD_OFF);
    VFT_EQ_INT(a.timeout, 12);
    VFT_EQ_INT(a.delay, 3);
    VFT_EQ_STR(a.interface, "eth1");
    VFT_EQ_INT(a.callback_port, 40000);
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

static void
test_argv_errors(void)
{
    struct vf_args a;
    char err[256];

    /* D3: unknown option is an error, not help + exit 0 */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-Z", NULL), -EINVAL);
    VFT_EQ_STR(err, "fence_xvm: unknown option '-Z'");
    vf_args_done(&a);
    /* -M was in the reference getopt string but never handled */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-M", NULL), -EINVAL);
    VFT_EQ_STR(err, "fence_virt: unknown option '-M'");
    vf_args_done(&a);
    /* letters of the other binary */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-T", "::1", NULL), -EINVAL);
    VFT_EQ_STR(err, "fence_xvm: unknown option '-T'");
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-u", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-L", "5", NULL), -EINVAL);
    vf_args_done(&a);
    /* missing argument */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-p", NULL), -EINVAL);
    VFT_EQ_STR(err, "fence_xvm: option '-p' requires an argument");
    vf_args_done(&a);

    /* bad values name the option */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-p", "0", NULL), -EINVAL);
    VFT_CHECK(strstr(err, "-p (ipport)") != NULL && strstr(err, "'0'") != NULL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-p", "70000", NULL), -EINVAL);
    VFT_CHECK(strstr(err, "'70000'") != NULL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-p", "12x", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-p", "-5", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-p", " 5", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-c", "md5", NULL), -EINVAL);
    VFT_CHECK(strstr(err, "-c (hash)") != NULL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-C", "sha3", NULL), -EINVAL);
    VFT_CHECK(strstr(err, "-C (auth)") != NULL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-i", "ipx", NULL), -EINVAL);
    VFT_CHECK(strstr(err, "ip_family") != NULL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-t", "abc", NULL), -EINVAL);
    VFT_CHECK(strstr(err, "-t (timeout)") != NULL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-t", "0", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-w", "-1", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-r", "0", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-a", "10.0.0.1", NULL), -EINVAL);
    VFT_CHECK(strstr(err, "multicast") != NULL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-o", "explode", NULL), -EINVAL);
    VFT_CHECK(strstr(err, "'explode'") != NULL && strstr(err, "-o (action)") != NULL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-L", "0", NULL), -EINVAL);
    VFT_CHECK(strstr(err, "callback_port") != NULL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-I",
                          "averyveryverylonginterfacename", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-T", "host.example", NULL),
               -EINVAL);
    VFT_CHECK(strstr(err, "-T (ipaddr)") != NULL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-P", "fast", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-P", "12345", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-P", "9600,9N1", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-P", "9600,8X1", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-P", "9600,8N3", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-P", "9600,8N1x", NULL), -EINVAL);
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-P", ",7o2", NULL), 0);
    VFT_EQ_STR(a.serial_params, ",7o2");
    vf_args_done(&a);
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-P", "2400", NULL), 0);
    vf_args_done(&a);
    /* domain longer than the 63-byte wire limit */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-n",
                          "0123456789012345678901234567890123456789012345678901234567890123",
                          NULL), -EINVAL);
    VFT_CHECK(strstr(err, "63") != NULL && strstr(err, "-n (plug)") != NULL);
    vf_args_done(&a);
    /* exactly 63 is fine */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-n",
                          "012345678901234567890123456789012345678901234567890123456789012",
                          NULL), 0);
    vf_args_done(&a);
    /* stray argument */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-n", "vm", "extra", NULL),
               -EINVAL);
    VFT_EQ_STR(err, "fence_xvm: unexpected argument 'extra'");
    vf_args_done(&a);
}

static void
test_argv_target_twice(void)
{
    struct vf_args a;
    char err[256];

    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-n", "a", "-H", "b", NULL),
               -EINVAL);
    VFT_CHECK(strstr(err, "target may not be specified more than once") != NULL);
    vf_args_done(&a);
    /* the same value under both names is accepted */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-n", "a", "-H", "a", NULL), 0);
    VFT_EQ_STR(a.domain, "a");
    vf_args_done(&a);
    /* the same option repeated: last wins */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_XVM, err, sizeof(err), "-n", "a", "-n", "b", NULL), 0);
    VFT_EQ_STR(a.domain, "b");
    vf_args_done(&a);
    /* -H alone (deprecated) sets the target */
    VFT_EQ_INT(argv_parse(&a, VF_AGENT_VIRT, err, sizeof(err), "-H", "c", NULL), 0);
    VFT_EQ_STR(a.domain, "c");
    vf_args_done(&a);
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

/* ---- stdin ---------------------------------------------------------------- */

static void
test_stdin_all_keys_xvm(void)
{
    struct vf_args a;

    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM,
                           "debug=3\n"
                           "ip_family=ipv4\n"
                           "multicast_address=225.0.0.99\n"
                           "ipport=1300\n"
                           "retrans=7\n"
                           "auth=sha512\n"
                           "hash=none\n"
                           "key_file=/etc/k\n"
                           "plug=vm1\n"
                           "use_uuid=1\n"
                           "action=on\n"
                           "timeout=9\n"
                           "delay=4\n"
                           "interface=br0\n"
                           "callback_port=1500\n"
                           "nodename=node1\n"
                           "agent=fence_xvm\n"
                           "self=x\n"), 0);
    dump_problems(&a);
    VFT_EQ_INT(a.n_problems, 0);
    VFT_EQ_INT(a.n_unknown, 0);
    VFT_EQ_INT(a.debug, 3);
    VFT_EQ_INT(a.family, AF_INET);
    VFT_EQ_STR(a.mcast_addr, "225.0.0.99");
    VFT_EQ_INT(a.port, 1300);
    VFT_EQ_INT(a.retrans, 7);
    VFT_EQ_INT(a.auth, VF_HASH_SHA512);
    VFT_EQ_INT(a.hash, VF_HASH_NONE);
    VFT_EQ_STR(a.key_file, "/etc/k");
    VFT_CHECK(a.key_file_set);
    VFT_EQ_STR(a.domain, "vm1");
    VFT_CHECK(a.use_uuid);
    VFT_EQ_INT(a.cmd, VF_CMD_ON);
    VFT_EQ_INT(a.timeout, 9);
    VFT_EQ_INT(a.delay, 4);
    VFT_EQ_STR(a.interface, "br0");
    VFT_EQ_INT(a.callback_port, 1500);
    VFT_EQ_INT(vf_args_finish(&a), 0);
    vf_args_done(&a);
}

static void
test_stdin_all_keys_virt(void)
{
    struct vf_args a;

    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_VIRT,
                           "serial_device=/dev/ttyS2\n"
                           "serial_params=19200\n"
                           "channel_address=10.9.9.9\n"
                           "port=vm2\n"
                           "ipaddr=127.0.0.1\n"
                           "vsock=5\n"
                           "option=status\n"), 0);
    dump_problems(&a);
    VFT_EQ_INT(a.n_problems, 0);
    VFT_EQ_STR(a.serial_device, "/dev/ttyS2");
    VFT_EQ_STR(a.serial_params, "19200");
    VFT_EQ_STR(a.channel_address, "10.9.9.9");
    VFT_EQ_STR(a.domain, "vm2");
    VFT_EQ_STR(a.ipaddr, "127.0.0.1");
    VFT_EQ_INT(a.vsock_cid, 5);
    VFT_EQ_INT(a.cmd, VF_CMD_STATUS);   /* "option" is an alias of action */
    vf_args_done(&a);
}

static void
test_stdin_format(void)
{
    struct vf_args a;

    /* D23: whole values with inner blanks, blanks around '=', CRLF, comments */
    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM,
                           "# a comment\n"
                           "   \n"
                           "  port=my vm  \r\n"
                           "ACTION = off\n"
                           "\tTimeout\t=\t17\n"
                           "#plug=other\n"), 0);
    dump_problems(&a);
    VFT_EQ_INT(a.n_problems, 0);
    VFT_EQ_STR(a.domain, "my vm");
    VFT_EQ_INT(a.cmd, VF_CMD_OFF);
    VFT_EQ_INT(a.timeout, 17);
    vf_args_done(&a);

    /* no trailing newline, value with '=' and '#' inside */
    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM, "plug=a=b#c"), 0);
    VFT_EQ_STR(a.domain, "a=b#c");
    vf_args_done(&a);

    /* empty input */
    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM, ""), 0);
    VFT_EQ_INT(a.n_problems, 0);
    vf_args_done(&a);
}

static void
test_stdin_duplicates(void)
{
    struct vf_args a;

    /* last duplicate wins, also for the target */
    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM, "plug=a\nplug=b\ntimeout=5\ntimeout=6\n"), 0);
    VFT_EQ_INT(a.n_problems, 0);
    VFT_EQ_STR(a.domain, "b");
    VFT_EQ_INT(a.timeout, 6);
    vf_args_done(&a);

    /* port and plug with the same value (what Pacemaker may send) */
    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM, "nodename=n1\nport=vm\nplug=vm\n"), 0);
    VFT_EQ_INT(a.n_problems, 0);
    VFT_EQ_STR(a.domain, "vm");
    vf_args_done(&a);

    /* different values under two names: a problem */
    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM, "port=vm1\nplug=vm2\n"), 0);
    VFT_CHECK(has_problem(&a, "target may not be specified more than once"));
    VFT_EQ_STR(a.domain, "vm2");   /* plug kept, so "no target" is not added */
    VFT_EQ_INT(vf_args_finish(&a), -EINVAL);
    VFT_EQ_INT(a.n_problems, 1);
    vf_args_done(&a);

    /* same key repeated with a different value, then the other name: the
     * last value of each key is compared */
    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM, "port=x\nport=vm\ndomain=vm\n"), 0);
    VFT_EQ_INT(a.n_problems, 0);
    VFT_EQ_STR(a.domain, "vm");
    vf_args_done(&a);
}

static void
test_stdin_nodename_not_target(void)
{
    struct vf_args a;

    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM, "action=reboot\nnodename=node1\n"), 0);
    VFT_CHECK(a.domain == NULL);
    VFT_EQ_INT(vf_args_finish(&a), -EINVAL);
    VFT_CHECK(has_problem(&a, "no target"));
    vf_args_done(&a);
}

static void
test_stdin_unknown(void)
{
    struct vf_args a;

    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM,
                           "port=vm\nmulticast_addres=1\nkey_fiel=x\nfoo\nkey_fiel=y\n"
                           "ipaddr=127.0.0.1\n"), 0);
    VFT_EQ_INT(a.n_problems, 0);
    VFT_EQ_INT(a.n_unknown, 4);   /* key_fiel only once */
    VFT_CHECK(has_unknown(&a, "multicast_addres"));
    VFT_CHECK(has_unknown(&a, "key_fiel"));
    VFT_CHECK(has_unknown(&a, "foo"));
    VFT_CHECK(has_unknown(&a, "ipaddr"));
    VFT_EQ_STR(vf_opts_other_agent_hint(VF_AGENT_XVM, "ipaddr"), "valid only for fence_virt");
    VFT_EQ_STR(vf_opts_other_agent_hint(VF_AGENT_VIRT, "RETRANS"), "valid only for fence_xvm");
    VFT_CHECK(vf_opts_other_agent_hint(VF_AGENT_XVM, "foo") == NULL);
    VFT_CHECK(vf_opts_other_agent_hint(VF_AGENT_XVM, "plug") == NULL);
    /* unknown keys are not problems: runtime goes on */
    VFT_EQ_INT(vf_args_finish(&a), 0);
    vf_args_done(&a);

    /* dlm_controld style keys */
    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_VIRT, "node=3\nfail_time=12\nplug=vm\n"), 0);
    VFT_EQ_INT(a.n_unknown, 2);
    vf_args_done(&a);
}

static void
test_stdin_no_value(void)
{
    struct vf_args a;

    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM, "debug\ndebug\nuse_uuid\nplug=v\n"), 0);
    VFT_EQ_INT(a.debug, 2);
    VFT_CHECK(a.use_uuid);
    vf_args_done(&a);

    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM, "use_uuid=0\ndebug=0\n"), 0);
    VFT_CHECK(!a.use_uuid);
    VFT_EQ_INT(a.debug, 0);
    vf_args_done(&a);

    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_VIRT, "vsock\n"), 0);
    VFT_EQ_INT(a.vsock_cid, 2);
    vf_args_done(&a);

    /* a key that needs a value */
    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM, "timeout\nkey_file=\n"), 0);
    VFT_CHECK(has_problem(&a, "line 1: 'timeout' needs a value"));
    VFT_CHECK(has_problem(&a, "line 2: 'key_file'"));
    vf_args_done(&a);

    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM, "=value\n"), 0);
    VFT_CHECK(has_problem(&a, "missing key"));
    vf_args_done(&a);
}

static void
test_stdin_bad_values(void)
{
    struct vf_args a;

    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM,
                           "ipport=70000\n"
                           "hash=md5\n"
                           "ip_family=ipx\n"
                           "timeout=soon\n"
                           "plug=0123456789012345678901234567890123456789012345678901234567890123\n"
                           "action=explode\n"
                           "delay=-1\n"
                           "callback_port=0\n"
                           "retrans=0\n"
                           "multicast_address=1.2.3.4\n"), 0);
    VFT_EQ_INT(a.n_problems, 10);
    VFT_CHECK(has_problem(&a, "line 1: invalid value '70000' for 'ipport'"));
    VFT_CHECK(has_problem(&a, "line 2: invalid value 'md5' for 'hash'"));
    VFT_CHECK(has_problem(&a, "'ip_family'"));
    VFT_CHECK(has_problem(&a, "'timeout'"));
    VFT_CHECK(has_problem(&a, "at most 63 bytes"));
    VFT_CHECK(has_problem(&a, "'explode'"));
    VFT_CHECK(has_problem(&a, "'delay'"));
    VFT_CHECK(has_problem(&a, "'callback_port'"));
    VFT_CHECK(has_problem(&a, "'retrans'"));
    VFT_CHECK(has_problem(&a, "'multicast_address'"));
    /* values before the bad ones are kept */
    VFT_EQ_INT(a.port, 1229);
    VFT_EQ_INT(vf_args_finish(&a), -EINVAL);
    vf_args_done(&a);

    VFT_EQ_INT(stdin_parse(&a, VF_AGENT_VIRT, "vsock=1\nvsock=abc\nipaddr=localhost\n"), 0);
    VFT_EQ_INT(a.n_problems, 3);
    vf_args_done(&a);
}

static void
test_stdin_limits(void)
{
    struct vf_args a;
    char err[256];
    size_t len = 5000;
    char *buf = malloc(len + 64);
    char *big;

    VFT_CHECK(buf != NULL);
    if (buf == NULL) {
        return;
    }
    /* a line over 4096 bytes is reported with its number, not split */
    strcpy(buf, "plug=vm\n");
    memset(buf + 8, 'x', len);
    memcpy(buf + 8, "plug=", 5);
    strcpy(buf + 8 + len, "\ntimeout=7\n");
    vf_args_init(&a, VF_AGENT_XVM, "fence_xvm");
    VFT_EQ_INT(vf_args_parse_buffer(&a, buf, strlen(buf), err, sizeof(err)), 0);
    VFT_CHECK(has_problem(&a, "line 2 is longer than 4096 bytes"));
    VFT_EQ_STR(a.domain, "vm");
    VFT_EQ_INT(a.timeout, 7);
    VFT_EQ_INT(a.n_unknown, 0);
    vf_args_done(&a);

    /* exactly 4096 bytes is fine */
    memset(buf, 'y', 4096);
    memcpy(buf, "zz=", 3);
    buf[4096] = '\0';
    vf_args_init(&a, VF_AGENT_XVM, "fence_xvm");
    VFT_EQ_INT(vf_args_parse_buffer(&a, buf, 4096, err, sizeof(err)), 0);
    VFT_EQ_INT(a.n_problems, 0);
    VFT_EQ_INT(a.n_unknown, 1);
    vf_args_done(&a);

    /* NUL inside a line */
    vf_args_init(&a, VF_AGENT_XVM, "fence_xvm");
    VFT_EQ_INT(vf_args_parse_buffer(&a, "plug=a\0b\ntimeout=3\n", 18, err, sizeof(err)), 0);
    VFT_CHECK(has_problem(&a, "line 1 contains a NUL byte"));
    VFT_EQ_INT(a.timeout, 3);
    vf_args_done(&a);
    free(buf);

    /* more than 1 MiB in total */
    big = malloc(1024 * 1024 + 2);
    VFT_CHECK(big != NULL);
    if (big == NULL) {
        return;
    }
    memset(big, '\n', 1024 * 1024 + 1);
    vf_args_init(&a, VF_AGENT_XVM, "fence_xvm");
    VFT_EQ_INT(vf_args_parse_buffer(&a, big, 1024 * 1024 + 1, err, sizeof(err)), -E2BIG);
    VFT_CHECK(strstr(err, "larger than") != NULL);
    vf_args_done(&a);
    vf_args_init(&a, VF_AGENT_XVM, "fence_xvm");
    VFT_EQ_INT(vf_args_parse_buffer(&a, big, 1024 * 1024, err, sizeof(err)), 0);
    vf_args_done(&a);

    /* the FILE reader: same limit */
    {
        FILE *f = fmemopen(big, 1024 * 1024 + 1, "r");

        VFT_CHECK(f != NULL);
        if (f != NULL) {
            vf_args_init(&a, VF_AGENT_XVM, "fence_xvm");
            VFT_EQ_INT(vf_args_parse_stdin(&a, f, err, sizeof(err)), -E2BIG);
            vf_args_done(&a);
            fclose(f);
        }
    }
    free(big);
}

static void
test_stdin_file(void)
{
    static char text[] = "port=vm x\naction=list\n";
    struct vf_args a;
    char err[256];
    FILE *f = fmemopen(text, strlen(text), "r");

    VFT_CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    vf_args_init(&a, VF_AGENT_VIRT, "fence_virt");
    VFT_EQ_INT(vf_args_parse_stdin(&a, f, err, sizeof(err)), 0);
    VFT_EQ_STR(a.domain, "vm x");
    VFT_EQ_INT(a.cmd, VF_CMD_HOSTLIST);
    vf_args_done(&a);
    fclose(f);
}

/* range messages print the bounds as numbers (review R1: they read
 * "1-6000u" when the limits were stringified unsigned constants) */
static void
test_range_messages(void)
{
    static const struct {
        const char *line;
        const char *want;
    } cases[] = {
        { "retrans=0\n", "expected tenths of a second, 1-6000" },
        { "timeout=0\n", "expected seconds, 1-86400" },
        { "delay=x\n", "expected seconds, 0-86400" },
        { "debug=100\n", "expected a number 0-99 or a boolean" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vf_args a;
        const char *p;

        VFT_EQ_INT(stdin_parse(&a, VF_AGENT_XVM, cases[i].line), 0);
        VFT_EQ_INT(a.n_problems, 1);
        p = a.n_problems > 0 ? strstr(a.problems[0], cases[i].want) : NULL;
        VFT_CHECK(p != NULL);
        /* the bound ends the message (nothing such as a 'u' after it) */
        if (p != NULL && strcmp(cases[i].line, "debug=100\n") != 0) {
            VFT_EQ_STR(p, cases[i].want);
        }
        vf_args_done(&a);
    }
}

/* the serial_params grammar shared by option validation and the serial
 * transport */
static void
test_serial_params(void)
{
    struct vf_serial_params sp;
    static const char *const bad[] = {
        "12345", "115200,9N1", "115200,8X1", "115200,8N3", "115200,8N", "115200,8N11",
        " 9600", "+9600", "9600 ", "0x2580", "1152000", "115200,", NULL,
    };

    VFT_EQ_INT(vf_serial_params_parse("115200,8N1", &sp), 0);
    VFT_EQ_INT(sp.baud, 115200);
    VFT_EQ_INT(sp.data_bits, 8);
    VFT_EQ_INT(sp.parity, 'N');
    VFT_EQ_INT(sp.stop_bits, 1);
    VFT_EQ_INT(vf_serial_params_parse("2400,7e2", &sp), 0);
    VFT_EQ_INT(sp.baud, 2400);
    VFT_EQ_INT(sp.data_bits, 7);
    VFT_EQ_INT(sp.parity, 'E');
    VFT_EQ_INT(sp.stop_bits, 2);
    VFT_EQ_INT(vf_serial_params_parse(",5O1", &sp), 0);
    VFT_EQ_INT(sp.baud, 9600);
    VFT_EQ_INT(sp.parity, 'O');
    VFT_EQ_INT(vf_serial_params_parse("", &sp), 0);
    VFT_EQ_INT(sp.baud, 9600);
    VFT_EQ_INT(sp.data_bits, 8);
    VFT_EQ_INT(vf_serial_params_parse("57600", NULL), 0);
    VFT_EQ_INT(vf_serial_params_parse(NULL, &sp), -EINVAL);
    for (size_t i = 0; bad[i] != NULL; i++) {
        if (vf_serial_params_parse(bad[i], &sp) != -EINVAL) {
            fprintf(stderr, "serial_params '%s' accepted\n", bad[i]);
            vft_failures++;
        }
    }
}

/* the file-descriptor path of vf_args_parse_stdin (poll + read) */
static void
test_stdin_fd(void)
{
    static const char text[] = "plug = vm y\naction=off\n";
    struct vf_args a;
    char err[256];
    int pfd[2];
    FILE *f;

    /* a pipe whose writer has finished */
    VFT_EQ_INT(pipe2(pfd, O_CLOEXEC), 0);
    VFT_EQ_INT(write(pfd[1], text, strlen(text)), (long long)strlen(text));
    close(pfd[1]);
    f = fdopen(pfd[0], "r");
    VFT_CHECK(f != NULL);
    if (f == NULL) {
        close(pfd[0]);
        return;
    }
    vf_args_init(&a, VF_AGENT_XVM, "fence_xvm");
    VFT_EQ_INT(vf_args_parse_stdin(&a, f, err, sizeof(err)), 0);
    VFT_EQ_STR(a.domain, "vm y");
    VFT_EQ_INT(a.cmd, VF_CMD_OFF);
    vf_args_done(&a);
    fclose(f);

    /* a regular file over the 1 MiB limit */
    f = tmpfile();
    VFT_CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    for (int i = 0; i < 1024 * 1024 / 8 + 1; i++) {
        fputs("# 45678\n", f);
    }
    fflush(f);
    rewind(f);
    vf_args_init(&a, VF_AGENT_XVM, "fence_xvm");
    VFT_EQ_INT(vf_args_parse_stdin(&a, f, err, sizeof(err)), -E2BIG);
    vf_args_done(&a);
    fclose(f);
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

static void
test_help(void)
{
    struct vf_args a;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    VFT_CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    vf_args_init(&a, VF_AGENT_XVM, "fence_xvm");
    vf_args_print_help(&a, f);
    fclose(f);
    VFT_CHECK(strstr(text, "Usage: fence_xvm") != NULL);
    VFT_CHECK(strstr(text, "-p <port>") != NULL);
    VFT_CHECK(strstr(text, "ipport") != NULL);
    VFT_CHECK(strstr(text, "[default: 1229]") != NULL);
    VFT_CHECK(strstr(text, "callback_port") != NULL);
    VFT_CHECK(strstr(text, "ipaddr") == NULL);
    vf_args_done(&a);
    free(text);

    text = NULL;
    f = open_memstream(&text, &len);
    VFT_CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    vf_args_init(&a, VF_AGENT_VIRT, "fence_virt");
    vf_args_print_help(&a, f);
    fclose(f);
    VFT_CHECK(strstr(text, "-S[<cid>]") != NULL);
    VFT_CHECK(strstr(text, "retrans") == NULL);
    VFT_CHECK(strstr(text, "[default: " VF_DEFAULT_KEY_FILE "]") != NULL);
    vf_args_done(&a);
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
    VFT_RUN(test_stdin_all_keys_xvm);
    VFT_RUN(test_stdin_all_keys_virt);
    VFT_RUN(test_stdin_format);
    VFT_RUN(test_stdin_duplicates);
    VFT_RUN(test_stdin_nodename_not_target);
    VFT_RUN(test_stdin_unknown);
    VFT_RUN(test_stdin_no_value);
    VFT_RUN(test_stdin_bad_values);
    VFT_RUN(test_stdin_limits);
    VFT_RUN(test_stdin_file);
    VFT_RUN(test_range_messages);
    VFT_RUN(test_serial_params);
    VFT_RUN(test_stdin_fd);
    VFT_RUN(test_finish_transport);
    VFT_RUN(test_finish_target);
    VFT_RUN(test_finish_family);
    VFT_RUN(test_help);
    VFT_EXIT();
}
