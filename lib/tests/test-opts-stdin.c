/*
 * vmfence - lib/tests/test-opts-stdin.c: unit tests of the agents' stdin
 * parser (key=value lines, the Pacemaker interface; lib/opts.c,
 * lib/opts-values.c, lib/fa-parse.c).
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

/*
 * Parse @text into @a and check: it parsed, with @want_problems problems
 * (-1: not checked) and target @want_domain (NULL: not checked).  The
 * caller checks more fields if it likes, then frees @a.
 */
static void
stdin_expect(struct vf_args *a, enum vf_agent_kind kind, const char *text,
             int want_problems, const char *want_domain)
{
    VFT_EQ_INT(stdin_parse(a, kind, text), 0);
    if (want_problems >= 0) {
        VFT_EQ_INT(a->n_problems, want_problems);
        if (a->n_problems != (size_t)want_problems) {
            dump_problems(a);
        }
    }
    if (want_domain != NULL) {
        VFT_EQ_STR(a->domain, want_domain);
    }
}

/* parse the stream @f as standard input of @kind: it parses, with this target and action */
static void
stream_expect(FILE *f, enum vf_agent_kind kind, const char *want_domain, enum vf_cmd want_cmd)
{
    struct vf_args a;
    char err[256];

    vf_args_init(&a, kind, kind == VF_AGENT_XVM ? "fence_xvm" : "fence_virt");
    VFT_EQ_INT(vf_args_parse_stdin(&a, f, err, sizeof(err)), 0);
    VFT_EQ_STR(a.domain, want_domain);
    VFT_EQ_INT(a.cmd, want_cmd);
    vf_args_done(&a);
}

/* what @cli filled, as the expectation for another parse (strings point into @cli) */
static void
xvm_expect_of(struct xvm_expect *want, const struct vf_args *cli)
{
    *want = (struct xvm_expect){
        .debug = cli->debug, .family = cli->family, .mcast_addr = cli->mcast_addr,
        .port = cli->port, .retrans = cli->retrans, .auth = cli->auth, .hash = cli->hash,
        .key_file = cli->key_file, .key_file_set = cli->key_file_set,
        .domain = cli->domain, .use_uuid = cli->use_uuid, .cmd = cli->cmd,
        .timeout = cli->timeout, .delay = cli->delay, .interface = cli->interface,
        .callback_port = cli->callback_port,
    };
}

/*
 * Every fence_xvm key on stdin fills what the same options fill on the
 * command line (whose literal values test-opts.c checks with another set).
 */
static void
test_stdin_all_keys_xvm(void)
{
    struct vf_args a, cli;
    struct xvm_expect want;
    char err[256];

    VFT_EQ_INT(argv_parse(&cli, VF_AGENT_XVM, err, sizeof(err), "-d", "-d", "-d",
                          "-i", "ipv4", "-a", "225.0.0.99", "-p", "1300", "-r", "7",
                          "-C", "sha512", "-c", "none", "-k", "/etc/k", "-n", "vm1",
                          "-u", "-o", "on", "-t", "9", "-w", "4", "-I", "br0",
                          "-L", "1500", NULL), 0);
    xvm_expect_of(&want, &cli);
    /* a few of them literally, so a slip in both parsers shows too */
    VFT_EQ_INT(want.debug, 3);
    VFT_EQ_INT(want.family, AF_INET);
    VFT_EQ_INT(want.hash, VF_HASH_NONE);
    VFT_EQ_INT(want.callback_port, 1500);
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
    expect_xvm_fields(&a, &want);
    VFT_EQ_INT(vf_args_finish(&a), 0);
    vf_args_done(&a);
    vf_args_done(&cli);
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
    VFT_EQ_STR(a.domain, "vm2");
    VFT_EQ_STR(a.serial_device, "/dev/ttyS2");
    VFT_EQ_STR(a.serial_params, "19200");
    VFT_EQ_STR(a.channel_address, "10.9.9.9");
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
    stdin_expect(&a, VF_AGENT_XVM,
                 "# a comment\n"
                 "   \n"
                 "  port=my vm  \r\n"
                 "ACTION = off\n"
                 "\tTimeout\t=\t17\n"
                 "#plug=other\n", 0, "my vm");
    VFT_EQ_INT(a.cmd, VF_CMD_OFF);
    VFT_EQ_INT(a.timeout, 17);
    vf_args_done(&a);

    /* no trailing newline, value with '=' and '#' inside */
    stdin_expect(&a, VF_AGENT_XVM, "plug=a=b#c", -1, "a=b#c");
    vf_args_done(&a);
    /* empty input */
    stdin_expect(&a, VF_AGENT_XVM, "", 0, NULL);
    vf_args_done(&a);
}

static void
test_stdin_duplicates(void)
{
    struct vf_args a;

    /* last duplicate wins, also for the target */
    stdin_expect(&a, VF_AGENT_XVM, "plug=a\nplug=b\ntimeout=5\ntimeout=6\n", 0, "b");
    VFT_EQ_INT(a.timeout, 6);
    vf_args_done(&a);
    /* port and plug with the same value (what Pacemaker may send) */
    stdin_expect(&a, VF_AGENT_XVM, "nodename=n1\nport=vm\nplug=vm\n", 0, "vm");
    vf_args_done(&a);
    /* different values under two names: a problem; plug is kept, so "no
     * target" is not added */
    stdin_expect(&a, VF_AGENT_XVM, "port=vm1\nplug=vm2\n", -1, "vm2");
    VFT_CHECK(has_problem(&a, "target may not be specified more than once"));
    VFT_EQ_INT(vf_args_finish(&a), -EINVAL);
    VFT_EQ_INT(a.n_problems, 1);
    vf_args_done(&a);
    /* same key repeated with a different value, then the other name: the
     * last value of each key is compared */
    stdin_expect(&a, VF_AGENT_XVM, "port=x\nport=vm\ndomain=vm\n", 0, "vm");
    vf_args_done(&a);
}

static void
test_stdin_nodename_not_target(void)
{
    struct vf_args a;

    stdin_expect(&a, VF_AGENT_XVM, "action=reboot\nnodename=node1\n", -1, NULL);
    VFT_CHECK(a.domain == NULL);
    VFT_EQ_INT(vf_args_finish(&a), -EINVAL);
    VFT_CHECK(has_problem(&a, "no target"));
    vf_args_done(&a);
}

static void
test_stdin_unknown(void)
{
    struct vf_args a;

    stdin_expect(&a, VF_AGENT_XVM,
                 "port=vm\nmulticast_addres=1\nkey_fiel=x\nfoo\nkey_fiel=y\nipaddr=127.0.0.1\n",
                 0, "vm");
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
    stdin_expect(&a, VF_AGENT_VIRT, "node=3\nfail_time=12\nplug=vm\n", -1, "vm");
    VFT_EQ_INT(a.n_unknown, 2);
    vf_args_done(&a);
}

static void
test_stdin_no_value(void)
{
    struct vf_args a;

    /* a flag without a value is set, a level without one goes up by one */
    stdin_expect(&a, VF_AGENT_XVM, "debug\ndebug\nuse_uuid\nplug=v\n", 0, "v");
    VFT_CHECK(a.debug == 2 && a.use_uuid);
    vf_args_done(&a);
    stdin_expect(&a, VF_AGENT_XVM, "use_uuid=0\ndebug=0\n", 0, NULL);
    VFT_CHECK(a.debug == 0 && !a.use_uuid);
    vf_args_done(&a);
    /* vsock alone is the host */
    stdin_expect(&a, VF_AGENT_VIRT, "vsock\n", 0, NULL);
    VFT_EQ_INT(a.vsock_cid, 2);
    vf_args_done(&a);
    /* a key that needs a value, a value without a key */
    stdin_expect(&a, VF_AGENT_XVM, "timeout\nkey_file=\n=value\n", 3, NULL);
    VFT_CHECK(has_problem(&a, "line 1: 'timeout' needs a value"));
    VFT_CHECK(has_problem(&a, "line 2: 'key_file'"));
    VFT_CHECK(has_problem(&a, "line 3: missing key"));
    vf_args_done(&a);
}

static void
test_stdin_bad_values(void)
{
    struct vf_args a;

    stdin_expect(&a, VF_AGENT_XVM,
                 "ipport=70000\n"
                 "hash=md5\n"
                 "ip_family=ipx\n"
                 "timeout=soon\n"
                 "plug=0123456789012345678901234567890123456789012345678901234567890123\n"
                 "action=explode\n"
                 "delay=-1\n"
                 "callback_port=0\n"
                 "retrans=0\n"
                 "multicast_address=1.2.3.4\n", 10, NULL);
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

    stdin_expect(&a, VF_AGENT_VIRT, "vsock=1\nvsock=abc\nipaddr=localhost\n", 3, NULL);
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
    FILE *f = fmemopen(text, strlen(text), "r");

    VFT_CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    stream_expect(f, VF_AGENT_VIRT, "vm x", VF_CMD_HOSTLIST);
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
    stream_expect(f, VF_AGENT_XVM, "vm y", VF_CMD_OFF);
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

int
main(void)
{
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
    VFT_EXIT();
}
