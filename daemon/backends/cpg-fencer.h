/*
 * vmfence - daemon/backends/cpg-fencer.h: the ABI of a fencer module.
 *
 * fence_history = "pacemaker" asks the host cluster's fencer through
 * libstonithd and corosync's quorum through libquorum.  Those libraries
 * (and what they pull in: libcrmcommon, libxslt, libdbus ...) live in a
 * loadable module, fencer-pacemaker.so (cpg-pcmk.c), so that fence_virtd
 * maps them only when a cpg backend with that setting starts
 * (cpg-fence.c loads it).
 *
 * The module exports ONE symbol, CPG_FENCER_ENTRY: a function returning its
 * ops table, whose first field is the ABI version; the loader refuses any
 * other value, naming the file and both versions.  Its calls have the
 * signatures of struct cpg_fencer (cpg-int.h), which the loader fills with
 * them.  Library symbols (vf_dbg, vf_ms_left) resolve against fence_virtd,
 * which is linked with -export-dynamic.
 *
 * This header must not include plugin.h: the module's file must not
 * contain the string "vf_plugin" (its debug information would, through
 * the type names), or the plugin registry's directory scan (plugin.c)
 * would dlopen() it, and with it libstonithd, in every fence_virtd.
 */
#ifndef VF_CPG_FENCER_H
#define VF_CPG_FENCER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CPG_FENCER_ABI         1
#define CPG_FENCER_ENTRY       "vf_cpg_fencer_ops"
/* the module of fence_history = "pacemaker", in the module directory */
#define CPG_FENCER_PCMK_FILE   "fencer-pacemaker.so"

/* One fencing of a node, as the host cluster's fencer recorded it. */
struct cpg_fence_rec {
    time_t completed;           /* wall clock; 0 = no completed fencing */
    char action[32];
    char delegate[128];         /* the node that executed it */
    char origin[128];           /* the node that asked for it */
    char client[128];
};

struct cpg_fencer_ops {
    uint32_t abi;               /* CPG_FENCER_ABI: first, always */
    const char *name;           /* "pacemaker" */
    const char *version;        /* PACKAGE_VERSION of the module's build */
    /* Required.  The fencer's state in *@ret_ctx, or -errno and a reason in
     * @err.  Must not block: connections are made by the first question. */
    int (*open)(void **ret_ctx, char *err, size_t err_len);
    /* Required.  Disconnect and free; NULL-tolerant. */
    void (*close)(void *ctx);
    /* Required: struct cpg_fencer's quorate and fenced_since (cpg-int.h). */
    int (*quorate)(void *ctx, int64_t deadline_ms);
    int (*fenced_since)(void *ctx, uint32_t nodeid, time_t since,
                        struct cpg_fence_rec *ret, int64_t deadline_ms);
};

/* the type of the exported CPG_FENCER_ENTRY */
typedef const struct cpg_fencer_ops *(*cpg_fencer_entry_fn)(void);

/* The initialiser of a fencer module's ops table (all of its members;
 * the version is PACKAGE_VERSION of the module's build). */
#define CPG_FENCER_OPS(name_, open_, close_, quorate_, fenced_since_) \
    { \
        .abi = CPG_FENCER_ABI, .name = (name_), .version = PACKAGE_VERSION, \
        .open = (open_), .close = (close_), \
        .quorate = (quorate_), .fenced_since = (fenced_since_), \
    }

/* A fencer module's source ends with CPG_FENCER_MODULE(&its_ops): the one
 * exported symbol, CPG_FENCER_ENTRY, returning the ops table. */
#define CPG_FENCER_MODULE(ops_) \
    __attribute__((visibility("default"))) \
    const struct cpg_fencer_ops *vf_cpg_fencer_ops(void); \
    const struct cpg_fencer_ops *vf_cpg_fencer_ops(void) \
    { \
        return (ops_); \
    }

#endif
