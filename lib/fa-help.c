/*
 * vmfence - lib/fa-help.c: --help of an agent, generated from its option
 * table (lib/fa.h), so it cannot drift from the metadata and the man page.
 */
#include <string.h>

#include "fa.h"

/* the first column: "-p <port>", "-s, --session-url=<url>", "(stdin only)" */
static void
flag_column(const struct vf_fa_agent *a, const struct vf_opt *o, char *buf, size_t len)
{
    const char *lo = a->long_getopt ? o->longopt : NULL;
    bool opt_arg = (o->flags & VF_OPT_F_OPTIONAL_ARG) != 0;

    if (o->letter == 0 && lo == NULL) {
        snprintf(buf, len, "(stdin only)");
    } else if (lo != NULL && o->letter != 0) {
        snprintf(buf, len, "-%c, --%s%s%s%s", o->letter, lo,
                 o->arg_name != NULL ? "=<" : "", o->arg_name != NULL ? o->arg_name : "",
                 o->arg_name != NULL ? ">" : "");
    } else if (lo != NULL) {
        snprintf(buf, len, "--%s%s%s%s", lo, o->arg_name != NULL ? "=<" : "",
                 o->arg_name != NULL ? o->arg_name : "", o->arg_name != NULL ? ">" : "");
    } else if (o->arg_name == NULL) {
        snprintf(buf, len, "-%c", o->letter);
    } else if (opt_arg) {
        snprintf(buf, len, "-%c[<%s>]", o->letter, o->arg_name);
    } else {
        snprintf(buf, len, "-%c <%s>", o->letter, o->arg_name);
    }
}

/**
 * \brief Print the usage text of an agent: every option with its command
 *        line form, its stdin key, its description and its default.
 */
void
vf_fa_print_help(const struct vf_fa_agent *a, FILE *out)
{
    /* long option forms are wider than the letters of the fence_virt style */
    int w = a->long_getopt ? 34 : 16;

    fprintf(out, "Usage: %s [OPTION]...\n", a->name);
    fprintf(out, "       %s < FILE     (key=value lines on standard input, "
            "used when no option is given)\n\n", a->name);
    fprintf(out, "%s\n\n", a->help_intro);
    fprintf(out, "  %-*s %-18s %s\n", w, "Option", "stdin key", "Description");
    for (size_t i = 0; a->opts[i] != NULL; i++) {
        const struct vf_opt *o = a->opts[i];
        char flag[96];

        if ((o->flags & VF_OPT_F_BUILTIN) != 0) {
            continue;
        }
        if ((o->flags & VF_OPT_F_ALIAS) != 0) {
            snprintf(flag, sizeof(flag), "(stdin only)");
        } else {
            flag_column(a, o, flag, sizeof(flag));
        }
        fprintf(out, "  %-*s %-18s %s", w, flag, o->key, o->shortdesc);
        if (o->def != NULL && o->type != VF_OPT_BOOL) {
            fprintf(out, " [default: %s]", o->def);
        }
        fputc('\n', out);
    }
    for (const struct vf_fa_key *k = a->extra_keys; k != NULL && k->key != NULL; k++) {
        if (k->help != NULL) {
            fprintf(out, "  %-*s %-18s %s\n", w, "",
                    k->help_label != NULL ? k->help_label : k->key, k->help);
        }
    }
    fprintf(out, "  %-*s %-18s %s\n", w, a->long_getopt ? "-h, -?, --help" : "-h, -?", "",
            "Show this help and exit");
    fprintf(out, "  %-*s %-18s %s\n", w, a->long_getopt ? "-V, --version" : "-V", "",
            "Show the version and exit");
    if (!a->long_getopt) {
        fprintf(out, "\nEvery stdin key also works as a long option, e.g. --%s=<value>.\n",
                "plug");
    }
    if (a->help_outro != NULL) {
        fputs(a->help_outro, out);
    }
}
