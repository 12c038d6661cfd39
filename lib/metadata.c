/*
 * vmfence - lib/metadata.c: agent metadata XML and man page option lists,
 * both generated from an agent's option table (struct vf_fa_agent, fa.h).
 *
 * The XML follows the fence-agents metadata.rng grammar (resource-agent,
 * longdesc, vendor-url, parameters, actions; per parameter getopt, content,
 * shortdesc) and pcs' ocf-1.0.rng, and is golden-tested in metadata/.
 * It is written by libxml2's text writer, which lib/xml-dl.c loads on the
 * first call: an agent that does not write metadata never loads libxml2.
 */
#include <errno.h>
#include <string.h>

#include "metadata.h"
#include "xml-dl.h"

static const char *
content_type(const struct vf_opt *o)
{
    switch (o->type) {
    case VF_OPT_BOOL:
        return "boolean";
    case VF_OPT_INTEGER:
        return "integer";
    case VF_OPT_SELECT:
        return "select";
    case VF_OPT_SECOND:
        return "second";
    case VF_OPT_STRING:
    default:
        return "string";
    }
}

/* one <parameter> with libxml2's writer @x; returns < 0 on a writer error */
static int
write_parameter(const struct vf_xml_api *x, const struct vf_fa_agent *a,
                xmlTextWriterPtr w, const struct vf_opt *o)
{
    char mixed[128] = "";

    if (o->mixed != NULL) {
        snprintf(mixed, sizeof(mixed), "%s", o->mixed);
    } else if (a->long_getopt && o->longopt != NULL) {
        /* fence-agents style: "-s, --session-url=[url]", "--delay=[seconds]" */
        int n = 0;

        if (o->letter != 0) {
            n = snprintf(mixed, sizeof(mixed), "-%c, ", o->letter);
        }
        snprintf(mixed + n, sizeof(mixed) - (size_t)n, "--%s%s%s%s", o->longopt,
                 o->arg_name != NULL ? "=[" : "", o->arg_name != NULL ? o->arg_name : "",
                 o->arg_name != NULL ? "]" : "");
    } else if (o->letter != 0) {
        mixed[0] = '-';
        mixed[1] = o->letter;
        mixed[2] = '\0';
    }
    if (x->xmlTextWriterStartElement(w, BAD_CAST "parameter") < 0
        || x->xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST o->key) < 0
        || x->xmlTextWriterWriteAttribute(w, BAD_CAST "unique", BAD_CAST "0") < 0
        || x->xmlTextWriterWriteAttribute(w, BAD_CAST "required",
                                          BAD_CAST (o->required ? "1" : "0")) < 0) {
        return -EIO;
    }
    if (o->deprecated
        && x->xmlTextWriterWriteAttribute(w, BAD_CAST "deprecated", BAD_CAST "1") < 0) {
        return -EIO;
    }
    if (o->obsoletes != NULL
        && x->xmlTextWriterWriteAttribute(w, BAD_CAST "obsoletes",
                                          BAD_CAST o->obsoletes) < 0) {
        return -EIO;
    }
    if (x->xmlTextWriterStartElement(w, BAD_CAST "getopt") < 0
        || x->xmlTextWriterWriteAttribute(w, BAD_CAST "mixed", BAD_CAST mixed) < 0
        || x->xmlTextWriterEndElement(w) < 0) {
        return -EIO;
    }
    if (x->xmlTextWriterStartElement(w, BAD_CAST "content") < 0
        || x->xmlTextWriterWriteAttribute(w, BAD_CAST "type",
                                          BAD_CAST content_type(o)) < 0) {
        return -EIO;
    }
    if (o->def != NULL
        && x->xmlTextWriterWriteAttribute(w, BAD_CAST "default", BAD_CAST o->def) < 0) {
        return -EIO;
    }
    if (o->type == VF_OPT_SELECT && o->choices != NULL) {
        for (size_t i = 0; o->choices[i] != NULL; i++) {
            if (x->xmlTextWriterStartElement(w, BAD_CAST "option") < 0
                || x->xmlTextWriterWriteAttribute(w, BAD_CAST "value",
                                                  BAD_CAST o->choices[i]) < 0
                || x->xmlTextWriterEndElement(w) < 0) {
                return -EIO;
            }
        }
    }
    if (x->xmlTextWriterEndElement(w) < 0) {   /* content */
        return -EIO;
    }
    if (x->xmlTextWriterStartElement(w, BAD_CAST "shortdesc") < 0
        || x->xmlTextWriterWriteAttribute(w, BAD_CAST "lang", BAD_CAST "en") < 0
        || x->xmlTextWriterWriteString(w, BAD_CAST o->shortdesc) < 0
        || x->xmlTextWriterEndElement(w) < 0) {
        return -EIO;
    }
    if (x->xmlTextWriterEndElement(w) < 0) {   /* parameter */
        return -EIO;
    }
    return 0;
}

/*
 * \brief Write the metadata XML of one agent.
 * \param[in] a     the agent
 * \param[in] out   stream to write to
 * \return 0, -ENOMEM, -EIO on a writer or write error, or -ELIBACC /
 *         -ELIBBAD when libxml2 cannot be loaded (logged, see xml-dl.h)
 */
int
vf_fa_metadata_write(const struct vf_fa_agent *a, FILE *out)
{
    const struct vf_opt *const *opts = a->opts;
    const struct vf_xml_api *x = NULL;
    xmlBufferPtr buf = NULL;
    xmlTextWriterPtr w = NULL;
    int r;

    r = vf_xml_api(&x);
    if (r < 0) {
        return r;
    }
    r = -EIO;
    buf = x->xmlBufferCreate();
    if (buf == NULL) {
        return -ENOMEM;
    }
    w = x->xmlNewTextWriterMemory(buf, 0);
    if (w == NULL) {
        r = -ENOMEM;
        goto cleanup;
    }
    if (x->xmlTextWriterSetIndent(w, 1) < 0
        || x->xmlTextWriterSetIndentString(w, BAD_CAST "\t") < 0
        || x->xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL) < 0) {
        goto cleanup;
    }
    if (x->xmlTextWriterStartElement(w, BAD_CAST "resource-agent") < 0
        || x->xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST a->name) < 0
        || x->xmlTextWriterWriteAttribute(w, BAD_CAST "shortdesc",
                                          BAD_CAST a->shortdesc) < 0
        || x->xmlTextWriterWriteElement(w, BAD_CAST "longdesc",
                                        BAD_CAST a->longdesc) < 0
        || x->xmlTextWriterWriteElement(w, BAD_CAST "vendor-url",
                                        BAD_CAST a->vendor_url) < 0
        || x->xmlTextWriterStartElement(w, BAD_CAST "parameters") < 0) {
        goto cleanup;
    }
    for (size_t i = 0; opts[i] != NULL; i++) {
        if (write_parameter(x, a, w, opts[i]) < 0) {
            goto cleanup;
        }
    }
    if (x->xmlTextWriterEndElement(w) < 0      /* parameters */
        || x->xmlTextWriterStartElement(w, BAD_CAST "actions") < 0) {
        goto cleanup;
    }
    for (const struct vf_fa_action *act = a->actions; act->name != NULL; act++) {
        if (x->xmlTextWriterStartElement(w, BAD_CAST "action") < 0
            || x->xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST act->name) < 0
            || (act->automatic != NULL
                && x->xmlTextWriterWriteAttribute(w, BAD_CAST "automatic",
                                                  BAD_CAST act->automatic) < 0)
            || x->xmlTextWriterEndElement(w) < 0) {
            goto cleanup;
        }
    }
    if (x->xmlTextWriterEndElement(w) < 0) {   /* actions */
        goto cleanup;
    }
    if (x->xmlTextWriterEndElement(w) < 0      /* resource-agent */
        || x->xmlTextWriterEndDocument(w) < 0) {
        goto cleanup;
    }
    x->xmlFreeTextWriter(w);   /* flushes into buf */
    w = NULL;
    if (fwrite(x->xmlBufferContent(buf), 1, (size_t)x->xmlBufferLength(buf), out)
            != (size_t)x->xmlBufferLength(buf)
        || fflush(out) != 0) {
        r = -EIO;
        goto cleanup;
    }
    r = 0;

 cleanup:
    if (w != NULL) {
        x->xmlFreeTextWriter(w);
    }
    x->xmlBufferFree(buf);
    return r;
}

/* ---- man page ------------------------------------------------------------- */

/* write @s as roff text: escape backslashes, protect leading '.'/'\'' and '-' */
static void
roff_text(FILE *out, const char *s)
{
    bool line_start = true;

    for (const char *p = s; *p != '\0'; p++) {
        if (line_start && (*p == '.' || *p == '\'')) {
            fputs("\\&", out);
        }
        line_start = false;
        switch (*p) {
        case '\\':
            fputs("\\e", out);
            break;
        case '-':
            fputs("\\-", out);
            break;
        case '\n':
            fputc('\n', out);
            line_start = true;
            break;
        default:
            fputc(*p, out);
            break;
        }
    }
}

/* an option key or value that must not be hyphenated */
static void
roff_word(FILE *out, const char *s)
{
    fputs("\\%", out);
    roff_text(out, s);
}

/* "sha256", "1229" ... as the default sentence of an option, if any */
static void
roff_default(FILE *out, const struct vf_opt *o)
{
    if (o->def != NULL && o->type != VF_OPT_BOOL) {
        fputs(" Default: ", out);
        roff_word(out, o->def);
        fputs(".", out);
    }
}

/* an option's command line forms, e.g. "\fB\-p\fR \fIport\fR, \fB\-\-ipport\fR=\fIport\fR" */
static void
roff_forms(const struct vf_fa_agent *a, const struct vf_opt *o, FILE *out)
{
    const char *lo = a->long_getopt ? o->longopt : o->key;
    bool opt_arg = (o->flags & VF_OPT_F_OPTIONAL_ARG) != 0;

    if (o->letter != 0) {
        fprintf(out, "\\fB\\-%c\\fR", o->letter);
        if (o->arg_name != NULL) {
            fprintf(out, opt_arg ? "[\\fI%s\\fR]" : " \\fI%s\\fR", o->arg_name);
        }
        if (lo != NULL) {
            fputs(", ", out);
        }
    }
    if (lo != NULL) {
        fputs("\\fB\\-\\-", out);
        if (o->arg_name == NULL) {
            roff_word(out, lo);
            fputs("\\fR", out);
        } else {
            roff_text(out, lo);
            fprintf(out, opt_arg ? "\\fR[=\\fI%s\\fR]" : "\\fR=\\fI%s\\fR", o->arg_name);
        }
    }
    fputc('\n', out);
}

/* shown in OPTIONS: has a command line form of its own */
static bool
man_has_forms(const struct vf_fa_agent *a, const struct vf_opt *o)
{
    if ((o->flags & (VF_OPT_F_ALIAS | VF_OPT_F_BUILTIN)) != 0) {
        return false;
    }
    return o->letter != 0 || (a->long_getopt && o->longopt != NULL);
}

static void
write_stdin_keys(const struct vf_fa_agent *a, FILE *out)
{
    for (size_t i = 0; a->opts[i] != NULL; i++) {
        const struct vf_opt *o = a->opts[i];

        if ((o->flags & VF_OPT_F_BUILTIN) != 0) {
            continue;
        }
        fputs(".TP\n.B ", out);
        roff_text(out, o->key);
        fputc('\n', out);
        if (o->letter != 0) {
            fprintf(out, "Same as \\fB\\-%c\\fR.", o->letter);
        } else if (a->long_getopt && o->longopt != NULL) {
            fputs("Same as \\fB\\-\\-", out);
            roff_word(out, o->longopt);
            fputs("\\fR.", out);
        } else {
            roff_text(out, o->shortdesc);
            fputs(".", out);
        }
        if ((o->letter != 0 || (a->long_getopt && o->longopt != NULL)) && o->deprecated) {
            fputs(" Deprecated.", out);
        }
        if (o->type == VF_OPT_BOOL && strcmp(o->key, "debug") != 0) {
            fputs(" A key without a value means yes.", out);
        }
        fputc('\n', out);
    }
    for (const struct vf_fa_key *k = a->extra_keys; k != NULL && k->key != NULL; k++) {
        if (k->man != NULL) {
            fputs(".TP\n", out);
            fputs(k->man, out);
        }
    }
}

/*
 * \brief Write the OPTIONS and STDIN PARAMETERS sections (roff, man macros)
 *        of one agent's man page.
 * \return 0, or -EIO if the stream reports an error
 */
int
vf_fa_manopts_write(const struct vf_fa_agent *a, FILE *out)
{
    fputs(".SH OPTIONS\n", out);
    for (size_t i = 0; a->opts[i] != NULL; i++) {
        const struct vf_opt *o = a->opts[i];

        if (!man_has_forms(a, o)) {
            continue;
        }
        fputs(".TP\n", out);
        roff_forms(a, o, out);
        roff_text(out, o->shortdesc);
        fputs(".", out);
        roff_default(out, o);
        fputs("\nOn standard input: \\fB", out);
        roff_word(out, o->key);
        fputs("\\fR.\n", out);
    }
    fputs(".TP\n.BR \\-h \", \" \\-? \", \" \\-\\-help\n"
          "Print the options and exit.\n"
          ".TP\n.BR \\-V \", \" \\-\\-version\n"
          "Print the version and exit.\n", out);

    fputs(".SH STDIN PARAMETERS\n"
          "When the agent is run without arguments it reads \\fIkey\\fB=\\fIvalue\\fR\n"
          "lines from standard input, one per line, as cluster managers such as\n"
          "Pacemaker run it.\n"
          "Blanks around the key and the value are ignored; the value may contain\n"
          "blanks; keys are case\\-insensitive; lines starting with \\fB#\\fR are\n"
          "comments; when a key is repeated the last value wins.\n"
          "Lines may be up to 4096 bytes long and the input up to 1 MiB.\n"
          "Unknown keys are reported once and otherwise ignored, except by\n"
          "\\fBvalidate\\-all\\fR, which fails on them.\n", out);
    write_stdin_keys(a, out);
    if (fflush(out) != 0 || ferror(out)) {
        return -EIO;
    }
    return 0;
}

/* ---- fence_xvm / fence_virt --------------------------------------------- */

int
vf_metadata_write(enum vf_agent_kind kind, FILE *out)
{
    return vf_fa_metadata_write(vf_agent_def(kind), out);
}

int
vf_manopts_write(enum vf_agent_kind kind, FILE *out)
{
    return vf_fa_manopts_write(vf_agent_def(kind), out);
}
