/*
 * vmfence - daemon/tests/test-config.c: unit tests of the fence_virt.conf
 * parser, query API and writer (daemon/conftree*.c).
 *
 * Nothing is faked: every test parses literal buffers, and the round-trip
 * test reads the fixtures in tests/data/conf/good (found through
 * $VF_TOP_SRCDIR, set by make check).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conftree.h"
#include "conftree-node.h"
#include "vftest.h"

static struct vf_conf *
parse_ok(const char *text)
{
    struct vf_conf *conf = NULL;
    char err[512] = "";
    int r = vf_conf_parse_buffer("t.conf", text, strlen(text), &conf, err, sizeof(err));

    if (r != 0) {
        fprintf(stderr, "unexpected parse error %d: %s\n", r, err);
    }
    VFT_EQ_INT(r, 0);
    return conf;
}

/* Parse must fail with exactly @msg. */
static void
parse_fails(const char *text, size_t len, const char *msg)
{
    struct vf_conf *conf = NULL;
    char err[512] = "";
    int r = vf_conf_parse_buffer("t.conf", text, len, &conf, err, sizeof(err));

    VFT_CHECK(r < 0);
    VFT_CHECK(conf == NULL);
    VFT_EQ_STR(err, msg);
    vf_conf_free(conf);
}

/* the value of the key at @path, "" included (NULL: no such key) */
static const char *
key_value(const struct vf_conf *conf, const char *path)
{
    const struct vf_conf_node *n = vf_conf_key(conf, NULL, path);

    return n != NULL ? n->value : NULL;
}

/* the value of the block at @path (NULL: no such block, or none given) */
static const char *
block_value(const struct vf_conf *conf, const char *path)
{
    const struct vf_conf_node *n = vf_conf_block(conf, NULL, path);

    return n != NULL ? n->value : NULL;
}

/* parse_ok(@text), then @checks on it, then free it */
static void
with_conf(const char *text, void (*checks)(const struct vf_conf *conf))
{
    struct vf_conf *conf = parse_ok(text);

    if (conf == NULL) {
        return;
    }
    checks(conf);
    vf_conf_free(conf);
}

static char *
write_str(const struct vf_conf *conf)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL) {
        return NULL;
    }
    VFT_EQ_INT(vf_conf_write(conf, f), 0);
    fclose(f);
    return buf;
}

/* the grammar's forms in one text */
static void
grammar_checks(const struct vf_conf *conf)
{
    const struct vf_conf_node *n;

    VFT_EQ_STR(vf_conf_get(conf, "a", NULL), "1");
    VFT_EQ_STR(vf_conf_get(conf, "blk/k", NULL), "v");
    n = vf_conf_block(conf, NULL, "empty");
    VFT_CHECK(n != NULL && n->is_block && n->children == NULL && n->value == NULL);
    n = vf_conf_block(conf, NULL, "named");
    VFT_CHECK(n != NULL && n->is_block);
    VFT_EQ_STR(block_value(conf, "named"), "n1");
    VFT_EQ_STR(vf_conf_get(conf, "named/x", NULL), "y");
    VFT_CHECK(vf_conf_get(conf, "path-ids/qemu:///x.y/z-1", NULL) == NULL);  /* '/' splits */
    n = vf_conf_block(conf, NULL, "path-ids");
    VFT_EQ_STR(n != NULL && n->children != NULL ? n->children->name : NULL, "qemu:///x.y/z-1");
    VFT_EQ_STR(vf_conf_get(conf, "multi", NULL), "line one\nline two");
    VFT_EQ_STR(vf_conf_get(conf, "esc", NULL), "q\"b\\c\\d");
    VFT_EQ_STR(key_value(conf, "nothing"), "");
    VFT_EQ_STR(vf_conf_get(conf, "nothing", "dflt"), "dflt");   /* "" = not set */
    VFT_EQ_STR(vf_conf_get(conf, "nest/a/b/c", NULL), "deep");
    VFT_EQ_STR(vf_conf_get(conf, "tight/k", NULL), "v");
    n = vf_conf_key(conf, NULL, "nest/a/b/c");
    VFT_EQ_INT(n != NULL ? n->line : 0, 10);
    VFT_EQ_INT(n != NULL ? n->col : 0, 16);
    n = vf_conf_key(conf, NULL, "esc");
    VFT_EQ_INT(n != NULL ? n->line : 0, 8);         /* multi-line value counted */
}

static void
test_grammar_forms(void)
{
    struct vf_conf *conf = NULL;

    with_conf(
        "a = \"1\";\n"
        "blk { k = \"v\"; }\n"
        "empty { }\n"
        "named = \"n1\" { x = \"y\"; }\n"
        "path-ids { qemu:///x.y/z-1 = \"ok\"; }\n"
        "multi = \"line one\nline two\";\n"
        "esc = \"q\\\"b\\\\c\\d\";\n"
        "nothing = \"\";\n"
        "nest { a { b { c = \"deep\"; } } }\n"
        "tight{k=\"v\";}\n",
        grammar_checks);

    /* empty file, only comments, "};", CRLF */
    conf = parse_ok("");
    VFT_CHECK(conf != NULL && conf->root != NULL && conf->root->children == NULL);
    vf_conf_free(conf);
    conf = parse_ok("# nothing\n\n# at all\n");
    VFT_CHECK(conf != NULL && conf->root->children == NULL);
    VFT_EQ_STR(conf != NULL ? conf->trailing_comment : NULL, "# nothing\n\n# at all");
    vf_conf_free(conf);
    conf = parse_ok("a { b = \"1\"; };\r\nc = \"2\";\r\n");
    VFT_EQ_STR(vf_conf_get(conf, "a/b", NULL), "1");
    VFT_EQ_STR(vf_conf_get(conf, "c", NULL), "2");
    vf_conf_free(conf);
    /* '#' inside an identifier is part of it (as in the reference lexer) */
    conf = parse_ok("a#b = \"1\"; #c\n");
    VFT_EQ_STR(vf_conf_get(conf, "a#b", NULL), "1");
    vf_conf_free(conf);
}

/* lookups: repeated names, selectors, relative paths */
static void
lookup_checks(const struct vf_conf *conf)
{
    const struct vf_conf_node *n;

    /* last one wins, names compare case-insensitively */
    VFT_EQ_STR(vf_conf_get(conf, "FENCE_VIRTD/LISTENER", NULL), "second");
    VFT_EQ_STR(vf_conf_get(conf, "listeners/multicast/port", NULL), "2");
    VFT_EQ_STR(vf_conf_get(conf, "listeners/tcp/port", "none"), "none");  /* earlier block */
    /* [N] file order, [@value] */
    VFT_EQ_STR(block_value(conf, "groups/group[1]"), "a");
    n = vf_conf_block(conf, NULL, "groups/group[3]");
    VFT_CHECK(n != NULL && n->value == NULL);
    VFT_CHECK(vf_conf_block(conf, NULL, "groups/group[4]") == NULL);
    n = vf_conf_block(conf, NULL, "groups/group");
    VFT_EQ_STR(n != NULL && n->children != NULL ? n->children->value : NULL, "c");
    VFT_EQ_STR(vf_conf_get(conf, "groups/group[@b]/ip", NULL), "2.2.2.2");
    VFT_EQ_STR(vf_conf_get(conf, "groups/group[@a]/ip", NULL), "1.1.1.2");
    VFT_EQ_STR(vf_conf_get(conf, "groups/group[@a]/ip[1]", NULL), "1.1.1.1");
    VFT_EQ_STR(vf_conf_get(conf, "groups/group[@a]/@ip[2]", NULL), "1.1.1.2");
    VFT_CHECK(vf_conf_block(conf, NULL, "groups/group[@zz]") == NULL);
    /* relative lookups */
    n = vf_conf_block(conf, NULL, "groups");
    VFT_EQ_STR(vf_conf_key(conf, n, "group[@b]/ip") != NULL ?
               vf_conf_key(conf, n, "group[@b]/ip")->value : NULL, "2.2.2.2");
    VFT_CHECK(vf_conf_block(conf, n, "") == n);
    VFT_CHECK(vf_conf_block(conf, NULL, NULL) == conf->root);
    /* assignments and blocks of the same name are distinct */
    VFT_EQ_STR(vf_conf_get(conf, "x", NULL), "assign");
    VFT_EQ_STR(vf_conf_get(conf, "x/y", NULL), "block");
    /* malformed selectors simply match nothing */
    VFT_CHECK(vf_conf_block(conf, NULL, "groups/group[") == NULL);
    VFT_CHECK(vf_conf_block(conf, NULL, "groups/group[0]") == NULL);
    VFT_CHECK(vf_conf_block(conf, NULL, "groups/group[x]") == NULL);
    VFT_CHECK(vf_conf_get(NULL, "a", NULL) == NULL);
}

static void
test_lookup_semantics(void)
{
    with_conf(
        "fence_virtd { listener = \"first\"; Listener = \"second\"; }\n"
        "listeners { tcp { port = \"1\"; } }\n"
        "LISTENERS { multicast { port = \"2\"; } }\n"
        "groups {\n"
        "  group = \"a\" { ip = \"1.1.1.1\"; ip = \"1.1.1.2\"; }\n"
        "  group = \"b\" { ip = \"2.2.2.2\"; }\n"
        "  group { name = \"c\"; }\n"
        "}\n"
        "x = \"assign\";\n"
        "x { y = \"block\"; }\n",
        lookup_checks);
}

static void
test_get_uint(void)
{
    struct vf_conf *conf = parse_ok(
        "listeners {\n tcp {\n  port = \"70000\";\n }\n multicast { port = \" 1229 \"; }\n"
        " vsock { port = \"12x\"; }\n serial { port = \"\"; }\n"
        " big { port = \"99999999999999999999999999\"; }\n}\n");
    unsigned long v = 7;
    char err[256] = "";

    if (conf == NULL) {
        return;
    }
    VFT_EQ_INT(vf_conf_get_uint(conf, "listeners/tcp/port", 1, 65535, 1229, &v, err,
                                sizeof(err)), -ERANGE);
    VFT_EQ_STR(err, "t.conf:3: 'listeners/tcp/port' = '70000' is out of range 1..65535");
    VFT_EQ_INT(vf_conf_get_uint(conf, "listeners/multicast/port", 1, 65535, 0, &v, err,
                                sizeof(err)), 0);
    VFT_EQ_INT(v, 1229);
    VFT_EQ_INT(vf_conf_get_uint(conf, "listeners/vsock/port", 1, 65535, 0, &v, err,
                                sizeof(err)), -EINVAL);
    VFT_EQ_STR(err, "t.conf:6: 'listeners/vsock/port' = '12x' is not a number");
    VFT_EQ_INT(vf_conf_get_uint(conf, "listeners/big/port", 1, 65535, 0, &v, err,
                                sizeof(err)), -ERANGE);
    VFT_EQ_INT(vf_conf_get_uint(conf, "listeners/serial/port", 1, 65535, 42, &v, err,
                                sizeof(err)), 0);
    VFT_EQ_INT(v, 42);
    VFT_EQ_INT(vf_conf_get_uint(conf, "listeners/none/port", 1, 65535, 43, &v, err,
                                sizeof(err)), 0);
    VFT_EQ_INT(v, 43);
    vf_conf_free(conf);
}

static void
test_errors(void)
{
    char big[300];
    char deep[40 * 8];
    char *huge;
    size_t o = 0;

    parse_fails("a = \"1\"\nb = \"2\";", 16, "t.conf:2:1: expected ';' after value of 'a', found 'b'");
    parse_fails("port = 1229;", 12,
                "t.conf:1:8: expected a double-quoted value for 'port', found '1229' "
                "(value must be double-quoted)");
    parse_fails("port = '1229';", 14,
                "t.conf:1:8: expected a double-quoted value for 'port', found ''1229'' "
                "(value must be double-quoted)");
    parse_fails("port = ;", 8, "t.conf:1:8: expected a double-quoted value for 'port', found ';'");
    parse_fails("x {\n  port = \"12;\n}\n", 18,
                "t.conf:2:10: unterminated string starting at 2:10 (value of 'port')");
    parse_fails("a {\n b { }\n", 11,
                "t.conf:3:1: expected '}' to close block 'a' opened at 1:1, found end of file");
    parse_fails("}", 1, "t.conf:1:1: expected an identifier, found '}' (no block is open)");
    parse_fails("a \"v\";", 6, "t.conf:1:3: expected '=' or '{' after 'a', found \"v\"");
    parse_fails("a", 1, "t.conf:1:2: expected '=' or '{' after 'a', found end of file");
    parse_fails("a = \"v\" b", 9, "t.conf:1:9: expected ';' after value of 'a', found 'b'");
    parse_fails("a { ; }", 7, "t.conf:1:5: expected an identifier or '}', found ';'");
    parse_fails(";", 1, "t.conf:1:1: expected an identifier, found ';'");
    parse_fails("= \"x\";", 6, "t.conf:1:1: expected an identifier, found '='");
    parse_fails("\"x\" = \"y\";", 10, "t.conf:1:1: expected an identifier, found \"x\"");
    parse_fails("a = \"1\";;", 9, "t.conf:1:9: expected an identifier, found ';'");
    parse_fails("a = \"x\0y\";", 10, "t.conf:1:7: NUL byte in the string starting at 1:5");
    parse_fails("a = \"x\";\0", 9, "t.conf:1:9: expected an item, found a NUL byte");

    /* limits */
    memset(big, 'k', 256);
    memcpy(big + 256, " = \"x\";", 8);
    parse_fails(big, strlen(big), "t.conf:1:1: identifier longer than 255 bytes");
    big[255] = ' ';
    {
        struct vf_conf *conf = parse_ok(big);         /* 255 bytes are fine */

        vf_conf_free(conf);
    }
    for (int i = 0; i < 33; i++) {
        o += (size_t)snprintf(deep + o, sizeof(deep) - o, "b%d{", i + 1);
    }
    parse_fails(deep, o, "t.conf:1:123: block 'b33' is nested deeper than 32 levels");
    huge = malloc(1024 * 1024 + 16);
    if (huge != NULL) {
        memcpy(huge, "a = \"", 5);
        memset(huge + 5, 'v', 4097);
        memcpy(huge + 5 + 4097, "\";", 2);
        parse_fails(huge, 5 + 4097 + 2, "t.conf:1:5: value of 'a' longer than 4096 bytes");
        memset(huge, ' ', 1024 * 1024 + 1);
        {
            struct vf_conf *conf = NULL;
            char err[256];

            VFT_EQ_INT(vf_conf_parse_buffer("t.conf", huge, 1024 * 1024 + 1, &conf, err,
                                            sizeof(err)), -EFBIG);
            VFT_EQ_STR(err, "t.conf: file is larger than 1 MiB");
            conf = NULL;
            VFT_EQ_INT(vf_conf_parse_buffer("t.conf", huge, 1024 * 1024, &conf, err,
                                            sizeof(err)), 0);
            vf_conf_free(conf);
        }
        free(huge);
    }
    /* files */
    {
        struct vf_conf *conf = NULL;
        char err[256];

        VFT_EQ_INT(vf_conf_parse_file("/nonexistent/fence_virt.conf", &conf, err, sizeof(err)),
                   -ENOENT);
        VFT_EQ_STR(err, "/nonexistent/fence_virt.conf: cannot open: No such file or directory");
        VFT_EQ_INT(vf_conf_parse_file("/", &conf, err, sizeof(err)), -EINVAL);
        VFT_EQ_STR(err, "/: not a regular file");
    }
}

static void
test_comments_roundtrip(void)
{
    const char *in =
        "# head comment\n"
        "\n"
        "# about fence_virtd\n"
        "fence_virtd { # eol on open\n"
        "    listener = \"multicast\";   # eol on key\n"
        "\n"
        "    # before backend\n"
        "    backend = \"libvirt\";\n"
        "    # end of block\n"
        "}\n"
        "b = \"q\\\"x\";\n"
        "# trailing\n"
        "\n";
    const char *want =
        "# head comment\n"
        "\n"
        "# about fence_virtd\n"
        "fence_virtd { # eol on open\n"
        "\tlistener = \"multicast\"; # eol on key\n"
        "\n"
        "\t# before backend\n"
        "\tbackend = \"libvirt\";\n"
        "\t# end of block\n"
        "}\n"
        "b = \"q\\\"x\";\n"
        "# trailing\n";
    struct vf_conf *conf = parse_ok(in);
    struct vf_conf *again;
    char *out1, *out2;

    if (conf == NULL) {
        return;
    }
    out1 = write_str(conf);
    VFT_EQ_STR(out1, want);
    again = parse_ok(out1 != NULL ? out1 : "");
    out2 = again != NULL ? write_str(again) : NULL;
    VFT_EQ_STR(out2, out1);
    VFT_EQ_STR(vf_conf_block(conf, NULL, "fence_virtd")->comment,
               "# head comment\n\n# about fence_virtd");
    free(out1);
    free(out2);
    vf_conf_free(conf);
    vf_conf_free(again);
}

static void
test_where(void)
{
    struct vf_conf *conf = parse_ok("\n\na = \"1\";\n");
    char buf[64];

    if (conf == NULL) {
        return;
    }
    VFT_EQ_STR(vf_conf_where(conf, vf_conf_key(conf, NULL, "a"), buf, sizeof(buf)), "t.conf:3");
    VFT_EQ_STR(vf_conf_where(conf, NULL, buf, sizeof(buf)), "t.conf");
    vf_conf_free(conf);
    VFT_CHECK(vf_conf_free(NULL) == NULL);
}

/* parse -> write -> parse -> write is stable for every good fixture */
static void
test_fixtures_roundtrip(void)
{
    const char *top = getenv("VF_TOP_SRCDIR");
    char dir[PATH_MAX];
    DIR *d;
    struct dirent *e;
    int count = 0;

    snprintf(dir, sizeof(dir), "%s/tests/data/conf/good", top != NULL ? top : "../..");
    d = opendir(dir);
    VFT_CHECK(d != NULL);   /* main() skips the program when it is missing */
    if (d == NULL) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX + 256];
        char err[512];
        struct vf_conf *c1 = NULL, *c2 = NULL;
        char *w1, *w2;
        size_t n = strlen(e->d_name);

        if (n < 6 || strcmp(e->d_name + n - 5, ".conf") != 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        VFT_EQ_INT(vf_conf_parse_file(path, &c1, err, sizeof(err)), 0);
        if (c1 == NULL) {
            fprintf(stderr, "%s\n", err);
            continue;
        }
        w1 = write_str(c1);
        VFT_EQ_INT(vf_conf_parse_buffer(path, w1, strlen(w1), &c2, err, sizeof(err)), 0);
        w2 = c2 != NULL ? write_str(c2) : NULL;
        VFT_EQ_STR(w2, w1);
        count++;
        free(w1);
        free(w2);
        vf_conf_free(c1);
        vf_conf_free(c2);
    }
    closedir(d);
    VFT_CHECK(count >= 10);
}

int
main(void)
{
    const char *top = getenv("VF_TOP_SRCDIR");
    char dir[PATH_MAX];
    DIR *d;

    /* the round-trip fixtures are part of the source tree: without them this
     * program cannot check what it claims, so it skips (77) instead */
    snprintf(dir, sizeof(dir), "%s/tests/data/conf/good", top != NULL ? top : "../..");
    d = opendir(dir);
    if (d == NULL) {
        VFT_SKIP_ALL("fixtures '%s' not found (%s); set VF_TOP_SRCDIR to the source tree",
                     dir, strerror(errno));
    }
    closedir(d);
    VFT_RUN(test_grammar_forms);
    VFT_RUN(test_lookup_semantics);
    VFT_RUN(test_get_uint);
    VFT_RUN(test_errors);
    VFT_RUN(test_comments_roundtrip);
    VFT_RUN(test_where);
    VFT_RUN(test_fixtures_roundtrip);
    VFT_EXIT();
}
