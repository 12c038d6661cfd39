/*
 * vmfence - lib/fa-util.c: small checked parsers and string vectors shared
 * by the option tables of every agent (lib/opts.c, lib/fa-common.c,
 * agents/xenapi/).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fa.h"

/**
 * \brief Parse an unsigned number covering the whole string.
 * \param[in] allow_hex  accept a "0x" prefix
 * \param[out] ret       set on success only
 * \return 0, -EINVAL (not a number) or -ERANGE (outside [min, max])
 */
int
vf_parse_uint(const char *s, bool allow_hex, unsigned long min, unsigned long max,
              unsigned long *ret)
{
    unsigned long v;
    char *end = NULL;
    int base = 10;

    if (s == NULL || *s == '\0') {
        return -EINVAL;
    }
    if (allow_hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    /* strtoul accepts blanks and a sign: refuse them */
    if (!(base == 10 ? isdigit((unsigned char)*s) : isxdigit((unsigned char)*s))) {
        return -EINVAL;
    }
    errno = 0;
    v = strtoul(s, &end, base);
    if (errno != 0 || end == s || *end != '\0') {
        return -EINVAL;
    }
    if (v < min || v > max) {
        return -ERANGE;
    }
    *ret = v;
    return 0;
}

/**
 * \brief Parse a boolean; an empty or missing value means true.
 * \return 0 or -EINVAL
 */
int
vf_parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = { "1", "yes", "true", "on", "y" };
    static const char *const no[] = { "0", "no", "false", "off", "n" };

    if (s == NULL || *s == '\0') {
        *ret = true;
        return 0;
    }
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

int
vf_set_str(char **dst, const char *val)
{
    char *copy = NULL;

    if (val != NULL) {
        copy = strdup(val);
        if (copy == NULL) {
            return -ENOMEM;
        }
    }
    free(*dst);
    *dst = copy;
    return 0;
}

int
vf_strv_add(char ***v, size_t *n, const char *s)
{
    char **nv;
    char *copy;

    copy = strdup(s);
    if (copy == NULL) {
        return -ENOMEM;
    }
    nv = realloc(*v, (*n + 2) * sizeof(**v));
    if (nv == NULL) {
        free(copy);
        return -ENOMEM;
    }
    nv[*n] = copy;
    nv[*n + 1] = NULL;
    *v = nv;
    (*n)++;
    return 0;
}

void
vf_strv_free(char ***v, size_t *n)
{
    if (*v != NULL) {
        for (size_t i = 0; i < *n; i++) {
            free((*v)[i]);
        }
        free(*v);
    }
    *v = NULL;
    *n = 0;
}
