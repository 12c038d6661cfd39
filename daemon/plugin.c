/*
 * vmfence - daemon/plugin.c: plugin registry (built-ins + dlopen).
 *
 * Built-ins are referenced weakly, so a plugin that is not compiled in
 * (cpg without libcpg, or a plugin another area has not written yet) simply
 * does not appear.  Loadable modules: only regular files named "*.so" are
 * considered, in sorted order (fixes D14's arbitrary order and its attempts
 * to dlopen "." and ".."); before dlopen() the file is scanned for the
 * symbol name so that foreign shared objects (fence-virt's virt.so, tcp.so
 * ...) are never loaded or run; the ABI number must match exactly.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "registry.h"

/*
 * The built-in plugins: one line each.  Each is referenced weakly, so one
 * that is not compiled in resolves to NULL and is skipped.
 */
#define VF_BUILTIN_PLUGINS(X) \
    X(multicast) \
    X(tcp) \
    X(vsock) \
    X(serial) \
    X(libvirt) \
    X(cpg)

#define VF_BUILTIN_DECLARE(id) \
    extern const struct vf_plugin vf_plugin_##id __attribute__((weak));
#define VF_BUILTIN_ADDRESS(id) &vf_plugin_##id,
VF_BUILTIN_PLUGINS(VF_BUILTIN_DECLARE)
static const struct vf_plugin *const builtins[] = { VF_BUILTIN_PLUGINS(VF_BUILTIN_ADDRESS) };

#define VF_MODULE_MAX_SIZE (64L * 1024 * 1024)
#define VF_MODULE_MAX_COUNT 64

struct reg_entry {
    const struct vf_plugin *plugin;
    char *path;                 /* NULL for built-ins */
    void *dl;
    struct vf_host_api host;    /* host.ctx == this entry */
};

static struct reg_entry **entries;
static size_t n_entries;

static bool
name_taken(const struct vf_plugin *p)
{
    for (size_t i = 0; i < n_entries; i++) {
        const struct vf_plugin *q = entries[i]->plugin;

        if (p->listener != NULL && q->listener != NULL &&
            strcasecmp(p->listener->name, q->listener->name) == 0) {
            return true;
        }
        if (p->backend != NULL && q->backend != NULL &&
            strcasecmp(p->backend->name, q->backend->name) == 0) {
            return true;
        }
    }
    return false;
}

/* Structural sanity of a plugin descriptor; a reason in @why on failure. */
static bool
plugin_valid(const struct vf_plugin *p, const char **why)
{
    if (p->name == NULL || (p->listener == NULL && p->backend == NULL)) {
        *why = "no name or neither listener nor backend";
        return false;
    }
    if (p->listener != NULL &&
        (p->listener->name == NULL || p->listener->init == NULL ||
         p->listener->run == NULL || p->listener->fini == NULL ||
         p->listener->schema == NULL)) {
        *why = "listener ops incomplete";
        return false;
    }
    if (p->backend != NULL &&
        (p->backend->name == NULL || p->backend->init == NULL ||
         p->backend->fini == NULL || p->backend->lookup == NULL ||
         p->backend->off == NULL || p->backend->on == NULL ||
         p->backend->reboot == NULL || p->backend->status == NULL ||
         p->backend->list == NULL || p->backend->schema == NULL)) {
        *why = "backend ops incomplete";
        return false;
    }
    return true;
}

static const struct vf_backend_ops *
host_find_backend(void *ctx, const char *name)
{
    (void)ctx;
    return vf_registry_backend(name);
}

static void
host_log(void *ctx, int prio, const char *fmt, ...)
{
    const struct reg_entry *e = ctx;
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vf_log(prio, "%s: %s", e->plugin->name, msg);
}

static int
add_entry(const struct vf_plugin *p, const char *path, void *dl)
{
    struct reg_entry **ne = realloc(entries, (n_entries + 1) * sizeof(*ne));
    struct reg_entry *e = NULL;

    if (ne == NULL) {
        return -ENOMEM;
    }
    entries = ne;
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return -ENOMEM;
    }
    e->plugin = p;
    e->dl = dl;
    e->host.ctx = e;
    e->host.find_backend = host_find_backend;
    e->host.log = host_log;
    if (path != NULL) {
        e->path = strdup(path);
        if (e->path == NULL) {
            free(e);
            return -ENOMEM;
        }
    }
    entries[n_entries++] = e;
    return 0;
}

/* Does the file mention the string "vf_plugin" (its dynamic symbol)?  Avoids
 * loading (and running constructors of) unrelated shared objects. */
static bool
file_mentions_symbol(const char *path)
{
    static const char sym[] = "vf_plugin";
    struct stat st;
    void *map = NULL;
    bool found = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

    if (fd < 0) {
        return false;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        st.st_size <= VF_MODULE_MAX_SIZE) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map != MAP_FAILED) {
            found = memmem(map, (size_t)st.st_size, sym, sizeof(sym)) != NULL;
            munmap(map, (size_t)st.st_size);
        }
    }
    close(fd);
    return found;
}

static void
load_module(const char *path)
{
    void *dl = NULL;
    const struct vf_plugin *p = NULL;
    const char *why = NULL;

    if (!file_mentions_symbol(path)) {
        vf_dbg(1, "module '%s': no vf_plugin symbol (not a vmfence plugin, "
               "e.g. a fence-virt module), skipped", path);
        return;
    }
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        const char *e = dlerror();

        vf_log(LOG_WARNING, "module '%s': cannot load: %s, skipped", path,
               e != NULL ? e : "unknown error");
        return;
    }
    p = dlsym(dl, "vf_plugin");
    if (p == NULL) {
        vf_dbg(1, "module '%s': no vf_plugin symbol, skipped", path);
        goto drop;
    }
    if (p->abi != VF_PLUGIN_ABI) {
        vf_log(LOG_ERR, "module '%s': plugin ABI %u, fence_virtd expects %u (%s); skipped",
               path, (unsigned int)p->abi, (unsigned int)VF_PLUGIN_ABI,
               p->abi < VF_PLUGIN_ABI ? "rebuild it against this plugin.h: ops tables now "
               "carry a settings schema" : "built for a newer fence_virtd");
        goto drop;
    }
    if (!plugin_valid(p, &why)) {
        vf_log(LOG_ERR, "module '%s': invalid plugin (%s), skipped", path, why);
        goto drop;
    }
    if (name_taken(p)) {
        vf_dbg(1, "module '%s': plugin '%s' already registered (built-in wins), skipped",
               path, p->name);
        goto drop;
    }
    if (add_entry(p, path, dl) < 0) {
        vf_log(LOG_ERR, "module '%s': out of memory", path);
        goto drop;
    }
    vf_dbg(1, "module '%s': loaded plugin '%s'", path, p->name);
    return;
drop:
    dlclose(dl);
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
scan_dir(const char *dirpath)
{
    DIR *d = opendir(dirpath);
    struct dirent *de = NULL;
    char *names[VF_MODULE_MAX_COUNT];
    size_t n = 0;

    if (d == NULL) {
        vf_dbg(1, "module path '%s': %s; built-in plugins only", dirpath,
               strerror(errno));
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        char path[4096];
        struct stat st;

        if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0) {
            continue;
        }
        if (snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name) >= (int)sizeof(path)) {
            continue;
        }
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        if (n == VF_MODULE_MAX_COUNT) {
            vf_log(LOG_WARNING, "module path '%s': more than %d modules, ignoring the rest",
                   dirpath, VF_MODULE_MAX_COUNT);
            break;
        }
        names[n] = strdup(path);
        if (names[n] != NULL) {
            n++;
        }
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_names);
    for (size_t i = 0; i < n; i++) {
        load_module(names[i]);
        free(names[i]);
    }
}

int
vf_registry_init(const char *module_path)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        const struct vf_plugin *p = builtins[i];
        const char *why = NULL;

        if (p == NULL) {
            continue;
        }
        if (p->abi != VF_PLUGIN_ABI) {
            vf_log(LOG_ERR, "built-in plugin '%s' is invalid (plugin ABI %u, fence_virtd "
                   "expects %u), ignored", p->name != NULL ? p->name : "?",
                   (unsigned int)p->abi, (unsigned int)VF_PLUGIN_ABI);
            continue;
        }
        if (!plugin_valid(p, &why)) {
            vf_log(LOG_ERR, "built-in plugin '%s' is invalid (%s), ignored",
                   p->name != NULL ? p->name : "?", why);
            continue;
        }
        if (add_entry(p, NULL, NULL) < 0) {
            return -ENOMEM;
        }
    }
    if (module_path != NULL && module_path[0] != '\0') {
        scan_dir(module_path);
    }
    return 0;
}

void
vf_registry_fini(void)
{
    for (size_t i = 0; i < n_entries; i++) {
        free(entries[i]->path);
        free(entries[i]);
        /* modules stay mapped: conn ops may still point into them */
    }
    free(entries);
    entries = NULL;
    n_entries = 0;
}

const struct vf_listener_ops *
vf_registry_listener(const char *name)
{
    for (size_t i = 0; name != NULL && i < n_entries; i++) {
        const struct vf_listener_ops *l = entries[i]->plugin->listener;

        if (l != NULL && strcasecmp(l->name, name) == 0) {
            return l;
        }
    }
    return NULL;
}

/* The @i-th registered plugin with a listener (@listener) or a backend. */
static const struct vf_plugin *
plugin_at(size_t i, bool listener)
{
    for (size_t k = 0; k < n_entries; k++) {
        const struct vf_plugin *p = entries[k]->plugin;

        if ((listener ? p->listener != NULL : p->backend != NULL) && i-- == 0) {
            return p;
        }
    }
    return NULL;
}

const struct vf_listener_ops *
vf_registry_listener_at(size_t i)
{
    const struct vf_plugin *p = plugin_at(i, true);

    return p != NULL ? p->listener : NULL;
}

const struct vf_backend_ops *
vf_registry_backend_at(size_t i)
{
    const struct vf_plugin *p = plugin_at(i, false);

    return p != NULL ? p->backend : NULL;
}

unsigned int
vf_registry_listener_flags(const char *name)
{
    const struct vf_listener_ops *l = vf_registry_listener(name);

    return l != NULL && l->schema != NULL ? l->schema->flags : 0;
}

int
vf_registry_validate_listener(const struct vf_conf *conf, const char *name, char *err,
                              size_t err_len)
{
    const struct vf_listener_ops *l = vf_registry_listener(name);

    if (l == NULL || l->schema == NULL || l->schema->validate == NULL) {
        return 0;
    }
    return l->schema->validate(conf, l->name, err, err_len);
}

static struct reg_entry *
backend_entry(const char *name)
{
    for (size_t i = 0; name != NULL && i < n_entries; i++) {
        const struct vf_backend_ops *b = entries[i]->plugin->backend;

        if (b != NULL && strcasecmp(b->name, name) == 0) {
            return entries[i];
        }
    }
    return NULL;
}

const struct vf_backend_ops *
vf_registry_backend(const char *name)
{
    const struct reg_entry *e = backend_entry(name);

    return e != NULL ? e->plugin->backend : NULL;
}

const struct vf_host_api *
vf_registry_host(const char *backend_name)
{
    struct reg_entry *e = backend_entry(backend_name);

    return e != NULL ? &e->host : NULL;
}

static void
describe_kind(FILE *f, bool listeners)
{
    bool any = false;

    fprintf(f, "Available %s:\n", listeners ? "listeners" : "backends");
    for (size_t i = 0; i < n_entries; i++) {
        const struct vf_plugin *p = entries[i]->plugin;
        const char *name = NULL;
        const char *ver = NULL;

        if (listeners && p->listener != NULL) {
            name = p->listener->name;
            ver = p->listener->version;
        } else if (!listeners && p->backend != NULL) {
            name = p->backend->name;
            ver = p->backend->version;
        } else {
            continue;
        }
        fprintf(f, "    %-12s %-10s %s\n", name, ver != NULL ? ver : "?",
                entries[i]->path != NULL ? entries[i]->path : "(built-in)");
        any = true;
    }
    if (!any) {
        fprintf(f, "    (none)\n");
    }
}

char *
vf_registry_describe(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL) {
        return NULL;
    }
    describe_kind(f, true);
    describe_kind(f, false);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
