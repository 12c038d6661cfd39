/*
 * vmfence - daemon/configure.c: the interactive configurator (fence_virtd -c).
 *
 * Follows the reference flow (protocol.md 3.4: "Text [default]: " prompts,
 * empty answer = default) with its defects fixed (D12):
 *   - every registered listener can be configured, and several at once
 *     (fence_virtd/listener is a comma-separated list); the questions of a
 *     listener or backend come from its plugin's settings schema, so this
 *     file names no plugin (configure-ask.c);
 *   - the tcp listen address defaults to 127.0.0.1, not the multicast group;
 *   - the serial listener's libvirt URI is saved;
 *   - key file, hash and auth are asked for every network listener;
 *   - groups can be kept and new groups added (configure-groups.c);
 *   - the existing file is edited in place: comments and order are kept, new
 *     keys go to the end of their block;
 *   - the result is written atomically (mkostemp in the same directory,
 *     mode 0600, fsync, rename).
 * Input is bounded (configure-ask.c), and end of input at any question
 * means "decline" (return 1, nothing written).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "configure.h"
#include "configure-int.h"
#include "confcheck.h"
#include "registry.h"

#define MAX_PLUGINS 64
#define ASK_AGAIN   2

static void
lower(char *s)
{
    for (; *s != '\0'; s++) {
        *s = (char)tolower((unsigned char)*s);
    }
}

/* "a, b, c": the registered listener names, into @buf */
static const char *
listener_names(char *buf, size_t len)
{
    const struct vf_listener_ops *l = NULL;

    buf[0] = '\0';
    for (size_t i = 0; i < MAX_PLUGINS && (l = vf_registry_listener_at(i)) != NULL; i++) {
        size_t o = strlen(buf);

        snprintf(buf + o, len - o, "%s%s", i > 0 ? ", " : "", l->name);
    }
    return buf;
}

/* ---- listeners ------------------------------------------------------------- */

/*
 * Check and normalise one answer "a , b" -> "a,b" into @list; an unknown
 * name is kept only when confirmed.  ASK_AGAIN, or as vf_cfg_ask().
 */
static int
listener_list(struct vf_cfg_io *io, const char *ans, char *list, size_t len)
{
    char buf[VF_CFG_ANSWER_MAX];
    char *save = NULL;

    snprintf(buf, sizeof(buf), "%s", ans);
    list[0] = '\0';
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        vf_cfg_trim(tok);
        if (tok[0] == '\0') {
            continue;
        }
        if (vf_registry_listener(tok) == NULL) {
            bool yes = false;
            int r;

            fprintf(io->out, "Unknown listener module '%s'.\n", tok);
            r = vf_cfg_ask_yn(io, "Use this value anyway", false, &yes);
            if (r != 0 || !yes) {
                return r != 0 ? r : ASK_AGAIN;
            }
        }
        if (strlen(list) + strlen(tok) + 2 < len) {
            if (list[0] != '\0') {
                strcat(list, ",");
            }
            strcat(list, tok);
        }
    }
    if (list[0] == '\0') {
        fprintf(io->out, "At least one listener is needed.\n");
        return ASK_AGAIN;
    }
    return 0;
}

/* the questions of each known listener of @list */
static int
conf_each_listener(struct vf_cfg_io *io, struct vf_conf *conf, char *list)
{
    struct vf_conf_node *ls = vf_conf_block_ensure(conf->root, "listeners");
    char *save = NULL;
    int r = 0;

    if (ls == NULL) {
        return -ENOMEM;
    }
    for (char *tok = strtok_r(list, ",", &save); tok != NULL && r == 0;
         tok = strtok_r(NULL, ",", &save)) {
        const struct vf_listener_ops *l = vf_registry_listener(tok);
        struct vf_conf_node *blk;

        if (l == NULL) {
            fprintf(io->out, "Unable to configure unknown listener module '%s'.\n", tok);
            continue;
        }
        lower(tok);
        blk = vf_conf_block_ensure(ls, tok);
        if (blk == NULL) {
            return -ENOMEM;
        }
        r = vf_cfg_ask_schema(io, blk, l->schema);
    }
    return r;
}

/* Listener list: ask, validate each name, then configure each known one. */
static int
conf_listeners(struct vf_cfg_io *io, struct vf_conf *conf, struct vf_conf_node *fv)
{
    char ans[VF_CFG_ANSWER_MAX];
    char list[VF_CFG_ANSWER_MAX];
    char names[512];
    int r;

    fprintf(io->out,
            "\nListener modules are responsible for accepting requests\n"
            "from fencing clients (%s).  Several\n"
            "listeners may be given, separated by commas.\n\n",
            listener_names(names, sizeof(names)));
    for (int t = 0; ; t++) {
        if (t == VF_CFG_MAX_TRIES) {
            return vf_cfg_too_many(io);
        }
        r = vf_cfg_ask(io, "Listener module", vf_cfg_get(fv, "listener", "multicast"), ans,
                       sizeof(ans));
        if (r == 0) {
            r = listener_list(io, ans, list, sizeof(list));
        }
        if (r != ASK_AGAIN) {
            break;
        }
    }
    if (r != 0) {
        return r;
    }
    r = vf_conf_set(fv, "listener", list);
    return r < 0 ? r : conf_each_listener(io, conf, list);
}

/* ---- backend --------------------------------------------------------------- */

static int
conf_backend(struct vf_cfg_io *io, struct vf_conf *conf, struct vf_conf_node *fv)
{
    const struct vf_backend_ops *b = NULL;
    char ans[VF_CFG_ANSWER_MAX];
    struct vf_conf_node *bs, *blk;
    bool yes = false;
    int r;

    fprintf(io->out,
            "\nBackend modules are responsible for routing requests to\n"
            "the appropriate hypervisor or management layer.\n\n");
    for (int t = 0; b == NULL; t++) {
        if (t == VF_CFG_MAX_TRIES) {
            return vf_cfg_too_many(io);
        }
        r = vf_cfg_ask(io, "Backend module", vf_cfg_get(fv, "backend", "libvirt"), ans,
                       sizeof(ans));
        if (r != 0) {
            return r;
        }
        b = vf_registry_backend(ans);
        if (b != NULL) {
            break;
        }
        fprintf(io->out, "Unknown backend module '%s'.\n", ans);
        r = vf_cfg_ask_yn(io, "Use this value anyway", false, &yes);
        if (r != 0 || yes) {
            return r != 0 ? r : vf_conf_set(fv, "backend", ans);
        }
    }
    lower(ans);
    r = vf_conf_set(fv, "backend", ans);
    if (r < 0) {
        return r;
    }
    bs = vf_conf_block_ensure(conf->root, "backends");
    blk = bs != NULL ? vf_conf_block_ensure(bs, ans) : NULL;
    return blk == NULL ? -ENOMEM : vf_cfg_ask_schema(io, blk, b->schema);
}

/* ---- the file ---------------------------------------------------------------- */

/* fsync the directory holding @path (best effort: the rename is durable) */
static void
sync_dir_of(const char *path)
{
    char *dir = strdup(path);
    char *slash = dir != NULL ? strrchr(dir, '/') : NULL;
    int dfd;

    if (dir == NULL) {
        return;
    }
    if (slash == dir) {
        slash[1] = '\0';
    } else if (slash != NULL) {
        *slash = '\0';
    } else {
        strcpy(dir, ".");
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(dir);
}

/* write, fsync and close @conf into @fd (always closed) */
static int
write_fd(const struct vf_conf *conf, int fd)
{
    FILE *f = fchmod(fd, 0600) == 0 ? fdopen(fd, "w") : NULL;
    int r;

    if (f == NULL) {
        r = -errno;
        close(fd);
        return r;
    }
    r = vf_conf_write(conf, f);
    if (r == 0 && fsync(fileno(f)) < 0) {
        r = -errno;
    }
    if (fclose(f) != 0 && r == 0) {
        r = -errno;
    }
    return r;
}

/*
 * Write @conf to @path atomically: temporary file in the same directory
 * (mode 0600), fsync, rename, fsync of the directory.
 */
static int
write_atomic(const struct vf_conf *conf, const char *path, FILE *out)
{
    char *tmp = NULL;
    int fd;
    int r;

    if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
        return -ENOMEM;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        fprintf(out, "Unable to create a temporary file next to '%s': %s\n", path,
                strerror(-r));
        free(tmp);
        return r;
    }
    r = write_fd(conf, fd);
    if (r == 0 && rename(tmp, path) < 0) {
        r = -errno;
    }
    if (r < 0) {
        fprintf(out, "Unable to write '%s': %s\n", path, strerror(-r));
        unlink(tmp);
    } else {
        sync_dir_of(path);
    }
    free(tmp);
    return r;
}

/* Load @path; fresh config when missing; ask when unparsable. */
static int
load(struct vf_cfg_io *io, const char *path, struct vf_conf **ret_conf)
{
    char err[1024];
    bool yes = false;
    int r;

    r = vf_conf_parse_file(path, ret_conf, err, sizeof(err));
    if (r == 0) {
        return 0;
    }
    if (r != -ENOENT) {
        fprintf(io->out, "%s\n", err);
        if (r == -EACCES || r == -EPERM) {
            return r;
        }
        r = vf_cfg_ask_yn(io, "Start from scratch", false, &yes);
        if (r != 0) {
            return r;
        }
        if (!yes) {
            return VF_CFG_ABORT;
        }
    }
    return vf_conf_parse_buffer(path, "", 0, ret_conf, err, sizeof(err));
}

static int
conf_module_path(struct vf_cfg_io *io, struct vf_conf_node *fv)
{
    char ans[VF_CFG_ANSWER_MAX];
    int r;

    fprintf(io->out, "The module search path is where fence_virtd looks for plugins besides\n"
            "its built-in listeners and backends.  Set to 'none' to use the\n"
#ifdef VF_MODULE_PATH
            "compiled-in default (" VF_MODULE_PATH ").\n\n");
#else
            "compiled-in default.\n\n");
#endif
    r = vf_cfg_ask(io, "Module search path", vf_cfg_get(fv, "module_path", "none"), ans,
                   sizeof(ans));
    if (r != 0) {
        return r;
    }
    if (strcasecmp(ans, "none") == 0) {
        vf_conf_unset(fv, "module_path", false);
        return 0;
    }
    return vf_conf_set(fv, "module_path", ans);
}

/* Show the result and what --check-config says of it. */
static int
show(struct vf_cfg_io *io, const struct vf_conf *conf)
{
    char *text = NULL;
    size_t len = 0;
    FILE *ms = NULL;
    int r;

    fprintf(io->out, "\nConfiguration complete.\n\n=== Begin Configuration ===\n");
    r = vf_conf_write(conf, io->out);
    if (r < 0) {
        return r;
    }
    fprintf(io->out, "=== End Configuration ===\n");
    ms = open_memstream(&text, &len);
    if (ms != NULL) {
        vf_conf_check(conf, ms);
        fclose(ms);
        if (text != NULL && len > 0) {
            fprintf(io->out, "\nThe configuration check reports:\n%s\n", text);
        }
        free(text);
    }
    return 0;
}

static int
questions(struct vf_cfg_io *io, struct vf_conf *conf, const char *plugins_desc)
{
    struct vf_conf_node *fv = vf_conf_block_ensure(conf->root, "fence_virtd");
    int r;

    if (fv == NULL) {
        return -ENOMEM;
    }
    r = conf_module_path(io, fv);
    if (r != 0) {
        return r;
    }
    if (plugins_desc != NULL) {
        fprintf(io->out, "\n%s\n", plugins_desc);
    }
    r = conf_listeners(io, conf, fv);
    if (r == 0) {
        r = conf_backend(io, conf, fv);
    }
    if (r == 0) {
        r = vf_cfg_groups(io, conf);
    }
    return r;
}

int
vf_configure_interactive(const char *path, const char *plugins_desc, FILE *in, FILE *out)
{
    struct vf_cfg_io io = { in, out };
    struct vf_conf *conf = NULL;
    bool yes = false;
    int r;

    if (path == NULL || in == NULL || out == NULL) {
        return -EINVAL;
    }
    r = load(&io, path, &conf);
    if (r == 0) {
        r = questions(&io, conf, plugins_desc);
    }
    if (r == 0) {
        r = show(&io, conf);
    }
    if (r == 0) {
        char q[VF_CFG_ANSWER_MAX];

        snprintf(q, sizeof(q), "Replace %s with the above", path);
        r = vf_cfg_ask_yn(&io, q, false, &yes);
    }
    if (r == 0 && !yes) {
        r = VF_CFG_ABORT;
    }
    if (r == 0) {
        r = write_atomic(conf, path, out);
    }
    if (r == 0) {
        fprintf(out, "Wrote %s.\n", path);
    }
    if (r == VF_CFG_ABORT) {
        fprintf(out, "Configuration not written.\n");
    }
    fflush(out);
    vf_conf_free(conf);
    return r;
}
