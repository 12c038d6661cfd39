/*
 * vmfence - daemon/configure-ask.c: the questions of fence_virtd -c.
 *
 * "Text [default]: " prompts, an empty answer takes the default; every
 * answer is one line of at most VF_CFG_ANSWER_MAX - 1 bytes, an invalid
 * answer is asked again at most VF_CFG_MAX_TRIES times, end of input means
 * "decline".  A plugin's questions come from its settings schema
 * (plugin.h): its intro, then each VF_SF_ASK setting in table order, with
 * the setting's help as the prompt, the current value (or the schema's
 * proposal) as the default, and a check by the setting's type.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "configure-int.h"

/* ---- tree edits ------------------------------------------------------------ */

const char *
vf_cfg_get(struct vf_conf_node *blk, const char *name, const char *def)
{
    struct vf_conf_node *k = blk != NULL ? vf_conf_child(blk, name, false) : NULL;

    if (k == NULL || k->value == NULL || k->value[0] == '\0') {
        return def;
    }
    return k->value;
}

/* ---- questions ----------------------------------------------------------- */

void
vf_cfg_trim(char *s)
{
    size_t n = strlen(s);
    size_t i = 0;

    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    while (isspace((unsigned char)s[i])) {
        i++;
    }
    if (i > 0) {
        memmove(s, s + i, n - i + 1);
    }
}

/* Read one line, bounded; the rest of an over-long line is discarded. */
static int
read_line(struct vf_cfg_io *io, char *buf, size_t len)
{
    size_t n;

    if (fgets(buf, (int)len, io->in) == NULL) {
        return VF_CFG_ABORT;
    }
    n = strlen(buf);
    if (n > 0 && buf[n - 1] != '\n' && !feof(io->in)) {
        int ch;

        do {
            ch = fgetc(io->in);
        } while (ch != EOF && ch != '\n');
    }
    vf_cfg_trim(buf);
    return 0;
}

int
vf_cfg_ask(struct vf_cfg_io *io, const char *text, const char *def, char *ans, size_t len)
{
    if (def != NULL) {
        fprintf(io->out, "%s [%s]: ", text, def);
    } else {
        fprintf(io->out, "%s: ", text);
    }
    fflush(io->out);
    if (read_line(io, ans, len) != 0) {
        fputc('\n', io->out);
        return VF_CFG_ABORT;
    }
    if (ans[0] == '\0' && def != NULL) {
        snprintf(ans, len, "%s", def);
    }
    return 0;
}

int
vf_cfg_ask_yn(struct vf_cfg_io *io, const char *text, bool def, bool *ret)
{
    char ans[VF_CFG_ANSWER_MAX];

    fprintf(io->out, "%s [%s]? ", text, def ? "Y/n" : "y/N");
    fflush(io->out);
    if (read_line(io, ans, sizeof(ans)) != 0) {
        fputc('\n', io->out);
        return VF_CFG_ABORT;
    }
    if (strcasecmp(ans, "y") == 0 || strcasecmp(ans, "yes") == 0) {
        *ret = true;
    } else if (strcasecmp(ans, "n") == 0 || strcasecmp(ans, "no") == 0) {
        *ret = false;
    } else {
        *ret = def;
    }
    return 0;
}

int
vf_cfg_too_many(struct vf_cfg_io *io)
{
    fprintf(io->out, "Too many invalid answers; giving up.\n");
    return VF_CFG_ABORT;
}

/* ---- a setting's answer, checked by its type ------------------------------- */

enum verdict { V_OK, V_RETRY, V_ASK_ANYWAY };

static bool
is_int_in(const char *s, long min, long max)
{
    char *end = NULL;
    long v;

    if (!isdigit((unsigned char)s[0])) {
        return false;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    return errno == 0 && end != NULL && *end == '\0' && v >= min && v <= max;
}

static enum verdict
check_enum(struct vf_cfg_io *io, const struct vf_setting *s, char *ans)
{
    for (const char *const *a = s->allowed; *a != NULL; a++) {
        if (strcasecmp(ans, *a) == 0) {
            snprintf(ans, VF_CFG_ANSWER_MAX, "%s", *a);
            return V_OK;
        }
    }
    if ((s->flags & VF_SF_OR_INT) && is_int_in(ans, 0, 2147483647L)) {
        return V_OK;
    }
    fprintf(io->out, "'%s' is not one of ", ans);
    for (const char *const *a = s->allowed; *a != NULL; a++) {
        fprintf(io->out, "%s%s", a != s->allowed ? ", " : "", *a);
    }
    fprintf(io->out, ".\n");
    return V_RETRY;
}

/* address literal (and a multicast group when the setting says so) */
static enum verdict
check_addr(struct vf_cfg_io *io, const struct vf_setting *s, const char *ans, bool *ret_v4)
{
    unsigned char bin[16];
    bool v4 = inet_pton(AF_INET, ans, bin) == 1;
    bool v6 = !v4 && inet_pton(AF_INET6, ans, bin) == 1;

    if (!v4 && !v6) {
        fprintf(io->out, "'%s' is not an IPv4 or IPv6 address.\n", ans);
        return V_RETRY;
    }
    if ((s->flags & VF_SF_MULTICAST) && (v4 ? (bin[0] & 0xf0) != 0xe0 : bin[0] != 0xff)) {
        fprintf(io->out, "'%s' is not a multicast address.\n", ans);
        return V_RETRY;
    }
    *ret_v4 = v4;
    return V_OK;
}

static enum verdict
check_answer(struct vf_cfg_io *io, const struct vf_setting *s, char *ans, bool *ret_v4)
{
    switch (s->type) {
    case VF_ST_INT:
        if (is_int_in(ans, s->min, s->max)) {
            return V_OK;
        }
        fprintf(io->out, "Invalid %s '%s': enter a number in %ld..%ld.\n", s->key, ans,
                s->min, s->max);
        return V_RETRY;
    case VF_ST_ENUM:
        return check_enum(io, s, ans);
    case VF_ST_ADDR:
        return check_addr(io, s, ans, ret_v4);
    case VF_ST_PATH:
        if (ans[0] == '/') {
            return V_OK;
        }
        fprintf(io->out, "'%s' is not an absolute path.\n", ans);
        return V_ASK_ANYWAY;
    case VF_ST_IFACE:
        if (strlen(ans) < IF_NAMESIZE && if_nametoindex(ans) != 0) {
            return V_OK;
        }
        fprintf(io->out, "Interface '%s' does not exist on this host.\n", ans);
        return V_ASK_ANYWAY;
    default:
        return V_OK;
    }
}

/* store the accepted answer (an address also sets "family") */
static int
store(struct vf_cfg_io *io, struct vf_conf_node *blk, const struct vf_setting *s,
      const char *ans, bool v4)
{
    int r;

    if ((s->flags & VF_SF_NONE_UNSETS) && strcasecmp(ans, "none") == 0) {
        vf_conf_unset(blk, s->key, false);
        return 0;
    }
    if (s->type == VF_ST_ADDR) {
        fprintf(io->out, "\nUsing %s as family.\n\n", v4 ? "ipv4" : "ipv6");
    }
    r = vf_conf_set(blk, s->key, ans);
    if (r == 0 && s->type == VF_ST_ADDR) {
        r = vf_conf_set(blk, "family", v4 ? "ipv4" : "ipv6");
    }
    return r;
}

static int
ask_bool(struct vf_cfg_io *io, struct vf_conf_node *blk, const struct vf_setting *s)
{
    const char *cur = vf_cfg_get(blk, s->key, s->def != NULL ? s->def : "no");
    bool yes = strcasecmp(cur, "yes") == 0 || strcasecmp(cur, "true") == 0 ||
               strcasecmp(cur, "on") == 0 || strcmp(cur, "1") == 0;
    int r = vf_cfg_ask_yn(io, s->help, yes, &yes);

    return r != 0 ? r : vf_conf_set(blk, s->key, yes ? "yes" : "no");
}

static int
ask_setting(struct vf_cfg_io *io, struct vf_conf_node *blk, const struct vf_setting *s)
{
    const char *def = vf_cfg_get(blk, s->key, s->ask_def != NULL ? s->ask_def : s->def);
    char ans[VF_CFG_ANSWER_MAX];

    if (s->intro != NULL) {
        fputs(s->intro, io->out);
    }
    if (s->type == VF_ST_BOOL) {
        return ask_bool(io, blk, s);
    }
    for (int t = 0; t < VF_CFG_MAX_TRIES; t++) {
        bool v4 = true;
        bool yes = false;
        enum verdict v;
        int r = vf_cfg_ask(io, s->help, def, ans, sizeof(ans));

        if (r != 0) {
            return r;
        }
        v = (s->flags & VF_SF_NONE_UNSETS) && strcasecmp(ans, "none") == 0 ? V_OK :
            check_answer(io, s, ans, &v4);
        if (v == V_ASK_ANYWAY) {
            r = vf_cfg_ask_yn(io, "Use this value anyway", false, &yes);
            if (r != 0) {
                return r;
            }
            v = yes ? V_OK : V_RETRY;
        }
        if (v == V_OK) {
            return store(io, blk, s, ans, v4);
        }
    }
    return vf_cfg_too_many(io);
}

int
vf_cfg_ask_schema(struct vf_cfg_io *io, struct vf_conf_node *blk, const struct vf_schema *schema)
{
    int r = 0;

    if (schema->intro != NULL) {
        fputs(schema->intro, io->out);
    }
    for (const struct vf_setting *s = schema->settings; s != NULL && s->key != NULL && r == 0;
         s++) {
        if (s->flags & VF_SF_ASK) {
            r = ask_setting(io, blk, s);
        }
    }
    return r;
}
