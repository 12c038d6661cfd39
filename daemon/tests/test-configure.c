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

#include "config.h"
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

/* A fresh file, every default: multicast + libvirt (the seed 001/004 session). */
static void
test_fresh_defaults(void)
{
    struct session s;
    char path[PATH_MAX];
    struct vf_conf *conf;

    path_in_tmp(path, sizeof(path), "fresh.conf");
    if (!start(&s, path)) {
        vft_failures++;
        return;
    }
    answer(&s, "Module search path [none]: ", "");
    expect(&s, "multicast 1.0");
    answer(&s, "Listener module [multicast]: ", "");
    answer(&s, "Multicast IP Address [225.0.0.12]: ", "");
    expect(&s, "Using ipv4 as family.");
    answer(&s, "Multicast IP Port [1229]: ", "");
    answer(&s, "Interface [none]: ", "");
    answer(&s, "Key File [/etc/cluster/fence_xvm.key]: ", "");
    answer(&s, "Packet hash (none, sha1, sha256, sha512) [sha256]: ", "");
    answer(&s, "Challenge-response auth (none, sha1, sha256, sha512) [sha256]: ", "");
    answer(&s, "Backend module [libvirt]: ", "");
    answer(&s, "Libvirt URI [qemu:///system]: ", "");
    answer(&s, "Power on domains that are off when asked to reboot them [y/N]? ", "");
    answer(&s, "Add a group [y/N]? ", "");
    expect(&s, "=== Begin Configuration ===");
    expect(&s, "=== End Configuration ===");
    answer(&s, "with the above [y/N]? ", "y");
    VFT_EQ_INT(finish(&s), 0);
    VFT_EQ_INT(file_mode(path), 0600);
    conf = load(path);
    if (conf != NULL) {
        VFT_EQ_STR(vf_conf_get(conf, "fence_virtd/listener", NULL), "multicast");
        VFT_EQ_STR(vf_conf_get(conf, "fence_virtd/backend", NULL), "libvirt");
        VFT_CHECK(vf_conf_get(conf, "fence_virtd/module_path", NULL) == NULL);
        VFT_EQ_STR(vf_conf_get(conf, "listeners/multicast/address", NULL), "225.0.0.12");
        VFT_EQ_STR(vf_conf_get(conf, "listeners/multicast/family", NULL), "ipv4");
        VFT_EQ_STR(vf_conf_get(conf, "listeners/multicast/port", NULL), "1229");
        VFT_CHECK(vf_conf_get(conf, "listeners/multicast/interface", NULL) == NULL);
        VFT_EQ_STR(vf_conf_get(conf, "backends/libvirt/uri", NULL), "qemu:///system");
        VFT_EQ_STR(vf_conf_get(conf, "backends/libvirt/reboot_powers_on", NULL), "no");
        VFT_CHECK(vf_conf_block(conf, NULL, "groups") == NULL);
    }
    vf_conf_free(conf);
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
    struct session s;
    char path[PATH_MAX];
    struct vf_conf *conf;

    path_in_tmp(path, sizeof(path), "tcp.conf");
    if (!start(&s, path)) {
        vft_failures++;
        return;
    }
    answer(&s, "Module search path [none]: ", "/usr/lib/vmfence");
    answer(&s, "Listener module [multicast]: ", "tcp");
    answer(&s, "TCP Listen IP Address [127.0.0.1]: ", "");
    answer(&s, "TCP Listen Port [1229]: ", "70000");
    expect(&s, "Invalid port '70000'");
    answer(&s, "TCP Listen Port [1229]: ", "1300");
    answer(&s, "Key File [/etc/cluster/fence_xvm.key]: ", "");
    answer(&s, "Packet hash (none, sha1, sha256, sha512) [sha256]: ", "SHA512");
    answer(&s, "Challenge-response auth (none, sha1, sha256, sha512) [sha256]: ", "md5");
    expect(&s, "'md5' is not one of");
    answer(&s, "Challenge-response auth (none, sha1, sha256, sha512) [sha256]: ", "sha512");
    answer(&s, "Backend module [libvirt]: ", "cpg");
    answer(&s, "Libvirt URI [qemu:///system]: ", "test:///default");
    answer(&s, "VM naming/tracking mode (name or uuid) [uuid]: ", "");
    answer(&s, "Add a group [y/N]? ", "y");
    answer(&s, "Group name [group1]: ", "cluster1");
    answer(&s, "(comma-separated): ", "10.0.0.5, bogus");
    expect(&s, "'bogus' is neither an IP address nor a vsock CID");
    answer(&s, "(comma-separated): ", "10.0.0.5, 3");
    answer(&s, "names and/or UUIDs (comma-separated): ", "vm1, 44179d3f-6c63-474f-a212-20c8b4b25b16");
    answer(&s, "Add another group [y/N]? ", "n");
    answer(&s, "with the above [y/N]? ", "yes");
    VFT_EQ_INT(finish(&s), 0);
    conf = load(path);
    if (conf != NULL) {
        VFT_EQ_STR(vf_conf_get(conf, "fence_virtd/module_path", NULL), "/usr/lib/vmfence");
        VFT_EQ_STR(vf_conf_get(conf, "fence_virtd/listener", NULL), "tcp");
        VFT_EQ_STR(vf_conf_get(conf, "listeners/tcp/address", NULL), "127.0.0.1");
        VFT_EQ_STR(vf_conf_get(conf, "listeners/tcp/port", NULL), "1300");
        VFT_EQ_STR(vf_conf_get(conf, "listeners/tcp/hash", NULL), "sha512");
        VFT_EQ_STR(vf_conf_get(conf, "listeners/tcp/auth", NULL), "sha512");
        VFT_EQ_STR(vf_conf_get(conf, "backends/cpg/uri", NULL), "test:///default");
        VFT_EQ_STR(vf_conf_get(conf, "backends/cpg/name_mode", NULL), "uuid");
        VFT_EQ_STR(vf_conf_get(conf, "groups/group/name", NULL), "cluster1");
        VFT_EQ_STR(vf_conf_get(conf, "groups/group/ip[1]", NULL), "10.0.0.5");
        VFT_EQ_STR(vf_conf_get(conf, "groups/group/ip[2]", NULL), "3");
        VFT_EQ_STR(vf_conf_get(conf, "groups/group/uuid[2]", NULL),
                   "44179d3f-6c63-474f-a212-20c8b4b25b16");
    }
    vf_conf_free(conf);
}

/* serial: the URI answer is saved (D12); vsock in the same listener list */
static void
test_serial_vsock(void)
{
    struct session s;
    char path[PATH_MAX];
    struct vf_conf *conf;

    path_in_tmp(path, sizeof(path), "serial.conf");
    if (!start(&s, path)) {
        vft_failures++;
        return;
    }
    answer(&s, "Module search path [none]: ", "");
    answer(&s, "Listener module [multicast]: ", "serial, vsock");
    answer(&s, "Libvirt URI [qemu:///system]: ", "qemu:///session");
    answer(&s, "Socket directory [none]: ", "/run/fence");
    answer(&s, "Mode (serial or vmchannel) [serial]: ", "vmchannel");
    answer(&s, "vsock Listen Port [1229]: ", "1231");
    answer(&s, "Key File [/etc/cluster/fence_xvm.key]: ", "none");
    answer(&s, "[sha256]: ", "");
    answer(&s, "[sha256]: ", "");
    answer(&s, "Backend module [libvirt]: ", "");
    answer(&s, "Libvirt URI [qemu:///system]: ", "");
    answer(&s, "[y/N]? ", "y");
    answer(&s, "Add a group [y/N]? ", "");
    answer(&s, "with the above [y/N]? ", "y");
    VFT_EQ_INT(finish(&s), 0);
    conf = load(path);
    if (conf != NULL) {
        VFT_EQ_STR(vf_conf_get(conf, "fence_virtd/listener", NULL), "serial,vsock");
        VFT_EQ_STR(vf_conf_get(conf, "listeners/serial/uri", NULL), "qemu:///session");
        VFT_EQ_STR(vf_conf_get(conf, "listeners/serial/path", NULL), "/run/fence");
        VFT_EQ_STR(vf_conf_get(conf, "listeners/serial/mode", NULL), "vmchannel");
        VFT_EQ_STR(vf_conf_get(conf, "listeners/vsock/port", NULL), "1231");
        VFT_CHECK(vf_conf_get(conf, "listeners/vsock/key_file", NULL) == NULL);
        VFT_EQ_STR(vf_conf_get(conf, "backends/libvirt/reboot_powers_on", NULL), "yes");
    }
    vf_conf_free(conf);
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
    struct session s;
    char path[PATH_MAX];
    char *text;

    path_in_tmp(path, sizeof(path), "existing.conf");
    write_file(path, orig);
    chmod(path, 0644);
    if (!start(&s, path)) {
        vft_failures++;
        return;
    }
    answer(&s, "Module search path [none]: ", "");
    answer(&s, "Listener module [multicast]: ", "");
    answer(&s, "Multicast IP Address [225.0.0.99]: ", "");
    answer(&s, "Multicast IP Port [1300]: ", "");
    answer(&s, "Interface [none]: ", "nosuchif0");
    expect(&s, "Interface 'nosuchif0' does not exist");
    answer(&s, "Use this value anyway [y/N]? ", "");
    answer(&s, "Interface [none]: ", "lo");
    answer(&s, "Key File [/etc/cluster/fence_xvm.key]: ", "");
    answer(&s, "[sha256]: ", "");
    answer(&s, "[sha256]: ", "");
    answer(&s, "Backend module [libvirt]: ", "");
    answer(&s, "Libvirt URI [test:///default]: ", "");
    answer(&s, "[y/N]? ", "");
    expect(&s, "'cluster1': 1 requester(s), 1 domain(s)");
    answer(&s, "Keep the existing groups [Y/n]? ", "");
    answer(&s, "Add a group [y/N]? ", "");
    expect(&s, "warning: unknown key 'local_note' in listeners/multicast");
    answer(&s, "with the above [y/N]? ", "y");
    VFT_EQ_INT(finish(&s), 0);
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
    if (!start(&s, path)) {
        vft_failures++;
        return;
    }
    answer(&s, "Start from scratch [y/N]? ", "y");
    answer(&s, "Module search path [none]: ", "");
    answer(&s, "Listener module [multicast]: ", "vsock");
    answer(&s, "vsock Listen Port [1229]: ", "");
    answer(&s, "Key File [/etc/cluster/fence_xvm.key]: ", "");
    answer(&s, "[sha256]: ", "");
    answer(&s, "[sha256]: ", "");
    answer(&s, "Backend module [libvirt]: ", "");
    answer(&s, "Libvirt URI [qemu:///system]: ", "");
    answer(&s, "[y/N]? ", "");
    answer(&s, "Add a group [y/N]? ", "");
    answer(&s, "with the above [y/N]? ", "y");
    VFT_EQ_INT(finish(&s), 0);
    {
        struct vf_conf *conf = load(path);

        VFT_EQ_STR(vf_conf_get(conf, "fence_virtd/listener", NULL), "vsock");
        vf_conf_free(conf);
    }
}

int
main(int argc, char **argv)
{
    char *slash;
    char cmd[PATH_MAX + 16];

    (void)argc;
    snprintf(driver, sizeof(driver), "%s", argv[0]);
    slash = strrchr(driver, '/');
    if (slash != NULL) {
        snprintf(slash + 1, sizeof(driver) - (size_t)(slash + 1 - driver), "configure-driver");
    } else {
        snprintf(driver, sizeof(driver), "./configure-driver");
    }
    if (access(driver, X_OK) != 0) {
        fprintf(stderr, "SKIP: %s not built\n", driver);
        return 77;
    }
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    VFT_RUN(test_fresh_defaults);
    VFT_RUN(test_tcp_and_group);
    VFT_RUN(test_serial_vsock);
    VFT_RUN(test_existing_keeps_comments);
    VFT_RUN(test_eof_declines);
    VFT_RUN(test_unparsable);
    if (vft_failures == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", tmpdir);
        }
    } else {
        fprintf(stderr, "files kept in %s\n", tmpdir);
    }
    VFT_EXIT();
}
