/*
 * vmfence - daemon/listenset.c: the listener instances fence_virtd runs
 * (in the network process when privilege separation is on), each with the
 * fingerprint of what it was started with, so that a reload keeps the
 * unchanged ones running (their clients see no gap) and restarts the rest.
 * Only the main thread calls these.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "listener.h"
#include "io.h"
#include "log.h"
#include "registry.h"
#include "virtd.h"
#include "wire.h"

/* a running listener and the fingerprint of what it was started with */
struct lrun {
    char name[VFD_NAME_LEN];
    struct vf_listener_inst *li;
    char *fp;
    size_t fp_len;
};
static struct lrun cur_ls[VFD_MAX_LISTENERS];
static size_t n_cur_ls;

/* the nodes of a block; at the top (@top) not the key file's name: its
 * content counts (and the network process sees keys under other names) */
static void
fp_nodes(FILE *f, const struct vf_conf_node *n, bool top)
{
    for (; n != NULL; n = vf_conf_next(n)) {
        if (top && !vf_conf_is_block(n) && strcmp(vf_conf_name(n), "key_file") == 0) {
            continue;
        }
        fprintf(f, "%s=%s;", vf_conf_name(n), vf_conf_value(n) != NULL ? vf_conf_value(n) : "");
        if (vf_conf_is_block(n)) {
            fputc('{', f);
            fp_nodes(f, vf_conf_first(n), false);
            fputc('}', f);
        }
    }
}

/*
 * What a listener instance depends on: its listeners/<name> block (but the
 * key file's name) and the content of its key file.  A reload keeps instances whose fingerprint did
 * not change running, so their clients see no gap.
 */
static char *
listener_fingerprint(const struct vf_conf *conf, const char *name, size_t *ret_len)
{
    char path[128];
    char *buf = NULL;
    FILE *f = open_memstream(&buf, ret_len);
    const struct vf_conf_node *blk = NULL;
    const char *key = NULL;
    uint8_t kbuf[VF_MAX_KEY_LEN];
    ssize_t n = 0;
    int fd = -1;

    if (f == NULL) {
        return NULL;
    }
    snprintf(path, sizeof(path), "listeners/%s", name);
    blk = vf_conf_block(conf, NULL, path);
    fprintf(f, "%s:", name);
    if (blk != NULL) {
        fp_nodes(f, vf_conf_first(blk), true);
    }
    snprintf(path, sizeof(path), "listeners/%s/key_file", name);
    key = vf_conf_get(conf, path, VF_DEFAULT_KEY_FILE);
    fd = open(key, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        n = read(fd, kbuf, sizeof(kbuf));
        close(fd);
    }
    fprintf(f, "|key:%zd:", n);
    if (n > 0) {
        fwrite(kbuf, 1, (size_t)n, f);
    }
    memset(kbuf, 0, sizeof(kbuf));
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void
lrun_done(struct lrun *l, int drain_ms)
{
    vf_listener_stop(l->li, drain_ms);
    free(l->fp);
    memset(l, 0, sizeof(*l));
}

void
vfd_listeners_stop(int drain_ms)
{
    for (size_t i = 0; i < n_cur_ls; i++) {
        vf_listener_request_stop(cur_ls[i].li);
    }
    for (size_t i = 0; i < n_cur_ls; i++) {
        lrun_done(&cur_ls[i], drain_ms);
    }
    n_cur_ls = 0;
}

/* Start one listener into @l (name already set). */
static int
lrun_start(struct lrun *l, const struct vf_conf *conf)
{
    const struct vf_listener_ops *ops = vf_registry_listener(l->name);
    char err[1024];
    int r = 0;

    err[0] = '\0';
    if (ops == NULL) {
        vf_log(LOG_ERR, "unknown listener '%s'", l->name);
        return -ENOENT;
    }
    r = vf_listener_start(ops, conf, &l->li, err, sizeof(err));
    if (r < 0) {
        vf_log(LOG_ERR, "%s", err);
        l->li = NULL;
        return r;
    }
    free(l->fp);
    l->fp = listener_fingerprint(conf, l->name, &l->fp_len);
    return 0;
}

int
vfd_listeners_start(const struct vf_conf *conf, const struct vfd_runcfg *rc)
{
    for (size_t i = 0; i < rc->n_listeners; i++) {
        struct lrun *l = &cur_ls[n_cur_ls];
        int r = 0;

        memset(l, 0, sizeof(*l));
        snprintf(l->name, sizeof(l->name), "%s", rc->listeners[i]);
        r = lrun_start(l, conf);
        if (r < 0) {
            vfd_listeners_stop(VFD_RELOAD_DRAIN_MS);
            return r;
        }
        n_cur_ls++;
    }
    return 0;
}

/*
 * Reload the listeners: unchanged ones keep running, changed ones are
 * restarted with their new settings (requests they already handed over
 * finish undisturbed), removed ones stop, new ones start.  A listener whose
 * new settings fail to start is restarted with its previous settings.
 */
void
vfd_listeners_reload(const struct vf_conf *conf, const struct vfd_runcfg *rc,
                     const struct vf_conf *old, const struct vfd_runcfg *old_rc)
{
    struct lrun next[VFD_MAX_LISTENERS];
    bool kept[VFD_MAX_LISTENERS] = { false };
    size_t n_next = 0;
    size_t n_final = 0;

    memset(next, 0, sizeof(next));
    for (size_t i = 0; i < rc->n_listeners; i++) {
        struct lrun *l = &next[n_next++];

        snprintf(l->name, sizeof(l->name), "%s", rc->listeners[i]);
        l->fp = listener_fingerprint(conf, l->name, &l->fp_len);
        for (size_t j = 0; j < n_cur_ls; j++) {
            if (!kept[j] && strcasecmp(cur_ls[j].name, l->name) == 0 && l->fp != NULL &&
                cur_ls[j].fp != NULL && cur_ls[j].fp_len == l->fp_len &&
                memcmp(cur_ls[j].fp, l->fp, l->fp_len) == 0) {
                kept[j] = true;
                free(l->fp);
                *l = cur_ls[j];
                vf_dbg(1, "reload: listener '%s' unchanged, kept running", l->name);
                break;
            }
        }
    }
    for (size_t j = 0; j < n_cur_ls; j++) {
        if (!kept[j]) {
            vf_listener_request_stop(cur_ls[j].li);
        }
    }
    for (size_t j = 0; j < n_cur_ls; j++) {
        if (!kept[j]) {
            lrun_done(&cur_ls[j], VFD_RELOAD_DRAIN_MS);
        }
    }
    for (size_t k = 0; k < n_next; k++) {
        if (next[k].li != NULL) {
            continue;
        }
        if (lrun_start(&next[k], conf) == 0) {
            vf_log(LOG_INFO, "reload: listener '%s' restarted with its new settings",
                   next[k].name);
            continue;
        }
        for (size_t i = 0; old != NULL && i < old_rc->n_listeners; i++) {
            if (strcasecmp(old_rc->listeners[i], next[k].name) == 0 &&
                lrun_start(&next[k], old) == 0) {
                vf_log(LOG_ERR, "reload: listener '%s' keeps its previous settings",
                       next[k].name);
                break;
            }
        }
        if (next[k].li == NULL) {
            vf_log(LOG_ERR, "reload: listener '%s' is not running", next[k].name);
        }
    }
    for (size_t k = 0; k < n_next; k++) {
        if (next[k].li != NULL) {
            cur_ls[n_final++] = next[k];
        } else {
            free(next[k].fp);
        }
    }
    n_cur_ls = n_final;
}

size_t
vfd_listeners_running(void)
{
    return n_cur_ls;
}

bool
vfd_listeners_failed(void)
{
    for (size_t i = 0; i < n_cur_ls; i++) {
        if (vf_listener_failed(cur_ls[i].li)) {
            return true;
        }
    }
    return false;
}
