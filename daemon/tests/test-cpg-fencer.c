/*
 * vmfence - daemon/tests/test-cpg-fencer.c: unit tests of the cpg
 * backend's fencer module loader (daemon/backends/cpg-fence.c, linked;
 * internals through backends/cpg-int.h).
 *
 * Checked: a missing module, a relative module path, a module of another
 * ABI, a shared object that is no fencer module, and a file or directory
 * writable by others or owned by another user each refuse the module with
 * the file and the reason, and leave the fencer "not reachable"; a good
 * module's answers reach the backend, so a lost host's domain is off once
 * the module says the host was fenced, and never without the module.
 * When fencer-pacemaker.so is built, it loads (libstonithd is mapped only
 * from then on) and answers without a cluster.
 *
 * FAKED (cpg-fakes.h says how and why): libcpg, libvirt, and the fencer
 * modules (tests/cpg-fencer-module.c: the real one needs a Pacemaker
 * cluster; tests/cluster/cl-cpg-hostkill.sh runs it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpg-fakes.h"
#include "vftest.h"

static char tmpd[256];

/* copy the test module @name (tests/.libs/@name) to @tmpd/@sub/ as the
 * pacemaker fencer module, mode @mode; its directory in @dir */
static int
install(const char *name, const char *sub, mode_t mode, char *dir, size_t dir_len)
{
    char src[512], dst[512], buf[65536];
    int in = -1, out = -1, r = -1;
    ssize_t n;

    snprintf(src, sizeof(src), "%s/%s", VF_TEST_MODULE_DIR, name);
    snprintf(dir, dir_len, "%s/%s", tmpd, sub);
    snprintf(dst, sizeof(dst), "%s/%s", dir, CPG_FENCER_PCMK_FILE);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        return -1;
    }
    in = open(src, O_RDONLY | O_CLOEXEC);
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in < 0 || out < 0) {
        goto out;
    }
    for (int i = 0; i < 1024; i++) {   /* at most 64 MiB */
        n = read(in, buf, sizeof(buf));
        if (n <= 0) {
            r = n == 0 ? 0 : -1;
            break;
        }
        if (write(out, buf, (size_t)n) != n) {
            break;
        }
    }
    if (r == 0 && fchmod(out, mode) < 0) {
        r = -1;
    }
out:
    if (in >= 0) {
        close(in);
    }
    if (out >= 0) {
        close(out);
    }
    return r;
}

/* a backend with only what the loader touches */
static struct cpg_be *
mkbe(void)
{
    struct cpg_be *b = calloc(1, sizeof(*b));

    if (b != NULL) {
        pthread_mutex_init(&b->lock, NULL);
        b->fence_history = CPG_FH_PACEMAKER;
    }
    return b;
}

static void
rmbe(struct cpg_be *b)
{
    if (b != NULL) {
        cpg_fencer_close(b);
        pthread_mutex_destroy(&b->lock);
        free(b);
    }
}

static bool
reachable(struct cpg_be *b)
{
    return b->fencer.quorate != NULL && b->fencer.fenced_since != NULL;
}

/* does @why name @dir's module file and say @reason? */
static bool
names(const char *why, const char *dir, const char *reason)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir, CPG_FENCER_PCMK_FILE);
    if (strstr(why, path) == NULL || strstr(why, reason) == NULL) {
        fprintf(stderr, "reason: %s\n", why);
        return false;
    }
    return true;
}

/* no module: cpg_fencer_open still starts the backend, fencer unreachable */
static void
test_missing(void)
{
    struct cpg_be *b = mkbe();
    struct vf_conf *conf = NULL;
    char text[512], dir[300], why[1024] = "", err[256] = "";

    VFT_CHECK(b != NULL);
    if (b == NULL) {
        return;
    }
    snprintf(dir, sizeof(dir), "%s/none", tmpd);
    snprintf(text, sizeof(text), "fence_virtd { module_path = \"%s\"; }\n", dir);
    VFT_EQ_INT(vf_conf_parse_buffer("t.conf", text, strlen(text), &conf, err, sizeof(err)), 0);
    VFT_EQ_INT(cpg_fencer_open(b, conf, err, sizeof(err)), 0);
    VFT_CHECK(!reachable(b));
    VFT_CHECK(b->fencer_owned == NULL);
    VFT_EQ_INT(cpg_fencer_load(b, dir, why, sizeof(why)), -ENOENT);
    VFT_CHECK(names(why, dir, "No such file"));
    VFT_CHECK(!reachable(b));
    /* a relative module path is refused before anything is opened */
    VFT_EQ_INT(cpg_fencer_load(b, "daemon/.libs", why, sizeof(why)), -EINVAL);
    VFT_CHECK(strstr(why, "'daemon/.libs' is not an absolute path") != NULL);
    /* fence_history = none: nothing is loaded, nothing said */
    b->fence_history = CPG_FH_NONE;
    VFT_EQ_INT(cpg_fencer_open(b, conf, err, sizeof(err)), 0);
    VFT_CHECK(!reachable(b));
    vf_conf_free(conf);
    rmbe(b);
}

/* another ABI, or a shared object without the entry symbol */
static void
test_wrong_module(void)
{
    struct cpg_be *b = mkbe();
    char dir[300], why[1024] = "";

    VFT_CHECK(b != NULL && install("fencer-abi99.so", "abi", 0644, dir, sizeof(dir)) == 0);
    if (b == NULL) {
        return;
    }
    VFT_EQ_INT(cpg_fencer_load(b, dir, why, sizeof(why)), -ENOEXEC);
    VFT_CHECK(names(why, dir, "fencer module ABI 99, fence_virtd expects 1"));
    VFT_CHECK(!reachable(b));
    VFT_CHECK(install("fencer-other.so", "other", 0644, dir, sizeof(dir)) == 0);
    VFT_EQ_INT(cpg_fencer_load(b, dir, why, sizeof(why)), -ENOEXEC);
    VFT_CHECK(names(why, dir, "has no symbol " CPG_FENCER_ENTRY));
    VFT_CHECK(!reachable(b));
    rmbe(b);
}

/* fence_virtd runs as root: what others may change is refused */
static void
test_permissions(void)
{
    struct cpg_be *b = mkbe();
    char dir[300], file[400], why[1024] = "";

    VFT_CHECK(b != NULL && install("fencer-good.so", "perm", 0664, dir, sizeof(dir)) == 0);
    if (b == NULL) {
        return;
    }
    snprintf(file, sizeof(file), "%s/%s", dir, CPG_FENCER_PCMK_FILE);
    VFT_EQ_INT(cpg_fencer_load(b, dir, why, sizeof(why)), -EPERM);
    VFT_CHECK(names(why, dir, "is writable by its group (mode 0664), refused"));
    VFT_EQ_INT(chmod(file, 0646), 0);
    VFT_EQ_INT(cpg_fencer_load(b, dir, why, sizeof(why)), -EPERM);
    VFT_CHECK(names(why, dir, "is writable by others (mode 0646)"));
    VFT_EQ_INT(chmod(file, 0644), 0);
    VFT_EQ_INT(chmod(dir, 0777), 0);
    VFT_EQ_INT(cpg_fencer_load(b, dir, why, sizeof(why)), -EPERM);
    VFT_CHECK(strstr(why, "is writable by others (mode 0777)") != NULL);
    VFT_EQ_INT(chmod(dir, 0755), 0);
    VFT_CHECK(!reachable(b));
    if (geteuid() == 0) {
        VFT_EQ_INT(chown(file, 65534, 65534), 0);
        VFT_EQ_INT(cpg_fencer_load(b, dir, why, sizeof(why)), -EPERM);
        VFT_CHECK(names(why, dir, "is owned by uid 65534, neither root nor fence_virtd's user"));
        VFT_CHECK(!reachable(b));
        VFT_EQ_INT(chown(file, 0, 0), 0);
    } else {
        VFT_SKIP_PART("not root: a module owned by another user is not checked");
    }
    /* a symbolic link is not followed */
    {
        char real[420];

        snprintf(real, sizeof(real), "%s.real", file);
        VFT_EQ_INT(rename(file, real), 0);
        VFT_EQ_INT(symlink(real, file), 0);
        VFT_EQ_INT(cpg_fencer_load(b, dir, why, sizeof(why)), -ELOOP);
        VFT_CHECK(names(why, dir, "Too many levels of symbolic links"));
        VFT_CHECK(!reachable(b));
        VFT_EQ_INT(unlink(file), 0);
        VFT_EQ_INT(rename(real, file), 0);
    }
    VFT_EQ_INT(cpg_fencer_load(b, dir, why, sizeof(why)), 0);
    VFT_CHECK(reachable(b));
    rmbe(b);
}

/* a good module's answers reach the seam; closing it leaves none */
static void
test_good_module(void)
{
    struct cpg_be *b = mkbe();
    struct cpg_fence_rec rec;
    char dir[300], why[1024] = "";

    VFT_CHECK(b != NULL && install("fencer-good.so", "good", 0644, dir, sizeof(dir)) == 0);
    if (b == NULL) {
        return;
    }
    VFT_EQ_INT(cpg_fencer_load(b, dir, why, sizeof(why)), 0);
    VFT_CHECK(reachable(b) && b->fencer_owned != NULL);
    if (reachable(b)) {
        VFT_EQ_INT(b->fencer.quorate(b->fencer.ctx, dl(1000)), 1);
        VFT_EQ_INT(b->fencer.fenced_since(b->fencer.ctx, 7, 1000, &rec, dl(1000)), 0);
        VFT_EQ_INT(rec.completed, 1005);
        VFT_EQ_STR(rec.delegate, "fake-of-node-7");
    }
    /* loading again replaces the first (closed; the module stays mapped) */
    VFT_EQ_INT(cpg_fencer_load(b, dir, why, sizeof(why)), 0);
    VFT_CHECK(reachable(b));
    cpg_fencer_close(b);
    VFT_CHECK(!reachable(b) && b->fencer_owned == NULL);
    cpg_fencer_close(b);        /* nothing loaded: nothing done */
    rmbe(b);
}

/* through the whole backend: module_path from the configuration; a lost
 * host's domain is off with the module's record, never without a module */
static void
test_backend(void)
{
    struct cpg_be *be = NULL;
    struct vf_cpgw_dom d;
    char dir[300], text[1024], why[1024] = "";
    size_t lost = 0;

    VFT_CHECK(install("fencer-good.so", "backend", 0644, dir, sizeof(dir)) == 0);
    snprintf(text, sizeof(text), "fence_virtd { module_path = \"%s\"; }\n%s", dir,
             CT_CONF_TEXT);
    VFT_EQ_INT(ct_start(text, &be), 0);
    if (be == NULL) {
        return;
    }
    VFT_CHECK(reachable(be) && be->fencer_owned != NULL);
    VFT_CHECK(ct_wait_monitor(be, 0));
    mkdom(&d, "g2-z", U_WEB2, VF_STATE_RUNNING);
    peer_announce(&d, 1, 1000);
    VFT_CHECK(ct_wait_gen(be, 1000));
    VFT_CHECK(ct_wait_known(be, "g2-z", true));
    fq_confchg(false, true, false);     /* the peer's host is lost */
    for (int i = 0; i < 300 && lost == 0; i++) {
        pthread_mutex_lock(&be->lock);
        lost = be->n_lost;
        pthread_mutex_unlock(&be->lock);
        if (lost == 0) {
            vf_sleep_ms(10);
        }
    }
    VFT_EQ_INT(lost, 1);
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(3000)), 0);
    /* without the module: never off */
    cpg_fencer_close(be);
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(1500)), -EHOSTDOWN);
    snprintf(text, sizeof(text), "%s/none", tmpd);
    VFT_EQ_INT(cpg_fencer_load(be, text, why, sizeof(why)), -ENOENT);
    VFT_EQ_INT(cpg_op_off(be, "g2-z", 0, dl(1500)), -EHOSTDOWN);
    cpg_fini(be);
}

#ifdef VF_TEST_PCMK_MODULE_DIR
static bool
mapped(const char *lib)
{
    char line[1024];
    bool found = false;
    FILE *f = fopen("/proc/self/maps", "re");

    while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL) {
        found = strstr(line, lib) != NULL;
    }
    if (f != NULL) {
        fclose(f);
    }
    return found;
}
#endif

/* the real module: loads, maps libstonithd only from then on, answers */
static void
test_real_module(void)
{
#ifdef VF_TEST_PCMK_MODULE_DIR
    struct cpg_be *b = mkbe();
    struct cpg_fence_rec rec;
    char why[1024] = "";
    int r;

    VFT_CHECK(b != NULL);
    if (b == NULL) {
        return;
    }
    VFT_CHECK(!mapped("libstonithd"));
    r = cpg_fencer_load(b, VF_TEST_PCMK_MODULE_DIR, why, sizeof(why));
    VFT_EQ_INT(r, 0);
    if (r < 0) {
        fprintf(stderr, "reason: %s\n", why);
        rmbe(b);
        return;
    }
    VFT_CHECK(mapped("libstonithd") && mapped("libquorum"));
    /* the fencer's timeout is whole seconds: under one second left, no question */
    VFT_EQ_INT(b->fencer.fenced_since(b->fencer.ctx, 2, 0, &rec, dl(500)), -ETIMEDOUT);
    /* no corosync in this test: "cannot tell" (or a real answer where one runs) */
    r = b->fencer.quorate(b->fencer.ctx, dl(2000));
    VFT_CHECK(r == 1 || r == 0 || r == -EHOSTDOWN);
    rmbe(b);
#else
    VFT_SKIP_PART("fencer-pacemaker.so is not built (no pacemaker-fencing)");
#endif
}

int
main(void)
{
    const char *t = getenv("TMPDIR");

    if (ct_begin("test-cpg-fencer") < 0) {
        return 1;
    }
    snprintf(tmpd, sizeof(tmpd), "%s/test-cpg-fencer.XXXXXX", t != NULL && t[0] == '/' ? t : "/tmp");
    if (mkdtemp(tmpd) == NULL || chmod(tmpd, 0755) < 0) {
        perror(tmpd);
        return 1;
    }
    VFT_RUN(test_missing);
    VFT_RUN(test_wrong_module);
    VFT_RUN(test_permissions);
    VFT_RUN(test_good_module);
    VFT_RUN(test_backend);
    VFT_RUN(test_real_module);
    fq_teardown();
    {
        char cmd[400];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpd);
        if (system(cmd) != 0) {
            fprintf(stderr, "cannot remove %s\n", tmpd);
        }
    }
    VFT_EXIT();
}
