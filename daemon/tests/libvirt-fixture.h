/*
 * vmfence - daemon/tests/libvirt-fixture.h: shared set-up of the libvirt
 * backend's unit tests (libvirt-fixture.c).
 */
#ifndef VF_LIBVIRT_FIXTURE_H
#define VF_LIBVIRT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "conftree.h"
#include "backends/libvirt-int.h"

#define LVT_U(n) "5ca1ab1e-0000-4000-8000-0000000000" n
#define LVT_TMO 5000

/*
 * The temporary directory and four test driver node files (lvt_setup):
 * 1: vm-run (LVT_U 01, running), vm-off (02, shut off), a domain named
 *    LVT_U("01") (03), vm-paused (04), Alpha (05);
 * 2: beta (10), vm-zed (11, shut off), vm-run-dup (01, same UUID as vm-run);
 * 3: mig (30, shut off), twin (31), solo-off (33, shut off);
 * 4: mig (30, running), twin (32).
 */
extern char lvt_tmpdir[256];
extern char lvt_file1[300], lvt_file2[300], lvt_file3[300], lvt_file4[300];

/* the start of test program @name: SIGPIPE ignored (as in fence_virtd),
 * logging (VF_TEST_DEBUG set: debug), the directory created and the files
 * written; when they cannot be, the program ends here (99, with a message) */
void lvt_setup(const char *name);
/* remove them */
void lvt_cleanup(void);

/* a deadline LVT_TMO from now */
int64_t lvt_dl(void);
/* configuration from text; NULL (message printed) on a parse error */
struct vf_conf *lvt_conf_new(const char *text);
/* init from config text; NULL on failure, *ret_r the result */
struct lv_backend *lvt_be_new(const char *text, int *ret_r, char *err, size_t err_len);
/* a backend on test://@f0 and test://@f1; NULL (message printed) on failure */
struct lv_backend *lvt_be_files(const char *f0, const char *f1);
/* a backend on test://@file and a second URI whose libvirtd does not exist */
struct lv_backend *lvt_be_second_down(const char *file);
/* the status op: 1 on, 0 off, or its negative errno */
int lvt_status(struct lv_backend *be, const char *target);

/* is URI @idx of @be connected? */
bool lvt_uri_up(struct lv_backend *be, size_t idx);
/* @name looked up through the backend's own connection to URI @idx, or NULL */
virDomainPtr lvt_dom_get(struct lv_backend *be, size_t idx, const char *name);
/* domain ID through the backend's own connection (changes on every start); -2 not found */
int lvt_dom_id(struct lv_backend *be, size_t idx, const char *name);
/* state through the backend's own connection; -2 not found, -1 unknown */
int lvt_dom_state(struct lv_backend *be, size_t idx, const char *name);

/* what the list op reported (the first 32) */
struct lvt_list {
    char names[32][256];
    int states[32];
    size_t n;
};
/* list op callback filling a struct lvt_list */
int lvt_list_cb(void *arg, const struct vf_domain_info *dom);

#endif
