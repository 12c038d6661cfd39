/*
 * vmfence - daemon/confcheck-util.c: the helpers of --check-config: one
 * diagnostic line, printable quoting, "did you mean" suggestions and the
 * number and word tests the schema checks share (confcheck-int.h).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "confcheck-int.h"

void
vf_cc_diag(struct vf_cc_ctx *c, const struct vf_conf_node *node, bool error,
           const char *fmt, ...)
{
    char where[PATH_MAX + 32];
    va_list ap;

    if (error) {
        c->errors++;
    } else {
        c->warnings++;
    }
    if (c->diag == NULL) {
        return;
    }
    vf_conf_where(c->conf, node, where, sizeof(where));
    fprintf(c->diag, "%s: %s: ", where, error ? "error" : "warning");
    va_start(ap, fmt);
    vfprintf(c->diag, fmt, ap);
    va_end(ap);
    fputc('\n', c->diag);
}

const char *
vf_cc_shown(const char *s, char *buf, size_t buf_len)
{
    size_t o = 0;
    size_t n = strlen(s);
    size_t max = 60;

    for (size_t i = 0; i < n && i < max && o + 5 < buf_len; i++) {
        unsigned char ch = (unsigned char)s[i];

        buf[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (n > max && o + 4 < buf_len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* Levenshtein distance of short strings, case-insensitive (capped inputs). */
static unsigned int
edit_distance(const char *a, const char *b)
{
    unsigned int row[65];
    size_t la = strlen(a), lb = strlen(b);

    if (la > 64 || lb > 64) {
        return UINT_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        row[j] = (unsigned int)j;
    }
    for (size_t i = 1; i <= la; i++) {
        unsigned int diag_prev = row[0];

        row[0] = (unsigned int)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned int up = row[j];
            unsigned int cost = tolower((unsigned char)a[i - 1]) ==
                                tolower((unsigned char)b[j - 1]) ? 0 : 1;
            unsigned int best = diag_prev + cost;

            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag_prev = up;
        }
    }
    return row[lb];
}

const char *
vf_cc_suggest(const char *word, const char *const *cands, size_t n_cands)
{
    const char *best = NULL;
    unsigned int best_d = 3;

    for (size_t i = 0; i < n_cands; i++) {
        unsigned int d = edit_distance(word, cands[i]);

        if (d < best_d && d < strlen(cands[i])) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}

const char *
vf_cc_did_you_mean(const char *word, const char *const *cands, size_t n_cands,
                   char *buf, size_t buf_len)
{
    const char *s = vf_cc_suggest(word, cands, n_cands);

    if (s == NULL) {
        buf[0] = '\0';
    } else {
        snprintf(buf, buf_len, " (did you mean '%s'?)", s);
    }
    return buf;
}

bool
vf_cc_is_digits(const char *s)
{
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s)) {
            return false;
        }
    }
    return true;
}

int
vf_cc_parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
    unsigned long v = 0;
    const char *p = s;

    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (!isdigit((unsigned char)*p)) {
        return -EINVAL;
    }
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (ULONG_MAX - 9) / 10) {
            return -ERANGE;
        }
        v = v * 10 + (unsigned long)(*p - '0');
    }
    while (*p == ' ' || *p == '\t' || *p == '\n') {
        p++;
    }
    if (*p != '\0') {
        return -EINVAL;
    }
    if (v > max) {
        return -ERANGE;
    }
    *ret = v;
    return 0;
}

bool
vf_cc_one_of(const char *v, const char *const *allowed)
{
    for (; *allowed != NULL; allowed++) {
        if (strcasecmp(v, *allowed) == 0) {
            return true;
        }
    }
    return false;
}

size_t
vf_cc_count(const char *const *words)
{
    size_t n = 0;

    while (words[n] != NULL) {
        n++;
    }
    return n;
}

/* Last child of @parent named @name (case-insensitive) of the given kind. */
const struct vf_conf_node *
vf_cc_last_child(const struct vf_conf_node *parent, const char *name, bool is_block)
{
    const struct vf_conf_node *last = NULL;

    for (const struct vf_conf_node *n = parent->children; n != NULL; n = n->next) {
        if (n->is_block == is_block && strcasecmp(n->name, name) == 0) {
            last = n;
        }
    }
    return last;
}
