/*
 * vmfence - daemon/tests/cpg-fake-cpg.c: a FAKE libcpg for the cpg
 * backend's unit tests (see cpg-fakes.h for what is faked and why): a group
 * of this process (nodeid 1) and one other member, the "peer" (nodeid 2),
 * whose answers the tests steer.  The cpg_* functions below are the ones the
 * backend calls; the test programs are not linked with -lcpg.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "cpg-fakes.h"

struct fq_item {
    struct fq_item *next;
    bool confchg;
    uint32_t nodeid, pid;
    uint8_t *buf;
    size_t len;
    struct cpg_address members[4], left[4], joined[4];
    size_t n_members, n_left, n_joined;
};

pthread_mutex_t fq_lock = PTHREAD_MUTEX_INITIALIZER;
uint32_t f_mypid;
bool f_fail_init;
bool f_fail_dispatch;
int f_inits;
uint32_t f_ref_node;
int f_states_sent;
size_t f_last_state_n;
enum peer_mode peer_mode = PEER_ANSWER;
int peer_result;
bool peer_on = true;
int peer_requests;
struct vf_cpgw_request peer_last;
struct vf_cpgw_dom peer_hidden;
int peer_hidden_reqs;

static struct fq_item *fq_head, **fq_tail = &fq_head;
static int fq_pipe[2] = { -1, -1 };
static cpg_callbacks_t *f_cbs;
static void *f_ctx;
static bool f_valid;
/* the peer's last announced list (fq_lock) */
static struct vf_cpgw_dom peer_ann[8];
static size_t peer_n_ann;
/* members of fence-virt's group "fence-agents" (a reference daemon), listed by
 * cpg_iteration_*: 0 = f_ref_node is next, 1 = the end */
static int f_iter_pos;

/* fq_lock held: does @d match the REQUEST target? */
static bool
peer_matches(const struct vf_cpgw_dom *d, const struct vf_cpgw_request *rq)
{
    if ((rq->flags & VF_CPGW_REQ_BY_UUID) == 0 && strcmp(d->name, rq->target) == 0) {
        return true;
    }
    return d->uuid[0] != '\0' && strcasecmp(d->uuid, rq->target) == 0;
}

/* fq_lock held: the answer of the peer to a request for a domain it did not announce */
static void
peer_answer_unlisted(const struct vf_cpgw_request *rq, struct vf_cpgw_reply *rep)
{
    rep->result = -ENOENT;
    rep->on = false;
    if (peer_hidden.uuid[0] == '\0' || !peer_matches(&peer_hidden, rq)) {
        return;
    }
    peer_hidden_reqs++;
    rep->result = 0;
    if (rq->op == VF_CMD_OFF) {
        peer_hidden.state = VF_STATE_SHUTOFF;
    } else if (rq->op == VF_CMD_ON || rq->op == VF_CMD_REBOOT) {
        peer_hidden.state = VF_STATE_RUNNING;
    }
    rep->on = peer_hidden.state != VF_STATE_SHUTOFF;
}

static void
fq_push(struct fq_item *it)
{
    char c = 'x';

    pthread_mutex_lock(&fq_lock);
    it->next = NULL;
    *fq_tail = it;
    fq_tail = &it->next;
    pthread_mutex_unlock(&fq_lock);
    if (write(fq_pipe[1], &c, 1) != 1) {
        fprintf(stderr, "fake cpg: pipe write failed\n");
    }
}

void
fq_deliver(uint32_t nodeid, uint32_t pid, const uint8_t *buf, size_t len)
{
    struct fq_item *it = calloc(1, sizeof(*it));

    if (it == NULL) {
        abort();
    }
    it->nodeid = nodeid;
    it->pid = pid;
    it->buf = malloc(len > 0 ? len : 1);
    if (it->buf == NULL) {
        abort();
    }
    memcpy(it->buf, buf, len);
    it->len = len;
    fq_push(it);
}

static struct cpg_address
addr(uint32_t nodeid, uint32_t pid)
{
    struct cpg_address a = { .nodeid = nodeid, .pid = pid, .reason = 0 };

    return a;
}

void
fq_confchg(bool with_peer, bool peer_left, bool me_joined)
{
    struct fq_item *it = calloc(1, sizeof(*it));

    if (it == NULL) {
        abort();
    }
    it->confchg = true;
    it->members[it->n_members++] = addr(1, f_mypid);
    if (with_peer) {
        it->members[it->n_members++] = addr(PEER_NODE, PEER_PID);
    }
    if (peer_left) {
        it->left[it->n_left++] = addr(PEER_NODE, PEER_PID);
    }
    if (me_joined) {
        it->joined[it->n_joined++] = addr(1, f_mypid);
    }
    fq_push(it);
}

cs_error_t
cpg_initialize(cpg_handle_t *handle, cpg_callbacks_t *callbacks)
{
    pthread_mutex_lock(&fq_lock);
    f_inits++;
    if (f_fail_init) {
        pthread_mutex_unlock(&fq_lock);
        return CS_ERR_LIBRARY;
    }
    f_cbs = callbacks;
    f_valid = true;
    pthread_mutex_unlock(&fq_lock);
    *handle = 0x1234;
    return CS_OK;
}

cs_error_t
cpg_finalize(cpg_handle_t handle)
{
    (void)handle;
    pthread_mutex_lock(&fq_lock);
    f_valid = false;
    pthread_mutex_unlock(&fq_lock);
    return CS_OK;
}

cs_error_t
cpg_fd_get(cpg_handle_t handle, int *fd)
{
    (void)handle;
    *fd = fq_pipe[0];
    return CS_OK;
}

cs_error_t
cpg_context_get(cpg_handle_t handle, void **context)
{
    (void)handle;
    *context = f_ctx;
    return CS_OK;
}

cs_error_t
cpg_context_set(cpg_handle_t handle, void *context)
{
    (void)handle;
    f_ctx = context;
    return CS_OK;
}

cs_error_t
cpg_local_get(cpg_handle_t handle, unsigned int *local_nodeid)
{
    (void)handle;
    *local_nodeid = 1;
    return CS_OK;
}

cs_error_t
cpg_join(cpg_handle_t handle, const struct cpg_name *group)
{
    (void)handle;
    (void)group;
    fq_confchg(true, false, true);
    return CS_OK;
}

cs_error_t
cpg_leave(cpg_handle_t handle, const struct cpg_name *group)
{
    (void)handle;
    (void)group;
    return CS_OK;
}

cs_error_t
cpg_iteration_initialize(cpg_handle_t handle, cpg_iteration_type_t type,
                         const struct cpg_name *group, cpg_iteration_handle_t *ret)
{
    (void)handle;
    (void)type;
    pthread_mutex_lock(&fq_lock);
    f_iter_pos = group != NULL && group->length == 12 &&
                         memcmp(group->value, "fence-agents", 12) == 0 && f_ref_node != 0
                     ? 0
                     : 1;
    pthread_mutex_unlock(&fq_lock);
    *ret = 0x77;
    return CS_OK;
}

/* the reference daemon (pid 4444 on f_ref_node) once, then the end */
cs_error_t
cpg_iteration_next(cpg_iteration_handle_t it, struct cpg_iteration_description_t *d)
{
    uint32_t node = 0;

    (void)it;
    pthread_mutex_lock(&fq_lock);
    if (f_iter_pos == 0) {
        node = f_ref_node;
    }
    f_iter_pos = 1;
    pthread_mutex_unlock(&fq_lock);
    if (node == 0) {
        return CS_ERR_NO_SECTIONS;
    }
    memset(d, 0, sizeof(*d));
    d->nodeid = node;
    d->pid = 4444;
    return CS_OK;
}

cs_error_t
cpg_iteration_finalize(cpg_iteration_handle_t it)
{
    (void)it;
    return CS_OK;
}

cs_error_t
cpg_dispatch(cpg_handle_t handle, cs_dispatch_flags_t dispatch_types)
{
    struct fq_item *it;
    char drain[64];

    (void)dispatch_types;
    while (read(fq_pipe[0], drain, sizeof(drain)) > 0) {
    }
    pthread_mutex_lock(&fq_lock);
    if (f_fail_dispatch) {
        f_fail_dispatch = false;
        pthread_mutex_unlock(&fq_lock);
        return CS_ERR_BAD_HANDLE;
    }
    pthread_mutex_unlock(&fq_lock);
    for (;;) {
        pthread_mutex_lock(&fq_lock);
        it = fq_head;
        if (it != NULL) {
            fq_head = it->next;
            if (fq_head == NULL) {
                fq_tail = &fq_head;
            }
        }
        pthread_mutex_unlock(&fq_lock);
        if (it == NULL) {
            break;
        }
        if (it->confchg) {
            f_cbs->cpg_confchg_fn(handle, NULL, it->members, it->n_members, it->left, it->n_left,
                                  it->joined, it->n_joined);
        } else {
            f_cbs->cpg_deliver_fn(handle, NULL, it->nodeid, it->pid, it->buf, it->len);
        }
        free(it->buf);
        free(it);
    }
    return CS_OK;
}

/* Loop the message back (CPG delivers to the sender too) and let the peer react. */
cs_error_t
cpg_mcast_joined(cpg_handle_t handle, cpg_guarantee_t guarantee, const struct iovec *iov,
                 unsigned int iov_len)
{
    struct vf_cpgw_msg m;
    struct vf_cpgw_reply rep;
    uint8_t out[64];
    size_t len = 0;
    bool answer = false;

    (void)handle;
    (void)guarantee;
    if (iov_len != 1) {
        return CS_ERR_INVALID_PARAM;
    }
    pthread_mutex_lock(&fq_lock);
    if (!f_valid) {
        pthread_mutex_unlock(&fq_lock);
        return CS_ERR_BAD_HANDLE;
    }
    pthread_mutex_unlock(&fq_lock);
    fq_deliver(1, f_mypid, iov->iov_base, iov->iov_len);
    memset(&m, 0, sizeof(m));
    if (vf_cpgw_decode(iov->iov_base, iov->iov_len, &m) < 0) {
        return CS_OK;
    }
    pthread_mutex_lock(&fq_lock);
    if (m.type == VF_CPGW_STATE) {
        f_states_sent++;
        f_last_state_n = m.n_doms;
    } else if (m.type == VF_CPGW_REQUEST && m.req.nodeid == PEER_NODE && m.req.pid == PEER_PID) {
        peer_requests++;
        peer_last = m.req;
        if (peer_mode == PEER_ANSWER) {
            size_t i;

            memset(&rep, 0, sizeof(rep));
            rep.id = m.req.id;
            rep.nodeid = 1;
            rep.pid = f_mypid;
            rep.result = peer_result;
            rep.on = peer_on;
            for (i = 0; i < peer_n_ann && !peer_matches(&peer_ann[i], &m.req); i++) {
            }
            if (i == peer_n_ann) {
                peer_answer_unlisted(&m.req, &rep);
            }
            answer = vf_cpgw_encode_reply(&rep, out, sizeof(out), &len) == 0;
        }
    }
    pthread_mutex_unlock(&fq_lock);
    vf_cpgw_msg_done(&m);
    if (answer) {
        fq_deliver(PEER_NODE, PEER_PID, out, len);
    }
    return CS_OK;
}

void
peer_announce(const struct vf_cpgw_dom *doms, size_t n, uint32_t gen)
{
    uint8_t buf[4096];
    size_t len = 0;

    pthread_mutex_lock(&fq_lock);
    peer_n_ann = n < 8 ? n : 8;
    memcpy(peer_ann, doms, peer_n_ann * sizeof(*doms));
    pthread_mutex_unlock(&fq_lock);
    if (vf_cpgw_encode_state(gen, doms, n, buf, sizeof(buf), &len) == 0) {
        fq_deliver(PEER_NODE, PEER_PID, buf, len);
    } else {
        fprintf(stderr, "fake cpg: the peer's STATE %u (%zu domains) does not encode\n",
                (unsigned int)gen, n);
    }
}

int
fq_setup(void)
{
    f_mypid = (uint32_t)getpid() + 100000u;
    if (pipe2(fq_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        return -errno;
    }
    return 0;
}

void
fq_teardown(void)
{
    struct fq_item *it;

    pthread_mutex_lock(&fq_lock);
    while ((it = fq_head) != NULL) {
        fq_head = it->next;
        free(it->buf);
        free(it);
    }
    fq_tail = &fq_head;
    pthread_mutex_unlock(&fq_lock);
    if (fq_pipe[0] >= 0) {
        close(fq_pipe[0]);
        close(fq_pipe[1]);
    }
    fq_pipe[0] = -1;
    fq_pipe[1] = -1;
}
