/*
 * vmfence - daemon/tests/test-configure.c: drives the interactive
 * configurator (tests/configure-driver, which calls
 * vf_configure_interactive) through a pseudo-terminal, like an
 * administrator running "fence_virtd -c".
 *
 * Every wait is bounded (10 s per prompt, 10 s for the exit); the child is
 * killed by PID on a timeout.  Files live in a private mkdtemp directory.
 * Nothing is faked except the terminal itself (a pty).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conftree.h"
#include "vftest.h"

#define OUT_MAX (256 * 1024)

static char driver[PATH_MAX];
static char tmpdir[] = "/tmp/vft-configure.XXXXXX";

struct session {
    pid_t pid;
    int fd;
    char out[OUT_MAX];
    size_t len;
    size_t seen;                /* expect() searches from here */
    bool eof;
};

static long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Read whatever is available within @ms milliseconds. */
static void
pump(struct session *s, int ms)
{
    struct pollfd pfd = { s->fd, POLLIN, 0 };

    if (s->eof || poll(&pfd, 1, ms) <= 0) {
        return;
    }
    if (s->len + 1 >= OUT_MAX) {
        s->eof = true;
        return;
    }
    ssize_t n = read(s->fd, s->out + s->len, OUT_MAX - 1 - s->len);

    if (n <= 0) {
        s->eof = true;              /* EIO once the child has gone */
        return;
    }
    s->len += (size_t)n;
    s->out[s->len] = '\0';
}

static bool
start(struct session *s, const char *conf_path)
{
    memset(s, 0, sizeof(*s));
    s->pid = forkpty(&s->fd, NULL, NULL, NULL);
    if (s->pid < 0) {
        perror("forkpty");
        return false;
    }
    if (s->pid == 0) {
        execl(driver, driver, conf_path, "Available listeners:\n    multicast 1.0\n",
              (char *)NULL);
        perror("exec");
        _exit(127);
    }
    return true;
}

/* Wait (bounded) for @text in the output after the last match. */
static bool
expect(struct session *s, const char *text)
{
    long deadline = now_ms() + 10000;

    for (;;) {
        char *hit = strstr(s->out + s->seen, text);

        if (hit != NULL) {
            s->seen = (size_t)(hit - s->out) + strlen(text);
            return true;
        }
        if (s->eof || now_ms() > deadline) {
            fprintf(stderr, "expected \"%s\"; output so far:\n%s\n", text, s->out + s->seen);
            vft_failures++;
            return false;
        }
        pump(s, 100);
    }
}

static void
send_line(struct session *s, const char *line)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);

    if (write(s->fd, buf, (size_t)n) != n) {
        perror("write");
    }
}

/* expect @prompt, answer @answer */
static bool
answer(struct session *s, const char *prompt, const char *ans)
{
    if (!expect(s, prompt)) {
        return false;
    }
    send_line(s, ans);
    return true;
}

/* One line of a dialogue: wait for @prompt, then send @answer (NULL: only wait). */
struct step {
    const char *prompt;
    const char *answer;
};

#define WAIT(text) { (text), NULL }
#define STEPS_END { NULL, NULL }

/* Every answer taken by default, as the first questions of every session. */
#define KEEP_MODULE_PATH { "Module search path [none]: ", "" }
/* The key file, hash and auth of a keyed listener (listeners/common.c). */
#define KEY_DEFAULTS \
    { "Key File [/etc/cluster/fence_xvm.key]: ", "" }, { "[sha256]: ", "" }, \
    { "[sha256]: ", "" }
#define LIBVIRT_DEFAULTS(uri) \
    { "Backend module [libvirt]: ", "" }, { "Libvirt URI [" uri "]: ", "" }, \
    { "[y/N]? ", "" }

static bool
play(struct session *s, const struct step *steps)
{
    for (; steps->prompt != NULL; steps++) {
        if (steps->answer == NULL ? !expect(s, steps->prompt) :
            !answer(s, steps->prompt, steps->answer)) {
            return false;
        }
    }
    return true;
}

/* Drain output and reap the child; returns its exit status or -1. */
static int
finish(struct session *s)
{
    long deadline = now_ms() + 10000;
    int status = 0;

    for (;;) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);

        if (r == s->pid) {
            break;
        }
        if (now_ms() > deadline) {
            fprintf(stderr, "configurator did not exit; killing %d\n", (int)s->pid);
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            close(s->fd);
            vft_failures++;
            return -1;
        }
        pump(s, 50);
    }
    while (!s->eof) {
        pump(s, 50);
    }
    close(s->fd);
    if (getenv("VF_TEST_DEBUG") != NULL) {
        fprintf(stderr, "---- session output ----\n%s\n------------------------\n", s->out);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static struct vf_conf *
load(const char *path)
{
    struct vf_conf *conf = NULL;
    char err[512];

    if (vf_conf_parse_file(path, &conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        vft_failures++;
    }
    return conf;
}

/* What a written file must hold: @value at @key, or (NULL) neither a value nor a block. */
struct want {
    const char *key;
    const char *value;
};

static void
check_file(const char *path, const struct want *w)
{
    struct vf_conf *conf = load(path);

    VFT_CHECK(conf != NULL);
    for (; conf != NULL && w->key != NULL; w++) {
        const char *got = vf_conf_get(conf, w->key, NULL);

        if (w->value == NULL) {
            VFT_CHECK(got == NULL && vf_conf_block(conf, NULL, w->key) == NULL);
        } else {
            VFT_EQ_STR(got, w->value);
        }
    }
    vf_conf_free(conf);
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf = calloc(1, 65536);

    if (f != NULL && buf != NULL) {
        size_t n = fread(buf, 1, 65535, f);

        buf[n] = '\0';
    }
    if (f != NULL) {
        fclose(f);
    }
    return buf;
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");

    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static void
path_in_tmp(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static mode_t
file_mode(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        return 0;
    }
    return st.st_mode & 07777;
}

/*
 * Run the configurator on @name in the temporary directory (its full path
 * into @path), play @steps and return its exit status (-1 on failure).
 */
static int
session(const char *name, const struct step *steps, char *path, size_t path_len)
{
    struct session s;

    path_in_tmp(path, path_len, name);
    if (!start(&s, path)) {
        vft_failures++;
        return -1;
    }
    play(&s, steps);
    return finish(&s);
}

/* A fresh file, every default: multicast + libvirt (the seed 001/004 session). */
static void
test_fresh_defaults(void)
{
    static const struct step steps[] = {
        KEEP_MODULE_PATH,
        WAIT("multicast 1.0"),
        { "Listener module [multicast]: ", "" },
        { "Multicast IP Address [225.0.0.12]: ", "" },
        WAIT("Using ipv4 as family."),
        { "Multicast IP Port [1229]: ", "" },
        { "Interface [none]: ", "" },
        { "Key File [/etc/cluster/fence_xvm.key]: ", "" },
        { "Packet hash (none, sha1, sha256, sha512) [sha256]: ", "" },
        { "Challenge-response auth (none, sha1, sha256, sha512) [sha256]: ", "" },
        { "Backend module [libvirt]: ", "" },
        { "Libvirt URI [qemu:///system]: ", "" },
        { "Power on domains that are off when asked to reboot them [y/N]? ", "" },
        { "Add a group [y/N]? ", "" },
        WAIT("=== Begin Configuration ==="),
        WAIT("=== End Configuration ==="),
        { "with the above [y/N]? ", "y" },
        STEPS_END,
    };
    static const struct want want[] = {
        { "fence_virtd/listener", "multicast" },
        { "fence_virtd/backend", "libvirt" },
        { "fence_virtd/module_path", NULL },
        { "listeners/multicast/address", "225.0.0.12" },
        { "listeners/multicast/family", "ipv4" },
        { "listeners/multicast/port", "1229" },
        { "listeners/multicast/interface", NULL },
        { "backends/libvirt/uri", "qemu:///system" },
        { "backends/libvirt/reboot_powers_on", "no" },
        { "groups", NULL },
        { NULL, NULL },
    };
    char path[PATH_MAX];

    VFT_EQ_INT(session("fresh.conf", steps, path, sizeof(path)), 0);
    VFT_EQ_INT(file_mode(path), 0600);
    check_file(path, want);
    /* no temporary file left behind */
    {
        char cmd[PATH_MAX + 64];

        snprintf(cmd, sizeof(cmd), "ls %s | grep -q 'fresh.conf.'", tmpdir);
        VFT_CHECK(system(cmd) != 0);
    }
}

/* tcp listener: default address 127.0.0.1 (not the multicast group, D12), a group */
static void
test_tcp_and_group(void)
{
    static const struct step steps[] = {
        { "Module search path [none]: ", "/usr/lib/vmfence" },
        { "Listener module [multicast]: ", "tcp" },
        { "TCP Listen IP Address [127.0.0.1]: ", "" },
        { "TCP Listen Port [1229]: ", "70000" },
        WAIT("Invalid port '70000'"),
        { "TCP Listen Port [1229]: ", "1300" },
        { "Key File [/etc/cluster/fence_xvm.key]: ", "" },
        { "Packet hash (none, sha1, sha256, sha512) [sha256]: ", "SHA512" },
        { "Challenge-response auth (none, sha1, sha256, sha512) [sha256]: ", "md5" },
        WAIT("'md5' is not one of"),
        { "Challenge-response auth (none, sha1, sha256, sha512) [sha256]: ", "sha512" },
        { "Backend module [libvirt]: ", "cpg" },
        { "Libvirt URI [qemu:///system]: ", "test:///default" },
        { "VM naming/tracking mode (name or uuid) [uuid]: ", "byname" },
        WAIT("'byname' is not one of name, uuid."),
        { "VM naming/tracking mode (name or uuid) [uuid]: ", "" },
        { "Add a group [y/N]? ", "y" },
        { "Group name [group1]: ", "cluster1" },
        { "(comma-separated): ", "10.0.0.5, bogus" },
        WAIT("'bogus' is neither an IP address nor a vsock CID"),
        { "(comma-separated): ", "10.0.0.5, 3" },
        { "names and/or UUIDs (comma-separated): ", "vm1, 44179d3f-6c63-474f-a212-20c8b4b25b16" },
        { "Add another group [y/N]? ", "n" },
        { "with the above [y/N]? ", "yes" },
        STEPS_END,
    };
    static const struct want want[] = {
        { "fence_virtd/module_path", "/usr/lib/vmfence" },
        { "fence_virtd/listener", "tcp" },
        { "listeners/tcp/address", "127.0.0.1" },
        { "listeners/tcp/port", "1300" },
        { "listeners/tcp/hash", "sha512" },
        { "listeners/tcp/auth", "sha512" },
        { "backends/cpg/uri", "test:///default" },
        { "backends/cpg/name_mode", "uuid" },
        { "groups/group/name", "cluster1" },
        { "groups/group/ip[1]", "10.0.0.5" },
        { "groups/group/ip[2]", "3" },
        { "groups/group/uuid[2]", "44179d3f-6c63-474f-a212-20c8b4b25b16" },
        { NULL, NULL },
    };
    char path[PATH_MAX];

    VFT_EQ_INT(session("tcp.conf", steps, path, sizeof(path)), 0);
    check_file(path, want);
}

/* serial: the URI answer is saved (D12); vsock in the same listener list */
static void
test_serial_vsock(void)
{
    static const struct step steps[] = {
        KEEP_MODULE_PATH,
        { "Listener module [multicast]: ", "serial, vsock" },
        { "Libvirt URI [qemu:///system]: ", "qemu:///session" },
        { "Socket directory [none]: ", "/run/fence" },
        { "Mode (serial or vmchannel) [serial]: ", "vmchannel" },
        { "vsock Listen Port [1229]: ", "1231" },
        { "Key File [/etc/cluster/fence_xvm.key]: ", "none" },
        { "[sha256]: ", "" },
        { "[sha256]: ", "" },
        { "Backend module [libvirt]: ", "" },
        { "Libvirt URI [qemu:///system]: ", "" },
        { "[y/N]? ", "y" },
        { "Add a group [y/N]? ", "" },
        { "with the above [y/N]? ", "y" },
        STEPS_END,
    };
    static const struct want want[] = {
        { "fence_virtd/listener", "serial,vsock" },
        { "listeners/serial/uri", "qemu:///session" },
        { "listeners/serial/path", "/run/fence" },
        { "listeners/serial/mode", "vmchannel" },
        { "listeners/vsock/port", "1231" },
        { "listeners/vsock/key_file", NULL },
        { "backends/libvirt/reboot_powers_on", "yes" },
        { NULL, NULL },
    };
    char path[PATH_MAX];

    VFT_EQ_INT(session("serial.conf", steps, path, sizeof(path)), 0);
    check_file(path, want);
}

/* An existing file: defaults come from it, comments and order are kept. */
static void
test_existing_keeps_comments(void)
{
    static const char *orig =
        "# fence_virt.conf of host1 -- keep this header\n"
        "\n"
        "listeners {\n"
        "\tmulticast {\n"
        "\t\t# the guests' network\n"
        "\t\taddress = \"225.0.0.99\";\n"
        "\t\tport = \"1300\"; # firewall allows 1300\n"
        "\t\tlocal_note = \"unknown keys survive\";\n"
        "\t}\n"
        "}\n"
        "\n"
        "fence_virtd {\n"
        "\tlistener = \"multicast\";\n"
        "\tbackend = \"libvirt\";\n"
        "}\n"
        "backends {\n"
        "\tlibvirt {\n"
        "\t\turi = \"test:///default\";\n"
        "\t}\n"
        "}\n"
        "groups {\n"
        "\t# cluster one\n"
        "\tgroup {\n"
        "\t\tname = \"cluster1\";\n"
        "\t\tip = \"192.168.1.1\";\n"
        "\t\tuuid = \"node1\";\n"
        "\t}\n"
        "}\n"
        "# end of file\n";
    static const struct step steps[] = {
        KEEP_MODULE_PATH,
        { "Listener module [multicast]: ", "" },
        { "Multicast IP Address [225.0.0.99]: ", "" },
        { "Multicast IP Port [1300]: ", "" },
        { "Interface [none]: ", "nosuchif0" },
        WAIT("Interface 'nosuchif0' does not exist"),
        { "Use this value anyway [y/N]? ", "" },
        { "Interface [none]: ", "lo" },
        KEY_DEFAULTS,
        LIBVIRT_DEFAULTS("test:///default"),
        WAIT("'cluster1': 1 requester(s), 1 domain(s)"),
        { "Keep the existing groups [Y/n]? ", "" },
        { "Add a group [y/N]? ", "" },
        WAIT("warning: unknown key 'local_note' in listeners/multicast"),
        { "with the above [y/N]? ", "y" },
        STEPS_END,
    };
    char path[PATH_MAX];
    char *text;

    path_in_tmp(path, sizeof(path), "existing.conf");
    write_file(path, orig);
    chmod(path, 0644);
    VFT_EQ_INT(session("existing.conf", steps, path, sizeof(path)), 0);
    VFT_EQ_INT(file_mode(path), 0600);
    text = slurp(path);
    if (text != NULL) {
        const char *order[] = {
            "# fence_virt.conf of host1 -- keep this header\n\nlisteners {",
            "\t\t# the guests' network\n\t\taddress = \"225.0.0.99\";",
            "\t\tport = \"1300\"; # firewall allows 1300\n",
            "local_note = \"unknown keys survive\";",
            "interface = \"lo\";",
            "\nfence_virtd {\n\tlistener = \"multicast\";\n\tbackend = \"libvirt\";\n}",
            "reboot_powers_on = \"no\";",
            "\t# cluster one\n\tgroup {",
            "}\n# end of file\n",
        };
        const char *p = text;

        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
            const char *hit = strstr(p, order[i]);

            if (hit == NULL) {
                fprintf(stderr, "missing or out of order: \"%s\"\nfile:\n%s\n", order[i], text);
                vft_failures++;
                break;
            }
            p = hit + strlen(order[i]);
        }
    }
    free(text);
}

/* End of input at any question = decline: exit 1, file untouched. */
static void
test_eof_declines(void)
{
    struct session s;
    char path[PATH_MAX];
    char *text;

    path_in_tmp(path, sizeof(path), "eof.conf");
    if (!start(&s, path)) {
        vft_failures++;
        return;
    }
    expect(&s, "Module search path [none]: ");
    send_line(&s, "");
    expect(&s, "Listener module [multicast]: ");
    if (write(s.fd, "\004", 1) != 1) {          /* ^D: end of input on a tty */
        perror("write");
    }
    VFT_EQ_INT(finish(&s), 1);
    VFT_CHECK(access(path, F_OK) != 0);

    /* declining the final question keeps the old file */
    path_in_tmp(path, sizeof(path), "keep.conf");
    write_file(path, "# untouched\n");
    if (!start(&s, path)) {
        vft_failures++;
        return;
    }
    for (int i = 0; i < 40; i++) {
        /* answer every prompt with the default until the final question */
        long deadline = now_ms() + 10000;
        bool final = false;

        while (now_ms() < deadline && !s.eof) {
            const char *tail = s.out + s.seen;

            if (strstr(tail, "with the above [y/N]? ") != NULL) {
                final = true;
                break;
            }
            if ((s.len > 2 && (strcmp(s.out + s.len - 2, ": ") == 0 ||
                               strcmp(s.out + s.len - 2, "? ") == 0)) && s.len > s.seen) {
                break;
            }
            pump(&s, 100);
        }
        if (final) {
            break;
        }
        s.seen = s.len;
        send_line(&s, "");
    }
    answer(&s, "with the above [y/N]? ", "");
    expect(&s, "Configuration not written.");
    VFT_EQ_INT(finish(&s), 1);
    text = slurp(path);
    VFT_EQ_STR(text, "# untouched\n");
    free(text);
}

/* An unparsable file: the error is shown, "Start from scratch" defaults to no. */
static void
test_unparsable(void)
{
    static const struct step scratch[] = {
        { "Start from scratch [y/N]? ", "y" },
        KEEP_MODULE_PATH,
        { "Listener module [multicast]: ", "vsock" },
        { "vsock Listen Port [1229]: ", "" },
        KEY_DEFAULTS,
        LIBVIRT_DEFAULTS("qemu:///system"),
        { "Add a group [y/N]? ", "" },
        { "with the above [y/N]? ", "y" },
        STEPS_END,
    };
    struct session s;
    char path[PATH_MAX];
    char *text;

    path_in_tmp(path, sizeof(path), "broken.conf");
    write_file(path, "fence_virtd {\n\tlistener = multicast;\n}\n");
    if (!start(&s, path)) {
        vft_failures++;
        return;
    }
    expect(&s, "broken.conf:2:13: expected a double-quoted value for 'listener'");
    answer(&s, "Start from scratch [y/N]? ", "");
    VFT_EQ_INT(finish(&s), 1);
    text = slurp(path);
    VFT_EQ_STR(text, "fence_virtd {\n\tlistener = multicast;\n}\n");
    free(text);

    /* yes: a fresh configuration replaces it */
    VFT_EQ_INT(session("broken.conf", scratch, path, sizeof(path)), 0);
    {
        struct vf_conf *conf = load(path);

        VFT_EQ_STR(vf_conf_get(conf, "fence_virtd/listener", NULL), "vsock");
        vf_conf_free(conf);
    }
}

/* find configure-driver beside this program (@argv0) and make the scratch
 * directory; the program ends here when either cannot be had (77: the
 * driver is not built, 1: no directory) */
static void
setup(const char *argv0)
{
    char *slash;

    snprintf(driver, sizeof(driver), "%s", argv0);
    slash = strrchr(driver, '/');
    if (slash != NULL) {
        snprintf(slash + 1, sizeof(driver) - (size_t)(slash + 1 - driver), "configure-driver");
    } else {
        snprintf(driver, sizeof(driver), "./configure-driver");
    }
    if (access(driver, X_OK) != 0) {
        fprintf(stderr, "SKIP: %s not built\n", driver);
        exit(77);
    }
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
}

/* remove the scratch directory, unless a check failed: then it is kept */
static void
teardown(void)
{
    char cmd[PATH_MAX + 16];

    if (vft_failures != 0) {
        fprintf(stderr, "files kept in %s\n", tmpdir);
        return;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

int
main(int argc, char **argv)
{
    (void)argc;
    setup(argv[0]);
    VFT_RUN(test_fresh_defaults);
    VFT_RUN(test_tcp_and_group);
    VFT_RUN(test_serial_vsock);
    VFT_RUN(test_existing_keeps_comments);
    VFT_RUN(test_eof_declines);
    VFT_RUN(test_unparsable);
    teardown();
    VFT_EXIT();
}
