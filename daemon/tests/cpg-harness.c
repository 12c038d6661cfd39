/*
 * vmfence - daemon/tests/cpg-harness.c: the cpg backend's unit tests start
 * the backend over the fakes (cpg-fake-cpg.c, cpg-fake-host.c) and wait,
 * bounded, for what its CPG thread does.  No check is counted here (see
 * cpg-fakes.h): every function returns what the test then checks.
 */
#include <errno.h>
#include <stdlib.h>

#include "cpg-fakes.h"
#include "log.h"

int
ct_list_cb(void *arg, const struct vf_domain_info *d)
{
    struct ct_list *o = arg;

    if (o->n < 16) {
        snprintf(o->names[o->n], sizeof(o->names[0]), "%s", d->name);
        snprintf(o->uuids[o->n], sizeof(o->uuids[0]), "%s", d->uuid);
        o->n++;
    }
    return 0;
}

int
ct_begin(const char *prog)
{
    vf_log_init(prog, VF_LOG_STDERR, getenv("VFT_DEBUG") != NULL ? 2 : 0);
    if (fq_setup() < 0) {
        perror("fake cpg: pipe2");
        return -1;
    }
    return 0;
}

int
ct_start(const char *text, struct cpg_be **ret_be)
{
    struct vf_conf *conf = NULL;
    char err[512];
    void *priv = NULL;
    int r;

    *ret_be = NULL;
    r = vf_conf_parse_buffer("test.conf", text, strlen(text), &conf, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "test.conf: %s\n", err);
        return r;
    }
    err[0] = '\0';
    r = cpg_init(&fake_host, conf, &priv, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "init: %s\n", err);
    }
    vf_conf_free(conf);
    *ret_be = r == 0 ? priv : NULL;
    return r;
}

/* wait (bounded) until the backend knows @target (remote state processed) */
bool
ct_wait_known(struct cpg_be *be, const char *target, bool want)
{
    struct vf_domain_info info;
    int i;

    for (i = 0; i < 300; i++) {
        bool known = cpg_op_lookup(be, target, 0, &info, dl(1000)) == 0;

        if (known == want) {
            return true;
        }
        vf_sleep_ms(10);
    }
    return false;
}

bool
ct_wait_monitor(struct cpg_be *be, int want)
{
    int i;

    for (i = 0; i < 100; i++) {
        if (cpg_op_monitor(be, dl(1000)) == want) {
            return true;
        }
        vf_sleep_ms(50);
    }
    return false;
}

/* be->lock held: does the backend's state match @arg? */
typedef bool (*ct_cond_locked)(const struct cpg_be *be, size_t arg);

/* poll @cond under be->lock every 10 ms, @tries times at most */
static bool
ct_wait_locked(struct cpg_be *be, ct_cond_locked cond, size_t arg, int tries)
{
    bool ok = false;
    int i;

    for (i = 0; i < tries && !ok; i++) {
        pthread_mutex_lock(&be->lock);
        ok = cond(be, arg);
        pthread_mutex_unlock(&be->lock);
        if (!ok) {
            vf_sleep_ms(10);
        }
    }
    return ok;
}

/* the one other member announced its STATE @gen */
static bool
gen_seen_locked(const struct cpg_be *be, size_t gen)
{
    return be->n_owners == 1 && be->owners[0].have_state && be->owners[0].generation == gen;
}

/* @n requests wait for replies */
static bool
pending_locked(const struct cpg_be *be, size_t n)
{
    size_t j, used = 0;

    for (j = 0; j < CPG_MAX_PENDING; j++) {
        used += be->pending[j].used ? 1 : 0;
    }
    return used == n;
}

/* the backend sees @n other members */
static bool
owners_locked(const struct cpg_be *be, size_t n)
{
    return be->n_owners == n;
}

/* the backend reported @n reference daemons, or more */
static bool
ref_seen_locked(const struct cpg_be *be, size_t n)
{
    return be->n_ref_seen >= n;
}

bool
ct_wait_gen(struct cpg_be *be, uint32_t gen)
{
    return ct_wait_locked(be, gen_seen_locked, gen, 300);
}

bool
ct_wait_pending(struct cpg_be *be, int n)
{
    return ct_wait_locked(be, pending_locked, (size_t)n, 500);
}

bool
ct_wait_owners(struct cpg_be *be, size_t n)
{
    return ct_wait_locked(be, owners_locked, n, 500);
}

bool
ct_wait_ref_seen(struct cpg_be *be, size_t n)
{
    return ct_wait_locked(be, ref_seen_locked, n, 300);
}

/* wait (at most @max_ms) until the last STATE this process sent had @n domains */
bool
ct_wait_state_n(size_t n, int max_ms)
{
    int64_t until = vf_now_ms() + max_ms;
    bool seen = false;

    while (!seen && vf_now_ms() < until) {
        pthread_mutex_lock(&fq_lock);
        seen = f_states_sent > 0 && f_last_state_n == n;
        pthread_mutex_unlock(&fq_lock);
        if (!seen) {
            vf_sleep_ms(5);
        }
    }
    return seen;
}
