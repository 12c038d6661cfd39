/*
 * vmfence - daemon/backends/libvirt-list.c: the libvirt backend's list.
 *
 * Every domain (active and defined-inactive) of every connected URI,
 * de-duplicated by UUID (first URI wins; the entry is "on" if any copy
 * is on), sorted by name (case-insensitively).  One URI is read in bulk
 * (lv_list_bulk) when its driver can, else domain by domain.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libvirt/virterror.h>

#include "array.h"
#include "io.h"
#include "log.h"
#include "strhash.h"
#include "libvirt-int.h"

static int
lv_info_ptr_cmp(const void *a, const void *b)
{
    return vf_domain_info_cmp(*(const struct vf_domain_info *const *)a,
                       *(const struct vf_domain_info *const *)b);
}

/* Canonical lower-case text of a raw UUID (what virDomainGetUUIDString
 * gives, without its printf). */
static void
lv_uuid_text(const unsigned char raw[VIR_UUID_BUFLEN], char out[VIR_UUID_STRING_BUFLEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;

    for (i = 0; i < VIR_UUID_BUFLEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[o++] = '-';
        }
        out[o++] = hex[raw[i] >> 4];
        out[o++] = hex[raw[i] & 0xf];
    }
    out[o] = '\0';
}

/* Open-addressing set of indices into the list, keyed by UUID text, used to
 * merge the copies of a domain found on several URIs. */
struct lv_uuid_set {
    size_t *slot;                   /* index + 1; 0 = empty */
    size_t mask;
};

static size_t
lv_uuid_hash(const char *uuid)
{
    return (size_t)vf_str_hash(uuid);
}

/* Index of @uuid in @all via @set, or (size_t)-1 */
static size_t
lv_uuid_set_find(const struct lv_uuid_set *set, const struct vf_domain_info *all,
                 const char *uuid)
{
    size_t k = lv_uuid_hash(uuid) & set->mask;

    while (set->slot[k] != 0) {
        if (strcmp(all[set->slot[k] - 1].uuid, uuid) == 0) {
            return set->slot[k] - 1;
        }
        k = (k + 1) & set->mask;
    }
    return (size_t)-1;
}

/* Build the set over all[0..n) (entries with a UUID).  \return 0 or -ENOMEM */
static int
lv_uuid_set_build(struct lv_uuid_set *set, const struct vf_domain_info *all, size_t n)
{
    size_t cap = 16, i;

    while (cap < 2 * n + 1) {
        cap *= 2;
    }
    free(set->slot);
    set->slot = calloc(cap, sizeof(*set->slot));
    if (set->slot == NULL) {
        return -ENOMEM;
    }
    set->mask = cap - 1;
    for (i = 0; i < n; i++) {
        size_t k;

        if (all[i].uuid[0] == '\0') {
            continue;
        }
        k = lv_uuid_hash(all[i].uuid) & set->mask;
        while (set->slot[k] != 0) {
            k = (k + 1) & set->mask;
        }
        set->slot[k] = i + 1;
    }
    return 0;
}

/* Make room for @more entries after @n in *@all.  \return 0 or -ENOMEM */
static int
lv_list_reserve(struct vf_domain_info **all, size_t *cap, size_t n, size_t more)
{
    struct vf_domain_info *tmp = NULL;

    if (n + more <= *cap) {
        return 0;
    }
    tmp = vf_array_reserve(*all, n + more, cap, sizeof(*tmp), 16);
    if (tmp == NULL) {
        return -ENOMEM;
    }
    *all = tmp;
    return 0;
}

/*
 * One URI's domains in bulk: name, UUID, state and persistence from one
 * virConnectGetAllDomainStats(STATE) call plus one listing of the transient
 * domains, instead of a GetState and an IsPersistent call per domain (each
 * libvirt domain call formats the UUID for its debug log: with 10,000
 * domains that was a third of the time of a list).  Appends to @all (room
 * for @room entries checked by the caller via @cap).
 * \return number appended (>= 0); -ENOTSUP when the driver cannot do this
 *         (the caller falls back to per-domain calls); -errno otherwise
 */
static int
lv_list_bulk(const struct lv_ref *ref, struct vf_domain_info **all,
             size_t *n_all, size_t *cap)
{
    virDomainStatsRecordPtr *recs = NULL;
    virDomainPtr *trans = NULL;
    int n_recs, n_trans, j, k, r = 0;
    size_t added = 0;
    char msg[512];

    n_recs = virConnectGetAllDomainStats(ref->conn, VIR_DOMAIN_STATS_STATE, &recs, 0);
    if (n_recs < 0) {
        virErrorPtr e = virGetLastError();

        if (e != NULL && (e->code == VIR_ERR_NO_SUPPORT ||
                          e->code == VIR_ERR_ARGUMENT_UNSUPPORTED)) {
            return -ENOTSUP;
        }
        r = lv_error(ref, msg, sizeof(msg));
        vf_log(LOG_ERR, "libvirt backend: listing domains on '%s' failed: %s", ref->uri, msg);
        return r;
    }
    n_trans = virConnectListAllDomains(ref->conn, &trans, VIR_CONNECT_LIST_DOMAINS_TRANSIENT);
    if (n_trans < 0) {
        virDomainStatsRecordListFree(recs);
        return -ENOTSUP;
    }
    r = lv_list_reserve(all, cap, *n_all, (size_t)n_recs);
    if (r < 0) {
        goto out;
    }
    for (j = 0; j < n_recs; j++) {
        struct vf_domain_info *info = &(*all)[*n_all + added];
        virDomainPtr dom = recs[j]->dom;
        unsigned char raw[VIR_UUID_BUFLEN];
        bool have_state = false;
        const char *name = virDomainGetName(dom);

        memset(info, 0, sizeof(*info));
        lv_copy_name(info->name, sizeof(info->name), name);
        if (virDomainGetUUID(dom, raw) == 0) {
            lv_uuid_text(raw, info->uuid);
        }
        info->state = VIR_DOMAIN_NOSTATE;
        for (k = 0; k < recs[j]->nparams; k++) {
            const virTypedParameter *tp = &recs[j]->params[k];

            if (strcmp(tp->field, "state.state") == 0 && tp->type == VIR_TYPED_PARAM_INT) {
                info->state = tp->value.i;
                have_state = true;
                break;
            }
        }
        if (!have_state) {
            int state = VIR_DOMAIN_NOSTATE, reason = 0;

            if (virDomainGetState(dom, &state, &reason, 0) == 0) {
                info->state = state;
            }
        }
        info->persistent = true;
        for (k = 0; k < n_trans; k++) {
            const char *tn = virDomainGetName(trans[k]);

            if (name != NULL && tn != NULL && strcmp(tn, name) == 0) {
                info->persistent = false;
                break;
            }
        }
        added++;
    }
    *n_all += added;
    r = (int)added;
out:
    for (k = 0; k < n_trans; k++) {
        (void)virDomainFree(trans[k]);
    }
    free(trans);
    virDomainStatsRecordListFree(recs);
    return r;
}

/*
 * Entries all[n_before..*n_all) were just listed from @ref: fold those whose
 * UUID an earlier URI already listed (in @set, over all[0..n_before)) into
 * that entry and drop them from the array.
 */
static void
lv_merge_dups(const struct lv_ref *ref, struct vf_domain_info *all, size_t *n_all,
              size_t n_before, const struct lv_uuid_set *set)
{
    size_t j, out = n_before, k;

    if (n_before == 0) {
        return;
    }
    for (j = n_before; j < *n_all; j++) {
        k = all[j].uuid[0] != '\0' ? lv_uuid_set_find(set, all, all[j].uuid) : (size_t)-1;
        if (k != (size_t)-1) {
            /* one entry per domain; its state is "on" if any copy is on */
            if (all[k].state == VIR_DOMAIN_SHUTOFF && all[j].state != VIR_DOMAIN_SHUTOFF) {
                all[k].state = all[j].state;
            }
            vf_dbg(1, "libvirt backend: domain '%s' (%s) also on '%s', listed once",
                   all[j].name, all[j].uuid, ref->uri);
            continue;
        }
        if (out != j) {
            all[out] = all[j];
        }
        out++;
    }
    *n_all = out;
}

/*
 * One URI's domains by per-domain calls (drivers without bulk stats),
 * appended to @all and merged into copies of earlier URIs (@set over
 * all[0..n_before)).  \return 0 or -errno
 */
static int
lv_list_each(const struct lv_ref *ref, struct vf_domain_info **all, size_t *n_all, size_t *cap,
             size_t n_before, const struct lv_uuid_set *set)
{
    virDomainPtr *doms = NULL;
    unsigned char raw[VIR_UUID_BUFLEN];
    char msg[512];
    int n, j, state, reason, r;

    n = virConnectListAllDomains(ref->conn, &doms, 0);
    if (n < 0) {
        r = lv_error(ref, msg, sizeof(msg));
        vf_log(LOG_ERR, "libvirt backend: listing domains on '%s' failed: %s", ref->uri, msg);
        return r;
    }
    r = lv_list_reserve(all, cap, *n_all, (size_t)n);
    for (j = 0; j < n; j++) {
        struct vf_domain_info *info = r == 0 ? &(*all)[*n_all] : NULL;

        if (info != NULL) {
            memset(info, 0, sizeof(*info));
            lv_copy_name(info->name, sizeof(info->name), virDomainGetName(doms[j]));
            if (virDomainGetUUID(doms[j], raw) == 0) {
                lv_uuid_text(raw, info->uuid);
            }
            state = VIR_DOMAIN_NOSTATE;
            if (virDomainGetState(doms[j], &state, &reason, 0) < 0) {
                state = VIR_DOMAIN_NOSTATE;
            }
            info->state = state;
            info->persistent = virDomainIsPersistent(doms[j]) == 1;
            (*n_all)++;
        }
        (void)virDomainFree(doms[j]);
    }
    free(doms);
    if (r == 0) {
        lv_merge_dups(ref, *all, n_all, n_before, set);
    }
    return r;
}

/*
 * Sort @all by name: pointers first, then one copy (qsort would move the
 * 300-byte entries themselves some log2(n) times).  \return the sorted
 * array (@all itself, or a new one: @all is freed then)
 */
static struct vf_domain_info *
lv_list_sort(struct vf_domain_info *all, size_t n)
{
    const struct vf_domain_info **ptrs = NULL;
    struct vf_domain_info *sorted = NULL;
    size_t i;

    if (n < 2) {
        return all;
    }
    ptrs = malloc(n * sizeof(*ptrs));
    sorted = malloc(n * sizeof(*sorted));
    if (ptrs == NULL || sorted == NULL) {
        free(ptrs);
        free(sorted);
        qsort(all, n, sizeof(*all), vf_domain_info_cmp);
        return all;
    }
    for (i = 0; i < n; i++) {
        ptrs[i] = &all[i];
    }
    qsort(ptrs, n, sizeof(*ptrs), lv_info_ptr_cmp);
    for (i = 0; i < n; i++) {
        sorted[i] = *ptrs[i];
    }
    free(ptrs);
    free(all);
    return sorted;
}

/*
 * list: every domain of every connected URI, merged, sorted (see the top
 * comment).  If some URIs are down the domains of the others are still
 * listed (warning logged); if none is up, -EHOSTDOWN.  The result array
 * goes to *@ret_all (caller frees).  UUIDs are unique within one URI, so a
 * domain is only looked for among those of earlier URIs (a hash set,
 * rebuilt per URI: linear, not quadratic, in the domain count).
 */
int
lv_do_list(struct lv_backend *be, struct vf_domain_info **ret_all, size_t *ret_n,
           int64_t deadline_ms)
{
    struct vf_domain_info *all = NULL;
    struct lv_uuid_set set = { NULL, 0 };
    struct lv_snap snap;
    size_t n_all = 0, cap = 0, n_before, i;
    int r;

    *ret_all = NULL;
    *ret_n = 0;
    memset(&snap, 0, sizeof(snap));
    if (vf_ms_left(deadline_ms) <= 0) {
        return -ETIMEDOUT;
    }
    r = lv_snap_take(be, &snap);
    if (r < 0) {
        goto out;
    }
    if (snap.n_down == snap.n) {
        vf_log(LOG_ERR, "libvirt backend: no libvirt connection is up; cannot list domains");
        r = -EHOSTDOWN;
        goto out;
    }
    for (i = 0; i < snap.n; i++) {
        if (snap.refs[i].conn == NULL) {
            vf_log(LOG_WARNING,
                   "libvirt backend: '%s' is not connected; its domains are missing from the list",
                   snap.refs[i].uri);
            continue;
        }
        n_before = n_all;
        r = n_before > 0 ? lv_uuid_set_build(&set, all, n_before) : 0;
        if (r < 0) {
            goto out;
        }
        r = lv_list_bulk(&snap.refs[i], &all, &n_all, &cap);
        if (r >= 0) {
            lv_merge_dups(&snap.refs[i], all, &n_all, n_before, &set);
            continue;
        }
        r = r == -ENOTSUP ? lv_list_each(&snap.refs[i], &all, &n_all, &cap, n_before, &set) : r;
        if (r < 0) {
            goto out;
        }
    }
    *ret_all = lv_list_sort(all, n_all);
    *ret_n = n_all;
    all = NULL;
    r = 0;
out:
    free(set.slot);
    free(all);
    lv_snap_done(&snap);
    return r;
}
