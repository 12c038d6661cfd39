/*
 * vmfence - lib/tests/opts-helpers.h: what the option parser tests
 * (test-opts.c, test-opts-stdin.c) share: parse an argv list or a stdin
 * text into a fresh struct vf_args, and look through its problems and
 * unknown keys.  Nothing is faked.
 */
#ifndef VF_TEST_OPTS_HELPERS_H
#define VF_TEST_OPTS_HELPERS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "opts.h"
#include "vftest.h"

#define MAX_ARGS 32

/* parse a NULL-terminated list of arguments for @kind into @a */
static inline int
argv_parse(struct vf_args *a, enum vf_agent_kind kind, char *err, size_t err_len, ...)
{
    char *argv[MAX_ARGS + 2];
    char storage[MAX_ARGS + 1][128];
    bool help = false, version = false;
    va_list ap;
    int argc = 0;
    const char *s;

    vf_args_init(a, kind, kind == VF_AGENT_XVM ? "fence_xvm" : "fence_virt");
    snprintf(storage[0], sizeof(storage[0]), "%s", a->progname);
    argv[argc++] = storage[0];
    va_start(ap, err_len);
    while ((s = va_arg(ap, const char *)) != NULL && argc <= MAX_ARGS) {
        snprintf(storage[argc], sizeof(storage[argc]), "%s", s);
        argv[argc] = storage[argc];
        argc++;
    }
    va_end(ap);
    argv[argc] = NULL;
    return vf_args_parse_argv(a, argc, argv, &help, &version, err, err_len);
}

static inline int
stdin_parse(struct vf_args *a, enum vf_agent_kind kind, const char *text)
{
    char err[256];

    vf_args_init(a, kind, kind == VF_AGENT_XVM ? "fence_xvm" : "fence_virt");
    return vf_args_parse_buffer(a, text, strlen(text), err, sizeof(err));
}

static inline bool
has_problem(const struct vf_args *a, const char *needle)
{
    for (size_t i = 0; i < a->n_problems; i++) {
        if (a->problems[i] != NULL && strstr(a->problems[i], needle) != NULL) {
            return true;
        }
    }
    return false;
}

static inline bool
has_unknown(const struct vf_args *a, const char *key)
{
    for (size_t i = 0; i < a->n_unknown; i++) {
        if (strcmp(a->unknown[i], key) == 0) {
            return true;
        }
    }
    return false;
}

static inline void
dump_problems(const struct vf_args *a)
{
    for (size_t i = 0; i < a->n_problems; i++) {
        fprintf(stderr, "    problem: %s\n", a->problems[i]);
    }
}

/* what a full fence_xvm option set fills (struct vf_args, with const strings) */
struct xvm_expect {
    int debug;
    int family;
    const char *mcast_addr;
    unsigned int port;
    unsigned int retrans;
    enum vf_hash auth;
    enum vf_hash hash;
    const char *key_file;
    bool key_file_set;
    const char *domain;
    bool use_uuid;
    enum vf_cmd cmd;
    unsigned int timeout;
    unsigned int delay;
    const char *interface;
    unsigned int callback_port;
};

/* each field of @want checked in @a */
static inline void
expect_xvm_fields(const struct vf_args *a, const struct xvm_expect *want)
{
    VFT_EQ_INT(a->debug, want->debug);
    VFT_EQ_INT(a->family, want->family);
    VFT_EQ_STR(a->mcast_addr, want->mcast_addr);
    VFT_EQ_INT(a->port, want->port);
    VFT_EQ_INT(a->retrans, want->retrans);
    VFT_EQ_INT(a->auth, want->auth);
    VFT_EQ_INT(a->hash, want->hash);
    VFT_EQ_STR(a->key_file, want->key_file);
    VFT_CHECK(a->key_file_set == want->key_file_set);
    VFT_EQ_STR(a->domain, want->domain);
    VFT_CHECK(a->use_uuid == want->use_uuid);
    VFT_EQ_INT(a->cmd, want->cmd);
    VFT_EQ_INT(a->timeout, want->timeout);
    VFT_EQ_INT(a->delay, want->delay);
    VFT_EQ_STR(a->interface, want->interface);
    VFT_EQ_INT(a->callback_port, want->callback_port);
}

#endif
